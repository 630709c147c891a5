// The syscall process layer: ForkExec, Await with thread affinity, and Go's
// fix (StartProcess / WaitProcess), including the race it closes. Every test
// checks that nothing is left behind: fibers, threads, descriptors (the
// fixture), zombies and wait-map entries (here).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "forkexec.h"  // syscall's private header: the fork-time records
#include "gort/chan.h"
#include "gort/internal/runtime_support.h"
#include "gort/sync.h"
#include "gort/syscall.h"
#include "process_testing.h"

namespace gort {
namespace {

using runtime::Go;
using syscall::ProcAttr;
using syscall::Waitmsg;
using testing::ExpectedChildFds;
using testing::kChild;
using testing::MigrateFrom;
using testing::ProcessTest;
using testing::YieldUntil;

GORT_INSTANTIATE_PROCS(ProcessTest);

TEST_P(ProcessTest, ForkExecThenAwaitOnTheSameThread) {
  RunFibers([] {
    runtime::LockOSThread();
    for (int code : {0, 3, 255}) {
      auto pid = syscall::ForkExec(kChild, {kChild, "exit", std::to_string(code)}, {});
      ASSERT_TRUE(pid.ok()) << pid.status();
      Waitmsg w;
      ASSERT_TRUE(syscall::Await(&w).ok());
      EXPECT_EQ(w.pid, *pid);
      EXPECT_TRUE(w.Exited());
      EXPECT_EQ(w.ExitStatus(), code);
      EXPECT_EQ(w.msg, code == 0 ? "" : "exit status " + std::to_string(code));
      EXPECT_GT(w.real, absl::ZeroDuration());
    }
    // No children left on this thread.
    Waitmsg w;
    absl::Status s = syscall::Await(&w);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(s.message(), "wait: no child processes");
    runtime::UnlockOSThread();
  });
}

TEST_P(ProcessTest, ExecFailuresAreReportedAndLeaveNothingBehind) {
  char tmpl[] = "/tmp/gort-noexec-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  chmod(tmpl, 0644);
  std::string noexec = tmpl;
  RunFibers([&] {
    struct Case {
      std::string path;
      std::vector<std::string> argv;
      ProcAttr attr;
      absl::StatusCode code;
      std::string message;
    };
    std::string nul = std::string("/bin/tr") + '\0' + "ue";
    std::vector<Case> cases = {
        {"/no/such",
         {"/no/such"},
         {},
         absl::StatusCode::kNotFound,
         "fork/exec /no/such: no such file or directory"},
        {noexec,
         {noexec},
         {},
         absl::StatusCode::kPermissionDenied,
         "fork/exec " + noexec + ": permission denied"},
        {kChild,
         {kChild},
         ProcAttr{.dir = "/no/such/dir"},
         absl::StatusCode::kNotFound,
         "chdir /no/such/dir: no such file or directory"},
        {kChild,
         {kChild},
         ProcAttr{.dir = "/etc/passwd"},
         absl::StatusCode::kFailedPrecondition,
         "chdir /etc/passwd: not a directory"},
        {"", {""}, {}, absl::StatusCode::kNotFound, "fork/exec : no such file or directory"},
        {"/tmp",
         {"/tmp"},
         {},
         absl::StatusCode::kPermissionDenied,
         "fork/exec /tmp: permission denied"},
        {nul, {nul}, {}, absl::StatusCode::kInvalidArgument, ""},
        {kChild, {kChild, std::string("a\0b", 3)}, {}, absl::StatusCode::kInvalidArgument, ""},
        {kChild,
         {kChild},
         ProcAttr{.env = {std::string("A=\0", 3)}},
         absl::StatusCode::kInvalidArgument,
         ""},
        {kChild,
         {kChild},
         ProcAttr{.files = {0, 1, 999}},
         absl::ErrnoToStatusCode(EBADF),
         "fork/exec " + kChild + ": bad file descriptor"},
    };
    for (const Case& c : cases) {
      for (bool fixed : {false, true}) {
        absl::StatusOr<pid_t> r = fixed ? syscall::StartProcess(c.path, c.argv, c.attr)
                                        : syscall::ForkExec(c.path, c.argv, c.attr);
        ASSERT_FALSE(r.ok()) << c.path;
        if (c.message.empty()) {  // NUL bytes: "fork/exec <path with NUL>: invalid argument"
          EXPECT_EQ(r.status().code(), c.code) << r.status();
          EXPECT_TRUE(absl::EndsWith(r.status().message(), ": invalid argument")) << r.status();
        } else {
          EXPECT_EQ(r.status().code(), c.code) << r.status();
          EXPECT_EQ(r.status().message(), c.message);
        }
      }
    }
  });
  unlink(tmpl);
}

TEST_P(ProcessTest, StartProcessThenWaitProcess) {
  RunFibers([] {
    auto pid = syscall::StartProcess(kChild, {kChild, "exit", "7"}, {});
    ASSERT_TRUE(pid.ok()) << pid.status();
    Waitmsg w;
    ASSERT_TRUE(syscall::WaitProcess(*pid, &w).ok());
    EXPECT_EQ(w.pid, *pid);
    EXPECT_EQ(w.ExitStatus(), 7);
    EXPECT_EQ(w.msg, "exit status 7");
    // A second Wait: the entry is gone.
    absl::Status again = syscall::WaitProcess(*pid, &w);
    EXPECT_EQ(again.message(), "wait: process not found");
    // A pid never started here: at once, no blocking.
    EXPECT_EQ(syscall::WaitProcess(getpid(), nullptr).message(), "wait: process not found");
    EXPECT_EQ(syscall::WaitProcess(1 << 30, nullptr).message(), "wait: process not found");
  });
}

// Two concurrent waits on one pid: exactly one gets the message.
TEST_P(ProcessTest, ConcurrentWaitsDeliverExactlyOnce) {
  RunFibers([] {
    for (int round = 0; round < 20; round++) {
      auto pid = syscall::StartProcess(kChild, {kChild, "sleep", "5"}, {});
      ASSERT_TRUE(pid.ok());
      std::atomic<int> got{0}, not_found{0};
      sync::WaitGroup wg;
      wg.Add(2);
      for (int k = 0; k < 2; k++) {
        Go([&, pid = *pid] {
          Waitmsg w;
          absl::Status s = syscall::WaitProcess(pid, &w);
          if (s.ok() && w.pid == pid) got.fetch_add(1);
          if (s.message() == "wait: process not found") not_found.fetch_add(1);
          wg.Done();
        });
      }
      wg.Wait();
      EXPECT_EQ(got.load(), 1);
      EXPECT_EQ(not_found.load(), 1);
    }
  });
}

TEST_P(ProcessTest, KillThenWait) {
  RunFibers([] {
    auto pid = syscall::StartProcess(kChild, {kChild, "sleep", "60000"}, {});
    ASSERT_TRUE(pid.ok());
    ASSERT_TRUE(syscall::Kill(*pid, SIGKILL).ok());
    Waitmsg w;
    ASSERT_TRUE(syscall::WaitProcess(*pid, &w).ok());
    EXPECT_TRUE(w.Signaled());
    EXPECT_EQ(w.Signal(), SIGKILL);
    EXPECT_EQ(w.msg, "signal: killed");
    EXPECT_EQ(syscall::Kill(*pid, 0).code(), absl::StatusCode::kNotFound);  // ESRCH: reaped
  });
}

// Issue 9: ForkExec records each child's fork time for Await's
// Waitmsg::real, and only Await forgot it. A child reaped by anything else
// (here waitpid, as legacy code that migrated cleans up; equally a host's
// waitpid(-1)) left its record behind for ever: N such children, N records,
// and a stale time waiting for the pid's next owner. Now a record goes once
// its pid is no longer our child: the registry stays bounded while forking
// goes on, with no query to prune it, and none is left once the children
// are gone.
TEST_P(ProcessTest, ForkTimesOfChildrenReapedElsewhereAreNotLeftBehind) {
  RunFibers([] {
    ASSERT_EQ(syscall::internal::ForkTimesPending(), 0);
    constexpr int kN = 4 * static_cast<int>(syscall::internal::kForkTimesPruneMin);
    int peak = 0;
    for (int i = 0; i < kN; i++) {
      auto pid = syscall::ForkExec(kChild, {kChild, "exit", "0"}, {});
      ASSERT_TRUE(pid.ok()) << pid.status();
      int st;
      ASSERT_EQ(waitpid(*pid, &st, 0), *pid);  // reaped, but not by Await
      peak = std::max(peak, syscall::internal::ForkTimesRecorded());
    }
    EXPECT_LE(peak, static_cast<int>(syscall::internal::kForkTimesPruneMin));
    EXPECT_EQ(syscall::internal::ForkTimesPending(), 0);

    // Await still reports the real time from the record, and forgets it.
    runtime::LockOSThread();
    auto pid = syscall::ForkExec(kChild, {kChild, "exit", "0"}, {});
    ASSERT_TRUE(pid.ok()) << pid.status();
    EXPECT_EQ(syscall::internal::ForkTimesPending(), 1);  // alive or a zombie: kept
    Waitmsg w;
    ASSERT_TRUE(syscall::Await(&w).ok());
    runtime::UnlockOSThread();
    EXPECT_EQ(w.pid, *pid);
    EXPECT_GT(w.real, absl::ZeroDuration());
    EXPECT_EQ(syscall::internal::ForkTimesRecorded(), 0);
  });
}

// The race, shown with the pre-fix algorithm: fork on thread A, get resumed
// on thread B, wait there: B has no children.
TEST_P(ProcessTest, LegacyForkThenMigrateThenAwaitFails) {
  if (GetParam() < 2) GTEST_SKIP() << "migration needs a second P";
  RunFibers([] {
    for (int i = 0; i < 20; i++) {
      pid_t forked_on = runtime::ThreadID();
      auto pid = syscall::ForkExec(kChild, {kChild, "exit", "1"}, {});
      ASSERT_TRUE(pid.ok());
      MigrateFrom(forked_on);
      Waitmsg w;
      absl::Status s = syscall::Await(&w);
      EXPECT_EQ(s.message(), "wait: no child processes")
          << "thread " << runtime::ThreadID() << " reaped pid " << w.pid;
      // Clean up the way only a thread-agnostic wait can.
      int st;
      EXPECT_EQ(waitpid(*pid, &st, 0), *pid);
    }
  });
}

// The same interleaving with the fix: always the right status.
TEST_P(ProcessTest, FixSurvivesMigrationBetweenStartAndWait) {
  RunFibers([this] {
    const int n = GetParam() >= 2 ? 100 : 20;
    for (int i = 0; i < n; i++) {
      pid_t started_on = runtime::ThreadID();
      auto pid = syscall::StartProcess(kChild, {kChild, "exit", std::to_string(i % 256)}, {});
      ASSERT_TRUE(pid.ok());
      if (GetParam() >= 2) MigrateFrom(started_on);
      Waitmsg w;
      ASSERT_TRUE(syscall::WaitProcess(*pid, &w).ok());
      ASSERT_EQ(w.pid, *pid);
      ASSERT_EQ(w.ExitStatus(), i % 256);
    }
  });
}

// Many fibers, each a child with a distinct exit code, waiting concurrently
// while they wander between threads: nothing lost, nothing duplicated.
TEST_P(ProcessTest, ConcurrentChildrenDistinctExitCodes) {
  RunFibers([] {
    const int n = testing::UnderSanitizer() ? 100 : 300;
    std::vector<std::atomic<int>> seen(256);
    std::atomic<int> errors{0};
    sync::WaitGroup wg;
    wg.Add(n);
    for (int i = 0; i < n; i++) {
      Go([&, i] {
        auto pid = syscall::StartProcess(kChild, {kChild, "exit", std::to_string(i % 256)}, {});
        if (!pid.ok()) {
          errors.fetch_add(1);
          wg.Done();
          return;
        }
        runtime::Gosched();
        {
          runtime::BlockingSyscall bs;
          usleep(100);
        }
        Waitmsg w;
        absl::Status s = syscall::WaitProcess(*pid, &w);
        if (!s.ok() || w.pid != *pid || w.ExitStatus() != i % 256) errors.fetch_add(1);
        seen[i % 256].fetch_add(1);
        wg.Done();
      });
    }
    wg.Wait();
    EXPECT_EQ(errors.load(), 0);
    int total = 0;
    for (auto& s : seen) total += s.load();
    EXPECT_EQ(total, n);
  });
}

// PDEATHSIG fires when the forking *thread* exits. Pre-fix: the thread that
// forked may end (here: a locked fiber exits and takes it along) and the
// child dies with it. Fix: the waiter thread lives until the child is reaped.
TEST_P(ProcessTest, PdeathsigFollowsTheForkingThread) {
  RunFibers([] {
    ProcAttr attr;
    attr.sys.pdeathsig = SIGKILL;
    Chan<pid_t> legacy_pid(1);
    Go([&] {
      runtime::LockOSThread();
      auto pid = syscall::ForkExec(kChild, {kChild, "ppid-wait", "60000"}, attr);
      legacy_pid.Send(pid.ok() ? *pid : -1);
      // Exit while locked: this thread ends, and with it the child.
    });
    pid_t lp = *legacy_pid.Recv();
    ASSERT_GT(lp, 0);
    int st = 0;
    {
      runtime::BlockingSyscall bs;
      ASSERT_EQ(waitpid(lp, &st, 0), lp);
    }
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "legacy child status " << st;

    Chan<pid_t> fixed_pid(1);
    Go([&] {
      auto pid = syscall::StartProcess(kChild, {kChild, "ppid-wait", "50"}, attr);
      fixed_pid.Send(pid.ok() ? *pid : -1);
      // This fiber ends; the child's waiter (and its thread) do not.
    });
    pid_t fp = *fixed_pid.Recv();
    ASSERT_GT(fp, 0);
    Waitmsg w;
    ASSERT_TRUE(syscall::WaitProcess(fp, &w).ok());
    EXPECT_TRUE(w.Exited()) << w.msg;
    EXPECT_EQ(w.ExitStatus(), 0);
  });
}

// Reads a child's stdout to EOF and waits for it.
std::string OutputOf(const ProcAttr& base, const std::vector<std::string>& argv) {
  int out[2];
  EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
  ProcAttr attr = base;
  attr.files = {0, out[1], 2};
  auto pid = syscall::StartProcess(kChild, argv, attr);
  close(out[1]);
  std::string got = testing::ReadToEndAndClose(out[0]);
  EXPECT_TRUE(pid.ok()) << pid.status();
  if (pid.ok()) EXPECT_TRUE(syscall::WaitProcess(*pid, nullptr).ok());
  return got;
}

TEST_P(ProcessTest, FilesMappingAndNoDescriptorLeaks) {
  RunFibers([] {
    // A descriptor of ours that must not leak (it is CLOEXEC like all of ours).
    int extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
    std::string expected = ExpectedChildFds();
    // OutputOf maps the child's stdout to a pipe: files {0, pipe, 2}.
    EXPECT_EQ(OutputOf({}, {kChild, "fds"}), expected);
    close(extra);
  });
}

TEST_P(ProcessTest, FilesPermutationAndClosing) {
  RunFibers([] {
    int out[2];
    ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
    // stdout -> our pipe at fd 2, stderr <- our pipe too, fd 1 closed.
    auto pid = syscall::StartProcess(kChild, {kChild, "fds"}, ProcAttr{.files = {0, -1, out[1]}});
    ASSERT_TRUE(pid.ok());
    close(out[1]);
    Waitmsg w;
    ASSERT_TRUE(syscall::WaitProcess(*pid, &w).ok());
    close(out[0]);
    EXPECT_EQ(w.ExitStatus(), 0);
  });
}

TEST_P(ProcessTest, DirAndEnv) {
  RunFibers([] {
    EXPECT_EQ(OutputOf(ProcAttr{.dir = "/tmp", .env = {"A=1"}}, {kChild, "pwd"}), "/tmp\n");
    EXPECT_EQ(OutputOf(ProcAttr{.env = {"A=1", "B=two"}}, {kChild, "env"}), "A=1\nB=two\n");
  });
}

TEST_P(ProcessTest, SetsidAndSetpgid) {
  RunFibers([] {
    int pid = 0, pgid = 0, sid = 0;
    ProcAttr a;
    a.sys.setsid = true;
    ASSERT_EQ(sscanf(OutputOf(a, {kChild, "ids"}).c_str(), "%d %d %d", &pid, &pgid, &sid), 3);
    EXPECT_EQ(sid, pid);  // a new session led by the child
    EXPECT_EQ(pgid, pid);
    ProcAttr b;
    b.sys.setpgid = true;  // pgid 0: a new group led by the child
    ASSERT_EQ(sscanf(OutputOf(b, {kChild, "ids"}).c_str(), "%d %d %d", &pid, &pgid, &sid), 3);
    EXPECT_EQ(pgid, pid);
    EXPECT_EQ(sid, getsid(0));  // same session as ours
    ProcAttr c;
    ASSERT_EQ(sscanf(OutputOf(c, {kChild, "ids"}).c_str(), "%d %d %d", &pid, &pgid, &sid), 3);
    EXPECT_EQ(pgid, getpgid(0));  // inherited
  });
}

// 1000 children running at once, each with its waiter thread.
TEST(ProcessApi, ThousandChildrenAtOnce) {
  const int n = testing::UnderSanitizer() ? 200 : 1000;
  runtime::Run([n] {
    int in[2];
    ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
    std::vector<pid_t> pids;
    for (int i = 0; i < n; i++) {
      auto pid = syscall::StartProcess(kChild, {kChild, "stdin"}, ProcAttr{.files = {in[0], 1, 2}});
      ASSERT_TRUE(pid.ok()) << pid.status();
      pids.push_back(*pid);
    }
    EXPECT_EQ(syscall::PendingProcesses(), n);
    close(in[1]);  // EOF: every child exits
    close(in[0]);
    for (pid_t p : pids) {
      Waitmsg w;
      ASSERT_TRUE(syscall::WaitProcess(p, &w).ok());
      EXPECT_EQ(w.ExitStatus(), 0);
    }
  });
  EXPECT_EQ(syscall::PendingProcesses(), 0);
  EXPECT_EQ(testing::ZombieChildren(), 0);
}

TEST(ProcessApi, ThreadLimitIsResourceExhausted) {
  if (testing::ReapersFromEnv()) GTEST_SKIP() << "per-child waiters only";
  runtime::Run(
      [] {
        int in[2];
        ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
        std::vector<pid_t> pids;
        absl::Status refused;
        for (int i = 0; i < 50; i++) {
          auto pid =
              syscall::StartProcess(kChild, {kChild, "stdin"}, ProcAttr{.files = {in[0], 1, 2}});
          if (!pid.ok()) {
            refused = pid.status();
            break;
          }
          pids.push_back(*pid);
        }
        EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
        close(in[1]);
        close(in[0]);
        for (pid_t p : pids) EXPECT_TRUE(syscall::WaitProcess(p, nullptr).ok());
      },
      runtime::Options{.procs = 2, .max_threads = 16});
}

// With reapers no child holds a thread: fifty run at once under the same
// thread limit, on procs + K + the runtime's two threads.
TEST(ProcessApi, ReapersRunPastTheThreadLimit) {
  runtime::Run(
      [] {
        int in[2];
        ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
        std::vector<pid_t> pids;
        for (int i = 0; i < 50; i++) {
          auto pid =
              syscall::StartProcess(kChild, {kChild, "stdin"}, ProcAttr{.files = {in[0], 1, 2}});
          ASSERT_TRUE(pid.ok()) << pid.status();
          pids.push_back(*pid);
        }
        EXPECT_LE(runtime::internal::ThreadsInUse(), 16);
        close(in[1]);
        close(in[0]);
        for (pid_t p : pids) EXPECT_TRUE(syscall::WaitProcess(p, nullptr).ok());
      },
      runtime::Options{.procs = 2, .max_threads = 16, .process_reapers = 2});
}

TEST(ProcessApi, StatusDescriptions) {
  EXPECT_EQ(syscall::DescribeStatus(0, true), "");
  EXPECT_EQ(syscall::DescribeStatus(0, false), "exit status 0");
  EXPECT_EQ(syscall::DescribeStatus(3 << 8, true), "exit status 3");
  EXPECT_EQ(syscall::DescribeStatus(SIGKILL, true), "signal: killed");
  EXPECT_EQ(syscall::DescribeStatus(SIGSEGV | 0x80, true),
            "signal: segmentation fault (core dumped)");
  EXPECT_EQ(syscall::SignalName(SIGTERM), "terminated");
  EXPECT_EQ(syscall::SignalName(SIGINT), "interrupt");
}

}  // namespace
}  // namespace gort
