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

void SemAcquire(std::atomic<uint32_t>* addr, bool lifo) ABSL_NO_THREAD_SAFETY_ANALYSIS {
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
      Block(&w, &b.lock);
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

}  // namespace gort::runtime::internal
