// gort/time.h: Go's time.Sleep, time.After and time.Timer.
//
// Timers live in the scheduler (one heap per P, checked as Ms schedule, and
// one idle M sleeping until the earliest deadline): a sleeping fiber costs
// its stack and a heap entry, never a thread. A pending timer keeps the
// runtime "alive" for deadlock detection.
//
// Sleep parks a fiber; on a plain thread it sleeps the thread. After and
// Timer work from fibers and plain threads while runtime::Run is active
// (otherwise they throw gort::Panic). A timer's channel has capacity 1; when
// it fires it sends the current time, dropping the value if the previous one
// was never received.
//
// Go 1.23's timer rules hold: Stop and Reset may be called at once from any
// fibers and threads (and race the firing safely), and once either returns,
// no value from an earlier arming is ever received: one already sent but not
// received is discarded, and a firing under way delivers nothing. Stop and
// Reset report whether the timer had not yet delivered, that is, it was
// pending or its value sat unreceived (so `if (!t.Stop()) ...` drains nothing
// and is never needed).
#ifndef GORT_TIME_H_
#define GORT_TIME_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gort/chan.h"

namespace gort::time {

void Sleep(absl::Duration d);  // d <= 0 returns at once
Chan<absl::Time> After(absl::Duration d);

class Timer {
 public:
  explicit Timer(absl::Duration d);
  ~Timer();  // stops it
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  const Chan<absl::Time>& C() const { return c_; }
  bool Stop();                   // true if it had not delivered (see above); it will not now
  bool Reset(absl::Duration d);  // re-arm for d from now; true as Stop would have returned

 private:
  friend Chan<absl::Time> After(absl::Duration d);
  struct Shared;
  Shared* shared_;
  Chan<absl::Time> c_;
};

}  // namespace gort::time

#endif  // GORT_TIME_H_
