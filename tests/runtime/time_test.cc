// Timers: Sleep, After and Timer firing, stopping and resetting; many
// sleepers cost no threads; timers from plain threads; a pending timer is not
// a deadlock. No test asserts an upper bound on elapsed time (shared, noisy
// machines); lower bounds are what the API promises.
#include "gort/time.h"

#include <atomic>
#include <thread>

#include "gort/sync.h"
#include "testing.h"

namespace gort {
namespace {

using runtime::Go;
using testing::ProcsTest;
using testing::YieldUntil;

class TimeTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(TimeTest);

TEST_P(TimeTest, SleepWaitsAtLeastItsDuration) {
  RunFibers([] {
    for (int ms : {0, 1, 5, 20}) {
      absl::Time start = absl::Now();
      time::Sleep(absl::Milliseconds(ms));
      EXPECT_GE(absl::Now() - start, absl::Milliseconds(ms));
    }
  });
}

TEST_P(TimeTest, SleepingFibersLetOthersRun) {
  RunFibers([] {
    std::atomic<int> ticks{0};
    std::atomic<bool> slept{false};
    Go([&] {
      // From the first tick on: at 2 Ps this fiber may start (and sleep its
      // 30 ms) on another thread before this one has ticked at all.
      YieldUntil([&] { return ticks.load() >= 1; });
      time::Sleep(absl::Milliseconds(30));
      slept = true;
    });
    // This fiber keeps running (yielding) while the other sleeps.
    YieldUntil([&] {
      ticks.fetch_add(1);
      return slept.load();
    });
    EXPECT_GT(ticks.load(), 1);
  });
}

TEST_P(TimeTest, ManySleepersHoldNoThreads) {
  RunFibers([this] {
    const int n = testing::UnderTsan() ? 2000 : 100000;
    int threads_before = testing::CountThreads();
    sync::WaitGroup wg;
    wg.Add(n);
    for (int i = 0; i < n; i++) {
      Go([&, i] {
        time::Sleep(absl::Milliseconds(20 + i % 20));
        wg.Done();
      });
    }
    // While they all sleep, the runtime has at most procs Ms plus its own
    // helpers: sleepers hold no thread.
    time::Sleep(absl::Milliseconds(5));
    int during = testing::CountThreads() - threads_before;
    EXPECT_LE(during, GetParam() + 2) << "sleeping fibers are holding threads";
    wg.Wait();
  });
}

TEST_P(TimeTest, AfterSendsTheTime) {
  RunFibers([] {
    absl::Time start = absl::Now();
    auto t = time::After(absl::Milliseconds(10)).Recv();
    ASSERT_TRUE(t.has_value());
    EXPECT_GE(*t - start, absl::Milliseconds(10));
    // A select with a timeout.
    Chan<int> never(0);
    std::optional<int> v;
    std::optional<absl::Time> tv;
    EXPECT_EQ(Select(OnRecv(never, &v), OnRecv(time::After(absl::Milliseconds(5)), &tv)), 1u);
    EXPECT_TRUE(tv.has_value());
  });
}

TEST_P(TimeTest, TimerStopAndReset) {
  RunFibers([] {
    time::Timer t(absl::Hours(1));
    EXPECT_TRUE(t.Stop());   // pending: stopped
    EXPECT_FALSE(t.Stop());  // already stopped
    EXPECT_FALSE(t.C().TryRecv().has_value());

    EXPECT_FALSE(t.Reset(absl::Milliseconds(5)));  // was stopped
    EXPECT_TRUE(t.C().Recv().has_value());         // fires once
    EXPECT_FALSE(t.Stop());                        // already fired

    EXPECT_FALSE(t.Reset(absl::Hours(1)));
    EXPECT_TRUE(t.Reset(absl::Milliseconds(1)));  // pending: re-armed
    EXPECT_TRUE(t.C().Recv().has_value());

    // Fired but not received: the value is dropped and, as in Go 1.23, Stop
    // reports true (nobody had the value: the timer never delivered).
    t.Reset(absl::Milliseconds(1));
    time::Sleep(absl::Milliseconds(20));
    EXPECT_TRUE(t.Stop());
    EXPECT_FALSE(t.C().TryRecv().has_value());
    EXPECT_FALSE(t.Stop());  // now it is stopped
  });
}

// After Stop, nothing arrives on the channel: a timer stopped while pending
// never fires, and one that fired first has its value dropped by Stop (no
// assumption about which case each is: the machine may be slow).
TEST_P(TimeTest, StoppedTimersNeverDeliver) {
  RunFibers([] {
    std::vector<std::unique_ptr<time::Timer>> ts;
    for (int i = 0; i < 100; i++)
      ts.push_back(std::make_unique<time::Timer>(absl::Milliseconds(5)));
    int stopped = 0;
    for (auto& t : ts) stopped += t->Stop() ? 1 : 0;
    time::Sleep(absl::Milliseconds(20));
    for (auto& t : ts) EXPECT_FALSE(t->C().TryRecv().has_value());
    // And one that is certainly pending when stopped.
    time::Timer late(absl::Milliseconds(30));
    EXPECT_TRUE(late.Stop());
    time::Sleep(absl::Milliseconds(40));
    EXPECT_FALSE(late.C().TryRecv().has_value());
    (void)stopped;
  });
}

// Go 1.23: once Reset returns, nothing from the earlier arming arrives. The
// earlier arming is due at once, so its firing races the Reset; the new one
// is an hour away, so any value seen after Reset is stale. (Before the fix,
// 50 to 115 of 20 000 tries saw one.)
TEST_P(TimeTest, NoStaleValueAfterResetOrStop) {
  RunFibers([] {
    const int tries = testing::UnderSanitizer() ? 2000 : 20000;
    time::Timer t(absl::ZeroDuration());
    int stale = 0;
    for (int i = 0; i < tries; i++) {
      t.Reset(absl::Nanoseconds(i % 3 == 0 ? 0 : 500));
      if (i % 2 == 0) runtime::Gosched();  // let another M start the firing
      if (i % 4 < 2) {
        t.Reset(absl::Hours(1));
      } else {
        t.Stop();
      }
      for (int k = 0; k < 3; k++) {
        if (t.C().TryRecv().has_value()) stale++;
        runtime::Gosched();
      }
    }
    EXPECT_EQ(stale, 0) << "values from before Reset/Stop arrived after it";
  });
}

// Go 1.23: Stop and Reset may run at once from several fibers and a plain
// thread, racing the firing. Before the fix two Resets could free the timer
// twice (ASan) and TSan saw AddTimer read the node after publishing it.
TEST_P(TimeTest, ConcurrentResetAndStopAreSafe) {
  RunFibers([] {
    const int rounds = testing::UnderSanitizer() ? 300 : 3000;
    time::Timer t(absl::Microseconds(10));
    sync::WaitGroup wg;
    std::atomic<int> received{0};
    auto hammer = [&](int seed) {
      for (int i = 0; i < rounds; i++) {
        switch ((i + seed) % 3) {
          case 0:
            t.Reset(absl::Microseconds((i * 7 + seed) % 50));
            break;
          case 1:
            t.Stop();
            break;
          default:
            if (t.C().TryRecv().has_value()) received.fetch_add(1);
            break;
        }
        if (i % 16 == 0) runtime::Gosched();
      }
    };
    wg.Add(3);
    for (int f = 0; f < 3; f++) {
      Go([&, f] {
        hammer(f);
        wg.Done();
      });
    }
    std::thread th([&] { hammer(7); });
    wg.Wait();
    {
      // Joined inside a bracket: the runtime cannot see what a plain thread
      // will do, so a fiber parked waiting for it (with no timer pending
      // after its last Stop) would be a deadlock by Go's rules.
      runtime::BlockingSyscall bs;
      th.join();
    }
    // Still a working timer afterwards.
    t.Reset(absl::Milliseconds(1));
    EXPECT_TRUE(t.C().Recv().has_value());
    EXPECT_FALSE(t.Stop());
  });
}

TEST_P(TimeTest, TimersFromPlainThreads) {
  RunFibers([] {
    std::atomic<bool> got{false};
    std::thread th([&] {
      auto v = time::After(absl::Milliseconds(5)).Recv();
      time::Timer t(absl::Milliseconds(2));
      got = v.has_value() && t.C().Recv().has_value();
      time::Sleep(absl::Milliseconds(1));  // a plain thread just sleeps
    });
    {
      runtime::BlockingSyscall bs;  // join blocks this M: let the P go
      th.join();
    }
    EXPECT_TRUE(got.load());
  });
}

// Every P held by an M blocked outside a syscall bracket (a careless join):
// the plain thread's timer still fires (sysmon runs overdue timers).
TEST(TimeApi, TimerFiresWhenEveryPIsBlocked) {
  runtime::Run(
      [] {
        std::atomic<bool> got{false};
        std::thread th([&] { got = time::After(absl::Milliseconds(2)).Recv().has_value(); });
        th.join();  // no BlockingSyscall: the only P stays with this M
        EXPECT_TRUE(got.load());
      },
      runtime::Options{.procs = 1});
}

TEST(TimeApi, TimersOutsideRunPanic) {
  EXPECT_THROW(time::After(absl::Milliseconds(1)), Panic);
  EXPECT_THROW(time::Timer(absl::Milliseconds(1)), Panic);
  time::Sleep(absl::Microseconds(10));  // a plain thread: fine
}

// A fiber waiting for a timer is not deadlocked, even when every other fiber
// is parked forever: the run ends normally.
TEST(TimeApi, PendingTimerIsNotADeadlock) {
  runtime::Run([] {
    Chan<int> never(0);
    Go([never]() mutable { never.Recv(); });
    time::Sleep(absl::Milliseconds(150));  // longer than deadlock confirmation
  });
  SUCCEED();
}

TEST(TimeApi, UnreceivedTimersAreReleasedAtShutdown) {
  for (int i = 0; i < 3; i++) {
    runtime::Run([] {
      for (int k = 0; k < 100; k++) time::After(absl::Hours(1));
      time::Timer t(absl::Hours(2));
    });
  }
  SUCCEED();  // ASan's leak check covers the timers' shared state
}

}  // namespace
}  // namespace gort
