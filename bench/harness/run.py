#!/usr/bin/env python3
"""Runs gort's benchmarks and their peers interleaved and writes one folder:

  OUT/raw/repN/JOB.json|.txt  every tool's own output (Google Benchmark JSON
                              and console, Go's testing output, the scale
                              programs' JSON)
  OUT/results.json            the same, normalized (bench/harness/workloads.py)
  OUT/report.md, OUT/*.png    made by report.py from results.json

  bench/harness/run.py --build DIR [--out DIR] [--areas a,b] [--reps N] [--quick]

.ci/bench.sh builds DIR (Release, GORT_BUILD_PEERS=ON) and the Go peers, then
calls this. Each repetition runs every job of every chosen area, gort's
first and then its peers' (A B A B ...); the memory and threads areas run
once, as they count bytes and threads rather than time. A build that is not
Release, or is instrumented by a sanitizer, is refused: its numbers would
say nothing about gort.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads as wl  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
ONCE = {"memory", "threads"}  # areas measured once, not per repetition


def die(msg):
    print("bench: " + msg, file=sys.stderr)
    sys.exit(2)


def cmake_cache(build):
    cache = {}
    path = os.path.join(build, "CMakeCache.txt")
    if not os.path.exists(path):
        die(f"{build} is not a CMake build directory (no CMakeCache.txt); run bash .ci/bench.sh")
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"^([A-Za-z_0-9]+):[A-Z]+=(.*)$", line.rstrip("\n"))
        if m:
            cache[m.group(1)] = m.group(2)
    return cache


def check_build(cache):
    """Refuses Debug and sanitizer builds, with the reason."""
    bt = cache.get("CMAKE_BUILD_TYPE", "")
    san = cache.get("GORT_SANITIZE", "")
    flags = cache.get("CMAKE_CXX_FLAGS", "")
    if bt != "Release":
        die(f"refusing to benchmark a '{bt or 'no build type'}' build: gort's numbers mean "
            "something only in Release (-O2, LTO). Configure with -DCMAKE_BUILD_TYPE=Release, "
            "or run bash .ci/bench.sh, which does.")
    if san or "-fsanitize" in flags:
        die(f"refusing to benchmark a sanitizer build (GORT_SANITIZE='{san}', "
            f"CMAKE_CXX_FLAGS='{flags}'): instrumentation changes every number. "
            "Use a plain Release build (bash .ci/bench.sh).")


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=20).stdout.strip()
    except Exception:  # noqa: BLE001 - metadata is best effort
        return ""


def loadavg():
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return None


def metadata(args, cache):
    cxx = cache.get("CMAKE_CXX_COMPILER", "c++")
    model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "host_cpu": model,
        "cpus": os.cpu_count(),
        "memory": sh("free -g | awk '/Mem:/{print $2\" GiB\"}'"),
        "kernel": platform.release(),
        "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
        "vm.max_map_count": sh("cat /proc/sys/vm/max_map_count"),
        "compiler": sh(f"{cxx} --version | head -1"),
        "build_type": cache.get("CMAKE_BUILD_TYPE", ""),
        "sanitize": cache.get("GORT_SANITIZE", ""),
        "lto": cache.get("GORT_LTO", ""),
        "go": sh("go version"),
        "boost_fiber": sh("dpkg-query -W -f='${Version}' libboost-fiber-dev"),
        "libuv": sh("pkg-config --modversion libuv"),
        "google_benchmark": sh("dpkg-query -W -f='${Version}' libbenchmark-dev"),
        "gort_commit": sh(f"git -C {ROOT} rev-parse --short HEAD")
        + (" (modified)" if sh(f"git -C {ROOT} status --porcelain -uno") else ""),
        "reps": args.reps,
        "quick": args.quick,
        "areas": args.areas,
        "load_before": loadavg(),
    }


# --- running one job ---------------------------------------------------------------

def gbench_filter(job_id, flt, quick):
    if job_id == "scale_parked":
        sizes = wl.PARKED[:2] if quick else wl.PARKED
        return "BM_Parked/(" + "|".join(map(str, sizes)) + ")/"
    if job_id == "boost_parked":
        sizes = wl.PARKED[:2] if quick else wl.PARKED
        return "BM_BoostFiber_Parked/(" + "|".join(map(str, sizes)) + ")/"
    if job_id == "scale_threads":
        sizes = wl.CHILDREN[:2] if quick else wl.CHILDREN
        return "BM_ThreadsVsChildren/(" + "|".join(map(str, sizes)) + ")/"
    if job_id == "process_bench" and quick:  # /bin/true and the 1 GiB parent: full runs only
        return "BM_Os[A-Za-z]*StartProcessWait/|BM_(StartProcessWait|StartProcessWaitReapers|Raw[A-Za-z]+)/0/"
    return flt


def run_gbench(build, binary, job_id, flt, rawdir, quick):
    path = os.path.join(build, "bench", binary)
    if not os.path.exists(path):
        return None, f"{path} not built"
    out = os.path.join(rawdir, job_id + ".json")
    cmd = [path, "--benchmark_out=" + out, "--benchmark_out_format=json",
           "--benchmark_min_time=" + ("0.1" if quick else "0.5")]
    flt = gbench_filter(job_id, flt, quick)
    if flt:
        cmd.append("--benchmark_filter=" + flt)
    r = subprocess.run(cmd, capture_output=True, text=True)
    with open(os.path.join(rawdir, job_id + ".txt"), "w") as f:
        f.write(r.stdout + r.stderr)
    if not os.path.exists(out):
        return None, f"{binary} exited {r.returncode}: {r.stderr.strip()[-300:]}"
    data = json.load(open(out))
    got = {}
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        fields = {k: v for k, v in b.items() if isinstance(v, (int, float))}
        for k in fields:  # kIsRate|kInvert counters come out in seconds
            if k.startswith("ns_per_"):
                fields[k] *= 1e9
        if "real_time" in b:
            fields["real_time"] = b["real_time"] * scale.get(b.get("time_unit", "ns"), 1)
        if b.get("error_occurred"):
            fields["error"] = b.get("error_message", "error")
        if b.get("label"):
            fields["label"] = b["label"]
        got[b["name"]] = fields
    err = None if r.returncode == 0 else f"{binary} exited {r.returncode}"
    return got, err


def go_env(build):
    env = dict(os.environ, GOMAXPROCS="2",
               GORT_TESTCHILD=os.path.join(build, "bench", "gort_testchild"))
    env.setdefault("GOCACHE", os.path.join(build, "gocache"))
    return env


def run_gotest(build, job_id, pattern, rawdir, quick):
    path = os.path.join(build, "bench", "peers", "go", "peers.test")
    if not os.path.exists(path):
        return None, f"{path} not built (golang-go missing?)"
    cmd = [path, "-test.run", "^$", "-test.bench", pattern,
           "-test.benchtime", "200ms" if quick else "1s"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=go_env(build))
    with open(os.path.join(rawdir, job_id + ".txt"), "w") as f:
        f.write(r.stdout + r.stderr)
    got = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if not parts or not parts[0].startswith("Benchmark") or len(parts) < 4:
            continue
        name = re.sub(r"-\d+$", "", parts[0])
        fields = {"iterations": float(parts[1])}
        for i in range(2, len(parts) - 1, 2):
            try:
                fields[parts[i + 1]] = float(parts[i])
            except ValueError:
                pass
        got[name] = fields
    err = None if r.returncode == 0 else f"go test exited {r.returncode}: {r.stdout[-300:]}"
    return got, err


def run_goscale(build, mode, job_id, rawdir, quick):
    path = os.path.join(build, "bench", "peers", "go", "scale")
    if not os.path.exists(path):
        return None, f"{path} not built (golang-go missing?)"
    sizes = wl.PARKED if mode == "park" else wl.CHILDREN
    if quick:
        sizes = sizes[:2]
    got, log, err = {}, [], None
    for n in sizes:
        cmd = [path, mode, str(n)]
        if mode == "children":
            cmd.append(os.path.join(build, "bench", "gort_testchild"))
        r = subprocess.run(cmd, capture_output=True, text=True, env=go_env(build))
        log.append(" ".join(cmd) + "\n" + r.stdout + r.stderr)
        if r.returncode != 0:
            err = f"{' '.join(cmd)} exited {r.returncode}"
            continue
        got[f"{mode}/{n}"] = json.loads(r.stdout)
    with open(os.path.join(rawdir, job_id + ".txt"), "w") as f:
        f.write("\n".join(log))
    return got, err


def run_job(build, job, rawdir, quick):
    kind, target, job_id, flt = job
    if kind == "gbench":
        return run_gbench(build, target, job_id, flt, rawdir, quick)
    if kind == "gotest":
        return run_gotest(build, job_id, flt, rawdir, quick)
    return run_goscale(build, target, job_id, rawdir, quick)


# --- the run -------------------------------------------------------------------------

EXTRA = ("fibers", "refused", "lost_waits", "maps", "rss_kib", "label", "failed")


def normalize(meta, raw_by_rep, errors):
    results = []
    for w in wl.WORKLOADS:
        if w["area"] not in meta["areas"]:
            continue
        for system, (job_id, bench, field) in w["sources"].items():
            samples, extra, errs = [], {}, []
            for got in raw_by_rep:
                b = got.get(job_id, {}).get(bench)
                if b is None:
                    continue
                if "error" in b:
                    errs.append(b["error"])
                    continue
                if field in b:
                    samples.append(b[field])
                for x in EXTRA:
                    if x in b:
                        extra.setdefault(x, []).append(b[x])
            if not samples and not errs:
                continue
            results.append(dict(key=wl.key(w, system), area=w["area"], workload=w["id"],
                                title=w["title"], system=system, unit=w["unit"],
                                better=w["better"], samples=samples, extra=extra,
                                errors=errs))
    return {"schema": "gort-bench/1", "meta": meta, "job_errors": errors,
            "results": results}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="a Release build with GORT_BUILD_BENCH=ON")
    ap.add_argument("--out", help="output folder (default BUILD/bench-results/DATE)")
    ap.add_argument("--areas", default=",".join(wl.AREAS),
                    help="comma-separated, from: " + ", ".join(wl.AREAS))
    ap.add_argument("--reps", type=int, help="repetitions (default 5; quick: 3)")
    ap.add_argument("--quick", action="store_true",
                    help="short runs, fewer sizes: a few minutes in all")
    ap.add_argument("--max-load", type=float,
                    help="before starting, wait (up to --wait seconds) for the 1-minute load "
                         "average to drop below this")
    ap.add_argument("--wait", type=float, default=600)
    args = ap.parse_args()
    args.areas = [a.strip() for a in args.areas.split(",") if a.strip()]
    for a in args.areas:
        if a not in wl.AREAS:
            die(f"unknown area '{a}' (areas: {', '.join(wl.AREAS)})")
    if args.reps is None:
        args.reps = 3 if args.quick else 5
    build = os.path.abspath(args.build)
    cache = cmake_cache(build)
    check_build(cache)
    out = os.path.abspath(args.out or os.path.join(
        build, "bench-results", datetime.datetime.now().strftime("%Y%m%d-%H%M%S")))
    os.makedirs(out, exist_ok=True)
    if args.max_load is not None:
        deadline = time.time() + args.wait
        while (loadavg() or [0])[0] >= args.max_load and time.time() < deadline:
            print(f"bench: load average {loadavg()} >= {args.max_load}; waiting",
                  file=sys.stderr, flush=True)
            time.sleep(30)
    meta = metadata(args, cache)
    print(f"bench: {len(args.areas)} area(s), {args.reps} repetition(s)"
          f"{' (quick)' if args.quick else ''}; load average {meta['load_before']}; "
          f"writing to {out}", file=sys.stderr, flush=True)
    t_start = time.time()
    raw_by_rep, errors = [], []
    for rep in range(args.reps):
        rawdir = os.path.join(out, "raw", f"rep{rep + 1}")
        os.makedirs(rawdir, exist_ok=True)
        got = {}
        for area in args.areas:
            if area in ONCE and rep > 0:
                continue
            for job in wl.JOBS[area]:
                t0 = time.time()
                print(f"[rep {rep + 1}/{args.reps} {area:8}] {job[2]:15} ...", end="",
                      file=sys.stderr, flush=True)
                res, err = run_job(build, job, rawdir, args.quick)
                if res is not None:
                    got[job[2]] = res
                if err:
                    errors.append(f"rep {rep + 1}, {job[2]}: {err}")
                print(f" {time.time() - t0:5.1f} s" + (f"  ({err})" if err else ""),
                      file=sys.stderr, flush=True)
        raw_by_rep.append(got)
    meta["load_after"] = loadavg()
    meta["wall_s"] = round(time.time() - t_start, 1)
    results = normalize(meta, raw_by_rep, errors)
    path = os.path.join(out, "results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    r = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), path, "--out", out])
    latest = os.path.join(os.path.dirname(out), "latest")
    try:
        if os.path.islink(latest):
            os.unlink(latest)
        os.symlink(out, latest)
    except OSError:
        pass
    print(f"\nbench: {meta['wall_s']} s; results: {path}\nbench: report: "
          f"{os.path.join(out, 'report.md')}", file=sys.stderr)
    if errors:
        print("bench: some jobs reported errors (listed in the report):\n  "
              + "\n  ".join(errors), file=sys.stderr)
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
