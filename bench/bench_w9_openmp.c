/* SPDX-License-Identifier: MIT */
/*
 * W9 fork-join with OpenMP tasks: the cases of bench_w9.c, each call above
 * the cutoff a `task` for one half, the other half inline, then
 * `taskwait`, in a parallel region of P threads (default wait policy).
 */
#include "bench_util.h"
#include "bench_w9.h"

#include <omp.h>

#include <stdio.h>
#include <stdlib.h>

static const char *const IMPL = "openmp";

static int cutoff;

static long pfib(int n) {
  if (n <= cutoff)
    return w9_fib(n);
  long x, y;
#pragma omp task shared(x)
  x = pfib(n - 1);
  y = pfib(n - 2);
#pragma omp taskwait
  return x + y;
}

static void psort(int *v, long n) {
  if (n <= W9_SORT_CUTOFF) {
    w9_sort_serial(v, n);
    return;
  }
  long k = w9_partition(v, n);
#pragma omp task
  psort(v, k);
  psort(v + k, n - k);
#pragma omp taskwait
}

static void report(const char *what, uint64_t serial, uint64_t parallel) {
  char kase[64];
  snprintf(kase, sizeof kase, "%s ms", what);
  bench_emit("W9", kase, IMPL, (double)parallel / 1e6, "ms", "lower");
  snprintf(kase, sizeof kase, "%s speedup", what);
  bench_emit("W9", kase, IMPL, (double)serial / (double)parallel, "x",
             "higher");
}

static int run_w9(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  int n = a->quick ? W9_FIB_N_QUICK : W9_FIB_N;
  long sn = a->quick ? W9_SORT_N_QUICK : W9_SORT_N;
  uint64_t t0 = bench_thread_cpu_ns();
  long expect = w9_fib(n);
  uint64_t serial = bench_thread_cpu_ns() - t0;
  /* Start the team once, as the pool of the other programs starts. */
#pragma omp parallel num_threads(P)
  (void)0;
  for (int i = 0; i < W9_NCUTOFFS; i++) {
    cutoff = w9_cutoffs[i];
    long r = 0;
    t0 = bench_now_ns();
#pragma omp parallel num_threads(P)
#pragma omp single
    r = pfib(n);
    uint64_t parallel = bench_now_ns() - t0;
    if (r != expect) {
      fprintf(stderr, "bench_w9_openmp: fib(%d) = %ld\n", n, r);
      return 1;
    }
    char what[48];
    snprintf(what, sizeof what, "fib(%d) cutoff %d", n, cutoff);
    report(what, serial, parallel);
  }
  int *v = malloc((size_t)sn * sizeof *v);
  if (v == NULL)
    return 1;
  w9_fill(v, sn);
  t0 = bench_thread_cpu_ns();
  w9_sort_serial(v, sn);
  serial = bench_thread_cpu_ns() - t0;
  w9_fill(v, sn);
  t0 = bench_now_ns();
#pragma omp parallel num_threads(P)
#pragma omp single
  psort(v, sn);
  uint64_t parallel = bench_now_ns() - t0;
  if (w9_check_sorted(v, sn) != 0)
    return 1;
  free(v);
  char what[48];
  snprintf(what, sizeof what, "quicksort %ldM", sn / 1000000);
  report(what, serial, parallel);
  return 0;
}

int main(int argc, char **argv) {
  static const bench_workload ws[] = {{"W9", run_w9}};
  return bench_main(argc, argv, ws, sizeof ws / sizeof ws[0]);
}
