// LockOSThread / UnlockOSThread with Go >= 1.10 semantics.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "proc.h"
#include "testing.h"
#include "wait.h"

namespace gort {
namespace {

using runtime::Go;
using runtime::Gosched;
using runtime::internal::Sema;
using testing::ProcsTest;
using testing::YieldUntil;

class LockOSThreadTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(LockOSThreadTest);

bool ThreadAlive(pid_t tid) {
  struct stat st;
  return stat(("/proc/self/task/" + std::to_string(tid)).c_str(), &st) == 0;
}

// A locked fiber stays on its thread through yields, parks and blocking
// calls, while other fibers keep every P busy; and no other fiber ever runs
// on its thread meanwhile.
TEST_P(LockOSThreadTest, PinnedAndExclusiveUnderLoad) {
  std::atomic<bool> stop{false};
  std::atomic<int> workers{0};
  std::atomic<pid_t> locked_tid{0};
  std::atomic<int> moved{0};
  std::atomic<int> intruders{0};
  Sema ping, pong;
  RunFibers([&] {
    for (int i = 0; i < 16; i++) {
      workers.fetch_add(1);
      Go([&] {
        while (!stop.load()) {
          pid_t t = locked_tid.load();
          if (t != 0 && runtime::ThreadID() == t) intruders.fetch_add(1);
          Gosched();
        }
        workers.fetch_sub(1);
      });
    }
    std::atomic<bool> locked_done{false};
    Go([&] {
      runtime::LockOSThread();
      pid_t me = runtime::ThreadID();
      locked_tid = me;
      for (int k = 0; k < 300; k++) {
        switch (k % 3) {
          case 0:
            Gosched();
            break;
          case 1:
            ping.Release();
            pong.Acquire();
            break;  // park and be readied
          case 2: {
            runtime::BlockingSyscall bs;
            usleep(20);
          } break;
        }
        if (runtime::ThreadID() != me) moved.fetch_add(1);
      }
      locked_tid = 0;
      runtime::UnlockOSThread();
      locked_done = true;
    });
    // The partner that readies the locked fiber from unlocked fibers.
    for (int k = 0; k < 100; k++) {
      ping.Acquire();
      pong.Release();
    }
    YieldUntil([&] { return locked_done.load(); });
    stop = true;
    YieldUntil([&] { return workers.load() == 0; });
  });
  EXPECT_EQ(moved.load(), 0);
  EXPECT_EQ(intruders.load(), 0);
}

// Lock, Lock, Unlock leaves the fiber locked: while it parks, no other fiber
// runs on its thread. After the last Unlock the thread is an ordinary M again:
// while the fiber parks, other fibers do run there.
TEST_P(LockOSThreadTest, NestingCounts) {
  std::atomic<bool> stop{false};
  std::atomic<int> workers{0};
  std::atomic<pid_t> watched{0};
  std::atomic<int> ran_on_watched{0};
  Sema ping, pong;
  RunFibers([&] {
    for (int i = 0; i < 8; i++) {
      workers.fetch_add(1);
      Go([&] {
        while (!stop.load()) {
          if (runtime::ThreadID() == watched.load()) ran_on_watched.fetch_add(1);
          Gosched();
        }
        workers.fetch_sub(1);
      });
    }
    // The partner readies us from another fiber each time we park.
    Go([&] {
      while (!stop.load()) {
        ping.Acquire();
        pong.Release();
      }
    });
    auto park_once = [&] {
      ping.Release();
      pong.Acquire();
    };
    // Go's TestLockOSThreadNesting reads the counts through LockOSCounts;
    // here the G itself is visible to gort's own tests.
    auto counts = [] {
      runtime::internal::G* g = runtime::internal::GetG();
      bool wired = g->lockedm != nullptr && g->lockedm->lockedg == g;
      return std::make_pair(g->lock_ext, wired);
    };
    EXPECT_EQ(counts(), std::make_pair(0u, false));
    runtime::LockOSThread();
    runtime::LockOSThread();
    EXPECT_EQ(counts(), std::make_pair(2u, true));
    runtime::UnlockOSThread();  // still locked once
    EXPECT_EQ(counts(), std::make_pair(1u, true));
    pid_t me = runtime::ThreadID();
    watched = me;
    int moved = 0;
    for (int k = 0; k < 200; k++) {
      park_once();
      if (runtime::ThreadID() != me) moved++;
    }
    EXPECT_EQ(moved, 0);
    EXPECT_EQ(ran_on_watched.load(), 0) << "another fiber ran on a locked thread";
    runtime::UnlockOSThread();  // now unlocked
    EXPECT_EQ(counts(), std::make_pair(0u, false));
    runtime::UnlockOSThread();  // extra unlocks are no-ops, as in Go
    EXPECT_EQ(counts(), std::make_pair(0u, false));
    if (GetParam() == 1) {
      // With one P the workers share our queue: once we park, they run on
      // our thread (a pinned M would have slept instead).
      watched = runtime::ThreadID();
      for (int k = 0; k < 1000000 && ran_on_watched.load() == 0; k++) park_once();
      EXPECT_GT(ran_on_watched.load(), 0) << "the thread stayed exclusive after the last unlock";
    }
    stop = true;
    ping.Release();
    YieldUntil([&] { return workers.load() == 0; });
  });
}

// A fiber that exits while locked takes its thread with it, and no other
// fiber ever runs on that thread.
TEST_P(LockOSThreadTest, ExitWhileLockedEndsTheThread) {
  std::atomic<pid_t> tid{0};
  std::atomic<int> on_dead_thread{0};
  RunFibers([&] {
    std::atomic<bool> exited{false};
    Go([&] {
      runtime::LockOSThread();
      tid = runtime::ThreadID();
      exited = true;
    });
    YieldUntil([&] { return exited.load(); });
    YieldUntil([&] { return !ThreadAlive(tid.load()); });
    std::atomic<int> done{0};
    for (int i = 0; i < 100; i++) {
      Go([&] {
        if (runtime::ThreadID() == tid.load()) on_dead_thread.fetch_add(1);
        {
          runtime::BlockingSyscall bs;
          usleep(10);
        }
        if (runtime::ThreadID() == tid.load()) on_dead_thread.fetch_add(1);
        done.fetch_add(1);
      });
    }
    YieldUntil([&] { return done.load() == 100; });
  });
  EXPECT_FALSE(ThreadAlive(tid.load()));
  EXPECT_EQ(on_dead_thread.load(), 0);
}

// The thread that called Run is never an M, so no locked exit can end it.
TEST_P(LockOSThreadTest, RunThreadSurvivesLockedExits) {
  pid_t me = static_cast<pid_t>(gettid());
  std::atomic<int> done{0};
  RunFibers([&] {
    for (int i = 0; i < 10; i++) {
      Go([&] {
        runtime::LockOSThread();
        done.fetch_add(1);
      });
    }
    runtime::LockOSThread();  // the main fiber too
    YieldUntil([&] { return done.load() == 10; });
  });
  EXPECT_EQ(static_cast<pid_t>(gettid()), me);
  EXPECT_TRUE(ThreadAlive(me));
}

// Go's TestBlockLocked: a locked fiber that blocks N times keeps working.
TEST_P(LockOSThreadTest, LockedFiberBlocksRepeatedly) {
  constexpr int kN = 2000;
  Sema a, b;
  RunFibers([&] {
    Go([&] {
      runtime::LockOSThread();
      for (int i = 0; i < kN; i++) {
        a.Release();
        b.Acquire();
      }
      runtime::UnlockOSThread();
    });
    for (int i = 0; i < kN; i++) {
      a.Acquire();
      b.Release();
    }
  });
}

}  // namespace
}  // namespace gort
