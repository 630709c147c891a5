// Private to gort::syscall.
#ifndef GORT_SYSCALL_SRC_FORKEXEC_H_
#define GORT_SYSCALL_SRC_FORKEXEC_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gort/syscall.h"

namespace gort::syscall::internal {

// errno as Go prints it: the C library's text with a lowercase first letter
// ("no such file or directory").
std::string ErrnoText(int err);

// Fork times of ForkExec's children, so that Await's Waitmsg can report the
// real time from fork to reaping. A record lives while its pid is a child of
// this process: Await forgets the pid it reaps, and records of children
// reaped elsewhere are pruned (await.cc says how and when).
void RecordStart(pid_t pid);
absl::Duration TakeElapsed(pid_t pid);  // zero if unknown; forgets the pid
int ForkTimesRecorded();                // records held now, stale ones included (no prune)
inline constexpr std::size_t kForkTimesPruneMin = 64;  // no prune below this many
int ForkTimesPending();  // records of pids still our children (prunes first)

// How a call that blocks its thread treats the calling fiber's P.
enum class Bracket {
  kOwn,       // the call enters and leaves a system-call bracket itself
  kCallerIn,  // the caller is already inside one (it holds no P)
};

// ForkExec without the fork-time record (the caller keeps its own), with a
// pidfd in *pidfd when pidfd is not null.
absl::StatusOr<pid_t> ForkExecChild(const std::string& argv0, const std::vector<std::string>& argv,
                                    const gort::syscall::ProcAttr& attr, int* pidfd,
                                    Bracket bracket = Bracket::kOwn);

// Waits for the one child `pid` of the calling OS thread (pidfd names it),
// parking the fiber's P meanwhile. Returns with *stopped set, and no status,
// if the runtime began shutting down first (the child still runs).
absl::Status AwaitChild(pid_t pid, int pidfd, gort::syscall::Waitmsg* w, bool* stopped,
                        Bracket bracket = Bracket::kOwn);

// A child cloned without waiting for its exec (CLONE_VM without
// CLONE_VFORK): the reaper's way, so that one thread has any number of
// children between clone and exec instead of sleeping through each exec.
// StartExecChild clones (no bracket of its own: the caller holds no P, or
// accepts a short block); PendingExecFd becomes readable once the exec's
// verdict is in, and FinishExecChild then takes it: the pid (and its pidfd
// in *pidfd), or the child's error (the child reaped on this thread). A
// PendingExecPtr dropped unfinished waits for the verdict, then reaps a
// child that failed; one that exec'd is the dropper's to reap.
struct PendingExec;
struct PendingExecDeleter {
  void operator()(PendingExec* p) const;
};
using PendingExecPtr = std::unique_ptr<PendingExec, PendingExecDeleter>;
absl::StatusOr<PendingExecPtr> StartExecChild(const std::string& argv0,
                                              const std::vector<std::string>& argv,
                                              const gort::syscall::ProcAttr& attr);
int PendingExecFd(const PendingExec& p);
pid_t PendingExecPid(const PendingExec& p);
absl::StatusOr<pid_t> FinishExecChild(PendingExecPtr p, int* pidfd);

// Reaps `pid`, a child of the calling OS thread, if it has exited (wait4
// with WNOHANG and __WNOTHREAD): *reaped says whether it was, and *w then
// has its status. An error if it can no longer be reaped (someone else
// reaped it: the host's SIGCHLD settings or code, said plainly).
absl::Status ReapIfExited(pid_t pid, gort::syscall::Waitmsg* w, bool* reaped);

// Hands a child that nobody will wait for any more (its waiter stopped at
// shutdown) to the orphan reaper: a plain thread, outside the runtime, that
// reaps it when it exits so that no zombie is left, and discards its status.
// Takes ownership of pidfd. The reaper thread exists only while it has
// children to reap.
void Orphan(pid_t pid, int pidfd);
int OrphansPending();  // children handed to the reaper and not reaped yet

}  // namespace gort::syscall::internal

#endif  // GORT_SYSCALL_SRC_FORKEXEC_H_
