// gort at scale: what parked fibers cost in memory, and how many OS threads
// running children cost. One iteration each (Iterations(1)); the numbers are
// counters, read by bench/harness beside Go's (bench/peers/go/scale) and
// Boost.Fiber's (bench/peers/boost_fiber_bench).
//   BM_Parked/N/stack_kib   N fibers parked on one channel (2 Ps); stack_kib 0
//                           is the default stack size. Counters: fibers
//                           (how many did fit: a refused Go ends the run
//                           there, see refused), kib_per_fiber (RSS added per
//                           fiber), maps (lines in /proc/self/maps while they
//                           are parked; vm.max_map_count caps it).
//   BM_ThreadsVsChildren/N/reapers  N fibers each start a child that sleeps
//                           1.5 s and wait for it (os::StartProcess + Wait,
//                           the fix; reapers > 0: reaper mode with that many
//                           reaper threads); threads_peak is the most OS
//                           threads seen.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "gort/gort.h"
#include "proc_status.h"

namespace {

long MapCount() {
  FILE* f = std::fopen("/proc/self/maps", "re");
  if (f == nullptr) return -1;
  long lines = 0;
  for (int c; (c = std::fgetc(f)) != EOF;) lines += c == '\n';
  std::fclose(f);
  return lines;
}

void BM_Parked(benchmark::State& state) {
  const long n = state.range(0);
  const std::size_t stack = static_cast<std::size_t>(state.range(1)) * 1024;
  long parked_n = 0, before = 0, after = 0, maps = 0;
  std::string refused;
  for (auto _ : state) {
    gort::runtime::Run(
        [&] {
          gort::Chan<int> block(0);
          std::atomic<long> started{0};
          gort::sync::WaitGroup done;
          before = gort_bench::ProcStatus("VmRSS");
          long i = 0;
          for (; i < n; i++) {
            try {
              done.Add(1);
              gort::runtime::Go([&, block]() mutable {
                started.fetch_add(1, std::memory_order_relaxed);
                block.Recv();
                done.Done();
              });
            } catch (const gort::Panic& e) {  // out of stacks or mappings
              done.Done();
              refused = e.what();
              break;
            }
          }
          while (started.load() < i) gort::time::Sleep(absl::Milliseconds(1));
          gort::time::Sleep(absl::Milliseconds(20));  // let the last ones park
          after = gort_bench::ProcStatus("VmRSS");
          maps = MapCount();
          parked_n = i;
          block.Close();
          done.Wait();
        },
        gort::runtime::Options{.procs = 2, .stack_size = stack});
  }
  state.counters["fibers"] = static_cast<double>(parked_n);
  state.counters["rss_kib"] = static_cast<double>(after);
  state.counters["maps"] = static_cast<double>(maps);
  state.counters["kib_per_fiber"] =
      parked_n > 0 ? static_cast<double>(after - before) / static_cast<double>(parked_n) : 0;
  state.counters["refused"] = refused.empty() ? 0 : 1;
  if (!refused.empty())
    state.SetLabel("refused after " + std::to_string(parked_n) + ": " + refused);
}
BENCHMARK(BM_Parked)
    ->ArgsProduct({{10000, 100000, 1000000}, {0, 64}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

void BM_ThreadsVsChildren(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int reapers = static_cast<int>(state.range(1));
  long peak = 0;
  std::atomic<int> errors{0};
  for (auto _ : state) {
    gort::runtime::Run(
        [&] {
          std::atomic<bool> stop{false};
          gort::sync::WaitGroup sampler, wg;
          sampler.Add(1);
          gort::runtime::Go([&] {
            while (!stop.load()) {
              peak = std::max(peak, gort_bench::ProcStatus("Threads"));
              gort::time::Sleep(absl::Milliseconds(2));
            }
            sampler.Done();
          });
          wg.Add(n);
          for (int i = 0; i < n; i++) {
            gort::runtime::Go([&] {
              auto p =
                  gort::os::StartProcess(GORT_TESTCHILD, {GORT_TESTCHILD, "sleep", "1500"}, {});
              if (!p.ok() || !p->Wait().ok()) errors.fetch_add(1);
              wg.Done();
            });
          }
          wg.Wait();
          stop = true;
          sampler.Wait();
        },
        gort::runtime::Options{.procs = 2, .process_reapers = reapers});
  }
  if (errors.load() != 0) state.SkipWithError("a start or wait failed");
  state.counters["children"] = n;
  state.counters["threads_peak"] = static_cast<double>(peak);
}
BENCHMARK(BM_ThreadsVsChildren)
    ->ArgsProduct({{10, 100, 1000}, {0, 2}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
