// Go's context (context.go's cancelCtx and timerCtx) over gort's channels
// and timers.
//
// The tree: each derived context is a Node holding a strong reference to
// its parent node (Deadline and cancellation need it) and registered in the
// parent's `children` by raw pointer. A child leaves that set when it is
// cancelled (its CancelFunc, its deadline) or destroyed, so the parent
// never holds a dangling pointer and never grows with dead children; the
// parent's cancel takes a strong reference to each child under its lock
// (weak_from_this: a child whose destructor has started yields none, and
// that destructor waits on the parent's lock to unregister).
//
// Lock order: a parent's `mu` is never held while a child's is taken: a
// cancel collects the children under its own lock and cancels them after
// releasing it (Go holds both; here a child's last reference may be
// dropped in the loop, and its destructor takes the parent's lock). Below
// a node's `mu`: the Done channel's lock and the deadline timer's lock.
// `mu` is a runtime Lock, never held across a park: node destructors may
// run while shutdown unwinds fibers, when parking is fatal.
#include "gort/context.h"

#include <unordered_set>
#include <vector>

#include "futex.h"
#include "gort/time.h"

namespace gort::context {

using runtime::internal::Lock;
using runtime::internal::LockGuard;

absl::Status Canceled() { return absl::CancelledError("context canceled"); }
absl::Status DeadlineExceeded() { return absl::DeadlineExceededError("context deadline exceeded"); }

namespace context_internal {

struct Node : std::enable_shared_from_this<Node> {
  Node(std::shared_ptr<Node> p, std::optional<absl::Time> d)
      : parent(std::move(p)), deadline(d), done(0) {}
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  ~Node() {
    std::unique_ptr<time::Timer> t;
    {
      LockGuard l(mu);
      t = std::move(timer);
    }
    if (t != nullptr) t->Stop();  // an AfterFunc timer is not stopped by its destructor
    if (parent != nullptr) parent->RemoveChild(this);
  }

  // Go: (*cancelCtx).cancel. Idempotent: only the first call sets err.
  // A node cancelled by its own CancelFunc or deadline leaves its parent
  // first (Go does it last): whoever sees Done() closed then finds it gone.
  void Cancel(bool remove_from_parent, const absl::Status& why) {
    if (remove_from_parent && parent != nullptr) parent->RemoveChild(this);
    std::vector<std::shared_ptr<Node>> kids;
    std::unique_ptr<time::Timer> t;
    {
      LockGuard l(mu);
      if (!err.ok()) return;
      err = why;
      done.Close();
      kids.reserve(children.size());
      for (Node* c : children) {
        if (std::shared_ptr<Node> k = c->weak_from_this().lock()) kids.push_back(std::move(k));
      }
      children.clear();
      t = std::move(timer);
    }
    if (t != nullptr) t->Stop();
    for (auto& k : kids) k->Cancel(false, why);
  }

  void RemoveChild(Node* c) {
    LockGuard l(mu);
    children.erase(c);
  }

  // Registers child under this node, or, if this node is done already,
  // cancels the child with this node's Err. Go: propagateCancel.
  void Adopt(Node* child) {
    absl::Status parent_err;
    {
      LockGuard l(mu);
      if (err.ok()) {
        children.insert(child);
        return;
      }
      parent_err = err;
    }
    child->Cancel(false, parent_err);
  }

  const std::shared_ptr<Node> parent;  // null: the parent is Background
  const std::optional<absl::Time> deadline;
  const Chan<std::monostate> done;  // closed once, by Cancel, under mu
  Lock mu;
  absl::Status err ABSL_GUARDED_BY(mu);
  std::unordered_set<Node*> children ABSL_GUARDED_BY(mu);
  std::unique_ptr<time::Timer> timer ABSL_GUARDED_BY(mu);  // the deadline's
};

// (Raw pointers where a lock is taken: the lock annotations cannot see
// that two calls of shared_ptr's operator-> name one node.)
std::size_t ChildrenForTesting(const Context& c) {
  Node* n = c.node_.get();
  if (n == nullptr) return 0;
  LockGuard l(n->mu);
  return n->children.size();
}

}  // namespace context_internal

using context_internal::Node;

const Chan<std::monostate>& Context::Done() const {
  static const Chan<std::monostate> never;  // Background's: the nil channel
  return node_ != nullptr ? node_->done : never;
}

absl::Status Context::Err() const {
  Node* n = node_.get();
  if (n == nullptr) return absl::OkStatus();
  LockGuard l(n->mu);
  return n->err;
}

std::optional<absl::Time> Context::Deadline() const {
  return node_ != nullptr ? node_->deadline : std::nullopt;
}

Context Background() { return Context(); }
Context TODO() { return Context(); }

namespace {

std::pair<std::shared_ptr<Node>, CancelFunc> NewChild(const std::shared_ptr<Node>& parent,
                                                      std::optional<absl::Time> deadline) {
  auto n = std::make_shared<Node>(parent, deadline);
  if (parent != nullptr) parent->Adopt(n.get());
  CancelFunc cancel = [n] { n->Cancel(true, Canceled()); };
  return {std::move(n), std::move(cancel)};
}

}  // namespace

// A Context's node is private; this struct is Context's friend.
struct context_internal::NodeAccess {
  static const std::shared_ptr<Node>& Of(const Context& c) { return c.node_; }
  static Context Make(std::shared_ptr<Node> n) { return Context(std::move(n)); }
};

std::pair<Context, CancelFunc> WithCancel(Context parent) {
  const std::shared_ptr<Node>& p = context_internal::NodeAccess::Of(parent);
  auto [n, cancel] = NewChild(p, parent.Deadline());
  return {context_internal::NodeAccess::Make(std::move(n)), std::move(cancel)};
}

// Go: WithDeadlineCause.
std::pair<Context, CancelFunc> WithDeadline(Context parent, absl::Time d) {
  if (std::optional<absl::Time> cur = parent.Deadline(); cur.has_value() && *cur <= d) {
    return WithCancel(std::move(parent));  // the parent's deadline comes first
  }
  const std::shared_ptr<Node>& p = context_internal::NodeAccess::Of(parent);
  auto [n, cancel] = NewChild(p, d);
  absl::Duration left = d - absl::Now();
  if (left <= absl::ZeroDuration()) {
    n->Cancel(true, DeadlineExceeded());  // already passed
  } else {
    // The callback holds the node weakly: a context dropped before its
    // deadline is freed (its destructor stops the timer).
    std::weak_ptr<Node> w = n;
    auto t = time::Timer::AfterFunc(left, [w] {
      if (std::shared_ptr<Node> self = w.lock()) self->Cancel(true, DeadlineExceeded());
    });
    bool cancelled;
    {
      Node* raw = n.get();
      LockGuard l(raw->mu);
      cancelled = !raw->err.ok();
      if (!cancelled) raw->timer = std::move(t);
    }
    if (cancelled) t->Stop();  // the parent was done meanwhile
  }
  return {context_internal::NodeAccess::Make(std::move(n)), std::move(cancel)};
}

std::pair<Context, CancelFunc> WithTimeout(Context parent, absl::Duration d) {
  return WithDeadline(std::move(parent), absl::Now() + d);
}

}  // namespace gort::context
