/* SPDX-License-Identifier: MIT */
/* cf_wait in its three modes: pre-completed, failed, cancelled and
 * duplicate futures, timeouts, bad arguments. After CPython's
 * test_concurrent_futures/test_wait.py. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>

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

static cf_future *failed(int err) {
  cf_future *f = pending();
  ck_assert_int_eq(cf_future_set_error(f, err, "failed"), 0);
  return f;
}

static cf_future *cancelled(void) {
  cf_future *f = pending();
  ck_assert(cf_future_cancel(f));
  return f;
}

typedef struct {
  cf_future *f;
  double delay_ms;
  int err;
  pthread_t tid;
} later;

static void *later_main(void *p) {
  later *l = p;
  cf_test_sleep_ms(l->delay_ms);
  if (l->err == 0)
    cf_future_set_result(l->f, NULL);
  else if (l->err == CF_ECANCELED)
    cf_future_cancel(l->f);
  else
    cf_future_set_error(l->f, l->err, NULL);
  return NULL;
}

static void later_start(later *l, cf_future *f, double ms, int err) {
  l->f = f;
  l->delay_ms = ms;
  l->err = err;
  ck_assert_int_eq(pthread_create(&l->tid, NULL, later_main, l), 0);
}

typedef struct {
  cf_future *done[8], *not_done[8];
  size_t ndone, nnot_done;
} wait_out;

static int wait_on(cf_future **fs, size_t n, double timeout, int mode,
                   wait_out *r) {
  r->ndone = r->nnot_done = 99;
  return cf_wait((cf_future *const *)fs, n, timeout, mode, r->done, &r->ndone,
                 r->not_done, &r->nnot_done);
}

static void release_all(cf_future **fs, size_t n) {
  for (size_t i = 0; i < n; i++)
    cf_future_release(fs[i]);
}

START_TEST(test_empty) {
  wait_out r;
  ck_assert_int_eq(wait_on(NULL, 0, -1, CF_ALL_COMPLETED, &r), 0);
  ck_assert_uint_eq(r.ndone, 0);
  ck_assert_uint_eq(r.nnot_done, 0);
  ck_assert_int_eq(
      cf_wait(NULL, 0, 0, CF_FIRST_COMPLETED, NULL, NULL, NULL, NULL), 0);
}
END_TEST

START_TEST(test_invalid) {
  cf_future *fs[2] = {succeeded(), NULL};
  wait_out r;
  ck_assert_int_eq(wait_on(NULL, 1, 0, CF_ALL_COMPLETED, &r), CF_EINVAL);
  ck_assert_int_eq(wait_on(fs, 2, 0, CF_ALL_COMPLETED, &r), CF_EINVAL);
  ck_assert_int_eq(wait_on(fs, 1, 0, 0, &r), CF_EINVAL);
  ck_assert_int_eq(wait_on(fs, 1, 0, 4, &r), CF_EINVAL);
  ck_assert_int_eq(wait_on(fs, 1, NAN, CF_ALL_COMPLETED, &r), CF_EINVAL);
  /* Outputs are left alone on error. */
  ck_assert_uint_eq(r.ndone, 99);
  ck_assert_uint_eq(r.nnot_done, 99);
  cf_future_release(fs[0]);
}
END_TEST

START_TEST(test_first_completed) {
  cf_future *fs[3] = {pending(), pending(), pending()};
  later l;
  later_start(&l, fs[1], 30, 0);
  wait_out r;
  ck_assert_int_eq(wait_on(fs, 3, cf_test_scale(10), CF_FIRST_COMPLETED, &r),
                   0);
  ck_assert_uint_eq(r.ndone, 1);
  ck_assert_ptr_eq(r.done[0], fs[1]);
  ck_assert_uint_eq(r.nnot_done, 2);
  ck_assert_ptr_eq(r.not_done[0], fs[0]);
  ck_assert_ptr_eq(r.not_done[1], fs[2]);
  pthread_join(l.tid, NULL);
  release_all(fs, 3);
}
END_TEST

START_TEST(test_first_completed_some_already_completed) {
  cf_future *fs[4] = {pending(), succeeded(), failed(CF_ETASK), pending()};
  wait_out r;
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(wait_on(fs, 4, cf_test_scale(10), CF_FIRST_COMPLETED, &r),
                   0);
  ck_assert_double_lt(cf_test_elapsed(t0), cf_test_scale(5));
  ck_assert_uint_eq(r.ndone, 2);
  ck_assert_ptr_eq(r.done[0], fs[1]);
  ck_assert_ptr_eq(r.done[1], fs[2]);
  ck_assert_uint_eq(r.nnot_done, 2);
  ck_assert_ptr_eq(r.not_done[0], fs[0]);
  ck_assert_ptr_eq(r.not_done[1], fs[3]);
  release_all(fs, 4);
}
END_TEST

START_TEST(test_first_completed_by_cancel) {
  cf_future *fs[2] = {pending(), pending()};
  later l;
  later_start(&l, fs[0], 30, CF_ECANCELED);
  wait_out r;
  ck_assert_int_eq(wait_on(fs, 2, cf_test_scale(10), CF_FIRST_COMPLETED, &r),
                   0);
  ck_assert_uint_eq(r.ndone, 1);
  ck_assert_ptr_eq(r.done[0], fs[0]);
  pthread_join(l.tid, NULL);
  release_all(fs, 2);
}
END_TEST

START_TEST(test_first_exception) {
  cf_future *fs[3] = {succeeded(), pending(), pending()};
  later l1;
  later_start(&l1, fs[1], 40, CF_EPIPE);
  wait_out r;
  ck_assert_int_eq(wait_on(fs, 3, cf_test_scale(10), CF_FIRST_EXCEPTION, &r),
                   0);
  ck_assert(cf_future_done(fs[1]));
  ck_assert_uint_eq(r.ndone, 2);
  ck_assert_ptr_eq(r.done[0], fs[0]);
  ck_assert_ptr_eq(r.done[1], fs[1]);
  ck_assert_uint_eq(r.nnot_done, 1);
  ck_assert_ptr_eq(r.not_done[0], fs[2]);
  pthread_join(l1.tid, NULL);
  release_all(fs, 3);
}
END_TEST

START_TEST(test_first_exception_one_already_failed) {
  cf_future *fs[2] = {failed(CF_ETASK), pending()};
  wait_out r;
  ck_assert_int_eq(wait_on(fs, 2, cf_test_scale(10), CF_FIRST_EXCEPTION, &r),
                   0);
  ck_assert_uint_eq(r.ndone, 1);
  ck_assert_ptr_eq(r.done[0], fs[0]);
  ck_assert_uint_eq(r.nnot_done, 1);
  ck_assert_ptr_eq(r.not_done[0], fs[1]);
  release_all(fs, 2);
}
END_TEST

/* As in Python, a cancelled future is not an exception. */
START_TEST(test_first_exception_cancelled_is_not_error) {
  cf_future *fs[3] = {cancelled(), succeeded(), pending()};
  wait_out r;
  ck_assert_int_eq(wait_on(fs, 3, 0.05, CF_FIRST_EXCEPTION, &r), CF_ETIMEDOUT);
  ck_assert_uint_eq(r.ndone, 2);
  ck_assert_ptr_eq(r.done[0], fs[0]);
  ck_assert_ptr_eq(r.done[1], fs[1]);
  ck_assert_uint_eq(r.nnot_done, 1);
  ck_assert_ptr_eq(r.not_done[0], fs[2]);
  /* Cancelling the last one completes all: the condition is met. */
  later l;
  later_start(&l, fs[2], 20, CF_ECANCELED);
  ck_assert_int_eq(wait_on(fs, 3, cf_test_scale(10), CF_FIRST_EXCEPTION, &r),
                   0);
  ck_assert_uint_eq(r.ndone, 3);
  ck_assert_uint_eq(r.nnot_done, 0);
  pthread_join(l.tid, NULL);
  release_all(fs, 3);
}
END_TEST

START_TEST(test_first_exception_all_succeed) {
  cf_future *fs[3] = {succeeded(), pending(), pending()};
  later l1, l2;
  later_start(&l1, fs[1], 10, 0);
  later_start(&l2, fs[2], 30, 0);
  wait_out r;
  ck_assert_int_eq(wait_on(fs, 3, cf_test_scale(10), CF_FIRST_EXCEPTION, &r),
                   0);
  ck_assert_uint_eq(r.ndone, 3);
  ck_assert_uint_eq(r.nnot_done, 0);
  ck_assert_ptr_eq(r.done[0], fs[0]);
  ck_assert_ptr_eq(r.done[1], fs[1]);
  ck_assert_ptr_eq(r.done[2], fs[2]);
  pthread_join(l1.tid, NULL);
  pthread_join(l2.tid, NULL);
  release_all(fs, 3);
}
END_TEST

START_TEST(test_all_completed) {
  cf_future *fs[4] = {succeeded(), failed(CF_ETASK), cancelled(), pending()};
  later l;
  later_start(&l, fs[3], 30, 0);
  wait_out r;
  ck_assert_int_eq(wait_on(fs, 4, cf_test_scale(10), CF_ALL_COMPLETED, &r), 0);
  ck_assert_uint_eq(r.ndone, 4);
  ck_assert_uint_eq(r.nnot_done, 0);
  for (int i = 0; i < 4; i++)
    ck_assert_ptr_eq(r.done[i], fs[i]);
  pthread_join(l.tid, NULL);
  release_all(fs, 4);
}
END_TEST

START_TEST(test_timeout) {
  cf_future *fs[3] = {succeeded(), pending(), failed(CF_ETASK)};
  wait_out r;
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(wait_on(fs, 3, 0.05, CF_ALL_COMPLETED, &r), CF_ETIMEDOUT);
  ck_assert_double_ge(cf_test_elapsed(t0), 0.049);
  ck_assert_uint_eq(r.ndone, 2);
  ck_assert_ptr_eq(r.done[0], fs[0]);
  ck_assert_ptr_eq(r.done[1], fs[2]);
  ck_assert_uint_eq(r.nnot_done, 1);
  ck_assert_ptr_eq(r.not_done[0], fs[1]);
  /* 0 polls. */
  ck_assert_int_eq(wait_on(fs, 3, 0, CF_ALL_COMPLETED, &r), CF_ETIMEDOUT);
  ck_assert_uint_eq(r.ndone, 2);
  ck_assert_uint_eq(r.nnot_done, 1);
  cf_future *only_pending[1] = {fs[1]};
  t0 = cf_now_ns();
  ck_assert_int_eq(wait_on(only_pending, 1, 0.03, CF_FIRST_COMPLETED, &r),
                   CF_ETIMEDOUT);
  ck_assert_double_ge(cf_test_elapsed(t0), 0.029);
  ck_assert_uint_eq(r.ndone, 0);
  ck_assert_uint_eq(r.nnot_done, 1);
  ck_assert_int_eq(wait_on(only_pending, 1, 0.03, CF_FIRST_EXCEPTION, &r),
                   CF_ETIMEDOUT);
  release_all(fs, 3);
}
END_TEST

START_TEST(test_poll_met) {
  cf_future *fs[2] = {succeeded(), succeeded()};
  wait_out r;
  for (int mode = CF_FIRST_COMPLETED; mode <= CF_ALL_COMPLETED; mode++) {
    ck_assert_int_eq(wait_on(fs, 2, 0, mode, &r), 0);
    ck_assert_uint_eq(r.ndone, 2);
    ck_assert_uint_eq(r.nnot_done, 0);
  }
  release_all(fs, 2);
}
END_TEST

START_TEST(test_duplicates) {
  cf_future *a = succeeded(), *b = pending();
  cf_future *fs[5] = {a, b, a, b, a};
  wait_out r;
  ck_assert_int_eq(wait_on(fs, 5, 0, CF_ALL_COMPLETED, &r), CF_ETIMEDOUT);
  ck_assert_uint_eq(r.ndone, 1);
  ck_assert_ptr_eq(r.done[0], a);
  ck_assert_uint_eq(r.nnot_done, 1);
  ck_assert_ptr_eq(r.not_done[0], b);
  later l;
  later_start(&l, b, 20, 0);
  ck_assert_int_eq(wait_on(fs, 5, cf_test_scale(10), CF_ALL_COMPLETED, &r), 0);
  ck_assert_uint_eq(r.ndone, 2);
  ck_assert_ptr_eq(r.done[0], a);
  ck_assert_ptr_eq(r.done[1], b);
  ck_assert_uint_eq(r.nnot_done, 0);
  pthread_join(l.tid, NULL);
  cf_future_release(a);
  cf_future_release(b);
}
END_TEST

START_TEST(test_null_outputs) {
  cf_future *fs[2] = {succeeded(), pending()};
  ck_assert_int_eq(cf_wait((cf_future *const *)fs, 2, 0, CF_ALL_COMPLETED, NULL,
                           NULL, NULL, NULL),
                   CF_ETIMEDOUT);
  size_t nd = 0;
  cf_future *done[2];
  ck_assert_int_eq(cf_wait((cf_future *const *)fs, 2, -1, CF_FIRST_COMPLETED,
                           done, &nd, NULL, NULL),
                   0);
  ck_assert_uint_eq(nd, 1);
  ck_assert_ptr_eq(done[0], fs[0]);
  release_all(fs, 2);
}
END_TEST

/* With a pool: the classic test_wait scenarios on real tasks. */
START_TEST(test_pool_tasks) {
  cf_executor *ex = cf_test_pool(3);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *fs[3];
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[0]), 0);
  ck_assert_int_eq(
      cf_submit(ex, cf_test_task_fail, (void *)(intptr_t)CF_ETASK, &fs[1]), 0);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &fs[2]), 0);
  wait_out r;
  ck_assert_int_eq(wait_on(fs, 3, cf_test_scale(10), CF_FIRST_EXCEPTION, &r),
                   0);
  ck_assert_uint_eq(r.ndone, 1);
  ck_assert_ptr_eq(r.done[0], fs[1]);
  ck_assert_uint_eq(r.nnot_done, 2);
  cf_test_gate_open(&g);
  ck_assert_int_eq(wait_on(fs, 3, cf_test_scale(10), CF_ALL_COMPLETED, &r), 0);
  ck_assert_uint_eq(r.ndone, 3);
  release_all(fs, 3);
  cf_executor_free(ex);
  cf_test_gate_destroy(&g);
}
END_TEST

START_TEST(test_many_futures) {
  enum { N = 1000 };
  cf_executor *ex = cf_test_pool(4);
  cf_future **fs = calloc(N, sizeof *fs);
  cf_future **done = calloc(N, sizeof *done);
  ck_assert(fs != NULL && done != NULL);
  for (intptr_t i = 0; i < N; i++)
    ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, (void *)i, &fs[i]),
                     0);
  size_t nd = 0, nn = 99;
  ck_assert_int_eq(
      cf_wait(fs, N, cf_test_scale(20), CF_ALL_COMPLETED, done, &nd, NULL, &nn),
      0);
  ck_assert_uint_eq(nd, N);
  ck_assert_uint_eq(nn, 0);
  for (size_t i = 0; i < N; i++) {
    ck_assert_ptr_eq(done[i], fs[i]);
    cf_future_release(fs[i]);
  }
  free(fs);
  free(done);
  cf_executor_free(ex);
}
END_TEST

/* A task waiting on a sibling queued behind it on a one-worker pool. */
typedef struct {
  cf_executor *ex;
  int rc;
} nested_wait;

static int task_wait_on_sibling(void *arg, void **result) {
  nested_wait *n = arg;
  cf_future *inner = NULL;
  int rc = cf_submit(n->ex, cf_test_task_identity, NULL, &inner);
  if (rc != 0)
    return rc;
  cf_future *fs[1] = {inner};
  n->rc = cf_wait(fs, 1, cf_test_scale(5), CF_ALL_COMPLETED, NULL, NULL, NULL,
                  NULL);
  cf_future_release(inner);
  *result = NULL;
  return 0;
}

START_TEST(test_wait_from_worker_does_not_hang) {
  cf_executor *ex = cf_test_pool(1);
  nested_wait n = {ex, 1};
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_wait_on_sibling, &n, &f), 0);
  ck_assert_int_eq(cf_future_wait(f, cf_test_scale(10)), 0);
  /* It either ran the sibling inline, or said it could not (never hangs). */
  ck_assert_msg(n.rc == 0 || n.rc == CF_EDEADLK || n.rc == CF_ETIMEDOUT,
                "rc %d", n.rc);
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

Suite *cf_wait_suite(void) {
  Suite *s = suite_create("wait");
  TCase *tc = tcase_create("modes");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_empty);
  tcase_add_test(tc, test_invalid);
  tcase_add_test(tc, test_first_completed);
  tcase_add_test(tc, test_first_completed_some_already_completed);
  tcase_add_test(tc, test_first_completed_by_cancel);
  tcase_add_test(tc, test_first_exception);
  tcase_add_test(tc, test_first_exception_one_already_failed);
  tcase_add_test(tc, test_first_exception_cancelled_is_not_error);
  tcase_add_test(tc, test_first_exception_all_succeed);
  tcase_add_test(tc, test_all_completed);
  tcase_add_test(tc, test_timeout);
  tcase_add_test(tc, test_poll_met);
  tcase_add_test(tc, test_duplicates);
  tcase_add_test(tc, test_null_outputs);
  suite_add_tcase(s, tc);
  tc = tcase_create("pool");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_pool_tasks);
  tcase_add_test(tc, test_many_futures);
  tcase_add_test(tc, test_wait_from_worker_does_not_hang);
  suite_add_tcase(s, tc);
  return s;
}
