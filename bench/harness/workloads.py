"""What the harness runs and how its numbers line up.

A *job* is one run of one tool (a Google Benchmark binary, the Go test binary,
the Go scale program) in one repetition; it yields raw output, saved as is,
and a dict {benchmark name: {field: value}}. A *workload* names one thing
measured (Gosched per yield, children/s at 16 spawners...) and, per system
(gort, Go 1.19, Boost.Fiber, libuv, raw C, the std::thread baselines), the
job, benchmark name and field that measure it there. Every repetition runs
every job of an area, gort's first and then its peers' (A B A B ...), so
each sample of gort sits beside its peers' from the same minutes.

Ratios everywhere are "gort's advantage": peer / gort for costs (ns, KiB,
threads) and gort / peer for rates (children/s), so > 1 means gort is ahead.
"""

GORT = "gort"
GORT_LEGACY = "gort os::legacy"
GORT_REAPERS = "gort, reaper mode (2)"
GO = "Go 1.19"
BOOST = "Boost.Fiber 1.74"
UV = "libuv uv_spawn"
THREAD = "std::thread baseline"

# area: (title, [job ids]); a job id is "kind:target" (see run.py).
AREAS = {
    "runtime": "Runtime: spawn, yield, locked fibers",
    "chan": "Channels and select",
    "sync": "Mutex and timers",
    "process": "Process start + wait (static no-op child, 2 Ps)",
    "exec": "os/exec and pipes",
    "memory": "Memory at scale: parked fibers",
    "threads": "OS threads against running children",
}

# Jobs per area, in the order a repetition runs them (gort first).
JOBS = {
    "runtime": [("gbench", "runtime_bench", "runtime_bench", ""),
                ("gotest", "go", "go_runtime", "^Benchmark(Gosched|CreateGoroutines|LockedPingPong|SchedLatencyWhileSpinning)$"),
                ("gbench", "peers/boost_fiber_bench", "boost_runtime",
                 "BM_BoostFiber_(Gosched|CreateGoroutines)")],
    "chan": [("gbench", "chan_bench", "chan_bench", ""),
             ("gotest", "go", "go_chan", "^Benchmark(ChanSync|ChanProdCons|Select.*)$"),
             ("gbench", "peers/boost_fiber_bench", "boost_chan", "BM_BoostFiber_ChanSync")],
    "sync": [("gbench", "sync_bench", "sync_bench", ""),
             ("gotest", "go", "go_sync", "^Benchmark(Mutex|RWMutex|ContextCancel)"),
             ("gbench", "peers/boost_fiber_bench", "boost_sync", "BM_BoostFiber_Mutex")],
    "process": [("gbench", "process_bench", "process_bench", ""),
                ("gotest", "go", "go_process", "^BenchmarkStartProcessWait$"),
                ("gbench", "peers/uv_spawn_bench", "uv_spawn", "")],
    "exec": [("gbench", "exec_bench", "exec_bench", "BM_(CommandRun|OsStartProcessWait)/"),
             ("gbench", "poll_bench", "poll_bench", ""),
             ("gotest", "go", "go_exec", "^Benchmark(ExecCommandRun|PipePingPong)$")],
    "memory": [("gbench", "scale_bench", "scale_parked", "BM_Parked/"),
               ("goscale", "park", "go_parked", ""),
               ("gbench", "peers/boost_fiber_bench", "boost_parked", "BM_BoostFiber_Parked/")],
    "threads": [("gbench", "scale_bench", "scale_threads", "BM_ThreadsVsChildren/"),
                ("goscale", "children", "go_threads", "")],
}

# The sizes of the scale areas; quick mode keeps the first two.
PARKED = [10000, 100000, 1000000]
CHILDREN = [10, 100, 1000]
SPAWNERS = [1, 2, 4, 16, 64]


def W(area, wid, title, unit, better, sources, note=""):
    return dict(area=area, id=wid, title=title, unit=unit, better=better,
                sources=sources, note=note)


def _workloads():
    ws = []
    # sources: system -> (job id, benchmark name, field); field "real_time" is
    # Google Benchmark's per-iteration time in ns.
    ws.append(W("runtime", "gosched", "Gosched (1 P)", "ns/yield", "lower", {
        GORT: ("runtime_bench", "BM_Gosched/real_time", "ns_per_yield"),
        GO: ("go_runtime", "BenchmarkGosched", "ns/yield"),
        BOOST: ("boost_runtime", "BM_BoostFiber_Gosched/real_time", "ns_per_yield"),
        THREAD: ("runtime_bench", "BM_Gosched_ThreadBaseline/real_time", "ns_per_yield")},
        "Boost.Fiber: one thread; the thread baseline: sched_yield on one CPU"))
    for procs in (1, 2):
        src = {GORT: ("runtime_bench", f"BM_CreateGoroutines/{procs}/real_time", "ns_per_fiber"),
               GO: ("go_runtime", f"BenchmarkCreateGoroutines/{procs}", "ns/fiber")}
        if procs == 1:
            src[BOOST] = ("boost_runtime", "BM_BoostFiber_CreateGoroutines/real_time",
                          "ns_per_fiber")
            src[THREAD] = ("runtime_bench", "BM_CreateGoroutines_ThreadBaseline/real_time",
                           "ns_per_thread")
        ws.append(W("runtime", f"spawn{procs}", f"spawn + complete, batches of 1000 ({procs} P)",
                    "ns/fiber", "lower", src))
    ws.append(W("runtime", "locked", "locked <-> plain round trip (2 Ps)", "ns/round trip",
                "lower", {
                    GORT: ("runtime_bench", "BM_LockedPingPong/real_time", "real_time"),
                    GO: ("go_runtime", "BenchmarkLockedPingPong", "ns/round_trip"),
                    THREAD: ("runtime_bench", "BM_LockedPingPong_ThreadBaseline/real_time",
                             "real_time")},
                "gort: the runtime's internal semaphores (as in runtime_bench); Go: unbuffered "
                "channels; the thread baseline: two threads on binary semaphores"))
    ws.append(W("runtime", "preempt", "1 ms sleeper's lateness while a fiber spins (1 P)",
                "ns late", "lower", {
                    GORT: ("runtime_bench", "BM_SchedLatencyWhileSpinning/1/min_time:1.000/manual_time",
                           "real_time"),
                    "gort, preempt = false": (
                        "runtime_bench", "BM_SchedLatencyWhileSpinning/0/min_time:1.000/manual_time",
                        "real_time"),
                    GO: ("go_runtime", "BenchmarkSchedLatencyWhileSpinning", "ns_late")},
                "the spinner computes in 50 ms stretches; gort marks it after 10 ms and it "
                "yields at its next gort call (CheckPreempt); Go 1.19 preempts asynchronously"))
    ws.append(W("runtime", "syscall", "EnterSyscall + ExitSyscall (1 P)", "ns", "lower", {
        GORT: ("runtime_bench", "BM_SyscallEnterExit/1/real_time", "real_time")}))

    ws.append(W("chan", "sync", "unbuffered round trip (1 P)", "ns/round trip", "lower", {
        GORT: ("chan_bench", "BM_ChanSync/real_time", "real_time"),
        GO: ("go_chan", "BenchmarkChanSync", "ns/round_trip"),
        BOOST: ("boost_chan", "BM_BoostFiber_ChanSync/real_time", "ns_per_round_trip"),
        THREAD: ("chan_bench", "BM_ChanSync_CvBaseline/real_time", "real_time")},
        "thread baseline: mutex + condvar, 2 threads"))
    for cap in (0, 10, 100):
        ws.append(W("chan", f"prodcons{cap}", f"producer -> consumer, capacity {cap} (2 Ps)",
                    "ns/item", "lower", {
                        GORT: ("chan_bench", f"BM_ChanProdCons/{cap}/real_time", "real_time"),
                        GO: ("go_chan", f"BenchmarkChanProdCons/{cap}", "ns/item"),
                        THREAD: ("chan_bench", f"BM_ChanProdCons_CvBaseline/{cap}/real_time",
                                 "real_time")}))
    ws.append(W("chan", "select", "select over 2 ready channels + refill (1 P)", "ns", "lower", {
        GORT: ("chan_bench", "BM_SelectUncontended/real_time", "real_time"),
        GO: ("go_chan", "BenchmarkSelectUncontended", "ns/op")}))
    ws.append(W("chan", "selectpc", "select producer -> select consumer (2 Ps)", "ns/item",
                "lower", {
                    GORT: ("chan_bench", "BM_SelectProdCons/real_time", "real_time"),
                    GO: ("go_chan", "BenchmarkSelectProdCons", "ns/op")}))

    ws.append(W("sync", "mutex", "Mutex lock + unlock, uncontended (1 P)", "ns", "lower", {
        GORT: ("sync_bench", "BM_MutexUncontended/real_time", "real_time"),
        GO: ("go_sync", "BenchmarkMutexUncontended", "ns/op"),
        BOOST: ("boost_sync", "BM_BoostFiber_MutexUncontended/real_time", "real_time"),
        THREAD: ("sync_bench", "BM_MutexUncontended_StdBaseline/real_time", "real_time")}))
    ws.append(W("sync", "mutexc", "Mutex, 4 fibers on 2 Ps (2 threads for std::mutex)", "ns/op",
                "lower", {
                    GORT: ("sync_bench", "BM_MutexContended/real_time", "real_time"),
                    GO: ("go_sync", "BenchmarkMutexContended", "ns/op"),
                    THREAD: ("sync_bench", "BM_MutexContended_StdBaseline/real_time",
                             "real_time")}))
    ws.append(W("sync", "mutexcsw", "Mutex, 4 fibers on 2 Ps: voluntary context switches",
                "per op", "lower", {
                    GORT: ("sync_bench", "BM_MutexContended/real_time", "ctx_switches_per_op"),
                    THREAD: ("sync_bench", "BM_MutexContended_StdBaseline/real_time",
                             "ctx_switches_per_op")}))
    for procs in (2, 4):
        src = {GORT: ("sync_bench", f"BM_RWMutexReadMostly/{procs}/real_time", "real_time"),
               GO: ("go_sync", f"BenchmarkRWMutexReadMostly/{procs}", "ns/op")}
        if procs == 4:
            src[THREAD] = ("sync_bench", "BM_RWMutexReadMostly_StdSharedMutexBaseline/real_time",
                           "real_time")
        ws.append(W("sync", f"rwmutex{procs}",
                    f"RWMutex read-mostly, 4 fibers on {procs} Ps (1 write in 100)", "ns/op",
                    "lower", src,
                    "Go's benchmarkRWMutex(100, 100) shape; thread baseline: std::shared_mutex, "
                    "4 threads"))
    for procs in (1, 2):
        ws.append(W("sync", f"fanout{procs}",
                    f"context cancel waking 10 000 parked fibers ({procs} P)", "ns/fan-out",
                    "lower", {
                        GORT: ("sync_bench", f"BM_ContextCancelFanOut/{procs}/real_time",
                               "real_time"),
                        GO: ("go_sync", f"BenchmarkContextCancelFanOut/{procs}", "ns/fanout"),
                        "gort, closing a channel": (
                            "sync_bench", f"BM_ContextCancelFanOut_ChanCloseBaseline/{procs}/real_time",
                            "real_time")}))
    ws.append(W("sync", "sleep", "Sleep(1 us)", "ns", "lower", {
        GORT: ("sync_bench", "BM_TimerSleep/real_time", "real_time"),
        THREAD: ("sync_bench", "BM_TimerSleep_NanosleepBaseline/real_time", "real_time")}))

    for s in SPAWNERS:
        src = {GORT: ("process_bench", f"BM_OsStartProcessWait/{s}/real_time", "children_per_s"),
               GORT_LEGACY: ("process_bench", f"BM_OsLegacyStartProcessWait/{s}/real_time",
                             "children_per_s"),
               GO: ("go_process", f"BenchmarkStartProcessWait/{s}", "children/s"),
               UV: ("uv_spawn", f"BM_UvSpawn/{s}/real_time", "children_per_s")}
        for name, bm in (("clone(VM|VFORK)", "RawCloneVfork"), ("vfork", "RawVfork"),
                         ("posix_spawn", "RawPosixSpawn"), ("fork", "RawForkExec")):
            src["raw " + name] = ("process_bench", f"BM_{bm}/0/{s}/real_time", "children_per_s")
        ws.append(W("process", f"spawn{s}", f"StartProcess + Wait, {s} spawner{'s' if s > 1 else ''}",
                    "children/s", "higher", src,
                    "gort: os::StartProcess + Wait (the fix); legacy: os::legacy (the race; "
                    "lost waits counted, not failed); libuv: that many children in flight on one loop"))
    for s in (1, 16):
        ws.append(W("process", f"syscall{s}",
                    f"syscall::StartProcess + WaitProcess, {s} spawner{'s' if s > 1 else ''}",
                    "children/s", "higher", {
                        GORT: ("process_bench", f"BM_StartProcessWait/0/{s}/real_time",
                               "children_per_s"),
                        GORT_REAPERS: ("process_bench",
                                       f"BM_StartProcessWaitReapers/0/{s}/real_time",
                                       "children_per_s"),
                        "raw clone(VM|VFORK)": ("process_bench", f"BM_RawCloneVfork/0/{s}/real_time",
                                                "children_per_s")}))
        ws.append(W("process", f"bintrue{s}",
                    f"/bin/true: StartProcess + WaitProcess, {s} spawner{'s' if s > 1 else ''}",
                    "children/s", "higher", {
                        GORT: ("process_bench", f"BM_StartProcessWait/1/{s}/real_time",
                               "children_per_s"),
                        "raw clone(VM|VFORK)": ("process_bench", f"BM_RawCloneVfork/1/{s}/real_time",
                                                "children_per_s")}))
    ws.append(W("process", "big", "1 GiB-RSS parent, sequential", "children/s", "higher", {
        GORT: ("process_bench", "BM_StartProcessWait_1GiB/0/1/iterations:300/real_time",
               "children_per_s"),
        "gort, small parent": ("process_bench", "BM_StartProcessWait/0/1/real_time",
                               "children_per_s"),
        "raw clone(VM|VFORK)": ("process_bench",
                                "BM_RawCloneVfork_1GiB/0/1/iterations:300/real_time",
                                "children_per_s"),
        "raw fork": ("process_bench", "BM_RawForkExec_1GiB/0/1/iterations:100/real_time",
                     "children_per_s")}))

    for s in (1, 16):
        ws.append(W("exec", f"run{s}", f"exec Command().Run(), {s} spawner{'s' if s > 1 else ''}",
                    "children/s", "higher", {
                        GORT: ("exec_bench", f"BM_CommandRun/{s}/real_time", "children_per_s"),
                        GO: ("go_exec", f"BenchmarkExecCommandRun/{s}", "children/s"),
                        "gort os::StartProcess + Wait": (
                            "exec_bench", f"BM_OsStartProcessWait/{s}/real_time",
                            "children_per_s")}))
    for procs in (1, 2):
        ws.append(W("exec", f"pipe{procs}", f"pipe ping-pong, one byte each way ({procs} P)",
                    "ns/round trip", "lower", {
                        GORT: ("poll_bench", f"BM_PipePingPong/{procs}/real_time",
                               "ns_per_round_trip"),
                        GO: ("go_exec", f"BenchmarkPipePingPong/{procs}", "ns/round_trip"),
                        THREAD: ("poll_bench", "BM_PipePingPong_ThreadBaseline/real_time",
                                 "ns_per_round_trip")},
                    "thread baseline: two threads in blocking read/write"))

    for n in PARKED:
        ws.append(W("memory", f"parked{n}", f"{n} parked fibers: RSS per fiber", "KiB", "lower", {
            GORT: ("scale_parked", f"BM_Parked/{n}/0/iterations:1", "kib_per_fiber"),
            "gort, 64 KiB stacks": ("scale_parked", f"BM_Parked/{n}/64/iterations:1",
                                    "kib_per_fiber"),
            GO: ("go_parked", f"park/{n}", "kib_per_fiber"),
            BOOST: ("boost_parked", f"BM_BoostFiber_Parked/{n}/iterations:1", "kib_per_fiber")},
            "gort: default 256 KiB stacks, reserved, touched as used; Boost.Fiber: 64 KiB "
            "fixedsize_stack"))
        ws.append(W("memory", f"maps{n}", f"{n} parked fibers: mappings (vm.max_map_count)",
                    "maps", "lower", {
                        GORT: ("scale_parked", f"BM_Parked/{n}/0/iterations:1", "maps")}))
    for n in CHILDREN:
        ws.append(W("threads", f"children{n}", f"{n} running children, each waited for",
                    "OS threads (peak)", "lower", {
                        GORT: ("scale_threads", f"BM_ThreadsVsChildren/{n}/0/iterations:1/real_time",
                               "threads_peak"),
                        GORT_REAPERS: ("scale_threads",
                                       f"BM_ThreadsVsChildren/{n}/2/iterations:1/real_time",
                                       "threads_peak"),
                        GO: ("go_threads", f"children/{n}", "threads_peak")},
                    "gort: the per-child fix (a locked waiter fiber per child); reaper mode: "
                    "process_reapers = 2 (epoll over pidfds); Go: os.StartProcess + Wait per "
                    "goroutine"))
    return ws


WORKLOADS = _workloads()


def key(w, system):
    return f"{w['area']}/{w['id']}/{system}"
