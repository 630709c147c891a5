// sysmon: a thread without a P that retakes Ps from Ms stuck in system
// calls, runs overdue timers, confirms deadlocks and creates the threads of
// Ms that no clean thread could create (the template role). Go: sysmon,
// templateThread. Under Run it is the thread that called Run, which would
// otherwise only sleep until the main fiber returns; under Start (the host
// keeps its thread) it is a thread of its own.
#ifndef GORT_RUNTIME_SRC_SYSMON_H_
#define GORT_RUNTIME_SRC_SYSMON_H_

namespace gort::runtime::internal {

void SysmonStart();  // Start; throws gort::Panic if the thread cannot start
void SysmonStop();   // Start/Stop, at shutdown (no-op if it has no thread)
void SysmonWake();   // any thread: look now (a suspected deadlock, a request)

// Run, on its own thread: SysmonPrepareHere before the first M, then
// SysmonHereUntilMainReturns, and at shutdown, once every M was told to
// stop, SysmonHereUntilMsExit (sysmon must keep going while they stop: it
// preempts a fiber that runs on and creates queued Ms' threads).
void SysmonPrepareHere();
void SysmonHereUntilMainReturns();
void SysmonHereUntilMsExit();

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_SYSMON_H_
