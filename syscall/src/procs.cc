// StartProcess / WaitProcess: Go's fix for the fork-exec/wait race
// (golang CL 6545051, syscall/exec_plan9.go: startProcess, WaitProcess),
// on gort's fibers. See gort/syscall.h for the protocol and its guarantees.
//
// One Child::Rep per started child, shared by its waiter fiber, the wait
// map (pid -> Rep, until the status is claimed) and the caller's Child
// handles. It owns the child's pidfd, so the child can be signalled safely
// for as long as anyone can name it.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
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

// Enters a child just forked in the wait map, before anyone learns of it.
void MapChild(const std::shared_ptr<Child::Rep>& rep) {
  {
    std::lock_guard<std::mutex> l(procs().mu);
    // A reused pid's stale entry (its child was reaped, its status never
    // claimed) is displaced: that status stays with its Child handles.
    procs().waits[rep->pid] = rep;
  }
  runtime::internal::SchedulePoint();
}

// Run is returning and nobody waits for this child: leave it running and
// let the orphan reaper collect it. Its entry goes; a holder of its Child
// handle learns why (from *w, which the caller delivers).
void Abandon(const std::shared_ptr<Child::Rep>& rep, WaitErr* w) {
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
}

// The child's one status (or error), to whoever waits for it. Never parks
// (waitc has room for it).
void Deliver(const std::shared_ptr<Child::Rep>& rep, std::shared_ptr<WaitErr> w) {
  rep->waitc.Send(std::move(w));
  rep->waitc.Close();
}

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
// sysmon and two spares. Counting only procs Ms (as
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
  runtime::internal::LockOSThreadInternal();
  struct Leave {
    ~Leave() {
      // The child is reaped (or was never born): the thread has no more
      // reason to stay ours. It goes back to the idle pool (Go's goroutine
      // exits locked, ending it).
      runtime::internal::UnlockOSThreadInternal();
      waiters.fetch_sub(1, std::memory_order_relaxed);
    }
  } leave;
  auto rep = std::make_shared<Child::Rep>();
  // From the fork to the reap this fiber needs no P: one system-call
  // bracket spans the child's life, so the P is given up once and taken
  // back at most once (a bracket for the fork and another for the wait
  // cost a hand-off and a recovery more per child). Inside it the fiber
  // may only do what needs no P: map the child, and Send to channels that
  // have room (forkc; the child's waitc).
  if (runtime::internal::OthersWaitForP()) {
    runtime::EnterSyscallBlock();  // the fork takes a while: let them run
  } else {
    runtime::EnterSyscall();
  }
  absl::StatusOr<pid_t> r =
      internal::ForkExecChild(argv0, argv, attr, &rep->pidfd, internal::Bracket::kCallerIn);
  if (!r.ok()) {  // nothing to wait for, nothing registered
    runtime::ExitSyscall();
    forkc.Send(ForkRet{nullptr, Detached(r.status())});
    return;
  }
  rep->pid = *r;
  rep->started = absl::Now();
  MapChild(rep);
  // The wait is long: the P goes now (first, so that the starter, readied
  // below onto the global queue, wakes at most the one M that takes it).
  runtime::internal::HandOffSyscallP();
  // Only now report the child: a Wait issued right after StartProcess
  // returns always finds the entry.
  forkc.Send(ForkRet{rep, absl::OkStatus()});

  auto w = std::make_shared<WaitErr>();
  bool stopped = false;
  w->err = Detached(
      internal::AwaitChild(rep->pid, rep->pidfd, &w->msg, &stopped, internal::Bracket::kCallerIn));
  if (!stopped && w->err.ok()) w->msg.real = absl::Now() - rep->started;
  if (!stopped && !runtime::internal::IdlePAvailable()) {
    // Every P is busy: taking one back would cost two thread switches, only
    // to end. Deliver from inside the bracket (the waiting fiber goes to
    // the global queue) and end there; this M goes idle.
    Deliver(rep, std::move(w));
    return;
  }
  runtime::ExitSyscall();
  if (stopped) Abandon(rep, w.get());
  // The waiting fiber runs next on this P, as this one ends.
  runtime::internal::NoWakeP ends_next;
  Deliver(rep, std::move(w));
}

// --- Reaper mode (Options::process_reapers = K > 0) ---------------------
//
// K reaper fibers, each locked to its own OS thread for the whole Run. A
// StartChild queues a request on one of them (round robin) and parks on the
// reply. The reaper sleeps in epoll_wait over its wake-up eventfd, the
// runtime's shutdown descriptor and the pidfd of every child it forked;
// woken, it forks the queued children on its thread (so the fork and every
// later wait happen on one thread, as in the per-child mode) and reaps the
// exited ones with wait4(pid, WNOHANG | __WNOTHREAD). The wait map, Wait,
// Signal and the errors are the per-child mode's. At shutdown a reaper
// refuses new requests, hands its running children to the orphan reaper
// and ends.
//
// A reaper never holds a P: it spends its whole life inside one system-call
// bracket, so that neither its waits nor its forks hand a P off and back
// (each such round trip costs two thread switches). What it does there
// needs no P: system calls, the wait map's mutex, and Sends to channels
// with room (replies, statuses), whose receivers go to the global run
// queue.

struct ForkRequest {
  std::string argv0;
  std::vector<std::string> argv;
  ProcAttr attr;
  Chan<ForkRet> reply{1};
};

struct Reaper {
  std::mutex mu;
  std::vector<std::shared_ptr<ForkRequest>> queue;  // guarded by mu
  bool stopped = false;  // guarded by mu: the reaper has ended; no more requests
  // eventfd (owned): a request was queued. Written and closed under mu, so
  // that no requester writes to the number after the reaper closed it.
  int wake = -1;
  ~Reaper() {
    if (wake >= 0) close(wake);
  }
};

// The current Run's reapers, made at its first StartChild.
struct Reapers {
  std::mutex mu;
  uint64_t generation = 0;  // the Run they serve
  std::vector<std::shared_ptr<Reaper>> all;
  uint64_t next = 0;  // round robin
};
Reapers& reapers() {
  static auto* r = new Reapers;
  return *r;
}

// Keys of the reaper's epoll events: the wake-up and shutdown descriptors,
// kExecBit + pid for the status pipe of a child not yet exec'd, else
// kChildKey + the child's pid.
constexpr uint64_t kWakeKey = 0, kShutdownKey = 1, kChildKey = 2;
constexpr uint64_t kExecBit = uint64_t{1} << 62;

using Kids = absl::flat_hash_map<pid_t, std::shared_ptr<Child::Rep>>;

// A child cloned for a request, its exec's verdict not yet in. The reaper
// does not sleep through each exec (CLONE_VFORK would stop its thread until
// the child exec'd): it clones and goes on, and the status pipe tells it,
// through epoll, when to answer. So K reapers have any number of execs in
// flight, as many spawning threads would.
struct Starting {
  internal::PendingExecPtr exec;
  std::shared_ptr<ForkRequest> req;
  absl::Time started;
};
using StartingMap = absl::flat_hash_map<pid_t, Starting>;

// Watches fd for readability under key. False (errno set) if epoll refuses.
bool Watch(int ep, int fd, uint64_t key) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = key;
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
}

absl::Status ReaperStopped(const std::string& argv0) {
  return absl::FailedPreconditionError(
      absl::StrCat("fork/exec ", argv0, ": the runtime is shutting down"));
}

// The verdict of s's exec is in (or the caller waits for it): answer the
// request, and watch the child if it runs.
void ReaperFinish(int ep, Starting s, Kids& kids) {
  epoll_ctl(ep, EPOLL_CTL_DEL, internal::PendingExecFd(*s.exec), nullptr);
  ForkRequest& req = *s.req;
  auto rep = std::make_shared<Child::Rep>();
  absl::StatusOr<pid_t> r = internal::FinishExecChild(std::move(s.exec), &rep->pidfd);
  if (!r.ok()) {
    req.reply.Send(ForkRet{nullptr, Detached(r.status())});
    return;
  }
  rep->pid = *r;
  rep->started = s.started;
  if (!Watch(ep, rep->pidfd, kChildKey + static_cast<uint64_t>(rep->pid))) {
    // Cannot watch it (ENOMEM, or the epoll limit of the user): the child
    // runs already, and this thread, the only one that may wait for it,
    // serves every other child too. Kill it and reap it now rather than
    // leave an unwatched child.
    const int err = errno;
    (void)SignalPidfd(rep->pidfd, SIGKILL);
    Waitmsg ignored;
    bool stopped = false;
    (void)internal::AwaitChild(rep->pid, rep->pidfd, &ignored, &stopped,
                               internal::Bracket::kCallerIn);
    req.reply.Send(
        ForkRet{nullptr, absl::Status(absl::ErrnoToStatusCode(err),
                                      absl::StrCat("fork/exec ", req.argv0,
                                                   ": epoll_ctl: ", internal::ErrnoText(err)))});
    return;
  }
  kids[rep->pid] = rep;
  MapChild(rep);
  req.reply.Send(ForkRet{rep, absl::OkStatus()});
}

// Clones one requested child on this (the reaper's) thread; its request is
// answered once the exec's verdict is in (ReaperFinish).
void ReaperFork(int ep, std::shared_ptr<ForkRequest> req, StartingMap& starting, Kids& kids) {
  const absl::Time started = absl::Now();
  absl::StatusOr<internal::PendingExecPtr> p =
      internal::StartExecChild(req->argv0, req->argv, req->attr);
  if (!p.ok()) {
    req->reply.Send(ForkRet{nullptr, Detached(p.status())});
    return;
  }
  const pid_t pid = internal::PendingExecPid(**p);
  Starting s{*std::move(p), std::move(req), started};
  if (!Watch(ep, internal::PendingExecFd(*s.exec), kExecBit + static_cast<uint64_t>(pid))) {
    ReaperFinish(ep, std::move(s), kids);  // cannot watch the pipe: wait for it here
    return;
  }
  starting.emplace(pid, std::move(s));
}

// A child's pidfd became readable: reap it if it has exited.
void ReaperReap(int ep, pid_t pid, Kids& kids) {
  auto it = kids.find(pid);
  if (it == kids.end()) return;
  std::shared_ptr<Child::Rep> rep = it->second;
  auto w = std::make_shared<WaitErr>();
  bool reaped = false;
  w->err = Detached(internal::ReapIfExited(pid, &w->msg, &reaped));
  if (w->err.ok() && !reaped) return;  // readable, not yet reapable
  if (w->err.ok()) w->msg.real = absl::Now() - rep->started;
  epoll_ctl(ep, EPOLL_CTL_DEL, rep->pidfd, nullptr);
  kids.erase(it);
  Deliver(rep, std::move(w));
}

void ReaperMain(const std::shared_ptr<Reaper>& r) {
  runtime::internal::LockOSThreadInternal();
  pthread_setname_np(pthread_self(), "gort-reaper");  // while it is ours
  Kids kids;
  StartingMap starting;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  bool stop = ep < 0;
  if (!stop) {
    stop = !Watch(ep, r->wake, kWakeKey);
    const int sfd = runtime::internal::ShutdownEventFd();
    if (!stop && sfd >= 0) stop = !Watch(ep, sfd, kShutdownKey);
  }
  std::vector<std::shared_ptr<ForkRequest>> batch;
  runtime::EnterSyscallBlock();  // for good: see above
  while (!stop) {
    epoll_event evs[64];
    int n;
    do {
      n = epoll_wait(ep, evs, 64, -1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) break;  // cannot happen with a valid epoll descriptor
    for (int i = 0; i < n; i++) {
      const uint64_t key = evs[i].data.u64;
      if (key == kShutdownKey) {
        stop = true;
      } else if (key == kWakeKey) {
        uint64_t v;
        (void)!read(r->wake, &v, sizeof(v));
        {
          std::lock_guard<std::mutex> l(r->mu);
          batch.swap(r->queue);
        }
        for (auto& req : batch) {
          if (runtime::internal::ShuttingDown()) {
            req->reply.Send(ForkRet{nullptr, ReaperStopped(req->argv0)});
          } else {
            ReaperFork(ep, std::move(req), starting, kids);
          }
        }
        batch.clear();
      } else if (key & kExecBit) {
        auto it = starting.find(static_cast<pid_t>(key - kExecBit));
        if (it == starting.end()) continue;  // finished already (an earlier event)
        Starting s = std::move(it->second);
        starting.erase(it);
        ReaperFinish(ep, std::move(s), kids);
      } else {
        ReaperReap(ep, static_cast<pid_t>(key - kChildKey), kids);
      }
    }
  }
  // Shutdown (or no epoll): no more requests; the running children go to
  // the orphan reaper.
  {
    std::lock_guard<std::mutex> l(r->mu);
    r->stopped = true;
    batch.swap(r->queue);
    close(r->wake);  // nothing is left open behind the Run
    r->wake = -1;
  }
  {
    Reapers& rs = reapers();
    std::lock_guard<std::mutex> l(rs.mu);
    rs.all.erase(std::remove(rs.all.begin(), rs.all.end(), r), rs.all.end());
  }
  for (auto& req : batch) req->reply.Send(ForkRet{nullptr, ReaperStopped(req->argv0)});
  // Children between clone and exec: their verdicts come at once; those
  // that run join the others.
  for (auto& [pid, s] : starting) ReaperFinish(ep, std::move(s), kids);
  starting.clear();
  for (auto& [pid, rep] : kids) {
    auto w = std::make_shared<WaitErr>();
    Abandon(rep, w.get());
    Deliver(rep, std::move(w));
  }
  if (ep >= 0) close(ep);
  pthread_setname_np(pthread_self(), "gort-m");
  runtime::ExitSyscall();  // (at shutdown: resumes on the Run thread)
  runtime::internal::UnlockOSThreadInternal();
}

// One of the current Run's reapers, starting them at the Run's first call.
// Null if they cannot be started (*err: eventfd's errno) or have all ended
// (shutdown; *err 0).
std::shared_ptr<Reaper> PickReaper(int k, int* err) {
  *err = 0;
  Reapers& rs = reapers();
  const uint64_t gen = runtime::internal::RunGeneration();
  std::vector<std::shared_ptr<Reaper>> fresh;
  std::shared_ptr<Reaper> pick;
  {
    std::lock_guard<std::mutex> l(rs.mu);
    // Started at the Run's first child, or again if none could be started
    // then (out of descriptors); not once they have ended at shutdown.
    if (rs.generation != gen || (rs.all.empty() && !runtime::internal::ShuttingDown())) {
      rs.all.clear();  // the last Run's, ended
      rs.generation = gen;
      for (int i = 0; i < k; i++) {
        auto r = std::make_shared<Reaper>();
        r->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->wake < 0) {
          *err = errno;
          break;
        }
        rs.all.push_back(r);
        fresh.push_back(std::move(r));
      }
    }
    if (!rs.all.empty()) pick = rs.all[rs.next++ % rs.all.size()];
  }
  // Their fibers start outside rs.mu: Go may yield the caller (a preemption
  // check), and a fiber holding an OS mutex while it waits for its P again
  // would block every other starter's thread on that mutex (at procs 1, the
  // very thread the holder needs). Requests queued meanwhile wait in
  // r->queue, announced by r->wake, until ReaperMain's first epoll_wait.
  for (std::size_t i = 0; i < fresh.size(); i++) {
    try {
      runtime::Go([r = fresh[i]] { ReaperMain(r); });
    } catch (...) {  // no stack for it: these never run; take them back
      for (std::size_t j = i; j < fresh.size(); j++) {
        {
          std::lock_guard<std::mutex> l(rs.mu);
          rs.all.erase(std::remove(rs.all.begin(), rs.all.end(), fresh[j]), rs.all.end());
        }
        std::vector<std::shared_ptr<ForkRequest>> queued;
        {
          std::lock_guard<std::mutex> l(fresh[j]->mu);
          fresh[j]->stopped = true;
          queued.swap(fresh[j]->queue);
        }
        for (auto& req : queued) req->reply.Send(ForkRet{nullptr, ReaperStopped(req->argv0)});
      }
      throw;
    }
  }
  return pick;  // null: could not start them, or all ended (shutdown)
}

// The started child's Rep (StartChild makes the handle).
absl::StatusOr<std::shared_ptr<Child::Rep>> StartViaReaper(int k, const std::string& argv0,
                                                           const std::vector<std::string>& argv,
                                                           const ProcAttr& attr) {
  int err;
  std::shared_ptr<Reaper> r = PickReaper(k, &err);
  if (r == nullptr) {
    if (err == 0) return ReaperStopped(argv0);
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat("fork/exec ", argv0, ": ", internal::ErrnoText(err)));
  }
  auto req = std::make_shared<ForkRequest>();
  req->argv0 = argv0;
  req->argv = argv;
  req->attr = attr;
  {
    std::lock_guard<std::mutex> l(r->mu);
    if (r->stopped) return ReaperStopped(argv0);
    r->queue.push_back(req);
    uint64_t one = 1;
    (void)!write(r->wake, &one, sizeof(one));
  }
  std::optional<ForkRet> ret = req->reply.Recv();
  if (!ret->err.ok()) return Detached(ret->err);
  return std::move(ret->rep);
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
  if (int k = runtime::internal::ProcessReapers(); k > 0) {
    absl::StatusOr<std::shared_ptr<Child::Rep>> rep = StartViaReaper(k, argv0, argv, attr);
    if (!rep.ok()) return rep.status();
    return Child(*std::move(rep));
  }
  // Each running child needs its waiter's thread. Refuse, rather than abort
  // at the thread limit.
  if (!ReserveWaiter()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "fork/exec ", argv0, ": thread limit reached (", runtime::internal::ThreadLimit(),
        " threads; each running child holds one until it is waited for)"));
  }
  Chan<ForkRet> forkc(1);
  try {
    // We park on forkc at once: the waiter runs next on this P.
    runtime::internal::NoWakeP parks_next;
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
