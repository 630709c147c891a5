// gort/syscall.h: starting and waiting for child processes, with Go's fix for
// the fork-exec/wait race (golang CL 6545051).
//
// The race. Only the OS thread that forked a child may wait for it here, as
// on Plan 9: Await is wait4(-1, ..., __WNOTHREAD), which sees the children of
// the calling thread only. A fiber that forks on thread A and is resumed on
// thread B before it waits gets "no child processes", or reaps another
// fiber's child, whose status is then lost. ForkExec + Await on a migrating
// fiber is exactly that pre-fix algorithm (os::legacy keeps it to show it).
//
// The fix. StartProcess starts a fiber that locks its OS thread, forks and
// execs there, records pid -> channel in the wait map *before* it reports the
// pid, then waits on that same thread (inside a system-call bracket, so its P
// serves other fibers) and delivers the Waitmsg once on the pid's channel.
// WaitProcess looks the channel up under the map's lock, receives outside it,
// and deletes the entry only if the map still holds that channel. So:
//   * a Wait right after StartProcess always finds the entry;
//   * exactly one Wait gets the message: a second or concurrent one gets
//     "wait: process not found", as does a pid never started here;
//   * nothing is lost, whatever threads the callers run on.
// The price, as in Go: each *running* child holds one OS thread (its waiter).
// Once the child is reaped the waiter unlocks, so its thread goes back to the
// idle pool instead of being destroyed. StartProcess returns
// ResourceExhausted instead of going past Options::max_threads.
//
// Gort waits for exactly its own child: the waiter polls the child's pidfd
// and reaps that pid only (wait4(pid, __WNOTHREAD)), so children that other
// code forked on the same thread (a VM's popen) are never taken. Await, the
// pre-fix any-child wait, is kept for os::legacy, where the race is the point.
//
// When Run returns. A child still running when runtime::Run returns is not
// waited for (Go's rule: returning never waits for children nobody waits
// for) and is not killed: it keeps running, its wait-map entry goes, and a
// background reaper thread collects its status when it exits, so it never
// stays a zombie (OrphanedProcesses counts those not yet reaped). A Child
// handle or os::Process kept past Run gets FailedPrecondition ("... was left
// running and is reaped in the background"). A later Run starts and waits
// for children as usual.
//
// Hostile hosts. If the host sets SIGCHLD to SIG_IGN or SA_NOCLDWAIT (the
// kernel then discards exit statuses), or reaps children itself (a
// waitpid(-1) loop or a SIGCHLD handler that reaps), Wait returns
// FailedPrecondition naming what happened, never a wrong status and never a
// hang; the wait-map entry is removed. A SIGCHLD handler that does not reap
// is harmless (interrupted calls are retried).
//
// ForkExec itself is Linux's vfork-style path: argv/envp/fd plan prepared
// first, all signals blocked around clone(CLONE_VM|CLONE_VFORK), only raw
// system calls in the child (dispositions reset, fds shuffled, exec), and
// exec failures reported through an O_CLOEXEC status pipe; a child whose exec
// failed is reaped at once. Errors read like Go's:
// "fork/exec /no/such: no such file or directory".
#ifndef GORT_SYSCALL_H_
#define GORT_SYSCALL_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gort::syscall {

struct SysProcAttr {
  bool setsid = false;
  bool setpgid = false;
  int pgid = 0;
  int pdeathsig = 0;  // signal sent to the child when the OS thread that forked it exits
};

struct ProcAttr {
  std::string dir;               // "" : inherit
  std::vector<std::string> env;  // "KEY=VALUE"; empty: empty environment
  std::vector<int> files;        // child fd i becomes files[i]; -1: closed; empty: {0,1,2}
  SysProcAttr sys;
};

struct Waitmsg {  // what one child's exit left behind
  pid_t pid = 0;
  int status = 0;  // raw wait status
  absl::Duration user, sys, real;  // real: from fork to reaping
  std::string msg;  // "" on exit 0, else e.g. "exit status 3", "signal: killed"
  bool Exited() const;
  int ExitStatus() const;  // -1 unless Exited()
  bool Signaled() const;
  int Signal() const;  // -1 unless Signaled()
};

// Go's description of a wait status: "exit status 3", "signal: killed",
// "signal: segmentation fault (core dumped)", ...; "" for "exit status 0"
// when empty_for_success.
std::string DescribeStatus(int status, bool empty_for_success);
// Go's name for a signal: "killed", "terminated", "interrupt", ...
std::string SignalName(int sig);

absl::StatusOr<pid_t> ForkExec(const std::string& argv0, const std::vector<std::string>& argv,
                               const ProcAttr& attr);
absl::Status Await(Waitmsg* w);  // reap any child OF THE CALLING OS THREAD
absl::StatusOr<pid_t> StartProcess(const std::string& argv0, const std::vector<std::string>& argv,
                                   const ProcAttr& attr);
absl::Status WaitProcess(pid_t pid, Waitmsg* w);  // w may be null
absl::Status Kill(pid_t pid, int sig);

// Entries in the wait map now: started children not yet waited for.
int PendingProcesses();

// Children that were still running when runtime::Run returned, and have not
// exited (and been reaped in the background) since. See "When Run returns"
// above.
int OrphanedProcesses();

// ForkExec that also returns a pidfd for the child in *pidfd (CLOEXEC, the
// caller closes it): a descriptor that names this child and no other, even
// after its pid has been reaped and reused. Signal through it with
// SignalPidfd.
absl::StatusOr<pid_t> ForkExecPidfd(const std::string& argv0, const std::vector<std::string>& argv,
                                    const ProcAttr& attr, int* pidfd);
// pidfd_send_signal: "kill: no such process" (kNotFound) once the child has
// exited, never a signal to whatever process reuses its pid.
absl::Status SignalPidfd(int pidfd, int sig);

// A child started by StartChild, as its starter holds it: a handle (copies
// share it) that names exactly one child. Unlike a pid it cannot be confused
// with a later child that reuses the pid while this one's status still sits
// unclaimed in the wait map, and Signal goes through the child's pidfd, so a
// reaped child's recycled pid is never signalled.
class Child {
 public:
  Child() = default;  // names no child: Wait and Signal fail
  pid_t Pid() const;
  // Receives the exit status once, as WaitProcess(Pid()) would; a second
  // call (or a concurrent one that lost) is "wait: process not found".
  absl::Status Wait(Waitmsg* w);
  // "kill: no such process" (kNotFound) once the child has exited, whether
  // or not it has been waited for.
  absl::Status Signal(int sig) const;
  explicit operator bool() const { return rep_ != nullptr; }

  struct Rep;  // syscall/src/procs.cc

 private:
  friend absl::StatusOr<Child> StartChild(const std::string&, const std::vector<std::string>&,
                                          const ProcAttr&);
  friend absl::Status WaitProcess(pid_t pid, Waitmsg* w);
  friend absl::Status Kill(pid_t pid, int sig);
  explicit Child(std::shared_ptr<Rep> rep) : rep_(std::move(rep)) {}
  std::shared_ptr<Rep> rep_;
};

// StartProcess, returning the child's handle. StartProcess(...) is
// StartChild(...)->Pid(). The wait map is keyed by pid: when a pid is
// reused by a later child while an earlier child with that pid was never
// waited for, the map (and so WaitProcess and Kill by pid) names the later
// child from then on; the earlier one's status stays with its Child handles.
absl::StatusOr<Child> StartChild(const std::string& argv0, const std::vector<std::string>& argv,
                                 const ProcAttr& attr);

}  // namespace gort::syscall

#endif  // GORT_SYSCALL_H_
