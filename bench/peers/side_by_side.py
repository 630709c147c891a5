#!/usr/bin/env python3
"""Runs gort's benchmarks and their Go 1.19 twins interleaved (A B A B ...)
and prints each pair's median, min-max and ratio from the same sitting.

  bench/peers/side_by_side.py BUILD_DIR [--reps N]

BUILD_DIR is a Release build with GORT_BUILD_BENCH=ON (bench/exec_bench,
bench/poll_bench, bench/gort_testchild). Go's side is bench/peers/go, run
with GOMAXPROCS=2 as gort's side runs with 2 Ps.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# (label, gort binary, gort benchmark, gort counter, Go benchmark, Go unit, higher is better)
PAIRS = [
    ("exec.Command().Run(), sequential", "exec_bench", "BM_CommandRun/1/real_time",
     "children_per_s", "BenchmarkExecCommandRun/1-2", "children/s", True),
    ("exec.Command().Run(), 16 spawners", "exec_bench", "BM_CommandRun/16/real_time",
     "children_per_s", "BenchmarkExecCommandRun/16-2", "children/s", True),
    ("Output() of 1 MiB, sequential", "exec_bench", "BM_CommandOutput/1/real_time",
     "children_per_s", "BenchmarkExecCommandOutput1MiB/1-2", "children/s", True),
    ("Output() of 1 MiB, 16 spawners", "exec_bench", "BM_CommandOutput/16/real_time",
     "children_per_s", "BenchmarkExecCommandOutput1MiB/16-2", "children/s", True),
    ("os.StartProcess + Wait, sequential", "exec_bench", "BM_OsStartProcessWait/1/real_time",
     "children_per_s", "BenchmarkStartProcessWait/1-2", "children/s", True),
    ("os.StartProcess + Wait, 16 spawners", "exec_bench", "BM_OsStartProcessWait/16/real_time",
     "children_per_s", "BenchmarkStartProcessWait/16-2", "children/s", True),
    ("pipe ping-pong (ns per round trip)", "poll_bench", "BM_PipePingPong/1/real_time",
     "ns_per_round_trip", "BenchmarkPipePingPong-2", "ns/round_trip", False),
]


def run_gort(build, binary, names):
    pattern = "^(" + "|".join(re.escape(n.split("/real_time")[0]) for n in names) + ")"
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run(
            [os.path.join(build, "bench", binary), "--benchmark_out=" + f.name,
             "--benchmark_out_format=json", "--benchmark_filter=" + pattern],
            check=True, capture_output=True, text=True)
        out = json.load(open(f.name))
    got = {}
    for b in out["benchmarks"]:
        got[b["name"]] = b
    return got


def run_go(build, names):
    env = dict(os.environ, GOMAXPROCS="2",
               GORT_TESTCHILD=os.path.join(build, "bench", "gort_testchild"))
    env.setdefault("GOCACHE", "/tmp/gort-gocache")
    pattern = "^(" + "|".join(sorted({n.split("/")[0].split("-")[0] for n in names})) + ")$"
    r = subprocess.run(["go", "test", "-run", "^$", "-bench", pattern, "-benchtime", "1s"],
                       cwd=os.path.join(HERE, "go"), env=env, capture_output=True, text=True)
    if r.returncode != 0:  # keep what did run; say what failed
        print(r.stdout[-2000:] + r.stderr[-2000:], file=sys.stderr)
    out = r.stdout
    got = {}
    for line in out.splitlines():
        parts = line.split()
        if not parts or not parts[0].startswith("Benchmark"):
            continue
        for i in range(1, len(parts) - 1):
            try:
                got.setdefault(parts[0], {})[parts[i + 1]] = float(parts[i])
            except ValueError:
                pass
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    gort_vals = {p[0]: [] for p in PAIRS}
    go_vals = {p[0]: [] for p in PAIRS}
    binaries = sorted({p[1] for p in PAIRS})
    for rep in range(args.reps):
        print(f"repetition {rep + 1}/{args.reps}: gort ...", file=sys.stderr, flush=True)
        results = {}
        for b in binaries:
            results.update(run_gort(args.build, b, [p[2] for p in PAIRS if p[1] == b]))
        for p in PAIRS:
            if p[2] in results and p[3] in results[p[2]]:
                v = results[p[2]][p[3]]
                if p[3].startswith("ns_"):  # an inverted rate: seconds per iteration
                    v *= 1e9
                gort_vals[p[0]].append(v)
        print(f"repetition {rep + 1}/{args.reps}: go ...", file=sys.stderr, flush=True)
        go = run_go(args.build, [p[4] for p in PAIRS])
        for p in PAIRS:
            if p[4] in go and p[5] in go[p[4]]:
                go_vals[p[0]].append(go[p[4]][p[5]])
    print(f"\ngort vs Go 1.19, {args.reps} interleaved repetitions, median (min-max):")
    print(f"{'':40} {'gort':>26} {'Go':>26}  gort/Go")
    for p in PAIRS:
        a, b = gort_vals[p[0]], go_vals[p[0]]
        if not a or not b:
            print(f"{p[0]:40} (missing)")
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = ma / mb if p[6] else mb / ma  # > 1: gort is better
        fa = f"{ma:.0f} ({min(a):.0f}-{max(a):.0f})"
        fb = f"{mb:.0f} ({min(b):.0f}-{max(b):.0f})"
        print(f"{p[0]:40} {fa:>26} {fb:>26}  {ratio:.2f}x")
    print("\n(ratio > 1: gort ahead; rates are children/s, ping-pong is ns, lower is better)")


if __name__ == "__main__":
    main()
