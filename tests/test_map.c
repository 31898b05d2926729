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
  ck_assert_int_eq(cf_map_next(NULL, &r, &idx), CF_EINVAL);
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
  ck_assert_int_eq(cf_map_next(m, &r, NULL), CF_EOF);
  ck_assert_int_eq(cf_map_next(m, &r, NULL), CF_EOF);
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
    ck_assert_int_eq(cf_map_next(m, &r, &idx), 0);
    ck_assert_uint_eq(idx, (size_t)i);
    ck_assert_ptr_eq(r, V(i * i));
  }
  void *r = NULL;
  ck_assert_int_eq(cf_map_next(m, &r, NULL), CF_EOF);
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
    void *r = NULL;
    size_t idx = 999;
    int rc = cf_map_next(m, &r, &idx);
    ck_assert_uint_eq(idx, (size_t)i);
    if (i % 4 == 3) {
      ck_assert_int_eq(rc, -2000 - i);
    } else {
      ck_assert_int_eq(rc, 0);
      ck_assert_ptr_eq(r, V(i + 1));
    }
  }
  ck_assert_int_eq(cf_map_next(m, &(void *){NULL}, NULL), CF_EOF);
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
  ck_assert_int_eq(cf_map_next(m, &r, NULL), CF_ETIMEDOUT);
  ck_assert_double_ge(cf_test_elapsed(t0), 0.049);
  /* The deadline is for the whole map. */
  ck_assert_int_eq(cf_map_next(m, &r, NULL), CF_ETIMEDOUT);
  cf_test_gate_open(&g);
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
    ck_assert_int_eq(cf_map_next(m, &r, NULL), 0);
    ck_assert_ptr_eq(r, V(i));
    atomic_fetch_add(&win.consumed, 1);
    if (i % 50 == 0)
      cf_test_sleep_ms(5); /* a slow consumer lets the window fill */
  }
  ck_assert_int_eq(cf_map_next(m, &(void *){NULL}, NULL), CF_EOF);
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

static int task_gate_count(void *arg, void **result) {
  atomic_fetch_add(&win.started, 1);
  cf_test_gate_pass(arg);
  *result = arg;
  return 0;
}

static void *open_later(void *p) {
  cf_test_sleep_ms(50);
  cf_test_gate_open(p);
  return NULL;
}

/* cf_map_free cancels what has not started and waits for what runs. */
START_TEST(test_free_early) {
  enum { N = 100 };
  atomic_store(&win.started, 0);
  cf_executor *ex = cf_test_pool(2);
  cf_test_gate g;
  cf_test_gate_init(&g);
  void *args[N];
  for (int i = 0; i < N; i++)
    args[i] = &g;
  cf_map_options o;
  cf_map_options_init(&o);
  o.buffersize = 8;
  cf_map *m = NULL;
  ck_assert_int_eq(cf_map_new(ex, task_gate_count, args, N, &o, &m), 0);
  ck_assert(cf_test_gate_wait_arrivals(&g, 2, cf_test_scale(10)));
  pthread_t t;
  pthread_create(&t, NULL, open_later, &g);
  cf_map_free(m);
  long started = atomic_load(&win.started);
  pthread_join(t, NULL);
  ck_assert_int_ge(started, 2);
  ck_assert_int_le(started, 8 + 2);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(atomic_load(&win.started), started);
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
  tcase_add_test(tc, test_free_early);
  suite_add_tcase(s, tc);
  return s;
}
