// The C API's panic boundary, from C++ (C cannot throw): an exception that
// escapes a function given to gort_go is reported as Go reports a panic and
// aborts; what Go panics on inside a gort_ call comes back as an error code,
// never as an exception through the caller's (C) frames.
#include "gort/c.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "testing.h"

namespace {

using CApiPanicDeathTest = gort::testing::ThreadsafeDeathTest;

extern "C" void Throws(void*) { throw std::runtime_error("boom from a C API fiber"); }

extern "C" void MainThatStartsAThrower(void*) {
  gort_go(Throws, nullptr);
  gort_sleep_ns(10LL * 1000 * 1000 * 1000);
}

TEST_F(CApiPanicDeathTest, ExceptionEscapingAFiberIsAPanic) {
  EXPECT_DEATH(gort_run(MainThatStartsAThrower, nullptr, nullptr),
               "panic: boom from a C API fiber\n\ngoroutine [0-9]+ \\[running\\]:");
}

TEST_F(CApiPanicDeathTest, ExceptionEscapingAFiberOfAStartedRuntimeIsAPanic) {
  EXPECT_DEATH(
      {
        gort_start(nullptr);
        gort_go(Throws, nullptr);
        gort_sleep_ns(10LL * 1000 * 1000 * 1000);
      },
      "panic: boom from a C API fiber");
}

struct Result {
  int close_twice = 0;
  int unlock = 0;
  int select_send_closed = 0;
  std::string message;
};

extern "C" void Misuse(void* p) {
  auto* r = static_cast<Result*>(p);
  gort_chan* c = gort_chan_new(0);
  gort_chan_close(c);
  r->close_twice = gort_chan_close(c);
  gort_mutex* m = gort_mutex_new();
  r->unlock = gort_mutex_unlock(m);
  gort_case cs[1] = {{c, 1, nullptr, nullptr, 0}};
  r->select_send_closed = gort_select(cs, 1, 0);
  r->message = gort_last_error();
  gort_mutex_release(m);
  gort_chan_release(c);
}

TEST(CApiPanicTest, MisuseInAFiberIsAnErrorNotAnException) {
  Result r;
  ASSERT_EQ(gort_run(Misuse, &r, nullptr), 0);
  EXPECT_EQ(r.close_twice, -EPIPE);
  EXPECT_EQ(r.unlock, -EPERM);
  EXPECT_EQ(r.select_send_closed, -EPIPE);
  EXPECT_EQ(r.message, "send on closed channel");
}

}  // namespace
