// Randomized schedules: see chaos.h.
#include "chaos.h"

#include <sched.h>
#include <sys/random.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "futex.h"
#include "gort/internal/runtime_support.h"

namespace gort::runtime::internal {

#ifdef GORT_RANDOM_SCHEDULE
namespace {

std::once_flag seed_once;
uint64_t seed_value = 0;
std::atomic<uint64_t> published{0};  // seed_value once chosen; read by fatal errors
std::atomic<uint64_t> next_thread{0};

void InitSeed() {
  const char* env = std::getenv("GORT_SCHEDULE_SEED");
  if (env != nullptr && *env != '\0') {
    seed_value = std::strtoull(env, nullptr, 0);
  } else if (getrandom(&seed_value, sizeof(seed_value), 0) != sizeof(seed_value)) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    seed_value = static_cast<uint64_t>(ts.tv_nsec) * 0x9E3779B97F4A7C15ULL;
  }
  if (seed_value == 0) seed_value = 1;
  published.store(seed_value, std::memory_order_release);
  std::fprintf(stderr, "gort: random schedule seed %llu (GORT_SCHEDULE_SEED=%llu replays it)\n",
               static_cast<unsigned long long>(seed_value),
               static_cast<unsigned long long>(seed_value));
}

// splitmix64: each thread's stream is the seed mixed with the order in which
// the thread first reached a point.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

struct Stream {
  uint64_t state = 0;
  bool ready = false;
};

}  // namespace

uint64_t ScheduleSeed() {
  std::call_once(seed_once, InitSeed);
  return seed_value;
}

// The calling thread's next random number.
uint64_t NextRandom() {
  static thread_local Stream s;
  if (!s.ready) {
    s.state = Mix(ScheduleSeed() ^ Mix(next_thread.fetch_add(1, std::memory_order_relaxed)));
    s.ready = true;
  }
  s.state = Mix(s.state);
  return s.state;
}

bool ChaosOneIn(uint32_t n) { return NextRandom() % n == 0; }

void ChaosPoint() {
  // Called between a user's system call and its read of errno (lock
  // releases in ExitSyscall): keep it.
  const int saved_errno = errno;
  const uint64_t r = NextRandom();
  if ((r & 7) == 0) {
    sched_yield();  // 1 in 8: let another thread in
  } else if ((r & 0xff) == 1) {
    // 1 in 256: stall a little, as if preempted here.
    for (uint64_t i = 0, n = (r >> 16) % 20000; i < n; i++) CpuRelax();
  } else if ((r & 0xfff) == 2) {
    // 1 in 4096: a real descheduling, up to 200 us.
    struct timespec ts = {0, static_cast<long>((r >> 20) % 200000)};
    nanosleep(&ts, nullptr);
  }
  errno = saved_errno;
}

void SchedulePoint() { ChaosPoint(); }

uint64_t KnownScheduleSeed() { return published.load(std::memory_order_acquire); }

#else

uint64_t KnownScheduleSeed() { return 0; }

uint64_t ScheduleSeed() { return 0; }
void SchedulePoint() {}

#endif

}  // namespace gort::runtime::internal
