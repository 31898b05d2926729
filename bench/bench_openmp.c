/* SPDX-License-Identifier: MIT */
/*
 * OpenMP tasks on W1 and W3: a parallel region of P threads in which one
 * thread (single) creates every task and the region's closing barrier waits
 * for them all. The runtime's wait policy is left at its default
 * (OMP_WAIT_POLICY unset), as a user would run it.
 */
#include "bench_report.h"
#include "bench_util.h"

#include <omp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const IMPL = "openmp";

static void noop(long i) {
  (void)i;
}

static int run_w1(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, 1000000, 200000);
  uint64_t t0 = bench_now_ns();
#pragma omp parallel num_threads(P)
#pragma omp single
  for (long i = 0; i < n; i++) {
#pragma omp task firstprivate(i)
    noop(i);
  }
  bench_report_w1(IMPL, P, "", n, bench_now_ns() - t0);
  return 0;
}

static int run_w3(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, BENCH_W3_TASKS, BENCH_W3_TASKS_QUICK);
  uint64_t iters = bench_spin_calibrate(BENCH_W3_TASK_MS);
  uint64_t *results = calloc((size_t)n, sizeof *results);
  uint64_t sink = 0;
  uint64_t t0 = bench_thread_cpu_ns();
  for (long i = 0; i < n; i++)
    sink += bench_spin_work(iters, (uint64_t)i + 1);
  uint64_t serial = bench_thread_cpu_ns() - t0;
  t0 = bench_now_ns();
#pragma omp parallel num_threads(P)
#pragma omp single
  for (long i = 0; i < n; i++) {
#pragma omp task firstprivate(i)
    results[i] = bench_spin_work(iters, (uint64_t)i + 1);
  }
  uint64_t parallel = bench_now_ns() - t0;
  for (long i = 0; i < n; i++)
    sink -= results[i];
  if (sink != 0)
    fprintf(stderr, "bench_openmp W3: results differ\n");
  free(results);
  bench_report_w3(IMPL, P, serial, parallel);
  return 0;
}

int main(int argc, char **argv) {
  static const bench_workload ws[] = {{"W1", run_w1}, {"W3", run_w3}};
  return bench_main(argc, argv, ws, sizeof ws / sizeof ws[0]);
}
