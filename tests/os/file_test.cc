// os::File, os::Pipe and os::ReadAll on the poller, at procs 1, 2, 4 and 8:
// reads and writes park the fiber (never the P), Close wakes blocked readers
// and writers, deadlines give "i/o timeout", plain threads use Files too, and
// 10 000 fibers blocked on their own pipes hold no more threads than procs
// plus the runtime's two. Go: os/pipe_test.go, os/timeout_test.go.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gort/internal/runtime_support.h"
#include "gort/os.h"
#include "gort/sync.h"
#include "netpoll.h"
#include "process_testing.h"

namespace gort {
namespace {

using runtime::Go;
using runtime::internal::NetpollWaiters;
using testing::YieldUntil;

class FileTest : public testing::ProcessTest {};
GORT_INSTANTIATE_PROCS(FileTest);

std::pair<os::File, os::File> MustPipe() {
  auto p = os::Pipe();
  EXPECT_TRUE(p.ok()) << p.status();
  return *std::move(p);
}

TEST_P(FileTest, PipeCarriesBytesThenEof) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    EXPECT_EQ(r.Name(), "|0");
    EXPECT_EQ(w.Name(), "|1");
    EXPECT_EQ(fcntl(r.Fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    EXPECT_EQ(fcntl(r.Fd(), F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    auto n = w.Write("hello", 5);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, 5u);
    char buf[16];
    auto got = r.Read(buf, sizeof(buf));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(std::string(buf, *got), "hello");
    EXPECT_EQ(*r.Read(buf, 0), 0u);
    EXPECT_TRUE(w.Close().ok());
    auto eof = r.Read(buf, sizeof(buf));
    EXPECT_TRUE(absl::IsOutOfRange(eof.status()));
    EXPECT_EQ(eof.status().message(), "EOF");
    EXPECT_TRUE(r.Close().ok());
  });
}

// The reader parks: the main fiber keeps its P (the only one at procs 1)
// and writes what the reader waits for.
TEST_P(FileTest, ABlockedReaderLeavesThePToOthers) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    std::atomic<bool> done{false};
    std::string got;
    Go([&, r = r]() mutable {
      char buf[8];
      auto n = r.Read(buf, sizeof(buf));
      EXPECT_TRUE(n.ok()) << n.status();
      if (n.ok()) got.assign(buf, *n);
      done = true;
    });
    YieldUntil([] { return NetpollWaiters() == 1; });
    int spins = 0;
    for (int i = 0; i < 100; i++, spins++) runtime::Gosched();
    EXPECT_FALSE(done.load());
    EXPECT_TRUE(w.Write("x", 1).ok());
    YieldUntil([&] { return done.load(); });
    EXPECT_EQ(got, "x");
    EXPECT_EQ(spins, 100);
    EXPECT_TRUE(r.Close().ok());
    EXPECT_TRUE(w.Close().ok());
  });
}

TEST_P(FileTest, ReadAllReadsToEof) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    const std::string data(1 << 20, 'z');  // more than the pipe holds: the writer parks
    Go([&, w = w]() mutable {
      EXPECT_TRUE(w.Write(data.data(), data.size()).ok());
      EXPECT_TRUE(w.Close().ok());
    });
    auto all = os::ReadAll(r);
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_EQ(all->size(), data.size());
    EXPECT_EQ(*all, data);
    EXPECT_TRUE(r.Close().ok());
  });
}

TEST_P(FileTest, CloseWakesABlockedReader) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    absl::Status st;
    std::atomic<bool> done{false};
    os::File copy = r;  // copies share one descriptor
    Go([&] {
      char c;
      st = copy.Read(&c, 1).status();
      done = true;
    });
    YieldUntil([] { return NetpollWaiters() == 1; });
    EXPECT_TRUE(r.Close().ok());
    YieldUntil([&] { return done.load(); });
    EXPECT_EQ(st.message(), "read |0: use of closed file");
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
    char c;
    EXPECT_EQ(copy.Read(&c, 1).status().message(), "read |0: file already closed");
    EXPECT_EQ(copy.Close().message(), "close |0: file already closed");
    EXPECT_EQ(copy.Fd(), -1);
    EXPECT_TRUE(w.Close().ok());
  });
}

TEST_P(FileTest, CloseWakesABlockedWriter) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    absl::Status st;
    std::atomic<bool> done{false};
    Go([&, w = w]() mutable {
      const std::string big(1 << 20, 'a');  // fills the pipe, then parks
      st = w.Write(big.data(), big.size()).status();
      done = true;
    });
    YieldUntil([] { return NetpollWaiters() == 1; });
    EXPECT_TRUE(w.Close().ok());
    YieldUntil([&] { return done.load(); });
    EXPECT_EQ(st.message(), "write |1: use of closed file");
    EXPECT_TRUE(r.Close().ok());
  });
}

TEST_P(FileTest, ReadDeadline) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    ASSERT_TRUE(r.SetReadDeadline(absl::Now() + absl::Milliseconds(5)).ok());
    char c;
    auto st = r.Read(&c, 1).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(st.message(), "read |0: i/o timeout");
    // Expired: every read fails, even with data there, until it is moved.
    ASSERT_TRUE(w.Write("y", 1).ok());
    EXPECT_EQ(r.Read(&c, 1).status().message(), "read |0: i/o timeout");
    ASSERT_TRUE(r.SetReadDeadline(absl::InfiniteFuture()).ok());
    auto n = r.Read(&c, 1);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(c, 'y');
    // A future deadline that is not reached.
    ASSERT_TRUE(r.SetDeadline(absl::Now() + absl::Hours(1)).ok());
    Go([w = w]() mutable { EXPECT_TRUE(w.Write("z", 1).ok()); });
    EXPECT_TRUE(r.Read(&c, 1).ok());
    EXPECT_TRUE(r.Close().ok());
    EXPECT_TRUE(w.Close().ok());
  });
}

// A deadline moved while a read is blocked applies to that read.
TEST_P(FileTest, DeadlineMovedUnderABlockedRead) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    absl::Status st;
    std::atomic<bool> done{false};
    Go([&, r = r]() mutable {
      char c;
      st = r.Read(&c, 1).status();
      done = true;
    });
    YieldUntil([] { return NetpollWaiters() == 1; });
    ASSERT_TRUE(r.SetReadDeadline(absl::Now() - absl::Seconds(1)).ok());
    YieldUntil([&] { return done.load(); });
    EXPECT_EQ(st.message(), "read |0: i/o timeout");
    EXPECT_TRUE(r.Close().ok());
    EXPECT_TRUE(w.Close().ok());
  });
}

TEST_P(FileTest, WriteDeadline) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    ASSERT_TRUE(w.SetWriteDeadline(absl::Now() + absl::Milliseconds(5)).ok());
    const std::string big(1 << 20, 'a');
    auto st = w.Write(big.data(), big.size()).status();
    EXPECT_EQ(st.message(), "write |1: i/o timeout");
    EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_TRUE(r.Close().ok());
    EXPECT_TRUE(w.Close().ok());
  });
}

// Go: a write to a pipe whose reader is gone is EPIPE, not a SIGPIPE death.
TEST_P(FileTest, BrokenPipeIsAnError) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    EXPECT_TRUE(r.Close().ok());
    auto st = w.Write("x", 1).status();
    EXPECT_EQ(st.message(), "write |1: broken pipe");
    // The signal the write raised was taken off the thread (an M, which
    // blocks SIGPIPE for good): nothing pending is left for later.
    sigset_t pending;
    ASSERT_EQ(sigpending(&pending), 0);
    EXPECT_FALSE(sigismember(&pending, SIGPIPE));
    EXPECT_TRUE(w.Close().ok());

    // From a plain thread (a host's, with SIGPIPE unblocked, unlike the
    // mask one inherits from an M): the same error, and its mask as it was.
    std::tie(r, w) = MustPipe();
    EXPECT_TRUE(r.Close().ok());
    std::thread t([&] {
      sigset_t before, after, left, pipe_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      pthread_sigmask(SIG_UNBLOCK, &pipe_set, nullptr);
      pthread_sigmask(SIG_SETMASK, nullptr, &before);
      EXPECT_EQ(w.Write("x", 1).status().message(), "write |1: broken pipe");
      pthread_sigmask(SIG_SETMASK, nullptr, &after);
      EXPECT_EQ(sigismember(&before, SIGPIPE), sigismember(&after, SIGPIPE));
      ASSERT_EQ(sigpending(&left), 0);
      EXPECT_FALSE(sigismember(&left, SIGPIPE));
    });
    t.join();
    EXPECT_TRUE(w.Close().ok());
  });
}

TEST_P(FileTest, PlainThreadsUseFiles) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    std::string got;
    std::thread t([&] {
      char buf[4];
      auto n = r.Read(buf, sizeof(buf));
      EXPECT_TRUE(n.ok()) << n.status();
      if (n.ok()) got.assign(buf, *n);
    });
    YieldUntil([] { return NetpollWaiters() == 1; });
    EXPECT_TRUE(w.Write("t", 1).ok());
    t.join();
    EXPECT_EQ(got, "t");
    // A thread blocked in Read is woken by Close too.
    absl::Status st;
    std::thread t2([&] {
      char c;
      st = r.Read(&c, 1).status();
    });
    YieldUntil([] { return NetpollWaiters() == 1; });
    EXPECT_TRUE(r.Close().ok());
    t2.join();
    EXPECT_EQ(st.message(), "read |0: use of closed file");
    EXPECT_TRUE(w.Close().ok());
  });
}

TEST(FileOutsideRunTest, PipesWorkWithoutTheRuntime) {
  auto p = os::Pipe();
  ASSERT_TRUE(p.ok()) << p.status();
  os::File r = p->first, w = p->second;
  std::thread t([&] { EXPECT_TRUE(w.Write("out", 3).ok()); });
  char buf[3];
  std::size_t got = 0;
  while (got < 3) {
    auto n = r.Read(buf + got, 3 - got);
    ASSERT_TRUE(n.ok()) << n.status();
    got += *n;
  }
  t.join();
  EXPECT_EQ(std::string(buf, 3), "out");
  EXPECT_TRUE(r.Close().ok());
  EXPECT_TRUE(w.Close().ok());
  os::File nil;
  EXPECT_FALSE(nil);
  EXPECT_EQ(nil.Fd(), -1);
  EXPECT_EQ(nil.Read(buf, 1).status().message(), "invalid argument");
  EXPECT_EQ(nil.Close().message(), "invalid argument");
}

// Close races readers queued on one File (one parked in the poller, the
// others behind it on the read lock, some arriving after Close): every one
// ends with a close error, and the descriptor is closed once, after they
// have all left it.
TEST_P(FileTest, CloseRacesManyReaders) {
  RunFibers([] {
    os::File r, w;
    std::tie(r, w) = MustPipe();
    const int fd = r.Fd();
    sync::WaitGroup wg;
    std::atomic<int> closed_errors{0};
    for (int i = 0; i < 16; i++) {
      wg.Add(1);
      Go([&, r = r]() mutable {
        char c;
        absl::Status st = r.Read(&c, 1).status();
        if (st.message() == "read |0: use of closed file" ||
            st.message() == "read |0: file already closed") {
          closed_errors.fetch_add(1);
        } else {
          ADD_FAILURE() << st;
        }
        wg.Done();
      });
      if (i == 8) {
        YieldUntil([] { return NetpollWaiters() >= 1; });
        EXPECT_TRUE(r.Close().ok());
      }
    }
    wg.Wait();
    EXPECT_EQ(closed_errors.load(), 16);
    EXPECT_EQ(fcntl(fd, F_GETFD), -1) << "the descriptor is still open";
    EXPECT_TRUE(w.Close().ok());
  });
}

// A File never closed is closed when its last copy goes.
TEST_P(FileTest, TheLastCopyClosesTheDescriptor) {
  RunFibers([] {
    int fd;
    {
      os::File r, w;
      std::tie(r, w) = MustPipe();
      fd = r.Fd();
      os::File copy = r;
    }
    EXPECT_EQ(fcntl(fd, F_GETFD), -1);
  });
}

// Two fibers bounce one byte through two pipes.
TEST_P(FileTest, PipePingPong) {
  RunFibers([] {
    os::File ar, aw, br, bw;
    std::tie(ar, aw) = MustPipe();
    std::tie(br, bw) = MustPipe();
    const int rounds = testing::UnderSanitizer() ? 200 : 5000;
    sync::WaitGroup wg;
    wg.Add(1);
    Go([&, ar = ar, bw = bw]() mutable {
      char c;
      for (int i = 0; i < rounds; i++) {
        ASSERT_TRUE(ar.Read(&c, 1).ok());
        ASSERT_TRUE(bw.Write(&c, 1).ok());
      }
      wg.Done();
    });
    char c = 'p';
    for (int i = 0; i < rounds; i++) {
      ASSERT_TRUE(aw.Write(&c, 1).ok());
      ASSERT_TRUE(br.Read(&c, 1).ok());
    }
    wg.Wait();
    for (os::File* f : {&ar, &aw, &br, &bw}) EXPECT_TRUE(f->Close().ok());
  });
}

// Main returns while fibers are blocked in Read: they are unwound, and the
// Files they held (copies) close nothing until the last copy goes.
TEST_P(FileTest, ShutdownUnwindsBlockedReaders) {
  std::vector<std::pair<os::File, os::File>> pipes;
  RunFibers([&] {
    for (int i = 0; i < 8; i++) pipes.push_back(MustPipe());
    for (auto& p : pipes) {
      Go([r = p.first]() mutable {
        char c;
        (void)r.Read(&c, 1);
        ADD_FAILURE() << "a read nobody ends returned";
      });
    }
    YieldUntil([] { return NetpollWaiters() == 8; });
  });
  // The Files outlive the Run; they work without it, and in the next one.
  ASSERT_TRUE(pipes[0].second.Write("a", 1).ok());
  RunFibers([&] {
    char c;
    EXPECT_TRUE(pipes[0].first.Read(&c, 1).ok());
    Go([w = pipes[1].second]() mutable { EXPECT_TRUE(w.Write("b", 1).ok()); });
    EXPECT_TRUE(pipes[1].first.Read(&c, 1).ok());
    EXPECT_EQ(c, 'b');
  });
  pipes.clear();
}

// Each fiber blocked on its own pipe costs a stack and a poller entry,
// never a thread: at most procs Ms (plus sysmon under Start).
// Two descriptors per pipe: as many as RLIMIT_NOFILE allows, up to 10 000.
TEST_P(FileTest, TenThousandBlockedFibersHoldNoThreads) {
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  int n = testing::UnderSanitizer() ? 1000 : 10000;
  const int room = static_cast<int>((lim.rlim_cur - 256) / 2);
  if (n > room) n = room;
  RunFibers([&] {
    std::vector<std::pair<os::File, os::File>> pipes;
    pipes.reserve(n);
    for (int i = 0; i < n; i++) pipes.push_back(MustPipe());
    sync::WaitGroup wg;
    wg.Add(n);
    std::atomic<int> ok{0};
    for (int i = 0; i < n; i++) {
      Go([&, r = pipes[i].first]() mutable {
        char c;
        if (r.Read(&c, 1).ok()) ok.fetch_add(1);
        wg.Done();
      });
    }
    YieldUntil([&] { return NetpollWaiters() == n; });
    // Every thread the runtime made and has not joined: its Ms (sysmon is
    // the Run thread).
    const int during = runtime::internal::ThreadsInUse();
    EXPECT_LE(during, GetParam() + 2) << "blocked readers are holding threads";
    RecordProperty("threads", during);
    for (auto& p : pipes) ASSERT_TRUE(p.second.Write("!", 1).ok());
    wg.Wait();
    EXPECT_EQ(ok.load(), n);
    for (auto& p : pipes) {
      EXPECT_TRUE(p.first.Close().ok());
      EXPECT_TRUE(p.second.Close().ok());
    }
  });
}

}  // namespace
}  // namespace gort
