// Boost.Fiber 1.74 twins of gort's runtime, channel and sync benchmarks, and
// its side of the memory-at-scale measurement. Boost.Fiber schedules fibers
// on the thread that made them (round_robin, no migration), so every twin
// runs on one thread: compare with gort's 1-P rows. Stacks are Boost's
// fixedsize_stack of 64 KiB (malloc) unless a name says pooled.
//   BM_BoostFiber_CreateGoroutines  spawn + complete, batches of 1000 (pooled stacks)
//   BM_BoostFiber_Gosched           two fibers yielding to each other
//   BM_BoostFiber_ChanSync          unbuffered_channel round trip
//   BM_BoostFiber_MutexUncontended  fibers::mutex lock + unlock
//   BM_BoostFiber_Parked/N          N fibers blocked on a condition variable:
//                                   the RSS they add, per fiber (kib_per_fiber)
#include <benchmark/benchmark.h>

#include <boost/context/fixedsize_stack.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/fiber/all.hpp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../proc_status.h"

namespace {

namespace fibers = boost::fibers;
constexpr std::size_t kStack = 64 * 1024;

void PerOp(benchmark::State& state, const char* name, double per_iteration) {
  state.counters[name] =
      benchmark::Counter(static_cast<double>(state.iterations()) * per_iteration,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_BoostFiber_CreateGoroutines(benchmark::State& state) {
  boost::context::pooled_fixedsize_stack pool(kStack);
  std::vector<fibers::fiber> batch;
  batch.reserve(1000);
  for (auto _ : state) {
    batch.emplace_back(std::allocator_arg, pool, [] {});
    if (batch.size() == 1000) {
      for (auto& f : batch) f.join();
      batch.clear();
    }
  }
  for (auto& f : batch) f.join();
  PerOp(state, "ns_per_fiber", 1);
}
BENCHMARK(BM_BoostFiber_CreateGoroutines)->UseRealTime();

void BM_BoostFiber_Gosched(benchmark::State& state) {
  bool stop = false;
  fibers::fiber partner(std::allocator_arg, boost::context::fixedsize_stack(kStack), [&] {
    while (!stop) boost::this_fiber::yield();
  });
  for (auto _ : state) boost::this_fiber::yield();
  stop = true;
  partner.join();
  PerOp(state, "ns_per_yield", 2);  // an iteration is our yield and the partner's
}
BENCHMARK(BM_BoostFiber_Gosched)->UseRealTime();

void BM_BoostFiber_ChanSync(benchmark::State& state) {
  fibers::unbuffered_channel<int> ping, pong;
  fibers::fiber partner(std::allocator_arg, boost::context::fixedsize_stack(kStack), [&] {
    int v;
    while (ping.pop(v) == fibers::channel_op_status::success) pong.push(v);
  });
  for (auto _ : state) {
    ping.push(1);
    int v;
    pong.pop(v);
  }
  ping.close();
  partner.join();
  PerOp(state, "ns_per_round_trip", 1);
}
BENCHMARK(BM_BoostFiber_ChanSync)->UseRealTime();

void BM_BoostFiber_MutexUncontended(benchmark::State& state) {
  fibers::mutex mu;
  for (auto _ : state) {
    mu.lock();
    mu.unlock();
  }
}
BENCHMARK(BM_BoostFiber_MutexUncontended)->UseRealTime();

void BM_BoostFiber_Parked(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    fibers::mutex mu;
    fibers::condition_variable cv;
    bool release = false;
    std::size_t parked = 0;
    std::vector<fibers::fiber> fs;
    fs.reserve(n);
    const long before = gort_bench::ProcStatus("VmRSS");
    for (std::size_t i = 0; i < n; i++) {
      fs.emplace_back(std::allocator_arg, boost::context::fixedsize_stack(kStack), [&] {
        std::unique_lock<fibers::mutex> l(mu);
        parked++;
        cv.wait(l, [&] { return release; });
      });
    }
    while (parked < n) boost::this_fiber::yield();
    const long after = gort_bench::ProcStatus("VmRSS");
    {
      std::unique_lock<fibers::mutex> l(mu);
      release = true;
    }
    cv.notify_all();
    for (auto& f : fs) f.join();
    state.counters["fibers"] = static_cast<double>(n);
    state.counters["rss_kib"] = static_cast<double>(after);
    state.counters["kib_per_fiber"] = static_cast<double>(after - before) / static_cast<double>(n);
  }
}
BENCHMARK(BM_BoostFiber_Parked)
    ->Arg(10000)
    ->Arg(100000)
    ->Arg(1000000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
