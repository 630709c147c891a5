// Channel and select benchmarks with Go's names, each beside a baseline built
// from std::mutex + std::condition_variable in the same binary.
//   BM_ChanSync            unbuffered round trip between two fibers on one P
//   BM_ChanProdCons/N      one producer, one consumer, capacity N, 2 Ps
//   BM_SelectUncontended   a select over two ready buffered channels
//   BM_SelectProdCons      producer and consumer both going through select
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "gort/chan.h"
#include "gort/runtime.h"

namespace {

using gort::Chan;
using gort::OnRecv;
using gort::OnSend;
using gort::Select;
using gort::runtime::Go;
using gort::runtime::Options;
using gort::runtime::Run;

// A bounded blocking queue on std::mutex / std::condition_variable: what a
// thread-based program uses where Go uses a channel. Capacity 0 is emulated
// as a rendezvous (the sender waits until its item is taken).
class CvQueue {
 public:
  explicit CvQueue(std::size_t cap) : cap_(cap) {}
  void Send(int v) {
    std::unique_lock<std::mutex> l(mu_);
    not_full_.wait(l, [&] { return q_.size() < std::max<std::size_t>(cap_, 1); });
    q_.push_back(v);
    uint64_t ticket = ++pushed_;
    not_empty_.notify_one();
    if (cap_ == 0) taken_cv_.wait(l, [&] { return taken_ >= ticket; });
  }
  int Recv() {
    std::unique_lock<std::mutex> l(mu_);
    not_empty_.wait(l, [&] { return !q_.empty(); });
    int v = q_.front();
    q_.pop_front();
    taken_++;
    not_full_.notify_one();
    if (cap_ == 0) taken_cv_.notify_all();
    return v;
  }

 private:
  std::size_t cap_;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_, taken_cv_;
  std::deque<int> q_;
  uint64_t pushed_ = 0, taken_ = 0;
};

// --- ChanSync -----------------------------------------------------------------

void BM_ChanSync(benchmark::State& state) {
  Run(
      [&] {
        Chan<int> ping(0), pong(0);
        Go([=]() mutable {
          while (auto v = ping.Recv()) pong.Send(*v);
        });
        for (auto _ : state) {
          ping.Send(1);
          pong.Recv();
        }
        ping.Close();
      },
      Options{.procs = 1});
  state.SetLabel("round trip, 1 P");
}
BENCHMARK(BM_ChanSync)->UseRealTime();

void BM_ChanSync_CvBaseline(benchmark::State& state) {
  CvQueue ping(0), pong(0);
  std::thread partner([&] {
    for (;;) {
      int v = ping.Recv();
      if (v < 0) break;
      pong.Send(v);
    }
  });
  for (auto _ : state) {
    ping.Send(1);
    pong.Recv();
  }
  ping.Send(-1);
  partner.join();
  state.SetLabel("round trip, 2 threads");
}
BENCHMARK(BM_ChanSync_CvBaseline)->UseRealTime();

// --- ChanProdCons -------------------------------------------------------------

void BM_ChanProdCons(benchmark::State& state) {
  const auto cap = static_cast<std::size_t>(state.range(0));
  Run(
      [&] {
        Chan<int> c(cap);
        Chan<bool> done(0);
        Go([=]() mutable {
          while (c.Recv()) {
          }
          done.Send(true);
        });
        for (auto _ : state) c.Send(1);
        c.Close();
        done.Recv();
      },
      Options{.procs = 2});
}
BENCHMARK(BM_ChanProdCons)->Arg(0)->Arg(10)->Arg(100)->UseRealTime();

void BM_ChanProdCons_CvBaseline(benchmark::State& state) {
  CvQueue q(static_cast<std::size_t>(state.range(0)));
  std::thread consumer([&] {
    while (q.Recv() >= 0) {
    }
  });
  for (auto _ : state) q.Send(1);
  q.Send(-1);
  consumer.join();
}
BENCHMARK(BM_ChanProdCons_CvBaseline)->Arg(0)->Arg(10)->Arg(100)->UseRealTime();

// --- Select -------------------------------------------------------------------

void BM_SelectUncontended(benchmark::State& state) {
  Run(
      [&] {
        Chan<int> a(1), b(1);
        a.Send(0);
        std::optional<int> v;
        for (auto _ : state) {
          // One of the two is ready: receive it and refill it.
          std::size_t k = Select(OnRecv(a, &v), OnRecv(b, &v));
          (k == 0 ? b : a).Send(0);
        }
      },
      Options{.procs = 1});
  state.SetLabel("select + refill");
}
BENCHMARK(BM_SelectUncontended)->UseRealTime();

void BM_SelectProdCons(benchmark::State& state) {
  Run(
      [&] {
        Chan<int> c(10), never(0), quit(0);
        Go([=]() mutable {
          std::optional<int> v, q;
          for (;;) {
            if (Select(OnRecv(c, &v), OnRecv(quit, &q)) == 1) return;
          }
        });
        for (auto _ : state) Select(OnSend(c, 1), OnSend(never, 0));
        quit.Close();
      },
      Options{.procs = 2});
}
BENCHMARK(BM_SelectProdCons)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
