/* SPDX-License-Identifier: MIT */
/*
 * GLib's GThreadPool on W1-W3 and the memory probe.
 *
 * The pool is created the way GLib's documentation suggests for a private
 * pool: g_thread_pool_new(func, user_data, P, exclusive = FALSE). Results
 * come back the GLib way, through a GAsyncQueue the task pushes onto and
 * the submitter pops from. GThreadPool cannot carry NULL task data, so
 * no-op tasks carry a dummy non-NULL pointer.
 */
#include "bench_report.h"
#include "bench_util.h"

#include <glib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const IMPL = "glib";

static GThreadPool *pool_new(GFunc fn, gpointer user_data, int P) {
  GError *err = NULL;
  GThreadPool *p = g_thread_pool_new(fn, user_data, P, FALSE, &err);
  if (!p) {
    fprintf(stderr, "bench_glib: g_thread_pool_new: %s\n",
            err ? err->message : "failed");
    exit(1);
  }
  return p;
}

static void push_or_die(GThreadPool *p, gpointer data) {
  GError *err = NULL;
  if (!g_thread_pool_push(p, data, &err)) {
    fprintf(stderr, "bench_glib: g_thread_pool_push: %s\n",
            err ? err->message : "failed");
    exit(1);
  }
}

static void noop(gpointer data, gpointer user_data) {
  (void)data;
  (void)user_data;
}

/* Replies to the queue given as the pool's user data. */
static void noop_reply(gpointer data, gpointer user_data) {
  g_async_queue_push(user_data, data);
}

static int run_w1(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, 1000000, 200000);
  GThreadPool *p = pool_new(noop, NULL, P);
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++)
    push_or_die(p, GINT_TO_POINTER(1));
  /* immediate = FALSE runs every queued task; wait = TRUE waits for them. */
  g_thread_pool_free(p, FALSE, TRUE);
  bench_report_w1(IMPL, P, "", n, bench_now_ns() - t0);
  return 0;
}

static int run_w2(const bench_args *a) {
  int P = a->pool ? a->pool : 1;
  long n = bench_args_n(a, 100000, 20000);
  double *lat = malloc((size_t)n * sizeof *lat);
  GAsyncQueue *replies = g_async_queue_new();
  GThreadPool *p = pool_new(noop_reply, replies, P);
  for (long i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    push_or_die(p, GINT_TO_POINTER(1));
    g_async_queue_pop(replies);
    lat[i] = (double)(bench_now_ns() - t0);
  }
  g_thread_pool_free(p, FALSE, TRUE);
  g_async_queue_unref(replies);
  bench_report_w2(IMPL, "", lat, (size_t)n);
  free(lat);
  return 0;
}

static uint64_t w3_iters;

typedef struct spin_item {
  uint64_t seed, result;
} spin_item;

static void spin_task(gpointer data, gpointer user_data) {
  spin_item *it = data;
  it->result = bench_spin_work(w3_iters, it->seed);
  g_async_queue_push(user_data, it);
}

static int run_w3(const bench_args *a) {
  int P = a->pool ? a->pool : 2;
  long n = bench_args_n(a, BENCH_W3_TASKS, BENCH_W3_TASKS_QUICK);
  w3_iters = bench_spin_calibrate(BENCH_W3_TASK_MS);
  uint64_t sink = 0;
  uint64_t t0 = bench_thread_cpu_ns();
  for (long i = 0; i < n; i++)
    sink += bench_spin_work(w3_iters, (uint64_t)i + 1);
  uint64_t serial = bench_thread_cpu_ns() - t0;
  spin_item *items = calloc((size_t)n, sizeof *items);
  GAsyncQueue *replies = g_async_queue_new();
  GThreadPool *p = pool_new(spin_task, replies, P);
  t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    items[i].seed = (uint64_t)i + 1;
    push_or_die(p, &items[i]);
  }
  for (long i = 0; i < n; i++) {
    spin_item *it = g_async_queue_pop(replies);
    sink -= it->result;
  }
  uint64_t parallel = bench_now_ns() - t0;
  g_thread_pool_free(p, FALSE, TRUE);
  g_async_queue_unref(replies);
  free(items);
  if (sink != 0)
    fprintf(stderr, "bench_glib W3: results differ\n");
  bench_report_w3(IMPL, P, serial, parallel);
  return 0;
}

static bench_gate gate;

static void gate_or_noop(gpointer data, gpointer user_data) {
  (void)user_data;
  if (data == &gate)
    bench_gate_wait(&gate);
}

static int run_mem(const bench_args *a) {
  long n = bench_args_n(a, 1000000, 200000);
  bench_gate_init(&gate);
  GThreadPool *p = pool_new(gate_or_noop, NULL, 1);
  push_or_die(p, &gate);
  size_t before = bench_rss_bytes();
  for (long i = 0; i < n; i++)
    push_or_die(p, GINT_TO_POINTER(1));
  size_t after = bench_rss_bytes();
  bench_gate_open(&gate);
  g_thread_pool_free(p, FALSE, TRUE);
  bench_report_mem(IMPL, "task", n, before, after);
  bench_gate_destroy(&gate);
  return 0;
}

int main(int argc, char **argv) {
  static const bench_workload ws[] = {
      {"W1", run_w1}, {"W2", run_w2}, {"W3", run_w3}, {"MEM", run_mem}};
  return bench_main(argc, argv, ws, sizeof ws / sizeof ws[0]);
}
