// Regression for "thread_local across a switch" (DESIGN.md): compiled at -O2,
// fibers read thread-local state before and after many points where they may
// migrate, and must always see the value of the thread they are on now. The
// runtime's own accessors (GoID's G, ThreadID's M) are read the same way.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "testing.h"

namespace gort {
namespace {

using runtime::Go;
using testing::ProcsTest;
using testing::YieldUntil;

thread_local pid_t tls_tid = 0;

// What careless code does: a thread_local read through an inline function,
// which the compiler is free to hoist. Here it must not be able to hoist it
// across a runtime call, which is what we check. Not instrumented by TSan:
// TSan gives each fiber a clock of its own but cannot see that fibers running
// one after another on an OS thread share that thread's TLS through the
// scheduler's g0, and reports the hand-over of tls_tid between them as a
// race; the values themselves are checked below.
__attribute__((no_sanitize("thread"))) inline pid_t CachedTid() {
  if (tls_tid == 0) tls_tid = static_cast<pid_t>(syscall(SYS_gettid));
  return tls_tid;
}

class MigrationTlsTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(MigrationTlsTest);

TEST_P(MigrationTlsTest, FibersSeeTheCurrentThreadsValues) {
  // More fibers than Ps, so that run queues hold waiting fibers and idle Ms
  // steal them: that is when a fiber changes thread.
  const int kFibers = 4 * GetParam() + 4;
  constexpr int kMinRounds = 300;
  constexpr int kMaxRounds = 100000;
  constexpr int kWantMigrations = 50;
  std::atomic<int> wrong{0};
  std::atomic<int> migrations{0};
  std::atomic<int> done{0};
  RunFibers([&] {
    for (int f = 0; f < kFibers; f++) {
      Go([&] {
        uint64_t id = runtime::GoID();
        pid_t before = CachedTid();
        for (int r = 0; r < kMinRounds ||
                        (GetParam() >= 2 && migrations.load() < kWantMigrations && r < kMaxRounds);
             r++) {
          if (r % 2 == 0) {
            runtime::BlockingSyscall bs;
            usleep(5);
          } else {
            runtime::Gosched();
          }
          pid_t real = static_cast<pid_t>(syscall(SYS_gettid));
          pid_t after = CachedTid();
          if (after != real) wrong.fetch_add(1);
          if (runtime::ThreadID() != real) wrong.fetch_add(1);
          if (runtime::GoID() != id) wrong.fetch_add(1);
          if (after != before) migrations.fetch_add(1);
          before = after;
        }
        done.fetch_add(1);
      });
    }
    YieldUntil([&] { return done.load() == kFibers; });
  });
  EXPECT_EQ(wrong.load(), 0);
  // With 2 or 4 Ps on this machine's 2 CPUs migrations are plentiful and
  // required; with 8 Ps each fiber mostly keeps its own M (an idle P is
  // always free when it leaves a blocking call), so the values of whatever
  // migrations happen are checked but none is required.
  if (GetParam() == 2 || GetParam() == 4) {
    EXPECT_GT(migrations.load(), 0) << "no migration happened: the test proved nothing";
  }
}

}  // namespace
}  // namespace gort
