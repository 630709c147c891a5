// The channel core behind gort::Chan<T> and Select. Go: runtime/chan.go,
// runtime/select.go. Elements are moved with the ElemOps the typed shell
// provides; the core never knows T.
//
// Invariants, for every Core c, whenever c->lock is free (Go states the
// same ones at the top of chan.go):
//  * The buffer is a ring of c->cap slots: the c->qcount slots from recvx
//    (mod cap) hold live elements, the others raw storage; sendx is
//    (recvx + qcount) mod cap. An unbuffered channel (cap 0) has no buffer
//    and qcount is always 0: a value goes from sender to receiver directly.
//  * At least one of sendq and recvq is empty, except when one select waits
//    on both sides of the same unbuffered channel: then both queues may hold
//    that select's waiters (up to its number of cases).
//  * Buffered, also: qcount > 0 implies recvq is empty (a receiver would
//    have taken the head), and qcount < cap implies sendq is empty (a sender
//    would have used the free slot).
//  * closed goes from false to true once, under the lock, and never back.
//    A closed channel has empty queues: Close wakes every waiter (receivers
//    with "closed", senders to panic), and no operation enqueues on a closed
//    channel (a send panics, a receive drains the buffer, then reports
//    closed, and a select with a case on it never blocks).
//  * A queued Waiter belongs to its blocked fiber or thread. Only a holder
//    of the lock dequeues it; the dequeuer completes the operation (fills
//    data and success) and calls Wake only after releasing the lock. Each
//    waiter of a blocked select sits on one case's queue, and they share a
//    SelectState: the first dequeuer to flip its `done` owns the select,
//    and later dequeuers drop its other waiters (Go: selectDone). Such a
//    waiter, left queued until its select takes it off, counts as absent in
//    the invariants above: the next Dequeue of that queue drops it.
//  * refs counts the handles (Chan, Case) that refer to the channel; the
//    last Unref destroys it and any elements still buffered.
//
// Lock order: a channel's lock is a leaf for Send/Recv/Close; Select takes
// the locks of all its channels in address order (each once) and releases
// them in reverse. No channel lock is held across a switch: a blocking
// operation releases it in the park's unlock step, after its fiber's context
// is saved. Nothing is woken and nothing panics with a channel lock held.
//
// Lock annotations are checked by clang's -Wthread-safety. Select holds a
// set of locks whose size is known only at run time, which the analysis
// cannot name: those functions are marked and their discipline is written
// above LockSet.
#include "gort/chan.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "execute.h"
#include "fatal.h"
#include "gort/runtime.h"
#include "proc.h"
#include "schedule.h"
#include "wait.h"

namespace gort {
namespace chan_internal {

using runtime::internal::Block;
using runtime::internal::BlockWith;
using runtime::internal::GetM;
using runtime::internal::Lock;
using runtime::internal::LockGuard;
using runtime::internal::SelectState;
using runtime::internal::Waiter;
using runtime::internal::WaitQueue;
using runtime::internal::Wake;

struct Core {
  std::atomic<int> refs{1};
  const ElemOps* ops = nullptr;
  std::size_t cap = 0;
  std::size_t stride = 0;
  unsigned char* buf = nullptr;
  mutable Lock lock;                             // mutable: Len locks a const Core
  std::size_t qcount ABSL_GUARDED_BY(lock) = 0;  // elements in buf
  std::size_t sendx ABSL_GUARDED_BY(lock) = 0;
  std::size_t recvx ABSL_GUARDED_BY(lock) = 0;
  bool closed ABSL_GUARDED_BY(lock) = false;
  WaitQueue recvq ABSL_GUARDED_BY(lock);  // receivers blocked on an empty channel
  WaitQueue sendq ABSL_GUARDED_BY(lock);  // senders blocked on a full channel

  void* Slot(std::size_t i) { return buf + i * stride; }
};

namespace {

[[noreturn]] void PanicSendClosed() { throw Panic("send on closed channel"); }

// Parks forever (a nil channel, or a select with no case that can ever run).
// The fiber is only ever resumed to be unwound at shutdown. `reason` names
// the wait as Go's traceback does.
[[noreturn]] void BlockForever(const char* reason) {
  Lock l;
  l.lock();
  Waiter w;
  Block(&w, &l, reason);
  runtime::internal::Throw("nil channel operation resumed");
}

// Moves the element at the head of the buffer into out. Caller holds c->lock.
void TakeHead(Core* c, void* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->lock) {
  void* slot = c->Slot(c->recvx);
  c->ops->move(out, slot);
  c->ops->destroy(slot);
  if (++c->recvx == c->cap) c->recvx = 0;
  c->qcount--;
}

void PutTail(Core* c, void* v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->lock) {
  c->ops->move(c->Slot(c->sendx), v);
  if (++c->sendx == c->cap) c->sendx = 0;
  c->qcount++;
}

// Receives from the blocked sender w (dequeued by the caller). Unbuffered:
// straight from the sender's value. Buffered (hence full): the head of the
// buffer, and the sender's value goes to the tail. Go: recv.
void RecvFromSender(Core* c, Waiter* w, void* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->lock) {
  if (c->cap == 0) {
    c->ops->move(out, w->data);
  } else {
    TakeHead(c, out);
    PutTail(c, w->data);
  }
  w->success = true;
}

// Blocks the caller on c until a peer or Close wakes it; w is already on q
// (c->sendq or c->recvq) and c->lock is released once the caller is
// committed to sleeping. Go: the gopark of chansend / chanrecv.
//
// If a shutdown unwinds the blocked caller, w is taken off q. A receiver may
// be unwound after a sender already handed it a value (the sender readied
// it, then shutdown destroyed it before it ran): that value, constructed in
// the receiver's storage, is destroyed here, or it would leak.
//
// If the receiver (or sender) had already been readied, its waker dequeued
// it and completed the operation: the channel is not touched then, since
// it may be gone (its last handle dropped by the other side), exactly as
// when a readied fiber simply returns from the operation.
void BlockOn(Core* c, Waiter* w, WaitQueue* q, bool recv) ABSL_UNLOCK_FUNCTION(c->lock) {
  const ElemOps* ops = c->ops;
  try {
    Block(w, &c->lock, recv ? "chan receive" : "chan send");
  } catch (...) {
    // Block released c->lock before the unwind began. The unwinding runs on
    // the Run thread (m0), whose curg is this G.
    runtime::internal::M* m = GetM();
    runtime::internal::G* g = m != nullptr ? m->curg : nullptr;
    if (g == nullptr || !g->readied_before_unwind) {
      LockGuard l(c->lock);
      q->Remove(w);
    }
    if (recv && w->success) ops->destroy(w->data);  // off every queue now: ours alone
    throw;
  }
}

// What the non-blocking half of an operation decided under c->lock. The
// caller releases the lock, then acts on it: a parked peer is woken, and a
// send on a closed channel panics, only once no channel lock is held.
struct Outcome {
  enum Kind : std::uint8_t {
    kBlock,   // nothing ready: block, or report "would block"
    kDone,    // the value moved (to a receiver or the buffer, or into out)
    kClosed,  // send: the channel is closed (panic); receive: closed and drained
  };
  Kind kind = kBlock;
  Waiter* wake = nullptr;  // kDone: a parked peer, dequeued, to Wake after the unlock
};

// The non-blocking half of a send: hand v to a parked receiver (no buffer
// copy) or put it in the buffer. Go: chansend's fast paths.
Outcome SendReadyLocked(Core* c, void* v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->lock) {
  if (c->closed) return {Outcome::kClosed};
  if (Waiter* w = c->recvq.Dequeue()) {
    c->ops->move(w->data, v);
    w->success = true;
    return {Outcome::kDone, w};
  }
  if (c->qcount < c->cap) {
    PutTail(c, v);
    return {Outcome::kDone};
  }
  return {Outcome::kBlock};
}

// The non-blocking half of a receive, likewise: from a parked sender, else
// the buffer, else "closed" once the buffer is drained. Go: chanrecv's fast
// paths.
Outcome RecvReadyLocked(Core* c, void* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->lock) {
  if (Waiter* w = c->sendq.Dequeue()) {
    RecvFromSender(c, w, out);
    return {Outcome::kDone, w};
  }
  if (c->qcount > 0) {
    TakeHead(c, out);
    return {Outcome::kDone};
  }
  if (c->closed) return {Outcome::kClosed};
  return {Outcome::kBlock};
}

// Completes a ready send or receive after the channel's lock is released.
void Finish(const Outcome& r, bool send) {
  if (send && r.kind == Outcome::kClosed) PanicSendClosed();
  if (r.wake != nullptr) Wake(r.wake);
}

}  // namespace

Core* NewCore(const ElemOps* ops, std::size_t capacity) {
  auto* c = new Core;
  c->ops = ops;
  c->cap = capacity;
  c->stride = (ops->size + ops->align - 1) / ops->align * ops->align;
  if (capacity > 0) {
    if (c->stride != 0 && capacity > (std::size_t{1} << 40) / c->stride) {
      delete c;
      throw Panic("makechan: size out of range");
    }
    c->buf = static_cast<unsigned char*>(::operator new (
        capacity * c->stride, std::align_val_t{std::max<std::size_t>(ops->align, 16)}));
  }
  return c;
}

void Ref(Core* c) { c->refs.fetch_add(1, std::memory_order_relaxed); }

// The last reference destroys the channel and what is left in its buffer.
// Its fields are read without the lock, which the analysis cannot know is
// safe: at zero no handle or Case is left, every operation runs through one
// that its caller keeps alive, and a woken waiter no longer touches the
// channel (see BlockOn), so no other thread can reach it; the acq_rel
// decrement orders every other holder's last access before this one.
void Unref(Core* c) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  while (c->qcount > 0) {
    void* slot = c->Slot(c->recvx);
    c->ops->destroy(slot);
    if (++c->recvx == c->cap) c->recvx = 0;
    c->qcount--;
  }
  if (c->buf != nullptr) {
    ::operator delete (c->buf, std::align_val_t{std::max<std::size_t>(c->ops->align, 16)});
  }
  delete c;
}

// Go: chansend.
void Send(Core* c, void* v) {
  runtime::CheckPreempt();
  if (c == nullptr) BlockForever("chan send (nil chan)");
  c->lock.lock();
  Outcome r = SendReadyLocked(c, v);
  if (r.kind != Outcome::kBlock) {
    c->lock.unlock();
    Finish(r, true);
    return;
  }
  Waiter w;
  w.data = v;
  c->sendq.Push(&w);
  BlockOn(c, &w, &c->sendq, false);
  // Woken by a receiver (it took the value) or by Close.
  if (!w.success) PanicSendClosed();
}

bool TrySend(Core* c, void* v) {
  runtime::CheckPreempt();
  if (c == nullptr) return false;
  c->lock.lock();
  Outcome r = SendReadyLocked(c, v);
  c->lock.unlock();
  Finish(r, true);
  return r.kind == Outcome::kDone;
}

// Go: chanrecv.
bool Recv(Core* c, void* out) {
  runtime::CheckPreempt();
  if (c == nullptr) BlockForever("chan receive (nil chan)");
  c->lock.lock();
  Outcome r = RecvReadyLocked(c, out);
  if (r.kind != Outcome::kBlock) {
    c->lock.unlock();
    Finish(r, false);
    return r.kind == Outcome::kDone;
  }
  Waiter w;
  w.data = out;
  c->recvq.Push(&w);
  BlockOn(c, &w, &c->recvq, true);
  return w.success;  // false: woken by Close
}

int TryRecv(Core* c, void* out) {
  runtime::CheckPreempt();
  if (c == nullptr) return 0;
  c->lock.lock();
  Outcome r = RecvReadyLocked(c, out);
  c->lock.unlock();
  Finish(r, false);
  return r.kind == Outcome::kDone ? 1 : r.kind == Outcome::kClosed ? -1 : 0;
}

// Go: closechan. Every blocked receiver returns "closed", every blocked
// sender panics.
void Close(Core* c) {
  if (c == nullptr) throw Panic("close of nil channel");
  Waiter* wake = nullptr;  // chained through `next` once unlinked
  {
    LockGuard l(c->lock);
    if (c->closed) throw Panic("close of closed channel");
    c->closed = true;
    for (WaitQueue* q : {&c->recvq, &c->sendq}) {
      while (Waiter* w = q->Dequeue()) {
        w->success = false;
        w->next = wake;
        wake = w;
      }
    }
  }
  while (wake != nullptr) {
    Waiter* next = wake->next;  // read before Wake: the waiter may be gone after
    Wake(wake);
    wake = next;
  }
}

std::size_t Len(const Core* c) {
  if (c == nullptr) return 0;
  LockGuard l(c->lock);
  return c->qcount;
}

std::size_t Cap(const Core* c) { return c == nullptr ? 0 : c->cap; }

}  // namespace chan_internal

// ---------------------------------------------------------------------------
// Select. Go: selectgo.

using chan_internal::Core;
using runtime::internal::SelectState;
using runtime::internal::Waiter;

Case::Case(Case&& o) noexcept
    : core_(std::exchange(o.core_, nullptr)),
      ops_(o.ops_),
      kind_(o.kind_),
      out_(o.out_),
      deliver_(o.deliver_),
      heap_(std::exchange(o.heap_, nullptr)) {
  // A heap element moved with the pointer; an inline one is moved here.
  if (o.has_elem_ && heap_ == nullptr) {
    ops_->move(inline_, o.inline_);
    ops_->destroy(o.inline_);
  }
  has_elem_ = std::exchange(o.has_elem_, false);
}

Case::~Case() {
  if (has_elem_) ops_->destroy(Elem());
  if (heap_ != nullptr)
    ::operator delete (heap_, std::align_val_t{std::max<std::size_t>(ops_->align, 16)});
  if (core_ != nullptr) chan_internal::Unref(core_);
}

void Case::AllocElem() {
  if (ops_->size > sizeof(inline_) || ops_->align > alignof(std::max_align_t)) {
    heap_ = ::operator new (ops_->size, std::align_val_t{std::max<std::size_t>(ops_->align, 16)});
  }
}

Case OnDefault() {
  Case c;
  c.kind_ = Case::Kind::kDefault;
  return c;
}

namespace {

// A cheap per-thread random number for the poll order. Read fresh each call
// (no thread_local address survives a switch here: no switch happens inside).
__attribute__((noinline)) uint32_t SelectRand() {
  static thread_local uint64_t x = 0;
  if (x == 0) x = reinterpret_cast<uintptr_t>(&x) * 0x9E3779B97F4A7C15ULL | 1;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return static_cast<uint32_t>(x >> 16);
}

// The channels of one select, sorted by address, each once (Go: lockorder).
// The analysis tracks locks by name, so it cannot follow a lock set whose
// size is known only at run time: LockAll, UnlockAll and SelectCases (with
// its dequeue_all) are not analysed, and the discipline they keep is written
// here instead. SelectCases calls LockAll before it reads or writes any
// channel of the set, and UnlockAll before it wakes a peer, panics, blocks
// (UnlockAll is then the park's unlock step) or returns.
struct LockSet {
  Core** cores;
  std::size_t n;
};

void LockAll(const LockSet& s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  for (std::size_t i = 0; i < s.n; i++) s.cores[i]->lock.lock();
}
void UnlockAll(void* arg) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  auto* s = static_cast<LockSet*>(arg);
  for (std::size_t i = s->n; i-- > 0;) s->cores[i]->lock.unlock();
}

// Small selects keep their scratch arrays on the stack.
template <class T, std::size_t N>
struct Scratch {
  T local[N];
  std::unique_ptr<T[]> heap;
  T* Get(std::size_t n) {
    if (n <= N) return local;
    heap.reset(new T[n]);
    return heap.get();
  }
};

}  // namespace

// Not analysed: it holds a lock set of run-time size (see LockSet).
std::size_t SelectCases(Case* cases, std::size_t n) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  runtime::CheckPreempt();
  Scratch<std::size_t, 16> poll_s;
  Scratch<Core*, 16> lock_s;
  std::size_t* poll = poll_s.Get(n);
  Core** locks = lock_s.Get(n);
  std::size_t npoll = 0, nlocks = 0;
  long dflt = -1;
  for (std::size_t i = 0; i < n; i++) {
    if (cases[i].kind_ == Case::Kind::kDefault) {
      if (dflt >= 0) throw Panic("select: multiple defaults");
      dflt = static_cast<long>(i);
      continue;
    }
    if (cases[i].core_ == nullptr) continue;  // nil channel: never ready
    // Insert at a random position: a uniform shuffle. Go: pollorder.
    std::size_t j = SelectRand() % (npoll + 1);
    if (j != npoll) poll[npoll] = poll[j];
    poll[j] = i;
    npoll++;
    locks[nlocks++] = cases[i].core_;
  }
  std::sort(locks, locks + nlocks);  // Go: lockorder (by address)
  nlocks = static_cast<std::size_t>(std::unique(locks, locks + nlocks) - locks);
  LockSet set{locks, nlocks};
  LockAll(set);

  // Pass 1: is any case ready?
  for (std::size_t k = 0; k < npoll; k++) {
    std::size_t i = poll[k];
    Case& c = cases[i];
    Core* ch = c.core_;
    if (c.kind_ == Case::Kind::kRecv) {
      if (Waiter* w = ch->sendq.Dequeue()) {
        chan_internal::RecvFromSender(ch, w, c.Elem());
        c.has_elem_ = true;
        UnlockAll(&set);
        runtime::internal::Wake(w);
        c.deliver_(&c, true);
        return i;
      }
      if (ch->qcount > 0) {
        chan_internal::TakeHead(ch, c.Elem());
        c.has_elem_ = true;
        UnlockAll(&set);
        c.deliver_(&c, true);
        return i;
      }
      if (ch->closed) {
        UnlockAll(&set);
        c.deliver_(&c, false);
        return i;
      }
    } else {
      if (ch->closed) {
        UnlockAll(&set);
        chan_internal::PanicSendClosed();
      }
      if (Waiter* w = ch->recvq.Dequeue()) {
        ch->ops->move(w->data, c.Elem());
        w->success = true;
        UnlockAll(&set);
        runtime::internal::Wake(w);
        return i;
      }
      if (ch->qcount < ch->cap) {
        chan_internal::PutTail(ch, c.Elem());
        UnlockAll(&set);
        return i;
      }
    }
  }
  if (dflt >= 0) {
    UnlockAll(&set);
    return static_cast<std::size_t>(dflt);
  }
  if (npoll == 0) {
    UnlockAll(&set);
    // select {} (Go's block()), or only nil channels (Go parks in selectgo).
    chan_internal::BlockForever(n == 0 ? "select (no cases)" : "select");
  }

  // Pass 2: enqueue a waiter on every channel and block.
  SelectState st;
  Scratch<Waiter, 8> ws_s;
  Waiter* ws = ws_s.Get(npoll);
  runtime::internal::G* g = runtime::internal::CurrentG();
  for (std::size_t k = 0; k < npoll; k++) {
    std::size_t i = poll[k];
    Waiter& w = ws[k];
    w.g = g;
    w.note = &st.note;
    w.sel = &st;
    w.case_index = static_cast<int>(i);
    w.owner = cases[i].core_;
    w.data = cases[i].Elem();
    if (cases[i].kind_ == Case::Kind::kRecv) {
      cases[i].core_->recvq.Push(&w);
    } else {
      cases[i].core_->sendq.Push(&w);
    }
  }
  // Takes our waiters off the queues they were pushed on; runs with the
  // whole lock set held (a lambda is analysed on its own, hence its mark).
  auto dequeue_all = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (std::size_t k = 0; k < npoll; k++) {
      Core* ch = static_cast<Core*>(ws[k].owner);
      if (cases[ws[k].case_index].kind_ == Case::Kind::kRecv) {
        ch->recvq.Remove(&ws[k]);
      } else {
        ch->sendq.Remove(&ws[k]);
      }
    }
  };
  try {
    runtime::internal::BlockWith(&ws[0], &UnlockAll, &set, "select");
  } catch (...) {
    LockAll(set);
    dequeue_all();
    // A receive case may have been handed a value before the unwind: the
    // Case owns it now and destroys it.
    if (Waiter* f = st.fired;
        f != nullptr && f->success && cases[f->case_index].kind_ == Case::Kind::kRecv) {
      cases[f->case_index].has_elem_ = true;
    }
    UnlockAll(&set);
    throw;
  }
  // Woken: one case fired. Take our other waiters off their queues.
  LockAll(set);
  dequeue_all();
  UnlockAll(&set);
  Waiter* f = st.fired;
  std::size_t i = static_cast<std::size_t>(f->case_index);
  Case& c = cases[i];
  if (c.kind_ == Case::Kind::kRecv) {
    if (f->success) c.has_elem_ = true;
    c.deliver_(&c, f->success);
  } else if (!f->success) {
    chan_internal::PanicSendClosed();
  }
  return i;
}

}  // namespace gort
