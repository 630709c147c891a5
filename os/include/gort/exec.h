// gort/exec.h: Go's os/exec on gort's fibers. A Cmd describes a command,
// Start runs it through os::StartProcess (so the wait goes through the
// fork-exec/wait fix: only the OS thread that forked the child waits for
// it), and Wait collects its status and the I/O that goes with it.
//
// The child's descriptors: 0, 1 and 2 are stdin, stdout and stderr (with
// neither data, a pipe nor a file given, /dev/null), 3, 4, ... are
// `extra_files`, and nothing else: every descriptor gort opens is
// close-on-exec. The child's ends are blocking descriptors, as a child
// expects. Pipe I/O on the parent's side parks the fiber, not the OS
// thread (os::File on the runtime's poller): a fiber reading a child's
// output leaves its P free for other fibers. Children start with every
// caught signal at its default action, and SIGPIPE and SIGXFSZ at theirs
// even if the parent ignores them, so that a child in a pipeline dies
// quietly when its reader goes, as children of Go programs do.
//
// Errors read as Go's:
//   - a start error as os::StartProcess reports it ("fork/exec PATH: no
//     such file or directory"), or LookPath's (below);
//   - "exec: already started", "exec: not started", "exec: Wait was
//     already called", "exec: no command" (kFailedPrecondition);
//   - a child that exits non-zero: "exit status N", killed by a signal:
//     "signal: killed" (kUnknown, as Go's *ExitError; process_state() has
//     the details). Output() attaches the child's stderr to that error as
//     the payload kStderrPayload, as Go's ExitError.Stderr;
//   - a child killed because `timeout` ran out: kDeadlineExceeded,
//     "signal: killed (exec: timeout 1s expired)";
//   - a CommandContext child killed because its context ended: the
//     context's code and words after Go's, "signal: killed (context
//     canceled)" (kCancelled) or "signal: killed (context deadline
//     exceeded)" (kDeadlineExceeded); a child that had already exited
//     successfully when the kill came: ctx.Err() itself, as Go 1.20's Wait;
//     a context already done at Start: ctx.Err(), and nothing is started;
//   - with `wait_delay`, I/O still open that long after the child exited:
//     "exec: WaitDelay expired before I/O complete" (kDeadlineExceeded).
// A Cmd that was started and is destroyed without Wait closes its pipes
// and lets a background fiber reap the child (no zombie stays behind).
#ifndef GORT_EXEC_H_
#define GORT_EXEC_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gort/context.h"
#include "gort/os.h"
#include "gort/syscall.h"

namespace gort::exec {

// The payload under which Output() leaves the child's stderr on an "exit
// status N" error (at most the first and the last 32 KiB, with a line
// saying how much was left out between them, as Go keeps it).
inline constexpr std::string_view kStderrPayload = "gort.exec.stderr";
// The payload under which Output() and CombinedOutput() leave what they
// captured when they fail after the child ran (Go returns it beside the
// error).
inline constexpr std::string_view kOutputPayload = "gort.exec.output";

class Cmd {  // move-only; fields are set before Start
 public:
  Cmd();
  ~Cmd();
  Cmd(Cmd&&) noexcept;
  Cmd& operator=(Cmd&&) noexcept;
  Cmd(const Cmd&) = delete;
  Cmd& operator=(const Cmd&) = delete;

  std::string path;                                   // resolved with LookPath when it has no '/'
  std::vector<std::string> args;                      // argv, args[0] is the name (empty: {path})
  std::vector<std::string> env;                       // "KEY=VALUE"; empty: inherit (see Environ)
  std::string dir;                                    // the child's working directory ("": ours)
  std::string stdin_data;                             // fed to the child's stdin through a pipe
  absl::Duration timeout = absl::InfiniteDuration();  // then the child is killed
  // Given to the child as they are (Go: Cmd.Stdin/Stdout/Stderr holding an
  // *os.File). As Go's File.Fd does, handing a File to a child puts it in
  // blocking mode for good: its reads and writes in the parent then hold an
  // OS thread (in a system-call bracket, so the P is handed off).
  std::optional<os::File> stdin_file, stdout_file, stderr_file;
  std::vector<os::File> extra_files;  // become descriptors 3, 4, ... in the child
  syscall::SysProcAttr sys;
  // Go 1.20's WaitDelay: once the child has exited, Wait waits at most this
  // long for the I/O fibers (a grandchild may hold the pipes open), then
  // closes the pipes. Zero: no limit.
  absl::Duration wait_delay = absl::ZeroDuration();

  // Starts the command; does not wait for it.
  absl::Status Start();
  // Waits for the child to exit and for its I/O to finish, then closes
  // every pipe. Error "exit status N" on a non-zero exit (see above).
  absl::Status Wait();
  absl::Status Run();  // Start, then Wait
  // Runs the command and returns its stdout. Errors: "exec: Stdout already
  // set" (stdout_file, or StdoutPipe), and those of Run.
  absl::StatusOr<std::string> Output();
  // Runs the command and returns its stdout and stderr through one pipe,
  // interleaved as the child wrote them.
  absl::StatusOr<std::string> CombinedOutput();

  // Streaming, as Go's: a pipe whose other end the child gets. Called
  // before Start ("exec: StdoutPipe after process started"); closed by
  // Wait, so read what you need before calling Wait. Closing StdinPipe's
  // File gives the child EOF.
  absl::StatusOr<os::File> StdoutPipe();
  absl::StatusOr<os::File> StderrPipe();
  absl::StatusOr<os::File> StdinPipe();

  std::optional<os::Process> process() const;             // after Start
  std::optional<os::ProcessState> process_state() const;  // after Wait
  std::string String() const;                             // "path arg1 arg2", for logs
  // The child's environment: `env`, or ours if it is empty (then with PWD
  // set to `dir` made absolute, when dir is set), without duplicate keys
  // (the last one wins), as Go's Cmd.Environ.
  std::vector<std::string> Environ() const;

 private:
  friend Cmd Command(std::string name, std::vector<std::string> args);
  friend Cmd CommandContext(context::Context ctx, std::string name, std::vector<std::string> args);
  struct State;  // os/src/exec.cc
  absl::Status lookpath_err_;
  std::optional<context::Context> ctx_;  // CommandContext's
  std::shared_ptr<State> s_;             // shared with the I/O fibers
};

// A Cmd for `name` with arguments `args` (which exclude argv[0]). A name
// without '/' is looked up in $PATH now; a failure is kept and returned by
// Start.
Cmd Command(std::string name, std::vector<std::string> args = {});

// Go's exec.CommandContext: Command, bound to `ctx`. When ctx is done
// before the child has exited, the child is killed (SIGKILL, Go's default
// Cancel) and Wait reports it as above; Start on a context that is already
// done returns ctx.Err() and starts nothing. The watch costs one fiber
// parked on ctx.Done() while the child runs, stopped by Wait (or by the
// Cmd's destruction). Background() is accepted and never kills.
Cmd CommandContext(context::Context ctx, std::string name, std::vector<std::string> args = {});

// Searches $PATH for an executable named `file`, as Go's exec.LookPath: a
// name with '/' is tried as it is; an empty PATH entry means ".". Errors:
// `exec: "NAME": executable file not found in $PATH` (kNotFound), `exec:
// "NAME": stat NAME: no such file or directory`, `exec: "NAME": permission
// denied`, `exec: "NAME": is a directory`, and for a match relative to the
// current directory (through "." or an empty entry) `exec: "NAME": cannot
// run executable found relative to current directory`
// (kFailedPrecondition, Go's ErrDot).
absl::StatusOr<std::string> LookPath(std::string_view file);

}  // namespace gort::exec

#endif  // GORT_EXEC_H_
