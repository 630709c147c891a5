// Soak: everything at once for a while. 16 spawner fibers start children
// with random exit codes through all three APIs (StartProcess/WaitProcess by
// pid, Child handles, os::Process), kill some mid-flight, while other fibers
// pass values through channels and selects, re-arm timers and run locked to
// their threads. Every status must arrive exactly once and be the right one,
// and nothing may be left behind: fibers, threads and descriptors (the
// fixture), zombies, wait-map entries, orphans.
//
// No timing assertions. Rounds per spawner: $GORT_SOAK_ROUNDS, else 60 in
// Release and 10 under the sanitizers. The long run:
//   GORT_SOAK_ROUNDS=2000 build/release/tests/process_test --gtest_filter='*SoakTest*'
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gort/chan.h"
#include "gort/os.h"
#include "gort/sync.h"
#include "gort/syscall.h"
#include "gort/time.h"
#include "process_testing.h"

namespace gort {
namespace {

using runtime::Go;
using syscall::Waitmsg;

using testing::kChild;

int SoakRounds() {
  if (const char* env = std::getenv("GORT_SOAK_ROUNDS"); env != nullptr && *env != '\0') {
    return std::max(1, std::atoi(env));
  }
  return testing::UnderSanitizer() ? 10 : 60;
}

// What one spawner saw; checked after Run.
struct Tally {
  std::atomic<int> started{0}, exited_right{0}, killed_right{0}, wrong{0}, errors{0};
  std::atomic<int> extra_deliveries{0};
};

// One child's life through one of the three APIs. `kill`: a sleeper that is
// killed mid-flight; else "exit code".
void OneChild(std::mt19937& rng, Tally& t) {
  const bool kill = rng() % 5 == 0;
  const int code = static_cast<int>(rng() % 126);
  const std::vector<std::string> argv =
      kill ? std::vector<std::string>{kChild, "sleep", "30000"}
           : std::vector<std::string>{kChild, "exit", std::to_string(code)};
  auto check = [&](bool ok, int exit_status, int signal) {
    if (!ok) {
      t.errors.fetch_add(1);
    } else if (kill ? signal == SIGKILL : exit_status == code) {
      (kill ? t.killed_right : t.exited_right).fetch_add(1);
    } else {
      t.wrong.fetch_add(1);
      ADD_FAILURE() << "wrong status: exit " << exit_status << " signal " << signal << " for "
                    << argv[1] << " " << argv[2];
    }
  };
  // The start's result: false (counted as an error) if it failed.
  auto started = [&](const absl::Status& s) {
    if (!s.ok()) {
      ADD_FAILURE() << s;
      t.errors.fetch_add(1);
      return false;
    }
    t.started.fetch_add(1);
    return true;
  };
  Waitmsg w;
  switch (rng() % 3) {
    case 0: {  // by pid
      auto pid = syscall::StartProcess(kChild, argv, {});
      if (!started(pid.status())) return;
      if (kill) EXPECT_TRUE(syscall::Kill(*pid, SIGKILL).ok());
      absl::Status s = syscall::WaitProcess(*pid, &w);
      EXPECT_TRUE(s.ok()) << s;
      check(s.ok(), w.ExitStatus(), w.Signal());
      break;
    }
    case 1: {  // a Child handle, waited twice
      auto c = syscall::StartChild(kChild, argv, {});
      if (!started(c.status())) return;
      if (kill) EXPECT_TRUE(c->Signal(SIGKILL).ok());
      absl::Status s = c->Wait(&w);
      EXPECT_TRUE(s.ok()) << s;
      check(s.ok(), w.ExitStatus(), w.Signal());
      if (c->Wait(&w).ok()) t.extra_deliveries.fetch_add(1);  // exactly once
      break;
    }
    default: {  // os::Process
      auto p = os::StartProcess(kChild, argv, {});
      if (!started(p.status())) return;
      if (kill) EXPECT_TRUE(p->Kill().ok());
      auto st = p->Wait();
      EXPECT_TRUE(st.ok()) << st.status();
      check(st.ok(), st.ok() ? st->ExitCode() : -1, st.ok() ? st->Sys().Signal() : -1);
      if (p->Wait().ok()) t.extra_deliveries.fetch_add(1);
      break;
    }
  }
}

class SoakTest : public testing::ProcsTest {
 protected:
  void TearDown() override {
    EXPECT_EQ(syscall::PendingProcesses(), 0) << "wait-map entries left";
    EXPECT_EQ(syscall::OrphanedProcesses(), 0) << "orphans left";
    EXPECT_EQ(testing::ZombieChildren(), 0) << "zombies left";
    ProcsTest::TearDown();
  }
};
INSTANTIATE_TEST_SUITE_P(Procs, SoakTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return "procs" + std::to_string(info.param); });

TEST_P(SoakTest, EverythingAtOnce) {
  const int rounds = SoakRounds();
  const int spawners = 16;
  Tally t;
  std::atomic<long> chan_items{0}, timer_fires{0}, locked_rounds{0};
  RunFibers([&] {
    std::atomic<bool> stop{false};
    sync::WaitGroup background, spawning;

    // Channel traffic: a ring of four fibers passing a counter through
    // unbuffered and buffered channels, with selects and timeouts.
    std::vector<Chan<long>> ring = {Chan<long>(0), Chan<long>(1), Chan<long>(0), Chan<long>(4)};
    background.Add(4);
    for (int i = 0; i < 4; i++) {
      Go([&, i] {
        Chan<long> in = ring[i], out = ring[(i + 1) % 4];
        if (i == 0) out.Send(0);
        while (!stop.load()) {
          std::optional<long> v;
          std::optional<absl::Time> tick;
          if (Select(OnRecv(in, &v), OnRecv(time::After(absl::Milliseconds(5)), &tick)) == 0) {
            chan_items.fetch_add(1);
            std::optional<absl::Time> tick2;
            Select(OnSend(out, *v + 1), OnRecv(time::After(absl::Milliseconds(50)), &tick2));
          }
        }
        background.Done();
      });
    }
    // Timers re-armed and stopped all the time.
    background.Add(2);
    for (int i = 0; i < 2; i++) {
      Go([&, i] {
        time::Timer timer(absl::Microseconds(100));
        std::mt19937 rng(i);
        while (!stop.load()) {
          if (timer.C().TryRecv().has_value()) timer_fires.fetch_add(1);
          if (rng() % 2) {
            timer.Reset(absl::Microseconds(rng() % 300));
          } else {
            timer.Stop();
          }
          time::Sleep(absl::Microseconds(200));
        }
        background.Done();
      });
    }
    // Locked fibers doing channel work on their own threads.
    background.Add(2);
    for (int i = 0; i < 2; i++) {
      Go([&] {
        runtime::LockOSThread();
        Chan<int> c(1);
        while (!stop.load()) {
          c.Send(1);
          c.Recv();
          locked_rounds.fetch_add(1);
          time::Sleep(absl::Microseconds(300));
        }
        runtime::UnlockOSThread();
        background.Done();
      });
    }
    // The spawners.
    spawning.Add(spawners);
    for (int s = 0; s < spawners; s++) {
      Go([&, s] {
        std::mt19937 rng(static_cast<uint32_t>(s * 7919 + GetParam()));
        for (int r = 0; r < rounds; r++) {
          OneChild(rng, t);
          if (rng() % 4 == 0) runtime::Gosched();
        }
        spawning.Done();
      });
    }
    spawning.Wait();
    stop = true;
    background.Wait();
  });
  EXPECT_EQ(t.started.load(), spawners * rounds);
  EXPECT_EQ(t.exited_right.load() + t.killed_right.load(), t.started.load())
      << "every status delivered and right";
  EXPECT_EQ(t.wrong.load(), 0);
  EXPECT_EQ(t.errors.load(), 0);
  EXPECT_EQ(t.extra_deliveries.load(), 0) << "a status was delivered twice";
  RecordProperty("children", t.started.load());
  RecordProperty("killed", t.killed_right.load());
  RecordProperty("chan_items", static_cast<int>(chan_items.load()));
  RecordProperty("timer_fires", static_cast<int>(timer_fires.load()));
  RecordProperty("locked_rounds", static_cast<int>(locked_rounds.load()));
}

}  // namespace
}  // namespace gort
