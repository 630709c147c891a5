// sync.Mutex, WaitGroup and Once, from fibers and plain threads together, at
// procs 1, 2, 4 and 8; misuse panics with Go's words.
#include "gort/sync.h"

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gort/chan.h"
#include "testing.h"

namespace gort {
namespace {

using runtime::Go;
using runtime::Gosched;
using testing::ProcsTest;
using testing::YieldUntil;

class SyncTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(SyncTest);

TEST_P(SyncTest, MutexExcludesFibersAndThreads) {
  sync::Mutex mu;
  long counter = 0;  // plain: the mutex must order every access
  constexpr int kFibers = 16, kThreads = 2, kIters = 2000;
  RunFibers([&] {
    sync::WaitGroup wg;
    wg.Add(kFibers + kThreads);
    for (int f = 0; f < kFibers; f++) {
      Go([&] {
        for (int i = 0; i < kIters; i++) {
          std::lock_guard<sync::Mutex> l(mu);
          long c = counter;
          if (i % 7 == 0) Gosched();  // hold the lock across a yield
          counter = c + 1;
        }
        wg.Done();
      });
    }
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++) {
      ts.emplace_back([&] {
        for (int i = 0; i < kIters; i++) {
          mu.Lock();
          counter++;
          mu.Unlock();
        }
        wg.Done();
      });
    }
    wg.Wait();
    for (auto& t : ts) t.join();
  });
  EXPECT_EQ(counter, static_cast<long>(kFibers + kThreads) * kIters);
}

TEST_P(SyncTest, TryLock) {
  RunFibers([] {
    sync::Mutex mu;
    EXPECT_TRUE(mu.TryLock());
    EXPECT_FALSE(mu.TryLock());
    std::atomic<bool> other{true};
    Go([&] { other = mu.TryLock(); });
    YieldUntil([&] { return !other.load(); });
    mu.Unlock();
    EXPECT_TRUE(mu.TryLock());
    mu.Unlock();
  });
}

// Go's TestMutexFairness: a fiber that keeps re-locking cannot starve another
// that wants the mutex once (starvation mode kicks in after 1 ms of waiting).
TEST_P(SyncTest, MutexStarvationModeLetsTheWaiterIn) {
  RunFibers([] {
    sync::Mutex mu;
    std::atomic<bool> stop{false};
    std::atomic<bool> hog_done{false};
    Go([&] {
      while (!stop.load()) {
        mu.Lock();
        for (int i = 0; i < 100; i++) __builtin_ia32_pause();
        mu.Unlock();
        Gosched();
      }
      hog_done = true;
    });
    Chan<bool> got(1);
    Go([&] {
      for (int i = 0; i < 10; i++) {
        mu.Lock();
        mu.Unlock();
        Gosched();
      }
      got.Send(true);
    });
    got.Recv();  // hangs (and ctest times out) if the waiter starves
    stop = true;
    YieldUntil([&] { return hog_done.load(); });
  });
}

TEST_P(SyncTest, UnlockOfUnlockedMutexPanics) {
  RunFibers([] {
    sync::Mutex mu;
    try {
      mu.Unlock();
      ADD_FAILURE() << "no panic";
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "sync: unlock of unlocked mutex");
    }
    // The mutex is still usable.
    mu.Lock();
    mu.Unlock();
  });
}

TEST_P(SyncTest, WaitGroupFromFibersAndThreads) {
  RunFibers([] {
    for (int round = 0; round < 3; round++) {
      sync::WaitGroup wg;
      std::atomic<int> done{0};
      constexpr int kN = 200;
      wg.Add(kN + 2);
      for (int i = 0; i < kN; i++) {
        Go([&] {
          Gosched();
          done.fetch_add(1);
          wg.Done();
        });
      }
      std::thread t1([&] {
        done.fetch_add(1);
        wg.Done();
      });
      std::thread t2([&] {
        done.fetch_add(1);
        wg.Done();
      });
      // Several waiters: the main fiber, another fiber and a plain thread.
      std::atomic<int> waiters_back{0};
      Go([&] {
        wg.Wait();
        waiters_back.fetch_add(1);
      });
      std::thread t3([&] {
        wg.Wait();
        waiters_back.fetch_add(1);
      });
      wg.Wait();
      EXPECT_EQ(done.load(), kN + 2);
      t1.join();
      t2.join();
      t3.join();
      YieldUntil([&] { return waiters_back.load() == 2; });
    }
  });
}

TEST_P(SyncTest, WaitGroupMisusePanics) {
  RunFibers([] {
    sync::WaitGroup wg;
    try {
      wg.Add(-1);
      ADD_FAILURE() << "no panic";
    } catch (const Panic& p) {
      EXPECT_STREQ(p.what(), "sync: negative WaitGroup counter");
    }
    sync::WaitGroup ok;
    ok.Wait();  // zero counter: returns at once
  });
}

TEST_P(SyncTest, OnceRunsOnceEveryoneWaits) {
  RunFibers([] {
    sync::Once once;
    std::atomic<int> calls{0};
    std::atomic<int> saw_done{0};
    sync::WaitGroup wg;
    constexpr int kN = 50;
    wg.Add(kN + 1);
    auto body = [&] {
      once.Do([&] {
        for (int i = 0; i < 10; i++) Gosched();  // others must wait, not skip
        calls.fetch_add(1);
      });
      if (calls.load() == 1) saw_done.fetch_add(1);
      wg.Done();
    };
    for (int i = 0; i < kN; i++) Go(body);
    std::thread t(body);
    wg.Wait();
    t.join();
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(saw_done.load(), kN + 1);
  });
}

TEST(SyncApi, OnceThatThrowsCountsAsDone) {
  runtime::Run([] {
    sync::Once once;
    EXPECT_THROW(once.Do([] { throw std::runtime_error("x"); }), std::runtime_error);
    int n = 0;
    once.Do([&] { n++; });
    EXPECT_EQ(n, 0);
  });
}

}  // namespace
}  // namespace gort
