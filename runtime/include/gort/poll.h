// gort/poll.h: waiting for a descriptor without holding a thread, through
// the runtime's poller (epoll, as Go's netpoller).
//
// Wait parks the calling fiber until the descriptor is ready: its P runs
// other fibers meanwhile, and an M with nothing to run sleeps in the poller
// until the nearest timer, so ten thousand fibers waiting on ten thousand
// descriptors hold no more threads than ten thousand sleeping ones. A plain
// thread that calls Wait sleeps (outside runtime::Run, in poll(2)).
//
// A descriptor is registered with the poller at its first Wait (once per
// Run) and made non-blocking; it stays registered until it is closed
// through gort (poll::Close, or os::File::Close for a File's descriptor),
// which wakes every waiter with "use of closed file". Close a descriptor
// that has been waited on through gort: closed behind gort's back, its
// number may come back for another file whose readiness the stale
// registration would not report.
//
// Ordering: whatever a thread did before making the descriptor ready (a
// write to a pipe) happens-before Wait returns OK in the thread or fiber
// that observes it, as far as the kernel orders the two.
#ifndef GORT_POLL_H_
#define GORT_POLL_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace gort::poll {

enum Event : int { kReadable = 1, kWritable = 2 };

// Parks the calling fiber (or sleeps a plain thread) until fd is ready for
// `events` (kReadable, kWritable or both: either will do) or the deadline
// passes. Readiness is checked first, so a descriptor that is ready already
// returns at once. The fd is the caller's; it is made non-blocking.
// Errors: "i/o timeout" (kDeadlineExceeded) once the deadline has passed;
// "use of closed file" (kFailedPrecondition) if fd is closed through gort
// meanwhile; "poll: wait fd N: <errno text>" if the kernel refuses it (a
// descriptor that is not open: kFailedPrecondition, EBADF). `events`
// outside kReadable | kWritable, or 0, throws gort::Panic.
absl::Status Wait(int fd, int events, absl::Time deadline = absl::InfiniteFuture());

// Closes fd through gort: its waiters wake with "use of closed file", its
// registration is dropped, then close(2). Errors: "close fd N: <errno
// text>". Not in Go (its descriptors are always closed through os or net).
absl::Status Close(int fd);

}  // namespace gort::poll

#endif  // GORT_POLL_H_
