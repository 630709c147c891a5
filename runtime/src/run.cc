// Run, Start and Stop: start-up and shutdown of the runtime. Run boots the
// scheduler, runs its main fiber and shuts down when that fiber returns;
// Start boots it and returns (the host keeps its thread), and Stop runs the
// same shutdown from whatever plain thread calls it. Shutdown, step by step:
//   1. The main fiber returned: set sched.shutdown and wake every M.
//   2. Each M stops at its next scheduling point (a running fiber first parks,
//      yields, exits or leaves its system call), puts its P back and exits.
//   3. The Run thread joins every M (under Run it stays sysmon until they
//      have exited), then sysmon's thread (under Start).
//   4. It becomes a pseudo-M (m0) and unwinds every fiber still parked or
//      runnable on its own stack (fibers parked in the poller too); fibers
//      that never started just drop their callable. Repeated until none is
//      left (destructors may ready others). Then the poller goes: plain
//      threads still waiting on descriptors fall back to poll(2), every
//      registration is dropped and the epoll descriptors closed.
//   5. Stacks, Gs, Ps and Ms are freed and the counters reset, so that Run can
//      be called again.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "deadlock.h"
#include "execute.h"
#include "fatal.h"
#include "galloc.h"
#include "gort/internal/runtime_support.h"
#include "gort/runtime.h"
#include "mthread.h"
#include "netpoll.h"
#include "proc.h"
#include "runq.h"
#include "schedule.h"
#include "signals.h"
#include "sysmon.h"
#include "timers.h"

namespace gort::runtime {

using namespace internal;  // NOLINT

namespace {

int DefaultProcs(int requested) {
  if (requested > 0) return std::min(requested, kMaxProcs);
  if (const char* env = getenv("GORT_MAXPROCS")) {
    int n = atoi(env);
    if (n > 0) return std::min(n, kMaxProcs);
  }
  return std::min(NumCPU(), kMaxProcs);
}

int DefaultReapers(int requested) {
  if (requested > 0) return requested;
  if (const char* env = getenv("GORT_PROCESS_REAPERS")) {
    int n = atoi(env);
    if (n > 0) return std::min(n, kMaxProcessReapers);
  }
  return 0;
}

void StartMainFiber(std::function<void()>* fn) {
  using Fn = std::function<void()>;
  G* g = NewG(sizeof(Fn), alignof(Fn), &detail::InvokeAndDestroy<Fn>);
  ::new (g->fn) Fn(std::move(*fn));
  g->is_main = true;
  CasGStatus(g, GStatus::kIdle, GStatus::kRunnable);
  sched.ngoroutines.fetch_add(1, std::memory_order_acq_rel);
  {
    LockGuard l(sched.lock);
    GlobRunqPut(g);
  }
  WakeP();
}

void Shutdown() {
  {
    LockGuard l(sched.lock);
    sched.shutdown.store(true, std::memory_order_seq_cst);
  }
  // Waits that only shutdown can end (a waiter for a child that still runs)
  // poll this descriptor: they stop waiting now, so Run never waits for a
  // child nobody waits for.
  uint64_t one = 1;
  if (write(sched.shutdown_fd, &one, sizeof(one)) != sizeof(one)) Throw("shutdown: eventfd write");
  // A plain thread inside Go either saw the flag and refused, or is about to
  // queue its G: let it finish, so the unwinding below sees the G.
  while (sched.foreign_entering.load(std::memory_order_seq_cst) != 0) sched_yield();
  ShutdownWakeAllMs();
  // Under Run this thread is sysmon: it keeps that role until the Ms are
  // gone. Under Stop sysmon has a thread of its own, running meanwhile.
  if (!sched.embedded.load(std::memory_order_acquire)) SysmonHereUntilMsExit();
  JoinAllMs();
  SysmonStop();

  // Step 4: unwind what is left, on this thread.
  M m0;
  InitM0(&m0);
  for (;;) {
    std::vector<G*> gs;
    {
      LockGuard l(sched.allglock);
      gs = sched.allgs;
    }
    bool any = false;
    for (G* g : gs) {
      GStatus s = g->status.load(std::memory_order_acquire);
      if (s == GStatus::kRunnable || s == GStatus::kWaiting) {
        any = true;
        UnwindG(&m0, g);
      } else if (s != GStatus::kIdle) {
        Throw("shutdown: fiber in an unexpected state");
      }
    }
    if (!any) break;
  }
  SetM(nullptr);
  NetpollShutdown();
  ClearTimers();  // timers nobody waits for any more (After, Timer)

  // Step 5.
  {
    LockGuard l(sched.allglock);
    for (G* g : sched.allgs) {
      StackFree(&g->stack);
      TsanDestroyFiber(g->tsan_fiber);
      delete g;
    }
    sched.allgs.clear();
  }
  {
    LockGuard l(sched.gflock);
    sched.gfree = nullptr;
    sched.gfree_count = 0;
  }
  {
    LockGuard l(sched.lock);
    for (int i = 0; i < kMaxProcs; i++) {
      delete sched.allp[i].load(std::memory_order_relaxed);
      sched.allp[i].store(nullptr, std::memory_order_relaxed);
    }
    sched.nallp.store(0, std::memory_order_relaxed);
    sched.pidle = nullptr;
    sched.npidle.store(0);
    sched.midle = nullptr;
    sched.nmidle = 0;
    sched.nmidlelocked = 0;
    sched.nmreleasing = 0;
    sched.runq_head = sched.runq_tail = nullptr;
    sched.runq_size.store(0);
    sched.nmspinning.store(0);
    sched.nforeign = 0;
    sched.main_goexited = false;
    sched.deadlock_suspect = false;
    if (sched.mcount != 0) Throw("shutdown: Ms left");
  }
  if (sched.ngoroutines.load() != 0) Throw("shutdown: fibers left after unwinding");
  SignalsUninstall();
  close(sched.shutdown_fd);
  sched.shutdown_fd = -1;
}

// Every option, checked before anything starts, so a bad one leaves nothing
// behind. Message: the option, its value and what is accepted.
absl::Status CheckOptions(const Options& o, const char* who) {
  if (o.procs < 0 || o.procs > kMaxProcs) {
    return absl::InvalidArgumentError(absl::StrCat("gort: runtime::", who, ": Options::procs is ",
                                                   o.procs, "; want 0 (the default) or 1..",
                                                   kMaxProcs));
  }
  if (o.stack_size > kMaxStackSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gort: runtime::", who, ": Options::stack_size is ", o.stack_size,
        " bytes; want 0 (the default, ", kDefaultStackSize, ") or at most ", kMaxStackSize));
  }
  if (o.process_reapers < 0 || o.process_reapers > kMaxProcessReapers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gort: runtime::Run: Options::process_reapers is ", o.process_reapers,
        "; want 0 (the default: a waiter thread per child) or 1..", kMaxProcessReapers));
  }
  if (o.max_threads < 0 || (o.max_threads > 0 && o.max_threads < kMinThreads)) {
    return absl::InvalidArgumentError(
        absl::StrCat("gort: runtime::", who, ": Options::max_threads is ", o.max_threads,
                     "; want 0 (the default, ", kDefaultMaxThreads, ") or at least ", kMinThreads,
                     " (sysmon and two Ms)"));
  }
  return absl::OkStatus();
}

// Undoes whatever start-up did before it failed, so that the next Run starts
// from scratch. Called with no M running (none was started, or the failure
// came before any).
void RollBackStart() {
  SysmonStop();
  JoinAllMs();
  NetpollShutdown();
  SignalsUninstall();
  LockGuard l(sched.lock);
  for (int i = 0; i < kMaxProcs; i++) {
    delete sched.allp[i].load(std::memory_order_relaxed);
    sched.allp[i].store(nullptr, std::memory_order_relaxed);
  }
  sched.nallp.store(0, std::memory_order_relaxed);
  sched.gomaxprocs.store(0, std::memory_order_relaxed);
  sched.pidle = nullptr;
  sched.npidle.store(0);
  if (sched.shutdown_fd >= 0) close(sched.shutdown_fd);
  sched.shutdown_fd = -1;
}

}  // namespace

namespace {
// The last step of every way out of Run (and of Stop): the runtime may be
// started again.
void EndRun() {
  MarkSysmonThread(false);
  sched.embedded.store(false, std::memory_order_release);
  SetRunThread(false);
  sched.running.store(false, std::memory_order_release);
}

// Start-up shared by Run and Start (`who` names the caller in messages):
// checks the options, claims the runtime, makes the Ps, the poller, the
// signal handlers and sysmon. On failure nothing is
// left started and the error says why: InvalidArgument (an option),
// FailedPrecondition (called from a fiber, or the runtime already runs),
// Internal (the system refused a descriptor or a thread).
// The stop claim: set once Start has finished booting; Stop takes it.
std::atomic<bool> stoppable{false};

absl::Status Boot(const Options& options, const char* who, bool embedded) {
  if (GetM() != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("gort: runtime::", who, " called from a fiber (", who, " is not re-entrant)"));
  }
  if (absl::Status st = CheckOptions(options, who); !st.ok()) return st;
  bool expected = false;
  if (!sched.running.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    return absl::FailedPreconditionError(
        absl::StrCat("gort: runtime::", who, " called while the runtime is already running"));
  }
  SetRunThread(true);
  int procs = DefaultProcs(options.procs);
  sched.stack_size =
      options.stack_size == 0 ? kDefaultStackSize : std::max(options.stack_size, kMinStackSize);
  sched.max_threads = options.max_threads > 0 ? options.max_threads : kDefaultMaxThreads;
  sched.process_reapers = DefaultReapers(options.process_reapers);
  sched.preempt.store(options.preempt, std::memory_order_relaxed);
  sched.ncpu.store(NumCPU(), std::memory_order_relaxed);
  sched.shutdown.store(false, std::memory_order_seq_cst);
  sched.main_finished.store(false, std::memory_order_relaxed);
  sched.goidgen.store(0, std::memory_order_relaxed);
  sched.embedded.store(embedded, std::memory_order_release);
  try {
    sched.shutdown_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sched.shutdown_fd < 0) {
      throw Panic(absl::StrCat("gort: runtime::", who, ": eventfd: ", strerror(errno)));
    }
    {
      LockGuard l(sched.lock);
      sched.generation++;
      sched.mnext = 0;
      for (int i = 0; i < procs; i++) {
        P* p = new P;
        p->id = i;
        sched.allp[i].store(p, std::memory_order_release);
        PidlePut(p);
      }
      sched.nallp.store(procs, std::memory_order_release);
      sched.gomaxprocs.store(procs, std::memory_order_release);
    }
    NetpollInit();
    SignalsInstall();
    // Run's thread would only sleep until the main fiber returns: it is
    // sysmon (and creates the first M). Start's caller keeps its thread.
    if (embedded) {
      SysmonStart();
    } else {
      SysmonPrepareHere();
    }
  } catch (const std::exception& e) {
    RollBackStart();
    EndRun();
    return absl::InternalError(e.what());
  }
  return absl::OkStatus();
}

// Whether the caller may stop the runtime now; one caller wins.
absl::Status ClaimStop() {
  if (GetM() != nullptr) {
    return absl::FailedPreconditionError(
        "gort: runtime::Stop called from a fiber (it would wait for itself; call it from a plain "
        "thread)");
  }
  if (!sched.running.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError("gort: runtime::Stop: the runtime is not running");
  }
  bool expected = true;
  if (!stoppable.compare_exchange_strong(expected, false, std::memory_order_acq_rel)) {
    return absl::FailedPreconditionError(
        "gort: runtime::Stop: the runtime was not started by runtime::Start (Run stops when its "
        "main fiber returns), or another thread is stopping it");
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {
absl::Status RunStatus(std::function<void()> main_fiber, Options options) {
  if (absl::Status st = Boot(options, "Run", false); !st.ok()) return st;
  try {
    StartMainFiber(&main_fiber);
  } catch (const std::exception& e) {  // no stack for the main fiber: stop what was started
    Shutdown();
    EndRun();
    return absl::ResourceExhaustedError(e.what());
  }
  SysmonHereUntilMainReturns();
  Shutdown();
  EndRun();
  return absl::OkStatus();
}

std::string* FiberLastError() {
  M* m = GetM();
  G* g = m != nullptr ? m->curg : nullptr;
  return g != nullptr ? &g->last_error : nullptr;
}
}  // namespace internal

int Run(std::function<void()> main_fiber, Options options) {
  absl::Status st = internal::RunStatus(std::move(main_fiber), options);
  if (!st.ok()) throw Panic(std::string(st.message()));
  return 0;
}

// The scheduler runs on its own threads; the caller goes back to its work.
// Deadlock detection is off until Stop (embedded runtimes: see EvalDead).
absl::Status Start(Options options) {
  if (absl::Status st = Boot(options, "Start", true); !st.ok()) return st;
  // The caller is a plain thread like any other of the host's from now on:
  // it may block on runtime objects and start fibers.
  SetRunThread(false);
  stoppable.store(true, std::memory_order_release);
  return absl::OkStatus();
}

// Run's shutdown (steps 1 to 5 above), from the calling plain thread.
absl::Status Stop() {
  if (absl::Status st = ClaimStop(); !st.ok()) return st;
  SetRunThread(true);
  Shutdown();
  EndRun();
  return absl::OkStatus();
}

ScopedRuntime::ScopedRuntime(Options options) : status_(Start(options)) {}

ScopedRuntime::~ScopedRuntime() {
  if (status_.ok() && !stopped_) (void)runtime::Stop();
}

absl::Status ScopedRuntime::Stop() {
  if (!status_.ok()) return status_;
  if (stopped_) return absl::FailedPreconditionError("gort: ScopedRuntime::Stop called twice");
  stopped_ = true;
  return runtime::Stop();
}

bool Unwinding() {
  M* m = GetM();
  G* g = m != nullptr ? m->curg : nullptr;  // m0's too: shutdown unwinds fibers there
  return g != nullptr && (g->unwinding.load(std::memory_order_acquire) || g->goexiting);
}

}  // namespace gort::runtime
