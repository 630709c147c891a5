// G, M, P and the scheduler's global state. Glossary (as Go's proc.go):
//   G     a fiber: a stack, a saved context and a status.
//   M     an OS thread that runs Gs. It runs the scheduler loop on its own
//         native stack ("g0") and switches into a G to run it.
//   P     a processor: the right to run fiber code, and the local run queue.
//         An M must hold a P to run a G; there are GOMAXPROCS of them.
//   sched the global state: global run queue, idle Ps, idle Ms.
// park/ready: a G gives up its M and waits (park) until another readies it.
// handoff: an M that must block gives its P to another M.
// sysmon: a thread that retakes Ps from Ms that sit in system calls.
// Lock order: sched.lock, then sched.gflock / allglock; a Note is never held.
// See runtime/DESIGN.md for the state tables and protocols.
//
// This header holds the data; the code is split along Go's seams, each part
// with its own header:
//   runq.h          local and global run queues        (runq.cc)
//   galloc.h        G allocation, free lists, stacks    (galloc.cc)
//   mthread.h       M lifecycle, sysmon as template     (mthread.cc)
//   schedule.h      finding work, P hand-off, ready     (schedule.cc)
//   execute.h       running a G, switches, park, exit   (execute.cc)
//   syscall_bracket.h  EnterSyscall / ExitSyscall paths (syscall_bracket.cc)
//   deadlock.h      deadlock detection, plain threads  (deadlock.cc)
//   timers.h, sysmon.h, signals.h                       (timers.cc, ...)
#ifndef GORT_RUNTIME_SRC_PROC_H_
#define GORT_RUNTIME_SRC_PROC_H_

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "futex.h"
#include "gort/runtime.h"
#include "stack.h"
#include "switch.h"

namespace gort::runtime::internal {

struct G;
struct M;
struct P;

#ifdef GORT_TEST_SMALL_RUNQ
constexpr uint32_t kRunqSize = 4;
#else
constexpr uint32_t kRunqSize = 256;
#endif
constexpr int kMaxProcs = 1024;
// The fewest threads a runtime can run with: sysmon and two Ms (one running,
// one taking a hand-off).
constexpr int kMinThreads = 3;

// G status. Transitions go through CasGStatus only.
enum class GStatus : uint32_t {
  kIdle,      // in a free list, owned by it (P's gfree or sched.gfree)
  kRunnable,  // in a run queue or being handed to an M; owned by the queue
  kRunning,   // running on g->m, which owns it
  kSyscall,   // running on g->m inside EnterSyscall..ExitSyscall; has no P
  kWaiting,   // parked; owned by whatever will ready it (a wait queue)
  kDead,      // finished, on its way to a free list
};
const char* GStatusName(GStatus s);

// P status.
enum class PStatus : uint32_t {
  kIdle,     // in sched.pidle (or being handed to an M); run queue empty
  kRunning,  // owned by p->m
  kSyscall,  // its M is in a system call; sysmon or the M may take it (CAS)
  kDead,     // not in use (index >= GOMAXPROCS)
};
const char* PStatusName(PStatus s);

struct TimerNode;  // timers.h

struct G {
  Context ctx = nullptr;  // saved context while not running
  Stack stack;
  std::atomic<GStatus> status{GStatus::kIdle};
  uint64_t id = 0;
  M* m = nullptr;         // the M running it (kRunning, kSyscall)
  M* lockedm = nullptr;   // the M it is locked to (lock_ext + lock_int > 0)
  uint32_t lock_ext = 0;  // LockOSThread nesting depth
  // The runtime's own locks (LockOSThreadInternal): a process waiter or a
  // reaper, which leave the thread as they found it, so that its M may still
  // clone new Ms itself. Go: lockedExt / lockedInt.
  uint32_t lock_int = 0;
  G* schedlink = nullptr;  // global run queue / free lists
  void (*invoke)(void*, bool) = nullptr;
  void* fn = nullptr;  // the callable, on this G's stack
  bool is_main = false;
  // What it waits for while kWaiting, in Go's words (a static string;
  // written by the G before it parks, read by the deadlock report).
  const char* wait_reason = nullptr;
  std::atomic<bool> unwinding{false};  // set at shutdown: throw ForcedUnwind on resume
  // Set with `unwinding`: the G had been readied (its wait completed by a
  // waker, who is done with the wait's object) rather than still waiting.
  bool readied_before_unwind = false;
  // Goexit is unwinding the G (runtime::Unwinding). The G only.
  bool goexiting = false;
  // The message of the last failed call of the C API (<gort/c.h>) made by
  // this G: gort_last_error is per fiber, whatever thread it resumes on.
  // The G only; cleared when the G is freed.
  std::string last_error;
  EhState eh;
  void* asan_fake = nullptr;
  void* tsan_fiber = nullptr;
};

struct M {
  int id = 0;
  pthread_t thread{};
  pid_t tid = 0;
  Context g0ctx = nullptr;  // the scheduler context while a G runs
  const void* g0_lo = nullptr;
  std::size_t g0_size = 0;
  void* asan_fake = nullptr;
  void* tsan_fiber = nullptr;
  void* eh_globals = nullptr;  // this thread's C++ exception globals
  G* curg = nullptr;           // the G running on this M, if any
  P* p = nullptr;              // the P held (null while idle or in a syscall)
  P* nextp = nullptr;          // P handed to this M by startm / startlockedm
  P* oldp = nullptr;           // P held before a syscall
  G* lockedg = nullptr;        // G locked to this M
  bool spinning = false;       // looking for work (counted in sched.nmspinning)
  bool exiting = false;        // a locked G exited: the thread ends
  bool exited = false;         // the thread has left MMain (guarded by sched.lock)
  bool releasing = false;      // released its P, not yet idle (guarded by sched.lock)
  bool is_m0 = false;          // the Run thread while it unwinds fibers at shutdown
  int nowakep = 0;             // NoWakeP scopes open on this M (runtime_support.h)
  // NoPreempt scopes open on this M: runtime code that holds a runtime lock
  // around a call that checks for preemption (Go: m.locks).
  int nopreempt = 0;
  std::atomic<bool> created{false};  // its OS thread exists (pthread_create returned)
  Note park;
  // Set while the M sleeps in the poller instead of on `park` (the poll
  // sleeper): WakeM then also breaks the poll. Written by the M, read by
  // any waker (seq_cst fences on both sides, netpoll.cc).
  std::atomic<bool> in_netpoll{false};
  M* schedlink = nullptr;  // sched.midle
  uint64_t rand = 0;
  void* altstack = nullptr;
  std::size_t altstack_size = 0;
};

// The local run queue: a bounded ring the owner P pushes to and pops from,
// and other Ms steal half of. Go: runq*, runqsteal, runqgrab.
//
// Proof sketch: only the owner writes tail (store-release after filling the
// slot); consumers (owner and thieves) advance head with a CAS (acq_rel) after
// reading slots [head, head+n). A thief's slot reads are ordered after the
// owner's slot write by the acquire load of tail; a slot is overwritten by the
// owner only after head moved past it, which the owner observes with an
// acquire load of head, so no reader can still be reading it once its CAS
// succeeded. A failed CAS discards what was read.
struct RunQueue {
  std::atomic<uint32_t> head{0};
  std::atomic<uint32_t> tail{0};
  std::atomic<G*> slots[kRunqSize] = {};
};

struct P {
  int id = 0;
  std::atomic<PStatus> status{PStatus::kDead};
  M* m = nullptr;  // owner while kRunning
  // Bumped by the owner each time it runs a G; read by sysmon to tell a G
  // that has run for long (relaxed: a hint).
  std::atomic<uint32_t> schedtick{0};
  // Set by sysmon: the G running here has run kForcePreemptNs without
  // parking or yielding; it yields at its next CheckPreempt. Cleared when
  // the P runs another G. Go: g.preempt (on the P here, so that sysmon need
  // not read the M's current G).
  std::atomic<bool> preempt{false};
  std::atomic<uint32_t> syscalltick{0};
  RunQueue runq;
  std::atomic<G*> runnext{nullptr};
  uint32_t runnext_streak = 0;  // owner only: consecutive picks from runnext
  G* gfree = nullptr;           // owner only
  int gfree_count = 0;
  P* link = nullptr;  // sched.pidle
  // Timers: a min-heap on `when`. timer0_when mirrors the earliest deadline
  // (0: none) so that the scheduler can skip the lock.
  Lock timers_lock;
  std::vector<TimerNode*> timers ABSL_GUARDED_BY(timers_lock);
  std::atomic<int64_t> timer0_when{0};
  // sysmon's view (sysmon only)
  uint32_t sysmon_tick = 0;
  int64_t sysmon_when = 0;
  uint32_t sysmon_schedtick = 0;
  int64_t sysmon_schedwhen = 0;
};

struct Sched {
  Lock lock;
  G* runq_head ABSL_GUARDED_BY(lock) = nullptr;
  G* runq_tail ABSL_GUARDED_BY(lock) = nullptr;
  std::atomic<int> runq_size{0};  // written under lock, read anywhere

  P* pidle ABSL_GUARDED_BY(lock) = nullptr;
  std::atomic<int> npidle{0};
  std::atomic<int> nmspinning{0};
  M* midle ABSL_GUARDED_BY(lock) = nullptr;
  int nmidle ABSL_GUARDED_BY(lock) = 0;
  int nmidlelocked ABSL_GUARDED_BY(lock) = 0;
  // Ms between releasing their P (FindRunnable) or waking without one
  // (StopM) and reaching the idle list or taking a P again: StartM waits
  // for one rather than making a new M.
  int nmreleasing ABSL_GUARDED_BY(lock) = 0;
  int mcount ABSL_GUARDED_BY(lock) = 0;  // Ms that exist and have not exited
  // StartM calls between taking an idle M (under lock) and waking it
  // (after): JoinAllMs frees no M until none is left. Incremented under
  // lock, decremented (release) after the wake-up.
  std::atomic<int> nwaking{0};
  int mnext ABSL_GUARDED_BY(lock) = 0;
  std::vector<M*> allm ABSL_GUARDED_BY(lock);  // every M of this Run, exited ones too

  std::atomic<int> gomaxprocs{0};
  // The CPUs this process may run on, as Run found them (NumCPU, cached for
  // the spinning decisions). 0 outside Run.
  std::atomic<int> ncpu{0};
  // allp[0, nallp) are allocated; an entry is written once, before nallp and
  // gomaxprocs (release) cover it, and read after an acquire load of either.
  std::atomic<int> nallp{0};
  std::atomic<P*> allp[kMaxProcs] = {};

  Lock gflock;
  G* gfree ABSL_GUARDED_BY(gflock) = nullptr;
  int gfree_count ABSL_GUARDED_BY(gflock) = 0;

  Lock allglock;
  std::vector<G*> allgs ABSL_GUARDED_BY(allglock);

  std::atomic<uint64_t> goidgen{0};
  std::atomic<int> ngoroutines{0};
  std::atomic<bool> running{false};
  // Set (seq_cst) when the main fiber returned; cleared by the next Run.
  std::atomic<bool> shutdown{false};
  // The runtime was booted by Start, not Run: the host's threads drive it
  // and may start fibers at any time, so parked fibers are never a
  // deadlock (Go: checkdead returns at once in c-archive and c-shared
  // builds). Set before Start starts any thread, cleared as Stop ends.
  std::atomic<bool> embedded{false};
  // Plain threads inside Go right now (between their shutdown check and
  // queueing the G): Shutdown waits until none is left before unwinding.
  std::atomic<int> foreign_entering{0};
  // An eventfd that becomes readable when shutdown begins, so that system
  // calls that would wait indefinitely (a child's waiter) can stop waiting.
  int shutdown_fd = -1;
  bool main_goexited ABSL_GUARDED_BY(lock) = false;
  // Plain threads that have used the runtime during this Run and are still
  // alive: they may still ready a fiber, so parked fibers are no deadlock.
  int nforeign ABSL_GUARDED_BY(lock) = 0;
  // Live runtime::ExternalWaker objects (and, later, pending timers):
  // something outside the scheduler may still ready a fiber.
  std::atomic<int> nexternal_wakers{0};
  // CheckDead saw a dead state; sysmon confirms it after kDeadlockGraceNs.
  bool deadlock_suspect ABSL_GUARDED_BY(lock) = false;
  int64_t deadlock_since ABSL_GUARDED_BY(lock) = 0;
  uint64_t generation = 0;      // bumped by every Run (guarded by lock)
  int process_reapers = 0;      // Options::process_reapers as Run resolved it
  std::atomic<int> ntimers{0};  // timers in all heaps
  // The idle M that sleeps in the poller until the earliest timer (at most
  // one; Go: sched.lastpoll == 0), and that deadline (INT64_MAX: none, or
  // nobody sleeps). A new earlier timer breaks the poll (timers.cc).
  std::atomic<M*> poll_sleeper{nullptr};
  std::atomic<int64_t> poll_until{INT64_MAX};

  std::atomic<bool> preempt{true};  // Options::preempt of this Run
  std::size_t stack_size = kDefaultStackSize;
  int max_threads = kDefaultMaxThreads;
  std::atomic<int> nthreads{0};  // every thread the runtime created and has not joined
  std::atomic<bool> main_finished{false};
};

extern Sched sched;

// The current M of the calling thread (null on a plain thread). Never
// inlined, and opaque to the optimizer, so that a fiber that migrated reads
// the new thread's value: see DESIGN.md, "thread_local across a switch".
M* GetM();
void SetM(M* m);
// The running G (null outside a fiber, and on g0).
G* GetG();

// Status transitions. Abort on an unexpected `from`. Every transition is made
// by the G's current owner (see the table above), so a checked load + store
// is enough: a locked CAS would only buy detection of a bug that the check
// already reports. Go: casgstatus.
[[noreturn]] void BadGStatus(G* g, GStatus cur, GStatus from, GStatus to);
inline void CasGStatus(G* g, GStatus from, GStatus to) {
  GStatus cur = g->status.load(std::memory_order_acquire);
  if (__builtin_expect(cur != from, 0)) BadGStatus(g, cur, from, to);
  g->status.store(to, std::memory_order_release);
}

// The fiber the caller runs on and its P, when the caller runs on one of the
// scheduler's Ms: null on a plain thread, on g0, and on the Run thread (m0),
// whose fibers are only being unwound at shutdown and own no P.
inline G* CurrentG(M* m = GetM()) { return m != nullptr && !m->is_m0 ? m->curg : nullptr; }
inline P* CurrentP(M* m = GetM()) { return m != nullptr && !m->is_m0 ? m->p : nullptr; }

// P status changes, checked as G status changes are. SetPStatus is for the
// P's owner (the M holding it, or whoever took it off the idle list);
// CasPStatus for a P that another thread may take at the same time (a P in
// a system call, which sysmon and its M race for).
[[noreturn]] void BadPStatus(P* p, PStatus cur, PStatus from, PStatus to);
inline void SetPStatus(P* p, PStatus from, PStatus to) {
  PStatus cur = p->status.load(std::memory_order_acquire);
  if (__builtin_expect(cur != from, 0)) BadPStatus(p, cur, from, to);
  p->status.store(to, std::memory_order_release);
}
inline bool CasPStatus(P* p, PStatus from, PStatus to) {
  return p->status.compare_exchange_strong(from, to, std::memory_order_acq_rel);
}

uint32_t FastRand(M* m);  // per-M xorshift

// Thrown into a fiber's stack to unwind it (Goexit, shutdown). Deliberately
// not a std::exception.
struct ForcedUnwind {};

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_PROC_H_
