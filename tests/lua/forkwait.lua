-- The fork-exec/wait race from Lua (as os/demo/forkwait_race does in C++).
--   gort-lua forkwait.lua fixed|legacy [N] [expect-race]
-- N goroutines each start a child that exits with its own code, wander
-- (sleep, yield: the VM lock and the scheduler move them between OS
-- threads), then wait. With the fix every wait gets its own child's status
-- (checked: exit 1 otherwise). With the legacy algorithm a goroutine that
-- forked on thread A and waits on thread B gets "wait: no child processes",
-- or reaps other goroutines' children, whose statuses are lost: printed; with
-- expect-race the run fails if no wait went wrong at all. How many do is a
-- matter of scheduling, but with 2 Ps and every goroutine passing the VM
-- lock between start and wait, a run of hundreds where every wait lands on
-- its forking thread does not happen (we see nearly all of them fail).
local mode = arg[1] or "fixed"
local n = tonumber(arg[2] or "300")
local legacy = mode == "legacy"
local results = chan(n)
for i = 1, n do
  go(function()
    local code = i % 256
    local p = spawn({"sh", "-c", "exit " .. code}, {legacy = legacy})
    for _ = 1, 3 do
      sleep(math.random() * 0.002)
      yield()
    end
    local got, err, dropped = p:wait()
    results:send({code = code, got = got, err = err, dropped = dropped or 0})
  end)
end
local correct, echild, lost, other = 0, 0, 0, 0
for _ = 1, n do
  local r = results:recv()
  lost = lost + r.dropped
  if r.got == r.code then
    correct = correct + 1
  elseif r.got == nil and r.err == "wait: no child processes" then
    echild = echild + 1
  else
    other = other + 1
  end
end
print(string.format("%s: %d spawned, %d correct, %d \"no child processes\", " ..
                    "%d statuses lost to other waits, %d other errors",
                    mode, n, correct, echild, lost, other))
if not legacy and correct ~= n then os.exit(1) end
if legacy and arg[3] == "expect-race" and correct == n then
  io.stderr:write("the legacy run lost nothing: the race did not show\n")
  os.exit(1)
end
