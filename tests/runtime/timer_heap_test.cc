// Unit tests of the timer heap primitives (runtime/src/timers.cc): heap
// order on `when`, every node's index equal to its position, after pushes
// and after removals from anywhere.
#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "for_testing.h"
#include "gtest/gtest.h"

namespace gort::runtime::internal {
namespace {

::testing::AssertionResult IsHeap(const std::vector<TimerNode*>& h) {
  for (size_t i = 0; i < h.size(); i++) {
    if (h[i]->index != static_cast<int>(i)) {
      return ::testing::AssertionFailure() << "node at " << i << " says index " << h[i]->index;
    }
    if (i > 0 && h[i]->when < h[(i - 1) / 2]->when) {
      return ::testing::AssertionFailure() << "node at " << i << " is earlier than its parent";
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::unique_ptr<TimerNode>> RandomNodes(int n, std::mt19937_64& rng, int64_t range) {
  std::vector<std::unique_ptr<TimerNode>> nodes;
  std::uniform_int_distribution<int64_t> when(1, range);
  for (int i = 0; i < n; i++) {
    nodes.push_back(std::make_unique<TimerNode>());
    nodes.back()->when = when(rng);
  }
  return nodes;
}

TEST(TimerHeapTest, PopsInDeadlineOrder) {
  std::mt19937_64 rng(1);
  auto nodes = RandomNodes(1000, rng, 1'000'000);
  std::vector<TimerNode*> h;
  for (auto& n : nodes) {
    TimerHeapPush(h, n.get());
    ASSERT_TRUE(IsHeap(h));
  }
  std::vector<int64_t> popped;
  while (!h.empty()) {
    popped.push_back(h[0]->when);
    TimerHeapRemoveAt(h, 0);
    ASSERT_TRUE(IsHeap(h));
  }
  EXPECT_EQ(popped.size(), nodes.size());
  EXPECT_TRUE(std::is_sorted(popped.begin(), popped.end()));
}

// Stop and Reset remove a timer from wherever it sits.
TEST(TimerHeapTest, RemovalFromAnywhereKeepsTheHeap) {
  std::mt19937_64 rng(2);
  auto nodes = RandomNodes(500, rng, 1000);  // many equal deadlines
  std::vector<TimerNode*> h;
  for (auto& n : nodes) TimerHeapPush(h, n.get());
  std::vector<TimerNode*> removed;
  while (h.size() > 1) {
    std::uniform_int_distribution<size_t> at(0, h.size() - 1);
    TimerNode* victim = h[at(rng)];
    TimerHeapRemoveAt(h, victim->index);
    removed.push_back(victim);
    ASSERT_TRUE(IsHeap(h));
    ASSERT_EQ(std::count(h.begin(), h.end(), victim), 0);
  }
  EXPECT_EQ(removed.size() + h.size(), nodes.size());
}

TEST(TimerHeapTest, RemovingTheLastNodeLeavesTheRestAlone) {
  std::vector<std::unique_ptr<TimerNode>> nodes;
  std::vector<TimerNode*> h;
  for (int64_t w : {5, 3, 9, 1}) {
    nodes.push_back(std::make_unique<TimerNode>());
    nodes.back()->when = w;
    TimerHeapPush(h, nodes.back().get());
  }
  EXPECT_EQ(h[0]->when, 1);
  TimerHeapRemoveAt(h, static_cast<int>(h.size()) - 1);
  EXPECT_TRUE(IsHeap(h));
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0]->when, 1);
}

}  // namespace
}  // namespace gort::runtime::internal
