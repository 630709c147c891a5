#include "stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "fatal.h"
#include "gort/internal/runtime_support.h"
#include "gort/panic.h"

namespace gort::runtime::internal {
namespace {

std::atomic<long> guarded_stacks{0};
std::atomic<int> failing_stack_allocs{0};  // FailStackAllocsForTesting

long GuardBudget() {
  static const long budget = [] {
    long max_maps = 65530;
    if (FILE* f = fopen("/proc/sys/vm/max_map_count", "re")) {
      if (fscanf(f, "%ld", &max_maps) != 1) max_maps = 65530;
      fclose(f);
    }
    // Leave room for everything else the process maps (libraries, thread
    // stacks, malloc arenas, an embedding VM's own mappings).
    long b = (max_maps - 16384) / 2;
    return b > 0 ? b : 0;
  }();
  return budget;
}

}  // namespace

std::size_t PageSize() {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

Stack StackAlloc(std::size_t size) {
  const std::size_t page = PageSize();
  size = (size + page - 1) & ~(page - 1);
  bool guard = guarded_stacks.fetch_add(1, std::memory_order_relaxed) < GuardBudget();
  if (!guard) guarded_stacks.fetch_sub(1, std::memory_order_relaxed);
  std::size_t map_size = size + (guard ? page : 0);
  void* p = MAP_FAILED;
  errno = ENOMEM;
  if (failing_stack_allocs.load(std::memory_order_relaxed) <= 0 ||
      failing_stack_allocs.fetch_sub(1, std::memory_order_relaxed) <= 0) {
    p = mmap(nullptr, map_size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  }
  if (p == MAP_FAILED) {
    // Reported to the caller of Go (Go itself dies here with "fatal error:
    // out of memory"); an embedding VM can recover from a refused fiber.
    const int err = errno;
    if (guard) guarded_stacks.fetch_sub(1, std::memory_order_relaxed);
    throw Panic("runtime: out of memory: cannot allocate a " + std::to_string(map_size) +
                "-byte fiber stack (mmap: " + std::strerror(err) + ")");
  }
  Stack s;
  s.map = static_cast<char*>(p);
  s.map_size = map_size;
  s.guarded = guard;
  if (guard && mprotect(s.map, page, PROT_NONE) != 0) {
    // Splitting the mapping needs one more map (vm.max_map_count).
    const int err = errno;
    munmap(s.map, map_size);
    guarded_stacks.fetch_sub(1, std::memory_order_relaxed);
    throw Panic("runtime: cannot protect a fiber stack's guard page (mprotect: " +
                std::string(std::strerror(err)) + ")");
  }
  s.lo = s.map + (guard ? page : 0);
  s.hi = s.map + map_size;
  return s;  // the canary is the mapping's zeros: nothing to write (stack.h)
}

void FailStackAllocsForTesting(int n) { failing_stack_allocs.store(n, std::memory_order_relaxed); }

void StackFree(Stack* s) {
  if (s->map == nullptr) return;
  munmap(s->map, s->map_size);
  if (s->guarded) guarded_stacks.fetch_sub(1, std::memory_order_relaxed);
  *s = Stack{};
}

}  // namespace gort::runtime::internal
