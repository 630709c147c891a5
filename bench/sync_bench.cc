// Timer and mutex benchmarks with Go's names, beside OS-thread baselines in
// the same binary.
//   BM_TimerSleep         time::Sleep(1us) in a fiber vs nanosleep(1us)
//   BM_MutexUncontended   Lock/Unlock with no other party
//   BM_MutexContended     4 fibers on 2 Ps sharing one Mutex vs 2 threads on
//                         std::mutex; ctx_switches counts voluntary OS
//                         context switches per operation (a Mutex that parks
//                         fibers should cause next to none while a P is free)
//   BM_RWMutexReadMostly  4 fibers, 1 write in 100 (Go's
//                         BenchmarkRWMutexWorkWrite100), at 2 and 4 Ps, vs 4
//                         threads on std::shared_mutex
//   BM_ContextCancelFanOut  one cancel waking 10 000 fibers parked on
//                         ctx.Done(), vs closing a plain channel they wait on
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "gort/context.h"
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

// Go's benchmarkRWMutex(b, 100, 100): every 100th operation writes, the
// others read with 100 units of work under the read lock.
constexpr int kWriteRatio = 100;
constexpr int kReadWork = 100;

template <class RW>
void ReadMostlyOp(RW& rw, int& i, long& shared) {
  if (++i % kWriteRatio == 0) {
    rw.lock();
    shared++;
    rw.unlock();
  } else {
    rw.lock_shared();
    Spin(kReadWork);
    benchmark::DoNotOptimize(shared);
    rw.unlock_shared();
  }
}

void BM_RWMutexReadMostly(benchmark::State& state) {
  Run(
      [&] {
        gort::sync::RWMutex rw;
        std::atomic<bool> stop{false};
        gort::sync::WaitGroup wg;
        long shared = 0;
        for (int f = 0; f < 3; f++) {
          wg.Add(1);
          Go([&] {
            int i = 0;
            while (!stop.load(std::memory_order_relaxed)) ReadMostlyOp(rw, i, shared);
            wg.Done();
          });
        }
        int i = 0;
        for (auto _ : state) ReadMostlyOp(rw, i, shared);
        stop = true;
        wg.Wait();
      },
      Options{.procs = static_cast<int>(state.range(0))});
}
BENCHMARK(BM_RWMutexReadMostly)->Arg(2)->Arg(4)->UseRealTime();

void BM_RWMutexReadMostly_StdSharedMutexBaseline(benchmark::State& state) {
  std::shared_mutex rw;
  std::atomic<bool> stop{false};
  long shared = 0;
  std::vector<std::thread> others;
  for (int t = 0; t < 3; t++) {
    others.emplace_back([&] {
      int i = 0;
      while (!stop.load(std::memory_order_relaxed)) ReadMostlyOp(rw, i, shared);
    });
  }
  int i = 0;
  for (auto _ : state) ReadMostlyOp(rw, i, shared);
  stop = true;
  for (auto& t : others) t.join();
}
BENCHMARK(BM_RWMutexReadMostly_StdSharedMutexBaseline)->UseRealTime();

constexpr int kFanOut = 10000;

// One iteration: 10 000 fibers park on a fresh context's Done (untimed),
// then one cancel wakes them all and the last to run tells the main fiber
// (timed). Reported per iteration, i.e. per fan-out.
template <class MakeAndWait>
void FanOut(benchmark::State& state, MakeAndWait run_round) {
  Run(
      [&] {
        for (auto _ : state) run_round(state);
      },
      Options{.procs = static_cast<int>(state.range(0))});
  state.counters["per_waiter_ns"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kFanOut,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_ContextCancelFanOut(benchmark::State& state) {
  FanOut(state, [](benchmark::State& st) {
    st.PauseTiming();
    auto [ctx, cancel] = gort::context::WithCancel(gort::context::Background());
    gort::sync::WaitGroup parked, woke;
    parked.Add(kFanOut);
    woke.Add(kFanOut);
    for (int i = 0; i < kFanOut; i++) {
      Go([&, c = ctx] {
        parked.Done();
        c.Done().Recv();
        woke.Done();
      });
    }
    parked.Wait();
    for (int k = 0; k < 100; k++) gort::runtime::Gosched();  // let the last ones park
    st.ResumeTiming();
    cancel();
    woke.Wait();
  });
}
BENCHMARK(BM_ContextCancelFanOut)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_ContextCancelFanOut_ChanCloseBaseline(benchmark::State& state) {
  FanOut(state, [](benchmark::State& st) {
    st.PauseTiming();
    gort::Chan<std::monostate> done(0);
    gort::sync::WaitGroup parked, woke;
    parked.Add(kFanOut);
    woke.Add(kFanOut);
    for (int i = 0; i < kFanOut; i++) {
      Go([&, done] {
        parked.Done();
        done.Recv();
        woke.Done();
      });
    }
    parked.Wait();
    for (int k = 0; k < 100; k++) gort::runtime::Gosched();
    st.ResumeTiming();
    done.Close();
    woke.Wait();
  });
}
BENCHMARK(BM_ContextCancelFanOut_ChanCloseBaseline)
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
