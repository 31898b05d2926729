/* SPDX-License-Identifier: MIT */
/*
 * Error handling: gather every outcome, failures included.
 *
 * Python (asyncio):
 *     results = await asyncio.gather(*aws, return_exceptions=True)
 *     for r in results:
 *         if isinstance(r, Exception): ...
 *
 * A task fails by returning a negative error code (its own, or CF_ETASK)
 * and may attach a message. With CF_GATHER_RETURN_ERRORS, cf_gather waits
 * for all and reports each outcome in errors[] instead of stopping at the
 * first failure.
 */
#include <cfutures.h>
#include <stdint.h>
#include <stdio.h>

#define N 6

/* Parses "port numbers": fails for values outside 1..65535. */
static int check_port(void *arg, void **result) {
  intptr_t port = (intptr_t)arg;
  if (port < 1 || port > 65535) {
    cf_task_set_message(port < 1 ? "port below 1" : "port above 65535");
    return CF_EINVAL;
  }
  *result = arg;
  return 0;
}

int main(void) {
  static const intptr_t ports[N] = {80, 0, 443, 70000, 8080, -5};
  cf_executor *pool = NULL;
  cf_future *fs[N];
  void *results[N];
  int errors[N];
  size_t n = 0;

  int err = cf_thread_pool_new(NULL, &pool);
  /* A failed submit leaves fs[n] unset: stop before counting it. */
  for (; err == 0 && n < N; n++)
    if ((err = cf_submit(pool, check_port, (void *)ports[n], &fs[n])) != 0)
      break;

  /* First, the default mode: the first failure comes back as the result. */
  if (err == 0) {
    int first = cf_gather(fs, N, 10.0, 0, results, NULL);
    printf("plain gather: %s\n", cf_strerror(first));
  }
  /* Then every outcome. The call itself succeeds (0) when all are done. */
  if (err == 0)
    err = cf_gather(fs, N, 10.0, CF_GATHER_RETURN_ERRORS, results, errors);
  if (err != 0) {
    fprintf(stderr, "gather: %s\n", cf_strerror(err));
    for (size_t i = 0; i < n; i++)
      cf_future_release(fs[i]);
    cf_executor_free(pool);
    return 1;
  }
  int failed = 0;
  for (size_t i = 0; i < N; i++) {
    if (errors[i] == 0) {
      printf("port %6ld: ok\n", (long)(intptr_t)results[i]);
    } else {
      const char *msg = cf_future_error_message(fs[i]);
      printf("port %6ld: %s (%s)\n", (long)ports[i], cf_err_name(errors[i]),
             msg ? msg : "no message");
      failed++;
    }
  }
  for (size_t i = 0; i < n; i++)
    cf_future_release(fs[i]);
  cf_executor_free(pool);
  printf("%d of %d failed\n", failed, N);
  return failed == 3 ? 0 : 1;
}
