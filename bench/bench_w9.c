/* SPDX-License-Identifier: MIT */
/*
 * W9 fork-join on cfutures: fib(38) at cutoffs 15, 20 and 25, and a
 * quicksort of 10,000,000 ints, on a thread pool of 2 (--pool). Each call
 * above the cutoff submits one child with cf_submit, does the other half
 * itself and waits for the child with cf_future_wait. Reports the parallel
 * wall time and the speedup over the serial code's CPU time on the calling
 * thread (bench_w9.h), measured in the same pass.
 */
#include "bench_w9.h"
#include "bench_util.h"

#include <cfutures.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const IMPL = "cfutures";

static cf_executor *pool;
static int cutoff;

struct fib_call {
  int n;
  long result;
};

static long pfib(int n);

static int fib_task(void *arg, void **result) {
  struct fib_call *c = arg;
  c->result = pfib(c->n);
  (void)result;
  return 0;
}

static void must(int rc, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "bench_w9: %s: %s\n", what, cf_strerror(rc));
    exit(1);
  }
}

static long pfib(int n) {
  if (n <= cutoff)
    return w9_fib(n);
  struct fib_call child = {n - 1, 0};
  cf_future *f;
  must(cf_submit(pool, fib_task, &child, &f), "cf_submit");
  long y = pfib(n - 2);
  must(cf_future_wait(f, -1), "cf_future_wait");
  cf_future_release(f);
  return child.result + y;
}

struct sort_call {
  int *v;
  long n;
};

static void psort(int *v, long n);

static int sort_task(void *arg, void **result) {
  struct sort_call *c = arg;
  psort(c->v, c->n);
  (void)result;
  return 0;
}

static void psort(int *v, long n) {
  if (n <= W9_SORT_CUTOFF) {
    w9_sort_serial(v, n);
    return;
  }
  long k = w9_partition(v, n);
  struct sort_call left = {v, k};
  cf_future *f;
  must(cf_submit(pool, sort_task, &left, &f), "cf_submit");
  psort(v + k, n - k);
  must(cf_future_wait(f, -1), "cf_future_wait");
  cf_future_release(f);
}

/* Runs fn(arg) as one task of the pool, from outside it, and waits. */
static uint64_t run_root(cf_fn fn, void *arg) {
  uint64_t t0 = bench_now_ns();
  cf_future *f;
  must(cf_submit(pool, fn, arg, &f), "cf_submit");
  must(cf_future_wait(f, -1), "cf_future_wait");
  cf_future_release(f);
  return bench_now_ns() - t0;
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
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = P;
  must(cf_thread_pool_new(&o, &pool), "cf_thread_pool_new");

  uint64_t t0 = bench_thread_cpu_ns();
  long expect = w9_fib(n);
  uint64_t serial = bench_thread_cpu_ns() - t0;
  for (int i = 0; i < W9_NCUTOFFS; i++) {
    cutoff = w9_cutoffs[i];
    struct fib_call root = {n, 0};
    uint64_t parallel = run_root(fib_task, &root);
    if (root.result != expect) {
      fprintf(stderr, "bench_w9: fib(%d) = %ld, not %ld\n", n, root.result,
              expect);
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
  struct sort_call root = {v, sn};
  uint64_t parallel = run_root(sort_task, &root);
  if (w9_check_sorted(v, sn) != 0)
    return 1;
  free(v);
  char what[48];
  snprintf(what, sizeof what, "quicksort %ldM", sn / 1000000);
  report(what, serial, parallel);
  must(cf_executor_free(pool), "cf_executor_free");
  return 0;
}

int main(int argc, char **argv) {
  static const bench_workload ws[] = {{"W9", run_w9}};
  return bench_main(argc, argv, ws, sizeof ws / sizeof ws[0]);
}
