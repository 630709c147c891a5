// The process layer against what really happens to an embedded runtime: Run
// returning while children run, other code's children on the same threads,
// recycled pids, and hosts that ignore, handle or steal SIGCHLD. Each test
// checks that no status is lost or misdelivered and nothing is left behind
// (zombies, wait-map entries, orphans still pending).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gort/chan.h"
#include "gort/os.h"
#include "gort/sync.h"
#include "gort/syscall.h"
#include "process_testing.h"

namespace gort {
namespace {

using syscall::ProcAttr;
using syscall::Waitmsg;

using testing::kChild;

// Waits (sleeping the plain thread) until pred holds; ctest's timeout
// catches a hang. Not a timing assertion: there is no deadline.
template <class Pred>
void SleepUntil(Pred pred) {
  while (!pred()) absl::SleepFor(absl::Milliseconds(2));
}

// A pipe whose read end children get as stdin: they run ("testchild
// stdin") until the write end closes. Deterministic "still running".
struct Gate {
  int fds[2] = {-1, -1};
  Gate() { EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0); }
  ~Gate() {
    Open();
    if (fds[0] >= 0) close(fds[0]);
  }
  ProcAttr Attr() const { return ProcAttr{.files = {fds[0], 1, 2}}; }
  void Open() {
    if (fds[1] >= 0) close(fds[1]);
    fds[1] = -1;
  }
};

// Bug 1 (process half). Run returns while children it started run: the
// child that nobody waits for, one Released just before returning, one whose
// Child handle outlives Run, and a fiber inside a system-call bracket. Run
// returns without waiting for the children; they keep running; once they
// exit they are reaped in the background (no zombie); the handle learns what
// happened; a later Run starts and waits for children normally.
TEST(ProcessShutdown, RunReturnsWhileChildrenRun) {
  Gate gate;
  std::vector<pid_t> pids;
  syscall::Child kept;
  EXPECT_EQ(runtime::Run(
                [&] {
                  auto a = syscall::StartProcess(kChild, {kChild, "stdin"}, gate.Attr());
                  ASSERT_TRUE(a.ok()) << a.status();
                  pids.push_back(*a);
                  auto b = os::StartProcess(kChild, {kChild, "stdin"},
                                            os::ProcAttr{.files = {gate.fds[0], 1, 2}});
                  ASSERT_TRUE(b.ok()) << b.status();
                  pids.push_back(b->Pid());
                  ASSERT_TRUE(b->Release().ok());
                  auto c = syscall::StartChild(kChild, {kChild, "stdin"}, gate.Attr());
                  ASSERT_TRUE(c.ok()) << c.status();
                  pids.push_back(c->Pid());
                  kept = *c;
                  // A fiber inside a bracket when the main fiber returns: it
                  // is waited for, then unwound (no std::terminate).
                  runtime::Go([] {
                    runtime::BlockingSyscall bs;
                    absl::SleepFor(absl::Milliseconds(50));
                  });
                  runtime::Gosched();
                },
                runtime::Options{.procs = 2}),
            0);
  // Run has returned; the children are still running (they wait on the gate).
  for (pid_t p : pids) {
    char st = testing::ProcState(p);
    EXPECT_TRUE(st != 0 && st != 'Z') << "child " << p << " state '" << st << "'";
  }
  EXPECT_EQ(syscall::PendingProcesses(), 0);
  EXPECT_EQ(syscall::OrphanedProcesses(), 3);
  Waitmsg w;
  absl::Status s = kept.Wait(&w);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "left running")) << s;
  EXPECT_EQ(kept.Wait(&w).code(), absl::StatusCode::kNotFound);

  gate.Open();  // the children exit; the orphan reaper collects them
  SleepUntil([] { return syscall::OrphanedProcesses() == 0; });
  for (pid_t p : pids) EXPECT_EQ(testing::ProcState(p), 0) << "child " << p << " not reaped";
  EXPECT_EQ(testing::ZombieChildren(), 0);

  // A later Run works as usual.
  EXPECT_EQ(runtime::Run([] {
              auto p = syscall::StartProcess(kChild, {kChild, "exit", "4"}, {});
              ASSERT_TRUE(p.ok()) << p.status();
              Waitmsg w;
              ASSERT_TRUE(syscall::WaitProcess(*p, &w).ok());
              EXPECT_EQ(w.ExitStatus(), 4);
            }),
            0);
  EXPECT_EQ(syscall::PendingProcesses(), 0);
}

// A child that exits after Run returned and long after the orphan reaper
// last had work is still collected: the reaper starts again on demand.
TEST(ProcessShutdown, OrphansOfSeveralRunsAreAllReaped) {
  for (int round = 0; round < 3; round++) {
    Gate gate;
    pid_t pid = 0;
    runtime::Run([&] {
      auto p = syscall::StartProcess(kChild, {kChild, "stdin"}, gate.Attr());
      ASSERT_TRUE(p.ok()) << p.status();
      pid = *p;
    });
    EXPECT_EQ(syscall::OrphanedProcesses(), 1);
    gate.Open();
    SleepUntil([] { return syscall::OrphanedProcesses() == 0; });
    EXPECT_EQ(testing::ProcState(pid), 0);
  }
}

// Bug 14. Other code (a VM's popen) forks a child on an OS thread that a
// gort waiter later runs on. The waiter must wait for its own child only:
// the other child's status stays for the other code's waitpid. With one P the
// waiter fiber runs on the thread the main fiber just forked from.
TEST(ProcessShutdown, OtherCodesChildrenAreNotTaken) {
  runtime::Run(
      [] {
        for (int i = 0; i < 20; i++) {
          pid_t other = fork();
          ASSERT_GE(other, 0);
          if (other == 0) _exit(7);
          auto p = syscall::StartProcess(kChild, {kChild, "exit", "3"}, {});
          ASSERT_TRUE(p.ok()) << p.status();
          Waitmsg w;
          ASSERT_TRUE(syscall::WaitProcess(*p, &w).ok());
          EXPECT_EQ(w.ExitStatus(), 3);
          int st = 0;
          pid_t r;
          {
            runtime::BlockingSyscall bs;
            r = waitpid(other, &st, 0);
          }
          ASSERT_EQ(r, other) << "the other code's child was taken: " << std::strerror(errno);
          EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 7);
        }
      },
      runtime::Options{.procs = 1});
}

// Bad input to WaitProcess and Kill: a clear error, nothing signalled.
TEST(ProcessBadInput, WaitAndKillOfPidsNotOurs) {
  runtime::Run([] {
    for (pid_t pid : {0, -1, -12345, 1, getpid()}) {
      absl::Status s = syscall::WaitProcess(pid, nullptr);
      EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << pid;
      EXPECT_EQ(s.message(), "wait: process not found");
    }
    syscall::Child none;
    EXPECT_EQ(none.Wait(nullptr).code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(none.Signal(SIGKILL).code(), absl::StatusCode::kNotFound);
  });
}

// The rest of the bad-input list, through both the fixed and the legacy
// paths: each is refused with Go's words and leaves no child, fd or entry.
TEST(ProcessBadInput, StartRefusesWithGoLikeErrors) {
  std::set<int> fds_before = testing::OpenFds();
  runtime::Run([] {
    struct Case {
      std::string what;
      std::string path;
      std::vector<std::string> argv;
      ProcAttr attr;
      std::string message;  // exact
    };
    std::string huge(256 * 1024, 'x');  // one argument beyond MAX_ARG_STRLEN
    std::vector<std::string> many(40000, std::string(100, 'y'));  // 4 MB: beyond ARG_MAX
    many.insert(many.begin(), kChild);
    std::vector<Case> cases = {
        {"empty argv",
         kChild,
         {},
         {},
         "fork/exec " + kChild + ": argv is empty (argv[0], the program's name, is required)"},
        {"NUL in dir",
         kChild,
         {kChild},
         ProcAttr{.dir = std::string("/tm\0p", 5)},
         "chdir " + std::string("/tm\0p", 5) + ": invalid argument"},
        {"huge fd",
         kChild,
         {kChild},
         ProcAttr{.files = {0, 1, 1 << 30}},
         "fork/exec " + kChild + ": bad file descriptor"},
        {"setpgid to a group that does not exist",
         kChild,
         {kChild},
         ProcAttr{.sys = {.setpgid = true, .pgid = 0x3ffffff0}},
         "fork/exec " + kChild + ": setpgid(0, 1073741808): operation not permitted"},
        {"setpgid to a negative group",
         kChild,
         {kChild},
         ProcAttr{.sys = {.setpgid = true, .pgid = -5}},
         "fork/exec " + kChild + ": setpgid(0, -5): invalid argument"},
        {"pdeathsig out of range",
         kChild,
         {kChild},
         ProcAttr{.sys = {.pdeathsig = 999}},
         "fork/exec " + kChild + ": prctl(PR_SET_PDEATHSIG, 999): invalid argument"},
        {"argument beyond MAX_ARG_STRLEN",
         kChild,
         {kChild, huge},
         {},
         "fork/exec " + kChild + ": argument list too long"},
        {"argv beyond ARG_MAX",
         kChild,
         many,
         {},
         "fork/exec " + kChild + ": argument list too long"},
    };
    for (const Case& c : cases) {
      for (bool fixed : {false, true}) {
        absl::StatusOr<pid_t> r = fixed ? syscall::StartProcess(c.path, c.argv, c.attr)
                                        : syscall::ForkExec(c.path, c.argv, c.attr);
        ASSERT_FALSE(r.ok()) << c.what << (fixed ? " (StartProcess)" : " (ForkExec)");
        EXPECT_EQ(r.status().message(), c.message) << c.what;
      }
    }
  });
  EXPECT_EQ(syscall::PendingProcesses(), 0);
  EXPECT_EQ(testing::OpenFds(), fds_before);
}

// Duplicate and cyclic descriptor maps are valid (Go's forkExec shuffles
// them): the child sees what was asked for.
TEST(ProcessBadInput, DuplicateAndCyclicFilesWork) {
  runtime::Run([] {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    // child: 0 <- /dev/null, 1 <- pipe, 2 <- pipe (a duplicate), 3 <- pipe.
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    auto pid = syscall::StartProcess(kChild, {kChild, "fds"},
                                     ProcAttr{.files = {devnull, p[1], p[1], p[1]}});
    ASSERT_TRUE(pid.ok()) << pid.status();
    close(p[1]);
    close(devnull);
    std::string out;
    char buf[256];
    ssize_t n;
    {
      runtime::BlockingSyscall bs;
      while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, n);
    }
    close(p[0]);
    ASSERT_TRUE(syscall::WaitProcess(*pid, nullptr).ok());
    EXPECT_TRUE(absl::StartsWith(out, "0\n1\n2\n3\n")) << out;
  });
}

// Many fibers starting children at once with the thread budget nearly
// spent: each StartProcess that does not fit is refused with
// ResourceExhausted; the process never dies of thread exhaustion (a probe
// with max_threads = 12 used to). Every child that started is waited for.
TEST(ProcessLimits, ConcurrentSpawnsNearTheThreadLimit) {
  for (int procs : {1, 2, 4}) {
    std::atomic<int> ok{0}, refused{0};
    runtime::Run(
        [&] {
          const int spawners = 16, each = testing::UnderSanitizer() ? 5 : 20;
          sync::WaitGroup wg;
          wg.Add(spawners);
          for (int f = 0; f < spawners; f++) {
            runtime::Go([&, f] {
              for (int i = 0; i < each; i++) {
                auto c =
                    syscall::StartChild(kChild, {kChild, "sleep", std::to_string((f + i) % 3)}, {});
                if (!c.ok()) {
                  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted) << c.status();
                  refused.fetch_add(1);
                  runtime::Gosched();
                  continue;
                }
                Waitmsg w;
                EXPECT_TRUE(c->Wait(&w).ok());
                EXPECT_EQ(w.ExitStatus(), 0);
                ok.fetch_add(1);
              }
              wg.Done();
            });
          }
          wg.Wait();
        },
        runtime::Options{.procs = procs, .max_threads = 12});
    EXPECT_GT(ok.load(), 0) << "procs " << procs;
    EXPECT_EQ(syscall::PendingProcesses(), 0);
  }
}

// --- Hostile hosts ------------------------------------------------------------
// Each runs in a death-test child (the signal disposition is process-wide)
// and exits 0 only if every check held.

class HostileHost : public testing::ThreadsafeDeathTest {};

#define HOST_CHECK(cond)                                                 \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "check failed at line %d: %s\n", __LINE__, #cond); \
      _exit(1);                                                          \
    }                                                                    \
  } while (0)

// Children started, waited for; returns what each Wait said. The child
// exits with 5.
std::vector<absl::Status> StartAndWaitSome(int n) {
  std::vector<absl::Status> out;
  runtime::Run([&] {
    std::vector<pid_t> pids;
    for (int i = 0; i < n; i++) {
      auto p = syscall::StartProcess(kChild, {kChild, "exit", "5"}, {});
      if (!p.ok()) {
        out.push_back(p.status());
        continue;
      }
      pids.push_back(*p);
    }
    for (pid_t p : pids) {
      Waitmsg w;
      absl::Status s = syscall::WaitProcess(p, &w);
      // A status that is delivered is the right one.
      if (s.ok() && w.ExitStatus() != 5) s = absl::InternalError("wrong status " + w.msg);
      out.push_back(s);
    }
  });
  return out;
}

void ExpectTaken(const std::vector<absl::Status>& st, const char* words, bool all) {
  int taken = 0;
  for (const absl::Status& s : st) {
    if (s.ok()) continue;
    if (s.code() != absl::StatusCode::kFailedPrecondition ||
        !absl::StrContains(s.message(), words)) {
      fprintf(stderr, "unexpected: %s\n", s.ToString().c_str());
      _exit(1);
    }
    taken++;
  }
  HOST_CHECK(!all || taken == static_cast<int>(st.size()));
  HOST_CHECK(syscall::PendingProcesses() == 0);
}

TEST_F(HostileHost, SigchldIgnored) {
  EXPECT_EXIT(
      {
        signal(SIGCHLD, SIG_IGN);
        ExpectTaken(StartAndWaitSome(8), "discarded by the kernel: SIGCHLD is set to SIG_IGN",
                    true);
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(HostileHost, SaNocldwait) {
  EXPECT_EXIT(
      {
        struct sigaction sa = {};
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = SA_NOCLDWAIT;
        sigaction(SIGCHLD, &sa, nullptr);
        ExpectTaken(StartAndWaitSome(8), "SA_NOCLDWAIT", true);
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

std::atomic<int> sigchld_seen{0};

// A handler that only counts: everything works as usual (EINTR is retried).
TEST_F(HostileHost, SigchldHandlerThatDoesNotReap) {
  EXPECT_EXIT(
      {
        struct sigaction sa = {};
        sa.sa_handler = [](int) { sigchld_seen.fetch_add(1); };
        sigaction(SIGCHLD, &sa, nullptr);  // no SA_RESTART: system calls see EINTR
        for (const absl::Status& s : StartAndWaitSome(16)) HOST_CHECK(s.ok());
        HOST_CHECK(sigchld_seen.load() > 0);
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// A handler that reaps every child (waitpid(-1, WNOHANG) loop): Waits get
// either the right status or a clear "reaped by other code" error.
TEST_F(HostileHost, SigchldHandlerThatReaps) {
  EXPECT_EXIT(
      {
        struct sigaction sa = {};
        sa.sa_handler = [](int) {
          int saved = errno;
          while (waitpid(-1, nullptr, WNOHANG) > 0) {
          }
          errno = saved;
        };
        sa.sa_flags = SA_RESTART;
        sigaction(SIGCHLD, &sa, nullptr);
        ExpectTaken(StartAndWaitSome(16), "reaped by other code in this process", false);
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// A host thread of its own loops on waitpid(-1): the same.
TEST_F(HostileHost, HostThreadWaitsForAnyChild) {
  EXPECT_EXIT(
      {
        std::atomic<bool> stop{false};
        std::atomic<int> stolen{0};
        std::thread host([&] {
          while (!stop.load()) {
            if (waitpid(-1, nullptr, WNOHANG) > 0)
              stolen.fetch_add(1);
            else
              usleep(100);
          }
        });
        ExpectTaken(StartAndWaitSome(16), "reaped by other code in this process", false);
        stop = true;
        host.join();
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// Bug 10. A parent with descriptors 0-2 closed: the runtime's own
// descriptors (the shutdown eventfd, the status pipe) land on 0-2, and the
// status pipe used to be moved out of the child's way only when it sat
// below nfds, so an exec failure was lost and StartProcess reported
// success. Every failure in the child must reach the parent.
TEST_F(HostileHost, ParentWithStdioClosed) {
  EXPECT_EXIT(
      {
        close(0);
        close(1);
        close(2);
        // /dev/null for the children's stdio, kept above 2 so that the
        // runtime's own descriptors take 0-2.
        int null0 = open("/dev/null", O_RDWR | O_CLOEXEC);
        int dn = fcntl(null0, F_DUPFD_CLOEXEC, 10);
        close(null0);
        runtime::Run([dn] {
          for (bool fixed : {true, false}) {
            // The status pipe would sit on 1 and 2, which the files map
            // overwrites in the child.
            const ProcAttr quiet{.files = {dn, dn, dn}};
            absl::StatusOr<pid_t> r = fixed ? syscall::StartProcess("/no/such", {"/no/such"}, quiet)
                                            : syscall::ForkExec("/no/such", {"/no/such"}, quiet);
            HOST_CHECK(!r.ok());
            HOST_CHECK(r.status().message() == "fork/exec /no/such: no such file or directory");
            r = fixed ? syscall::StartProcess("/no/such", {"/no/such"}, {})
                      : syscall::ForkExec("/no/such", {"/no/such"}, {});
            HOST_CHECK(!r.ok());
            HOST_CHECK(r.status().message() == "fork/exec /no/such: no such file or directory");
            // A plan shorter than 3: the child closes 1 and 2, where the
            // status pipe would sit.
            const ProcAttr stdin_only{.files = {dn}};
            r = fixed ? syscall::StartProcess("/no/such", {"/no/such"}, stdin_only)
                      : syscall::ForkExec("/no/such", {"/no/such"}, stdin_only);
            HOST_CHECK(!r.ok());
            HOST_CHECK(r.status().message() == "fork/exec /no/such: no such file or directory");
            r = fixed ? syscall::StartProcess(kChild, {kChild}, ProcAttr{.dir = "/no/such/dir"})
                      : syscall::ForkExec(kChild, {kChild}, ProcAttr{.dir = "/no/such/dir"});
            HOST_CHECK(!r.ok());
            HOST_CHECK(r.status().message() == "chdir /no/such/dir: no such file or directory");
          }
          auto p =
              syscall::StartProcess(kChild, {kChild, "exit", "3"}, ProcAttr{.files = {dn, dn, dn}});
          HOST_CHECK(p.ok());
          Waitmsg w;
          HOST_CHECK(syscall::WaitProcess(*p, &w).ok() && w.ExitStatus() == 3);
          // With the default files (0-2 as they are, here the runtime's own
          // descriptors), the status pipe must not be among them either:
          // the child would keep its write end open and StartProcess would
          // return only when the child exits.
          auto c = syscall::StartChild(kChild, {kChild, "sleep", "30000"}, {});
          HOST_CHECK(c.ok());
          char st = testing::ProcState(c->Pid());
          HOST_CHECK(st != 0 && st != 'Z');  // still running once StartChild returned
          HOST_CHECK(c->Signal(SIGKILL).ok());
          HOST_CHECK(c->Wait(&w).ok() && w.Signal() == SIGKILL);
          HOST_CHECK(syscall::PendingProcesses() == 0);
        });
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// --- Resource limits ---------------------------------------------------------
// Each in a death-test child: limits are process-wide.

class ResourceLimits : public testing::ThreadsafeDeathTest {};

// No descriptor left: StartProcess and ForkExec fail with "too many open
// files" naming the program, and leave nothing behind; with the limit
// raised again, they work.
TEST_F(ResourceLimits, OpenFilesExhausted) {
#if defined(__SANITIZE_ADDRESS__)
  // The ASan build carries UBSan, whose vptr check probes memory through a
  // pipe; with no descriptor left it reports every virtual call as invalid.
  GTEST_SKIP() << "UBSan's vptr check needs a free descriptor";
#endif
  EXPECT_EXIT(
      {
        runtime::Run([] {
          struct rlimit old;
          HOST_CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
          std::set<int> before = testing::OpenFds();
          struct rlimit low = old;
          low.rlim_cur = static_cast<rlim_t>(*before.rbegin() + 1);
          HOST_CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
          std::vector<int> fillers;  // the free numbers below the limit, taken
          for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);
          HOST_CHECK(errno == EMFILE);
          for (bool fixed : {true, false}) {
            absl::StatusOr<pid_t> r = fixed ? syscall::StartProcess(kChild, {kChild}, {})
                                            : syscall::ForkExec(kChild, {kChild}, {});
            if (r.ok() || r.status().message() != "fork/exec " + kChild + ": too many open files") {
              fprintf(stderr, "got: %s\n", r.status().ToString().c_str());
              _exit(1);
            }
          }
          for (int fd : fillers) close(fd);
          HOST_CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
          HOST_CHECK(testing::OpenFds() == before);
          HOST_CHECK(syscall::PendingProcesses() == 0);
          auto p = syscall::StartProcess(kChild, {kChild, "exit", "9"}, {});
          HOST_CHECK(p.ok());
          Waitmsg w;
          HOST_CHECK(syscall::WaitProcess(*p, &w).ok() && w.ExitStatus() == 9);
        });
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// RLIMIT_NPROC reached: the clone fails with EAGAIN, and StartProcess says
// so instead of aborting; raised again, it works.
TEST_F(ResourceLimits, ProcessLimitReached) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (to drop to a user RLIMIT_NPROC applies to)";
  EXPECT_EXIT(
      {
        runtime::Run(
            [] {
              // Spare idle Ms first: once the limit is set, the scheduler
              // can hand a P over only to an M that already exists (making
              // one is Go's fatal error, tested below).
              sync::WaitGroup wg;
              wg.Add(8);
              for (int i = 0; i < 8; i++) {
                runtime::Go([&] {
                  {
                    runtime::BlockingSyscall bs;
                    absl::SleepFor(absl::Milliseconds(20));
                  }
                  wg.Done();
                });
              }
              wg.Wait();
              // setuid in glibc changes every thread of the process.
              HOST_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
              struct rlimit old;
              HOST_CHECK(getrlimit(RLIMIT_NPROC, &old) == 0);
              struct rlimit low = old;
              low.rlim_cur = 1;  // this user already has more: no new process or thread
              HOST_CHECK(setrlimit(RLIMIT_NPROC, &low) == 0);
              for (bool fixed : {true, false}) {
                absl::StatusOr<pid_t> r = fixed ? syscall::StartProcess(kChild, {kChild}, {})
                                                : syscall::ForkExec(kChild, {kChild}, {});
                if (r.ok() || r.status().message() !=
                                  "fork/exec " + kChild + ": resource temporarily unavailable") {
                  fprintf(stderr, "got: %s\n", r.status().ToString().c_str());
                  _exit(1);
                }
              }
              HOST_CHECK(setrlimit(RLIMIT_NPROC, &old) == 0);
              HOST_CHECK(syscall::PendingProcesses() == 0);
            },
            runtime::Options{.procs = 1});
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// The runtime cannot create a thread it needs (RLIMIT_NPROC again): as in
// Go, a fatal error that says why, never a hang or a silent abort.
TEST_F(ResourceLimits, ThreadCreationFailingIsAClearFatalError) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (to drop to a user RLIMIT_NPROC applies to)";
  EXPECT_DEATH(runtime::Run(
                   [] {
                     if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
                     struct rlimit low;
                     getrlimit(RLIMIT_NPROC, &low);
                     low.rlim_cur = 1;
                     setrlimit(RLIMIT_NPROC, &low);
                     // More fibers blocked in system calls at once than the
                     // runtime has threads, with work queued behind them:
                     // each hand-off needs another M, and none can be made.
                     for (int i = 0; i < 16; i++) {
                       runtime::Go([] {
                         runtime::BlockingSyscall bs;
                         absl::SleepFor(absl::Milliseconds(300));
                       });
                     }
                     runtime::BlockingSyscall bs;
                     absl::SleepFor(absl::Milliseconds(1000));
                   },
                   runtime::Options{.procs = 2}),
               "runtime: failed to create new OS thread \\(have [0-9]+ already; errno=11\\)\n"
               "runtime: may need to increase max user processes \\(ulimit -u\\)\n"
               "fatal error: newosproc");
}

// No memory for a fiber's stack (a small RLIMIT_AS): Go throws gort::Panic
// naming the cause, instead of aborting as Go's runtime does; the fibers
// already made are fine, and with the limit raised Go works again.
TEST_F(ResourceLimits, StackAllocationFailingIsAPanicFromGo) {
  if (testing::UnderSanitizer())
    GTEST_SKIP() << "sanitizers reserve more address space than any RLIMIT_AS allows";
  EXPECT_EXIT(
      {
        runtime::Run(
            [] {
              struct rlimit old;
              HOST_CHECK(getrlimit(RLIMIT_AS, &old) == 0);
              std::ifstream status("/proc/self/status");
              std::string line;
              long vm_kb = 0;
              while (std::getline(status, line)) {
                if (line.rfind("VmSize:", 0) == 0) vm_kb = std::atol(line.c_str() + 7);
              }
              HOST_CHECK(vm_kb > 0);
              struct rlimit low = old;
              low.rlim_cur = static_cast<rlim_t>(vm_kb + 64 * 1024) * 1024;  // 64 MiB more
              HOST_CHECK(setrlimit(RLIMIT_AS, &low) == 0);
              Chan<int> release(0);
              int made = 0;
              std::string refused;
              for (int i = 0; i < 100000 && refused.empty(); i++) {
                try {
                  runtime::Go([release] { release.Recv(); });
                  made++;
                } catch (const Panic& p) {
                  refused = p.what();
                }
              }
              HOST_CHECK(setrlimit(RLIMIT_AS, &old) == 0);
              HOST_CHECK(made > 0);
              HOST_CHECK(absl::StartsWith(refused, "runtime: out of memory: cannot allocate a "));
              HOST_CHECK(
                  absl::StrContains(refused, "-byte fiber stack (mmap: Cannot allocate memory)"));
              release.Close();
              runtime::Go([] {});  // works again
            },
            runtime::Options{.procs = 1, .stack_size = 1 << 20});
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace gort
