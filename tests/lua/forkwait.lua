-- The fork-exec/wait race from Lua (as os/demo/forkwait_race does in C++).
--   gort-lua forkwait.lua fixed|legacy [N]
-- N goroutines each start a child that exits with its own code, wander
-- (sleep, yield: the VM lock and the scheduler move them between OS
-- threads), then wait. With the fix every wait gets its own child's status
-- (checked: exit 1 otherwise). With the legacy algorithm a goroutine that
-- forked on thread A and waits on thread B gets "wait: no child processes",
-- or reaps other goroutines' children, whose statuses are lost: printed, not
-- checked (how many is a matter of scheduling).
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
