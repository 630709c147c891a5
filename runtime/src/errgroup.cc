// golang.org/x/sync/errgroup over gort's fibers, WaitGroup, Once, a
// buffered channel as the limit's semaphore, and context.
#include "gort/errgroup.h"

#include <string>

#include "gort/runtime.h"

namespace gort::errgroup {

// Go: (*Group).done.
void Group::Done() {
  if (sem_) sem_.Recv();
  wg_.Done();
}

void Group::Start(std::function<absl::Status()> f) {
  wg_.Add(1);
  try {
    runtime::Go([this, f = std::move(f)]() mutable {
      // Done runs last, also when the fiber is unwound: f (and whatever it
      // captured) and its status are destroyed first, since Wait's caller
      // may own what they refer to as soon as Wait returns.
      struct Finish {
        Group* g;
        ~Finish() { g->Done(); }
      } finish{this};
      std::function<absl::Status()> fn = std::move(f);
      absl::Status st = fn();
      fn = nullptr;
      if (!st.ok()) {
        err_once_.Do([&] {
          err_ = std::move(st);
          if (cancel_) cancel_();
        });
      }
    });
  } catch (...) {  // the fiber was not started: give back what it took
    Done();
    throw;
  }
}

// Go: (*Group).Go.
void Group::Go(std::function<absl::Status()> f) {
  if (sem_) sem_.Send(std::monostate{});
  Start(std::move(f));
}

// Go: (*Group).TryGo.
bool Group::TryGo(std::function<absl::Status()> f) {
  if (sem_ && !sem_.TrySend(std::monostate{})) return false;
  Start(std::move(f));
  return true;
}

// Go: (*Group).SetLimit.
void Group::SetLimit(int n) {
  if (n < 0) {
    sem_ = Chan<std::monostate>();
    return;
  }
  if (std::size_t active = sem_.Len(); active != 0) {
    throw Panic("errgroup: modify limit while " + std::to_string(active) +
                " goroutines in the group are still active");
  }
  sem_ = Chan<std::monostate>(static_cast<std::size_t>(n));
}

// Go: (*Group).Wait.
absl::Status Group::Wait() {
  wg_.Wait();
  if (cancel_) cancel_();
  return err_;
}

std::pair<std::unique_ptr<Group>, context::Context> WithContext(context::Context parent) {
  auto [ctx, cancel] = context::WithCancel(std::move(parent));
  auto g = std::make_unique<Group>();
  g->cancel_ = std::move(cancel);
  return {std::move(g), std::move(ctx)};
}

}  // namespace gort::errgroup
