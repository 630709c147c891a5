/* Tests of the C API's exec output, PATH lookup, the legacy process
 * algorithm and the preemption query (<gort/c.h>), compiled as C11 and
 * linked against libgort.so. Every test runs at 1 and 2 Ps, from the host
 * thread and from fibers. */
#define _DEFAULT_SOURCE /* usleep */
#define _POSIX_C_SOURCE 200809L

#include "gort/c.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int g_procs = 1;

static void StartRuntime(void) {
  gort_options o = {0};
  o.procs = g_procs;
  CHECK_EQ(gort_start(&o), 0);
}

/* ---- gort_exec_output ------------------------------------------------------ */

static void TestExecOutput(void) {
  StartRuntime();
  char* out = NULL;
  char* err = NULL;
  size_t out_len = 0, err_len = 0;
  int status = 0;

  const char* echo[] = {"echo", "hello", "world", NULL};
  CHECK_EQ(gort_exec_output(echo, NULL, NULL, 0, 0, &out, &out_len, &err, &err_len, &status), 0);
  CHECK_STREQ(out, "hello world\n");
  CHECK_EQ(out_len, 12);
  CHECK_STREQ(err, "");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  gort_free(out);
  gort_free(err);

  /* stdin, with a NUL inside: the lengths are the truth. */
  const char* cat[] = {"cat", NULL};
  const char in[] = {'a', 0, 'b'};
  CHECK_EQ(gort_exec_output(cat, NULL, in, sizeof(in), 0, &out, &out_len, NULL, NULL, NULL), 0);
  CHECK_EQ(out_len, 3);
  CHECK(memcmp(out, in, 3) == 0);
  gort_free(out);

  /* A failing child: an ExitError, its output and stderr kept. */
  const char* fail[] = {"sh", "-c", "echo out; echo oops >&2; exit $CODE", NULL};
  const char* envp[] = {"CODE=3", "PATH=/usr/bin:/bin", NULL};
  CHECK_EQ(gort_exec_output(fail, envp, NULL, 0, 0, &out, &out_len, &err, &err_len, &status),
           -GORT_EEXIT);
  CHECK_STREQ(gort_last_error(), "exit status 3");
  CHECK_STREQ(out, "out\n");
  CHECK_STREQ(err, "oops\n");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
  gort_free(out);
  gort_free(err);

  /* Combined: both streams through one pipe, in order. */
  const char* both[] = {"sh", "-c", "echo a; echo b >&2; echo c", NULL};
  CHECK_EQ(gort_exec_output(both, NULL, NULL, 0, GORT_EXEC_COMBINED, &out, NULL, &err, NULL, NULL),
           0);
  CHECK_STREQ(out, "a\nb\nc\n");
  CHECK_STREQ(err, "");
  gort_free(out);
  gort_free(err);

  /* Killed by a signal. */
  const char* killed[] = {"sh", "-c", "kill -9 $$", NULL};
  CHECK_EQ(gort_exec_output(killed, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, &status),
           -GORT_EEXIT);
  CHECK_STREQ(gort_last_error(), "signal: killed");
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  /* Did not start: nothing to free, status -1. */
  const char* none[] = {"gort-no-such-program", NULL};
  out = (char*)1;
  CHECK_EQ(gort_exec_output(none, NULL, NULL, 0, 0, &out, &out_len, NULL, NULL, &status), -ENOENT);
  CHECK_STREQ(gort_last_error(),
              "exec: \"gort-no-such-program\": executable file not found in $PATH");
  CHECK_STREQ(out, "");
  CHECK_EQ(out_len, 0);
  CHECK_EQ(status, -1);
  gort_free(out);
  const char* empty[] = {NULL};
  CHECK_EQ(gort_exec_output(empty, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL), -EINVAL);
  CHECK_STREQ(gort_last_error(), "exec: no command");
  CHECK_EQ(gort_stop(), 0);
}

/* Many fibers at once, each with its own output and status. */
struct ExecArgs {
  int i;
  atomic_int* right;
  gort_waitgroup* wg;
};

static void ExecInFiber(void* p) {
  struct ExecArgs* a = p;
  char script[64];
  snprintf(script, sizeof(script), "echo %d; exit %d", a->i, a->i % 2);
  const char* argv[] = {"sh", "-c", script, NULL};
  char* out = NULL;
  int status = -1;
  int rc = gort_exec_output(argv, NULL, NULL, 0, 0, &out, NULL, NULL, NULL, &status);
  char want[16];
  snprintf(want, sizeof(want), "%d\n", a->i);
  if (rc == (a->i % 2 ? -GORT_EEXIT : 0) && strcmp(out, want) == 0 && WIFEXITED(status) &&
      WEXITSTATUS(status) == a->i % 2) {
    atomic_fetch_add(a->right, 1);
  }
  gort_free(out);
  gort_waitgroup_done(a->wg);
}

static void TestExecOutputInFibers(void) {
  StartRuntime();
  enum { kFibers = 20 };
  atomic_int right = 0;
  gort_waitgroup* wg = gort_waitgroup_new();
  struct ExecArgs args[kFibers];
  for (int i = 0; i < kFibers; i++) {
    args[i].i = i;
    args[i].right = &right;
    args[i].wg = wg;
    gort_waitgroup_add(wg, 1);
    CHECK_EQ(gort_go(ExecInFiber, &args[i]), 0);
  }
  CHECK_EQ(gort_waitgroup_wait(wg), 0);
  CHECK_EQ(atomic_load(&right), kFibers);
  gort_waitgroup_release(wg);
  CHECK_EQ(gort_stop(), 0);
}

/* ---- gort_look_path --------------------------------------------------------- */

static void TestLookPath(void) {
  char* path = NULL;
  CHECK_EQ(gort_look_path("sh", &path), 0);
  CHECK(path[0] == '/');
  CHECK(access(path, X_OK) == 0);
  gort_free(path);
  CHECK_EQ(gort_look_path("/bin/sh", &path), 0);
  CHECK_STREQ(path, "/bin/sh");
  gort_free(path);
  CHECK_EQ(gort_look_path("gort-no-such-program", &path), -ENOENT);
  CHECK_STREQ(gort_last_error(),
              "exec: \"gort-no-such-program\": executable file not found in $PATH");
}

/* ---- the legacy algorithm ------------------------------------------------------ */

static void TestLegacyFromHost(void) {
  StartRuntime();
  /* A plain thread does not migrate: the legacy wait works there. */
  const char* argv[] = {"sh", "-c", "exit 5", NULL};
  pid_t pid = 0;
  int status = 0, dropped = -1;
  CHECK_EQ(gort_legacy_process_start("/bin/sh", argv, NULL, NULL, &pid), 0);
  CHECK_EQ(gort_legacy_process_wait(pid, &status, &dropped), 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5);
  CHECK_EQ(dropped, 0);
  CHECK_EQ(gort_legacy_process_wait(pid, &status, NULL), -ECHILD);
  CHECK_STREQ(gort_last_error(), "wait: process not found");

  const char* sleeper[] = {"sleep", "30", NULL};
  CHECK_EQ(gort_legacy_process_start("/bin/sleep", sleeper, NULL, NULL, &pid), 0);
  CHECK_EQ(gort_process_kill(pid, SIGKILL), 0);
  CHECK_EQ(gort_legacy_process_wait(pid, &status, NULL), 0);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  /* Released without a wait: forgotten (the zombie is reaped here, on the
   * forking thread, with a plain waitpid). */
  const char* quick[] = {"true", NULL};
  CHECK_EQ(gort_legacy_process_start("/bin/true", quick, NULL, NULL, &pid), 0);
  CHECK_EQ(gort_legacy_process_release(pid), 0);
  CHECK_EQ(gort_legacy_process_release(pid), -ECHILD);
  CHECK_EQ(gort_legacy_process_wait(pid, &status, NULL), -ECHILD);
  CHECK_EQ(waitpid(pid, &status, 0), pid);

  const char* none[] = {"none", NULL};
  CHECK_EQ(gort_legacy_process_start("/no/such", none, NULL, NULL, &pid), -ENOENT);
  CHECK_STREQ(gort_last_error(), "fork/exec /no/such: no such file or directory");
  CHECK_EQ(gort_stop(), 0);
}

/* ---- preemption --------------------------------------------------------------- */

static atomic_int g_spin_stop;

static void Spin(void* p) {
  atomic_int* yielded = p;
  /* A loop that parks nowhere: sysmon marks it after ~10 ms. */
  while (!atomic_load(&g_spin_stop)) {
    if (gort_preempt_pending()) {
      gort_check_preempt();
      atomic_fetch_add(yielded, 1);
    }
  }
}

static void Stopper(void* p) {
  (void)p;
  atomic_store(&g_spin_stop, 1);
}

static void TestPreempt(void) {
  CHECK_EQ(gort_preempt_pending(), 0); /* outside a fiber */
  gort_check_preempt();
  /* At 1 P, the stopper runs only once the spinner yields to it. */
  gort_options o = {0};
  o.procs = 1;
  CHECK_EQ(gort_start(&o), 0);
  atomic_int yielded = 0;
  atomic_store(&g_spin_stop, 0);
  CHECK_EQ(gort_go(Spin, &yielded), 0);
  CHECK_EQ(gort_go(Stopper, NULL), 0);
  while (!atomic_load(&g_spin_stop)) usleep(1000);
  CHECK_EQ(gort_stop(), 0);
}

int main(void) {
  RUN(TestLookPath);
  RUN(TestPreempt);
  int procs[] = {1, 2};
  for (int i = 0; i < 2; i++) {
    g_procs = procs[i];
    fprintf(stderr, "=== procs %d\n", g_procs);
    RUN(TestExecOutput);
    RUN(TestExecOutputInFibers);
    RUN(TestLegacyFromHost);
  }
  fprintf(stderr, "capi_exec_test: all passed\n");
  return 0;
}
