-- An error no pcall catches in a goroutine: its traceback, then exit 2,
-- while the main chunk waits on a channel nobody sends on.
local function inner() error("boom from a goroutine") end
local function outer() inner() end
go(function()
  local ok = pcall(error, "caught first")
  assert(not ok)
  outer()
end)
chan():recv()
print("not reached")
