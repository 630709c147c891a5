// ForkExec on Linux: clone(CLONE_VM|CLONE_VFORK) on a small child stack.
// Go: syscall/exec_linux.go (forkAndExecInChild1), exec_unix.go (forkExec).
//
// Between clone and exec the child shares the parent's memory and runs on a
// stack carved out of the parent's frame (the parent thread is suspended
// until the child execs or exits: CLONE_VFORK). It may therefore use only raw
// system calls: no allocation, no locks, no errno (that would be the parent
// thread's TLS), no sanitizer instrumentation. Everything it needs (argv,
// envp, the fd plan) is prepared before the clone. All signals are blocked
// around the clone so that no handler of the parent runs on the child's
// stack; the child resets every caught signal (and an ignored SIGPIPE or
// SIGXFSZ) to SIG_DFL before restoring the mask and exec'ing (clone without
// CLONE_SIGHAND gives it its own table).
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "forkexec.h"
#include "gort/internal/runtime_support.h"
#include "gort/runtime.h"
#include "gort/syscall.h"

namespace gort::syscall {
namespace {

// Raw system calls for the child: no errno, no libc state. Returns -errno.
#if defined(__x86_64__)
__attribute__((always_inline)) inline long Raw(long n, long a = 0, long b = 0, long c = 0,
                                               long d = 0) {
  long ret;
  register long r10 asm("r10") = d;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
               : "rcx", "r11", "memory");
  return ret;
}
#else
#error "gort's ForkExec child needs raw system calls for this architecture"
#endif

// The child's code must not call into a coverage runtime either (a libFuzzer
// build instruments comparisons with calls into libFuzzer, and every
// function with a write to a thread-local stack-depth counter, which in the
// child would be the parent thread's): no coverage instrumentation, where the
// compiler offers a way to say so.
#if defined(__has_feature)
#if __has_feature(coverage_sanitizer)
#define GORT_CHILD_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#endif
#endif
#ifndef GORT_CHILD_NO_COVERAGE
#define GORT_CHILD_NO_COVERAGE
#endif

struct KernelSigaction {  // the kernel's struct for rt_sigaction
  void* handler;
  unsigned long flags;
  void* restorer;
  unsigned long mask;
};

struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* dir;  // null: inherit
  const int* fds;   // child fd i <- fds[i] (-1: closed)
  int nfds;
  int* scratch;  // nfds ints for the shuffle
  int pipe_w;    // status pipe, write end (CLOEXEC)
  bool setsid, setpgid;
  int pgid;
  int pdeathsig;
  const sigset_t* mask;  // the parent thread's mask less SIGPIPE, set before exec
};

// What the child was doing when it failed: the parent names it in the error.
enum ChildStep : int {
  kStepExec = 0,
  kStepSetsid,
  kStepSetpgid,
  kStepPdeathsig,
  kStepChdir,
  kStepFds,
};

// The child's report through the status pipe: two ints, the step and errno.
[[noreturn]] __attribute__((no_sanitize("address", "thread", "undefined"), noinline))
GORT_CHILD_NO_COVERAGE void
ChildFail(int pipe_w, ChildStep step, long err) {
  int report[2] = {step, static_cast<int>(-err)};
  Raw(SYS_write, pipe_w, reinterpret_cast<long>(report), sizeof(report));
  for (;;) Raw(SYS_exit_group, 253);
}

// The child. Go: forkAndExecInChild1. noinline so that it never shares a
// frame with the parent's code.
__attribute__((no_sanitize("address", "thread", "undefined"), noinline)) GORT_CHILD_NO_COVERAGE int
ChildMain(void* arg) {
  const ChildPlan* p = static_cast<const ChildPlan*>(arg);
  long r;
  // Caught signals back to SIG_DFL (ignored ones stay ignored, as exec
  // keeps them, except SIGPIPE and SIGXFSZ, which a host often ignores for
  // itself and a child in a pipeline must not inherit), then the parent's
  // signal mask.
  for (int sig = 1; sig < 65; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    KernelSigaction old;
    if (Raw(SYS_rt_sigaction, sig, 0, reinterpret_cast<long>(&old), 8) != 0) continue;
    const bool reset_ignored = sig == SIGPIPE || sig == SIGXFSZ;
    if ((reset_ignored || old.handler != reinterpret_cast<void*>(SIG_IGN)) &&
        old.handler != reinterpret_cast<void*>(SIG_DFL)) {
      KernelSigaction dfl{reinterpret_cast<void*>(SIG_DFL), 0, nullptr, 0};
      Raw(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, 8);
    }
  }
  if (p->setsid && (r = Raw(SYS_setsid)) < 0) ChildFail(p->pipe_w, kStepSetsid, r);
  if (p->setpgid && (r = Raw(SYS_setpgid, 0, p->pgid)) < 0) ChildFail(p->pipe_w, kStepSetpgid, r);
  if (p->pdeathsig != 0) {
    if ((r = Raw(SYS_prctl, PR_SET_PDEATHSIG, p->pdeathsig)) < 0) {
      ChildFail(p->pipe_w, kStepPdeathsig, r);
    }
  }
  if (p->dir != nullptr && (r = Raw(SYS_chdir, reinterpret_cast<long>(p->dir))) < 0) {
    ChildFail(p->pipe_w, kStepChdir, r);
  }
  // The fd shuffle, Go's two passes. Pass 1: every source fd that a later
  // dup2 would clobber (fd < nfds), and the status pipe, moves above nfds
  // (and above 2: descriptors 0-2 the plan does not name are closed below,
  // and the report must survive that; the parent keeps its own pipe >= 3).
  int pipe_w = p->pipe_w;
  int next = p->nfds > 3 ? p->nfds : 3;
  if (pipe_w < next) {
    if ((r = Raw(SYS_fcntl, pipe_w, F_DUPFD_CLOEXEC, next)) < 0) ChildFail(pipe_w, kStepFds, r);
    pipe_w = static_cast<int>(r);
    next = pipe_w + 1;
  }
  int* fd = p->scratch;
  for (int i = 0; i < p->nfds; i++) {
    fd[i] = p->fds[i];
    if (fd[i] >= 0 && fd[i] < i) {
      if ((r = Raw(SYS_fcntl, fd[i], F_DUPFD_CLOEXEC, next)) < 0) ChildFail(pipe_w, kStepFds, r);
      fd[i] = static_cast<int>(r);
      next = fd[i] + 1;
    }
  }
  // Pass 2: put each fd in place (without CLOEXEC).
  for (int i = 0; i < p->nfds; i++) {
    if (fd[i] == -1) {
      Raw(SYS_close, i);
    } else if (fd[i] == i) {
      if ((r = Raw(SYS_fcntl, i, F_SETFD, 0)) < 0) ChildFail(pipe_w, kStepFds, r);
    } else if ((r = Raw(SYS_dup3, fd[i], i, 0)) < 0) {
      ChildFail(pipe_w, kStepFds, r);
    }
  }
  for (int i = p->nfds; i < 3; i++) Raw(SYS_close, i);
  Raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(p->mask), 0, 8);
  r = Raw(SYS_execve, reinterpret_cast<long>(p->path), reinterpret_cast<long>(p->argv),
          reinterpret_cast<long>(p->envp));
  ChildFail(pipe_w, kStepExec, r);
}

// clone(2) with a child function, like glibc's clone() but invisible to the
// sanitizers' interceptors (TSan's treats any clone as a multi-threaded fork
// and is not fiber-aware; the child here runs only uninstrumented raw system
// calls, so there is nothing for a sanitizer to see). x86-64 System V:
//   long GortRawClone(unsigned long flags, void* stack_top, int (*fn)(void*), void* arg,
//                     int* pidfd)
// Returns the child's pid, or -errno, in the parent; the child runs fn(arg)
// on stack_top and exits with its result. pidfd is clone's parent_tid
// argument, where CLONE_PIDFD stores the child's pidfd.
extern "C" long GortRawClone(unsigned long flags, void* stack_top, int (*fn)(void*), void* arg,
                             int* pidfd);
asm(R"(
  .text
  .globl GortRawClone
  .type GortRawClone, @function
GortRawClone:
  andq $-16, %rsi
  subq $16, %rsi
  movq %rcx, 8(%rsi)
  movq %rdx, 0(%rsi)
  movq %r8, %rdx
  movl $56, %eax
  xorl %r10d, %r10d
  xorl %r8d, %r8d
  syscall
  testq %rax, %rax
  jnz 1f
  xorl %ebp, %ebp
  popq %rax
  popq %rdi
  callq *%rax
  movl %eax, %edi
  movl $231, %eax
  syscall
  hlt
1:
  ret
  .size GortRawClone, .-GortRawClone
  .section .note.GNU-stack,"",@progbits
  .text
)");

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

absl::Status ForkError(const std::string& argv0, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat("fork/exec ", argv0, ": ", internal::ErrnoText(err)));
}

// The child's report, in Go's words where Go has them: an exec or
// descriptor failure is "fork/exec PATH: ERR", a chdir failure "chdir DIR:
// ERR" (Go's os checks the directory first and reports it so); setsid,
// setpgid and the death signal, which Go reports as a bare errno, are named
// after the path.
absl::Status ChildError(const std::string& argv0, const ProcAttr& attr, int step, int err) {
  absl::StatusCode code = absl::ErrnoToStatusCode(err);
  std::string text = internal::ErrnoText(err);
  switch (step) {
    case kStepChdir:
      return absl::Status(code, absl::StrCat("chdir ", attr.dir, ": ", text));
    case kStepSetsid:
      return absl::Status(code, absl::StrCat("fork/exec ", argv0, ": setsid: ", text));
    case kStepSetpgid:
      return absl::Status(
          code, absl::StrCat("fork/exec ", argv0, ": setpgid(0, ", attr.sys.pgid, "): ", text));
    case kStepPdeathsig:
      return absl::Status(code, absl::StrCat("fork/exec ", argv0, ": prctl(PR_SET_PDEATHSIG, ",
                                             attr.sys.pdeathsig, "): ", text));
    default:
      return ForkError(argv0, err);
  }
}

// Waits for a specific child (an exec that failed). EINTR retried.
void ReapFailed(pid_t pid) {
  int st;
  while (wait4(pid, &st, __WALL | __WNOTHREAD, nullptr) < 0 && errno == EINTR) {
  }
}

// fd, moved to a number >= 3 if it is below (the parent runs with some of
// 0-2 closed): the child's plan names 0-2 by number, so the runtime's own
// descriptors must never sit there. -1 on failure (errno set).
int AboveStdio(int fd) {
  if (fd >= 3) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int e = errno;
  close(fd);
  errno = e;
  return moved;
}

// The stack a child runs on between clone and exec (raw system calls only).
constexpr std::size_t kChildStack = 32 * 1024;

// Everything a child reads between clone and exec, prepared before the
// clone: argv and envp as C arrays, the fd plan, the status pipe. Points
// into the strings it was prepared from, which must outlive the child's
// exec.
struct Prepared {
  std::vector<const char*> cargv, cenv;
  std::vector<int> fds, scratch;
  int pipefd[2] = {-1, -1};  // the status pipe (both ends CLOEXEC, >= 3)
  sigset_t child_mask;
  ChildPlan plan{};
  Prepared() = default;
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;
  ~Prepared() {
    for (int fd : pipefd) {
      if (fd >= 0) close(fd);
    }
  }
};

// Go: forkExec's checks and argv/envp conversion.
absl::Status Prepare(const std::string& argv0, const std::vector<std::string>& argv,
                     const ProcAttr& attr, Prepared* x) {
  if (argv0.empty()) return ForkError(argv0, ENOENT);
  // Linux would run the program with argc == 0 (and warn in the kernel log);
  // programs assume argv[0] exists.
  if (argv.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fork/exec ", argv0, ": argv is empty (argv[0], the program's name, is required)"));
  }
  if (HasNul(argv0)) return ForkError(argv0, EINVAL);
  x->cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) {
    if (HasNul(a)) return ForkError(argv0, EINVAL);
    x->cargv.push_back(a.c_str());
  }
  x->cargv.push_back(nullptr);
  x->cenv.reserve(attr.env.size() + 1);
  for (const auto& e : attr.env) {
    if (HasNul(e)) return ForkError(argv0, EINVAL);
    x->cenv.push_back(e.c_str());
  }
  x->cenv.push_back(nullptr);
  if (HasNul(attr.dir))
    return absl::InvalidArgumentError(absl::StrCat("chdir ", attr.dir, ": invalid argument"));
  if (attr.files.empty()) {
    // The default plan inherits 0-2 as they are: one the parent has closed
    // stays closed in the child.
    for (int i = 0; i < 3; i++) x->fds.push_back(fcntl(i, F_GETFD) >= 0 ? i : -1);
  } else {
    x->fds = attr.files;
  }
  x->scratch.resize(x->fds.size());

  if (pipe2(x->pipefd, O_CLOEXEC) != 0) {
    x->pipefd[0] = x->pipefd[1] = -1;
    return ForkError(argv0, errno);
  }
  for (int& fd : x->pipefd) {
    if ((fd = AboveStdio(fd)) < 0) return ForkError(argv0, errno);
  }
  x->plan = ChildPlan{argv0.c_str(),
                      const_cast<char* const*>(x->cargv.data()),
                      const_cast<char* const*>(x->cenv.data()),
                      attr.dir.empty() ? nullptr : attr.dir.c_str(),
                      x->fds.data(),
                      static_cast<int>(x->fds.size()),
                      x->scratch.data(),
                      x->pipefd[1],
                      attr.sys.setsid,
                      attr.sys.setpgid,
                      attr.sys.pgid,
                      attr.sys.pdeathsig,
                      &x->child_mask};
  return absl::OkStatus();
}

// The clone, with every signal blocked around it so that no handler of the
// parent runs in the child (which resets them before it unblocks). Returns
// the pid or -errno; closes the parent's copy of the pipe's write end.
long CloneChild(Prepared* x, unsigned long flags, char* stack_top, int* pidfd) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  // The child gets this thread's mask, but with SIGPIPE deliverable: the
  // runtime's Ms block it for themselves (and a host thread may have).
  x->child_mask = old;
  sigdelset(&x->child_mask, SIGPIPE);
  long r = GortRawClone(flags, stack_top, &ChildMain, &x->plan, pidfd);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(x->pipefd[1]);
  x->pipefd[1] = -1;
  return r;
}

// Reads the exec's verdict from the status pipe: 0 (EOF: the exec
// happened, or the child died before it; its wait says which) or the number
// of bytes of a report. Blocks until the child has exec'd or failed.
ssize_t ReadVerdict(int fd, int report[2]) {
  ssize_t n;
  do {
    n = read(fd, report, 2 * sizeof(int));
  } while (n < 0 && errno == EINTR);
  if (n != 0 && n != static_cast<ssize_t>(2 * sizeof(int)))
    report[0] = kStepExec, report[1] = EPIPE;
  return n;
}

}  // namespace

namespace internal {

absl::StatusOr<pid_t> ForkExecChild(const std::string& argv0, const std::vector<std::string>& argv,
                                    const ProcAttr& attr, int* pidfd, Bracket bracket) {
  // Everything the child needs, before the clone. Go: forkExec.
  Prepared x;
  if (absl::Status st = Prepare(argv0, argv, attr, &x); !st.ok()) return st;

  // The child's stack: inside this frame, which stays intact while the parent
  // thread is suspended (CLONE_VFORK).
  alignas(64) char child_stack[kChildStack];

  long r;
  int report[2] = {0, 0};
  int child_pidfd = -1;
  ssize_t n = 0;
  {
    // clone suspends this thread until the child execs, and the read below
    // waits for the exec's verdict: let the P serve other fibers meanwhile,
    // at once if some are queued (sysmon would take it only after a tick;
    // many spawners then fork one P at a time), else only if the wait
    // drags on. The fiber stays on this OS thread throughout.
    if (bracket == Bracket::kCallerIn) {
      // Already without a P.
    } else if (runtime::internal::OthersWaitForP()) {
      runtime::EnterSyscallBlock();
    } else {
      runtime::EnterSyscall();
    }
    unsigned long flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (pidfd != nullptr ? CLONE_PIDFD : 0);
    r = CloneChild(&x, flags, child_stack + kChildStack, &child_pidfd);
    if (r > 0) {
      n = ReadVerdict(x.pipefd[0], report);
      if (n != 0) ReapFailed(static_cast<pid_t>(r));  // on this thread: the child is ours
    }
    if (bracket == Bracket::kOwn) runtime::ExitSyscall();
  }
  if (r < 0) return ForkError(argv0, static_cast<int>(-r));
  if (n != 0) {
    if (child_pidfd >= 0) close(child_pidfd);
    return ChildError(argv0, attr, report[0], report[1]);
  }
  if (pidfd != nullptr) *pidfd = child_pidfd;
  return static_cast<pid_t>(r);
}

// A child between clone and exec that its parent thread did not wait for.
// Owns copies of everything the child reads (it shares this memory) and
// the child's stack, until FinishExecChild has the verdict.
struct PendingExec {
  std::string argv0;
  std::vector<std::string> argv;
  ProcAttr attr;
  Prepared x;
  std::unique_ptr<char[]> stack;
  pid_t pid = -1;
  int pidfd = -1;
  ~PendingExec() {
    if (pidfd >= 0) close(pidfd);
  }
};

void PendingExecDeleter::operator()(PendingExec* p) const {
  // Never while the child may still read p: its verdict must be in (an
  // exec or an exit closes the pipe's last write end).
  if (p->pid > 0 && p->x.pipefd[0] >= 0) {
    int report[2];
    if (ReadVerdict(p->x.pipefd[0], report) != 0) ReapFailed(p->pid);
  }
  delete p;
}

absl::StatusOr<PendingExecPtr> StartExecChild(const std::string& argv0,
                                              const std::vector<std::string>& argv,
                                              const ProcAttr& attr) {
  PendingExecPtr p(new PendingExec);
  p->argv0 = argv0;
  p->argv = argv;
  p->attr = attr;
  if (absl::Status st = Prepare(p->argv0, p->argv, p->attr, &p->x); !st.ok()) return st;
  p->stack.reset(new char[kChildStack]);
  // CLONE_VM without CLONE_VFORK: the child runs beside this thread on its
  // own stack, touching only p's memory, which lives until the verdict.
  long r =
      CloneChild(&p->x, CLONE_VM | CLONE_PIDFD | SIGCHLD, p->stack.get() + kChildStack, &p->pidfd);
  if (r < 0) return ForkError(argv0, static_cast<int>(-r));
  p->pid = static_cast<pid_t>(r);
  return p;
}

int PendingExecFd(const PendingExec& p) { return p.x.pipefd[0]; }
pid_t PendingExecPid(const PendingExec& p) { return p.pid; }

absl::StatusOr<pid_t> FinishExecChild(PendingExecPtr p, int* pidfd) {
  int report[2] = {0, 0};
  const bool failed = ReadVerdict(p->x.pipefd[0], report) != 0;
  close(p->x.pipefd[0]);  // the verdict is in: the deleter has nothing to wait for
  p->x.pipefd[0] = -1;
  if (failed) {
    ReapFailed(p->pid);
    return ChildError(p->argv0, p->attr, report[0], report[1]);
  }
  *pidfd = p->pidfd;
  p->pidfd = -1;
  return p->pid;
}

}  // namespace internal

absl::StatusOr<pid_t> ForkExec(const std::string& argv0, const std::vector<std::string>& argv,
                               const ProcAttr& attr) {
  absl::StatusOr<pid_t> pid = internal::ForkExecChild(argv0, argv, attr, nullptr);
  if (pid.ok()) internal::RecordStart(*pid);
  return pid;
}

absl::StatusOr<pid_t> ForkExecPidfd(const std::string& argv0, const std::vector<std::string>& argv,
                                    const ProcAttr& attr, int* pidfd) {
  *pidfd = -1;
  absl::StatusOr<pid_t> pid = internal::ForkExecChild(argv0, argv, attr, pidfd);
  if (pid.ok()) internal::RecordStart(*pid);
  return pid;
}

absl::Status SignalPidfd(int pidfd, int sig) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0) return absl::OkStatus();
  int err = errno;
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat("kill: ", internal::ErrnoText(err)));
}

}  // namespace gort::syscall
