// Unit tests of the run queues (runtime/src/runq.cc), driven directly on
// detached Ps without a running runtime: order, runnext and its streak
// bound, overflow to the global queue, stealing, and a concurrent owner with
// thieves in which no G may be lost or seen twice.
#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "for_testing.h"
#include "gtest/gtest.h"

namespace gort::runtime::internal {
namespace {

using fortest::DrainGlobalRunq;
using fortest::NewDetachedP;

std::vector<std::unique_ptr<G>> MakeGs(int n) {
  std::vector<std::unique_ptr<G>> gs;
  for (int i = 0; i < n; i++) {
    gs.push_back(std::make_unique<G>());
    gs.back()->id = static_cast<uint64_t>(i + 1);
  }
  return gs;
}

std::vector<G*> DrainLocal(P* p) {
  std::vector<G*> out;
  while (G* g = RunqGet(p)) out.push_back(g);
  return out;
}

TEST(RunqTest, RunnextFirstThenFifo) {
  auto p = NewDetachedP(0);
  auto gs = MakeGs(4);
  EXPECT_TRUE(RunqEmpty(p.get()));
  for (int i = 0; i < 3; i++) RunqPut(p.get(), gs[i].get(), false);
  RunqPut(p.get(), gs[3].get(), true);
  EXPECT_FALSE(RunqEmpty(p.get()));
  EXPECT_EQ(DrainLocal(p.get()),
            (std::vector<G*>{gs[3].get(), gs[0].get(), gs[1].get(), gs[2].get()}));
  EXPECT_TRUE(RunqEmpty(p.get()));
}

TEST(RunqTest, NewRunnextKicksTheOldOneToTheTail) {
  auto p = NewDetachedP(0);
  auto gs = MakeGs(3);
  RunqPut(p.get(), gs[0].get(), false);
  RunqPut(p.get(), gs[1].get(), true);
  RunqPut(p.get(), gs[2].get(), true);
  EXPECT_EQ(DrainLocal(p.get()), (std::vector<G*>{gs[2].get(), gs[0].get(), gs[1].get()}));
}

// Two fibers readying each other always land in runnext; after
// kMaxRunnextStreak picks in a row the queue's head must get its turn.
TEST(RunqTest, RunnextStreakIsBounded) {
  auto p = NewDetachedP(0);
  auto gs = MakeGs(2);
  G* waiting = gs[0].get();
  G* pingpong = gs[1].get();
  RunqPut(p.get(), waiting, false);
  uint32_t picks = 0;
  for (;;) {
    RunqPut(p.get(), pingpong, true);
    G* g = RunqGet(p.get());
    if (g == waiting) break;
    ASSERT_EQ(g, pingpong);
    ASSERT_LE(++picks, kMaxRunnextStreak);
  }
  EXPECT_EQ(picks, kMaxRunnextStreak);
  EXPECT_EQ(RunqGet(p.get()), pingpong);  // still there, taken once the queue is empty
  EXPECT_TRUE(RunqEmpty(p.get()));
}

TEST(RunqTest, OverflowMovesHalfAndTheNewGToTheGlobalQueue) {
  auto p = NewDetachedP(0);
  auto scratch = NewDetachedP(1);
  auto gs = MakeGs(static_cast<int>(kRunqSize) + 1);
  for (auto& g : gs) RunqPut(p.get(), g.get(), false);
  std::vector<G*> global = DrainGlobalRunq(scratch.get());
  std::vector<G*> local = DrainLocal(p.get());
  ASSERT_EQ(global.size(), kRunqSize / 2 + 1);
  ASSERT_EQ(local.size(), kRunqSize / 2);
  // The oldest half went first, then the G that did not fit; the rest stays.
  for (uint32_t i = 0; i < kRunqSize / 2; i++) EXPECT_EQ(global[i], gs[i].get());
  EXPECT_EQ(global.back(), gs.back().get());
  for (uint32_t i = 0; i < kRunqSize / 2; i++) EXPECT_EQ(local[i], gs[kRunqSize / 2 + i].get());
  EXPECT_TRUE(RunqEmpty(scratch.get()));
}

TEST(RunqTest, StealTakesTheOlderHalf) {
  auto victim = NewDetachedP(0);
  auto thief = NewDetachedP(1);
  auto gs = MakeGs(10);
  for (auto& g : gs) RunqPut(victim.get(), g.get(), false);
  G* got = RunqSteal(thief.get(), victim.get(), false);
  // Five taken: four onto the thief's queue, the last one returned to run.
  EXPECT_EQ(got, gs[4].get());
  EXPECT_EQ(DrainLocal(thief.get()),
            (std::vector<G*>{gs[0].get(), gs[1].get(), gs[2].get(), gs[3].get()}));
  std::vector<G*> rest = DrainLocal(victim.get());
  ASSERT_EQ(rest.size(), 5u);
  for (int i = 0; i < 5; i++) EXPECT_EQ(rest[i], gs[5 + i].get());
}

TEST(RunqTest, RunnextIsStolenOnlyWhenAsked) {
  auto victim = NewDetachedP(0);
  auto thief = NewDetachedP(1);
  auto gs = MakeGs(1);
  RunqPut(victim.get(), gs[0].get(), true);
  EXPECT_EQ(RunqSteal(thief.get(), victim.get(), false), nullptr);
  EXPECT_EQ(RunqSteal(thief.get(), victim.get(), true), gs[0].get());
  EXPECT_TRUE(RunqEmpty(victim.get()));
  EXPECT_TRUE(RunqEmpty(thief.get()));
}

TEST(RunqTest, EmptyQueueGivesNothingToSteal) {
  auto victim = NewDetachedP(0);
  auto thief = NewDetachedP(1);
  EXPECT_EQ(RunqSteal(thief.get(), victim.get(), true), nullptr);
  EXPECT_EQ(RunqGet(victim.get()), nullptr);
}

// The owner pushes (overflowing now and then) and pops while two thieves
// steal into their own Ps and run what they stole. Every G must come out
// exactly once, wherever it went.
TEST(RunqTest, ConcurrentOwnerAndThievesLoseAndDuplicateNothing) {
  constexpr int kN = 30000;
  auto gs = MakeGs(kN);
  auto owner = NewDetachedP(0);
  std::unique_ptr<P> thieves[2] = {NewDetachedP(1), NewDetachedP(2)};
  std::vector<std::atomic<int>> seen(kN);
  std::atomic<bool> done{false};
  auto take = [&](G* g) { seen[g->id - 1].fetch_add(1, std::memory_order_relaxed); };
  std::vector<std::thread> ts;
  for (auto& t : thieves) {
    P* mine = t.get();
    ts.emplace_back([&, mine] {
      bool last = false;
      while (!last) {
        last = done.load(std::memory_order_acquire);
        if (G* g = RunqSteal(mine, owner.get(), true)) {
          take(g);
          while (G* h = RunqGet(mine)) take(h);
        }
      }
    });
  }
  for (int i = 0; i < kN; i++) {
    RunqPut(owner.get(), gs[i].get(), i % 7 == 0);
    if (i % 3 == 0) {
      if (G* g = RunqGet(owner.get())) take(g);
    }
  }
  done.store(true, std::memory_order_release);
  for (auto& t : ts) t.join();
  for (G* g : DrainLocal(owner.get())) take(g);
  for (G* g : DrainGlobalRunq(owner.get())) take(g);
  int lost = 0, twice = 0;
  for (auto& s : seen) {
    lost += s.load() == 0;
    twice += s.load() > 1;
  }
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(twice, 0);
}

}  // namespace
}  // namespace gort::runtime::internal
