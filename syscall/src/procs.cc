// StartProcess / WaitProcess: Go's fix for the fork-exec/wait race
// (golang CL 6545051, syscall/exec_plan9.go: startProcess, WaitProcess),
// on gort's fibers. See gort/syscall.h for the protocol and its guarantees.
//
// One Child::Rep per started child, shared by its waiter fiber, the wait
// map (pid -> Rep, until the status is claimed) and the caller's Child
// handles. It owns the child's pidfd, so the child can be signalled safely
// for as long as anyone can name it.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "forkexec.h"
#include "gort/chan.h"
#include "gort/internal/runtime_support.h"
#include "gort/runtime.h"
#include "gort/syscall.h"

namespace gort::syscall {
namespace {

struct WaitErr {  // Go: waitErr
  Waitmsg msg;
  absl::Status err;
};
using WaitChan = Chan<std::shared_ptr<WaitErr>>;

// A copy of s that shares no refcounted representation with it. Statuses
// cross from the waiter fiber to the caller; absl::Status refcounts its
// payload with atomics inside libabsl, which a TSan build cannot see when
// libabsl is not instrumented (Debian's is not), so the hand-over is done
// with an independent copy.
absl::Status Detached(const absl::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(s.code(), std::string(s.message()));
}

}  // namespace

struct Child::Rep {
  pid_t pid = 0;
  int pidfd = -1;      // owned; closed with the last reference
  absl::Time started;  // fork time, for Waitmsg::real
  WaitChan waitc{1};   // the waiter sends the status once, then closes
  ~Rep() {
    if (pidfd >= 0) close(pidfd);
  }
};

namespace {

// The wait map. Go: procs. A plain mutex: held only for a map operation,
// never across anything that parks.
struct Procs {
  std::mutex mu;
  absl::flat_hash_map<pid_t, std::shared_ptr<Child::Rep>> waits;
};
Procs& procs() {
  static auto* p = new Procs;
  return *p;
}

// Erases pid's entry if it is still rep's (the pid may name a later child).
void Unmap(const std::shared_ptr<Child::Rep>& rep) {
  runtime::internal::SchedulePoint();
  std::lock_guard<std::mutex> l(procs().mu);
  auto it = procs().waits.find(rep->pid);
  if (it != procs().waits.end() && it->second == rep) procs().waits.erase(it);
}

struct ForkRet {
  std::shared_ptr<Child::Rep> rep;
  absl::Status err;
};

// Locked waiters in flight: each holds an OS thread for its child's life.
std::atomic<int> waiters{0};

// Takes a waiter slot if the thread budget has room for one more locked
// waiter beside everything else the runtime may need at the same moment; a
// slot taken is given back by the waiter. Admission is by CAS on the count,
// so concurrent StartProcess calls near the limit cannot all slip through.
//
// The budget. Each waiter holds its own (locked) M. The other Ms: at most
// one per P running or about to run (StartM always hands a P), plus, for
// each P, one M that has just given that P up and is on its way to the idle
// list (StartM cannot reuse it yet and makes a new one): 2 * procs. Then
// sysmon, the template thread and one spare. Counting only procs Ms (as
// before) let a burst of spawns at 2 or 4 Ps push the runtime past
// max_threads: "fatal error: thread exhaustion".
bool ReserveWaiter() {
  const int limit = runtime::internal::ThreadLimit();
  const int base = 2 * runtime::GOMAXPROCS(0) + 3;
  int w = waiters.load(std::memory_order_relaxed);
  do {
    if (w + 1 + base > limit || runtime::internal::ThreadsInUse() + 2 > limit) return false;
  } while (!waiters.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel));
  return true;
}

// The waiter: the fiber that forks the child and waits for it on one OS
// thread. Go: startProcess's goroutine.
void Waiter(Chan<ForkRet> forkc, std::string argv0, std::vector<std::string> argv, ProcAttr attr) {
  // Fork and wait on one OS thread: only it may wait for the child.
  runtime::LockOSThread();
  struct Leave {
    ~Leave() {
      // The child is reaped (or was never born): the thread has no more
      // reason to stay ours. It goes back to the idle pool (Go's goroutine
      // exits locked, ending it).
      runtime::UnlockOSThread();
      waiters.fetch_sub(1, std::memory_order_relaxed);
    }
  } leave;
  auto rep = std::make_shared<Child::Rep>();
  absl::StatusOr<pid_t> r = internal::ForkExecChild(argv0, argv, attr, &rep->pidfd);
  if (!r.ok()) {  // nothing to wait for, nothing registered
    forkc.Send(ForkRet{nullptr, Detached(r.status())});
    return;
  }
  rep->pid = *r;
  rep->started = absl::Now();
  {
    std::lock_guard<std::mutex> l(procs().mu);
    // A reused pid's stale entry (its child was reaped, its status never
    // claimed) is displaced: that status stays with its Child handles.
    procs().waits[rep->pid] = rep;
  }
  runtime::internal::SchedulePoint();
  // Only now report the child: a Wait issued right after StartProcess
  // returns always finds the entry.
  forkc.Send(ForkRet{rep, absl::OkStatus()});

  auto w = std::make_shared<WaitErr>();
  bool stopped = false;
  w->err = Detached(internal::AwaitChild(rep->pid, rep->pidfd, &w->msg, &stopped));
  if (stopped) {
    // Run is returning and nobody waits for this child: leave it running
    // and let the orphan reaper collect it. Its entry goes; a holder of its
    // Child handle learns why.
    int fd = fcntl(rep->pidfd, F_DUPFD_CLOEXEC, 3);
    if (fd >= 0) {
      internal::Orphan(rep->pid, fd);
    } else {
      // No descriptor to spare: the reaper can still wait by pid (the child
      // is unreaped, so its pid cannot have been reused).
      internal::Orphan(rep->pid, -1);
    }
    w->err = absl::FailedPreconditionError(
        absl::StrCat("wait: the runtime stopped while process ", rep->pid,
                     " was running; it was left running and is reaped in the background"));
    Unmap(rep);
  } else if (w->err.ok()) {
    w->msg.real = absl::Now() - rep->started;
  }
  rep->waitc.Send(w);
  rep->waitc.Close();
}

}  // namespace

pid_t Child::Pid() const { return rep_ != nullptr ? rep_->pid : 0; }

absl::Status Child::Wait(Waitmsg* w) {
  if (rep_ == nullptr) return absl::NotFoundError("wait: process not found");
  std::optional<std::shared_ptr<WaitErr>> v = rep_->waitc.Recv();
  Unmap(rep_);
  if (!v.has_value()) {
    // Already claimed: the channel was drained and closed by another Wait.
    return absl::NotFoundError("wait: process not found");
  }
  const std::shared_ptr<WaitErr>& msg = *v;
  if (!msg->err.ok()) return Detached(msg->err);
  if (w != nullptr) *w = msg->msg;
  return absl::OkStatus();
}

absl::Status Child::Signal(int sig) const {
  if (rep_ == nullptr) return absl::NotFoundError("kill: no such process");
  return SignalPidfd(rep_->pidfd, sig);
}

absl::StatusOr<Child> StartChild(const std::string& argv0, const std::vector<std::string>& argv,
                                 const ProcAttr& attr) {
  // Each running child needs its waiter's thread. Refuse, rather than abort
  // at the thread limit.
  if (!ReserveWaiter()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "fork/exec ", argv0, ": thread limit reached (", runtime::internal::ThreadLimit(),
        " threads; each running child holds one until it is waited for)"));
  }
  Chan<ForkRet> forkc(1);
  try {
    runtime::Go([forkc, argv0, argv, attr] { Waiter(forkc, argv0, argv, attr); });
  } catch (...) {
    waiters.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  std::optional<ForkRet> ret = forkc.Recv();
  if (!ret->err.ok()) return Detached(ret->err);
  return Child(std::move(ret->rep));
}

absl::StatusOr<pid_t> StartProcess(const std::string& argv0, const std::vector<std::string>& argv,
                                   const ProcAttr& attr) {
  absl::StatusOr<Child> c = StartChild(argv0, argv, attr);
  if (!c.ok()) return c.status();
  return c->Pid();
}

namespace {
// The wait map's entry for pid, or null.
std::shared_ptr<Child::Rep> Find(pid_t pid) {
  std::lock_guard<std::mutex> l(procs().mu);
  auto it = procs().waits.find(pid);
  return it != procs().waits.end() ? it->second : nullptr;
}
}  // namespace

absl::Status WaitProcess(pid_t pid, Waitmsg* w) {
  runtime::internal::SchedulePoint();
  std::shared_ptr<Child::Rep> rep = Find(pid);
  // No entry: never started here, or already waited.
  if (rep == nullptr) return absl::NotFoundError("wait: process not found");
  return Child(std::move(rep)).Wait(w);
}

absl::Status Kill(pid_t pid, int sig) {
  std::shared_ptr<Child::Rep> rep = Find(pid);
  // A child of the wait map is signalled through its pidfd: once it has been
  // reaped this is ESRCH, never a signal to a process that reuses the pid.
  if (rep != nullptr) return Child(std::move(rep)).Signal(sig);
  if (kill(pid, sig) == 0) return absl::OkStatus();
  int err = errno;
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat("kill: ", internal::ErrnoText(err)));
}

int OrphanedProcesses() { return internal::OrphansPending(); }

int PendingProcesses() {
  std::lock_guard<std::mutex> l(procs().mu);
  return static_cast<int>(procs().waits.size());
}

}  // namespace gort::syscall
