#include "testing.h"

#include <dirent.h>
#include <sched.h>

#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace gort::testing {
namespace {
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
