/* SPDX-License-Identifier: MIT */
/* Futures: user-completed futures, results and errors with timeouts,
 * cancellation, done callbacks, times, the in-task functions. The scenarios
 * follow CPython's test_concurrent_futures/test_future.py where they apply.
 *
 * LOCKING. A record's mu guards its entries: done callbacks append to it
 * from whichever thread completes a future. It is a leaf lock: nothing is
 * called with it held. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *const SENTINEL = (void *)(uintptr_t)0x5e47;

/* ---- a thread that completes a future after a delay ---- */

typedef struct {
  cf_future *f;
  double delay_ms;
  int err; /* 0 = set_result(value) */
  void *value;
  pthread_t tid;
} setter;

static void *setter_main(void *p) {
  setter *s = p;
  cf_test_sleep_ms(s->delay_ms);
  if (s->err == 0)
    cf_future_set_result(s->f, s->value);
  else
    cf_future_set_error(s->f, s->err, "late");
  return NULL;
}

static void setter_start(setter *s, cf_future *f, double delay_ms, int err,
                         void *value) {
  s->f = f;
  s->delay_ms = delay_ms;
  s->err = err;
  s->value = value;
  ck_assert_int_eq(pthread_create(&s->tid, NULL, setter_main, s), 0);
}

static cf_future *new_future(void) {
  cf_future *f = NULL;
  ck_assert_int_eq(cf_future_new(&f), 0);
  ck_assert_ptr_nonnull(f);
  return f;
}

/* ---- callbacks that record what happened ---- */

typedef struct {
  pthread_mutex_t mu;
  int order[16];
  int n;
  pthread_t thread[16];
  int state[16];
} record;

static void record_init(record *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->mu, NULL);
}

typedef struct {
  record *r;
  int id;
} rec_arg;

static void cb_record(cf_future *f, void *userdata) {
  rec_arg *a = userdata;
  int state = cf_future_state(f);
  pthread_mutex_lock(&a->r->mu);
  if (a->r->n < 16) {
    a->r->order[a->r->n] = a->id;
    a->r->thread[a->r->n] = pthread_self();
    a->r->state[a->r->n] = state;
  }
  a->r->n++;
  pthread_mutex_unlock(&a->r->mu);
}

static int record_count(record *r) {
  pthread_mutex_lock(&r->mu);
  int n = r->n;
  pthread_mutex_unlock(&r->mu);
  return n;
}

/* ------------------------------------------------------------------------ */

START_TEST(test_new_is_pending) {
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_state(f), CF_PENDING);
  ck_assert(!cf_future_done(f));
  ck_assert(!cf_future_running(f));
  ck_assert(!cf_future_cancelled(f));
  ck_assert_ptr_null(cf_future_error_message(f));
  ck_assert_ptr_eq(cf_future_retain(f), f);
  cf_future_release(f);
  cf_future_release(f);
}
END_TEST

START_TEST(test_null_arguments) {
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_new(NULL), CF_EINVAL);
  ck_assert_ptr_null(cf_future_retain(NULL));
  cf_future_release(NULL);
  ck_assert_int_eq(cf_future_state(NULL), CF_EINVAL);
  ck_assert(!cf_future_cancelled(NULL));
  ck_assert(!cf_future_running(NULL));
  ck_assert(!cf_future_done(NULL));
  ck_assert(!cf_future_cancel(NULL));
  ck_assert_int_eq(cf_future_request_cancel(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_wait(NULL, 0), CF_EINVAL);
  void *out = SENTINEL;
  ck_assert_int_eq(cf_future_result(NULL, 0, &out), CF_EINVAL);
  ck_assert_ptr_eq(out, SENTINEL);
  ck_assert_int_eq(cf_future_error(NULL, 0), CF_EINVAL);
  ck_assert_ptr_null(cf_future_error_message(NULL));
  ck_assert_int_eq(cf_future_on_done(NULL, cb_record, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_on_done(f, NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_running(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_result(NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_error(NULL, CF_ETASK, NULL), CF_EINVAL);
  cf_future_times t;
  ck_assert_int_eq(cf_future_times_get(NULL, &t), CF_EINVAL);
  ck_assert_int_eq(cf_future_times_get(f, NULL), CF_EINVAL);
  cf_future *o = NULL;
  ck_assert_int_eq(cf_future_then(NULL, NULL, NULL, NULL, &o), CF_EINVAL);
  ck_assert_ptr_null(o);
  /* None of that touched f. */
  ck_assert_int_eq(cf_future_state(f), CF_PENDING);
  cf_future_release(f);
}
END_TEST

START_TEST(test_nan_timeout) {
  cf_future *f = new_future();
  void *out = SENTINEL;
  ck_assert_int_eq(cf_future_result(f, NAN, &out), CF_EINVAL);
  ck_assert_ptr_eq(out, SENTINEL);
  ck_assert_int_eq(cf_future_wait(f, NAN), CF_EINVAL);
  ck_assert_int_eq(cf_future_error(f, NAN), CF_EINVAL);
  cf_future_release(f);
}
END_TEST

START_TEST(test_result_poll_and_timeout) {
  cf_future *f = new_future();
  void *out = SENTINEL;
  /* 0 polls. */
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(cf_future_result(f, 0, &out), CF_ETIMEDOUT);
  ck_assert_double_lt(cf_test_elapsed(t0), cf_test_scale(1.0));
  ck_assert_ptr_eq(out, SENTINEL);
  ck_assert(!cf_future_done(f));
  /* A small timeout expires, and never early. */
  t0 = cf_now_ns();
  ck_assert_int_eq(cf_future_result(f, 0.05, &out), CF_ETIMEDOUT);
  ck_assert_double_ge(cf_test_elapsed(t0), 0.049);
  ck_assert_ptr_eq(out, SENTINEL);
  t0 = cf_now_ns();
  ck_assert_int_eq(cf_future_wait(f, 0.03), CF_ETIMEDOUT);
  ck_assert_double_ge(cf_test_elapsed(t0), 0.029);
  t0 = cf_now_ns();
  ck_assert_int_eq(cf_future_error(f, 0.03), CF_ETIMEDOUT);
  ck_assert_double_ge(cf_test_elapsed(t0), 0.029);
  ck_assert_int_eq(cf_future_state(f), CF_PENDING);
  cf_future_release(f);
}
END_TEST

START_TEST(test_result_negative_waits) {
  cf_future *f = new_future();
  setter s;
  int v = 7;
  setter_start(&s, f, 50, 0, &v);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, -1, &out), 0);
  ck_assert_ptr_eq(out, &v);
  pthread_join(s.tid, NULL);
  cf_future_release(f);
}
END_TEST

START_TEST(test_result_timeout_then_success) {
  cf_future *f = new_future();
  setter s;
  int v = 1;
  setter_start(&s, f, 50, 0, &v);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), &out), 0);
  ck_assert_ptr_eq(out, &v);
  /* Done: polling returns at once, out may be NULL. */
  ck_assert_int_eq(cf_future_result(f, 0, NULL), 0);
  ck_assert_int_eq(cf_future_error(f, 0), 0);
  ck_assert_int_eq(cf_future_wait(f, 0), 0);
  pthread_join(s.tid, NULL);
  cf_future_release(f);
}
END_TEST

START_TEST(test_error_late_with_negative_timeout) {
  cf_future *f = new_future();
  setter s;
  setter_start(&s, f, 30, CF_ETASK, NULL);
  ck_assert_int_eq(cf_future_error(f, -1), CF_ETASK);
  ck_assert_str_eq(cf_future_error_message(f), "late");
  pthread_join(s.tid, NULL);
  cf_future_release(f);
}
END_TEST

/* Several threads waiting on one future all wake. */
static void *wait_main(void *p) {
  void *out = NULL;
  int rc = cf_future_result(p, -1, &out);
  return rc == 0 ? out : NULL;
}

START_TEST(test_many_waiters) {
  cf_future *f = new_future();
  pthread_t t[6];
  for (int i = 0; i < 6; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, wait_main, f), 0);
  cf_test_sleep_ms(20);
  int v = 3;
  ck_assert_int_eq(cf_future_set_result(f, &v), 0);
  for (int i = 0; i < 6; i++) {
    void *r = NULL;
    pthread_join(t[i], &r);
    ck_assert_ptr_eq(r, &v);
  }
  cf_future_release(f);
}
END_TEST

/* Infinite and huge timeouts wait (no overflow into an expired deadline);
 * a tiny one expires. */
START_TEST(test_extreme_timeouts) {
  double forever[] = {INFINITY, 1e300, 1e12, -INFINITY, -1e-9};
  for (size_t i = 0; i < sizeof forever / sizeof forever[0]; i++) {
    cf_future *f = new_future();
    setter s;
    setter_start(&s, f, 20, 0, SENTINEL);
    void *out = NULL;
    ck_assert_msg(cf_future_result(f, forever[i], &out) == 0, "timeout %g",
                  forever[i]);
    ck_assert_ptr_eq(out, SENTINEL);
    pthread_join(s.tid, NULL);
    cf_future_release(f);
  }
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_result(f, 1e-9, NULL), CF_ETIMEDOUT);
  ck_assert_int_eq(cf_future_wait(f, 1e-300), CF_ETIMEDOUT);
  cf_future_release(f);
}
END_TEST

START_TEST(test_set_result) {
  cf_future *f = new_future();
  int v = 5;
  ck_assert_int_eq(cf_future_set_result(f, &v), 0);
  ck_assert_int_eq(cf_future_state(f), CF_FINISHED);
  ck_assert(cf_future_done(f));
  ck_assert(!cf_future_running(f));
  ck_assert(!cf_future_cancelled(f));
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, 0, &out), 0);
  ck_assert_ptr_eq(out, &v);
  ck_assert_ptr_null(cf_future_error_message(f));
  /* Setting twice is an invalid state and changes nothing. */
  int w = 6;
  ck_assert_int_eq(cf_future_set_result(f, &w), CF_ESTATE);
  ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "x"), CF_ESTATE);
  ck_assert_int_eq(cf_future_set_running(f), CF_ESTATE);
  ck_assert_int_eq(cf_future_result(f, 0, &out), 0);
  ck_assert_ptr_eq(out, &v);
  ck_assert(!cf_future_cancel(f));
  ck_assert_int_eq(cf_future_request_cancel(f), CF_ESTATE);
  ck_assert_int_eq(cf_future_state(f), CF_FINISHED);
  cf_future_release(f);
}
END_TEST

START_TEST(test_set_result_null_value) {
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0);
  void *out = SENTINEL;
  ck_assert_int_eq(cf_future_result(f, 0, &out), 0);
  ck_assert_ptr_null(out);
  cf_future_release(f);
}
END_TEST

START_TEST(test_set_error) {
  cf_future *f = new_future();
  char msg[32] = "disk on fire";
  ck_assert_int_eq(cf_future_set_error(f, CF_EPIPE, msg), 0);
  msg[0] = 'X'; /* the future keeps its own copy */
  ck_assert_int_eq(cf_future_state(f), CF_FINISHED);
  ck_assert(!cf_future_cancelled(f));
  void *out = SENTINEL;
  ck_assert_int_eq(cf_future_result(f, 0, &out), CF_EPIPE);
  ck_assert_ptr_eq(out, SENTINEL);
  ck_assert_int_eq(cf_future_error(f, 0), CF_EPIPE);
  ck_assert_str_eq(cf_future_error_message(f), "disk on fire");
  ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, NULL), CF_ESTATE);
  ck_assert_int_eq(cf_future_set_result(f, NULL), CF_ESTATE);
  ck_assert_int_eq(cf_future_error(f, 0), CF_EPIPE);
  cf_future_release(f);
}
END_TEST

START_TEST(test_set_error_custom_code_no_message) {
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_set_error(f, -777, NULL), 0);
  ck_assert_int_eq(cf_future_error(f, 0), -777);
  ck_assert_int_eq(cf_future_result(f, 0, NULL), -777);
  ck_assert_ptr_null(cf_future_error_message(f));
  cf_future_release(f);
}
END_TEST

START_TEST(test_set_error_rejects_non_negative) {
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_set_error(f, 0, "x"), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_error(f, 5, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_state(f), CF_PENDING);
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0);
  cf_future_release(f);
}
END_TEST

START_TEST(test_set_error_canceled_marks_cancelled) {
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_set_error(f, CF_ECANCELED, NULL), 0);
  ck_assert(cf_future_cancelled(f));
  ck_assert(cf_future_done(f));
  ck_assert_int_eq(cf_future_state(f), CF_CANCELLED);
  ck_assert_int_eq(cf_future_result(f, 0, NULL), CF_ECANCELED);
  ck_assert_int_eq(cf_future_error(f, 0), CF_ECANCELED);
  cf_future_release(f);
}
END_TEST

START_TEST(test_set_running) {
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_set_running(f), 0);
  ck_assert_int_eq(cf_future_state(f), CF_RUNNING);
  ck_assert(cf_future_running(f));
  ck_assert(!cf_future_done(f));
  /* Running: cancel refuses, set_running again is an invalid state. */
  ck_assert(!cf_future_cancel(f));
  ck_assert(!cf_future_cancelled(f));
  ck_assert_int_eq(cf_future_set_running(f), CF_ESTATE);
  ck_assert_int_eq(cf_future_result(f, 0, NULL), CF_ETIMEDOUT);
  int v = 1;
  ck_assert_int_eq(cf_future_set_result(f, &v), 0);
  ck_assert(!cf_future_running(f));
  ck_assert_int_eq(cf_future_set_running(f), CF_ESTATE);
  cf_future_release(f);
}
END_TEST

START_TEST(test_set_running_after_cancel) {
  cf_future *f = new_future();
  ck_assert(cf_future_cancel(f));
  ck_assert_int_eq(cf_future_set_running(f), CF_ECANCELED);
  ck_assert_int_eq(cf_future_set_result(f, NULL), CF_ESTATE);
  ck_assert_int_eq(cf_future_state(f), CF_CANCELLED);
  cf_future_release(f);
}
END_TEST

START_TEST(test_cancel_states) {
  /* Pending: true, and true again once cancelled. */
  cf_future *f = new_future();
  ck_assert(cf_future_cancel(f));
  ck_assert(cf_future_cancel(f));
  ck_assert(cf_future_cancelled(f));
  ck_assert(cf_future_done(f));
  ck_assert(!cf_future_running(f));
  ck_assert_int_eq(cf_future_result(f, -1, NULL), CF_ECANCELED);
  ck_assert_int_eq(cf_future_error(f, -1), CF_ECANCELED);
  ck_assert_int_eq(cf_future_wait(f, -1), 0);
  ck_assert_ptr_null(cf_future_error_message(f));
  cf_future_release(f);
  /* Finished with a result or an error: false. */
  f = new_future();
  cf_future_set_result(f, NULL);
  ck_assert(!cf_future_cancel(f));
  ck_assert(!cf_future_cancelled(f));
  cf_future_release(f);
  f = new_future();
  cf_future_set_error(f, CF_ETASK, NULL);
  ck_assert(!cf_future_cancel(f));
  ck_assert_int_eq(cf_future_error(f, 0), CF_ETASK);
  cf_future_release(f);
}
END_TEST

START_TEST(test_cancel_wakes_waiter) {
  cf_future *f = new_future();
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, wait_main, f), 0);
  cf_test_sleep_ms(20);
  ck_assert(cf_future_cancel(f));
  pthread_join(t, NULL);
  cf_future_release(f);
}
END_TEST

START_TEST(test_request_cancel_user_future) {
  cf_future *f = new_future();
  ck_assert_int_eq(cf_future_request_cancel(f), 0);
  ck_assert(cf_future_cancelled(f));
  ck_assert_int_eq(cf_future_request_cancel(f), CF_ESTATE);
  cf_future_release(f);
  /* A running user future: the token is raised, the state is unchanged. */
  f = new_future();
  ck_assert_int_eq(cf_future_set_running(f), 0);
  ck_assert_int_eq(cf_future_request_cancel(f), 0);
  ck_assert(cf_future_running(f));
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0);
  ck_assert_int_eq(cf_future_request_cancel(f), CF_ESTATE);
  cf_future_release(f);
}
END_TEST

/* ---- done callbacks ---- */

START_TEST(test_callbacks_in_order_once) {
  cf_future *f = new_future();
  record r;
  record_init(&r);
  rec_arg a[5];
  for (int i = 0; i < 5; i++) {
    a[i] = (rec_arg){&r, i};
    ck_assert_int_eq(cf_future_on_done(f, cb_record, &a[i]), 0);
  }
  ck_assert_int_eq(record_count(&r), 0);
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0);
  ck_assert_int_eq(record_count(&r), 5); /* before set_result returned */
  for (int i = 0; i < 5; i++) {
    ck_assert_int_eq(r.order[i], i);
    ck_assert_int_eq(r.state[i], CF_FINISHED);
    ck_assert(pthread_equal(r.thread[i], pthread_self()));
  }
  /* Never again. */
  ck_assert_int_eq(cf_future_set_result(f, NULL), CF_ESTATE);
  cf_future_cancel(f);
  ck_assert_int_eq(record_count(&r), 5);
  cf_future_release(f);
}
END_TEST

START_TEST(test_callback_already_done_runs_now) {
  record r;
  record_init(&r);
  rec_arg a = {&r, 1};
  /* Already successful. */
  cf_future *f = new_future();
  cf_future_set_result(f, NULL);
  ck_assert_int_eq(cf_future_on_done(f, cb_record, &a), 0);
  ck_assert_int_eq(record_count(&r), 1);
  ck_assert(pthread_equal(r.thread[0], pthread_self()));
  cf_future_release(f);
  /* Already failed. */
  f = new_future();
  cf_future_set_error(f, CF_ETASK, "no");
  ck_assert_int_eq(cf_future_on_done(f, cb_record, &a), 0);
  ck_assert_int_eq(record_count(&r), 2);
  ck_assert_int_eq(r.state[1], CF_FINISHED);
  cf_future_release(f);
  /* Already cancelled. */
  f = new_future();
  cf_future_cancel(f);
  ck_assert_int_eq(cf_future_on_done(f, cb_record, &a), 0);
  ck_assert_int_eq(record_count(&r), 3);
  ck_assert_int_eq(r.state[2], CF_CANCELLED);
  cf_future_release(f);
}
END_TEST

START_TEST(test_callback_on_cancel) {
  cf_future *f = new_future();
  record r;
  record_init(&r);
  rec_arg a = {&r, 0};
  cf_future_on_done(f, cb_record, &a);
  ck_assert(cf_future_cancel(f));
  ck_assert_int_eq(record_count(&r), 1);
  ck_assert_int_eq(r.state[0], CF_CANCELLED);
  ck_assert(cf_future_cancel(f));
  ck_assert_int_eq(record_count(&r), 1);
  cf_future_release(f);
}
END_TEST

/* The callback runs on the thread that completes the future. */
START_TEST(test_callback_on_completing_thread) {
  cf_future *f = new_future();
  record r;
  record_init(&r);
  rec_arg a = {&r, 0};
  cf_future_on_done(f, cb_record, &a);
  setter s;
  setter_start(&s, f, 10, 0, NULL);
  pthread_join(s.tid, NULL);
  ck_assert_int_eq(record_count(&r), 1);
  ck_assert(pthread_equal(r.thread[0], s.tid));
  cf_future_release(f);
}
END_TEST

typedef struct {
  record *r;
  rec_arg inner;
  int add_rc;
} nest_arg;

static void cb_add_another(cf_future *f, void *userdata) {
  nest_arg *n = userdata;
  n->add_rc = cf_future_on_done(f, cb_record, &n->inner);
}

START_TEST(test_callback_added_from_callback) {
  cf_future *f = new_future();
  record r;
  record_init(&r);
  nest_arg n = {&r, {&r, 9}, 1};
  rec_arg last = {&r, 2};
  cf_future_on_done(f, cb_add_another, &n);
  cf_future_on_done(f, cb_record, &last);
  cf_future_set_result(f, NULL);
  ck_assert_int_eq(n.add_rc, 0);
  /* The nested one ran exactly once, and so did the other. */
  ck_assert_int_eq(record_count(&r), 2);
  int saw9 = 0, saw2 = 0;
  for (int i = 0; i < 2; i++) {
    saw9 += r.order[i] == 9;
    saw2 += r.order[i] == 2;
  }
  ck_assert_int_eq(saw9, 1);
  ck_assert_int_eq(saw2, 1);
  cf_future_release(f);
}
END_TEST

static void cb_release_other(cf_future *f, void *userdata) {
  (void)f;
  cf_future_release(userdata);
}

static void cb_cancel_other(cf_future *f, void *userdata) {
  (void)f;
  cf_future_cancel(userdata);
}

START_TEST(test_callback_releases_and_cancels_others) {
  cf_future *a = new_future(), *b = new_future(), *c = new_future();
  record r;
  record_init(&r);
  rec_arg rb = {&r, 1};
  cf_future_on_done(b, cb_record, &rb);
  /* a's callbacks: cancel b, then drop the last reference to c. */
  cf_future_on_done(a, cb_cancel_other, b);
  cf_future_on_done(a, cb_release_other, c);
  ck_assert_int_eq(cf_future_set_result(a, NULL), 0);
  ck_assert(cf_future_cancelled(b));
  ck_assert_int_eq(record_count(&r), 1);
  cf_future_release(a);
  cf_future_release(b);
}
END_TEST

/* A callback that drops the last reference to its own future: the future
 * must outlive the callback run (the completer holds it). */
START_TEST(test_callback_releases_own_future) {
  cf_future *f = new_future();
  cf_future_retain(f);
  cf_future_on_done(f, cb_release_other, f);
  cf_future_release(f); /* now only the callback's reference is left */
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0);
}
END_TEST

typedef struct {
  cf_executor *ex;
  cf_future *submitted;
  int rc;
} submit_arg;

static void cb_submit(cf_future *f, void *userdata) {
  (void)f;
  submit_arg *s = userdata;
  s->rc = cf_submit(s->ex, cf_test_task_identity, SENTINEL, &s->submitted);
}

START_TEST(test_callback_submits_work) {
  cf_executor *ex = cf_test_pool(2);
  cf_future *f = new_future();
  submit_arg s = {ex, NULL, 1};
  cf_future_on_done(f, cb_submit, &s);
  cf_future_set_result(f, NULL);
  ck_assert_int_eq(s.rc, 0);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(s.submitted, cf_test_scale(10), &out), 0);
  ck_assert_ptr_eq(out, SENTINEL);
  cf_future_release(s.submitted);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Callbacks run after the waiters have been woken: a callback that waits
 * for a waiter to return must not wait forever. */
typedef struct {
  cf_future *f;
  atomic_int returned;
} waiter;

static void *waiter_main(void *p) {
  waiter *w = p;
  cf_future_wait(w->f, -1);
  atomic_store(&w->returned, 1);
  return NULL;
}

static void cb_wait_for_waiter(cf_future *f, void *userdata) {
  (void)f;
  waiter *w = userdata;
  uint64_t t0 = cf_now_ns();
  while (!atomic_load(&w->returned) && cf_test_elapsed(t0) < cf_test_scale(3))
    cf_test_sleep_ms(1);
}

START_TEST(test_waiters_woken_before_callbacks) {
  waiter w = {new_future(), 0};
  ck_assert_int_eq(cf_future_on_done(w.f, cb_wait_for_waiter, &w), 0);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, waiter_main, &w), 0);
  cf_test_sleep_ms(30); /* the waiter sleeps on the future by now */
  ck_assert_int_eq(cf_future_set_result(w.f, NULL), 0);
  ck_assert_int_eq(atomic_load(&w.returned), 1);
  pthread_join(t, NULL);
  cf_future_release(w.f);
}
END_TEST

/* Callbacks of a pool future run on the worker that completed it. */
static void cb_note_thread(cf_future *f, void *userdata) {
  (void)f;
  *(pthread_t *)userdata = pthread_self();
}

START_TEST(test_callback_runs_on_worker) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &f), 0);
  pthread_t cb_thread = pthread_self();
  ck_assert_int_eq(cf_future_on_done(f, cb_note_thread, &cb_thread), 0);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_executor_free(ex), 0); /* callbacks have run */
  ck_assert(!pthread_equal(cb_thread, pthread_self()));
  cf_future_release(f);
  cf_test_gate_destroy(&g);
}
END_TEST

/* On a worker, a callback cancels a queued sibling and submits new work
 * to the same pool: no lock is held while callbacks run. */
typedef struct {
  cf_executor *ex;
  cf_future *sibling;
  bool cancelled;
  int submit_rc;
  cf_future *submitted;
} worker_cb;

static void cb_cancel_and_submit(cf_future *f, void *userdata) {
  (void)f;
  worker_cb *w = userdata;
  /* Submit first: the test wakes when the sibling is cancelled. */
  w->submit_rc =
      cf_submit(w->ex, cf_test_task_identity, SENTINEL, &w->submitted);
  w->cancelled = cf_future_cancel(w->sibling);
}

START_TEST(test_callback_on_worker_cancels_and_submits) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  atomic_int ran = 0;
  cf_future *a = NULL, *b = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &a), 0);
  ck_assert(cf_test_gate_wait_arrivals(&g, 1, cf_test_scale(10)));
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &ran, &b), 0);
  worker_cb w = {ex, b, false, 1, NULL};
  ck_assert_int_eq(cf_future_on_done(a, cb_cancel_and_submit, &w), 0);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_future_wait(b, cf_test_scale(10)), 0);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert(w.cancelled);
  ck_assert(cf_future_cancelled(b));
  ck_assert_int_eq(atomic_load(&ran), 0);
  ck_assert_int_eq(w.submit_rc, 0);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(w.submitted, 0, &out), 0);
  ck_assert_ptr_eq(out, SENTINEL);
  cf_future_release(w.submitted);
  cf_future_release(a);
  cf_future_release(b);
  cf_executor_free(ex);
  cf_test_gate_destroy(&g);
}
END_TEST

/* ---- times ---- */

START_TEST(test_times_user_future) {
  uint64_t before = cf_now_ns();
  cf_future *f = new_future();
  cf_future_times t;
  ck_assert_int_eq(cf_future_times_get(f, &t), 0);
  ck_assert_uint_ge(t.queued_ns, before);
  ck_assert_uint_eq(t.started_ns, 0);
  ck_assert_uint_eq(t.finished_ns, 0);
  cf_test_sleep_ms(2);
  cf_future_set_running(f);
  cf_test_sleep_ms(2);
  cf_future_set_result(f, NULL);
  ck_assert_int_eq(cf_future_times_get(f, &t), 0);
  ck_assert_uint_gt(t.started_ns, t.queued_ns);
  ck_assert_uint_gt(t.finished_ns, t.started_ns);
  ck_assert_uint_le(t.finished_ns, cf_now_ns());
  cf_future_release(f);
  /* Cancelled: never started, finished set. */
  f = new_future();
  cf_future_cancel(f);
  ck_assert_int_eq(cf_future_times_get(f, &t), 0);
  ck_assert_uint_eq(t.started_ns, 0);
  ck_assert_uint_ge(t.finished_ns, t.queued_ns);
  cf_future_release(f);
}
END_TEST

START_TEST(test_times_pool_future) {
  cf_executor *ex = cf_test_pool(1);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_sleep, (void *)(intptr_t)5, &f),
                   0);
  ck_assert_int_eq(cf_future_wait(f, cf_test_scale(10)), 0);
  cf_future_times t;
  ck_assert_int_eq(cf_future_times_get(f, &t), 0);
  ck_assert_uint_gt(t.queued_ns, 0);
  ck_assert_uint_ge(t.started_ns, t.queued_ns);
  ck_assert_uint_ge(t.finished_ns, t.started_ns);
  ck_assert_uint_ge(t.finished_ns - t.started_ns, 5000000);
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

/* ---- executor-owned futures and the in-task functions ---- */

START_TEST(test_set_on_executor_future_rejected) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &f), 0);
  ck_assert_int_eq(cf_future_set_result(f, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_running(f), CF_EINVAL);
  cf_test_gate_open(&g);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), &out), 0);
  ck_assert_ptr_eq(out, &g);
  ck_assert_int_eq(cf_future_set_result(f, NULL), CF_EINVAL);
  cf_future_release(f);
  cf_executor_free(ex);
  cf_test_gate_destroy(&g);
}
END_TEST

START_TEST(test_task_functions_outside_task) {
  ck_assert(!cf_task_cancel_requested());
  ck_assert_int_eq(cf_task_set_message("x"), CF_ESTATE);
  ck_assert_ptr_null(cf_task_current());
}
END_TEST

static int task_report_current(void *arg, void **result) {
  (void)arg;
  *result = cf_task_current();
  return 0;
}

static int task_fail_with_message(void *arg, void **result) {
  (void)result;
  if (cf_task_set_message(NULL) != CF_EINVAL)
    return CF_EPROTO;
  char buf[32];
  snprintf(buf, sizeof buf, "bad input %d", (int)(intptr_t)arg);
  if (cf_task_set_message(buf) != 0)
    return CF_EPROTO;
  memset(buf, 0, sizeof buf); /* copied, so this must not show */
  return CF_ETASK;
}

static int task_custom_error(void *arg, void **result) {
  (void)arg;
  (void)result;
  return -1234;
}

START_TEST(test_task_current_and_message) {
  cf_executor *ex = cf_test_pool(2);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_report_current, NULL, &f), 0);
  void *out = NULL;
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), &out), 0);
  ck_assert_ptr_eq(out, f);
  ck_assert_ptr_null(cf_future_error_message(f));
  cf_future_release(f);

  ck_assert_int_eq(
      cf_submit(ex, task_fail_with_message, (void *)(intptr_t)42, &f), 0);
  out = SENTINEL;
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), &out), CF_ETASK);
  ck_assert_ptr_eq(out, SENTINEL);
  ck_assert_int_eq(cf_future_error(f, 0), CF_ETASK);
  ck_assert(!cf_future_cancelled(f));
  ck_assert_int_eq(cf_future_state(f), CF_FINISHED);
  ck_assert_ptr_nonnull(cf_future_error_message(f));
  ck_assert_str_eq(cf_future_error_message(f), "bad input 42");
  cf_future_release(f);

  ck_assert_int_eq(cf_submit(ex, task_custom_error, NULL, &f), 0);
  ck_assert_int_eq(cf_future_error(f, cf_test_scale(10)), -1234);
  ck_assert_ptr_null(cf_future_error_message(f));
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

/* Releasing a pending future does not cancel it: it still runs and its
 * callbacks still fire. */
START_TEST(test_release_pending_still_runs) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  atomic_int ran = 0;
  cf_future *blocker = NULL, *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &blocker), 0);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &ran, &f), 0);
  record r;
  record_init(&r);
  rec_arg a = {&r, 0};
  cf_future_on_done(f, cb_record, &a);
  cf_future_release(f);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_future_wait(blocker, cf_test_scale(10)), 0);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(atomic_load(&ran), 1);
  ck_assert_int_eq(record_count(&r), 1);
  ck_assert_int_eq(r.state[0], CF_FINISHED);
  cf_future_release(blocker);
  cf_executor_free(ex);
  cf_test_gate_destroy(&g);
}
END_TEST

/* Cancel: true only while pending. */
START_TEST(test_cancel_pool_pending_running_finished) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  atomic_int ran = 0;
  cf_future *running = NULL, *pending = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &running), 0);
  ck_assert(cf_test_gate_wait_arrivals(&g, 1, cf_test_scale(10)));
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &ran, &pending), 0);
  ck_assert(cf_future_running(running));
  ck_assert_int_eq(cf_future_state(pending), CF_PENDING);
  record r;
  record_init(&r);
  rec_arg a = {&r, 0};
  cf_future_on_done(pending, cb_record, &a);
  ck_assert(!cf_future_cancel(running));
  ck_assert(cf_future_cancel(pending));
  ck_assert_int_eq(record_count(&r), 1);
  ck_assert(pthread_equal(r.thread[0], pthread_self()));
  ck_assert_int_eq(cf_future_result(pending, 0, NULL), CF_ECANCELED);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_future_result(running, cf_test_scale(10), NULL), 0);
  ck_assert(!cf_future_cancel(running));
  ck_assert(!cf_future_cancelled(running));
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(atomic_load(&ran), 0);
  cf_future_times t;
  cf_future_times_get(pending, &t);
  ck_assert_uint_eq(t.started_ns, 0);
  cf_future_release(running);
  cf_future_release(pending);
  cf_executor_free(ex);
  cf_test_gate_destroy(&g);
}
END_TEST

/* Cooperative cancel: the running task sees its token and ends cancelled. */
static int task_until_cancel(void *arg, void **result) {
  (void)result;
  cf_test_gate_pass(arg); /* announce we run; the gate is left open */
  uint64_t start = cf_now_ns();
  while (!cf_task_cancel_requested()) {
    if (cf_test_elapsed(start) > cf_test_scale(20))
      return CF_ETIMEDOUT;
    cf_test_sleep_ms(1);
  }
  return CF_ECANCELED;
}

START_TEST(test_request_cancel_running_task) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_test_gate_open(&g);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_until_cancel, &g, &f), 0);
  ck_assert(cf_test_gate_wait_arrivals(&g, 1, cf_test_scale(10)));
  ck_assert(cf_future_running(f));
  ck_assert_int_eq(cf_future_request_cancel(f), 0);
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), NULL), CF_ECANCELED);
  ck_assert(cf_future_cancelled(f));
  ck_assert_int_eq(cf_future_state(f), CF_CANCELLED);
  ck_assert_int_eq(cf_future_request_cancel(f), CF_ESTATE);
  cf_future_release(f);
  cf_executor_free(ex);
  cf_test_gate_destroy(&g);
}
END_TEST

/* A task that returns CF_ECANCELED without having been asked to stop is an
 * ordinary failure, not a cancellation. */
START_TEST(test_unrequested_ecanceled_is_failure) {
  cf_executor *ex = cf_test_pool(1);
  cf_future *f = NULL;
  ck_assert_int_eq(
      cf_submit(ex, cf_test_task_fail, (void *)(intptr_t)CF_ECANCELED, &f), 0);
  ck_assert_int_eq(cf_future_error(f, cf_test_scale(10)), CF_ECANCELED);
  ck_assert_int_eq(cf_future_state(f), CF_FINISHED);
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_request_cancel_pending_pool_future) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  atomic_int ran = 0;
  cf_future *blocker = NULL, *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &blocker), 0);
  ck_assert(cf_test_gate_wait_arrivals(&g, 1, cf_test_scale(10)));
  ck_assert_int_eq(cf_submit(ex, cf_test_task_count, &ran, &f), 0);
  ck_assert_int_eq(cf_future_request_cancel(f), 0);
  ck_assert(cf_future_cancelled(f));
  cf_test_gate_open(&g);
  cf_executor_free(ex);
  ck_assert_int_eq(atomic_load(&ran), 0);
  cf_future_release(blocker);
  cf_future_release(f);
  cf_test_gate_destroy(&g);
}
END_TEST

/* What a task writes is visible to whoever learns the future is done:
 * a wait that returns 0, or a done callback run at once by on_done. Under
 * ThreadSanitizer a missing acquire shows as a data race here. */
static int task_write_flag(void *arg, void **result) {
  *(int *)arg = 1;
  *result = NULL;
  return 0;
}

static void cb_read_flag(cf_future *f, void *userdata) {
  (void)f;
  ck_assert_int_eq(*(int *)userdata, 1);
}

START_TEST(test_done_publishes_task_writes) {
  enum { ROUNDS = 2000 };
  cf_executor *ex = cf_test_pool(2);
  static int flags[ROUNDS], flags2[ROUNDS];
  for (int i = 0; i < ROUNDS; i++) {
    cf_future *f = NULL, *g = NULL;
    ck_assert_int_eq(cf_submit(ex, task_write_flag, &flags[i], &f), 0);
    ck_assert_int_eq(cf_submit(ex, task_write_flag, &flags2[i], &g), 0);
    if (i % 3 == 0)
      cf_test_sleep_ms(0.005 * (i % 7));
    /* One learns it from on_done (registered, or run at once when the
     * task has finished), the other from a plain wait. */
    ck_assert_int_eq(cf_future_on_done(f, cb_read_flag, &flags[i]), 0);
    ck_assert_int_eq(cf_future_wait(g, cf_test_scale(10)), 0);
    ck_assert_int_eq(flags2[i], 1);
    cf_future_release(f);
    cf_future_release(g);
  }
  cf_executor_free(ex);
}
END_TEST

Suite *cf_future_suite(void) {
  Suite *s = suite_create("future");
  TCase *tc = tcase_create("user");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_new_is_pending);
  tcase_add_test(tc, test_null_arguments);
  tcase_add_test(tc, test_nan_timeout);
  tcase_add_test(tc, test_result_poll_and_timeout);
  tcase_add_test(tc, test_result_negative_waits);
  tcase_add_test(tc, test_result_timeout_then_success);
  tcase_add_test(tc, test_error_late_with_negative_timeout);
  tcase_add_test(tc, test_many_waiters);
  tcase_add_test(tc, test_extreme_timeouts);
  tcase_add_test(tc, test_set_result);
  tcase_add_test(tc, test_set_result_null_value);
  tcase_add_test(tc, test_set_error);
  tcase_add_test(tc, test_set_error_custom_code_no_message);
  tcase_add_test(tc, test_set_error_rejects_non_negative);
  tcase_add_test(tc, test_set_error_canceled_marks_cancelled);
  tcase_add_test(tc, test_set_running);
  tcase_add_test(tc, test_set_running_after_cancel);
  tcase_add_test(tc, test_cancel_states);
  tcase_add_test(tc, test_cancel_wakes_waiter);
  tcase_add_test(tc, test_request_cancel_user_future);
  tcase_add_test(tc, test_times_user_future);
  tcase_add_test(tc, test_task_functions_outside_task);
  suite_add_tcase(s, tc);

  tc = tcase_create("callbacks");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_callbacks_in_order_once);
  tcase_add_test(tc, test_callback_already_done_runs_now);
  tcase_add_test(tc, test_callback_on_cancel);
  tcase_add_test(tc, test_callback_on_completing_thread);
  tcase_add_test(tc, test_callback_added_from_callback);
  tcase_add_test(tc, test_callback_releases_and_cancels_others);
  tcase_add_test(tc, test_callback_releases_own_future);
  tcase_add_test(tc, test_callback_submits_work);
  tcase_add_test(tc, test_waiters_woken_before_callbacks);
  tcase_add_test(tc, test_callback_runs_on_worker);
  tcase_add_test(tc, test_callback_on_worker_cancels_and_submits);
  suite_add_tcase(s, tc);

  tc = tcase_create("pool");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_times_pool_future);
  tcase_add_test(tc, test_set_on_executor_future_rejected);
  tcase_add_test(tc, test_task_current_and_message);
  tcase_add_test(tc, test_release_pending_still_runs);
  tcase_add_test(tc, test_cancel_pool_pending_running_finished);
  tcase_add_test(tc, test_request_cancel_running_task);
  tcase_add_test(tc, test_unrequested_ecanceled_is_failure);
  tcase_add_test(tc, test_request_cancel_pending_pool_future);
  tcase_add_test(tc, test_done_publishes_task_writes);
  suite_add_tcase(s, tc);
  return s;
}
