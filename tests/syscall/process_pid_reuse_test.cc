// Pid reuse, forced: the kernel is made to give a new process the pid of a
// child that gort has reaped (through /proc/sys/kernel/ns_last_pid, root
// only). That changes what every process on the machine gets next, so these
// tests run alone (RUN_SERIAL in ctest): a concurrent test that waits by
// pid could otherwise see its pids recycled under it.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gort/os.h"
#include "gort/syscall.h"
#include "process_testing.h"

namespace gort {
namespace {

using syscall::Waitmsg;

using testing::kChild;

// Forces the kernel to hand out `pid` next (root only, through
// /proc/sys/kernel/ns_last_pid), then calls start(). False if this machine
// does not allow it or another process took the pid first.
template <class Start>
bool WithNextPid(pid_t pid, Start start) {
  int fd = open("/proc/sys/kernel/ns_last_pid", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  std::string v = std::to_string(pid - 1);
  bool ok = write(fd, v.data(), v.size()) == static_cast<ssize_t>(v.size());
  close(fd);
  return ok && start() == pid;
}

// Bug 6. Signalling a child after it was reaped never reaches the process
// that now has its pid.
TEST(ProcessPidReuse, SignalAfterReapSparesTheRecycledPid) {
  runtime::Run([] {
    bool tried = false;
    for (int attempt = 0; attempt < 20 && !tried; attempt++) {
      auto c = syscall::StartChild(kChild, {kChild}, {});
      ASSERT_TRUE(c.ok()) << c.status();
      auto osp = os::StartProcess(kChild, {kChild}, {});
      ASSERT_TRUE(osp.ok()) << osp.status();
      pid_t old_pid = c->Pid();
      ASSERT_TRUE(c->Wait(nullptr).ok());
      ASSERT_TRUE(osp->Wait().ok());
      pid_t bystander = -1;
      if (!WithNextPid(old_pid, [&] {
            bystander = fork();
            if (bystander == 0) {
              pause();
              _exit(0);
            }
            return bystander;
          })) {
        if (bystander > 0) {
          kill(bystander, SIGKILL);
          waitpid(bystander, nullptr, 0);
        }
        continue;
      }
      tried = true;
      absl::Status s = c->Signal(SIGKILL);
      EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
      EXPECT_EQ(s.message(), "kill: no such process");
      EXPECT_EQ(syscall::Kill(old_pid, 0).code(),
                absl::StatusCode::kOk);  // raw kill by pid: the bystander
      // os::Process after Wait: Go's "os: process already finished".
      EXPECT_EQ(osp->Kill().message(), "os: process already finished");
      char st = testing::ProcState(bystander);
      EXPECT_TRUE(st != 0 && st != 'Z') << "the bystander was signalled";
      kill(bystander, SIGKILL);
      waitpid(bystander, nullptr, 0);
    }
    if (!tried) GTEST_SKIP() << "cannot force pid reuse here (needs root and ns_last_pid)";
  });
}

// Bug 7. A pid reused while the earlier child's status is still unclaimed:
// each status reaches its own child's waiter, never the other's.
TEST(ProcessPidReuse, ReusedPidKeepsStatusesApart) {
  runtime::Run([] {
    bool tried = false;
    for (int attempt = 0; attempt < 20 && !tried; attempt++) {
      auto first = syscall::StartChild(kChild, {kChild, "exit", "11"}, {});
      ASSERT_TRUE(first.ok()) << first.status();
      pid_t pid = first->Pid();
      // Let it exit and be reaped by its waiter (its status sits unclaimed).
      while (first->Signal(0).ok()) runtime::Gosched();
      absl::StatusOr<syscall::Child> second;
      if (!WithNextPid(pid, [&]() -> pid_t {
            second = syscall::StartChild(kChild, {kChild, "exit", "22"}, {});
            return second.ok() ? second->Pid() : -1;
          })) {
        ASSERT_TRUE(first->Wait(nullptr).ok());
        if (second.ok()) ASSERT_TRUE(second->Wait(nullptr).ok());
        continue;
      }
      tried = true;
      EXPECT_EQ(syscall::PendingProcesses(), 1);  // the map names the later child
      Waitmsg w;
      ASSERT_TRUE(syscall::WaitProcess(pid, &w).ok());
      EXPECT_EQ(w.ExitStatus(), 22);
      ASSERT_TRUE(first->Wait(&w).ok());
      EXPECT_EQ(w.ExitStatus(), 11);
      EXPECT_EQ(second->Wait(&w).code(), absl::StatusCode::kNotFound);
    }
    if (!tried) GTEST_SKIP() << "cannot force pid reuse here (needs root and ns_last_pid)";
  });
  EXPECT_EQ(syscall::PendingProcesses(), 0);
}

}  // namespace
}  // namespace gort
