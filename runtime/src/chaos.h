// Randomized schedules (build option GORT_RANDOM_SCHEDULE). At the points
// where the scheduler's threads interleave (run-queue operations, park and
// ready, P hand-off, every runtime lock release, which covers the channel
// locks, and the process wait map) the calling OS thread may yield its CPU
// or stall for a moment, at random. Races that need a rare interleaving
// then happen often enough for the tests (and TSan) to see them.
//
// The randomness comes from one seed per process: $GORT_SCHEDULE_SEED if
// set, else a fresh one. It is printed once to stderr when first used
// ("gort: random schedule seed N"), and again by a fatal error, so a failing
// run names it; running again with GORT_SCHEDULE_SEED=N gives every thread
// the same stream of decisions. (The OS still interleaves threads as it
// likes, so a replay makes a failure likelier, not certain.)
//
// Without the option, SchedulePoint compiles to nothing.
#ifndef GORT_RUNTIME_SRC_CHAOS_H_
#define GORT_RUNTIME_SRC_CHAOS_H_

#include <cstdint>

namespace gort::runtime::internal {

#ifdef GORT_RANDOM_SCHEDULE
void ChaosPoint();
inline void SchedulePointHere() { ChaosPoint(); }
// True once in n calls, at random: for injecting events that the real
// system produces rarely (a stale wake-up left on an M's note).
bool ChaosOneIn(uint32_t n);
#else
inline void SchedulePointHere() {}
inline bool ChaosOneIn(uint32_t) { return false; }
#endif

// The seed in use; 0 when randomized schedules are not built in.
uint64_t ScheduleSeed();
// The same once chosen, else 0, without choosing it (async-signal-safe).
uint64_t KnownScheduleSeed();

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_CHAOS_H_
