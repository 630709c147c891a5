// Running a G and switching: see execute.h. Protocol:
//   - Every switch goes through SwitchTo (switch.h), which saves the leaving
//     fiber's exception state and hands over to the sanitizers.
//   - g0 -> G (Execute, UnwindG) passes a ResumeInfo naming the M; G -> g0
//     (Mcall) passes the SwitchRequest, which g0 carries out once the G's
//     context is saved; G -> G (TryDirectSwitch) passes a ResumeInfo naming
//     the previous G and its request, which the resumed G carries out
//     (PostSwitch).
//   - A resumed G takes the context to return to (OnResume), restores its
//     exception state on the thread it now runs on, and throws the shutdown
//     unwind if it is being unwound (CheckUnwind).
#include "execute.h"

#include <cerrno>
#include <exception>

#include "deadlock.h"
#include "fatal.h"
#include "galloc.h"
#include "runq.h"
#include "schedule.h"
#include "signals.h"
#include "syscall_bracket.h"
#include "sysmon.h"

namespace gort::runtime::internal {
namespace {

SwitchTarget TargetOf(G* g) { return {g->ctx, g->stack.lo, g->stack.size(), g->tsan_fiber}; }
SwitchTarget G0Of(M* m) { return {m->g0ctx, m->g0_lo, m->g0_size, m->tsan_fiber}; }

// The bookkeeping of a finished G, run once its stack is no longer in use
// (on g0, or on the next G after a direct switch). Go: goexit0.
void FinishExit(M* m, G* g) {
  // A G of the runtime's own may end inside a system-call bracket, holding
  // no P (see IdlePAvailable in runtime_support.h).
  if (g->status.load(std::memory_order_relaxed) == GStatus::kSyscall) {
    GiveUpSyscallP(m);  // one EnterSyscall left attached
    CasGStatus(g, GStatus::kSyscall, GStatus::kDead);
  } else {
    CasGStatus(g, GStatus::kRunning, GStatus::kDead);
  }
  g->m = nullptr;
  bool is_main = g->is_main;
  GFree(m->p, g);
  sched.ngoroutines.fetch_sub(1, std::memory_order_acq_rel);
  if (is_main) {
    sched.main_finished.store(true, std::memory_order_release);
    SysmonWake();  // under Run, sysmon is the thread waiting for it
  }
}

void GExit0(M* m, G* g) {
  if (g->lockedm != nullptr) {
    // A fiber that exits locked takes its thread with it (Go >= 1.10): the
    // thread may carry state the fiber changed (unshare, setns, affinity).
    m->lockedg = nullptr;
    m->exiting = true;
  }
  FinishExit(m, g);
}

}  // namespace

// Go: execute (and, after the switch back, the g0 half of mcall).
G* Execute(M* m, G* g) {
  CasGStatus(g, GStatus::kRunnable, GStatus::kRunning);
  g->m = m;
  m->curg = g;
  NextSchedTick(m->p);
  ResumeInfo ri{m};
  Transfer t = SwitchTo(TargetOf(g), &ri, &m->asan_fake);
  // Gs may have switched among themselves meanwhile: the one coming back is
  // the M's current G, not necessarily the one we started.
  g = m->curg;
  g->ctx = t.from;
  m->curg = nullptr;
  if (!StackCanaryIntact(g->stack)) FatalStackOverflow(g);
  auto* req = static_cast<SwitchRequest*>(t.data);
  switch (req->kind) {
    case SwitchKind::kGosched:
    case SwitchKind::kPreempt:
      CasGStatus(g, GStatus::kRunning, GStatus::kRunnable);
      g->m = nullptr;
      if (g->lockedm != nullptr) {
        // A locked G that yields while nothing else is runnable keeps its M.
        if (RunqEmpty(m->p) && sched.runq_size.load(std::memory_order_acquire) == 0) return g;
        LockGuard l(sched.lock);
        GlobRunqPut(g);
        return nullptr;
      }
      // Behind everyone: the global queue when the G was preempted (Go:
      // gopreempt_m), or when fibers wait there (readied by timers run off
      // a P, or by plain threads), which the local tail would put it ahead
      // of for up to kGlobalQueueTick schedules (Go's Gosched always uses
      // the global queue; the local tail is cheaper when it is empty).
      if (req->kind == SwitchKind::kPreempt ||
          sched.runq_size.load(std::memory_order_acquire) > 0) {
        LockGuard l(sched.lock);
        GlobRunqPut(g);
        return nullptr;
      }
      RunqPut(m->p, g, false);
      return nullptr;
    case SwitchKind::kPark:
      CasGStatus(g, GStatus::kRunning, GStatus::kWaiting);
      g->m = nullptr;
      // From here on, whoever the unlock function lets in may ready g.
      if (req->unlock != nullptr && !req->unlock(req->arg)) {
        CasGStatus(g, GStatus::kWaiting, GStatus::kRunnable);
        return g;
      }
      return nullptr;
    case SwitchKind::kExit:
      GExit0(m, g);
      return nullptr;
    case SwitchKind::kExitSyscall:
      return ExitSyscall0(m, g);
  }
  Throw("execute: bad switch request");
}

namespace {

// The resumed side of a direct G-to-G switch: prev's context is saved now, so
// its request can be carried out. Go has no counterpart (its gosched and park
// always go through g0).
void PostSwitch(M* m, G* prev, Context prev_ctx, SwitchRequest* req) {
  if (req->kind == SwitchKind::kExit) {
    FinishExit(m, prev);
    return;
  }
  prev->ctx = prev_ctx;
  prev->m = nullptr;
  if (req->kind == SwitchKind::kGosched) {
    CasGStatus(prev, GStatus::kRunning, GStatus::kRunnable);
    RunqPut(m->p, prev, false);
    return;
  }
  CasGStatus(prev, GStatus::kRunning, GStatus::kWaiting);
  if (req->unlock != nullptr && !req->unlock(req->arg)) {
    CasGStatus(prev, GStatus::kWaiting, GStatus::kRunnable);
    RunqPut(m->p, prev, true);
  }
}

// Everything a G does right after it is switched to: take its M's g0 context
// (or finish the previous G's direct switch), then restore what travels with
// the fiber.
M* OnResume(G* g, Transfer t) {
  auto* ri = static_cast<ResumeInfo*>(t.data);
  M* m = ri->m;
  if (ri->prev != nullptr) {
    PostSwitch(m, ri->prev, t.from, ri->req);
  } else {
    m->g0ctx = t.from;
  }
  if (g != nullptr) RestoreEh(m->eh_globals, g->eh);
  return m;
}

void CheckUnwind(G* g) {
  if (g->unwinding.load(std::memory_order_acquire)) {
    if (std::uncaught_exceptions() > 0) BlockedWhileUnwinding(g);
    throw ForcedUnwind{};
  }
}

// Switches from g straight to the next runnable G of its P, without g0.
// Returns false when that is not possible here (locked G, fairness tick,
// global work, shutdown, nothing local); the caller then goes through g0.
// The running G only.
bool TryDirectSwitch(G* g, SwitchRequest* req) {
  M* m = g->m;
  P* p = m->p;
  // The same order as FindRunnable: local work first, the global queue on
  // every kGlobalQueueTick-th tick (left to g0).
  if (g->lockedm != nullptr || p == nullptr ||
      p->schedtick.load(std::memory_order_relaxed) % kGlobalQueueTick == 0 ||
      sched.shutdown.load(std::memory_order_relaxed) || IsRetired(p)) {
    return false;
  }
  G* next = RunqGet(p);
  if (next == nullptr) return false;
  if (next->lockedm != nullptr) {  // belongs to another M: let g0 hand it over
    RunqPut(p, next, true);
    return false;
  }
  if (!StackCanaryIntact(g->stack)) FatalStackOverflow(g);
  CasGStatus(next, GStatus::kRunnable, GStatus::kRunning);
  next->m = m;
  m->curg = next;
  NextSchedTick(p);
  ResumeInfo ri{m, g, req};
  if (req->kind == SwitchKind::kExit) {
    // A dying fiber passes no fake-stack slot: ASan frees its fake stack.
    SwitchTo(TargetOf(next), &ri, nullptr);
    Throw("goexit: dead fiber resumed");
  }
  Transfer t = SwitchTo(TargetOf(next), &ri, &g->asan_fake, m->eh_globals, &g->eh);
  OnResume(g, t);
  CheckUnwind(g);
  return true;
}

}  // namespace

namespace {
void McallImpl(G* g, SwitchRequest* req, bool unwind_point) {
  M* m = g->m;
  Transfer t = SwitchTo(G0Of(m), req, &g->asan_fake, m->eh_globals, &g->eh);
  OnResume(g, t);
  if (unwind_point) CheckUnwind(g);
}
}  // namespace

// The G's side of a switch to g0: save what must travel with the fiber, jump,
// and on return (maybe on another M) take the new M's g0 context. The running
// G only. Go: mcall.
void Mcall(G* g, SwitchRequest* req) { McallImpl(g, req, true); }

void McallNoUnwind(G* g, SwitchRequest* req) { McallImpl(g, req, false); }

void BlockedWhileUnwinding(G* g) {
  if (g == nullptr) Throw("the Run thread blocked on a runtime object during shutdown");
  if (std::uncaught_exceptions() == 0) throw ForcedUnwind{};
  BeginFatal();
  WriteErr("runtime: goroutine ");
  WriteErrNum(g->id);
  WriteErr(
      " blocked (on a channel, select, mutex, wait group or sleep) in a destructor "
      "while shutdown was unwinding it; nothing can wake it any more\n");
  Throw("fiber parked while being unwound at shutdown");
}

// errno of the thread running the caller. Not inlined: __errno_location is
// declared const, so a caller's compiler could reuse the address it computed
// before a switch that moved the fiber to another thread.
__attribute__((noinline)) void SetErrno(int e) {
  asm volatile("" ::: "memory");
  errno = e;
}

// Yields: straight to the next local G if there is one, else through g0.
// The running G only. Go: gosched_m (which always goes through g0).
void Yield(G* g) {
  SwitchRequest req{SwitchKind::kGosched};
  if (TryDirectSwitch(g, &req)) return;
  Mcall(g, &req);
}

void YieldPreempted(G* g) {
  SwitchRequest req{SwitchKind::kPreempt};
  Mcall(g, &req);
}

namespace {
[[noreturn]] void McallExit(G* g) {
  SwitchRequest req{SwitchKind::kExit};
  TryDirectSwitch(g, &req);             // returns only if it could not switch
  SwitchTo(G0Of(g->m), &req, nullptr);  // this fiber's fake stack dies with it
  Throw("goexit: dead fiber resumed");
}
}  // namespace

// The bottom frame of every fiber. Never returns.
void GMain(Transfer t) {
  BeginFiber();
  M* m = OnResume(nullptr, t);  // a new fiber has no exception state yet
  G* g = m->curg;
  if (!g->unwinding.load(std::memory_order_acquire)) {
    try {
      g->invoke(g->fn, true);
    } catch (const ForcedUnwind&) {
      if (g->is_main && !g->unwinding.load(std::memory_order_acquire)) {
        LockGuard l(sched.lock);
        sched.main_goexited = true;
        g->is_main = false;  // Go: the program goes on without main
      }
    } catch (const std::exception& e) {
      PanicAbort(g, e.what());
    } catch (...) {
      PanicAbort(g, "(a value that is not a std::exception)");
    }
  } else {
    g->invoke(g->fn, false);
  }
  McallExit(g);
}

// Go: gopark.
void ParkG(G* g, bool (*unlock)(void*), void* arg) {
  SchedulePointHere();
  SwitchRequest req{SwitchKind::kPark, unlock, arg};
  if (TryDirectSwitch(g, &req)) return;
  Mcall(g, &req);
}

// Go has no counterpart: Go's goroutines are not unwound when main returns.
void UnwindG(M* m0, G* g) {
  GStatus s = g->status.load(std::memory_order_acquire);
  if (s != GStatus::kRunnable && s != GStatus::kWaiting) return;
  CasGStatus(g, s, GStatus::kRunning);
  g->readied_before_unwind = (s == GStatus::kRunnable);
  g->unwinding.store(true, std::memory_order_release);
  for (;;) {
    g->m = m0;
    m0->curg = g;
    ResumeInfo ri{m0};
    Transfer t = SwitchTo(TargetOf(g), &ri, &m0->asan_fake);
    g->ctx = t.from;
    m0->curg = nullptr;
    auto* req = static_cast<SwitchRequest*>(t.data);
    if (req->kind == SwitchKind::kExit) break;
    // Gosched or park while unwinding (a destructor that yields): resume it.
    if (req->kind == SwitchKind::kPark && req->unlock != nullptr) req->unlock(req->arg);
  }
  CasGStatus(g, GStatus::kRunning, GStatus::kDead);
  g->m = nullptr;
  sched.ngoroutines.fetch_sub(1, std::memory_order_acq_rel);
  GFree(nullptr, g);
}

}  // namespace gort::runtime::internal
