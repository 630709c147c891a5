// Fiber stacks: mmap'd, with a PROT_NONE guard page below, and a canary word
// at the lowest usable address that every switch-out checks. Stacks are
// reused with their G (the G free lists are the stack pool).
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
  char* lo = nullptr;  // lowest usable byte (holds the canary)
  char* hi = nullptr;  // one past the highest usable byte
  bool guarded = false;
  std::size_t size() const { return static_cast<std::size_t>(hi - lo); }
};

constexpr std::size_t kDefaultStackSize = 256 * 1024;
constexpr std::size_t kMinStackSize = 64 * 1024;
constexpr std::size_t kMaxStackSize = std::size_t{1} << 30;  // Go's maximum stack, 1 GB
constexpr uint64_t kStackCanary = 0x676f72745f73746bULL;     // "gort_stk"

// Any thread. Aborts with a clear message when the kernel refuses memory.
Stack StackAlloc(std::size_t size);
void StackFree(Stack* s);
inline bool StackCanaryIntact(const Stack& s) {
  return *reinterpret_cast<const uint64_t*>(s.lo) == kStackCanary;
}
std::size_t PageSize();

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_STACK_H_
