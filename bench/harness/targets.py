"""The targets the issues set, each checked against a run's medians.

Each target names its issue, says what it asks in the issue's words, and
computes the measured value from the normalized results: a ratio between two
systems of one run (as the issues state them) or an absolute number. A
target whose inputs are not in the run (an area not run, a feature not on
this branch) reads "not measured" with the reason.
"""

GORT, GO, RAW = "gort", "Go 1.19", "raw clone(VM|VFORK)"
REAPERS = "gort, reaper mode (2)"


def _m(res, area, wid, system):
    r = res.get(f"{area}/{wid}/{system}")
    if not r or not r["samples"]:
        return None
    s = sorted(r["samples"])
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


# (issue, target, how measured, function(res) -> value, check(value) -> bool, unit)
TARGETS = [
    ("2", "Gosched <= 50 ns", "runtime_bench BM_Gosched, ns per yield, 1 P",
     lambda r: _m(r, "runtime", "gosched", GORT), lambda v: v <= 50, "ns"),
    ("2", "spawn + complete <= 100 ns per fiber (1 P)", "BM_CreateGoroutines/1",
     lambda r: _m(r, "runtime", "spawn1", GORT), lambda v: v <= 100, "ns"),
    ("2", "spawn + complete <= 100 ns per fiber (2 Ps)", "BM_CreateGoroutines/2",
     lambda r: _m(r, "runtime", "spawn2", GORT), lambda v: v <= 100, "ns"),
    ("2", "locked round trip <= half of Go's", "Go's time / gort's time (>= 2)",
     lambda r: _ratio(_m(r, "runtime", "locked", GO), _m(r, "runtime", "locked", GORT)),
     lambda v: v >= 2, "x"),
    ("3", "unbuffered round trip <= 100 ns on one P", "BM_ChanSync",
     lambda r: _m(r, "chan", "sync", GORT), lambda v: v <= 100, "ns"),
    ("3", "contended Mutex never collapses to OS-thread sleeps while a P is free",
     "BM_MutexContended voluntary context switches per op (< 0.01)",
     lambda r: _m(r, "sync", "mutexcsw", GORT), lambda v: v < 0.01, "per op"),
    ("4, 13", "sequential spawn + wait >= 0.85x raw clone(VM|VFORK)",
     "syscall::StartProcess + WaitProcess / raw, static child",
     lambda r: _ratio(_m(r, "process", "syscall1", GORT), _m(r, "process", "syscall1", RAW)),
     lambda v: v >= 0.85, "x"),
    ("4, 13", "16 spawners: spawn + wait >= 0.85x raw clone(VM|VFORK)",
     "syscall::StartProcess + WaitProcess / raw, static child",
     lambda r: _ratio(_m(r, "process", "syscall16", GORT), _m(r, "process", "syscall16", RAW)),
     lambda v: v >= 0.85, "x"),
    ("4", "16 spawners: >= 2x Go's os.StartProcess + Wait",
     "os::StartProcess + Wait / Go, children/s",
     lambda r: _ratio(_m(r, "process", "spawn16", GORT), _m(r, "process", "spawn16", GO)),
     lambda v: v >= 2, "x"),
    ("4, 13", "a 1 GiB parent spawns >= 0.95x as fast as a small one",
     "BM_StartProcessWait_1GiB / BM_StartProcessWait, sequential",
     lambda r: _ratio(_m(r, "process", "big", GORT), _m(r, "process", "big", "gort, small parent")),
     lambda v: v >= 0.95, "x"),
    ("13", "reaper mode: sequential spawn + wait >= 0.85x raw clone(VM|VFORK)",
     "BM_StartProcessWaitReapers/0/1 (process_reapers = 2) / raw, static child",
     lambda r: _ratio(_m(r, "process", "syscall1", REAPERS), _m(r, "process", "syscall1", RAW)),
     lambda v: v >= 0.85, "x"),
    ("13", "reaper mode: 16 spawners: spawn + wait >= 0.85x raw clone(VM|VFORK)",
     "BM_StartProcessWaitReapers/0/16 / raw, static child",
     lambda r: _ratio(_m(r, "process", "syscall16", REAPERS), _m(r, "process", "syscall16", RAW)),
     lambda v: v >= 0.85, "x"),
    ("13", "reaper mode: 1000 running children use <= procs + 4 threads (procs 2: <= 6)",
     "BM_ThreadsVsChildren/1000/2: peak OS threads of the whole process",
     lambda r: _m(r, "threads", "children1000", REAPERS), lambda v: v <= 6, "threads"),
    ("10", "Command().Run() within 10 % of os::StartProcess + Wait (sequential)",
     "BM_CommandRun/1 / BM_OsStartProcessWait/1 (exec_bench)",
     lambda r: _ratio(_m(r, "exec", "run1", GORT),
                      _m(r, "exec", "run1", "gort os::StartProcess + Wait")),
     lambda v: v >= 0.9, "x"),
    ("10", "Command().Run() within 10 % of os::StartProcess + Wait (16 spawners)",
     "BM_CommandRun/16 / BM_OsStartProcessWait/16",
     lambda r: _ratio(_m(r, "exec", "run16", GORT),
                      _m(r, "exec", "run16", "gort os::StartProcess + Wait")),
     lambda v: v >= 0.9, "x"),
    ("10", "Command().Run() ahead of Go's exec.Command().Run() (sequential)",
     "children/s, gort / Go",
     lambda r: _ratio(_m(r, "exec", "run1", GORT), _m(r, "exec", "run1", GO)),
     lambda v: v > 1, "x"),
    ("10", "Command().Run() ahead of Go's exec.Command().Run() (16 spawners)",
     "children/s, gort / Go",
     lambda r: _ratio(_m(r, "exec", "run16", GORT), _m(r, "exec", "run16", GO)),
     lambda v: v > 1, "x"),
    ("10", "pipe ping-pong between fibers >= 3x faster than between blocked threads",
     "thread baseline time / BM_PipePingPong/1 time",
     lambda r: _ratio(_m(r, "exec", "pipe1", "std::thread baseline"), _m(r, "exec", "pipe1", GORT)),
     lambda v: v >= 3, "x"),
    ("12", "1 M parked fibers fit in this machine", "BM_Parked/1000000: fibers parked",
     lambda r: (lambda x: x["extra"]["fibers"][0] if x and x["extra"].get("fibers") else None)(
         r.get("memory/parked1000000/gort")),
     lambda v: v >= 1000000, "fibers"),
    ("12", "<= 8 KiB RSS per parked fiber (1 M)", "BM_Parked/1000000, default stacks",
     lambda r: _m(r, "memory", "parked1000000", GORT), lambda v: v <= 8, "KiB"),
]


def evaluate(res):
    """Rows (issue, target, how, measured text, verdict)."""
    rows = []
    for issue, target, how, fn, check, unit in TARGETS:
        if check is None:
            rows.append((issue, target, how, "—", unit))
            continue
        try:
            v = fn(res)
        except (KeyError, IndexError, TypeError):
            v = None
        if v is None:
            rows.append((issue, target, how, "—", "not measured (area not run)"))
            continue
        text = f"{v:.2f}x" if unit == "x" else (f"{v:,.0f} {unit}" if v >= 100 else
                                                  f"{v:.3g} {unit}")
        rows.append((issue, target, how, text, "**met**" if check(v) else "not met"))
    return rows
