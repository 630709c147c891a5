// Channels and select, mirroring Go's runtime/chan_test.go and select tests,
// at procs 1, 2, 4 and 8.
#include "gort/chan.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "testing.h"

namespace gort {
namespace {

// Elements must move without throwing (the move happens under the channel's
// lock); a Chan of any other type does not compile (see
// compile_fail/chan_throwing_move.cc, built by its own test).
struct ThrowingMove {
  ThrowingMove(ThrowingMove&&) {}  // NOLINT: not noexcept on purpose
};
static_assert(!chan_internal::kElementOk<ThrowingMove>);
static_assert(chan_internal::kElementOk<std::string>);
static_assert(chan_internal::kElementOk<std::unique_ptr<int>>);
static_assert(chan_internal::kElementOk<std::vector<std::string>>);

using runtime::Go;
using runtime::Gosched;
using testing::ProcsTest;
using testing::YieldUntil;

class ChanTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(ChanTest);

// Go's TestChan, per capacity.
TEST_P(ChanTest, GoTestChan) {
  RunFibers([] {
    for (std::size_t cap = 0; cap < 8; cap++) {
      // (No SCOPED_TRACE here: gtest keeps it per OS thread, and this fiber
      // migrates.)
      {
        // Receive from an empty channel does not complete.
        Chan<int> c(cap);
        std::atomic<bool> recv{false};
        Go([&] {
          c.Recv();
          recv = true;
        });
        for (int i = 0; i < 100; i++) Gosched();
        EXPECT_FALSE(recv.load());
        c.Send(0);  // release it
        YieldUntil([&] { return recv.load(); });
      }
      {
        // Send to a full channel does not complete.
        Chan<int> c(cap);
        std::atomic<bool> sent{false};
        Go([&] {
          for (std::size_t i = 0; i < cap + 1; i++) c.Send(static_cast<int>(i));
          sent = true;
        });
        for (int i = 0; i < 100; i++) Gosched();
        EXPECT_FALSE(sent.load());
        c.Recv();  // release it
        YieldUntil([&] { return sent.load(); });
        for (std::size_t i = 0; i < cap; i++) c.Recv();
      }
      {
        // A closed channel drains, then reports closed; receivers that were
        // blocked all wake up.
        Chan<int> c(cap);
        for (std::size_t i = 0; i < cap; i++) c.Send(static_cast<int>(i));
        c.Close();
        for (std::size_t i = 0; i < cap; i++) {
          auto v = c.Recv();
          ASSERT_TRUE(v.has_value());
          EXPECT_EQ(*v, static_cast<int>(i));
        }
        EXPECT_FALSE(c.Recv().has_value());
        EXPECT_FALSE(c.TryRecv().has_value());
      }
      {
        // FIFO through the buffer and across hand-offs.
        Chan<int> c(cap);
        constexpr int kN = 200;
        Go([&] {
          for (int i = 0; i < kN; i++) c.Send(i);
        });
        for (int i = 0; i < kN; i++) {
          auto v = c.Recv();
          ASSERT_TRUE(v.has_value());
          ASSERT_EQ(*v, i);
        }
      }
      {
        Chan<int> c(cap);
        EXPECT_EQ(c.Cap(), cap);
        for (std::size_t i = 0; i < cap; i++) {
          EXPECT_EQ(c.Len(), i);
          c.Send(0);
        }
        EXPECT_EQ(c.Len(), cap);
      }
    }
  });
}

TEST_P(ChanTest, CloseWakesBlockedReceivers) {
  RunFibers([] {
    Chan<int> c;  // placeholder, replaced below
    c = Chan<int>(0);
    constexpr int kN = 20;
    std::atomic<int> closed_seen{0};
    std::atomic<int> parked{0};
    for (int i = 0; i < kN; i++) {
      Go([&, c]() mutable {
        parked.fetch_add(1);
        if (!c.Recv().has_value()) closed_seen.fetch_add(1);
      });
    }
    YieldUntil([&] { return parked.load() == kN; });
    for (int i = 0; i < 50; i++) Gosched();
    c.Close();
    YieldUntil([&] { return closed_seen.load() == kN; });
  });
}

TEST_P(ChanTest, CloseMakesBlockedSendersPanic) {
  RunFibers([] {
    Chan<int> c(0);
    constexpr int kN = 20;
    std::atomic<int> panics{0};
    std::atomic<int> parked{0};
    for (int i = 0; i < kN; i++) {
      Go([&, c]() mutable {
        parked.fetch_add(1);
        try {
          c.Send(1);
        } catch (const Panic& p) {
          if (std::string(p.what()) == "send on closed channel") panics.fetch_add(1);
        }
      });
    }
    YieldUntil([&] { return parked.load() == kN; });
    for (int i = 0; i < 50; i++) Gosched();
    c.Close();
    YieldUntil([&] { return panics.load() == kN; });
  });
}

TEST(ChanApi, MisuseThrowsGosWords) {
  runtime::Run([] {
    Chan<int> c(1);
    c.Close();
    try {
      c.Send(1);
      ADD_FAILURE() << "send on a closed channel did not panic";
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "send on closed channel");
    }
    try {
      c.Close();
      ADD_FAILURE();
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "close of closed channel");
    }
    Chan<int> nil;
    EXPECT_FALSE(static_cast<bool>(nil));
    try {
      nil.Close();
      ADD_FAILURE();
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "close of nil channel");
    }
    EXPECT_FALSE(nil.TrySend(1));
    EXPECT_FALSE(nil.TryRecv().has_value());
    EXPECT_EQ(nil.Len(), 0u);
    EXPECT_EQ(nil.Cap(), 0u);
    EXPECT_THROW(c.TrySend(1), Panic);
  });
}

TEST(ChanApi, MoveOnlyElements) {
  runtime::Run([] {
    Chan<std::unique_ptr<int>> c(2);
    c.Send(std::make_unique<int>(1));
    Go([c]() mutable {
      c.Send(std::make_unique<int>(2));
      c.Send(std::make_unique<int>(3));
    });
    int sum = 0;
    for (int i = 0; i < 3; i++) sum += **c.Recv();
    EXPECT_EQ(sum, 6);
    // Elements still buffered when the last handle goes are destroyed.
    auto leak_check = std::make_shared<int>(0);
    {
      Chan<std::shared_ptr<int>> d(4);
      d.Send(leak_check);
      d.Send(leak_check);
      EXPECT_EQ(leak_check.use_count(), 3);
    }
    EXPECT_EQ(leak_check.use_count(), 1);
  });
}

// TryRecvStatus is Go's `v, ok := <-c` in a select with a default: it tells
// "nothing yet" (kEmpty) from "closed and drained" (kClosed), which TryRecv
// cannot. A closed channel still hands out its buffered values first.
TEST_P(ChanTest, TryRecvStatusTellsEmptyFromClosed) {
  RunFibers([] {
    for (std::size_t cap : {0, 1, 3}) {
      Chan<std::unique_ptr<int>> c(cap);
      std::optional<std::unique_ptr<int>> v = std::make_unique<int>(-1);
      // Empty: would block; *out is reset.
      EXPECT_EQ(c.TryRecvStatus(&v), RecvStatus::kEmpty);
      EXPECT_FALSE(v.has_value());
      // A value from the buffer, or (unbuffered) straight from a parked sender.
      if (cap == 0) {
        std::atomic<bool> parked{false};
        Go([c, &parked] {
          parked = true;
          c.Send(std::make_unique<int>(7));
        });
        YieldUntil([&] { return parked.load(); });
        RecvStatus st;
        while ((st = c.TryRecvStatus(&v)) == RecvStatus::kEmpty) Gosched();  // until it parks
        ASSERT_EQ(st, RecvStatus::kValue);
      } else {
        c.Send(std::make_unique<int>(7));
        ASSERT_EQ(c.TryRecvStatus(&v), RecvStatus::kValue);
      }
      ASSERT_TRUE(v.has_value() && *v != nullptr);
      EXPECT_EQ(**v, 7);
      EXPECT_EQ(c.TryRecvStatus(&v), RecvStatus::kEmpty);
      // Closed with values still buffered: the values first, in order, then
      // kClosed, and kClosed again on every later call.
      for (std::size_t i = 0; i < cap; i++) c.Send(std::make_unique<int>(static_cast<int>(i)));
      c.Close();
      for (std::size_t i = 0; i < cap; i++) {
        ASSERT_EQ(c.TryRecvStatus(&v), RecvStatus::kValue);
        ASSERT_TRUE(v.has_value());
        EXPECT_EQ(**v, static_cast<int>(i));
      }
      EXPECT_EQ(c.TryRecvStatus(&v), RecvStatus::kClosed);
      EXPECT_FALSE(v.has_value());
      EXPECT_EQ(c.TryRecvStatus(nullptr), RecvStatus::kClosed);
      // The old form still answers nullopt for both.
      EXPECT_FALSE(c.TryRecv().has_value());
    }
  });
}

TEST(ChanApi, TryRecvStatusOnNilChannelIsEmpty) {
  // Go: a receive from a nil channel never proceeds, so the default runs.
  runtime::Run([] {
    Chan<int> nil;
    std::optional<int> v = 1;
    EXPECT_EQ(nil.TryRecvStatus(&v), RecvStatus::kEmpty);
    EXPECT_FALSE(v.has_value());
    EXPECT_EQ(nil.TryRecvStatus(nullptr), RecvStatus::kEmpty);
  });
}

TEST(ChanApi, TryRecvStatusWithNullOutDiscardsTheValue) {
  runtime::Run([] {
    auto owned = std::make_shared<int>(5);
    Chan<std::shared_ptr<int>> c(1);
    c.Send(owned);
    EXPECT_EQ(owned.use_count(), 2);
    EXPECT_EQ(c.TryRecvStatus(nullptr), RecvStatus::kValue);
    EXPECT_EQ(owned.use_count(), 1);  // received and destroyed, not leaked
    EXPECT_EQ(c.Len(), 0u);
  });
}

// Go's TestChanProdCons / many senders and receivers with a checksum.
TEST_P(ChanTest, ProducersConsumersNothingLostNothingDuplicated) {
  for (std::size_t cap : {0, 1, 10, 100}) {
    constexpr int kProducers = 8, kConsumers = 8, kPer = 2000;
    std::vector<std::atomic<int>> seen(kProducers * kPer);
    RunFibers([&] {
      Chan<int> c(cap);
      Chan<bool> done(0);
      for (int p = 0; p < kProducers; p++) {
        Go([c, p]() mutable {
          for (int i = 0; i < kPer; i++) c.Send(p * kPer + i);
        });
      }
      for (int k = 0; k < kConsumers; k++) {
        Go([c, done, &seen]() mutable {
          while (auto v = c.Recv()) seen[*v].fetch_add(1);
          done.Send(true);
        });
      }
      // Close once everything is consumed: count via a second pass.
      Go([&, c]() mutable {
        YieldUntil([&] {
          int n = 0;
          for (auto& s : seen) n += s.load();
          return n == kProducers * kPer;
        });
        c.Close();
      });
      for (int k = 0; k < kConsumers; k++) done.Recv();
    });
    for (std::size_t i = 0; i < seen.size(); i++)
      ASSERT_EQ(seen[i].load(), 1) << i << " cap " << cap;
  }
}

// A send happens-before the matching receive completes: the receiver sees
// plain (non-atomic) writes made before the send. TSan checks this too.
TEST_P(ChanTest, SendHappensBeforeReceive) {
  RunFibers([] {
    for (std::size_t cap : {0, 4}) {
      Chan<int*> c(cap);
      constexpr int kN = 500;
      std::vector<int> data(kN, 0);
      Go([&, c]() mutable {
        for (int i = 0; i < kN; i++) {
          data[i] = i + 1;  // plain write
          c.Send(&data[i]);
        }
      });
      for (int i = 0; i < kN; i++) {
        int* p = *c.Recv();
        ASSERT_EQ(*p, i + 1);
      }
    }
  });
}

TEST_P(ChanTest, PlainThreadsAndFibersTalk) {
  RunFibers([] {
    for (std::size_t cap : {0, 3}) {
      Chan<int> to_thread(cap), to_fiber(cap);
      constexpr int kN = 1000;
      std::thread t([&] {
        for (int i = 0; i < kN; i++) {
          auto v = to_thread.Recv();
          to_fiber.Send(*v * 2);
        }
      });
      long sum = 0;
      Go([&] {
        for (int i = 0; i < kN; i++) to_thread.Send(i);
      });
      for (int i = 0; i < kN; i++) sum += *to_fiber.Recv();
      t.join();
      EXPECT_EQ(sum, 2L * (kN - 1) * kN / 2);
    }
  });
}

TEST(ChanApi, PlainThreadsOnlyOutsideFibers) {
  // While Run is active, plain threads may use channels among themselves too.
  runtime::Run([] {
    Chan<int> c(0);
    std::thread a([&] {
      for (int i = 0; i < 100; i++) c.Send(i);
      c.Close();
    });
    int n = 0;
    std::thread b([&] {
      while (c.Recv()) n++;
    });
    a.join();
    b.join();
    EXPECT_EQ(n, 100);
  });
}

// --- Select -------------------------------------------------------------------

TEST_P(ChanTest, SelectDefaultWhenNothingReady) {
  RunFibers([] {
    Chan<int> a(0), b(0);
    std::optional<int> va;
    EXPECT_EQ(Select(OnRecv(a, &va), OnSend(b, 1), OnDefault()), 2u);
    Chan<int> nil;
    std::optional<int> vn;
    EXPECT_EQ(Select(OnRecv(nil, &vn), OnSend(nil, 3), OnDefault()), 2u);
  });
}

TEST_P(ChanTest, SelectReceivesSendsAndSeesClose) {
  RunFibers([] {
    Chan<int> a(1), b(1);
    a.Send(7);
    std::optional<int> v;
    EXPECT_EQ(Select(OnRecv(a, &v), OnRecv(b, &v)), 0u);
    EXPECT_EQ(v, 7);
    EXPECT_EQ(Select(OnSend(b, 9)), 0u);
    EXPECT_EQ(*b.Recv(), 9);
    b.Close();
    v = 5;
    EXPECT_EQ(Select(OnRecv(b, &v)), 0u);
    EXPECT_FALSE(v.has_value());
    EXPECT_THROW(Select(OnSend(b, 1)), Panic);
  });
}

TEST_P(ChanTest, BlockedSelectIsWokenByEachKindOfCase) {
  RunFibers([] {
    for (int round = 0; round < 3; round++) {
      Chan<int> r(0), s(0);
      std::atomic<size_t> which{99};
      std::optional<int> got;
      std::atomic<bool> done{false};
      Go([&] {
        which = Select(OnRecv(r, &got), OnSend(s, 42));
        done = true;
      });
      for (int i = 0; i < 20; i++) Gosched();
      if (round == 0) {
        r.Send(5);
        YieldUntil([&] { return done.load(); });
        EXPECT_EQ(which.load(), 0u);
        EXPECT_EQ(got, 5);
      } else if (round == 1) {
        EXPECT_EQ(*s.Recv(), 42);
        YieldUntil([&] { return done.load(); });
        EXPECT_EQ(which.load(), 1u);
      } else {
        r.Close();
        YieldUntil([&] { return done.load(); });
        EXPECT_EQ(which.load(), 0u);
        EXPECT_FALSE(got.has_value());
      }
    }
  });
}

// Among ready cases one is chosen uniformly at random: each of two ready
// cases runs 40-60 % of 10 000 times.
TEST_P(ChanTest, SelectFairness) {
  RunFibers([] {
    constexpr int kN = 10000;
    Chan<int> a(kN), b(kN);
    for (int i = 0; i < kN; i++) {
      a.Send(i);
      b.Send(i);
    }
    int counts[2] = {0, 0};
    std::optional<int> v;
    for (int i = 0; i < kN; i++) counts[Select(OnRecv(a, &v), OnRecv(b, &v))]++;
    EXPECT_GE(counts[0], kN * 40 / 100);
    EXPECT_LE(counts[0], kN * 60 / 100);
    EXPECT_EQ(counts[0] + counts[1], kN);
  });
}

// The same channel in several cases, both directions.
TEST_P(ChanTest, SelectSameChannelInSeveralCases) {
  RunFibers([] {
    Chan<int> c(0);
    std::atomic<int> sent{0}, received{0};
    constexpr int kN = 2000;
    for (int f = 0; f < 2; f++) {
      Go([&, c]() mutable {
        std::optional<int> v1, v2;
        for (int i = 0; i < kN; i++) {
          size_t k = Select(OnRecv(c, &v1), OnSend(c, 1), OnRecv(c, &v2), OnSend(c, 2));
          if (k % 2 == 0) {
            received.fetch_add(1);
          } else {
            sent.fetch_add(1);
          }
        }
      });
    }
    YieldUntil([&] { return sent.load() + received.load() == 2 * kN; });
    EXPECT_EQ(sent.load(), received.load());
  });
}

// Go's TestSelectStress: four channels, senders and receivers through plain
// operations and through selects, everything accounted for.
TEST_P(ChanTest, SelectStress) {
  RunFibers([] {
    constexpr int kN = 2000;
    Chan<int> c[4] = {Chan<int>(0), Chan<int>(0), Chan<int>(2), Chan<int>(3)};
    std::atomic<int> done{0};
    // Plain senders and receivers on each channel.
    for (int k = 0; k < 4; k++) {
      Go([&, k] {
        for (int i = 0; i < kN; i++) c[k].Send(i);
        done.fetch_add(1);
      });
      Go([&, k] {
        for (int i = 0; i < kN; i++) c[k].Recv();
        done.fetch_add(1);
      });
    }
    // A select sender and a select receiver over all four.
    Go([&] {
      int n[4] = {0, 0, 0, 0};
      Chan<int> cc[4] = {c[0], c[1], c[2], c[3]};
      for (int i = 0; i < 4 * kN; i++) {
        size_t k = Select(OnSend(cc[0], 0), OnSend(cc[1], 0), OnSend(cc[2], 0), OnSend(cc[3], 0));
        if (++n[k] == kN) cc[k] = Chan<int>();  // nil it out: never ready again
      }
      done.fetch_add(1);
    });
    Go([&] {
      int n[4] = {0, 0, 0, 0};
      Chan<int> cc[4] = {c[0], c[1], c[2], c[3]};
      std::optional<int> v;
      for (int i = 0; i < 4 * kN; i++) {
        size_t k =
            Select(OnRecv(cc[0], &v), OnRecv(cc[1], &v), OnRecv(cc[2], &v), OnRecv(cc[3], &v));
        if (++n[k] == kN) cc[k] = Chan<int>();
      }
      done.fetch_add(1);
    });
    YieldUntil([&] { return done.load() == 10; });
  });
}

// Go's TestNonblockRecvRace: a non-blocking receive racing a close never
// reports "would block" once the close happened before a value was there.
TEST_P(ChanTest, NonBlockingRaces) {
  RunFibers([] {
    constexpr int kN = 1000;
    for (int i = 0; i < kN; i++) {
      Chan<int> c(1);
      c.Send(1);
      std::atomic<bool> ok{false};
      Chan<bool> done(0);
      Go([&, c, done]() mutable {
        std::optional<int> v;
        size_t k = Select(OnRecv(c, &v), OnDefault());
        ok = (k == 0);
        done.Send(true);
      });
      c.Close();
      c.Recv();
      done.Recv();
      ASSERT_TRUE(ok.load()) << "non-blocking receive saw an empty channel at " << i;
    }
  });
}

TEST_P(ChanTest, SelectFromPlainThread) {
  RunFibers([] {
    Chan<int> a(0), b(0);
    std::atomic<size_t> which{99};
    std::optional<int> v;
    std::thread t([&] { which = Select(OnRecv(a, &v), OnRecv(b, &v)); });
    b.Send(3);
    t.join();
    EXPECT_EQ(which.load(), 1u);
    EXPECT_EQ(v, 3);
  });
}

TEST_P(ChanTest, ShutdownUnwindsFibersBlockedOnChannels) {
  auto tracker = std::make_shared<int>(0);
  RunFibers([&] {
    Chan<int> c(0), d(0);
    for (int i = 0; i < 10; i++) {
      Go([c, d, t = tracker]() mutable {
        std::optional<int> v;
        if (*t == 0) Select(OnRecv(c, &v), OnRecv(d, &v));
      });
      Go([c, t = tracker]() mutable { c.Send(*t); });
    }
    for (int i = 0; i < 50; i++) Gosched();
  });
  EXPECT_EQ(tracker.use_count(), 1) << "a fiber's captures were not destroyed at shutdown";
}

// SelectCases over a std::vector<Case> (Go's reflect.Select): fan in from a
// set of channels known at run time, dropping each as it closes, and mix in
// dynamic send cases. Every value arrives once.
TEST_P(ChanTest, DynamicSelectOverAVector) {
  RunFibers([] {
    constexpr int kInputs = 12, kPer = 200;
    std::vector<Chan<int>> inputs;
    for (int k = 0; k < kInputs; k++) inputs.emplace_back(k % 3);  // mixed capacities
    for (int k = 0; k < kInputs; k++) {
      Go([c = inputs[k], k] {
        for (int i = 0; i < kPer; i++) c.Send(k * kPer + i);
        c.Close();
      });
    }
    Chan<int> echo(0);  // a send case on a receiver that is sometimes there
    std::atomic<int> echoed{0};
    Go([echo, &echoed] {  // its own handle: main's goes first
      while (echo.Recv()) echoed.fetch_add(1);
    });
    std::vector<int> seen(kInputs * kPer);
    std::vector<std::optional<int>> vals(kInputs);
    int sends = 0;
    while (!inputs.empty()) {
      std::vector<Case> cs;
      for (std::size_t k = 0; k < inputs.size(); k++) cs.push_back(OnRecv(inputs[k], &vals[k]));
      cs.push_back(OnSend(echo, sends));
      std::size_t i = SelectCases(cs.data(), cs.size());
      if (i == inputs.size()) {
        sends++;
        continue;
      }
      ASSERT_LT(i, inputs.size());
      if (!vals[i]) {
        inputs.erase(inputs.begin() + static_cast<long>(i));
        vals.erase(vals.begin() + static_cast<long>(i));
        continue;
      }
      seen[*vals[i]]++;
    }
    for (int x : seen) EXPECT_EQ(x, 1);
    echo.Close();
    YieldUntil([&] { return echoed.load() == sends; });
  });
}

// SelectCases with no cases is Go's `select {}`: it blocks forever, for a
// null array and for an empty vector, and shutdown unwinds the fibers
// parked there. (The deadlock report's "select (no cases)" is in
// death_test.cc.)
TEST_P(ChanTest, EmptySelectBlocksForever) {
  auto tracker = std::make_shared<int>(0);
  RunFibers([&] {
    std::atomic<int> entered{0};
    Go([&, t = tracker] {
      entered++;
      SelectCases(nullptr, 0);
      ADD_FAILURE() << "select {} returned";
    });
    Go([&, t = tracker] {
      std::vector<Case> none;
      entered++;
      SelectCases(none.data(), none.size());
      ADD_FAILURE() << "select {} returned";
    });
    Go([&, t = tracker] {
      Chan<int> nil;
      std::optional<int> v;
      entered++;
      Select(OnRecv(nil, &v), OnSend(nil, 1));  // only nil channels: forever too
      ADD_FAILURE() << "select on nil channels returned";
    });
    YieldUntil([&] { return entered.load() == 3; });
    for (int i = 0; i < 20; i++) Gosched();
  });
  EXPECT_EQ(tracker.use_count(), 1);
}

}  // namespace
}  // namespace gort
