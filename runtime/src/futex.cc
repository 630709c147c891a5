#include "futex.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "fatal.h"
#include "stats.h"

namespace gort::runtime::internal {

Stats stats;

void FutexWait(std::atomic<uint32_t>* addr, uint32_t val, int64_t timeout_ns) {
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tsp = &ts;
  }
  // EINTR, EAGAIN and ETIMEDOUT are all fine: callers re-check the word.
  // errno is kept: runtime locks are taken between a user's system call and
  // its read of errno (ExitSyscall, channel operations).
  const int saved = errno;
  Count(stats.futex_sleeps);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, val, tsp, nullptr, 0);
  errno = saved;
}

void FutexWake(std::atomic<uint32_t>* addr, int n) {
  const int saved = errno;
  Count(stats.futex_wakes);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
  errno = saved;
}

int64_t Nanotime() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// kNoteSpinNs: a wake-up that lands inside the spin costs no system call on
// either side, which is what makes the locked-fiber hand-off cheap when the
// two threads are on different CPUs. Bounded in time, not iterations:
// `pause` takes 1 to 50 ns depending on the CPU (50 ns on the EPYC this was
// tuned on).

void Note::Wakeup() {
  // A second Wakeup before Clear is harmless (shutdown wakes every M, some of
  // which another M may be waking at the same moment).
  if (key_.exchange(1, std::memory_order_acq_rel) == 2) FutexWake(&key_, 1);
}

bool Note::Spin(int64_t max_ns) {
  int64_t until = 0;
  for (int i = 0;; i++) {
    if (key_.load(std::memory_order_acquire) == 1) return true;
    CpuRelax();
    if ((i & 15) == 15) {
      int64_t now = Nanotime();
      if (until == 0) {
        until = now + max_ns;
      } else if (now >= until) {
        return false;
      }
    }
  }
}

void Note::Sleep() {
  if (Spin(kNoteSpinNs)) return;
  uint32_t expected = 0;
  if (!key_.compare_exchange_strong(expected, 2, std::memory_order_acq_rel)) return;  // woken
  while (key_.load(std::memory_order_acquire) == 2) FutexWait(&key_, 2, -1);
}

bool Note::SleepFor(int64_t ns) {
  if (ns < 0) {
    Sleep();
    return true;
  }
  int64_t deadline = Nanotime() + ns;
  uint32_t expected = 0;
  if (!key_.compare_exchange_strong(expected, 2, std::memory_order_acq_rel)) return true;
  for (;;) {
    if (key_.load(std::memory_order_acquire) != 2) return true;
    int64_t left = deadline - Nanotime();
    if (left <= 0) break;
    FutexWait(&key_, 2, left);
  }
  // Timed out: withdraw, unless a Wakeup got in first.
  expected = 2;
  if (key_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return false;
  return true;
}

void Lock::LockSlow() {
  // Spin a little (the holder is on another CPU and about to let go), then
  // yield once, then mark the lock contended and sleep. Go: lock2 (which
  // spins active_spin * active_spin_cnt pauses and yields passive_spin
  // times).
  constexpr int kLockSpins = 100;
  for (int i = 0; i < kLockSpins; i++) {
    uint32_t expected = 0;
    if (key_.load(std::memory_order_relaxed) == 0 &&
        key_.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                   std::memory_order_relaxed)) {
      return;
    }
    CpuRelax();
  }
  sched_yield();
  while (key_.exchange(2, std::memory_order_acquire) != 0) FutexWait(&key_, 2, -1);
}

void Lock::UnlockSlow() { FutexWake(&key_, 1); }

}  // namespace gort::runtime::internal
