// Run queues: see runq.h for the contract and RunQueue (proc.h) for the
// ring's proof sketch. Protocol:
//   - Only the owner P writes a local queue's tail (store-release after
//     filling the slot); the owner and thieves advance head with a CAS.
//   - runnext is a single atomic slot: the owner exchanges it, a thief CASes
//     it away (after kRunnextGraceNs if the owner is running).
//   - A full local queue moves half of itself plus the new G to the global
//     queue (RunqPutSlow), whose list is guarded by sched.lock.
#include "runq.h"

#include <algorithm>

#include "fatal.h"
#include "futex.h"

namespace gort::runtime::internal {
namespace {

#ifdef GORT_TEST_SMALL_RUNQ
// Test builds randomize runnext so that unusual orders really happen.
bool SkipRunnext() {
  static thread_local uint64_t x = 0x9E3779B97F4A7C15ULL ^ reinterpret_cast<uintptr_t>(&x);
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return (x & 1) != 0;
}
#endif

// Moves half of p's local queue plus g to the global queue. Owner P only.
// Go: runqputslow.
bool RunqPutSlow(P* p, G* g, uint32_t h, uint32_t t) {
  G* batch[kRunqSize / 2 + 1];
  uint32_t n = (t - h) / 2;
  for (uint32_t i = 0; i < n; i++) {
    batch[i] = p->runq.slots[(h + i) % kRunqSize].load(std::memory_order_relaxed);
  }
  if (!p->runq.head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return false;
  batch[n] = g;
  for (uint32_t i = 0; i < n; i++) batch[i]->schedlink = batch[i + 1];
  batch[n]->schedlink = nullptr;
  LockGuard l(sched.lock);
  for (uint32_t i = 0; i <= n; i++) {
    G* b = batch[i];
    b->schedlink = nullptr;
    GlobRunqPut(b);
  }
  return true;
}

// Grabs half of p2's queue into batch[bh, ...). Any M. Go: runqgrab.
uint32_t RunqGrab(P* p2, RunQueue* into, uint32_t bh, bool steal_runnext) {
  SchedulePointHere();
  for (;;) {
    uint32_t h = p2->runq.head.load(std::memory_order_acquire);
    uint32_t t = p2->runq.tail.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (steal_runnext) {
        G* next = p2->runnext.load(std::memory_order_acquire);
        if (next != nullptr) {
          if (p2->status.load(std::memory_order_relaxed) == PStatus::kRunning) {
            // p2 is about to run it itself: see kRunnextGraceNs.
            int64_t until = Nanotime() + kRunnextGraceNs;
            while (Nanotime() < until) CpuRelax();
          }
          if (!p2->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
            continue;
          }
          into->slots[bh % kRunqSize].store(next, std::memory_order_relaxed);
          return 1;
        }
      }
      return 0;
    }
    if (n > kRunqSize / 2) continue;  // read an inconsistent h and t
    for (uint32_t i = 0; i < n; i++) {
      G* g = p2->runq.slots[(h + i) % kRunqSize].load(std::memory_order_relaxed);
      into->slots[(bh + i) % kRunqSize].store(g, std::memory_order_relaxed);
    }
    if (p2->runq.head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return n;
  }
}

}  // namespace

// Go: runqsteal.
G* RunqSteal(P* p, P* p2, bool steal_runnext) {
  uint32_t t = p->runq.tail.load(std::memory_order_relaxed);
  uint32_t n = RunqGrab(p2, &p->runq, t, steal_runnext);
  if (n == 0) return nullptr;
  n--;
  G* g = p->runq.slots[(t + n) % kRunqSize].load(std::memory_order_relaxed);
  if (n == 0) return g;
  uint32_t h = p->runq.head.load(std::memory_order_acquire);
  if (t - h + n >= kRunqSize) Throw("runqsteal: runq overflow");
  p->runq.tail.store(t + n, std::memory_order_release);
  return g;
}

// Go: runqput.
void RunqPut(P* p, G* g, bool next) {
  SchedulePointHere();
#ifdef GORT_TEST_SMALL_RUNQ
  if (next && SkipRunnext()) next = false;
#endif
  if (next) {
    G* old = p->runnext.exchange(g, std::memory_order_acq_rel);
    if (old == nullptr) return;
    g = old;  // kick the old runnext to the tail
  }
  for (;;) {
    uint32_t h = p->runq.head.load(std::memory_order_acquire);
    uint32_t t = p->runq.tail.load(std::memory_order_relaxed);
    if (t - h < kRunqSize) {
      p->runq.slots[t % kRunqSize].store(g, std::memory_order_relaxed);
      p->runq.tail.store(t + 1, std::memory_order_release);
      return;
    }
    if (RunqPutSlow(p, g, h, t)) return;
  }
}

// Go: runqget.
G* RunqGet(P* p) {
  SchedulePointHere();
  G* next = p->runnext.load(std::memory_order_relaxed);
  if (next != nullptr && p->runnext_streak < kMaxRunnextStreak &&
      p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    p->runnext_streak++;
    return next;
  }
  for (;;) {
    uint32_t h = p->runq.head.load(std::memory_order_acquire);
    uint32_t t = p->runq.tail.load(std::memory_order_relaxed);
    if (t == h) break;
    G* g = p->runq.slots[h % kRunqSize].load(std::memory_order_relaxed);
    if (p->runq.head.compare_exchange_strong(h, h + 1, std::memory_order_acq_rel)) {
      p->runnext_streak = 0;
      return g;
    }
  }
  // The queue is empty: runnext, however long the streak.
  next = p->runnext.load(std::memory_order_relaxed);
  if (next != nullptr &&
      p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    return next;
  }
  return nullptr;
}

// Go: runqempty.
bool RunqEmpty(P* p) {
  for (;;) {
    uint32_t h = p->runq.head.load(std::memory_order_acquire);
    uint32_t t = p->runq.tail.load(std::memory_order_acquire);
    G* next = p->runnext.load(std::memory_order_acquire);
    if (t == p->runq.tail.load(std::memory_order_acquire)) return h == t && next == nullptr;
  }
}

// Go: globrunqput.
void GlobRunqPut(G* g) {
  g->schedlink = nullptr;
  if (sched.runq_tail != nullptr) {
    sched.runq_tail->schedlink = g;
  } else {
    sched.runq_head = g;
  }
  sched.runq_tail = g;
  sched.runq_size.fetch_add(1, std::memory_order_release);
}

namespace {

G* GlobRunqPop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  G* g = sched.runq_head;
  if (g == nullptr) return nullptr;
  sched.runq_head = g->schedlink;
  if (sched.runq_head == nullptr) sched.runq_tail = nullptr;
  g->schedlink = nullptr;
  sched.runq_size.fetch_sub(1, std::memory_order_release);
  return g;
}

}  // namespace

// Go: globrunqget.
G* GlobRunqGet(P* p, int max) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sched.lock) {
  int size = sched.runq_size.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int n = size / std::max(1, sched.gomaxprocs.load(std::memory_order_relaxed)) + 1;
  n = std::min(n, size);
  if (max > 0) n = std::min(n, max);
  n = std::min(n, static_cast<int>(kRunqSize / 2));
  G* g = GlobRunqPop();
  for (int i = 1; i < n; i++) RunqPut(p, GlobRunqPop(), false);
  return g;
}

}  // namespace gort::runtime::internal
