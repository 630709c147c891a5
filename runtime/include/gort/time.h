// gort/time.h: Go's time.Sleep, time.After, time.Timer, time.AfterFunc,
// time.Ticker and time.Tick.
//
// Timers live in the scheduler (one heap per P, checked as Ms schedule, and
// one idle M sleeping until the earliest deadline): a sleeping fiber costs
// its stack and a heap entry, never a thread. A pending timer keeps the
// runtime "alive" for deadlock detection.
//
// Sleep parks a fiber; on a plain thread it sleeps the thread. After, Timer,
// AfterFunc, Ticker and Tick work from fibers and plain threads while
// runtime::Run is active (otherwise they throw gort::Panic). A timer's or
// ticker's channel has capacity 1; when it fires it sends the current time,
// dropping the value if the previous one was never received: a slow reader
// of a Ticker misses ticks, it never finds a queue of them.
//
// Go 1.23's timer rules hold for Timer and Ticker alike: Stop and Reset may
// be called at once from any fibers and threads (and race the firing
// safely), and once either returns, no value from an earlier arming is ever
// received: one already sent but not received is discarded, and a firing
// under way delivers nothing. Timer's Stop and Reset report whether the
// timer had not yet delivered, that is, it was pending or its value sat
// unreceived (so `if (!t.Stop()) ...` drains nothing and is never needed).
//
// Ordering: a timer's (or ticker's) arming happens-before the value it
// sends is received; for AfterFunc, before f starts.
#ifndef GORT_TIME_H_
#define GORT_TIME_H_

#include <functional>
#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gort/chan.h"

namespace gort::time {

namespace time_internal {
struct TimerState;  // shared by the handle and the timer heap (runtime/src/time.cc)
}  // namespace time_internal

void Sleep(absl::Duration d);  // d <= 0 returns at once
// A channel that receives the time once d has passed. Go: time.After.
Chan<absl::Time> After(absl::Duration d);

// Go's time.Timer: one value on C() once its duration has passed, unless
// stopped first.
class Timer {
 public:
  explicit Timer(absl::Duration d);
  // Stops it; except for an AfterFunc timer, which still runs f when due
  // (dropping Go's *Timer does not stop it either).
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Waits d, then runs f in a fiber of its own (Go: time.AfterFunc). The
  // Timer's C() is the nil channel. Stop before f has started cancels it
  // (and returns true); Reset re-arms it, so f may run again. f must not
  // throw (an exception escaping it is a panic, as in any fiber).
  static std::unique_ptr<Timer> AfterFunc(absl::Duration d, std::function<void()> f);

  const Chan<absl::Time>& C() const { return c_; }
  bool Stop();                   // true if it had not delivered (see above); it will not now
  bool Reset(absl::Duration d);  // re-arm for d from now; true as Stop would have returned

 private:
  Timer() = default;
  friend Chan<absl::Time> After(absl::Duration d);
  time_internal::TimerState* shared_ = nullptr;
  Chan<absl::Time> c_;
};

// Go's time.Ticker: sends the time on C() every d, starting d from now. A
// tick that finds the previous one still unreceived is dropped (capacity
// 1), and the ticker stays on its grid (a late tick does not shift later
// ones). Stop ends the ticks; Reset stops it and starts again with period d
// from now. After either returns, no tick from before it is received.
class Ticker {
 public:
  // d <= 0 panics with Go's words: "non-positive interval for NewTicker".
  explicit Ticker(absl::Duration d);
  ~Ticker();  // stops it
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  const Chan<absl::Time>& C() const { return c_; }
  void Stop();
  // d <= 0 panics: "non-positive interval for Ticker.Reset".
  void Reset(absl::Duration d);

 private:
  time_internal::TimerState* shared_;
  Chan<absl::Time> c_;
};

// A ticker's channel, for a ticker that is never stopped (Go: time.Tick);
// the ticker runs until runtime::Run returns. d <= 0: the nil channel.
Chan<absl::Time> Tick(absl::Duration d);

}  // namespace gort::time

#endif  // GORT_TIME_H_
