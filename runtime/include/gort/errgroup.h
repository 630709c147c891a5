// gort/errgroup.h: golang.org/x/sync/errgroup: a group of fibers working on
// subtasks of one task, with the first error kept and, optionally, a
// context cancelled when it happens.
//
// Go(f) starts f in a new fiber; Wait blocks until every f started by Go or
// TryGo has returned, then returns the first non-OK status any of them
// returned (OK if none did). SetLimit(n) bounds the fibers running at once:
// Go then blocks (parks the caller) while n are running, and TryGo returns
// false instead. A Group made by WithContext cancels its context as soon as
// an f returns a non-OK status, and in any case when Wait returns.
//
// A default-constructed Group is usable (Go's zero Group): no limit, no
// context. The group must outlive its fibers: call Wait before destroying
// it. Go, TryGo and Wait may be called from fibers and plain threads;
// SetLimit must not be called while fibers of the group are running (that
// panics, with Go's words).
//
// Ordering: the return of every f happens-before Wait returns.
#ifndef GORT_ERRGROUP_H_
#define GORT_ERRGROUP_H_

#include <functional>
#include <memory>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "gort/chan.h"
#include "gort/context.h"
#include "gort/sync.h"

namespace gort::errgroup {

class Group {
 public:
  Group() = default;
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  // Runs f in a new fiber; first waits (parks) while the limit is reached.
  // An exception escaping f is a panic, as in any fiber.
  void Go(std::function<absl::Status()> f);
  // Runs f in a new fiber only if that needs no waiting for the limit;
  // returns whether it did.
  bool TryGo(std::function<absl::Status()> f);
  // At most n fibers of this group run at once; n < 0: no limit. n == 0
  // makes Go block forever, as in Go. Panics with "errgroup: modify limit
  // while N goroutines in the group are still active" if any run.
  void SetLimit(int n);
  // Waits for every f, then returns the first error (and cancels the
  // group's context, if it has one).
  absl::Status Wait();

 private:
  friend std::pair<std::unique_ptr<Group>, context::Context> WithContext(context::Context parent);
  void Start(std::function<absl::Status()> f);
  void Done();

  sync::WaitGroup wg_;
  sync::Once err_once_;
  absl::Status err_;  // written once, in err_once_; read after wg_.Wait()
  context::CancelFunc cancel_;
  Chan<std::monostate> sem_;  // one token per running f; nil: no limit
};

// A Group whose context (a child of parent) is cancelled the first time an
// f returns an error, or when Wait returns, whichever comes first.
std::pair<std::unique_ptr<Group>, context::Context> WithContext(context::Context parent);

}  // namespace gort::errgroup

#endif  // GORT_ERRGROUP_H_
