// Timer and mutex benchmarks with Go's names, beside OS-thread baselines in
// the same binary.
//   BM_TimerSleep         time::Sleep(1us) in a fiber vs nanosleep(1us)
//   BM_MutexUncontended   Lock/Unlock with no other party
//   BM_MutexContended     4 fibers on 2 Ps sharing one Mutex vs 2 threads on
//                         std::mutex; ctx_switches counts voluntary OS
//                         context switches per operation (a Mutex that parks
//                         fibers should cause next to none while a P is free)
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "gort/runtime.h"
#include "gort/sync.h"
#include "gort/time.h"

namespace {

using gort::runtime::Go;
using gort::runtime::Options;
using gort::runtime::Run;

long VoluntarySwitches() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nvcsw;
}

void BM_TimerSleep(benchmark::State& state) {
  Run(
      [&] {
        for (auto _ : state) gort::time::Sleep(absl::Microseconds(1));
      },
      Options{.procs = 1});
}
BENCHMARK(BM_TimerSleep)->UseRealTime();

void BM_TimerSleep_NanosleepBaseline(benchmark::State& state) {
  for (auto _ : state) std::this_thread::sleep_for(std::chrono::microseconds(1));
}
BENCHMARK(BM_TimerSleep_NanosleepBaseline)->UseRealTime();

void BM_MutexUncontended(benchmark::State& state) {
  Run(
      [&] {
        gort::sync::Mutex mu;
        for (auto _ : state) {
          mu.Lock();
          mu.Unlock();
        }
      },
      Options{.procs = 1});
}
BENCHMARK(BM_MutexUncontended)->UseRealTime();

void BM_MutexUncontended_StdBaseline(benchmark::State& state) {
  std::mutex mu;
  for (auto _ : state) {
    mu.lock();
    mu.unlock();
  }
}
BENCHMARK(BM_MutexUncontended_StdBaseline)->UseRealTime();

constexpr int kWork = 20;  // a little work inside and outside the lock

void Spin(int n) {
  for (int i = 0; i < n; i++) benchmark::DoNotOptimize(i);
}

void BM_MutexContended(benchmark::State& state) {
  long csw = 0;
  Run(
      [&] {
        gort::sync::Mutex mu;
        std::atomic<bool> stop{false};
        gort::sync::WaitGroup wg;
        long shared = 0;
        for (int i = 0; i < 3; i++) {
          wg.Add(1);
          Go([&] {
            while (!stop.load(std::memory_order_relaxed)) {
              mu.Lock();
              Spin(kWork);
              shared++;
              mu.Unlock();
              Spin(kWork);
            }
            wg.Done();
          });
        }
        long before = VoluntarySwitches();
        for (auto _ : state) {
          mu.Lock();
          Spin(kWork);
          shared++;
          mu.Unlock();
          Spin(kWork);
        }
        csw = VoluntarySwitches() - before;
        stop = true;
        wg.Wait();
        benchmark::DoNotOptimize(shared);
      },
      Options{.procs = 2});
  state.counters["ctx_switches_per_op"] =
      static_cast<double>(csw) / static_cast<double>(std::max<int64_t>(state.iterations(), 1));
}
BENCHMARK(BM_MutexContended)->UseRealTime();

void BM_MutexContended_StdBaseline(benchmark::State& state) {
  std::mutex mu;
  std::atomic<bool> stop{false};
  long shared = 0;
  std::thread other([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      mu.lock();
      Spin(kWork);
      shared++;
      mu.unlock();
      Spin(kWork);
    }
  });
  long before = VoluntarySwitches();
  for (auto _ : state) {
    mu.lock();
    Spin(kWork);
    shared++;
    mu.unlock();
    Spin(kWork);
  }
  long csw = VoluntarySwitches() - before;
  stop = true;
  other.join();
  benchmark::DoNotOptimize(shared);
  state.counters["ctx_switches_per_op"] =
      static_cast<double>(csw) / static_cast<double>(std::max<int64_t>(state.iterations(), 1));
}
BENCHMARK(BM_MutexContended_StdBaseline)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
