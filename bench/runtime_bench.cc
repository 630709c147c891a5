// Runtime benchmarks with Go's names, each beside a std::thread (or raw
// system call) baseline in the same binary, so the ratio comes from one run
// on one machine. Per-operation costs are in the counters (ns/op style):
//   BM_Gosched            two fibers on one P yielding to each other
//   BM_CreateGoroutines   start a fiber that completes, in batches of 1000
//   BM_LockedPingPong     locked fiber <-> plain fiber round trip (2 Ps)
//   BM_SyscallEnterExit   the EnterSyscall/ExitSyscall fast path
//   BM_SchedLatencyWhileSpinning/preempt
//                         how late a fiber sleeping 1 ms runs when another
//                         fiber on the only P computes in 50 ms stretches
//                         (calling CheckPreempt, as a VM's hook would), with
//                         preemption off (0) and on (1); the time reported is
//                         the lateness (manual time)
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <semaphore>
#include <thread>
#include <vector>

#include "gort/runtime.h"
#include "gort/time.h"
#include "wait.h"

namespace {

using gort::runtime::Go;
using gort::runtime::Gosched;
using gort::runtime::Options;
using gort::runtime::Run;
using gort::runtime::internal::Sema;

void PinToCpu0() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// --- Gosched ---------------------------------------------------------------

void BM_Gosched(benchmark::State& state) {
  Run(
      [&] {
        std::atomic<bool> stop{false};
        std::atomic<bool> partner_done{false};
        Go([&] {
          while (!stop.load(std::memory_order_relaxed)) Gosched();
          partner_done = true;
        });
        for (auto _ : state) Gosched();
        stop = true;
        while (!partner_done.load()) Gosched();
      },
      Options{.procs = 1});
  // Each iteration is two yields: ours and the partner's.
  state.counters["ns_per_yield"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 2,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Gosched)->UseRealTime();

void BM_Gosched_ThreadBaseline(benchmark::State& state) {
  // Two threads on one CPU yielding to each other with sched_yield.
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    PinToCpu0();
    while (!stop.load(std::memory_order_relaxed)) sched_yield();
  });
  cpu_set_t saved;
  pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved);
  PinToCpu0();
  for (auto _ : state) sched_yield();
  stop = true;
  partner.join();
  pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
  state.counters["ns_per_yield"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 2,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Gosched_ThreadBaseline)->UseRealTime();

// --- CreateGoroutines ------------------------------------------------------

constexpr int kBatch = 1000;

void BM_CreateGoroutines(benchmark::State& state) {
  Run(
      [&] {
        Sema batch_done;
        std::atomic<int> left{0};
        int in_batch = 0;
        auto wait_batch = [&] {
          if (in_batch == 0) return;
          if (left.fetch_sub(kBatch - in_batch) - (kBatch - in_batch) != 0) batch_done.Acquire();
          in_batch = 0;
        };
        for (auto _ : state) {
          if (in_batch == 0) left.store(kBatch);
          Go([&] {
            if (left.fetch_sub(1) == 1) batch_done.Release();
          });
          if (++in_batch == kBatch) {
            batch_done.Acquire();
            in_batch = 0;
          }
        }
        wait_batch();
      },
      Options{.procs = static_cast<int>(state.range(0))});
  state.counters["ns_per_fiber"] =
      benchmark::Counter(static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_CreateGoroutines)->Arg(1)->Arg(2)->UseRealTime();

void BM_CreateGoroutines_ThreadBaseline(benchmark::State& state) {
  std::vector<std::thread> ts;
  ts.reserve(100);
  std::atomic<int> sink{0};
  for (auto _ : state) {
    ts.emplace_back([&] { sink.fetch_add(1, std::memory_order_relaxed); });
    if (ts.size() == 100) {
      for (auto& t : ts) t.join();
      ts.clear();
    }
  }
  for (auto& t : ts) t.join();
  state.counters["ns_per_thread"] =
      benchmark::Counter(static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_CreateGoroutines_ThreadBaseline)->UseRealTime();

// --- LockedPingPong --------------------------------------------------------

void BM_LockedPingPong(benchmark::State& state) {
  Run(
      [&] {
        Sema ping, pong;
        std::atomic<bool> stop{false};
        Sema locked_done;
        Go([&] {
          gort::runtime::LockOSThread();
          for (;;) {
            ping.Acquire();
            if (stop.load(std::memory_order_relaxed)) break;
            pong.Release();
          }
          gort::runtime::UnlockOSThread();
          locked_done.Release();
        });
        for (auto _ : state) {
          ping.Release();
          pong.Acquire();
        }
        stop = true;
        ping.Release();
        locked_done.Acquire();
      },
      Options{.procs = 2});
}
BENCHMARK(BM_LockedPingPong)->UseRealTime();

void BM_LockedPingPong_ThreadBaseline(benchmark::State& state) {
  // The same round trip between two OS threads over binary semaphores.
  std::binary_semaphore ping{0}, pong{0};
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    for (;;) {
      ping.acquire();
      if (stop.load(std::memory_order_relaxed)) break;
      pong.release();
    }
  });
  for (auto _ : state) {
    ping.release();
    pong.acquire();
  }
  stop = true;
  ping.release();
  partner.join();
}
BENCHMARK(BM_LockedPingPong_ThreadBaseline)->UseRealTime();

// --- SyscallEnterExit ------------------------------------------------------

void BM_SyscallEnterExit(benchmark::State& state) {
  Run(
      [&] {
        for (auto _ : state) {
          gort::runtime::EnterSyscall();
          gort::runtime::ExitSyscall();
        }
      },
      Options{.procs = static_cast<int>(state.range(0))});
}
BENCHMARK(BM_SyscallEnterExit)->Arg(1)->Arg(2)->UseRealTime();

void BM_SyscallEnterExit_Getppid(benchmark::State& state) {
  Run(
      [&] {
        for (auto _ : state) {
          gort::runtime::EnterSyscall();
          benchmark::DoNotOptimize(getppid());
          gort::runtime::ExitSyscall();
        }
      },
      Options{.procs = 1});
}
BENCHMARK(BM_SyscallEnterExit_Getppid)->UseRealTime();

void BM_Getppid_RawBaseline(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(getppid());
}
BENCHMARK(BM_Getppid_RawBaseline)->UseRealTime();

// --- Scheduling latency while another fiber spins ---------------------------

void BM_SchedLatencyWhileSpinning(benchmark::State& state) {
  const bool preempt = state.range(0) != 0;
  double worst = 0;
  Run(
      [&] {
        std::atomic<bool> stop{false};
        Sema spun;
        Go([&] {
          while (!stop.load(std::memory_order_relaxed)) {
            auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
            while (std::chrono::steady_clock::now() < until) gort::runtime::CheckPreempt();
            Gosched();  // a stretch done: yield, as a cooperative loop would
          }
          spun.Release();
        });
        for (auto _ : state) {
          auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
          gort::time::Sleep(absl::Milliseconds(1));
          double late =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - due).count();
          worst = std::max(worst, late);
          state.SetIterationTime(late);
        }
        stop = true;
        spun.Acquire();
      },
      Options{.procs = 1, .preempt = preempt});
  state.counters["worst_ms"] = worst * 1000;
}
BENCHMARK(BM_SchedLatencyWhileSpinning)
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
