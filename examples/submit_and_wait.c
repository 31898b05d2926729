/* SPDX-License-Identifier: MIT */
/*
 * Submit and wait: the smallest complete use of cfutures.
 *
 * Python:
 *     with ThreadPoolExecutor() as pool:
 *         print(pool.submit(pow, 2, 10).result())
 */
#include <cfutures.h>
#include <stdint.h>
#include <stdio.h>

/* A task gets one pointer argument and hands back one pointer result.
 * Small integers travel inside the pointers themselves. */
static int power_of_two(void *arg, void **result) {
  intptr_t n = (intptr_t)arg;
  *result = (void *)((intptr_t)1 << n);
  return 0; /* 0 = success; a negative CF_E* code = failure */
}

int main(void) {
  cf_executor *pool = NULL;
  cf_future *f = NULL;
  void *result = NULL;

  /* NULL options: min(32, cpus + 4) workers, started as work arrives. */
  int err = cf_thread_pool_new(NULL, &pool);
  if (err != 0) {
    fprintf(stderr, "cf_thread_pool_new: %s\n", cf_strerror(err));
    return 1;
  }
  err = cf_submit(pool, power_of_two, (void *)(intptr_t)10, &f);
  if (err == 0) {
    /* Blocks until the task is done; -1 = no timeout. */
    err = cf_future_result(f, -1, &result);
    cf_future_release(f); /* we got one reference from cf_submit */
  }
  cf_executor_free(pool); /* waits for the workers to exit */

  if (err != 0) {
    fprintf(stderr, "task failed: %s\n", cf_strerror(err));
    return 1;
  }
  printf("2 ** 10 = %ld\n", (long)(intptr_t)result);
  return 0;
}
