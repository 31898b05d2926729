/* SPDX-License-Identifier: MIT */
/*
 * Named worker threads, and an initializer run once in each.
 *
 * Python:
 *     ThreadPoolExecutor(3, thread_name_prefix="resizer",
 *                        initializer=setup, initargs=(...))
 *
 * The names show in top -H, gdb, perf and /proc/<pid>/task/<tid>/comm.
 */
#define _GNU_SOURCE /* pthread_getname_np */
#include <cfutures.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static atomic_int initialized;

/* Runs in each new worker before its first task: per-thread set-up such as
 * opening a connection. A non-zero return would break the pool. */
static int setup_worker(void *arg) {
  (void)arg;
  atomic_fetch_add(&initialized, 1);
  return 0;
}

static int report(void *arg, void **result) {
  char name[16] = "";
  pthread_getname_np(pthread_self(), name, sizeof name);
  printf("task %ld ran on thread \"%s\"\n", (long)(intptr_t)arg, name);
  struct timespec ts = {0, 20 * 1000000L}; /* keep the workers busy */
  nanosleep(&ts, NULL);
  *result = NULL;
  return 0;
}

int main(void) {
  cf_thread_pool_options opts;
  cf_thread_pool_options_init(&opts);
  opts.max_workers = 3;
  opts.thread_name_prefix = "resizer"; /* threads resizer_0, resizer_1, ... */
  opts.initializer = setup_worker;
  cf_executor *pool = NULL;
  cf_future *fs[6];
  size_t n = 0;

  int err = cf_thread_pool_new(&opts, &pool);
  /* A failed submit leaves fs[n] unset: stop before counting it. */
  for (; err == 0 && n < 6; n++)
    if ((err = cf_submit(pool, report, (void *)(intptr_t)n, &fs[n])) != 0)
      break;
  if (err == 0)
    err = cf_gather(fs, n, 10.0, 0, NULL, NULL);
  for (size_t i = 0; i < n; i++)
    cf_future_release(fs[i]);
  cf_executor_free(pool);
  if (err != 0) {
    fprintf(stderr, "error: %s\n", cf_strerror(err));
    return 1;
  }
  printf("%d workers were initialized\n", atomic_load(&initialized));
  return 0;
}
