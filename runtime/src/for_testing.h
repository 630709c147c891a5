// The scheduler internals that gort's unit tests drive directly: the run
// queues (runq.h) and the timer heap (timers.h) without a running runtime,
// and the M-lifecycle hook points (mthread.h). Only tests include this
// header; nothing in the runtime does, and it is installed nowhere.
#ifndef GORT_RUNTIME_SRC_FOR_TESTING_H_
#define GORT_RUNTIME_SRC_FOR_TESTING_H_

#include <memory>
#include <vector>

#include "mthread.h"
#include "runq.h"
#include "timers.h"

namespace gort::runtime::internal::fortest {

// A P outside the scheduler (not in allp), owned by the test. Its status is
// kIdle, so that a thief takes its runnext without the grace period.
inline std::unique_ptr<P> NewDetachedP(int id) {
  auto p = std::make_unique<P>();
  p->id = id;
  p->status.store(PStatus::kIdle, std::memory_order_relaxed);
  return p;
}

// Takes every G off the global run queue, in order (a test that overflows a
// local queue finds the overflow there). Needs a detached P to pass through.
inline std::vector<G*> DrainGlobalRunq(P* scratch) {
  std::vector<G*> out;
  LockGuard l(sched.lock);
  while (G* g = GlobRunqGet(scratch, 1)) out.push_back(g);
  return out;
}

// Whether m has left its scheduling loop for good (under sched.lock).
inline bool Exited(M* m) {
  LockGuard l(sched.lock);
  return m->exited;
}

// Ms sleeping with their locked G parked (StopLockedM).
inline int IdleLockedMs() {
  LockGuard l(sched.lock);
  return sched.nmidlelocked;
}

// The calling thread's M (null on a plain thread).
inline M* CurrentM() { return GetM(); }

}  // namespace gort::runtime::internal::fortest

#endif  // GORT_RUNTIME_SRC_FOR_TESTING_H_
