/* SPDX-License-Identifier: MIT */
/*
 * Done callbacks: react to completion without a thread that waits.
 *
 * Python:
 *     f.add_done_callback(lambda f: print(f.result()))
 *
 * A callback runs on the thread that completes the future (a worker), or at
 * once on the caller's thread if the future is already done. It runs with
 * no library lock held, so it may submit more work or touch other futures,
 * but it should be short: it holds up that worker.
 */
#include <cfutures.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

static atomic_long total;
static atomic_int callbacks_run;

static int cube(void *arg, void **result) {
  intptr_t x = (intptr_t)arg;
  *result = (void *)(x * x * x);
  return 0;
}

static void add_to_total(cf_future *f, void *userdata) {
  void *value = NULL;
  /* The future is done: result() with timeout 0 cannot block. */
  if (cf_future_result(f, 0, &value) == 0)
    atomic_fetch_add(&total, (long)(intptr_t)value);
  atomic_fetch_add(&callbacks_run, 1);
  (void)userdata;
}

static void announce(cf_future *f, void *userdata) {
  printf("%s: %s\n", (const char *)userdata,
         cf_future_cancelled(f) ? "cancelled" : "finished");
}

int main(void) {
  cf_executor *pool = NULL;
  cf_future *fs[10];
  size_t n = 0;
  int err = cf_thread_pool_new(NULL, &pool);
  for (; err == 0 && n < 10; n++) {
    /* A failed submit leaves fs[n] unset: stop before counting it. */
    if ((err = cf_submit(pool, cube, (void *)(intptr_t)(n + 1), &fs[n])) != 0)
      break;
    err = cf_future_on_done(fs[n], add_to_total, NULL);
  }
  /* Waiting for all is only needed here to print the sum; a server would
   * just let the callbacks do their work. */
  if (err == 0)
    err = cf_wait(fs, n, 10.0, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL);
  /* Callbacks run after waiters are woken, so free the pool (which joins
   * the workers) before reading what they did. */
  cf_executor_free(pool);

  /* A future completed by hand: the callback added while it is pending runs
   * on cf_future_set_result's thread; one added later runs at once. */
  cf_future *manual = NULL;
  if (err == 0)
    err = cf_future_new(&manual);
  if (err == 0) {
    cf_future_on_done(manual, announce, "manual future, first callback");
    cf_future_set_result(manual, NULL);
    cf_future_on_done(manual, announce, "manual future, late callback");
  }
  cf_future_release(manual);
  for (size_t i = 0; i < n; i++)
    cf_future_release(fs[i]);
  if (err != 0) {
    fprintf(stderr, "error: %s\n", cf_strerror(err));
    return 1;
  }
  printf("%d callbacks, sum of cubes 1..10 = %ld\n",
         atomic_load(&callbacks_run), atomic_load(&total));
  return atomic_load(&total) == 3025 ? 0 : 1;
}
