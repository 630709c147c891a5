// gort::poll: the public face of the poller (netpoll.cc) for embedders'
// own descriptors. Wait is level-triggered for its caller: it checks
// readiness with poll(2) before each park, so an edge consumed earlier (or
// never seen, for a descriptor registered while ready) cannot strand it.
// Go: internal/poll's fd_poll_runtime.go, which only waits after EAGAIN.
#include "gort/poll.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gort/internal/runtime_support.h"
#include "gort/panic.h"
#include "gort/runtime.h"

namespace gort::poll {
namespace {

using runtime::internal::PollResult;

std::string ErrnoText(int e) {
  std::string s = strerror(e);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

absl::Status ErrnoError(int e, const std::string& op) {
  return absl::Status(absl::ErrnoToStatusCode(e), absl::StrCat(op, ": ", ErrnoText(e)));
}

// Whether fd is ready for `events` now; -errno on failure.
int ReadyNow(int fd, int events) {
  pollfd p{};
  p.fd = fd;
  if (events & kReadable) p.events |= POLLIN;
  if (events & kWritable) p.events |= POLLOUT;
  for (;;) {
    int r = ::poll(&p, 1, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    if (r == 0) return 0;
    if (p.revents & POLLNVAL) return -EBADF;
    return 1;
  }
}

}  // namespace

absl::Status Wait(int fd, int events, absl::Time deadline) {
  runtime::CheckPreempt();
  if (events == 0 || (events & ~(kReadable | kWritable)) != 0) {
    throw Panic(absl::StrCat("gort: poll::Wait: events is ", events,
                             "; want kReadable, kWritable or both"));
  }
  const std::string op = absl::StrCat("poll: wait fd ", fd);
  // Registered before the readiness check, so that an edge after it is
  // seen by the wait below.
  if (int e = runtime::internal::PollRegister(fd); e != 0) return ErrnoError(e, op);
  const std::atomic<int64_t> dl{deadline == absl::InfiniteFuture() ? INT64_MAX
                                                                   : absl::ToUnixNanos(deadline)};
  for (;;) {
    int r = ReadyNow(fd, events);
    if (r < 0) return ErrnoError(-r, op);
    if (r > 0) return absl::OkStatus();
    int err = 0;
    switch (runtime::internal::PollWait(fd, events, &dl, &err)) {
      case PollResult::kReady:
        continue;  // re-check: the edge may be stale, or for the other event
      case PollResult::kClosing:
        return absl::FailedPreconditionError("use of closed file");
      case PollResult::kTimeout:
        return absl::DeadlineExceededError("i/o timeout");
      case PollResult::kError:
        return ErrnoError(err, op);
    }
  }
}

absl::Status Close(int fd) {
  runtime::internal::PollEvict(fd);
  runtime::internal::PollForget(fd);
  if (::close(fd) < 0) return ErrnoError(errno, absl::StrCat("close fd ", fd));
  return absl::OkStatus();
}

}  // namespace gort::poll
