// Deadlock detection: see deadlock.h. Protocol: the counts it reads (idle
// Ms, locked idle Ms, plain threads) change under sched.lock, and every
// change that can make the state dead calls CheckDead under that lock; the
// wakers counted by atomics (timers, ExternalWakers) call it when the last
// one goes. Descriptor waiters need no call: the last one leaves by being
// readied, and its fiber's M goes idle (and checks) after running it. sysmon confirms a suspect
// state after kDeadlockGraceNs.
#include "deadlock.h"

#include <cstdlib>

#include "fatal.h"
#include "netpoll.h"
#include "sysmon.h"

namespace gort::runtime::internal {

void IncIdleLocked(int v) {
  LockGuard l(sched.lock);
  sched.nmidlelocked += v;
  if (v > 0) CheckDead();
}

// Go: checkdead's test.
DeadState EvalDead() {
  if (!sched.running.load(std::memory_order_relaxed) ||
      sched.shutdown.load(std::memory_order_relaxed) ||
      sched.main_finished.load(std::memory_order_relaxed) ||
      sched.embedded.load(std::memory_order_relaxed)) {
    return DeadState::kAlive;
  }
  int run = sched.mcount - sched.nmidle - sched.nmidlelocked;
  if (run > 0) return DeadState::kAlive;
  if (run < 0) {
    BeginFatal();
    WriteErr("runtime: checkdead: nmidle=");
    WriteErrNum(static_cast<uint64_t>(sched.nmidle));
    WriteErr(" nmidlelocked=");
    WriteErrNum(static_cast<uint64_t>(sched.nmidlelocked));
    WriteErr(" mcount=");
    WriteErrNum(static_cast<uint64_t>(sched.mcount));
    WriteErr("\n");
    Throw("checkdead: inconsistent counts");
  }
  if (sched.nforeign > 0) return DeadState::kAlive;
  if (sched.ntimers.load(std::memory_order_acquire) > 0)
    return DeadState::kAlive;  // a sleeper will wake
  if (sched.nexternal_wakers.load(std::memory_order_acquire) > 0) return DeadState::kAlive;
  // Fibers (or threads) waiting on descriptors: something outside the
  // process may make one ready, as Go treats goroutines blocked in netpoll.
  if (NetpollWaiters() > 0) return DeadState::kAlive;
  if (sched.runq_size.load(std::memory_order_relaxed) > 0)
    return DeadState::kAlive;  // a wake-up is in flight
  if (sched.main_goexited && sched.ngoroutines.load(std::memory_order_relaxed) == 0) {
    return DeadState::kNoGoroutines;
  }
  return DeadState::kDeadlock;
}

// Caller holds sched.lock. Called whenever an M goes idle or a waker goes
// away. Go aborts at once; gort lets sysmon confirm the state after a grace
// period, because a plain thread of the embedding program that has not
// touched the runtime yet may be about to ready a fiber (Go has no such
// threads; an embedded runtime does). Go: checkdead.
void CheckDead() {
  if (EvalDead() == DeadState::kAlive) return;
  if (!sched.deadlock_suspect) {
    sched.deadlock_suspect = true;
    sched.deadlock_since = Nanotime();
    SysmonWake();
  }
}

// Prints Go's message, then one header per parked fiber with what it waits
// for ("goroutine 1 [select (no cases)]:"), as Go's traceback does (gort
// has no stack to print under it). Caller holds sched.lock; nothing runs.
void ThrowDead(DeadState s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  if (s == DeadState::kNoGoroutines)
    Throw("no goroutines (main called runtime.Goexit) - deadlock!");
  WriteErr("fatal error: all goroutines are asleep - deadlock!\n");
  {
    LockGuard l(sched.allglock);
    for (G* g : sched.allgs) {
      if (g->status.load(std::memory_order_acquire) != GStatus::kWaiting) continue;
      WriteGoroutineHeader(g->id, g->wait_reason != nullptr ? g->wait_reason : "waiting");
    }
  }
  WriteScheduleSeed();
  abort();
}

namespace {

struct ForeignRegistration {
  uint64_t generation = 0;
  ~ForeignRegistration() {
    if (generation == 0) return;
    LockGuard l(sched.lock);
    if (generation == sched.generation && sched.running.load(std::memory_order_relaxed)) {
      sched.nforeign--;
      CheckDead();
    }
  }
};
thread_local ForeignRegistration tls_foreign;
thread_local bool tls_is_run_thread = false;

}  // namespace

// A plain thread (not an M) is about to ready a fiber or block on a runtime
// object. While it lives it may do so again, so parked fibers are not
// deadlocked. Any plain thread.
void RegisterForeignThread() {
  if (tls_is_run_thread) return;
  LockGuard l(sched.lock);
  if (tls_foreign.generation != sched.generation) {
    tls_foreign.generation = sched.generation;
    sched.nforeign++;
  }
}

void SetRunThread(bool v) { tls_is_run_thread = v; }

}  // namespace gort::runtime::internal
