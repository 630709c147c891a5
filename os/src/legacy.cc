// The pre-fix algorithm (Go before CL 6545051, os/exec_plan9.go): fork on
// whatever thread the fiber is on, and wait by looping on Await on whatever
// thread it is on then, dropping every other pid's message. Kept literally,
// so that tests and the demo can show the race under the same load where the
// fix holds. Nothing here touches the wait map or locks a thread.
#include "gort/os.h"
#include "process_state.h"

namespace gort::os::legacy {

absl::StatusOr<Process> StartProcess(const std::string& name, const std::vector<std::string>& argv,
                                     const ProcAttr& attr) {
  int pidfd = -1;
  absl::StatusOr<pid_t> pid = syscall::ForkExecPidfd(name, argv, internal::ToSysAttr(attr), &pidfd);
  if (!pid.ok()) return pid.status();
  auto s = std::make_shared<internal::ProcessAccess::State>();
  s->pid = *pid;
  s->pidfd = pidfd;  // Signal goes through it: the pid may be reaped by another fiber's Wait
  s->legacy = true;
  return internal::ProcessAccess::Make(std::move(s));
}

absl::StatusOr<ProcessState> Wait(Process& p, int* dropped) {
  const auto& s = internal::ProcessAccess::StateOf(p);
  if (s->status.load(std::memory_order_acquire) == kReleased) {
    return absl::InvalidArgumentError("os: process already released");
  }
  for (;;) {
    syscall::Waitmsg w;
    absl::Status st = syscall::Await(&w);
    if (!st.ok()) return st;  // e.g. "wait: no child processes": we migrated
    if (w.pid == s->pid) {
      int expected = kRunning;
      s->status.compare_exchange_strong(expected, kDone, std::memory_order_acq_rel);
      return ProcessState(std::move(w));
    }
    // Another fiber's child: its status is lost.
    if (dropped != nullptr) (*dropped)++;
  }
}

absl::StatusOr<ProcessState> Wait(Process& p) { return Wait(p, nullptr); }

}  // namespace gort::os::legacy
