// Cooperative preemption: a fiber that runs without parking is asked to
// yield at its next gort call; locked fibers and Options::preempt = false
// are left alone. No test asserts how soon the yield comes: those that need
// it wait for it without a time limit (ctest's timeout catches a hang).
#include <atomic>
#include <thread>

#include "gort/chan.h"
#include "gort/runtime.h"
#include "gort/sync.h"
#include "gort/time.h"
#include "testing.h"

namespace gort {
namespace {

using runtime::Go;
using testing::ProcsTest;

class PreemptTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(PreemptTest);

// The test: at procs 1, a fiber that loops calling only
// CheckPreempt does not keep a channel ping-pong between two other fibers
// from finishing. Without preemption this never ends: the spinner holds the
// only P.
TEST(PreemptApi, SpinnerCallingCheckPreemptLetsAPingPongRun) {
  runtime::Run(
      [] {
        std::atomic<bool> stop{false};
        Chan<int> ping(0), pong(0), done(1);
        constexpr int kRounds = 200;
        Go([ping, pong] {
          while (auto v = ping.Recv()) pong.Send(*v + 1);
        });
        Go([ping, pong, done] {
          int v = 0;
          for (int i = 0; i < kRounds; i++) {
            ping.Send(v);
            v = *pong.Recv();
          }
          ping.Close();
          done.Send(v);
        });
        sync::WaitGroup spun;
        spun.Add(1);
        Go([&] {
          while (!stop.load(std::memory_order_relaxed)) runtime::CheckPreempt();
          spun.Done();
        });
        EXPECT_EQ(*done.Recv(), kRounds);
        stop = true;
        spun.Wait();
      },
      runtime::Options{.procs = 1});
}

// The same with a spinner that makes other gort calls (non-blocking channel
// operations) instead of CheckPreempt, at every procs value: with more Ps
// than spinners the pair would run anyway; with procs 1 only preemption
// lets it.
TEST_P(PreemptTest, SpinnerMakingGortCallsLetsOthersRun) {
  RunFibers([this] {
    std::atomic<bool> stop{false};
    std::atomic<int> started{0};
    sync::WaitGroup spun;
    const int spinners = GetParam();  // every P gets a spinner
    spun.Add(spinners);
    for (int s = 0; s < spinners; s++) {
      Go([&] {
        started.fetch_add(1);
        Chan<int> c(1);
        while (!stop.load(std::memory_order_relaxed)) {
          c.TrySend(1);
          c.TryRecv();
        }
        spun.Done();
      });
    }
    // Every spinner is running (each got the main fiber's P or another one
    // and keeps it until preempted).
    testing::YieldUntil([&] { return started.load() == spinners; });
    Chan<int> ping(0), pong(0);
    Go([ping, pong] {
      while (auto v = ping.Recv()) pong.Send(*v);
    });
    for (int i = 0; i < 100; i++) {
      ping.Send(i);
      EXPECT_EQ(*pong.Recv(), i);
    }
    ping.Close();
    stop = true;
    spun.Wait();
  });
}

// Options::preempt = false: a fiber that spins (calling CheckPreempt) for a
// while keeps the only P all that while; the fibers it started meanwhile
// do not run until it parks.
TEST(PreemptApi, OffMeansNoFiberIsPreempted) {
  runtime::Run(
      [] {
        std::atomic<int> others_ran{0};
        std::atomic<int> seen_by_spinner{-1};
        Chan<bool> done(1);
        Go([&, done] {
          for (int i = 0; i < 4; i++) Go([&] { others_ran.fetch_add(1); });
          absl::Time until = absl::Now() + absl::Milliseconds(40);
          while (absl::Now() < until) runtime::CheckPreempt();
          seen_by_spinner = others_ran.load();
          done.Send(true);
        });
        done.Recv();
        EXPECT_EQ(seen_by_spinner.load(), 0);
      },
      runtime::Options{.procs = 1, .preempt = false});
}

// A fiber locked to its thread is never preempted, even with preemption on.
TEST(PreemptApi, LockedFiberIsNotPreempted) {
  runtime::Run(
      [] {
        std::atomic<int> others_ran{0};
        std::atomic<int> seen_by_spinner{-1};
        Chan<bool> done(1);
        Go([&, done] {
          runtime::LockOSThread();
          for (int i = 0; i < 4; i++) Go([&] { others_ran.fetch_add(1); });
          absl::Time until = absl::Now() + absl::Milliseconds(40);
          while (absl::Now() < until) runtime::CheckPreempt();
          seen_by_spinner = others_ran.load();
          runtime::UnlockOSThread();
          done.Send(true);
        });
        done.Recv();
        EXPECT_EQ(seen_by_spinner.load(), 0);
      },
      runtime::Options{.procs = 1});
}

// Outside a fiber (a plain thread, or outside Run) CheckPreempt does nothing.
TEST(PreemptApi, CheckPreemptOutsideFibersIsANoOp) {
  runtime::CheckPreempt();
  runtime::Run([] {
    std::atomic<bool> ok{false};
    std::thread t([&] {
      for (int i = 0; i < 1000; i++) runtime::CheckPreempt();
      ok = true;
    });
    t.join();
    EXPECT_TRUE(ok.load());
  });
}

}  // namespace
}  // namespace gort
