// StartProcess / WaitProcess: Go's fix for the fork-exec/wait race
// (golang CL 6545051, syscall/exec_plan9.go: startProcess, WaitProcess),
// on gort's fibers. See gort/syscall.h for the protocol and its guarantees.
#include <memory>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gort/chan.h"
#include "gort/runtime.h"
#include "gort/syscall.h"

namespace gort::runtime::internal {
// The thread budget (proc.cc): the live runtime threads and the limit.
int ThreadsInUse();
int ThreadLimit();
}  // namespace gort::runtime::internal

namespace gort::syscall {
namespace {

struct WaitErr {  // Go: waitErr
  Waitmsg msg;
  absl::Status err;
};
using WaitChan = Chan<std::shared_ptr<WaitErr>>;

// The wait map. Go: procs. A plain mutex: held only for a map operation,
// never across anything that parks.
struct Procs {
  std::mutex mu;
  absl::flat_hash_map<pid_t, WaitChan> waits;
};
Procs& procs() {
  static auto* p = new Procs;
  return *p;
}

struct ForkRet {
  pid_t pid = 0;
  absl::Status err;
};

// Locked waiters in flight: each holds an OS thread for its child's life.
std::atomic<int> waiters{0};

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

absl::StatusOr<pid_t> StartProcess(const std::string& argv0, const std::vector<std::string>& argv,
                                   const ProcAttr& attr) {
  // Each running child needs its waiter's thread, plus a thread to keep the
  // other fibers going while that one blocks. Refuse, rather than abort at
  // the thread limit.
  if (runtime::internal::ThreadsInUse() + 2 > runtime::internal::ThreadLimit()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "fork/exec ", argv0, ": thread limit reached (", runtime::internal::ThreadLimit(),
        " threads; each running child holds one until it is waited for)"));
  }
  Chan<ForkRet> forkc(1);
  waiters.fetch_add(1, std::memory_order_relaxed);
  runtime::Go([forkc, argv0, argv, attr] {
    // Fork and wait on one OS thread: only it may wait for the child.
    runtime::LockOSThread();
    absl::StatusOr<pid_t> r = ForkExec(argv0, argv, attr);
    if (!r.ok()) {  // nothing to wait for, nothing registered
      forkc.Send(ForkRet{0, Detached(r.status())});
      runtime::UnlockOSThread();
      waiters.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    pid_t pid = *r;
    WaitChan waitc(1);
    {
      std::lock_guard<std::mutex> l(procs().mu);
      procs().waits[pid] = waitc;  // a reused pid's stale entry is replaced
    }
    // Only now report the pid: a Wait issued right after StartProcess
    // returns always finds the entry.
    forkc.Send(ForkRet{pid, absl::OkStatus()});

    auto w = std::make_shared<WaitErr>();
    for (int tries = 0;; tries++) {
      w->err = Detached(Await(&w->msg));
      // This thread has no other children, so another pid can only be a
      // stale one; the loop is bounded all the same.
      if (!w->err.ok() || w->msg.pid == pid || tries > 1000) break;
    }
    if (w->err.ok() && w->msg.pid != pid) w->err = absl::InternalError("wait: lost the child");
    waitc.Send(w);
    waitc.Close();
    // The child is reaped: the thread has no more reason to stay ours. It
    // goes back to the idle pool (Go's goroutine exits locked, ending it).
    runtime::UnlockOSThread();
    waiters.fetch_sub(1, std::memory_order_relaxed);
  });
  std::optional<ForkRet> ret = forkc.Recv();
  if (!ret->err.ok()) return Detached(ret->err);
  return ret->pid;
}

absl::Status WaitProcess(pid_t pid, Waitmsg* w) {
  WaitChan ch;
  {
    std::lock_guard<std::mutex> l(procs().mu);
    auto it = procs().waits.find(pid);
    if (it != procs().waits.end()) ch = it->second;
  }
  std::shared_ptr<WaitErr> msg;
  if (ch) {
    std::optional<std::shared_ptr<WaitErr>> v = ch.Recv();  // blocks outside the lock
    if (v.has_value()) msg = *v;
    std::lock_guard<std::mutex> l(procs().mu);
    auto it = procs().waits.find(pid);
    // Delete only our own entry: the pid may have been reused meanwhile.
    if (it != procs().waits.end() && it->second == ch) procs().waits.erase(it);
  }
  if (msg == nullptr) {
    // No entry (never started here, or already waited), or the channel was
    // already drained and closed by a concurrent Wait.
    return absl::NotFoundError("wait: process not found");
  }
  if (!msg->err.ok()) return Detached(msg->err);
  if (w != nullptr) *w = msg->msg;
  return absl::OkStatus();
}

int PendingProcesses() {
  std::lock_guard<std::mutex> l(procs().mu);
  return static_cast<int>(procs().waits.size());
}

}  // namespace gort::syscall
