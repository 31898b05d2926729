/* SPDX-License-Identifier: MIT */
/* Thread pools: options, lazy workers, names, bounded queues, shutdown in
 * its three forms, initializers, stats, resize, deadlock avoidance. The
 * scenarios follow CPython's test_thread_pool.py, test_shutdown.py,
 * test_init.py and test_deadlock.py where they apply to threads. */
#include "harness.h"

#include <string.h>

static cf_executor *pool_with(cf_thread_pool_options *o) {
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_thread_pool_new(o, &ex), 0);
  ck_assert_ptr_nonnull(ex);
  return ex;
}

static cf_executor_stats stats_of(cf_executor *ex) {
  cf_executor_stats st;
  memset(&st, 0xff, sizeof st);
  ck_assert_int_eq(cf_executor_stats_get(ex, &st), 0);
  return st;
}

typedef struct {
  cf_executor *ex;
  size_t workers, idle, queued, running;
} want_stats;

/* Polls until the stats match (SIZE_MAX = any). */
static bool stats_match(void *p) {
  want_stats *w = p;
  cf_executor_stats st;
  if (cf_executor_stats_get(w->ex, &st) != 0)
    return false;
  return (w->workers == SIZE_MAX || st.workers == w->workers) &&
         (w->idle == SIZE_MAX || st.idle == w->idle) &&
         (w->queued == SIZE_MAX || st.queued == w->queued) &&
         (w->running == SIZE_MAX || st.running == w->running);
}

/* Waits for the stats to match; on failure the message shows the last
 * snapshot. */
#define wait_stats(ex, w_, i_, q_, r_)                                         \
  do {                                                                         \
    want_stats want_ = {(ex), (w_), (i_), (q_), (r_)};                         \
    bool met_ = cf_test_poll(stats_match, &want_, 10);                         \
    cf_executor_stats st_ = stats_of(ex);                                      \
    ck_assert_msg(met_,                                                        \
                  "stats: workers %zu idle %zu queued %zu running %zu; "       \
                  "want %zu %zu %zu %zu (SIZE_MAX = any)",                     \
                  st_.workers, st_.idle, st_.queued, st_.running,              \
                  (size_t)(w_), (size_t)(i_), (size_t)(q_), (size_t)(r_));     \
  } while (0)

/* Waits for k tasks parked on gate g; on failure the message shows the
 * pool's stats. */
#define wait_arrivals(ex, g, k)                                                \
  do {                                                                         \
    bool ok_ = cf_test_gate_wait_arrivals((g), (k), cf_test_scale(10));        \
    cf_executor_stats sa_ = stats_of(ex);                                      \
    ck_assert_msg(ok_,                                                         \
                  "%d of %d tasks started: workers %zu idle %zu queued %zu "   \
                  "running %zu max_workers %zu",                               \
                  cf_test_gate_arrivals(g), (int)(k), sa_.workers, sa_.idle,   \
                  sa_.queued, sa_.running, sa_.max_workers);                   \
  } while (0)

/* ---- options ---- */

START_TEST(test_options_defaults) {
  cf_thread_pool_options_init(NULL);
  cf_thread_pool_options o;
  memset(&o, 0x5a, sizeof o);
  cf_thread_pool_options_init(&o);
  int cpus = cf_cpu_count();
  int want = cpus + 4 < 32 ? cpus + 4 : 32;
  ck_assert_int_eq(o.max_workers, want);
  ck_assert_ptr_null(o.thread_name_prefix);
  ck_assert_ptr_null(o.initializer);
  ck_assert_uint_eq(o.max_queued, 0);
  ck_assert_uint_eq(o.flags, 0);
  ck_assert_uint_eq(o.spin_us, 50);
  /* NULL options give the same defaults. */
  cf_executor *ex = pool_with(NULL);
  cf_executor_stats st = stats_of(ex);
  ck_assert_uint_eq(st.max_workers, (size_t)want);
  ck_assert_uint_eq(st.workers, 0);
  ck_assert_uint_eq(st.submitted, 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_options_invalid) {
  cf_thread_pool_options o;
  cf_executor *ex = (cf_executor *)(uintptr_t)0x1;
  ck_assert_int_eq(cf_thread_pool_new(NULL, NULL), CF_EINVAL);
  cf_thread_pool_options_init(&o);
  ck_assert_int_eq(cf_thread_pool_new(&o, NULL), CF_EINVAL);
  o.max_workers = 0;
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), CF_EINVAL);
  o.max_workers = -3;
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), CF_EINVAL);
  cf_thread_pool_options_init(&o);
  o.flags = 1u << 7;
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), CF_EINVAL);
  o.flags = CF_POOL_NONBLOCK | (1u << 30);
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), CF_EINVAL);
  ck_assert_ptr_eq(ex, (cf_executor *)(uintptr_t)0x1);
}
END_TEST

START_TEST(test_null_everywhere) {
  cf_executor *ex = cf_test_pool(1);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(NULL, cf_test_task_identity, NULL, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit(ex, NULL, NULL, &f), CF_EINVAL);
  ck_assert_ptr_null(f);
  ck_assert_int_eq(cf_shutdown(NULL, 0), CF_EINVAL);
  ck_assert_int_eq(cf_shutdown(ex, 1u << 9), CF_EINVAL);
  ck_assert_int_eq(cf_executor_free(NULL), CF_EINVAL);
  cf_executor_stats st;
  ck_assert_int_eq(cf_executor_stats_get(NULL, &st), CF_EINVAL);
  ck_assert_int_eq(cf_executor_stats_get(ex, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_executor_resize(NULL, 2), CF_EINVAL);
  ck_assert_int_eq(cf_executor_resize(ex, 0), CF_EINVAL);
  ck_assert_int_eq(cf_executor_resize(ex, -1), CF_EINVAL);
  /* The pool still works after all that. */
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, ex, &f), 0);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), &out), 0);
  ck_assert_ptr_eq(out, ex);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* ---- basic use ---- */

START_TEST(test_submit_many) {
  cf_executor *ex = cf_test_pool(4);
  enum { N = 200 };
  cf_future *fs[N];
  for (intptr_t i = 0; i < N; i++)
    ck_assert_int_eq(
        cf_submit(ex, cf_test_task_identity, (void *)(i + 1), &fs[i]), 0);
  for (intptr_t i = 0; i < N; i++) {
    void *out = NULL;
    ck_assert_int_eq(cf_future_result(fs[i], cf_test_scale(10), &out), 0);
    ck_assert_ptr_eq(out, (void *)(i + 1));
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_submit_without_future) {
  cf_executor *ex = cf_test_pool(2);
  atomic_int n = 0;
  for (int i = 0; i < 20; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &n, NULL), 0);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_fail, (void *)(intptr_t)-5, NULL),
                   0);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(atomic_load(&n), 20);
  cf_executor_stats st = stats_of(ex);
  ck_assert_uint_eq(st.submitted, 21);
  ck_assert_uint_eq(st.completed, 20);
  ck_assert_uint_eq(st.failed, 1);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* ---- thread names ---- */

static int task_thread_name(void *arg, void **result) {
  char *buf = arg;
  if (pthread_getname_np(pthread_self(), buf, 16) != 0)
    return CF_ETASK;
  *result = buf;
  return 0;
}

static void check_name(const char *prefix, const char *want_start) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = 1;
  o.thread_name_prefix = prefix;
  cf_executor *ex = pool_with(&o);
  char buf[16] = "";
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_thread_name, buf, &f), 0);
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), NULL), 0);
  ck_assert_msg(strncmp(buf, want_start, strlen(want_start)) == 0,
                "thread name '%s' does not start with '%s'", buf, want_start);
  ck_assert_uint_le(strlen(buf), 15);
  cf_future_release(f);
  cf_executor_free(ex);
}

START_TEST(test_thread_names) {
  check_name(NULL, "cf_");
  check_name("crunch", "crunch_");
  /* Copied: the caller's buffer may change after cf_thread_pool_new. */
  char prefix[16] = "mine";
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.thread_name_prefix = prefix;
  o.max_workers = 1;
  cf_executor *ex = pool_with(&o);
  strcpy(prefix, "XXXX");
  char buf[16] = "";
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_thread_name, buf, &f), 0);
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), NULL), 0);
  ck_assert_msg(strncmp(buf, "mine_", 5) == 0, "name '%s'", buf);
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_thread_name_truncated) {
  /* The kernel keeps 15 bytes: either the tail or the prefix gives way. */
  check_name("averyveryverylongprefix", "averyver");
}
END_TEST

/* ---- lazy workers ---- */

START_TEST(test_workers_lazy_and_reused) {
  int base = cf_test_count_threads();
  cf_executor *ex = cf_test_pool(4);
  ck_assert_uint_eq(stats_of(ex).workers, 0);
  ck_assert_int_eq(cf_test_count_threads(), base);
  for (int i = 0; i < 10; i++) {
    cf_future *f = NULL;
    ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, NULL, &f), 0);
    ck_assert_int_eq(cf_future_wait(f, cf_test_scale(10)), 0);
    cf_future_release(f);
    /* Once the worker is idle again, the next submit reuses it. */
    wait_stats(ex, 1, 1, 0, 0);
  }
  ck_assert_uint_eq(stats_of(ex).workers, 1);
  ck_assert_int_eq(cf_test_count_threads(), base + 1);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert_int_eq(cf_test_settle_threads(base, 2), base);
}
END_TEST

/* 15 x N blocked tasks on N workers: exactly N threads. */
START_TEST(test_saturation) {
  enum { W = 3, N = 15 * W };
  int base = cf_test_count_threads();
  cf_executor *ex = cf_test_pool(W);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *fs[N];
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[i]), 0);
  wait_arrivals(ex, &g, W);
  wait_stats(ex, W, 0, N - W, W);
  ck_assert_int_eq(cf_test_count_threads(), base + W);
  cf_executor_stats st = stats_of(ex);
  ck_assert_uint_eq(st.submitted, N);
  ck_assert_uint_eq(st.max_workers, W);
  cf_test_gate_open(&g);
  for (int i = 0; i < N; i++) {
    void *out = NULL;
    ck_assert_int_eq(cf_future_result(fs[i], cf_test_scale(10), &out), 0);
    ck_assert_ptr_eq(out, &g);
    cf_future_release(fs[i]);
  }
  ck_assert_uint_eq(stats_of(ex).workers, W);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert_int_eq(cf_test_settle_threads(base, 2), base);
  cf_test_gate_destroy(&g);
}
END_TEST

/* Blocking tasks submitted in a burst to a pool whose one worker is idle
 * (asleep, or polling for work) must each get a worker, up to
 * max_workers: otherwise tasks that wait for each other never finish. */
static void check_burst_on_idle_pool(unsigned spin_us) {
  enum { W = 3 };
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = W;
  o.spin_us = spin_us;
  cf_executor *ex = pool_with(&o);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, NULL, &f), 0);
  ck_assert_int_eq(cf_future_wait(f, cf_test_scale(10)), 0);
  cf_future_release(f);
  wait_stats(ex, SIZE_MAX, SIZE_MAX, 0, 0);
  if (spin_us == 0)
    cf_test_sleep_ms(20); /* asleep on its condition variable by now */
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *fs[W];
  for (int i = 0; i < W; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[i]), 0);
  bool all = cf_test_gate_wait_arrivals(&g, W, cf_test_scale(5));
  cf_executor_stats st = stats_of(ex);
  cf_test_gate_open(&g);
  ck_assert_msg(all,
                "%d of %d blocking tasks started on a %d-worker pool "
                "(spin_us %u): workers %zu running %zu queued %zu",
                cf_test_gate_arrivals(&g), W, W, spin_us, st.workers,
                st.running, st.queued);
  for (int i = 0; i < W; i++) {
    ck_assert_int_eq(cf_future_wait(fs[i], cf_test_scale(10)), 0);
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&g);
}

START_TEST(test_burst_on_sleeping_worker) {
  check_burst_on_idle_pool(0);
}
END_TEST

START_TEST(test_burst_on_spinning_worker) {
  check_burst_on_idle_pool(2000000);
}
END_TEST

/* ---- stats ---- */

START_TEST(test_stats_counters) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *blocker = NULL, *ok = NULL, *bad = NULL, *gone = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &blocker), 0);
  wait_arrivals(ex, &g, 1);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, NULL, &ok), 0);
  ck_assert_int_eq(
      cf_submit(ex, cf_test_task_fail, (void *)(intptr_t)CF_ETASK, &bad), 0);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, NULL, &gone), 0);
  cf_executor_stats st = stats_of(ex);
  ck_assert_uint_eq(st.workers, 1);
  ck_assert_uint_eq(st.idle, 0);
  ck_assert_uint_eq(st.running, 1);
  ck_assert_uint_eq(st.queued, 3);
  ck_assert_uint_eq(st.submitted, 4);
  ck_assert_uint_eq(st.max_workers, 1);
  ck_assert(cf_future_cancel(gone));
  st = stats_of(ex);
  ck_assert_uint_eq(st.queued, 2);
  ck_assert_uint_eq(st.cancelled, 1);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_future_wait(ok, cf_test_scale(10)), 0);
  ck_assert_int_eq(cf_future_wait(bad, cf_test_scale(10)), 0);
  wait_stats(ex, 1, 1, 0, 0);
  st = stats_of(ex);
  ck_assert_uint_eq(st.submitted, 4);
  ck_assert_uint_eq(st.completed, 2);
  ck_assert_uint_eq(st.failed, 1);
  ck_assert_uint_eq(st.cancelled, 1);
  cf_future_release(blocker);
  cf_future_release(ok);
  cf_future_release(bad);
  cf_future_release(gone);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&g);
}
END_TEST

/* ---- bounded queue ---- */

static cf_executor *bounded_pool(size_t max_queued, unsigned flags) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = 1;
  o.max_queued = max_queued;
  o.flags = flags;
  return pool_with(&o);
}

START_TEST(test_bounded_queue_nonblock) {
  cf_executor *ex = bounded_pool(2, CF_POOL_NONBLOCK);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *fs[3] = {NULL, NULL, NULL};
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[0]), 0);
  wait_arrivals(ex, &g, 1);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[1]), 0);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[2]), 0);
  cf_future *extra = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &extra), CF_EAGAIN);
  ck_assert_ptr_null(extra);
  ck_assert_uint_eq(stats_of(ex).submitted, 3);
  /* Cancelling a queued task frees a slot. */
  ck_assert(cf_future_cancel(fs[2]));
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &extra), 0);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_future_wait(extra, cf_test_scale(10)), 0);
  for (int i = 0; i < 3; i++)
    cf_future_release(fs[i]);
  cf_future_release(extra);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&g);
}
END_TEST

typedef struct {
  cf_executor *ex;
  cf_test_gate *g;
  atomic_int returned;
  int rc;
  cf_future *f;
} blocked_submit;

static void *blocked_submit_main(void *p) {
  blocked_submit *b = p;
  b->rc = cf_submit(b->ex, cf_test_task_gate, b->g, &b->f);
  atomic_store(&b->returned, 1);
  return NULL;
}

START_TEST(test_bounded_queue_blocks) {
  cf_executor *ex = bounded_pool(1, 0);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *a = NULL, *b = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &a), 0);
  wait_arrivals(ex, &g, 1);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &b), 0);
  blocked_submit bs = {ex, &g, 0, 1, NULL};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, blocked_submit_main, &bs), 0);
  cf_test_sleep_ms(100);
  ck_assert_int_eq(atomic_load(&bs.returned), 0);
  cf_test_gate_open(&g);
  pthread_join(t, NULL);
  ck_assert_int_eq(bs.rc, 0);
  ck_assert_int_eq(cf_future_wait(bs.f, cf_test_scale(10)), 0);
  cf_future_release(a);
  cf_future_release(b);
  cf_future_release(bs.f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&g);
}
END_TEST

/* A submitter blocked on a full queue is released by shutdown. */
START_TEST(test_bounded_queue_blocked_then_shutdown) {
  cf_executor *ex = bounded_pool(1, 0);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *a = NULL, *b = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &a), 0);
  wait_arrivals(ex, &g, 1);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &b), 0);
  blocked_submit bs = {ex, &g, 0, 1, NULL};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, blocked_submit_main, &bs), 0);
  cf_test_sleep_ms(50);
  ck_assert_int_eq(cf_shutdown(ex, 0), 0);
  pthread_join(t, NULL);
  ck_assert_int_eq(bs.rc, CF_ESHUTDOWN);
  ck_assert_ptr_null(bs.f);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert_int_eq(cf_future_error(a, 0), 0);
  ck_assert_int_eq(cf_future_error(b, 0), 0);
  cf_future_release(a);
  cf_future_release(b);
  cf_test_gate_destroy(&g);
}
END_TEST

typedef struct {
  cf_executor *ex;
  cf_test_gate *go;
  int rc;
  cf_future *inner;
} worker_submit;

static int task_submit_when_full(void *arg, void **result) {
  worker_submit *w = arg;
  cf_test_gate_pass(w->go);
  w->rc = cf_submit(w->ex, cf_test_task_identity, NULL, &w->inner);
  *result = NULL;
  return 0;
}

/* A worker never waits on the bound: it could wait for itself. */
START_TEST(test_bounded_queue_worker_never_blocks) {
  cf_executor *ex = bounded_pool(1, 0);
  cf_test_gate go, g;
  cf_test_gate_init(&go);
  cf_test_gate_init(&g);
  worker_submit w = {ex, &go, 1, NULL};
  cf_future *outer = NULL, *filler = NULL;
  ck_assert_int_eq(cf_submit(ex, task_submit_when_full, &w, &outer), 0);
  wait_arrivals(ex, &go, 1);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &filler), 0);
  cf_test_gate_open(&go); /* the queue is full now */
  ck_assert_int_eq(cf_future_wait(outer, cf_test_scale(10)), 0);
  ck_assert_msg(w.rc == 0 || w.rc == CF_EAGAIN, "rc %d", w.rc);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_future_wait(filler, cf_test_scale(10)), 0);
  if (w.rc == 0) {
    ck_assert_int_eq(cf_future_wait(w.inner, cf_test_scale(10)), 0);
    cf_future_release(w.inner);
  }
  cf_future_release(outer);
  cf_future_release(filler);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&go);
  cf_test_gate_destroy(&g);
}
END_TEST

/* ---- shutdown ---- */

START_TEST(test_shutdown_wait_runs_everything) {
  cf_executor *ex = cf_test_pool(2);
  atomic_int n = 0;
  cf_future *fs[50];
  for (int i = 0; i < 50; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &n, &fs[i]), 0);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(atomic_load(&n), 50);
  for (int i = 0; i < 50; i++) {
    ck_assert_int_eq(cf_future_state(fs[i]), CF_FINISHED);
    cf_future_release(fs[i]);
  }
  cf_executor_stats st = stats_of(ex);
  ck_assert_uint_eq(st.workers, 0);
  ck_assert_uint_eq(st.completed, 50);
  cf_future *f = (cf_future *)(uintptr_t)0x1;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &n, &f), CF_ESHUTDOWN);
  ck_assert_ptr_eq(f, (cf_future *)(uintptr_t)0x1);
  ck_assert_int_eq(cf_executor_resize(ex, 4), CF_ESHUTDOWN);
  /* Again, in every form. */
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(cf_shutdown(ex, 0), 0);
  ck_assert_int_eq(
      cf_shutdown(ex, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES), 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_shutdown_nowait) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  atomic_int n = 0;
  cf_future *a = NULL, *b = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &a), 0);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &n, &b), 0);
  ck_assert_int_eq(cf_shutdown(ex, 0), 0); /* returns with work blocked */
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &n, NULL), CF_ESHUTDOWN);
  ck_assert(!cf_future_done(a));
  cf_test_gate_open(&g);
  /* Queued work still completes. */
  ck_assert_int_eq(cf_future_result(b, cf_test_scale(10), NULL), 0);
  ck_assert_int_eq(atomic_load(&n), 1);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_future_release(a);
  cf_future_release(b);
  cf_test_gate_destroy(&g);
}
END_TEST

typedef struct {
  cf_test_gate *g;
  atomic_int saw_token;
} token_task;

static int task_gate_then_token(void *arg, void **result) {
  token_task *t = arg;
  cf_test_gate_pass(t->g);
  atomic_store(&t->saw_token, cf_task_cancel_requested() ? 1 : 0);
  *result = NULL;
  return 0;
}

static void cb_count(cf_future *f, void *userdata) {
  if (cf_future_cancelled(f))
    atomic_fetch_add((atomic_int *)userdata, 1);
}

START_TEST(test_shutdown_cancel_futures) {
  enum { Q = 16 };
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  token_task tt = {&g, -1};
  atomic_int ran = 0, cancelled_cbs = 0;
  cf_future *running = NULL, *fs[Q];
  ck_assert_int_eq(cf_submit(ex, task_gate_then_token, &tt, &running), 0);
  wait_arrivals(ex, &g, 1);
  for (int i = 0; i < Q; i++) {
    ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &ran, &fs[i]), 0);
    ck_assert_int_eq(cf_future_on_done(fs[i], cb_count, &cancelled_cbs), 0);
  }
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_CANCEL_FUTURES), 0);
  /* Every queued one is cancelled and its callback has run. */
  for (int i = 0; i < Q; i++) {
    ck_assert(cf_future_cancelled(fs[i]));
    ck_assert_int_eq(cf_future_result(fs[i], 0, NULL), CF_ECANCELED);
  }
  ck_assert_int_eq(atomic_load(&cancelled_cbs), Q);
  ck_assert(!cf_future_done(running));
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  /* The running one completed, and saw its token raised. */
  ck_assert_int_eq(cf_future_result(running, 0, NULL), 0);
  ck_assert_int_eq(atomic_load(&tt.saw_token), 1);
  ck_assert_int_eq(atomic_load(&ran), 0);
  ck_assert_uint_eq(stats_of(ex).cancelled, Q);
  for (int i = 0; i < Q; i++)
    cf_future_release(fs[i]);
  cf_future_release(running);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&g);
}
END_TEST

static void *open_later(void *p) {
  cf_test_sleep_ms(50);
  cf_test_gate_open(p);
  return NULL;
}

START_TEST(test_shutdown_wait_and_cancel) {
  cf_executor *ex = cf_test_pool(2);
  cf_test_gate g;
  cf_test_gate_init(&g);
  atomic_int ran = 0;
  cf_future *blockers[2], *fs[20];
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &blockers[i]), 0);
  wait_arrivals(ex, &g, 2);
  for (int i = 0; i < 20; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &ran, &fs[i]), 0);
  pthread_t t;
  pthread_create(&t, NULL, open_later, &g);
  ck_assert_int_eq(
      cf_shutdown(ex, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES), 0);
  pthread_join(t, NULL);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(cf_future_result(blockers[i], 0, NULL), 0);
    cf_future_release(blockers[i]);
  }
  for (int i = 0; i < 20; i++) {
    ck_assert(cf_future_cancelled(fs[i]));
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(atomic_load(&ran), 0);
  ck_assert_uint_eq(stats_of(ex).workers, 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&g);
}
END_TEST

typedef struct {
  cf_executor *ex;
  int shutdown_rc;
  int free_rc;
} self_shutdown;

static int task_shutdown_self(void *arg, void **result) {
  self_shutdown *s = arg;
  s->free_rc = cf_executor_free(s->ex);
  s->shutdown_rc = cf_shutdown(s->ex, CF_SHUTDOWN_WAIT);
  *result = NULL;
  return 0;
}

START_TEST(test_shutdown_wait_from_worker) {
  cf_executor *ex = cf_test_pool(1);
  self_shutdown s = {ex, 1, 1};
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_shutdown_self, &s, &f), 0);
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), NULL), 0);
  ck_assert_int_eq(s.free_rc, CF_EDEADLK);
  ck_assert_int_eq(s.shutdown_rc, CF_EDEADLK);
  /* The shutdown was started all the same. */
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, NULL, NULL),
                   CF_ESHUTDOWN);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

static void cb_shutdown_self(cf_future *f, void *userdata) {
  (void)f;
  self_shutdown *s = userdata;
  s->shutdown_rc = cf_shutdown(s->ex, CF_SHUTDOWN_WAIT);
}

/* A done callback that runs on a worker is a worker too. */
START_TEST(test_shutdown_wait_from_callback_on_worker) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  self_shutdown s = {ex, 1, 1};
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &f), 0);
  ck_assert_int_eq(cf_future_on_done(f, cb_shutdown_self, &s), 0);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_future_wait(f, cf_test_scale(10)), 0);
  /* The callback runs after waiters wake: wait for the executor to close. */
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert_int_eq(s.shutdown_rc, CF_EDEADLK);
  cf_future_release(f);
  cf_test_gate_destroy(&g);
}
END_TEST

START_TEST(test_free_with_work_in_flight) {
  int base = cf_test_count_threads();
  int fds = cf_test_count_fds();
  cf_executor *ex = cf_test_pool(2);
  atomic_int n = 0;
  for (int i = 0; i < 30; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &n, NULL), 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert_int_eq(atomic_load(&n), 30);
  ck_assert_int_eq(cf_test_settle_threads(base, 2), base);
  ck_assert_int_eq(cf_test_count_fds(), fds);
}
END_TEST

typedef struct {
  cf_executor *ex;
  unsigned flags;
  int rc;
} shutdown_call;

static void *shutdown_main(void *p) {
  shutdown_call *c = p;
  c->rc = cf_shutdown(c->ex, c->flags);
  return NULL;
}

/* Several threads shut the pool down at once, waiting or not. */
START_TEST(test_concurrent_shutdowns) {
  enum { T = 4 };
  cf_executor *ex = cf_test_pool(2);
  atomic_int n = 0;
  cf_future *fs[40];
  for (int i = 0; i < 40; i++)
    ck_assert_int_eq(
        cf_submit(ex, cf_test_task_sleep, (void *)(intptr_t)1, &fs[i]), 0);
  shutdown_call calls[T];
  pthread_t t[T];
  for (int i = 0; i < T; i++) {
    calls[i] = (shutdown_call){ex, i % 2 ? CF_SHUTDOWN_WAIT : 0, 1};
    ck_assert_int_eq(pthread_create(&t[i], NULL, shutdown_main, &calls[i]), 0);
  }
  for (int i = 0; i < T; i++) {
    pthread_join(t[i], NULL);
    ck_assert_int_eq(calls[i].rc, 0);
  }
  /* The waiting ones returned only once everything had run. */
  for (int i = 0; i < 40; i++) {
    ck_assert_int_eq(cf_future_state(fs[i]), CF_FINISHED);
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &n, NULL), CF_ESHUTDOWN);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_futures_outlive_executor) {
  cf_executor *ex = cf_test_pool(1);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, &f, &f), 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, 0, &out), 0);
  ck_assert_ptr_eq(out, &f);
  ck_assert(!cf_future_cancel(f));
  cf_future_release(f);
}
END_TEST

/* ---- initializer ---- */

static int init_count(void *arg) {
  atomic_fetch_add((atomic_int *)arg, 1);
  return 0;
}

static _Thread_local int init_marker;

static int init_mark(void *arg) {
  init_marker = (int)(intptr_t)arg;
  return 0;
}

static int task_read_marker(void *arg, void **result) {
  (void)arg;
  *result = (void *)(intptr_t)init_marker;
  return 0;
}

START_TEST(test_initializer_runs_per_worker) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  atomic_int inits = 0;
  o.max_workers = 3;
  o.initializer = init_count;
  o.initargs = &inits;
  cf_executor *ex = pool_with(&o);
  ck_assert_int_eq(atomic_load(&inits), 0);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *fs[6];
  for (int i = 0; i < 6; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[i]), 0);
  wait_arrivals(ex, &g, 3);
  cf_test_gate_open(&g);
  for (int i = 0; i < 6; i++) {
    ck_assert_int_eq(cf_future_result(fs[i], cf_test_scale(10), NULL), 0);
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(atomic_load(&inits), 3);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&g);

  /* The initializer runs on the worker, before its first task. */
  cf_thread_pool_options_init(&o);
  o.max_workers = 1;
  o.initializer = init_mark;
  o.initargs = (void *)(intptr_t)77;
  ex = pool_with(&o);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_read_marker, NULL, &f), 0);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), &out), 0);
  ck_assert_ptr_eq(out, (void *)(intptr_t)77);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

static int init_fail(void *arg) {
  (void)arg;
  return -1;
}

START_TEST(test_initializer_failure_breaks_pool) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = 2;
  o.initializer = init_fail;
  cf_executor *ex = pool_with(&o);
  atomic_int ran = 0;
  cf_future *fs[5];
  int rcs[5];
  for (int i = 0; i < 5; i++) {
    fs[i] = NULL;
    rcs[i] = cf_submit(ex, cf_test_task_count, &ran, &fs[i]);
    ck_assert_msg(rcs[i] == 0 || rcs[i] == CF_EBROKEN, "submit %d: %d", i,
                  rcs[i]);
  }
  for (int i = 0; i < 5; i++) {
    if (rcs[i] != 0) {
      ck_assert_ptr_null(fs[i]);
      continue;
    }
    ck_assert_int_eq(cf_future_result(fs[i], cf_test_scale(10), NULL),
                     CF_EBROKEN);
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(atomic_load(&ran), 0);
  /* Broken for good. */
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &ran, &f), CF_EBROKEN);
  ck_assert_ptr_null(f);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &ran, NULL), CF_EBROKEN);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert_int_eq(atomic_load(&ran), 0);
}
END_TEST

/* ---- resize ---- */

START_TEST(test_resize_grow) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *fs[4];
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[0]), 0);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[1]), 0);
  wait_arrivals(ex, &g, 1);
  ck_assert_int_eq(cf_executor_resize(ex, 3), 0);
  ck_assert_uint_eq(stats_of(ex).max_workers, 3);
  /* New work may now start new workers, up to the new bound. */
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[2]), 0);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[3]), 0);
  wait_arrivals(ex, &g, 3);
  cf_executor_stats st = stats_of(ex);
  ck_assert_uint_eq(st.workers, 3);
  ck_assert_uint_eq(st.running, 3);
  cf_test_gate_open(&g);
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(cf_future_wait(fs[i], cf_test_scale(10)), 0);
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&g);
}
END_TEST

START_TEST(test_resize_shrink) {
  int base = cf_test_count_threads();
  cf_executor *ex = cf_test_pool(4);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *fs[4];
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[i]), 0);
  wait_arrivals(ex, &g, 4);
  ck_assert_int_eq(cf_executor_resize(ex, 1), 0);
  ck_assert_uint_eq(stats_of(ex).max_workers, 1);
  /* Busy workers retire when their task ends. */
  cf_test_gate_open(&g);
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(cf_future_result(fs[i], cf_test_scale(10), NULL), 0);
    cf_future_release(fs[i]);
  }
  wait_stats(ex, 1, SIZE_MAX, 0, 0);
  /* And only one runs from now on. */
  cf_test_gate g2;
  cf_test_gate_init(&g2);
  cf_future *more[3];
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g2, &more[i]), 0);
  wait_arrivals(ex, &g2, 1);
  cf_test_sleep_ms(30);
  cf_executor_stats st = stats_of(ex);
  ck_assert_uint_eq(st.running, 1);
  ck_assert_uint_le(st.workers, 1);
  ck_assert_int_le(cf_test_settle_threads(base + 1, 2), base + 1);
  cf_test_gate_open(&g2);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(cf_future_wait(more[i], cf_test_scale(10)), 0);
    cf_future_release(more[i]);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&g);
  cf_test_gate_destroy(&g2);
}
END_TEST

START_TEST(test_resize_shrink_idle_at_once) {
  cf_executor *ex = cf_test_pool(3);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *fs[3];
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[i]), 0);
  wait_arrivals(ex, &g, 3);
  cf_test_gate_open(&g);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(cf_future_wait(fs[i], cf_test_scale(10)), 0);
    cf_future_release(fs[i]);
  }
  wait_stats(ex, 3, 3, 0, 0);
  ck_assert_int_eq(cf_executor_resize(ex, 1), 0);
  wait_stats(ex, 1, 1, 0, 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_test_gate_destroy(&g);
}
END_TEST

/* ---- deadlock avoidance ---- */

static int task_nested(void *arg, void **result) {
  cf_executor *ex = arg;
  cf_future *inner = NULL;
  int rc = cf_submit(ex, cf_test_task_identity, (void *)(intptr_t)99, &inner);
  if (rc != 0)
    return rc;
  void *out = NULL;
  rc = cf_future_result(inner, -1, &out);
  cf_future_release(inner);
  *result = out;
  return rc;
}

START_TEST(test_nested_submit_on_one_worker) {
  cf_executor *ex = cf_test_pool(1);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_nested, ex, &f), 0);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), &out), 0);
  ck_assert_ptr_eq(out, (void *)(intptr_t)99);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Two levels deep, and a wait on an inner future that timed out first. */
static int task_nested2(void *arg, void **result) {
  cf_executor *ex = arg;
  cf_future *inner = NULL;
  int rc = cf_submit(ex, task_nested, ex, &inner);
  if (rc != 0)
    return rc;
  rc = cf_future_result(inner, -1, result);
  cf_future_release(inner);
  return rc;
}

START_TEST(test_nested_submit_two_levels) {
  cf_executor *ex = cf_test_pool(1);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_nested2, ex, &f), 0);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), &out), 0);
  ck_assert_ptr_eq(out, (void *)(intptr_t)99);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* The other blocking calls on a sibling queued behind the caller. */
typedef struct {
  cf_executor *ex;
  int wait_rc, error_rc;
} nested_calls;

static int task_nested_wait_calls(void *arg, void **result) {
  nested_calls *n = arg;
  cf_future *a = NULL, *b = NULL;
  if (cf_submit(n->ex, cf_test_task_identity, NULL, &a) != 0 ||
      cf_submit(n->ex, cf_test_task_fail, (void *)(intptr_t)-61, &b) != 0)
    return CF_EPROTO;
  n->wait_rc = cf_future_wait(a, cf_test_scale(5));
  n->error_rc = cf_future_error(b, cf_test_scale(5));
  cf_future_release(a);
  cf_future_release(b);
  *result = NULL;
  return 0;
}

START_TEST(test_nested_wait_and_error_on_one_worker) {
  cf_executor *ex = cf_test_pool(1);
  nested_calls n = {ex, 1, 1};
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_nested_wait_calls, &n, &f), 0);
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(20), NULL), 0);
  /* Run inline (0 / the task's code), or refused -- never a hang. */
  ck_assert_msg(n.wait_rc == 0 || n.wait_rc == CF_EDEADLK, "wait %d",
                n.wait_rc);
  ck_assert_msg(n.error_rc == -61 || n.error_rc == CF_EDEADLK, "error %d",
                n.error_rc);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

typedef struct {
  cf_executor *ex;
  int rc;
} cb_shutdown;

static void cb_shutdown_wait(cf_future *f, void *userdata) {
  (void)f;
  cb_shutdown *c = userdata;
  c->rc = cf_shutdown(c->ex, CF_SHUTDOWN_WAIT);
}

/* A callback on a non-worker thread may shut a pool down and wait. */
START_TEST(test_shutdown_from_callback_on_user_thread) {
  cf_executor *ex = cf_test_pool(2);
  atomic_int n = 0;
  for (int i = 0; i < 10; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &n, NULL), 0);
  cf_future *u = NULL;
  ck_assert_int_eq(cf_future_new(&u), 0);
  cb_shutdown c = {ex, 1};
  ck_assert_int_eq(cf_future_on_done(u, cb_shutdown_wait, &c), 0);
  ck_assert_int_eq(cf_future_set_result(u, NULL), 0);
  ck_assert_int_eq(c.rc, 0);
  ck_assert_int_eq(atomic_load(&n), 10);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &n, NULL), CF_ESHUTDOWN);
  cf_future_release(u);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

Suite *cf_thread_pool_suite(void) {
  Suite *s = suite_create("thread_pool");
  TCase *tc = tcase_create("options");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_options_defaults);
  tcase_add_test(tc, test_options_invalid);
  tcase_add_test(tc, test_null_everywhere);
  tcase_add_test(tc, test_thread_names);
  tcase_add_test(tc, test_thread_name_truncated);
  suite_add_tcase(s, tc);

  tc = tcase_create("workers");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_submit_many);
  tcase_add_test(tc, test_submit_without_future);
  tcase_add_test(tc, test_workers_lazy_and_reused);
  tcase_add_test(tc, test_saturation);
  tcase_add_test(tc, test_burst_on_sleeping_worker);
  tcase_add_test(tc, test_burst_on_spinning_worker);
  tcase_add_test(tc, test_stats_counters);
  tcase_add_test(tc, test_resize_grow);
  tcase_add_test(tc, test_resize_shrink);
  tcase_add_test(tc, test_resize_shrink_idle_at_once);
  suite_add_tcase(s, tc);

  tc = tcase_create("bounded");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_bounded_queue_nonblock);
  tcase_add_test(tc, test_bounded_queue_blocks);
  tcase_add_test(tc, test_bounded_queue_blocked_then_shutdown);
  tcase_add_test(tc, test_bounded_queue_worker_never_blocks);
  suite_add_tcase(s, tc);

  tc = tcase_create("shutdown");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_shutdown_wait_runs_everything);
  tcase_add_test(tc, test_shutdown_nowait);
  tcase_add_test(tc, test_shutdown_cancel_futures);
  tcase_add_test(tc, test_shutdown_wait_and_cancel);
  tcase_add_test(tc, test_shutdown_wait_from_worker);
  tcase_add_test(tc, test_shutdown_wait_from_callback_on_worker);
  tcase_add_test(tc, test_free_with_work_in_flight);
  tcase_add_test(tc, test_shutdown_from_callback_on_user_thread);
  tcase_add_test(tc, test_futures_outlive_executor);
  tcase_add_test(tc, test_concurrent_shutdowns);
  suite_add_tcase(s, tc);

  tc = tcase_create("init");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_initializer_runs_per_worker);
  tcase_add_test(tc, test_initializer_failure_breaks_pool);
  suite_add_tcase(s, tc);

  tc = tcase_create("deadlock");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_nested_submit_on_one_worker);
  tcase_add_test(tc, test_nested_submit_two_levels);
  tcase_add_test(tc, test_nested_wait_and_error_on_one_worker);
  suite_add_tcase(s, tc);
  return s;
}
