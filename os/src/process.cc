// os.Process on the fixed syscall layer. Go: os/exec_plan9.go (wait via
// WaitProcess), os/exec.go (state transitions, ErrProcessDone).
#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "gort/os.h"
#include "gort/runtime.h"
#include "process_state.h"

extern char** environ;

namespace gort::os {

std::string ProcessState::String() const { return syscall::DescribeStatus(w_.status, false); }

pid_t Process::Pid() const { return s_->pid; }

absl::StatusOr<ProcessState> Process::Wait() {
  if (s_->legacy) return legacy::Wait(*this);
  if (s_->status.load(std::memory_order_acquire) == kReleased) {
    return absl::InvalidArgumentError("os: process already released");
  }
  syscall::Waitmsg w;
  absl::Status st = s_->child.Wait(&w);
  if (!st.ok()) return st;  // "wait: process not found", "wait: ..."
  int expected = kRunning;
  s_->status.compare_exchange_strong(expected, kDone, std::memory_order_acq_rel);
  return ProcessState(std::move(w));
}

absl::Status Process::Signal(int sig) {
  int st = s_->status.load(std::memory_order_acquire);
  if (st == kDone) return absl::FailedPreconditionError("os: process already finished");
  if (st == kReleased) return absl::InvalidArgumentError("os: process already released");
  // Through the child's pidfd: once it has exited (reaped or not) this is
  // ESRCH, never a signal to a process that reuses its pid.
  absl::Status s = s_->legacy ? (s_->pidfd >= 0 ? syscall::SignalPidfd(s_->pidfd, sig)
                                                : syscall::Kill(s_->pid, sig))
                              : s_->child.Signal(sig);
  if (s.code() == absl::StatusCode::kNotFound) {  // ESRCH
    return absl::FailedPreconditionError("os: process already finished");
  }
  return s;
}

absl::Status Process::Kill() { return Signal(SIGKILL); }

absl::Status Process::Release() {
  int expected = kRunning;
  if (!s_->status.compare_exchange_strong(expected, kReleased, std::memory_order_acq_rel)) {
    return absl::OkStatus();  // already done or released: nothing to do
  }
  if (!s_->legacy) {
    // Nobody will wait for it now: collect its status in the background so
    // that neither a zombie nor a wait-map entry stays behind.
    syscall::Child child = s_->child;
    runtime::Go([child]() mutable { (void)child.Wait(nullptr); });
  }
  return absl::OkStatus();
}

namespace {
syscall::ProcAttr ToSys(const ProcAttr& attr) {
  syscall::ProcAttr sa;
  sa.dir = attr.dir;
  sa.files = attr.files;
  sa.sys = attr.sys;
  if (attr.env.empty()) {
    for (char** e = environ; e != nullptr && *e != nullptr; e++) sa.env.emplace_back(*e);
  } else {
    sa.env = attr.env;
  }
  return sa;
}
}  // namespace

namespace internal {
syscall::ProcAttr ToSysAttr(const ProcAttr& attr) { return ToSys(attr); }
}  // namespace internal

absl::StatusOr<Process> StartProcess(const std::string& name, const std::vector<std::string>& argv,
                                     const ProcAttr& attr) {
  absl::StatusOr<syscall::Child> child = syscall::StartChild(name, argv, ToSys(attr));
  if (!child.ok()) return child.status();
  auto s = std::make_shared<internal::ProcessAccess::State>();
  s->pid = child->Pid();
  s->child = *std::move(child);
  return internal::ProcessAccess::Make(std::move(s));
}

}  // namespace gort::os
