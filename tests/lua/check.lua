-- Shared by the gort-lua tests: check(cond, msg) fails the script (exit 1)
-- with a message; eq(a, b, what) compares.
local M = {}
function M.check(cond, msg)
  if not cond then
    io.stderr:write("CHECK failed: ", tostring(msg), "\n", debug.traceback(), "\n")
    os.exit(1)
  end
end
function M.eq(got, want, what)
  M.check(got == want, string.format("%s: got %s, want %s", what, tostring(got), tostring(want)))
end
return M
