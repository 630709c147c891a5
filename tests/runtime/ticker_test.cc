// time.Ticker, time.Tick and time.AfterFunc, ported from Go's
// time/tick_test.go and time/sleep_test.go (AfterFunc, Stop/Reset), at
// procs 1, 2, 4 and 8. No upper bound on elapsed time is asserted; lower
// bounds are what the API promises.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gort/sync.h"
#include "gort/time.h"
#include "testing.h"

namespace gort {
namespace {

using runtime::Go;
using runtime::Gosched;
using testing::ProcsTest;
using testing::YieldUntil;

class TickerTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(TickerTest);

// Go's TestTicker, without its upper bound: n ticks take at least n
// periods, and after Stop no tick arrives.
TEST_P(TickerTest, TicksThenStops) {
  RunFibers([] {
    constexpr int kTicks = 5;
    const absl::Duration d = absl::Milliseconds(10);
    absl::Time start = absl::Now();
    time::Ticker t(d);
    absl::Time last = start;
    for (int i = 0; i < kTicks; i++) {
      std::optional<absl::Time> v = t.C().Recv();
      ASSERT_TRUE(v.has_value());
      EXPECT_GE(*v, last);  // in order
      last = *v;
    }
    EXPECT_GE(absl::Now() - start, kTicks * d);
    t.Stop();
    time::Sleep(3 * d);
    EXPECT_EQ(t.C().TryRecvStatus(nullptr), RecvStatus::kEmpty) << "tick after Stop";
    // Go's TestTicker also resets a stopped ticker: it ticks again.
    t.Reset(d);
    EXPECT_TRUE(t.C().Recv().has_value());
  });
}

// The channel holds one tick: a reader that sleeps through many periods
// finds one stale tick, and the next is sent only after it made room, so it
// carries a time after that receive (ticks are dropped, not queued).
TEST_P(TickerTest, SlowReaderMissesTicks) {
  RunFibers([] {
    time::Ticker t(absl::Milliseconds(1));
    time::Sleep(absl::Milliseconds(30));  // about 30 periods
    YieldUntil([&] { return t.C().Len() == 1; });
    absl::Time before = absl::Now();
    ASSERT_TRUE(t.C().TryRecv().has_value());
    std::optional<absl::Time> next = t.C().Recv();
    ASSERT_TRUE(next.has_value());
    EXPECT_GE(*next, before);
  });
}

// Reset changes the period: a ticker an hour away ticks soon after
// Reset(1 ms), and one reset to an hour stops ticking, with no stale tick
// left from before the Reset (Go 1.23).
TEST_P(TickerTest, ResetChangesThePeriod) {
  RunFibers([] {
    time::Ticker t(absl::Hours(1));
    t.Reset(absl::Milliseconds(1));
    for (int i = 0; i < 3; i++) EXPECT_TRUE(t.C().Recv().has_value());
    time::Sleep(absl::Milliseconds(5));  // a tick is (very likely) waiting
    t.Reset(absl::Hours(1));
    EXPECT_EQ(t.C().TryRecvStatus(nullptr), RecvStatus::kEmpty) << "stale tick after Reset";
    time::Sleep(absl::Milliseconds(5));
    EXPECT_EQ(t.C().TryRecvStatus(nullptr), RecvStatus::kEmpty);
  });
}

// Go 1.23: once Stop or Reset returns, no tick from before it arrives,
// even when a firing is under way on another M.
TEST_P(TickerTest, NoStaleTickAfterStopOrReset) {
  RunFibers([] {
    const int tries = testing::UnderSanitizer() ? 1000 : 10000;
    time::Ticker t(absl::Nanoseconds(100));
    int stale = 0;
    for (int i = 0; i < tries; i++) {
      t.Reset(absl::Nanoseconds(i % 3 == 0 ? 1 : 300));
      if (i % 2 == 0) Gosched();
      if (i % 4 < 2) {
        t.Reset(absl::Hours(1));
      } else {
        t.Stop();
      }
      for (int k = 0; k < 3; k++) {
        if (t.C().TryRecv().has_value()) stale++;
        Gosched();
      }
    }
    EXPECT_EQ(stale, 0);
  });
}

// Stop, Reset and receives from several fibers and a plain thread at once.
TEST_P(TickerTest, ConcurrentStopResetAndReceive) {
  RunFibers([] {
    const int rounds = testing::UnderSanitizer() ? 300 : 3000;
    time::Ticker t(absl::Microseconds(20));
    auto hammer = [&](int seed) {
      for (int i = 0; i < rounds; i++) {
        switch ((i + seed) % 3) {
          case 0:
            t.Reset(absl::Microseconds(1 + (i * 7 + seed) % 50));
            break;
          case 1:
            t.Stop();
            break;
          default:
            t.C().TryRecv();
            break;
        }
        if (i % 16 == 0) Gosched();
      }
    };
    sync::WaitGroup wg;
    wg.Add(3);
    for (int f = 0; f < 3; f++) {
      Go([&, f] {
        hammer(f);
        wg.Done();
      });
    }
    std::thread th([&] { hammer(5); });
    wg.Wait();
    {
      runtime::BlockingSyscall bs;
      th.join();
    }
    t.Reset(absl::Milliseconds(1));
    EXPECT_TRUE(t.C().Recv().has_value());
  });
}

// Go's TestNewTickerLtZeroDuration and TestTickerResetLtZeroDuration.
TEST_P(TickerTest, NonPositiveIntervalsPanic) {
  RunFibers([] {
    try {
      time::Ticker t(absl::ZeroDuration());
      ADD_FAILURE() << "no panic";
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "non-positive interval for NewTicker");
    }
    EXPECT_THROW(time::Ticker(-absl::Seconds(1)), Panic);
    time::Ticker t(absl::Hours(1));
    try {
      t.Reset(absl::ZeroDuration());
      ADD_FAILURE() << "no panic";
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "non-positive interval for Ticker.Reset");
    }
  });
}

// Go's TestTick: Tick(d <= 0) is the nil channel; otherwise it ticks.
TEST_P(TickerTest, Tick) {
  RunFibers([] {
    EXPECT_FALSE(time::Tick(absl::ZeroDuration()));
    EXPECT_FALSE(time::Tick(-absl::Seconds(1)));
    Chan<absl::Time> c = time::Tick(absl::Milliseconds(1));
    for (int i = 0; i < 3; i++) EXPECT_TRUE(c.Recv().has_value());
  });
}

TEST_P(TickerTest, TickersFromPlainThreads) {
  RunFibers([] {
    std::atomic<int> got{0};
    std::thread th([&] {
      time::Ticker t(absl::Milliseconds(1));
      for (int i = 0; i < 3; i++) got += t.C().Recv().has_value() ? 1 : 0;
      t.Stop();
    });
    // A fiber receives from a ticker that a plain thread resets.
    time::Ticker t2(absl::Hours(1));
    std::thread th2([&] { t2.Reset(absl::Milliseconds(1)); });
    EXPECT_TRUE(t2.C().Recv().has_value());
    {
      runtime::BlockingSyscall bs;
      th.join();
      th2.join();
    }
    EXPECT_EQ(got.load(), 3);
  });
}

class AfterFuncTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(AfterFuncTest);

// Go's TestAfterFunc: a chain of AfterFunc(0) callbacks, each of which then
// blocks for an hour. That only works if each runs in a fiber of its own
// (a callback run by the timer code itself would hold up every timer).
TEST_P(AfterFuncTest, EachCallbackRunsInItsOwnFiber) {
  RunFibers([] {
    Chan<bool> done(1);
    std::atomic<int> left{10};
    std::function<void()> f;
    f = [&left, &f, done] {
      if (left.fetch_sub(1) - 1 >= 0) {
        time::Timer::AfterFunc(absl::ZeroDuration(), f);  // dropped: still runs
        time::Sleep(absl::Hours(1));                      // unwound at shutdown
      } else {
        done.Send(true);
      }
    };
    time::Timer::AfterFunc(absl::ZeroDuration(), f);
    done.Recv();
  });
}

TEST_P(AfterFuncTest, RunsInAnotherFiberAndMayBlock) {
  RunFibers([] {
    Chan<uint64_t> id(0);
    Chan<int> in(0);
    auto t = time::Timer::AfterFunc(absl::Milliseconds(1), [in, id] {
      std::optional<int> v = in.Recv();  // parks: fine in its own fiber
      id.Send(runtime::GoID() + static_cast<uint64_t>(*v));
    });
    EXPECT_FALSE(t->C());  // Go: an AfterFunc timer's C is nil
    in.Send(0);
    EXPECT_NE(*id.Recv(), runtime::GoID());
  });
}

// Stop before the callback started cancels it (true); after, it is too late
// (false). Reset re-arms a stopped or fired AfterFunc.
TEST_P(AfterFuncTest, StopAndReset) {
  RunFibers([] {
    std::atomic<int> runs{0};
    auto t = time::Timer::AfterFunc(absl::Hours(1), [&] { runs.fetch_add(1); });
    EXPECT_TRUE(t->Stop());
    EXPECT_FALSE(t->Stop());
    EXPECT_FALSE(t->Reset(absl::Milliseconds(1)));  // was stopped
    YieldUntil([&] { return runs.load() == 1; });
    EXPECT_FALSE(t->Stop());  // already ran
    EXPECT_FALSE(t->Reset(absl::Hours(1)));
    EXPECT_TRUE(t->Reset(absl::Milliseconds(1)));  // pending: re-armed
    YieldUntil([&] { return runs.load() == 2; });
    time::Sleep(absl::Milliseconds(5));
    EXPECT_EQ(runs.load(), 2);  // each arming ran once
  });
}

// Stop racing the firing: f runs exactly when Stop returned false (Go's
// contract: "it returns false if the timer has already expired or been
// stopped", and f was started then).
TEST_P(AfterFuncTest, StopReportsWhetherTheCallbackWillRun) {
  RunFibers([] {
    const int n = testing::UnderSanitizer() ? 300 : 2000;
    std::vector<std::atomic<int>> ran(n);
    std::vector<std::unique_ptr<time::Timer>> ts;
    for (int i = 0; i < n; i++) {
      ts.push_back(
          time::Timer::AfterFunc(absl::Microseconds(i % 50), [&ran, i] { ran[i].fetch_add(1); }));
      if (i % 8 == 0) Gosched();
    }
    std::vector<bool> stopped(n);
    for (int i = 0; i < n; i++) stopped[i] = ts[i]->Stop();
    for (int i = 0; i < n; i++) {
      if (stopped[i]) continue;
      YieldUntil([&] { return ran[i].load() == 1; });
    }
    time::Sleep(absl::Milliseconds(5));
    for (int i = 0; i < n; i++) EXPECT_EQ(ran[i].load(), stopped[i] ? 0 : 1) << i;
  });
}

TEST_P(AfterFuncTest, FromAPlainThread) {
  RunFibers([] {
    Chan<bool> done(1);
    std::thread th([&] {
      auto t = time::Timer::AfterFunc(absl::Milliseconds(1), [done] { done.Send(true); });
      t.reset();  // dropping the handle does not cancel it
    });
    {
      runtime::BlockingSyscall bs;
      th.join();
    }
    EXPECT_TRUE(done.Recv().has_value());
  });
}

TEST(AfterFuncApi, PendingCallbacksAreDroppedAtShutdown) {
  std::atomic<int> runs{0};
  for (int i = 0; i < 3; i++) {
    runtime::Run([&] {
      for (int k = 0; k < 50; k++) time::Timer::AfterFunc(absl::Hours(1), [&] { runs++; });
      time::Tick(absl::Hours(1));
      time::Ticker t(absl::Hours(1));
    });
  }
  EXPECT_EQ(runs.load(), 0);  // and ASan's leak check covers their state
}

TEST(AfterFuncApi, OutsideRunPanics) {
  EXPECT_THROW(time::Timer::AfterFunc(absl::Milliseconds(1), [] {}), Panic);
  EXPECT_THROW(time::Ticker(absl::Milliseconds(1)), Panic);
  EXPECT_THROW(time::Tick(absl::Milliseconds(1)), Panic);
}

}  // namespace
}  // namespace gort
