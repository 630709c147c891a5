-- exec (os/exec's Output), os.execute, spawn with kill.
package.path = arg[0]:match("^(.*/)") .. "?.lua;" .. package.path
local t = require("check")

local out, code, state, err = exec{"echo", "hi"}
t.eq(out, "hi\n", "stdout")
t.eq(code, 0, "code")
t.eq(state, "exit status 0", "state")
t.eq(err, "", "stderr")
out, code, state, err = exec{"sh", "-c", "echo out; echo oops >&2; exit 3"}
t.eq(out, "out\n", "stdout of a failure")
t.eq(code, 3, "its code")
t.eq(state, "exit status 3", "its state")
t.eq(err, "oops\n", "its stderr")
t.eq((exec({"cat"}, "a\0b")), "a\0b", "stdin with a NUL")
local ok, e = pcall(exec, {"gort-no-such-program"})
t.check(not ok and e:find("executable file not found in %$PATH"), e)
-- os.execute parks the goroutine, with Lua's results.
local r, how, n = os.execute("exit 3")
t.eq(r, nil, "os.execute failure")
t.eq(how, "exit", "how")
t.eq(n, 3, "code")
t.eq(os.execute("true"), true, "os.execute success")
-- Many at once.
local done = chan()
for i = 1, 20 do
  go(function() done:send((exec{"sh", "-c", "echo " .. i})) end)
end
local sum = 0
for _ = 1, 20 do sum = sum + tonumber((done:recv())) end
t.eq(sum, 210, "outputs")
print("exec ok")

-- The options form: stdin, environment, both streams through one pipe.
local o, c = exec({"sh", "-c", "cat; echo \"$GREETING\"; echo e >&2"},
                  {stdin = "in\n", env = {"GREETING=hello", "PATH=/usr/bin:/bin"}, combined = true})
t.eq(o, "in\nhello\ne\n", "combined output with env and stdin")
t.eq(c, 0, "its code")
print("exec options ok")
