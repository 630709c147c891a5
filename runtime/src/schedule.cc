// Scheduling: see sched.h. Protocol:
//   - An M runs fibers only while it holds a P. An M without work gives its
//     P back to the idle list and sleeps on its note (StopM) until StartM
//     pops it from the idle M list and sets its nextp in one critical
//     section under sched.lock, then wakes it. A note may carry a stale
//     wake-up (a timed sleep that ran out just as StartM chose the M): every
//     sleeper re-checks nextp under the lock and sleeps again if it is null.
//   - Spinning: an M looking for work counts itself in nmspinning. Whoever
//     readies a G calls WakeP, which starts a spinning M only if a P is idle
//     and none spins; the last spinning M to find work starts another
//     (ResetSpinning). An M that stops spinning re-checks every queue, since
//     a G readied meanwhile woke nobody.
//   - A G locked to an M (LockOSThread) runs only there: an M that finds it
//     hands that M its P (StartLockedM) and stops; the locked M, which slept
//     with its G parked (StopLockedM), runs it.
//   - Shutdown (sched.shutdown) ends every sleep and loop; a P handed over
//     after it goes to the idle list with its work moved to the global queue.
#include "schedule.h"

#include <sched.h>

#include <algorithm>

#include "deadlock.h"
#include "execute.h"
#include "fatal.h"
#include "mthread.h"
#include "netpoll.h"
#include "runq.h"
#include "stats.h"
#include "timers.h"

namespace gort::runtime::internal {
namespace {

// Go: mget, mput.
M* MGet() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  M* m = sched.midle;
  if (m != nullptr) {
    sched.midle = m->schedlink;
    sched.nmidle--;
  }
  return m;
}

void MPut(M* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  m->schedlink = sched.midle;
  sched.midle = m;
  sched.nmidle++;
}

}  // namespace

// Go: pidleget, pidleput.
P* PidleGet() {
  P* p = sched.pidle;
  if (p != nullptr) {
    sched.pidle = p->link;
    p->link = nullptr;
    sched.npidle.fetch_sub(1, std::memory_order_relaxed);
  }
  return p;
}
void PidlePut(P* p) {
  if (!RunqEmpty(p)) Throw("pidleput: P has non-empty run queue");
  // From kIdle (its M released it, or sysmon retook it) or kDead (GOMAXPROCS
  // grew).
  PStatus s = p->status.load(std::memory_order_acquire);
  if (s != PStatus::kIdle && s != PStatus::kDead) BadPStatus(p, s, PStatus::kIdle, PStatus::kIdle);
  p->status.store(PStatus::kIdle, std::memory_order_release);
  p->link = sched.pidle;
  sched.pidle = p;
  sched.npidle.fetch_add(1, std::memory_order_relaxed);
}

// Parks a P that may still have work queued on it, when no M will run it:
// once shutdown has begun (a hand-off that may not start an M any more), or
// at the thread limit. The Gs go to the global queue, where any M looking
// for work (or shutdown's unwinding) finds them.
void PidlePutMovingWork(P* p) {
  while (G* g = RunqGet(p)) GlobRunqPut(g);
  PidlePut(p);
}

// The M takes p, which must be idle and unowned. Go: acquirep / wirep.
void AcquireP(M* m, P* p) {
  if (m->p != nullptr || p->m != nullptr) Throw("acquirep: invalid p state");
  p->m = m;
  SetPStatus(p, PStatus::kIdle, PStatus::kRunning);
  m->p = p;
}

// Go: releasep.
P* ReleaseP(M* m) {
  P* p = m->p;
  if (p == nullptr || p->m != m) Throw("releasep: invalid p state");
  p->m = nullptr;
  SetPStatus(p, PStatus::kRunning, PStatus::kIdle);
  m->p = nullptr;
  return p;
}

namespace {

// p (owned by the caller, idle, not in the idle list) is beyond GOMAXPROCS:
// move its work to the global queue and take it out of service.
void RetireP(P* p) {
  LockGuard l(sched.lock);
  while (G* g = RunqGet(p)) GlobRunqPut(g);
  SetPStatus(p, PStatus::kIdle, PStatus::kDead);
}

}  // namespace

bool IsRetired(P* p) { return p->id >= sched.gomaxprocs.load(std::memory_order_acquire); }

// Schedules some M to run p (an idle P if p is null). If there is no P, does
// nothing. spinning: the caller incremented nmspinning on the new M's behalf.
// Any thread. Go: startm.
void StartM(P* p, bool spinning) {
  M* nmp = nullptr;
  bool create = false;
  // At the thread limit an M that has just given up its P (and is on its way
  // to the idle list, or will find the work itself) is usually about to be
  // free: wait for one that long before declaring thread exhaustion. Under
  // load such an M can be descheduled for milliseconds, and a burst of
  // hand-offs (locked waiters entering system calls) would otherwise create
  // threads past max_threads that are not really needed.
  constexpr int64_t kWaitForIdleMNs = 100 * 1000 * 1000;
  // Below the limit, an M that has just released its P (ReleasePUnlessWork)
  // and is on its way to the idle list is waited for as well, for at most
  // this long: it will be idle within microseconds unless it is descheduled,
  // and a new thread costs far more. So fibers that park and wake in bursts
  // (ten thousand blocked readers) run on procs Ms. Go creates an M here.
  constexpr int64_t kWaitForReleasingMNs = 10 * 1000 * 1000;
  int64_t give_up_at = 0;
  for (;;) {
    bool took_idle_p = false;
    {
      LockGuard l(sched.lock);
      if (sched.shutdown.load(std::memory_order_relaxed)) {
        if (p != nullptr) PidlePutMovingWork(p);
        if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
        return;
      }
      if (p == nullptr) {
        p = PidleGet();
        took_idle_p = true;
        if (p == nullptr) {
          if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
          return;
        }
      }
      nmp = MGet();
      const bool at_limit = sched.nthreads.load(std::memory_order_relaxed) >= sched.max_threads;
      if (nmp == nullptr && at_limit && spinning) {
        // A spinning M only looks for work that the Ms already running will
        // find too: at the limit, do without it.
        PidlePutMovingWork(p);
        sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
        return;
      }
      // (An M in transit may be the caller itself: it runs timers on its way.)
      const M* self = GetM();
      const int releasing = sched.nmreleasing - (self != nullptr && self->releasing ? 1 : 0);
      if (nmp == nullptr && (at_limit || releasing > 0)) {
        const int64_t now = Nanotime();
        if (give_up_at == 0) give_up_at = now + (at_limit ? kWaitForIdleMNs : kWaitForReleasingMNs);
        if (now < give_up_at) {
          if (took_idle_p) {  // not ours to hold while we wait
            PidlePut(p);
            p = nullptr;
          }
          goto wait;
        }
      }
      if (nmp == nullptr) {
        nmp = AllocM(p, spinning);  // past the limit: fatal thread exhaustion
        create = true;
      } else {
        if (nmp->spinning || nmp->nextp != nullptr) Throw("startm: m is spinning or has a p");
        nmp->spinning = spinning;
        nmp->nextp = p;
        // Until WakeM below is done with nmp, shutdown must not free it:
        // nmp may see the shutdown and exit before this thread (sysmon
        // running a timer, a plain thread readying a fiber) wakes it.
        sched.nwaking.fetch_add(1, std::memory_order_relaxed);
      }
    }
    break;
  wait:
    sched_yield();
  }
  if (create) {
    NewM(nmp);
  } else {
    Count(stats.m_wakeups);
    WakeM(nmp);  // on its note, or in the poller
    sched.nwaking.fetch_sub(1, std::memory_order_release);
  }
}

// Tries to add one more spinning M, if a P is idle and nobody spins.
// Any thread. Go: wakep.
void WakeP() {
  SchedulePointHere();
  if (sched.npidle.load(std::memory_order_acquire) == 0) return;
  int expected = 0;
  if (sched.nmspinning.load(std::memory_order_relaxed) != 0 ||
      !sched.nmspinning.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    return;
  }
  StartM(nullptr, true);
}

// Gives away a P that its M no longer wants (the M blocks, or a syscall P was
// retaken): to an M if there is work, else to the idle list. Any M without P.
// Go: handoffp.
void HandoffP(P* p) {
  SchedulePointHere();
  if (IsRetired(p)) {
    RetireP(p);
    WakeP();
    return;
  }
  if (!RunqEmpty(p) || sched.runq_size.load(std::memory_order_acquire) > 0) {
    Count(stats.handoffs);
    StartM(p, false);
    return;
  }
  // No local work; make sure someone is spinning, if nobody is.
  if (sched.nmspinning.load(std::memory_order_relaxed) +
          sched.npidle.load(std::memory_order_relaxed) ==
      0) {
    int expected = 0;
    if (sched.nmspinning.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
      StartM(p, true);
      return;
    }
  }
  sched.lock.lock();
  if (sched.runq_size.load(std::memory_order_relaxed) != 0 &&
      !sched.shutdown.load(std::memory_order_relaxed)) {
    sched.lock.unlock();
    StartM(p, false);
    return;
  }
  PidlePut(p);
  sched.lock.unlock();
}

namespace {

bool MRemove(M* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  for (M** link = &sched.midle; *link != nullptr; link = &(*link)->schedlink) {
    if (*link == m) {
      *link = m->schedlink;
      m->schedlink = nullptr;
      sched.nmidle--;
      return true;
    }
  }
  return false;
}

enum class StopResult {
  kGotP,      // handed a P (StartM)
  kShutdown,  // the runtime is shutting down
  kNoP,       // woke without a P (timeout, timer kick, stale wake-up): re-check
};

// m has reached the idle list, or taken a P again, after it released its P
// (ReleasePUnlessWork) or woke without one (StopM's kNoP).
void DoneReleasing(M* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  if (!m->releasing) return;
  m->releasing = false;
  sched.nmreleasing--;
}

// Parks the M on the idle list until it is handed a P, for at most
// timeout_ns (< 0: no limit): on its note, or, for the poll sleeper
// (poll), in the poller, handling the I/O that arrives meanwhile. Called
// without a P. Go: stopm (and findRunnable's blocking netpoll).
StopResult StopM(M* m, int64_t timeout_ns = -1, bool poll = false) {
  if (m->p != nullptr) Throw("stopm holding p");
  if (m->spinning) Throw("stopm spinning");
  {
    LockGuard l(sched.lock);
    DoneReleasing(m);
    if (sched.shutdown.load(std::memory_order_relaxed)) return StopResult::kShutdown;
    MPut(m);
    CheckDead();
  }
  bool woken = poll ? NetpollSleep(m, timeout_ns) : m->park.SleepFor(timeout_ns);
  if (woken) m->park.Clear();
  P* p;
  {
    LockGuard l(sched.lock);
    p = m->nextp;
    m->nextp = nullptr;
    if (p == nullptr) {
      // Not handed a P. StartM pops an M and sets its nextp in one critical
      // section, so we are still on the idle list: leave it. Until we are
      // back on it or hold a P, StartM waits for us (see DoneReleasing).
      if (!MRemove(m)) Throw("stopm: off the idle list without a p");
      m->releasing = true;
      sched.nmreleasing++;
      return sched.shutdown.load(std::memory_order_relaxed) ? StopResult::kShutdown
                                                            : StopResult::kNoP;
    }
  }
  // A wake-up from StartM may still be on its way (we may have timed out
  // first); it only costs the next sleep a spurious return. Randomized
  // schedules leave one behind on purpose, so that every later sleep on
  // this note (StopM, StopLockedM) is tested against it.
  if (ChaosOneIn(4)) m->park.Wakeup();
  AcquireP(m, p);
  return StopResult::kGotP;
}

// The M's locked G has parked: give the P away and sleep until someone hands
// the G back with a P. Go: stoplockedm.
bool StopLockedM(M* m) {
  if (m->p != nullptr) HandoffP(ReleaseP(m));
  IncIdleLocked(1);
  P* p = nullptr;
  while (p == nullptr) {
    m->park.Sleep();
    m->park.Clear();
    LockGuard l(sched.lock);
    p = m->nextp;
    m->nextp = nullptr;
    if (sched.shutdown.load(std::memory_order_relaxed)) {
      if (p != nullptr) PidlePutMovingWork(p);
      return false;
    }
    // p == nullptr is a stale wake-up: StopM may have taken its P after a
    // timeout while StartM's Wakeup was still on its way, leaving the note
    // set. Only StartLockedM (with a P) or shutdown ends this wait.
  }
  AcquireP(m, p);
  return true;
}

// The caller found g, which is locked to another M: hand that M our P and
// stop. Go: startlockedm.
void StartLockedM(M* m, G* g) {
  M* lm = g->lockedm;
  if (lm == m) Throw("startlockedm: locked to me");
  RunMHook(MHookPoint::kBeforeStartLockedM, m, lm);
  P* p = ReleaseP(m);
  {
    LockGuard l(sched.lock);
    sched.nmidlelocked--;
    lm->nextp = p;
    // We are on our way to the idle list (StopM): a StartM meanwhile waits
    // for us rather than cloning a new M. The locked fiber often gives the
    // P straight back (a process waiter or reaper forking at once), and
    // every such race cost a thread that then idled for the Run's life.
    m->releasing = true;
    sched.nmreleasing++;
  }
  lm->park.Wakeup();
}

void ResetSpinning(M* m) {
  m->spinning = false;
  if (sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel) - 1 < 0) {
    Throw("resetspinning: negative nmspinning");
  }
  // The last spinning M found work: there may be more, so start another.
  WakeP();
}

// FindRunnable's steps, in order. Go: findRunnable, stealWork.

void DropSpinning(M* m) {
  if (!m->spinning) return;
  m->spinning = false;
  if (sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel) - 1 < 0) {
    Throw("findrunnable: negative nmspinning");
  }
}

enum class HaveP { kYes, kLookAgain, kStop };

HaveP SleepUntilWork(M* m);

// 1. m must hold a P that is still in service. At shutdown it puts its P
// back (work moved to the global queue) and stops; with no P, or a P beyond
// GOMAXPROCS (retired here), it sleeps until handed one.
HaveP EnsureP(M* m) {
  P* p = m->p;
  if (sched.shutdown.load(std::memory_order_acquire)) {
    DropSpinning(m);
    if (p != nullptr) {
      ReleaseP(m);
      LockGuard l(sched.lock);
      PidlePutMovingWork(p);
    }
    return HaveP::kStop;
  }
  if (p != nullptr && !IsRetired(p)) return HaveP::kYes;
  DropSpinning(m);
  if (p != nullptr) {
    RetireP(ReleaseP(m));
    WakeP();
  }
  return SleepUntilWork(m);
}

// 2 and 3. Due timers of p (their fibers land on its queue), then queued
// work: the global queue first on every kGlobalQueueTick-th tick (so that a
// pair of fibers readying each other cannot starve it), the local queue, the
// global queue. On the same ticks the poller is polled (its fibers land at
// the tail of p's queue): fibers that keep yielding never leave the queues
// empty, and gort cannot preempt them (Go leaves this to sysmon's 10 ms).
G* TakeQueued(P* p) {
  if (p->timer0_when.load(std::memory_order_acquire) != 0) RunTimers(p, Nanotime());
  if (p->schedtick.load(std::memory_order_relaxed) % kGlobalQueueTick == 0) {
    if (NetpollWaiters() > 0 && !NetpollBlocked()) Netpoll(0);
    if (sched.runq_size.load(std::memory_order_acquire) > 0) {
      LockGuard l(sched.lock);
      if (G* g = GlobRunqGet(p, 1)) return g;
    }
  }
  if (G* g = RunqGet(p)) return g;
  if (sched.runq_size.load(std::memory_order_acquire) > 0) {
    LockGuard l(sched.lock);
    if (G* g = GlobRunqGet(p, 0)) return g;
  }
  return nullptr;
}

// 4. Fibers wait on descriptors and no M is blocked in the poller (which
// would see the events itself): poll without blocking. The readied fibers
// land on p's queue. Go: findRunnable's non-blocking netpoll.
G* PollNoWait(P* p) {
  if (NetpollWaiters() == 0 || NetpollBlocked()) return nullptr;
  if (Netpoll(0) == 0) return nullptr;
  return RunqGet(p);
}

// 5. Steal half of another P's queue, trying every P in a random order
// kStealRounds times; the last round also takes runnext and runs due timers.
// m spins meanwhile, unless half the busy Ps already have a spinning M (a
// burst of wake-ups must not burn every CPU).
G* StealWork(M* m, P* p) {
  const int procs = sched.gomaxprocs.load(std::memory_order_acquire);
  if (!m->spinning && 2 * sched.nmspinning.load(std::memory_order_relaxed) >=
                          procs - sched.npidle.load(std::memory_order_relaxed)) {
    return nullptr;
  }
  if (!m->spinning) {
    m->spinning = true;
    sched.nmspinning.fetch_add(1, std::memory_order_acq_rel);
  }
  for (int i = 0; i < kStealRounds; i++) {
    const bool last_round = i == kStealRounds - 1;
    uint32_t start = FastRand(m);
    for (int k = 0; k < procs; k++) {
      P* p2 = sched.allp[(start + static_cast<uint32_t>(k)) % static_cast<uint32_t>(procs)].load(
          std::memory_order_acquire);
      if (p2 == nullptr || p2 == p) continue;
      if (last_round && p2->timer0_when.load(std::memory_order_acquire) != 0 &&
          RunTimers(p2, Nanotime()) > 0) {
        // Their fibers were readied onto our P. Go: stealWork's checkTimers.
        if (G* g = RunqGet(p)) return g;
      }
      if (G* g = RunqSteal(p, p2, last_round)) return g;
    }
  }
  return nullptr;
}

// 6. Nothing found: give up the P, after one last look at the global queue
// under the lock, so that a G queued by a plain thread is not missed.
// Returns that G (m keeps p); else *released says whether p went to the idle
// list (false: shutdown began, and step 1 puts p back).
G* ReleasePUnlessWork(M* m, P* p, bool* released) {
  LockGuard l(sched.lock);
  *released = false;
  if (sched.shutdown.load(std::memory_order_relaxed)) return nullptr;
  if (G* g = GlobRunqGet(p, 0)) return g;
  ReleaseP(m);
  PidlePut(p);
  *released = true;
  m->releasing = true;  // until it is idle or has a P again (StartM waits for it)
  sched.nmreleasing++;
  return nullptr;
}

// 7. An M that was spinning looks once more after dropping nmspinning: work
// queued after it looked but before it stopped spinning woke nobody (whoever
// queued it saw a spinning M). If there is some and a P is idle, m takes the
// P and spins again (true).
bool TakePForMissedWork(M* m) {
  const int procs = sched.gomaxprocs.load(std::memory_order_acquire);
  for (int k = -1; k < procs; k++) {
    bool work;
    if (k < 0) {
      work = sched.runq_size.load(std::memory_order_acquire) > 0;
    } else {
      P* p2 = sched.allp[k].load(std::memory_order_acquire);
      work = p2 != nullptr && !RunqEmpty(p2);
    }
    if (!work) continue;
    P* np;
    {
      LockGuard l(sched.lock);
      np = PidleGet();
      if (np != nullptr) DoneReleasing(m);
    }
    if (np == nullptr) return false;
    AcquireP(m, np);
    m->spinning = true;
    sched.nmspinning.fetch_add(1, std::memory_order_acq_rel);
    return true;
  }
  return false;
}

// 8. Sleep without a P. One idle M, the poll sleeper, blocks in the poller
// until the earliest timer (Go blocks in netpoll the same way): the I/O
// that arrives meanwhile readies its fibers, a new earlier timer or being
// handed a P breaks the poll. Woken without a P, it takes an idle P, or
// runs the due timers without one (timer functions need none). The other
// idle Ms sleep on their notes until handed a P.
HaveP SleepUntilWork(M* m) {
  M* expected = nullptr;
  if (!sched.poll_sleeper.compare_exchange_strong(expected, m, std::memory_order_seq_cst)) {
    return StopM(m) == StopResult::kShutdown ? HaveP::kStop : HaveP::kLookAgain;
  }
  int64_t next = EarliestTimer();
  sched.poll_until.store(next == 0 ? INT64_MAX : next, std::memory_order_seq_cst);
  // Pairs with WakeForTimer's fence: a timer added meanwhile either sees
  // us (and breaks the poll) or is seen here.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (int64_t again = EarliestTimer(); again != 0 && (next == 0 || again < next)) {
    next = again;
    sched.poll_until.store(next, std::memory_order_seq_cst);
  }
  StopResult r = StopM(m, next == 0 ? -1 : std::max<int64_t>(next - Nanotime(), 0), true);
  sched.poll_until.store(INT64_MAX, std::memory_order_release);
  sched.poll_sleeper.store(nullptr, std::memory_order_release);
  if (r == StopResult::kShutdown) return HaveP::kStop;
  if (r == StopResult::kNoP) {
    P* np;
    {
      LockGuard l(sched.lock);
      np = sched.shutdown.load(std::memory_order_relaxed) ? nullptr : PidleGet();
      if (np != nullptr) DoneReleasing(m);
    }
    if (np != nullptr) {
      AcquireP(m, np);
    } else {
      RunAllTimers(Nanotime());
    }
  }
  return HaveP::kLookAgain;
}

// Finds a runnable G for m; blocks (without a P) until one exists. Returns
// null when m must stop (shutdown). Go: findRunnable.
G* FindRunnable(M* m) {
  for (;;) {
    switch (EnsureP(m)) {
      case HaveP::kStop:
        return nullptr;
      case HaveP::kLookAgain:
        continue;
      case HaveP::kYes:
        break;
    }
    P* p = m->p;
    if (G* g = TakeQueued(p)) return g;
    if (G* g = PollNoWait(p)) return g;
    if (G* g = StealWork(m, p)) return g;
    bool released;
    if (G* g = ReleasePUnlessWork(m, p, &released)) return g;
    if (!released) continue;
    const bool was_spinning = m->spinning;
    DropSpinning(m);
    if (was_spinning && TakePForMissedWork(m)) continue;
    if (SleepUntilWork(m) == HaveP::kStop) return nullptr;
  }
}

}  // namespace

// Go: mstart1 + schedule.
void Schedule(M* m) {
  for (;;) {
    if (m->lockedg != nullptr) {
      if (!StopLockedM(m)) return;
      for (G* g = m->lockedg; g != nullptr;) g = Execute(m, g);
      if (m->exiting) return;
      continue;
    }
    if (m->p == nullptr) {
      if (StopM(m) == StopResult::kShutdown) return;
      continue;
    }
    G* g = FindRunnable(m);
    if (g == nullptr) return;
    if (m->spinning) ResetSpinning(m);
    if (g->lockedm != nullptr && g->lockedm != m) {
      StartLockedM(m, g);
      continue;  // we have no P now: the loop stops this M
    }
    while (g != nullptr) g = Execute(m, g);
    if (m->exiting) return;
  }
}

namespace {

// Work was queued globally by a thread without a P (a fiber inside a
// system call, sysmon, a plain thread): start an M on an idle P to run it,
// unless one already spins (it will find the work). Not a spinning M, as
// WakeP starts: a spinning M that finds work wakes another to spin in its
// place, which only finds nothing and sleeps again; for a wake-up from
// outside, that is a second thread switch per readied fiber. Go:
// injectglist's startIdle.
void StartIdleM() {
  if (sched.npidle.load(std::memory_order_acquire) == 0) return;
  if (sched.nmspinning.load(std::memory_order_acquire) != 0) return;
  StartM(nullptr, false);
}

// Queues a runnable G: on the caller's P (as runnext) when there is one,
// else on the global queue; then wakes an idle P.
void QueueRunnable(G* g) {
  M* m = GetM();
  if (P* p = CurrentP(m)) {
    const bool alone = m->nowakep > 0 && RunqEmpty(p);
    RunqPut(p, g, true);
    // The caller is about to give up this P (it parks, exits or hands the
    // P off) and g is all the P has: g runs next here, and waking an idle P
    // for it would only spin a thread up for nothing (NoWakeP).
    if (alone) return;
  } else {
    if (m == nullptr) RegisterForeignThread();
    {
      LockGuard l(sched.lock);
      GlobRunqPut(g);
    }
    StartIdleM();
    return;
  }
  WakeP();
}

}  // namespace

// Go: ready.
void Ready(G* g) {
  SchedulePointHere();
  CasGStatus(g, GStatus::kWaiting, GStatus::kRunnable);
  QueueRunnable(g);
}

// Go: injectglist.
void ReadyBatch(G* const* gs, int n) {
  if (n == 0) return;
  SchedulePointHere();
  for (int i = 0; i < n; i++) CasGStatus(gs[i], GStatus::kWaiting, GStatus::kRunnable);
  M* m = GetM();
  if (P* p = CurrentP(m)) {
    for (int i = 0; i < n; i++) RunqPut(p, gs[i], false);
  } else {
    if (m == nullptr) RegisterForeignThread();
    {
      LockGuard l(sched.lock);
      for (int i = 0; i < n; i++) GlobRunqPut(gs[i]);
    }
    for (int i = 0; i < n && sched.npidle.load(std::memory_order_acquire) > 0; i++) StartIdleM();
    return;
  }
  WakeP();
}

// Go: newproc's runqput + wakep.
void QueueNewG(G* g) {
  CasGStatus(g, GStatus::kIdle, GStatus::kRunnable);
  sched.ngoroutines.fetch_add(1, std::memory_order_acq_rel);
  QueueRunnable(g);
}

// Go: procresize (without stopping the world: gort has no preemption to
// stop it with).
int ResizeProcs(int n) {
  if (n > kMaxProcs) n = kMaxProcs;
  int old;
  int woken = 0;
  {
    LockGuard l(sched.lock);
    old = sched.gomaxprocs.load(std::memory_order_relaxed);
    if (n == old) return old;
    if (n > old) {
      for (int i = old; i < n; i++) {
        P* p = sched.allp[i].load(std::memory_order_relaxed);
        if (p == nullptr) {
          p = new P;
          p->id = i;
          sched.allp[i].store(p, std::memory_order_release);
          sched.nallp.store(i + 1, std::memory_order_release);
        }
        // A P that was retired but is still held (running or in a syscall)
        // comes back into service by itself; only dead ones go idle here.
        if (p->status.load(std::memory_order_acquire) == PStatus::kDead) {
          PidlePut(p);
          woken++;
        }
      }
      sched.gomaxprocs.store(n, std::memory_order_release);
    } else {
      sched.gomaxprocs.store(n, std::memory_order_release);
      // Idle Ps beyond n leave service now; held ones when their M next
      // schedules (FindRunnable) or leaves a system call. (Go stops the world
      // instead; gort has no preemption to stop it with.)
      P** link = &sched.pidle;
      while (*link != nullptr) {
        P* p = *link;
        if (p->id >= n) {
          *link = p->link;
          p->link = nullptr;
          sched.npidle.fetch_sub(1, std::memory_order_relaxed);
          SetPStatus(p, PStatus::kIdle, PStatus::kDead);
        } else {
          link = &p->link;
        }
      }
    }
  }
  for (int i = 0; i < woken; i++) WakeP();
  return old;
}

}  // namespace gort::runtime::internal
