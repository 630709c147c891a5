// Test support: a fixture that runs a body under runtime::Run at several
// procs values and fails on anything Run left behind (threads, descriptors,
// fibers), as marl's fixture does.
#ifndef GORT_TESTS_TESTING_H_
#define GORT_TESTS_TESTING_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <set>
#include <string>

#include "gort/runtime.h"

namespace gort::testing {

int CountThreads();  // entries in /proc/self/task
int CountFds();      // entries in /proc/self/fd
std::set<int> OpenFds();
int ZombieChildren();  // children of this process that are zombies now
// The state letter in /proc/PID/stat ('Z': zombie), or 0 if there is no such
// process.
char ProcState(pid_t pid);
// Thread count once settled: until it equals want (want >= 0) or stops
// changing (want < 0); joined threads linger in /proc for a moment.
int SettledThreadCount(int want);

// True under ASan or TSan, where some tests scale down.
bool UnderSanitizer();
bool UnderTsan();

// Yields until pred() holds. There is no time limit: ctest's timeout catches
// a hang, so no machine is "too slow" for a test.
void YieldUntil(const std::function<bool()>& pred);

class ProcsTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Runs body as the main fiber with procs = GetParam().
  void RunFibers(std::function<void()> body, runtime::Options opts = {});

 private:
  int threads_before_ = 0;
  std::set<int> fds_before_;
};

// For suites of death tests: each runs in a re-executed child
// ("threadsafe"), since the runtime's threads make a plain fork unsafe.
class ThreadsafeDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

#define GORT_INSTANTIATE_PROCS(suite)                                   \
  INSTANTIATE_TEST_SUITE_P(Procs, suite, ::testing::Values(1, 2, 4, 8), \
                           [](const auto& info) { return "procs" + std::to_string(info.param); })

}  // namespace gort::testing

#endif  // GORT_TESTS_TESTING_H_
