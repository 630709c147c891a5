// Shared by the syscall and os process tests: the child binary, the fixture
// that checks nothing is left behind, and helpers that move a fiber between
// threads and describe what a child should inherit.
#ifndef GORT_TESTS_PROCESS_TESTING_H_
#define GORT_TESTS_PROCESS_TESTING_H_

#include <sys/types.h>

#include <string>

#include "testing.h"

namespace gort::testing {

// The static child that the process tests exec (tests/testchild.c).
inline const std::string kChild = GORT_TESTCHILD;

// Runs with procs = GetParam() and checks on tear-down that no wait-map
// entry, zombie, fork-time record, fiber, thread or descriptor is left.
class ProcessTest : public ProcsTest {
 protected:
  void TearDown() override;
};

// Whether $GORT_PROCESS_REAPERS puts this run of the suite in reaper mode
// (the reaper.* ctest variant): tests of the per-child waiters' own
// accounting skip then.
bool ReapersFromEnv();

// Moves the calling fiber to another OS thread than `tid` (needs procs >= 2).
void MigrateFrom(pid_t tid);

// Reads fd until EOF inside a system-call bracket, then closes it.
std::string ReadToEndAndClose(int fd);

// Descriptors a child inherits by design: 0-2 and any descriptor this
// process was given without FD_CLOEXEC (a test harness may pass some), one
// per line.
std::string ExpectedChildFds();

}  // namespace gort::testing

#endif  // GORT_TESTS_PROCESS_TESTING_H_
