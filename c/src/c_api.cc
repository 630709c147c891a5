// The C API (<gort/c.h>) over the C++ one. Every entry point runs its C++
// body inside Guarded(), which turns what C cannot receive into an error
// code and gort_last_error's message:
//   * gort::Panic (misuse Go would panic on) -> the errno the call documents;
//   * the shutdown unwind (the fiber is being unwound by gort_stop or
//     gort_run returning) -> -ECANCELED; the C frames above return normally
//     and the runtime finishes the fiber when its function returns;
//   * anything else -> reported as a panic and abort, as an exception
//     escaping a fiber is: it must not unwind C frames.
// absl::Status errors become errnos by their message (an OS error ends with
// its errno text, "fork/exec /x: no such file or directory"), else by code.
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gort/c.h"
#include "gort/chan.h"
#include "gort/exec.h"
#include "gort/internal/runtime_support.h"
#include "gort/os.h"
#include "gort/poll.h"
#include "gort/runtime.h"
#include "gort/sync.h"
#include "gort/syscall.h"
#include "gort/time.h"

extern char** environ;

namespace {

namespace rt = gort::runtime;

// The last error of the calling plain thread (fibers keep theirs in their G,
// so that it follows them across threads).
thread_local std::string tls_last_error;

std::string& ErrorSlot() {
  if (std::string* s = rt::internal::FiberLastError()) return *s;
  return tls_last_error;
}

int Fail(int err, absl::string_view msg) {
  ErrorSlot().assign(msg.data(), msg.size());
  return -err;
}

// The errno whose text ends msg ("...: no such file or directory"), or 0.
int ErrnoFromMessage(absl::string_view msg) {
  for (int e = 1; e < 134; e++) {
    const char* text = strerrordesc_np(e);
    if (text == nullptr) continue;
    absl::string_view t(text);
    if (msg.size() >= t.size() && absl::EqualsIgnoreCase(msg.substr(msg.size() - t.size()), t)) {
      return e;
    }
  }
  return 0;
}

int ErrnoFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
      return EINVAL;
    case absl::StatusCode::kNotFound:
      return ENOENT;
    case absl::StatusCode::kAlreadyExists:
      return EEXIST;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return EACCES;
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
      return EAGAIN;
    case absl::StatusCode::kDeadlineExceeded:
      return ETIMEDOUT;
    case absl::StatusCode::kCancelled:
      return ECANCELED;
    case absl::StatusCode::kOutOfRange:
      return ERANGE;
    case absl::StatusCode::kUnimplemented:
      return ENOSYS;
    default:
      return EIO;
  }
}

int FailStatus(const absl::Status& st) {
  int e = ErrnoFromMessage(st.message());
  return Fail(e != 0 ? e : ErrnoFromCode(st.code()), st.message());
}

// An exception that must not reach C: reported as Go reports a panic.
[[noreturn]] void PanicAbort(const char* what) {
  std::fprintf(stderr, "panic: %s\n\ngoroutine %llu [running]:\n\tin a gort_ call of the C API\n",
               what, static_cast<unsigned long long>(rt::GoID()));
  std::fflush(stderr);
  std::abort();
}

// An error a gort_ call decided on itself (a NULL handle), thrown from
// deep inside its body to Guarded.
struct CallError {
  int err;
  std::string msg;
};

// Runs body (returning an int result); see the file comment. panic_errno is
// what a gort::Panic from body means for this call.
template <class Body>
int Guarded(int panic_errno, Body&& body) noexcept {
  try {
    return body();
  } catch (const CallError& e) {
    return Fail(e.err, e.msg);
  } catch (const gort::Panic& p) {
    return Fail(panic_errno, p.what());
  } catch (const std::bad_alloc&) {
    return Fail(ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    PanicAbort(e.what());
  } catch (...) {
    // Not a std::exception: the runtime's unwind (shutdown or Goexit).
    if (rt::Unwinding()) {
      return Fail(ECANCELED, "gort: the fiber is being unwound (the runtime is stopping)");
    }
    PanicAbort("(a value that is not a std::exception)");
  }
}

absl::Status ToOptions(const gort_options* o, rt::Options* out) {
  if (o == nullptr) return absl::OkStatus();
  out->procs = o->procs;
  out->stack_size = o->stack_size;
  out->max_threads = o->max_threads;
  out->process_reapers = o->process_reapers;
  return absl::OkStatus();
}

// Start and Run: a bad option is EINVAL, a runtime already running (or a
// call from a fiber) EBUSY, a refusal by the system EAGAIN.
int FailStart(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument:
      return Fail(EINVAL, st.message());
    case absl::StatusCode::kUnimplemented:
      return Fail(ENOTSUP, st.message());
    case absl::StatusCode::kFailedPrecondition:
      return Fail(EBUSY, st.message());
    default:
      return Fail(EAGAIN, st.message());
  }
}

void NotNull(const void* p, const char* what) {
  if (p == nullptr) throw CallError{EINVAL, std::string(what) + ": NULL handle"};
}

template <class T>
void Retain(T* h) {
  h->refs.fetch_add(1, std::memory_order_relaxed);
}
template <class T>
void Release(T* h) {
  if (h != nullptr && h->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete h;
}

// A reference held for the length of one call: the caller's own may be
// dropped by another thread as soon as the operation has taken effect (a
// receiver that releases the channel once it has the value, while the
// sender's call is still on its way out), as Go's garbage collector would
// allow.
template <class T>
class Hold {
 public:
  explicit Hold(T* h) : h_(h) {
    if (h_ != nullptr) Retain(h_);
  }
  ~Hold() { Release(h_); }
  Hold(Hold&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;

 private:
  T* h_;
};

}  // namespace

// What a gort_chan carries: the caller's pointer and, for a sender that
// blocked, the claim that settles its count in pending_senders exactly once:
// by the receiver that takes the value, or by the sender itself when its
// send fails or is abandoned (closed, unwound, another select case ran).
struct Item {
  void* v = nullptr;
  std::shared_ptr<std::atomic<bool>> claim;
};

// A channel handle: the typed channel, its reference count, and the state
// behind gort_chan_notify_fd. Readiness is "a value may be received": a
// buffered value, a blocked sender's value not yet taken (pending_senders:
// counted before the sender blocks, settled by the claim), or closed.
// Every operation that may change it recomputes it afterwards
// (UpdateNotify), serialized by notify_mu; the last recomputation follows
// the last operation, so the descriptor settles on the channel's state. A
// sender that blocks is counted before it is queued, so the descriptor may
// turn readable a moment early (a hint, as documented), never late.
struct gort_chan {
  explicit gort_chan(std::size_t cap) : ch(cap) {}
  ~gort_chan() {
    int fd = notify_fd.load(std::memory_order_relaxed);
    if (fd >= 0) close(fd);
  }
  std::atomic<int> refs{1};
  gort::Chan<Item> ch;
  std::atomic<int> pending_senders{0};
  std::atomic<bool> closed{false};
  std::atomic<int> notify_fd{-1};
  std::mutex notify_mu;   // a leaf: held only around the eventfd's read or write
  bool signaled = false;  // guarded by notify_mu: the eventfd's counter is non-zero
};

namespace {

bool RecvReady(gort_chan* c) {
  return c->closed.load(std::memory_order_seq_cst) ||
         c->pending_senders.load(std::memory_order_seq_cst) > 0 || c->ch.Len() > 0;
}

void UpdateNotify(gort_chan* c) {
  if (c == nullptr || c->notify_fd.load(std::memory_order_seq_cst) < 0) return;
  std::lock_guard<std::mutex> l(c->notify_mu);
  int fd = c->notify_fd.load(std::memory_order_relaxed);
  bool ready = RecvReady(c);
  if (ready && !c->signaled) {
    uint64_t one = 1;
    if (write(fd, &one, sizeof(one)) == sizeof(one)) c->signaled = true;
  } else if (!ready && c->signaled) {
    uint64_t n;
    if (read(fd, &n, sizeof(n)) == sizeof(n)) c->signaled = false;
  }
}

// A sender about to block on c: counted until its claim is settled.
std::shared_ptr<std::atomic<bool>> CountSender(gort_chan* c) {
  c->pending_senders.fetch_add(1, std::memory_order_seq_cst);
  UpdateNotify(c);
  return std::make_shared<std::atomic<bool>>(false);
}

// Settles a claim (the value was taken, or will never be); the first call wins.
void Settle(gort_chan* c, const std::shared_ptr<std::atomic<bool>>& claim) {
  if (claim != nullptr && !claim->exchange(true, std::memory_order_acq_rel)) {
    c->pending_senders.fetch_sub(1, std::memory_order_seq_cst);
  }
}

// A receive through this API took `it` from c.
void* Took(gort_chan* c, const std::optional<Item>& it) {
  if (it.has_value()) Settle(c, it->claim);
  UpdateNotify(c);
  return it.has_value() ? it->v : nullptr;
}

}  // namespace

struct gort_mutex {
  std::atomic<int> refs{1};
  gort::sync::Mutex mu;
};

struct gort_waitgroup {
  std::atomic<int> refs{1};
  gort::sync::WaitGroup wg;
};

namespace {

// The processes started by gort_legacy_process_start, until they are waited
// for: os::legacy works on os::Process handles, the C API on pids.
std::mutex legacy_mu;  // a leaf: held only around the map's lookups
std::map<pid_t, gort::os::Process>& LegacyProcesses() {
  static auto* m = new std::map<pid_t, gort::os::Process>;  // never destroyed: shutdown order
  return *m;
}

std::optional<gort::os::Process> TakeLegacy(pid_t pid, bool erase) {
  std::lock_guard<std::mutex> l(legacy_mu);
  auto& m = LegacyProcesses();
  auto it = m.find(pid);
  if (it == m.end()) return std::nullopt;
  gort::os::Process p = it->second;
  if (erase) m.erase(it);
  return p;
}

std::vector<std::string> Strings(const char* const* v) {
  std::vector<std::string> out;
  for (; v != nullptr && *v != nullptr; v++) out.emplace_back(*v);
  return out;
}

// A malloc'd, NUL-terminated copy (C callers free it with gort_free).
char* CopyOut(absl::string_view s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) throw std::bad_alloc();
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  p[s.size()] = 0;
  return p;
}

}  // namespace

extern "C" {

// ---- the runtime ----------------------------------------------------------

int gort_start(const gort_options* o) {
  return Guarded(EINVAL, [&] {
    rt::Options opts;
    if (absl::Status st = ToOptions(o, &opts); !st.ok()) return FailStart(st);
    absl::Status st = rt::Start(opts);
    return st.ok() ? 0 : FailStart(st);
  });
}

int gort_stop(void) {
  return Guarded(EINVAL, [&] {
    absl::Status st = rt::Stop();
    return st.ok() ? 0 : Fail(EINVAL, st.message());
  });
}

int gort_run(void (*main_fn)(void*), void* arg, const gort_options* o) {
  return Guarded(EINVAL, [&] {
    if (main_fn == nullptr) return Fail(EINVAL, "gort_run: NULL main function");
    rt::Options opts;
    if (absl::Status st = ToOptions(o, &opts); !st.ok()) return FailStart(st);
    absl::Status st = rt::internal::RunStatus([main_fn, arg] { main_fn(arg); }, opts);
    return st.ok() ? 0 : FailStart(st);
  });
}

int gort_go(void (*fn)(void*), void* arg) {
  return Guarded(EINVAL, [&] {
    if (fn == nullptr) return Fail(EINVAL, "gort_go: NULL function");
    try {
      rt::Go([fn, arg] { fn(arg); });
    } catch (const gort::Panic& p) {
      if (absl::StrContains(p.what(), "shutting down")) return Fail(ECANCELED, p.what());
      if (absl::StrContains(p.what(), "out of memory")) return Fail(ENOMEM, p.what());
      throw;
    }
    return 0;
  });
}

void gort_yield(void) {
  Guarded(0, [] {
    rt::Gosched();
    return 0;
  });
}

void gort_sleep_ns(int64_t ns) {
  if (ns <= 0) return;
  Guarded(0, [&] {
    try {
      gort::time::Sleep(absl::Nanoseconds(ns));
    } catch (const gort::Panic&) {  // the runtime is not running: sleep the thread
      absl::SleepFor(absl::Nanoseconds(ns));
    }
    return 0;
  });
}

void gort_lock_os_thread(void) {
  Guarded(0, [] {
    rt::LockOSThread();
    return 0;
  });
}

void gort_unlock_os_thread(void) { rt::UnlockOSThread(); }

void gort_syscall_enter(void) { rt::EnterSyscall(); }

void gort_syscall_enter_block(void) { rt::EnterSyscallBlock(); }

int gort_syscall_exit(void) {
  // errno is read on the thread the call ran on (ExitSyscall may move the
  // fiber); ExitSyscall sets it again on the thread it returns on. Not here:
  // __errno_location is const, so `errno = err` after the call may store
  // through the address computed before it, into the old thread's errno
  // (TSan saw it: a race with that thread's own futex calls).
  const int err = errno;
  rt::ExitSyscall();
  return err;
}

int gort_preempt_pending(void) { return rt::internal::PreemptPending() ? 1 : 0; }
void gort_check_preempt(void) {
  Guarded(0, [] {
    rt::CheckPreempt();
    return 0;
  });
}
uint64_t gort_goid(void) { return rt::GoID(); }

int gort_num_goroutine(void) { return rt::NumGoroutine(); }

int gort_unwinding(void) { return rt::Unwinding() ? 1 : 0; }

const char* gort_last_error(void) { return ErrorSlot().c_str(); }

const char* gort_version(void) { return GORT_VERSION_STRING; }

// ---- channels -----------------------------------------------------------

gort_chan* gort_chan_new(size_t capacity) {
  gort_chan* c = nullptr;
  Guarded(ENOMEM, [&] {
    c = new gort_chan(capacity);
    return 0;
  });
  return c;
}

gort_chan* gort_chan_retain(gort_chan* c) {
  if (c != nullptr) Retain(c);
  return c;
}

void gort_chan_release(gort_chan* c) { Release(c); }

int gort_chan_send(gort_chan* c, void* v) {
  return Guarded(EPIPE, [&] {
    NotNull(c, "gort_chan_send");
    Hold<gort_chan> hold(c);
    bool sent = c->ch.TrySend(Item{v, nullptr});
    UpdateNotify(c);
    if (sent) return 0;
    std::shared_ptr<std::atomic<bool>> claim = CountSender(c);
    try {
      c->ch.Send(Item{v, claim});
    } catch (...) {  // closed or unwound: unless a receiver took the value, uncount
      Settle(c, claim);
      UpdateNotify(c);
      throw;
    }
    return 0;  // taken (the receiver settled the claim) or buffered (its receiver will)
  });
}

int gort_chan_recv(gort_chan* c, void** v) {
  return Guarded(EINVAL, [&] {
    NotNull(c, "gort_chan_recv");
    Hold<gort_chan> hold(c);
    std::optional<Item> got = c->ch.Recv();
    void* value = Took(c, got);
    if (v != nullptr) *v = value;
    return got.has_value() ? 1 : 0;
  });
}

int gort_chan_try_send(gort_chan* c, void* v) {
  return Guarded(EPIPE, [&] {
    NotNull(c, "gort_chan_try_send");
    Hold<gort_chan> hold(c);
    bool sent = c->ch.TrySend(Item{v, nullptr});
    UpdateNotify(c);
    return sent ? 0 : -EAGAIN;
  });
}

int gort_chan_try_recv(gort_chan* c, void** v) {
  return Guarded(EINVAL, [&] {
    NotNull(c, "gort_chan_try_recv");
    Hold<gort_chan> hold(c);
    std::optional<Item> got;
    gort::RecvStatus s = c->ch.TryRecvStatus(&got);
    void* value = Took(c, got);
    if (v != nullptr) *v = value;
    // Nothing yet, but a sender is counted: it is between its count and its
    // queueing (or its value was just taken by someone else). A host loop
    // polling the notify descriptor would spin until it gets there: give it
    // the CPU once.
    if (s == gort::RecvStatus::kEmpty && c->pending_senders.load(std::memory_order_relaxed) > 0) {
      rt::Gosched();
    }
    switch (s) {
      case gort::RecvStatus::kValue:
        return 1;
      case gort::RecvStatus::kClosed:
        return 0;
      default:
        return -EAGAIN;
    }
  });
}

int gort_chan_close(gort_chan* c) {
  return Guarded(EPIPE, [&] {
    NotNull(c, "gort_chan_close");
    Hold<gort_chan> hold(c);
    c->ch.Close();
    c->closed.store(true, std::memory_order_seq_cst);
    UpdateNotify(c);
    return 0;
  });
}

size_t gort_chan_len(gort_chan* c) { return c != nullptr ? c->ch.Len() : 0; }

size_t gort_chan_cap(gort_chan* c) { return c != nullptr ? c->ch.Cap() : 0; }

int gort_chan_notify_fd(gort_chan* c) {
  return Guarded(EINVAL, [&] {
    NotNull(c, "gort_chan_notify_fd");
    Hold<gort_chan> hold(c);
    std::lock_guard<std::mutex> l(c->notify_mu);
    int fd = c->notify_fd.load(std::memory_order_relaxed);
    if (fd >= 0) return fd;
    fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return Fail(errno, std::string("gort_chan_notify_fd: eventfd: ") + strerror(errno));
    c->notify_fd.store(fd, std::memory_order_seq_cst);
    if (RecvReady(c)) {
      uint64_t one = 1;
      if (write(fd, &one, sizeof(one)) == sizeof(one)) c->signaled = true;
    }
    return fd;
  });
}

gort_chan* gort_after_ns(int64_t ns) {
  gort_chan* c = nullptr;
  Guarded(EINVAL, [&] {
    c = new gort_chan(1);
    Retain(c);  // the timer fiber's reference
    struct Ref {
      gort_chan* c;
      explicit Ref(gort_chan* c) : c(c) {}
      Ref(Ref&& o) noexcept : c(std::exchange(o.c, nullptr)) {}
      ~Ref() { Release(c); }
    };
    try {
      rt::Go([ref = Ref(c), ns] {
        gort::time::Sleep(absl::Nanoseconds(ns));
        ref.c->ch.TrySend(Item{});
        UpdateNotify(ref.c);
      });
    } catch (...) {
      Release(c);  // the fiber's reference went with the callable; this is the caller's
      c = nullptr;
      throw;
    }
    return 0;
  });
  return c;
}

int gort_select(gort_case* cases, size_t n, int nonblocking) {
  return Guarded(EPIPE, [&] {
    if (cases == nullptr && n != 0) return Fail(EINVAL, "gort_select: NULL cases");
    if (n > static_cast<size_t>(INT32_MAX)) return Fail(EINVAL, "gort_select: too many cases");
    std::vector<Hold<gort_chan>> holds;
    holds.reserve(n);
    for (size_t k = 0; k < n; k++) holds.emplace_back(cases[k].chan);
    std::vector<std::optional<Item>> got(n);
    std::vector<std::shared_ptr<std::atomic<bool>>> claims(n);
    std::size_t i = n;
    // Settles the claims of the send cases that did not run (all of them
    // if the select throws), then updates every channel's readiness.
    struct Finish {
      gort_case* cases;
      size_t n;
      std::vector<std::shared_ptr<std::atomic<bool>>>* claims;
      std::size_t* chosen;
      ~Finish() {
        for (size_t k = 0; k < n; k++) {
          if (k != *chosen && (*claims)[k] != nullptr) Settle(cases[k].chan, (*claims)[k]);
        }
        for (size_t k = 0; k < n; k++) UpdateNotify(cases[k].chan);
      }
    } finish{cases, n, &claims, &i};
    gort::Chan<Item> nil;
    // Two passes, as Go's selectgo: without blocking first; only if nothing
    // is ready are the send cases counted as blocked senders (notify
    // readiness) while the select blocks.
    for (int pass = 0; pass < 2 && i == n; pass++) {
      bool block = pass == 1;
      if (block && nonblocking) break;
      std::vector<gort::Case> cs;
      cs.reserve(n + 1);
      for (size_t k = 0; k < n; k++) {
        gort_chan* c = cases[k].chan;
        const gort::Chan<Item>& ch = c != nullptr ? c->ch : nil;
        if (cases[k].is_send) {
          if (block && c != nullptr) claims[k] = CountSender(c);
          cs.push_back(gort::OnSend(ch, Item{cases[k].send_value, claims[k]}));
        } else {
          cs.push_back(gort::OnRecv(ch, &got[k]));
        }
      }
      if (!block) cs.push_back(gort::OnDefault());
      std::size_t r = gort::SelectCases(cs.data(), cs.size());
      i = r;  // n on pass 1: the default
    }
    if (i < n && !cases[i].is_send && got[i].has_value()) Settle(cases[i].chan, got[i]->claim);
    if (i == n) return -EAGAIN;  // the default
    if (!cases[i].is_send) {
      cases[i].recv_value = got[i].has_value() ? got[i]->v : nullptr;
      cases[i].recv_ok = got[i].has_value() ? 1 : 0;
    }
    return static_cast<int>(i);
  });
}

// ---- sync ---------------------------------------------------------------

gort_mutex* gort_mutex_new(void) {
  gort_mutex* m = nullptr;
  Guarded(ENOMEM, [&] {
    m = new gort_mutex;
    return 0;
  });
  return m;
}

gort_mutex* gort_mutex_retain(gort_mutex* m) {
  if (m != nullptr) Retain(m);
  return m;
}

void gort_mutex_release(gort_mutex* m) { Release(m); }

int gort_mutex_lock(gort_mutex* m) {
  return Guarded(EINVAL, [&] {
    NotNull(m, "gort_mutex_lock");
    Hold<gort_mutex> hold(m);
    m->mu.Lock();
    return 0;
  });
}

int gort_mutex_trylock(gort_mutex* m) {
  return Guarded(EINVAL, [&] {
    NotNull(m, "gort_mutex_trylock");
    Hold<gort_mutex> hold(m);
    return m->mu.TryLock() ? 1 : 0;
  });
}

int gort_mutex_unlock(gort_mutex* m) {
  return Guarded(EPERM, [&] {
    NotNull(m, "gort_mutex_unlock");
    Hold<gort_mutex> hold(m);
    m->mu.Unlock();
    return 0;
  });
}

gort_waitgroup* gort_waitgroup_new(void) {
  gort_waitgroup* wg = nullptr;
  Guarded(ENOMEM, [&] {
    wg = new gort_waitgroup;
    return 0;
  });
  return wg;
}

gort_waitgroup* gort_waitgroup_retain(gort_waitgroup* wg) {
  if (wg != nullptr) Retain(wg);
  return wg;
}

void gort_waitgroup_release(gort_waitgroup* wg) { Release(wg); }

int gort_waitgroup_add(gort_waitgroup* wg, int delta) {
  return Guarded(EINVAL, [&] {
    NotNull(wg, "gort_waitgroup_add");
    Hold<gort_waitgroup> hold(wg);
    wg->wg.Add(delta);
    return 0;
  });
}

int gort_waitgroup_done(gort_waitgroup* wg) {
  return Guarded(EINVAL, [&] {
    NotNull(wg, "gort_waitgroup_done");
    Hold<gort_waitgroup> hold(wg);
    wg->wg.Done();
    return 0;
  });
}

int gort_waitgroup_wait(gort_waitgroup* wg) {
  return Guarded(EINVAL, [&] {
    NotNull(wg, "gort_waitgroup_wait");
    Hold<gort_waitgroup> hold(wg);
    wg->wg.Wait();
    return 0;
  });
}

// ---- descriptors ----------------------------------------------------------

int gort_poll_wait(int fd, int events, int64_t timeout_ns) {
  return Guarded(EINVAL, [&] {
    absl::Time deadline =
        timeout_ns < 0 ? absl::InfiniteFuture() : absl::Now() + absl::Nanoseconds(timeout_ns);
    absl::Status st = gort::poll::Wait(fd, events, deadline);
    if (st.ok()) return 0;
    if (st.code() == absl::StatusCode::kFailedPrecondition && ErrnoFromMessage(st.message()) == 0) {
      return Fail(EBADF, st.message());  // "use of closed file"
    }
    return FailStatus(st);
  });
}

int gort_poll_close(int fd) {
  return Guarded(EINVAL, [&] {
    absl::Status st = gort::poll::Close(fd);
    return st.ok() ? 0 : FailStatus(st);
  });
}

// ---- processes --------------------------------------------------------------

int gort_process_start(const char* path, const char* const* argv, const char* const* envp,
                       const char* dir, pid_t* pid) {
  return Guarded(EINVAL, [&] {
    if (path == nullptr || argv == nullptr) {
      return Fail(EINVAL, "gort_process_start: NULL path or argv");
    }
    std::vector<std::string> args;
    for (const char* const* a = argv; *a != nullptr; a++) args.emplace_back(*a);
    gort::syscall::ProcAttr attr;
    if (dir != nullptr) attr.dir = dir;
    for (const char* const* e = envp != nullptr ? envp : environ; e != nullptr && *e != nullptr;
         e++) {
      attr.env.emplace_back(*e);
    }
    absl::StatusOr<pid_t> p = gort::syscall::StartProcess(path, args, attr);
    if (!p.ok()) return FailStatus(p.status());
    if (pid != nullptr) *pid = *p;
    return 0;
  });
}

int gort_process_wait(pid_t pid, int* wait_status) {
  return Guarded(EINVAL, [&] {
    gort::syscall::Waitmsg w;
    absl::Status st = gort::syscall::WaitProcess(pid, &w);
    if (st.code() == absl::StatusCode::kNotFound) return Fail(ECHILD, st.message());
    if (!st.ok()) return FailStatus(st);
    if (wait_status != nullptr) *wait_status = w.status;
    return 0;
  });
}

int gort_process_kill(pid_t pid, int sig) {
  return Guarded(EINVAL, [&] {
    if (std::optional<gort::os::Process> p = TakeLegacy(pid, false)) {
      absl::Status st = p->Signal(sig);
      return st.ok() ? 0 : FailStatus(st);
    }
    absl::Status st = gort::syscall::Kill(pid, sig);
    return st.ok() ? 0 : FailStatus(st);
  });
}

int gort_legacy_process_start(const char* path, const char* const* argv, const char* const* envp,
                              const char* dir, pid_t* pid) {
  return Guarded(EINVAL, [&] {
    if (path == nullptr || argv == nullptr) {
      return Fail(EINVAL, "gort_legacy_process_start: NULL path or argv");
    }
    gort::os::ProcAttr attr;
    if (dir != nullptr) attr.dir = dir;
    attr.env = Strings(envp != nullptr ? envp : environ);
    absl::StatusOr<gort::os::Process> p = gort::os::legacy::StartProcess(path, Strings(argv), attr);
    if (!p.ok()) return FailStatus(p.status());
    {
      std::lock_guard<std::mutex> l(legacy_mu);
      LegacyProcesses().emplace(p->Pid(), *p);
    }
    if (pid != nullptr) *pid = p->Pid();
    return 0;
  });
}

int gort_legacy_process_wait(pid_t pid, int* wait_status, int* dropped) {
  return Guarded(EINVAL, [&] {
    std::optional<gort::os::Process> p = TakeLegacy(pid, true);
    if (!p.has_value()) return Fail(ECHILD, "wait: process not found");
    int n = 0;
    absl::StatusOr<gort::os::ProcessState> ps = gort::os::legacy::Wait(*p, &n);
    if (dropped != nullptr) *dropped = n;
    if (!ps.ok()) return FailStatus(ps.status());  // "wait: no child processes" is ECHILD
    if (wait_status != nullptr) *wait_status = ps->Sys().status;
    return 0;
  });
}

int gort_legacy_process_release(pid_t pid) {
  return Guarded(EINVAL, [&] {
    if (!TakeLegacy(pid, true).has_value()) return Fail(ECHILD, "wait: process not found");
    return 0;
  });
}

// ---- exec -------------------------------------------------------------------

void gort_free(void* p) { std::free(p); }

int gort_look_path(const char* file, char** path) {
  return Guarded(EINVAL, [&] {
    if (file == nullptr) return Fail(EINVAL, "gort_look_path: NULL file");
    absl::StatusOr<std::string> p = gort::exec::LookPath(file);
    if (!p.ok()) return FailStatus(p.status());
    if (path != nullptr) *path = CopyOut(*p);
    return 0;
  });
}

int gort_exec_output(const char* const* argv, const char* const* envp, const char* stdin_data,
                     size_t stdin_len, int flags, char** out, size_t* out_len, char** err_out,
                     size_t* err_len, int* wait_status) {
  // What the caller gets on every path: empty outputs until the child ran.
  std::string got_out, got_err;
  int status = -1;
  int rc = Guarded(EINVAL, [&] {
    if (argv == nullptr || argv[0] == nullptr || argv[0][0] == 0) {
      return Fail(EINVAL, "exec: no command");
    }
    std::vector<std::string> args = Strings(argv + 1);
    gort::exec::Cmd cmd = gort::exec::Command(argv[0], std::move(args));
    if (envp != nullptr) cmd.env = Strings(envp);
    if (stdin_data != nullptr) cmd.stdin_data.assign(stdin_data, stdin_len);
    absl::StatusOr<std::string> r =
        (flags & GORT_EXEC_COMBINED) != 0 ? cmd.CombinedOutput() : cmd.Output();
    if (std::optional<gort::os::ProcessState> ps = cmd.process_state()) status = ps->Sys().status;
    if (r.ok()) {
      got_out = std::move(*r);
      return 0;
    }
    const absl::Status& st = r.status();
    if (auto o = st.GetPayload(absl::string_view(gort::exec::kOutputPayload.data(),
                                                 gort::exec::kOutputPayload.size()))) {
      got_out = std::string(*o);
    }
    if (auto e = st.GetPayload(absl::string_view(gort::exec::kStderrPayload.data(),
                                                 gort::exec::kStderrPayload.size()))) {
      got_err = std::string(*e);
    }
    if (status != -1) return Fail(GORT_EEXIT, st.message());  // ran and failed: an ExitError
    return FailStatus(st);
  });
  if (out_len != nullptr) *out_len = got_out.size();
  if (err_len != nullptr) *err_len = got_err.size();
  if (wait_status != nullptr) *wait_status = status;
  // Outputs are stored last, so that an allocation failure leaves nothing to free.
  char* o = nullptr;
  char* e = nullptr;
  int copied = Guarded(ENOMEM, [&] {
    if (out != nullptr) o = CopyOut(got_out);
    if (err_out != nullptr) e = CopyOut(got_err);
    return 0;
  });
  if (copied != 0) {
    std::free(o);
    std::free(e);
    o = e = nullptr;
    rc = copied;
  }
  if (out != nullptr) *out = o;
  if (err_out != nullptr) *err_out = e;
  return rc;
}

}  // extern "C"
