// sync.RWMutex and sync.Cond, ported from Go's sync/rwmutex_test.go and
// sync/cond_test.go, at procs 1, 2, 4 and 8, from fibers and plain threads
// together; misuse panics with Go's words.
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "gort/chan.h"
#include "gort/sync.h"
#include "testing.h"

namespace gort {
namespace {

using runtime::Go;
using runtime::Gosched;
using testing::ProcsTest;
using testing::YieldUntil;

class RWMutexTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(RWMutexTest);

// Go's TestParallelReaders: n readers all hold the read lock at once.
TEST_P(RWMutexTest, ParallelReaders) {
  RunFibers([] {
    for (int n : {1, 3, 4, 50}) {
      sync::RWMutex m;
      Chan<bool> locked(0), unlock(0), done(0);
      for (int i = 0; i < n; i++) {
        // Channels by value: each fiber holds its own reference, so main's
        // handles may go while a last Send is still on its way out.
        Go([&m, locked, unlock, done] {
          m.RLock();
          locked.Send(true);
          unlock.Recv();
          m.RUnlock();
          done.Send(true);
        });
      }
      for (int i = 0; i < n; i++) locked.Recv();  // every RLock succeeded together
      for (int i = 0; i < n; i++) unlock.Send(true);
      for (int i = 0; i < n; i++) done.Recv();
    }
  });
}

// Go's HammerRWMutex: activity counts readers (1 each) and writers (10000
// each); a reader must never see a writer, a writer never anyone. Two
// writers and n readers, here with two plain threads among the readers.
void Hammer(int readers, int iters) {
  std::atomic<int32_t> activity{0};
  std::atomic<int> bad{0};
  sync::RWMutex rw;
  Chan<bool> done(0);
  auto reader = [&] {
    for (int i = 0; i < iters; i++) {
      rw.RLock();
      int32_t n = activity.fetch_add(1) + 1;
      if (n < 1 || n >= 10000) bad.fetch_add(1);
      if (i % 16 == 0) Gosched();  // hold it across a yield now and then
      activity.fetch_sub(1);
      rw.RUnlock();
    }
  };
  auto writer = [&] {
    for (int i = 0; i < iters; i++) {
      rw.Lock();
      int32_t n = activity.fetch_add(10000) + 10000;
      if (n != 10000) bad.fetch_add(1);
      if (i % 16 == 0) Gosched();
      activity.fetch_sub(10000);
      rw.Unlock();
    }
  };
  Go([&, done] {
    writer();
    done.Send(true);
  });
  int i = 0;
  for (; i < readers / 2; i++) {
    Go([&, done] {
      reader();
      done.Send(true);
    });
  }
  Go([&, done] {
    writer();
    done.Send(true);
  });
  for (; i < readers; i++) {
    Go([&, done] {
      reader();
      done.Send(true);
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; t++) {
    threads.emplace_back([&] {
      reader();
      writer();
    });
  }
  for (int k = 0; k < 2 + readers; k++) done.Recv();
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(activity.load(), 0);
}

TEST_P(RWMutexTest, Hammer) {
  int iters = testing::UnderSanitizer() ? 200 : 1000;
  RunFibers([&] {
    for (int readers : {1, 3, 10, 5}) Hammer(readers, iters);
  });
}

// Go's TestRLocker, with std::shared_lock standing in for RLocker: a read
// lock (taken twice) keeps the writer out until both are released, and the
// write lock keeps the reader out.
TEST_P(RWMutexTest, ReadLockExcludesWriterAndBack) {
  RunFibers([] {
    sync::RWMutex wl;
    Chan<bool> wlocked(1), rlocked(1);
    constexpr int kN = 10;
    Go([&wl, wlocked, rlocked] {
      for (int i = 0; i < kN; i++) {
        wl.lock_shared();
        wl.lock_shared();
        rlocked.Send(true);
        wl.Lock();
        wlocked.Send(true);
      }
    });
    for (int i = 0; i < kN; i++) {
      rlocked.Recv();
      wl.unlock_shared();
      for (int k = 0; k < 10; k++) Gosched();
      EXPECT_EQ(wlocked.TryRecvStatus(nullptr), RecvStatus::kEmpty) << "not read-locked";
      wl.unlock_shared();
      wlocked.Recv();
      for (int k = 0; k < 10; k++) Gosched();
      EXPECT_EQ(rlocked.TryRecvStatus(nullptr), RecvStatus::kEmpty) << "write lock ignored";
      wl.Unlock();
    }
  });
}

// Writer preference (Go's doc: "If any goroutine calls Lock while the lock
// is already locked by one or more readers, concurrent calls to RLock will
// block until the writer has acquired (and released) the lock"). The
// interleaving pinned down: reader R1 holds; writer W waits; then a new
// reader R2 must wait behind W (TryRLock fails too), and runs only after W.
// The RWMutex outlives Run: the writer's Unlock may still be on its way out
// (waking a waiter) when the main fiber has the lock and returns.
TEST_P(RWMutexTest, WaitingWriterBlocksNewReaders) {
  sync::RWMutex rw;
  std::vector<int> order;  // guarded by the RWMutex itself
  RunFibers([&] {
    order.clear();
    std::atomic<int> step{0};
    rw.RLock();  // R1: the main fiber
    std::atomic<bool> writer_in{false};
    Go([&] {
      step = 1;
      rw.Lock();  // W waits for R1
      writer_in = true;
      order.push_back(1);
      rw.Unlock();
    });
    YieldUntil([&] { return step.load() == 1; });
    // W has announced itself once TryRLock fails (it is waiting or about to).
    YieldUntil([&] {
      if (rw.TryRLock()) {
        rw.RUnlock();
        return false;
      }
      return true;
    });
    EXPECT_FALSE(rw.TryLock());
    std::atomic<bool> r2_in{false};
    Chan<bool> r2_done(1);
    Go([&, r2_done] {
      rw.RLock();  // R2: behind W
      r2_in = true;
      order.push_back(2);
      rw.RUnlock();
      r2_done.Send(true);
    });
    for (int k = 0; k < 50; k++) Gosched();
    EXPECT_FALSE(writer_in.load());
    EXPECT_FALSE(r2_in.load());
    rw.RUnlock();  // R1 leaves: W, then R2
    r2_done.Recv();
    rw.Lock();
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    rw.Unlock();
  });
}

TEST_P(RWMutexTest, TryLockAndTryRLock) {
  RunFibers([] {
    sync::RWMutex rw;
    EXPECT_TRUE(rw.TryRLock());
    EXPECT_TRUE(rw.TryRLock());
    EXPECT_FALSE(rw.TryLock());
    rw.RUnlock();
    rw.RUnlock();
    EXPECT_TRUE(rw.TryLock());
    EXPECT_FALSE(rw.TryLock());
    EXPECT_FALSE(rw.TryRLock());
    rw.Unlock();
    {
      std::shared_lock<sync::RWMutex> a(rw);
      std::shared_lock<sync::RWMutex> b(rw);
    }
    std::unique_lock<sync::RWMutex> w(rw);
  });
}

TEST_P(RWMutexTest, MisusePanicsWithGosWords) {
  RunFibers([] {
    sync::RWMutex rw;
    try {
      rw.RUnlock();
      ADD_FAILURE() << "no panic";
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "sync: RUnlock of unlocked RWMutex");
    }
    try {
      rw.Unlock();
      ADD_FAILURE() << "no panic";
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "sync: Unlock of unlocked RWMutex");
    }
    rw.RLock();
    try {
      rw.Unlock();  // read-locked, not write-locked
      ADD_FAILURE() << "no panic";
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "sync: Unlock of unlocked RWMutex");
    }
    rw.RUnlock();
    rw.Lock();
    try {
      rw.RUnlock();  // write-locked, not read-locked
      ADD_FAILURE() << "no panic";
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "sync: RUnlock of unlocked RWMutex");
    }
    rw.Unlock();
    // Still usable after every panic.
    rw.RLock();
    rw.RUnlock();
    EXPECT_TRUE(rw.TryLock());
    rw.Unlock();
  });
}

// A plain thread waits for the write lock held by a fiber, and a fiber for
// the write lock held by a plain thread's readers.
TEST_P(RWMutexTest, FibersAndThreadsWakeEachOther) {
  RunFibers([] {
    sync::RWMutex rw;
    std::atomic<int> stage{0};
    rw.Lock();
    std::thread t([&] {
      stage = 1;
      rw.RLock();  // sleeps until the fiber unlocks
      stage = 2;
      YieldUntil([&] { return stage.load() == 3; });
      rw.RUnlock();  // lets the fiber's Lock in
    });
    YieldUntil([&] { return stage.load() == 1; });
    for (int k = 0; k < 20; k++) Gosched();
    rw.Unlock();
    YieldUntil([&] { return stage.load() == 2; });
    stage = 3;
    rw.Lock();  // parks until the thread's RUnlock
    rw.Unlock();
    t.join();
  });
}

class CondTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(CondTest);

// Go's TestCondSignal: each Signal wakes exactly one waiter.
//
// In these tests the Mutex and Cond outlive Run: a woken waiter's last act
// is an Unlock, which may still be on its way out (waking a locker) when the
// main fiber has seen what it waited for and returns.
TEST_P(CondTest, SignalWakesOne) {
  sync::Mutex m;
  sync::Cond c(m);
  RunFibers([&] {
    int n = 2;
    Chan<bool> running(n), awake(n);
    for (int i = 0; i < n; i++) {
      Go([&m, &c, running, awake] {
        m.Lock();
        running.Send(true);
        c.Wait();
        awake.Send(true);
        m.Unlock();
      });
    }
    for (int i = 0; i < n; i++) running.Recv();
    while (n > 0) {
      EXPECT_EQ(awake.TryRecvStatus(nullptr), RecvStatus::kEmpty) << "not asleep";
      m.Lock();
      c.Signal();
      m.Unlock();
      awake.Recv();  // hangs if nobody woke
      for (int k = 0; k < 10; k++) Gosched();
      EXPECT_EQ(awake.TryRecvStatus(nullptr), RecvStatus::kEmpty) << "too many awake";
      n--;
    }
    c.Signal();  // nobody waits: a no-op
  });
}

// Go's TestCondSignalGenerations: Signal wakes the longest waiter first.
TEST_P(CondTest, SignalWakesInWaitOrder) {
  sync::Mutex m;
  sync::Cond c(m);
  RunFibers([&] {
    constexpr int kN = 100;
    Chan<bool> running(kN);
    Chan<int> awake(kN);
    for (int i = 0; i < kN; i++) {
      Go([&m, &c, running, awake, i] {
        m.Lock();
        running.Send(true);
        c.Wait();
        awake.Send(i);
        m.Unlock();
      });
      if (i > 0) EXPECT_EQ(*awake.Recv(), i - 1);
      running.Recv();
      m.Lock();
      c.Signal();
      m.Unlock();
    }
    EXPECT_EQ(*awake.Recv(), kN - 1);
  });
}

// Go's TestCondBroadcast: every waiter wakes once per Broadcast.
TEST_P(CondTest, BroadcastWakesAll) {
  sync::Mutex m;
  sync::Cond c(m);
  bool exit = false;  // guarded by m
  RunFibers([&] {
    exit = false;
    constexpr int kN = 100;
    Chan<int> running(kN), awake(kN);
    for (int i = 0; i < kN; i++) {
      Go([&m, &c, &exit, running, awake, i] {
        m.Lock();
        while (!exit) {
          running.Send(i);
          c.Wait();
          awake.Send(i);
        }
        m.Unlock();
      });
    }
    for (int round = 0; round < 10; round++) {
      for (int i = 0; i < kN; i++) running.Recv();
      if (round == 9) {
        m.Lock();
        exit = true;
        m.Unlock();
      }
      EXPECT_EQ(awake.TryRecvStatus(nullptr), RecvStatus::kEmpty) << "not asleep";
      m.Lock();
      c.Broadcast();
      m.Unlock();
      std::vector<bool> seen(kN);
      for (int i = 0; i < kN; i++) {
        int g = *awake.Recv();
        EXPECT_FALSE(seen[g]) << "woke twice";
        seen[g] = true;
      }
    }
    for (int k = 0; k < 10; k++) Gosched();
    EXPECT_EQ(running.TryRecvStatus(nullptr), RecvStatus::kEmpty) << "did not exit";
    c.Broadcast();
  });
}

// Go's TestRace: three fibers hand a value around under the Cond's mutex.
TEST_P(CondTest, HandOffUnderTheMutex) {
  RunFibers([] {
    for (int round = 0; round < 20; round++) {
      sync::Mutex mu;
      sync::Cond c(mu);
      int x = 0;  // guarded by mu
      Chan<bool> done(0);
      Go([&, done] {
        c.L().Lock();
        x = 1;
        c.Wait();
        EXPECT_EQ(x, 2);
        x = 3;
        c.Signal();
        c.L().Unlock();
        done.Send(true);
      });
      Go([&, done] {
        c.L().Lock();
        for (;;) {
          if (x == 1) {
            x = 2;
            c.Signal();
            break;
          }
          c.L().Unlock();
          Gosched();
          c.L().Lock();
        }
        c.L().Unlock();
        done.Send(true);
      });
      Go([&, done] {
        c.L().Lock();
        for (;;) {
          if (x == 2) {
            c.Wait();
            EXPECT_EQ(x, 3);
            break;
          }
          if (x == 3) break;
          c.L().Unlock();
          Gosched();
          c.L().Lock();
        }
        c.L().Unlock();
        done.Send(true);
      });
      for (int i = 0; i < 3; i++) done.Recv();
    }
  });
}

// Go's TestCondSignalStealing: a Broadcast racing with a new Wait must
// still wake the waiter that was already asleep (no stolen wake-up).
TEST_P(CondTest, BroadcastIsNotStolenByALaterWaiter) {
  int iters = testing::UnderSanitizer() ? 200 : 1000;
  RunFibers([&] {
    for (int it = 0; it < iters; it++) {
      sync::Mutex m;
      sync::Cond cond(m);
      Chan<bool> ch(0);
      Go([&, ch] {
        m.Lock();
        ch.Send(true);
        cond.Wait();
        m.Unlock();
        ch.Send(true);
      });
      ch.Recv();
      m.Lock();  // the waiter is inside Wait now: it released m
      m.Unlock();
      bool done = false;  // guarded by m
      sync::WaitGroup wg;
      wg.Add(2);
      Go([&] {
        cond.Broadcast();
        wg.Done();
      });
      Go([&] {
        m.Lock();
        while (!done) cond.Wait();
        m.Unlock();
        wg.Done();
      });
      ch.Recv();  // hangs if the first waiter's wake-up was stolen
      m.Lock();
      done = true;
      m.Unlock();
      cond.Broadcast();
      wg.Wait();
    }
  });
}

// No lost wake-ups between fibers and plain threads, in both directions: a
// producer/consumer count through one Cond, with waiters of both kinds and
// Signal/Broadcast from both kinds.
TEST_P(CondTest, FibersAndThreadsShareACond) {
  RunFibers([] {
    sync::Mutex mu;
    sync::Cond c(mu);
    int items = 0;     // guarded by mu
    int consumed = 0;  // guarded by mu
    constexpr int kConsumers = 6, kPerProducer = 500, kProducers = 4;
    constexpr int kTotal = kPerProducer * kProducers;
    sync::WaitGroup wg;
    wg.Add(kConsumers + kProducers);
    auto consumer = [&] {
      std::unique_lock<sync::Mutex> l(mu);
      for (;;) {
        while (items == 0 && consumed < kTotal) c.Wait();
        if (consumed == kTotal) break;
        items--;
        consumed++;
        if (consumed == kTotal) c.Broadcast();  // let the others see the end
      }
      l.unlock();
      wg.Done();
    };
    auto producer = [&](bool broadcast) {
      for (int i = 0; i < kPerProducer; i++) {
        {
          std::lock_guard<sync::Mutex> l(mu);
          items++;
        }
        if (broadcast) {
          c.Broadcast();
        } else {
          c.Signal();  // outside the mutex, as Go allows
        }
        if (i % 32 == 0) Gosched();
      }
      wg.Done();
    };
    std::vector<std::thread> ts;
    for (int i = 0; i < kConsumers; i++) {
      if (i < 2) {
        ts.emplace_back(consumer);
      } else {
        Go(consumer);
      }
    }
    ts.emplace_back([&] { producer(false); });
    Go([&] { producer(false); });
    Go([&] { producer(true); });
    ts.emplace_back([&] { producer(true); });
    wg.Wait();
    for (auto& t : ts) t.join();
    EXPECT_EQ(consumed, kTotal);
  });
}

// Fibers parked in Cond::Wait (with their guards in scope, while another
// fiber holds the Cond's mutex) and in RLock behind a writer are unwound
// cleanly when Run returns. The objects outlive Run, as the fibers' guards
// touch them while being unwound.
TEST_P(CondTest, ShutdownUnwindsWaiters) {
  sync::Mutex mu;
  sync::Cond c(mu);
  sync::RWMutex rw;
  Chan<int> never(0);
  std::atomic<int> in{0};
  RunFibers([&] {
    for (int i = 0; i < 4; i++) {
      Go([&] {
        std::unique_lock<sync::Mutex> l(mu);
        in.fetch_add(1);
        for (;;) c.Wait();
      });
    }
    Go([&] {
      YieldUntil([&] { return in.load() >= 4; });
      std::lock_guard<sync::Mutex> l(mu);  // held while parked below
      in.fetch_add(1);
      never.Recv();
    });
    YieldUntil([&] { return in.load() == 5; });
    rw.Lock();
    Go([&] {
      std::shared_lock<sync::RWMutex> l(rw);  // parks behind the writer
      in.fetch_add(1);
    });
    for (int k = 0; k < 20; k++) Gosched();
    EXPECT_EQ(in.load(), 5);
  });
}

}  // namespace
}  // namespace gort
