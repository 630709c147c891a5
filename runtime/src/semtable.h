// Address-keyed semaphores for sync.Mutex, RWMutex and WaitGroup, and
// ticketed notify lists for sync.Cond: the count (or the tickets) live in
// the user's object, the waiters in a fixed table of buckets hashed by
// address. Go: runtime/sema.go (semacquire1, semrelease1, notifyList*), with
// a list per bucket instead of Go's treap.
#ifndef GORT_RUNTIME_SRC_SEMTABLE_H_
#define GORT_RUNTIME_SRC_SEMTABLE_H_

#include <atomic>
#include <cstdint>

namespace gort::runtime::internal {

// Waits until *addr > 0 and decrements it. lifo: queue at the head (a
// mutex waiter that has already waited once). Fibers park; threads sleep.
// reason: what the deadlock report says the fiber waits for (Block's).
void SemAcquire(std::atomic<uint32_t>* addr, bool lifo, const char* reason = "semacquire");
// Increments *addr and wakes one waiter. handoff: the waiter gets the count
// directly and the caller yields to it (mutex starvation mode).
void SemRelease(std::atomic<uint32_t>* addr, bool handoff);

// A notify list (Go: notifyList) is two counters in the user's object:
// `wait`, the next ticket, taken by NotifyListAdd before the caller releases
// its mutex, and `notify`, the next ticket to wake. A waiter sleeps until its
// ticket is below `notify`, so a notification that comes between the ticket
// and the sleep is not lost. `notify` is written only under the bucket lock.
inline uint32_t NotifyListAdd(std::atomic<uint32_t>* wait) {
  return wait->fetch_add(1, std::memory_order_acq_rel);
}
// Blocks (fiber or thread) until ticket t has been notified. May park.
void NotifyListWait(std::atomic<uint32_t>* wait, std::atomic<uint32_t>* notify, uint32_t t);
// Wakes the waiter with the oldest ticket not yet notified. Any thread.
void NotifyListNotifyOne(std::atomic<uint32_t>* wait, std::atomic<uint32_t>* notify);
// Wakes every waiter holding a ticket. Any thread.
void NotifyListNotifyAll(std::atomic<uint32_t>* wait, std::atomic<uint32_t>* notify);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_SEMTABLE_H_
