-- 100 goroutines, each spawning a child that exits with its own code and
-- collecting that code; every status must come back to its own goroutine.
package.path = arg[0]:match("^(.*/)") .. "?.lua;" .. package.path
local t = require("check")

local n = 100
local results = chan(n)
for i = 1, n do
  go(function(code)
    local p = spawn{"sh", "-c", "exit " .. code}
    local got, state = p:wait()
    results:send({code = code, got = got, state = state, pid = p.pid})
  end, i % 256)
end
local seen = {}
for _ = 1, n do
  local r = results:recv()
  t.eq(r.got, r.code, "exit code of child " .. r.pid)
  t.eq(r.state, "exit status " .. r.code, "state")
  t.check(not seen[r.code], "code seen twice: " .. r.code)
  seen[r.code] = true
end

-- A second wait, and a killed child, in Go's words.
local p = spawn{"true"}
t.eq(p:wait(), 0, "true")
local v, err = p:wait()
t.eq(v, nil, "second wait")
t.eq(err, "wait: process not found", "second wait error")
local s = spawn{"sleep", "30"}
t.check(s:kill(), "kill")
local code, state = s:wait()
t.eq(code, -1, "killed code")
t.eq(state, "signal: killed", "killed state")
local term = spawn{"sleep", "30"}
t.check(term:kill(15), "kill with SIGTERM")
t.eq(select(2, term:wait()), "signal: terminated", "terminated state")
local v2, kerr = term:kill()
t.eq(v2, nil, "kill after wait")
t.check(kerr:find("process"), kerr)
-- The legacy algorithm, both spellings: its wait may fail if the main
-- chunk migrated between start and wait; either way it returns.
for _, lp in ipairs{legacy.spawn{"true"}, spawn({"true"}, {legacy = true})} do
  t.check(lp.pid > 0, "legacy pid")
  local c, lerr, dropped = lp:wait()
  t.check(c == 0 or lerr == "wait: no child processes", tostring(lerr))
  t.check(math.type(dropped) == "integer", "dropped count")
end
local ok, e = pcall(spawn, {"gort-no-such-program"})
t.check(not ok and e:find('exec: "gort%-no%-such%-program": executable file not found in %$PATH'), e)
print("spawn100 ok")

-- Processes dropped without a wait: no zombie stays (the runtime's waiter
-- reaps each child into the wait map; the finalizer's detached wait then
-- takes the entry out). Polled until so; no time limit.
local me = (exec{"sh", "-c", "echo $PPID"}):gsub("%s", "")
local dropped = {}  -- their pids (the legacy children above may stay zombies)
for _ = 1, 20 do dropped[spawn{"true"}.pid] = true end
collectgarbage()
collectgarbage()
local function zombies()  -- dropped children in state Z (/proc, no ps)
  local z = 0
  local kids = exec{"sh", "-c", "cat /proc/" .. me .. "/task/*/children"}
  for pid in kids:gmatch("%d+") do
    local f = dropped[tonumber(pid)] and io.open("/proc/" .. pid .. "/stat")
    if f then
      local st = f:read("a"):match("%) (%a)")
      f:close()
      if st == "Z" then z = z + 1 end
    end
  end
  return z
end
while zombies() > 0 do sleep(0.01) end
print("spawn100: dropped processes reaped")
