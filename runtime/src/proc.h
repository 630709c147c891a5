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
#ifndef GORT_RUNTIME_SRC_PROC_H_
#define GORT_RUNTIME_SRC_PROC_H_

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "futex.h"
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
// The fewest threads a runtime can run with: sysmon, the template thread and
// one M.
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

// What a G asks its M's g0 to do after switching away (Go: mcall's fn).
enum class SwitchKind { kGosched, kPark, kExit, kExitSyscall };
struct SwitchRequest {
  SwitchKind kind;
  bool (*unlock)(void* arg) = nullptr;  // kPark: runs once the G is saved (on g0, or
  void* arg = nullptr;                  // on the next G); false: do not park after all
};

// What is handed to a G when it is switched to: the M it now runs on, and,
// when the previous G switched straight to it (no g0 in between), that G and
// its request, which the resumed side carries out once the switch has saved
// the previous G's context.
struct ResumeInfo {
  M* m;
  G* prev = nullptr;
  SwitchRequest* req = nullptr;
};

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

struct G {
  Context ctx = nullptr;  // saved context while not running
  Stack stack;
  std::atomic<GStatus> status{GStatus::kIdle};
  uint64_t id = 0;
  M* m = nullptr;        // the M running it (kRunning, kSyscall)
  M* lockedm = nullptr;  // the M it is locked to (lock_ext + lock_int > 0)
  uint32_t lock_ext = 0, lock_int = 0;
  G* schedlink = nullptr;  // global run queue / free lists
  void (*invoke)(void*, bool) = nullptr;
  void* fn = nullptr;      // the callable, on this G's stack
  bool started = false;
  bool is_main = false;
  std::atomic<bool> unwinding{false};  // set at shutdown: throw ForcedUnwind on resume
  // Set with `unwinding`: the G had been readied (its wait completed by a
  // waker, who is done with the wait's object) rather than still waiting.
  bool readied_before_unwind = false;
  EhState eh;
  void* asan_fake = nullptr;
  void* tsan_fiber = nullptr;
  void* param = nullptr;  // passed from a readier to the readied G (wait queues)
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
  G* curg = nullptr;      // the G running on this M, if any
  P* p = nullptr;         // the P held (null while idle or in a syscall)
  P* nextp = nullptr;     // P handed to this M by startm / startlockedm
  P* oldp = nullptr;      // P held before a syscall
  G* lockedg = nullptr;   // G locked to this M
  bool spinning = false;  // looking for work (counted in sched.nmspinning)
  bool exiting = false;   // a locked G exited: the thread ends
  bool exited = false;    // the thread has left MMain (guarded by sched.lock)
  bool is_m0 = false;     // the Run thread while it unwinds fibers at shutdown
  std::atomic<bool> created{false};  // its OS thread exists (pthread_create returned)
  Note park;
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
  uint32_t schedtick = 0;
  std::atomic<uint32_t> syscalltick{0};
  RunQueue runq;
  std::atomic<G*> runnext{nullptr};
  uint32_t runnext_streak = 0;  // owner only: consecutive picks from runnext
  G* gfree = nullptr;  // owner only
  int gfree_count = 0;
  P* link = nullptr;   // sched.pidle
  // Timers: a min-heap on `when`. timer0_when mirrors the earliest deadline
  // (0: none) so that the scheduler can skip the lock.
  Lock timers_lock;
  std::vector<TimerNode*> timers ABSL_GUARDED_BY(timers_lock);
  std::atomic<int64_t> timer0_when{0};
  // sysmon's view (sysmon only)
  uint32_t sysmon_tick = 0;
  int64_t sysmon_when = 0;
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
  int mcount ABSL_GUARDED_BY(lock) = 0;  // Ms that exist and have not exited
  int mnext ABSL_GUARDED_BY(lock) = 0;
  std::vector<M*> allm ABSL_GUARDED_BY(lock);  // every M of this Run, exited ones too

  std::atomic<int> gomaxprocs{0};
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
  uint64_t generation = 0;
  std::atomic<int> ntimers{0};  // timers in all heaps
  std::atomic<M*> timer_sleeper{nullptr};  // the idle M sleeping until the next deadline
  std::atomic<int64_t> timer_sleep_until{INT64_MAX};

  std::size_t stack_size = kDefaultStackSize;
  int max_threads = 10000;
  std::atomic<int> nthreads{0};  // every thread the runtime created and has not joined
  Note main_done;
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

// Run queues (proc.cc).
void RunqPut(P* p, G* g, bool next);   // owner P only
G* RunqGet(P* p);                      // owner P only
bool RunqEmpty(P* p);                  // any M
void GlobRunqPut(G* g) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);

// Scheduling (proc.cc).
void Ready(G* g);      // any thread: waiting -> runnable, queue it, wake a P
void WakeP();          // any thread: start a spinning M if a P is idle and nobody spins
void Park(bool (*unlock)(void*), void* arg);  // the running G only; may park
void ParkG(G* g, bool (*unlock)(void*), void* arg);  // g: the running G
void Mcall(G* g, SwitchRequest* req);          // the running G only
// Mcall that never throws the shutdown unwind on return (ExitSyscall, which
// runs in destructors): the fiber is unwound at its next park point instead.
void McallNoUnwind(G* g, SwitchRequest* req);
// A fiber being unwound at shutdown tried to block (it runs on the Run
// thread, and nothing will ever ready it): outside a destructor, throws
// ForcedUnwind so that the unwinding goes on from there; inside one (an
// exception is in flight), a fatal error naming the fiber. Never a hang.
[[noreturn]] void BlockedWhileUnwinding(G* g);
void SetErrno(int e);  // on the calling thread, whatever thread that is now
void Yield(G* g);                              // the running G only (Gosched)
void HandoffP(P* p);   // any M without P: give p to someone or make it idle
void StartM(P* p, bool spinning);
P* PidleGet() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
void PidlePut(P* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
void AcquireP(M* m, P* p);
P* ReleaseP(M* m);
void IncIdleLocked(int v);
enum class DeadState { kAlive, kDeadlock, kNoGoroutines };
DeadState EvalDead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
void CheckDead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock);
[[noreturn]] void ThrowDead(DeadState s);
constexpr int64_t kDeadlockGraceNs = 100 * 1000 * 1000;  // see CheckDead
void RegisterForeignThread();  // a plain thread that uses the runtime
uint32_t FastRand(M* m);

// timers.cc. Go: addtimer, deltimer, checkTimers.
void AddTimer(TimerNode* t);         // any thread; the runtime must be running
bool DelTimer(TimerNode* t);         // true if it was pending (and now is not)
int RunTimers(P* p, int64_t now);    // runs p's expired timers; returns how many
void RunAllTimers(int64_t now);      // every P's (an M without P)
int64_t EarliestTimer();             // 0: none
void ClearTimers();                  // shutdown: drop every pending timer

// sysmon.cc
void SysmonStart();
void SysmonStop();
void SysmonWake();

// signals.cc
void SignalsInstall();
void SignalsUninstall();
void MSignalStackInit(M* m);
void MSignalStackFree(M* m);
[[noreturn]] void FatalStackOverflow(G* g);
[[noreturn]] void PanicAbort(G* g, const char* what);

// Thrown into a fiber's stack to unwind it (Goexit, shutdown). Deliberately
// not a std::exception.
struct ForcedUnwind {};

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_PROC_H_
