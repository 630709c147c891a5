#include "wait.h"

#include "fatal.h"
#include "proc.h"

namespace gort::runtime::internal {
namespace {
void UnlockLock(void* arg) ABSL_NO_THREAD_SAFETY_ANALYSIS { static_cast<Lock*>(arg)->unlock(); }

struct Release {
  void (*unlock)(void*);
  void* arg;
};
bool ReleaseAfterPark(void* r) {
  auto* rel = static_cast<Release*>(r);
  rel->unlock(rel->arg);
  return true;
}
}  // namespace

void BlockWith(Waiter* w, void (*unlock)(void*), void* arg) {
  M* m = GetM();
  G* g = (m != nullptr && !m->is_m0) ? m->curg : nullptr;
  if (g != nullptr && g->status.load(std::memory_order_relaxed) == GStatus::kSyscall) {
    Throw("blocking on a runtime object inside EnterSyscall/ExitSyscall");
  }
  if (g != nullptr) {
    Release rel{unlock, arg};
    Park(&ReleaseAfterPark, &rel);
    return;
  }
  if (m == nullptr) RegisterForeignThread();
  unlock(arg);
  w->note->Sleep();
}

void Block(Waiter* w, Lock* l) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  M* m = GetM();
  w->g = (m != nullptr && !m->is_m0) ? m->curg : nullptr;
  BlockWith(w, &UnlockLock, l);
}

void Wake(Waiter* w) {
  if (G* g = w->g) {
    Ready(g);
  } else {
    w->note->Wakeup();
  }
}

Waiter* WaitQueue::Dequeue() {
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

void WaitQueue::Push(Waiter* w) {
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

Waiter* WaitQueue::Pop() {
  Waiter* w = head;
  if (w != nullptr) Remove(w);
  return w;
}

void WaitQueue::Remove(Waiter* w) {
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

void Sema::Acquire() {
  lock_.lock();
  if (count_ > 0) {
    count_--;
    lock_.unlock();
    return;
  }
  Waiter w;
  waiters_.Push(&w);
  try {
    Block(&w, &lock_);
  } catch (...) {
    // Unwound at shutdown while queued: do not leave a dangling waiter.
    LockGuard l(lock_);
    waiters_.Remove(&w);
    throw;
  }
}

void Sema::Release() {
  lock_.lock();
  if (Waiter* w = waiters_.Dequeue()) {
    lock_.unlock();
    Wake(w);
    return;
  }
  count_++;
  lock_.unlock();
}

}  // namespace gort::runtime::internal
