// The scheduler: run queues, the M loop, park/ready, spinning and hand-off.
// Function comments say who may call them and end with the Go counterpart.
#include "proc.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fatal.h"
#include "gort/runtime.h"

#if GORT_ASAN
extern "C" void __asan_unpoison_memory_region(void const volatile* addr, size_t size);
#endif

namespace gort::runtime::internal {

Sched sched;

namespace {
thread_local M* tls_m = nullptr;
}  // namespace

// The only reader of tls_m. noinline plus the asm barrier keep the compiler
// from treating it as pure and reusing a thread_local address computed before
// a switch (the fiber may be on another thread after it). Go: getg.
__attribute__((noinline)) M* GetM() {
  asm volatile("" ::: "memory");
  return tls_m;
}
__attribute__((noinline)) void SetM(M* m) {
  asm volatile("" ::: "memory");
  tls_m = m;
}
G* GetG() {
  M* m = GetM();
  return m != nullptr ? m->curg : nullptr;
}

const char* GStatusName(GStatus s) {
  switch (s) {
    case GStatus::kIdle: return "idle";
    case GStatus::kRunnable: return "runnable";
    case GStatus::kRunning: return "running";
    case GStatus::kSyscall: return "syscall";
    case GStatus::kWaiting: return "waiting";
    case GStatus::kDead: return "dead";
  }
  return "?";
}

void BadGStatus(G* g, GStatus cur, GStatus from, GStatus to) {
  WriteErr("runtime: casgstatus: goroutine ");
  WriteErrNum(g->id);
  WriteErr(" is ");
  WriteErr(GStatusName(cur));
  WriteErr(", wanted ");
  WriteErr(GStatusName(from));
  WriteErr(" -> ");
  WriteErr(GStatusName(to));
  WriteErr("\n");
  Throw("casgstatus: bad incoming values");
}

uint32_t FastRand(M* m) {
  // xorshift64*; m->rand is seeded per M.
  uint64_t x = m->rand;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  m->rand = x;
  return static_cast<uint32_t>((x * 0x2545F4914F6CDD1DULL) >> 32);
}

// ---------------------------------------------------------------------------
// Local run queues.

namespace {

#ifdef GORT_TEST_SMALL_RUNQ
// Test builds randomize runnext so that unusual orders really happen.
bool SkipRunnext() {
  static thread_local uint64_t x = 0x9E3779B97F4A7C15ULL ^ reinterpret_cast<uintptr_t>(&x);
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return (x & 1) != 0;
}
#endif

// Moves half of p's local queue plus g to the global queue. Owner P only.
// Go: runqputslow.
bool RunqPutSlow(P* p, G* g, uint32_t h, uint32_t t) {
  G* batch[kRunqSize / 2 + 1];
  uint32_t n = (t - h) / 2;
  for (uint32_t i = 0; i < n; i++) {
    batch[i] = p->runq.slots[(h + i) % kRunqSize].load(std::memory_order_relaxed);
  }
  if (!p->runq.head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return false;
  batch[n] = g;
  for (uint32_t i = 0; i < n; i++) batch[i]->schedlink = batch[i + 1];
  batch[n]->schedlink = nullptr;
  LockGuard l(sched.lock);
  for (uint32_t i = 0; i <= n; i++) {
    G* b = batch[i];
    b->schedlink = nullptr;
    GlobRunqPut(b);
  }
  return true;
}

// Grabs half of p2's queue into batch[bh, ...). Any M. Go: runqgrab.
uint32_t RunqGrab(P* p2, RunQueue* into, uint32_t bh, bool steal_runnext) {
  SchedulePointHere();
  for (;;) {
    uint32_t h = p2->runq.head.load(std::memory_order_acquire);
    uint32_t t = p2->runq.tail.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (steal_runnext) {
        G* next = p2->runnext.load(std::memory_order_acquire);
        if (next != nullptr) {
          if (p2->status.load(std::memory_order_relaxed) == PStatus::kRunning) {
            // p2 is about to run it itself (a G that readied another and is
            // about to park is the common case): give it ~3us before stealing,
            // or the pair ping-pongs between Ps. Go: the usleep(3) in runqgrab.
            int64_t until = Nanotime() + 3000;
            while (Nanotime() < until) CpuRelax();
          }
          if (!p2->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
            continue;
          }
          into->slots[bh % kRunqSize].store(next, std::memory_order_relaxed);
          return 1;
        }
      }
      return 0;
    }
    if (n > kRunqSize / 2) continue;  // read an inconsistent h and t
    for (uint32_t i = 0; i < n; i++) {
      G* g = p2->runq.slots[(h + i) % kRunqSize].load(std::memory_order_relaxed);
      into->slots[(bh + i) % kRunqSize].store(g, std::memory_order_relaxed);
    }
    if (p2->runq.head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return n;
  }
}

// Steals half of p2's queue into p's and returns one G. Owner of p only.
// Go: runqsteal.
G* RunqSteal(P* p, P* p2, bool steal_runnext) {
  uint32_t t = p->runq.tail.load(std::memory_order_relaxed);
  uint32_t n = RunqGrab(p2, &p->runq, t, steal_runnext);
  if (n == 0) return nullptr;
  n--;
  G* g = p->runq.slots[(t + n) % kRunqSize].load(std::memory_order_relaxed);
  if (n == 0) return g;
  uint32_t h = p->runq.head.load(std::memory_order_acquire);
  if (t - h + n >= kRunqSize) Throw("runqsteal: runq overflow");
  p->runq.tail.store(t + n, std::memory_order_release);
  return g;
}

}  // namespace

// Owner P only. Go: runqput.
void RunqPut(P* p, G* g, bool next) {
  SchedulePointHere();
#ifdef GORT_TEST_SMALL_RUNQ
  if (next && SkipRunnext()) next = false;
#endif
  if (next) {
    G* old = p->runnext.exchange(g, std::memory_order_acq_rel);
    if (old == nullptr) return;
    g = old;  // kick the old runnext to the tail
  }
  for (;;) {
    uint32_t h = p->runq.head.load(std::memory_order_acquire);
    uint32_t t = p->runq.tail.load(std::memory_order_relaxed);
    if (t - h < kRunqSize) {
      p->runq.slots[t % kRunqSize].store(g, std::memory_order_relaxed);
      p->runq.tail.store(t + 1, std::memory_order_release);
      return;
    }
    if (RunqPutSlow(p, g, h, t)) return;
  }
}

// Fibers that ready each other (a channel ping-pong) keep landing in runnext
// and would run forever ahead of the local queue. Go lets the pair share one
// time slice and preempts it after 10 ms; gort cannot preempt, so it bounds
// the streak instead: after this many runnext picks in a row, the queue head
// goes first.
constexpr uint32_t kMaxRunnextStreak = 61;

// Owner P only. Go: runqget.
G* RunqGet(P* p) {
  SchedulePointHere();
  G* next = p->runnext.load(std::memory_order_relaxed);
  if (next != nullptr && p->runnext_streak < kMaxRunnextStreak &&
      p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    p->runnext_streak++;
    return next;
  }
  for (;;) {
    uint32_t h = p->runq.head.load(std::memory_order_acquire);
    uint32_t t = p->runq.tail.load(std::memory_order_relaxed);
    if (t == h) break;
    G* g = p->runq.slots[h % kRunqSize].load(std::memory_order_relaxed);
    if (p->runq.head.compare_exchange_strong(h, h + 1, std::memory_order_acq_rel)) {
      p->runnext_streak = 0;
      return g;
    }
  }
  // The queue is empty: runnext, however long the streak.
  next = p->runnext.load(std::memory_order_relaxed);
  if (next != nullptr &&
      p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    return next;
  }
  return nullptr;
}

// Any M. Go: runqempty.
bool RunqEmpty(P* p) {
  for (;;) {
    uint32_t h = p->runq.head.load(std::memory_order_acquire);
    uint32_t t = p->runq.tail.load(std::memory_order_acquire);
    G* next = p->runnext.load(std::memory_order_acquire);
    if (t == p->runq.tail.load(std::memory_order_acquire)) return h == t && next == nullptr;
  }
}

// ---------------------------------------------------------------------------
// The global run queue. Go: globrunqput, globrunqget.

void GlobRunqPut(G* g) {
  g->schedlink = nullptr;
  if (sched.runq_tail != nullptr) {
    sched.runq_tail->schedlink = g;
  } else {
    sched.runq_head = g;
  }
  sched.runq_tail = g;
  sched.runq_size.fetch_add(1, std::memory_order_release);
}

namespace {

G* GlobRunqPop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  G* g = sched.runq_head;
  if (g == nullptr) return nullptr;
  sched.runq_head = g->schedlink;
  if (sched.runq_head == nullptr) sched.runq_tail = nullptr;
  g->schedlink = nullptr;
  sched.runq_size.fetch_sub(1, std::memory_order_release);
  return g;
}

// Takes a fair share of the global queue into p's local queue and returns one.
// Caller holds sched.lock and owns p.
G* GlobRunqGet(P* p, int max) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  int size = sched.runq_size.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int n = size / std::max(1, sched.gomaxprocs.load(std::memory_order_relaxed)) + 1;
  n = std::min(n, size);
  if (max > 0) n = std::min(n, max);
  n = std::min(n, static_cast<int>(kRunqSize / 2));
  G* g = GlobRunqPop();
  for (int i = 1; i < n; i++) RunqPut(p, GlobRunqPop(), false);
  return g;
}

// ---------------------------------------------------------------------------
// G allocation and free lists. The G keeps its stack: this is the stack pool.
// Go: gfget, gfput.

constexpr int kGFreeLocalMax = 64;
constexpr int kGFreeBatch = 32;

G* GAlloc(P* p) {
  if (p != nullptr && p->gfree == nullptr) {
    LockGuard l(sched.gflock);
    while (p->gfree_count < kGFreeBatch && sched.gfree != nullptr) {
      G* g = sched.gfree;
      sched.gfree = g->schedlink;
      sched.gfree_count--;
      g->schedlink = p->gfree;
      p->gfree = g;
      p->gfree_count++;
    }
  }
  G* g = nullptr;
  if (p != nullptr && p->gfree != nullptr) {
    g = p->gfree;
    p->gfree = g->schedlink;
    p->gfree_count--;
  } else if (p == nullptr) {
    LockGuard l(sched.gflock);
    if (sched.gfree != nullptr) {
      g = sched.gfree;
      sched.gfree = g->schedlink;
      sched.gfree_count--;
    }
  }
  if (g == nullptr) {
    Stack stack = StackAlloc(sched.stack_size);  // throws gort::Panic if it cannot
    g = new G;
    g->stack = stack;
    g->tsan_fiber = TsanCreateFiber();
    LockGuard l(sched.allglock);
    sched.allgs.push_back(g);
  }
  g->schedlink = nullptr;
  return g;
}

void GFree(P* p, G* g) {
  CasGStatus(g, GStatus::kDead, GStatus::kIdle);
  g->fn = nullptr;
  g->invoke = nullptr;
  g->lockedm = nullptr;
  g->lock_ext = g->lock_int = 0;
  g->is_main = false;
  g->started = false;
  g->param = nullptr;
  g->eh = EhState{};
  if (p == nullptr) {
    LockGuard l(sched.gflock);
    g->schedlink = sched.gfree;
    sched.gfree = g;
    sched.gfree_count++;
    return;
  }
  g->schedlink = p->gfree;
  p->gfree = g;
  if (++p->gfree_count >= kGFreeLocalMax) {
    LockGuard l(sched.gflock);
    while (p->gfree_count > kGFreeLocalMax - kGFreeBatch) {
      G* x = p->gfree;
      p->gfree = x->schedlink;
      p->gfree_count--;
      x->schedlink = sched.gfree;
      sched.gfree = x;
      sched.gfree_count++;
    }
  }
}

// ---------------------------------------------------------------------------
// Ms.

M* MGet() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  M* m = sched.midle;
  if (m != nullptr) {
    sched.midle = m->schedlink;
    sched.nmidle--;
  }
  return m;
}

void MPut(M* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  m->schedlink = sched.midle;
  sched.midle = m;
  sched.nmidle++;
}

}  // namespace

// Caller holds sched.lock. Go: pidleget, pidleput.
P* PidleGet() {
  P* p = sched.pidle;
  if (p != nullptr) {
    sched.pidle = p->link;
    p->link = nullptr;
    sched.npidle.fetch_sub(1, std::memory_order_relaxed);
  }
  return p;
}
void PidlePut(P* p) {
  if (!RunqEmpty(p)) Throw("pidleput: P has non-empty run queue");
  p->status.store(PStatus::kIdle, std::memory_order_release);
  p->link = sched.pidle;
  sched.pidle = p;
  sched.npidle.fetch_add(1, std::memory_order_relaxed);
}

// Parks a P that may still have work queued on it, when no M will run it:
// once shutdown has begun (a hand-off that may not start an M any more), or
// at the thread limit. The Gs go to the global queue, where any M looking
// for work (or shutdown's unwinding) finds them.
void PidlePutMovingWork(P* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  while (G* g = RunqGet(p)) GlobRunqPut(g);
  PidlePut(p);
}

// The M takes p, which must be idle and unowned. Go: acquirep / wirep.
void AcquireP(M* m, P* p) {
  if (m->p != nullptr || p->m != nullptr ||
      p->status.load(std::memory_order_acquire) != PStatus::kIdle) {
    Throw("acquirep: invalid p state");
  }
  p->m = m;
  p->status.store(PStatus::kRunning, std::memory_order_release);
  m->p = p;
}

// Go: releasep.
P* ReleaseP(M* m) {
  P* p = m->p;
  if (p == nullptr || p->m != m || p->status.load(std::memory_order_relaxed) != PStatus::kRunning) {
    Throw("releasep: invalid p state");
  }
  p->m = nullptr;
  p->status.store(PStatus::kIdle, std::memory_order_release);
  m->p = nullptr;
  return p;
}

namespace {

// p (owned by the caller, idle, not in the idle list) is beyond GOMAXPROCS:
// move its work to the global queue and take it out of service.
void RetireP(P* p) {
  LockGuard l(sched.lock);
  while (G* g = RunqGet(p)) GlobRunqPut(g);
  p->status.store(PStatus::kDead, std::memory_order_release);
}

bool IsRetired(P* p) { return p->id >= sched.gomaxprocs.load(std::memory_order_acquire); }

}  // namespace

void IncIdleLocked(int v) {
  LockGuard l(sched.lock);
  sched.nmidlelocked += v;
  if (v > 0) CheckDead();
}

// Caller holds sched.lock. Whether no fiber can ever run again, as far as
// the runtime can see. Go: checkdead's test.
DeadState EvalDead() {
  if (!sched.running.load(std::memory_order_relaxed) ||
      sched.shutdown.load(std::memory_order_relaxed) ||
      sched.main_finished.load(std::memory_order_relaxed)) {
    return DeadState::kAlive;
  }
  int run = sched.mcount - sched.nmidle - sched.nmidlelocked;
  if (run > 0) return DeadState::kAlive;
  if (run < 0) {
    WriteErr("runtime: checkdead: nmidle=");
    WriteErrNum(static_cast<uint64_t>(sched.nmidle));
    WriteErr(" nmidlelocked=");
    WriteErrNum(static_cast<uint64_t>(sched.nmidlelocked));
    WriteErr(" mcount=");
    WriteErrNum(static_cast<uint64_t>(sched.mcount));
    WriteErr("\n");
    Throw("checkdead: inconsistent counts");
  }
  if (sched.nforeign > 0) return DeadState::kAlive;
  if (sched.ntimers.load(std::memory_order_acquire) > 0) return DeadState::kAlive;  // a sleeper will wake
  if (sched.nexternal_wakers.load(std::memory_order_acquire) > 0) return DeadState::kAlive;
  if (sched.runq_size.load(std::memory_order_relaxed) > 0) return DeadState::kAlive;  // a wake-up is in flight
  if (sched.main_goexited && sched.ngoroutines.load(std::memory_order_relaxed) == 0) {
    return DeadState::kNoGoroutines;
  }
  return DeadState::kDeadlock;
}

// Caller holds sched.lock. Called whenever an M goes idle or a waker goes
// away. Go aborts at once; gort lets sysmon confirm the state after a grace
// period, because a plain thread of the embedding program that has not
// touched the runtime yet may be about to ready a fiber (Go has no such
// threads; an embedded runtime does). Go: checkdead.
void CheckDead() {
  if (EvalDead() == DeadState::kAlive) return;
  if (!sched.deadlock_suspect) {
    sched.deadlock_suspect = true;
    sched.deadlock_since = Nanotime();
    SysmonWake();
  }
}

void ThrowDead(DeadState s) {
  if (s == DeadState::kNoGoroutines) Throw("no goroutines (main called runtime.Goexit) - deadlock!");
  Throw("all goroutines are asleep - deadlock!");
}

namespace {

struct ForeignRegistration {
  uint64_t generation = 0;
  ~ForeignRegistration() {
    if (generation == 0) return;
    LockGuard l(sched.lock);
    if (generation == sched.generation && sched.running.load(std::memory_order_relaxed)) {
      sched.nforeign--;
      CheckDead();
    }
  }
};
thread_local ForeignRegistration tls_foreign;
thread_local bool tls_is_run_thread = false;

}  // namespace

// A plain thread (not an M) is about to ready a fiber or block on a runtime
// object. While it lives it may do so again, so parked fibers are not
// deadlocked. Any plain thread.
void RegisterForeignThread() {
  if (tls_is_run_thread) return;
  LockGuard l(sched.lock);
  if (tls_foreign.generation != sched.generation) {
    tls_foreign.generation = sched.generation;
    sched.nforeign++;
  }
}

// ---------------------------------------------------------------------------
// Thread creation. A new M is never cloned from a locked M or from a plain
// thread (whose per-thread state, such as an unshared fs or a changed
// affinity, it would inherit): those ask the template thread, which stays
// clean. Go: newm, newmHandoff, templateThread.

namespace {

struct TemplateThread {
  Lock lock;
  std::vector<M*> queue ABSL_GUARDED_BY(lock);
  bool stop ABSL_GUARDED_BY(lock) = false;
  Note wake;
  pthread_t thread{};
  bool started = false;
} tmpl;

void* MStart(void* arg);

void JoinExitedMs() {
  std::vector<M*> done;
  {
    LockGuard l(sched.lock);
    auto it = std::stable_partition(sched.allm.begin(), sched.allm.end(),
                                    [](M* m) { return !m->exited; });
    done.assign(it, sched.allm.end());
    sched.allm.erase(it, sched.allm.end());
  }
  for (M* m : done) {
    pthread_join(m->thread, nullptr);
    sched.nthreads.fetch_sub(1, std::memory_order_relaxed);
    delete m;
  }
}

void NewOSThread(M* m) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int err = pthread_create(&m->thread, &attr, &MStart, m);
  pthread_attr_destroy(&attr);
  if (err == 0) m->created.store(true, std::memory_order_release);  // MStart waits for this
  if (err != 0) {
    WriteErr("runtime: failed to create new OS thread (have ");
    WriteErrNum(static_cast<uint64_t>(sched.nthreads.load()));
    WriteErr(" already; errno=");
    WriteErrNum(static_cast<uint64_t>(err));
    WriteErr(")\n");
    // Go's hint: EAGAIN here is RLIMIT_NPROC (threads count as processes)
    // or the kernel's threads-max.
    if (err == EAGAIN) WriteErr("runtime: may need to increase max user processes (ulimit -u)\n");
    Throw("newosproc");
  }
}

void* TemplateMain(void*) {
  for (;;) {
    tmpl.wake.Sleep();
    tmpl.wake.Clear();
    std::vector<M*> todo;
    bool stop;
    {
      LockGuard l(tmpl.lock);
      todo.swap(tmpl.queue);
      stop = tmpl.stop;
    }
    for (M* m : todo) NewOSThread(m);
    if (stop) return nullptr;
  }
}

}  // namespace

// Counts a new runtime thread against max_threads. Go: checkmcount.
void CountThread() {
  int n = sched.nthreads.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n > sched.max_threads) {
    WriteErr("runtime: program exceeds ");
    WriteErrNum(static_cast<uint64_t>(sched.max_threads));
    WriteErr("-thread limit\n");
    Throw("thread exhaustion");
  }
}

void TemplateThreadStart() {
  {
    LockGuard l(tmpl.lock);
    tmpl.stop = false;
  }
  tmpl.wake.Clear();
  CountThread();
  if (int err = pthread_create(&tmpl.thread, nullptr, &TemplateMain, nullptr); err != 0) {
    sched.nthreads.fetch_sub(1, std::memory_order_relaxed);
    throw Panic(std::string("gort: runtime::Run: cannot create the template thread: ") +
                strerror(err));
  }
  tmpl.started = true;
}

void TemplateThreadStop() {
  if (!tmpl.started) return;
  {
    LockGuard l(tmpl.lock);
    tmpl.stop = true;
  }
  tmpl.wake.Wakeup();
  pthread_join(tmpl.thread, nullptr);
  sched.nthreads.fetch_sub(1, std::memory_order_relaxed);
  tmpl.started = false;
}

namespace {

// Creates an M that will start with p (may be null). The M is already counted
// in sched.mcount and allm by the caller (under sched.lock). Go: newm.
void NewM(M* m) {
  JoinExitedMs();
  M* self = GetM();
  if (self != nullptr && self->lockedg == nullptr && !self->is_m0) {
    NewOSThread(m);
    return;
  }
  {
    LockGuard l(tmpl.lock);
    tmpl.queue.push_back(m);
  }
  tmpl.wake.Wakeup();
}

M* AllocM(P* p, bool spinning) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  CountThread();
  M* m = new M;
  m->id = sched.mnext++;
  m->nextp = p;
  m->spinning = spinning;
  m->rand = 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(m->id + 1) ^ static_cast<uint64_t>(Nanotime());
  if (m->rand == 0) m->rand = 1;
  sched.mcount++;
  sched.allm.push_back(m);
  return m;
}

}  // namespace

// Schedules some M to run p (an idle P if p is null). If there is no P, does
// nothing. spinning: the caller incremented nmspinning on the new M's behalf.
// Any thread. Go: startm.
void StartM(P* p, bool spinning) {
  M* nmp = nullptr;
  bool create = false;
  // At the thread limit an M that has just given up its P (and is on its way
  // to the idle list, or will find the work itself) is usually about to be
  // free: wait for one that long before declaring thread exhaustion. Under
  // load such an M can be descheduled for milliseconds, and a burst of
  // hand-offs (locked waiters entering system calls) would otherwise create
  // threads past max_threads that are not really needed.
  constexpr int64_t kWaitForIdleMNs = 100 * 1000 * 1000;
  int64_t give_up_at = 0;
  for (;;) {
    bool took_idle_p = false;
    {
      LockGuard l(sched.lock);
      if (sched.shutdown.load(std::memory_order_relaxed)) {
        if (p != nullptr) PidlePutMovingWork(p);
        if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
        return;
      }
      if (p == nullptr) {
        p = PidleGet();
        took_idle_p = true;
        if (p == nullptr) {
          if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
          return;
        }
      }
      nmp = MGet();
      const bool at_limit = sched.nthreads.load(std::memory_order_relaxed) >= sched.max_threads;
      if (nmp == nullptr && at_limit && spinning) {
        // A spinning M only looks for work that the Ms already running will
        // find too: at the limit, do without it.
        PidlePutMovingWork(p);
        sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
        return;
      }
      if (nmp == nullptr && at_limit) {
        const int64_t now = Nanotime();
        if (give_up_at == 0) give_up_at = now + kWaitForIdleMNs;
        if (now < give_up_at) {
          if (took_idle_p) {  // not ours to hold while we wait
            PidlePut(p);
            p = nullptr;
          }
          goto wait;
        }
      }
      if (nmp == nullptr) {
        nmp = AllocM(p, spinning);  // past the limit: fatal thread exhaustion
        create = true;
      } else {
        if (nmp->spinning || nmp->nextp != nullptr) Throw("startm: m is spinning or has a p");
        nmp->spinning = spinning;
        nmp->nextp = p;
      }
    }
    break;
  wait:
    sched_yield();
  }
  if (create) {
    NewM(nmp);
  } else {
    nmp->park.Wakeup();
  }
}

// Tries to add one more spinning M, if a P is idle and nobody spins.
// Any thread. Go: wakep.
void WakeP() {
  SchedulePointHere();
  if (sched.npidle.load(std::memory_order_acquire) == 0) return;
  int expected = 0;
  if (sched.nmspinning.load(std::memory_order_relaxed) != 0 ||
      !sched.nmspinning.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    return;
  }
  StartM(nullptr, true);
}

// Gives away a P that its M no longer wants (the M blocks, or a syscall P was
// retaken): to an M if there is work, else to the idle list. Any M without P.
// Go: handoffp.
void HandoffP(P* p) {
  SchedulePointHere();
  if (IsRetired(p)) {
    RetireP(p);
    WakeP();
    return;
  }
  if (!RunqEmpty(p) || sched.runq_size.load(std::memory_order_acquire) > 0) {
    StartM(p, false);
    return;
  }
  // No local work; make sure someone is spinning, if nobody is.
  if (sched.nmspinning.load(std::memory_order_relaxed) +
          sched.npidle.load(std::memory_order_relaxed) == 0) {
    int expected = 0;
    if (sched.nmspinning.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
      StartM(p, true);
      return;
    }
  }
  sched.lock.lock();
  if (sched.runq_size.load(std::memory_order_relaxed) != 0 &&
      !sched.shutdown.load(std::memory_order_relaxed)) {
    sched.lock.unlock();
    StartM(p, false);
    return;
  }
  PidlePut(p);
  sched.lock.unlock();
}

namespace {

bool MRemove(M* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  for (M** link = &sched.midle; *link != nullptr; link = &(*link)->schedlink) {
    if (*link == m) {
      *link = m->schedlink;
      m->schedlink = nullptr;
      sched.nmidle--;
      return true;
    }
  }
  return false;
}

enum class StopResult {
  kGotP,      // handed a P (StartM)
  kShutdown,  // the runtime is shutting down
  kNoP,       // woke without a P (timeout, timer kick, stale wake-up): re-check
};

// Parks the M on the idle list until it is handed a P, for at most
// timeout_ns (< 0: no limit). Called without a P. Go: stopm (with
// notetsleep for the timer sleeper).
StopResult StopM(M* m, int64_t timeout_ns = -1) {
  if (m->p != nullptr) Throw("stopm holding p");
  if (m->spinning) Throw("stopm spinning");
  {
    LockGuard l(sched.lock);
    if (sched.shutdown.load(std::memory_order_relaxed)) return StopResult::kShutdown;
    MPut(m);
    CheckDead();
  }
  bool woken = m->park.SleepFor(timeout_ns);
  if (woken) m->park.Clear();
  P* p;
  {
    LockGuard l(sched.lock);
    p = m->nextp;
    m->nextp = nullptr;
    if (p == nullptr) {
      // Not handed a P. StartM pops an M and sets its nextp in one critical
      // section, so we are still on the idle list: leave it.
      if (!MRemove(m)) Throw("stopm: off the idle list without a p");
      return sched.shutdown.load(std::memory_order_relaxed) ? StopResult::kShutdown
                                                             : StopResult::kNoP;
    }
  }
  // A wake-up from StartM may still be on its way (we may have timed out
  // first); it only costs the next sleep a spurious return. Randomized
  // schedules leave one behind on purpose, so that every later sleep on
  // this note (StopM, StopLockedM) is tested against it.
  if (ChaosOneIn(4)) m->park.Wakeup();
  AcquireP(m, p);
  return StopResult::kGotP;
}

// The M's locked G has parked: give the P away and sleep until someone hands
// the G back with a P. Go: stoplockedm.
bool StopLockedM(M* m) {
  if (m->p != nullptr) HandoffP(ReleaseP(m));
  IncIdleLocked(1);
  P* p = nullptr;
  while (p == nullptr) {
    m->park.Sleep();
    m->park.Clear();
    LockGuard l(sched.lock);
    p = m->nextp;
    m->nextp = nullptr;
    if (sched.shutdown.load(std::memory_order_relaxed)) {
      if (p != nullptr) PidlePutMovingWork(p);
      return false;
    }
    // p == nullptr is a stale wake-up: StopM may have taken its P after a
    // timeout while StartM's Wakeup was still on its way, leaving the note
    // set. Only StartLockedM (with a P) or shutdown ends this wait.
  }
  AcquireP(m, p);
  return true;
}

// The caller found g, which is locked to another M: hand that M our P and
// stop. Go: startlockedm.
void StartLockedM(M* m, G* g) {
  M* lm = g->lockedm;
  if (lm == m) Throw("startlockedm: locked to me");
  P* p = ReleaseP(m);
  {
    LockGuard l(sched.lock);
    sched.nmidlelocked--;
    lm->nextp = p;
  }
  lm->park.Wakeup();
}

void ResetSpinning(M* m) {
  m->spinning = false;
  if (sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel) - 1 < 0) {
    Throw("resetspinning: negative nmspinning");
  }
  // The last spinning M found work: there may be more, so start another.
  WakeP();
}

// Finds a runnable G for m, which holds a P; blocks (without P) until one
// exists. Returns null at shutdown. Go: findRunnable.
G* FindRunnable(M* m) {
top:
  P* p = m->p;
  if (sched.shutdown.load(std::memory_order_acquire)) {
    if (m->spinning) {
      m->spinning = false;
      sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
    }
    if (p != nullptr) {
      ReleaseP(m);
      LockGuard l(sched.lock);
      PidlePutMovingWork(p);
    }
    return nullptr;
  }
  if (p == nullptr) {
    if (m->spinning) {
      m->spinning = false;
      sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
    }
    if (StopM(m) == StopResult::kShutdown) return nullptr;
    goto top;
  }
  if (IsRetired(p)) {
    if (m->spinning) {
      m->spinning = false;
      sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
    }
    RetireP(ReleaseP(m));
    WakeP();
    if (StopM(m) == StopResult::kShutdown) return nullptr;
    goto top;
  }

  // Expired timers of this P: their fibers land on our run queue.
  if (p->timer0_when.load(std::memory_order_acquire) != 0) RunTimers(p, Nanotime());

  // Every 61st tick look at the global queue first, so that a pair of fibers
  // readying each other cannot starve it. Go: schedule's fairness check.
  if (p->schedtick % 61 == 0 && sched.runq_size.load(std::memory_order_acquire) > 0) {
    LockGuard l(sched.lock);
    if (G* g = GlobRunqGet(p, 1)) return g;
  }
  if (G* g = RunqGet(p)) return g;
  if (sched.runq_size.load(std::memory_order_acquire) > 0) {
    LockGuard l(sched.lock);
    if (G* g = GlobRunqGet(p, 0)) return g;
  }

  // Steal. Limit the number of spinning Ms to half the busy Ps, so that a
  // burst of wake-ups does not burn every CPU.
  {
    int procs = sched.gomaxprocs.load(std::memory_order_acquire);
    if (m->spinning || 2 * sched.nmspinning.load(std::memory_order_relaxed) <
                           procs - sched.npidle.load(std::memory_order_relaxed)) {
      if (!m->spinning) {
        m->spinning = true;
        sched.nmspinning.fetch_add(1, std::memory_order_acq_rel);
      }
      for (int i = 0; i < 4; i++) {
        uint32_t start = FastRand(m);
        for (int k = 0; k < procs; k++) {
          P* p2 = sched.allp[(start + static_cast<uint32_t>(k)) % static_cast<uint32_t>(procs)].load(
              std::memory_order_acquire);
          if (p2 == nullptr || p2 == p) continue;
          if (i == 3 && p2->timer0_when.load(std::memory_order_acquire) != 0 &&
              RunTimers(p2, Nanotime()) > 0) {
            // Their fibers were readied onto our P. Go: stealWork's checkTimers.
            if (G* g = RunqGet(p)) return g;
          }
          if (G* g = RunqSteal(p, p2, i == 3)) return g;
        }
      }
    }
  }

  // Nothing: give up the P. Check the global queue once more under the lock,
  // so that a G queued by a plain thread is not missed.
  {
    LockGuard l(sched.lock);
    if (sched.shutdown.load(std::memory_order_relaxed)) goto top;
    if (G* g = GlobRunqGet(p, 0)) return g;
    ReleaseP(m);
    PidlePut(p);
  }
  bool was_spinning = m->spinning;
  if (m->spinning) {
    m->spinning = false;
    if (sched.nmspinning.fetch_sub(1, std::memory_order_acq_rel) - 1 < 0) {
      Throw("findrunnable: negative nmspinning");
    }
  }
  // Work may have been queued after we looked but before we dropped
  // nmspinning (whoever queued it saw us spinning and did not wake anyone):
  // on a local queue by a running P, or on the global queue by a plain thread.
  if (was_spinning) {
    int procs = sched.gomaxprocs.load(std::memory_order_acquire);
    for (int k = -1; k < procs; k++) {
      bool work;
      if (k < 0) {
        work = sched.runq_size.load(std::memory_order_acquire) > 0;
      } else {
        P* p2 = sched.allp[k].load(std::memory_order_acquire);
        work = p2 != nullptr && !RunqEmpty(p2);
      }
      if (work) {
        P* np;
        {
          LockGuard l(sched.lock);
          np = PidleGet();
        }
        if (np != nullptr) {
          AcquireP(m, np);
          m->spinning = true;
          sched.nmspinning.fetch_add(1, std::memory_order_acq_rel);
          goto top;
        }
        break;
      }
    }
  }
  // Timers pending: one idle M sleeps until the earliest deadline (Go
  // blocks in netpoll with that timeout); the others sleep until handed a P.
  if (int64_t next = EarliestTimer(); next != 0) {
    M* expected = nullptr;
    if (sched.timer_sleeper.compare_exchange_strong(expected, m, std::memory_order_acq_rel)) {
      sched.timer_sleep_until.store(next, std::memory_order_release);
      StopResult r = StopM(m, std::max<int64_t>(next - Nanotime(), 0));
      sched.timer_sleep_until.store(INT64_MAX, std::memory_order_release);
      sched.timer_sleeper.store(nullptr, std::memory_order_release);
      if (r == StopResult::kShutdown) return nullptr;
      if (r == StopResult::kNoP) {
        // Deadline (or an earlier timer): run what is due, with a P if one
        // is idle, else without (timer functions need none).
        P* np;
        {
          LockGuard l(sched.lock);
          np = PidleGet();
        }
        if (np != nullptr) {
          AcquireP(m, np);
        } else {
          RunAllTimers(Nanotime());
        }
      }
      goto top;
    }
  }
  if (StopM(m) == StopResult::kShutdown) return nullptr;
  goto top;
}

// ---------------------------------------------------------------------------
// Running a G, and what it asks for when it switches back. Go: execute,
// mcall, gosched_m, park_m, goexit0, exitsyscall0.

void GExit0(M* m, G* g);
void FinishExit(M* m, G* g);
G* ExitSyscall0(M* m, G* g);

// Runs g on m until g switches back; returns a G to run next on this M
// without going through the scheduler, or null. m holds a P.
G* Execute(M* m, G* g) {
  CasGStatus(g, GStatus::kRunnable, GStatus::kRunning);
  g->m = m;
  m->curg = g;
  m->p->schedtick++;
  TsanSwitchTo(g->tsan_fiber);
  AsanStart(&m->asan_fake, g->stack.lo, g->stack.size());
  ResumeInfo ri{m};
  Transfer t = Jump(g->ctx, &ri);
  AsanFinish(m->asan_fake);
  // Gs may have switched among themselves meanwhile: the one coming back is
  // the M's current G, not necessarily the one we started.
  g = m->curg;
  g->ctx = t.from;
  m->curg = nullptr;
  if (!StackCanaryIntact(g->stack)) FatalStackOverflow(g);
  auto* req = static_cast<SwitchRequest*>(t.data);
  switch (req->kind) {
    case SwitchKind::kGosched:
      CasGStatus(g, GStatus::kRunning, GStatus::kRunnable);
      g->m = nullptr;
      if (g->lockedm != nullptr) {
        // A locked G that yields while nothing else is runnable keeps its M.
        if (RunqEmpty(m->p) && sched.runq_size.load(std::memory_order_acquire) == 0) return g;
        LockGuard l(sched.lock);
        GlobRunqPut(g);
        return nullptr;
      }
      RunqPut(m->p, g, false);
      return nullptr;
    case SwitchKind::kPark:
      CasGStatus(g, GStatus::kRunning, GStatus::kWaiting);
      g->m = nullptr;
      // From here on, whoever the unlock function lets in may ready g.
      if (req->unlock != nullptr && !req->unlock(req->arg)) {
        CasGStatus(g, GStatus::kWaiting, GStatus::kRunnable);
        return g;
      }
      return nullptr;
    case SwitchKind::kExit:
      GExit0(m, g);
      return nullptr;
    case SwitchKind::kExitSyscall:
      return ExitSyscall0(m, g);
  }
  Throw("execute: bad switch request");
}

// The bookkeeping of a finished G, run once its stack is no longer in use
// (on g0, or on the next G after a direct switch). Go: goexit0.
void FinishExit(M* m, G* g) {
  CasGStatus(g, GStatus::kRunning, GStatus::kDead);
  g->m = nullptr;
  bool is_main = g->is_main;
  GFree(m->p, g);
  sched.ngoroutines.fetch_sub(1, std::memory_order_acq_rel);
  if (is_main) {
    sched.main_finished.store(true, std::memory_order_release);
    sched.main_done.Wakeup();
  }
}

void GExit0(M* m, G* g) {
  if (g->lockedm != nullptr) {
    // A fiber that exits locked takes its thread with it (Go >= 1.10): the
    // thread may carry state the fiber changed (unshare, setns, affinity).
    m->lockedg = nullptr;
    m->exiting = true;
  }
  FinishExit(m, g);
}

G* ExitSyscall0(M* m, G* g) {
  CasGStatus(g, GStatus::kSyscall, GStatus::kRunnable);
  g->m = nullptr;
  P* p;
  {
    LockGuard l(sched.lock);
    p = sched.shutdown.load(std::memory_order_relaxed) ? nullptr : PidleGet();
    if (p == nullptr) GlobRunqPut(g);
  }
  if (p != nullptr) {
    AcquireP(m, p);
    return g;
  }
  return nullptr;  // the loop stops this M (or waits for its locked G)
}

// The M's life. Go: mstart1 + schedule.
void Schedule(M* m) {
  for (;;) {
    if (m->lockedg != nullptr) {
      if (!StopLockedM(m)) return;
      for (G* g = m->lockedg; g != nullptr;) g = Execute(m, g);
      if (m->exiting) return;
      continue;
    }
    if (m->p == nullptr) {
      if (StopM(m) == StopResult::kShutdown) return;
      continue;
    }
    G* g = FindRunnable(m);
    if (g == nullptr) return;
    if (m->spinning) ResetSpinning(m);
    if (g->lockedm != nullptr && g->lockedm != m) {
      StartLockedM(m, g);
      continue;  // we have no P now: the loop stops this M
    }
    while (g != nullptr) g = Execute(m, g);
    if (m->exiting) return;
  }
}

void InitMThread(M* m) {
  SetM(m);
  m->tid = gettid();
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr;
    size_t size;
    pthread_attr_getstack(&attr, &addr, &size);
    m->g0_lo = addr;
    m->g0_size = size;
    pthread_attr_destroy(&attr);
  }
  m->tsan_fiber = TsanCurrentFiber();
  m->eh_globals = ThreadEhGlobals();
}

void* MStart(void* arg) {
  M* m = static_cast<M*>(arg);
  // The creator writes m->thread and then `created`: wait for it, so that
  // this M cannot exit (and be joined and freed) while its creator still
  // touches it, and so that m->thread is valid before anyone joins it.
  while (!m->created.load(std::memory_order_acquire)) sched_yield();
  InitMThread(m);
  MSignalStackInit(m);
  {
    P* p;
    {
      LockGuard l(sched.lock);
      p = m->nextp;
      m->nextp = nullptr;
    }
    if (p != nullptr) AcquireP(m, p);
  }
  Schedule(m);
  if (m->spinning) {
    m->spinning = false;
    sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
  }
  if (m->p != nullptr) HandoffP(ReleaseP(m));
  MSignalStackFree(m);
  SetM(nullptr);
  LockGuard l(sched.lock);
  m->exited = true;
  sched.mcount--;
  CheckDead();
  return nullptr;
}

}  // namespace

namespace {

// The resumed side of a direct G-to-G switch: prev's context is saved now, so
// its request can be carried out. Go has no counterpart (its gosched and park
// always go through g0).
void PostSwitch(M* m, G* prev, Context prev_ctx, SwitchRequest* req) {
  if (req->kind == SwitchKind::kExit) {
    FinishExit(m, prev);
    return;
  }
  prev->ctx = prev_ctx;
  prev->m = nullptr;
  if (req->kind == SwitchKind::kGosched) {
    CasGStatus(prev, GStatus::kRunning, GStatus::kRunnable);
    RunqPut(m->p, prev, false);
    return;
  }
  CasGStatus(prev, GStatus::kRunning, GStatus::kWaiting);
  if (req->unlock != nullptr && !req->unlock(req->arg)) {
    CasGStatus(prev, GStatus::kWaiting, GStatus::kRunnable);
    RunqPut(m->p, prev, true);
  }
}

// Everything a G does right after it is switched to: take its M's g0 context
// (or finish the previous G's direct switch), then restore what travels with
// the fiber.
M* OnResume(G* g, Transfer t) {
  auto* ri = static_cast<ResumeInfo*>(t.data);
  M* m = ri->m;
  AsanFinish(g->asan_fake);
  if (ri->prev != nullptr) {
    PostSwitch(m, ri->prev, t.from, ri->req);
  } else {
    m->g0ctx = t.from;
  }
  return m;
}

void CheckUnwind(G* g) {
  if (g->unwinding.load(std::memory_order_acquire)) {
    if (std::uncaught_exceptions() > 0) BlockedWhileUnwinding(g);
    throw ForcedUnwind{};
  }
}

// Switches from g straight to the next runnable G of its P, without g0.
// Returns false when that is not possible here (locked G, fairness tick,
// global work, shutdown, nothing local); the caller then goes through g0.
// The running G only.
bool TryDirectSwitch(G* g, SwitchRequest* req) {
  M* m = g->m;
  P* p = m->p;
  // The same order as FindRunnable: local work first, the global queue on
  // every 61st tick (left to g0).
  if (g->lockedm != nullptr || p == nullptr || p->schedtick % 61 == 0 ||
      sched.shutdown.load(std::memory_order_relaxed) || IsRetired(p)) {
    return false;
  }
  G* next = RunqGet(p);
  if (next == nullptr) return false;
  if (next->lockedm != nullptr) {  // belongs to another M: let g0 hand it over
    RunqPut(p, next, true);
    return false;
  }
  if (!StackCanaryIntact(g->stack)) FatalStackOverflow(g);
  CasGStatus(next, GStatus::kRunnable, GStatus::kRunning);
  next->m = m;
  m->curg = next;
  p->schedtick++;
  bool exiting = req->kind == SwitchKind::kExit;
  if (!exiting) SaveEh(m->eh_globals, &g->eh);
  ResumeInfo ri{m, g, req};
  // A dying fiber passes no fake-stack slot: ASan frees its fake stack.
  AsanStart(exiting ? nullptr : &g->asan_fake, next->stack.lo, next->stack.size());
  TsanSwitchTo(next->tsan_fiber);
  Transfer t = Jump(next->ctx, &ri);
  if (exiting) Throw("goexit: dead fiber resumed");
  M* nm = OnResume(g, t);
  RestoreEh(nm->eh_globals, g->eh);
  CheckUnwind(g);
  return true;
}

}  // namespace

namespace {
void McallImpl(G* g, SwitchRequest* req, bool unwind_point) {
  M* m = g->m;
  SaveEh(m->eh_globals, &g->eh);
  AsanStart(&g->asan_fake, m->g0_lo, m->g0_size);
  TsanSwitchTo(m->tsan_fiber);
  Transfer t = Jump(m->g0ctx, req);
  M* nm = OnResume(g, t);
  RestoreEh(nm->eh_globals, g->eh);
  if (unwind_point) CheckUnwind(g);
}
}  // namespace

// The G's side of a switch to g0: save what must travel with the fiber, jump,
// and on return (maybe on another M) take the new M's g0 context. The running
// G only. Go: mcall.
void Mcall(G* g, SwitchRequest* req) { McallImpl(g, req, true); }

void McallNoUnwind(G* g, SwitchRequest* req) { McallImpl(g, req, false); }

void BlockedWhileUnwinding(G* g) {
  if (g == nullptr) Throw("the Run thread blocked on a runtime object during shutdown");
  if (std::uncaught_exceptions() == 0) throw ForcedUnwind{};
  WriteErr("runtime: goroutine ");
  WriteErrNum(g->id);
  WriteErr(" blocked (on a channel, select, mutex, wait group or sleep) in a destructor "
           "while shutdown was unwinding it; nothing can wake it any more\n");
  Throw("fiber parked while being unwound at shutdown");
}

// errno of the thread running the caller. Not inlined: __errno_location is
// declared const, so a caller's compiler could reuse the address it computed
// before a switch that moved the fiber to another thread.
__attribute__((noinline)) void SetErrno(int e) {
  asm volatile("" ::: "memory");
  errno = e;
}

// Yields: straight to the next local G if there is one, else through g0.
// The running G only. Go: gosched_m (which always goes through g0).
void Yield(G* g) {
  SwitchRequest req{SwitchKind::kGosched};
  if (TryDirectSwitch(g, &req)) return;
  Mcall(g, &req);
}

namespace {
[[noreturn]] void McallExit(G* g) {
  SwitchRequest req{SwitchKind::kExit};
  TryDirectSwitch(g, &req);  // returns only if it could not switch
  M* m = g->m;
  AsanStart(nullptr, m->g0_lo, m->g0_size);  // this fiber's fake stack dies with it
  TsanSwitchTo(m->tsan_fiber);
  Jump(m->g0ctx, &req);
  Throw("goexit: dead fiber resumed");
}
}  // namespace

// The bottom frame of every fiber. Never returns.
void GMain(Transfer t) {
  auto* ri = static_cast<ResumeInfo*>(t.data);
  M* m = ri->m;
  AsanFinish(nullptr);
  if (ri->prev != nullptr) {
    PostSwitch(m, ri->prev, t.from, ri->req);
  } else {
    m->g0ctx = t.from;
  }
  G* g = m->curg;
  g->started = true;
  if (!g->unwinding.load(std::memory_order_acquire)) {
    try {
      g->invoke(g->fn, true);
    } catch (const ForcedUnwind&) {
      if (g->is_main && !g->unwinding.load(std::memory_order_acquire)) {
        LockGuard l(sched.lock);
        sched.main_goexited = true;
        g->is_main = false;  // Go: the program goes on without main
      }
    } catch (const std::exception& e) {
      PanicAbort(g, e.what());
    } catch (...) {
      PanicAbort(g, "(a value that is not a std::exception)");
    }
  } else {
    g->invoke(g->fn, false);
  }
  McallExit(g);
}

// Parks the running G; unlock(arg) runs on g0 once the G is saved and
// returns false to resume the G at once. The running G only. Go: gopark.
void Park(bool (*unlock)(void*), void* arg) {
  G* g = GetG();
  if (g == nullptr) Throw("park outside a fiber");
  ParkG(g, unlock, arg);
}

void ParkG(G* g, bool (*unlock)(void*), void* arg) {
  SchedulePointHere();
  SwitchRequest req{SwitchKind::kPark, unlock, arg};
  if (TryDirectSwitch(g, &req)) return;
  Mcall(g, &req);
}

// Makes a waiting G runnable: on the caller's P (as runnext) when there is
// one, else on the global queue; then wakes an idle P. Any thread. Go: ready.
void Ready(G* g) {
  SchedulePointHere();
  CasGStatus(g, GStatus::kWaiting, GStatus::kRunnable);
  M* m = GetM();
  if (m != nullptr && m->p != nullptr && !m->is_m0) {
    RunqPut(m->p, g, true);
  } else {
    if (m == nullptr) RegisterForeignThread();
    LockGuard l(sched.lock);
    GlobRunqPut(g);
  }
  WakeP();
}

// ---------------------------------------------------------------------------
// Run support (run.cc).

void SetRunThread(bool v) { tls_is_run_thread = v; }

// Queues a new G: from a fiber with a P onto its runnext, else globally.
void QueueNewG(G* g) {
  CasGStatus(g, GStatus::kIdle, GStatus::kRunnable);
  sched.ngoroutines.fetch_add(1, std::memory_order_acq_rel);
  M* m = GetM();
  if (m != nullptr && m->p != nullptr && !m->is_m0) {
    RunqPut(m->p, g, true);
  } else {
    if (m == nullptr) RegisterForeignThread();
    LockGuard l(sched.lock);
    GlobRunqPut(g);
  }
  WakeP();
}

G* NewG(std::size_t size, std::size_t align, void (*invoke)(void*, bool)) {
  M* m = GetM();
  P* p = (m != nullptr && !m->is_m0) ? m->p : nullptr;
  G* g = GAlloc(p);
#if GORT_ASAN
  // A reused stack may still carry the poisoned redzones of its last fiber.
  __asan_unpoison_memory_region(g->stack.lo + sizeof(uint64_t), g->stack.size() - sizeof(uint64_t));
#endif
  align = std::max<std::size_t>(align, 16);
  auto top = reinterpret_cast<uintptr_t>(g->stack.hi);
  uintptr_t storage = (top - size) & ~(uintptr_t{align} - 1);
  uintptr_t sp = storage & ~uintptr_t{63};
  if (size > g->stack.size() / 2 || sp - reinterpret_cast<uintptr_t>(g->stack.lo) < 16 * 1024) {
    CasGStatus(g, GStatus::kIdle, GStatus::kDead);
    GFree(p, g);
    throw Panic("gort: Go: the callable does not fit on a fiber stack (capture less by value)");
  }
  g->fn = reinterpret_cast<void*>(storage);
  g->invoke = invoke;
  g->ctx = MakeContext(reinterpret_cast<void*>(sp), sp - reinterpret_cast<uintptr_t>(g->stack.lo));
  g->id = sched.goidgen.fetch_add(1, std::memory_order_relaxed) + 1;
  g->started = false;
  g->unwinding.store(false, std::memory_order_relaxed);
  return g;
}

void DropNewG(G* g) {
  CasGStatus(g, GStatus::kIdle, GStatus::kDead);
  M* m = GetM();
  GFree((m != nullptr && !m->is_m0) ? m->p : nullptr, g);
}

// Shutdown helpers: every M has left Schedule when these run.
void ShutdownWakeAllMs() {
  LockGuard l(sched.lock);
  for (M* m : sched.allm) {
    if (!m->exited) m->park.Wakeup();
  }
}

void JoinAllMs() {
  // An M allocated just before shutdown may still be on its way (queued for
  // the template thread, or being created by another M): wait until every M
  // has its thread before joining any. The template thread is still running.
  for (;;) {
    bool all = true;
    {
      LockGuard l(sched.lock);
      for (M* m : sched.allm) all = all && m->created.load(std::memory_order_acquire);
    }
    if (all) break;
    sched_yield();
  }
  // Free nothing until every thread is gone: an M still running may hand
  // its P to another (say, a locked M that already exited) on its way out.
  std::vector<M*> joined;
  for (;;) {
    std::vector<M*> ms;
    {
      LockGuard l(sched.lock);
      ms.swap(sched.allm);
    }
    if (ms.empty()) break;
    for (M* m : ms) {
      pthread_join(m->thread, nullptr);
      sched.nthreads.fetch_sub(1, std::memory_order_relaxed);
      joined.push_back(m);
    }
  }
  for (M* m : joined) delete m;
}

// Resumes a parked or runnable G on the Run thread (pseudo-M m0) so that it
// unwinds; a G that never started just destroys its callable.
void UnwindG(M* m0, G* g) {
  GStatus s = g->status.load(std::memory_order_acquire);
  if (s != GStatus::kRunnable && s != GStatus::kWaiting) return;
  CasGStatus(g, s, GStatus::kRunning);
  g->readied_before_unwind = (s == GStatus::kRunnable);
  g->unwinding.store(true, std::memory_order_release);
  for (;;) {
    g->m = m0;
    m0->curg = g;
    TsanSwitchTo(g->tsan_fiber);
    AsanStart(&m0->asan_fake, g->stack.lo, g->stack.size());
    ResumeInfo ri{m0};
    Transfer t = Jump(g->ctx, &ri);
    AsanFinish(m0->asan_fake);
    g->ctx = t.from;
    m0->curg = nullptr;
    auto* req = static_cast<SwitchRequest*>(t.data);
    if (req->kind == SwitchKind::kExit) break;
    // Gosched or park while unwinding (a destructor that yields): resume it.
    if (req->kind == SwitchKind::kPark && req->unlock != nullptr) req->unlock(req->arg);
  }
  CasGStatus(g, GStatus::kRunning, GStatus::kDead);
  g->m = nullptr;
  sched.ngoroutines.fetch_sub(1, std::memory_order_acq_rel);
  GFree(nullptr, g);
}

void InitM0(M* m0) {
  m0->is_m0 = true;
  InitMThread(m0);
}

}  // namespace gort::runtime::internal
