// Must NOT compile: a channel of a type whose move constructor may throw
// (bug: it used to compile, and a throwing move left the channel's lock held
// forever). The test compile_fail.chan_throwing_move builds this file and
// expects the compiler to stop with the static_assert's message.
#include "gort/chan.h"

struct ThrowingMove {
  ThrowingMove() = default;
  ThrowingMove(ThrowingMove&&) {}  // not noexcept
};

void UseIt() {
  gort::Chan<ThrowingMove> c(1);
  c.Send(ThrowingMove{});
}
