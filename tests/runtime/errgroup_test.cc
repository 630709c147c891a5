// errgroup: Go, TryGo, SetLimit, Wait and WithContext, ported from
// golang.org/x/sync/errgroup's errgroup_test.go, at procs 1, 2, 4 and 8.
#include "gort/errgroup.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gort/time.h"
#include "testing.h"

namespace gort {
namespace {

using runtime::Gosched;
using testing::ProcsTest;
using testing::YieldUntil;

class ErrgroupTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(ErrgroupTest);

// errgroup's TestZeroGroup: Wait returns the first error of the calls
// made so far (all OK: OK).
TEST_P(ErrgroupTest, ZeroGroupKeepsTheFirstError) {
  RunFibers([] {
    const absl::Status err1 = absl::InternalError("errgroup_test: 1");
    const absl::Status err2 = absl::InternalError("errgroup_test: 2");
    const std::vector<std::vector<absl::Status>> cases = {
        {}, {absl::OkStatus()}, {err1}, {err1, absl::OkStatus()}, {err1, absl::OkStatus(), err2},
    };
    for (const auto& errs : cases) {
      errgroup::Group g;
      absl::Status first;
      for (std::size_t i = 0; i < errs.size(); i++) {
        absl::Status e = errs[i];
        g.Go([e] { return e; });
        if (first.ok() && !e.ok()) first = e;
        // Each call has finished before the next starts, so the first error
        // is known: Wait must report it.
        absl::Status got = g.Wait();
        EXPECT_EQ(got, first) << "after " << i + 1 << " calls";
      }
    }
  });
}

// errgroup's TestWithContext: the first error cancels the context, Wait
// returns it, and the context is done afterwards in every case (Wait
// cancels it).
TEST_P(ErrgroupTest, WithContextCancelsOnTheFirstError) {
  RunFibers([] {
    const absl::Status err = absl::NotFoundError("errgroup_test: boom");
    const std::vector<std::vector<absl::Status>> cases = {
        {},
        {absl::OkStatus()},
        {err},
        {err, absl::OkStatus()},
        {absl::OkStatus(), err, absl::OkStatus()},
    };
    for (const auto& errs : cases) {
      auto [g, ctx] = errgroup::WithContext(context::Background());
      bool any_err = false;
      for (const absl::Status& e : errs) {
        any_err = any_err || !e.ok();
        g->Go([e] { return e; });
      }
      absl::Status got = g->Wait();
      EXPECT_EQ(got, any_err ? err : absl::OkStatus());
      EXPECT_EQ(ctx.Err(), context::Canceled());
      EXPECT_EQ(ctx.Done().TryRecvStatus(nullptr), RecvStatus::kClosed);
    }
  });
}

// The error's cancellation reaches the other fibers while they run: they
// wait on ctx.Done() and only the error ends them.
TEST_P(ErrgroupTest, ErrorStopsTheOthersThroughTheContext) {
  RunFibers([] {
    auto [parent, cancel_parent] = context::WithCancel(context::Background());
    auto [g, ctx] = errgroup::WithContext(parent);
    std::atomic<int> stopped{0};
    for (int i = 0; i < 20; i++) {
      g->Go([&stopped, ctx = ctx] {
        ctx.Done().Recv();
        stopped.fetch_add(1);
        return ctx.Err();
      });
    }
    g->Go([] {
      time::Sleep(absl::Milliseconds(1));
      return absl::UnavailableError("first");
    });
    EXPECT_EQ(g->Wait(), absl::UnavailableError("first"));  // not the others' Canceled
    EXPECT_EQ(stopped.load(), 20);
    EXPECT_TRUE(parent.Err().ok());  // only the group's own context
    EXPECT_EQ(context::context_internal::ChildrenForTesting(parent), 0u);
    cancel_parent();
  });
}

// A group's context is a child: cancelling the parent cancels it.
TEST_P(ErrgroupTest, ParentCancelReachesTheGroup) {
  RunFibers([] {
    auto [parent, cancel_parent] = context::WithCancel(context::Background());
    auto [g, ctx] = errgroup::WithContext(parent);
    g->Go([ctx = ctx] {
      ctx.Done().Recv();
      return ctx.Err();
    });
    cancel_parent();
    EXPECT_EQ(g->Wait(), context::Canceled());
  });
}

// errgroup's TestGoLimit: never more than the limit run at once, and Go
// blocks rather than exceed it.
TEST_P(ErrgroupTest, GoRespectsTheLimit) {
  RunFibers([] {
    constexpr int kLimit = 10;
    errgroup::Group g;
    g.SetLimit(kLimit);
    std::atomic<int> active{0}, peak{0};
    for (int i = 0; i < 200; i++) {
      g.Go([&] {
        int n = active.fetch_add(1) + 1;
        int p = peak.load();
        while (n > p && !peak.compare_exchange_weak(p, n)) {
        }
        if (n > kLimit) return absl::InternalError("too many at once: " + std::to_string(n));
        for (int k = 0; k < 3; k++) Gosched();
        active.fetch_sub(1);
        return absl::OkStatus();
      });
    }
    EXPECT_TRUE(g.Wait().ok());
    EXPECT_LE(peak.load(), kLimit);
    EXPECT_GE(peak.load(), 1);
  });
}

// errgroup's TestTryGo: TryGo fails at the limit and succeeds again once a
// fiber finished; no limit: it always succeeds.
TEST_P(ErrgroupTest, TryGo) {
  RunFibers([] {
    errgroup::Group g;
    constexpr int kLimit = 3;
    g.SetLimit(kLimit);
    Chan<bool> release(0);
    for (int i = 0; i < kLimit; i++) {
      EXPECT_TRUE(g.TryGo([release] {
        release.Recv();
        return absl::OkStatus();
      }));
    }
    EXPECT_FALSE(g.TryGo([] { return absl::InternalError("ran past the limit"); }));
    release.Send(true);  // one finishes...
    YieldUntil([&] {     // ...and its token comes back
      return g.TryGo([] { return absl::OkStatus(); });
    });
    for (int i = 0; i < kLimit - 1; i++) release.Send(true);
    EXPECT_TRUE(g.Wait().ok());

    errgroup::Group unlimited;
    for (int i = 0; i < 100; i++) EXPECT_TRUE(unlimited.TryGo([] { return absl::OkStatus(); }));
    EXPECT_TRUE(unlimited.Wait().ok());
  });
}

TEST_P(ErrgroupTest, SetLimitWhileActivePanics) {
  RunFibers([] {
    errgroup::Group g;
    g.SetLimit(2);
    Chan<bool> release(0);
    g.Go([release] {
      release.Recv();
      return absl::OkStatus();
    });
    try {
      g.SetLimit(5);
      ADD_FAILURE() << "no panic";
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(),
                   "errgroup: modify limit while 1 goroutines in the group are still active");
    }
    release.Send(true);
    EXPECT_TRUE(g.Wait().ok());
    g.SetLimit(-1);  // no limit
    for (int i = 0; i < 50; i++) g.Go([] { return absl::OkStatus(); });
    EXPECT_TRUE(g.Wait().ok());
  });
}

// What an f captured is destroyed before Wait returns: the caller may own
// what it refers to from then on. (The fiber's closure used to outlive the
// Done that released Wait; TSan saw a captured Status freed after Wait.)
TEST_P(ErrgroupTest, CapturesAreDestroyedBeforeWaitReturns) {
  struct Tracker {
    std::atomic<int>* n;
    explicit Tracker(std::atomic<int>* c) : n(c) { n->fetch_add(1); }
    Tracker(const Tracker& o) : n(o.n) { n->fetch_add(1); }
    Tracker& operator=(const Tracker&) = delete;
    ~Tracker() {
      time::Sleep(absl::Milliseconds(1));  // widens the window the bug had
      n->fetch_sub(1);
    }
  };
  RunFibers([] {
    for (int round = 0; round < 5; round++) {
      std::atomic<int> alive{0};
      errgroup::Group g;
      for (int i = 0; i < 10; i++) {
        g.Go([t = Tracker(&alive), i] {
          if (i % 2 == 0) Gosched();
          return absl::OkStatus();
        });
      }
      EXPECT_TRUE(g.Wait().ok());
      EXPECT_EQ(alive.load(), 0);
    }
  });
}

// Go and Wait from a plain thread.
TEST_P(ErrgroupTest, FromAPlainThread) {
  RunFibers([] {
    absl::Status got;
    std::thread th([&] {
      errgroup::Group g;
      g.SetLimit(2);
      for (int i = 0; i < 20; i++) {
        g.Go([i] { return i == 13 ? absl::AbortedError("13") : absl::OkStatus(); });
      }
      got = g.Wait();
    });
    {
      runtime::BlockingSyscall bs;
      th.join();
    }
    EXPECT_EQ(got, absl::AbortedError("13"));
  });
}

}  // namespace
}  // namespace gort
