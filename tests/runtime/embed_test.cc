// runtime::Start / Stop / ScopedRuntime / Unwinding: a host that keeps its
// own main thread while the scheduler runs in the background. Each test
// starts the runtime at 1, 2, 4 and 8 Ps from the test's own (plain) thread;
// the fixture fails if Stop leaves threads, descriptors or fibers behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gort/chan.h"
#include "gort/runtime.h"
#include "gort/sync.h"
#include "gort/time.h"
#include "testing.h"

namespace gort {
namespace {

using testing::ProcsTest;

class EmbedTest : public ProcsTest {
 protected:
  runtime::Options Opts() { return {.procs = GetParam()}; }
};

// The host thread starts fibers, talks to them over channels and waits for
// them, then stops the runtime; twice, since Start may follow Stop.
TEST_P(EmbedTest, HostThreadDrivesFibers) {
  for (int round = 0; round < 2; round++) {
    ASSERT_TRUE(runtime::Start(Opts()).ok());
    Chan<int> in(0), out(4);
    sync::WaitGroup wg;
    constexpr int kWorkers = 8, kItems = 200;
    for (int w = 0; w < kWorkers; w++) {
      wg.Add(1);
      runtime::Go([&] {
        while (std::optional<int> v = in.Recv()) out.Send(*v * 2);
        wg.Done();
      });
    }
    long sum = 0;
    std::thread feeder([&] {
      for (int i = 0; i < kItems; i++) in.Send(i);
      in.Close();
    });
    for (int i = 0; i < kItems; i++) sum += *out.Recv();
    feeder.join();
    wg.Wait();  // the host thread waits for fibers
    EXPECT_EQ(sum, 2L * kItems * (kItems - 1) / 2);
    ASSERT_TRUE(runtime::Stop().ok());
  }
}

// Select and timers from the host thread while the runtime runs.
TEST_P(EmbedTest, HostSelectsWithTimeout) {
  ASSERT_TRUE(runtime::Start(Opts()).ok());
  Chan<int> never;
  Chan<int> later(1);
  runtime::Go([later] {
    time::Sleep(absl::Milliseconds(5));
    later.Send(7);
  });
  std::optional<int> v;
  std::size_t i = Select(OnRecv(never, &v), OnRecv(time::After(absl::Milliseconds(1)), nullptr));
  EXPECT_EQ(i, 1u);
  i = Select(OnRecv(later, &v), OnRecv(time::After(absl::Seconds(30)), nullptr));
  EXPECT_EQ(i, 0u);
  EXPECT_EQ(v, 7);
  ASSERT_TRUE(runtime::Stop().ok());
}

// Nothing is runnable for a while and the host is busy elsewhere: with
// Start that is no deadlock (Go's c-archive rule); the host then readies
// the parked fibers.
TEST_P(EmbedTest, ParkedFibersAreNoDeadlock) {
  ASSERT_TRUE(runtime::Start(Opts()).ok());
  Chan<int> go_on(0);
  sync::WaitGroup wg;
  for (int i = 0; i < 4; i++) {
    wg.Add(1);
    runtime::Go([&] {
      go_on.Recv();
      wg.Done();
    });
  }
  usleep(300 * 1000);  // past the 100 ms deadlock confirmation
  for (int i = 0; i < 4; i++) go_on.Send(i);
  wg.Wait();
  ASSERT_TRUE(runtime::Stop().ok());
}

struct Probe {
  std::atomic<int>* destroyed;
  std::atomic<int>* unwinding;
  ~Probe() {
    destroyed->fetch_add(1);
    if (runtime::Unwinding()) unwinding->fetch_add(1);
  }
};

// Stop unwinds fibers still parked or runnable, as Run's return does, and
// Unwinding() tells their destructors so.
TEST_P(EmbedTest, StopUnwindsParkedFibers) {
  ASSERT_TRUE(runtime::Start(Opts()).ok());
  std::atomic<int> destroyed{0}, unwinding{0}, parked{0};
  Chan<int> never(0);
  sync::Mutex mu;
  mu.Lock();
  constexpr int kFibers = 20;
  for (int i = 0; i < kFibers; i++) {
    runtime::Go([&, i] {
      Probe p{&destroyed, &unwinding};
      parked.fetch_add(1);
      if (i % 3 == 0) {
        never.Recv();
      } else if (i % 3 == 1) {
        std::lock_guard<sync::Mutex> l(mu);
      } else {
        time::Sleep(absl::Hours(1));
      }
      ADD_FAILURE() << "fiber " << i << " resumed normally";
    });
  }
  while (parked.load() < kFibers) usleep(100);
  usleep(2000);  // let them reach their park points
  EXPECT_GE(runtime::NumGoroutine(), kFibers);
  ASSERT_TRUE(runtime::Stop().ok());
  EXPECT_EQ(destroyed.load(), kFibers);
  EXPECT_EQ(unwinding.load(), kFibers);
  EXPECT_EQ(runtime::NumGoroutine(), 0);
  mu.Unlock();
}

// A panic (any exception of the fiber's own) is not the shutdown unwind;
// Goexit is an unwind.
TEST_P(EmbedTest, UnwindingTellsShutdownAndGoexitFromExceptions) {
  ASSERT_TRUE(runtime::Start(Opts()).ok());
  std::atomic<int> destroyed{0}, unwinding{0};
  sync::WaitGroup wg;
  wg.Add(2);
  bool outside = true;
  runtime::Go([&] {
    outside = runtime::Unwinding();
    try {
      Probe p{&destroyed, &unwinding};
      throw std::runtime_error("boom");
    } catch (const std::runtime_error&) {
    }
    wg.Done();
  });
  runtime::Go([&] {
    struct Done {
      sync::WaitGroup* wg;
      ~Done() { wg->Done(); }
    } done{&wg};
    Probe p{&destroyed, &unwinding};
    runtime::Goexit();
  });
  wg.Wait();
  EXPECT_FALSE(outside);
  EXPECT_EQ(destroyed.load(), 2);
  EXPECT_EQ(unwinding.load(), 1);      // Goexit's only
  EXPECT_FALSE(runtime::Unwinding());  // a plain thread
  ASSERT_TRUE(runtime::Stop().ok());
}

TEST_P(EmbedTest, MisuseIsAnError) {
  absl::Status st = runtime::Stop();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  st = runtime::Start({.procs = -1});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_EQ(st.message(),
            "gort: runtime::Start: Options::procs is -1; want 0 (the default) or 1..1024");
  ASSERT_TRUE(runtime::Start(Opts()).ok());
  st = runtime::Start(Opts());
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THROW(runtime::Run([] {}), Panic);
  Chan<absl::Status> from_fiber(1);
  runtime::Go([&] {
    from_fiber.Send(runtime::Stop());
    from_fiber.Send(runtime::Start());
  });
  st = *from_fiber.Recv();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_EQ(st.message(),
            "gort: runtime::Stop called from a fiber (it would wait for itself; call it from a "
            "plain thread)");
  st = *from_fiber.Recv();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  ASSERT_TRUE(runtime::Stop().ok());
  st = runtime::Stop();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  try {
    runtime::Go([] {});
    ADD_FAILURE() << "Go after Stop did not throw";
  } catch (const Panic& p) {
    EXPECT_NE(std::string(p.what()).find("not running"), std::string::npos) << p.what();
  }

  // Run's runtime is not Stop's to stop.
  runtime::Run(
      [&] {
        std::thread t([&] { st = runtime::Stop(); });
        t.join();
      },
      Opts());
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
}

TEST_P(EmbedTest, ScopedRuntime) {
  std::atomic<int> ran{0};
  {
    runtime::ScopedRuntime rt(Opts());
    ASSERT_TRUE(rt.status().ok());
    sync::WaitGroup wg;
    wg.Add(1);
    runtime::Go([&] {
      ran++;
      wg.Done();
    });
    wg.Wait();
    runtime::Go([] { Chan<int>().Recv(); });  // unwound by the destructor
  }
  EXPECT_EQ(ran.load(), 1);
  {
    runtime::ScopedRuntime rt(Opts());
    ASSERT_TRUE(rt.status().ok());
    runtime::ScopedRuntime second(Opts());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(rt.Stop().ok());
    EXPECT_FALSE(rt.Stop().ok());
  }
}

// Counts its destruction once, however often it is moved: a fiber's callable
// is destroyed whether the fiber ran, was unwound, or never started.
struct Token {
  std::atomic<int>* f;
  explicit Token(std::atomic<int>* f) : f(f) {}
  Token(Token&& o) noexcept : f(std::exchange(o.f, nullptr)) {}
  Token& operator=(Token&&) = delete;
  ~Token() {
    if (f != nullptr) f->fetch_add(1);
  }
};

// Stop while plain threads keep starting fibers and sending: each Go either
// starts its fiber (which then runs, is unwound, or is dropped before it
// started) or throws the shutdown panic; nothing is lost, nothing crashes.
TEST_P(EmbedTest, StopRacesWithPlainThreads) {
  int rounds = testing::UnderSanitizer() ? 5 : 20;
  for (int r = 0; r < rounds; r++) {
    ASSERT_TRUE(runtime::Start(Opts()).ok());
    std::atomic<int> started{0}, refused{0}, finished{0};
    std::atomic<bool> stop{false};
    Chan<int> sink(64);
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; t++) {
      threads.emplace_back([&] {
        while (!stop.load()) {
          try {
            runtime::Go([&, token = Token{&finished}] {
              sink.TrySend(1);
              runtime::Gosched();
              sink.TryRecv();
            });
            started++;
          } catch (const Panic&) {
            refused++;
            return;
          }
        }
      });
    }
    while (started.load() < 50) usleep(50);
    ASSERT_TRUE(runtime::Stop().ok());
    stop = true;
    for (auto& t : threads) t.join();
    // A refused Go destroys its callable (the caller's temporary) too.
    EXPECT_EQ(finished.load(), started.load() + refused.load());
  }
}

// A fiber blocked in a system-call bracket is waited for by Stop.
TEST_P(EmbedTest, StopWaitsForSystemCalls) {
  ASSERT_TRUE(runtime::Start(Opts()).ok());
  std::atomic<bool> in_call{false}, left{false};
  runtime::Go([&] {
    runtime::BlockingSyscall bracket;
    in_call = true;
    usleep(50 * 1000);
    left = true;
  });
  while (!in_call.load()) usleep(100);
  ASSERT_TRUE(runtime::Stop().ok());
  EXPECT_TRUE(left.load());
}

GORT_INSTANTIATE_PROCS(EmbedTest);

}  // namespace
}  // namespace gort
