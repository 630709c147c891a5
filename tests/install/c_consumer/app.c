/* A C program built against an installed gort the way the README says:
 *   cc app.c $(pkg-config --cflags --libs gort)
 * The host keeps its main thread: it starts the runtime, hands work to
 * fibers, collects their results over a channel, and stops the runtime. */
#include <gort/c.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static gort_chan* results;

static void Square(void* arg) {
  intptr_t i = (intptr_t)arg;
  gort_sleep_ns(1000 * (10 - i)); /* finish in any order */
  gort_chan_send(results, (void*)(i * i));
}

int main(void) {
  if (strcmp(gort_version(), GORT_VERSION_STRING) != 0) {
    fprintf(stderr, "headers %s, library %s\n", GORT_VERSION_STRING, gort_version());
    return 1;
  }
  if (gort_start(NULL) != 0) {
    fprintf(stderr, "gort_start: %s\n", gort_last_error());
    return 1;
  }
  results = gort_chan_new(0);
  for (intptr_t i = 0; i < 10; i++) gort_go(Square, (void*)i);
  long sum = 0;
  for (int i = 0; i < 10; i++) {
    void* v;
    if (gort_chan_recv(results, &v) != 1) return 1;
    sum += (long)(intptr_t)v;
  }
  gort_chan_release(results);
  if (gort_stop() != 0) return 1;
  printf("c consumer ok: sum %ld, gort %s\n", sum, gort_version());
  return sum == 285 ? 0 : 1;
}
