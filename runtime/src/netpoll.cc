// The poller: see netpoll.h. Protocol:
//   - A descriptor's PollDesc lives in a table indexed by the descriptor,
//     from its registration (the first wait) until it is forgotten (closed
//     through gort) or the Run ends. PollDescs are never freed: a forgotten
//     one goes to a free list with its tag bumped, so an epoll event or a
//     deadline timer that names it late finds it alive and ignores it (Go:
//     pollCache and fdseq).
//   - Everything in a PollDesc is guarded by its lock. A waiter checks for
//     closing, a consumed edge and its deadline, links itself and blocks
//     under the lock (Block releases it once the fiber is saved); whoever
//     ends the wait (an edge, the deadline timer, a close, a deadline
//     change) unlinks it and writes its result under the lock, and wakes
//     it after releasing the lock. An edge that finds no waiter for a mode
//     is kept in `ready` for the next wait (Go: pdReady).
//   - The wake-up eventfd is level-triggered: a break stays visible until
//     the poll sleeper (the only blocking poller) drains it; break_pending
//     makes repeated breaks cost one write.
#include "netpoll.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "absl/time/clock.h"
#include "execute.h"
#include "fatal.h"
#include "gort/panic.h"
#include "schedule.h"
#include "timers.h"
#include "wait.h"

namespace gort::runtime::internal {
namespace {

constexpr int kMaxEvents = 128;  // per epoll_wait; Go: netpoll's 128
// The descriptor table: kTableChunks chunks of 2^kChunkBits slots, made on
// first use, never freed. Descriptors at or beyond kMaxPollFd cannot be
// registered (EMFILE).
constexpr int kChunkBits = 12;
constexpr int kChunkSize = 1 << kChunkBits;
constexpr int kTableChunks = 1024;
constexpr int kMaxPollFd = kTableChunks * kChunkSize;
// The wake-up eventfd's epoll data; a PollDesc's is never 0.
constexpr uint64_t kWakeData = 0;
// How long sysmon lets the descriptors go unpolled while fibers wait on
// them and every M is busy. Go: sysmon's 10 ms.
constexpr int64_t kSysmonPollNs = 10 * 1000 * 1000;

struct PollWaiter {
  Waiter w;
  int mode = 0;     // kPollRead | kPollWrite: what it waits for
  uint64_t id = 0;  // names it to its deadline timer
  PollResult result = PollResult::kReady;
};

struct PollDesc {
  Lock lock;
  int fd ABSL_GUARDED_BY(lock) = -1;  // -1: forgotten (on the free list)
  // The low 16 bits travel in the epoll event beside the pointer; bumped on
  // every registration and every forget, so that late events are ignored.
  uint16_t tag ABSL_GUARDED_BY(lock) = 0;
  bool closing ABSL_GUARDED_BY(lock) = false;  // evicted: waits fail with kClosing
  int ready ABSL_GUARDED_BY(lock) = 0;         // edges not yet consumed by a wait
  WaitQueue waiters ABSL_GUARDED_BY(lock);     // PollWaiter::w, FIFO
  PollDesc* next_free = nullptr;               // guarded by poller.lock
};

struct Poller {
  Lock lock;  // table writes, the free list, start and stop
  std::atomic<bool> running{false};
  std::atomic<int> epfd{-1};
  std::atomic<int> wakefd{-1};
  std::atomic<std::atomic<PollDesc*>*> chunks[kTableChunks] = {};
  PollDesc* free ABSL_GUARDED_BY(lock) = nullptr;
  std::atomic<uint32_t> break_pending{0};
  std::atomic<int> nwaiters{0};
  std::atomic<int64_t> last_poll{0};
  std::atomic<bool> blocked{false};  // the poll sleeper is in epoll_wait (Go: lastpoll == 0)
  std::atomic<uint64_t> next_wait_id{1};
} poller;

uint64_t Pack(PollDesc* pd, uint16_t tag) {
  return (uint64_t{tag} << 48) | static_cast<uint64_t>(reinterpret_cast<uintptr_t>(pd));
}
PollDesc* UnpackDesc(uint64_t data) {
  return reinterpret_cast<PollDesc*>(static_cast<uintptr_t>(data & ((uint64_t{1} << 48) - 1)));
}
uint16_t UnpackTag(uint64_t data) { return static_cast<uint16_t>(data >> 48); }

std::atomic<PollDesc*>* Slot(int fd, bool create) {
  if (fd < 0 || fd >= kMaxPollFd) return nullptr;
  std::atomic<std::atomic<PollDesc*>*>& c = poller.chunks[fd >> kChunkBits];
  std::atomic<PollDesc*>* chunk = c.load(std::memory_order_acquire);
  if (chunk == nullptr) {
    if (!create) return nullptr;
    chunk = new std::atomic<PollDesc*>[kChunkSize]();  // kept for the process's life
    c.store(chunk, std::memory_order_release);         // creators hold poller.lock
  }
  return &chunk[fd & (kChunkSize - 1)];
}

PollDesc* Lookup(int fd) {
  std::atomic<PollDesc*>* s = Slot(fd, false);
  return s != nullptr ? s->load(std::memory_order_acquire) : nullptr;
}

// Unlinks every waiter of pd whose mode meets `mode`, gives it `result`
// and chains it onto *woken (through Waiter::next) for WakeAll. Returns
// the modes delivered.
int TakeWaiters(PollDesc* pd, int mode, PollResult result, Waiter** woken)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(pd->lock) {
  int delivered = 0;
  for (Waiter* w = pd->waiters.head; w != nullptr;) {
    Waiter* next = w->next;
    auto* pw = static_cast<PollWaiter*>(w->data);
    if ((pw->mode & mode) != 0) {
      pd->waiters.Remove(w);
      poller.nwaiters.fetch_sub(1, std::memory_order_acq_rel);
      pw->result = result;
      delivered |= pw->mode & mode;
      w->next = *woken;
      *woken = w;
    }
    w = next;
  }
  return delivered;
}

// Wakes a chain built by TakeWaiters, fibers as one batch. No lock held.
void WakeAll(Waiter* woken) {
  G* batch[64];
  int n = 0;
  while (woken != nullptr) {
    Waiter* w = woken;
    woken = w->next;
    w->next = nullptr;
    if (w->g == nullptr) {
      w->note->Wakeup();
      continue;
    }
    batch[n++] = w->g;
    if (n == 64) {
      ReadyBatch(batch, n);
      n = 0;
    }
  }
  ReadyBatch(batch, n);
}

// pd's descriptor is forgotten (its table slot already cleared): its
// waiters get `result` (chained onto *woken for WakeAll), late events and
// timers will find the tag bumped, and pd goes to the free list.
void Retire(PollDesc* pd, PollResult result, Waiter** woken)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(poller.lock) {
  {
    LockGuard pl(pd->lock);
    TakeWaiters(pd, kPollRead | kPollWrite, result, woken);
    pd->fd = -1;
    pd->tag++;
    pd->closing = false;
    pd->ready = 0;
  }
  pd->next_free = poller.free;
  poller.free = pd;
}

// A waiter's deadline passed: wake it with kTimeout if it still waits.
// arg: its PollDesc; id: the waiter's.
void DeadlineFired(void* arg, uint64_t id) {
  auto* pd = static_cast<PollDesc*>(arg);
  Waiter* woken = nullptr;
  {
    LockGuard l(pd->lock);
    for (Waiter* w = pd->waiters.head; w != nullptr; w = w->next) {
      auto* pw = static_cast<PollWaiter*>(w->data);
      if (pw->id != id) continue;
      pd->waiters.Remove(w);
      poller.nwaiters.fetch_sub(1, std::memory_order_acq_rel);
      pw->result = PollResult::kTimeout;
      woken = w;
      break;
    }
  }
  if (woken != nullptr) WakeAll(woken);
}

int SetNonblock(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return errno;
  if ((flags & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return errno;
  return 0;
}

// fd's PollDesc, registering fd first if it has none. Null with *err = 0
// when the poller is not running, else with the errno of the failure.
PollDesc* GetOrRegister(int fd, int* err) {
  *err = 0;
  if (PollDesc* pd = Lookup(fd)) return pd;
  LockGuard l(poller.lock);
  if (!poller.running.load(std::memory_order_acquire)) return nullptr;
  if (PollDesc* pd = Lookup(fd)) return pd;
  if (fd < 0) {
    *err = EBADF;
    return nullptr;
  }
  if (fd >= kMaxPollFd) {
    *err = EMFILE;
    return nullptr;
  }
  if (int e = SetNonblock(fd); e != 0) {
    *err = e;
    return nullptr;
  }
  PollDesc* pd = poller.free;
  if (pd != nullptr) {
    poller.free = pd->next_free;
    pd->next_free = nullptr;
  } else {
    pd = new PollDesc;  // kept for the process's life (see the protocol above)
  }
  uint16_t tag;
  {
    LockGuard pl(pd->lock);
    pd->fd = fd;
    pd->tag++;
    pd->closing = false;
    pd->ready = 0;
    tag = pd->tag;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = Pack(pd, tag);
  const int epfd = poller.epfd.load(std::memory_order_relaxed);
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    int e = errno;
    // Registered already under this number (a descriptor closed behind
    // gort's back whose number came back as a dup of the same file): take
    // the registration over.
    if (e != EEXIST || epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
      if (e == EEXIST) e = errno;
      {
        LockGuard pl(pd->lock);
        pd->fd = -1;
      }
      pd->next_free = poller.free;
      poller.free = pd;
      *err = e;
      return nullptr;
    }
  }
  Slot(fd, true)->store(pd, std::memory_order_release);
  return pd;
}

// A plain thread outside Run: no poller, so poll(2) on the descriptor.
PollResult ThreadPoll(int fd, int mode, const std::atomic<int64_t>* deadline, int* err) {
  pollfd p{};
  p.fd = fd;
  if (mode & kPollRead) p.events |= POLLIN;
  if (mode & kPollWrite) p.events |= POLLOUT;
  for (;;) {
    int timeout_ms = -1;
    int64_t dl = deadline->load(std::memory_order_acquire);
    if (dl != INT64_MAX) {
      int64_t left = dl - absl::ToUnixNanos(absl::Now());
      if (left <= 0) return PollResult::kTimeout;
      timeout_ms = static_cast<int>(std::min<int64_t>((left + 999999) / 1000000, INT_MAX));
    }
    int r = poll(&p, 1, timeout_ms);
    if (r > 0) {
      if (p.revents & POLLNVAL) {
        *err = EBADF;
        return PollResult::kError;
      }
      return PollResult::kReady;
    }
    if (r < 0 && errno != EINTR) {
      *err = errno;
      return PollResult::kError;
    }
  }
}

int64_t DeadlineToNanotime(int64_t unix_ns, int64_t now_unix) {
  int64_t left = unix_ns - now_unix;
  int64_t now = Nanotime();
  return left > INT64_MAX - now ? INT64_MAX : now + left;
}

}  // namespace

void NetpollInit() {
  LockGuard l(poller.lock);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    throw Panic(std::string("gort: runtime::Run: epoll_create1: ") + strerror(errno));
  }
  int wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakefd < 0) {
    int e = errno;
    close(epfd);
    throw Panic(std::string("gort: runtime::Run: eventfd: ") + strerror(e));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: see the protocol above
  ev.data.u64 = kWakeData;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) < 0) {
    int e = errno;
    close(wakefd);
    close(epfd);
    throw Panic(std::string("gort: runtime::Run: epoll_ctl: ") + strerror(e));
  }
  poller.wakefd.store(wakefd, std::memory_order_relaxed);
  poller.break_pending.store(0, std::memory_order_relaxed);
  poller.last_poll.store(Nanotime(), std::memory_order_relaxed);
  poller.epfd.store(epfd, std::memory_order_release);
  poller.running.store(true, std::memory_order_release);
}

void NetpollShutdown() {
  Waiter* woken = nullptr;
  {
    LockGuard l(poller.lock);
    if (!poller.running.load(std::memory_order_acquire)) return;
    poller.running.store(false, std::memory_order_release);
    for (auto& c : poller.chunks) {
      std::atomic<PollDesc*>* chunk = c.load(std::memory_order_acquire);
      if (chunk == nullptr) continue;
      for (int i = 0; i < kChunkSize; i++) {
        PollDesc* pd = chunk[i].load(std::memory_order_relaxed);
        if (pd == nullptr) continue;
        chunk[i].store(nullptr, std::memory_order_relaxed);
        // Only plain threads can still wait (every fiber was unwound): a
        // spurious kReady sends them back to their I/O, and then to
        // poll(2), since the poller is gone.
        Retire(pd, PollResult::kReady, &woken);
      }
    }
    close(poller.wakefd.load(std::memory_order_relaxed));
    close(poller.epfd.load(std::memory_order_relaxed));
    poller.wakefd.store(-1, std::memory_order_relaxed);
    poller.epfd.store(-1, std::memory_order_release);
  }
  WakeAll(woken);
}

int Netpoll(int64_t timeout_ns) {
  const int epfd = poller.epfd.load(std::memory_order_acquire);
  if (epfd < 0) return 0;
  epoll_event events[kMaxEvents];
  int n;
#if defined(__SANITIZE_THREAD__)
  // TSan sees epoll_wait's ordering (its interceptor), not epoll_pwait2's.
  int timeout_ms =
      timeout_ns < 0
          ? -1
          : static_cast<int>(std::min<int64_t>((timeout_ns + 999999) / 1000000, INT_MAX));
  n = epoll_wait(epfd, events, kMaxEvents, timeout_ms);
#else
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tsp = &ts;
  }
  n = epoll_pwait2(epfd, events, kMaxEvents, tsp, nullptr);
  if (n < 0 && errno == ENOSYS) {  // before Linux 5.11: millisecond timeouts
    int timeout_ms =
        timeout_ns < 0
            ? -1
            : static_cast<int>(std::min<int64_t>((timeout_ns + 999999) / 1000000, INT_MAX));
    n = epoll_wait(epfd, events, kMaxEvents, timeout_ms);
  }
#endif
  poller.last_poll.store(Nanotime(), std::memory_order_release);
  if (n <= 0) return 0;  // timeout, EINTR (callers re-check), or shut down meanwhile
  Waiter* woken = nullptr;
  int count = 0;
  for (int i = 0; i < n; i++) {
    const uint64_t data = events[i].data.u64;
    if (data == kWakeData) {
      // Only a blocking poll (the poll sleeper) consumes a break: it is
      // meant for it, and a non-blocking poll would only hide it.
      if (timeout_ns != 0) {
        uint64_t v;
        ssize_t r = read(poller.wakefd.load(std::memory_order_relaxed), &v, sizeof(v));
        (void)r;  // EAGAIN: another poll drained it
        poller.break_pending.store(0, std::memory_order_release);
      }
      continue;
    }
    const uint32_t ev = events[i].events;
    int mode = 0;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) mode |= kPollRead;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) mode |= kPollWrite;
    if (mode == 0) continue;
    PollDesc* pd = UnpackDesc(data);
    LockGuard l(pd->lock);
    if (pd->fd < 0 || pd->tag != UnpackTag(data)) continue;  // forgotten since
    Waiter* before = woken;
    int delivered = TakeWaiters(pd, mode, PollResult::kReady, &woken);
    pd->ready |= mode & ~delivered;
    for (Waiter* w = woken; w != before; w = w->next) count++;
  }
  WakeAll(woken);
  return count;
}

void NetpollBreak() {
  uint32_t expected = 0;
  if (!poller.break_pending.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  const int saved = errno;  // callers may sit between a system call and its errno
  uint64_t one = 1;
  ssize_t r = write(poller.wakefd.load(std::memory_order_acquire), &one, sizeof(one));
  (void)r;  // EAGAIN: the counter is full, so a wake-up is pending anyway
  errno = saved;
}

int NetpollWaiters() { return poller.nwaiters.load(std::memory_order_acquire); }

int64_t NetpollLastPoll() { return poller.last_poll.load(std::memory_order_acquire); }

bool NetpollBlocked() { return poller.blocked.load(std::memory_order_acquire); }

void SysmonNetpoll(int64_t now) {
  if (NetpollWaiters() == 0 || NetpollBlocked()) return;
  if (now - NetpollLastPoll() < kSysmonPollNs) return;
  Netpoll(0);
}

void WakeM(M* m) {
  m->park.Wakeup();
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (m->in_netpoll.load(std::memory_order_relaxed)) NetpollBreak();
}

bool NetpollSleep(M* m, int64_t timeout_ns) {
  // Spin first, as a note's sleeper does: a hand-off that comes within the
  // spin costs neither side a system call.
  const int64_t spin = timeout_ns >= 0 && timeout_ns < kNoteSpinNs ? timeout_ns : kNoteSpinNs;
  if (m->park.Spin(spin)) return true;
  if (timeout_ns >= 0) timeout_ns = std::max<int64_t>(timeout_ns - spin, 0);
  m->in_netpoll.store(true, std::memory_order_relaxed);
  // Pairs with WakeM's fence: either WakeM sees in_netpoll and breaks the
  // poll, or we see the note set and do not poll.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!m->park.IsSet()) {
    poller.blocked.store(true, std::memory_order_release);
    Netpoll(timeout_ns);
    poller.blocked.store(false, std::memory_order_release);
  }
  m->in_netpoll.store(false, std::memory_order_relaxed);
  return m->park.IsSet();
}

// The descriptor-level calls of runtime_support.h.

PollResult PollWait(int fd, int mode, const std::atomic<int64_t>* deadline, int* err) {
  *err = 0;
  PollDesc* pd = GetOrRegister(fd, err);
  if (pd == nullptr) {
    if (*err != 0) return PollResult::kError;
    M* m = GetM();
    if (m != nullptr && m->is_m0) {
      BlockedWhileUnwinding(m->curg);  // shutdown is unwinding this fiber
    }
    return ThreadPoll(fd, mode, deadline, err);  // not running: no fiber here
  }
  pd->lock.lock();
  if (pd->fd != fd) {  // forgotten (and maybe reused) since the lookup
    pd->lock.unlock();
    return PollResult::kReady;
  }
  if (pd->closing) {
    pd->lock.unlock();
    return PollResult::kClosing;
  }
  if ((pd->ready & mode) != 0) {
    pd->ready &= ~mode;
    pd->lock.unlock();
    return PollResult::kReady;
  }
  const int64_t dl = deadline->load(std::memory_order_acquire);
  int64_t now_unix = 0;
  if (dl != INT64_MAX) {
    now_unix = absl::ToUnixNanos(absl::Now());
    if (dl <= now_unix) {
      pd->lock.unlock();
      return PollResult::kTimeout;
    }
  }
  PollWaiter pw;
  pw.mode = mode;
  pw.id = poller.next_wait_id.fetch_add(1, std::memory_order_relaxed);
  pw.w.data = &pw;
  pd->waiters.Push(&pw.w);
  poller.nwaiters.fetch_add(1, std::memory_order_acq_rel);
  TimerNode timer;
  const bool timed = dl != INT64_MAX;
  if (timed) {
    // Added under pd->lock: the timer cannot wake us before we sleep, since
    // DeadlineFired needs the lock that Block releases only then.
    timer.when = DeadlineToNanotime(dl, now_unix);
    timer.fn = &DeadlineFired;
    timer.arg = pd;
    timer.seq = pw.id;
    AddTimer(&timer);
  }
  try {
    Block(&pw.w, &pd->lock, "IO wait");
  } catch (...) {
    // Unwound (shutdown) while waiting: leave nothing that points here.
    {
      LockGuard l(pd->lock);
      if (pw.w.linked) {
        pd->waiters.Remove(&pw.w);
        poller.nwaiters.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
    if (timed) DelTimer(&timer);
    throw;
  }
  // Whoever woke us unlinked us under the lock; the timer may still be in
  // a heap (or firing: DeadlineFired then finds no waiter with our id).
  if (timed) DelTimer(&timer);
  return pw.result;
}

int PollRegister(int fd) {
  int err = 0;
  if (GetOrRegister(fd, &err) != nullptr || err != 0) return err;
  return SetNonblock(fd);  // not running: non-blocking all the same
}

void PollKick(int fd, int mode) {
  PollDesc* pd = Lookup(fd);
  if (pd == nullptr) return;
  Waiter* woken = nullptr;
  {
    LockGuard l(pd->lock);
    if (pd->fd != fd) return;
    TakeWaiters(pd, mode, PollResult::kReady, &woken);
  }
  WakeAll(woken);
}

void PollEvict(int fd) {
  PollDesc* pd = Lookup(fd);
  if (pd == nullptr) return;
  Waiter* woken = nullptr;
  {
    LockGuard l(pd->lock);
    if (pd->fd != fd) return;
    pd->closing = true;
    TakeWaiters(pd, kPollRead | kPollWrite, PollResult::kClosing, &woken);
  }
  WakeAll(woken);
}

void PollForget(int fd) {
  Waiter* woken = nullptr;
  {
    LockGuard l(poller.lock);
    PollDesc* pd = Lookup(fd);
    if (pd == nullptr) return;
    Slot(fd, false)->store(nullptr, std::memory_order_release);
    epoll_ctl(poller.epfd.load(std::memory_order_relaxed), EPOLL_CTL_DEL, fd, nullptr);
    Retire(pd, PollResult::kClosing, &woken);
  }
  WakeAll(woken);
}

}  // namespace gort::runtime::internal
