/* SPDX-License-Identifier: MIT */
/*
 * Handle results as they come, fastest first.
 *
 * Python:
 *     for f in as_completed(fs, timeout=10):
 *         print(f.result())
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <cfutures.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define N 5

/* Sleeps arg milliseconds and returns it. */
static int nap(void *arg, void **result) {
  intptr_t ms = (intptr_t)arg;
  struct timespec ts = {0, (long)ms * 1000000L};
  nanosleep(&ts, NULL);
  *result = arg;
  return 0;
}

int main(void) {
  static const intptr_t naps[N] = {250, 50, 150, 10, 100};
  cf_thread_pool_options opts;
  cf_thread_pool_options_init(&opts);
  opts.max_workers = N; /* all at once, so they finish in nap order */
  cf_executor *pool = NULL;
  cf_future *fs[N];
  cf_as_completed *it = NULL;
  size_t n = 0;

  int err = cf_thread_pool_new(&opts, &pool);
  /* A failed submit leaves fs[n] unset: stop before counting it. */
  for (; err == 0 && n < N; n++)
    if ((err = cf_submit(pool, nap, (void *)naps[n], &fs[n])) != 0)
      break;
  /* The iterator takes its own references, so ours can go at once. */
  if (err == 0)
    err = cf_as_completed_new(fs, N, 10.0, &it);
  for (size_t i = 0; i < n; i++)
    cf_future_release(fs[i]);

  cf_future *f;
  intptr_t previous = 0;
  int out_of_order = 0;
  while (err == 0 && (err = cf_as_completed_next(it, &f)) == 0) {
    void *ms = NULL;
    int task_err = cf_future_result(f, 0, &ms);
    printf("a %ld ms nap finished (%s)\n", (long)(intptr_t)ms,
           cf_strerror(task_err));
    out_of_order += (intptr_t)ms < previous;
    previous = (intptr_t)ms;
    cf_future_release(f); /* each yielded future comes with a reference */
  }
  cf_as_completed_free(it);
  cf_executor_free(pool);
  if (err != CF_EOF) { /* CF_EOF: every future was yielded */
    fprintf(stderr, "as_completed: %s\n", cf_strerror(err));
    return 1;
  }
  if (out_of_order)
    printf("(a busy machine reordered %d close finishes)\n", out_of_order);
  return 0;
}
