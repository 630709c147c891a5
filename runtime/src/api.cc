// The calls of <gort/runtime.h> other than Run: fiber start, yield, exit,
// thread locking, system-call brackets and the queries.
#include <sched.h>
#include <unistd.h>

#include <cerrno>

#include "fatal.h"
#include "gort/internal/runtime_support.h"
#include "gort/runtime.h"
#include "proc.h"

namespace gort::runtime {
namespace internal {
G* NewG(std::size_t size, std::size_t align, void (*invoke)(void*, bool));
void DropNewG(G* g);
void QueueNewG(G* g);
}  // namespace internal

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
            "(runtime::Run is returning; the fiber was not started)");
      }
      throw Panic("gort: Go called while the runtime is not running (call it inside runtime::Run)");
    }
  } else if (!sched.running.load(std::memory_order_acquire)) {
    throw Panic("gort: Go called while the runtime is not running (call it inside runtime::Run)");
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
}

void AbandonFiber(void* g) {
  DropNewG(static_cast<G*>(g));
  LeaveForeignEntry();
}

}  // namespace detail

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
  if (GetG() == nullptr) throw Panic("gort: Goexit called outside a fiber");
  throw ForcedUnwind{};
}

// Go: LockOSThread / dolockOSThread. Outside a fiber the caller is a plain
// thread, which is trivially "locked" to itself.
void LockOSThread() {
  M* m = GetM();
  G* g = m != nullptr ? m->curg : nullptr;
  if (g == nullptr) return;
  if (g->lock_ext == UINT32_MAX) throw Panic("LockOSThread nesting overflow");
  g->lock_ext++;
  m->lockedg = g;
  g->lockedm = m;
}

// Go: UnlockOSThread / dounlockOSThread. Unlocking more often than locking is
// a no-op, as in Go.
void UnlockOSThread() {
  M* m = GetM();
  G* g = m != nullptr ? m->curg : nullptr;
  if (g == nullptr || g->lock_ext == 0) return;
  g->lock_ext--;
  if (g->lock_ext == 0 && g->lock_int == 0) {
    m->lockedg = nullptr;
    g->lockedm = nullptr;
  }
}

int GOMAXPROCS(int n) {
  if (!sched.running.load(std::memory_order_acquire)) return 0;
  int old = sched.gomaxprocs.load(std::memory_order_acquire);
  if (n < 1) return old;
  if (n > kMaxProcs) n = kMaxProcs;
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
          p->status.store(PStatus::kDead, std::memory_order_release);
        } else {
          link = &p->link;
        }
      }
    }
  }
  for (int i = 0; i < woken; i++) WakeP();
  return old;
}

ExternalWaker::ExternalWaker() { sched.nexternal_wakers.fetch_add(1, std::memory_order_acq_rel); }
ExternalWaker::~ExternalWaker() {
  if (sched.nexternal_wakers.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    LockGuard l(sched.lock);
    CheckDead();
  }
}

namespace internal {
int ThreadsInUse() { return sched.nthreads.load(std::memory_order_relaxed); }
int ThreadLimit() { return sched.max_threads; }
int ShutdownEventFd() { return sched.shutdown_fd; }
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

// ---------------------------------------------------------------------------
// System calls. Go: entersyscall, entersyscallblock, exitsyscall.

namespace {
G* SyscallG(const char* who) {
  M* m = GetM();
  if (m == nullptr || m->curg == nullptr || m->is_m0) return nullptr;
  if (m->p == nullptr) Throw(who);
  return m->curg;
}
}  // namespace

void EnterSyscall() {
  G* g = SyscallG("entersyscall: no P (nested EnterSyscall?)");
  if (g == nullptr) return;
  M* m = g->m;
  P* p = m->p;
  CasGStatus(g, GStatus::kRunning, GStatus::kSyscall);
  m->oldp = p;
  p->m = nullptr;
  m->p = nullptr;
  // From here sysmon may take p (CAS kSyscall -> kIdle).
  p->status.store(PStatus::kSyscall, std::memory_order_release);
}

void EnterSyscallBlock() {
  G* g = SyscallG("entersyscallblock: no P (nested EnterSyscall?)");
  if (g == nullptr) return;
  M* m = g->m;
  CasGStatus(g, GStatus::kRunning, GStatus::kSyscall);
  P* p = ReleaseP(m);
  p->syscalltick.fetch_add(1, std::memory_order_relaxed);
  m->oldp = nullptr;
  HandoffP(p);
}

void ExitSyscall() {
  M* m = GetM();
  if (m == nullptr || m->curg == nullptr || m->is_m0) return;
  G* g = m->curg;
  if (g->status.load(std::memory_order_relaxed) != GStatus::kSyscall) {
    Throw("exitsyscall: not in a system call");
  }
  // errno belongs to the thread the call ran on, which is this one until the
  // slow path below; the caller reads it after we return, maybe elsewhere.
  // The fast paths leave it alone (the runtime's futex calls keep errno).
  const int saved_errno = errno;
  P* oldp = m->oldp;
  m->oldp = nullptr;
  // Fast path 1: our P is still waiting for us.
  if (oldp != nullptr && oldp->id < sched.gomaxprocs.load(std::memory_order_acquire)) {
    PStatus expected = PStatus::kSyscall;
    if (oldp->status.compare_exchange_strong(expected, PStatus::kIdle, std::memory_order_acq_rel)) {
      AcquireP(m, oldp);
      oldp->syscalltick.fetch_add(1, std::memory_order_relaxed);
      CasGStatus(g, GStatus::kSyscall, GStatus::kRunning);
      return;
    }
  }
  // Fast path 2: any idle P.
  if (sched.npidle.load(std::memory_order_acquire) > 0 &&
      !sched.shutdown.load(std::memory_order_acquire)) {
    P* p;
    {
      LockGuard l(sched.lock);
      p = PidleGet();
    }
    if (p != nullptr) {
      AcquireP(m, p);
      CasGStatus(g, GStatus::kSyscall, GStatus::kRunning);
      return;
    }
  }
  // Slow path: queue the G and stop this M (on g0). We resume with a P, or,
  // at shutdown, on the Run thread to be unwound. ExitSyscall is called from
  // destructors (BlockingSyscall), so it is never the point where the
  // shutdown unwind is thrown: the fiber goes on and is unwound at its next
  // park, yield or wait.
  SwitchRequest req{SwitchKind::kExitSyscall};
  McallNoUnwind(g, &req);
  SetErrno(saved_errno);
}

}  // namespace gort::runtime
