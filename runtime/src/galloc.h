// G allocation. A G keeps its stack when it dies: the free lists (per P, and
// a global one under sched.gflock) are the stack pool. Go: gfget, gfput,
// newproc1.
#ifndef GORT_RUNTIME_SRC_GALLOC_H_
#define GORT_RUNTIME_SRC_GALLOC_H_

#include <cstddef>

#include "proc.h"

namespace gort::runtime::internal {

// A new G (status kIdle) whose stack top holds `size` bytes aligned to
// `align` for the callable (g->fn), and whose context starts in GMain, which
// runs invoke(g->fn, run). Throws gort::Panic when no stack can be mapped or
// the callable does not fit. Any thread.
G* NewG(std::size_t size, std::size_t align, void (*invoke)(void*, bool));
// Returns a G that NewG made and that never ran (its callable was already
// destroyed) to the free lists. Any thread.
void DropNewG(G* g);
// Returns a dead G to p's free list (p null: the global one). p's owner.
void GFree(P* p, G* g);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_GALLOC_H_
