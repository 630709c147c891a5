// Await with Plan 9's thread affinity on Linux, and the Waitmsg helpers.
// Go: syscall.Await (Plan 9), syscall.WaitStatus and os.ProcessState.String
// (Linux).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "forkexec.h"
#include "gort/runtime.h"
#include "gort/syscall.h"

namespace gort::syscall {
namespace internal {
namespace {
std::mutex starts_mu;  // a leaf lock held for a map operation, never across a switch
absl::flat_hash_map<pid_t, absl::Time>& Starts() {
  static auto* m = new absl::flat_hash_map<pid_t, absl::Time>;
  return *m;
}
}  // namespace

std::string ErrnoText(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && !(s.size() > 1 && s[1] >= 'A' && s[1] <= 'Z')) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

void RecordStart(pid_t pid) {
  std::lock_guard<std::mutex> l(starts_mu);
  Starts()[pid] = absl::Now();
}

absl::Duration TakeElapsed(pid_t pid) {
  std::lock_guard<std::mutex> l(starts_mu);
  auto it = Starts().find(pid);
  if (it == Starts().end()) return absl::ZeroDuration();
  absl::Duration d = absl::Now() - it->second;
  Starts().erase(it);
  return d;
}
}  // namespace internal

bool Waitmsg::Exited() const { return WIFEXITED(status); }
int Waitmsg::ExitStatus() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
bool Waitmsg::Signaled() const { return WIFSIGNALED(status); }
int Waitmsg::Signal() const { return WIFSIGNALED(status) ? WTERMSIG(status) : -1; }

std::string SignalName(int sig) {
  // Go's names (syscall/zerrors_linux_amd64.go).
  static const char* const kNames[] = {
      nullptr,
      "hangup",
      "interrupt",
      "quit",
      "illegal instruction",
      "trace/breakpoint trap",
      "aborted",
      "bus error",
      "floating point exception",
      "killed",
      "user defined signal 1",
      "segmentation fault",
      "user defined signal 2",
      "broken pipe",
      "alarm clock",
      "terminated",
      "stack fault",
      "child exited",
      "continued",
      "stopped (signal)",
      "stopped",
      "stopped (tty input)",
      "stopped (tty output)",
      "urgent I/O condition",
      "CPU time limit exceeded",
      "file size limit exceeded",
      "virtual timer expired",
      "profiling timer expired",
      "window changed",
      "I/O possible",
      "power failure",
      "bad system call",
  };
  if (sig > 0 && sig < static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) return kNames[sig];
  return absl::StrCat("signal ", sig);
}

std::string DescribeStatus(int status, bool empty_for_success) {
  std::string res;
  if (WIFEXITED(status)) {
    if (empty_for_success && WEXITSTATUS(status) == 0) return "";
    res = absl::StrCat("exit status ", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    res = "signal: " + SignalName(WTERMSIG(status));
  } else if (WIFSTOPPED(status)) {
    res = "stop signal: " + SignalName(WSTOPSIG(status));
  } else if (WIFCONTINUED(status)) {
    res = "continued";
  }
  if (WCOREDUMP(status)) res += " (core dumped)";
  return res;
}

// Reaps a child of the calling OS thread only (__WNOTHREAD): a thread that
// did not fork gets ECHILD, as a Plan 9 proc would. The P is handed off at
// once: this blocks until some child exits.
absl::Status Await(Waitmsg* w) {
  int status = 0;
  struct rusage ru;
  pid_t pid;
  int err = 0;
  {
    runtime::BlockingSyscall bs;
    do {
      pid = wait4(-1, &status, __WNOTHREAD, &ru);
    } while (pid < 0 && errno == EINTR);
    if (pid < 0) err = errno;
  }
  if (pid < 0) {
    return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat("wait: ", internal::ErrnoText(err)));
  }
  w->pid = pid;
  w->status = status;
  w->user = absl::DurationFromTimeval(ru.ru_utime);
  w->sys = absl::DurationFromTimeval(ru.ru_stime);
  w->real = internal::TakeElapsed(pid);
  w->msg = DescribeStatus(status, true);
  return absl::OkStatus();
}

absl::Status Kill(pid_t pid, int sig) {
  if (kill(pid, sig) == 0) return absl::OkStatus();
  int err = errno;
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat("kill: ", internal::ErrnoText(err)));
}

}  // namespace gort::syscall
