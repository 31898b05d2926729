/* SPDX-License-Identifier: MIT */
/* cf_map / cf_map_all: input order, per-item errors, the deadline, and the
 * bounded window of submitted-but-unconsumed tasks (buffersize). */
#include "harness.h"

#include <math.h>
#include <stdlib.h>

#define V(i) ((void *)(intptr_t)(i))

static void **make_args(size_t n) {
  void **args = calloc(n ? n : 1, sizeof *args);
  ck_assert_ptr_nonnull(args);
  for (size_t i = 0; i < n; i++)
    args[i] = V(i);
  return args;
}

/* Squares its index after a small pseudo-random sleep, so completion order
 * differs from input order. */
static int task_square_jitter(void *arg, void **result) {
  intptr_t i = (intptr_t)arg;
  cf_test_sleep_ms((double)((i * 7919) % 4));
  *result = V(i * i);
  return 0;
}

/* Fails every item whose index is 3 mod 4, with code -(2000 + index). */
static int task_fail_some(void *arg, void **result) {
  intptr_t i = (intptr_t)arg;
  if (i % 4 == 3)
    return (int)(-2000 - i);
  *result = V(i + 1);
  return 0;
}

START_TEST(test_options_defaults) {
  cf_map_options o;
  o.buffersize = 77;
  o.timeout = 3;
  cf_map_options_init(&o);
  ck_assert_uint_eq(o.buffersize, 0);
  ck_assert(o.timeout < 0);
}
END_TEST

START_TEST(test_invalid) {
  cf_executor *ex = cf_test_pool(1);
  void **args = make_args(4);
  cf_map *m = (cf_map *)(uintptr_t)0x1;
  ck_assert_int_eq(cf_map_new(NULL, cf_test_task_identity, args, 4, NULL, &m),
                   CF_EINVAL);
  ck_assert_int_eq(cf_map_new(ex, NULL, args, 4, NULL, &m), CF_EINVAL);
  ck_assert_int_eq(cf_map_new(ex, cf_test_task_identity, NULL, 4, NULL, &m),
                   CF_EINVAL);
  ck_assert_int_eq(cf_map_new(ex, cf_test_task_identity, args, 4, NULL, NULL),
                   CF_EINVAL);
  cf_map_options o;
  cf_map_options_init(&o);
  o.timeout = NAN;
  ck_assert_int_eq(cf_map_new(ex, cf_test_task_identity, args, 4, &o, &m),
                   CF_EINVAL);
  ck_assert_ptr_eq(m, (cf_map *)(uintptr_t)0x1);
  void *r = NULL;
  size_t idx = 0;
  int err;
  ck_assert_int_eq(cf_map_next(NULL, &r, &err, &idx), CF_EINVAL);
  cf_map_free(NULL);
  void *results[4];
  ck_assert_int_eq(
      cf_map_all(NULL, cf_test_task_identity, args, 4, NULL, results, NULL),
      CF_EINVAL);
  ck_assert_int_eq(cf_map_all(ex, NULL, args, 4, NULL, results, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(
      cf_map_all(ex, cf_test_task_identity, args, 4, NULL, NULL, NULL),
      CF_EINVAL);
  cf_executor_stats st;
  ck_assert_int_eq(cf_executor_stats_get(ex, &st), 0);
  ck_assert_uint_eq(st.submitted, 0);
  free(args);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_empty) {
  cf_executor *ex = cf_test_pool(1);
  cf_map *m = NULL;
  ck_assert_int_eq(cf_map_new(ex, cf_test_task_identity, NULL, 0, NULL, &m), 0);
  void *r = NULL;
  int err;
  ck_assert_int_eq(cf_map_next(m, &r, NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_map_next(m, &r, &err, NULL), CF_EOF);
  ck_assert_int_eq(cf_map_next(m, &r, &err, NULL), CF_EOF);
  cf_map_free(m);
  ck_assert_int_eq(
      cf_map_all(ex, cf_test_task_identity, NULL, 0, NULL, NULL, NULL), 0);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_input_order) {
  enum { N = 60 };
  cf_executor *ex = cf_test_pool(4);
  void **args = make_args(N);
  cf_map *m = NULL;
  ck_assert_int_eq(cf_map_new(ex, task_square_jitter, args, N, NULL, &m), 0);
  for (intptr_t i = 0; i < N; i++) {
    void *r = NULL;
    size_t idx = 999;
    int err = 1;
    ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), 0);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(idx, (size_t)i);
    ck_assert_ptr_eq(r, V(i * i));
  }
  void *r = NULL;
  int err;
  ck_assert_int_eq(cf_map_next(m, &r, &err, NULL), CF_EOF);
  cf_map_free(m);
  free(args);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_errors_do_not_stop_the_map) {
  enum { N = 20 };
  cf_executor *ex = cf_test_pool(3);
  void **args = make_args(N);
  cf_map *m = NULL;
  ck_assert_int_eq(cf_map_new(ex, task_fail_some, args, N, NULL, &m), 0);
  for (intptr_t i = 0; i < N; i++) {
    void *r = V(1);
    size_t idx = 999;
    int err = 1;
    /* 0: an item was consumed, whatever its outcome. */
    ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), 0);
    ck_assert_uint_eq(idx, (size_t)i);
    if (i % 4 == 3) {
      ck_assert_int_eq(err, -2000 - i);
      ck_assert_ptr_null(r);
    } else {
      ck_assert_int_eq(err, 0);
      ck_assert_ptr_eq(r, V(i + 1));
    }
  }
  int err;
  ck_assert_int_eq(cf_map_next(m, &(void *){NULL}, &err, NULL), CF_EOF);
  cf_map_free(m);
  free(args);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_timeout) {
  cf_executor *ex = cf_test_pool(2);
  cf_test_gate g;
  cf_test_gate_init(&g);
  void *args[3] = {&g, &g, &g};
  cf_map_options o;
  cf_map_options_init(&o);
  o.timeout = 0.05;
  cf_map *m = NULL;
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(cf_map_new(ex, cf_test_task_gate, args, 3, &o, &m), 0);
  void *r = NULL;
  int err = 1;
  size_t idx = 99;
  /* The map's own deadline: nothing consumed, err and idx untouched. */
  ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), CF_ETIMEDOUT);
  ck_assert_double_ge(cf_test_elapsed(t0), 0.049);
  ck_assert_int_eq(err, 1);
  ck_assert_uint_eq(idx, 99);
  /* The deadline is for the whole map. */
  ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), CF_ETIMEDOUT);
  /* An item done by the time of a later call is given after all. */
  cf_test_gate_open(&g);
  for (size_t i = 0; i < 3; i++) {
    int rc;
    while ((rc = cf_map_next(m, &r, &err, &idx)) == CF_ETIMEDOUT)
      cf_test_sleep_ms(1);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(idx, i);
  }
  ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), CF_EOF);
  cf_map_free(m);
  void *results[3];
  ck_assert_int_eq(cf_map_all(ex, cf_test_task_sleep,
                              (void *const[]){V(200), V(200), V(200)}, 3, &o,
                              results, NULL),
                   CF_ETIMEDOUT);
  cf_executor_free(ex);
  cf_test_gate_destroy(&g);
}
END_TEST

/* ---- the bounded window ---- */

typedef struct {
  atomic_long started;
  atomic_long consumed;
  atomic_long max_ahead;
} window;

static window win;

static int task_window(void *arg, void **result) {
  long s = atomic_fetch_add(&win.started, 1) + 1;
  long ahead = s - atomic_load(&win.consumed);
  long m = atomic_load(&win.max_ahead);
  while (ahead > m && !atomic_compare_exchange_weak(&win.max_ahead, &m, ahead))
    ;
  cf_test_sleep_ms(0.2);
  *result = arg;
  return 0;
}

static void check_window(int workers, size_t buffersize, size_t bound) {
  enum { N = 300 };
  atomic_store(&win.started, 0);
  atomic_store(&win.consumed, 0);
  atomic_store(&win.max_ahead, 0);
  cf_executor *ex = cf_test_pool(workers);
  void **args = make_args(N);
  cf_map_options o;
  cf_map_options_init(&o);
  o.buffersize = buffersize;
  cf_map *m = NULL;
  ck_assert_int_eq(cf_map_new(ex, task_window, args, N, &o, &m), 0);
  /* Nothing consumed yet: the pool must not run ahead of the window. */
  cf_test_sleep_ms(50);
  ck_assert_int_le(atomic_load(&win.started), (long)bound);
  cf_executor_stats st;
  cf_executor_stats_get(ex, &st);
  ck_assert_uint_le(st.submitted, bound);
  for (intptr_t i = 0; i < N; i++) {
    void *r = NULL;
    int err;
    ck_assert_int_eq(cf_map_next(m, &r, &err, NULL), 0);
    ck_assert_int_eq(err, 0);
    ck_assert_ptr_eq(r, V(i));
    atomic_fetch_add(&win.consumed, 1);
    if (i % 50 == 0)
      cf_test_sleep_ms(5); /* a slow consumer lets the window fill */
  }
  ck_assert_int_eq(cf_map_next(m, &(void *){NULL}, &(int){0}, NULL), CF_EOF);
  ck_assert_int_le(atomic_load(&win.max_ahead), (long)bound);
  ck_assert_int_eq(atomic_load(&win.started), N);
  cf_map_free(m);
  free(args);
  cf_executor_free(ex);
}

START_TEST(test_buffersize_bounds_in_flight) {
  /* At most buffersize unconsumed; the workers allowance covers a task
   * that started just before its predecessor was counted consumed. */
  check_window(2, 4, 4 + 2);
}
END_TEST

START_TEST(test_buffersize_one) {
  check_window(3, 1, 1 + 3);
}
END_TEST

START_TEST(test_buffersize_default) {
  /* 0 = twice max_workers. */
  check_window(2, 0, 2 * 2 + 2);
}
END_TEST

/* Opens a gate unless the test does first, after a while: a map that
 * waits for the gated tasks then returns, late, instead of hanging. */
typedef struct {
  cf_test_gate *g;
  atomic_bool stop, opened;
  pthread_t tid;
} guard;

static void *guard_main(void *p) {
  guard *gd = p;
  for (int i = 0; i < 300 && !atomic_load(&gd->stop); i++)
    cf_test_sleep_ms(10);
  if (!atomic_load(&gd->stop)) {
    atomic_store(&gd->opened, true);
    cf_test_gate_open(gd->g);
  }
  return NULL;
}

static void guard_start(guard *gd, cf_test_gate *g) {
  gd->g = g;
  atomic_init(&gd->stop, false);
  atomic_init(&gd->opened, false);
  ck_assert_int_eq(pthread_create(&gd->tid, NULL, guard_main, gd), 0);
}

static void guard_stop(guard *gd) {
  atomic_store(&gd->stop, true);
  pthread_join(gd->tid, NULL);
}

static atomic_int discarded;

static void discard_count(void *result, void *userdata) {
  ck_assert_ptr_eq(userdata, &discarded);
  free(result);
  atomic_fetch_add(&discarded, 1);
}

/* Items 0 and 1 run at once; the others pass the gate. Each result is a
 * heap block that only discard frees. */
static int task_alloc_gate(void *arg, void **result) {
  atomic_fetch_add(&win.started, 1);
  if (arg != NULL)
    cf_test_gate_pass(arg);
  *result = malloc(16);
  return *result != NULL ? 0 : CF_ENOMEM;
}

/* cf_map_free cancels what has not started and does not wait for what
 * runs; the results never given go to discard, done or not. */
START_TEST(test_free_does_not_wait) {
  enum { N = 100 };
  atomic_store(&win.started, 0);
  atomic_store(&discarded, 0);
  cf_executor *ex = cf_test_pool(2);
  cf_test_gate g;
  cf_test_gate_init(&g);
  void *args[N];
  for (int i = 0; i < N; i++)
    args[i] = i < 2 ? NULL : &g;
  cf_map_options o;
  cf_map_options_init(&o);
  o.buffersize = 8;
  o.discard = discard_count;
  o.discard_userdata = &discarded;
  cf_map *m = NULL;
  ck_assert_int_eq(cf_map_new(ex, task_alloc_gate, args, N, &o, &m), 0);
  ck_assert(cf_test_gate_wait_arrivals(&g, 2, cf_test_scale(10)));
  guard gd;
  guard_start(&gd, &g);
  cf_map_free(m);
  ck_assert_msg(!atomic_load(&gd.opened), "cf_map_free waited");
  ck_assert_int_eq(atomic_load(&discarded), 2); /* items 0 and 1 */
  cf_test_gate_open(&g);
  guard_stop(&gd);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  /* Items 2 and 3 ran to the end; 4..7 were cancelled; none after. */
  ck_assert_int_eq(atomic_load(&win.started), 4);
  ck_assert_int_eq(atomic_load(&discarded), 4);
  cf_executor_free(ex);
  cf_test_gate_destroy(&g);
}
END_TEST

/* A timeout bounds cf_map_all: it returns at the deadline while items run,
 * as Python's map raises at it. */
START_TEST(test_map_all_timeout_bounds_the_call) {
  enum { N = 6 };
  atomic_store(&win.started, 0);
  atomic_store(&discarded, 0);
  cf_executor *ex = cf_test_pool(2);
  cf_test_gate g;
  cf_test_gate_init(&g);
  void *args[N], *results[N];
  int errors[N];
  for (int i = 0; i < N; i++)
    args[i] = i < 2 ? NULL : &g;
  cf_map_options o;
  cf_map_options_init(&o);
  o.timeout = 0.3;
  o.discard = discard_count;
  o.discard_userdata = &discarded;
  guard gd;
  guard_start(&gd, &g);
  ck_assert_int_eq(
      cf_map_all(ex, task_alloc_gate, args, N, &o, results, errors),
      CF_ETIMEDOUT);
  ck_assert_msg(!atomic_load(&gd.opened), "cf_map_all waited for its tasks");
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(errors[i], 0);
    free(results[i]);
  }
  for (int i = 2; i < N; i++) {
    ck_assert_int_eq(errors[i], CF_ETIMEDOUT);
    ck_assert_ptr_null(results[i]);
  }
  cf_test_gate_open(&g);
  guard_stop(&gd);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(atomic_load(&discarded), atomic_load(&win.started) - 2);
  cf_executor_free(ex);
  cf_test_gate_destroy(&g);
}
END_TEST

START_TEST(test_map_all) {
  enum { N = 40 };
  cf_executor *ex = cf_test_pool(3);
  void **args = make_args(N);
  void *results[N];
  ck_assert_int_eq(
      cf_map_all(ex, task_square_jitter, args, N, NULL, results, NULL), 0);
  for (intptr_t i = 0; i < N; i++)
    ck_assert_ptr_eq(results[i], V(i * i));
  /* Failures: the first in input order, every outcome in errors. */
  int errors[N];
  ck_assert_int_eq(
      cf_map_all(ex, task_fail_some, args, N, NULL, results, errors), -2003);
  for (intptr_t i = 0; i < N; i++) {
    if (i % 4 == 3) {
      ck_assert_int_eq(errors[i], -2000 - i);
    } else {
      ck_assert_int_eq(errors[i], 0);
      ck_assert_ptr_eq(results[i], V(i + 1));
    }
  }
  ck_assert_int_eq(cf_map_all(ex, task_fail_some, args, N, NULL, results, NULL),
                   -2003);
  free(args);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_shut_down_executor) {
  cf_executor *ex = cf_test_pool(1);
  ck_assert_int_eq(cf_shutdown(ex, 0), 0);
  void **args = make_args(3);
  cf_map *m = NULL;
  ck_assert_int_eq(cf_map_new(ex, cf_test_task_identity, args, 3, NULL, &m),
                   CF_ESHUTDOWN);
  ck_assert_ptr_null(m);
  void *results[3];
  ck_assert_int_eq(
      cf_map_all(ex, cf_test_task_identity, args, 3, NULL, results, NULL),
      CF_ESHUTDOWN);
  free(args);
  cf_executor_free(ex);
}
END_TEST

/* ---- streams ---- */

typedef struct {
  intptr_t next, n; /* gives next..n-1 */
  intptr_t fail_at; /* returns fail_rc instead of this input; -1 = never */
  int fail_rc;
  int calls, calls_after_end;
  bool ended;
  pthread_t owner;
  bool other_thread;
  const long *consumed; /* for the window check */
  long max_ahead;
} gen;

static int gen_next(void *userdata, void **arg) {
  gen *g = userdata;
  g->calls++;
  if (!pthread_equal(pthread_self(), g->owner))
    g->other_thread = true;
  if (g->ended)
    g->calls_after_end++;
  if (g->next == g->fail_at) {
    g->ended = true;
    return g->fail_rc;
  }
  if (g->next == g->n) {
    g->ended = true;
    return CF_EOF;
  }
  *arg = V(g->next++);
  if (g->consumed != NULL && g->next - *g->consumed > g->max_ahead)
    g->max_ahead = g->next - *g->consumed;
  return 0;
}

static void gen_init(gen *g, intptr_t n) {
  *g = (gen){.n = n, .fail_at = -1, .owner = pthread_self()};
}

/* Inputs pulled as the window frees: never more than buffersize ahead of
 * the consumer, results in order, from the consumer's thread only. */
START_TEST(test_stream_in_order_within_window) {
  enum { N = 500, W = 4 };
  cf_executor *ex = cf_test_pool(3);
  long consumed = 0;
  gen g;
  gen_init(&g, N);
  g.consumed = &consumed;
  cf_map_options o;
  cf_map_options_init(&o);
  o.buffersize = W;
  cf_map *m = NULL;
  ck_assert_int_eq(
      cf_map_new_stream(ex, task_square_jitter, gen_next, &g, &o, &m), 0);
  ck_assert_int_eq(g.calls, W); /* the first window, no more */
  void *r;
  int err, rc;
  size_t idx;
  while ((rc = cf_map_next(m, &r, &err, &idx)) == 0) {
    ck_assert_uint_eq(idx, (size_t)consumed);
    ck_assert_int_eq(err, 0);
    ck_assert_ptr_eq(r, V(consumed * consumed));
    consumed++;
  }
  ck_assert_int_eq(rc, CF_EOF);
  ck_assert_int_eq(consumed, N);
  /* A pull happens inside the call that consumes the item the test has
   * not counted yet: W in flight is W + 1 ahead of the count. */
  ck_assert_int_le(g.max_ahead, W + 1);
  ck_assert(!g.other_thread);
  ck_assert_int_eq(g.calls_after_end, 0);
  ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), CF_EOF);
  ck_assert_int_eq(g.calls, N + 1);
  cf_map_free(m);
  cf_executor_free(ex);
}
END_TEST

/* A generator error ends the map with it, after the items read before it
 * were given; the generator is not called again. */
START_TEST(test_stream_generator_error) {
  cf_executor *ex = cf_test_pool(2);
  for (intptr_t at = 0; at < 7; at += 3) {
    gen g;
    gen_init(&g, 100);
    g.fail_at = at;
    g.fail_rc = -4242;
    cf_map *m = NULL;
    ck_assert_int_eq(
        cf_map_new_stream(ex, task_fail_some, gen_next, &g, NULL, &m), 0);
    void *r;
    int err, rc;
    size_t idx, k = 0;
    while ((rc = cf_map_next(m, &r, &err, &idx)) == 0) {
      ck_assert_uint_eq(idx, k);
      ck_assert_int_eq(err, k % 4 == 3 ? -2000 - (int)k : 0);
      k++;
    }
    ck_assert_int_eq(rc, -4242);
    ck_assert_uint_eq(k, (size_t)at);
    ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), -4242);
    ck_assert_int_eq(g.calls_after_end, 0);
    cf_map_free(m);
  }
  /* A positive code is a task-style failure. */
  gen g;
  gen_init(&g, 100);
  g.fail_at = 1;
  g.fail_rc = 7;
  cf_map *m = NULL;
  ck_assert_int_eq(
      cf_map_new_stream(ex, cf_test_task_identity, gen_next, &g, NULL, &m), 0);
  int err;
  ck_assert_int_eq(cf_map_next(m, NULL, &err, NULL), 0);
  ck_assert_int_eq(cf_map_next(m, NULL, &err, NULL), CF_ETASK);
  cf_map_free(m);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_stream_empty_and_invalid) {
  cf_executor *ex = cf_test_pool(1);
  gen g;
  gen_init(&g, 0);
  cf_map *m = (cf_map *)(uintptr_t)0x1;
  ck_assert_int_eq(
      cf_map_new_stream(ex, cf_test_task_identity, NULL, &g, NULL, &m),
      CF_EINVAL);
  ck_assert_int_eq(
      cf_map_new_stream(NULL, cf_test_task_identity, gen_next, &g, NULL, &m),
      CF_EINVAL);
  ck_assert_int_eq(cf_map_new_stream(ex, NULL, gen_next, &g, NULL, &m),
                   CF_EINVAL);
  ck_assert_int_eq(
      cf_map_new_stream(ex, cf_test_task_identity, gen_next, &g, NULL, NULL),
      CF_EINVAL);
  ck_assert_ptr_eq(m, (cf_map *)(uintptr_t)0x1);
  ck_assert_int_eq(g.calls, 0);
  ck_assert_int_eq(
      cf_map_new_stream(ex, cf_test_task_identity, gen_next, &g, NULL, &m), 0);
  int err;
  ck_assert_int_eq(cf_map_next(m, NULL, &err, NULL), CF_EOF);
  ck_assert_int_eq(cf_map_next(m, NULL, &err, NULL), CF_EOF);
  ck_assert_int_eq(g.calls, 1);
  cf_map_free(m);
  /* A shut-down executor: the first submit's error, as cf_map_new. */
  ck_assert_int_eq(cf_shutdown(ex, 0), 0);
  gen_init(&g, 5);
  ck_assert_int_eq(
      cf_map_new_stream(ex, cf_test_task_identity, gen_next, &g, NULL, &m),
      CF_ESHUTDOWN);
  cf_executor_free(ex);
}
END_TEST

Suite *cf_map_suite(void) {
  Suite *s = suite_create("map");
  TCase *tc = tcase_create("map");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_options_defaults);
  tcase_add_test(tc, test_invalid);
  tcase_add_test(tc, test_empty);
  tcase_add_test(tc, test_input_order);
  tcase_add_test(tc, test_errors_do_not_stop_the_map);
  tcase_add_test(tc, test_timeout);
  tcase_add_test(tc, test_map_all);
  tcase_add_test(tc, test_shut_down_executor);
  suite_add_tcase(s, tc);
  tc = tcase_create("window");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_buffersize_bounds_in_flight);
  tcase_add_test(tc, test_buffersize_one);
  tcase_add_test(tc, test_buffersize_default);
  tcase_add_test(tc, test_free_does_not_wait);
  tcase_add_test(tc, test_map_all_timeout_bounds_the_call);
  suite_add_tcase(s, tc);
  tc = tcase_create("stream");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_stream_in_order_within_window);
  tcase_add_test(tc, test_stream_generator_error);
  tcase_add_test(tc, test_stream_empty_and_invalid);
  suite_add_tcase(s, tc);
  return s;
}
