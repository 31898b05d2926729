/* SPDX-License-Identifier: MIT */
/* Built against an installed cfutures: submits work to a thread pool and
 * checks the headers and the library agree on the version. */
#include <cfutures.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int square(void *arg, void **result) {
  intptr_t x = (intptr_t)arg;
  *result = (void *)(x * x);
  return 0;
}

int main(void) {
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", CF_VERSION_MAJOR,
           CF_VERSION_MINOR, CF_VERSION_PATCH);
  if (strcmp(cf_version(), expected) != 0) {
    fprintf(stderr, "header %s, library %s\n", expected, cf_version());
    return 1;
  }
  cf_executor *pool = NULL;
  cf_future *f;
  void *result = NULL;
  int err = cf_thread_pool_new(NULL, &pool);
  if (err == 0)
    err = cf_submit(pool, square, (void *)(intptr_t)12, &f);
  if (err == 0) {
    err = cf_future_result(f, 10, &result);
    cf_future_release(f);
  }
  if (pool != NULL)
    cf_executor_free(pool);
  if (err != 0 || (intptr_t)result != 144) {
    fprintf(stderr, "consumer: %s\n", cf_strerror(err));
    return 1;
  }
  printf("consumer: cfutures %s, 12 * 12 = %ld\n", cf_version(),
         (long)(intptr_t)result);
  return 0;
}
