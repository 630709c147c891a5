// Fiber stacks: mmap'd, with a PROT_NONE guard page below, and a canary at
// the lowest usable address that every switch-out checks. Stacks are reused
// with their G (the G free lists are the stack pool).
//
// The canary is the lowest kCanaryBytes of the stack, which must read as
// zeros. A fresh anonymous mapping reads as zeros without being written:
// the check's read maps the kernel's shared zero page, which RSS does not
// count. So a parked fiber costs only the pages its frames touch (one, for
// most), not a second page for a canary word written at the bottom. (A
// magic word there cost every fiber a page: 8.16 KiB per parked fiber
// instead of about 4.) The price: an overflow that leaves those bytes zero
// goes unseen by the canary; an overflow writes frames (return addresses,
// saved registers), so a whole cache line of zeros is unlikely, and
// guarded stacks have the guard page anyway.
//
// Guard pages cost two kernel VMAs per stack and vm.max_map_count is 65530 by
// default, so past a budget derived from it (about 24 000 stacks) new stacks
// come without a guard page; the canary still turns an overflow into
// "fatal error: stack overflow" at the next switch instead of silent
// corruption. (Rejected: no guards at all, as Go can afford with its checked
// prologues; guards always, which caps a process at ~30 000 fibers.)
#ifndef GORT_RUNTIME_SRC_STACK_H_
#define GORT_RUNTIME_SRC_STACK_H_

#include <cstddef>
#include <cstdint>

namespace gort::runtime::internal {

struct Stack {
  char* map = nullptr;  // start of the mapping (the guard page, if any)
  std::size_t map_size = 0;
  char* lo = nullptr;  // lowest usable byte (the canary's first)
  char* hi = nullptr;  // one past the highest usable byte
  bool guarded = false;
  std::size_t size() const { return static_cast<std::size_t>(hi - lo); }
};

constexpr std::size_t kDefaultStackSize = 256 * 1024;
constexpr std::size_t kMinStackSize = 64 * 1024;
constexpr std::size_t kMaxStackSize = std::size_t{1} << 30;  // Go's maximum stack, 1 GB
constexpr std::size_t kCanaryBytes = 64;                     // one cache line

// Any thread. Aborts with a clear message when the kernel refuses memory.
Stack StackAlloc(std::size_t size);
void StackFree(Stack* s);
inline bool StackCanaryIntact(const Stack& s) {
  const auto* w = reinterpret_cast<const volatile uint64_t*>(s.lo);
  uint64_t any = 0;
  for (std::size_t i = 0; i < kCanaryBytes / sizeof(uint64_t); i++) any |= w[i];
  return any == 0;
}
std::size_t PageSize();

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_STACK_H_
