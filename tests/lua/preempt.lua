-- A goroutine spinning in pure Lua (no gort call) does not keep the others
-- out: the count hook yields it, releasing the VM lock, when sysmon asks.
-- Without that, at 1 P the main chunk never runs again (the test times out).
local done = false
local spins = 0
local finished = chan()
go(function()
  while not done do spins = spins + 1 end
  finished:send(spins)
end)
-- Park main until the spinner has run (it takes the VM lock and keeps it);
-- so the line after the loop runs only once the spinner was preempted.
repeat sleep(0.001) until spins > 0
done = true
assert(finished:recv() > 0)
print("preempt ok")
