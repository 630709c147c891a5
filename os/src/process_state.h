// Private to gort::os: the state every copy of a Process shares, and the one
// door to it (ProcessAccess) for the code of gort::os outside Process's own
// members.
#ifndef GORT_OS_SRC_PROCESS_STATE_H_
#define GORT_OS_SRC_PROCESS_STATE_H_

#include <unistd.h>

#include <atomic>
#include <memory>
#include <utility>

#include "gort/os.h"

namespace gort::os {

enum : int { kRunning = 0, kDone = 1, kReleased = 2 };

struct Process::State {
  pid_t pid = 0;
  bool legacy = false;   // started by os::legacy::StartProcess
  syscall::Child child;  // the fix's handle (not legacy): waits and signals this child only
  int pidfd = -1;        // legacy: the child's pidfd (owned), for Signal
  std::atomic<int> status{kRunning};  // one transition, the first wins
  ~State() {
    if (pidfd >= 0) close(pidfd);
  }
};

namespace internal {
syscall::ProcAttr ToSysAttr(const ProcAttr& attr);

// Process keeps its state and raw constructor private; os::StartProcess and
// os::legacy build and read Processes through this friend.
struct ProcessAccess {
  using State = Process::State;
  static Process Make(std::shared_ptr<State> s) { return Process(std::move(s)); }
  static const std::shared_ptr<State>& StateOf(const Process& p) { return p.s_; }
};
}  // namespace internal

}  // namespace gort::os

#endif  // GORT_OS_SRC_PROCESS_STATE_H_
