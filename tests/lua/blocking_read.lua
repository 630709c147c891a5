-- io.read on stdin blocks one goroutine in a foreign call (the syscall
-- bracket, VM lock released); at 1 P the others still run. stdin is the
-- FIFO arg[1], opened read-write by the test (so open does not block);
-- the main chunk writes to it once the other goroutines have finished.
package.path = arg[0]:match("^(.*/)") .. "?.lua;" .. package.path
local t = require("check")
local fifo = assert(arg[1], "usage: blocking_read.lua FIFO")

local line = chan(1)
go(function() line:send(io.read("l")) end)
yield()
-- Work that needs the P while the reader blocks its thread.
local ping, pong = chan(), chan()
go(function()
  for v in function() return (ping:recv()) end do pong:send(v + 1) end
end)
local x = 0
for _ = 1, 100 do
  ping:send(x)
  x = pong:recv()
  sleep(0.0001)
end
ping:close()
t.eq(x, 100, "ping-pong while a read blocks")
t.eq(select{{"recv", line}, default = true}, 0, "the read is still blocked")
t.check(os.execute("echo hello > '" .. fifo .. "'"), "write to the FIFO")
t.eq(line:recv(), "hello", "the line read")
-- A goroutine still blocked in a read when the main chunk ends does not
-- hold the program up (Go's exit does not wait for it either).
go(function() io.read("l") end)
yield()
print("blocking_read ok")
