/* gort-lua: a Lua 5.4 interpreter whose goroutines are gort fibers.
 *
 *   gort-lua script.lua [args]
 *
 * Written in C against the C API alone (<gort/c.h>), as any VM would embed
 * gort: it builds against an installed gort with
 * `cc gort_lua.c $(pkg-config --cflags --libs gort lua5.4)`.
 *
 * The VM lock. One lua_State (and every thread made from it) is not
 * thread-safe, and gort's fibers migrate between OS threads. So one gort
 * mutex, vm.lock (a fiber mutex: waiting for it parks the fiber, never its
 * OS thread), is held by whichever fiber runs Lua code or calls the Lua API.
 * Every builtin that may park (channel operations, select, sleep, process
 * start and wait, exec, the blocking reads) releases it first and takes it
 * again after, so that waits in many goroutines overlap while one of them
 * runs Lua. The count hook (every kHookCount VM instructions) releases it
 * around a yield when sysmon asked the fiber to (cooperative preemption).
 * Nothing that needs the lock may run between unlock and lock but the
 * gort_ call itself, and a value the call needs (a C string, a registry
 * reference) is anchored where no other goroutine can free it.
 *
 * Goroutines. go(f, ...) makes a Lua thread (lua_newthread), anchors it in
 * the registry until its function returns, and starts a fiber that takes the
 * lock and lua_pcall's f on that thread. A Lua error that f does not catch
 * prints the traceback and exits the program with status 2, as an
 * unrecovered Go panic does. The end of the main chunk ends the program, as
 * Go's main returning does: the runtime stops and every goroutine still
 * parked is abandoned (see Shutdown).
 *
 * Shutdown. The main fiber returns while still holding the lock, so no Lua
 * code runs again. gort_run then unwinds the fibers parked in gort_ calls:
 * those calls (or the lock they wait for) return -ECANCELED with
 * gort_unwinding() set, and the goroutine longjmps to its start (Abandon),
 * across Lua's C frames (Lua is C and unwinds with longjmp itself), without
 * touching Lua. (Rejected: raising a Lua error instead, which would run the
 * goroutine's Lua code, its pcall handlers, during shutdown and need the
 * lock; and exiting without stopping the runtime, which would skip the
 * checks that nothing leaks.) The Lua state is closed on the host thread
 * once gort_run has returned. A goroutine inside a blocking foreign call (io.read) cannot be
 * unwound: if there is one when the main chunk ends, the program exits at
 * once (_exit after flushing stdio), as Go's exit does.
 *
 * Channel values. A value sent on a channel is stored in the registry
 * (luaL_ref) and its reference crosses the gort_chan as a void*; the
 * receiver takes it out. References still buffered when a channel is
 * collected are released by its __gc. */
#define _GNU_SOURCE
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gort/c.h"

enum { kHookCount = 1000 };
static const char* const kChanType = "gort.chan";
static const char* const kProcType = "gort.process";

/* A fiber that runs Lua: the main chunk's or a goroutine's. vm.running is
 * the one that holds the VM lock; a builtin takes it from there before it
 * releases the lock (not from its lua_State: a coroutine's thread, made by
 * Lua, says nothing about the fiber resuming it). */
typedef struct Fiber {
  jmp_buf abandon; /* where Abandon goes at shutdown */
  lua_State* T;    /* the Lua thread it runs */
  int ref;         /* the thread's anchor in the registry (goroutines) */
} Fiber;

static struct {
  lua_State* L;
  gort_mutex* lock;
  atomic_int foreign; /* goroutines inside a blocking foreign call; changed under lock */
  int closing;        /* lua_close runs: finalizers must not call the runtime */
  int exit_code;
  Fiber* running; /* guarded by lock: the fiber holding it */
} vm;

/* Shutdown unwinds this fiber: leave Lua without touching it (see above). */
static _Noreturn void Abandon(Fiber* self) { longjmp(self->abandon, 1); }

/* The VM lock around a call that may park. Unlock: the caller holds it; it
 * returns the caller's Fiber for Relock, which takes the lock again, or
 * abandons the fiber if the runtime is stopping. */
static Fiber* Unlock(void) {
  Fiber* self = vm.running;
  vm.running = NULL;
  gort_mutex_unlock(vm.lock);
  return self;
}
static void Relock(Fiber* self) {
  if (gort_mutex_lock(vm.lock) != 0) Abandon(self);
  if (gort_unwinding()) {
    gort_mutex_unlock(vm.lock);
    Abandon(self);
  }
  vm.running = self;
}
/* After a parking gort_ call that failed: -ECANCELED means shutdown. */
static void CheckCancel(Fiber* self, int rc) {
  if (rc == -ECANCELED && gort_unwinding()) Abandon(self);
}

/* Preemption: every kHookCount instructions. CheckPreempt would yield with
 * the lock held, and the goroutines it should let run wait for the lock:
 * release it around the yield. */
static void Hook(lua_State* L, lua_Debug* ar) {
  (void)L;
  (void)ar;
  if (!gort_preempt_pending()) return;
  Fiber* self = Unlock();
  gort_check_preempt();
  Relock(self);
}

/* Before a gort_ call made with the lock held (a non-blocking channel
 * operation): such calls also yield when sysmon asked, and would keep the
 * lock across that yield. Yield here first, without it. */
static void YieldIfAsked(lua_State* L) {
  if (gort_preempt_pending()) Hook(L, NULL);
}

static int Traceback(lua_State* L) {
  const char* msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* ---- goroutines ------------------------------------------------------------ */

static void GoroutineMain(void* arg) {
  Fiber* g = arg;
  if (setjmp(g->abandon) == 0) {
    Relock(g);
    lua_State* T = g->T;
    int nargs = lua_gettop(T) - 1;
    lua_pushcfunction(T, Traceback);
    lua_insert(T, 1);
    if (lua_pcall(T, nargs, 0, 1) != LUA_OK) {
      /* An unrecovered panic: the traceback, then exit 2, other goroutines
       * and deferred work notwithstanding (Go's fatalpanic). */
      fflush(stdout);
      fprintf(stderr, "gort-lua: uncaught error in goroutine %llu: %s\n",
              (unsigned long long)gort_goid(), lua_tostring(T, -1));
      fflush(stderr);
      _exit(2);
    }
    luaL_unref(T, LUA_REGISTRYINDEX, g->ref);
    Unlock();
  }
  free(g);
}

static int LGo(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int n = lua_gettop(L);
  Fiber* g = calloc(1, sizeof(Fiber));
  if (g == NULL) return luaL_error(L, "go: out of memory");
  lua_State* T = lua_newthread(L);
  g->T = T;
  g->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  for (int i = 1; i <= n; i++) lua_pushvalue(L, i);
  lua_xmove(L, T, n);
  int rc = gort_go(GoroutineMain, g);
  if (rc != 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, g->ref);
    free(g);
    return luaL_error(L, "go: %s", gort_last_error());
  }
  return 0;
}

/* ---- channels ------------------------------------------------------------------ */

typedef struct LChan {
  gort_chan* c;
} LChan;

/* A registry reference as a channel value; never NULL (NULL is what
 * gort_after_ns sends: nil). */
static void* Encode(int ref) { return (void*)(intptr_t)(ref + 3); }
static void PushDecoded(lua_State* L, void* v) {
  if (v == NULL) {
    lua_pushnil(L);
    return;
  }
  int ref = (int)(intptr_t)v - 3;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  luaL_unref(L, LUA_REGISTRYINDEX, ref);
}
static void DropEncoded(lua_State* L, void* v) {
  if (v != NULL) luaL_unref(L, LUA_REGISTRYINDEX, (int)(intptr_t)v - 3);
}

static LChan* CheckChan(lua_State* L, int i) { return luaL_checkudata(L, i, kChanType); }

static void PushChan(lua_State* L, gort_chan* c) {
  LChan* ch = lua_newuserdatauv(L, sizeof(LChan), 0);
  ch->c = c;
  luaL_setmetatable(L, kChanType);
}

static int LChanNew(lua_State* L) {
  lua_Integer n = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, n >= 0, 1, "negative capacity");
  gort_chan* c = gort_chan_new((size_t)n);
  if (c == NULL) return luaL_error(L, "chan: %s", gort_last_error());
  PushChan(L, c);
  return 1;
}

static int LSend(lua_State* L) {
  LChan* ch = CheckChan(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  YieldIfAsked(L);
  void* v = Encode(luaL_ref(L, LUA_REGISTRYINDEX));
  int rc = gort_chan_try_send(ch->c, v);
  if (rc == -EAGAIN) {
    Fiber* self = Unlock();
    rc = gort_chan_send(ch->c, v);
    CheckCancel(self, rc);
    Relock(self);
  }
  if (rc != 0) {
    DropEncoded(L, v);
    return luaL_error(L, "%s", gort_last_error()); /* "send on closed channel" */
  }
  return 0;
}

static int LRecv(lua_State* L) {
  LChan* ch = CheckChan(L, 1);
  void* v = NULL;
  YieldIfAsked(L);
  int rc = gort_chan_try_recv(ch->c, &v);
  if (rc == -EAGAIN) {
    Fiber* self = Unlock();
    rc = gort_chan_recv(ch->c, &v);
    CheckCancel(self, rc);
    Relock(self);
  }
  if (rc < 0) return luaL_error(L, "%s", gort_last_error());
  PushDecoded(L, v);
  lua_pushboolean(L, rc == 1);
  return 2;
}

static int LClose(lua_State* L) {
  LChan* ch = CheckChan(L, 1);
  if (gort_chan_close(ch->c) != 0) return luaL_error(L, "%s", gort_last_error());
  return 0;
}

static int LLen(lua_State* L) {
  lua_pushinteger(L, (lua_Integer)gort_chan_len(CheckChan(L, 1)->c));
  return 1;
}

static int LCap(lua_State* L) {
  lua_pushinteger(L, (lua_Integer)gort_chan_cap(CheckChan(L, 1)->c));
  return 1;
}

static int LChanGc(lua_State* L) {
  LChan* ch = CheckChan(L, 1);
  if (ch->c == NULL) return 0;
  /* Unreachable from Lua, so no goroutine blocks on it: take what is still
   * buffered, to release its references. */
  void* v;
  while (!vm.closing && gort_chan_try_recv(ch->c, &v) == 1) DropEncoded(L, v);
  gort_chan_release(ch->c);
  ch->c = NULL;
  return 0;
}

static int LChanToString(lua_State* L) {
  LChan* ch = CheckChan(L, 1);
  lua_pushfstring(L, "chan(%d) %p", (int)gort_chan_cap(ch->c), (void*)ch->c);
  return 1;
}

static int LAfter(lua_State* L) {
  lua_Number s = luaL_checknumber(L, 1);
  gort_chan* c = gort_after_ns((int64_t)(s * 1e9));
  if (c == NULL) return luaL_error(L, "after: %s", gort_last_error());
  PushChan(L, c);
  return 1;
}

/* select{ {"recv", c1}, {"send", c2, v}, default = true }
 *   -> i, v, ok: i the case that ran (0: the default); v, ok for a receive. */
static int LSelect(lua_State* L) {
  if (!lua_istable(L, 1) && !lua_isnoneornil(L, lua_upvalueindex(1))) {
    /* Lua's own select('#', ...) / select(n, ...), kept under the same name. */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_getfield(L, 1, "default");
  int nonblocking = lua_toboolean(L, -1);
  lua_pop(L, 1);
  size_t n = lua_rawlen(L, 1);
  /* The cases live in a userdata on this thread's stack: collected, not
   * leaked, if shutdown abandons the select. */
  gort_case* cs = lua_newuserdatauv(L, (n > 0 ? n : 1) * sizeof(gort_case), 0);
  memset(cs, 0, (n > 0 ? n : 1) * sizeof(gort_case));
  for (size_t i = 0; i < n; i++) {
    if (lua_rawgeti(L, 1, (lua_Integer)i + 1) != LUA_TTABLE) {
      for (size_t k = 0; k < i; k++) {
        if (cs[k].is_send) DropEncoded(L, cs[k].send_value);
      }
      return luaL_error(L, "select: case %d is not a table", (int)i + 1);
    }
    lua_rawgeti(L, -1, 1);
    const char* op = lua_tostring(L, -1);
    int is_send = op != NULL && strcmp(op, "send") == 0;
    if (!is_send && (op == NULL || strcmp(op, "recv") != 0)) {
      for (size_t k = 0; k < i; k++) {
        if (cs[k].is_send) DropEncoded(L, cs[k].send_value);
      }
      return luaL_error(L, "select: case %d: want \"recv\" or \"send\"", (int)i + 1);
    }
    lua_rawgeti(L, -2, 2);
    LChan* ch = luaL_testudata(L, -1, kChanType);
    if (ch == NULL && !lua_isnil(L, -1)) {
      for (size_t k = 0; k < i; k++) {
        if (cs[k].is_send) DropEncoded(L, cs[k].send_value);
      }
      return luaL_error(L, "select: case %d: not a channel", (int)i + 1);
    }
    cs[i].chan = ch != NULL ? ch->c : NULL; /* nil: never ready (Go's nil channel) */
    cs[i].is_send = is_send;
    lua_pop(L, 2);
    if (is_send) {
      lua_rawgeti(L, -1, 3);
      cs[i].send_value = Encode(luaL_ref(L, LUA_REGISTRYINDEX));
    }
    lua_pop(L, 1);
  }
  /* The chans are held by the case tables, which the argument holds: the
   * caller's table could be changed by another goroutine while we wait, so
   * anchor a copy of every channel on this stack. */
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)i + 1);
    lua_rawgeti(L, -1, 2);
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    lua_pop(L, 1);
  }
  YieldIfAsked(L);
  int rc = gort_select(cs, n, 1);
  if (rc == -EAGAIN && !nonblocking) {
    Fiber* self = Unlock();
    rc = gort_select(cs, n, 0);
    CheckCancel(self, rc);
    Relock(self);
  }
  for (size_t k = 0; k < n; k++) {
    if (cs[k].is_send && (int)k != rc) DropEncoded(L, cs[k].send_value);
  }
  if (rc == -EAGAIN) {
    lua_pushinteger(L, 0);
    return 1;
  }
  if (rc < 0) return luaL_error(L, "%s", gort_last_error());
  lua_pushinteger(L, rc + 1);
  if (cs[rc].is_send) return 1;
  PushDecoded(L, cs[rc].recv_value);
  lua_pushboolean(L, cs[rc].recv_ok);
  return 3;
}

static int LSleep(lua_State* L) {
  lua_Number s = luaL_checknumber(L, 1);
  Fiber* self = Unlock();
  gort_sleep_ns((int64_t)(s * 1e9));
  if (gort_unwinding()) Abandon(self);
  Relock(self);
  return 0;
}

static int LYield(lua_State* L) {
  (void)L;
  Fiber* self = Unlock();
  gort_yield();
  Relock(self);
  return 0;
}

/* Monotonic seconds, for measurements. */
static int LNow(lua_State* L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

static int LNumGoroutine(lua_State* L) {
  lua_pushinteger(L, gort_num_goroutine());
  return 1;
}

/* ---- processes ---------------------------------------------------------------- */

typedef struct LProc {
  pid_t pid;
  int legacy;
  int waited;
} LProc;

/* argv from a table of strings at index i, as a NULL-terminated array in a
 * userdata pushed on the stack, its strings anchored by a table pushed
 * below it: both stay valid while the lock is released. */
static const char** PushStrings(lua_State* L, int i, const char* what, int allow_empty) {
  luaL_checktype(L, i, LUA_TTABLE);
  size_t n = lua_rawlen(L, i);
  if (n == 0 && !allow_empty) luaL_error(L, "%s: no command", what);
  lua_createtable(L, (int)n, 0);
  const char** argv = lua_newuserdatauv(L, (n + 1) * sizeof(char*), 0);
  for (size_t k = 0; k < n; k++) {
    lua_rawgeti(L, i, (lua_Integer)k + 1);
    if (!lua_isstring(L, -1)) luaL_error(L, "%s: argument %d is not a string", what, (int)k + 1);
    argv[k] = lua_tostring(L, -1);
    lua_rawseti(L, -3, (lua_Integer)k + 1); /* the anchor */
  }
  argv[n] = NULL;
  return argv;
}
static const char** PushArgv(lua_State* L, int i, const char* what) {
  return PushStrings(L, i, what, 0);
}

/* spawn(argv [, {legacy = true}]) and legacy.spawn(argv) */
static int Spawn(lua_State* L, int legacy) {
  const char** argv = PushArgv(L, 1, "spawn");
  char* path = NULL;
  if (gort_look_path(argv[0], &path) != 0) return luaL_error(L, "%s", gort_last_error());
  pid_t pid = 0;
  Fiber* self = Unlock();
  int rc = legacy ? gort_legacy_process_start(path, argv, NULL, NULL, &pid)
                  : gort_process_start(path, argv, NULL, NULL, &pid);
  gort_free(path);
  CheckCancel(self, rc);
  Relock(self);
  if (rc != 0) return luaL_error(L, "%s", gort_last_error());
  LProc* p = lua_newuserdatauv(L, sizeof(LProc), 0);
  p->pid = pid;
  p->legacy = legacy;
  p->waited = 0;
  luaL_setmetatable(L, kProcType);
  return 1;
}

static int LSpawn(lua_State* L) {
  int legacy = 0;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "legacy");
    legacy = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  lua_settop(L, 1);
  return Spawn(L, legacy);
}

static int LLegacySpawn(lua_State* L) {
  lua_settop(L, 1);
  return Spawn(L, 1);
}

/* code, state: 3, "exit status 3"; -1, "signal: killed" (Go's words). */
static int PushWaitStatus(lua_State* L, int status) {
  if (WIFEXITED(status)) {
    lua_pushinteger(L, WEXITSTATUS(status));
    lua_pushfstring(L, "exit status %d", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    lua_pushinteger(L, -1);
    const char* name = strsignal(WTERMSIG(status));
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", name != NULL ? name : "unknown signal");
    if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
    lua_pushfstring(L, "signal: %s%s", buf, WCOREDUMP(status) ? " (core dumped)" : "");
  } else {
    lua_pushinteger(L, -1);
    lua_pushfstring(L, "wait status %d", status);
  }
  return 2;
}

static LProc* CheckProc(lua_State* L) { return luaL_checkudata(L, 1, kProcType); }

/* p:wait() -> code, state; or nil, error ("wait: no child processes"). For a
 * legacy process, a third value: the other children's statuses this wait
 * reaped and lost. */
static int LWait(lua_State* L) {
  LProc* p = CheckProc(L);
  pid_t pid = p->pid;
  int legacy = p->legacy;
  int status = 0, dropped = 0;
  p->waited = 1; /* from now on the wait is this call's, not __gc's */
  Fiber* self = Unlock();
  int rc =
      legacy ? gort_legacy_process_wait(pid, &status, &dropped) : gort_process_wait(pid, &status);
  CheckCancel(self, rc);
  Relock(self);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, gort_last_error());
    if (!legacy) return 2;
    lua_pushinteger(L, dropped);
    return 3;
  }
  PushWaitStatus(L, status);
  if (!legacy) return 2;
  lua_pushinteger(L, dropped);
  return 3;
}

/* p:kill([sig]) -> true, or nil, error. Default SIGKILL, as Go's Kill. */
static int LKill(lua_State* L) {
  LProc* p = CheckProc(L);
  int sig = (int)luaL_optinteger(L, 2, SIGKILL);
  if (gort_process_kill(p->pid, sig) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, gort_last_error());
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int LProcIndex(lua_State* L) {
  LProc* p = CheckProc(L);
  const char* k = luaL_checkstring(L, 2);
  if (strcmp(k, "pid") == 0) {
    lua_pushinteger(L, p->pid);
    return 1;
  }
  luaL_getmetatable(L, kProcType);
  lua_getfield(L, -1, "methods");
  lua_getfield(L, -1, k);
  return 1;
}

/* A detached fiber that collects a dropped child's status, so that neither
 * a zombie nor a wait-map entry stays behind (Go's Process.Release). */
static void ReapDetached(void* arg) { gort_process_wait((pid_t)(intptr_t)arg, NULL); }

/* A process never waited for and now unreachable: reap it in the
 * background. Legacy processes cannot be (only their forking thread may
 * wait): they are released (pidfd closed) and stay zombies until gort-lua
 * exits, as documented. */
static int LProcGc(lua_State* L) {
  LProc* p = CheckProc(L);
  if (p->waited || vm.closing) return 0;
  p->waited = 1;
  if (p->legacy) {
    gort_legacy_process_release(p->pid); /* its pidfd at least */
  } else {
    gort_go(ReapDetached, (void*)(intptr_t)p->pid);
  }
  return 0;
}

static int LProcToString(lua_State* L) {
  lua_pushfstring(L, "process %d", (int)CheckProc(L)->pid);
  return 1;
}

/* exec(argv [, stdin | {stdin = s, env = {"K=V", ...}, combined = true}])
 *   -> stdout (both streams if combined), code, state, stderr (if it failed).
 * Errors (raised): the command did not start, in Go's words. */
static int LExec(lua_State* L) {
  size_t in_len = 0;
  const char* in = NULL;
  const char** envp = NULL;
  int flags = 0;
  lua_settop(L, 2); /* everything below stays on the stack: anchored */
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "stdin");
    in = luaL_optlstring(L, 3, NULL, &in_len);
    lua_getfield(L, 2, "combined");
    if (lua_toboolean(L, -1)) flags |= GORT_EXEC_COMBINED;
    if (lua_getfield(L, 2, "env") != LUA_TNIL) envp = PushStrings(L, lua_gettop(L), "exec env", 1);
  } else {
    in = luaL_optlstring(L, 2, NULL, &in_len);
  }
  const char** argv = PushArgv(L, 1, "exec");
  char *out = NULL, *err = NULL;
  size_t out_len = 0, err_len = 0;
  int status = -1;
  Fiber* self = Unlock();
  int rc = gort_exec_output(argv, envp, in, in_len, flags, &out, &out_len, &err, &err_len, &status);
  if (rc == -ECANCELED && gort_unwinding()) {
    gort_free(out);
    gort_free(err);
    Abandon(self);
  }
  Relock(self);
  if (rc != 0 && rc != -GORT_EEXIT) {
    gort_free(out);
    gort_free(err);
    return luaL_error(L, "%s", gort_last_error());
  }
  lua_pushlstring(L, out, out_len);
  PushWaitStatus(L, status);
  lua_pushlstring(L, err, err_len);
  gort_free(out);
  gort_free(err);
  return 4;
}

/* os.execute(cmd): /bin/sh -c cmd on a fiber that parks in the wait, with
 * os.execute's results (true|nil, "exit"|"signal", code). */
static int LOsExecute(lua_State* L) {
  const char* cmd = luaL_optstring(L, 1, NULL);
  if (cmd == NULL) {
    lua_pushboolean(L, 1); /* a shell is available */
    return 1;
  }
  lua_settop(L, 1);
  const char* argv[] = {"sh", "-c", cmd, NULL};
  pid_t pid = 0;
  int status = 0;
  Fiber* self = Unlock();
  int rc = gort_process_start("/bin/sh", argv, NULL, NULL, &pid);
  if (rc == 0) rc = gort_process_wait(pid, &status);
  CheckCancel(self, rc);
  Relock(self);
  if (rc != 0) return luaL_fileresult(L, 0, "/bin/sh");
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
  if (WIFEXITED(status) && code == 0) {
    lua_pushboolean(L, 1);
  } else {
    lua_pushnil(L);
  }
  lua_pushstring(L, WIFEXITED(status) ? "exit" : "signal");
  lua_pushinteger(L, code);
  return 3;
}

/* os.exit([code]): Go's os.Exit (no deferred work, no shutdown of the
 * runtime from a fiber): flush stdio and _exit. */
/* stdout and stderr only: fflush(NULL) would wait for the lock of a stream
 * that a goroutine blocked in a read holds. */
static void FlushStdio(void) {
  fflush(stdout);
  fflush(stderr);
}

static int LOsExit(lua_State* L) {
  int code;
  if (lua_isboolean(L, 1)) {
    code = lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE;
  } else {
    code = (int)luaL_optinteger(L, 1, EXIT_SUCCESS);
  }
  FlushStdio();
  _exit(code);
}

/* ---- blocking foreign calls: file reads -------------------------------------
 *
 * THE pattern for a call that blocks its OS thread: note it (under the
 * lock), release the VM lock, bracket the call alone, keep its errno from
 * gort_syscall_exit, take the lock again. Between enter and exit, neither
 * Lua nor any gort_ call that may park. */
static Fiber* EnterForeign(void) {
  atomic_fetch_add(&vm.foreign, 1);
  Fiber* self = Unlock();
  gort_syscall_enter_block();
  return self;
}
static int ExitForeign(Fiber* self, void* buf) {
  int err = gort_syscall_exit();
  int locked = gort_mutex_lock(vm.lock) == 0;
  if (!locked || gort_unwinding()) {
    free(buf);
    if (locked) gort_mutex_unlock(vm.lock);
    Abandon(self);
  }
  vm.running = self;
  atomic_fetch_sub(&vm.foreign, 1);
  return err;
}

/* One read format on f, the stdio call made without the VM lock. Pushes the
 * result (nil at end of file) and returns 1, or 0 after pushing the
 * luaL_fileresult triple on an error. */
static int ReadOne(lua_State* L, FILE* f, int arg) {
  char* buf = NULL;
  size_t len = 0;
  int ok = 1, err = 0;
  if (lua_type(L, arg) == LUA_TNUMBER) {
    size_t want = (size_t)luaL_checkinteger(L, arg);
    buf = malloc(want > 0 ? want : 1);
    if (buf == NULL) return luaL_error(L, "read: out of memory");
    Fiber* self = EnterForeign();
    if (want == 0) {
      int c = getc(f);
      if (c == EOF) {
        ok = 0;
      } else {
        ungetc(c, f);
      }
    } else {
      len = fread(buf, 1, want, f);
      ok = len > 0;
    }
    err = ExitForeign(self, buf);
  } else {
    const char* p = luaL_checkstring(L, arg);
    if (*p == '*') p++; /* Lua 5.3's "*l" */
    if (*p == 'l' || *p == 'L') {
      size_t cap = 0;
      Fiber* self = EnterForeign();
      ssize_t n = getline(&buf, &cap, f);
      err = ExitForeign(self, buf);
      ok = n > 0;
      len = n > 0 ? (size_t)n : 0;
      if (ok && *p == 'l' && buf[len - 1] == '\n') len--;
    } else if (*p == 'a') {
      size_t cap = 0;
      Fiber* self = EnterForeign();
      for (;;) {
        if (cap - len < 4096) {
          size_t ncap = cap == 0 ? 8192 : cap * 2;
          char* nb = realloc(buf, ncap);
          if (nb == NULL) break;
          buf = nb;
          cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
      }
      err = ExitForeign(self, buf);
      ok = 1; /* "a" returns "" at end of file */
    } else if (*p == 'n') {
      /* Numbers: Lua's own reader, with the lock held (rarely interactive). */
      lua_pushvalue(L, lua_upvalueindex(1));
      lua_pushvalue(L, 1);
      lua_pushvalue(L, arg);
      lua_call(L, 2, 1);
      return 1;
    } else {
      return luaL_argerror(L, arg, "invalid format");
    }
  }
  if (ferror(f)) {
    free(buf);
    clearerr(f);
    errno = err;
    return luaL_fileresult(L, 0, NULL);
  }
  if (ok) {
    lua_pushlstring(L, buf != NULL ? buf : "", len);
  } else {
    lua_pushnil(L);
  }
  free(buf);
  return 1;
}

/* file:read(...), with Lua's own read as upvalue 1. */
static int LFileRead(lua_State* L) {
  luaL_Stream* s = luaL_checkudata(L, 1, LUA_FILEHANDLE);
  if (s->closef == NULL) return luaL_error(L, "attempt to use a closed file");
  FILE* f = s->f;
  int nargs = lua_gettop(L) - 1;
  if (nargs == 0) {
    lua_pushliteral(L, "l");
    nargs = 1;
  }
  int first = 2;
  for (int i = 0; i < nargs; i++) {
    int n = ReadOne(L, f, first + i);
    if (n == 0) return 3; /* an error: nil, message, errno */
    if (lua_isnil(L, -1)) return i + 1;
  }
  return nargs;
}

/* io.read(...): the default input file's read. */
static int LIoRead(lua_State* L) {
  lua_getglobal(L, "io");
  lua_getfield(L, -1, "input");
  lua_call(L, 0, 1);
  lua_replace(L, -2);
  lua_insert(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1)); /* the wrapped file:read */
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* Lines iterators on the wrapped read, so that they do not block the P. */
static const char kPrelude[] =
    "local io, methods = io, ...\n"
    "function methods.lines(f, ...)\n"
    "  local fmts = table.pack(...)\n"
    "  return function() return f:read(table.unpack(fmts, 1, fmts.n)) end\n"
    "end\n"
    "function io.lines(name, ...)\n"
    "  if name == nil then return io.input():lines(...) end\n"
    "  local f = assert(io.open(name, 'r'))\n"
    "  local fmts = table.pack(...)\n"
    "  return function()\n"
    "    local v = f:read(table.unpack(fmts, 1, fmts.n))\n"
    "    if v == nil then f:close() end\n"
    "    return v\n"
    "  end\n"
    "end\n";

/* file:read and io.read become the wrapped reads; os.execute and os.exit
 * the versions above; lines iterators read through the wrapped read. */
static void WrapIo(lua_State* L) {
  luaL_getmetatable(L, LUA_FILEHANDLE);
  lua_getfield(L, -1, "__index"); /* [mt, methods] */
  lua_getfield(L, -1, "read");    /* Lua's read: upvalue 1 of ours */
  lua_pushcclosure(L, LFileRead, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "read"); /* [mt, methods, wrapped read] */
  lua_getglobal(L, "io");
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, LIoRead, 1);
  lua_setfield(L, -2, "read");
  lua_pop(L, 2); /* [mt, methods] */
  lua_getglobal(L, "os");
  lua_pushcfunction(L, LOsExecute);
  lua_setfield(L, -2, "execute");
  lua_pushcfunction(L, LOsExit);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);
  if (luaL_loadbuffer(L, kPrelude, sizeof(kPrelude) - 1, "=gort-lua prelude") != LUA_OK) {
    fprintf(stderr, "gort-lua: %s\n", lua_tostring(L, -1));
    exit(1);
  }
  lua_pushvalue(L, -2);
  lua_call(L, 1, 0);
  lua_pop(L, 2);
}

/* ---- the library -------------------------------------------------------------- */

static const luaL_Reg kGlobals[] = {
    {"go", LGo},         {"chan", LChanNew},
    {"select", LSelect}, {"sleep", LSleep},
    {"after", LAfter},   {"spawn", LSpawn},
    {"exec", LExec},     {"yield", LYield},
    {"now", LNow},       {"numgoroutine", LNumGoroutine},
    {NULL, NULL},
};

static void OpenGort(lua_State* L) {
  luaL_newmetatable(L, kChanType);
  static const luaL_Reg chan_methods[] = {
      {"send", LSend}, {"recv", LRecv}, {"close", LClose},
      {"len", LLen},   {"cap", LCap},   {NULL, NULL},
  };
  luaL_newlib(L, chan_methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, LChanGc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, LChanToString);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);

  luaL_newmetatable(L, kProcType);
  static const luaL_Reg proc_methods[] = {{"wait", LWait}, {"kill", LKill}, {NULL, NULL}};
  luaL_newlib(L, proc_methods);
  lua_setfield(L, -2, "methods");
  lua_pushcfunction(L, LProcIndex);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, LProcToString);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, LProcGc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);

  /* The gort table, and each name as a global too. select is both: with a
   * table, gort's; else Lua's (select('#', ...)), its upvalue. */
  luaL_newlib(L, kGlobals);
  lua_getglobal(L, "select");
  lua_pushcclosure(L, LSelect, 1);
  lua_setfield(L, -2, "select");
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, LLegacySpawn);
  lua_setfield(L, -2, "spawn");
  lua_pushvalue(L, -1);
  lua_setglobal(L, "legacy");
  lua_setfield(L, -2, "legacy");
  lua_pushstring(L, gort_version());
  lua_setfield(L, -2, "version");
  for (const luaL_Reg* r = kGlobals; r->name != NULL; r++) {
    lua_getfield(L, -1, r->name);
    lua_setglobal(L, r->name);
  }
  lua_setglobal(L, "gort");
  WrapIo(L);
}

/* ---- main ------------------------------------------------------------------- */

typedef struct MainArgs {
  Fiber fiber;
  int nargs;
} MainArgs;

static void MainFiber(void* arg) {
  MainArgs* m = arg;
  if (setjmp(m->fiber.abandon) != 0) return; /* cannot happen: main is not unwound */
  lua_State* L = vm.L;
  Relock(&m->fiber);
  int base = lua_gettop(L) - m->nargs; /* the chunk */
  lua_pushcfunction(L, Traceback);
  lua_insert(L, base);
  if (lua_pcall(L, m->nargs, 0, base) != LUA_OK) {
    fflush(stdout);
    fprintf(stderr, "gort-lua: %s\n", lua_tostring(L, -1));
    fflush(stderr);
    vm.exit_code = 1;
  }
  /* The lock stays held: no Lua code runs again (see Shutdown). A goroutine
   * inside a blocking foreign call would hold the shutdown up: exit now. */
  if (atomic_load(&vm.foreign) > 0) {
    FlushStdio();
    _exit(vm.exit_code);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: gort-lua script.lua [args]\n");
    return 1;
  }
  lua_State* L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "gort-lua: cannot create the Lua state\n");
    return 1;
  }
  vm.L = L;
  MainArgs m;
  memset(&m, 0, sizeof(m));
  m.fiber.T = L;
  luaL_openlibs(L);
  OpenGort(L);
  lua_sethook(L, Hook, LUA_MASKCOUNT, kHookCount); /* threads inherit it */
  /* arg, as lua(1) sets it: arg[0] the script, arg[1..] its arguments. */
  lua_createtable(L, argc - 2, 2);
  lua_pushstring(L, argv[0]);
  lua_rawseti(L, -2, -1);
  for (int i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  if (luaL_loadfile(L, argv[1]) != LUA_OK) {
    fprintf(stderr, "gort-lua: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 1;
  }
  for (int i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
  m.nargs = argc - 2;
  vm.lock = gort_mutex_new();
  if (vm.lock == NULL) {
    fprintf(stderr, "gort-lua: %s\n", gort_last_error());
    return 1;
  }
  gort_options o;
  memset(&o, 0, sizeof(o));
  o.stack_size = 1 << 20; /* Lua's C recursion (parser, metamethods) is deep */
  if (gort_run(MainFiber, &m, &o) != 0) {
    fprintf(stderr, "gort-lua: %s\n", gort_last_error());
    return 1;
  }
  vm.closing = 1;
  lua_close(L);
  gort_mutex_release(vm.lock);
  return vm.exit_code;
}
