/* SPDX-License-Identifier: MIT */
/* A task kills its rank (SIGKILL): under Open MPI the job cannot go on,
 * and mpirun ends every rank and reports the dead one. rank_death.sh
 * checks that this is what happens, promptly, and that nothing hangs. */
#include <cfutures/mpi.h>

#include <signal.h>
#include <stdio.h>

static int t_die(const void *in, size_t len, cf_buffer *out) {
  raise(SIGKILL);
  return 0;
}
CF_TASK("death.die", t_die)

int main(void) {
  cf_executor *ex;
  if (cf_mpi_pool_new(NULL, &ex) != 0)
    return 1;
  if (ex != NULL) {
    cf_future *f;
    if (cf_submit_bytes(ex, t_die, NULL, 0, &f) != 0)
      return 1;
    cf_future_wait(f, -1); /* mpirun ends this process */
    fprintf(stderr, "the client outlived a dead rank\n");
    return 3;
  }
  return 0;
}
