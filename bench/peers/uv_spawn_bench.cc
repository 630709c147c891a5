// libuv's process spawn (what Node.js and Julia use), the twin of gort's
// spawn + wait sweep: uv_spawn of the static no-op child with `spawners`
// children in flight at once on one loop (libuv's concurrency is its loop:
// an exit callback closes the handle and starts the next child).
//   BM_UvSpawn/spawners   children_per_s
#include <benchmark/benchmark.h>
#include <uv.h>

#include <cstdint>
#include <memory>

namespace {

struct Spawner {
  uv_loop_t* loop;
  int64_t left;
  int64_t failed = 0;
  uv_process_options_t opts{};
  char* args[2];
};

void Start(Spawner* s);

void OnClose(uv_handle_t* h) { delete reinterpret_cast<uv_process_t*>(h); }

void OnExit(uv_process_t* p, int64_t status, int term_signal) {
  auto* s = static_cast<Spawner*>(p->data);
  if (status != 0 || term_signal != 0) s->failed++;
  uv_close(reinterpret_cast<uv_handle_t*>(p), OnClose);
  Start(s);
}

void Start(Spawner* s) {
  if (s->left <= 0) return;
  s->left--;
  auto* p = new uv_process_t;
  p->data = s;
  if (uv_spawn(s->loop, p, &s->opts) != 0) {
    s->failed++;
    delete p;
    Start(s);
  }
}

void BM_UvSpawn(benchmark::State& state) {
  const int spawners = static_cast<int>(state.range(0));
  uv_loop_t loop;
  uv_loop_init(&loop);
  Spawner s;
  s.loop = &loop;
  s.left = static_cast<int64_t>(state.max_iterations);
  s.args[0] = const_cast<char*>(GORT_TESTCHILD);
  s.args[1] = nullptr;
  s.opts.file = GORT_TESTCHILD;
  s.opts.args = s.args;
  s.opts.exit_cb = OnExit;
  bool first = true;
  // As gort's twin: the first pass of the timed loop runs every child.
  for (auto _ : state) {
    if (!first) continue;
    first = false;
    for (int i = 0; i < spawners; i++) Start(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  if (s.failed != 0) state.SkipWithError("a child failed");
  state.counters["children_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_UvSpawn)->Arg(1)->Arg(2)->Arg(4)->Arg(16)->Arg(64)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
