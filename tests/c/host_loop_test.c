/* A C host that keeps its own main loop while fibers work: the shape of a
 * VM or GUI embedding gort. The main thread never blocks in gort; it runs a
 * plain poll(2) loop over two descriptors:
 *   - its own timer (a pipe a ticker thread writes to), standing for the
 *     host's other work, which must keep being served;
 *   - gort_chan_notify_fd of the results channel, readable while a result
 *     is waiting (or the channel is closed).
 * Fibers compute results (sleeping, yielding, spawning a child now and
 * then) and send them; a closer fiber closes the channel once all are done.
 * The loop drains results with gort_chan_try_recv whenever the descriptor
 * is readable, and ends when the channel is closed and drained. Run with a
 * buffered and with an unbuffered results channel (where readiness comes
 * from blocked senders). */
#define _DEFAULT_SOURCE /* usleep */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "gort/c.h"

enum { kWorkers = 64 };

struct Work {
  gort_chan* results;
  gort_waitgroup* wg;
  intptr_t n;
};

static void Worker(void* p) {
  struct Work* w = p;
  gort_sleep_ns((w->n % 7) * 300 * 1000);
  intptr_t r = w->n * w->n;
  if (w->n % 16 == 0) { /* a child's exit code as part of the result */
    const char* argv[] = {"sh", "-c", "exit 1", NULL};
    pid_t pid;
    int status = 0;
    CHECK_EQ(gort_process_start("/bin/sh", argv, NULL, NULL, &pid), 0);
    CHECK_EQ(gort_process_wait(pid, &status), 0);
    r += WEXITSTATUS(status) - 1;
  }
  gort_yield();
  CHECK_EQ(gort_chan_send(w->results, (void*)(r + 1)), 0); /* +1: never NULL */
  gort_waitgroup_done(w->wg);
}

struct Closer {
  gort_chan* results;
  gort_waitgroup* wg;
};

static void CloseWhenDone(void* p) {
  struct Closer* c = p;
  CHECK_EQ(gort_waitgroup_wait(c->wg), 0);
  CHECK_EQ(gort_chan_close(c->results), 0);
}

static atomic_int stop_ticker;

static void* Ticker(void* p) {
  int fd = *(int*)p;
  while (!atomic_load(&stop_ticker)) {
    if (write(fd, "t", 1) != 1) break;
    usleep(1000);
  }
  return NULL;
}

static void HostLoop(int procs, size_t capacity) {
  gort_options o = {0};
  o.procs = procs;
  CHECK_EQ(gort_start(&o), 0);

  gort_chan* results = gort_chan_new(capacity);
  int notify = gort_chan_notify_fd(results);
  CHECK(notify >= 0);
  CHECK_EQ(gort_chan_notify_fd(results), notify); /* one descriptor per channel */

  int tick[2];
  CHECK_EQ(pipe(tick), 0);
  pthread_t ticker;
  atomic_store(&stop_ticker, 0);
  CHECK_EQ(pthread_create(&ticker, NULL, Ticker, &tick[1]), 0);

  gort_waitgroup* wg = gort_waitgroup_new();
  struct Work work[kWorkers];
  for (int i = 0; i < kWorkers; i++) {
    work[i].results = results;
    work[i].wg = wg;
    work[i].n = i;
    CHECK_EQ(gort_waitgroup_add(wg, 1), 0);
    CHECK_EQ(gort_go(Worker, &work[i]), 0);
  }
  struct Closer closer = {results, wg};
  CHECK_EQ(gort_go(CloseWhenDone, &closer), 0);

  long sum = 0;
  int received = 0, ticks = 0, wakeups = 0, closed = 0;
  while (!closed) {
    struct pollfd fds[2] = {{notify, POLLIN, 0}, {tick[0], POLLIN, 0}};
    int n = poll(fds, 2, 10 * 1000);
    CHECK(n > 0); /* no 10 s silence: something is always ready */
    if (fds[1].revents & POLLIN) {
      char buf[64];
      ssize_t got = read(tick[0], buf, sizeof(buf));
      CHECK(got > 0);
      ticks += (int)got;
    }
    if (fds[0].revents & POLLIN) {
      wakeups++;
      for (;;) {
        void* v;
        int rc = gort_chan_try_recv(results, &v);
        if (rc == -EAGAIN) break; /* drained for now: back to the loop */
        if (rc == 0) {
          closed = 1;
          break;
        }
        CHECK_EQ(rc, 1);
        sum += (long)(intptr_t)v - 1;
        received++;
      }
    }
  }
  atomic_store(&stop_ticker, 1);
  CHECK_EQ(pthread_join(ticker, NULL), 0);

  long want = 0;
  for (long i = 0; i < kWorkers; i++) want += i * i;
  CHECK_EQ(received, kWorkers);
  CHECK_EQ(sum, want);
  CHECK(wakeups > 0);
  CHECK(ticks > 0); /* the host's own work went on meanwhile */

  /* Closed and drained: the descriptor stays readable (as Go's closed
   * channel is always ready to receive). */
  struct pollfd pf = {notify, POLLIN, 0};
  CHECK_EQ(poll(&pf, 1, 0), 1);

  gort_waitgroup_release(wg);
  gort_chan_release(results); /* closes the notify descriptor */
  close(tick[0]);
  close(tick[1]);
  CHECK_EQ(gort_stop(), 0);
  fprintf(stderr, "  procs %d, capacity %zu: %d results, %d wake-ups, %d ticks\n", procs, capacity,
          received, wakeups, ticks);
}

/* The descriptor follows the channel's state exactly when nothing races. */
static void NotifyFollowsState(void) {
  gort_options o = {0};
  CHECK_EQ(gort_start(&o), 0);
  gort_chan* c = gort_chan_new(2);
  CHECK_EQ(gort_chan_send(c, (void*)1), 0); /* a value before the descriptor exists */
  int fd = gort_chan_notify_fd(c);
  struct pollfd pf = {fd, POLLIN, 0};
  CHECK_EQ(poll(&pf, 1, 0), 1);
  void* v;
  CHECK_EQ(gort_chan_recv(c, &v), 1);
  CHECK_EQ(poll(&pf, 1, 0), 0); /* drained */
  CHECK_EQ(gort_chan_try_send(c, (void*)2), 0);
  CHECK_EQ(poll(&pf, 1, 0), 1);
  gort_case cs[1] = {{c, 0, NULL, NULL, 0}};
  CHECK_EQ(gort_select(cs, 1, 1), 0);
  CHECK_EQ(poll(&pf, 1, 0), 0);
  CHECK_EQ(gort_chan_close(c), 0);
  CHECK_EQ(poll(&pf, 1, 0), 1);
  gort_chan_release(c);
  CHECK_EQ(gort_stop(), 0);
}

int main(void) {
  RUN(NotifyFollowsState);
  int procs[] = {1, 2, 4};
  for (int i = 0; i < 3; i++) {
    fprintf(stderr, "[ RUN  ] HostLoop procs %d\n", procs[i]);
    HostLoop(procs[i], 8);
    HostLoop(procs[i], 0);
  }
  fprintf(stderr, "host_loop_test: all passed\n");
  return 0;
}
