// Reaper mode (Options::process_reapers = K): what differs from the
// per-child waiters. Every other process test also runs in this mode (the
// reaper.* ctest variant); these set the option themselves, so they skip in
// that variant rather than run twice.
//   - 10 000 children running at once hold K + procs + a few threads;
//   - a reaper outlives children killed by signals, exec failures, Release;
//   - Run returning with children running leaves them to the orphan reaper
//     and nothing of the reapers behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "gort/internal/runtime_support.h"
#include "gort/os.h"
#include "gort/sync.h"
#include "gort/syscall.h"
#include "process_testing.h"

namespace gort {
namespace {

using syscall::ProcAttr;
using syscall::Waitmsg;
using testing::kChild;

class ReaperTest : public testing::ProcessTest {
 protected:
  void SetUp() override {
    if (testing::ReapersFromEnv()) GTEST_SKIP() << "sets process_reapers itself";
    ProcessTest::SetUp();
  }
  void TearDown() override {
    if (!IsSkipped()) ProcessTest::TearDown();
  }
  void Run(std::function<void()> body, int reapers) {
    RunFibers(std::move(body), runtime::Options{.process_reapers = reapers});
  }
};
GORT_INSTANTIATE_PROCS(ReaperTest);

// Go's fix needs one thread per running child; reapers need K.
TEST_P(ReaperTest, TenThousandChildrenOnBoundedThreads) {
  if (GetParam() != 2) GTEST_SKIP() << "one procs value is enough for the slow one";
  constexpr int kReapers = 2;
  int n = testing::UnderSanitizer() ? 1000 : 10000;
  // Each running child costs its reaper a pidfd; leave room for the rest.
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  rlimit raised = lim;
  raised.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &raised);
  const int room = static_cast<int>(raised.rlim_cur) - 256;
  if (n > room) n = room;
  Run(
      [&] {
        int in[2];
        ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
        std::vector<syscall::Child> kids;
        kids.reserve(n);
        int most_threads = 0;
        for (int i = 0; i < n; i++) {
          auto c = syscall::StartChild(kChild, {kChild, "stdin"}, ProcAttr{.files = {in[0], 1, 2}});
          ASSERT_TRUE(c.ok()) << i << ": " << c.status();
          kids.push_back(*std::move(c));
          if (i % 256 == 0)
            most_threads = std::max(most_threads, runtime::internal::ThreadsInUse());
        }
        most_threads = std::max(most_threads, runtime::internal::ThreadsInUse());
        // procs Ms, K reapers' Ms, and the Ms that a P hand-off may briefly
        // need beside them (sysmon is the Run thread, not counted).
        EXPECT_LE(most_threads, GetParam() + kReapers + 4) << n << " children running";
        RecordProperty("children", n);
        RecordProperty("threads", most_threads);
        close(in[1]);  // EOF: every child exits
        close(in[0]);
        for (syscall::Child& c : kids) {
          Waitmsg w;
          ASSERT_TRUE(c.Wait(&w).ok());
          EXPECT_EQ(w.ExitStatus(), 0);
        }
      },
      kReapers);
  setrlimit(RLIMIT_NOFILE, &lim);
}

// A reaper serves one child after another whatever became of the last:
// killed, never started (exec failed), or released to a background wait.
TEST_P(ReaperTest, ReaperOutlivesKillsExecFailuresAndRelease) {
  Run(
      [] {
        const int threads = [] {
          auto p = syscall::StartProcess(kChild, {kChild}, {});  // starts the reaper
          EXPECT_TRUE(p.ok() && syscall::WaitProcess(*p, nullptr).ok());
          return runtime::internal::ThreadsInUse();
        }();
        for (int round = 0; round < 3; round++) {
          auto sleeper = syscall::StartChild(kChild, {kChild, "sleep", "60000"}, {});
          ASSERT_TRUE(sleeper.ok()) << sleeper.status();
          ASSERT_TRUE(sleeper->Signal(SIGKILL).ok());
          Waitmsg w;
          ASSERT_TRUE(sleeper->Wait(&w).ok());
          EXPECT_EQ(w.msg, "signal: killed");

          auto bad = syscall::StartProcess("/no/such/program", {"x"}, {});
          EXPECT_EQ(bad.status().message(),
                    "fork/exec /no/such/program: no such file or directory");

          auto released = os::StartProcess(kChild, {kChild, "sleep", "20"}, {});
          ASSERT_TRUE(released.ok());
          EXPECT_TRUE(released->Release().ok());

          auto exit7 = syscall::StartProcess(kChild, {kChild, "exit", "7"}, {});
          ASSERT_TRUE(exit7.ok());
          ASSERT_TRUE(syscall::WaitProcess(*exit7, &w).ok());
          EXPECT_EQ(w.ExitStatus(), 7);
        }
        // No thread per child came and stayed: procs Ms, the reaper's, and
        // hand-off slack.
        (void)threads;
        EXPECT_LE(runtime::internal::ThreadsInUse(), runtime::GOMAXPROCS(0) + 1 + 4);
        testing::YieldUntil([] { return syscall::PendingProcesses() == 0; });
      },
      1);
}

// Children forked by the reapers and still running when Run returns go to
// the orphan reaper; the reapers' threads go with the Run, and the next Run
// starts new reapers. (Not the fixture: the orphan reaper keeps a wake-up
// descriptor for the process's life.)
TEST(ReaperShutdown, RunReturnsWithChildrenRunning) {
  if (testing::ReapersFromEnv()) GTEST_SKIP() << "sets process_reapers itself";
  // Sanitizer runtimes start helper threads at the first thread creation
  // (TSan's background thread): let that happen before counting, as the
  // fixtures do.
  std::thread([] {}).join();
  const int threads_before = testing::SettledThreadCount(-1);
  pid_t left = 0;
  runtime::Run(
      [&] {
        auto p = syscall::StartProcess(kChild, {kChild, "sleep", "200"}, {});
        ASSERT_TRUE(p.ok());
        left = *p;
      },
      runtime::Options{.procs = 2, .process_reapers = 2});
  ASSERT_GT(left, 0);
  EXPECT_EQ(syscall::PendingProcesses(), 0);
  testing::YieldUntil([] { return syscall::OrphanedProcesses() == 0; });
  EXPECT_EQ(testing::ZombieChildren(), 0);
  runtime::Run(
      [] {
        auto p = syscall::StartProcess(kChild, {kChild, "exit", "3"}, {});
        ASSERT_TRUE(p.ok()) << p.status();
        Waitmsg w;
        ASSERT_TRUE(syscall::WaitProcess(*p, &w).ok());
        EXPECT_EQ(w.ExitStatus(), 3);
      },
      runtime::Options{.procs = 2, .process_reapers = 2});
  EXPECT_EQ(testing::SettledThreadCount(threads_before), threads_before);
}

// Many fibers starting at once: requests queue on the reapers and each
// gets its own child's status, once.
TEST_P(ReaperTest, ConcurrentStartsAcrossReapers) {
  Run(
      [] {
        constexpr int kFibers = 32;
        sync::WaitGroup wg;
        wg.Add(kFibers);
        std::atomic<int> good{0};
        for (int i = 0; i < kFibers; i++) {
          runtime::Go([&, i] {
            auto p = syscall::StartProcess(kChild, {kChild, "exit", std::to_string(i % 100)}, {});
            Waitmsg w;
            if (p.ok() && syscall::WaitProcess(*p, &w).ok() && w.ExitStatus() == i % 100) {
              good.fetch_add(1);
            }
            wg.Done();
          });
        }
        wg.Wait();
        EXPECT_EQ(good.load(), kFibers);
      },
      3);
}

// One reaper with many children between clone and exec at once (it does
// not sleep through each exec): every request still gets its own answer,
// successes, exec failures and failures in the child before the exec
// alike, and no status pipe, pidfd or zombie is left (the fixture checks).
TEST_P(ReaperTest, ManyExecsInFlightOnOneReaper) {
  Run(
      [] {
        constexpr int kFibers = 48;
        sync::WaitGroup wg;
        wg.Add(kFibers);
        std::atomic<int> good{0};
        std::vector<std::string> errors(kFibers);
        for (int i = 0; i < kFibers; i++) {
          runtime::Go([&, i] {
            switch (i % 3) {
              case 0: {
                auto p = syscall::StartProcess(kChild, {kChild, "exit", std::to_string(i)}, {});
                Waitmsg w;
                if (p.ok() && syscall::WaitProcess(*p, &w).ok() && w.ExitStatus() == i) {
                  good.fetch_add(1);
                } else {
                  errors[i] = p.ok() ? "wrong status" : p.status().ToString();
                }
                break;
              }
              case 1: {
                auto p = syscall::StartProcess("/no/such/program", {"x"}, {});
                if (p.status().message() ==
                    "fork/exec /no/such/program: no such file or directory") {
                  good.fetch_add(1);
                } else {
                  errors[i] = p.status().ToString();
                }
                break;
              }
              default: {
                auto p = syscall::StartProcess(kChild, {kChild}, ProcAttr{.dir = "/no/such/dir"});
                if (p.status().message() == "chdir /no/such/dir: no such file or directory") {
                  good.fetch_add(1);
                } else {
                  errors[i] = p.status().ToString();
                }
              }
            }
            wg.Done();
          });
        }
        wg.Wait();
        EXPECT_EQ(good.load(), kFibers);
        for (int i = 0; i < kFibers; i++) EXPECT_EQ(errors[i], "") << i;
        EXPECT_EQ(syscall::PendingProcesses(), 0);
      },
      1);
}

}  // namespace
}  // namespace gort
