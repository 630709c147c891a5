#include "semtable.h"

#include "execute.h"
#include "gort/runtime.h"
#include "proc.h"
#include "schedule.h"
#include "wait.h"

namespace gort::runtime::internal {
namespace {

struct alignas(64) Bucket {
  Lock lock;
  std::atomic<uint32_t> nwait{0};  // waiters in this bucket (any address)
  WaitQueue waiters ABSL_GUARDED_BY(lock);
};

constexpr int kBuckets = 251;
Bucket table[kBuckets];

Bucket& BucketFor(const void* addr) {
  return table[(reinterpret_cast<uintptr_t>(addr) >> 3) % kBuckets];
}

bool CanAcquire(std::atomic<uint32_t>* addr) {
  uint32_t v = addr->load(std::memory_order_acquire);
  while (v != 0) {
    if (addr->compare_exchange_weak(v, v - 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

}  // namespace

void SemAcquire(std::atomic<uint32_t>* addr, bool lifo,
                const char* reason) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (CanAcquire(addr)) return;
  Bucket& b = BucketFor(addr);
  Waiter w;
  w.owner = addr;
  for (;;) {
    b.lock.lock();
    // Count ourselves before re-checking, so that a release either sees a
    // waiter or we see its increment. Go: semacquire1.
    b.nwait.fetch_add(1, std::memory_order_seq_cst);
    if (CanAcquire(addr)) {
      b.nwait.fetch_sub(1, std::memory_order_seq_cst);
      b.lock.unlock();
      return;
    }
    w.success = false;
    w.note->Clear();  // a plain thread may come round this loop again
    if (lifo) {
      b.waiters.PushFront(&w);
    } else {
      b.waiters.Push(&w);
    }
    try {
      Block(&w, &b.lock, reason);
    } catch (...) {  // unwound at shutdown while queued
      LockGuard l(b.lock);
      if (w.linked) {
        b.waiters.Remove(&w);
        b.nwait.fetch_sub(1, std::memory_order_seq_cst);
      }
      throw;
    }
    // Woken by a release. With a hand-off ticket the count is ours already;
    // otherwise compete for it, and queue again if someone was faster.
    if (w.success || CanAcquire(addr)) return;
    lifo = true;
  }
}

void SemRelease(std::atomic<uint32_t>* addr, bool handoff) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Bucket& b = BucketFor(addr);
  addr->fetch_add(1, std::memory_order_seq_cst);
  if (b.nwait.load(std::memory_order_seq_cst) == 0) return;
  b.lock.lock();
  Waiter* found = nullptr;
  for (Waiter* w = b.waiters.head; w != nullptr; w = w->next) {
    if (w->owner == addr) {
      found = w;
      break;
    }
  }
  if (found == nullptr) {
    b.lock.unlock();
    return;
  }
  b.waiters.Remove(found);
  b.nwait.fetch_sub(1, std::memory_order_seq_cst);
  bool ticket = handoff && CanAcquire(addr);
  if (ticket) found->success = true;  // Go: s.ticket = 1
  b.lock.unlock();
  Wake(found);            // found may be gone as soon as this returns
  if (ticket) Gosched();  // let the waiter run now (Go: goyield)
}

namespace {
// Ticket order with wrap-around. Go: less in sema.go.
bool TicketBefore(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
}  // namespace

// Notify-list waiters share the semaphore buckets, keyed by the address of
// `notify` (SemRelease only wakes waiters whose owner is its own address, so
// the two kinds never meet); the ticket rides in Waiter::data. Go:
// notifyListWait.
void NotifyListWait(std::atomic<uint32_t>* wait, std::atomic<uint32_t>* notify,
                    uint32_t t) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  (void)wait;
  Bucket& b = BucketFor(notify);
  b.lock.lock();
  if (TicketBefore(t, notify->load(std::memory_order_relaxed))) {  // notified already
    b.lock.unlock();
    return;
  }
  Waiter w;
  w.owner = notify;
  w.data = reinterpret_cast<void*>(static_cast<uintptr_t>(t));
  b.waiters.Push(&w);
  try {
    Block(&w, &b.lock, "sync.Cond.Wait");
  } catch (...) {  // unwound at shutdown while queued
    LockGuard l(b.lock);
    b.waiters.Remove(&w);
    throw;
  }
}

// Go: notifyListNotifyOne.
void NotifyListNotifyOne(std::atomic<uint32_t>* wait,
                         std::atomic<uint32_t>* notify) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // Nobody took a ticket since the last notification: nothing to do. A
  // ticket taken after this load belongs to a Wait that started after this
  // Signal, which it need not see.
  if (wait->load(std::memory_order_acquire) == notify->load(std::memory_order_acquire)) return;
  Bucket& b = BucketFor(notify);
  b.lock.lock();
  uint32_t t = notify->load(std::memory_order_relaxed);
  if (t == wait->load(std::memory_order_acquire)) {
    b.lock.unlock();
    return;
  }
  notify->store(t + 1, std::memory_order_release);
  // The holder of ticket t may not be queued yet; it then sees `notify`
  // past its ticket and does not sleep.
  for (Waiter* w = b.waiters.head; w != nullptr; w = w->next) {
    if (w->owner == notify && static_cast<uint32_t>(reinterpret_cast<uintptr_t>(w->data)) == t) {
      b.waiters.Remove(w);
      b.lock.unlock();
      Wake(w);
      return;
    }
  }
  b.lock.unlock();
}

// Go: notifyListNotifyAll.
void NotifyListNotifyAll(std::atomic<uint32_t>* wait,
                         std::atomic<uint32_t>* notify) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (wait->load(std::memory_order_acquire) == notify->load(std::memory_order_acquire)) return;
  Bucket& b = BucketFor(notify);
  // The woken are chained through `next` but left unlinked, so that one
  // unwound at shutdown does not try to remove itself from the bucket.
  Waiter* woken = nullptr;
  Waiter** tail = &woken;
  b.lock.lock();
  notify->store(wait->load(std::memory_order_acquire), std::memory_order_release);
  for (Waiter* w = b.waiters.head; w != nullptr;) {
    Waiter* next = w->next;
    if (w->owner == notify) {
      b.waiters.Remove(w);
      *tail = w;
      tail = &w->next;
    }
    w = next;
  }
  b.lock.unlock();
  // Each Wake may free its waiter (it lives on the woken caller's stack):
  // read the link first.
  while (woken != nullptr) {
    Waiter* next = woken->next;
    Wake(woken);
    woken = next;
  }
}

}  // namespace gort::runtime::internal
