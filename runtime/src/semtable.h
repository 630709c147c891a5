// Address-keyed semaphores for sync.Mutex and sync.WaitGroup: the count
// lives in the user's object, the waiters in a fixed table of buckets hashed
// by address. Go: runtime/sema.go (semacquire1, semrelease1), with a list per
// bucket instead of Go's treap.
#ifndef GORT_RUNTIME_SRC_SEMTABLE_H_
#define GORT_RUNTIME_SRC_SEMTABLE_H_

#include <atomic>
#include <cstdint>

namespace gort::runtime::internal {

// Waits until *addr > 0 and decrements it. lifo: queue at the head (a
// mutex waiter that has already waited once). Fibers park; threads sleep.
void SemAcquire(std::atomic<uint32_t>* addr, bool lifo);
// Increments *addr and wakes one waiter. handoff: the waiter gets the count
// directly and the caller yields to it (mutex starvation mode).
void SemRelease(std::atomic<uint32_t>* addr, bool handoff);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_SEMTABLE_H_
