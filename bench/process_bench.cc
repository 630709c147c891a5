// Process start + wait throughput: gort's StartProcess/WaitProcess (the fix)
// beside the raw C methods in the same binary, for a static no-op child the
// build makes (the exec floor) and for /bin/true, sequential and with 16
// concurrent spawners, and with a 1 GiB-RSS parent. After the table it
// prints the ratios against raw clone(CLONE_VM|CLONE_VFORK).
//   BM_StartProcessWait/child/spawners   child 0: static no-op, 1: /bin/true
//   BM_StartProcessWaitReapers/...       the same with process_reapers = 2
//   (gort's rows also report, per child, the context switches, futex wakes
//   and sleeps, OS threads created, M wake-ups, P hand-offs and retakes)
//   BM_OsStartProcessWait/spawners       os::StartProcess + Process::Wait (the
//                                        fix), static child, 1..64 spawners
//   BM_OsLegacyStartProcessWait/spawners os::legacy (the pre-fix race): waits
//                                        that lose their child to another
//                                        fiber's wait count in lost_waits
//   BM_RawCloneVfork/child/threads       clone(VM|VFORK) + execve + waitpid
//   BM_RawVfork/child/threads            vfork + execve + waitpid
//   BM_RawPosixSpawn/child/threads       posix_spawn + waitpid
//   BM_RawForkExec/child/threads         fork + execve + waitpid
// The static child's rows sweep 1, 2, 4, 16 and 64 spawners (the harness
// plots throughput against them); /bin/true's run at 1 and 16.
//   *_1GiB                               the same from a parent with 1 GiB resident
#include <benchmark/benchmark.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "children_ratios.h"
#include "gort/gort.h"
#include "gort/internal/runtime_support.h"
#include "spawn_loop.h"

extern char** environ;

namespace {

const char* ChildPath(int64_t which) { return which == 0 ? GORT_TESTCHILD : "/bin/true"; }

// --- gort ------------------------------------------------------------------------

// The timed loop runs state.max_iterations times; its first pass starts and
// waits for all of those children (spread over the spawners), the other
// passes are empty. The loop's time over its iterations is the cost a child.
// What each child cost the scheduler, from the runtime's event counters and
// the process's context switches, as per-child benchmark counters.
class PerChild {
 public:
  PerChild() { Read(&before_, &csw_before_); }
  void Report(benchmark::State& state) {
    gort::runtime::internal::RuntimeStats after;
    long csw_after;
    Read(&after, &csw_after);
    const double n = static_cast<double>(std::max<int64_t>(state.iterations(), 1));
    state.counters["futex_wakes"] = double(after.futex_wakes - before_.futex_wakes) / n;
    state.counters["futex_sleeps"] = double(after.futex_sleeps - before_.futex_sleeps) / n;
    state.counters["threads"] = double(after.threads_created - before_.threads_created) / n;
    state.counters["m_wakeups"] = double(after.m_wakeups - before_.m_wakeups) / n;
    state.counters["handoffs"] = double(after.handoffs - before_.handoffs) / n;
    state.counters["retakes"] = double(after.retakes - before_.retakes) / n;
    state.counters["ctxsw"] = double(csw_after - csw_before_) / n;
  }

 private:
  static void Read(gort::runtime::internal::RuntimeStats* s, long* csw) {
    *s = gort::runtime::internal::ReadRuntimeStats();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *csw = ru.ru_nvcsw + ru.ru_nivcsw;
  }
  gort::runtime::internal::RuntimeStats before_;
  long csw_before_;
};

void StartWaitLoop(benchmark::State& state, const char* path, int spawners, int reapers = 0) {
  PerChild per_child;
  gort_bench::SpawnerLoop(
      state, spawners, gort::runtime::Options{.procs = 2, .process_reapers = reapers},
      [&] {
        auto pid = gort::syscall::StartProcess(path, {path}, {});
        return pid.ok() && gort::syscall::WaitProcess(*pid, nullptr).ok();
      },
      "a start or wait failed");
  per_child.Report(state);
}

void BM_StartProcessWait(benchmark::State& state) {
  StartWaitLoop(state, ChildPath(state.range(0)), static_cast<int>(state.range(1)));
}
BENCHMARK(BM_StartProcessWait)
    ->Args({0, 1})
    ->Args({0, 16})
    ->Args({1, 1})
    ->Args({1, 16})
    ->UseRealTime();

// The same in reaper mode, with as many reapers as Ps (2).
void BM_StartProcessWaitReapers(benchmark::State& state) {
  StartWaitLoop(state, ChildPath(state.range(0)), static_cast<int>(state.range(1)), 2);
}
BENCHMARK(BM_StartProcessWaitReapers)
    ->Args({0, 1})
    ->Args({0, 16})
    ->Args({1, 1})
    ->Args({1, 16})
    ->UseRealTime();
void SpawnerSweep(benchmark::internal::Benchmark* b) {
  for (int spawners : {1, 2, 4, 16, 64}) b->Args({spawners});
  b->UseRealTime();
}

// os::StartProcess + Wait (legacy: os::legacy's) over `spawners` fibers.
template <bool kLegacy>
void OsLoop(benchmark::State& state) {
  const std::string path = ChildPath(0);
  std::atomic<int> lost{0};
  gort_bench::SpawnerLoop(
      state, static_cast<int>(state.range(0)), gort::runtime::Options{.procs = 2},
      [&] {
        auto p = kLegacy ? gort::os::legacy::StartProcess(path, {path}, {})
                         : gort::os::StartProcess(path, {path}, {});
        if (!p.ok()) return false;
        auto st = kLegacy ? gort::os::legacy::Wait(*p) : p->Wait();
        if (kLegacy && !st.ok()) {
          lost.fetch_add(1);  // the race: another fiber's wait took it
          return true;
        }
        return st.ok() && st->Success();
      },
      "a start or wait failed");
  // Lost children were reaped by other waits; collect any zombie left over.
  while (kLegacy && waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  if (kLegacy) state.counters["lost_waits"] = lost.load();
}
void BM_OsStartProcessWait(benchmark::State& state) { OsLoop<false>(state); }
void BM_OsLegacyStartProcessWait(benchmark::State& state) { OsLoop<true>(state); }
BENCHMARK(BM_OsStartProcessWait)->Apply(SpawnerSweep);
BENCHMARK(BM_OsLegacyStartProcessWait)->Apply(SpawnerSweep);

// --- raw C methods -------------------------------------------------------------

struct CloneArg {
  const char* path;
};
char kArg0[] = "child";

int CloneChild(void* a) {
  const char* path = static_cast<CloneArg*>(a)->path;
  char* argv[] = {kArg0, nullptr};
  execve(path, argv, environ);
  _exit(127);
}

pid_t SpawnClone(const char* path) {
  alignas(64) static thread_local char stack[64 * 1024];
  CloneArg arg{path};
  return clone(&CloneChild, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &arg);
}

pid_t SpawnVfork(const char* path) {
  char* argv[] = {kArg0, nullptr};
  pid_t pid = vfork();
  if (pid == 0) {
    execve(path, argv, environ);
    _exit(127);
  }
  return pid;
}

pid_t SpawnPosix(const char* path) {
  pid_t pid;
  char* argv[] = {kArg0, nullptr};
  return posix_spawn(&pid, path, nullptr, nullptr, argv, environ) == 0 ? pid : -1;
}

pid_t SpawnFork(const char* path) {
  pid_t pid = fork();
  if (pid == 0) {
    char* argv[] = {kArg0, nullptr};
    execve(path, argv, environ);
    _exit(127);
  }
  return pid;
}

template <pid_t (*Spawn)(const char*)>
void RawLoop(benchmark::State& state) {
  const char* path = ChildPath(state.range(0));
  int threads = static_cast<int>(state.range(1));
  std::atomic<int> errors{0};
  std::atomic<int64_t> left{static_cast<int64_t>(state.max_iterations)};
  auto worker = [&] {
    while (left.fetch_sub(1) > 0) {
      pid_t pid = Spawn(path);
      int st;
      if (pid <= 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        errors.fetch_add(1);
      }
    }
  };
  bool first = true;
  for (auto _ : state) {
    if (!first) continue;
    first = false;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++) ts.emplace_back(worker);
    for (auto& t : ts) t.join();
  }
  if (errors.load() != 0) state.SkipWithError("a spawn or wait failed");
  state.counters["children_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_RawCloneVfork(benchmark::State& state) { RawLoop<SpawnClone>(state); }
void BM_RawVfork(benchmark::State& state) { RawLoop<SpawnVfork>(state); }
void BM_RawPosixSpawn(benchmark::State& state) { RawLoop<SpawnPosix>(state); }
void BM_RawForkExec(benchmark::State& state) { RawLoop<SpawnFork>(state); }

// The static child at 1, 2, 4, 16 and 64 threads, /bin/true at 1 and 16.
void RawArgs(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2, 4, 16, 64}) b->Args({0, threads});
  b->Args({1, 1})->Args({1, 16})->UseRealTime();
}
BENCHMARK(BM_RawCloneVfork)->Apply(RawArgs);
BENCHMARK(BM_RawVfork)->Apply(RawArgs);
BENCHMARK(BM_RawPosixSpawn)->Apply(RawArgs);
BENCHMARK(BM_RawForkExec)->Apply(RawArgs);

// --- a 1 GiB-RSS parent ----------------------------------------------------------

struct BigRss {
  BigRss() {
    size = std::size_t{1} << 30;
    p = static_cast<char*>(
        mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p != MAP_FAILED) memset(p, 1, size);  // resident, and copy-on-write for fork
  }
  ~BigRss() {
    if (p != MAP_FAILED) munmap(p, size);
  }
  char* p;
  std::size_t size;
};

void BM_StartProcessWait_1GiB(benchmark::State& state) {
  BigRss big;
  StartWaitLoop(state, ChildPath(0), 1);
}
void BM_RawCloneVfork_1GiB(benchmark::State& state) {
  BigRss big;
  RawLoop<SpawnClone>(state);
}
void BM_RawForkExec_1GiB(benchmark::State& state) {
  BigRss big;
  RawLoop<SpawnFork>(state);
}
BENCHMARK(BM_StartProcessWait_1GiB)->Args({0, 1})->UseRealTime()->Iterations(300);
BENCHMARK(BM_RawCloneVfork_1GiB)->Args({0, 1})->UseRealTime()->Iterations(300);
BENCHMARK(BM_RawForkExec_1GiB)->Args({0, 1})->UseRealTime()->Iterations(100);

}  // namespace

int main(int argc, char** argv) {
  static const char* const kCases[][2] = {
      {"BM_StartProcessWait/0/1/real_time", "BM_RawCloneVfork/0/1/real_time"},
      {"BM_StartProcessWait/0/16/real_time", "BM_RawCloneVfork/0/16/real_time"},
      {"BM_StartProcessWait/1/1/real_time", "BM_RawCloneVfork/1/1/real_time"},
      {"BM_StartProcessWait/1/16/real_time", "BM_RawCloneVfork/1/16/real_time"},
      {"BM_StartProcessWaitReapers/0/1/real_time", "BM_RawCloneVfork/0/1/real_time"},
      {"BM_StartProcessWaitReapers/0/16/real_time", "BM_RawCloneVfork/0/16/real_time"},
      {"BM_StartProcessWaitReapers/1/1/real_time", "BM_RawCloneVfork/1/1/real_time"},
      {"BM_StartProcessWaitReapers/1/16/real_time", "BM_RawCloneVfork/1/16/real_time"},
      {"BM_RawPosixSpawn/0/1/real_time", "BM_RawCloneVfork/0/1/real_time"},
      {"BM_RawForkExec/0/1/real_time", "BM_RawCloneVfork/0/1/real_time"},
      {"BM_StartProcessWait_1GiB/0/1/iterations:300/real_time",
       "BM_StartProcessWait/0/1/real_time"},
      {"BM_RawForkExec_1GiB/0/1/iterations:100/real_time",
       "BM_RawCloneVfork_1GiB/0/1/iterations:300/real_time"},
  };
  return gort_bench::RunAndPrintRatios(argc, argv,
                                       "Ratios (children per second, same run):", kCases, 44);
}
