/* SPDX-License-Identifier: MIT */
/* cf_as_completed: completion order, pre-completed futures first,
 * duplicates, one deadline for the whole iteration, CF_EOF. After CPython's
 * test_concurrent_futures/test_as_completed.py. */
#include "harness.h"

#include <math.h>

static cf_future *pending(void) {
  cf_future *f = NULL;
  ck_assert_int_eq(cf_future_new(&f), 0);
  return f;
}

static cf_future *succeeded(void) {
  cf_future *f = pending();
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0);
  return f;
}

static cf_as_completed *iter(cf_future **fs, size_t n, double timeout) {
  cf_as_completed *it = NULL;
  ck_assert_int_eq(cf_as_completed_new((cf_future *const *)fs, n, timeout, &it),
                   0);
  ck_assert_ptr_nonnull(it);
  return it;
}

static cf_future *next_ok(cf_as_completed *it) {
  cf_future *f = NULL;
  int rc = cf_as_completed_next(it, &f);
  ck_assert_msg(rc == 0, "next: %s", cf_err_name(rc));
  ck_assert_ptr_nonnull(f);
  ck_assert(cf_future_done(f));
  return f;
}

typedef struct {
  cf_future *f;
  double delay_ms;
  pthread_t tid;
} later;

static void *later_main(void *p) {
  later *l = p;
  cf_test_sleep_ms(l->delay_ms);
  cf_future_set_result(l->f, NULL);
  return NULL;
}

static void later_start(later *l, cf_future *f, double ms) {
  l->f = f;
  l->delay_ms = ms;
  ck_assert_int_eq(pthread_create(&l->tid, NULL, later_main, l), 0);
}

START_TEST(test_invalid) {
  cf_future *fs[2] = {succeeded(), NULL};
  cf_as_completed *it = (cf_as_completed *)(uintptr_t)0x1;
  ck_assert_int_eq(cf_as_completed_new((cf_future *const *)fs, 1, -1, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(cf_as_completed_new(NULL, 1, -1, &it), CF_EINVAL);
  ck_assert_int_eq(cf_as_completed_new((cf_future *const *)fs, 2, -1, &it),
                   CF_EINVAL);
  ck_assert_int_eq(cf_as_completed_new((cf_future *const *)fs, 1, NAN, &it),
                   CF_EINVAL);
  ck_assert_ptr_eq(it, (cf_as_completed *)(uintptr_t)0x1);
  cf_future *out = NULL;
  ck_assert_int_eq(cf_as_completed_next(NULL, &out), CF_EINVAL);
  ck_assert_uint_eq(cf_as_completed_remaining(NULL), 0);
  cf_as_completed_free(NULL);
  it = iter(fs, 1, -1);
  ck_assert_int_eq(cf_as_completed_next(it, NULL), CF_EINVAL);
  ck_assert_uint_eq(cf_as_completed_remaining(it), 1);
  cf_as_completed_free(it);
  cf_future_release(fs[0]);
}
END_TEST

START_TEST(test_empty) {
  cf_as_completed *it = iter(NULL, 0, -1);
  ck_assert_uint_eq(cf_as_completed_remaining(it), 0);
  cf_future *out = NULL;
  ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EOF);
  ck_assert_ptr_null(out);
  ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EOF);
  cf_as_completed_free(it);
}
END_TEST

START_TEST(test_precompleted_first_then_completion_order) {
  cf_future *fs[5] = {pending(), succeeded(), pending(), succeeded(),
                      pending()};
  cf_as_completed *it = iter(fs, 5, cf_test_scale(10));
  ck_assert_uint_eq(cf_as_completed_remaining(it), 5);
  cf_future *f = next_ok(it);
  ck_assert_ptr_eq(f, fs[1]);
  cf_future_release(f);
  f = next_ok(it);
  ck_assert_ptr_eq(f, fs[3]);
  cf_future_release(f);
  ck_assert_uint_eq(cf_as_completed_remaining(it), 3);
  /* Then as they finish: 4, 0, 2. */
  later l4, l0, l2;
  later_start(&l4, fs[4], 10);
  f = next_ok(it);
  ck_assert_ptr_eq(f, fs[4]);
  cf_future_release(f);
  later_start(&l0, fs[0], 10);
  f = next_ok(it);
  ck_assert_ptr_eq(f, fs[0]);
  cf_future_release(f);
  later_start(&l2, fs[2], 10);
  f = next_ok(it);
  ck_assert_ptr_eq(f, fs[2]);
  cf_future_release(f);
  ck_assert_uint_eq(cf_as_completed_remaining(it), 0);
  cf_future *out = NULL;
  ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EOF);
  ck_assert_int_eq(cf_as_completed_next(it, &out), CF_EOF);
  cf_as_completed_free(it);
  pthread_join(l4.tid, NULL);
  pthread_join(l0.tid, NULL);
  pthread_join(l2.tid, NULL);
  for (int i = 0; i < 5; i++)
    cf_future_release(fs[i]);
}
END_TEST

START_TEST(test_duplicates) {
  cf_future *a = succeeded(), *b = pending();
  cf_future *fs[6] = {a, b, a, a, b, b};
  cf_as_completed *it = iter(fs, 6, cf_test_scale(10));
  ck_assert_uint_eq(cf_as_completed_remaining(it), 2);
  cf_future *f = next_ok(it);
  ck_assert_ptr_eq(f, a);
  cf_future_release(f);
  cf_future_set_result(b, NULL);
  f = next_ok(it);
  ck_assert_ptr_eq(f, b);
  cf_future_release(f);
  ck_assert_int_eq(cf_as_completed_next(it, &f), CF_EOF);
  cf_as_completed_free(it);
  cf_future_release(a);
  cf_future_release(b);
}
END_TEST

START_TEST(test_failed_and_cancelled_are_yielded) {
  cf_future *fs[3] = {pending(), pending(), pending()};
  cf_future_set_error(fs[0], CF_ETASK, NULL);
  cf_future_cancel(fs[2]);
  cf_as_completed *it = iter(fs, 3, 0);
  cf_future *f = next_ok(it);
  ck_assert_ptr_eq(f, fs[0]);
  ck_assert_int_eq(cf_future_error(f, 0), CF_ETASK);
  cf_future_release(f);
  f = next_ok(it);
  ck_assert_ptr_eq(f, fs[2]);
  ck_assert(cf_future_cancelled(f));
  cf_future_release(f);
  ck_assert_int_eq(cf_as_completed_next(it, &f), CF_ETIMEDOUT);
  ck_assert_uint_eq(cf_as_completed_remaining(it), 1);
  cf_as_completed_free(it);
  for (int i = 0; i < 3; i++)
    cf_future_release(fs[i]);
}
END_TEST

START_TEST(test_timeout_reports_remaining) {
  cf_future *fs[3] = {succeeded(), pending(), pending()};
  uint64_t t0 = cf_now_ns();
  cf_as_completed *it = iter(fs, 3, 0.05);
  cf_future *f = next_ok(it);
  ck_assert_ptr_eq(f, fs[0]);
  cf_future_release(f);
  f = (cf_future *)(uintptr_t)0x1;
  ck_assert_int_eq(cf_as_completed_next(it, &f), CF_ETIMEDOUT);
  ck_assert_double_ge(cf_test_elapsed(t0), 0.049);
  ck_assert_ptr_eq(f, (cf_future *)(uintptr_t)0x1);
  ck_assert_uint_eq(cf_as_completed_remaining(it), 2);
  /* The deadline is shared: a second call times out at once. */
  t0 = cf_now_ns();
  ck_assert_int_eq(cf_as_completed_next(it, &f), CF_ETIMEDOUT);
  ck_assert_double_lt(cf_test_elapsed(t0), cf_test_scale(1));
  /* One that finishes later may still be yielded. */
  cf_future_set_result(fs[2], NULL);
  f = next_ok(it);
  ck_assert_ptr_eq(f, fs[2]);
  cf_future_release(f);
  ck_assert_uint_eq(cf_as_completed_remaining(it), 1);
  ck_assert_int_eq(cf_as_completed_next(it, &f), CF_ETIMEDOUT);
  cf_as_completed_free(it);
  for (int i = 0; i < 3; i++)
    cf_future_release(fs[i]);
}
END_TEST

static void slow_callback(cf_future *f, void *gate) {
  (void)f;
  cf_test_gate_pass(gate);
}

typedef struct {
  cf_future *f;
  pthread_t tid;
} completer;

static void *completer_main(void *p) {
  completer *c = p;
  cf_future_set_result(c->f, NULL); /* runs the callbacks here */
  return NULL;
}

/* A future done before the call is yielded after the deadline even while
 * a done callback added before the iterator's own still runs, and only
 * once: its late node queues nothing. */
START_TEST(test_after_deadline_yields_done_with_slow_callback) {
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  cf_future *fs[2] = {pending(), pending()};
  ck_assert_int_eq(cf_future_on_done(fs[0], slow_callback, &gate), 0);
  cf_as_completed *it = iter(fs, 2, 0.05);
  completer c = {fs[0], 0};
  ck_assert_int_eq(pthread_create(&c.tid, NULL, completer_main, &c), 0);
  ck_assert(cf_test_gate_wait_arrivals(&gate, 1, cf_test_scale(5)));
  ck_assert(cf_future_done(fs[0]));
  cf_future *f = next_ok(it);
  ck_assert_ptr_eq(f, fs[0]);
  cf_future_release(f);
  ck_assert_uint_eq(cf_as_completed_remaining(it), 1);
  ck_assert_int_eq(cf_as_completed_next(it, &f), CF_ETIMEDOUT);
  cf_test_gate_open(&gate);
  pthread_join(c.tid, NULL);
  cf_future_set_result(fs[1], NULL);
  f = next_ok(it);
  ck_assert_ptr_eq(f, fs[1]);
  cf_future_release(f);
  ck_assert_int_eq(cf_as_completed_next(it, &f), CF_EOF);
  cf_as_completed_free(it);
  for (int i = 0; i < 2; i++)
    cf_future_release(fs[i]);
  cf_test_gate_destroy(&gate);
}
END_TEST

/* The iterator holds its own references: the caller may drop its own. */
START_TEST(test_holds_references) {
  cf_future *a = pending(), *b = pending();
  cf_future *fs[2] = {a, b};
  cf_as_completed *it = iter(fs, 2, cf_test_scale(10));
  cf_future_set_result(b, (void *)(intptr_t)2);
  cf_future_release(b);
  cf_future *f = next_ok(it);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, 0, &out), 0);
  ck_assert_ptr_eq(out, (void *)(intptr_t)2);
  cf_future_release(f);
  /* Freed with a future not yielded: it is not cancelled. */
  cf_as_completed_free(it);
  ck_assert(!cf_future_cancelled(a));
  ck_assert_int_eq(cf_future_state(a), CF_PENDING);
  cf_future_release(a);
}
END_TEST

START_TEST(test_pool_every_task_once) {
  enum { N = 24 };
  cf_executor *ex = cf_test_pool(4);
  cf_future *fs[N];
  for (intptr_t i = 0; i < N; i++)
    ck_assert_int_eq(
        cf_submit(ex, cf_test_task_sleep, (void *)((i * 7) % 5), &fs[i]), 0);
  cf_as_completed *it = iter(fs, N, cf_test_scale(20));
  int seen[N] = {0};
  for (int k = 0; k < N; k++) {
    cf_future *f = next_ok(it);
    int idx = -1;
    for (int i = 0; i < N; i++)
      if (fs[i] == f)
        idx = i;
    ck_assert_int_ge(idx, 0);
    seen[idx]++;
    cf_future_release(f);
  }
  cf_future *f = NULL;
  ck_assert_int_eq(cf_as_completed_next(it, &f), CF_EOF);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(seen[i], 1);
    cf_future_release(fs[i]);
  }
  cf_as_completed_free(it);
  cf_executor_free(ex);
}
END_TEST

Suite *cf_as_completed_suite(void) {
  Suite *s = suite_create("as_completed");
  TCase *tc = tcase_create("iteration");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_invalid);
  tcase_add_test(tc, test_empty);
  tcase_add_test(tc, test_precompleted_first_then_completion_order);
  tcase_add_test(tc, test_duplicates);
  tcase_add_test(tc, test_failed_and_cancelled_are_yielded);
  tcase_add_test(tc, test_timeout_reports_remaining);
  tcase_add_test(tc, test_holds_references);
  tcase_add_test(tc, test_after_deadline_yields_done_with_slow_callback);
  suite_add_tcase(s, tc);
  tc = tcase_create("pool");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_pool_every_task_once);
  suite_add_tcase(s, tc);
  return s;
}
