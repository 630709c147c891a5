-- 100 goroutines, each running a child at the same time: how many OS
-- threads the VM's process has meanwhile. With a waiter per child (Go's fix)
-- each running child holds one; with $GORT_PROCESS_REAPERS=K the K reaper
-- threads fork and wait for all of them, so the process needs about
-- procs + K. Every child is then killed and its status must come back.
package.path = arg[0]:match("^(.*/)") .. "?.lua;" .. package.path
local t = require("check")

local n = 100
local reapers = tonumber(os.getenv("GORT_PROCESS_REAPERS") or "") or 0
local procs = tonumber(os.getenv("GORT_MAXPROCS") or "")
t.check(procs, "the test wants $GORT_MAXPROCS")

local running = chan(n)
local done = chan(n)
for _ = 1, n do
  go(function()
    local p = spawn{"sleep", "60"}
    running:send(p)
    local code, state = p:wait()
    done:send({code = code, state = state})
  end)
end
local procsv = {}
for i = 1, n do procsv[i] = running:recv() end

-- The children run (each goroutine got its pid back, and nothing has killed
-- them); their waits are in flight. Count this process's threads: /proc
-- through a child of ours, whose parent process is this one.
local me = (exec{"sh", "-c", "echo $PPID"}):gsub("%s", "")
local threads = tonumber((exec{"sh", "-c", "ls /proc/" .. me .. "/task | wc -l"}):match("%d+"))
print(string.format("threads100: %d children running, procs %d, reapers %d: %d OS threads",
                    n, procs, reapers, threads))
if reapers > 0 then
  -- procs Ms running fibers, the K reapers, and a few: sysmon (on the main
  -- thread here: gort_run's), an M that gave its P up, one for a system call.
  t.check(threads <= procs + reapers + 4,
          string.format("%d threads with %d reapers at procs %d; want <= %d", threads, reapers,
                        procs, procs + reapers + 4))
else
  t.check(threads >= n, string.format("%d threads for %d waiters; want >= %d", threads, n, n))
end

for i = 1, n do t.check(procsv[i]:kill(), "kill " .. procsv[i].pid) end
for _ = 1, n do
  local r = done:recv()
  t.eq(r.code, -1, "killed code")
  t.eq(r.state, "signal: killed", "killed state")
end
print("threads100 ok")
