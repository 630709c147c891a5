-- A producer / filter / consumer pipeline, then Go's concurrent prime sieve
-- (a chain of filter goroutines, one per prime).
package.path = arg[0]:match("^(.*/)") .. "?.lua;" .. package.path
local t = require("check")

local nums, odds, done = chan(0), chan(4), chan(0)
go(function()
  for i = 1, 1000 do nums:send(i) end
  nums:close()
end)
go(function()
  while true do
    local v, ok = nums:recv()
    if not ok then break end
    if v % 2 == 1 then odds:send(v) end
  end
  odds:close()
end)
go(function()
  local sum, count = 0, 0
  for v in function() return (odds:recv()) end do
    sum, count = sum + v, count + 1
  end
  done:send({sum = sum, count = count})
end)
local r = done:recv()
t.eq(r.count, 500, "odd numbers")
t.eq(r.sum, 250000, "their sum")

-- The sieve.
local function generate(ch)
  local i = 2
  while true do ch:send(i); i = i + 1 end
end
local function filter(src, dst, prime)
  while true do
    local v = src:recv()
    if v % prime ~= 0 then dst:send(v) end
  end
end
local ch = chan()
go(generate, ch)
local primes = {}
for _ = 1, 50 do
  local prime = ch:recv()
  primes[#primes + 1] = prime
  local ch1 = chan()
  go(filter, ch, ch1, prime)
  ch = ch1
end
t.eq(primes[1], 2, "first prime")
t.eq(primes[50], 229, "50th prime")
-- The sieve's goroutines stay blocked: the end of the main chunk ends them.
print("pipeline ok", gort.numgoroutine())
