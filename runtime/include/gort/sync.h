// gort/sync.h: Go's sync.Mutex, sync.WaitGroup and sync.Once.
//
// All three park fibers (the OS thread runs other fibers meanwhile) and also
// work from plain OS threads, which then sleep on a futex; fibers and threads
// may share one object. They are Go's algorithms over address-keyed runtime
// semaphores (Go's semtable), so an object is a few words and needs no
// destructor work.
//
// Ordering: Unlock happens-before the Lock that next acquires the mutex;
// Done (or Add with a negative delta that brings the counter to zero)
// happens-before the Wait it releases returns; the completion of f in
// Once::Do happens-before any Do returns.
//
// Mutex follows Go's fairness rules: a woken waiter competes with arriving
// lockers (normal mode, fast under contention), but a waiter that has waited
// more than 1 ms switches the mutex to starvation mode, where Unlock hands it
// straight to the waiter at the head of the queue.
//
// Misuse panics with Go's words: "sync: unlock of unlocked mutex",
// "sync: negative WaitGroup counter", "sync: WaitGroup is reused before
// previous Wait has returned".
#ifndef GORT_SYNC_H_
#define GORT_SYNC_H_

#include <atomic>
#include <cstdint>
#include <utility>

#include "gort/panic.h"

namespace gort::sync {

class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() {
    int32_t expected = 0;
    if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    LockSlow();
  }
  bool TryLock();
  void Unlock() {
    int32_t now = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (now != 0) UnlockSlow(now);
  }
  // Lockable, for std::lock_guard and std::unique_lock.
  void lock() { Lock(); }
  bool try_lock() { return TryLock(); }
  void unlock() { Unlock(); }

 private:
  static constexpr int32_t kLocked = 1;
  void LockSlow();
  void UnlockSlow(int32_t now);
  std::atomic<int32_t> state_{0};
  std::atomic<uint32_t> sema_{0};
};

class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  void Add(int delta);
  void Done() { Add(-1); }
  void Wait();

 private:
  std::atomic<uint64_t> state_{0};  // high 32 bits: counter; low 32: waiters
  std::atomic<uint32_t> sema_{0};
};

class Once {
 public:
  Once() = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  // Runs f the first time Do is called on this Once; every other call waits
  // until that first f has returned (or thrown: Go then considers it done).
  template <class F>
  void Do(F&& f) {
    if (done_.load(std::memory_order_acquire) != 0) return;
    m_.Lock();
    struct Unlock {
      Once* o;
      ~Unlock() {
        o->done_.store(1, std::memory_order_release);
        o->m_.Unlock();
      }
    };
    if (done_.load(std::memory_order_relaxed) == 0) {
      Unlock u{this};
      std::forward<F>(f)();
      return;
    }
    m_.Unlock();
  }

 private:
  std::atomic<uint32_t> done_{0};
  Mutex m_;
};

}  // namespace gort::sync

#endif  // GORT_SYNC_H_
