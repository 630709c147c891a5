#!/usr/bin/env python3
"""Checks the benchmark harness's report generator, compare command and
build check on a small recorded result file, with no benchmark run and no
timing threshold: testdata/before.json is part of a real quick run
(bench/harness/run.py --quick --reps 5 --areas runtime,process on the 2-CPU
development VM), trimmed to a few rows. The "after" files are made here from
it by hand, so the changes compare must find are known exactly.

  python3 tests/bench/harness_test.py      (ctest: bench.harness)
"""
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HARNESS = os.path.join(ROOT, "bench", "harness")
sys.path.insert(0, HARNESS)
import stats  # noqa: E402

BEFORE = os.path.join(HERE, "testdata", "before.json")


def run(script, *args):
    return subprocess.run([sys.executable, os.path.join(HARNESS, script), *args],
                          capture_output=True, text=True)


def rows(data):
    return {r["key"]: r for r in data["results"]}


class Stats(unittest.TestCase):
    def test_mann_whitney_exact(self):
        # Fully separated 3+3: 2 of the C(6,3) = 20 splits are as extreme.
        self.assertAlmostEqual(stats.mann_whitney([1, 2, 3], [4, 5, 6]), 0.1)
        # 5+5: 2 of 252.
        self.assertAlmostEqual(stats.mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), 2 / 252)
        self.assertEqual(stats.mann_whitney([1, 2, 3], [1, 2, 3]), 1.0)

    def test_mann_whitney_large_samples_use_the_normal_approximation(self):
        a = list(range(20))
        self.assertLess(stats.mann_whitney(a, [x + 100 for x in a]), 1e-6)
        self.assertGreater(stats.mann_whitney(a, list(reversed(a))), 0.9)

    def test_advantage(self):
        self.assertEqual(stats.advantage(50, 100, "lower"), 2)  # gort takes half the time
        self.assertEqual(stats.advantage(50, 100, "higher"), 0.5)  # gort does half the work


class Report(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        with open(BEFORE) as f:
            self.data = json.load(f)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, data, name="results.json"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            json.dump(data, f)
        return path

    def test_report_has_areas_ratios_and_targets(self):
        r = run("report.py", BEFORE, "--out", self.tmp.name, "--no-plots")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.tmp.name, "report.md")) as f:
            md = f.read()
        res = rows(self.data)
        self.assertIn("## Runtime: spawn, yield, locked fibers", md)
        self.assertIn("## Process start + wait (static no-op child, 2 Ps)", md)
        self.assertNotIn("## Channels and select", md)  # not in the file
        # gort's Gosched row and Go's ratio beside it, from the file's medians.
        g = statistics.median(res["runtime/gosched/gort"]["samples"])
        go = statistics.median(res["runtime/gosched/Go 1.19"]["samples"])
        self.assertIn(f"| **gort** | {g:.1f} |", md)
        ratio = f"{go / g:.2f}×"
        line = next(x for x in md.splitlines() if x.startswith("|  | Go 1.19 | ")
                    and f"{go:.0f}" in x)
        self.assertIn(ratio, line)
        # Rates: gort's advantage is gort / peer.
        s16 = statistics.median(res["process/spawn16/gort"]["samples"])
        raw = statistics.median(res["process/spawn16/raw clone(VM|VFORK)"]["samples"])
        self.assertIn(f"{s16 / raw:.2f}×", md)
        # The lost waits of os::legacy are shown.
        self.assertIn("lost waits", md)
        # Targets: one with its verdict, one not measurable here, one whose area is absent.
        self.assertIn("## Targets set by the issues", md)
        gosched = next(x for x in md.splitlines() if "| Gosched <= 50 ns |" in x)
        self.assertIn("**met**" if g <= 50 else "not met", gosched)
        self.assertRegex(md, r"reaper mode.*not measured")
        self.assertRegex(md, r"unbuffered round trip <= 100 ns.*not measured \(area not run\)")
        # The machine is named.
        self.assertIn("| kernel |", md)
        self.assertIn("| load average before", md)

    def test_report_refuses_debug_and_sanitizer_results(self):
        for field, value in (("build_type", "Debug"), ("sanitize", "address;undefined")):
            d = copy.deepcopy(self.data)
            d["meta"][field] = value
            r = run("report.py", self.write(d), "--no-plots")
            self.assertEqual(r.returncode, 2, field)
            self.assertIn("refusing", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "report.md")))

    def test_run_refuses_debug_and_sanitizer_builds(self):
        for cache, word in (("CMAKE_BUILD_TYPE:STRING=Debug\n", "'Debug' build"),
                            ("CMAKE_BUILD_TYPE:STRING=Release\nGORT_SANITIZE:STRING=thread\n",
                             "sanitizer build")):
            with open(os.path.join(self.tmp.name, "CMakeCache.txt"), "w") as f:
                f.write(cache)
            r = run("run.py", "--build", self.tmp.name, "--out", os.path.join(self.tmp.name, "o"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("refusing", r.stderr)
            self.assertIn(word, r.stderr)

    def test_compare_finds_the_changes_and_calls_the_rest_noise(self):
        after = copy.deepcopy(self.data)
        res = rows(after)
        # Gosched made faster and spawn16 slower, each by a factor that
        # leaves no overlap with before (so the exact p is 2/252 at 5+5).
        changed = {}
        for k in ("runtime/gosched/gort", "process/spawn16/gort"):
            xs = res[k]["samples"]
            f = 0.9 * min(xs) / max(xs)
            res[k]["samples"] = [x * f for x in xs]
            changed[k] = f
        out = run("compare.py", BEFORE, self.write(after, "after.json"))
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        gosched = next(x for x in lines if x.startswith("runtime: Gosched (1 P)"))
        self.assertIn(f"{100 * (changed['runtime/gosched/gort'] - 1):+.1f}% (better)", gosched)
        self.assertIn("p=0.008 n=5+5", gosched)
        spawn = next(x for x in lines if x.startswith("process: StartProcess + Wait, 16 spawners"))
        self.assertIn("(worse)", spawn)
        locked = next(x for x in lines if x.startswith("runtime: locked"))
        self.assertIn(" ~ ", locked)
        self.assertIn("p=1.000", locked)
        self.assertFalse(any("Go 1.19" in x for x in lines))  # gort's rows only by default
        out = run("compare.py", BEFORE, self.write(after, "after.json"), "--system", "all")
        self.assertTrue(any("(Go 1.19)" in x for x in out.stdout.splitlines()))

    def test_compare_with_too_few_samples_says_noise(self):
        few = copy.deepcopy(self.data)
        for r in few["results"]:
            r["samples"] = r["samples"][:3]
        old = self.write(few, "few.json")
        for r in few["results"]:
            r["samples"] = [x * 2 for x in r["samples"]]
        out = run("compare.py", old, self.write(few, "few2.json"))
        body = [x for x in out.stdout.splitlines() if x.startswith(("runtime:", "process:"))]
        self.assertTrue(body)
        self.assertTrue(all(" ~ " in x for x in body), out.stdout)  # 3+3 cannot reach p < 0.1


if __name__ == "__main__":
    unittest.main(verbosity=2)
