// Timers: one min-heap per P, run by whichever M schedules on that P (its
// own heap on every FindRunnable, other Ps' when it is about to steal) and
// by the one idle M that sleeps in the poller until the earliest deadline
// (FindRunnable's poll sleeper). No thread per sleeper: a sleeping fiber costs its stack
// and one heap entry. Go: runtime/time.go (addtimer, deltimer, checkTimers).
#include "timers.h"

#include <algorithm>

#include "fatal.h"
#include "netpoll.h"
#include "schedule.h"

namespace gort::runtime::internal {
namespace {

bool Before(const TimerNode* a, const TimerNode* b) { return a->when < b->when; }

void SiftUp(std::vector<TimerNode*>& h, int i) {
  while (i > 0) {
    int parent = (i - 1) / 2;
    if (!Before(h[i], h[parent])) break;
    std::swap(h[i], h[parent]);
    h[i]->index = i;
    h[parent]->index = parent;
    i = parent;
  }
}

void SiftDown(std::vector<TimerNode*>& h, int i) {
  int n = static_cast<int>(h.size());
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && Before(h[l], h[m])) m = l;
    if (r < n && Before(h[r], h[m])) m = r;
    if (m == i) return;
    std::swap(h[i], h[m]);
    h[i]->index = i;
    h[m]->index = m;
    i = m;
  }
}

}  // namespace

void TimerHeapPush(std::vector<TimerNode*>& h, TimerNode* t) {
  t->index = static_cast<int>(h.size());
  h.push_back(t);
  SiftUp(h, t->index);
}

void TimerHeapRemoveAt(std::vector<TimerNode*>& h, int i) {
  int last = static_cast<int>(h.size()) - 1;
  if (i != last) {
    h[i] = h[last];
    h[i]->index = i;
  }
  h.pop_back();
  if (i < static_cast<int>(h.size())) {
    SiftDown(h, i);
    SiftUp(h, i);
  }
}

namespace {

void UpdateTimer0(P* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->timers_lock) {
  p->timer0_when.store(p->timers.empty() ? 0 : p->timers[0]->when, std::memory_order_release);
}

// A new timer due at `when`: make sure some M will look at it in time. If
// the poll sleeper sleeps past it, break its poll (it re-computes its
// deadline), else wake an idle P. Go: wakeNetPoller.
void WakeForTimer(int64_t when) {
  // Pairs with SleepUntilWork's fence: either the sleeper's deadline is
  // visible here, or our timer is visible to the sleeper before it sleeps.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (when < sched.poll_until.load(std::memory_order_seq_cst) &&
      sched.poll_sleeper.load(std::memory_order_seq_cst) != nullptr) {
    NetpollBreak();
    return;
  }
  WakeP();
}

}  // namespace

void AddTimer(TimerNode* t) {
  P* p = CurrentP();
  if (p == nullptr) {
    // A plain thread (or an M in a system call): any P's heap will do.
    int procs = std::max(1, sched.gomaxprocs.load(std::memory_order_acquire));
    static std::atomic<uint32_t> next{0};
    p = sched.allp[next.fetch_add(1, std::memory_order_relaxed) % static_cast<uint32_t>(procs)]
            .load(std::memory_order_acquire);
  }
  // Read before publishing: once in the heap, the node may fire and be freed
  // (a sleeper's is on its stack) before this function returns.
  const int64_t when = t->when;
  {
    LockGuard l(p->timers_lock);
    TimerHeapPush(p->timers, t);
    t->p.store(p, std::memory_order_release);
    UpdateTimer0(p);
  }
  sched.ntimers.fetch_add(1, std::memory_order_acq_rel);
  WakeForTimer(when);
}

bool DelTimer(TimerNode* t) {
  for (;;) {
    P* p = t->p.load(std::memory_order_acquire);
    if (p == nullptr) return false;  // fired (or firing), or never added
    LockGuard l(p->timers_lock);
    if (t->p.load(std::memory_order_relaxed) != p) continue;  // moved meanwhile
    TimerHeapRemoveAt(p->timers, t->index);
    t->p.store(nullptr, std::memory_order_release);
    t->index = -1;
    UpdateTimer0(p);
    sched.ntimers.fetch_sub(1, std::memory_order_acq_rel);
    return true;
  }
}

int RunTimers(P* p, int64_t now) {
  int64_t first = p->timer0_when.load(std::memory_order_acquire);
  if (first == 0 || first > now) return 0;
  // The node's fields are copied under the heap's lock, before the node is
  // marked out of the heap: from then on its owner may re-arm it (rewriting
  // them) or free it (a sleeper's node is on its stack), so the firing below
  // never touches the node itself.
  struct Due {
    void (*fn)(void*, uint64_t);
    void* arg;
    uint64_t seq;
    void (*release)(void*);
  };
  Due due[64];
  int n = 0;
  {
    LockGuard l(p->timers_lock);
    while (n < 64 && !p->timers.empty() && p->timers[0]->when <= now) {
      TimerNode* t = p->timers[0];
      TimerHeapRemoveAt(p->timers, 0);
      due[n++] = Due{t->fn, t->arg, t->seq, t->release};
      t->index = -1;
      t->p.store(nullptr, std::memory_order_release);
    }
    UpdateTimer0(p);
  }
  for (int i = 0; i < n; i++) {
    due[i].fn(due[i].arg, due[i].seq);
    if (due[i].release != nullptr) due[i].release(due[i].arg);
    sched.ntimers.fetch_sub(1, std::memory_order_acq_rel);
  }
  return n;
}

void RunAllTimers(int64_t now) {
  int nallp = sched.nallp.load(std::memory_order_acquire);
  for (int i = 0; i < nallp; i++) {
    if (P* p = sched.allp[i].load(std::memory_order_acquire)) {
      while (RunTimers(p, now) > 0) {
      }
    }
  }
}

int64_t EarliestTimer() {
  int64_t best = 0;
  int nallp = sched.nallp.load(std::memory_order_acquire);
  for (int i = 0; i < nallp; i++) {
    P* p = sched.allp[i].load(std::memory_order_acquire);
    if (p == nullptr) continue;
    int64_t w = p->timer0_when.load(std::memory_order_acquire);
    if (w != 0 && (best == 0 || w < best)) best = w;
  }
  return best;
}

void ClearTimers() {
  int nallp = sched.nallp.load(std::memory_order_acquire);
  for (int i = 0; i < nallp; i++) {
    P* p = sched.allp[i].load(std::memory_order_acquire);
    if (p == nullptr) continue;
    struct Left {
      void (*release)(void*);
      void* arg;
    };
    std::vector<Left> left;
    {
      // Marked out of the heap under its lock, as RunTimers does: a plain
      // thread's DelTimer racing with this then finds nothing to remove.
      LockGuard l(p->timers_lock);
      for (TimerNode* t : p->timers) {
        left.push_back(Left{t->release, t->arg});
        t->index = -1;
        t->p.store(nullptr, std::memory_order_release);
      }
      p->timers.clear();
      UpdateTimer0(p);
    }
    for (const Left& t : left) {
      if (t.release != nullptr) t.release(t.arg);
      sched.ntimers.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

}  // namespace gort::runtime::internal
