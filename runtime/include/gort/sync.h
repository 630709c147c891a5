// gort/sync.h: Go's sync.Mutex, sync.RWMutex, sync.Cond, sync.WaitGroup and
// sync.Once.
//
// All of them park fibers (the OS thread runs other fibers meanwhile) and
// also work from plain OS threads, which then sleep on a futex; fibers and
// threads may share one object. They are Go's algorithms over address-keyed
// runtime semaphores (Go's semtable), so an object is a few words and needs
// no destructor work.
//
// Ordering: Unlock happens-before the Lock that next acquires the mutex; for
// an RWMutex, the n-th Unlock happens-before the (n+1)-th Lock and every
// RLock that returns after it, and an RUnlock happens-before the Lock that
// follows it; Signal and Broadcast happen-before the Wait they wake returns;
// Done (or Add with a negative delta that brings the counter to zero)
// happens-before the Wait it releases returns; the completion of f in
// Once::Do happens-before any Do returns.
//
// Mutex follows Go's fairness rules: a woken waiter competes with arriving
// lockers (normal mode, fast under contention), but a waiter that has waited
// more than 1 ms switches the mutex to starvation mode, where Unlock hands it
// straight to the waiter at the head of the queue. RWMutex prefers writers as
// Go's does: once a Lock is waiting, new RLocks wait until that writer has
// had its turn, so a stream of readers cannot starve a writer.
//
// Misuse panics with Go's words: "sync: unlock of unlocked mutex",
// "sync: RUnlock of unlocked RWMutex", "sync: Unlock of unlocked RWMutex",
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

// Go's sync.RWMutex: any number of readers or one writer. A waiting writer
// blocks new readers (writer preference), so a reader must not RLock again
// while it holds a read lock if a writer may come: that is a deadlock, as in
// Go. Not tied to a fiber or thread: one may lock and another unlock.
class RWMutex {
 public:
  RWMutex() = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  // Write lock: waits for the writer before it, then for the readers in
  // flight; new readers wait from the moment it starts waiting.
  void Lock();
  // Panics with "sync: Unlock of unlocked RWMutex" if not write-locked.
  void Unlock();
  // Read lock: waits only while a writer holds or waits for the lock.
  void RLock() {
    if (reader_count_.fetch_add(1, std::memory_order_acq_rel) + 1 < 0) RLockSlow();
  }
  // Panics with "sync: RUnlock of unlocked RWMutex" if not read-locked.
  void RUnlock() {
    int32_t r = reader_count_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if (r < 0) RUnlockSlow(r);
  }
  bool TryLock();   // false if any reader or writer holds it (or a writer waits)
  bool TryRLock();  // false if a writer holds it or waits for it
  // Lockable (std::lock_guard, std::unique_lock) and SharedLockable
  // (std::shared_lock).
  void lock() { Lock(); }
  bool try_lock() { return TryLock(); }
  void unlock() { Unlock(); }
  void lock_shared() { RLock(); }
  bool try_lock_shared() { return TryRLock(); }
  void unlock_shared() { RUnlock(); }

 private:
  // Go: rwmutexMaxReaders. A writer subtracts it from reader_count_, which
  // is negative while a writer holds or waits for the lock.
  static constexpr int32_t kMaxReaders = 1 << 30;
  void RLockSlow();
  void RUnlockSlow(int32_t r);
  Mutex w_;                               // held by the writer, and by a waiting one
  std::atomic<uint32_t> writer_sem_{0};   // the writer waits here for departing readers
  std::atomic<uint32_t> reader_sem_{0};   // readers wait here for the writer
  std::atomic<int32_t> reader_count_{0};  // readers holding or waiting (see kMaxReaders)
  std::atomic<int32_t> reader_wait_{0};   // readers the waiting writer still waits for
};

// Go's sync.Cond over a sync::Mutex: a place for fibers and threads to wait
// for a condition that the holders of the mutex change.
//
//   std::unique_lock<sync::Mutex> l(mu);
//   while (!ready) cond.Wait();   // Wait unlocks mu, waits, locks it again
//
// Wait must be called with the mutex held. Signal wakes the longest waiting
// caller of Wait (if any), Broadcast every one; neither needs the mutex.
// No wake-up is lost: a Wait that has unlocked the mutex but not yet gone to
// sleep when Signal or Broadcast runs is woken all the same (Go's ticketed
// notify list). A woken Wait must re-check its condition: another locker may
// have changed it before Wait got the mutex back.
class Cond {
 public:
  explicit Cond(Mutex& m) : mu_(m) {}
  Cond(const Cond&) = delete;
  Cond& operator=(const Cond&) = delete;

  void Wait();
  void Signal();
  void Broadcast();
  Mutex& L() const { return mu_; }  // Go's Cond.L

 private:
  Mutex& mu_;
  std::atomic<uint32_t> wait_{0};    // the next ticket a Wait takes
  std::atomic<uint32_t> notify_{0};  // the next ticket to wake; written under the bucket lock
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
