/* SPDX-License-Identifier: MIT */
/*
 * W6, the event-loop bridge: from a loop thread, submit a no-op and get its
 * completion back on the loop; median and p99 round trip in us. Then a
 * burst: 1000 submits at once, and how many loop iterations it took to get
 * all 1000 completions back (one wake per batch, not per task).
 *
 *   bench_w6 --workload W6                     cfutures: cf_bridge on a
 *                                              libuv loop (cfutures_uv)
 *   bench_w6 --workload W6 --variant epoll     cfutures: cf_bridge on a
 *                                              bare epoll loop
 *   bench_w6 --workload W6 --variant libuv     libuv: uv_queue_work
 *
 * Both peers use one worker thread (--pool to change), and the same loop
 * library for the loop itself, so the difference is the completion path:
 * uv_queue_work's uv_async against the bridge's eventfd + uv_poll_t.
 */
#include "bench_util.h"

#include <cfutures.h>
#include <cfutures/uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum { BURST = 1000 };

typedef struct run {
  uv_loop_t *loop;
  const char *impl;
  const char *prefix; /* case name prefix */
  /* round trips */
  long n, warmup, i;
  double *samples;
  uint64_t t0;
  /* burst */
  int burst_left;
  long iterations;
  uint64_t burst_t0, burst_ns;
  /* cfutures */
  cf_executor *pool;
  cf_uv_bridge ub;
  cf_bridge *b;
  size_t dispatches;
  /* libuv */
  uv_work_t reqs[BURST];
  uv_prepare_t prepare;
} run;

static run R;

static int noop(void *arg, void **result) {
  *result = arg;
  return 0;
}

static void noop_work(uv_work_t *req) {
  (void)req;
}

static void on_iteration(uv_prepare_t *p) {
  (void)p;
  R.iterations++;
}

/* ---- cfutures: the bridge ---- */

static void cf_next(void);

static void cf_burst_done(cf_future *f, int status, void *ud) {
  (void)f;
  (void)status;
  (void)ud;
  if (--R.burst_left == 0) {
    R.burst_ns = bench_now_ns() - R.burst_t0;
    if (R.loop != NULL)
      cf_uv_bridge_close(&R.ub, NULL);
  }
}

static void cf_burst(void) {
  R.burst_left = BURST;
  R.iterations = 0;
  R.burst_t0 = bench_now_ns();
  for (int k = 0; k < BURST; k++)
    if (cf_bridge_submit(R.b, R.pool, noop, NULL, cf_burst_done, NULL, NULL) !=
        0)
      exit(1);
}

static void cf_round_trip_done(cf_future *f, int status, void *ud) {
  (void)f;
  (void)status;
  (void)ud;
  uint64_t t = bench_now_ns();
  if (R.i >= R.warmup)
    R.samples[R.i - R.warmup] = (double)(t - R.t0);
  R.i++;
  if (R.i < R.warmup + R.n)
    cf_next();
  else
    cf_burst();
}

static void cf_next(void) {
  R.t0 = bench_now_ns();
  if (cf_bridge_submit(R.b, R.pool, noop, NULL, cf_round_trip_done, NULL,
                       NULL) != 0)
    exit(1);
}

static void run_cfutures_uv(void) {
  R.loop = uv_default_loop();
  if (cf_uv_bridge_init(R.loop, &R.ub) != 0)
    exit(1);
  R.ub.max_per_dispatch = 0;
  R.b = R.ub.bridge;
  uv_prepare_init(R.loop, &R.prepare);
  uv_prepare_start(&R.prepare, on_iteration);
  uv_unref((uv_handle_t *)&R.prepare);
  cf_next();
  uv_run(R.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&R.prepare, NULL);
  uv_run(R.loop, UV_RUN_DEFAULT);
  uv_loop_close(R.loop);
}

static void run_cfutures_epoll(void) {
  if (cf_bridge_new(&R.b) != 0)
    exit(1);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  epoll_ctl(ep, EPOLL_CTL_ADD, cf_bridge_fd(R.b), &ev);
  cf_next();
  while (R.i < R.warmup + R.n || R.burst_left > 0) {
    struct epoll_event out;
    epoll_wait(ep, &out, 1, -1);
    R.iterations++;
    cf_bridge_dispatch(R.b, 0, NULL);
  }
  close(ep);
  cf_bridge_free(R.b);
}

/* ---- libuv: uv_queue_work ---- */

static void uv_next(void);

static void uv_burst_done(uv_work_t *req, int status) {
  (void)req;
  (void)status;
  if (--R.burst_left == 0)
    R.burst_ns = bench_now_ns() - R.burst_t0;
}

static void uv_round_trip_done(uv_work_t *req, int status) {
  (void)req;
  (void)status;
  uint64_t t = bench_now_ns();
  if (R.i >= R.warmup)
    R.samples[R.i - R.warmup] = (double)(t - R.t0);
  R.i++;
  if (R.i < R.warmup + R.n) {
    uv_next();
    return;
  }
  R.burst_left = BURST;
  R.iterations = 0;
  R.burst_t0 = bench_now_ns();
  for (int k = 0; k < BURST; k++)
    uv_queue_work(R.loop, &R.reqs[k], noop_work, uv_burst_done);
}

static void uv_next(void) {
  R.t0 = bench_now_ns();
  uv_queue_work(R.loop, &R.reqs[0], noop_work, uv_round_trip_done);
}

static void run_libuv(int workers) {
  char buf[16];
  snprintf(buf, sizeof buf, "%d", workers);
  setenv("UV_THREADPOOL_SIZE", buf, 1);
  R.loop = uv_default_loop();
  uv_prepare_init(R.loop, &R.prepare);
  uv_prepare_start(&R.prepare, on_iteration);
  uv_unref((uv_handle_t *)&R.prepare);
  uv_next();
  uv_run(R.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&R.prepare, NULL);
  uv_run(R.loop, UV_RUN_DEFAULT);
  uv_loop_close(R.loop);
}

int main(int argc, char **argv) {
  bench_args a;
  if (bench_args_parse(argc, argv, &a) != 0)
    return 2;
  if (strcmp(a.workload, "W6") != 0)
    return bench_unsupported(argv[0], a.workload);
  int workers = a.pool > 0 ? a.pool : 1;
  R.n = bench_args_n(&a, 20000, 2000);
  R.warmup = R.n / 10;
  R.samples = calloc((size_t)R.n, sizeof *R.samples);
  if (R.samples == NULL)
    return 1;
  const char *impl = "cfutures";
  const char *prefix = "";
  if (strcmp(a.variant, "libuv") == 0) {
    impl = "libuv";
    run_libuv(workers);
  } else {
    cf_thread_pool_options o;
    cf_thread_pool_options_init(&o);
    o.max_workers = workers;
    if (cf_thread_pool_new(&o, &R.pool) != 0)
      return 1;
    if (strcmp(a.variant, "epoll") == 0) {
      prefix = "epoll ";
      run_cfutures_epoll();
    } else if (a.variant[0] == '\0') {
      run_cfutures_uv();
    } else {
      fprintf(stderr, "%s: unknown variant %s\n", argv[0], a.variant);
      return 2;
    }
    cf_executor_free(R.pool);
  }
  char kase[64];
  snprintf(kase, sizeof kase, "%sround trip median", prefix);
  bench_emit("W6", kase, impl,
             bench_quantile(R.samples, (size_t)R.n, 0.5) / 1e3, "us", "lower");
  snprintf(kase, sizeof kase, "%sround trip p99", prefix);
  bench_emit("W6", kase, impl,
             bench_quantile(R.samples, (size_t)R.n, 0.99) / 1e3, "us", "lower");
  snprintf(kase, sizeof kase, "%sburst 1000: us per task", prefix);
  bench_emit("W6", kase, impl, (double)R.burst_ns / 1e3 / BURST, "us", "lower");
  snprintf(kase, sizeof kase, "%sburst 1000: loop iterations", prefix);
  bench_emit("W6", kase, impl, (double)R.iterations, "iterations", "lower");
  free(R.samples);
  return 0;
}
