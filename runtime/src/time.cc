// Sleep, After, Timer, AfterFunc, Ticker and Tick over the scheduler's
// timers (timers.cc).
#include "gort/time.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "execute.h"
#include "fatal.h"
#include "gort/runtime.h"
#include "proc.h"
#include "schedule.h"
#include "timers.h"

namespace gort::time {

using runtime::internal::AddTimer;
using runtime::internal::DelTimer;
using runtime::internal::G;
using runtime::internal::GetM;
using runtime::internal::M;
using runtime::internal::Nanotime;
using runtime::internal::TimerNode;

namespace {

int64_t Deadline(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return Nanotime();
  if (d == absl::InfiniteDuration()) return INT64_MAX;
  int64_t ns = absl::ToInt64Nanoseconds(d);
  int64_t now = Nanotime();
  return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

void RequireRunning() {
  if (!runtime::internal::sched.running.load(std::memory_order_acquire)) {
    throw Panic("gort: timers need the runtime (use them inside runtime::Run)");
  }
}

}  // namespace

// Go: timeSleep (the timer is added in the park's unlock step, once the
// fiber is saved, so that it cannot fire on a fiber still running).
void Sleep(absl::Duration d) {
  M* m = GetM();
  if (m != nullptr && m->is_m0 && d > absl::ZeroDuration()) {
    runtime::internal::BlockedWhileUnwinding(m->curg);  // shutdown is unwinding this fiber
  }
  G* g = CurrentG(m);
  if (g == nullptr) {
    absl::SleepFor(d);
    return;
  }
  if (d <= absl::ZeroDuration()) {
    runtime::CheckPreempt();
    return;
  }
  if (g->status.load(std::memory_order_relaxed) == runtime::internal::GStatus::kSyscall) {
    runtime::internal::Throw("time.Sleep inside EnterSyscall/ExitSyscall");
  }
  TimerNode t;
  t.when = Deadline(d);
  t.fn = [](void* arg, uint64_t) { runtime::internal::Ready(static_cast<G*>(arg)); };
  t.arg = g;
  g->wait_reason = "sleep";
  try {
    runtime::internal::ParkG(
        g,
        [](void* node) {
          AddTimer(static_cast<TimerNode*>(node));
          return true;
        },
        &t);
  } catch (...) {  // unwound at shutdown while asleep
    DelTimer(&t);
    throw;
  }
}

namespace time_internal {

// A Timer's or Ticker's state. Go 1.23's rules: Stop, Reset and the firing
// may run at once from any fibers and threads; once Stop or Reset returns,
// no value from an earlier arming is received. `mu` serializes them (Go:
// timer.sendLock), and `seq` counts Stops and Resets: a firing carries the
// count of its arming and sends nothing if the count has moved on since.
//
// A ticker (period > 0) re-arms itself from its firing, under `mu`, on its
// grid: the next deadline is the first multiple of the period after now
// (Go: timer.unlockAndRun), so ticks a slow reader missed are skipped. An
// AfterFunc timer (func set) starts a fiber running func instead of sending.
struct TimerState {
  std::atomic<int> refs{1};  // the handle (or After/Tick), plus one while in a heap
  Chan<absl::Time> c;        // nil for AfterFunc
  std::function<void()> func;
  runtime::internal::Lock mu;
  uint64_t seq ABSL_GUARDED_BY(mu) = 0;
  // Armed and its firing not yet committed: set by ArmAt, cleared by the
  // firing (once it holds `mu` and its seq matches) and by Stop. Stop's
  // answer comes from here rather than from the heap, since a timer that
  // RunTimers already took out of its heap may still be stopped before its
  // firing commits (it then delivers nothing, so Stop reports true).
  bool armed ABSL_GUARDED_BY(mu) = false;
  int64_t period ABSL_GUARDED_BY(mu) = 0;  // ns; > 0 for a ticker
  TimerNode node ABSL_GUARDED_BY(mu);      // the heap owns it while armed

  static void Fire(void* arg, uint64_t seq) {
    auto* s = static_cast<TimerState*>(arg);
    std::function<void()> f;
    {
      runtime::internal::LockGuard l(s->mu);
      if (seq != s->seq) return;  // stopped or reset after this arming
      s->armed = false;           // committed: Stop now reports false
      if (s->func) {
        f = s->func;
      } else {
        s->c.TrySend(absl::Now());  // full: the previous value was never read
      }
      if (s->period > 0) {
        // The node is out of the heap (RunTimers took it out) and nobody
        // else touches it while seq is unchanged: re-arm it on the grid.
        int64_t now = Nanotime();
        int64_t when = s->node.when;
        int64_t missed = when < now ? (now - when) / s->period : 0;
        int64_t step, next;
        if (__builtin_mul_overflow(s->period, missed + 1, &step) ||
            __builtin_add_overflow(when, step, &next)) {
          next = INT64_MAX;
        }
        s->ArmAt(next);
      }
    }
    if (f) StartFunc(std::move(f));
  }
  // Go: goFunc. Runs on whatever checks timers (an M's g0, the poll
  // sleeper, sysmon): Go from there queues a new fiber. Only fails once the
  // runtime is shutting down, when the callback is dropped as every other
  // pending timer is.
  static void StartFunc(std::function<void()> f) {
    try {
      runtime::Go(std::move(f));
    } catch (const Panic&) {
    }
  }
  static void Unref(void* arg) {
    auto* s = static_cast<TimerState*>(arg);
    if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
  }
  void ArmAt(int64_t when) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    node.when = when;
    node.fn = &Fire;
    node.arg = this;
    node.seq = seq;
    node.release = &Unref;
    armed = true;
    refs.fetch_add(1, std::memory_order_relaxed);  // the heap's reference
    AddTimer(&node);
  }
  void Arm(absl::Duration d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { ArmAt(Deadline(d)); }
  // Go 1.23's stop: true if the timer had not yet delivered to anyone, that
  // is, it was still pending or its value sat unreceived (dropped here).
  bool Stop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (DelTimer(&node))
      refs.fetch_sub(1, std::memory_order_acq_rel);  // never the last: the owner holds one
    bool pending = armed;
    armed = false;
    seq++;
    // The receive is a preemption check, and yielding here would keep `mu`
    // (a lock that blocks threads) held while this fiber waits for a P:
    // every other Stop or Reset of this timer would block its M, down to
    // the last one (a deadlock found by TimeTest's hammer under load).
    runtime::internal::M* m = runtime::internal::GetM();
    if (m != nullptr) m->nopreempt++;
    if (c.TryRecv().has_value()) pending = true;
    if (m != nullptr) m->nopreempt--;
    return pending;
  }
};

}  // namespace time_internal

using time_internal::TimerState;

Chan<absl::Time> After(absl::Duration d) {
  RequireRunning();
  runtime::CheckPreempt();
  auto* s = new TimerState;
  s->c = Chan<absl::Time>(1);
  Chan<absl::Time> c = s->c;
  {
    runtime::internal::LockGuard l(s->mu);
    s->Arm(d);
  }
  TimerState::Unref(s);  // only the heap holds it now
  return c;
}

Timer::Timer(absl::Duration d) {
  RequireRunning();
  shared_ = new TimerState;
  shared_->c = Chan<absl::Time>(1);
  c_ = shared_->c;
  runtime::internal::LockGuard l(shared_->mu);
  shared_->Arm(d);
}

std::unique_ptr<Timer> Timer::AfterFunc(absl::Duration d, std::function<void()> f) {
  RequireRunning();
  if (!f) throw Panic("time: AfterFunc with an empty function");
  std::unique_ptr<Timer> t(new Timer);
  t->shared_ = new TimerState;
  t->shared_->func = std::move(f);
  runtime::internal::LockGuard l(t->shared_->mu);
  t->shared_->Arm(d);
  return t;
}

Timer::~Timer() {
  if (!shared_->func) {
    runtime::internal::LockGuard l(shared_->mu);
    shared_->Stop();
  }
  TimerState::Unref(shared_);  // a pending or running firing holds its own reference
}

bool Timer::Stop() {
  runtime::internal::LockGuard l(shared_->mu);
  return shared_->Stop();
}

bool Timer::Reset(absl::Duration d) {
  RequireRunning();
  runtime::CheckPreempt();
  runtime::internal::LockGuard l(shared_->mu);
  bool pending = shared_->Stop();
  shared_->Arm(d);
  return pending;
}

namespace {

int64_t PeriodNs(absl::Duration d, const char* what) {
  if (d <= absl::ZeroDuration()) throw Panic(what);
  if (d == absl::InfiniteDuration()) return INT64_MAX;
  return std::max<int64_t>(1, absl::ToInt64Nanoseconds(d));
}

}  // namespace

Ticker::Ticker(absl::Duration d) {
  int64_t period = PeriodNs(d, "non-positive interval for NewTicker");
  RequireRunning();
  shared_ = new TimerState;
  shared_->c = Chan<absl::Time>(1);
  c_ = shared_->c;
  runtime::internal::LockGuard l(shared_->mu);
  shared_->period = period;
  shared_->Arm(d);
}

Ticker::~Ticker() {
  {
    runtime::internal::LockGuard l(shared_->mu);
    shared_->Stop();
  }
  TimerState::Unref(shared_);
}

void Ticker::Stop() {
  runtime::internal::LockGuard l(shared_->mu);
  shared_->Stop();
}

void Ticker::Reset(absl::Duration d) {
  int64_t period = PeriodNs(d, "non-positive interval for Ticker.Reset");
  RequireRunning();
  runtime::internal::LockGuard l(shared_->mu);
  shared_->Stop();
  shared_->period = period;
  shared_->Arm(d);
}

Chan<absl::Time> Tick(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return Chan<absl::Time>();
  RequireRunning();
  auto* s = new TimerState;
  s->c = Chan<absl::Time>(1);
  Chan<absl::Time> c = s->c;
  {
    runtime::internal::LockGuard l(s->mu);
    s->period = PeriodNs(d, "");
    s->Arm(d);
  }
  TimerState::Unref(s);  // only the heap holds it now, until shutdown
  return c;
}

}  // namespace gort::time
