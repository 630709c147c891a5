// Shared by the process-spawning benchmarks (process_bench, exec_bench):
// run every benchmark with the console table as usual, remember each run's
// "children_per_s" counter, then print chosen pairs' ratios from that same
// run.
#ifndef GORT_BENCH_CHILDREN_RATIOS_H_
#define GORT_BENCH_CHILDREN_RATIOS_H_

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace gort_bench {

class ChildrenRateReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("children_per_s");
      if (it != r.counters.end() && !r.error_occurred) rate[r.benchmark_name()] = it->second.value;
    }
  }
  std::map<std::string, double> rate;
};

// benchmark::Initialize, RunSpecifiedBenchmarks, then "title" and one line
// per pair {a, b} that both ran: a's and b's children/s and a / b.
template <std::size_t N>
int RunAndPrintRatios(int argc, char** argv, const char* title, const char* const (&cases)[N][2],
                      int width) {
  benchmark::Initialize(&argc, argv);
  ChildrenRateReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto& r = reporter.rate;
  std::printf("\n%s\n", title);
  for (const auto& c : cases) {
    const std::string a = c[0], b = c[1];
    if (r.count(a) && r.count(b) && r[b] > 0) {
      std::printf("  %-*s %7.0f/s vs %7.0f/s = %.2fx\n", width, (a + " / " + b).c_str(), r[a], r[b],
                  r[a] / r[b]);
    }
  }
  return 0;
}

}  // namespace gort_bench

#endif  // GORT_BENCH_CHILDREN_RATIOS_H_
