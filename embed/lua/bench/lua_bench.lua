-- gort-lua benchmarks: the operations of bench/ (runtime_bench, chan_bench,
-- process_bench) made from Lua, printed as "NAME ns/op" lines, so that
-- compare.sh can set them beside the C++ numbers (the VM's overhead).
--   gort-lua lua_bench.lua [smoke|full] [goroutines,chan,process]
-- smoke: a few iterations, to check that it runs (ctest lua.bench_smoke).
local mode = arg[1] or "full"
local which = arg[2] or "goroutines,chan,process"
local smoke = mode == "smoke"
local function want(name) return which:find(name, 1, true) ~= nil end

local function report(name, n, seconds)
  print(string.format("%-34s %12.1f ns/op  (%d ops)", name, seconds * 1e9 / n, n))
end

-- BM_CreateGoroutines: start goroutines in batches of 1000; the last of a
-- batch to run tells the main chunk.
if want("goroutines") then
  local n = smoke and 2000 or 200000
  local batch = 1000
  local done = chan(1)
  local left = 0
  local function body()
    left = left - 1
    if left == 0 then done:send(true) end
  end
  local t0 = now()
  for _ = 1, n // batch do
    left = batch
    for _ = 1, batch do go(body) end
    done:recv()
  end
  report("BM_Lua_CreateGoroutines", n, now() - t0)
end

-- BM_ChanSync: a round trip over two unbuffered channels.
if want("chan") then
  local n = smoke and 1000 or 200000
  local ping, pong = chan(), chan()
  go(function()
    while true do
      local v, ok = ping:recv()
      if not ok then return end
      pong:send(v)
    end
  end)
  local t0 = now()
  for i = 1, n do
    ping:send(i)
    pong:recv()
  end
  report("BM_Lua_ChanSync", n, now() - t0)
  ping:close()
end

-- BM_StartProcessWait (/bin/true, one spawner): spawn and wait.
if want("process") then
  local n = smoke and 10 or 2000
  local t0 = now()
  for _ = 1, n do
    local code = spawn{"/bin/true"}:wait()
    if code ~= 0 then error("/bin/true exited " .. tostring(code)) end
  end
  report("BM_Lua_StartProcessWait", n, now() - t0)
end
