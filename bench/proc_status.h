// Shared by scale_bench and the Boost.Fiber peer: one field of
// /proc/self/status.
#ifndef GORT_BENCH_PROC_STATUS_H_
#define GORT_BENCH_PROC_STATUS_H_

#include <cstdio>
#include <cstring>

namespace gort_bench {

// The number after "Name:" in /proc/self/status (kB for VmRSS, a count for
// Threads); -1 if it cannot be read.
inline long ProcStatus(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return -1;
  char line[256];
  long v = -1;
  const std::size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      std::sscanf(line + n + 1, "%ld", &v);
      break;
    }
  }
  std::fclose(f);
  return v;
}

}  // namespace gort_bench

#endif  // GORT_BENCH_PROC_STATUS_H_
