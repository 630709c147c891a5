// The poller (runtime/src/netpoll.cc) through gort::poll::Wait, at procs 1,
// 2, 4 and 8: a waiting fiber parks and leaves its P to others, readiness
// and deadlines and closes wake it, plain threads wait too, fibers parked
// in the poller are unwound at shutdown and are no deadlock. Go:
// internal/poll's tests and runtime's netpoll behaviour.
#include "gort/poll.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "deadlock.h"
#include "gort/sync.h"
#include "netpoll.h"
#include "testing.h"

namespace gort {
namespace {

using runtime::Go;
using runtime::internal::NetpollWaiters;
using testing::ProcsTest;
using testing::YieldUntil;

class PollTest : public ProcsTest {};
GORT_INSTANTIATE_PROCS(PollTest);

struct Pipe {
  int r = -1, w = -1;
  explicit Pipe(int flags = 0) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC | flags), 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
};

void WriteByte(int fd, char c = 'x') { ASSERT_EQ(write(fd, &c, 1), 1); }

char ReadByte(int fd) {
  char c = 0;
  EXPECT_EQ(read(fd, &c, 1), 1);
  return c;
}

// A fiber waiting for a descriptor parks: the main fiber goes on running
// on the same P (at procs 1, the only one) and is the one that makes the
// descriptor ready.
TEST_P(PollTest, WaitingParksAndLeavesThePToOthers) {
  RunFibers([] {
    Pipe p;
    std::atomic<bool> woke{false};
    absl::Status st;
    Go([&] {
      st = poll::Wait(p.r, poll::kReadable);
      woke = true;
    });
    YieldUntil([] { return NetpollWaiters() == 1; });  // parked in the poller
    // The P is ours while it waits: do some work that needs it.
    std::atomic<int> ran{0};
    sync::WaitGroup wg;
    for (int i = 0; i < 100; i++) {
      wg.Add(1);
      Go([&] {
        ran.fetch_add(1);
        wg.Done();
      });
    }
    wg.Wait();
    EXPECT_EQ(ran.load(), 100);
    EXPECT_FALSE(woke.load());
    WriteByte(p.w, 'a');
    YieldUntil([&] { return woke.load(); });
    EXPECT_TRUE(st.ok()) << st;
    EXPECT_EQ(ReadByte(p.r), 'a');
  });
}

TEST_P(PollTest, ReadyAlreadyReturnsAtOnce) {
  RunFibers([] {
    Pipe p;
    WriteByte(p.w);
    EXPECT_TRUE(poll::Wait(p.r, poll::kReadable).ok());
    EXPECT_TRUE(poll::Wait(p.w, poll::kWritable).ok());
    EXPECT_TRUE(poll::Wait(p.r, poll::kReadable | poll::kWritable).ok());
    // Still readable (nothing was read): level, not edge, for the caller.
    EXPECT_TRUE(poll::Wait(p.r, poll::kReadable).ok());
    EXPECT_EQ(fcntl(p.r, F_GETFL) & O_NONBLOCK, O_NONBLOCK) << "the fd is made non-blocking";
  });
}

TEST_P(PollTest, DeadlineGivesIoTimeout) {
  RunFibers([] {
    Pipe p;
    absl::Status st = poll::Wait(p.r, poll::kReadable, absl::Now() + absl::Milliseconds(5));
    EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(st.message(), "i/o timeout");
    // A deadline already past fails at once; a ready fd still wins.
    st = poll::Wait(p.r, poll::kReadable, absl::Now() - absl::Seconds(1));
    EXPECT_EQ(st.message(), "i/o timeout");
    WriteByte(p.w);
    EXPECT_TRUE(poll::Wait(p.r, poll::kReadable, absl::Now() - absl::Seconds(1)).ok());
    EXPECT_EQ(NetpollWaiters(), 0);
  });
}

// Readiness before the deadline: the deadline's timer is withdrawn.
TEST_P(PollTest, ReadyBeforeTheDeadline) {
  RunFibers([] {
    Pipe p;
    sync::WaitGroup wg;  // the writer is done with p before p closes
    wg.Add(1);
    Go([&] {
      WriteByte(p.w);
      wg.Done();
    });
    EXPECT_TRUE(poll::Wait(p.r, poll::kReadable, absl::Now() + absl::Hours(1)).ok());
    wg.Wait();
  });
}

TEST_P(PollTest, CloseWakesAWaiterWithUseOfClosedFile) {
  RunFibers([] {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    absl::Status st;
    std::atomic<bool> woke{false};
    Go([&] {
      st = poll::Wait(fds[0], poll::kReadable);
      woke = true;
    });
    YieldUntil([] { return NetpollWaiters() == 1; });
    EXPECT_TRUE(poll::Close(fds[0]).ok());
    YieldUntil([&] { return woke.load(); });
    EXPECT_EQ(st.message(), "use of closed file");
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
    close(fds[1]);
  });
}

TEST_P(PollTest, ABadDescriptorIsAnError) {
  RunFibers([] {
    absl::Status st = poll::Wait(-1, poll::kReadable);
    EXPECT_EQ(st.message(), "poll: wait fd -1: bad file descriptor");
    EXPECT_THROW((void)poll::Wait(0, 0), Panic);
    EXPECT_THROW((void)poll::Wait(0, 4), Panic);
  });
}

// Plain threads wait too: inside Run they sleep on the poller (and a close
// wakes them); outside Run, in poll(2).
TEST_P(PollTest, PlainThreadsWait) {
  RunFibers([] {
    Pipe p;
    absl::Status st;
    std::thread t([&] { st = poll::Wait(p.r, poll::kReadable); });
    YieldUntil([] { return NetpollWaiters() == 1; });
    WriteByte(p.w);
    t.join();
    EXPECT_TRUE(st.ok()) << st;

    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    std::thread t2([&] { st = poll::Wait(fds[0], poll::kReadable); });
    YieldUntil([] { return NetpollWaiters() == 1; });
    EXPECT_TRUE(poll::Close(fds[0]).ok());
    t2.join();
    EXPECT_EQ(st.message(), "use of closed file");
    close(fds[1]);

    // A thread's deadline.
    std::thread t3(
        [&] { st = poll::Wait(p.w, poll::kReadable, absl::Now() + absl::Milliseconds(2)); });
    t3.join();
    EXPECT_EQ(st.message(), "i/o timeout");
  });
}

TEST(PollOutsideRunTest, AThreadWaitsInPoll) {
  Pipe p;
  EXPECT_EQ(poll::Wait(p.r, poll::kReadable, absl::Now() + absl::Milliseconds(1)).message(),
            "i/o timeout");
  std::thread t([&] { WriteByte(p.w); });
  EXPECT_TRUE(poll::Wait(p.r, poll::kReadable).ok());
  t.join();
}

// Two fibers bounce one byte through two pipes (the benchmark's shape).
TEST_P(PollTest, PipePingPong) {
  RunFibers([] {
    Pipe ab(O_NONBLOCK), ba(O_NONBLOCK);  // read first, wait on EAGAIN
    const int rounds = testing::UnderSanitizer() ? 200 : 2000;
    auto bounce = [](int in, int out, int n, bool first) {
      for (int i = 0; i < n; i++) {
        if (!first || i > 0) {
          char c;
          while (read(in, &c, 1) != 1) ASSERT_TRUE(poll::Wait(in, poll::kReadable).ok());
        }
        WriteByte(out);
      }
    };
    sync::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      bounce(ab.r, ba.w, rounds, false);
      wg.Done();
    });
    bounce(ba.r, ab.w, rounds, true);
    char c;
    while (read(ba.r, &c, 1) != 1) ASSERT_TRUE(poll::Wait(ba.r, poll::kReadable).ok());
    wg.Wait();
  });
}

// Counts the fibers whose stack was unwound (or that ended) through it.
struct CountOnExit {
  std::atomic<int>* n;
  ~CountOnExit() { n->fetch_add(1); }
};

// Main returns while fibers wait in the poller, some with a deadline: they
// are unwound, their waits leave no trace, and the next Run starts clean.
TEST_P(PollTest, ShutdownUnwindsFibersParkedInThePoller) {
  std::vector<std::unique_ptr<Pipe>> pipes;
  for (int i = 0; i < 8; i++) pipes.push_back(std::make_unique<Pipe>());
  std::atomic<int> unwound{0};
  RunFibers([&] {
    for (int i = 0; i < 8; i++) {
      int fd = pipes[i]->r;
      Go([&, fd, i] {
        CountOnExit c{&unwound};
        absl::Time dl = i % 2 == 0 ? absl::InfiniteFuture() : absl::Now() + absl::Hours(1);
        (void)poll::Wait(fd, poll::kReadable, dl);
        ADD_FAILURE() << "a wait nobody ends returned";
      });
    }
    YieldUntil([] { return NetpollWaiters() == 8; });
  });
  EXPECT_EQ(unwound.load(), 8);
  EXPECT_EQ(NetpollWaiters(), 0);
  // Run again: the same descriptors register with the new poller.
  RunFibers([&] {
    Go([&] { WriteByte(pipes[0]->w); });
    EXPECT_TRUE(poll::Wait(pipes[0]->r, poll::kReadable).ok());
  });
  pipes.clear();
}

// Fibers that wait on descriptors nobody in the process writes are not a
// deadlock (Go: goroutines in the netpoller keep checkdead quiet): a thread
// that never touches the runtime makes them ready after the deadlock grace
// period has passed several times over. Were the state reported, the
// process would die here.
TEST_P(PollTest, FibersWaitingOnDescriptorsAreNoDeadlock) {
  Pipe p;
  std::thread writer;
  RunFibers([&] {
    sync::WaitGroup wg;
    for (int i = 0; i < 4; i++) {
      wg.Add(1);
      Go([&] {
        EXPECT_TRUE(poll::Wait(p.r, poll::kReadable).ok());
        wg.Done();
      });
    }
    YieldUntil([] { return NetpollWaiters() == 4; });
    writer = std::thread([&] {
      usleep(3 * runtime::internal::kDeadlockGraceNs / 1000);
      WriteByte(p.w);
    });
    wg.Wait();  // main parks too: every fiber asleep, only the poller can help
  });
  writer.join();
}

}  // namespace
}  // namespace gort
