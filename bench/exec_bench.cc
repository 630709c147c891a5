// exec::Cmd against the os layer it is built on, in one run, for the static
// no-op child the build makes: what Command().Run() and Output() cost over
// os::StartProcess + Wait, sequentially and with 16 fibers spawning at once.
// After the table it prints the ratios.
//   BM_OsStartProcessWait/spawners    os::StartProcess + Process::Wait
//   BM_CommandRun/spawners            exec::Command(child).Run()
//   BM_OsStartProcessRead1MiB/spawners  os::StartProcess with a pipe for
//                                     stdout, ReadAll (1 MiB), Wait
//   BM_CommandOutput/spawners         exec::Command(child, {"write",
//                                     "1048576"}).Output()
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "children_ratios.h"
#include "gort/gort.h"
#include "spawn_loop.h"

namespace {

constexpr const char* kChild = GORT_TESTCHILD;
constexpr std::size_t kMiB = 1 << 20;

// The children of one benchmark, spread over state.range(0) spawner fibers
// (spawn_loop.h).
void Loop(benchmark::State& state, const std::function<bool()>& one) {
  gort_bench::SpawnerLoop(state, static_cast<int>(state.range(0)),
                          gort::runtime::Options{.procs = 2}, one, "a command failed");
}

bool OsStartWait() {
  gort::os::ProcAttr attr;
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);  // as Cmd gives the child
  attr.files = {null, null, null};
  auto p = gort::os::StartProcess(kChild, {kChild}, attr);
  close(null);
  if (!p.ok()) return false;
  auto st = p->Wait();
  return st.ok() && st->Success();
}

bool CommandRun() { return gort::exec::Command(kChild).Run().ok(); }

bool OsStartRead() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return false;
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  gort::os::ProcAttr attr;
  attr.files = {null, fds[1], null};
  const std::string n = std::to_string(kMiB);
  auto p = gort::os::StartProcess(kChild, {kChild, "write", n}, attr);
  close(null);
  close(fds[1]);
  gort::os::File r = gort::os::File::New(fds[0], "|0");
  if (!p.ok()) {
    (void)r.Close();
    return false;
  }
  auto out = gort::os::ReadAll(r);
  (void)r.Close();
  auto st = p->Wait();
  return out.ok() && out->size() == kMiB && st.ok() && st->Success();
}

bool CommandOutput() {
  auto out = gort::exec::Command(kChild, {"write", std::to_string(kMiB)}).Output();
  return out.ok() && out->size() == kMiB;
}

void BM_OsStartProcessWait(benchmark::State& state) { Loop(state, OsStartWait); }
void BM_CommandRun(benchmark::State& state) { Loop(state, CommandRun); }
void BM_OsStartProcessRead1MiB(benchmark::State& state) { Loop(state, OsStartRead); }
void BM_CommandOutput(benchmark::State& state) { Loop(state, CommandOutput); }
BENCHMARK(BM_OsStartProcessWait)->Arg(1)->Arg(16)->UseRealTime();
BENCHMARK(BM_CommandRun)->Arg(1)->Arg(16)->UseRealTime();
BENCHMARK(BM_OsStartProcessRead1MiB)->Arg(1)->Arg(16)->UseRealTime();
BENCHMARK(BM_CommandOutput)->Arg(1)->Arg(16)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  static const char* const kCases[][2] = {
      {"BM_CommandRun/1/real_time", "BM_OsStartProcessWait/1/real_time"},
      {"BM_CommandRun/16/real_time", "BM_OsStartProcessWait/16/real_time"},
      {"BM_CommandOutput/1/real_time", "BM_OsStartProcessRead1MiB/1/real_time"},
      {"BM_CommandOutput/16/real_time", "BM_OsStartProcessRead1MiB/16/real_time"},
  };
  return gort_bench::RunAndPrintRatios(
      argc, argv, "Ratios (children per second, same run; 1.00x: as fast as the os layer):", kCases,
      66);
}
