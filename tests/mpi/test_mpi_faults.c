/* SPDX-License-Identifier: MIT */
/*
 * An MPI call that fails on the client: the link wraps MPI_Isend and
 * MPI_Recv (-Wl,--wrap) so that the pool's own calls fail on demand, the
 * way tests/fault_inject.c fails malloc. Run as mpirun -n 3. The affected
 * futures must fail with CF_EBROKEN and a message naming the MPI error,
 * later submits must be refused, and shutting down must still release
 * every serving rank (the job ends, with 0).
 */
#include <cfutures/mpi.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Which call fails next on this rank: 0 none, 1 MPI_Isend, 2 MPI_Recv. */
static atomic_int fail_next;

int __real_MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest,
                     int tag, MPI_Comm comm, MPI_Request *req);
int __wrap_MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest,
                     int tag, MPI_Comm comm, MPI_Request *req);
int __real_MPI_Recv(void *buf, int count, MPI_Datatype type, int src, int tag,
                    MPI_Comm comm, MPI_Status *st);
int __wrap_MPI_Recv(void *buf, int count, MPI_Datatype type, int src, int tag,
                    MPI_Comm comm, MPI_Status *st);

int __wrap_MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest,
                     int tag, MPI_Comm comm, MPI_Request *req) {
  int one = 1;
  if (atomic_compare_exchange_strong(&fail_next, &one, 0))
    return MPI_ERR_OTHER;
  return __real_MPI_Isend(buf, count, type, dest, tag, comm, req);
}

int __wrap_MPI_Recv(void *buf, int count, MPI_Datatype type, int src, int tag,
                    MPI_Comm comm, MPI_Status *st) {
  int two = 2;
  if (atomic_compare_exchange_strong(&fail_next, &two, 0)) {
    /* The message must still be taken off the wire, or it would wait
     * for a receive forever; the pool is told the call failed. */
    __real_MPI_Recv(buf, count, type, src, tag, comm, st);
    return MPI_ERR_TRUNCATE;
  }
  return __real_MPI_Recv(buf, count, type, src, tag, comm, st);
}

static int t_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}
CF_TASK("faults.echo", t_echo)

static int failures;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                              \
    }                                                                          \
  } while (0)

/* One pool, one injected failure of the given call. */
static void run(int which) {
  cf_executor *ex;
  int rc = cf_mpi_pool_new(NULL, &ex);
  CHECK(rc == 0);
  if (rc != 0 || ex == NULL)
    return; /* a serving rank: released at the shutdown */
  cf_future *ok;
  CHECK(cf_submit_bytes(ex, t_echo, "a", 1, &ok) == 0);
  CHECK(cf_future_error(ok, 60) == 0); /* the pool works */
  cf_future_release(ok);
  atomic_store(&fail_next, which);
  cf_future *f;
  CHECK(cf_submit_bytes(ex, t_echo, "b", 1, &f) == 0);
  CHECK(cf_future_error(f, 60) == CF_EBROKEN);
  const char *m = cf_future_error_message(f);
  CHECK(m != NULL && strstr(m, "MPI call failed") != NULL);
  if (m != NULL)
    printf("failed %s: %s\n", which == 1 ? "MPI_Isend" : "MPI_Recv", m);
  cf_future_release(f);
  cf_future *later = NULL;
  CHECK(cf_submit_bytes(ex, t_echo, "c", 1, &later) == CF_EBROKEN);
  CHECK(later == NULL);
  CHECK(cf_executor_free(ex) == 0); /* releases the serving ranks */
}

int main(void) {
  int provided;
  MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
  run(1);
  run(2);
  /* And a pool formed after them works. */
  cf_executor *ex;
  CHECK(cf_mpi_pool_new(NULL, &ex) == 0);
  if (ex != NULL) {
    cf_future *f;
    const void *d;
    size_t n;
    CHECK(cf_submit_bytes(ex, t_echo, "ok", 2, &f) == 0);
    CHECK(cf_future_bytes(f, 60, &d, &n) == 0 && n == 2);
    cf_future_release(f);
    CHECK(cf_executor_free(ex) == 0);
  }
  MPI_Finalize();
  if (failures == 0)
    printf("ok\n");
  return failures == 0 ? 0 : 1;
}
