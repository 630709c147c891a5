// Sleep, After and Timer over the scheduler's timers (timers.cc).
#include "gort/time.h"

#include "absl/time/clock.h"
#include "fatal.h"
#include "gort/runtime.h"
#include "proc.h"

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
  G* g = (m != nullptr && !m->is_m0) ? m->curg : nullptr;
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
  t.fn = [](void* arg) { runtime::internal::Ready(static_cast<G*>(arg)); };
  t.arg = g;
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

struct Timer::Shared {
  std::atomic<int> refs{1};
  Chan<absl::Time> c{1};
  TimerNode node;

  static void Fire(void* arg) { static_cast<Shared*>(arg)->c.TrySend(absl::Now()); }
  static void Unref(void* arg) {
    auto* s = static_cast<Shared*>(arg);
    if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
  }
  void Arm(absl::Duration d) {
    node.when = Deadline(d);
    node.fn = &Fire;
    node.arg = this;
    node.release = &Unref;
    refs.fetch_add(1, std::memory_order_relaxed);  // the heap's reference
    AddTimer(&node);
  }
};

Chan<absl::Time> After(absl::Duration d) {
  RequireRunning();
  auto* s = new Timer::Shared;
  Chan<absl::Time> c = s->c;
  s->Arm(d);
  Timer::Shared::Unref(s);  // only the heap holds it now
  return c;
}

Timer::Timer(absl::Duration d) {
  RequireRunning();
  shared_ = new Shared;
  c_ = shared_->c;
  shared_->Arm(d);
}

Timer::~Timer() {
  if (DelTimer(&shared_->node)) Shared::Unref(shared_);
  Shared::Unref(shared_);
}

bool Timer::Stop() {
  bool active = DelTimer(&shared_->node);
  if (active) Shared::Unref(shared_);
  c_.TryRecv();  // no stale value after Stop (Go >= 1.23)
  return active;
}

bool Timer::Reset(absl::Duration d) {
  RequireRunning();
  bool active = Stop();
  shared_->Arm(d);
  return active;
}

}  // namespace gort::time
