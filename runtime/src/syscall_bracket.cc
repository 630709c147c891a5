// The system-call bracket: see syscall_bracket.h. Protocol:
//   - EnterSyscall leaves the P in kSyscall with m->oldp pointing at it; from
//     then on sysmon may take it with a CAS to kIdle and hand it off.
//   - ExitSyscall CASes its old P back from kSyscall (fast path 1), else
//     takes any idle P (fast path 2), else switches to g0, which queues the
//     G and stops the M (ExitSyscall0).
//   - errno is the caller's: the fast paths never touch it, the slow path
//     carries it to the thread the G resumes on.
#include "syscall_bracket.h"

#include <cerrno>

#include "execute.h"
#include "fatal.h"
#include "gort/runtime.h"
#include "runq.h"
#include "schedule.h"

namespace gort::runtime {
namespace internal {

// Go: exitsyscall0.
G* ExitSyscall0(M* m, G* g) {
  CasGStatus(g, GStatus::kSyscall, GStatus::kRunnable);
  g->m = nullptr;
  P* p;
  {
    LockGuard l(sched.lock);
    p = sched.shutdown.load(std::memory_order_relaxed) ? nullptr : PidleGet();
    if (p == nullptr) GlobRunqPut(g);
  }
  if (p != nullptr) {
    AcquireP(m, p);
    return g;
  }
  return nullptr;  // the loop stops this M (or waits for its locked G)
}

bool RetakeSyscallP(P* p) {
  if (!CasPStatus(p, PStatus::kSyscall, PStatus::kIdle)) return false;
  p->syscalltick.fetch_add(1, std::memory_order_relaxed);
  HandoffP(p);
  return true;
}

void GiveUpSyscallP(M* m) {
  P* p = m->oldp;
  if (p == nullptr) return;  // EnterSyscallBlock gave it away already
  m->oldp = nullptr;
  (void)RetakeSyscallP(p);  // false: sysmon took it
}

// Sysmon's retake, done by the M in the call itself. Go has no such call
// (its raw syscalls choose entersyscall or entersyscallblock up front).
void HandOffSyscallP() {
  M* m = GetM();
  G* g = CurrentG(m);
  if (g == nullptr) return;
  if (g->status.load(std::memory_order_relaxed) != GStatus::kSyscall) {
    Throw("handoffsyscallp: not in a system call");
  }
  GiveUpSyscallP(m);
}

}  // namespace internal

using namespace internal;  // NOLINT: the runtime's own front door

namespace {
G* SyscallG(const char* who) {
  M* m = GetM();
  G* g = CurrentG(m);
  if (g != nullptr && m->p == nullptr) Throw(who);
  return g;
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
  SetPStatus(p, PStatus::kRunning, PStatus::kSyscall);
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
  G* g = CurrentG(m);
  if (g == nullptr) return;
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
    if (CasPStatus(oldp, PStatus::kSyscall, PStatus::kIdle)) {
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
