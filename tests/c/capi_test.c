/* Tests of the C API (<gort/c.h>), compiled as C11 and linked against
 * libgort.so: the runtime (run, start / stop), fibers, channels and select,
 * mutex and wait group, per-fiber errors, descriptors, processes, and what
 * gort_stop does to fibers parked in C. Every test runs at 1, 2 and 4 Ps. */
#define _DEFAULT_SOURCE /* usleep */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gort/c.h"
#include "gort/version.h"

static int g_procs = 1;

static gort_options Opts(void) {
  gort_options o = {0};
  o.procs = g_procs;
  return o;
}

static void StartRuntime(void) {
  gort_options o = Opts();
  CHECK_EQ(gort_start(&o), 0);
}

/* ---- version ------------------------------------------------------------- */

static void TestVersion(void) {
  char want[64];
  snprintf(want, sizeof(want), "%d.%d.%d", GORT_VERSION_MAJOR, GORT_VERSION_MINOR,
           GORT_VERSION_PATCH);
  CHECK_STREQ(gort_version(), want);
  CHECK_STREQ(gort_version(), GORT_VERSION_STRING);
}

/* ---- gort_run --------------------------------------------------------------- */

struct SumArgs {
  gort_chan* results;
  intptr_t i;
};

static void Square(void* p) {
  struct SumArgs* a = p;
  CHECK(gort_goid() != 0);
  int rc = gort_chan_send(a->results, (void*)(a->i * a->i));
  /* -ECANCELED: main returned after taking the value, before this fiber
   * ran again; the runtime's shutdown then unwinds it (see gort/c.h). */
  CHECK(rc == 0 || (rc == -ECANCELED && gort_unwinding()));
}

static long g_run_sum;

static void RunMain(void* arg) {
  CHECK_STREQ((const char*)arg, "arg");
  CHECK(gort_goid() != 0);
  gort_chan* results = gort_chan_new(0);
  struct SumArgs args[10];
  for (int i = 0; i < 10; i++) {
    args[i].results = results;
    args[i].i = i;
    CHECK_EQ(gort_go(Square, &args[i]), 0);
  }
  g_run_sum = 0;
  for (int i = 0; i < 10; i++) {
    void* v = NULL;
    CHECK_EQ(gort_chan_recv(results, &v), 1);
    g_run_sum += (long)(intptr_t)v;
  }
  gort_chan_release(results);
}

static void TestRun(void) {
  gort_options o = Opts();
  CHECK_EQ(gort_run(RunMain, "arg", &o), 0);
  CHECK_EQ(g_run_sum, 285);
  CHECK_EQ(gort_run(RunMain, "arg", NULL), 0); /* NULL: the defaults */

  o.procs = -1;
  CHECK_EQ(gort_run(RunMain, "arg", &o), -EINVAL);
  CHECK_STREQ(gort_last_error(),
              "gort: runtime::Run: Options::procs is -1; want 0 (the default) or 1..1024");
  o = Opts();
  o.process_reapers = 300; /* at most 256 */
  CHECK_EQ(gort_run(RunMain, "arg", &o), -EINVAL);
  o = Opts();
  o.process_reapers = 2; /* reaper mode */
  CHECK_EQ(gort_run(RunMain, "arg", &o), 0);
  CHECK_EQ(gort_go(Square, NULL), -EINVAL); /* not running */
  CHECK(strstr(gort_last_error(), "not running") != NULL);
}

/* ---- gort_start / gort_stop: the host keeps its thread -------------------- */

struct Counter {
  gort_mutex* mu;
  gort_waitgroup* wg;
  long value; /* guarded by mu */
};

static void Increment(void* p) {
  struct Counter* c = p;
  for (int i = 0; i < 100; i++) {
    CHECK_EQ(gort_mutex_lock(c->mu), 0);
    long v = c->value;
    if (i % 10 == 0) gort_yield(); /* other fibers queue on the mutex */
    c->value = v + 1;
    CHECK_EQ(gort_mutex_unlock(c->mu), 0);
  }
  gort_sleep_ns(100 * 1000);
  CHECK_EQ(gort_waitgroup_done(c->wg), 0);
}

static void TestStartStop(void) {
  for (int round = 0; round < 2; round++) {
    StartRuntime();
    gort_options o = Opts();
    CHECK_EQ(gort_start(&o), -EBUSY);
    CHECK_EQ(gort_run(RunMain, "arg", &o), -EBUSY);
    struct Counter c = {gort_mutex_new(), gort_waitgroup_new(), 0};
    CHECK(c.mu != NULL && c.wg != NULL);
    for (int i = 0; i < 50; i++) {
      CHECK_EQ(gort_waitgroup_add(c.wg, 1), 0);
      CHECK_EQ(gort_go(Increment, &c), 0);
    }
    CHECK_EQ(gort_waitgroup_wait(c.wg), 0); /* the host's thread waits for fibers */
    CHECK_EQ(gort_mutex_lock(c.mu), 0);     /* and takes their mutex */
    CHECK_EQ(c.value, 50 * 100);
    CHECK_EQ(gort_mutex_unlock(c.mu), 0);
    gort_mutex_release(c.mu);
    gort_waitgroup_release(c.wg);
    CHECK_EQ(gort_stop(), 0);
    CHECK_EQ(gort_num_goroutine(), 0);
  }
  CHECK_EQ(gort_stop(), -EINVAL);
  CHECK_STREQ(gort_last_error(), "gort: runtime::Stop: the runtime is not running");
}

/* ---- channels ---------------------------------------------------------------- */

static void TestChannels(void) {
  StartRuntime();
  gort_chan* c = gort_chan_new(2);
  CHECK_EQ(gort_chan_cap(c), 2);
  CHECK(gort_chan_retain(c) == c);
  gort_chan_release(c); /* back to one reference */
  void* v = (void*)1;
  CHECK_EQ(gort_chan_try_recv(c, &v), -EAGAIN);
  CHECK_EQ(gort_chan_send(c, (void*)10), 0);
  CHECK_EQ(gort_chan_try_send(c, (void*)20), 0);
  CHECK_EQ(gort_chan_try_send(c, (void*)30), -EAGAIN);
  CHECK_EQ(gort_chan_len(c), 2);
  CHECK_EQ(gort_chan_close(c), 0);
  CHECK_EQ(gort_chan_send(c, (void*)40), -EPIPE);
  CHECK_STREQ(gort_last_error(), "send on closed channel");
  CHECK_EQ(gort_chan_try_send(c, (void*)40), -EPIPE);
  CHECK_EQ(gort_chan_close(c), -EPIPE);
  CHECK_STREQ(gort_last_error(), "close of closed channel");
  CHECK_EQ(gort_chan_recv(c, &v), 1); /* buffered values survive the close */
  CHECK_EQ((intptr_t)v, 10);
  CHECK_EQ(gort_chan_try_recv(c, &v), 1);
  CHECK_EQ((intptr_t)v, 20);
  CHECK_EQ(gort_chan_recv(c, &v), 0); /* closed and drained */
  CHECK(v == NULL);
  CHECK_EQ(gort_chan_try_recv(c, &v), 0);
  gort_chan_release(c);

  CHECK_EQ(gort_chan_send(NULL, NULL), -EINVAL);
  CHECK_EQ(gort_chan_recv(NULL, &v), -EINVAL);
  CHECK_EQ(gort_chan_close(NULL), -EINVAL);
  gort_chan_release(NULL);
  CHECK_EQ(gort_stop(), 0);
}

/* ---- select ------------------------------------------------------------------ */

static void SendLater(void* p) {
  gort_sleep_ns(2 * 1000 * 1000);
  CHECK_EQ(gort_chan_send(p, (void*)7), 0);
  gort_chan_release(p);
}

static void TestSelect(void) {
  StartRuntime();
  gort_chan* a = gort_chan_new(1);
  gort_chan* b = gort_chan_new(1);
  gort_case cases[3];
  memset(cases, 0, sizeof(cases));
  cases[0].chan = a;
  cases[1].chan = b;
  cases[2].chan = NULL; /* never ready */
  CHECK_EQ(gort_select(cases, 3, 1), -EAGAIN);

  CHECK_EQ(gort_chan_send(b, (void*)5), 0);
  CHECK_EQ(gort_select(cases, 3, 1), 1);
  CHECK_EQ((intptr_t)cases[1].recv_value, 5);
  CHECK_EQ(cases[1].recv_ok, 1);

  /* A send case and a receive case; only the send is ready. */
  cases[0].is_send = 1;
  cases[0].send_value = (void*)9;
  CHECK_EQ(gort_select(cases, 2, 0), 0);
  CHECK_EQ(gort_chan_len(a), 1);
  CHECK_EQ(gort_select(cases, 2, 1), -EAGAIN); /* a is full, b empty */

  /* Blocking, with a timeout: the sender comes after 2 ms, the timeout in 30 s. */
  gort_chan* timeout = gort_after_ns(30LL * 1000 * 1000 * 1000);
  CHECK(timeout != NULL);
  CHECK_EQ(gort_go(SendLater, gort_chan_retain(b)), 0);
  gort_case wait[2];
  memset(wait, 0, sizeof(wait));
  wait[0].chan = b;
  wait[1].chan = timeout;
  CHECK_EQ(gort_select(wait, 2, 0), 0);
  CHECK_EQ((intptr_t)wait[0].recv_value, 7);
  gort_chan_release(timeout);

  /* The timeout wins when nothing comes. */
  timeout = gort_after_ns(1000 * 1000);
  wait[1].chan = timeout;
  CHECK_EQ(gort_select(wait, 2, 0), 1);
  CHECK(wait[1].recv_value == NULL && wait[1].recv_ok == 1);
  gort_chan_release(timeout);

  /* Closed: a receive case reports it, a send case is an error. */
  CHECK_EQ(gort_chan_close(b), 0);
  wait[1].chan = NULL;
  CHECK_EQ(gort_select(wait, 2, 0), 0);
  CHECK_EQ(wait[0].recv_ok, 0);
  wait[0].is_send = 1;
  CHECK_EQ(gort_select(wait, 1, 0), -EPIPE);
  CHECK_STREQ(gort_last_error(), "send on closed channel");

  gort_chan_release(a);
  gort_chan_release(b);
  CHECK_EQ(gort_stop(), 0);
}

/* ---- sync misuse, per-fiber errors ------------------------------------------ */

struct ErrArgs {
  gort_waitgroup* wg;
  int which;
  atomic_int* failures;
};

static void KeepsItsError(void* p) {
  struct ErrArgs* a = p;
  gort_chan* c = gort_chan_new(0);
  gort_chan_close(c);
  if (a->which == 0) {
    CHECK_EQ(gort_chan_send(c, NULL), -EPIPE);
  } else {
    CHECK_EQ(gort_chan_close(c), -EPIPE);
  }
  const char* want = a->which == 0 ? "send on closed channel" : "close of closed channel";
  for (int i = 0; i < 50; i++) {
    gort_sleep_ns(10 * 1000); /* park, and maybe resume on another thread */
    if (strcmp(gort_last_error(), want) != 0) atomic_fetch_add(a->failures, 1);
  }
  gort_chan_release(c);
  gort_waitgroup_done(a->wg);
}

static void TestErrors(void) {
  StartRuntime();
  gort_mutex* mu = gort_mutex_new();
  CHECK_EQ(gort_mutex_unlock(mu), -EPERM);
  CHECK_STREQ(gort_last_error(), "sync: unlock of unlocked mutex");
  CHECK_EQ(gort_mutex_trylock(mu), 1);
  CHECK_EQ(gort_mutex_trylock(mu), 0);
  CHECK_EQ(gort_mutex_unlock(mu), 0);
  gort_mutex_release(mu);

  gort_waitgroup* wg = gort_waitgroup_new();
  CHECK_EQ(gort_waitgroup_add(wg, -1), -EINVAL);
  CHECK_STREQ(gort_last_error(), "sync: negative WaitGroup counter");
  gort_waitgroup_release(wg); /* as in Go, a wait group that went negative is spent */
  wg = gort_waitgroup_new();

  /* Each fiber keeps its own last error across parks and thread changes. */
  atomic_int failures = 0;
  struct ErrArgs args[16];
  for (int i = 0; i < 16; i++) {
    args[i].wg = wg;
    args[i].which = i % 2;
    args[i].failures = &failures;
    CHECK_EQ(gort_waitgroup_add(wg, 1), 0);
    CHECK_EQ(gort_go(KeepsItsError, &args[i]), 0);
  }
  CHECK_EQ(gort_waitgroup_wait(wg), 0);
  CHECK_EQ(atomic_load(&failures), 0);
  /* The host thread's own error was not touched by the fibers'. */
  CHECK_STREQ(gort_last_error(), "sync: negative WaitGroup counter");
  gort_waitgroup_release(wg);
  CHECK_EQ(gort_stop(), 0);
}

/* ---- gort_poll_wait ---------------------------------------------------------- */

struct PollArgs {
  int fd;
  gort_chan* done;
};

static void WaitReadable(void* p) {
  struct PollArgs* a = p;
  CHECK_EQ(gort_poll_wait(a->fd, GORT_POLL_READABLE, 1000 * 1000), -ETIMEDOUT);
  CHECK_STREQ(gort_last_error(), "i/o timeout");
  CHECK_EQ(gort_chan_send(a->done, NULL), 0);                 /* the host writes now */
  CHECK_EQ(gort_poll_wait(a->fd, GORT_POLL_READABLE, -1), 0); /* parks until it has */
  int rc = gort_chan_send(a->done, NULL);
  CHECK(rc == 0 || rc == -ECANCELED); /* taken, then gort_stop before this fiber ran on */
}

static void TestPollWait(void) {
  StartRuntime();
  int p[2];
  CHECK_EQ(pipe(p), 0);
  struct PollArgs a = {p[0], gort_chan_new(0)};
  CHECK_EQ(gort_go(WaitReadable, &a), 0);
  CHECK_EQ(gort_chan_recv(a.done, NULL), 1);
  CHECK_EQ(write(p[1], "x", 1), 1);
  CHECK_EQ(gort_chan_recv(a.done, NULL), 1);
  CHECK_EQ(gort_poll_wait(p[1], GORT_POLL_WRITABLE, 0), 0); /* from the host thread */
  CHECK_EQ(gort_poll_wait(p[1], 0, 0), -EINVAL);
  int bad = dup(p[1]);
  close(bad);
  CHECK_EQ(gort_poll_wait(bad, GORT_POLL_READABLE, 0), -EBADF);
  gort_chan_release(a.done);
  CHECK_EQ(gort_poll_close(p[0]), 0);
  CHECK_EQ(gort_poll_close(p[1]), 0);
  CHECK_EQ(gort_stop(), 0);
}

/* ---- foreign blocking calls ------------------------------------------------ */

struct Blocker {
  int fd;
  int got;
  int err;
  gort_waitgroup* wg;
};

static void BlockingRead(void* p) {
  struct Blocker* b = p;
  char c = 0;
  gort_syscall_enter_block();
  ssize_t n = read(b->fd, &c, 1); /* blocks its OS thread, not its P */
  gort_syscall_exit();
  b->got = n == 1 ? c : -1;
  gort_syscall_enter();
  n = read(-1, &c, 1); /* a failing call: errno comes back */
  int err = gort_syscall_exit();
  b->err = n < 0 ? err : 0;
  gort_waitgroup_done(b->wg);
}

static void OtherWork(void* p) { atomic_fetch_add((atomic_int*)p, 1); }

static void TestForeignBlockingCall(void) {
  StartRuntime();
  int p[2];
  CHECK_EQ(pipe(p), 0);
  atomic_int others = 0;
  struct Blocker b = {p[0], 0, 0, gort_waitgroup_new()};
  gort_waitgroup_add(b.wg, 1);
  CHECK_EQ(gort_go(BlockingRead, &b), 0);
  /* Even at one P, other fibers run while the read blocks. */
  for (int i = 0; i < 10; i++) CHECK_EQ(gort_go(OtherWork, &others), 0);
  while (atomic_load(&others) < 10) usleep(100);
  CHECK_EQ(write(p[1], "z", 1), 1);
  CHECK_EQ(gort_waitgroup_wait(b.wg), 0);
  CHECK_EQ(b.got, 'z');
  CHECK_EQ(b.err, EBADF);
  gort_waitgroup_release(b.wg);
  close(p[0]);
  close(p[1]);
  CHECK_EQ(gort_stop(), 0);
}

/* ---- processes ---------------------------------------------------------------- */

struct ChildArgs {
  int code;
  atomic_int* right;
  gort_waitgroup* wg;
};

static void SpawnAndWait(void* p) {
  struct ChildArgs* a = p;
  char script[32];
  snprintf(script, sizeof(script), "exit %d", a->code);
  const char* argv[] = {"sh", "-c", script, NULL};
  pid_t pid = 0;
  CHECK_EQ(gort_process_start("/bin/sh", argv, NULL, NULL, &pid), 0);
  gort_yield(); /* wander: the wait must not care which thread runs it */
  int status = -1;
  CHECK_EQ(gort_process_wait(pid, &status), 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == a->code) atomic_fetch_add(a->right, 1);
  gort_waitgroup_done(a->wg);
}

static void TestProcesses(void) {
  StartRuntime();
  /* From the host thread. */
  const char* argv[] = {"sh", "-c", "exit $CODE", NULL};
  const char* envp[] = {"CODE=3", NULL};
  pid_t pid = 0;
  int status = 0;
  CHECK_EQ(gort_process_start("/bin/sh", argv, envp, "/", &pid), 0);
  CHECK_EQ(gort_process_wait(pid, &status), 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
  CHECK_EQ(gort_process_wait(pid, &status), -ECHILD);
  CHECK_STREQ(gort_last_error(), "wait: process not found");

  const char* none[] = {"none", NULL};
  CHECK_EQ(gort_process_start("/no/such", none, NULL, NULL, &pid), -ENOENT);
  CHECK_STREQ(gort_last_error(), "fork/exec /no/such: no such file or directory");

  const char* sleeper[] = {"sleep", "30", NULL};
  CHECK_EQ(gort_process_start("/bin/sleep", sleeper, NULL, NULL, &pid), 0);
  CHECK_EQ(gort_process_kill(pid, SIGKILL), 0);
  CHECK_EQ(gort_process_wait(pid, &status), 0);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  /* From many fibers at once, each with its own exit code. */
  enum { kChildren = 40 };
  atomic_int right = 0;
  gort_waitgroup* wg = gort_waitgroup_new();
  struct ChildArgs args[kChildren];
  for (int i = 0; i < kChildren; i++) {
    args[i].code = i % 100;
    args[i].right = &right;
    args[i].wg = wg;
    gort_waitgroup_add(wg, 1);
    CHECK_EQ(gort_go(SpawnAndWait, &args[i]), 0);
  }
  CHECK_EQ(gort_waitgroup_wait(wg), 0);
  CHECK_EQ(atomic_load(&right), kChildren);
  gort_waitgroup_release(wg);
  CHECK_EQ(gort_stop(), 0);
}

/* ---- gort_stop with fibers parked in C -------------------------------------- */

struct Parked {
  gort_chan* never;
  gort_mutex* held;
  atomic_int* parked;
  atomic_int* cancelled;
  int how;
};

static void ParkForever(void* p) {
  struct Parked* a = p;
  CHECK_EQ(gort_unwinding(), 0);
  atomic_fetch_add(a->parked, 1);
  int rc = 0;
  switch (a->how % 4) {
    case 0:
      rc = gort_chan_recv(a->never, NULL);
      break;
    case 1:
      rc = gort_mutex_lock(a->held);
      break;
    case 2: {
      gort_case cs[1] = {{a->never, 0, NULL, NULL, 0}};
      rc = gort_select(cs, 1, 0);
      break;
    }
    case 3:
      gort_sleep_ns(3600LL * 1000 * 1000 * 1000);
      rc = -ECANCELED;
      break;
  }
  /* Only shutdown ends these waits: the call returns -ECANCELED, and every
   * later call that would block does too; the function must return. */
  if (rc == -ECANCELED && gort_unwinding() == 1 && gort_chan_recv(a->never, NULL) == -ECANCELED) {
    atomic_fetch_add(a->cancelled, 1);
  }
}

static void TestStopCancelsFibersParkedInC(void) {
  StartRuntime();
  atomic_int parked = 0, cancelled = 0;
  gort_chan* never = gort_chan_new(0);
  gort_mutex* held = gort_mutex_new();
  CHECK_EQ(gort_mutex_lock(held), 0);
  enum { kFibers = 20 };
  struct Parked args[kFibers];
  for (int i = 0; i < kFibers; i++) {
    struct Parked a = {never, held, &parked, &cancelled, i};
    args[i] = a;
    CHECK_EQ(gort_go(ParkForever, &args[i]), 0);
  }
  while (atomic_load(&parked) < kFibers) usleep(100);
  CHECK_EQ(gort_stop(), 0);
  CHECK_EQ(atomic_load(&cancelled), kFibers);
  CHECK_EQ(gort_num_goroutine(), 0);
  CHECK_EQ(gort_unwinding(), 0);
  CHECK_EQ(gort_mutex_unlock(held), 0);
  gort_mutex_release(held);
  gort_chan_release(never);
}

/* ---- plain threads of the host --------------------------------------------- */

static void Echo(void* p) {
  gort_chan* c = p;
  void* v;
  while (gort_chan_recv(c, &v) == 1) {
    if (gort_chan_send(c, (void*)((intptr_t)v + 1)) != 0) break;
    gort_yield();
  }
  gort_chan_release(c);
}

static void* HostThread(void* p) {
  (void)p;
  gort_chan* c = gort_chan_new(0);
  CHECK_EQ(gort_go(Echo, gort_chan_retain(c)), 0);
  for (intptr_t i = 0; i < 200; i++) {
    CHECK_EQ(gort_chan_send(c, (void*)i), 0);
    void* v;
    CHECK_EQ(gort_chan_recv(c, &v), 1);
    CHECK_EQ((intptr_t)v, i + 1);
  }
  CHECK_EQ(gort_chan_close(c), 0);
  gort_chan_release(c);
  return NULL;
}

static void TestPlainThreads(void) {
  StartRuntime();
  pthread_t t[4];
  for (int i = 0; i < 4; i++) CHECK_EQ(pthread_create(&t[i], NULL, HostThread, NULL), 0);
  for (int i = 0; i < 4; i++) CHECK_EQ(pthread_join(t[i], NULL), 0);
  CHECK_EQ(gort_stop(), 0);
}

int main(void) {
  RUN(TestVersion);
  int procs[] = {1, 2, 4};
  for (int i = 0; i < 3; i++) {
    g_procs = procs[i];
    fprintf(stderr, "=== procs %d\n", g_procs);
    RUN(TestRun);
    RUN(TestStartStop);
    RUN(TestChannels);
    RUN(TestSelect);
    RUN(TestErrors);
    RUN(TestPollWait);
    RUN(TestForeignBlockingCall);
    RUN(TestProcesses);
    RUN(TestStopCancelsFibersParkedInC);
    RUN(TestPlainThreads);
  }
  fprintf(stderr, "capi_test: all passed\n");
  return 0;
}
