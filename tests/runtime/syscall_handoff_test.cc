// System-call brackets: a fiber blocked in a system call does not stop the
// others, even with one P, by the immediate hand-off (EnterSyscallBlock) and
// by sysmon retaking the P (EnterSyscall).
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>

#include "testing.h"

namespace gort {
namespace {

using runtime::Go;
using testing::ProcsTest;
using testing::YieldUntil;

class SyscallTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(SyscallTest);

// Reads one byte, waiting at most 20 s (a safety net against a hang, not a
// timing check: the writer only runs if the P was handed off).
int ReadWithinLimit(int fd) {
  struct pollfd pfd = {fd, POLLIN, 0};
  if (poll(&pfd, 1, 20000) != 1) return -1;
  char c;
  return read(fd, &c, 1) == 1 ? c : -1;
}

void BlockedReaderDoesNotStopWriter(bool immediate) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  std::atomic<int> got{0};
  std::atomic<bool> done{false};
  Go([&] {
    if (immediate) {
      runtime::BlockingSyscall bs;
      got = ReadWithinLimit(fds[0]);
    } else {
      runtime::EnterSyscall();
      got = ReadWithinLimit(fds[0]);
      runtime::ExitSyscall();
    }
    done = true;
  });
  // Let the reader start blocking, then write from this fiber, which can only
  // run if the P was handed off or retaken.
  runtime::Gosched();
  Go([&] {
    char c = 'x';
    ASSERT_EQ(write(fds[1], &c, 1), 1);
  });
  YieldUntil([&] { return done.load(); });
  EXPECT_EQ(got.load(), 'x');
  close(fds[0]);
  close(fds[1]);
}

TEST_P(SyscallTest, ImmediateHandoffKeepsOthersRunning) {
  RunFibers([] { BlockedReaderDoesNotStopWriter(true); });
}

TEST_P(SyscallTest, SysmonRetakesThePKeepsOthersRunning) {
  RunFibers([] { BlockedReaderDoesNotStopWriter(false); });
}

TEST_P(SyscallTest, ManyShortSyscalls) {
  std::atomic<int> done{0};
  RunFibers([&] {
    for (int i = 0; i < 64; i++) {
      Go([&] {
        for (int k = 0; k < 200; k++) {
          runtime::EnterSyscall();
          getppid();
          runtime::ExitSyscall();
          if (k % 16 == 0) {
            runtime::BlockingSyscall bs;
            usleep(1);
          }
        }
        done.fetch_add(1);
      });
    }
    YieldUntil([&] { return done.load() == 64; });
  });
}

TEST(SyscallApi, BracketsAreNoOpsOutsideFibers) {
  runtime::EnterSyscall();
  runtime::ExitSyscall();
  { runtime::BlockingSyscall bs; }
  SUCCEED();
}

}  // namespace
}  // namespace gort
