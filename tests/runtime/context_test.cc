// context: Background, WithCancel, WithDeadline, WithTimeout, ported from
// Go's context/context_test.go (x_test.go), at procs 1, 2, 4 and 8, from
// fibers and plain threads. No upper bound on elapsed time is asserted.
#include "gort/context.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gort/sync.h"
#include "gort/time.h"
#include "testing.h"

namespace gort {
namespace {

using context::Canceled;
using context::CancelFunc;
using context::Context;
using context::DeadlineExceeded;
using context::context_internal::ChildrenForTesting;
using runtime::Go;
using runtime::Gosched;
using testing::ProcsTest;
using testing::YieldUntil;

// Done() is closed: a receive returns at once with "closed".
bool IsDone(const Context& c) { return c.Done().TryRecvStatus(nullptr) == RecvStatus::kClosed; }

class ContextTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(ContextTest);

// Go's TestBackground and TestTODO.
TEST(ContextApi, BackgroundIsNeverDone) {
  for (Context c : {context::Background(), context::TODO(), Context()}) {
    EXPECT_FALSE(c.Done());  // the nil channel
    EXPECT_EQ(c.Done().TryRecvStatus(nullptr), RecvStatus::kEmpty);
    EXPECT_TRUE(c.Err().ok());
    EXPECT_FALSE(c.Deadline().has_value());
  }
  EXPECT_EQ(Canceled(), absl::CancelledError("context canceled"));
  EXPECT_EQ(DeadlineExceeded(), absl::DeadlineExceededError("context deadline exceeded"));
}

// WithCancel works without the runtime (no timers involved).
TEST(ContextApi, WithCancelOutsideRun) {
  auto [c, cancel] = context::WithCancel(context::Background());
  EXPECT_TRUE(c.Err().ok());
  cancel();
  EXPECT_EQ(c.Err(), Canceled());
  EXPECT_TRUE(IsDone(c));
  EXPECT_THROW(context::WithTimeout(context::Background(), absl::Seconds(1)), Panic);
}

// Go's TestWithCancel: cancelling the root of a tree cancels every node
// below it, and nothing above.
TEST_P(ContextTest, CancelReachesEveryDescendant) {
  RunFibers([] {
    auto [top, cancel_top] = context::WithCancel(context::Background());
    auto [c1, cancel1] = context::WithCancel(top);
    auto [o, cancel_o] = context::WithTimeout(c1, absl::Hours(1));
    auto [c2, cancel2] = context::WithCancel(o);
    auto [c3, cancel3] = context::WithCancel(c1);
    std::vector<Context> below{c1, o, c2, c3};
    for (const Context& c : below) {
      EXPECT_FALSE(IsDone(c));
      EXPECT_TRUE(c.Err().ok());
    }
    EXPECT_EQ(ChildrenForTesting(c1), 2u);
    cancel1();
    for (const Context& c : below) {
      EXPECT_TRUE(c.Done().Recv() == std::nullopt);  // closed: returns at once
      EXPECT_EQ(c.Err(), Canceled());
    }
    EXPECT_FALSE(IsDone(top));
    EXPECT_TRUE(top.Err().ok());
    EXPECT_EQ(ChildrenForTesting(top), 0u);  // c1 left when cancelled
    EXPECT_EQ(ChildrenForTesting(c1), 0u);
    cancel1();  // idempotent
    cancel2();
    cancel3();
    cancel_o();
    EXPECT_EQ(c2.Err(), Canceled());
    cancel_top();
  });
}

// Go's TestChildFinishesFirst and TestParentFinishesChild: a child's cancel
// leaves its parent alone and unregisters it; a parent's cancel reaches the
// child (with the parent's Err) and empties the parent's set.
TEST_P(ContextTest, ChildFirstThenParentFirst) {
  RunFibers([] {
    auto [parent, cancel_parent] = context::WithCancel(context::Background());
    {
      auto [child, cancel_child] = context::WithCancel(parent);
      EXPECT_EQ(ChildrenForTesting(parent), 1u);
      cancel_child();
      EXPECT_EQ(child.Err(), Canceled());
      EXPECT_TRUE(parent.Err().ok());
      EXPECT_EQ(ChildrenForTesting(parent), 0u);
    }
    auto [c1, cancel1] = context::WithCancel(parent);
    auto [c2, cancel2] = context::WithTimeout(parent, absl::Hours(1));
    EXPECT_EQ(ChildrenForTesting(parent), 2u);
    cancel_parent();
    EXPECT_EQ(c1.Err(), Canceled());
    EXPECT_EQ(c2.Err(), Canceled());  // the parent's Err, not its own deadline's
    EXPECT_EQ(ChildrenForTesting(parent), 0u);
    // Go's TestWithCancelCanceledParent: a child of a done parent is born done.
    auto [late, cancel_late] = context::WithCancel(parent);
    EXPECT_TRUE(IsDone(late));
    EXPECT_EQ(late.Err(), Canceled());
    EXPECT_EQ(ChildrenForTesting(parent), 0u);
    cancel1();
    cancel2();
    cancel_late();
  });
}

// Go's TestDeadline and TestTimeout: the context is done once its deadline
// passes (never before), with DeadlineExceeded, and so are its children.
TEST_P(ContextTest, DeadlineCancelsWithDeadlineExceeded) {
  RunFibers([] {
    absl::Time start = absl::Now();
    absl::Time d = start + absl::Milliseconds(30);
    auto [c, cancel] = context::WithDeadline(context::Background(), d);
    auto [child, cancel_child] = context::WithCancel(c);
    auto [t, cancel_t] = context::WithTimeout(context::Background(), absl::Milliseconds(20));
    EXPECT_EQ(c.Deadline(), d);
    EXPECT_EQ(child.Deadline(), d);               // inherited
    EXPECT_TRUE(!IsDone(c) || absl::Now() >= d);  // never before d (a stall may pass it)
    c.Done().Recv();
    EXPECT_GE(absl::Now(), d);
    EXPECT_EQ(c.Err(), DeadlineExceeded());
    child.Done().Recv();
    EXPECT_EQ(child.Err(), DeadlineExceeded());
    t.Done().Recv();
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
    EXPECT_EQ(t.Err(), DeadlineExceeded());
    cancel();  // after the deadline: Err stays DeadlineExceeded
    EXPECT_EQ(c.Err(), DeadlineExceeded());
    cancel_child();
    cancel_t();
  });
}

// A later deadline under an earlier one is the earlier one (Go: "If the
// parent's deadline is already earlier than d, WithDeadline(parent, d) is
// semantically equivalent to parent"); a deadline already past is born done.
TEST_P(ContextTest, DeadlinesNest) {
  RunFibers([] {
    absl::Time soon = absl::Now() + absl::Milliseconds(10);
    auto [p, cancel_p] = context::WithDeadline(context::Background(), soon);
    auto [later, cancel_later] = context::WithTimeout(p, absl::Hours(1));
    EXPECT_EQ(later.Deadline(), soon);
    auto [past, cancel_past] = context::WithDeadline(p, absl::Now() - absl::Seconds(1));
    EXPECT_TRUE(IsDone(past));
    EXPECT_EQ(past.Err(), DeadlineExceeded());
    auto [zero, cancel_zero] = context::WithTimeout(context::Background(), absl::ZeroDuration());
    EXPECT_EQ(zero.Err(), DeadlineExceeded());
    later.Done().Recv();
    EXPECT_EQ(later.Err(), DeadlineExceeded());
    cancel_p();
    cancel_later();
    cancel_past();
    cancel_zero();
  });
}

// Go's TestCanceledTimeout: cancelling a context with a deadline before it
// passes gives Canceled, and the deadline's timer is gone (the run does not
// wait for an hour-long timer, and nothing fires later).
TEST_P(ContextTest, CancelBeforeTheDeadline) {
  RunFibers([] {
    auto [c, cancel] = context::WithTimeout(context::Background(), absl::Hours(1));
    cancel();
    EXPECT_EQ(c.Err(), Canceled());
    auto [o, cancel_o] = context::WithTimeout(context::Background(), absl::Milliseconds(2));
    cancel_o();
    time::Sleep(absl::Milliseconds(10));
    EXPECT_EQ(o.Err(), Canceled());  // the deadline did not overwrite it
  });
}

// Go's TestCancelRemoves (and the leak test): short-lived children
// under one long-lived parent never grow its set, whether cancelled by
// their CancelFunc, by their deadline, or just dropped.
TEST_P(ContextTest, ShortLivedChildrenDoNotGrowTheParent) {
  RunFibers([this] {
    const int n = testing::UnderSanitizer() ? 100000 : 1000000;
    auto [parent, cancel_parent] = context::WithCancel(context::Background());
    for (int i = 0; i < n; i++) {
      auto [c, cancel] = context::WithCancel(parent);
      if (i % 1024 == 0) ASSERT_EQ(ChildrenForTesting(parent), 1u);
      cancel();
      ASSERT_EQ(ChildrenForTesting(parent), 0u);
    }
    for (int i = 0; i < 1000; i++) {  // dropped without a cancel
      auto [c, cancel] = context::WithTimeout(parent, absl::Hours(1));
      EXPECT_EQ(ChildrenForTesting(parent), 1u);
    }
    EXPECT_EQ(ChildrenForTesting(parent), 0u);
    std::vector<std::pair<Context, CancelFunc>> timed;
    for (int i = 0; i < 1000; i++) {
      timed.push_back(context::WithTimeout(parent, absl::Microseconds(i % 100)));
    }
    for (auto& [c, cancel] : timed) c.Done().Recv();
    EXPECT_EQ(ChildrenForTesting(parent), 0u);  // each left when its deadline fired
    EXPECT_TRUE(parent.Err().ok());
    cancel_parent();
  });
}

// Go's TestSimultaneousCancels: a tree cancelled at its root while fibers
// and a plain thread cancel its nodes; every node ends up done, once, with
// Canceled, and every fiber waiting on a Done wakes.
TEST_P(ContextTest, SimultaneousCancels) {
  RunFibers([] {
    auto [root, cancel_root] = context::WithCancel(context::Background());
    std::vector<std::pair<Context, CancelFunc>> nodes;
    nodes.push_back(context::WithCancel(root));
    for (int i = 1; i < 100; i++) {
      const Context& parent = nodes[static_cast<std::size_t>((i - 1) / 3)].first;
      nodes.push_back(i % 2 == 0 ? context::WithCancel(parent)
                                 : context::WithTimeout(parent, absl::Hours(1)));
    }
    sync::WaitGroup waiters;
    waiters.Add(static_cast<int>(nodes.size()));
    for (auto& [c, cancel] : nodes) {
      Go([&waiters, c = c] {
        c.Done().Recv();
        waiters.Done();
      });
    }
    sync::WaitGroup cancellers;
    cancellers.Add(4);
    for (int f = 0; f < 3; f++) {
      Go([&, f] {
        for (std::size_t i = static_cast<std::size_t>(f); i < nodes.size(); i += 3) {
          nodes[i].second();
        }
        cancellers.Done();
      });
    }
    std::thread th([&cancellers, cancel_root = cancel_root] {
      cancel_root();
      cancellers.Done();
    });
    waiters.Wait();
    cancellers.Wait();
    th.join();
    for (auto& [c, cancel] : nodes) EXPECT_EQ(c.Err(), Canceled());
    EXPECT_EQ(ChildrenForTesting(root), 0u);
  });
}

// Go's TestInterlockedCancels: a fiber that cancels a child when its parent
// is done, while the parent is cancelled, does not deadlock.
TEST_P(ContextTest, InterlockedCancels) {
  RunFibers([] {
    for (int i = 0; i < 100; i++) {
      auto [parent, cancel_parent] = context::WithCancel(context::Background());
      auto [child, cancel_child] = context::WithCancel(parent);
      Go([parent = parent, cancel_child = cancel_child] {
        parent.Done().Recv();
        cancel_child();
      });
      cancel_parent();
      child.Done().Recv();
    }
  });
}

// Go's TestLayersCancel / TestLayersTimeout: cancellation and deadlines
// through many layers, cancelled from the middle.
TEST_P(ContextTest, Layers) {
  RunFibers([] {
    for (int round = 0; round < 20; round++) {
      std::vector<std::pair<Context, CancelFunc>> layers;
      layers.push_back(context::WithCancel(context::Background()));
      for (int i = 1; i < 30; i++) {
        const Context& p = layers.back().first;
        layers.push_back(i % 3 == 0 ? context::WithTimeout(p, absl::Hours(1) + absl::Seconds(i))
                                    : context::WithCancel(p));
      }
      std::size_t mid = static_cast<std::size_t>(round % 30);
      layers[mid].second();
      for (std::size_t i = 0; i < layers.size(); i++) {
        EXPECT_EQ(IsDone(layers[i].first), i >= mid) << i;
      }
      for (auto& l : layers) l.second();
    }
    // A short timeout in the middle of many layers ends everything below.
    std::vector<std::pair<Context, CancelFunc>> layers;
    layers.push_back(context::WithCancel(context::Background()));
    for (int i = 1; i < 30; i++) {
      const Context& p = layers.back().first;
      layers.push_back(i == 10 ? context::WithTimeout(p, absl::Milliseconds(5))
                               : context::WithCancel(p));
    }
    layers.back().first.Done().Recv();
    for (std::size_t i = 0; i < layers.size(); i++) {
      if (i >= 10) {
        EXPECT_EQ(layers[i].first.Err(), DeadlineExceeded()) << i;
      } else {
        EXPECT_TRUE(layers[i].first.Err().ok()) << i;
      }
    }
    for (auto& l : layers) l.second();
  });
}

// Done works in a Select beside other cases, and plain threads wait on it.
TEST_P(ContextTest, DoneInSelectAndFromThreads) {
  RunFibers([] {
    auto [c, cancel] = context::WithCancel(context::Background());
    Chan<int> work(0);
    std::atomic<bool> thread_woke{false};
    std::thread th([&, c = c] {
      c.Done().Recv();
      thread_woke = c.Err() == Canceled();
    });
    Chan<int> result(1);
    Go([work, result, c = c] {
      std::optional<int> v;
      result.Send(static_cast<int>(Select(OnRecv(work, &v), OnRecv(c.Done(), nullptr))));
    });
    for (int k = 0; k < 10; k++) Gosched();
    std::thread canceller([cancel = cancel] { cancel(); });  // cancelled from a thread
    EXPECT_EQ(*result.Recv(), 1);
    {
      runtime::BlockingSyscall bs;
      canceller.join();
      th.join();
    }
    EXPECT_TRUE(thread_woke.load());
  });
}

// Cancellation fan-out: many fibers parked on one Done all wake.
TEST_P(ContextTest, CancelWakesEveryWaiter) {
  RunFibers([] {
    const int n = testing::UnderTsan() ? 1000 : 10000;
    auto [c, cancel] = context::WithCancel(context::Background());
    sync::WaitGroup wg;
    wg.Add(n);
    std::atomic<int> parked{0};
    for (int i = 0; i < n; i++) {
      Go([&, c = c] {
        parked.fetch_add(1);
        c.Done().Recv();
        wg.Done();
      });
    }
    YieldUntil([&] { return parked.load() == n; });
    cancel();
    wg.Wait();
  });
}

}  // namespace
}  // namespace gort
