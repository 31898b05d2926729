/* SPDX-License-Identifier: MIT */
/*
 * TIMERS: 100,000 pending timers (cf_future_after) with deadlines spread
 * over one second, starting one second from now. Reports the memory each
 * pending timer costs (malloc'd bytes, mallinfo2, and resident memory,
 * both measured before and after creating them, divided by the count) and
 * how late each fired: its future's finish time (cf_future_times_get)
 * minus its deadline, median, p99 and max. The deadline is taken from the
 * clock just before the call, so lateness is if anything overstated.
 */
#include "bench_util.h"

#include <cfutures.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t malloc_bytes(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static int run_timers(const bench_args *a) {
  long n = bench_args_n(a, 100000, 10000);
  double start_s = a->quick ? 0.3 : 1.0, spread_s = a->quick ? 0.3 : 1.0;
  cf_future **fs = calloc((size_t)n, sizeof *fs);
  uint64_t *due = calloc((size_t)n, sizeof *due);
  double *late = calloc((size_t)n, sizeof *late);
  if (fs == NULL || due == NULL || late == NULL)
    return 1;
  /* Touch the arrays, and start the timer thread, before the baseline. */
  memset(fs, 0, (size_t)n * sizeof *fs);
  memset(due, 0, (size_t)n * sizeof *due);
  memset(late, 0, (size_t)n * sizeof *late);
  cf_future *warm;
  if (cf_future_after(0, &warm) != 0 || cf_future_wait(warm, 5) != 0)
    return 1;
  cf_future_release(warm);
  malloc_trim(0);
  size_t heap0 = malloc_bytes(), rss0 = bench_rss_bytes();
  uint64_t seed = 0x9e3779b97f4a7c15u;
  for (long i = 0; i < n; i++) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    double delay =
        start_s + spread_s * (double)(seed >> 11) / 9007199254740992.0;
    due[i] = bench_now_ns() + (uint64_t)(delay * 1e9);
    if (cf_future_after(delay, &fs[i]) != 0) {
      fprintf(stderr, "cf_future_after failed at %ld\n", i);
      return 1;
    }
  }
  size_t heap1 = malloc_bytes(), rss1 = bench_rss_bytes();
  if (cf_wait(fs, (size_t)n, 30, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL) !=
      0) {
    fprintf(stderr, "timers did not fire within 30 s\n");
    return 1;
  }
  for (long i = 0; i < n; i++) {
    cf_future_times t;
    cf_future_times_get(fs[i], &t);
    late[i] = ((double)t.finished_ns - (double)due[i]) / 1e3;
    if (late[i] < 0) {
      fprintf(stderr, "timer %ld fired %.1f us early\n", i, -late[i]);
      return 1;
    }
    cf_future_release(fs[i]);
  }
  char kase[64];
  snprintf(kase, sizeof kase, "bytes per pending timer (malloc), %ldk",
           n / 1000);
  bench_emit("TIMERS", kase, "cfutures", (double)(heap1 - heap0) / (double)n,
             "B", "lower");
  snprintf(kase, sizeof kase, "bytes per pending timer (RSS), %ldk", n / 1000);
  bench_emit("TIMERS", kase, "cfutures",
             (double)(rss1 > rss0 ? rss1 - rss0 : 0) / (double)n, "B", "lower");
  bench_emit("TIMERS", "lateness median", "cfutures",
             bench_quantile(late, (size_t)n, 0.5), "us", "lower");
  bench_emit("TIMERS", "lateness p99", "cfutures",
             bench_quantile(late, (size_t)n, 0.99), "us", "lower");
  bench_emit("TIMERS", "lateness max", "cfutures",
             bench_quantile(late, (size_t)n, 1.0), "us", "lower");
  free(fs);
  free(due);
  free(late);
  return 0;
}

int main(int argc, char **argv) {
  static const bench_workload ws[] = {{"TIMERS", run_timers}};
  return bench_main(argc, argv, ws, sizeof ws / sizeof ws[0]);
}
