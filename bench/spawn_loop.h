// Shared by the process-spawning benchmarks (process_bench, exec_bench): the
// timed loop that spreads state.max_iterations children over spawner fibers.
#ifndef GORT_BENCH_SPAWN_LOOP_H_
#define GORT_BENCH_SPAWN_LOOP_H_

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <functional>

#include "gort/gort.h"

namespace gort_bench {

// In one Run with `options`, `spawners` fibers call `one` state.max_iterations
// times in all. The timed loop's first pass does all of that, the other
// passes are empty, so the loop's time per iteration is the cost of one
// call (a child). Sets children_per_s; a call returning false fails the
// benchmark with `what_failed`.
inline void SpawnerLoop(benchmark::State& state, int spawners, gort::runtime::Options options,
                        const std::function<bool()>& one, const char* what_failed) {
  std::atomic<int64_t> left{static_cast<int64_t>(state.max_iterations)};
  std::atomic<int> errors{0};
  gort::runtime::Run(
      [&] {
        bool first = true;
        for (auto _ : state) {
          if (!first) continue;
          first = false;
          gort::sync::WaitGroup wg;
          wg.Add(spawners);
          for (int s = 0; s < spawners; s++) {
            gort::runtime::Go([&] {
              while (left.fetch_sub(1) > 0) {
                if (!one()) errors.fetch_add(1);
              }
              wg.Done();
            });
          }
          wg.Wait();
        }
      },
      options);
  if (errors.load() != 0) state.SkipWithError(what_failed);
  state.counters["children_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace gort_bench

#endif  // GORT_BENCH_SPAWN_LOOP_H_
