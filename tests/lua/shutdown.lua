-- The end of the main chunk ends the program, as Go's main returning does,
-- whatever the other goroutines are blocked in: each is abandoned without
-- running Lua (exit 0; under ASan no leak, under TSan no race). The children
-- are short-lived: as in Go, they outlive the program and are not killed.
local n = 0
local function started() n = n + 1 end
go(function() started(); chan():recv() end)
go(function() started(); chan():send(1) end)
go(function() started(); select{{"recv", chan()}, {"recv", after(100)}} end)
go(function() started(); sleep(100) end)
go(function() started(); exec{"sleep", "1"} end)
go(function() started(); spawn{"sleep", "1"}:wait() end)
go(function() started(); os.execute("sleep 1") end)
go(function() started(); while true do end end)   -- preempted, then waits for the lock
-- Blocked inside a coroutine that a goroutine resumed.
go(function() coroutine.wrap(function() started(); chan():recv() end)() end)
local p = spawn{"sleep", "1"}                     -- never waited for
while n < 9 do sleep(0.001) end
print("main ends with", numgoroutine(), "fibers")
