// exec::Cmd, Command and LookPath, at procs 1, 2, 4 and 8. Mirrors Go's
// os/exec tests: echo, cat from stdin, exit statuses, a pipeline of two
// commands, a large output while other fibers keep running, many commands
// at once, timeouts, deadlines and Close on the pipes, LookPath's rules, the
// child's descriptors (only 0, 1 and 2, blocking) and none left in the
// parent. Go: os/exec/exec_test.go, lp_unix_test.go.
#include "gort/exec.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gort/chan.h"
#include "gort/context.h"
#include "gort/os.h"
#include "gort/sync.h"
#include "gort/syscall.h"
#include "gort/time.h"
#include "netpoll.h"
#include "process_testing.h"

namespace gort {
namespace {

using runtime::Go;
using testing::kChild;

class ExecTest : public testing::ProcessTest {};
GORT_INSTANTIATE_PROCS(ExecTest);

exec::Cmd Child(std::vector<std::string> args) { return exec::Command(kChild, std::move(args)); }

std::string Payload(const absl::Status& st, std::string_view key) {
  auto p = st.GetPayload(absl::string_view(key.data(), key.size()));
  return p.has_value() ? std::string(*p) : std::string("<none>");
}

// A shell child that prints "partial\n", then marks that it did by making a
// file, then sleeps: a test that must kill it after the echo waits for the
// mark (a loaded machine may take longer than any guess to start a shell).
// The scratch directory goes with the object.
class EchoThenSleep {
 public:
  EchoThenSleep() {
    char tmpl[] = "/tmp/gort-partial-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~EchoThenSleep() {
    if (dir_.empty()) return;
    unlink(Marker().c_str());
    rmdir(dir_.c_str());
  }
  bool ok() const { return !dir_.empty(); }
  std::vector<std::string> ShArgs() const {
    return {"-c", "echo partial; : > " + Marker() + "; exec sleep 60"};
  }
  bool Echoed() const { return access(Marker().c_str(), F_OK) == 0; }

 private:
  std::string Marker() const { return dir_ + "/echoed"; }
  std::string dir_;
};

TEST_P(ExecTest, EchoOutput) {
  RunFibers([] {
    auto out = Child({"echo", "hello", "world"}).Output();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, "hello world\n");
  });
}

TEST_P(ExecTest, CatFromStdinData) {
  RunFibers([] {
    exec::Cmd c = Child({"cat"});
    // Bigger than a pipe's buffer, so that the feeding fiber parks.
    c.stdin_data = std::string(1 << 20, 'a') + "end";
    auto out = c.Output();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, c.stdin_data);
  });
}

TEST_P(ExecTest, ExitStatus) {
  RunFibers([] {
    exec::Cmd c = Child({"exit", "3"});
    absl::Status st = c.Run();
    EXPECT_EQ(st.code(), absl::StatusCode::kUnknown);
    EXPECT_EQ(st.message(), "exit status 3");
    ASSERT_TRUE(c.process_state().has_value());
    EXPECT_EQ(c.process_state()->ExitCode(), 3);
    EXPECT_FALSE(c.process_state()->Success());
    EXPECT_EQ(c.process_state()->Pid(), c.process()->Pid());

    exec::Cmd ok = Child({"exit", "0"});
    EXPECT_TRUE(ok.Run().ok());
    EXPECT_TRUE(ok.process_state()->Success());
  });
}

TEST_P(ExecTest, KilledBySignal) {
  RunFibers([] {
    exec::Cmd c = Child({"sleep", "60000"});
    ASSERT_TRUE(c.Start().ok());
    ASSERT_TRUE(c.process()->Kill().ok());
    absl::Status st = c.Wait();
    EXPECT_EQ(st.message(), "signal: killed");
    EXPECT_EQ(c.process_state()->ExitCode(), -1);
  });
}

// Go: TestPipeLookPathLeak's cousins and TestPipes: the first command's
// stdout is the second one's stdin.
TEST_P(ExecTest, PipelineThroughStdoutPipe) {
  RunFibers([] {
    exec::Cmd producer = Child({"write", "100000"});
    auto r = producer.StdoutPipe();
    ASSERT_TRUE(r.ok()) << r.status();
    exec::Cmd consumer = Child({"cat"});
    consumer.stdin_file = *r;
    ASSERT_TRUE(producer.Start().ok());
    auto out = consumer.Output();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, std::string(100000, 'x'));
    EXPECT_TRUE(producer.Wait().ok());
  });
}

TEST_P(ExecTest, PipelineThroughOsPipe) {
  RunFibers([] {
    auto p = os::Pipe();
    ASSERT_TRUE(p.ok());
    exec::Cmd a = Child({"echo", "through", "a", "pipe"});
    a.stdout_file = p->second;
    exec::Cmd b = Child({"cat"});
    b.stdin_file = p->first;
    auto out_r = b.StdoutPipe();
    ASSERT_TRUE(out_r.ok());
    ASSERT_TRUE(a.Start().ok());
    ASSERT_TRUE(b.Start().ok());
    // Our copies of the pipe: closed, so that b sees EOF once a exits.
    EXPECT_TRUE(p->first.Close().ok());
    EXPECT_TRUE(p->second.Close().ok());
    auto got = os::ReadAll(*out_r);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, "through a pipe\n");
    EXPECT_TRUE(a.Wait().ok());
    EXPECT_TRUE(b.Wait().ok());
  });
}

// 8 MiB through the pipe while another fiber keeps running: at procs 1 the
// reader parks and leaves the only P to it.
TEST_P(ExecTest, LargeOutputWhileOthersRun) {
  RunFibers([] {
    std::atomic<bool> done{false};
    std::atomic<long> spins{0};
    sync::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      while (!done.load()) {
        spins.fetch_add(1);
        runtime::Gosched();
      }
      wg.Done();
    });
    constexpr long kSize = 8L << 20;
    auto out = Child({"write", std::to_string(kSize)}).Output();
    done = true;
    wg.Wait();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(static_cast<long>(out->size()), kSize);
    EXPECT_EQ(out->find_first_not_of('x'), std::string::npos);
    EXPECT_GT(spins.load(), 0);
  });
}

TEST_P(ExecTest, SixtyFourAtOnce) {
  RunFibers([] {
    constexpr int kN = 64;
    std::vector<std::string> got(kN);
    std::vector<absl::Status> errs(kN);
    sync::WaitGroup wg;
    wg.Add(kN);
    for (int i = 0; i < kN; i++) {
      Go([&, i] {
        exec::Cmd c = Child({"echo", std::to_string(i)});
        c.stdin_data = "ignored";
        auto out = c.Output();
        if (out.ok()) {
          got[i] = *out;
        } else {
          errs[i] = out.status();
        }
        wg.Done();
      });
    }
    wg.Wait();
    for (int i = 0; i < kN; i++) {
      EXPECT_TRUE(errs[i].ok()) << i << ": " << errs[i];
      EXPECT_EQ(got[i], std::to_string(i) + "\n");
    }
  });
}

TEST_P(ExecTest, TimeoutKillsThenReaps) {
  RunFibers([] {
    exec::Cmd c = Child({"sleep", "60000"});
    c.timeout = absl::Milliseconds(50);
    absl::Status st = c.Run();
    EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
    EXPECT_EQ(st.message(), "signal: killed (exec: timeout 50ms expired)");
    ASSERT_TRUE(c.process_state().has_value());
    EXPECT_TRUE(c.process_state()->Sys().Signaled());
    EXPECT_EQ(c.process_state()->Sys().Signal(), SIGKILL);
  });
}

TEST_P(ExecTest, TimeoutNotReached) {
  RunFibers([] {
    exec::Cmd c = Child({"echo", "quick"});
    c.timeout = absl::Hours(1);
    auto out = c.Output();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, "quick\n");
  });
}

// Go: TestContext, TestContextCancel. A cancel while the child runs kills
// it; Wait names the signal and the context's Err, with its code.
TEST_P(ExecTest, CommandContextCancelKills) {
  RunFibers([] {
    auto [ctx, cancel] = context::WithCancel(context::Background());
    exec::Cmd c = exec::CommandContext(ctx, kChild, {"sleep", "60000"});
    ASSERT_TRUE(c.Start().ok());
    Go([cancel = cancel] {
      time::Sleep(absl::Milliseconds(20));
      cancel();
    });
    absl::Status st = c.Wait();
    EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
    EXPECT_EQ(st.message(), "signal: killed (context canceled)");
    ASSERT_TRUE(c.process_state().has_value());
    EXPECT_TRUE(c.process_state()->Sys().Signaled());
    EXPECT_EQ(c.process_state()->Sys().Signal(), SIGKILL);
  });
}

TEST_P(ExecTest, CommandContextDeadlineKills) {
  RunFibers([] {
    for (absl::Duration d = absl::Milliseconds(50);; d *= 2) {
      auto [ctx, cancel] = context::WithTimeout(context::Background(), d);
      exec::Cmd c = exec::CommandContext(ctx, kChild, {"sleep", "60000"});
      absl::Status st = c.Run();
      cancel();
      if (!c.process().has_value() && st == context::DeadlineExceeded()) {
        // The deadline passed before Start (a stalled machine): Start
        // rightly started nothing. Again, with more time.
        ASSERT_LT(d, absl::Seconds(60));
        continue;
      }
      EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
      EXPECT_EQ(st.message(), "signal: killed (context deadline exceeded)");
      break;
    }
  });
}

// A parent context's cancel reaches the command through a derived one, and
// Output keeps what the child wrote before it died (the cancel comes once
// the child has echoed).
TEST_P(ExecTest, CommandContextParentCancelKeepsPartialOutput) {
  EchoThenSleep child;
  ASSERT_TRUE(child.ok());
  RunFibers([&child] {
    auto [parent, cancel_parent] = context::WithCancel(context::Background());
    auto [ctx, cancel] = context::WithCancel(parent);
    exec::Cmd c = exec::CommandContext(ctx, "/bin/sh", child.ShArgs());
    Go([cancel_parent = cancel_parent, &child] {
      while (!child.Echoed()) time::Sleep(absl::Milliseconds(1));
      cancel_parent();
    });
    auto out = c.Output();
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kCancelled) << out.status();
    EXPECT_EQ(Payload(out.status(), exec::kOutputPayload), "partial\n");
    cancel();
  });
}

// Go: a context already done at Start starts nothing and returns ctx.Err();
// the pipes made before Start are closed (the fixture checks descriptors).
TEST_P(ExecTest, CommandContextAlreadyDone) {
  RunFibers([] {
    auto [ctx, cancel] = context::WithCancel(context::Background());
    cancel();
    exec::Cmd c = exec::CommandContext(ctx, kChild, {"echo", "never"});
    auto r = c.StdoutPipe();
    ASSERT_TRUE(r.ok());
    absl::Status st = c.Start();
    EXPECT_EQ(st, context::Canceled());
    EXPECT_FALSE(c.process().has_value());
    EXPECT_EQ(c.Wait().message(), "exec: not started");

    auto [dctx, dcancel] = context::WithDeadline(context::Background(), absl::Now());
    while (dctx.Err().ok()) time::Sleep(absl::Milliseconds(1));
    EXPECT_EQ(exec::CommandContext(dctx, kChild, {"echo"}).Run(), context::DeadlineExceeded());
    dcancel();
  });
}

// A context that never ends (and Background) changes nothing, and a cancel
// after Wait has reaped the child is too late to touch anything.
TEST_P(ExecTest, CommandContextNotDoneChangesNothing) {
  RunFibers([] {
    auto out = exec::CommandContext(context::Background(), kChild, {"echo", "bg"}).Output();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, "bg\n");

    auto [ctx, cancel] = context::WithCancel(context::Background());
    exec::Cmd c = exec::CommandContext(ctx, kChild, {"exit", "3"});
    absl::Status st = c.Run();
    EXPECT_EQ(st.code(), absl::StatusCode::kUnknown) << st;
    EXPECT_EQ(st.message(), "exit status 3");
    cancel();
    EXPECT_EQ(c.process_state()->ExitCode(), 3);
  });
}

// The child exited on its own, but the cancel came before Wait: as Go
// 1.20's Wait, the context's error is reported though the child succeeded
// (the kill reached a zombie, so the command may have been interrupted).
TEST_P(ExecTest, CommandContextCancelAfterExitBeforeWait) {
  RunFibers([] {
    auto [ctx, cancel] = context::WithCancel(context::Background());
    exec::Cmd c = exec::CommandContext(ctx, kChild, {"echo", "done"});
    ASSERT_TRUE(c.Start().ok());
    // The child has exited (a zombie, or reaped already), not merely been
    // given time to: a kill now cannot change its status.
    const pid_t pid = c.process()->Pid();
    for (char st = testing::ProcState(pid); st != 'Z' && st != 0; st = testing::ProcState(pid)) {
      time::Sleep(absl::Milliseconds(1));
    }
    cancel();
    time::Sleep(absl::Milliseconds(50));  // the watcher sees the cancel first
    absl::Status st = c.Wait();
    EXPECT_TRUE(st.ok() || st == context::Canceled()) << st;
    EXPECT_TRUE(c.process_state()->Success());
  });
}

// Many commands under one context, all killed by one cancel; no fiber,
// descriptor or zombie is left (the fixture checks).
TEST_P(ExecTest, CommandContextFanOutCancel) {
  RunFibers([] {
    auto [ctx, cancel] = context::WithCancel(context::Background());
    constexpr int kN = 16;
    sync::WaitGroup started, done;
    started.Add(kN);
    done.Add(kN);
    std::atomic<int> cancelled{0};
    for (int i = 0; i < kN; i++) {
      Go([&, ctx = ctx] {
        exec::Cmd c = exec::CommandContext(ctx, kChild, {"sleep", "60000"});
        absl::Status st = c.Start();
        started.Done();
        if (st.ok()) st = c.Wait();
        if (st.code() == absl::StatusCode::kCancelled) cancelled.fetch_add(1);
        done.Done();
      });
    }
    started.Wait();
    cancel();
    done.Wait();
    EXPECT_EQ(cancelled.load(), kN);
    EXPECT_EQ(context::context_internal::ChildrenForTesting(ctx), 0u);
  });
}

// A timeout cannot wait for the child to have echoed: a run whose timeout
// came first is repeated with twice the timeout.
TEST_P(ExecTest, OutputTimesOutWithPartialOutput) {
  EchoThenSleep child;
  ASSERT_TRUE(child.ok());
  RunFibers([&child] {
    for (absl::Duration timeout = absl::Milliseconds(100);; timeout *= 2) {
      // The grandchild's trick is not needed: a child that prints and then
      // sleeps is killed with its output kept.
      exec::Cmd c = exec::Command("/bin/sh", child.ShArgs());
      c.timeout = timeout;
      auto out = c.Output();
      ASSERT_FALSE(out.ok());
      EXPECT_EQ(out.status().code(), absl::StatusCode::kDeadlineExceeded) << out.status();
      if (child.Echoed()) {
        EXPECT_EQ(Payload(out.status(), exec::kOutputPayload), "partial\n");
        break;
      }
      ASSERT_LT(timeout, absl::Seconds(60)) << "the shell never echoed";
    }
  });
}

TEST_P(ExecTest, ReadDeadlineOnStdoutPipe) {
  RunFibers([] {
    exec::Cmd c = Child({"sleep", "60000"});
    auto r = c.StdoutPipe();
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(c.Start().ok());
    ASSERT_TRUE(r->SetReadDeadline(absl::Now() + absl::Milliseconds(30)).ok());
    char buf[8];
    auto n = r->Read(buf, sizeof(buf));
    EXPECT_EQ(n.status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(n.status().message(), "read |0: i/o timeout");
    ASSERT_TRUE(c.process()->Kill().ok());
    EXPECT_EQ(c.Wait().message(), "signal: killed");
  });
}

TEST_P(ExecTest, CloseWakesBlockedReader) {
  RunFibers([] {
    exec::Cmd c = Child({"sleep", "60000"});
    auto r = c.StdoutPipe();
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(c.Start().ok());
    Chan<absl::Status> res(1);
    const int waiters = runtime::internal::NetpollWaiters();
    Go([r = *r, res]() mutable {
      char buf[8];
      res.Send(r.Read(buf, sizeof(buf)).status());
    });
    // The reader is parked in the poller (a Read begun after the Close would
    // say "file already closed" instead).
    testing::YieldUntil([&] { return runtime::internal::NetpollWaiters() == waiters + 1; });
    EXPECT_TRUE(r->Close().ok());
    absl::Status st = *res.Recv();
    EXPECT_EQ(st.message(), "read |0: use of closed file");
    ASSERT_TRUE(c.process()->Kill().ok());
    EXPECT_EQ(c.Wait().message(), "signal: killed");
  });
}

TEST_P(ExecTest, StdinPipeAndStdoutPipe) {
  RunFibers([] {
    exec::Cmd c = Child({"cat"});
    auto w = c.StdinPipe();
    auto r = c.StdoutPipe();
    ASSERT_TRUE(w.ok() && r.ok());
    ASSERT_TRUE(c.Start().ok());
    Go([w = *w]() mutable {
      (void)w.Write("hello, cat", 10);
      (void)w.Close();  // EOF for the child
    });
    auto got = os::ReadAll(*r);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, "hello, cat");
    EXPECT_TRUE(c.Wait().ok());
    // Wait closed the pipes.
    EXPECT_EQ(r->Fd(), -1);
    EXPECT_EQ(w->Fd(), -1);
  });
}

TEST_P(ExecTest, CombinedOutputInterleaves) {
  RunFibers([] {
    auto out = Child({"mixed"}).CombinedOutput();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, "out1\nerr1\nout2\n");
  });
}

TEST_P(ExecTest, OutputCarriesStderrOnFailure) {
  RunFibers([] {
    auto out = Child({"stderr", "100", "4"}).Output();
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().message(), "exit status 4");
    EXPECT_EQ(Payload(out.status(), exec::kStderrPayload), std::string(100, 'e'));
    EXPECT_EQ(Payload(out.status(), exec::kOutputPayload), "");

    // More than 2 x 32 KiB: the first and the last 32 KiB, and a line
    // between them saying how much is missing (Go's prefixSuffixSaver).
    auto big = Child({"stderr", "100000", "1"}).Output();
    ASSERT_FALSE(big.ok());
    const std::string want = std::string(32768, 'e') + "\n... omitting " +
                             std::to_string(100000 - 65536) + " bytes ...\n" +
                             std::string(32768, 'e');
    EXPECT_EQ(Payload(big.status(), exec::kStderrPayload), want);
  });
}

TEST_P(ExecTest, ChildSeesOnlyItsThreeDescriptors) {
  RunFibers([] {
    // Descriptors of ours that a child could inherit by mistake.
    auto p = os::Pipe();
    ASSERT_TRUE(p.ok());
    int plain = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(plain, 0);
    exec::Cmd c = Child({"fds"});
    c.stdin_data = "x";
    auto out = c.Output();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, testing::ExpectedChildFds());
    close(plain);
    EXPECT_TRUE(p->first.Close().ok());
    EXPECT_TRUE(p->second.Close().ok());
  });
}

TEST_P(ExecTest, ExtraFilesBecomeThreeAndUp) {
  RunFibers([] {
    auto p = os::Pipe();
    ASSERT_TRUE(p.ok());
    exec::Cmd c = Child({"fdstat"});
    c.extra_files.push_back(p->second);
    auto out = c.Output();
    ASSERT_TRUE(out.ok()) << out.status();
    struct stat st;
    ASSERT_EQ(fstat(p->second.Fd(), &st), 0);
    EXPECT_NE(out->find(absl::StrCat("\n3 ", st.st_dev, " ", st.st_ino, "\n")), std::string::npos)
        << *out;
    EXPECT_TRUE(p->first.Close().ok());
    EXPECT_TRUE(p->second.Close().ok());
  });
}

// The child's ends are blocking (a child does not expect O_NONBLOCK), and
// neither an ignored SIGPIPE in the parent nor the runtime's threads'
// blocking of it is inherited.
TEST_P(ExecTest, ChildGetsBlockingDescriptorsAndDefaultSigpipe) {
  struct sigaction ign {
  }, old{};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &old);
  RunFibers([] {
    exec::Cmd c = Child({"flags"});
    c.stdin_data = "data";
    auto err = c.StderrPipe();
    ASSERT_TRUE(err.ok());
    auto out = c.Output();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, "0 blocking\n1 blocking\n2 blocking\nsigpipe default unblocked\n");
  });
  sigaction(SIGPIPE, &old, nullptr);
}

// A File handed to a child goes to blocking mode (Go: File.Fd); the parent
// can still use it.
TEST_P(ExecTest, FileGivenToChildStillWorksInParent) {
  RunFibers([] {
    auto p = os::Pipe();
    ASSERT_TRUE(p.ok());
    exec::Cmd c = Child({"echo", "from", "child"});
    c.stdout_file = p->second;
    EXPECT_TRUE(c.Run().ok());
    EXPECT_EQ(fcntl(p->second.Fd(), F_GETFL) & O_NONBLOCK, 0);
    EXPECT_TRUE(p->second.Write("parent\n", 7).ok());
    EXPECT_TRUE(p->second.Close().ok());
    auto got = os::ReadAll(p->first);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, "from child\nparent\n");
    EXPECT_TRUE(p->first.Close().ok());
  });
}

TEST_P(ExecTest, DirAndEnv) {
  RunFibers([] {
    exec::Cmd c = Child({"pwd"});
    c.dir = "/";
    auto out = c.Output();
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, "/\n");

    exec::Cmd e = Child({"env"});
    e.env = {"A=1", "B=2", "A=3"};
    auto env = e.Output();
    ASSERT_TRUE(env.ok()) << env.status();
    EXPECT_EQ(*env, "B=2\nA=3\n");  // Go: each key at its last place

    exec::Cmd inherit = Child({"env"});
    inherit.dir = "/tmp";
    std::vector<std::string> environ = inherit.Environ();
    EXPECT_EQ(environ.back(), "PWD=/tmp");
  });
}

TEST_P(ExecTest, UsageErrors) {
  RunFibers([] {
    exec::Cmd c = Child({"exit", "0"});
    EXPECT_EQ(c.Wait().message(), "exec: not started");
    ASSERT_TRUE(c.Start().ok());
    EXPECT_EQ(c.Start().message(), "exec: already started");
    EXPECT_EQ(c.StdoutPipe().status().message(), "exec: StdoutPipe after process started");
    EXPECT_TRUE(c.Wait().ok());
    EXPECT_EQ(c.Wait().message(), "exec: Wait was already called");

    exec::Cmd d = Child({"echo"});
    d.stdout_file = os::File();
    EXPECT_EQ(d.Output().status().message(), "exec: Stdout already set");
    exec::Cmd e = Child({"echo"});
    ASSERT_TRUE(e.StdoutPipe().ok());
    EXPECT_EQ(e.StdoutPipe().status().message(), "exec: Stdout already set");
    EXPECT_EQ(e.CombinedOutput().status().message(), "exec: Stdout already set");
    exec::Cmd f = Child({"echo"});
    f.stdin_data = "x";
    EXPECT_EQ(f.StdinPipe().status().message(), "exec: Stdin already set");
    exec::Cmd none;
    EXPECT_EQ(none.Run().message(), "exec: no command");
  });
}

TEST_P(ExecTest, StartErrors) {
  RunFibers([] {
    absl::Status st = exec::Command("/no/such/program").Run();
    EXPECT_EQ(st.message(), "fork/exec /no/such/program: no such file or directory");
    absl::Status nf = exec::Command("gort-no-such-command-xyz").Run();
    EXPECT_EQ(nf.code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(nf.message(),
              "exec: \"gort-no-such-command-xyz\": executable file not found in $PATH");
    // The pipes made before a failed Start are closed.
    exec::Cmd c = exec::Command("/no/such/program");
    auto r = c.StdoutPipe();
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(c.Start().ok());
    EXPECT_EQ(r->Fd(), -1);
  });
}

TEST_P(ExecTest, StringJoinsPathAndArgs) {
  RunFibers([] {
    exec::Cmd c = exec::Command("/bin/echo", {"a", "b c"});
    EXPECT_EQ(c.String(), "/bin/echo a b c");
    EXPECT_EQ(c.args.size(), 3u);
    EXPECT_EQ(c.args[0], "/bin/echo");
  });
}

// Go 1.20's WaitDelay: a grandchild keeps the stdout pipe open after the
// child exits; Wait gives up on the I/O after wait_delay.
TEST_P(ExecTest, WaitDelayEndsIoHeldByGrandchild) {
  RunFibers([] {
    exec::Cmd c = Child({"orphan", "60000"});
    // Long enough that the fiber copying stdout has read the pid line (in
    // the pipe before the child exits) when the I/O is given up.
    c.wait_delay = absl::Milliseconds(250);
    auto out = c.Output();
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().message(), "exec: WaitDelay expired before I/O complete");
    EXPECT_TRUE(c.process_state()->Success());
    int grandchild = 0;
    std::string pid_line = Payload(out.status(), exec::kOutputPayload);
    ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(pid_line), &grandchild)) << pid_line;
    ASSERT_GT(grandchild, 0);
    kill(grandchild, SIGKILL);  // not our child: init (or a subreaper) reaps it
  });
}

TEST_P(ExecTest, DestroyedWithoutWaitLeavesNoZombie) {
  RunFibers([] {
    {
      exec::Cmd c = Child({"write", "1000000"});
      auto r = c.StdoutPipe();
      ASSERT_TRUE(r.ok());
      ASSERT_TRUE(c.Start().ok());
    }
    {
      exec::Cmd c = Child({"cat"});
      c.stdin_data = std::string(1 << 20, 'z');
      c.timeout = absl::Hours(1);
      ASSERT_TRUE(c.Start().ok());
    }
    // The fixture checks that both were reaped and nothing is left; wait
    // for the background reapers first.
    testing::YieldUntil([] { return syscall::PendingProcesses() == 0; });
  });
}

TEST_P(ExecTest, NoDescriptorLeakAfterManyRuns) {
  const int runs = testing::UnderSanitizer() ? 200 : 1000;
  RunFibers([&] {
    // A few runs first: in reaper mode the reapers (and their descriptors)
    // start with the Run's first child and stay for the Run; each makes its
    // epoll descriptor when its fiber first runs, and requests go round
    // robin, so by the 4th child the (up to 4) reapers have all served one.
    for (int i = 0; i < 4; i++) ASSERT_TRUE(Child({"exit", "0"}).Run().ok());
    const int before = testing::CountFds();
    for (int i = 0; i < runs; i++) {
      exec::Cmd c = Child({"echo", "x"});
      c.stdin_data = "in";
      auto out = c.CombinedOutput();
      ASSERT_TRUE(out.ok()) << out.status();
    }
    // The last children's pidfds go with their waiter fibers, which may
    // still be on their way out: give them a moment. (`before` may itself
    // have counted the first child's pidfd on its way out: fewer is fine.)
    for (int i = 0; i < 10000 && testing::CountFds() > before; i++) {
      time::Sleep(absl::Milliseconds(1));
    }
    EXPECT_LE(testing::CountFds(), before);
  });
}

// LookPath outside Run: it changes the working directory and PATH, so no
// other thread may be about.
class LookPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gort-lookpath-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_NE(getcwd(cwd_, sizeof(cwd_)), nullptr);
    const char* p = getenv("PATH");
    path_ = p != nullptr ? p : "";
    Write("prog", 0755);
    Write("data", 0644);
    ASSERT_EQ(mkdir((dir_ + "/subdir").c_str(), 0755), 0);
  }
  void TearDown() override {
    ASSERT_EQ(chdir(cwd_), 0);
    setenv("PATH", path_.c_str(), 1);
    unlink((dir_ + "/prog").c_str());
    unlink((dir_ + "/data").c_str());
    rmdir((dir_ + "/subdir").c_str());
    rmdir(dir_.c_str());
  }
  void Write(const std::string& name, mode_t mode) {
    std::ofstream(dir_ + "/" + name) << "#!/bin/sh\nexit 0\n";
    ASSERT_EQ(chmod((dir_ + "/" + name).c_str(), mode), 0);
  }
  std::string dir_;
  char cwd_[4096];
  std::string path_;
};

TEST_F(LookPathTest, FoundInPath) {
  setenv("PATH", ("/no/such/dir::" + dir_).c_str(), 1);
  auto p = exec::LookPath("prog");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, dir_ + "/prog");
  auto sh = exec::LookPath("sh");
  setenv("PATH", path_.c_str(), 1);
  sh = exec::LookPath("sh");
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_EQ(sh->front(), '/');
  EXPECT_TRUE(sh->ends_with("/sh"));
}

TEST_F(LookPathTest, NotFound) {
  setenv("PATH", dir_.c_str(), 1);
  auto p = exec::LookPath("gort-missing");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(p.status().message(), "exec: \"gort-missing\": executable file not found in $PATH");
  // Not executable, or a directory: skipped in the search.
  EXPECT_EQ(exec::LookPath("data").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(exec::LookPath("subdir").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LookPathTest, RelativeMatchIsRefused) {
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  for (const char* path : {".", "", "/no/such:"}) {
    setenv("PATH", path, 1);
    auto p = exec::LookPath("prog");
    EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition) << path;
    EXPECT_EQ(p.status().message(),
              "exec: \"prog\": cannot run executable found relative to current directory");
  }
  // Command keeps the error for Start.
  exec::Cmd c = exec::Command("prog");
  EXPECT_EQ(c.path, "prog");
}

TEST_F(LookPathTest, NameWithSlashIsNotSearched) {
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  setenv("PATH", "/no/such", 1);
  auto p = exec::LookPath("./prog");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, "./prog");
  EXPECT_EQ(exec::LookPath("./nope").status().message(),
            "exec: \"./nope\": stat ./nope: no such file or directory");
  EXPECT_EQ(exec::LookPath("./data").status().message(), "exec: \"./data\": permission denied");
  EXPECT_EQ(exec::LookPath("./subdir").status().message(), "exec: \"./subdir\": is a directory");
  EXPECT_EQ(exec::LookPath(dir_ + "/prog").value_or(""), dir_ + "/prog");
}

}  // namespace
}  // namespace gort
