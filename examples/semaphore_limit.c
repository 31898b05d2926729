/* SPDX-License-Identifier: MIT */
/*
 * Limit concurrency to N with a semaphore.
 *
 * Python (asyncio):
 *     sem = asyncio.Semaphore(2)
 *     async def fetch(url):
 *         async with sem: ...
 *
 * The pool has 8 workers, so 8 tasks may run at once, but only 2 may be
 * inside the section guarded by the semaphore -- say, connections to one
 * server. The other tasks wait at the semaphore, with a timeout.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <cfutures.h>
#include <cfutures/semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define LIMIT 2
#define TASKS 12

static cf_semaphore *connections;
static atomic_int inside, most_inside;

static int fetch(void *arg, void **result) {
  int err = cf_semaphore_acquire(connections, 10.0);
  if (err != 0)
    return err; /* CF_ETIMEDOUT: no connection within 10 s */

  int now = atomic_fetch_add(&inside, 1) + 1;
  int most = atomic_load(&most_inside);
  while (now > most && !atomic_compare_exchange_weak(&most_inside, &most, now))
    ;
  struct timespec ts = {0, 10 * 1000000L}; /* the "download" */
  nanosleep(&ts, NULL);
  atomic_fetch_sub(&inside, 1);

  cf_semaphore_release(connections); /* always give the permit back */
  *result = arg;
  return 0;
}

int main(void) {
  cf_thread_pool_options opts;
  cf_thread_pool_options_init(&opts);
  opts.max_workers = 8;
  cf_executor *pool = NULL;
  cf_future *fs[TASKS];
  size_t n = 0;

  int err = cf_semaphore_new(LIMIT, &connections);
  if (err == 0)
    err = cf_thread_pool_new(&opts, &pool);
  /* A failed submit leaves fs[n] unset: stop before counting it. */
  for (; err == 0 && n < TASKS; n++)
    if ((err = cf_submit(pool, fetch, (void *)(intptr_t)n, &fs[n])) != 0)
      break;
  if (err == 0)
    err = cf_gather(fs, n, 30.0, 0, NULL, NULL);
  for (size_t i = 0; i < n; i++)
    cf_future_release(fs[i]);
  cf_executor_free(pool);
  cf_semaphore_free(connections);
  if (err != 0) {
    fprintf(stderr, "error: %s\n", cf_strerror(err));
    return 1;
  }
  printf("%d tasks on 8 workers, at most %d inside at once (limit %d)\n", TASKS,
         atomic_load(&most_inside), LIMIT);
  return atomic_load(&most_inside) <= LIMIT ? 0 : 1;
}
