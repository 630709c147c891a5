// Private to gort::os: the state every copy of a Process shares.
#ifndef GORT_OS_SRC_PROCESS_STATE_H_
#define GORT_OS_SRC_PROCESS_STATE_H_

#include <unistd.h>

#include <atomic>

#include "gort/os.h"

namespace gort::os {

enum : int { kRunning = 0, kDone = 1, kReleased = 2 };

struct Process::State {
  pid_t pid = 0;
  bool legacy = false;  // started by os::legacy::StartProcess
  syscall::Child child;  // the fix's handle (not legacy): waits and signals this child only
  int pidfd = -1;        // legacy: the child's pidfd (owned), for Signal
  std::atomic<int> status{kRunning};  // one transition, the first wins
  ~State() {
    if (pidfd >= 0) close(pidfd);
  }
};

namespace internal {
syscall::ProcAttr ToSysAttr(const ProcAttr& attr);
}  // namespace internal

}  // namespace gort::os

#endif  // GORT_OS_SRC_PROCESS_STATE_H_
