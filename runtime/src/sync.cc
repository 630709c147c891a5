// sync.Mutex, RWMutex, Cond and WaitGroup slow paths: Go's sync/mutex.go,
// rwmutex.go, cond.go and waitgroup.go, over the runtime's address-keyed
// semaphores and notify lists (semtable.cc).
#include "gort/sync.h"

#include "fatal.h"
#include "gort/runtime.h"
#include "proc.h"
#include "runq.h"
#include "semtable.h"

namespace gort::sync {

using runtime::internal::CpuRelax;
using runtime::internal::Nanotime;
using runtime::internal::SemAcquire;
using runtime::internal::SemRelease;

// A fiber being unwound at shutdown runs its destructors on the Run thread
// (m0). A throw from a destructor there is std::terminate, so the misuse
// panics of an Unlock are skipped on that path: a Cond::Wait unwound while
// another fiber held its mutex gives the mutex up without re-taking it, and
// its caller's lock guard then unlocks a mutex it does not hold.
static bool UnwindingAtShutdown() {
  runtime::internal::M* m = runtime::internal::GetM();
  return m != nullptr && m->is_m0;
}

namespace {

// Mutex state bits. kLocked (1) is Mutex::kLocked in sync.h, where the
// inline fast paths use it; a copy here would be shadowed inside Mutex's
// members anyway.
constexpr int32_t kWoken = 2;
constexpr int32_t kStarving = 4;
constexpr int kWaiterShift = 3;
constexpr int64_t kStarvationThresholdNs = 1000 * 1000;  // 1 ms

// A contended Lock spins at most kActiveSpin times, kActiveSpinCount pause
// instructions each, before it queues. Go: active_spin, active_spin_cnt.
constexpr int kActiveSpin = 4;
constexpr int kActiveSpinCount = 30;

// Spinning makes sense only on a multicore machine with other Ps running
// and nothing queued on ours. Go: sync_runtime_canSpin.
bool CanSpin(int iter) {
  if (iter >= kActiveSpin || runtime::internal::sched.ncpu.load(std::memory_order_relaxed) <= 1)
    return false;
  runtime::internal::M* m = runtime::internal::GetM();
  if (m == nullptr || m->p == nullptr) return true;  // a plain thread
  auto& s = runtime::internal::sched;
  if (s.gomaxprocs.load(std::memory_order_relaxed) <=
      s.npidle.load(std::memory_order_relaxed) + s.nmspinning.load(std::memory_order_relaxed) + 1) {
    return false;
  }
  return runtime::internal::RunqEmpty(m->p);
}

void DoSpin() {
  for (int i = 0; i < kActiveSpinCount; i++) CpuRelax();
}

}  // namespace

bool Mutex::TryLock() {
  runtime::CheckPreempt();
  int32_t old = state_.load(std::memory_order_relaxed);
  if ((old & (kLocked | kStarving)) != 0) return false;
  return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire,
                                        std::memory_order_relaxed);
}

// Go: (*Mutex).lockSlow.
void Mutex::LockSlow() {
  runtime::CheckPreempt();
  int64_t wait_start = 0;
  bool starving = false;
  bool awoke = false;
  int iter = 0;
  int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while the mutex is held in normal mode and spinning can pay off;
    // set the woken flag so that Unlock does not wake another waiter.
    if ((old & (kLocked | kStarving)) == kLocked && CanSpin(iter)) {
      if (!awoke && (old & kWoken) == 0 && (old >> kWaiterShift) != 0 &&
          state_.compare_exchange_weak(old, old | kWoken, std::memory_order_relaxed)) {
        awoke = true;
      }
      DoSpin();
      iter++;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    int32_t next = old;
    if ((old & kStarving) == 0) next |= kLocked;  // starving: arrivals queue up
    if ((old & (kLocked | kStarving)) != 0) next += 1 << kWaiterShift;
    if (starving && (old & kLocked) != 0) next |= kStarving;
    if (awoke) {
      if ((next & kWoken) == 0) runtime::internal::Throw("sync: inconsistent mutex state");
      next &= ~kWoken;
    }
    if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
      if ((old & (kLocked | kStarving)) == 0) break;  // locked it
      bool lifo = wait_start != 0;
      if (wait_start == 0) wait_start = Nanotime();
      SemAcquire(&sema_, lifo, "sync.Mutex.Lock");
      starving = starving || Nanotime() - wait_start > kStarvationThresholdNs;
      old = state_.load(std::memory_order_acquire);
      if ((old & kStarving) != 0) {
        // Handed to us directly: fix up the state and own the mutex.
        if ((old & (kLocked | kWoken)) != 0 || (old >> kWaiterShift) == 0) {
          runtime::internal::Throw("sync: inconsistent mutex state");
        }
        int32_t delta = kLocked - (1 << kWaiterShift);
        if (!starving || (old >> kWaiterShift) == 1) delta -= kStarving;  // leave starvation mode
        state_.fetch_add(delta, std::memory_order_acq_rel);
        break;
      }
      awoke = true;
      iter = 0;
    }
  }
}

// Go: (*Mutex).unlockSlow.
void Mutex::UnlockSlow(int32_t now) {
  if (((now + kLocked) & kLocked) == 0) {
    state_.fetch_add(kLocked, std::memory_order_relaxed);  // undo, then report
    if (UnwindingAtShutdown()) return;
    throw Panic("sync: unlock of unlocked mutex");
  }
  if ((now & kStarving) == 0) {
    int32_t old = now;
    for (;;) {
      // Nobody to wake, or someone already woken / locked it: done.
      if ((old >> kWaiterShift) == 0 || (old & (kLocked | kWoken | kStarving)) != 0) return;
      int32_t next = (old - (1 << kWaiterShift)) | kWoken;
      if (state_.compare_exchange_weak(old, next, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        SemRelease(&sema_, false);
        return;
      }
    }
  }
  // Starvation mode: hand the mutex to the first waiter.
  SemRelease(&sema_, true);
}

// Go: (*RWMutex).RLock's slow path: a writer holds or waits for the lock,
// and will release us from reader_sem_ in its Unlock.
void RWMutex::RLockSlow() {
  runtime::CheckPreempt();
  SemAcquire(&reader_sem_, false, "sync.RWMutex.RLock");
}

// Go: (*RWMutex).rUnlockSlow. r is reader_count_ after our decrement, and
// negative: a writer waits (or holds it, or this is misuse).
void RWMutex::RUnlockSlow(int32_t r) {
  if (r + 1 == 0 || r + 1 == -kMaxReaders) {
    reader_count_.fetch_add(1, std::memory_order_relaxed);  // undo, then report
    if (UnwindingAtShutdown()) return;
    throw Panic("sync: RUnlock of unlocked RWMutex");
  }
  // A writer waits: the last departing reader lets it in.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    SemRelease(&writer_sem_, false);
  }
}

// Go: (*RWMutex).Lock. Writers exclude each other with w_; then the writer
// announces itself by making reader_count_ negative (new readers queue on
// reader_sem_) and waits for the r readers that were in flight, which count
// reader_wait_ down as they leave.
void RWMutex::Lock() {
  runtime::CheckPreempt();
  w_.Lock();
  int32_t r = reader_count_.fetch_sub(kMaxReaders, std::memory_order_acq_rel);
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0) {
    SemAcquire(&writer_sem_, false, "sync.RWMutex.Lock");
  }
}

// Go: (*RWMutex).TryLock.
bool RWMutex::TryLock() {
  runtime::CheckPreempt();
  if (!w_.TryLock()) return false;
  int32_t zero = 0;
  if (!reader_count_.compare_exchange_strong(zero, -kMaxReaders, std::memory_order_acq_rel,
                                             std::memory_order_relaxed)) {
    w_.Unlock();
    return false;
  }
  return true;
}

// Go: (*RWMutex).TryRLock.
bool RWMutex::TryRLock() {
  runtime::CheckPreempt();
  int32_t c = reader_count_.load(std::memory_order_relaxed);
  for (;;) {
    if (c < 0) return false;  // a writer holds it or waits
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel,
                                            std::memory_order_relaxed)) {
      return true;
    }
  }
}

// Go: (*RWMutex).Unlock: let the readers that queued behind us in, then
// the next writer.
void RWMutex::Unlock() {
  runtime::CheckPreempt();
  int32_t r = reader_count_.fetch_add(kMaxReaders, std::memory_order_acq_rel) + kMaxReaders;
  if (r >= kMaxReaders) {
    reader_count_.fetch_sub(kMaxReaders, std::memory_order_relaxed);  // undo, then report
    if (UnwindingAtShutdown()) return;
    throw Panic("sync: Unlock of unlocked RWMutex");
  }
  for (int32_t i = 0; i < r; i++) SemRelease(&reader_sem_, false);
  w_.Unlock();
}

// Go: (*Cond).Wait. The ticket is taken before the mutex is released, so a
// Signal that comes in between is not lost (see NotifyListWait).
void Cond::Wait() {
  runtime::CheckPreempt();
  uint32_t t = runtime::internal::NotifyListAdd(&wait_);
  mu_.Unlock();
  // Unwound at shutdown while waiting: the exception leaves without the
  // mutex (taking it could park, which is fatal then); see
  // UnwindingAtShutdown for what the caller's guard then does.
  runtime::internal::NotifyListWait(&wait_, &notify_, t);
  mu_.Lock();
}

void Cond::Signal() {
  runtime::CheckPreempt();
  runtime::internal::NotifyListNotifyOne(&wait_, &notify_);
}

void Cond::Broadcast() {
  runtime::CheckPreempt();
  runtime::internal::NotifyListNotifyAll(&wait_, &notify_);
}

// Go: (*WaitGroup).Add.
void WaitGroup::Add(int delta) {
  runtime::CheckPreempt();
  uint64_t d = static_cast<uint64_t>(static_cast<int64_t>(delta)) << 32;
  uint64_t st = state_.fetch_add(d, std::memory_order_acq_rel) + d;
  auto v = static_cast<int32_t>(st >> 32);
  auto w = static_cast<uint32_t>(st);
  if (v < 0) throw Panic("sync: negative WaitGroup counter");
  if (w != 0 && delta > 0 && v == delta) {
    throw Panic("sync: WaitGroup misuse: Add called concurrently with Wait");
  }
  if (v > 0 || w == 0) return;
  // The counter reached zero with waiters: nobody may touch the state now
  // but us. Reset it and release every waiter.
  if (state_.load(std::memory_order_acquire) != st) {
    throw Panic("sync: WaitGroup misuse: Add called concurrently with Wait");
  }
  state_.store(0, std::memory_order_release);
  for (; w != 0; w--) SemRelease(&sema_, false);
}

// Go: (*WaitGroup).Wait.
void WaitGroup::Wait() {
  runtime::CheckPreempt();
  uint64_t st = state_.load(std::memory_order_acquire);
  for (;;) {
    if ((st >> 32) == 0) return;
    if (state_.compare_exchange_weak(st, st + 1, std::memory_order_acq_rel)) {
      SemAcquire(&sema_, false, "sync.WaitGroup.Wait");
      if (state_.load(std::memory_order_acquire) != 0) {
        throw Panic("sync: WaitGroup is reused before previous Wait has returned");
      }
      return;
    }
  }
}

}  // namespace gort::sync
