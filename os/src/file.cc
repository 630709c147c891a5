// os::File on the runtime's poller. Go: os/file.go, os/file_unix.go and
// internal/poll/fd_unix.go (Read, Write, the fdMutex reference count,
// evict-then-close), io.ReadAll.
//
// The reference count: `refs` counts the operations in flight plus one for
// the open file; kClosed is set once, by Close. An operation takes a
// reference unless kClosed is set; whoever drops the last reference after
// kClosed (Close itself, or the last operation to leave) forgets the
// poller registration and closes the descriptor, then tells Close through
// `closed`. So the descriptor number stays ours until nobody uses it.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "file_access.h"
#include "gort/chan.h"
#include "gort/internal/runtime_support.h"
#include "gort/os.h"
#include "gort/runtime.h"
#include "gort/sync.h"

namespace gort::os {

using runtime::internal::kPollRead;
using runtime::internal::kPollWrite;
using runtime::internal::PollResult;

namespace {

constexpr uint64_t kClosed = uint64_t{1} << 63;
// The most one read(2) or write(2) is asked for (Go: maxRW, 1 GiB).
constexpr std::size_t kMaxRW = std::size_t{1} << 30;

std::string ErrnoText(int e) {
  std::string s = strerror(e);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

int64_t ToUnixNs(absl::Time t) {
  return t == absl::InfiniteFuture() ? INT64_MAX : absl::ToUnixNanos(t);
}

bool Expired(const std::atomic<int64_t>& deadline) {
  int64_t d = deadline.load(std::memory_order_acquire);
  return d != INT64_MAX && d <= absl::ToUnixNanos(absl::Now());
}

// Takes a SIGPIPE that a failed write raised off this thread (it is
// blocked here).
void DropPendingSigpipe() {
  sigset_t pending;
  if (sigpending(&pending) != 0 || !sigismember(&pending, SIGPIPE)) return;
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  timespec zero{};
  while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
  }
}

// write(2) without SIGPIPE: a broken pipe is EPIPE, as in Go (whose
// runtime ignores SIGPIPE for every descriptor but 1 and 2). The runtime's
// Ms block SIGPIPE for good; elsewhere (a plain thread) the signal is
// blocked for the call only. Either way the one the call raised is taken
// off the thread. A thread that blocks SIGPIPE itself keeps its own. The
// fiber cannot move between threads in here: nothing parks.
ssize_t WriteNoSigpipe(int fd, const void* buf, std::size_t n) {
  if (runtime::internal::SigpipeBlockedHere()) {
    ssize_t r = ::write(fd, buf, n);
    if (r < 0 && errno == EPIPE) {
      DropPendingSigpipe();
      errno = EPIPE;
    }
    return r;
  }
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  ssize_t r = ::write(fd, buf, n);
  int e = errno;
  if (!sigismember(&old, SIGPIPE)) {
    if (r < 0 && e == EPIPE) DropPendingSigpipe();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  errno = e;
  return r;
}

}  // namespace

struct File::State {
  int fd = -1;
  std::string name;
  std::atomic<uint64_t> refs{1};                  // see the top of this file
  std::atomic<int64_t> read_deadline{INT64_MAX};  // Unix ns; INT64_MAX: none
  std::atomic<int64_t> write_deadline{INT64_MAX};
  // Handed to a child (FileAccess::ForChild): the descriptor is blocking
  // now, so reads and writes hold the thread, in a system-call bracket.
  std::atomic<bool> blocking{false};
  // The other end of a pipe made by os::Pipe: after a read (write) that
  // moved bytes, its blocked writers (readers) are woken at once instead of
  // when the poller next reports the edge. The edge still comes, as a
  // spurious wake-up at worst; this only saves the poll between two fibers
  // of this process.
  std::weak_ptr<State> peer;
  sync::Mutex read_mu;   // one Read at a time (Go: fdMutex's read lock)
  sync::Mutex write_mu;  // one Write at a time, so that each writes all of its bytes
  Chan<int> closed{1};   // the close(2) errno (0: OK), once the descriptor is closed

  ~State() {
    // Never closed: the last copy went (Go's finalizer closes it too).
    if ((refs.load(std::memory_order_acquire) & kClosed) == 0) Destroy();
  }

  bool IncRef() {
    uint64_t v = refs.load(std::memory_order_acquire);
    do {
      if (v & kClosed) return false;
    } while (!refs.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel));
    return true;
  }
  void DecRef() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) - 1 == kClosed) {
      closed.TrySend(Destroy());
    }
  }
  // Forgets the registration and closes the descriptor; returns close's
  // errno.
  int Destroy() {
    runtime::internal::PollForget(fd);
    return ::close(fd) < 0 ? errno : 0;
  }
  bool Closing() const { return (refs.load(std::memory_order_acquire) & kClosed) != 0; }

  // Wakes the peer's waiters for `mode` (see `peer`).
  void KickPeer(int mode) {
    std::shared_ptr<State> p = peer.lock();
    if (p == nullptr || !p->IncRef()) return;  // gone, or closed
    runtime::internal::PollKick(p->fd, mode);
    p->DecRef();
  }

  absl::Status Error(const char* op, absl::StatusCode code, const std::string& what) const {
    return absl::Status(code, absl::StrCat(op, " ", name, ": ", what));
  }
  absl::Status ErrnoError(const char* op, int e) const {
    return Error(op, absl::ErrnoToStatusCode(e), ErrnoText(e));
  }
  absl::Status AlreadyClosed(const char* op) const {
    return Error(op, absl::StatusCode::kFailedPrecondition, "file already closed");
  }
  absl::Status ClosedUnder(const char* op) const {
    return Error(op, absl::StatusCode::kFailedPrecondition, "use of closed file");
  }
  absl::Status Timeout(const char* op) const {
    return Error(op, absl::StatusCode::kDeadlineExceeded, "i/o timeout");
  }

  // Waits for fd to become ready for `mode` after EAGAIN. OK: retry.
  absl::Status WaitFor(const char* op, int mode, const std::atomic<int64_t>& deadline) {
    int err = 0;
    switch (runtime::internal::PollWait(fd, mode, &deadline, &err)) {
      case PollResult::kReady:
        return absl::OkStatus();
      case PollResult::kClosing:
        return ClosedUnder(op);
      case PollResult::kTimeout:
        return Timeout(op);
      case PollResult::kError:
        return ErrnoError(op, err);
    }
    return ErrnoError(op, EINVAL);
  }
};

namespace {

// An operation in flight: holds a reference (Go: fd.incref / decref).
// S is File::State (a template only because that type is File's own).
template <class S>
class Op {
 public:
  explicit Op(S* s) : s_(s), ok_(s->IncRef()) {}
  ~Op() {
    if (ok_) s_->DecRef();
  }
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;
  bool ok() const { return ok_; }

 private:
  S* s_;
  bool ok_;
};

absl::Status NilFile() { return absl::InvalidArgumentError("invalid argument"); }

}  // namespace

File File::New(int fd, std::string name) {
  auto s = std::make_shared<State>();
  s->fd = fd;
  s->name = std::move(name);
  // A registration left under this number belongs to a descriptor closed
  // behind gort's back: fd is a new file.
  runtime::internal::PollForget(fd);
  // Not pollable (a regular file: EPERM) is fine: its reads and writes
  // never wait.
  (void)runtime::internal::PollRegister(fd);
  return File(std::move(s));
}

absl::StatusOr<std::size_t> File::Read(void* buf, std::size_t n) {
  if (s_ == nullptr) return NilFile();
  State* s = s_.get();
  Op<State> op(s);
  if (!op.ok()) return s->AlreadyClosed("read");
  sync::Mutex& mu = s->read_mu;
  mu.Lock();
  struct Unlock {
    sync::Mutex& mu;
    ~Unlock() { mu.Unlock(); }
  } unlock{mu};
  if (s->Closing()) return s->ClosedUnder("read");  // closed while we queued
  if (n == 0) return std::size_t{0};
  for (;;) {
    if (Expired(s->read_deadline)) return s->Timeout("read");
    ssize_t r;
    if (s->blocking.load(std::memory_order_acquire)) {
      runtime::BlockingSyscall bracket;
      r = ::read(s->fd, buf, std::min(n, kMaxRW));
    } else {
      r = ::read(s->fd, buf, std::min(n, kMaxRW));
    }
    if (r > 0) {
      s->KickPeer(kPollWrite);
      return static_cast<std::size_t>(r);
    }
    if (r == 0) return absl::OutOfRangeError("EOF");
    int e = errno;
    if (e == EINTR) continue;
    if (e != EAGAIN) return s->ErrnoError("read", e);
    if (absl::Status st = s->WaitFor("read", kPollRead, s->read_deadline); !st.ok()) return st;
  }
}

absl::StatusOr<std::size_t> File::Write(const void* buf, std::size_t n) {
  if (s_ == nullptr) return NilFile();
  State* s = s_.get();
  Op<State> op(s);
  if (!op.ok()) return s->AlreadyClosed("write");
  sync::Mutex& mu = s->write_mu;
  mu.Lock();
  struct Unlock {
    sync::Mutex& mu;
    ~Unlock() { mu.Unlock(); }
  } unlock{mu};
  if (s->Closing()) return s->ClosedUnder("write");
  const char* p = static_cast<const char*>(buf);
  std::size_t done = 0;
  while (done < n) {
    if (Expired(s->write_deadline)) return s->Timeout("write");
    ssize_t r;
    if (s->blocking.load(std::memory_order_acquire)) {
      runtime::BlockingSyscall bracket;
      r = WriteNoSigpipe(s->fd, p + done, std::min(n - done, kMaxRW));
    } else {
      r = WriteNoSigpipe(s->fd, p + done, std::min(n - done, kMaxRW));
    }
    if (r >= 0) {
      done += static_cast<std::size_t>(r);
      if (r > 0) s->KickPeer(kPollRead);
      continue;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e != EAGAIN) return s->ErrnoError("write", e);
    if (absl::Status st = s->WaitFor("write", kPollWrite, s->write_deadline); !st.ok()) return st;
  }
  return n;
}

absl::Status File::Close() {
  if (s_ == nullptr) return NilFile();
  State* s = s_.get();
  uint64_t v = s->refs.load(std::memory_order_acquire);
  do {
    if (v & kClosed) return s->AlreadyClosed("close");
  } while (!s->refs.compare_exchange_weak(v, v | kClosed, std::memory_order_acq_rel));
  // Wake the waiters in the poller; those queued behind them on read_mu or
  // write_mu see kClosed once they get in.
  runtime::internal::PollEvict(s->fd);
  s->DecRef();  // the open file's reference
  // The last operation to leave (maybe this DecRef) closed the descriptor.
  std::optional<int> e = s->closed.Recv();
  if (e.has_value() && *e != 0) return s->ErrnoError("close", *e);
  return absl::OkStatus();
}

absl::Status File::SetDeadline(absl::Time t) {
  if (s_ == nullptr) return NilFile();
  Op<State> op(s_.get());
  if (!op.ok()) return s_->AlreadyClosed("SetDeadline");
  s_->read_deadline.store(ToUnixNs(t), std::memory_order_release);
  s_->write_deadline.store(ToUnixNs(t), std::memory_order_release);
  runtime::internal::PollKick(s_->fd, kPollRead | kPollWrite);
  return absl::OkStatus();
}

absl::Status File::SetReadDeadline(absl::Time t) {
  if (s_ == nullptr) return NilFile();
  Op<State> op(s_.get());
  if (!op.ok()) return s_->AlreadyClosed("SetReadDeadline");
  s_->read_deadline.store(ToUnixNs(t), std::memory_order_release);
  runtime::internal::PollKick(s_->fd, kPollRead);
  return absl::OkStatus();
}

absl::Status File::SetWriteDeadline(absl::Time t) {
  if (s_ == nullptr) return NilFile();
  Op<State> op(s_.get());
  if (!op.ok()) return s_->AlreadyClosed("SetWriteDeadline");
  s_->write_deadline.store(ToUnixNs(t), std::memory_order_release);
  runtime::internal::PollKick(s_->fd, kPollWrite);
  return absl::OkStatus();
}

int File::Fd() const {
  if (s_ == nullptr || s_->Closing()) return -1;
  return s_->fd;
}

const std::string& File::Name() const {
  static const std::string* const kNone = new std::string;
  return s_ != nullptr ? s_->name : *kNone;
}

namespace internal {

int FileAccess::ForChild(const File& f) {
  File::State* s = f.s_.get();
  if (s == nullptr || s->Closing()) return -1;
  if (!s->blocking.exchange(true, std::memory_order_acq_rel)) {
    int flags = fcntl(s->fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK) != 0) fcntl(s->fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  return s->fd;
}

}  // namespace internal

absl::StatusOr<std::pair<File, File>> Pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
    int e = errno;
    return absl::Status(absl::ErrnoToStatusCode(e), absl::StrCat("pipe2: ", ErrnoText(e)));
  }
  File r = File::New(fds[0], "|0");
  File w = File::New(fds[1], "|1");
  r.s_->peer = w.s_;
  w.s_->peer = r.s_;
  return std::make_pair(std::move(r), std::move(w));
}

absl::StatusOr<std::string> ReadAll(File& f) {
  std::string out;
  std::size_t len = 0;
  out.resize(512);
  for (;;) {
    if (len == out.size()) out.resize(out.size() * 2);
    absl::StatusOr<std::size_t> n = f.Read(out.data() + len, out.size() - len);
    if (!n.ok()) {
      if (absl::IsOutOfRange(n.status()) && n.status().message() == "EOF") break;
      return n.status();
    }
    len += *n;
  }
  out.resize(len);
  return out;
}

}  // namespace gort::os
