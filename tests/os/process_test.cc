// The os process layer: Process, ProcessState, and os::legacy (the pre-fix
// algorithm, kept to show the race). The fixture checks that nothing is left
// behind.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gort/os.h"
#include "gort/syscall.h"
#include "process_testing.h"

namespace gort {
namespace {

using syscall::ProcAttr;
using testing::kChild;
using testing::MigrateFrom;
using testing::YieldUntil;

class OsProcessTest : public testing::ProcessTest {};
GORT_INSTANTIATE_PROCS(OsProcessTest);

TEST_P(OsProcessTest, OsProcessWaitOnceSignalAfterWait) {
  RunFibers([] {
    auto p = os::StartProcess(kChild, {kChild, "exit", "3"}, {});
    ASSERT_TRUE(p.ok()) << p.status();
    os::Process copy = *p;  // copies share one process
    auto ps = p->Wait();
    ASSERT_TRUE(ps.ok()) << ps.status();
    EXPECT_EQ(ps->Pid(), p->Pid());
    EXPECT_TRUE(ps->Exited());
    EXPECT_EQ(ps->ExitCode(), 3);
    EXPECT_FALSE(ps->Success());
    EXPECT_EQ(ps->String(), "exit status 3");
    EXPECT_GE(ps->UserTime(), absl::ZeroDuration());
    EXPECT_EQ(copy.Wait().status().message(), "wait: process not found");
    EXPECT_EQ(copy.Signal(SIGTERM).message(), "os: process already finished");
    EXPECT_EQ(p->Kill().message(), "os: process already finished");
    EXPECT_TRUE(p->Release().ok());  // after done: nothing to do
  });
}

TEST_P(OsProcessTest, OsKillThenWait) {
  RunFibers([] {
    auto p = os::StartProcess(kChild, {kChild, "sleep", "60000"}, {});
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p->Kill().ok());
    auto ps = p->Wait();
    ASSERT_TRUE(ps.ok());
    EXPECT_FALSE(ps->Exited());
    EXPECT_EQ(ps->ExitCode(), -1);
    EXPECT_EQ(ps->String(), "signal: killed");
  });
}

TEST_P(OsProcessTest, OsReleaseThenWait) {
  RunFibers([] {
    auto p = os::StartProcess(kChild, {kChild, "sleep", "10"}, {});
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p->Release().ok());
    EXPECT_TRUE(p->Release().ok());  // idempotent
    EXPECT_EQ(p->Wait().status().message(), "os: process already released");
    EXPECT_EQ(p->Signal(SIGTERM).message(), "os: process already released");
    // The released child is still collected: no zombie, no map entry.
    YieldUntil([] { return syscall::PendingProcesses() == 0; });
  });
}

TEST_P(OsProcessTest, OsEmptyEnvInheritsTheParents) {
  setenv("GORT_TEST_MARK", "inherited", 1);
  RunFibers([] {
    int out[2];
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    auto p = os::StartProcess(kChild, {kChild, "env"}, os::ProcAttr{.files = {0, out[1], 2}});
    ASSERT_TRUE(p.ok());
    close(out[1]);
    std::string got = testing::ReadToEndAndClose(out[0]);
    ASSERT_TRUE(p->Wait().ok());
    EXPECT_NE(got.find("GORT_TEST_MARK=inherited\n"), std::string::npos);
  });
  unsetenv("GORT_TEST_MARK");
}

TEST_P(OsProcessTest, OsLegacyWorksWithoutMigrationAndFailsWithIt) {
  RunFibers([this] {
    // On one locked thread the pre-fix algorithm is right.
    runtime::LockOSThread();
    auto p = os::legacy::StartProcess(kChild, {kChild, "exit", "4"}, {});
    ASSERT_TRUE(p.ok());
    auto ps = os::legacy::Wait(*p);
    ASSERT_TRUE(ps.ok()) << ps.status();
    EXPECT_EQ(ps->ExitCode(), 4);
    runtime::UnlockOSThread();
    if (GetParam() < 2) return;
    // Migrated between start and wait, it is not.
    pid_t forked_on = runtime::ThreadID();
    auto q = os::legacy::StartProcess(kChild, {kChild, "exit", "5"}, {});
    ASSERT_TRUE(q.ok());
    MigrateFrom(forked_on);
    auto qs = os::legacy::Wait(*q);
    EXPECT_EQ(qs.status().message(), "wait: no child processes");
    int st;
    EXPECT_EQ(waitpid(q->Pid(), &st, 0), q->Pid());
  });
}

}  // namespace
}  // namespace gort
