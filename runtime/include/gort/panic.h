// gort/panic.h: gort::Panic, what Go would panic with.
//
// gort has three error tiers that are never mixed. A broken internal
// invariant aborts the process with "fatal error: ..." (Go's throw). Misuse by
// the caller throws gort::Panic whose what() is Go's wording (for example
// "send on closed channel"). A failure of the operating system is returned as
// an absl::Status naming the operation. A Panic that escapes a fiber ends the
// program with "panic: <what()>" and "goroutine N [running]", as in Go.
#ifndef GORT_PANIC_H_
#define GORT_PANIC_H_

#include <stdexcept>
#include <string>

namespace gort {

class Panic : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace gort

#endif  // GORT_PANIC_H_
