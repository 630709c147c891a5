// The calls of <gort/runtime.h> other than Run and the system-call bracket
// (syscall_bracket.cc): fiber start, yield, exit, thread locking and the
// queries.
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include "deadlock.h"
#include "execute.h"
#include "fatal.h"
#include "galloc.h"
#include "gort/internal/runtime_support.h"
#include "gort/runtime.h"
#include "proc.h"
#include "runq.h"
#include "schedule.h"
#include "stats.h"

namespace gort::runtime {

using namespace internal;  // NOLINT: this file is the runtime's own front door

namespace detail {

namespace {
// Ends a plain thread's entry into Go (announced in AllocFiber); a no-op on
// an M.
void LeaveForeignEntry() {
  if (GetM() == nullptr) sched.foreign_entering.fetch_sub(1, std::memory_order_seq_cst);
}
}  // namespace

NewFiber AllocFiber(std::size_t size, std::size_t align, void (*invoke)(void*, bool)) {
  if (GetM() == nullptr) {
    // A plain thread: announce the entry before checking for shutdown, so
    // that Shutdown (which sets the flag, then waits for entries to drain)
    // either sees us or we see it. Ended by StartFiber or AbandonFiber.
    sched.foreign_entering.fetch_add(1, std::memory_order_seq_cst);
    if (!sched.running.load(std::memory_order_seq_cst) ||
        sched.shutdown.load(std::memory_order_seq_cst)) {
      bool stopping = sched.running.load(std::memory_order_relaxed);
      sched.foreign_entering.fetch_sub(1, std::memory_order_seq_cst);
      if (stopping) {
        throw Panic(
            "gort: Go called from a plain thread while the runtime is shutting down "
            "(runtime::Run is returning or runtime::Stop was called; the fiber was not started)");
      }
      throw Panic(
          "gort: Go called while the runtime is not running (call it inside runtime::Run, or "
          "between runtime::Start and Stop)");
    }
  } else if (!sched.running.load(std::memory_order_acquire)) {
    throw Panic(
        "gort: Go called while the runtime is not running (call it inside runtime::Run, or between "
        "runtime::Start and Stop)");
  }
  G* g;
  try {
    g = NewG(size, align, invoke);
  } catch (...) {
    LeaveForeignEntry();
    throw;
  }
  return NewFiber{g, g->fn};
}

void StartFiber(void* g) {
  QueueNewG(static_cast<G*>(g));
  LeaveForeignEntry();
  CheckPreempt();
}

void AbandonFiber(void* g) {
  DropNewG(static_cast<G*>(g));
  LeaveForeignEntry();
}

}  // namespace detail

namespace internal {
// Any caller; reads what CheckPreempt would decide, changes nothing.
bool PreemptPending() {
  M* m = GetM();
  if (m == nullptr || m->is_m0 || m->nowakep > 0 || m->nopreempt > 0) return false;
  P* p = m->p;
  G* g = m->curg;
  return p != nullptr && g != nullptr && g->lockedm == nullptr &&
         p->preempt.load(std::memory_order_relaxed);
}
}  // namespace internal

// Any caller; yields only a fiber whose P sysmon marked (see runtime.h).
// The mark is cleared here, and whenever the P runs another G. Go: the
// morestack check of a preempted goroutine (newstack's gopreempt_m).
void CheckPreempt() {
  M* m = GetM();
  if (m == nullptr) return;
  P* p = m->p;  // null on m0, in a system call, or without a P
  if (p == nullptr || !p->preempt.load(std::memory_order_relaxed)) return;
  G* g = m->curg;
  if (g == nullptr || m->is_m0) return;  // on g0 (timer code starting a fiber)
  // Inside a NoWakeP scope the fiber has promised to give the P up itself
  // in a moment, and must not move meanwhile: the mark waits for the next
  // check (Go: a goroutine holding locks is not preempted either).
  if (m->nowakep > 0) return;
  if (m->nopreempt > 0) return;  // holds a runtime lock: the mark waits (Go: m.locks)
  p->preempt.store(false, std::memory_order_relaxed);
  if (g->lockedm != nullptr) return;  // a locked fiber is never preempted
  YieldPreempted(g);
}

// The running G only. Go: Gosched.
void Gosched() {
  G* g = GetG();
  if (g == nullptr) {
    sched_yield();
    return;
  }
  Yield(g);
}

// The running G only. Go: Goexit.
void Goexit() {
  G* g = GetG();
  if (g == nullptr) throw Panic("gort: Goexit called outside a fiber");
  g->goexiting = true;  // runtime::Unwinding() from here on
  throw ForcedUnwind{};
}

namespace {
// One nesting count of the running fiber's lock to its M: lock_ext for the
// user's LockOSThread, lock_int for the runtime's own. The fiber is locked
// while either is above zero. Go: dolockOSThread / dounlockOSThread.
void DoLockOSThread(uint32_t G::*depth) {
  M* m = GetM();
  G* g = m != nullptr ? m->curg : nullptr;
  if (g == nullptr) return;
  if (g->*depth == UINT32_MAX) throw Panic("LockOSThread nesting overflow");
  (g->*depth)++;
  m->lockedg = g;
  g->lockedm = m;
}

void DoUnlockOSThread(uint32_t G::*depth) {
  M* m = GetM();
  G* g = m != nullptr ? m->curg : nullptr;
  if (g == nullptr || g->*depth == 0) return;
  (g->*depth)--;
  if (g->lock_ext == 0 && g->lock_int == 0) {
    m->lockedg = nullptr;
    g->lockedm = nullptr;
  }
}
}  // namespace

// Go: LockOSThread. Outside a fiber the caller is a plain thread, which is
// trivially "locked" to itself.
void LockOSThread() { DoLockOSThread(&G::lock_ext); }

// Go: UnlockOSThread. Unlocking more often than locking is a no-op, as in
// Go.
void UnlockOSThread() { DoUnlockOSThread(&G::lock_ext); }

int GOMAXPROCS(int n) {
  if (!sched.running.load(std::memory_order_acquire)) return 0;
  if (n < 1) return sched.gomaxprocs.load(std::memory_order_acquire);
  return ResizeProcs(n);
}

ExternalWaker::ExternalWaker() { sched.nexternal_wakers.fetch_add(1, std::memory_order_acq_rel); }
ExternalWaker::~ExternalWaker() {
  if (sched.nexternal_wakers.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    LockGuard l(sched.lock);
    CheckDead();
  }
}

namespace internal {
// Go: lockOSThread / unlockOSThread (the runtime's own, lockedInt).
void LockOSThreadInternal() { DoLockOSThread(&G::lock_int); }
void UnlockOSThreadInternal() { DoUnlockOSThread(&G::lock_int); }

int ThreadsInUse() { return sched.nthreads.load(std::memory_order_relaxed); }
int ThreadLimit() { return sched.max_threads; }

NoWakeP::NoWakeP() {
  M* m = GetM();
  if (m == nullptr || CurrentG(m) == nullptr) m = nullptr;
  if (m != nullptr) m->nowakep++;
  m_ = m;
}

NoWakeP::~NoWakeP() {
  auto* m = static_cast<M*>(m_);
  if (m == nullptr) return;
  if (GetM() != m) Throw("NoWakeP: the fiber parked inside the scope");
  m->nowakep--;
}

int ProcessReapers() { return sched.process_reapers; }

uint64_t RunGeneration() {
  LockGuard l(sched.lock);
  return sched.generation;
}

bool OthersWaitForP() {
  M* m = GetM();
  P* p = m != nullptr ? m->p : nullptr;
  if (p == nullptr) return false;
  return !RunqEmpty(p) || sched.runq_size.load(std::memory_order_acquire) > 0;
}
int ShutdownEventFd() { return sched.shutdown_fd; }
bool IdlePAvailable() { return sched.npidle.load(std::memory_order_acquire) > 0; }
RuntimeStats ReadRuntimeStats() {
  auto r = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  return RuntimeStats{r(stats.futex_wakes), r(stats.futex_sleeps), r(stats.threads_created),
                      r(stats.m_wakeups),   r(stats.handoffs),     r(stats.retakes)};
}

bool ShuttingDown() { return sched.shutdown.load(std::memory_order_acquire); }
}  // namespace internal

int NumGoroutine() { return sched.ngoroutines.load(std::memory_order_acquire); }

int NumCPU() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

std::uint64_t GoID() {
  G* g = GetG();
  return g != nullptr ? g->id : 0;
}

pid_t ThreadID() {
  M* m = GetM();
  return m != nullptr ? m->tid : gettid();
}

}  // namespace gort::runtime
