/* SPDX-License-Identifier: MIT */
/*
 * libuv's thread pool (uv_queue_work) on W1-W3 and the memory probe.
 *
 * libuv sizes its pool once, from UV_THREADPOOL_SIZE, on the first
 * uv_queue_work of the process: so the pool size is set in the environment
 * here before anything else, and the runner starts one process per size.
 *
 * The natural libuv usage, used throughout: the submitting thread is the
 * loop thread. It queues work and then runs the loop, which sleeps in
 * epoll until the pool's uv_async wakes it, and runs each after_work
 * callback on the loop thread. A round trip (W2) is therefore queue ->
 * worker -> async wake-up of the loop -> after_work, which is what a libuv
 * program pays to get a result back.
 */
#include "bench_report.h"
#include "bench_util.h"

#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const IMPL = "libuv";

static void set_pool_size(int P) {
  char buf[16];
  snprintf(buf, sizeof buf, "%d", P);
  setenv("UV_THREADPOOL_SIZE", buf, 1);
}

static void noop_work(uv_work_t *req) {
  (void)req;
}

static void free_after(uv_work_t *req, int status) {
  (void)status;
  free(req);
}

static void queue_or_die(uv_loop_t *loop, uv_work_t *req, uv_work_cb work,
                         uv_after_work_cb after) {
  int rc = uv_queue_work(loop, req, work, after);
  if (rc != 0) {
    fprintf(stderr, "bench_libuv: uv_queue_work: %s\n", uv_strerror(rc));
    exit(1);
  }
}

static int run_w1(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, 1000000, 200000);
  set_pool_size(P);
  uv_loop_t *loop = uv_default_loop();
  uint64_t t0 = bench_now_ns();
  /* One malloc'ed request per task, freed in after_work: the request must
   * outlive the call and nothing else owns it. */
  for (long i = 0; i < n; i++)
    queue_or_die(loop, malloc(sizeof(uv_work_t)), noop_work, free_after);
  uv_run(loop, UV_RUN_DEFAULT);
  bench_report_w1(IMPL, P, "", n, bench_now_ns() - t0);
  uv_loop_close(loop);
  return 0;
}

static int run_w2(const bench_args *a) {
  int P = a->pool ? a->pool : 1;
  long n = bench_args_n(a, 100000, 20000);
  set_pool_size(P);
  uv_loop_t *loop = uv_default_loop();
  double *lat = malloc((size_t)n * sizeof *lat);
  uv_work_t req;
  for (long i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    queue_or_die(loop, &req, noop_work, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    lat[i] = (double)(bench_now_ns() - t0);
  }
  bench_report_w2(IMPL, "", lat, (size_t)n);
  free(lat);
  uv_loop_close(loop);
  return 0;
}

static uint64_t w3_iters;

typedef struct spin_req {
  uv_work_t req;
  uint64_t seed, result;
} spin_req;

static void spin_work(uv_work_t *req) {
  spin_req *s = (spin_req *)req;
  s->result = bench_spin_work(w3_iters, s->seed);
}

static int run_w3(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, BENCH_W3_TASKS, BENCH_W3_TASKS_QUICK);
  set_pool_size(P);
  w3_iters = bench_spin_calibrate(BENCH_W3_TASK_MS);
  uint64_t sink = 0;
  uint64_t t0 = bench_thread_cpu_ns();
  for (long i = 0; i < n; i++)
    sink += bench_spin_work(w3_iters, (uint64_t)i + 1);
  uint64_t serial = bench_thread_cpu_ns() - t0;
  spin_req *reqs = calloc((size_t)n, sizeof *reqs);
  uv_loop_t *loop = uv_default_loop();
  t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    reqs[i].seed = (uint64_t)i + 1;
    queue_or_die(loop, &reqs[i].req, spin_work, NULL);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uint64_t parallel = bench_now_ns() - t0;
  for (long i = 0; i < n; i++)
    sink -= reqs[i].result;
  if (sink != 0)
    fprintf(stderr, "bench_libuv W3: results differ\n");
  bench_report_w3(IMPL, P, serial, parallel);
  free(reqs);
  uv_loop_close(loop);
  return 0;
}

static bench_gate gate;

static void gate_work(uv_work_t *req) {
  (void)req;
  bench_gate_wait(&gate);
}

static int run_mem(const bench_args *a) {
  long n = bench_args_n(a, 1000000, 200000);
  set_pool_size(1);
  bench_gate_init(&gate);
  uv_loop_t *loop = uv_default_loop();
  uv_work_t gate_req;
  queue_or_die(loop, &gate_req, gate_work, NULL);
  size_t before = bench_rss_bytes();
  for (long i = 0; i < n; i++)
    queue_or_die(loop, malloc(sizeof(uv_work_t)), noop_work, free_after);
  size_t after = bench_rss_bytes();
  bench_gate_open(&gate);
  uv_run(loop, UV_RUN_DEFAULT);
  bench_report_mem(IMPL, "task", n, before, after);
  bench_gate_destroy(&gate);
  uv_loop_close(loop);
  return 0;
}

int main(int argc, char **argv) {
  static const bench_workload ws[] = {
      {"W1", run_w1}, {"W2", run_w2}, {"W3", run_w3}, {"MEM", run_mem}};
  return bench_main(argc, argv, ws, sizeof ws / sizeof ws[0]);
}
