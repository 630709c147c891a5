// exec::Cmd on os::StartProcess and os::File. Go: os/exec/exec.go,
// os/exec/lp_unix.go.
//
// Start builds the child's descriptor table (stdin, stdout, stderr, the
// extra files), starting one I/O fiber per pipe gort feeds or drains
// itself (stdin_data, Output's capture); Wait reaps the child, then waits
// for those fibers (for at most wait_delay once the child has gone, if one
// is set), then closes every parent end. Each I/O fiber reports one status
// on `io_done`. The state is shared with the fibers, so a Cmd that is moved
// or destroyed under them leaves them nothing dangling.
#include "gort/exec.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "file_access.h"
#include "gort/chan.h"
#include "gort/runtime.h"
#include "gort/time.h"

extern char** environ;

namespace gort::exec {
namespace {

std::string ErrnoText(int e) {
  std::string s = strerror(e);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

absl::Status Precondition(const char* msg) { return absl::FailedPreconditionError(msg); }

// Go: exec.Error, `exec: "NAME": <err>`.
absl::Status LookError(absl::StatusCode code, const std::string& name, const std::string& what) {
  return absl::Status(code, absl::StrFormat("exec: \"%s\": %s", name, what));
}

// 0 if `file` is an executable regular file for us; else an errno.
// Go: lp_unix.go's findExecutable (eaccess, then the mode bits when the
// kernel cannot say).
int FindExecutable(const std::string& file, bool* stat_failed) {
  *stat_failed = false;
  struct stat st;
  if (stat(file.c_str(), &st) < 0) {
    *stat_failed = true;
    return errno;
  }
  if (S_ISDIR(st.st_mode)) return EISDIR;
  if (faccessat(AT_FDCWD, file.c_str(), X_OK, AT_EACCESS) == 0) return 0;
  int e = errno;
  if (e != ENOSYS && e != EPERM) return e;
  return (st.st_mode & 0111) != 0 ? 0 : EACCES;
}

std::string JoinPath(const std::string& dir, const std::string& file) {
  if (dir == ".") return std::string(file);
  if (!dir.empty() && dir.back() == '/') return absl::StrCat(dir, file);
  return absl::StrCat(dir, "/", file);
}

// Keeps the first and the last `n` bytes written to it. Go:
// exec.prefixSuffixSaver.
class PrefixSuffixSaver {
 public:
  explicit PrefixSuffixSaver(std::size_t n) : n_(n) {}
  void Write(const char* p, std::size_t len) {
    const std::size_t to_prefix = std::min(len, n_ - prefix_.size());
    prefix_.append(p, to_prefix);
    p += to_prefix;
    len -= to_prefix;
    if (len == 0) return;
    past_prefix_ += len;
    if (len >= n_) {
      suffix_.assign(p + len - n_, n_);
      return;
    }
    suffix_.append(p, len);
    if (suffix_.size() > n_) suffix_.erase(0, suffix_.size() - n_);
  }
  std::string Bytes() const {
    const std::size_t skipped = past_prefix_ - suffix_.size();
    if (skipped == 0) return prefix_ + suffix_;
    return absl::StrCat(prefix_, "\n... omitting ", skipped, " bytes ...\n", suffix_);
  }

 private:
  std::size_t n_;
  std::string prefix_, suffix_;
  std::size_t past_prefix_ = 0;  // bytes written after the prefix was full
};

constexpr std::size_t kStderrKeep = 32 << 10;  // Go: prefixSuffixSaver{N: 32 << 10}
constexpr std::size_t kReadChunk = 32 << 10;

bool IsEof(const absl::Status& s) { return absl::IsOutOfRange(s) && s.message() == "EOF"; }

// Closes the raw descriptors in fds (the child's ends, /dev/null).
void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

}  // namespace

struct Cmd::State {
  std::optional<os::Process> process;
  std::optional<os::ProcessState> state;
  bool wait_called = false;
  // Set before Start: what Start is to build.
  bool want_stdout_pipe = false, want_stderr_pipe = false, want_stdin_pipe = false;
  std::optional<os::File> stdin_pipe_w, stdout_pipe_r, stderr_pipe_r;  // given to the caller
  // Raw pipes made by the *Pipe calls before Start: the child's ends.
  int stdin_child = -1, stdout_child = -1, stderr_child = -1;
  // Capture by Output / CombinedOutput: where the I/O fibers put it.
  enum class Capture { kNone, kStdout, kCombined } capture = Capture::kNone;
  std::string out;
  PrefixSuffixSaver err_saver{kStderrKeep};
  bool capture_stderr = false;
  // The parent's ends Wait closes (every pipe Start or a *Pipe call made).
  std::vector<os::File> parent_files;
  int io_fibers = 0;
  Chan<absl::Status> io_done;
  // The watcher (timeout, CommandContext's context): `stop` tells it the
  // child was reaped; it answers on `killed` why it killed the child.
  enum class Killed { kNo, kTimeout, kContext };
  Chan<int> watch_stop;
  Chan<Killed> watch_killed;
  bool watching = false;

  ~State() {
    for (int* fd : {&stdin_child, &stdout_child, &stderr_child}) {
      if (*fd >= 0) close(*fd);
    }
  }
};

Cmd::Cmd() : s_(std::make_shared<State>()) {}

Cmd::~Cmd() {
  if (s_ == nullptr || !s_->process.has_value() || s_->wait_called) return;
  // Started and never waited for: close our ends so that the I/O fibers
  // finish, and let a background fiber reap the child.
  for (os::File& f : s_->parent_files) (void)f.Close();
  if (s_->watching) s_->watch_stop.Close();
  (void)s_->process->Release();
}

Cmd::Cmd(Cmd&&) noexcept = default;
Cmd& Cmd::operator=(Cmd&& o) noexcept {
  if (this != &o) {
    Cmd dead(std::move(*this));  // releases what *this had started
    path = std::move(o.path);
    args = std::move(o.args);
    env = std::move(o.env);
    dir = std::move(o.dir);
    stdin_data = std::move(o.stdin_data);
    timeout = o.timeout;
    stdin_file = std::move(o.stdin_file);
    stdout_file = std::move(o.stdout_file);
    stderr_file = std::move(o.stderr_file);
    extra_files = std::move(o.extra_files);
    sys = o.sys;
    wait_delay = o.wait_delay;
    lookpath_err_ = std::move(o.lookpath_err_);
    ctx_ = std::move(o.ctx_);
    s_ = std::move(o.s_);
  }
  return *this;
}

absl::StatusOr<std::string> LookPath(std::string_view file_view) {
  const std::string file(file_view);
  bool stat_failed;
  if (file.find('/') != std::string::npos) {
    int e = FindExecutable(file, &stat_failed);
    if (e == 0) return file;
    if (stat_failed) {
      return LookError(absl::ErrnoToStatusCode(e), file,
                       absl::StrCat("stat ", file, ": ", ErrnoText(e)));
    }
    return LookError(absl::ErrnoToStatusCode(e), file, ErrnoText(e));
  }
  const char* path_env = getenv("PATH");
  const std::string path_list = path_env != nullptr ? path_env : "";
  for (absl::string_view entry : absl::StrSplit(path_list, ':')) {
    // Unix shell semantics: an empty entry is ".".
    const std::string dir = entry.empty() ? "." : std::string(entry.data(), entry.size());
    std::string candidate = JoinPath(dir, file);
    if (FindExecutable(candidate, &stat_failed) != 0) continue;
    if (candidate.empty() || candidate[0] != '/') {
      return LookError(absl::StatusCode::kFailedPrecondition, file,
                       "cannot run executable found relative to current directory");
    }
    return candidate;
  }
  return LookError(absl::StatusCode::kNotFound, file, "executable file not found in $PATH");
}

Cmd Command(std::string name, std::vector<std::string> args) {
  Cmd c;
  c.args.reserve(args.size() + 1);
  c.args.push_back(name);
  for (std::string& a : args) c.args.push_back(std::move(a));
  if (name.find('/') == std::string::npos) {
    absl::StatusOr<std::string> lp = LookPath(name);
    if (lp.ok()) {
      c.path = *std::move(lp);
    } else {
      c.path = std::move(name);
      c.lookpath_err_ = lp.status();
    }
  } else {
    c.path = std::move(name);
  }
  return c;
}

Cmd CommandContext(context::Context ctx, std::string name, std::vector<std::string> args) {
  Cmd c = Command(std::move(name), std::move(args));
  c.ctx_ = std::move(ctx);
  return c;
}

std::string Cmd::String() const {
  std::string s = path;
  for (std::size_t i = 1; i < args.size(); i++) absl::StrAppend(&s, " ", args[i]);
  return s;
}

std::vector<std::string> Cmd::Environ() const {
  std::vector<std::string> in;
  if (env.empty()) {
    for (char** e = environ; e != nullptr && *e != nullptr; e++) in.emplace_back(*e);
    if (!dir.empty()) {
      // Go: a child started in dir sees PWD=dir (made absolute).
      std::string abs_dir = dir;
      if (abs_dir[0] != '/') {
        char cwd[4096];
        if (getcwd(cwd, sizeof(cwd)) != nullptr) abs_dir = JoinPath(cwd, dir);
      }
      in.push_back("PWD=" + abs_dir);
    }
  } else {
    in = env;
  }
  // Without duplicate keys: each key once, at the place of its last
  // occurrence, with its last value (Go: dedupEnv).
  std::map<std::string, std::size_t> last;
  for (std::size_t i = 0; i < in.size(); i++) {
    std::size_t eq = in[i].find('=');
    last[in[i].substr(0, eq == std::string::npos ? in[i].size() : eq)] = i;
  }
  std::vector<std::string> out;
  out.reserve(last.size());
  for (std::size_t i = 0; i < in.size(); i++) {
    std::size_t eq = in[i].find('=');
    if (last[in[i].substr(0, eq == std::string::npos ? in[i].size() : eq)] == i) {
      out.push_back(std::move(in[i]));
    }
  }
  return out;
}

namespace {

// A pipe whose child end is blocking and whose parent end is an os::File.
// child_reads: the child reads (its stdin).
absl::Status MakePipe(bool child_reads, int* child_fd, os::File* parent) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    int e = errno;
    return absl::Status(absl::ErrnoToStatusCode(e), absl::StrCat("pipe2: ", ErrnoText(e)));
  }
  if (child_reads) {
    *child_fd = fds[0];
    *parent = os::File::New(fds[1], "|1");
  } else {
    *child_fd = fds[1];
    *parent = os::File::New(fds[0], "|0");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<os::File> Cmd::StdinPipe() {
  if (!stdin_data.empty() || stdin_file.has_value() || s_->want_stdin_pipe) {
    return Precondition("exec: Stdin already set");
  }
  if (s_->process.has_value()) return Precondition("exec: StdinPipe after process started");
  os::File w;
  if (absl::Status st = MakePipe(true, &s_->stdin_child, &w); !st.ok()) return st;
  s_->want_stdin_pipe = true;
  s_->parent_files.push_back(w);
  return w;
}

absl::StatusOr<os::File> Cmd::StdoutPipe() {
  if (stdout_file.has_value() || s_->want_stdout_pipe || s_->capture != State::Capture::kNone) {
    return Precondition("exec: Stdout already set");
  }
  if (s_->process.has_value()) return Precondition("exec: StdoutPipe after process started");
  os::File r;
  if (absl::Status st = MakePipe(false, &s_->stdout_child, &r); !st.ok()) return st;
  s_->want_stdout_pipe = true;
  s_->parent_files.push_back(r);
  return r;
}

absl::StatusOr<os::File> Cmd::StderrPipe() {
  if (stderr_file.has_value() || s_->want_stderr_pipe || s_->capture == State::Capture::kCombined) {
    return Precondition("exec: Stderr already set");
  }
  if (s_->process.has_value()) return Precondition("exec: StderrPipe after process started");
  os::File r;
  if (absl::Status st = MakePipe(false, &s_->stderr_child, &r); !st.ok()) return st;
  s_->want_stderr_pipe = true;
  s_->parent_files.push_back(r);
  return r;
}

absl::Status Cmd::Start() {
  State* s = s_.get();
  if (s->process.has_value()) return Precondition("exec: already started");
  std::string resolved = path;
  absl::Status pre;
  if (!lookpath_err_.ok()) {
    pre = lookpath_err_;
  } else if (path.empty()) {
    pre = Precondition("exec: no command");
  } else if (!stdin_data.empty() && stdin_file.has_value()) {
    pre = Precondition("exec: Stdin already set");
  } else if (resolved.find('/') == std::string::npos) {
    absl::StatusOr<std::string> lp = LookPath(resolved);
    if (lp.ok()) {
      resolved = *std::move(lp);
    } else {
      pre = lp.status();
    }
  }
  if (pre.ok() && ctx_.has_value() && !ctx_->Err().ok()) {
    pre = ctx_->Err();  // Go: a context already done starts nothing
  }
  if (!pre.ok()) {  // Go closes the *Pipe ends on a failed Start
    for (os::File& f : s->parent_files) (void)f.Close();
    s->parent_files.clear();
    return pre;
  }

  // The descriptors we open here and close once the child has them, and
  // the I/O fibers to start once it runs.
  std::vector<int> to_close;
  struct Closer {
    std::vector<int>& fds;
    ~Closer() { CloseAll(fds); }
  } closer{to_close};
  std::vector<os::File> new_parent;  // made here: Wait closes them
  int devnull = -1;
  auto dev_null = [&]() -> absl::StatusOr<int> {
    if (devnull >= 0) return devnull;
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
      int e = errno;
      return absl::Status(absl::ErrnoToStatusCode(e),
                          absl::StrCat("open /dev/null: ", ErrnoText(e)));
    }
    to_close.push_back(devnull);
    return devnull;
  };
  // Go closes the pipes it made on a failed Start, the *Pipe ones too.
  auto fail = [&](absl::Status st) {
    for (os::File& f : new_parent) (void)f.Close();
    for (os::File& f : s->parent_files) (void)f.Close();
    s->parent_files.clear();
    return st;
  };

  os::ProcAttr attr;
  attr.dir = dir;
  attr.env = Environ();
  attr.sys = sys;
  attr.files.assign(3, -1);

  // stdin
  std::optional<os::File> feed;  // the parent's end stdin_data goes to
  if (stdin_file.has_value()) {
    attr.files[0] = os::internal::FileAccess::ForChild(*stdin_file);
  } else if (s->want_stdin_pipe) {
    attr.files[0] = s->stdin_child;
    to_close.push_back(std::exchange(s->stdin_child, -1));
  } else if (!stdin_data.empty()) {
    os::File w;
    int child_fd;
    if (absl::Status st = MakePipe(true, &child_fd, &w); !st.ok()) return fail(st);
    to_close.push_back(child_fd);
    attr.files[0] = child_fd;
    new_parent.push_back(w);
    feed = w;
  } else {
    absl::StatusOr<int> n = dev_null();
    if (!n.ok()) return fail(n.status());
    attr.files[0] = *n;
  }

  // stdout and stderr
  std::optional<os::File> drain_out, drain_err;  // the parent's ends the I/O fibers read
  auto output = [&](int index, const std::optional<os::File>& file, bool want_pipe, int* pipe_child,
                    bool capture, std::optional<os::File>* drain) -> absl::Status {
    if (file.has_value()) {
      attr.files[index] = os::internal::FileAccess::ForChild(*file);
    } else if (want_pipe) {
      attr.files[index] = *pipe_child;
      to_close.push_back(std::exchange(*pipe_child, -1));
    } else if (capture) {
      os::File r;
      int child_fd;
      if (absl::Status st = MakePipe(false, &child_fd, &r); !st.ok()) return st;
      to_close.push_back(child_fd);
      attr.files[index] = child_fd;
      new_parent.push_back(r);
      *drain = r;
    } else {
      absl::StatusOr<int> n = dev_null();
      if (!n.ok()) return n.status();
      attr.files[index] = *n;
    }
    return absl::OkStatus();
  };
  const bool combined = s->capture == State::Capture::kCombined;
  if (absl::Status st = output(1, stdout_file, s->want_stdout_pipe, &s->stdout_child,
                               s->capture != State::Capture::kNone, &drain_out);
      !st.ok()) {
    return fail(st);
  }
  if (combined) {
    attr.files[2] = attr.files[1];
  } else if (absl::Status st = output(2, stderr_file, s->want_stderr_pipe, &s->stderr_child,
                                      s->capture_stderr, &drain_err);
             !st.ok()) {
    return fail(st);
  }
  for (const os::File& f : extra_files) attr.files.push_back(os::internal::FileAccess::ForChild(f));
  for (std::size_t i = 0; i < attr.files.size(); i++) {
    if (attr.files[i] < 0) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("exec: descriptor ", i, " for the child is a closed os::File")));
    }
  }

  const std::vector<std::string> argv = args.empty() ? std::vector<std::string>{path} : args;
  absl::StatusOr<os::Process> p = os::StartProcess(resolved, argv, attr);
  if (!p.ok()) return fail(p.status());
  s->process = *std::move(p);
  CloseAll(to_close);  // the child has its copies
  for (os::File& f : new_parent) s->parent_files.push_back(std::move(f));

  // The I/O fibers.
  s->io_done = Chan<absl::Status>(3);
  std::shared_ptr<State> keep = s_;
  if (feed.has_value()) {
    s->io_fibers++;
    runtime::Go([keep, w = *feed, data = stdin_data]() mutable {
      absl::StatusOr<std::size_t> n = w.Write(data.data(), data.size());
      absl::Status st = n.status();
      // The child may exit without reading all of its input: a broken
      // pipe (or our end closed by a WaitDelay) is not the command's error.
      // Go: exec's skipStdinCopyError.
      if (!st.ok() && (absl::StrContains(st.message(), "broken pipe") ||
                       absl::StrContains(st.message(), "closed file"))) {
        st = absl::OkStatus();
      }
      absl::Status cst = w.Close();
      if (st.ok() && !cst.ok() && !absl::StrContains(cst.message(), "already closed")) st = cst;
      keep->io_done.Send(st);
    });
  }
  auto drain = [&](os::File r, bool to_err) {
    s->io_fibers++;
    runtime::Go([keep, r, to_err]() mutable {
      absl::Status st;
      std::string chunk;
      std::string& out = keep->out;
      for (;;) {
        // Read straight into `out` (Output's stdout), or through a chunk
        // into the stderr saver.
        std::string& dst = to_err ? chunk : out;
        const std::size_t len = to_err ? 0 : out.size();
        dst.resize(std::max(len + kReadChunk, dst.capacity()));
        absl::StatusOr<std::size_t> n = r.Read(dst.data() + len, dst.size() - len);
        dst.resize(len + (n.ok() ? *n : 0));
        if (!n.ok()) {
          if (!IsEof(n.status())) st = n.status();
          break;
        }
        if (to_err) keep->err_saver.Write(chunk.data(), *n);
      }
      // Our end closed by a WaitDelay (or a destroyed Cmd): not an I/O
      // error of the command.
      if (absl::StrContains(st.message(), "closed file")) st = absl::OkStatus();
      keep->io_done.Send(st);
    });
  };
  if (drain_out.has_value()) drain(*drain_out, false);
  if (drain_err.has_value()) drain(*drain_err, true);

  // The watcher: kills the child when `timeout` runs out or the context
  // ends, whichever comes first, unless Wait has reaped it.
  const bool by_ctx = ctx_.has_value() && !(*ctx_ == context::Background());
  if (timeout != absl::InfiniteDuration() || by_ctx) {
    s->watching = true;
    s->watch_stop = Chan<int>(0);
    s->watch_killed = Chan<State::Killed>(1);
    Chan<std::monostate> done = by_ctx ? ctx_->Done() : Chan<std::monostate>();
    runtime::Go([keep, d = timeout, done, proc = *s->process] {
      std::optional<time::Timer> t;
      if (d != absl::InfiniteDuration()) t.emplace(d);
      Chan<absl::Time> never;  // nil: no timeout
      State::Killed why = State::Killed::kNo;
      int i = Select(OnRecv(t.has_value() ? t->C() : never, nullptr), OnRecv(done, nullptr),
                     OnRecv(keep->watch_stop, nullptr));
      if (i != 2) {
        os::Process victim = proc;
        // The child may have exited already (Wait not yet there): Go's
        // ErrProcessDone, not a kill; the status Wait reaps stands.
        if (victim.Kill().ok()) why = i == 0 ? State::Killed::kTimeout : State::Killed::kContext;
      }
      keep->watch_killed.Send(why);
    });
  }
  return absl::OkStatus();
}

absl::Status Cmd::Wait() {
  State* s = s_.get();
  if (!s->process.has_value()) return Precondition("exec: not started");
  if (s->wait_called) return Precondition("exec: Wait was already called");
  s->wait_called = true;

  absl::StatusOr<os::ProcessState> ps = s->process->Wait();
  absl::Status err;
  State::Killed killed = State::Killed::kNo;
  if (s->watching) {
    s->watch_stop.Close();
    killed = s->watch_killed.Recv().value_or(State::Killed::kNo);
  }
  if (!ps.ok()) {
    err = ps.status();
  } else {
    s->state = *ps;
    // Why the watcher killed it: the timeout, or the context's Err.
    absl::Status cause;
    if (killed == State::Killed::kTimeout) {
      cause = absl::DeadlineExceededError(
          absl::StrCat("exec: timeout ", absl::FormatDuration(timeout), " expired"));
    } else if (killed == State::Killed::kContext) {
      cause = ctx_->Err();
    }
    if (!ps->Success()) {
      err = cause.ok() ? absl::UnknownError(ps->String())
                       : absl::Status(cause.code(),
                                      absl::StrCat(ps->String(), " (", cause.message(), ")"));
    } else {
      // Killed too late to matter: it had exited, and succeeded. Go reports
      // the cause all the same (nothing if there was none).
      err = cause;
    }
  }

  // The I/O fibers, for at most wait_delay once the child has gone.
  absl::Status io_err;
  bool delay_expired = false;
  std::optional<time::Timer> delay;
  if (wait_delay > absl::ZeroDuration()) delay.emplace(wait_delay);
  for (int left = s->io_fibers; left > 0;) {
    std::optional<absl::Status> st;
    if (delay.has_value() && !delay_expired) {
      if (Select(OnRecv(s->io_done, &st), OnRecv(delay->C(), nullptr)) == 1) {
        delay_expired = true;
        for (os::File& f : s->parent_files) (void)f.Close();  // ends the I/O fibers
        continue;
      }
    } else {
      st = s->io_done.Recv();
    }
    left--;
    if (st.has_value() && !st->ok() && io_err.ok()) io_err = *st;
  }
  for (os::File& f : s->parent_files) (void)f.Close();  // "already closed" is fine
  s->parent_files.clear();

  if (err.ok()) err = io_err;
  if (err.ok() && delay_expired) {
    err = absl::DeadlineExceededError("exec: WaitDelay expired before I/O complete");
  }
  return err;
}

absl::Status Cmd::Run() {
  if (absl::Status st = Start(); !st.ok()) return st;
  return Wait();
}

absl::StatusOr<std::string> Cmd::Output() {
  if (stdout_file.has_value() || s_->want_stdout_pipe || s_->capture != State::Capture::kNone) {
    return Precondition("exec: Stdout already set");
  }
  s_->capture = State::Capture::kStdout;
  // Go captures stderr for the error only if nobody else takes it.
  s_->capture_stderr = !stderr_file.has_value() && !s_->want_stderr_pipe;
  absl::Status st = Run();
  if (!st.ok()) {
    if (s_->capture_stderr && s_->state.has_value() && !s_->state->Success()) {
      st.SetPayload(absl::string_view(kStderrPayload.data(), kStderrPayload.size()),
                    absl::Cord(s_->err_saver.Bytes()));
    }
    if (s_->state.has_value())
      st.SetPayload(absl::string_view(kOutputPayload.data(), kOutputPayload.size()),
                    absl::Cord(std::move(s_->out)));
    return st;
  }
  return std::move(s_->out);
}

absl::StatusOr<std::string> Cmd::CombinedOutput() {
  if (stdout_file.has_value() || s_->want_stdout_pipe || s_->capture != State::Capture::kNone) {
    return Precondition("exec: Stdout already set");
  }
  if (stderr_file.has_value() || s_->want_stderr_pipe) {
    return Precondition("exec: Stderr already set");
  }
  s_->capture = State::Capture::kCombined;
  absl::Status st = Run();
  if (!st.ok()) {
    if (s_->state.has_value())
      st.SetPayload(absl::string_view(kOutputPayload.data(), kOutputPayload.size()),
                    absl::Cord(std::move(s_->out)));
    return st;
  }
  return std::move(s_->out);
}

std::optional<os::Process> Cmd::process() const { return s_->process; }
std::optional<os::ProcessState> Cmd::process_state() const { return s_->state; }

}  // namespace gort::exec
