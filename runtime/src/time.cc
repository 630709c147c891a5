// Sleep, After and Timer over the scheduler's timers (timers.cc).
#include "gort/time.h"

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
  if (d <= absl::ZeroDuration()) return;
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

// A Timer's state. Go 1.23's rules: Stop, Reset and the firing may run at
// once from any fibers and threads; once Stop or Reset returns, no value from
// an earlier arming is received. `mu` serializes them (Go: timer.sendLock),
// and `seq` counts Stops and Resets: a firing carries the count of its arming
// and sends nothing if the count has moved on since.
struct Timer::Shared {
  std::atomic<int> refs{1};  // the Timer (or After), plus one while in a heap
  Chan<absl::Time> c{1};
  runtime::internal::Lock mu;
  uint64_t seq ABSL_GUARDED_BY(mu) = 0;
  TimerNode node ABSL_GUARDED_BY(mu);  // the heap owns it while armed

  static void Fire(void* arg, uint64_t seq) {
    auto* s = static_cast<Shared*>(arg);
    runtime::internal::LockGuard l(s->mu);
    if (seq != s->seq) return;  // stopped or reset after this arming
    s->c.TrySend(absl::Now());  // full: the previous value was never read
  }
  static void Unref(void* arg) {
    auto* s = static_cast<Shared*>(arg);
    if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
  }
  void Arm(absl::Duration d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    node.when = Deadline(d);
    node.fn = &Fire;
    node.arg = this;
    node.seq = seq;
    node.release = &Unref;
    refs.fetch_add(1, std::memory_order_relaxed);  // the heap's reference
    AddTimer(&node);
  }
  // Go 1.23's stop: true if the timer had not yet delivered to anyone, that
  // is, it was still pending or its value sat unreceived (dropped here).
  bool Stop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    bool pending = DelTimer(&node);
    if (pending)
      refs.fetch_sub(1, std::memory_order_acq_rel);  // never the last: the owner holds one
    seq++;
    if (c.TryRecv().has_value()) pending = true;
    return pending;
  }
};

Chan<absl::Time> After(absl::Duration d) {
  RequireRunning();
  auto* s = new Timer::Shared;
  Chan<absl::Time> c = s->c;
  {
    runtime::internal::LockGuard l(s->mu);
    s->Arm(d);
  }
  Timer::Shared::Unref(s);  // only the heap holds it now
  return c;
}

Timer::Timer(absl::Duration d) {
  RequireRunning();
  shared_ = new Shared;
  c_ = shared_->c;
  runtime::internal::LockGuard l(shared_->mu);
  shared_->Arm(d);
}

Timer::~Timer() {
  {
    runtime::internal::LockGuard l(shared_->mu);
    shared_->Stop();
  }
  Shared::Unref(shared_);  // a firing under way holds its own reference
}

bool Timer::Stop() {
  runtime::internal::LockGuard l(shared_->mu);
  return shared_->Stop();
}

bool Timer::Reset(absl::Duration d) {
  RequireRunning();
  runtime::internal::LockGuard l(shared_->mu);
  bool pending = shared_->Stop();
  shared_->Arm(d);
  return pending;
}

}  // namespace gort::time
