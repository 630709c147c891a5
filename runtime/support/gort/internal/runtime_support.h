// What gort's own syscall and os layers need from the runtime beyond its
// public headers. Installed nowhere: user code has no business here.
#ifndef GORT_INTERNAL_RUNTIME_SUPPORT_H_
#define GORT_INTERNAL_RUNTIME_SUPPORT_H_

#include <cstdint>

namespace gort::runtime::internal {

// The thread budget: threads the runtime has now (Ms, sysmon, the template
// thread) and Options::max_threads.
int ThreadsInUse();
int ThreadLimit();

// An eventfd that becomes readable once shutdown has begun (the main fiber
// returned) and stays readable until Run returns; -1 outside Run. A system
// call that may wait indefinitely polls it beside its own descriptor, so
// that Run never waits for something nobody waits for (a running child).
int ShutdownEventFd();
// Whether shutdown has begun.
bool ShuttingDown();

// Randomized schedules (GORT_RANDOM_SCHEDULE builds): a point where the
// calling thread may yield or stall at random, for the layers above the
// runtime (the process wait map). A no-op in other builds. ScheduleSeed is
// the seed in use, 0 when the option is off.
void SchedulePoint();
uint64_t ScheduleSeed();

// Tests only: the next n fiber-stack allocations fail as if mmap had
// returned ENOMEM (where RLIMIT_AS cannot be used, as under sanitizers).
void FailStackAllocsForTesting(int n);

}  // namespace gort::runtime::internal

#endif  // GORT_INTERNAL_RUNTIME_SUPPORT_H_
