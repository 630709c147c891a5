// Await with Plan 9's thread affinity on Linux, and the Waitmsg helpers.
// Go: syscall.Await (Plan 9), syscall.WaitStatus and os.ProcessState.String
// (Linux).
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "forkexec.h"
#include "gort/internal/runtime_support.h"
#include "gort/runtime.h"
#include "gort/syscall.h"

namespace gort::syscall {
namespace internal {
namespace {

// Fork times of ForkExec's children, for Waitmsg::real. Await reaps whichever
// child of the thread exits first and learns its pid only from wait4, and
// ForkExec is the only place that sees the fork happen: so the time is
// recorded there, keyed by pid, and looked up (and forgotten) by the Await
// that reaps that pid. StartProcess's waiter keeps its own child's time in
// Child::Rep and records nothing here.
//
// A record must not outlive its child: a child reaped by anything but Await
// (os::legacy code that migrated and got ECHILD, a waitpid, a host's
// waitpid(-1) or SIGCHLD handler, SIG_IGN) used to stay here for ever, and,
// once its pid was reused by a child that other code forked, gave that
// child's Await a `real` counted from the wrong fork. So the records are
// pruned: one whose pid is no longer a child of this process
// (waitid(P_PID, WNOWAIT) says ECHILD; the check reaps nothing) is dropped.
// A prune runs when the map has doubled since the last one, so a fork costs
// amortized O(1) and the map never holds more than
// max(kForkTimesPruneMin, 2 * the children alive at the last prune) records.
// What pruning cannot see: a pid reaped elsewhere and reused by another of
// our children before the next prune (a ForkExec child overwrites the record;
// a child other code forked and Await reaps gets a too long `real`, as
// before).
//
// Rejected: letting the waiter carry the fork time, as StartProcess's does.
// Await has no waiter object to carry it (it reaps any child of the thread),
// and ForkExec + Await is public API whose `real` must keep working.
// Rejected too: the kernel's start time (/proc/PID/stat), in clock ticks,
// too coarse for `real` and gone once the child is reaped.
struct ForkTimes {
  // A leaf lock held for a map operation (and a prune's non-blocking
  // waitids), never across a switch. It guards both fields below.
  std::mutex mu;
  absl::flat_hash_map<pid_t, absl::Time> start;  // guarded by mu
  std::size_t prune_at = kForkTimesPruneMin;     // guarded by mu

  // Drops the records of pids that are no longer children of this process
  // (reaped by someone else). Not __WNOTHREAD: a child of any of our threads
  // counts, and a child of a thread that exited was re-parented to another.
  // Caller holds mu.
  void PruneLocked() {
    absl::erase_if(start, [](const auto& e) {
      siginfo_t info;
      int r;
      do {
        r = waitid(P_PID, static_cast<id_t>(e.first), &info, WEXITED | WNOHANG | WNOWAIT | __WALL);
      } while (r < 0 && errno == EINTR);
      return r < 0 && errno == ECHILD;
    });
    prune_at = std::max(kForkTimesPruneMin, 2 * start.size());
  }
};
ForkTimes& forktimes() {
  static auto* f = new ForkTimes;
  return *f;
}

// A reaped child's Waitmsg, but for `real` (the caller knows the start).
void FillWaitmsg(Waitmsg* w, pid_t pid, int status, const struct rusage& ru) {
  w->pid = pid;
  w->status = status;
  w->user = absl::DurationFromTimeval(ru.ru_utime);
  w->sys = absl::DurationFromTimeval(ru.ru_stime);
  w->msg = DescribeStatus(status, true);
}
}  // namespace

std::string ErrnoText(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z')) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

void RecordStart(pid_t pid) {
  ForkTimes& f = forktimes();
  std::lock_guard<std::mutex> l(f.mu);
  f.start[pid] = absl::Now();  // a reused pid's stale record is overwritten
  if (f.start.size() >= f.prune_at) f.PruneLocked();
}

absl::Duration TakeElapsed(pid_t pid) {
  ForkTimes& f = forktimes();
  std::lock_guard<std::mutex> l(f.mu);
  auto it = f.start.find(pid);
  if (it == f.start.end()) return absl::ZeroDuration();
  absl::Duration d = absl::Now() - it->second;
  f.start.erase(it);
  return d;
}

int ForkTimesRecorded() {
  ForkTimes& f = forktimes();
  std::lock_guard<std::mutex> l(f.mu);
  return static_cast<int>(f.start.size());
}

int ForkTimesPending() {
  ForkTimes& f = forktimes();
  std::lock_guard<std::mutex> l(f.mu);
  f.PruneLocked();
  return static_cast<int>(f.start.size());
}
}  // namespace internal

bool Waitmsg::Exited() const { return WIFEXITED(status); }
int Waitmsg::ExitStatus() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
bool Waitmsg::Signaled() const { return WIFSIGNALED(status); }
int Waitmsg::Signal() const { return WIFSIGNALED(status) ? WTERMSIG(status) : -1; }

std::string SignalName(int sig) {
  // Go's names (syscall/zerrors_linux_amd64.go).
  static const char* const kNames[] = {
      nullptr,
      "hangup",
      "interrupt",
      "quit",
      "illegal instruction",
      "trace/breakpoint trap",
      "aborted",
      "bus error",
      "floating point exception",
      "killed",
      "user defined signal 1",
      "segmentation fault",
      "user defined signal 2",
      "broken pipe",
      "alarm clock",
      "terminated",
      "stack fault",
      "child exited",
      "continued",
      "stopped (signal)",
      "stopped",
      "stopped (tty input)",
      "stopped (tty output)",
      "urgent I/O condition",
      "CPU time limit exceeded",
      "file size limit exceeded",
      "virtual timer expired",
      "profiling timer expired",
      "window changed",
      "I/O possible",
      "power failure",
      "bad system call",
  };
  if (sig > 0 && sig < static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) return kNames[sig];
  return absl::StrCat("signal ", sig);
}

std::string DescribeStatus(int status, bool empty_for_success) {
  std::string res;
  if (WIFEXITED(status)) {
    if (empty_for_success && WEXITSTATUS(status) == 0) return "";
    res = absl::StrCat("exit status ", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    res = "signal: " + SignalName(WTERMSIG(status));
  } else if (WIFSTOPPED(status)) {
    res = "stop signal: " + SignalName(WSTOPSIG(status));
  } else if (WIFCONTINUED(status)) {
    res = "continued";
  }
  if (WCOREDUMP(status)) res += " (core dumped)";
  return res;
}

// Reaps a child of the calling OS thread only (__WNOTHREAD): a thread that
// did not fork gets ECHILD, as a Plan 9 proc would. The P is handed off at
// once: this blocks until some child exits.
absl::Status Await(Waitmsg* w) {
  int status = 0;
  struct rusage ru;
  pid_t pid;
  int err = 0;
  {
    runtime::BlockingSyscall bs;
    do {
      pid = wait4(-1, &status, __WNOTHREAD, &ru);
    } while (pid < 0 && errno == EINTR);
    if (pid < 0) err = errno;
  }
  if (pid < 0) {
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat("wait: ", internal::ErrnoText(err)));
  }
  internal::FillWaitmsg(w, pid, status, ru);
  w->real = internal::TakeElapsed(pid);
  return absl::OkStatus();
}

namespace internal {
namespace {

// Why a child we forked and never reaped is not there to be reaped: the
// host's choices, said plainly.
absl::Status ChildTaken(pid_t pid) {
  struct sigaction sa;
  if (sigaction(SIGCHLD, nullptr, &sa) == 0 &&
      (sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT) != 0)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "wait: the exit status of process ", pid,
        " was discarded by the kernel: SIGCHLD is set to SIG_IGN or SA_NOCLDWAIT in this "
        "process: no child processes"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "wait: process ", pid,
      " was reaped by other code in this process (a waitpid(-1) or a SIGCHLD handler that "
      "reaps): no child processes"));
}

}  // namespace

absl::Status ReapIfExited(pid_t pid, Waitmsg* w, bool* reaped) {
  *reaped = false;
  int status = 0;
  struct rusage ru;
  pid_t r;
  do {
    r = wait4(pid, &status, WNOHANG | __WALL | __WNOTHREAD, &ru);
  } while (r < 0 && errno == EINTR);
  if (r == pid) {
    FillWaitmsg(w, pid, status, ru);
    *reaped = true;
    return absl::OkStatus();
  }
  if (r < 0) {
    if (errno == ECHILD) return ChildTaken(pid);
    int err = errno;
    return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat("wait: ", ErrnoText(err)));
  }
  return absl::OkStatus();  // not exited yet
}

// Go's fix waits in Await (any child of the thread); gort's waiter waits
// for its own pid only, so a child that other code forked on the same
// thread (a VM's popen) is never taken. The wait is a poll on the child's
// pidfd and on the runtime's shutdown descriptor, then a non-blocking wait4
// on this thread (__WNOTHREAD keeps Plan 9's rule: only the forking thread
// reaps).
absl::Status AwaitChild(pid_t pid, int pidfd, Waitmsg* w, bool* stopped, Bracket bracket) {
  *stopped = false;
  for (;;) {
    struct pollfd fds[2] = {{pidfd, POLLIN, 0}, {runtime::internal::ShutdownEventFd(), POLLIN, 0}};
    int n;
    int err = 0;
    {
      std::optional<runtime::BlockingSyscall> bs;
      if (bracket == Bracket::kOwn) bs.emplace();
      do {
        n = poll(fds, fds[1].fd >= 0 ? 2 : 1, -1);
      } while (n < 0 && errno == EINTR);
      if (n < 0) err = errno;
    }
    if (n < 0) {
      return absl::Status(absl::ErrnoToStatusCode(err),
                          absl::StrCat("wait: poll: ", ErrnoText(err)));
    }
    if (fds[0].revents != 0) {
      bool reaped = false;
      absl::Status st = ReapIfExited(pid, w, &reaped);
      if (!st.ok() || reaped) return st;
      // Readable but not yet reapable: poll again.
    }
    if (fds[0].revents == 0 && n > 0 && fds[1].revents != 0) {
      *stopped = true;
      return absl::OkStatus();
    }
  }
}

namespace {

// The orphan reaper. Go has none: a Go program that returns from main takes
// its children's waiters with it. An embedded runtime's Run returns while
// the process goes on, so someone must still reap what it left running.
struct Orphans {
  std::mutex mu;
  std::vector<std::pair<pid_t, int>> pending;  // pid, pidfd (owned)
  bool running = false;                        // a reaper thread exists
  int wake = -1;                               // eventfd: a new orphan arrived
};
Orphans& orphans() {
  static auto* o = new Orphans;
  return *o;
}
std::atomic<int> fdless_orphans{0};  // each waited for by a thread of its own

void ReaperMain() {
  Orphans& o = orphans();
  std::vector<struct pollfd> fds;
  for (;;) {
    {
      std::lock_guard<std::mutex> l(o.mu);
      if (o.pending.empty()) {
        o.running = false;  // the next Orphan starts a new thread
        return;
      }
      fds.clear();
      fds.push_back({o.wake, POLLIN, 0});
      for (auto& [pid, fd] : o.pending) fds.push_back({fd, POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) continue;
    uint64_t v;
    if (fds[0].revents != 0) (void)!read(o.wake, &v, sizeof(v));
    std::lock_guard<std::mutex> l(o.mu);
    for (std::size_t i = 1; i < fds.size(); i++) {
      if (fds[i].revents == 0) continue;
      for (auto it = o.pending.begin(); it != o.pending.end(); ++it) {
        if (it->second != fds[i].fd) continue;
        // Not __WNOTHREAD: the thread that forked it has ended (or will);
        // any thread of the process may reap it now.
        siginfo_t info;
        int r;
        do {
          r = waitid(P_PID, static_cast<id_t>(it->first), &info, WEXITED | WNOHANG | __WALL);
        } while (r < 0 && errno == EINTR);
        bool gone = (r == 0 && info.si_pid == it->first) || (r < 0 && errno == ECHILD);
        if (gone) {
          close(it->second);
          o.pending.erase(it);
        }
        break;
      }
    }
  }
}

}  // namespace

void Orphan(pid_t pid, int pidfd) {
  if (pidfd < 0) {
    // No descriptor to poll (the process is out of them): a thread of its
    // own blocks in waitid for this one child.
    fdless_orphans.fetch_add(1, std::memory_order_relaxed);
    std::thread([pid] {
      siginfo_t info;
      while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | __WALL) < 0 && errno == EINTR) {
      }
      fdless_orphans.fetch_sub(1, std::memory_order_relaxed);
    }).detach();
    return;
  }
  Orphans& o = orphans();
  std::lock_guard<std::mutex> l(o.mu);
  if (o.wake < 0) o.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  o.pending.emplace_back(pid, pidfd);
  if (o.running) {
    uint64_t one = 1;
    (void)!write(o.wake, &one, sizeof(one));
    return;
  }
  o.running = true;
  std::thread(&ReaperMain).detach();
}

int OrphansPending() {
  std::lock_guard<std::mutex> l(orphans().mu);
  return static_cast<int>(orphans().pending.size()) +
         fdless_orphans.load(std::memory_order_relaxed);
}

}  // namespace internal

}  // namespace gort::syscall
