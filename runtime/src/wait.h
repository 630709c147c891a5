// The one way anything in gort blocks: a Waiter is either a parked fiber or a
// plain OS thread sleeping on a futex note, so every primitive built on it
// (Sema here; channels, select, sync and timers) works from both.
//
// Protocol: the waiter links itself into some queue under that queue's Lock,
// then calls Block(lock): a fiber parks and the lock is released on g0 only
// after the fiber's context is saved; a thread releases it and sleeps. A waker
// takes the lock, unlinks the waiter, fills in its result, releases the lock
// and calls Wake. Whatever the waker wrote before Wake happens-before Block
// returns.
#ifndef GORT_RUNTIME_SRC_WAIT_H_
#define GORT_RUNTIME_SRC_WAIT_H_

#include <atomic>
#include <cstdint>

#include "futex.h"

namespace gort::runtime::internal {

struct G;
struct Waiter;

// Shared by the waiters of one blocked select: the first waker to flip `done`
// owns the select and records which waiter fired. Go: g.selectDone + sudog.
struct SelectState {
  std::atomic<uint32_t> done{0};
  Waiter* fired = nullptr;  // written by the winning waker under its queue's lock
  Note note;                // a plain thread's select sleeps here
};

struct Waiter {
  Waiter() = default;
  Waiter(const Waiter&) = delete;  // `note` may point into itself
  Waiter& operator=(const Waiter&) = delete;

  G* g = nullptr;          // the parked fiber; null for a plain thread
  Note* note = &own_note;  // where a plain thread sleeps
  Note own_note;
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
  bool linked = false;
  void* data = nullptr;  // free for the primitive's use (e.g. a channel element)
  bool success = false;
  SelectState* sel = nullptr;  // set for the waiters of a blocked select
  int case_index = -1;
  void* owner = nullptr;  // select: the channel whose queue holds it
};

// Blocks the caller (fiber or thread) until Wake(w); `l` is held on entry and
// released once the caller is committed to sleeping. `reason` is what a
// fatal error says the fiber was doing, in Go's words ("chan receive",
// "select", "sync.Cond.Wait"; Go: waitReason); a static string.
void Block(Waiter* w, Lock* l, const char* reason) ABSL_UNLOCK_FUNCTION(l);
// The same with any release action (a select releases several locks).
// `w` stands for every waiter of the caller: they share its g and note.
void BlockWith(Waiter* w, void (*unlock)(void*), void* arg, const char* reason);
void Wake(Waiter* w);

// A FIFO of waiters, guarded by the owner's Lock. Inline: it is on every
// channel operation's path.
struct WaitQueue {
  Waiter* head = nullptr;
  Waiter* tail = nullptr;

  void Push(Waiter* w) {
    w->next = nullptr;
    w->prev = tail;
    if (tail != nullptr) {
      tail->next = w;
    } else {
      head = w;
    }
    tail = w;
    w->linked = true;
  }
  void PushFront(Waiter* w) {
    w->prev = nullptr;
    w->next = head;
    if (head != nullptr) {
      head->prev = w;
    } else {
      tail = w;
    }
    head = w;
    w->linked = true;
  }
  void Remove(Waiter* w) {
    if (!w->linked) return;
    if (w->prev != nullptr) {
      w->prev->next = w->next;
    } else {
      head = w->next;
    }
    if (w->next != nullptr) {
      w->next->prev = w->prev;
    } else {
      tail = w->prev;
    }
    w->next = w->prev = nullptr;
    w->linked = false;
  }
  Waiter* Pop() {
    Waiter* w = head;
    if (w != nullptr) Remove(w);
    return w;
  }
  // Pops the first waiter that can still be woken: a select waiter whose
  // select another case already won is dropped. Go: waitq.dequeue.
  Waiter* Dequeue() {
    for (;;) {
      Waiter* w = Pop();
      if (w == nullptr || w->sel == nullptr) return w;
      uint32_t expected = 0;
      if (w->sel->done.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        w->sel->fired = w;
        return w;
      }
    }
  }
  bool Empty() const { return head == nullptr; }
};

// A counting semaphore for fibers and threads. Go: runtime/sema.go's
// semacquire / semrelease (without the treap).
class Sema {
 public:
  explicit Sema(uint32_t count = 0) : count_(count) {}
  void Acquire();
  void Release();

 private:
  Lock lock_;
  uint32_t count_ ABSL_GUARDED_BY(lock_);
  WaitQueue waiters_ ABSL_GUARDED_BY(lock_);
};

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_WAIT_H_
