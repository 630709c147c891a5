// Futex-based primitives the scheduler is built on: Note (a one-shot wake-up
// an M sleeps on, Go's note) and Lock (a small mutex, Go's runtime lock).
// Both are written with std::atomic only, so TSan sees their ordering, and
// both block the OS thread: they are for the scheduler's own short critical
// sections and idle Ms, never for user-level blocking (that parks fibers).
#ifndef GORT_RUNTIME_SRC_FUTEX_H_
#define GORT_RUNTIME_SRC_FUTEX_H_

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "chaos.h"

namespace gort::runtime::internal {

// One-shot wake-up. Sleep returns once Wakeup has been called (before or
// after); Clear re-arms it. One sleeper, one waker per round.
// key: 0 clear, 1 woken, 2 a sleeper is (about to be) in futex_wait.
class Note {
 public:
  void Clear() { key_.store(0, std::memory_order_relaxed); }
  void Wakeup();              // any thread; idempotent until Clear
  void Sleep();               // spins briefly, then futex-sleeps
  bool SleepFor(int64_t ns);  // false on timeout (the note stays clear)
  // Spins (without sleeping) until woken or max_ns have passed; returns
  // whether it was woken. Sleep's first phase, for sleepers that then wait
  // elsewhere.
  bool Spin(int64_t max_ns);
  // Whether Wakeup was called since the last Clear, for a sleeper that
  // waits elsewhere (the poll sleeper, in epoll_wait).
  bool IsSet() const { return key_.load(std::memory_order_acquire) == 1; }

 private:
  std::atomic<uint32_t> key_{0};
};

// A mutex for the scheduler's short critical sections. Go: lock_futex.
// key: 0 unlocked, 1 locked, 2 locked with (possible) sleepers.
class ABSL_LOCKABLE Lock {
 public:
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    uint32_t expected = 0;
    if (!key_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
      LockSlow();
    }
  }
  void unlock() ABSL_UNLOCK_FUNCTION() {
    if (key_.exchange(0, std::memory_order_release) == 2) UnlockSlow();
    SchedulePointHere();  // randomized-schedule builds only
  }

 private:
  void LockSlow();
  void UnlockSlow();
  std::atomic<uint32_t> key_{0};
};

class ABSL_SCOPED_LOCKABLE LockGuard {
 public:
  explicit LockGuard(Lock& l) ABSL_EXCLUSIVE_LOCK_FUNCTION(l) : l_(l) { l_.lock(); }
  ~LockGuard() ABSL_UNLOCK_FUNCTION() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Lock& l_;
};

void FutexWait(std::atomic<uint32_t>* addr, uint32_t val, int64_t timeout_ns);  // <0: forever
void FutexWake(std::atomic<uint32_t>* addr, int n);
inline void CpuRelax() { __builtin_ia32_pause(); }
int64_t Nanotime();  // CLOCK_MONOTONIC
// How long a note's sleeper spins before it goes to the kernel (futex.cc).
constexpr int64_t kNoteSpinNs = 20 * 1000;

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_FUTEX_H_
