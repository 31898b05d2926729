/* SPDX-License-Identifier: MIT */
/*
 * Many at once with gather: submit a batch, collect every result in input
 * order.
 *
 * Python (asyncio):
 *     results = await asyncio.gather(*(run(square, i) for i in range(16)))
 */
#include <cfutures.h>
#include <stdint.h>
#include <stdio.h>

#define N 16

static int square(void *arg, void **result) {
  intptr_t x = (intptr_t)arg;
  *result = (void *)(x * x);
  return 0;
}

int main(void) {
  cf_executor *pool = NULL;
  cf_future *fs[N];
  void *results[N];
  size_t submitted = 0;

  cf_thread_pool_options opts;
  cf_thread_pool_options_init(&opts);
  opts.max_workers = 4;
  int err = cf_thread_pool_new(&opts, &pool);
  /* A failed submit leaves fs[submitted] unset: stop before counting it. */
  for (; err == 0 && submitted < N; submitted++)
    if ((err = cf_submit(pool, square, (void *)(intptr_t)submitted,
                         &fs[submitted])) != 0)
      break;

  /* Results land in input order, whatever order the tasks finished in.
   * Without CF_GATHER_RETURN_ERRORS the first failure is returned at once
   * (see gather_errors.c for the other mode). Timeout: 10 s for all. */
  if (err == 0)
    err = cf_gather(fs, N, 10.0, 0, results, NULL);

  for (size_t i = 0; i < submitted; i++)
    cf_future_release(fs[i]);
  cf_executor_free(pool);
  if (err != 0) {
    fprintf(stderr, "gather: %s\n", cf_strerror(err));
    return 1;
  }

  long sum = 0;
  for (size_t i = 0; i < N; i++) {
    printf("%s%ld", i ? " " : "", (long)(intptr_t)results[i]);
    sum += (long)(intptr_t)results[i];
  }
  printf("\nsum of squares 0..%d = %ld\n", N - 1, sum);
  return sum == 1240 ? 0 : 1;
}
