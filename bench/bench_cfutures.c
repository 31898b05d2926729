/* SPDX-License-Identifier: MIT */
/*
 * cfutures on workloads W1-W4 and the memory probe, through the public API
 * only, written the way the README tells a user to write them.
 */
#include "bench_pingpong.h"
#include "bench_report.h"
#include "bench_util.h"

#include <cfutures.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const IMPL = "cfutures";

/* W2's "spin" case: spin_us for the opt-in spinning pool. */
#define SPIN_US 1000

static int check(int rc, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "bench_cfutures: %s: %s\n", what, cf_strerror(rc));
    exit(1);
  }
  return rc;
}

/* The library's defaults but for the pool size; spin_us < 0 keeps the
 * default spin too. */
static cf_executor *pool_new(int workers, long spin_us) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = workers;
  if (spin_us >= 0)
    o.spin_us = (unsigned)spin_us;
  cf_executor *ex = NULL;
  check(cf_thread_pool_new(&o, &ex), "cf_thread_pool_new");
  return ex;
}

static int noop(void *arg, void **result) {
  *result = arg;
  return 0;
}

/* Frees the pool after checking that every task ran. */
static void pool_free_checked(cf_executor *ex, long expect) {
  cf_executor_stats st;
  check(cf_shutdown(ex, CF_SHUTDOWN_WAIT), "cf_shutdown");
  check(cf_executor_stats_get(ex, &st), "cf_executor_stats_get");
  if ((long)st.completed < expect)
    fprintf(stderr, "bench_cfutures: %llu of %ld tasks completed\n",
            (unsigned long long)st.completed, expect);
  check(cf_executor_free(ex), "cf_executor_free");
}

/* Fire and forget, then wait for all by a waited shutdown (Python's
 * `with ThreadPoolExecutor() as ex:`). */
static void w1_plain(int P, long n) {
  cf_executor *ex = pool_new(P, -1);
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    check(cf_submit(ex, noop, NULL, NULL), "cf_submit");
  check(cf_shutdown(ex, CF_SHUTDOWN_WAIT), "cf_shutdown");
  bench_report_w1(IMPL, P, "", n, bench_now_ns() - t0);
  pool_free_checked(ex, n);
}

/* A future per task, kept, waited for and released. */
static void w1_futures(int P, long n) {
  cf_future **fs = malloc((size_t)n * sizeof *fs);
  cf_executor *ex = pool_new(P, -1);
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    check(cf_submit(ex, noop, NULL, &fs[i]), "cf_submit");
  check(cf_wait(fs, (size_t)n, -1, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL),
        "cf_wait");
  for (long i = 0; i < n; i++)
    cf_future_release(fs[i]);
  bench_report_w1(IMPL, P, " futures", n, bench_now_ns() - t0);
  pool_free_checked(ex, n);
  free(fs);
}

static int run_w1(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, 1000000, 200000);

  /* --variant plain or futures runs one pass alone (for profiling). */
  int plain = strcmp(a->variant, "futures") != 0;
  int futures = strcmp(a->variant, "plain") != 0;
  if (plain)
    w1_plain(P, n);
  if (futures)
    w1_futures(P, n);
  return 0;
}

/* With floor set, runs of the futex ping-pong are interleaved with ours, in
 * chunks, so that both see the same machine: on a shared machine the
 * ratio of the two medians is steadier than either alone. */
static void w2_pass(int P, long spin_us, long n, const char *prefix,
                    bench_pingpong *floor) {
  const long chunk = 1000;
  double *lat = malloc((size_t)n * sizeof *lat);
  double *flat = malloc((size_t)n * sizeof *flat);
  cf_executor *ex = pool_new(P, spin_us);
  for (long i = 0; i < n; i++) {
    cf_future *f;
    uint64_t t0 = bench_now_ns();
    check(cf_submit(ex, noop, NULL, &f), "cf_submit");
    check(cf_future_result(f, -1, NULL), "cf_future_result");
    lat[i] = (double)(bench_now_ns() - t0);
    cf_future_release(f);
    if (floor && (i + 1) % chunk == 0)
      for (long k = i + 1 - chunk; k <= i; k++)
        flat[k] = bench_pingpong_round(floor);
  }
  pool_free_checked(ex, n);
  if (floor && n >= chunk) {
    size_t m = (size_t)(n - n % chunk);
    double ours = bench_quantile(lat, m, 0.5);
    double theirs = bench_quantile(flat, m, 0.5);
    bench_emit("W2", "median / futex ping-pong, interleaved", IMPL,
               ours / theirs, "x", "lower");
  }
  bench_report_w2(IMPL, prefix, lat, (size_t)n);
  free(lat);
  free(flat);
}

static int run_w2(const bench_args *a) {
  int P = a->pool ? a->pool : 1;
  long n = bench_args_n(a, 100000, 20000);
  if (strcmp(a->variant, "spin") == 0) {
    /* The opt-in spin: well above the default, so that a round trip of a
     * few microseconds never finds its worker asleep. */
    w2_pass(P, SPIN_US, n, "spin ", NULL);
    return 0;
  }
  bench_pingpong *floor = bench_pingpong_start(1);
  w2_pass(P, -1, n, "", floor);
  if (floor)
    bench_pingpong_stop(floor);
  return 0;
}

static uint64_t w3_iters;

static int spin_task(void *arg, void **result) {
  *result = (void *)(uintptr_t)bench_spin_work(w3_iters, (uintptr_t)arg);
  return 0;
}

static int run_w3(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, BENCH_W3_TASKS, BENCH_W3_TASKS_QUICK);
  w3_iters = bench_spin_calibrate(BENCH_W3_TASK_MS);
  uintptr_t sink = 0;
  uint64_t t0 = bench_thread_cpu_ns();
  for (long i = 0; i < n; i++) {
    void *r;
    spin_task((void *)(uintptr_t)(i + 1), &r);
    sink += (uintptr_t)r;
  }
  uint64_t serial = bench_thread_cpu_ns() - t0;

  cf_future **fs = malloc((size_t)n * sizeof *fs);
  cf_executor *ex = pool_new(P, -1);
  t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    check(cf_submit(ex, spin_task, (void *)(uintptr_t)(i + 1), &fs[i]),
          "cf_submit");
  for (long i = 0; i < n; i++) {
    void *r;
    check(cf_future_result(fs[i], -1, &r), "cf_future_result");
    sink -= (uintptr_t)r;
    cf_future_release(fs[i]);
  }
  uint64_t parallel = bench_now_ns() - t0;
  pool_free_checked(ex, n);
  free(fs);
  if (sink != 0)
    fprintf(stderr, "bench_cfutures W3: results differ\n");
  bench_report_w3(IMPL, P, serial, parallel);
  return 0;
}

static int run_w4(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, 100000, 20000);
  cf_future **fs = malloc((size_t)n * sizeof *fs);
  cf_executor *ex = pool_new(P, -1);

  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    check(cf_submit(ex, noop, NULL, &fs[i]), "cf_submit");
  check(cf_wait(fs, (size_t)n, -1, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL),
        "cf_wait");
  for (long i = 0; i < n; i++)
    cf_future_release(fs[i]);
  bench_report_w4(IMPL, "wait-all", n, bench_now_ns() - t0);

  t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    check(cf_submit(ex, noop, NULL, &fs[i]), "cf_submit");
  cf_as_completed *it;
  check(cf_as_completed_new(fs, (size_t)n, -1, &it), "cf_as_completed_new");
  /* The iterator holds its own references; ours can go now. */
  for (long i = 0; i < n; i++)
    cf_future_release(fs[i]);
  long got = 0;
  cf_future *f;
  int rc;
  while ((rc = cf_as_completed_next(it, &f)) == 0) {
    cf_future_release(f);
    got++;
  }
  cf_as_completed_free(it);
  bench_report_w4(IMPL, "as-completed", n, bench_now_ns() - t0);
  if (rc != CF_EOF || got != n)
    fprintf(stderr, "bench_cfutures W4: as-completed gave %ld of %ld (%s)\n",
            got, n, cf_strerror(rc));
  pool_free_checked(ex, 2 * n);
  free(fs);
  return 0;
}

static bench_gate gate;

static int gate_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  bench_gate_wait(&gate);
  return 0;
}

static int run_mem(const bench_args *a) {
  long n = bench_args_n(a, 1000000, 200000);
  int with_futures = strcmp(a->variant, "nofuture") != 0;
  cf_future **fs = malloc((size_t)n * sizeof *fs);
  memset(fs, 0, (size_t)n * sizeof *fs); /* touched: not counted below */
  bench_gate_init(&gate);
  cf_executor *ex = pool_new(1, -1);
  check(cf_submit(ex, gate_task, NULL, NULL), "cf_submit");
  size_t before = bench_rss_bytes();
  for (long i = 0; i < n; i++)
    check(cf_submit(ex, noop, NULL, with_futures ? &fs[i] : NULL), "cf_submit");
  size_t after = bench_rss_bytes();
  bench_gate_open(&gate);
  if (with_futures) {
    check(cf_wait(fs, (size_t)n, -1, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL),
          "cf_wait");
    for (long i = 0; i < n; i++)
      cf_future_release(fs[i]);
  }
  pool_free_checked(ex, n + 1);
  bench_report_mem(IMPL, with_futures ? "task+future" : "task", n, before,
                   after);
  bench_gate_destroy(&gate);
  free(fs);
  return 0;
}

int main(int argc, char **argv) {
  static const bench_workload ws[] = {{"W1", run_w1},
                                      {"W2", run_w2},
                                      {"W3", run_w3},
                                      {"W4", run_w4},
                                      {"MEM", run_mem}};
  return bench_main(argc, argv, ws, sizeof ws / sizeof ws[0]);
}
