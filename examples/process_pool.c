/* SPDX-License-Identifier: MIT */
/*
 * CPU-bound work on a process pool: count the primes below 1,000,000 in
 * chunks, one chunk per task, on forked worker processes.
 *
 * Python:
 *     with ProcessPoolExecutor() as pool:
 *         total = sum(pool.map(count_primes, chunks))
 *
 * Tasks take bytes and return bytes: a worker is another process, so no
 * pointer into the caller's memory would mean anything there. Here a task's
 * input is two uint64_t (the range) and its output one uint64_t (the
 * count). A crash in a task fails only that task (CF_EWORKER); the pool
 * replaces the worker.
 *
 * Create the pool early in main, before other threads exist: workers are
 * forked from a snapshot of the program taken at that moment.
 */
#include <cfutures.h>
#include <cfutures/process_pool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LIMIT 1000000u
#define CHUNKS 16

static int is_prime(uint64_t n) {
  if (n < 2)
    return 0;
  for (uint64_t d = 2; d * d <= n; d++)
    if (n % d == 0)
      return 0;
  return 1;
}

/* Runs in a worker process: in = {lo, hi}, out = count of primes in
 * [lo, hi). */
static int count_primes(const void *in, size_t len, cf_buffer *out) {
  uint64_t range[2], count = 0;
  if (len != sizeof range) {
    cf_task_set_message("expected two uint64_t");
    return CF_EINVAL;
  }
  memcpy(range, in, sizeof range);
  for (uint64_t n = range[0]; n < range[1]; n++)
    count += (uint64_t)is_prime(n);
  return cf_buffer_append(out, &count, sizeof count);
}

int main(void) {
  cf_executor *pool = NULL;
  cf_future *fs[CHUNKS] = {0}; /* a failed submit leaves its slot NULL */
  size_t n = 0;

  /* NULL options: one worker per CPU. */
  int err = cf_process_pool_new(NULL, &pool);
  for (; err == 0 && n < CHUNKS; n++) {
    uint64_t range[2] = {(uint64_t)LIMIT * n / CHUNKS,
                         (uint64_t)LIMIT * (n + 1) / CHUNKS};
    /* The bytes are copied: range may go out of scope at once. */
    /* A failed submit leaves fs[n] unset: stop before counting it. */
    if ((err = cf_submit_bytes(pool, count_primes, range, sizeof range,
                               &fs[n])) != 0)
      break;
  }

  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    const void *data;
    size_t len;
    int task_err = err == 0 ? cf_future_bytes(fs[i], 60.0, &data, &len) : 0;
    if (err == 0 && task_err == 0 && len == sizeof(uint64_t)) {
      uint64_t count;
      memcpy(&count, data, sizeof count); /* the bytes may be unaligned */
      total += count;
    } else if (err == 0) {
      err = task_err != 0 ? task_err : CF_EPROTO;
    }
    cf_future_release(fs[i]);
  }
  cf_executor_free(pool);
  if (err != 0) {
    fprintf(stderr, "error: %s\n", cf_strerror(err));
    return 1;
  }
  printf("%llu primes below %u, counted in %d tasks on %d processes\n",
         (unsigned long long)total, LIMIT, CHUNKS, cf_cpu_count());
  return total == 78498 ? 0 : 1;
}
