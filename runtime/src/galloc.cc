// G allocation and free lists: see galloc.h. Protocol: a P's free list is
// its owner's alone; the global list is guarded by sched.gflock. A P whose
// list runs empty refills kGFreeBatch Gs from the global list at once, and
// one that grows past kGFreeLocalMax returns all but
// kGFreeLocalMax - kGFreeBatch, so that a P that only creates fibers and one
// that only finishes them share their stacks in batches, not one by one.
// Go: gfget, gfput.
#include "galloc.h"

#include <algorithm>
#include <cstdint>

#include "execute.h"
#include "gort/panic.h"

#if GORT_ASAN
extern "C" void __asan_unpoison_memory_region(void const volatile* addr, size_t size);
#endif

namespace gort::runtime::internal {
namespace {

constexpr int kGFreeLocalMax = 64;
constexpr int kGFreeBatch = 32;
// The least stack left below a callable stored at the top of a fiber's
// stack; a callable that leaves less is refused (gort::Panic).
constexpr uintptr_t kMinFiberStackLeft = 16 * 1024;

G* GAlloc(P* p) {
  if (p != nullptr && p->gfree == nullptr) {
    LockGuard l(sched.gflock);
    while (p->gfree_count < kGFreeBatch && sched.gfree != nullptr) {
      G* g = sched.gfree;
      sched.gfree = g->schedlink;
      sched.gfree_count--;
      g->schedlink = p->gfree;
      p->gfree = g;
      p->gfree_count++;
    }
  }
  G* g = nullptr;
  if (p != nullptr && p->gfree != nullptr) {
    g = p->gfree;
    p->gfree = g->schedlink;
    p->gfree_count--;
  } else if (p == nullptr) {
    LockGuard l(sched.gflock);
    if (sched.gfree != nullptr) {
      g = sched.gfree;
      sched.gfree = g->schedlink;
      sched.gfree_count--;
    }
  }
  if (g == nullptr) {
    Stack stack = StackAlloc(sched.stack_size);  // throws gort::Panic if it cannot
    g = new G;
    g->stack = stack;
    g->tsan_fiber = TsanCreateFiber();
    LockGuard l(sched.allglock);
    sched.allgs.push_back(g);
  }
  g->schedlink = nullptr;
  return g;
}

}  // namespace

void GFree(P* p, G* g) {
  CasGStatus(g, GStatus::kDead, GStatus::kIdle);
  g->fn = nullptr;
  g->invoke = nullptr;
  g->lockedm = nullptr;
  g->lock_ext = 0;
  g->lock_int = 0;
  g->is_main = false;
  g->eh = EhState{};
  g->goexiting = false;
  g->last_error.clear();
  if (p == nullptr) {
    LockGuard l(sched.gflock);
    g->schedlink = sched.gfree;
    sched.gfree = g;
    sched.gfree_count++;
    return;
  }
  g->schedlink = p->gfree;
  p->gfree = g;
  if (++p->gfree_count >= kGFreeLocalMax) {
    LockGuard l(sched.gflock);
    while (p->gfree_count > kGFreeLocalMax - kGFreeBatch) {
      G* x = p->gfree;
      p->gfree = x->schedlink;
      p->gfree_count--;
      x->schedlink = sched.gfree;
      sched.gfree = x;
      sched.gfree_count++;
    }
  }
}

G* NewG(std::size_t size, std::size_t align, void (*invoke)(void*, bool)) {
  P* p = CurrentP();
  G* g = GAlloc(p);
#if GORT_ASAN
  // A reused stack may still carry the poisoned redzones of its last fiber.
  __asan_unpoison_memory_region(g->stack.lo + sizeof(uint64_t), g->stack.size() - sizeof(uint64_t));
#endif
  align = std::max<std::size_t>(align, 16);
  auto top = reinterpret_cast<uintptr_t>(g->stack.hi);
  uintptr_t storage = (top - size) & ~(uintptr_t{align} - 1);
  uintptr_t sp = storage & ~uintptr_t{63};
  if (size > g->stack.size() / 2 ||
      sp - reinterpret_cast<uintptr_t>(g->stack.lo) < kMinFiberStackLeft) {
    CasGStatus(g, GStatus::kIdle, GStatus::kDead);
    GFree(p, g);
    throw Panic("gort: Go: the callable does not fit on a fiber stack (capture less by value)");
  }
  g->fn = reinterpret_cast<void*>(storage);
  g->invoke = invoke;
  g->ctx = MakeContext(reinterpret_cast<void*>(sp), sp - reinterpret_cast<uintptr_t>(g->stack.lo),
                       &GMain);
  g->id = sched.goidgen.fetch_add(1, std::memory_order_relaxed) + 1;
  g->unwinding.store(false, std::memory_order_relaxed);
  return g;
}

void DropNewG(G* g) {
  CasGStatus(g, GStatus::kIdle, GStatus::kDead);
  GFree(CurrentP(), g);
}

}  // namespace gort::runtime::internal
