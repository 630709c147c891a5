-- select: default, timeouts through after(), receive and send cases, closed
-- and nil channels, send on a closed channel.
package.path = arg[0]:match("^(.*/)") .. "?.lua;" .. package.path
local t = require("check")

local never = chan()
-- Nothing ready: the default runs (index 0).
t.eq(select{{"recv", never}, default = true}, 0, "default")
-- A timeout: the after channel's case runs, never the other one.
local i = select{{"recv", never}, {"recv", after(0.02)}}
t.eq(i, 2, "timeout case")
-- A value ready beats the default.
local c = chan(1)
c:send("x")
local k, v, ok = select{{"recv", c}, default = true}
t.eq(k, 1, "ready case")
t.eq(v, "x", "value")
t.eq(ok, true, "ok")
-- Send cases.
t.eq(select{{"send", c, 42}}, 1, "send case")
t.eq(c:recv(), 42, "sent value")
t.eq(select{{"send", never, 1}, default = true}, 0, "send would block")
-- A receive from another goroutine, with a timeout that does not fire.
local d = chan()
go(function() d:send({n = 7}) end)
local j, val = select{{"recv", d}, {"recv", after(60)}}
t.eq(j, 1, "received before the timeout")
t.eq(val.n, 7, "table value")
-- Closed: ready, ok false.
local closed = chan()
closed:close()
local ci, cv, cok = select{{"recv", never}, {"recv", closed}}
t.eq(ci, 2, "closed case")
t.eq(cv, nil, "closed value")
t.eq(cok, false, "closed ok")
-- A nil channel is never ready.
t.eq(select{{"recv", nil}, default = true}, 0, "nil channel")
-- Send on a closed channel is an error, as Go's panic.
local okp, err = pcall(select, {{"send", closed, 1}})
t.check(not okp and err:find("send on closed channel"), err)
-- A select loop: many senders, one receiver with a timeout per round.
local a, b = chan(), chan()
for n = 1, 10 do go(function() a:send(n) end) end
for n = 1, 10 do go(function() b:send(-n) end) end
local sum, got = 0, 0
while got < 20 do
  local idx, x = select{{"recv", a}, {"recv", b}, {"recv", after(60)}}
  t.check(idx ~= 3, "timed out")
  sum, got = sum + x, got + 1
end
t.eq(sum, 0, "sum of the values")
print("select ok")
