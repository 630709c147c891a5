#include "testing.h"

#include <dirent.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "gort/internal/runtime_support.h"

namespace gort::testing {
namespace {

// Randomized-schedule builds: every failed test names the seed to replay.
struct SeedOnFailure : ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& info) override {
    uint64_t seed = runtime::internal::ScheduleSeed();
    if (seed != 0 && info.result()->Failed()) {
      std::fprintf(stderr, "gort: random schedule seed %llu (GORT_SCHEDULE_SEED=%llu replays it)\n",
                   static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
    }
  }
};
#ifdef GORT_RANDOM_SCHEDULE
const bool seed_listener = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new SeedOnFailure);
  return true;
}();
#endif

int CountDir(const char* path) {
  int n = 0;
  DIR* d = opendir(path);
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(d);
  return n - (std::string(path) == "/proc/self/fd" ? 1 : 0);  // opendir's own fd
}
}  // namespace

int CountThreads() { return CountDir("/proc/self/task"); }
int CountFds() { return CountDir("/proc/self/fd"); }

std::set<int> OpenFds() {
  std::set<int> fds;
  DIR* d = opendir("/proc/self/fd");
  int own = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != own) fds.insert(fd);
  }
  closedir(d);
  return fds;
}

// Children of this process that are zombies now (/proc/PID/stat: state Z
// and our pid as the parent).
int ZombieChildren() {
  int n = 0;
  pid_t me = getpid();
  DIR* d = opendir("/proc");
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    auto close_paren = line.rfind(')');
    if (close_paren == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (sscanf(line.c_str() + close_paren + 1, " %c %d", &state, &ppid) == 2 && ppid == me &&
        state == 'Z') {
      n++;
    }
  }
  closedir(d);
  return n;
}

char ProcState(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return 0;
  auto p = line.rfind(')');
  if (p == std::string::npos || p + 2 >= line.size()) return 0;
  return line[p + 2];
}

bool UnderTsan() {
#if defined(__SANITIZE_THREAD__)
  return true;
#else
  return false;
#endif
}

bool UnderSanitizer() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#else
  return false;
#endif
}

void YieldUntil(const std::function<bool()>& pred) {
  while (!pred()) runtime::Gosched();
}

// A joined thread can stay listed in /proc/self/task for a moment: the kernel
// releases the task after it has woken the joiner. Waits (up to 10 s) until
// the count reaches `want`, or, with want < 0, until it stops changing.
int SettledThreadCount(int want) {
  int last = CountThreads();
  int stable = 0;
  for (int i = 0; i < 10000; i++) {
    usleep(1000);
    int now = CountThreads();
    if (want >= 0 && now == want) return now;
    stable = (now == last) ? stable + 1 : 0;
    last = now;
    if (want < 0 && stable >= 3) return now;
  }
  return last;
}

void ProcsTest::SetUp() {
  // Sanitizer runtimes start helper threads of their own at the first thread
  // creation (TSan's background thread): let that happen before counting.
  std::thread([] {}).join();
  threads_before_ = SettledThreadCount(-1);
  fds_before_ = OpenFds();
}

void ProcsTest::TearDown() {
  EXPECT_EQ(runtime::NumGoroutine(), 0) << "fibers left after Run";
  EXPECT_EQ(SettledThreadCount(threads_before_), threads_before_) << "threads leaked by Run";
  EXPECT_EQ(OpenFds(), fds_before_) << "descriptors leaked";
}

void ProcsTest::RunFibers(std::function<void()> body, runtime::Options opts) {
  opts.procs = GetParam();
  EXPECT_EQ(runtime::Run(std::move(body), opts), 0);
}

}  // namespace gort::testing
