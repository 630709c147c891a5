// Deadlock detection. An M that goes idle (or a waker that goes away) asks
// whether any fiber can ever run again; if none can, sysmon confirms after a
// grace period and the program dies as Go's does ("all goroutines are
// asleep - deadlock!"). Plain threads that use the runtime, pending timers,
// ExternalWakers and waits on descriptors (the poller) count as possible
// wakers. Go: checkdead.
#ifndef GORT_RUNTIME_SRC_DEADLOCK_H_
#define GORT_RUNTIME_SRC_DEADLOCK_H_

#include <cstdint>

#include "proc.h"

namespace gort::runtime::internal {

enum class DeadState { kAlive, kDeadlock, kNoGoroutines };
// Whether no fiber can ever run again, as far as the runtime can see.
DeadState EvalDead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
// Marks a dead state as suspect and wakes sysmon to confirm it after
// kDeadlockGraceNs: a plain thread of the embedding program that has not
// touched the runtime yet may be about to ready a fiber.
void CheckDead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
[[noreturn]] void ThrowDead(DeadState s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
constexpr int64_t kDeadlockGraceNs = 100 * 1000 * 1000;

// v more (v > 0) or fewer Ms sleep with a locked G that parked.
void IncIdleLocked(int v);
// A plain thread (not an M) is about to ready a fiber or block on a runtime
// object: while it lives it may do so again, so parked fibers are not dead.
void RegisterForeignThread();
// Marks the calling thread as the runtime's own (the Run thread, sysmon),
// which never counts as a plain thread.
void SetRunThread(bool v);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_DEADLOCK_H_
