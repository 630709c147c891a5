// sysmon: see sysmon.h. It wakes every kMinDelayUs while there is something
// to retake and backs off (doubling, up to kMaxDelayUs) while idle, as Go's
// sysmon does. Go: sysmon, retake.
#include "sysmon.h"

#include <pthread.h>

#include <cstring>
#include <string>

#include "deadlock.h"
#include "fatal.h"
#include "gort/panic.h"
#include "mthread.h"
#include "netpoll.h"
#include "proc.h"
#include "runq.h"
#include "schedule.h"
#include "stats.h"
#include "syscall_bracket.h"
#include "timers.h"

namespace gort::runtime::internal {

namespace {

struct Sysmon {
  pthread_t thread{};
  bool started = false;
  std::atomic<bool> stop{false};
  Note wake;
} sysmon;

// A P in a system call with no work queued, while others can take new work,
// is left alone for this long: taking it would only slow its M's exit.
constexpr int64_t kRetakeSlackNs = 10 * 1000 * 1000;
// sysmon's sleep: kMinDelayUs while it finds something to retake; after
// kIdleRoundsBeforeBackoff idle rounds it doubles, up to kMaxDelayUs. Go:
// sysmon's usleep(delay) with 20 us, 50 rounds and 10 ms.
constexpr int64_t kMinDelayUs = 20;
constexpr int kIdleRoundsBeforeBackoff = 50;
constexpr int64_t kMaxDelayUs = 10 * 1000;

// Retakes Ps that have been in the same system call for a whole sysmon tick.
// Returns how many it took.
int Retake(int64_t now) {
  int n = 0;
  int nallp = sched.nallp.load(std::memory_order_acquire);
  for (int i = 0; i < nallp; i++) {
    P* p = sched.allp[i].load(std::memory_order_acquire);
    if (p == nullptr) continue;
    if (p->status.load(std::memory_order_acquire) != PStatus::kSyscall) continue;
    uint32_t t = p->syscalltick.load(std::memory_order_relaxed);
    if (p->sysmon_tick != t) {
      p->sysmon_tick = t;
      p->sysmon_when = now;
      continue;
    }
    // Leave it alone if it has no work, someone else can pick up new work
    // (spinning M or idle P), and it has not been in the call for long:
    // taking it would only cost its M a slower exit.
    if (RunqEmpty(p) &&
        sched.nmspinning.load(std::memory_order_relaxed) +
                sched.npidle.load(std::memory_order_relaxed) >
            0 &&
        p->sysmon_when + kRetakeSlackNs > now) {
      continue;
    }
    if (RetakeSyscallP(p)) {
      n++;
      Count(stats.retakes);
    }
  }
  return n;
}

// A G that has held its P this long without parking or yielding is asked
// to yield. Go: forcePreemptNS.
constexpr int64_t kForcePreemptNs = 10 * 1000 * 1000;

// Marks the Ps whose current G has run kForcePreemptNs (the P's schedtick
// has not moved for that long). Go: retake's _Prunning half, preemptone.
// The mark may land just after that G parked and another started; the new
// G then yields once early, which is harmless (Go has the same race).
void PreemptLongRunning(int64_t now) {
  if (!sched.preempt.load(std::memory_order_relaxed)) return;
  int nallp = sched.nallp.load(std::memory_order_acquire);
  for (int i = 0; i < nallp; i++) {
    P* p = sched.allp[i].load(std::memory_order_acquire);
    if (p == nullptr) continue;
    if (p->status.load(std::memory_order_acquire) != PStatus::kRunning) continue;
    uint32_t t = p->schedtick.load(std::memory_order_relaxed);
    if (p->sysmon_schedtick != t) {
      p->sysmon_schedtick = t;
      p->sysmon_schedwhen = now;
      continue;
    }
    if (now - p->sysmon_schedwhen >= kForcePreemptNs) {
      p->preempt.store(true, std::memory_order_relaxed);
    }
  }
}

// Timers nobody has run 1 ms after their deadline: every P is busy (or held
// by an M blocked outside a syscall bracket). Timer functions need no P, so
// sysmon runs them itself. Go's sysmon starts an M for them instead, which
// cannot help when no P is free.
constexpr int64_t kTimerOverdueNs = 1000 * 1000;

// sysmon's loop, until `until` holds (checked after every wake-up) or
// SysmonStop.
void SysmonLoop(bool (*until)()) {
  int64_t delay_us = kMinDelayUs;
  int idle = 0;
  while (!sysmon.stop.load(std::memory_order_acquire) && !until()) {
    if (idle == 0) {
      delay_us = kMinDelayUs;
    } else if (idle > kIdleRoundsBeforeBackoff) {
      delay_us *= 2;
    }
    if (delay_us > kMaxDelayUs) delay_us = kMaxDelayUs;
    int64_t sleep_ns = delay_us * 1000;
    {
      LockGuard l(sched.lock);
      if (sched.deadlock_suspect) {
        int64_t left = sched.deadlock_since + kDeadlockGraceNs - Nanotime();
        if (left <= 0) {
          // Still dead after the grace period: nothing can wake anyone.
          DeadState d = EvalDead();
          if (d != DeadState::kAlive) ThrowDead(d);
          sched.deadlock_suspect = false;
        } else if (left < sleep_ns) {
          sleep_ns = left;
        }
      }
    }
    if (sysmon.wake.SleepFor(sleep_ns)) sysmon.wake.Clear();
    ServeThreadRequests();
    if (sysmon.stop.load(std::memory_order_acquire) || until()) break;
    int64_t now = Nanotime();
    int64_t next_timer = EarliestTimer();
    if (next_timer != 0 && now > next_timer + kTimerOverdueNs) RunAllTimers(now);
    SysmonNetpoll(now);
    PreemptLongRunning(now);
    if (Retake(now) > 0) {
      idle = 0;
    } else {
      idle++;
    }
  }
}

bool Never() { return false; }

void* SysmonMain(void*) {
  SetRunThread(true);      // readying fibers from here is the runtime's own doing
  MarkSysmonThread(true);  // and it creates the threads of Ms (the template role)
  pthread_setname_np(pthread_self(), "gort-sysmon");
  SysmonLoop(&Never);
  return nullptr;
}

bool MainFinished() { return sched.main_finished.load(std::memory_order_acquire); }

// Whether every M has exited (its thread is about to return). Shutdown
// only: no new M is made once the flag is set.
bool AllMsExited() {
  LockGuard l(sched.lock);
  for (M* m : sched.allm) {
    if (!m->exited) return false;
  }
  return true;
}

}  // namespace

void SysmonStart() {
  sysmon.stop.store(false, std::memory_order_relaxed);
  sysmon.wake.Clear();
  CountThread();
  if (int err = pthread_create(&sysmon.thread, nullptr, &SysmonMain, nullptr); err != 0) {
    sched.nthreads.fetch_sub(1, std::memory_order_relaxed);
    throw Panic(std::string("gort: runtime::Start: cannot create the sysmon thread: ") +
                strerror(err));
  }
  sysmon.started = true;
}

void SysmonPrepareHere() {
  sysmon.stop.store(false, std::memory_order_relaxed);
  sysmon.wake.Clear();
  MarkSysmonThread(true);
}

void SysmonHereUntilMainReturns() { SysmonLoop(&MainFinished); }

void SysmonHereUntilMsExit() {
  ServeThreadRequests();  // an M queued before shutdown still needs its thread
  SysmonLoop(&AllMsExited);
  MarkSysmonThread(false);
}

void SysmonWake() { sysmon.wake.Wakeup(); }

void SysmonStop() {
  if (!sysmon.started) return;
  sysmon.stop.store(true, std::memory_order_release);
  sysmon.wake.Wakeup();
  pthread_join(sysmon.thread, nullptr);
  sched.nthreads.fetch_sub(1, std::memory_order_relaxed);
  sysmon.started = false;
}

}  // namespace gort::runtime::internal
