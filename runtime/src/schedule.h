// Scheduling: an M holding a P looks for a runnable G (its timers, the
// queues, other Ps' queues), gives its P away when it has nothing to do or
// must block, and sleeps on its note until handed one again. Spinning Ms
// (looking for work, counted in sched.nmspinning) are kept to at most half
// the busy Ps; whoever readies a G wakes one if none spins. Go: schedule,
// findRunnable, startm, stopm, handoffp, wakep, ready.
#ifndef GORT_RUNTIME_SRC_SCHEDULE_H_
#define GORT_RUNTIME_SRC_SCHEDULE_H_

#include "proc.h"

namespace gort::runtime::internal {

// Steal rounds over every other P before an M gives up its P; the last round
// also takes runnext and runs other Ps' due timers. Go: stealTries.
constexpr int kStealRounds = 4;

// The M's life: find a G, run it, repeat; returns when the M must end
// (shutdown, or a locked G exited and takes the thread with it).
void Schedule(M* m);

// Makes a waiting G runnable: on the caller's P (as runnext) when there is
// one, else on the global queue; then wakes an idle P. Any thread.
void Ready(G* g);
// Ready for n waiting Gs at once: onto the caller's P's queue (not
// runnext), else the global queue under one lock; then wakes an idle P.
// Any thread. Go: injectglist.
void ReadyBatch(G* const* gs, int n);
// Queues a G that NewG made (status kIdle) like Ready, counting it as a
// goroutine. Any thread.
void QueueNewG(G* g);
// Starts a spinning M if a P is idle and nobody spins. Any thread.
void WakeP();
// Gives away a P that its M no longer wants (the M blocks, or a syscall P
// was retaken): to an M if there is work, else to the idle list. Any M
// without a P, or sysmon.
void HandoffP(P* p);
// Schedules some M to run p (an idle P if p is null); spinning: the caller
// counted the new M in nmspinning. Any thread.
void StartM(P* p, bool spinning);

// The idle P list.
P* PidleGet() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
void PidlePut(P* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
// PidlePut for a P that may still have work queued on it (at shutdown, or
// at the thread limit): the work moves to the global queue first.
void PidlePutMovingWork(P* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
// The M takes p (idle and unowned) / gives its P up. Go: acquirep, releasep.
void AcquireP(M* m, P* p);
P* ReleaseP(M* m);

// p's index is beyond GOMAXPROCS: it leaves service at its M's next
// scheduling point. Any thread.
bool IsRetired(P* p);

// Sets GOMAXPROCS to n (1..kMaxProcs); returns the old value.
int ResizeProcs(int n);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_SCHEDULE_H_
