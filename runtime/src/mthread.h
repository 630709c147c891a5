// M lifecycle: creating an OS thread for an M, its start routine, joining
// Ms that exited, and the template role of sysmon. A new M is never cloned
// from an M that the user locked or from a plain thread (whose per-thread
// state, such as an unshared fs or a changed affinity, it would inherit):
// those ask sysmon, which stays clean. Go: newm, newosproc, mstart,
// templateThread, checkmcount.
#ifndef GORT_RUNTIME_SRC_MTHREAD_H_
#define GORT_RUNTIME_SRC_MTHREAD_H_

#include "proc.h"

namespace gort::runtime::internal {

// The stack of every M's OS thread (its g0). Fibers have their own stacks;
// g0 only runs the scheduler, timers and signal handlers.
constexpr std::size_t kMStackSize = 256 * 1024;

// Counts a new runtime thread against sched.max_threads; past it, a fatal
// "thread exhaustion" as in Go. Go: checkmcount.
void CountThread();

// A new M (counted, in allm) that will start holding p (may be null) and
// spinning if `spinning`. Its thread is created by NewM. Go: allocm.
M* AllocM(P* p, bool spinning) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
// Starts m's OS thread: directly from a clean M (or sysmon), else via
// sysmon. Any thread. Go: newm.
void NewM(M* m);

// sysmon's side of the template role: its thread marks itself, and creates
// the queued Ms' threads each time it wakes (and once more as it stops).
void MarkSysmonThread(bool is_sysmon);
void ServeThreadRequests();

// The Run thread becomes the pseudo-M m0, which unwinds fibers at shutdown.
void InitM0(M* m0);
// Shutdown: wake every M sleeping on its note so that it sees the flag.
void ShutdownWakeAllMs();
// Shutdown: join every M's thread, then free them all.
void JoinAllMs();

// Test hooks: named points of the M lifecycle where a test holds a thread to
// force an interleaving (tests/runtime/m_lifecycle_test.cc). No hook is set
// outside tests; each point costs one relaxed load.
enum class MHookPoint {
  kTemplateBeforeCreate,  // sysmon (the template) is about to create a's thread
  kAfterThreadCreate,     // a's thread exists; a is not yet marked created
  kBeforeStartLockedM,    // a is about to hand its P to b, whose locked G it found
};
using MHook = void (*)(MHookPoint point, M* a, M* b);
void SetMHookForTesting(MHook hook);  // null: none
void RunMHook(MHookPoint point, M* a, M* b);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_MTHREAD_H_
