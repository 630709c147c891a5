// Event counters for benchmarks (how many futex wake-ups, thread creations,
// P hand-offs an operation costs): relaxed atomics bumped where the event
// happens, read through runtime_support.h's ReadRuntimeStats. Each counts an
// event that already costs a system call or a lock, so the increment is
// noise beside it.
#ifndef GORT_RUNTIME_SRC_STATS_H_
#define GORT_RUNTIME_SRC_STATS_H_

#include <atomic>
#include <cstdint>

namespace gort::runtime::internal {

struct Stats {
  std::atomic<uint64_t> futex_wakes{0};      // FUTEX_WAKE calls (a sleeper was there)
  std::atomic<uint64_t> futex_sleeps{0};     // FUTEX_WAIT calls
  std::atomic<uint64_t> threads_created{0};  // Ms' OS threads
  std::atomic<uint64_t> m_wakeups{0};        // StartM handing a P to an idle M
  std::atomic<uint64_t> handoffs{0};         // HandoffP giving a P with work to another M
  std::atomic<uint64_t> retakes{0};          // sysmon taking a P from a system call
};
extern Stats stats;

inline void Count(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_STATS_H_
