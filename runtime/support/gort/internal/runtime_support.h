// What gort's own syscall and os layers need from the runtime beyond its
// public headers. Installed nowhere: user code has no business here.
#ifndef GORT_INTERNAL_RUNTIME_SUPPORT_H_
#define GORT_INTERNAL_RUNTIME_SUPPORT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "gort/runtime.h"

namespace gort::runtime::internal {

// The thread budget: threads the runtime has now (Ms and sysmon) and
// Options::max_threads.
int ThreadsInUse();
int ThreadLimit();

// runtime::LockOSThread for the layers above, which lock a fiber to its
// thread without changing the thread (a process waiter, a reaper): while it
// is locked, its M still starts new Ms itself, where a fiber locked by the
// user may have changed its thread (unshare, setns, affinity) and new Ms
// are cloned by sysmon instead. Nest; each Lock needs its Unlock. Outside a
// fiber they do nothing. Go: lockOSThread / unlockOSThread.
void LockOSThreadInternal();
void UnlockOSThreadInternal();

// While one is alive, a fiber that the calling fiber readies or starts on
// its own P (which holds nothing else) wakes no idle P: the caller promises
// to give the P up right after (park, exit, or enter a blocking system
// call), so the readied fiber runs next on this P or on the M the P is
// handed to, and a woken P would only spin. Nothing in the scope may park,
// and the fiber is not preempted inside it.
// Outside a fiber it does nothing.
class NoWakeP {
 public:
  NoWakeP();
  ~NoWakeP();
  NoWakeP(const NoWakeP&) = delete;
  NoWakeP& operator=(const NoWakeP&) = delete;

 private:
  void* m_;
};

// Options::process_reapers (or $GORT_PROCESS_REAPERS) as the current Run
// resolved it: 0 for a waiter per child.
int ProcessReapers();
// Which Run this is: bumped by every Run, so that per-Run state kept by the
// layers above (the reaper fibers) can tell a new Run from the old one.
uint64_t RunGeneration();

// Whether fibers are queued for the calling fiber's P (or globally): a
// system call known to take a while (a fork) should then hand the P off at
// once (EnterSyscallBlock) rather than leave them to sysmon's retake.
bool OthersWaitForP();

// Inside an EnterSyscall bracket, about to block for long: gives the P
// away now (to an M for the work queued on it, else to the idle list), as
// sysmon would after a tick, unless sysmon took it already. The fiber then
// needs a P again only at ExitSyscall. Readying fibers inside any bracket
// queues them globally (the fiber holds no P there), so a fiber that stays
// in a bracket for a child's whole life may still Send to a buffered
// channel that has room, or Close one; it must never park.
void HandOffSyscallP();

// A fiber inside a system-call bracket may end there (return from its
// function) without ExitSyscall: it never takes a P back, its M goes idle.
// For the runtime's own fibers whose last act is to ready another (a
// process waiter): when every P is busy, taking one back only to end costs
// two thread switches (the M queues the fiber and sleeps until another M
// hands over its P). Whether a P is idle now (then ExitSyscall takes it at
// once, and the readied fiber can run next on it):
bool IdlePAvailable();

// An eventfd that becomes readable once shutdown has begun (the main fiber
// returned) and stays readable until Run returns; -1 outside Run. A system
// call that may wait indefinitely polls it beside its own descriptor, so
// that Run never waits for something nobody waits for (a running child).
int ShutdownEventFd();
// Whether shutdown has begun.
bool ShuttingDown();

// Whether the calling thread is one of the runtime's Ms, which block
// SIGPIPE for good: a write there needs no mask change to turn a broken
// pipe into EPIPE (it takes the pending signal off after EPIPE).
bool SigpipeBlockedHere();

// Event counters since the process started (runtime/src/stats.h), for
// benchmarks that report what an operation costs the scheduler.
struct RuntimeStats {
  uint64_t futex_wakes, futex_sleeps, threads_created, m_wakeups, handoffs, retakes;
};
RuntimeStats ReadRuntimeStats();

// Randomized schedules (GORT_RANDOM_SCHEDULE builds): a point where the
// calling thread may yield or stall at random, for the layers above the
// runtime (the process wait map). A no-op in other builds. ScheduleSeed is
// the seed in use, 0 when the option is off.
void SchedulePoint();
uint64_t ScheduleSeed();

// Descriptors on the runtime's poller (runtime/src/netpoll.cc), for
// gort::poll and os::File. Edge-triggered: wait after an operation failed
// with EAGAIN. A descriptor is registered (and made non-blocking) at its
// first wait or PollRegister, once per Run, until PollForget.
enum PollMode : int { kPollRead = 1, kPollWrite = 2 };
enum class PollResult {
  kReady,    // an edge arrived (or the wait was kicked): retry the operation
  kClosing,  // PollEvict / PollForget: the descriptor is being closed through gort
  kTimeout,  // *deadline passed
  kError,    // registration failed; *err holds the errno
};
// Waits until fd may be ready for `mode` (spurious kReady is possible),
// *deadline (Unix nanoseconds; INT64_MAX: none) has passed, or fd is closed
// through gort. *deadline is re-read whenever PollKick wakes the waiter. A
// fiber parks; a plain thread sleeps (outside Run: in poll(2)).
PollResult PollWait(int fd, int mode, const std::atomic<int64_t>* deadline, int* err);
// Registers fd now if the runtime runs; makes it non-blocking either way.
// Returns 0 or an errno.
int PollRegister(int fd);
// The deadline of `mode` changed: waiters for it re-read theirs.
void PollKick(int fd, int mode);
// fd is being closed: its waiters, and every wait from now on, get
// kClosing until PollForget. Go: pollDesc.evict.
void PollEvict(int fd);
// fd is about to be closed: drop its registration (waiters get kClosing).
void PollForget(int fd);

// For the C API (c/src/c_api.cc):
// The calling fiber's slot for gort_last_error (the fiber being unwound at
// shutdown included); null outside a fiber.
std::string* FiberLastError();
// Run, with its failures as a status instead of a gort::Panic: those of
// Start, and ResourceExhausted when no stack could be mapped for the main
// fiber. A panic of the main fiber itself still aborts, as in Run.
absl::Status RunStatus(std::function<void()> main_fiber, Options options);
// True when CheckPreempt, called now by this fiber, would yield: the P is
// marked and the fiber is neither locked nor inside a NoWakeP scope. A VM
// asks first so that it can release its own lock before yielding.
bool PreemptPending();

// Tests only: the next n fiber-stack allocations fail as if mmap had
// returned ENOMEM (where RLIMIT_AS cannot be used, as under sanitizers).
void FailStackAllocsForTesting(int n);

}  // namespace gort::runtime::internal

#endif  // GORT_INTERNAL_RUNTIME_SUPPORT_H_
