// gort/runtime.h: the M:N scheduler, in Go's terms.
//
// Fibers (Go's goroutines, "G"s) run on OS threads ("M"s) while holding one of
// `procs` processors ("P"s): at most `procs` fibers run at once, and a fiber
// may resume on a different OS thread each time it parks, yields or leaves a
// system call. Nothing here exposes those objects: users see Run, Go and the
// calls Go's runtime package offers.
//
// Ordering: the start of a fiber (Go) happens-before the first statement of its
// function, and everything a fiber did before it parked happens-before it
// resumes, on whatever thread that is. A fiber never runs on two threads at once.
//
// Thread identity: code running in a fiber must not cache a pointer to
// thread_local state (errno included) across anything that may park or yield;
// after it, the fiber may be on another thread. LockOSThread pins the fiber to
// its thread until the matching UnlockOSThread, as in Go >= 1.10.
//
// Signals: the runtime's threads block SIGPIPE (and only it), so that a
// write to a broken pipe is the error EPIPE, as Go arranges for every
// descriptor but 1 and 2. A thread that fiber code creates inherits that
// mask, as it would any: unblock SIGPIPE in it if it relies on the signal.
// Children (gort/syscall.h) start with SIGPIPE unblocked.
//
// Exceptions: an exception that escapes a fiber's function is a panic: gort
// prints "panic: <what()>" and "goroutine N [running]:" and aborts. Goexit and
// runtime shutdown unwind a fiber's stack with an internal exception that is
// not a std::exception; a `catch (...)` in fiber code must rethrow it.
#ifndef GORT_RUNTIME_H_
#define GORT_RUNTIME_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "gort/panic.h"

namespace gort::runtime {

// The default thread limit, Go's (debug.SetMaxThreads).
inline constexpr int kDefaultMaxThreads = 10000;

struct Options {
  int procs = 0;               // Ps; 0: $GORT_MAXPROCS, else the number of CPUs
  std::size_t stack_size = 0;  // bytes per fiber stack; 0: the default (256 KiB, >= 64 KiB)
  int max_threads =
      kDefaultMaxThreads;  // threads; going past it aborts with a clear message, as Go does
  // How children are forked and waited for (gort/syscall.h). 0: Go's
  // algorithm, one locked waiter fiber (and so one OS thread) per running
  // child, unless $GORT_PROCESS_REAPERS names K. K > 0 (at most
  // kMaxProcessReapers): K long-lived reaper fibers, each locked to its own
  // OS thread, fork every child on their thread and wait there for all of
  // them: O(K) threads however many children run.
  int process_reapers = 0;
  // Cooperative preemption (see CheckPreempt): a fiber that has run 10 ms
  // without parking or yielding is asked to yield at its next gort call.
  bool preempt = true;
};
inline constexpr int kMaxProcessReapers = 256;

// Starts the scheduler, runs `main_fiber` as a fiber and returns 0 once it has
// returned and the runtime has shut down: every thread joined, every stack
// freed. As in Go, returning never waits for work nobody waits for, and
// never crashes:
//  * fibers still parked or runnable are destroyed, unwinding their stacks;
//    a destructor that parks during that unwind (a sync::Mutex, a channel) is
//    a fatal error naming the fiber, never a hang;
//  * fibers inside a system-call bracket are waited for, then unwound at
//    their next park; leaving the bracket itself never throws;
//  * child processes still running are left running and are reaped in the
//    background when they exit (gort/syscall.h, "When Run returns");
//  * once shutdown has begun, Go from a plain thread throws gort::Panic.
// Invalid Options throw gort::Panic and leave nothing started. Run may be
// called again after it returns; it is not re-entrant (calling it while it
// runs throws gort::Panic).
int Run(std::function<void()> main_fiber, Options options = {});

// Embedding: the host keeps its own main thread. Start boots the scheduler
// on threads of its own and returns; from then on the host's plain threads
// may start fibers (Go), use channels, select, sync and timers (which block
// the calling thread), and wait for fibers, until Stop. Stop, called from a
// plain thread (any one, not necessarily Start's), shuts the runtime down
// with everything Run's return promises (above): fibers still parked or
// runnable are unwound, running ones are waited for until their next
// scheduling point, children keep running and are reaped in the
// background, every runtime thread is joined and every stack freed. Start
// may be called again after Stop. While started this way:
//  * deadlock detection is off, as in Go's c-archive and c-shared builds:
//    the host may ready a parked fiber at any time;
//  * Stop does not wake the host's threads blocked on a runtime object (a
//    thread in Chan::Recv whose sender is a fiber stays blocked): close the
//    channels they wait on, or have them return, before Stop;
//  * the host's threads may go on using channels, sync and Go while Stop
//    runs (Go then throws the shutdown panic), but must not start timers
//    (time::Sleep, After, Timer) meanwhile: a timer needs a P's heap, and
//    Stop frees the Ps;
//  * Run, or a second Start, fails until Stop.
// Errors (nothing is started or stopped): InvalidArgument for a bad
// option (the messages of Run's panics), FailedPrecondition when called
// from a fiber, when the runtime already runs (Start) or was not started
// by Start (Stop; Run's runtime stops when its main fiber returns),
// Internal when the system refuses a descriptor or a thread.
absl::Status Start(Options options = {});
absl::Status Stop();

// Start in the constructor, Stop in the destructor (if Start succeeded and
// Stop was not called yet). status() says whether Start succeeded.
class ScopedRuntime {
 public:
  explicit ScopedRuntime(Options options = {});
  ~ScopedRuntime();
  ScopedRuntime(const ScopedRuntime&) = delete;
  ScopedRuntime& operator=(const ScopedRuntime&) = delete;
  const absl::Status& status() const { return status_; }
  absl::Status Stop();  // early, to see its status; the destructor then does nothing

 private:
  absl::Status status_;
  bool stopped_ = false;
};

// Whether the calling fiber is being unwound by shutdown (Run returning,
// Stop) or by Goexit, rather than by an exception of its own (a panic). For
// RAII code in a VM: while it is true the fiber must not run the VM, park
// or take locks another fiber may hold; it should only release what it
// holds. False outside a fiber.
bool Unwinding();

namespace detail {
// The type-erased fiber start behind Go(). Internal; do not call directly.
struct NewFiber {
  void* g;        // the G, opaque here
  void* storage;  // where the callable is to be constructed (on the fiber's stack)
};
// invoke(storage, true) runs the callable then destroys it; invoke(storage,
// false) only destroys it (a fiber discarded at shutdown before it started).
NewFiber AllocFiber(std::size_t size, std::size_t align, void (*invoke)(void*, bool));
void StartFiber(void* g);    // the callable is in place: make the fiber runnable
void AbandonFiber(void* g);  // constructing the callable threw: give the G back

template <class Fn>
void InvokeAndDestroy(void* p, bool run) {
  Fn* fn = static_cast<Fn*>(p);
  struct Destroy {
    Fn* fn;
    ~Destroy() { fn->~Fn(); }
  } destroy{fn};
  if (run) (*fn)();
}
}  // namespace detail

// Starts a fiber running fn(). Callable from fibers and from plain threads
// while Run is active or between Start and Stop (else throws gort::Panic). The callable is moved
// onto the new fiber's stack: starting a fiber allocates nothing on the heap once the pool has
// warmed up. The new fiber runs next on the caller's P (Go's runnext), the caller keeps running. If
// no stack can be mapped for the fiber (memory or RLIMIT_AS exhausted), throws gort::Panic
// ("runtime: out of memory: ...") and starts nothing.
template <class F>
void Go(F&& fn) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "Go needs a callable taking no arguments");
  detail::NewFiber nf = detail::AllocFiber(sizeof(Fn), alignof(Fn), &detail::InvokeAndDestroy<Fn>);
  try {
    ::new (nf.storage) Fn(std::forward<F>(fn));
  } catch (...) {
    detail::AbandonFiber(nf.g);
    throw;
  }
  detail::StartFiber(nf.g);
}

void Gosched();  // yield the P, stay runnable (outside a fiber: sched_yield)

// Cooperative preemption, as Go before 1.14 and tokio's budget: sysmon marks
// a fiber that has held its P for 10 ms without parking or yielding, and the
// fiber yields (as Gosched) at its next check. Checks are made at the start
// of channel operations and selects, Go, the out-of-line sync calls
// (RWMutex, Cond, WaitGroup, a contended Mutex), timers and poll::Wait; a
// loop that calls none of them (an interpreter's, a VM's) calls
// CheckPreempt itself now and then, for instance from a count hook. It costs
// a thread-local read and a load when no yield is due. A fiber locked to
// its thread (LockOSThread), inside a system-call bracket or inside the
// runtime's own locked sections is never preempted, nor is anything when
// Options::preempt is false. Code that holds an OS mutex (std::mutex) must
// not make these calls while holding it: a yield there keeps the mutex held
// while other fibers' threads block on it. Outside a
// fiber, a no-op. Go: the stack-bound check of a goroutine's prologue.
void CheckPreempt();
[[noreturn]] void Goexit();  // end the calling fiber, unwinding it (deferred destructors run)
void LockOSThread();         // nesting counter, as Go >= 1.10
void UnlockOSThread();       // no-op when not locked
int GOMAXPROCS(int n);       // returns the previous value; n < 1 only queries
int NumGoroutine();          // fibers that exist now
int NumCPU();                // CPUs this process may run on (its affinity mask)
std::uint64_t GoID();        // id of the calling fiber (0 outside one)
pid_t ThreadID();            // gettid() of the OS thread running the caller

// Deadlock detection. When every fiber is parked and nothing the runtime can
// see may ever ready one (no M running, no system call in flight, no timer,
// no wait on a descriptor (gort/poll.h), no plain thread that has used the
// runtime and is still alive), gort aborts
// with "fatal error: all goroutines are asleep - deadlock!" as Go does, after
// confirming the state for 100 ms. A program whose fibers wait for a plain
// thread that has not touched the runtime yet holds an ExternalWaker for as
// long as that thread may still wake them.
class ExternalWaker {
 public:
  ExternalWaker();
  ~ExternalWaker();
  ExternalWaker(const ExternalWaker&) = delete;
  ExternalWaker& operator=(const ExternalWaker&) = delete;
};

// System calls. Code about to block its OS thread brackets the call so that
// the P can serve other fibers meanwhile (Go's entersyscall / exitsyscall).
// Between the two the fiber must not park, yield or start fibers' work that
// needs a P; it may only make the blocking call. Outside a fiber they do nothing.
void EnterSyscall();       // may block long: sysmon retakes the P after ~20 us
void ExitSyscall();        // take a P again (the old one if it is still free)
void EnterSyscallBlock();  // known to block: hand the P off at once

class BlockingSyscall {  // RAII: EnterSyscallBlock() / ExitSyscall()
 public:
  BlockingSyscall() { EnterSyscallBlock(); }
  ~BlockingSyscall() { ExitSyscall(); }
  BlockingSyscall(const BlockingSyscall&) = delete;
  BlockingSyscall& operator=(const BlockingSyscall&) = delete;
};

}  // namespace gort::runtime

#endif  // GORT_RUNTIME_H_
