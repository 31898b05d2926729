/* SPDX-License-Identifier: MIT */
/* cf_future_then: continuations inline and on an executor, after success,
 * failure and cancellation; a refused continuation; cancelling one. */
#include "harness.h"

#include <stdio.h>
#include <string.h>

#define V(i) ((void *)(intptr_t)(i))

static cf_future *pending(void) {
  cf_future *f = NULL;
  ck_assert_int_eq(cf_future_new(&f), 0);
  return f;
}

typedef struct {
  atomic_int calls;
  pthread_t thread;
  int prev_err;
  void *prev_value;
  char prev_msg[32];
  bool prev_done;
  bool in_task;
} seen;

/* Records what the antecedent looked like; returns its value + 1, or 0 if
 * the antecedent failed (a handler that recovers). */
static int then_record(cf_future *prev, void *arg, void **result) {
  seen *s = arg;
  s->thread = pthread_self();
  s->prev_done = cf_future_done(prev);
  s->prev_value = NULL;
  s->prev_err = cf_future_result(prev, 0, &s->prev_value);
  const char *m = cf_future_error_message(prev);
  snprintf(s->prev_msg, sizeof s->prev_msg, "%s", m ? m : "");
  s->in_task = cf_task_current() != NULL;
  atomic_fetch_add(&s->calls, 1);
  *result = s->prev_err == 0 ? V((intptr_t)s->prev_value + 1) : V(0);
  return 0;
}

static int then_fail(cf_future *prev, void *arg, void **result) {
  (void)prev;
  (void)result;
  if (cf_task_current() != NULL)
    cf_task_set_message("continuation failed");
  return (int)(intptr_t)arg;
}

static int then_add_one(cf_future *prev, void *arg, void **result) {
  (void)arg;
  void *v = NULL;
  int rc = cf_future_result(prev, 0, &v);
  if (rc != 0)
    return rc;
  *result = V((intptr_t)v + 1);
  return 0;
}

START_TEST(test_invalid) {
  cf_future *f = pending();
  seen s = {0};
  cf_future *out = (cf_future *)(uintptr_t)0x1;
  ck_assert_int_eq(cf_future_then(NULL, NULL, then_record, &s, &out),
                   CF_EINVAL);
  ck_assert_int_eq(cf_future_then(f, NULL, NULL, &s, &out), CF_EINVAL);
  ck_assert_int_eq(cf_future_then(f, NULL, then_record, &s, NULL), CF_EINVAL);
  ck_assert_ptr_eq(out, (cf_future *)(uintptr_t)0x1);
  cf_future_set_result(f, NULL);
  ck_assert_int_eq(atomic_load(&s.calls), 0);
  cf_future_release(f);
}
END_TEST

START_TEST(test_inline_on_completing_thread) {
  cf_future *f = pending();
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, NULL, then_record, &s, &out), 0);
  ck_assert_ptr_nonnull(out);
  ck_assert(!cf_future_done(out));
  ck_assert_int_eq(atomic_load(&s.calls), 0);
  ck_assert_int_eq(cf_future_set_result(f, V(41)), 0);
  /* Ran inline, on this thread, before set_result returned. */
  ck_assert_int_eq(atomic_load(&s.calls), 1);
  ck_assert(pthread_equal(s.thread, pthread_self()));
  ck_assert(s.prev_done);
  ck_assert_int_eq(s.prev_err, 0);
  ck_assert_ptr_eq(s.prev_value, V(41));
  void *r = NULL;
  ck_assert_int_eq(cf_future_result(out, 0, &r), 0);
  ck_assert_ptr_eq(r, V(42));
  cf_future_release(out);
  cf_future_release(f);
}
END_TEST

START_TEST(test_inline_already_done) {
  cf_future *f = pending();
  cf_future_set_result(f, V(1));
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, NULL, then_record, &s, &out), 0);
  ck_assert_int_eq(atomic_load(&s.calls), 1);
  ck_assert(pthread_equal(s.thread, pthread_self()));
  void *r = NULL;
  ck_assert_int_eq(cf_future_result(out, 0, &r), 0);
  ck_assert_ptr_eq(r, V(2));
  cf_future_release(out);
  cf_future_release(f);
}
END_TEST

START_TEST(test_sees_error_and_message) {
  cf_future *f = pending();
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, NULL, then_record, &s, &out), 0);
  cf_future_set_error(f, CF_EPROTO, "bad frame");
  ck_assert_int_eq(atomic_load(&s.calls), 1);
  ck_assert_int_eq(s.prev_err, CF_EPROTO);
  ck_assert_str_eq(s.prev_msg, "bad frame");
  /* The handler recovered: the continuation succeeds. */
  ck_assert_int_eq(cf_future_result(out, 0, NULL), 0);
  cf_future_release(out);
  cf_future_release(f);
}
END_TEST

START_TEST(test_sees_cancelled) {
  cf_future *f = pending();
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, NULL, then_record, &s, &out), 0);
  ck_assert(cf_future_cancel(f));
  ck_assert_int_eq(atomic_load(&s.calls), 1);
  ck_assert_int_eq(s.prev_err, CF_ECANCELED);
  ck_assert_int_eq(cf_future_result(out, 0, NULL), 0);
  ck_assert(!cf_future_cancelled(out));
  cf_future_release(out);
  cf_future_release(f);
}
END_TEST

START_TEST(test_continuation_fails) {
  cf_future *f = pending();
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, NULL, then_fail, V(-3131), &out), 0);
  cf_future_set_result(f, NULL);
  ck_assert_int_eq(cf_future_error(out, 0), -3131);
  cf_future_release(out);
  cf_future_release(f);
}
END_TEST

START_TEST(test_chain) {
  cf_future *f = pending();
  cf_future *a = NULL, *b = NULL, *c = NULL;
  ck_assert_int_eq(cf_future_then(f, NULL, then_add_one, NULL, &a), 0);
  ck_assert_int_eq(cf_future_then(a, NULL, then_add_one, NULL, &b), 0);
  ck_assert_int_eq(cf_future_then(b, NULL, then_add_one, NULL, &c), 0);
  cf_future_set_result(f, V(10));
  void *r = NULL;
  ck_assert_int_eq(cf_future_result(c, 0, &r), 0);
  ck_assert_ptr_eq(r, V(13));
  /* A failure flows down the chain through then_add_one. */
  cf_future *g = pending(), *d = NULL, *e = NULL;
  cf_future_then(g, NULL, then_add_one, NULL, &d);
  cf_future_then(d, NULL, then_add_one, NULL, &e);
  cf_future_set_error(g, -66, NULL);
  ck_assert_int_eq(cf_future_error(e, 0), -66);
  cf_future_release(a);
  cf_future_release(b);
  cf_future_release(c);
  cf_future_release(d);
  cf_future_release(e);
  cf_future_release(f);
  cf_future_release(g);
}
END_TEST

START_TEST(test_cancel_continuation_before_start) {
  cf_future *f = pending();
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, NULL, then_record, &s, &out), 0);
  ck_assert(cf_future_cancel(out));
  cf_future_set_result(f, NULL);
  ck_assert_int_eq(atomic_load(&s.calls), 0);
  ck_assert(cf_future_cancelled(out));
  ck_assert_int_eq(cf_future_result(out, 0, NULL), CF_ECANCELED);
  cf_future_release(out);
  cf_future_release(f);
}
END_TEST

/* The continuation's future holds what it needs: the caller may release
 * the antecedent at once. */
START_TEST(test_release_antecedent_early) {
  cf_future *f = pending();
  cf_future_retain(f);
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, NULL, then_record, &s, &out), 0);
  cf_future_release(f);
  cf_future_set_result(f, V(5));
  cf_future_release(f);
  void *r = NULL;
  ck_assert_int_eq(cf_future_result(out, 0, &r), 0);
  ck_assert_ptr_eq(r, V(6));
  cf_future_release(out);
}
END_TEST

START_TEST(test_on_executor) {
  cf_executor *ex = cf_test_pool(2);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, V(7), &f), 0);
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, ex, then_record, &s, &out), 0);
  void *r = NULL;
  ck_assert_int_eq(cf_future_result(out, cf_test_scale(10), &r), 0);
  ck_assert_ptr_eq(r, V(8));
  ck_assert_int_eq(atomic_load(&s.calls), 1);
  ck_assert(s.in_task);
  ck_assert(!pthread_equal(s.thread, pthread_self()));
  /* Continuations on a pool count as its tasks. */
  cf_executor_stats st;
  cf_executor_stats_get(ex, &st);
  ck_assert_uint_ge(st.submitted, 2);
  /* A user future, continued on the pool. */
  cf_future *u = pending(), *out2 = NULL;
  seen s2 = {0};
  ck_assert_int_eq(cf_future_then(u, ex, then_record, &s2, &out2), 0);
  cf_future_set_error(u, CF_ETASK, "user");
  ck_assert_int_eq(cf_future_result(out2, cf_test_scale(10), NULL), 0);
  ck_assert_int_eq(s2.prev_err, CF_ETASK);
  ck_assert_str_eq(s2.prev_msg, "user");
  ck_assert(s2.in_task);
  /* A continuation that fails on the pool keeps its message. */
  cf_future *out3 = NULL;
  ck_assert_int_eq(cf_future_then(f, ex, then_fail, V(CF_ETASK), &out3), 0);
  ck_assert_int_eq(cf_future_error(out3, cf_test_scale(10)), CF_ETASK);
  ck_assert_ptr_nonnull(cf_future_error_message(out3));
  ck_assert_str_eq(cf_future_error_message(out3), "continuation failed");
  cf_future_release(out3);
  cf_future_release(out2);
  cf_future_release(u);
  cf_future_release(out);
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

/* Inline on a pool future: runs on the worker that completed it. */
START_TEST(test_inline_on_worker) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &f), 0);
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, NULL, then_record, &s, &out), 0);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_future_result(out, cf_test_scale(10), NULL), 0);
  ck_assert_int_eq(atomic_load(&s.calls), 1);
  ck_assert(!pthread_equal(s.thread, pthread_self()));
  ck_assert_ptr_eq(s.prev_value, &g);
  cf_future_release(out);
  cf_future_release(f);
  cf_executor_free(ex);
  cf_test_gate_destroy(&g);
}
END_TEST

/* Several continuations on one future each run once. */
START_TEST(test_many_continuations) {
  enum { K = 8 };
  cf_executor *ex = cf_test_pool(2);
  cf_future *f = pending(), *outs[K];
  seen s[K];
  memset(s, 0, sizeof s);
  for (int i = 0; i < K; i++)
    ck_assert_int_eq(
        cf_future_then(f, i % 2 ? ex : NULL, then_record, &s[i], &outs[i]), 0);
  cf_future_set_result(f, V(100));
  for (int i = 0; i < K; i++) {
    void *r = NULL;
    ck_assert_int_eq(cf_future_result(outs[i], cf_test_scale(10), &r), 0);
    ck_assert_ptr_eq(r, V(101));
    ck_assert_int_eq(atomic_load(&s[i].calls), 1);
    cf_future_release(outs[i]);
  }
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

/* A continuation queued behind a busy worker can still be cancelled. */
START_TEST(test_cancel_queued_continuation) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate g;
  cf_test_gate_init(&g);
  cf_future *blocker = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &g, &blocker), 0);
  ck_assert(cf_test_gate_wait_arrivals(&g, 1, cf_test_scale(10)));
  cf_future *f = pending();
  cf_future_set_result(f, NULL);
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, ex, then_record, &s, &out), 0);
  ck_assert(!cf_future_done(out));
  ck_assert(cf_future_cancel(out));
  ck_assert_int_eq(cf_future_result(out, 0, NULL), CF_ECANCELED);
  cf_test_gate_open(&g);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert_int_eq(atomic_load(&s.calls), 0);
  cf_future_release(out);
  cf_future_release(f);
  cf_future_release(blocker);
  cf_test_gate_destroy(&g);
}
END_TEST

/* Deadlock avoidance applies to continuations too: a task on a one-worker
 * pool that waits for a continuation queued on that pool. */
typedef struct {
  cf_executor *ex;
  int rc;
  void *value;
} then_in_task;

static int task_wait_on_continuation(void *arg, void **result) {
  then_in_task *t = arg;
  cf_future *u = NULL, *out = NULL;
  if (cf_future_new(&u) != 0)
    return CF_ENOMEM;
  t->rc = cf_future_then(u, t->ex, then_add_one, NULL, &out);
  if (t->rc == 0) {
    cf_future_set_result(u, V(1));
    t->rc = cf_future_result(out, cf_test_scale(5), &t->value);
    cf_future_release(out);
  }
  cf_future_release(u);
  *result = NULL;
  return 0;
}

START_TEST(test_wait_on_continuation_from_worker) {
  cf_executor *ex = cf_test_pool(1);
  then_in_task t = {ex, 1, NULL};
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, task_wait_on_continuation, &t, &f), 0);
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(20), NULL), 0);
  ck_assert_msg(t.rc == 0, "result of the continuation: %s", cf_err_name(t.rc));
  ck_assert_ptr_eq(t.value, V(2));
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_executor_shut_down_before_antecedent_finishes) {
  cf_executor *ex = cf_test_pool(1);
  cf_future *f = pending();
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, ex, then_record, &s, &out), 0);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  cf_future_set_result(f, NULL);
  ck_assert_int_eq(cf_future_error(out, cf_test_scale(10)), CF_ESHUTDOWN);
  ck_assert_int_eq(atomic_load(&s.calls), 0);
  cf_future_release(out);
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_executor_shut_down_already) {
  cf_executor *ex = cf_test_pool(1);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  cf_future *f = pending();
  cf_future_set_result(f, NULL);
  seen s = {0};
  cf_future *out = NULL;
  int rc = cf_future_then(f, ex, then_record, &s, &out);
  if (rc == 0) {
    ck_assert_int_eq(cf_future_error(out, cf_test_scale(10)), CF_ESHUTDOWN);
    cf_future_release(out);
  } else {
    ck_assert_int_eq(rc, CF_ESHUTDOWN);
    ck_assert_ptr_null(out);
  }
  ck_assert_int_eq(atomic_load(&s.calls), 0);
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

static int init_fail(void *arg) {
  (void)arg;
  return 1;
}

START_TEST(test_executor_broken) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = 1;
  o.initializer = init_fail;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), 0);
  /* Break it. */
  cf_future *probe = NULL;
  if (cf_submit(ex, cf_test_task_identity, NULL, &probe) == 0) {
    ck_assert_int_eq(cf_future_error(probe, cf_test_scale(10)), CF_EBROKEN);
    cf_future_release(probe);
  }
  cf_future *f = pending();
  seen s = {0};
  cf_future *out = NULL;
  ck_assert_int_eq(cf_future_then(f, ex, then_record, &s, &out), 0);
  cf_future_set_result(f, NULL);
  ck_assert_int_eq(cf_future_error(out, cf_test_scale(10)), CF_EBROKEN);
  ck_assert_int_eq(atomic_load(&s.calls), 0);
  cf_future_release(out);
  cf_future_release(f);
  cf_executor_free(ex);
}
END_TEST

Suite *cf_then_suite(void) {
  Suite *s = suite_create("then");
  TCase *tc = tcase_create("inline");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_invalid);
  tcase_add_test(tc, test_inline_on_completing_thread);
  tcase_add_test(tc, test_inline_already_done);
  tcase_add_test(tc, test_sees_error_and_message);
  tcase_add_test(tc, test_sees_cancelled);
  tcase_add_test(tc, test_continuation_fails);
  tcase_add_test(tc, test_chain);
  tcase_add_test(tc, test_cancel_continuation_before_start);
  tcase_add_test(tc, test_release_antecedent_early);
  suite_add_tcase(s, tc);
  tc = tcase_create("executor");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_on_executor);
  tcase_add_test(tc, test_inline_on_worker);
  tcase_add_test(tc, test_many_continuations);
  tcase_add_test(tc, test_cancel_queued_continuation);
  tcase_add_test(tc, test_wait_on_continuation_from_worker);
  tcase_add_test(tc, test_executor_shut_down_before_antecedent_finishes);
  tcase_add_test(tc, test_executor_shut_down_already);
  tcase_add_test(tc, test_executor_broken);
  suite_add_tcase(s, tc);
  return s;
}
