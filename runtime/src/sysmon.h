// sysmon: a thread without a P that retakes Ps from Ms stuck in system
// calls, runs overdue timers and confirms deadlocks. Go: sysmon.
#ifndef GORT_RUNTIME_SRC_SYSMON_H_
#define GORT_RUNTIME_SRC_SYSMON_H_

namespace gort::runtime::internal {

void SysmonStart();  // Run; throws gort::Panic if the thread cannot start
void SysmonStop();   // Run, at shutdown
void SysmonWake();   // any thread: look now (a suspected deadlock)

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_SYSMON_H_
