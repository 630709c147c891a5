// The scheduler: fibers run, migrate, yield, exit and are cleaned up, at
// procs 1, 2, 4 and 8.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gort/internal/runtime_support.h"
#include "testing.h"
#include "wait.h"

namespace gort {
namespace {

using runtime::Go;
using runtime::Gosched;
using runtime::internal::Sema;
using testing::ProcsTest;
using testing::YieldUntil;

class RuntimeTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(RuntimeTest);

TEST_P(RuntimeTest, MainFiberRunsAndRunReturnsZero) {
  bool ran = false;
  uint64_t id = 0;
  RunFibers([&] {
    ran = true;
    id = runtime::GoID();
  });
  EXPECT_TRUE(ran);
  EXPECT_NE(id, 0u);
  EXPECT_EQ(runtime::GoID(), 0u);  // outside a fiber
}

TEST_P(RuntimeTest, ManyFibersAllRunOnce) {
  // TSan can track at most ~8000 threads and fibers at once.
  const int kN = testing::UnderTsan() ? 4000 : 20000;
  std::vector<std::atomic<int>> hits(kN);
  std::atomic<int> done{0};
  RunFibers([&] {
    for (int i = 0; i < kN; i++) {
      Go([&, i] {
        hits[i].fetch_add(1);
        Gosched();
        done.fetch_add(1);
      });
    }
    YieldUntil([&] { return done.load() == kN; });
  });
  for (int i = 0; i < kN; i++) ASSERT_EQ(hits[i].load(), 1) << i;
}

TEST_P(RuntimeTest, GoIDsAreUniqueAndNumGoroutineCounts) {
  constexpr int kN = 1000;
  std::mutex mu;
  std::set<uint64_t> ids;
  Sema release;
  std::atomic<int> started{0};
  RunFibers([&] {
    EXPECT_EQ(runtime::NumGoroutine(), 1);
    for (int i = 0; i < kN; i++) {
      Go([&] {
        {
          std::lock_guard<std::mutex> l(mu);
          ids.insert(runtime::GoID());
        }
        started.fetch_add(1);
        release.Acquire();
      });
    }
    YieldUntil([&] { return started.load() == kN; });
    EXPECT_EQ(runtime::NumGoroutine(), kN + 1);
    for (int i = 0; i < kN; i++) release.Release();
    YieldUntil([&] { return runtime::NumGoroutine() == 1; });
  });
  EXPECT_EQ(ids.size(), static_cast<size_t>(kN));
  EXPECT_EQ(ids.count(0), 0u);
}

// With more than one P, fibers that yield and block really move between OS
// threads: count the fibers seen on two or more threads.
TEST_P(RuntimeTest, FibersMigrateBetweenThreads) {
  if (GetParam() < 2) GTEST_SKIP() << "one P: migration needs a second M to run on";
  std::atomic<int> migrated{0};
  std::atomic<bool> stop{false};
  std::atomic<int> running{0};
  RunFibers([&] {
    for (int i = 0; i < 16; i++) {
      running.fetch_add(1);
      Go([&] {
        pid_t first = runtime::ThreadID();
        bool moved = false;
        while (!stop.load()) {
          Gosched();
          {
            runtime::BlockingSyscall bs;  // hands the P to another M
            usleep(50);
          }
          if (!moved && runtime::ThreadID() != first) {
            moved = true;
            migrated.fetch_add(1);
          }
        }
        running.fetch_sub(1);
      });
    }
    YieldUntil([&] { return migrated.load() >= 2; });
    stop = true;
    YieldUntil([&] { return running.load() == 0; });
  });
  EXPECT_GE(migrated.load(), 2);
}

TEST_P(RuntimeTest, ThreadIDIsTheCurrentThread) {
  std::atomic<int> done{0};
  std::atomic<int> wrong{0};
  RunFibers([&] {
    for (int i = 0; i < 8; i++) {
      Go([&] {
        for (int k = 0; k < 200; k++) {
          if (runtime::ThreadID() != static_cast<pid_t>(syscall(SYS_gettid))) wrong.fetch_add(1);
          if (k % 3 == 0) {
            runtime::BlockingSyscall bs;
            usleep(10);
          } else {
            Gosched();
          }
        }
        done.fetch_add(1);
      });
    }
    YieldUntil([&] { return done.load() == 8; });
  });
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(runtime::ThreadID(), static_cast<pid_t>(syscall(SYS_gettid)));
}

TEST_P(RuntimeTest, HundredThousandFibersAliveAtOnce) {
  // TSan reserves ~1.2 MB of trace space per fiber in a fixed region and
  // tracks at most ~8000 threads and fibers: it proves the same code paths
  // with fewer of them. ASan with randomized schedules (the stress variant)
  // takes minutes for 100 000 on a loaded machine; the interleavings it is
  // there for show with fewer too.
  const bool stress = runtime::internal::ScheduleSeed() != 0;
  const int n = testing::UnderTsan()                    ? 4000
                : (stress && testing::UnderSanitizer()) ? 20000
                                                        : 100000;
  Sema release;
  std::atomic<int> parked{0};
  std::atomic<int> finished{0};
  RunFibers([&] {
    for (int i = 0; i < n; i++) {
      Go([&] {
        parked.fetch_add(1);
        release.Acquire();
        finished.fetch_add(1);
      });
    }
    YieldUntil([&] { return parked.load() == n; });
    EXPECT_EQ(runtime::NumGoroutine(), n + 1);
    for (int i = 0; i < n; i++) release.Release();
    YieldUntil([&] { return finished.load() == n; });
  });
  EXPECT_EQ(finished.load(), n);
}

TEST_P(RuntimeTest, RunCanBeCalledAgain) {
  for (int round = 0; round < 3; round++) {
    std::atomic<int> done{0};
    RunFibers([&] {
      for (int i = 0; i < 100; i++) Go([&] { done.fetch_add(1); });
      YieldUntil([&] { return done.load() == 100; });
    });
    EXPECT_EQ(done.load(), 100);
  }
}

struct Counted {
  std::atomic<int>* n;
  explicit Counted(std::atomic<int>* n) : n(n) {}
  ~Counted() { n->fetch_add(1); }
};

TEST_P(RuntimeTest, GoexitUnwindsTheFiber) {
  std::atomic<int> destroyed{0};
  std::atomic<bool> after{false};
  std::atomic<bool> done{false};
  RunFibers([&] {
    Go([&] {
      Counted outer(&destroyed);
      [&] {
        Counted inner(&destroyed);
        Gosched();
        runtime::Goexit();
      }();
      after = true;
    });
    Go([&] {
      YieldUntil([&] { return destroyed.load() == 2; });
      done = true;
    });
    YieldUntil([&] { return done.load(); });
  });
  EXPECT_EQ(destroyed.load(), 2);
  EXPECT_FALSE(after.load());
}

TEST_P(RuntimeTest, ShutdownUnwindsParkedAndUnstartedFibers) {
  std::atomic<int> destroyed{0};
  std::atomic<int> parked{0};
  auto forever = std::make_shared<Sema>();
  RunFibers([&] {
    for (int i = 0; i < 50; i++) {
      Go([&, forever] {
        Counted c(&destroyed);
        parked.fetch_add(1);
        forever->Acquire();  // never released: shutdown unwinds us
      });
    }
    YieldUntil([&] { return parked.load() == 50; });
    // Started last, never scheduled: its callable (and the Counted it
    // captured) must still be destroyed.
    auto c = std::make_shared<Counted>(&destroyed);
    Go([c] {});
  });
  EXPECT_EQ(destroyed.load(), 51);
}

TEST_P(RuntimeTest, GoFromAPlainThread) {
  std::atomic<int> ran{0};
  RunFibers([&] {
    std::thread t([&] {
      for (int i = 0; i < 100; i++) Go([&] { ran.fetch_add(1); });
    });
    YieldUntil([&] { return ran.load() == 100; });
    t.join();
  });
  EXPECT_EQ(ran.load(), 100);
}

TEST(RuntimeApi, GoOutsideRunPanics) {
  EXPECT_THROW(Go([] {}), Panic);
  EXPECT_THROW(runtime::Goexit(), Panic);
}

TEST(RuntimeApi, RunIsNotReentrant) {
  bool threw = false;
  runtime::Run([&] {
    try {
      runtime::Run([] {});
    } catch (const Panic&) {
      threw = true;
    }
  });
  EXPECT_TRUE(threw);
}

TEST(RuntimeApi, NumCPUAndGOMAXPROCS) {
  EXPECT_GE(runtime::NumCPU(), 1);
  runtime::Run(
      [] {
        EXPECT_EQ(runtime::GOMAXPROCS(0), 3);
        EXPECT_EQ(runtime::GOMAXPROCS(1), 3);
        EXPECT_EQ(runtime::GOMAXPROCS(-1), 1);
        // Work still gets done on one P, and again after growing.
        std::atomic<int> done{0};
        for (int i = 0; i < 1000; i++)
          Go([&] {
            Gosched();
            done.fetch_add(1);
          });
        YieldUntil([&] { return done.load() == 1000; });
        EXPECT_EQ(runtime::GOMAXPROCS(4), 1);
        for (int i = 0; i < 1000; i++)
          Go([&] {
            Gosched();
            done.fetch_add(1);
          });
        YieldUntil([&] { return done.load() == 2000; });
        EXPECT_EQ(runtime::GOMAXPROCS(0), 4);
      },
      runtime::Options{.procs = 3});
}

TEST(RuntimeApi, ProcsFromEnvironment) {
  setenv("GORT_MAXPROCS", "3", 1);
  int seen = 0;
  runtime::Run([&] { seen = runtime::GOMAXPROCS(0); });
  unsetenv("GORT_MAXPROCS");
  EXPECT_EQ(seen, 3);
}

// A fiber that parks inside a catch block and resumes on another thread
// must still be able to rethrow: the exception state travels with it.
TEST_P(RuntimeTest, ExceptionStateTravelsWithTheFiber) {
  std::atomic<int> ok{0};
  RunFibers([&] {
    std::atomic<int> done{0};
    for (int i = 0; i < 8; i++) {
      Go([&] {
        try {
          try {
            throw std::runtime_error("inner");
          } catch (const std::exception&) {
            for (int k = 0; k < 20; k++) {
              runtime::BlockingSyscall bs;
              usleep(20);
            }
            Gosched();
            throw;  // rethrows the exception being handled, wherever we are now
          }
        } catch (const std::runtime_error& e) {
          if (std::string(e.what()) == "inner" && std::uncaught_exceptions() == 0) ok.fetch_add(1);
        }
        done.fetch_add(1);
      });
    }
    YieldUntil([&] { return done.load() == 8; });
  });
  EXPECT_EQ(ok.load(), 8);
}

TEST_P(RuntimeTest, PlainThreadsBlockOnTheSameObjects) {
  Sema to_fiber, to_thread;
  constexpr int kRounds = 2000;
  RunFibers([&] {
    std::thread t([&] {
      for (int i = 0; i < kRounds; i++) {
        to_fiber.Release();
        to_thread.Acquire();
      }
    });
    for (int i = 0; i < kRounds; i++) {
      to_fiber.Acquire();
      to_thread.Release();
    }
    t.join();
  });
}

}  // namespace
}  // namespace gort
