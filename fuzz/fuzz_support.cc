#include "fuzz_support.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "gort/chan.h"
#include "gort/runtime.h"

namespace gort_fuzz {
namespace {

const char* target_name = "gort fuzz";

// Created once and never freed (reachable from these pointers until exit):
// the runtime outlives every input.
gort::Chan<const std::function<void()>*>* jobs = nullptr;
gort::Chan<int>* replies = nullptr;
std::thread* run_thread = nullptr;
gort::runtime::ExternalWaker* waker = nullptr;

void StopRuntime() {
  jobs->Close();  // the main fiber returns, Run shuts down
  run_thread->join();
}

}  // namespace

void SetTargetName(const char* name) { target_name = name; }

void Fail(const std::string& what) {
  std::fprintf(stderr, "%s: FAILED: %s\n", target_name, what.c_str());
  std::fflush(stderr);
  std::abort();
}

void StartRuntime(int procs) {
  if (jobs != nullptr) return;
  // Between inputs every fiber is parked and the fuzz thread is busy in
  // libFuzzer: the runtime must not take that for a deadlock. (A real hang
  // inside an input is libFuzzer's -timeout's to report.)
  waker = new gort::runtime::ExternalWaker;
  jobs = new gort::Chan<const std::function<void()>*>(0);
  replies = new gort::Chan<int>(0);
  run_thread = new std::thread([procs] {
    gort::runtime::Run(
        [] {
          while (std::optional<const std::function<void()>*> job = jobs->Recv()) {
            (**job)();
            replies->Send(1);
          }
        },
        {.procs = procs});
  });
  std::atexit(StopRuntime);
  // Returns once Run has started (its descriptors are open) and the main
  // fiber serves jobs.
  RunInFiber([] {});
}

void RunInFiber(const std::function<void()>& job) {
  jobs->Send(&job);
  replies->Recv();
}

void WaitForOtherFibers() {
  const bool in_fiber = gort::runtime::GoID() != 0;
  while (gort::runtime::NumGoroutine() > 1) {
    if (in_fiber) {
      gort::runtime::Gosched();
    } else {
      std::this_thread::yield();
    }
  }
}

__attribute__((noinline)) int Errno() {
  asm volatile("" ::: "memory");
  return errno;
}

std::set<int> OpenFds() {
  std::set<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) Fail("cannot list /proc/self/fd");
  int own = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd != own) fds.insert(fd);
  }
  closedir(d);
  return fds;
}

}  // namespace gort_fuzz
