-- Channels carry any Lua value between goroutines; close, len, cap; the
-- errors in Go's words; pcall inside a goroutine catches as usual.
package.path = arg[0]:match("^(.*/)") .. "?.lua;" .. package.path
local t = require("check")

local c = chan(3)
t.eq(c:cap(), 3, "cap")
c:send(1); c:send("two")
t.eq(c:len(), 2, "len")
t.eq(c:recv(), 1, "fifo")
t.eq(c:recv(), "two", "fifo 2")
c:send(false)
local v, ok = c:recv()
t.eq(v, false, "false crosses")
t.eq(ok, true, "ok for false")
c:close()
v, ok = c:recv()
t.eq(v, nil, "closed")
t.eq(ok, false, "closed ok")
local okp, err = pcall(c.send, c, 1)
t.check(not okp and err:find("send on closed channel"), err)
okp, err = pcall(c.close, c)
t.check(not okp and err:find("close of closed channel"), err)

-- Functions and tables cross; a goroutine's pcall catches its own error.
local results = chan()
go(function(f, tbl)
  local okc, e = pcall(error, "caught")
  results:send({f(tbl.x), okc, e})
end, function(x) return x * 2 end, {x = 21})
local r = results:recv()
t.eq(r[1], 42, "function result")
t.eq(r[2], false, "pcall in a goroutine")
t.eq(r[3], "caught", "its error")

-- Coroutines inside goroutines may park (the fiber parks with them).
local gen = chan()
go(function()
  local co = coroutine.wrap(function()
    for i = 1, 3 do
      sleep(0.001)
      coroutine.yield(i)
    end
  end)
  for _ = 1, 3 do gen:send(co()) end
end)
t.eq(gen:recv() + gen:recv() + gen:recv(), 6, "values from a coroutine in a goroutine")

-- Many goroutines, unbuffered, values counted once each.
local n, got, sum = 200, 0, 0
local u = chan()
for i = 1, n do go(function() u:send(i) end) end
for _ = 1, n do sum = sum + u:recv(); got = got + 1 end
t.eq(sum, n * (n + 1) / 2, "sum")
-- Buffered values left in a channel nobody holds are collected.
do local lost = chan(10); for i = 1, 10 do lost:send({i}) end end
collectgarbage()
t.eq(type(gort.version), "string", "gort.version")
t.eq(select("#", 1, nil, 3), 3, "Lua's select('#', ...) still works")
t.eq(select(2, "a", "b"), "b", "Lua's select(n, ...)")
t.eq(gort.chan, chan, "the gort table")
print("channels ok")
