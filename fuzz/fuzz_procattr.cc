// fuzz_procattr: the process layer's preparation path under arbitrary
// ProcAttr, argv and environment.
//
// The program is always the fixed test child (tests/testchild.c, built
// static as gort_fuzz_testchild): the fuzzer chooses everything else. Each
// input is decoded into argv (argv[0] and the arguments are arbitrary
// bytes, NULs included; the child's mode word comes from a fixed set, so
// that the child never sleeps or reads stdin), environment entries
// (arbitrary bytes), a working directory, a descriptor plan and the
// SysProcAttr fields, then started twice: with StartProcess + WaitProcess
// (Go's fix) and with ForkExec (the legacy path) + waitpid.
//
// The outcome is predicted from the input before each start, in the order
// the implementation checks (syscall/src/forkexec_linux.cc): argv empty,
// NULs in argv, env, dir; then, in the child, setsid, setpgid, the death
// signal, chdir, the descriptor plan, exec. The run must match exactly:
//   * an error: the message is Go's ("fork/exec PATH: ERR", "chdir DIR:
//     ERR", "fork/exec PATH: setpgid(0, N): ERR", ...), with the errno the
//     prediction expects, and the child printed nothing;
//   * a success: the exit status the child's mode gives, WaitProcess's
//     Waitmsg names the pid and describes the status as Go does, a second
//     WaitProcess says "wait: process not found"; and when the plan makes
//     child fd 1 the capture pipe, what the child printed (its environment,
//     its open descriptors, its working directory, its pid/pgid/sid) is
//     exactly what the attributes ask for.
// After each input nothing may be left behind: the same descriptors open as
// before, PendingProcesses() == 0, OrphanedProcesses() == 0, and no child
// process at all (running or zombie). Any violation aborts, which libFuzzer
// reports as a crash with the input saved.
//
// The fuzz process's own stdin and stdout are /dev/null (set up once), so
// that children inheriting them neither read a terminal nor print into the
// fuzzer's log; a plan that would make the fuzzer's stderr the child's
// stdout is given a mode that prints nothing.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fuzz_support.h"
#include "gort/runtime.h"
#include "gort/syscall.h"

namespace {

using gort::syscall::ProcAttr;
using gort::syscall::Waitmsg;
using gort_fuzz::Errno;
using gort_fuzz::Fail;

const std::string kChild = GORT_FUZZ_TESTCHILD;
int devnull = -1;            // O_CLOEXEC; one of the plan's choices
std::vector<pid_t> started;  // this input's children

// The child's mode (argv[1]).
enum Mode { kNone, kExit, kEnv, kFds, kPwd, kIds, kOther, kNoArgv, kFdStat, kModes };

// Descriptor plan entries are decoded to these codes and resolved for each
// start (the capture pipe is new each time).
constexpr int kCodeCapture = -1000;  // the capture pipe's write end
constexpr int kCodeDevNull = -1001;  // devnull

struct Input {
  Mode mode = kNone;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string dir;
  std::vector<int> files;  // literal fds, -1, or a kCode*
  gort::syscall::SysProcAttr sys;
};

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

// What gort prints for an errno: strerror with a lowercase first letter.
std::string ErrText(int err) {
  std::string s = std::strerror(err);
  if (s.size() > 1 && s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z')) {
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  }
  return s;
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

// ---------------------------------------------------------------------------
// Decoding. Layout (a reader past the end yields zeros and empty strings):
//   byte  bit 0 setsid, bit 1 setpgid, bits 2-4 the pgid (PgidChoice)
//   byte  pdeathsig: % 72: 0-64 itself, 65-71 an invalid value (kBadSignals)
//   byte  dir: % 8 (see Decode; 5: a string follows)
//   byte  mode: % kModes (Mode)
//   str   argv[0]
//   str   (kExit) the exit code's text, (kOther) the mode word
//   byte  % 4 more arguments, each a str (not with kNone: they would be the mode)
//   byte  % 8 environment entries, each a str
//   byte  % 8 plan entries, each a byte % 11 (kFileChoices); 0 entries: the default plan
// where str is a length byte followed by that many bytes.

int PgidChoice(int i) {
  const int choices[] = {
      0, getpgrp(), 1, -1, getpid(), INT_MAX, 12345678 /* above any pid_max */, getpgrp() + 1};
  return choices[i];
}

constexpr int kBadSignals[] = {65, 100, -1, -64, INT_MAX, INT_MIN, 1000};

// 1000: below the descriptor limit, never open here. The capture pipe comes
// twice: the output is checked only through it.
constexpr int kFileChoices[] = {-1,      0,    1,  2,       kCodeDevNull, kCodeCapture,
                                1 << 30, 1000, -2, INT_MAX, kCodeCapture};

// The child's mode words (argv[1]), by Mode; null: none.
constexpr const char* kModeWords[] = {nullptr, "exit",  "env",   "fds",   "pwd",
                                      "ids",   nullptr, nullptr, "fdstat"};

bool PrintingMode(Mode m) {
  return m == kEnv || m == kFds || m == kFdStat || m == kPwd || m == kIds;
}

Input Decode(const uint8_t* data, size_t size) {
  gort_fuzz::Reader r(data, size);
  Input in;
  uint8_t b = r.Byte();
  in.sys.setsid = b & 1;
  in.sys.setpgid = b & 2;
  in.sys.pgid = PgidChoice((b >> 2) & 7);
  b = r.Byte() % 72;
  in.sys.pdeathsig = b <= 64 ? b : kBadSignals[b - 65];
  const uint8_t dir = r.Byte() % 8;
  const char* const dirs[] = {"",      "/",     "/tmp", "/nonexistent/gort-fuzz",
                              nullptr, nullptr, ".",    ".."};
  if (dir == 4) {
    in.dir = kChild;  // a file
  } else if (dir == 5) {
    in.dir = r.String();
  } else {
    in.dir = dirs[dir];
  }
  in.mode = static_cast<Mode>(r.Byte() % kModes);
  std::string argv0 = r.String();
  std::string word;
  std::string exit_text;
  if (in.mode == kExit) exit_text = r.String();
  if (in.mode == kOther) {
    word = r.String();
    // Never one of the child's real modes: those are chosen above, and
    // "sleep", "ppid-wait" and "stdin" could block.
    for (const char* m :
         {"exit", "sleep", "stdin", "fds", "fdstat", "pwd", "env", "ppid-wait", "ids"}) {
      if (word == m) word = "x" + word;
    }
  }
  std::vector<std::string> extra(r.Byte() % 4);
  for (auto& a : extra) a = r.String();
  in.env.resize(r.Byte() % 8);
  for (auto& e : in.env) e = r.String();
  in.files.resize(r.Byte() % 8);
  for (int& f : in.files) f = kFileChoices[r.Byte() % std::size(kFileChoices)];

  // Child fd 1 would be the fuzzer's stderr: keep the log clean.
  if (PrintingMode(in.mode) && in.files.size() > 1 && in.files[1] == 2) in.mode = kNone;

  if (in.mode == kNone) {
    in.argv = {argv0};  // no more arguments: the first would be the mode
  } else if (in.mode == kExit) {
    in.argv = {argv0, "exit", exit_text};
  } else if (in.mode == kOther) {
    in.argv = {argv0, word};
  } else if (in.mode != kNoArgv) {
    in.argv = {argv0, kModeWords[in.mode]};
  }
  if (in.mode != kNone && in.mode != kNoArgv) {
    in.argv.insert(in.argv.end(), extra.begin(), extra.end());
  }
  return in;
}

// ---------------------------------------------------------------------------
// The prediction.

struct Expect {
  bool ok = false;
  std::string error;    // !ok: the exact message
  int exit_status = 0;  // ok
  bool check_output = false;
  std::string output;  // ok && check_output (kIds: filled in once the pid is known)
};

// The parent, process group and session of pid, from /proc/PID/stat.
bool ReadStat(pid_t pid, int* ppid, int* pgrp, int* session) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return false;
  char line[1024] = {};
  size_t n = std::fread(line, 1, sizeof line - 1, f);
  std::fclose(f);
  std::string l(line, n);
  size_t paren = l.rfind(')');  // the command name may hold anything
  char state = 0;
  return paren != std::string::npos &&
         std::sscanf(l.c_str() + paren + 1, " %c %d %d %d", &state, ppid, pgrp, session) == 4;
}

// Does a process group `pgid` exist in our session, for setpgid to join?
// Any process of ours with that group will do: the group's leader may have
// exited while the group lives on (a shell with job control leaves such
// groups), so looking for the leader alone is not enough.
bool GroupInOurSession(int pgid) {
  if (pgid == getpgrp()) return true;
  if (pgid <= 0) return false;
  const int sid = getsid(0);
  DIR* d = opendir("/proc");
  if (d == nullptr) Fail("cannot list /proc");
  bool found = false;
  while (dirent* ent = readdir(d)) {
    if (ent->d_name[0] < '1' || ent->d_name[0] > '9') continue;
    int ppid, pgrp, session;
    if (ReadStat(std::atoi(ent->d_name), &ppid, &pgrp, &session) && pgrp == pgid &&
        session == sid) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
}

std::string Describe(const Input& in, const ProcAttr& attr) {
  std::string s = "argv [";
  for (size_t i = 0; i < in.argv.size(); i++) s += (i ? ", " : "") + Quote(in.argv[i]);
  s += "] env [";
  for (size_t i = 0; i < attr.env.size(); i++) s += (i ? ", " : "") + Quote(attr.env[i]);
  s += "] dir " + Quote(attr.dir) + " files [";
  for (size_t i = 0; i < attr.files.size(); i++) {
    s += (i ? ", " : "") + std::to_string(attr.files[i]);
  }
  s += "] setsid " + std::to_string(attr.sys.setsid) + " setpgid " +
       std::to_string(attr.sys.setpgid) + " pgid " + std::to_string(attr.sys.pgid) + " pdeathsig " +
       std::to_string(attr.sys.pdeathsig);
  return s;
}

// child_is_pgid: predict as if the child's pid turned out to be the pgid
// asked for (setpgid(0, own pid) is joining its own new group): pids wrap,
// so a nonexistent group's number can be the very pid the child gets.
Expect Predict(const Input& in, const ProcAttr& attr, int capture_w, bool child_is_pgid) {
  Expect e;
  const std::string fe = "fork/exec " + kChild + ": ";
  if (in.argv.empty()) {
    e.error = fe + "argv is empty (argv[0], the program's name, is required)";
    return e;
  }
  for (const auto& a : in.argv) {
    if (HasNul(a)) {
      e.error = fe + ErrText(EINVAL);
      return e;
    }
  }
  for (const auto& v : attr.env) {
    if (HasNul(v)) {
      e.error = fe + ErrText(EINVAL);
      return e;
    }
  }
  if (HasNul(attr.dir)) {
    e.error = "chdir " + attr.dir + ": " + ErrText(EINVAL);
    return e;
  }
  // The child's steps.
  if (attr.sys.setpgid) {
    int err = 0;
    if (attr.sys.pgid < 0) {
      err = EINVAL;
    } else if (attr.sys.setsid) {
      err = EPERM;  // a session leader cannot change its group
    } else if (attr.sys.pgid != 0 && !child_is_pgid && !GroupInOurSession(attr.sys.pgid)) {
      err = EPERM;
    }
    if (err != 0) {
      e.error = fe + "setpgid(0, " + std::to_string(attr.sys.pgid) + "): " + ErrText(err);
      return e;
    }
  }
  if (attr.sys.pdeathsig < 0 || attr.sys.pdeathsig > 64) {
    e.error = fe + "prctl(PR_SET_PDEATHSIG, " + std::to_string(attr.sys.pdeathsig) +
              "): " + ErrText(EINVAL);
    return e;
  }
  std::string cwd;  // where the child will be
  {
    const char* d = attr.dir.empty() ? "." : attr.dir.c_str();
    // chdir fails as opening the directory does, or, without search
    // permission on it (not root), as access(X_OK) does.
    int fd = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || access(d, X_OK) != 0) {
      e.error = "chdir " + attr.dir + ": " + ErrText(Errno());
      if (fd >= 0) close(fd);
      return e;
    }
    close(fd);
    char buf[PATH_MAX];
    if (realpath(d, buf) != nullptr) cwd = buf;
  }
  for (int f : attr.files) {
    if (f == -1) continue;
    if (f < 0 || fcntl(f, F_GETFD) < 0) {
      e.error = fe + ErrText(EBADF);
      return e;
    }
  }
  e.ok = true;
  switch (in.mode) {
    case kExit:
      e.exit_status = static_cast<int>(std::strtol(in.argv[2].c_str(), nullptr, 10)) & 0xff;
      break;
    case kOther:
      e.exit_status = 2;
      break;
    default:
      e.exit_status = 0;
      break;
  }
  e.check_output = attr.files.size() > 1 && attr.files[1] == capture_w;
  switch (in.mode) {
    case kEnv:
      for (const auto& v : attr.env) e.output += v + "\n";
      break;
    case kFds:
    case kFdStat: {
      // The plan's descriptors, then whatever this process has open without
      // CLOEXEC above the plan (inherited, as in Go); 0-2 outside the plan
      // are closed. fdstat also names each one's file: child fd i must be
      // the file the plan's files[i] is here.
      std::vector<int> plan = attr.files;
      if (plan.empty()) {
        for (int i = 0; i < 3; i++) plan.push_back(fcntl(i, F_GETFD) >= 0 ? i : -1);
      }
      int nfds = static_cast<int>(plan.size());
      for (int fd = 0; fd < 64; fd++) {
        int source = -1;  // what child fd `fd` is in this process
        if (fd < nfds) {
          source = plan[fd];
        } else if (fd >= 3) {
          int fl = fcntl(fd, F_GETFD);
          if (fl >= 0 && !(fl & FD_CLOEXEC)) source = fd;
        }
        if (source == -1) continue;
        e.output += std::to_string(fd);
        if (in.mode == kFdStat) {
          struct stat st;
          if (fstat(source, &st) != 0) {
            Fail("fstat " + std::to_string(source) + ": " + ErrText(Errno()));
          }
          e.output += " " + std::to_string(static_cast<unsigned long>(st.st_dev)) + " " +
                      std::to_string(static_cast<unsigned long>(st.st_ino));
        }
        e.output += "\n";
      }
      break;
    }
    case kPwd:
      // /proc/self and friends name the child there, the fuzzer here.
      if (cwd.empty() || cwd.rfind("/proc", 0) == 0) {
        e.check_output = false;
      } else {
        e.output = cwd + "\n";
      }
      break;
    default:
      break;
  }
  return e;
}

std::string IdsOutput(const ProcAttr& attr, pid_t pid) {
  pid_t pgid = getpgrp(), sid = getsid(0);
  if (attr.sys.setsid) pgid = sid = pid;
  if (attr.sys.setpgid) pgid = attr.sys.pgid == 0 ? pid : attr.sys.pgid;
  return std::to_string(pid) + " " + std::to_string(pgid) + " " + std::to_string(sid) + "\n";
}

// Reads fd to EOF (the child's copies of the write end close when it exits).
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n;
    {
      gort::runtime::BlockingSyscall bs;
      n = read(fd, buf, sizeof buf);
    }
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || Errno() != EINTR) {
      return out;
    }
  }
}

enum class Path { kStartProcess, kForkExec };

// One start of the input's child by one path, checked against the
// prediction. Runs in a fiber.
void RunOnce(const Input& in, Path path) {
  const char* name = path == Path::kStartProcess ? "StartProcess" : "ForkExec";
  int cap[2];
  if (pipe2(cap, O_CLOEXEC) != 0) Fail("pipe2: " + ErrText(Errno()));
  ProcAttr attr;
  attr.dir = in.dir;
  attr.env = in.env;
  attr.sys = in.sys;
  for (int f : in.files) {
    attr.files.push_back(f == kCodeCapture ? cap[1] : f == kCodeDevNull ? devnull : f);
  }
  const Expect usual = Predict(in, attr, cap[1], false);
  const Expect if_own_group = Predict(in, attr, cap[1], true);
  const std::string what = std::string(name) + " of " + Describe(in, attr);

  absl::StatusOr<pid_t> r = path == Path::kStartProcess
                                ? gort::syscall::StartProcess(kChild, in.argv, attr)
                                : gort::syscall::ForkExec(kChild, in.argv, attr);
  close(cap[1]);
  std::string out = ReadAll(cap[0]);
  close(cap[0]);

  if (!r.ok()) {
    const Expect& e = usual;
    if (e.ok) {
      Fail(what + ": expected a start, got error " + Quote(std::string(r.status().message())));
    }
    if (r.status().message() != e.error) {
      Fail(what + ": error " + Quote(std::string(r.status().message())) + ", expected " +
           Quote(e.error));
    }
    if (!out.empty()) Fail(what + ": failed start, yet the child printed " + Quote(out));
    return;
  }
  const pid_t pid = *r;
  started.push_back(pid);
  const Expect& e = attr.sys.setpgid && attr.sys.pgid == pid ? if_own_group : usual;
  int status = 0;
  if (path == Path::kStartProcess) {
    Waitmsg w;
    absl::Status ws = gort::syscall::WaitProcess(pid, &w);
    if (!ws.ok()) Fail(what + ": WaitProcess: " + std::string(ws.message()));
    if (w.pid != pid) {
      Fail(what + ": Waitmsg.pid " + std::to_string(w.pid) + " for pid " + std::to_string(pid));
    }
    status = w.status;
    if (w.msg != gort::syscall::DescribeStatus(w.status, true)) {
      Fail(what + ": Waitmsg.msg " + Quote(w.msg));
    }
    absl::Status again = gort::syscall::WaitProcess(pid, nullptr);
    if (again.code() != absl::StatusCode::kNotFound ||
        again.message() != "wait: process not found") {
      Fail(what + ": second WaitProcess: " + again.ToString());
    }
  } else {
    pid_t got;
    {
      gort::runtime::BlockingSyscall bs;
      do {
        got = waitpid(pid, &status, __WALL);
      } while (got < 0 && Errno() == EINTR);
    }
    if (got != pid) Fail(what + ": waitpid: " + ErrText(Errno()));
  }
  if (!e.ok) {
    Fail(what + ": started pid " + std::to_string(pid) + ", expected error " + Quote(e.error));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != e.exit_status) {
    Fail(what + ": " + gort::syscall::DescribeStatus(status, false) + ", expected exit status " +
         std::to_string(e.exit_status));
  }
  if (e.check_output) {
    std::string want = in.mode == kIds ? IdsOutput(attr, pid) : e.output;
    if (out != want) Fail(what + ": printed " + Quote(out) + ", expected " + Quote(want));
  }
}

// Is pid (one of the children this input started) still a child of ours,
// running or a zombie? A pid reused since by someone else's process is not.
bool StillOurs(pid_t pid) {
  int ppid, pgrp, session;
  return ReadStat(pid, &ppid, &pgrp, &session) && ppid == getpid();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gort_fuzz::SetTargetName("fuzz_procattr");
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0 || dup2(devnull, 0) != 0 || dup2(devnull, 1) != 1) {
    Fail("cannot open /dev/null as stdin/stdout");
  }
  if (access(kChild.c_str(), X_OK) != 0) Fail("the test child " + kChild + " is missing");
  gort_fuzz::StartRuntime(2);
  // Whatever the process layer sets up once, on first use, is set up before
  // the first input's descriptor count.
  gort_fuzz::RunInFiber([] {
    Input in;
    in.mode = kExit;
    in.argv = {kChild, "exit", "0"};
    RunOnce(in, Path::kStartProcess);
    RunOnce(in, Path::kForkExec);
    gort_fuzz::WaitForOtherFibers();
  });
  started.clear();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Input in = Decode(data, size);
  const std::set<int> fds_before = gort_fuzz::OpenFds();
  gort_fuzz::RunInFiber([&] {
    RunOnce(in, Path::kStartProcess);
    RunOnce(in, Path::kForkExec);
    // Waiter fibers finish after they hand over the status: let them go, so
    // that what they hold (the child's pidfd) is released.
    gort_fuzz::WaitForOtherFibers();
  });
  if (int n = gort::syscall::PendingProcesses(); n != 0) {
    Fail(std::to_string(n) + " wait-map entries left (PendingProcesses)");
  }
  if (int n = gort::syscall::OrphanedProcesses(); n != 0) {
    Fail(std::to_string(n) + " orphaned children");
  }
  // No zombie at all (our children are reaped; the only other child is
  // libFuzzer's llvm-symbolizer, which keeps running), and none of this
  // input's children still running.
  siginfo_t si{};
  if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 && si.si_pid != 0) {
    Fail("zombie child " + std::to_string(si.si_pid) + " left");
  }
  for (pid_t pid : started) {
    if (StillOurs(pid)) {
      Fail("child " + std::to_string(pid) + " is still ours after it was waited for");
    }
  }
  started.clear();
  const std::set<int> fds_after = gort_fuzz::OpenFds();
  if (fds_after != fds_before) {
    std::string s;
    for (int fd : fds_after) {
      if (fds_before.count(fd)) continue;
      char target[256] = {};
      ssize_t n =
          readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target, sizeof target - 1);
      s += " +" + std::to_string(fd) + " (" +
           std::string(target, n > 0 ? static_cast<size_t>(n) : 0) + ")";
    }
    for (int fd : fds_before) {
      if (!fds_after.count(fd)) s += " -" + std::to_string(fd);
    }
    Fail("descriptors changed across the input:" + s);
  }
  return 0;
}
