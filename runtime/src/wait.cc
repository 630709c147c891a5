#include "wait.h"

#include "fatal.h"
#include "proc.h"

namespace gort::runtime::internal {
namespace {
bool UnlockAfterPark(void* arg) {
  static_cast<Lock*>(arg)->unlock();
  return true;
}
}  // namespace

void Block(Waiter* w, Lock* l) {
  M* m = GetM();
  G* g = (m != nullptr && !m->is_m0) ? m->curg : nullptr;
  if (g != nullptr && g->status.load(std::memory_order_relaxed) == GStatus::kSyscall) {
    Throw("blocking on a runtime object inside EnterSyscall/ExitSyscall");
  }
  if (g != nullptr) {
    w->g = g;
    Park(&UnlockAfterPark, l);
    return;
  }
  w->g = nullptr;
  if (m == nullptr) RegisterForeignThread();
  l->unlock();
  w->note.Sleep();
}

void Wake(Waiter* w) {
  if (G* g = w->g) {
    Ready(g);
  } else {
    w->note.Wakeup();
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
  if (Waiter* w = waiters_.Pop()) {
    lock_.unlock();
    Wake(w);
    return;
  }
  count_++;
  lock_.unlock();
}

}  // namespace gort::runtime::internal
