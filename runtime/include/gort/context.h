// gort/context.h: Go's context package: cancellation and deadlines that
// flow down a tree of contexts.
//
// A Context is a handle; copies share one node of the tree. Background() is
// the root: never cancelled, no deadline, a nil Done channel. WithCancel,
// WithDeadline and WithTimeout derive a child that is cancelled when its
// CancelFunc is called, when its deadline passes, or when its parent is
// cancelled, whichever comes first. Cancellation closes Done() and sets
// Err() once, to Go's values: absl::CancelledError("context canceled") or
// absl::DeadlineExceededError("context deadline exceeded"); a child
// cancelled by its parent gets the parent's Err. Cancelling a node cancels
// every descendant, each exactly once.
//
// Invariants: a live child is registered in its parent until either of
// them is cancelled (or the child's last handle goes): a child that is
// cancelled unregisters itself, so any number of short-lived children come
// and go under a long-lived parent without growing it. Deadlines ride on
// the runtime's timers (time::Timer::AfterFunc), so a pending deadline
// costs a heap entry, not a fiber or a thread; WithDeadline and WithTimeout
// need the runtime running (else they throw gort::Panic, as timers do).
//
// Ordering: a cancellation happens-before a receive on Done() that returns
// because of it, and before Err() returns the non-OK status.
//
// Everything here may be called from fibers and from plain OS threads, at
// once. Values (Go's WithValue) are not provided.
#ifndef GORT_CONTEXT_H_
#define GORT_CONTEXT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gort/chan.h"

namespace gort::context {

class Context;
namespace context_internal {
struct Node;        // runtime/src/context.cc
struct NodeAccess;  // reaches a Context's node
// The children registered in c's node now (0 for Background). For tests.
std::size_t ChildrenForTesting(const Context& c);
}  // namespace context_internal

// Go's context.Canceled and context.DeadlineExceeded.
absl::Status Canceled();          // absl::CancelledError("context canceled")
absl::Status DeadlineExceeded();  // absl::DeadlineExceededError("context deadline exceeded")

class Context {  // a handle; copies share one node of the tree
 public:
  // Background(). (Go has no usable zero Context; here it is the root.)
  Context() = default;

  // Closed when the context is cancelled or its deadline passes; the nil
  // channel (never ready) for Background, which is never cancelled. Use it
  // in a Select: Select(OnRecv(ctx.Done(), nullptr), ...).
  const Chan<std::monostate>& Done() const;
  // OK while Done() is open; afterwards Canceled() or DeadlineExceeded(),
  // and never changes again.
  absl::Status Err() const;
  // When the context will be cancelled by a deadline: its own or the
  // nearest of its ancestors'. nullopt if none.
  std::optional<absl::Time> Deadline() const;

  // True if both handles share one node (or both are Background).
  friend bool operator==(const Context& a, const Context& b) { return a.node_ == b.node_; }

 private:
  friend struct context_internal::NodeAccess;
  friend std::size_t context_internal::ChildrenForTesting(const Context& c);
  explicit Context(std::shared_ptr<context_internal::Node> n) : node_(std::move(n)) {}
  std::shared_ptr<context_internal::Node> node_;  // null: Background
};

// Cancels its context (and so every descendant) with Canceled(), and
// unregisters it from its parent. Idempotent; callable from any fiber or
// thread. Call it as soon as the work is done, as in Go: a context that is
// never cancelled stays registered in its parent until the parent is
// cancelled or the context's last handle goes.
using CancelFunc = std::function<void()>;

Context Background();
Context TODO();  // Background, for code that has not decided yet (Go's TODO)

// A child of parent that is cancelled by the returned CancelFunc or when
// parent is. If parent is already done, the child is born done with its Err.
std::pair<Context, CancelFunc> WithCancel(Context parent);
// As WithCancel, and cancelled with DeadlineExceeded() at d. If parent's
// deadline is sooner, this is just WithCancel(parent) (the parent's deadline
// will cancel it first); if d has passed, the child is born done.
std::pair<Context, CancelFunc> WithDeadline(Context parent, absl::Time d);
// WithDeadline(parent, absl::Now() + d).
std::pair<Context, CancelFunc> WithTimeout(Context parent, absl::Duration d);

}  // namespace gort::context

#endif  // GORT_CONTEXT_H_
