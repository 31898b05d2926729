/* SPDX-License-Identifier: MIT */
/*
 * The same prime count as process_pool.c, on the ranks of an MPI job:
 *
 *     mpirun -n 4 ./mpi_primes
 *
 * Python (mpi4py):
 *     with MPICommExecutor(MPI.COMM_WORLD, root=0) as pool:
 *         if pool is not None:
 *             total = sum(pool.map(count_primes, chunks))
 *
 * Every rank runs this program and calls cf_mpi_pool_new. Rank 0 gets the
 * pool and maps the chunks over the other ranks (several chunks per
 * message with chunksize); the others serve until rank 0 frees the pool,
 * then get NULL and fall through to the end. The task travels by name, so
 * it is registered with CF_TASK, which every rank runs before main.
 */
#include <cfutures.h>
#include <cfutures/mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LIMIT 1000000u
#define CHUNKS 64

static int is_prime(uint64_t n) {
  if (n < 2)
    return 0;
  for (uint64_t d = 2; d * d <= n; d++)
    if (n % d == 0)
      return 0;
  return 1;
}

/* Runs on a serving rank: in = {lo, hi}, out = primes in [lo, hi). */
static int count_primes(const void *in, size_t len, cf_buffer *out) {
  uint64_t range[2], count = 0;
  if (len != sizeof range)
    return CF_EINVAL;
  memcpy(range, in, sizeof range);
  for (uint64_t n = range[0]; n < range[1]; n++)
    count += (uint64_t)is_prime(n);
  return cf_buffer_append(out, &count, sizeof count);
}
CF_TASK("primes.count", count_primes)

int main(void) {
  cf_executor *pool;
  int rc = cf_mpi_pool_new(NULL, &pool); /* collective: every rank */
  if (rc != 0) {
    fprintf(stderr, "cf_mpi_pool_new: %s\n", cf_strerror(rc));
    return 1;
  }
  if (pool == NULL)
    return 0; /* a serving rank: the pool is done with us */

  uint64_t ranges[CHUNKS][2];
  cf_bytes items[CHUNKS];
  for (unsigned i = 0; i < CHUNKS; i++) {
    ranges[i][0] = (uint64_t)LIMIT * i / CHUNKS;
    ranges[i][1] = (uint64_t)LIMIT * (i + 1) / CHUNKS;
    items[i].data = ranges[i];
    items[i].len = sizeof ranges[i];
  }
  cf_map_bytes_options mo;
  cf_map_bytes_options_init(&mo);
  mo.chunksize = 4; /* four ranges per message */
  cf_map_bytes *m;
  rc = cf_map_bytes_new(pool, count_primes, items, CHUNKS, &mo, &m);
  uint64_t total = 0;
  if (rc == 0) {
    const void *data;
    size_t len;
    int err;
    /* 0 for each range consumed, its own outcome in err. */
    while (rc == 0 &&
           (rc = cf_map_bytes_next(m, &data, &len, &err, NULL)) == 0) {
      rc = err;
      if (err == 0) {
        uint64_t count;
        memcpy(&count, data, sizeof count);
        total += count;
      }
    }
    if (rc == CF_EOF)
      rc = 0;
    cf_map_bytes_free(m);
  }
  cf_executor_free(pool); /* releases the serving ranks */
  if (rc != 0) {
    fprintf(stderr, "map: %s\n", cf_strerror(rc));
    return 1;
  }
  printf("%llu primes below %u\n", (unsigned long long)total, LIMIT);
  return total == 78498 ? 0 : 1;
}
