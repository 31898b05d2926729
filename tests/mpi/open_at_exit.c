/* SPDX-License-Identifier: MIT */
/* The client runs tasks and returns from main without freeing its pool:
 * the exit handler shuts it down, which releases the serving ranks, and
 * MPI (initialised by the pool) is finalised: the job ends with 0. */
#include <cfutures/mpi.h>

#include <stdio.h>
#include <string.h>

static int t_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}
CF_TASK("exit.echo", t_echo)

int main(void) {
  cf_executor *ex;
  if (cf_mpi_pool_new(NULL, &ex) != 0)
    return 1;
  if (ex == NULL)
    return 0; /* served, released */
  for (int i = 0; i < 100; i++) {
    cf_future *f;
    const void *d;
    size_t n;
    if (cf_submit_bytes(ex, t_echo, "ok", 2, &f) != 0 ||
        cf_future_bytes(f, 60, &d, &n) != 0 || n != 2 || memcmp(d, "ok", 2))
      return 1;
    cf_future_release(f);
  }
  printf("client done, pool left open\n");
  return 0;
}
