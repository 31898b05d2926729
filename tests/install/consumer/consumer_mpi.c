/* SPDX-License-Identifier: MIT */
/* Uses an installed MPI pool: run as mpirun -n 2 consumer_mpi. */
#include <cfutures/mpi.h>

#include <stdio.h>
#include <string.h>

static int twice(const void *in, size_t len, cf_buffer *out) {
  int rc = cf_buffer_append(out, in, len);
  return rc != 0 ? rc : cf_buffer_append(out, in, len);
}
CF_TASK("consumer.twice", twice)

int main(void) {
  cf_executor *ex;
  if (cf_mpi_pool_new(NULL, &ex) != 0)
    return 1;
  if (ex == NULL)
    return 0;
  cf_future *f;
  const void *d;
  size_t n;
  int ok = cf_submit_named(ex, "consumer.twice", "ab", 2, &f) == 0 &&
           cf_future_bytes(f, 60, &d, &n) == 0 && n == 4 &&
           memcmp(d, "abab", 4) == 0;
  cf_future_release(f);
  cf_executor_free(ex);
  puts(ok ? "mpi consumer ok" : "mpi consumer FAILED");
  return ok ? 0 : 1;
}
