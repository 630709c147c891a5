// Fatal paths print Go's messages: panic, deadlock, stack overflow, thread
// exhaustion.
#include <atomic>
#include <stdexcept>

#include "chaos.h"
#include "for_testing.h"
#include "gort/chan.h"
#include "gort/sync.h"
#include "gort/time.h"
#include "testing.h"
#include "wait.h"

namespace gort {
namespace {

using runtime::Go;
using runtime::internal::G;
using runtime::internal::Sema;
namespace fortest = runtime::internal::fortest;

class DeathTest : public testing::ThreadsafeDeathTest {};

#ifdef GORT_RANDOM_SCHEDULE
// Randomized schedules: GORT_SCHEDULE_SEED is taken, and a fatal error
// names the seed so that the failing run can be replayed.
TEST_F(DeathTest, RandomScheduleSeedIsTakenAndPrintedOnFatalErrors) {
  setenv("GORT_SCHEDULE_SEED", "987654321", 1);  // the death-test child re-reads it
  EXPECT_DEATH(runtime::Run([] {
                 if (runtime::internal::ScheduleSeed() != 987654321) std::abort();
                 Chan<int> c(0);
                 c.Recv();  // every fiber asleep: deadlock, a fatal error
               }),
               "gort: random schedule seed 987654321 \\(GORT_SCHEDULE_SEED=987654321 replays "
               "it\\)(.|\n)*fatal error: all goroutines are asleep - deadlock!\n"
               "(.|\n)*gort: random schedule seed 987654321");
  unsetenv("GORT_SCHEDULE_SEED");
}
#endif

TEST_F(DeathTest, PanicInAFiberPrintsPanicAndGoroutine) {
  EXPECT_DEATH(runtime::Run([] {
                 Go([] { throw std::runtime_error("boom"); });
                 Sema never;
                 never.Acquire();
               }),
               "panic: boom\n+goroutine [0-9]+ \\[running\\]:");
}

TEST_F(DeathTest, GortPanicInMainFiber) {
  EXPECT_DEATH(runtime::Run([] { throw Panic("send on closed channel"); }),
               "panic: send on closed channel\n+goroutine 1 \\[running\\]:");
}

TEST_F(DeathTest, AllFibersParkedIsADeadlock) {
  EXPECT_DEATH(runtime::Run([] {
                 Sema a;
                 Go([&] { a.Acquire(); });
                 a.Acquire();
                 a.Acquire();
               }),
               "fatal error: all goroutines are asleep - deadlock!");
}

// Go's TestLockedDeadlock: only locked fibers left, all parked.
TEST_F(DeathTest, LockedFibersParkedIsADeadlock) {
  EXPECT_DEATH(runtime::Run(
                   [] {
                     runtime::LockOSThread();
                     Sema s;
                     Go([&] {
                       runtime::LockOSThread();
                       s.Acquire();
                     });
                     s.Acquire();
                   },
                   runtime::Options{.procs = 2}),
               "fatal error: all goroutines are asleep - deadlock!");
}

// Timers keep the runtime alive only while they are pending.
TEST_F(DeathTest, DeadlockAfterTheLastTimerFired) {
  EXPECT_DEATH(runtime::Run([] {
                 time::Sleep(absl::Milliseconds(10));
                 Chan<int> never(0);
                 never.Recv();
               }),
               "fatal error: all goroutines are asleep - deadlock!");
}

TEST_F(DeathTest, AllFibersBlockedOnChannelsIsADeadlock) {
  EXPECT_DEATH(runtime::Run([] {
                 Chan<int> a(0), b(0);
                 Go([=] { a.Recv(); });
                 std::optional<int> v;
                 Select(OnRecv(a, &v), OnRecv(b, &v));
               }),
               "fatal error: all goroutines are asleep - deadlock!");
}

// The report names what each parked fiber waits for, in Go's words; Go's
// `select {}` is SelectCases with no cases.
TEST_F(DeathTest, DeadlockNamesTheWaitsAsGoDoes) {
  EXPECT_DEATH(runtime::Run([] {
                 Chan<int> a(0);
                 Go([=] { a.Recv(); });
                 Chan<int> nil;
                 Go([=] { nil.Send(1); });
                 SelectCases(nullptr, 0);
               }),
               "fatal error: all goroutines are asleep - deadlock!\n\n"
               "goroutine 1 \\[select \\(no cases\\)\\]:\n(.|\n)*"
               "goroutine [0-9]+ \\[chan receive\\]:\n(.|\n)*"
               "goroutine [0-9]+ \\[chan send \\(nil chan\\)\\]:");
}

TEST_F(DeathTest, DeadlockNamesSyncWaits) {
  EXPECT_DEATH(runtime::Run([] {
                 static sync::Mutex mu;
                 static sync::Cond c(mu);
                 static sync::RWMutex rw;
                 Go([] {
                   mu.Lock();
                   c.Wait();
                 });
                 Go([] {
                   Chan<int> never(0);
                   std::optional<int> v;
                   Select(OnRecv(never, &v), OnRecv(never, &v));
                 });
                 rw.RLock();
                 rw.Lock();
               }),
               "fatal error: all goroutines are asleep - deadlock!\n\n"
               "goroutine 1 \\[sync.RWMutex.Lock\\]:\n(.|\n)*"
               "goroutine [0-9]+ \\[sync.Cond.Wait\\]:\n(.|\n)*"
               "goroutine [0-9]+ \\[select\\]:");
}

TEST_F(DeathTest, MainGoexitThenEveryoneExits) {
  EXPECT_DEATH(runtime::Run([] {
                 Go([] {});
                 runtime::Goexit();
               }),
               "fatal error: no goroutines \\(main called runtime.Goexit\\) - deadlock!");
}

int Recurse(int n) {
  volatile char buf[1024];
  buf[0] = static_cast<char>(n);
  return Recurse(n + 1) + buf[0];
}

TEST_F(DeathTest, StackOverflowIsReported) {
  if (testing::UnderSanitizer()) GTEST_SKIP() << "the sanitizer reports the overflow itself";
  EXPECT_DEATH(runtime::Run([] {
                 Go([] { Recurse(0); });
                 Sema never;
                 never.Acquire();
               }),
               "fatal error: stack overflow\n+goroutine [0-9]+ \\[running\\]:");
}

// Past vm.max_map_count's budget stacks have no guard page, and only the
// canary (the stack's lowest 64 bytes, which stay zero) tells of an
// overflow: a fiber that scribbles there dies at its next switch-out.
TEST_F(DeathTest, StackCanaryCatchesScribbleAtTheBottom) {
  EXPECT_DEATH(runtime::Run([] {
                 Go([] {
                   G* g = fortest::CurrentM()->curg;
                   reinterpret_cast<volatile char*>(g->stack.lo)[40] = 1;
                   runtime::Gosched();
                 });
                 Sema never;
                 never.Acquire();
               }),
               "fatal error: stack overflow\n+goroutine [0-9]+ \\[running\\]:");
}

// Go's TestThreadExhaustion: locked, parked fibers each hold a thread.
TEST_F(DeathTest, ThreadLimitIsFatal) {
  EXPECT_DEATH(runtime::Run(
                   [] {
                     Sema never;
                     for (int i = 0; i < 100; i++) {
                       Go([&] {
                         runtime::LockOSThread();
                         never.Acquire();
                       });
                     }
                     never.Acquire();
                   },
                   runtime::Options{.procs = 2, .max_threads = 10}),
               "runtime: program exceeds 10-thread limit\nfatal error: thread exhaustion");
}

}  // namespace
}  // namespace gort
