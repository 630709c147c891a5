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
// system calls in the child (caught signals, and an ignored SIGPIPE or
// SIGXFSZ, back to their default action; fds shuffled; exec), and
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

// What the child does to itself between fork and exec (Go: SysProcAttr).
// A step that fails makes ForkExec fail with "fork/exec <argv0>: <step>: ...".
struct SysProcAttr {
  bool setsid = false;   // start a new session (setsid())
  bool setpgid = false;  // join process group pgid (setpgid(0, pgid))
  int pgid = 0;          // with setpgid: 0 makes the child lead a new group
  int pdeathsig = 0;     // signal sent to the child when the OS thread that forked it exits
};

// How to start a child (Go: syscall.ProcAttr).
struct ProcAttr {
  std::string dir;               // "" : inherit
  std::vector<std::string> env;  // "KEY=VALUE"; empty: empty environment
  std::vector<int> files;        // child fd i becomes files[i]; -1: closed; empty: {0,1,2}
  SysProcAttr sys;
};

struct Waitmsg {  // what one child's exit left behind
  pid_t pid = 0;
  int status = 0;                  // raw wait status
  absl::Duration user, sys, real;  // CPU times from rusage; real: from fork to reaping
  std::string msg;                 // "" on exit 0, else e.g. "exit status 3", "signal: killed"
  bool Exited() const;             // the child called exit (WIFEXITED)
  int ExitStatus() const;          // its exit code; -1 unless Exited()
  bool Signaled() const;           // a signal ended it (WIFSIGNALED)
  int Signal() const;              // that signal; -1 unless Signaled()
};

// Go's description of a wait status: "exit status 3", "signal: killed",
// "signal: segmentation fault (core dumped)", ...; "" for "exit status 0"
// when empty_for_success.
std::string DescribeStatus(int status, bool empty_for_success);
// Go's name for a signal: "killed", "terminated", "interrupt", ...
std::string SignalName(int sig);

// Forks a child of the calling OS thread, whatever thread that is, and
// execs argv0 (no PATH search) with argv (argv[0] included) and attr.
// Returns the child's pid once the exec has succeeded; an exec that failed
// is reaped at once and returned as "fork/exec <argv0>: <error>". The child
// must be reaped on the same thread (Await), so a migrating fiber should not
// use this: see StartProcess.
absl::StatusOr<pid_t> ForkExec(const std::string& argv0, const std::vector<std::string>& argv,
                               const ProcAttr& attr);
// Reaps any child OF THE CALLING OS THREAD, blocking until one exits (the P
// is handed off meanwhile), and fills *w. "wait: no child processes"
// (FailedPrecondition) if the thread has none, e.g. after a migration.
absl::Status Await(Waitmsg* w);
// Go's fix: starts a waiter fiber locked to an OS thread, which forks and
// execs there, enters the child in the wait map, and later reaps it there.
// Returns the pid once the entry exists; errors as ForkExec, or
// ResourceExhausted at the thread budget. Needs runtime::Run to be active
// (else gort::Panic, from runtime::Go).
absl::StatusOr<pid_t> StartProcess(const std::string& argv0, const std::vector<std::string>& argv,
                                   const ProcAttr& attr);
// Blocks (parking the fiber) until the child StartProcess started as pid
// has been reaped, and fills *w (w may be null). Exactly one call gets the
// status; a pid not in the wait map (never started, or already waited) is
// "wait: process not found" (NotFound); the waiter's own failures (the child
// reaped by other code, the runtime stopped) are FailedPrecondition, as
// listed in docs/syscall.md.
absl::Status WaitProcess(pid_t pid, Waitmsg* w);
// Sends sig to pid: through the child's pidfd if pid is in the wait map (so
// a reaped child's reused pid is never signalled), else kill(2). Errors:
// "kill: <error>", e.g. "kill: no such process" (NotFound).
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
  pid_t Pid() const;  // the child's pid; 0 for a Child that names none
  // Blocks until the child is reaped and receives its status once, as
  // WaitProcess(Pid()) would; a second call (or a concurrent one that lost)
  // is "wait: process not found".
  absl::Status Wait(Waitmsg* w);
  // Sends sig through the child's pidfd. "kill: no such process"
  // (kNotFound) once the child has exited, whether or not it has been
  // waited for.
  absl::Status Signal(int sig) const;
  explicit operator bool() const { return rep_ != nullptr; }  // names a child

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
