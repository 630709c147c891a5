#include "fatal.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "chaos.h"

namespace gort::runtime::internal {

namespace {
std::atomic<bool> dying{false};      // some thread is printing its fatal error
thread_local bool this_one = false;  // ...and it is this one
}  // namespace

void BeginFatal() {
  if (this_one) return;  // a fatal report that ends in Throw
  if (!dying.exchange(true, std::memory_order_acq_rel)) {
    this_one = true;
    return;
  }
  // Another thread is printing its report and will abort the process; two
  // reports would interleave on stderr. Go: startpanic_m's "dying" wait.
  for (;;) pause();
}

void WriteErr(const char* s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void WriteErrNum(uint64_t n) {
  char buf[24];
  int i = sizeof(buf) - 1;
  buf[i] = 0;
  do {
    buf[--i] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  WriteErr(buf + i);
}

void WriteGoroutineHeader(uint64_t goid, const char* state) {
  WriteErr("\ngoroutine ");
  WriteErrNum(goid);
  WriteErr(" [");
  WriteErr(state);
  WriteErr("]:\n");
}

void WriteScheduleSeed() {
  if (uint64_t seed = KnownScheduleSeed(); seed != 0) {
    WriteErr("gort: random schedule seed ");
    WriteErrNum(seed);
    WriteErr(" (GORT_SCHEDULE_SEED=");
    WriteErrNum(seed);
    WriteErr(" replays it)\n");
  }
}

void Throw(const char* msg) {
  BeginFatal();
  WriteErr("fatal error: ");
  WriteErr(msg);
  WriteErr("\n");
  WriteScheduleSeed();
  abort();
}

}  // namespace gort::runtime::internal
