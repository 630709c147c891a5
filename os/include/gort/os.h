// gort/os.h: Go's os.Process and os.StartProcess on gort's fibers, with the
// fork-exec/wait race fixed (see gort/syscall.h), and os::legacy, the pre-fix
// algorithm, kept so that the race can be shown, measured and tested.
//
// A Process is a handle: copies share one process and its state. The state
// moves once from running to done (Wait returned) or released (Release), and
// the first transition wins. Wait delivers the exit status once; a second
// Wait is "wait: process not found" (as Go's Plan 9 port, which is not
// short-circuited). Signal after Wait is "os: process already finished",
// after Release "os: process already released". Release hands the child to a
// detached fiber that collects its status, so no zombie or wait-map entry is
// left behind.
//
// os::legacy::StartProcess forks on whatever thread the calling fiber is on
// (plain ForkExec, no lock), and os::legacy::Wait loops on syscall::Await on
// whatever thread it is on then, dropping other pids' messages: a fiber that
// migrated gets "wait: no child processes", or reaps other fibers' children
// whose statuses are lost. It shares no code path with the fix that could
// hide the difference.
#ifndef GORT_OS_H_
#define GORT_OS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gort/syscall.h"

namespace gort::os {

struct ProcAttr {
  std::string dir;
  std::vector<std::string> env;  // empty: inherit the parent's environment
  std::vector<int> files;        // as syscall::ProcAttr
  syscall::SysProcAttr sys;
};

class ProcessState {
 public:
  explicit ProcessState(syscall::Waitmsg w) : w_(std::move(w)) {}
  pid_t Pid() const { return w_.pid; }
  bool Exited() const { return w_.Exited(); }
  int ExitCode() const { return w_.Exited() ? w_.ExitStatus() : -1; }  // -1 if signaled
  bool Success() const { return w_.Exited() && w_.ExitStatus() == 0; }
  absl::Duration UserTime() const { return w_.user; }
  absl::Duration SystemTime() const { return w_.sys; }
  const syscall::Waitmsg& Sys() const { return w_; }
  std::string String() const;  // "exit status 3", "signal: killed"

 private:
  syscall::Waitmsg w_;
};

namespace internal {
struct ProcessAccess;  // os/src/process_state.h: how gort::os makes and reads Processes
}  // namespace internal

class Process {  // a handle; copies share one process
 public:
  pid_t Pid() const;
  absl::StatusOr<ProcessState> Wait();  // once; a second call: error
  absl::Status Signal(int sig);         // after Wait: "os: process already finished"
  absl::Status Kill();
  absl::Status Release();

 private:
  friend struct internal::ProcessAccess;
  struct State;  // shared by the copies (os/src/process_state.h)
  explicit Process(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

absl::StatusOr<Process> StartProcess(const std::string& name, const std::vector<std::string>& argv,
                                     const ProcAttr& attr);

namespace legacy {  // the pre-fix algorithm, kept to demonstrate the race
absl::StatusOr<Process> StartProcess(const std::string& name, const std::vector<std::string>& argv,
                                     const ProcAttr& attr);  // plain ForkExec, no lock
absl::StatusOr<ProcessState> Wait(Process& p);  // loop on syscall::Await, drop other pids
// The same; *dropped counts other children's statuses this call reaped and
// threw away (each one lost to the fiber that was waiting for it).
absl::StatusOr<ProcessState> Wait(Process& p, int* dropped);
}  // namespace legacy

}  // namespace gort::os

#endif  // GORT_OS_H_
