// The first error tier: a broken internal invariant or an unrecoverable state
// (deadlock, thread exhaustion, stack overflow). Prints "fatal error: <msg>" to
// stderr with async-signal-safe writes and aborts. Go: throw / fatal.
#ifndef GORT_RUNTIME_SRC_FATAL_H_
#define GORT_RUNTIME_SRC_FATAL_H_

#include <cstdint>

namespace gort::runtime::internal {

[[noreturn]] void Throw(const char* msg);
// Called first by every report that ends the process (Throw calls it too):
// the first thread to get here prints; any other blocks for good, so that
// two threads' reports never interleave.
void BeginFatal();
// Writes raw text to stderr without allocating (usable in a signal handler).
void WriteErr(const char* s);
void WriteErrNum(uint64_t n);
// "\ngoroutine N [running]:\n" for the fiber that is being reported.
void WriteGoroutineHeader(uint64_t goid, const char* state);
// "gort: random schedule seed N ..." in randomized-schedule builds, else nothing.
void WriteScheduleSeed();

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_FATAL_H_
