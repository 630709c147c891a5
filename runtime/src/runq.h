// Run queues. Each P has a local queue: a bounded ring that only its owner
// pushes to and pops from and that other Ms steal half of, plus a one-slot
// `runnext` for the G it readied last (so a G and the one it woke share a
// time slice). Overflow goes to the global queue, a list under sched.lock
// that plain threads use too. Go: runqput, runqget, runqsteal, globrunqput,
// globrunqget.
#ifndef GORT_RUNTIME_SRC_RUNQ_H_
#define GORT_RUNTIME_SRC_RUNQ_H_

#include <cstdint>

#include "proc.h"

namespace gort::runtime::internal {

// After this many runnext picks in a row, RunqGet takes the queue's head
// first: fibers that ready each other would otherwise run forever ahead of
// the rest of the local queue. (Go lets the pair share one time slice and
// preempts it after 10 ms; gort cannot preempt.)
constexpr uint32_t kMaxRunnextStreak = 61;
// Every this many scheduling ticks the scheduler looks at the global queue
// before the local one, so that local work cannot starve it. Go: the
// `schedtick%61 == 0` check in findRunnable.
constexpr uint32_t kGlobalQueueTick = 61;
// A thief that finds only a running P's runnext waits this long before
// taking it: the P is usually about to run it itself (a G that readied
// another and is about to park), and stealing it makes the pair ping-pong
// between Ps. Go: the usleep(3) in runqgrab.
constexpr int64_t kRunnextGraceNs = 3000;

// Puts g on p's local queue (next: into runnext, kicking the old runnext to
// the tail); half the queue moves to the global queue when it is full.
// Owner P only.
void RunqPut(P* p, G* g, bool next);
// Takes p's next G (runnext first, within kMaxRunnextStreak), or null.
// Owner P only.
G* RunqGet(P* p);
// Whether p has no local work. Any thread; a snapshot.
bool RunqEmpty(P* p);
// Moves half of p2's local queue to p's and returns one of those Gs, or
// null; steal_runnext also considers p2's runnext. Owner of p only.
G* RunqSteal(P* p, P* p2, bool steal_runnext);

// The global queue.
void GlobRunqPut(G* g) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
// Takes a fair share of the global queue (at most max when max > 0) onto
// p's local queue and returns one of them, or null. Owner of p only.
G* GlobRunqGet(P* p, int max) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_RUNQ_H_
