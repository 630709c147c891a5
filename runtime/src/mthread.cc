// M lifecycle: see mthread.h. Protocol:
//   - An M is allocated (AllocM, under sched.lock: counted in mcount and
//     allm) before its thread exists; its creator then writes m->thread and
//     sets m->created, which MStart waits for, so that the M cannot exit
//     (and be joined) while its creator still touches it.
//   - An M that leaves Schedule sets m->exited under sched.lock; the next
//     NewM joins and frees such Ms (JoinExitedMs), shutdown joins them all.
//   - sysmon doubles as Go's template thread: it creates the threads of Ms
//     that an M locked by the user or a plain thread asked for (sysmon
//     itself was cloned from the Run thread at start-up and never changes
//     its thread). An M locked by the runtime (LockOSThreadInternal) clones
//     new Ms itself. One thread fewer than Go's sysmon + templateThread.
#include "mthread.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "deadlock.h"
#include "fatal.h"
#include "gort/panic.h"
#include "netpoll.h"
#include "schedule.h"
#include "signals.h"
#include "stats.h"
#include "sysmon.h"

namespace gort::runtime::internal {
namespace {

// Set on every M's thread, which blocks SIGPIPE for its whole life: a write
// to a broken pipe from a fiber is then just EPIPE (the pending signal is
// taken off by the writer), with no signal-mask system calls around each
// write. Go ignores SIGPIPE the same way for every descriptor but 1 and 2.
thread_local bool sigpipe_blocked = false;

std::atomic<MHook> m_hook{nullptr};

// Ms whose threads sysmon is to create.
struct ThreadRequests {
  Lock lock;
  std::vector<M*> queue ABSL_GUARDED_BY(lock);
} requests;

// Set on sysmon's thread, which creates threads itself.
thread_local bool is_sysmon_thread = false;

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
  // A StartM may still be inside WakeM for one of them: it took the M off
  // the idle list, woke it, and the M ran, exited (a locked fiber ended)
  // and was collected here before WakeM read m->in_netpoll. Free nothing
  // until the wake-ups in flight are done (as JoinAllMs does).
  if (!done.empty()) {
    while (sched.nwaking.load(std::memory_order_acquire) != 0) sched_yield();
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
  pthread_attr_setstacksize(&attr, kMStackSize);
  int err = pthread_create(&m->thread, &attr, &MStart, m);
  pthread_attr_destroy(&attr);
  if (err == 0) Count(stats.threads_created);
  if (err == 0) RunMHook(MHookPoint::kAfterThreadCreate, m, nullptr);
  if (err == 0) m->created.store(true, std::memory_order_release);  // MStart waits for this
  if (err != 0) {
    BeginFatal();
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

}  // namespace

void SetMHookForTesting(MHook hook) { m_hook.store(hook, std::memory_order_release); }

void RunMHook(MHookPoint point, M* a, M* b) {
  if (MHook h = m_hook.load(std::memory_order_acquire)) h(point, a, b);
}

// Counts a new runtime thread against max_threads. Go: checkmcount.
void CountThread() {
  int n = sched.nthreads.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n > sched.max_threads) {
    BeginFatal();
    WriteErr("runtime: program exceeds ");
    WriteErrNum(static_cast<uint64_t>(sched.max_threads));
    WriteErr("-thread limit\n");
    Throw("thread exhaustion");
  }
}

void MarkSysmonThread(bool is_sysmon) { is_sysmon_thread = is_sysmon; }

void ServeThreadRequests() {
  std::vector<M*> todo;
  {
    LockGuard l(requests.lock);
    todo.swap(requests.queue);
  }
  for (M* m : todo) {
    RunMHook(MHookPoint::kTemplateBeforeCreate, m, nullptr);
    NewOSThread(m);
  }
}

// Creates an M that will start with p (may be null). The M is already counted
// in sched.mcount and allm by the caller (under sched.lock). Go: newm.
void NewM(M* m) {
  JoinExitedMs();
  M* self = GetM();
  // A clean thread clones the new M itself: sysmon, an unlocked M, or one
  // that only the runtime locked (its fiber leaves the thread as it was).
  // Go: newm (lockedExt, not lockedInt, sends the request to the template).
  const bool clean =
      self == nullptr ? is_sysmon_thread
                      : !self->is_m0 && (self->lockedg == nullptr || self->lockedg->lock_ext == 0);
  if (clean) {
    NewOSThread(m);
    return;
  }
  {
    LockGuard l(requests.lock);
    requests.queue.push_back(m);
  }
  SysmonWake();
}

M* AllocM(P* p, bool spinning) {
  CountThread();
  M* m = new M;
  m->id = sched.mnext++;
  m->nextp = p;
  m->spinning = spinning;
  m->rand =
      0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(m->id + 1) ^ static_cast<uint64_t>(Nanotime());
  if (m->rand == 0) m->rand = 1;
  sched.mcount++;
  sched.allm.push_back(m);
  return m;
}

namespace {

void InitMThread(M* m) {
  SetM(m);
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigpipe_blocked = pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr) == 0;
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
  pthread_setname_np(pthread_self(), "gort-m");  // for ps -L, top -H and gdb
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
  if (m->releasing) {  // woke without a P and saw shutdown
    m->releasing = false;
    sched.nmreleasing--;
  }
  m->exited = true;
  sched.mcount--;
  CheckDead();
  // At shutdown sysmon (the Run thread) waits for the last M to exit.
  if (sched.shutdown.load(std::memory_order_relaxed)) SysmonWake();
  return nullptr;
}

}  // namespace

void ShutdownWakeAllMs() {
  LockGuard l(sched.lock);
  for (M* m : sched.allm) {
    if (!m->exited) WakeM(m);  // on its note, or in the poller
  }
}

void JoinAllMs() {
  // An M allocated just before shutdown may still be on its way (queued for
  // sysmon, or being created by another M): wait until every M has its
  // thread before joining any. sysmon is still running.
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
  // A StartM that took one of them off the idle list before shutdown began
  // may still be waking it (it runs on sysmon or a plain thread, neither
  // joined here): free them once it is done. It took the M under
  // sched.lock before the shutdown flag was set, so no new one comes.
  while (sched.nwaking.load(std::memory_order_acquire) != 0) sched_yield();
  for (M* m : joined) delete m;
}

void InitM0(M* m0) {
  m0->is_m0 = true;
  InitMThread(m0);
}

bool SigpipeBlockedHere() { return sigpipe_blocked; }

}  // namespace gort::runtime::internal
