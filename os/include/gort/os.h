// gort/os.h: Go's os.Process and os.StartProcess on gort's fibers, with the
// fork-exec/wait race fixed (see gort/syscall.h), and os::legacy, the pre-fix
// algorithm, kept so that the race can be shown, measured and tested.
//
// A Process is a handle: copies share one process and its state. The state
// moves once from running to done (Wait returned) or released (Release), and
// the first transition wins. Wait delivers the exit status once; a second
// Wait is "wait: process not found" (as Go's Plan 9 port, which is not
// short-circuited). Signal after Wait is "os: process already finished",
// after Release "os: process already released". Release hands the child to a
// detached fiber that collects its status, so no zombie or wait-map entry is
// left behind.
//
// os::legacy::StartProcess forks on whatever thread the calling fiber is on
// (plain ForkExec, no lock), and os::legacy::Wait loops on syscall::Await on
// whatever thread it is on then, dropping other pids' messages: a fiber that
// migrated gets "wait: no child processes", or reaps other fibers' children
// whose statuses are lost. It shares no code path with the fix that could
// hide the difference.
//
// os::File is Go's *os.File for descriptors that park fibers: a handle whose
// copies share one descriptor, made non-blocking and waited for through the
// runtime's poller (gort/poll.h). A fiber blocked in Read or Write parks and
// its P runs other fibers; a plain thread sleeps. Close wakes every blocked
// Read and Write with "use of closed file" and closes the descriptor once
// the last operation in flight has left it, so that its number cannot be
// reused under an operation (Go: internal/poll's fdMutex). Deadlines are
// absolute and apply to operations in flight as well as later ones; an
// expired one fails every operation of its kind with "i/o timeout" until it
// is moved. Concurrent Reads (and Writes) of one File are serialized: a
// Write writes all of its bytes before another starts. A File that is never
// closed is closed when its last copy goes, as Go's finalizer does.
#ifndef GORT_OS_H_
#define GORT_OS_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gort/syscall.h"

namespace gort::os {

struct ProcAttr {
  std::string dir;
  std::vector<std::string> env;  // empty: inherit the parent's environment
  std::vector<int> files;        // as syscall::ProcAttr
  syscall::SysProcAttr sys;
};

class ProcessState {
 public:
  explicit ProcessState(syscall::Waitmsg w) : w_(std::move(w)) {}
  pid_t Pid() const { return w_.pid; }
  bool Exited() const { return w_.Exited(); }
  int ExitCode() const { return w_.Exited() ? w_.ExitStatus() : -1; }  // -1 if signaled
  bool Success() const { return w_.Exited() && w_.ExitStatus() == 0; }
  absl::Duration UserTime() const { return w_.user; }
  absl::Duration SystemTime() const { return w_.sys; }
  const syscall::Waitmsg& Sys() const { return w_; }
  std::string String() const;  // "exit status 3", "signal: killed"

 private:
  syscall::Waitmsg w_;
};

namespace internal {
struct ProcessAccess;  // os/src/process_state.h: how gort::os makes and reads Processes
struct FileAccess;     // os/src/file_access.h: a File handed to a child
}  // namespace internal

class Process {  // a handle; copies share one process
 public:
  pid_t Pid() const;
  absl::StatusOr<ProcessState> Wait();  // once; a second call: error
  absl::Status Signal(int sig);         // after Wait: "os: process already finished"
  absl::Status Kill();
  absl::Status Release();

 private:
  friend struct internal::ProcessAccess;
  struct State;  // shared by the copies (os/src/process_state.h)
  explicit Process(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

absl::StatusOr<Process> StartProcess(const std::string& name, const std::vector<std::string>& argv,
                                     const ProcAttr& attr);

// An open descriptor (Go: *os.File). A default-constructed File is nil:
// every call returns "invalid argument" (kInvalidArgument), Fd() is -1.
// Errors name the operation and the file as Go's PathError does ("read |0:
// i/o timeout"): after Close, "<op> NAME: file already closed"; woken by a
// Close, "<op> NAME: use of closed file" (both kFailedPrecondition); past a
// deadline, "<op> NAME: i/o timeout" (kDeadlineExceeded); from the kernel,
// "<op> NAME: <errno text>" with the code absl::ErrnoToStatusCode gives.
class File {  // a handle; copies share one descriptor
 public:
  File() = default;
  // Takes ownership of fd: makes it non-blocking and registers it with the
  // poller (at once inside runtime::Run, else at its first wait).
  static File New(int fd, std::string name);
  // Reads what is available, up to n bytes, parking until something is;
  // 0 bytes at end of file: absl::OutOfRangeError("EOF"). n == 0: 0.
  absl::StatusOr<std::size_t> Read(void* buf, std::size_t n);
  // Writes all n bytes (parking while the descriptor is full), or fails:
  // a broken pipe is "write NAME: broken pipe" (EPIPE), never SIGPIPE.
  absl::StatusOr<std::size_t> Write(const void* buf, std::size_t n);
  // Wakes blocked readers and writers with "use of closed file", waits for
  // the operations in flight to leave, and closes the descriptor. A second
  // Close: "close NAME: file already closed".
  absl::Status Close();
  // Absolute deadlines (absl::InfiniteFuture(): none, the default). A time
  // already past fails the next operation at once.
  absl::Status SetDeadline(absl::Time t);  // read and write
  absl::Status SetReadDeadline(absl::Time t);
  absl::Status SetWriteDeadline(absl::Time t);
  // The descriptor (non-blocking), -1 once closed or for a nil File. It
  // stays the File's: do not close it.
  int Fd() const;
  const std::string& Name() const;
  explicit operator bool() const { return s_ != nullptr; }  // false for nil

 private:
  friend struct internal::FileAccess;
  friend absl::StatusOr<std::pair<File, File>> Pipe();  // pairs the two ends
  struct State;                                         // shared by the copies (os/src/file.cc)
  explicit File(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

// A pipe: the read end ("|0") and the write end ("|1"), both CLOEXEC and
// on the poller. Error: "pipe2: <errno text>". Go: os.Pipe.
absl::StatusOr<std::pair<File, File>> Pipe();
// Reads f until end of file and returns everything read; the first error
// other than EOF is returned instead. Go: io.ReadAll.
absl::StatusOr<std::string> ReadAll(File& f);

namespace legacy {  // the pre-fix algorithm, kept to demonstrate the race
absl::StatusOr<Process> StartProcess(const std::string& name, const std::vector<std::string>& argv,
                                     const ProcAttr& attr);  // plain ForkExec, no lock
absl::StatusOr<ProcessState> Wait(Process& p);  // loop on syscall::Await, drop other pids
// The same; *dropped counts other children's statuses this call reaped and
// threw away (each one lost to the fiber that was waiting for it).
absl::StatusOr<ProcessState> Wait(Process& p, int* dropped);
}  // namespace legacy

}  // namespace gort::os

#endif  // GORT_OS_H_
