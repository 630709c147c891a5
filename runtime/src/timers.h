// Timers: one min-heap per P, run by whichever M schedules on that P and by
// the one idle M that sleeps in the poller until the earliest deadline. Go: runtime/time.go
// (addtimer, deltimer, checkTimers).
#ifndef GORT_RUNTIME_SRC_TIMERS_H_
#define GORT_RUNTIME_SRC_TIMERS_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "proc.h"

namespace gort::runtime::internal {

// A timer in some P's heap. fn runs once `when` (CLOCK_MONOTONIC ns) has
// passed, on whatever M checks that P's timers, with no lock held; it must
// not block (it readies a fiber or sends on a buffered channel). release,
// if set, runs after fn (the heap's reference to the timer's owner).
struct TimerNode {
  int64_t when = 0;
  // Called by whichever M runs the timer, with `seq` as it was when the node
  // was added: an owner that re-arms or stops the timer bumps its own count,
  // and fn compares, so that a firing already under way when the owner
  // changed its mind delivers nothing (Go 1.23: timer.seq).
  void (*fn)(void* arg, uint64_t seq) = nullptr;
  void* arg = nullptr;
  uint64_t seq = 0;
  void (*release)(void* arg) = nullptr;
  std::atomic<P*> p{nullptr};  // the heap holding it; written under that P's timers_lock
  int index = -1;
};

void AddTimer(TimerNode* t);       // any thread; the runtime must be running
bool DelTimer(TimerNode* t);       // true if it was pending (and now is not)
int RunTimers(P* p, int64_t now);  // runs p's expired timers; returns how many
void RunAllTimers(int64_t now);    // every P's (an M without P)
int64_t EarliestTimer();           // 0: none
void ClearTimers();                // shutdown: drop every pending timer

// The heap primitives under AddTimer and friends (the caller holds the
// heap's lock). Exposed for their unit tests (tests/runtime/timer_heap_test).
// Heap order is on `when`; every node's `index` is its position.
void TimerHeapPush(std::vector<TimerNode*>& h, TimerNode* t);
void TimerHeapRemoveAt(std::vector<TimerNode*>& h, int i);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_TIMERS_H_
