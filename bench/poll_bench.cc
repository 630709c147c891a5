// Descriptor I/O benchmarks with Go's names, each beside an OS-thread
// baseline in the same binary:
//   BM_PipePingPong                 two fibers bounce one byte through two
//                                   pipes (os::File: the reader parks in the
//                                   poller); Arg = procs
//   BM_PipePingPong_ThreadBaseline  the same between two std::threads doing
//                                   blocking read(2) / write(2)
// Go's counterpart is a pair of goroutines over os.Pipe.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include "gort/os.h"
#include "gort/runtime.h"
#include "gort/sync.h"

namespace {

using gort::runtime::Go;
using gort::runtime::Options;
using gort::runtime::Run;

void BM_PipePingPong(benchmark::State& state) {
  Run(
      [&] {
        auto a = gort::os::Pipe();
        auto b = gort::os::Pipe();
        if (!a.ok() || !b.ok()) {
          state.SkipWithError("pipe2 failed");
          return;
        }
        auto [ar, aw] = *std::move(a);
        auto [br, bw] = *std::move(b);
        gort::sync::WaitGroup wg;
        wg.Add(1);
        Go([&, ar = ar, bw = bw]() mutable {
          char c;
          while (ar.Read(&c, 1).ok() && c != 'q') (void)bw.Write(&c, 1);
          wg.Done();
        });
        char c = 'p';
        for (auto _ : state) {
          (void)aw.Write(&c, 1);
          (void)br.Read(&c, 1);
        }
        c = 'q';
        (void)aw.Write(&c, 1);
        wg.Wait();
        for (gort::os::File* f : {&ar, &aw, &br, &bw}) (void)f->Close();
      },
      Options{.procs = static_cast<int>(state.range(0))});
  state.counters["ns_per_round_trip"] =
      benchmark::Counter(static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_PipePingPong)->Arg(1)->Arg(2)->UseRealTime();

void BM_PipePingPong_ThreadBaseline(benchmark::State& state) {
  int a[2], b[2];
  if (pipe(a) != 0 || pipe(b) != 0) {
    state.SkipWithError("pipe failed");
    return;
  }
  std::thread partner([&] {
    char c;
    while (read(a[0], &c, 1) == 1 && c != 'q') {
      if (write(b[1], &c, 1) != 1) break;
    }
  });
  char c = 'p';
  for (auto _ : state) {
    if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1) {
      state.SkipWithError("pipe i/o failed");
      break;
    }
  }
  c = 'q';
  if (write(a[1], &c, 1) != 1) state.SkipWithError("pipe i/o failed");
  partner.join();
  for (int fd : {a[0], a[1], b[0], b[1]}) close(fd);
  state.counters["ns_per_round_trip"] =
      benchmark::Counter(static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_PipePingPong_ThreadBaseline)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
