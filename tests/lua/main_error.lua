-- An error no pcall catches in the main chunk: its traceback, exit 1 (as
-- lua(1)), while a goroutine sleeps.
go(function() sleep(100) end)
local function fails() error("boom from main") end
fails()
print("not reached")
