#!/usr/bin/env python3
"""Compares two harness runs, in the spirit of Go's benchstat.

  bench/harness/compare.py OLD NEW [--alpha 0.05] [--system gort|all]

OLD and NEW are results.json files (or the folders holding them). For each
benchmark in both it prints the old and new medians with their spread
(the largest deviation from the median, in %), the change, and the
Mann-Whitney U test's p-value with the sample counts. A change whose p-value
is above alpha prints "~": with these samples it cannot be told from noise.
With 3 samples a side no change can reach p < 0.1, so use --reps 5 or more
for both runs when a change matters. Only gort's rows are compared unless
--system all.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import stats  # noqa: E402


def load(path):
    if os.path.isdir(path):
        path = os.path.join(path, "results.json")
    data = json.load(open(path))
    if data.get("schema") != "gort-bench/1":
        sys.exit(f"compare: {path} is not a gort-bench/1 results file")
    return {r["key"]: r for r in data["results"]}


def spread(xs):
    m = stats.median(xs)
    if not m:
        return ""
    return f"±{100 * max(abs(x - m) for x in xs) / abs(m):.0f}%"


def fmt(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--system", default="gort", help="gort (default) or all")
    args = ap.parse_args()
    old, new = load(args.old), load(args.new)
    keys = [k for k in old if k in new and (args.system == "all" or old[k]["system"] == "gort")]
    if not keys:
        sys.exit("compare: the two files have no benchmark in common")
    rows = []
    for k in keys:
        a, b = old[k], new[k]
        if not a["samples"] or not b["samples"]:
            continue
        ma, mb = stats.median(a["samples"]), stats.median(b["samples"])
        p = stats.mann_whitney(a["samples"], b["samples"])
        name = f"{a['area']}: {a['title']} [{a['unit']}]"
        if args.system == "all":
            name += f" ({a['system']})"
        if p > args.alpha or ma == 0:
            delta = "~"
        else:
            pct = 100 * (mb - ma) / ma
            good = (pct < 0) == (a["better"] == "lower")
            delta = f"{pct:+.1f}% ({'better' if good else 'worse'})"
        rows.append((name, f"{fmt(ma)} {spread(a['samples'])}", f"{fmt(mb)} {spread(b['samples'])}",
                     delta, f"(p={p:.3f} n={len(a['samples'])}+{len(b['samples'])})"))
    w = [max(len(r[i]) for r in rows + [("name", "old", "new", "delta", "")]) for i in range(5)]
    print(f"{'name':{w[0]}}  {'old':>{w[1]}}  {'new':>{w[2]}}  {'delta':{w[3]}}")
    for r in rows:
        print(f"{r[0]:{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}  {r[3]:{w[3]}}  {r[4]}")
    print(f"\n~: p > {args.alpha} (Mann-Whitney U, two-sided): not told apart from noise.")


if __name__ == "__main__":
    main()
