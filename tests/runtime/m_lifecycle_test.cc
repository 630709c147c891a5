// Regression tests for three races in the M lifecycle, each forced by
// holding one thread at a named point (SetMHookForTesting) while the other
// side runs into the window:
//   1. Shutdown joined an M whose thread did not exist yet (queued for
//      sysmon, the template): pthread_join on a zero pthread_t. Fixed by marking
//      each M `created` and waiting for all of them before joining.
//   2. A new M ran, and could exit and be joined and freed, before its
//      creator had written m->thread. Fixed by MStart waiting for `created`.
//   3. Shutdown freed an exited M while another M, on its way out, still
//      handed it a P (StartLockedM): use after free. Fixed by joining every
//      M before freeing any.
// Without the fixes, 1 and 3 fail under the sanitizers (and 3 under ASan
// only); 2 fails in every build.
#include <atomic>
#include <thread>

#include "for_testing.h"
#include "gort/chan.h"
#include "gort/internal/runtime_support.h"
#include "gort/runtime.h"
#include "gtest/gtest.h"
#include "mthread.h"
#include "testing.h"

namespace gort {
namespace {

using runtime::internal::M;
using runtime::internal::MHookPoint;
using runtime::internal::SetMHookForTesting;

// The hook of the running test: a plain function pointer calls through this.
std::function<void(MHookPoint, M*, M*)> current_hook;
void CallCurrentHook(MHookPoint point, M* a, M* b) {
  if (current_hook) current_hook(point, a, b);
}

class MLifecycleTest : public ::testing::Test {
 protected:
  void TearDown() override {
    SetMHookForTesting(nullptr);
    current_hook = nullptr;
  }
  void SetHook(std::function<void(MHookPoint, M*, M*)> h) {
    current_hook = std::move(h);
    SetMHookForTesting(&CallCurrentHook);
  }
};

// Waits (yielding the thread) until pred holds or about 10 s passed.
template <class Pred>
bool SpinUntil(Pred pred) {
  for (int i = 0; i < 100000 && !pred(); i++)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  return pred();
}

// 1. sysmon, in its template role, is held before it creates a queued M's
// thread until shutdown has begun: shutdown must wait for that thread to
// exist before it joins anything. (Under Start, where sysmon has a thread of
// its own and Stop comes from a plain thread; under Run, sysmon is the
// thread that shuts down, and serves the queue first.)
TEST_F(MLifecycleTest, ShutdownWaitsForAnMStillQueuedForSysmon) {
  std::atomic<int> held{0};
  std::atomic<bool> armed{false};  // the start-up M goes through it too
  SetHook([&](MHookPoint point, M*, M*) {
    if (point != MHookPoint::kTemplateBeforeCreate || !armed.load()) return;
    held.fetch_add(1);
    SpinUntil([] { return runtime::internal::ShuttingDown(); });
  });
  runtime::Options o;
  o.procs = 1;
  ASSERT_TRUE(runtime::Start(o).ok());
  std::atomic<bool> asked{false};
  runtime::Go([&] {
    // One P, one M (ours). An M locked by the user asks sysmon for new Ms:
    // a second P needs one, and there is no idle M to take it.
    runtime::LockOSThread();
    armed = true;
    runtime::GOMAXPROCS(2);
    asked = true;
    // End at once, with that M still queued.
  });
  ASSERT_TRUE(SpinUntil([&] { return held.load() == 1 && asked.load(); }));
  ASSERT_TRUE(runtime::Stop().ok());
  EXPECT_EQ(held.load(), 1) << "the new M did not go through sysmon";
  SetMHookForTesting(nullptr);
  runtime::Run([] {});  // and the runtime starts again
}

// 1b. Under Run an M locked by the runtime (a process waiter, a reaper)
// clones new Ms itself; only the user's lock sends them to sysmon.
TEST_F(MLifecycleTest, OnlyTheUsersLockSendsNewMsToSysmon) {
  std::atomic<int> via_sysmon{0}, created{0};
  std::atomic<bool> armed{false};
  SetHook([&](MHookPoint point, M*, M*) {
    if (!armed.load()) return;
    if (point == MHookPoint::kTemplateBeforeCreate) via_sysmon.fetch_add(1);
    if (point == MHookPoint::kAfterThreadCreate) created.fetch_add(1);
  });
  runtime::Options o;
  o.procs = 1;
  runtime::Run(
      [&] {
        runtime::internal::LockOSThreadInternal();
        armed = true;
        runtime::GOMAXPROCS(2);  // a new M for the second P, cloned here
        Chan<int> c(0);
        runtime::Go([c] { c.Send(1); });
        c.Recv();
        runtime::internal::UnlockOSThreadInternal();
      },
      o);
  EXPECT_GE(created.load(), 1) << "no M was made while locked: the test shows nothing";
  EXPECT_EQ(via_sysmon.load(), 0);
}

// 2. The creator is held between pthread_create and marking the M created:
// the new thread must not have started running its M meanwhile.
TEST_F(MLifecycleTest, NewMWaitsUntilItsCreatorIsDone) {
  std::atomic<int> held{0}, ran_early{0};
  SetHook([&](MHookPoint point, M* m, M*) {
    if (point != MHookPoint::kAfterThreadCreate) return;
    held.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (m->tid != 0) ran_early.fetch_add(1);  // InitMThread ran: the M was live
  });
  runtime::Options o;
  o.procs = 2;
  runtime::Run(
      [] {
        Chan<int> c(0);
        for (int i = 0; i < 8; i++) runtime::Go([c] { c.Send(1); });
        for (int i = 0; i < 8; i++) c.Recv();
      },
      o);
  EXPECT_GE(held.load(), 1);
  EXPECT_EQ(ran_early.load(), 0);
}

// 3. M A found a G locked to M B and is about to hand B its P
// (StartLockedM) when shutdown begins: A is held until B has woken, left its
// loop and exited (and, before the fix, been joined and freed). A's hand-over
// must still find B's memory.
TEST_F(MLifecycleTest, ExitedMOutlivesAHandOverToItDuringShutdown) {
  std::atomic<M*> locked_m{nullptr};
  std::atomic<runtime::internal::G*> locked_g{nullptr};
  std::atomic<bool> armed{false};  // only the hand-over after wake_f.Send
  std::atomic<bool> hook_entered{false};
  std::atomic<int> saw_exit{0};
  SetHook([&](MHookPoint point, M*, M* target) {
    if (point != MHookPoint::kBeforeStartLockedM || !armed.load() || target != locked_m.load()) {
      return;
    }
    if (hook_entered.exchange(true)) return;
    // Shutdown begins once the main fiber returns (released by the thread
    // below); then B wakes, sees it and exits.
    if (SpinUntil([&] { return runtime::internal::fortest::Exited(target); }))
      saw_exit.fetch_add(1);
  });
  runtime::Options o;
  o.procs = 2;
  std::thread releaser;
  runtime::Run(
      [&] {
        // locked_ready is buffered, so that F never needs handing back to B
        // before the hand-over under test.
        Chan<int> locked_ready(1), wake_f(0), go_on(1);
        runtime::Go([&, locked_ready, wake_f] {
          runtime::LockOSThread();
          locked_m = runtime::internal::fortest::CurrentM();
          locked_g = runtime::internal::GetG();
          locked_ready.Send(1);
          wake_f.Recv();  // B sleeps with its G parked (StopLockedM)
        });
        locked_ready.Recv();
        // F parked in wake_f.Recv: from now on, the only hand-over to B is
        // the one wake_f.Send starts.
        testing::YieldUntil(
            [&] { return locked_g.load()->status.load() == runtime::internal::GStatus::kWaiting; });
        armed = true;
        releaser = std::thread([&, go_on] {
          SpinUntil([&] { return hook_entered.load(); });
          go_on.Send(1);  // from a plain thread: main runs on another P
        });
        wake_f.Send(1);  // F is readied onto our P, locked to B
        go_on.Recv();    // we park: our M finds F and must hand it to B
      },
      o);
  releaser.join();
  EXPECT_TRUE(hook_entered.load()) << "the hand-over to the locked M never happened";
  EXPECT_EQ(saw_exit.load(), hook_entered.load() ? 1 : 0);
}

}  // namespace
}  // namespace gort
