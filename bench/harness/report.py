#!/usr/bin/env python3
"""Writes the markdown report and the plots of one harness run.

  bench/harness/report.py RESULTS.json [--out DIR] [--no-plots]

RESULTS.json is run.py's normalized file. DIR (default: the file's folder)
receives report.md and, when matplotlib is installed (Debian
python3-matplotlib), spawn_throughput.png, primitives_latency.png,
memory_rss.png and threads_children.png. Results from a Debug or sanitizer
build are refused.
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import stats  # noqa: E402
import targets  # noqa: E402
import workloads as wl  # noqa: E402


def fmt(v):
    if v is None:
        return "—"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def fmt_ratio(r):
    if r is None:
        return ""
    s = f"{r:.2f}×"
    return f"**{s}**" if r >= 1 else s


def refuse_if_not_release(meta):
    bt, san = meta.get("build_type", ""), meta.get("sanitize", "")
    if bt != "Release" or san:
        print(f"report: refusing to report from a {'sanitizer (' + san + ')' if san else bt or 'unknown'}"
              " build: only Release numbers say anything about gort. Rerun bash .ci/bench.sh.",
              file=sys.stderr)
        sys.exit(2)


def index(results):
    return {r["key"]: r for r in results["results"]}


def area_table(area, res, lines):
    ws = [w for w in wl.WORKLOADS if w["area"] == area]
    rows, notes = [], []
    for w in ws:
        systems = [s for s in w["sources"] if wl.key(w, s) in res]
        if not systems:
            continue
        g = res.get(wl.key(w, wl.GORT))
        gmed = stats.median(g["samples"]) if g else None
        first = True
        for s in [wl.GORT] + [s for s in systems if s != wl.GORT]:
            r = res.get(wl.key(w, s))
            if r is None:
                continue
            xs = r["samples"]
            med = stats.median(xs)
            rng = f"{fmt(min(xs))}–{fmt(max(xs))}" if len(xs) > 1 else ""
            ratio = "" if s == wl.GORT else fmt_ratio(stats.advantage(gmed, med, w["better"]))
            extra = []
            if r["extra"].get("lost_waits"):
                extra.append(f"lost waits {fmt(stats.median(r['extra']['lost_waits']))}")
            if r["extra"].get("refused") and max(r["extra"]["refused"]) > 0:
                extra.append("refused: " + "; ".join(map(str, r["extra"].get("label", []))))
            if r["extra"].get("maps") and w["unit"] != "maps":
                extra.append(f"maps {fmt(r['extra']['maps'][0])}")
            if r["errors"]:
                extra.append("error: " + r["errors"][0])
            name = f"**{s}**" if s == wl.GORT else s
            title = f"{w['title']} ({w['unit']}, {'lower' if w['better'] == 'lower' else 'higher'} is better)" if first else ""
            rows.append(f"| {title} | {name} | {fmt(med)} | {rng} | {len(xs)} | {ratio} | "
                        f"{', '.join(extra)} |")
            first = False
        if w["note"] and all(w["note"] not in n for n in notes):
            label = re.sub(r"^\d+ ", "", w["title"].split(",")[0])
            notes.append(f"- {label}: {w['note']}.")
    if not rows:
        return
    lines.append(f"## {wl.AREAS[area]}\n")
    lines.append("| workload | system | median | min–max | n | gort's advantage | notes |")
    lines.append("| --- | --- | ---: | --- | ---: | ---: | --- |")
    lines += rows
    if notes:
        lines.append("")
        lines += notes
    lines.append("")


# --- plots ---------------------------------------------------------------------------

def _series(res, area, ids, system):
    xs, ys, lo, hi = [], [], [], []
    for x, wid in ids:
        r = res.get(f"{area}/{wid}/{system}")
        if r and r["samples"]:
            m = stats.median(r["samples"])
            xs.append(x)
            ys.append(m)
            lo.append(m - min(r["samples"]))
            hi.append(max(r["samples"]) - m)
    return xs, ys, [lo, hi]


def plots(res, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib is not installed (Debian python3-matplotlib): no plots",
              file=sys.stderr)
        return []
    made = []

    def lines_plot(fname, title, xlabel, ylabel, area, ids, systems, logy=False):
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        any_data = False
        for s in systems:
            xs, ys, err = _series(res, area, ids, s)
            if xs:
                any_data = True
                ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=s,
                            linewidth=2.5 if s == wl.GORT else 1.2)
        if not any_data:
            plt.close(fig)
            return
        ax.set_xscale("log", base=2 if area == "process" else 10)
        if logy:
            ax.set_yscale("log")
        ax.set_xticks([x for x, _ in ids])
        ax.set_xticklabels([f"{x:,}" for x, _ in ids])
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, fname), dpi=110)
        plt.close(fig)
        made.append(fname)

    lines_plot("spawn_throughput.png", "Spawn + wait throughput (static no-op child, 2 Ps)",
               "concurrent spawners", "children / s (median, min–max)", "process",
               [(s, f"spawn{s}") for s in wl.SPAWNERS],
               [wl.GORT, wl.GORT_LEGACY, wl.GO, wl.UV, "raw clone(VM|VFORK)", "raw vfork",
                "raw posix_spawn", "raw fork"])
    # RSS against parked fibers: total RSS added, from the per-fiber figure.
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    drew = False
    for s in (wl.GORT, "gort, 64 KiB stacks", wl.GO, wl.BOOST):
        pts = []
        for n in wl.PARKED:
            r = res.get(f"memory/parked{n}/{s}")
            if r and r["samples"]:
                fit = r["extra"].get("fibers", [n])[0]
                pts.append((n, stats.median(r["samples"]) * fit / 1024))
        if pts:
            drew = True
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=s,
                    linewidth=2.5 if s == wl.GORT else 1.2)
    if drew:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title("RSS added by parked fibers")
        ax.set_xlabel("parked fibers")
        ax.set_ylabel("MiB")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "memory_rss.png"), dpi=110)
        made.append("memory_rss.png")
    plt.close(fig)
    lines_plot("threads_children.png", "OS threads while N children run (each waited for)",
               "running children", "OS threads (peak)", "threads",
               [(n, f"children{n}") for n in wl.CHILDREN], [wl.GORT, wl.GORT_REAPERS, wl.GO])
    # Per-operation latency of the primitives, grouped bars, log scale.
    prims = [("runtime", "gosched", "Gosched"), ("runtime", "spawn1", "spawn (1 P)"),
             ("runtime", "spawn2", "spawn (2 Ps)"), ("chan", "sync", "chan round trip"),
             ("chan", "prodcons0", "chan prod/cons 0"), ("chan", "select", "select"),
             ("sync", "mutex", "Mutex"), ("sync", "mutexc", "Mutex contended"),
             ("runtime", "locked", "locked round trip"), ("exec", "pipe1", "pipe ping-pong")]
    prims = [p for p in prims if any(k.startswith(f"{p[0]}/{p[1]}/") for k in res)]
    if prims:
        systems = [wl.GORT, wl.GO, wl.BOOST, wl.THREAD]
        fig, ax = plt.subplots(figsize=(10, 4.8))
        width = 0.8 / len(systems)
        for i, s in enumerate(systems):
            xs, ys, err = [], [], [[], []]
            for j, (a, wid, _) in enumerate(prims):
                r = res.get(f"{a}/{wid}/{s}")
                if r and r["samples"]:
                    m = stats.median(r["samples"])
                    xs.append(j + (i - (len(systems) - 1) / 2) * width)
                    ys.append(m)
                    err[0].append(m - min(r["samples"]))
                    err[1].append(max(r["samples"]) - m)
            if xs:
                ax.bar(xs, ys, width, yerr=err, capsize=2, label=s)
        ax.set_yscale("log")
        ax.set_xticks(range(len(prims)))
        ax.set_xticklabels([p[2] for p in prims], rotation=25, ha="right", fontsize=8)
        ax.set_ylabel("ns per operation (median, min–max; log)")
        ax.set_title("Primitives: per-operation latency (lower is better)")
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "primitives_latency.png"), dpi=110)
        made.append("primitives_latency.png")
        plt.close(fig)
    return made


def render(results, made):
    meta = results["meta"]
    res = index(results)
    lines = ["# gort benchmark report", ""]
    lines.append(f"{meta.get('date', '')}, gort {meta.get('gort_commit', '')}; "
                 f"{meta.get('reps')} interleaved repetition(s)"
                 f"{' (quick mode)' if meta.get('quick') else ''}; "
                 f"{meta.get('wall_s', '?')} s in all.\n")
    lines.append("| | |\n| --- | --- |")
    for label, k in (("CPU", "host_cpu"), ("CPUs", "cpus"), ("memory", "memory"),
                     ("OS", "os"), ("kernel", "kernel"), ("vm.max_map_count", "vm.max_map_count"),
                     ("compiler", "compiler"), ("build", "build_type"), ("Go", "go"),
                     ("Boost.Fiber", "boost_fiber"), ("libuv", "libuv"),
                     ("Google Benchmark", "google_benchmark"),
                     ("load average before (1, 5, 15 min)", "load_before"),
                     ("load average after", "load_after")):
        v = meta.get(k)
        if isinstance(v, list):
            v = ", ".join(f"{x:.2f}" for x in v)
        lines.append(f"| {label} | {v if v not in (None, '') else '—'} |")
    lines.append("")
    load = meta.get("load_before") or [0]
    if meta.get("cpus") and max(load[0], (meta.get("load_after") or [0])[0]) > 0.5 * meta["cpus"]:
        lines.append(f"**Noisy machine:** the load average was {load[0]:.2f} before the run and "
                     f"{(meta.get('load_after') or [0])[0]:.2f} after, on {meta['cpus']} CPUs: "
                     "other work shared the CPUs, and times (the spread above all) suffer.\n")
    lines.append("Each row is the median of the repetitions, with their range; in every "
                 "repetition gort ran first and its peers right after (A B A B ...). "
                 "**gort's advantage** is the peer's cost over gort's (ns, KiB, threads) or "
                 "gort's rate over the peer's (children/s): above 1, gort is ahead. "
                 "Memory and threads are measured once per run.\n")
    lines.append("## Targets set by the issues\n")
    lines.append("| issue | target | measured as | measured | verdict |")
    lines.append("| --- | --- | --- | ---: | --- |")
    for issue, target, how, value, verdict in targets.evaluate(res):
        lines.append(f"| {issue} | {target} | {how} | {value} | {verdict} |")
    lines.append("")
    for area in wl.AREAS:
        area_table(area, res, lines)
    if made:
        lines.append("## Plots\n")
        for f in made:
            lines.append(f"![{f}]({f})\n")
    if results.get("job_errors"):
        lines.append("## Errors reported by jobs\n")
        lines += [f"- {e}" for e in results["job_errors"]]
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--out")
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args()
    results = json.load(open(args.results))
    if results.get("schema") != "gort-bench/1":
        print(f"report: {args.results} is not a gort-bench/1 results file", file=sys.stderr)
        sys.exit(2)
    refuse_if_not_release(results["meta"])
    out = args.out or os.path.dirname(os.path.abspath(args.results))
    os.makedirs(out, exist_ok=True)
    made = [] if args.no_plots else plots(index(results), out)
    path = os.path.join(out, "report.md")
    with open(path, "w") as f:
        f.write(render(results, made))
    print(f"report: {path}" + (f" and {len(made)} plot(s)" if made else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
