#include "wait.h"

#include "deadlock.h"
#include "execute.h"
#include "fatal.h"
#include "proc.h"
#include "schedule.h"

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

namespace {
void BlockOn(M* m, G* g, Waiter* w, void (*unlock)(void*), void* arg, const char* reason) {
  if (m != nullptr && m->is_m0) {
    // The Run thread is unwinding a fiber at shutdown: nothing will ready it.
    // This is a new wait (the fiber's code went on after the unwind began,
    // past a C frame that caught it, and blocked again): its waiter is
    // queued and nobody dequeued it, whatever became of the wait the fiber
    // was parked in when the unwind began (readied_before_unwind speaks of
    // that one only). So the catch that unwinds out of it must dequeue it.
    if (m->curg != nullptr) m->curg->readied_before_unwind = false;
    unlock(arg);
    BlockedWhileUnwinding(m->curg);
  }
  if (g != nullptr) {
    if (g->status.load(std::memory_order_relaxed) == GStatus::kSyscall) {
      Throw("blocking on a runtime object inside EnterSyscall/ExitSyscall");
    }
    g->wait_reason = reason;
    Release rel{unlock, arg};
    ParkG(g, &ReleaseAfterPark, &rel);
    return;
  }
  if (m == nullptr) RegisterForeignThread();
  unlock(arg);
  w->note->Sleep();
}
}  // namespace

void BlockWith(Waiter* w, void (*unlock)(void*), void* arg, const char* reason) {
  M* m = GetM();
  BlockOn(m, CurrentG(m), w, unlock, arg, reason);
}

void Block(Waiter* w, Lock* l, const char* reason) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  M* m = GetM();
  w->g = CurrentG(m);
  BlockOn(m, w->g, w, &UnlockLock, l, reason);
}

void Wake(Waiter* w) {
  if (G* g = w->g) {
    Ready(g);
  } else {
    w->note->Wakeup();
  }
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
    Block(&w, &lock_, "semacquire");
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
