/* SPDX-License-Identifier: MIT */
/* cf_gather, with and without CF_GATHER_RETURN_ERRORS. */
#include "harness.h"

#include <math.h>

static cf_future *pending(void) {
  cf_future *f = NULL;
  ck_assert_int_eq(cf_future_new(&f), 0);
  return f;
}

static cf_future *succeeded(void *v) {
  cf_future *f = pending();
  ck_assert_int_eq(cf_future_set_result(f, v), 0);
  return f;
}

static cf_future *failed(int err) {
  cf_future *f = pending();
  ck_assert_int_eq(cf_future_set_error(f, err, NULL), 0);
  return f;
}

typedef struct {
  cf_future *f;
  double delay_ms;
  int err;
  void *value;
  pthread_t tid;
} later;

static void *later_main(void *p) {
  later *l = p;
  cf_test_sleep_ms(l->delay_ms);
  if (l->err == 0)
    cf_future_set_result(l->f, l->value);
  else
    cf_future_set_error(l->f, l->err, NULL);
  return NULL;
}

static void later_start(later *l, cf_future *f, double ms, int err,
                        void *value) {
  l->f = f;
  l->delay_ms = ms;
  l->err = err;
  l->value = value;
  ck_assert_int_eq(pthread_create(&l->tid, NULL, later_main, l), 0);
}

static void release_all(cf_future **fs, size_t n) {
  for (size_t i = 0; i < n; i++)
    cf_future_release(fs[i]);
}

#define V(i) ((void *)(intptr_t)(i))
#define GATHER(fs, n, t, fl, r, e)                                             \
  cf_gather((cf_future *const *)(fs), (n), (t), (fl), (r), (e))

START_TEST(test_invalid) {
  cf_future *fs[2] = {succeeded(V(1)), NULL};
  void *results[2] = {V(7), V(7)};
  int errors[2] = {7, 7};
  ck_assert_int_eq(GATHER(NULL, 1, -1, 0, results, errors), CF_EINVAL);
  ck_assert_int_eq(GATHER(fs, 2, -1, 0, results, errors), CF_EINVAL);
  ck_assert_int_eq(GATHER(fs, 1, NAN, 0, results, errors), CF_EINVAL);
  ck_assert_int_eq(GATHER(fs, 1, -1, CF_GATHER_RETURN_ERRORS, results, NULL),
                   CF_EINVAL);
  ck_assert_ptr_eq(results[0], V(7));
  ck_assert_int_eq(errors[0], 7);
  cf_future_release(fs[0]);
}
END_TEST

START_TEST(test_empty) {
  ck_assert_int_eq(GATHER(NULL, 0, -1, 0, NULL, NULL), 0);
  int e[1];
  ck_assert_int_eq(GATHER(NULL, 0, 0, CF_GATHER_RETURN_ERRORS, NULL, e), 0);
}
END_TEST

START_TEST(test_all_succeed_in_input_order) {
  cf_future *fs[4] = {pending(), succeeded(V(2)), pending(), pending()};
  later l[3];
  later_start(&l[0], fs[3], 5, 0, V(4));
  later_start(&l[1], fs[0], 20, 0, V(1));
  later_start(&l[2], fs[2], 35, 0, V(3));
  void *results[4] = {0};
  ck_assert_int_eq(GATHER(fs, 4, cf_test_scale(10), 0, results, NULL), 0);
  for (int i = 0; i < 4; i++)
    ck_assert_ptr_eq(results[i], V(i + 1));
  /* results may be NULL. */
  ck_assert_int_eq(GATHER(fs, 4, 0, 0, NULL, NULL), 0);
  int errors[4] = {1, 1, 1, 1};
  ck_assert_int_eq(GATHER(fs, 4, 0, 0, results, errors), 0);
  for (int i = 0; i < 3; i++)
    pthread_join(l[i].tid, NULL);
  release_all(fs, 4);
}
END_TEST

/* Without RETURN_ERRORS the first failure returns at once, the rest left
 * running. */
START_TEST(test_first_failure_returns_early) {
  cf_future *fs[3] = {succeeded(V(1)), pending(), pending()};
  later l;
  later_start(&l, fs[2], 20, CF_EPIPE, NULL);
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(GATHER(fs, 3, cf_test_scale(10), 0, NULL, NULL), CF_EPIPE);
  ck_assert_double_lt(cf_test_elapsed(t0), cf_test_scale(5));
  ck_assert(!cf_future_done(fs[1]));
  ck_assert(!cf_future_cancelled(fs[1]));
  pthread_join(l.tid, NULL);
  release_all(fs, 3);
}
END_TEST

START_TEST(test_first_failure_precompleted) {
  cf_future *fs[3] = {pending(), failed(-900), failed(-901)};
  void *results[3];
  ck_assert_int_eq(GATHER(fs, 3, cf_test_scale(10), 0, results, NULL), -900);
  release_all(fs, 3);
}
END_TEST

START_TEST(test_cancelled_without_flag) {
  cf_future *fs[2] = {succeeded(V(1)), pending()};
  cf_future_cancel(fs[1]);
  ck_assert_int_eq(GATHER(fs, 2, -1, 0, NULL, NULL), CF_ECANCELED);
  release_all(fs, 2);
}
END_TEST

START_TEST(test_return_errors_waits_for_all) {
  cf_future *fs[5] = {succeeded(V(1)), failed(CF_ETASK), pending(), pending(),
                      pending()};
  cf_future_cancel(fs[3]);
  later l[2];
  later_start(&l[0], fs[2], 10, -4242, NULL);
  later_start(&l[1], fs[4], 40, 0, V(5));
  void *results[5] = {V(9), V(9), V(9), V(9), V(9)};
  int errors[5] = {1, 1, 1, 1, 1};
  ck_assert_int_eq(GATHER(fs, 5, cf_test_scale(10), CF_GATHER_RETURN_ERRORS,
                          results, errors),
                   0);
  ck_assert(cf_future_done(fs[4]));
  ck_assert_int_eq(errors[0], 0);
  ck_assert_int_eq(errors[1], CF_ETASK);
  ck_assert_int_eq(errors[2], -4242);
  ck_assert_int_eq(errors[3], CF_ECANCELED);
  ck_assert_int_eq(errors[4], 0);
  ck_assert_ptr_eq(results[0], V(1));
  ck_assert_ptr_null(results[1]);
  ck_assert_ptr_null(results[2]);
  ck_assert_ptr_null(results[3]);
  ck_assert_ptr_eq(results[4], V(5));
  /* results may be NULL with the flag too. */
  ck_assert_int_eq(GATHER(fs, 5, 0, CF_GATHER_RETURN_ERRORS, NULL, errors), 0);
  ck_assert_int_eq(errors[2], -4242);
  for (int i = 0; i < 2; i++)
    pthread_join(l[i].tid, NULL);
  release_all(fs, 5);
}
END_TEST

START_TEST(test_timeout) {
  cf_future *fs[2] = {succeeded(V(1)), pending()};
  int errors[2];
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(GATHER(fs, 2, 0.05, 0, NULL, NULL), CF_ETIMEDOUT);
  ck_assert_double_ge(cf_test_elapsed(t0), 0.049);
  ck_assert_int_eq(GATHER(fs, 2, 0.02, CF_GATHER_RETURN_ERRORS, NULL, errors),
                   CF_ETIMEDOUT);
  ck_assert_int_eq(GATHER(fs, 2, 0, 0, NULL, NULL), CF_ETIMEDOUT);
  release_all(fs, 2);
}
END_TEST

START_TEST(test_duplicates) {
  cf_future *a = succeeded(V(1)), *b = pending();
  cf_future *fs[4] = {a, b, a, b};
  later l;
  later_start(&l, b, 10, 0, V(2));
  void *results[4] = {0};
  ck_assert_int_eq(GATHER(fs, 4, cf_test_scale(10), 0, results, NULL), 0);
  ck_assert_ptr_eq(results[0], V(1));
  ck_assert_ptr_eq(results[1], V(2));
  ck_assert_ptr_eq(results[2], V(1));
  ck_assert_ptr_eq(results[3], V(2));
  pthread_join(l.tid, NULL);
  cf_future_release(a);
  cf_future_release(b);
}
END_TEST

START_TEST(test_pool_tasks) {
  enum { N = 32 };
  cf_executor *ex = cf_test_pool(4);
  cf_future *fs[N];
  for (intptr_t i = 0; i < N; i++) {
    if (i % 5 == 3)
      ck_assert_int_eq(cf_submit(ex, cf_test_task_fail, V(-1000 - i), &fs[i]),
                       0);
    else
      ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, V(i), &fs[i]), 0);
  }
  void *results[N];
  int errors[N];
  ck_assert_int_eq(GATHER(fs, N, cf_test_scale(10), CF_GATHER_RETURN_ERRORS,
                          results, errors),
                   0);
  for (intptr_t i = 0; i < N; i++) {
    if (i % 5 == 3) {
      ck_assert_int_eq(errors[i], -1000 - i);
      ck_assert_ptr_null(results[i]);
    } else {
      ck_assert_int_eq(errors[i], 0);
      ck_assert_ptr_eq(results[i], V(i));
    }
  }
  int rc = GATHER(fs, N, cf_test_scale(10), 0, results, NULL);
  ck_assert_msg(rc <= -1000 && rc > -1000 - N && (-1000 - rc) % 5 == 3, "rc %d",
                rc);
  release_all(fs, N);
  cf_executor_free(ex);
}
END_TEST

Suite *cf_gather_suite(void) {
  Suite *s = suite_create("gather");
  TCase *tc = tcase_create("gather");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_invalid);
  tcase_add_test(tc, test_empty);
  tcase_add_test(tc, test_all_succeed_in_input_order);
  tcase_add_test(tc, test_first_failure_returns_early);
  tcase_add_test(tc, test_first_failure_precompleted);
  tcase_add_test(tc, test_cancelled_without_flag);
  tcase_add_test(tc, test_return_errors_waits_for_all);
  tcase_add_test(tc, test_timeout);
  tcase_add_test(tc, test_duplicates);
  tcase_add_test(tc, test_pool_tasks);
  suite_add_tcase(s, tc);
  return s;
}
