/* SPDX-License-Identifier: MIT */
/* Task groups: waited on together, fail-fast cancellation, cancel, free
 * waits for what runs. */
#include "harness.h"

#include <math.h>

#define V(i) ((void *)(intptr_t)(i))

static cf_group *group_on(cf_executor *ex, unsigned flags) {
  cf_group *g = NULL;
  ck_assert_int_eq(cf_group_new(ex, flags, &g), 0);
  ck_assert_ptr_nonnull(g);
  return g;
}

START_TEST(test_invalid) {
  cf_executor *ex = cf_test_pool(1);
  cf_group *g = (cf_group *)(uintptr_t)0x1;
  ck_assert_int_eq(cf_group_new(NULL, 0, &g), CF_EINVAL);
  ck_assert_int_eq(cf_group_new(ex, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_group_new(ex, 1u << 12, &g), CF_EINVAL);
  ck_assert_ptr_eq(g, (cf_group *)(uintptr_t)0x1);
  ck_assert_int_eq(cf_group_submit(NULL, cf_test_task_identity, NULL, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(cf_group_wait(NULL, 0), CF_EINVAL);
  ck_assert_int_eq(cf_group_cancel(NULL), CF_EINVAL);
  cf_group_free(NULL);
  g = group_on(ex, 0);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_group_submit(g, NULL, NULL, &f), CF_EINVAL);
  ck_assert_ptr_null(f);
  ck_assert_int_eq(cf_group_wait(g, NAN), CF_EINVAL);
  cf_group_free(g);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_empty) {
  cf_executor *ex = cf_test_pool(1);
  cf_group *g = group_on(ex, 0);
  ck_assert_int_eq(cf_group_wait(g, 0), 0);
  cf_group_free(g);
  g = group_on(ex, CF_GROUP_FAIL_FAST);
  cf_group_free(g); /* never waited */
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_all_succeed) {
  enum { N = 20 };
  cf_executor *ex = cf_test_pool(3);
  cf_group *g = group_on(ex, 0);
  atomic_int n = 0;
  cf_future *fs[N];
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(cf_group_submit(g, cf_test_task_sleep, V(i % 3), &fs[i]),
                     0);
  for (int i = 0; i < 10; i++)
    ck_assert_int_eq(cf_group_submit(g, cf_test_task_count, &n, NULL), 0);
  ck_assert_int_eq(cf_group_wait(g, cf_test_scale(10)), 0);
  for (int i = 0; i < N; i++) {
    ck_assert(cf_future_done(fs[i]));
    void *out = NULL;
    ck_assert_int_eq(cf_future_result(fs[i], 0, &out), 0);
    ck_assert_ptr_eq(out, V(i % 3));
    cf_future_release(fs[i]);
  }
  ck_assert_int_eq(atomic_load(&n), 10);
  /* Closed once waited for. */
  ck_assert_int_eq(cf_group_submit(g, cf_test_task_count, &n, NULL), CF_ESTATE);
  ck_assert_int_eq(cf_group_wait(g, 0), 0);
  cf_group_free(g);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_wait_timeout) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  cf_group *g = group_on(ex, 0);
  ck_assert_int_eq(cf_group_submit(g, cf_test_task_gate, &gate, NULL), 0);
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(cf_group_wait(g, 0.05), CF_ETIMEDOUT);
  ck_assert_double_ge(cf_test_elapsed(t0), 0.049);
  ck_assert_int_eq(cf_group_wait(g, 0), CF_ETIMEDOUT);
  /* Not closed by a wait that timed out. */
  ck_assert_int_eq(cf_group_submit(g, cf_test_task_identity, NULL, NULL), 0);
  cf_test_gate_open(&gate);
  ck_assert_int_eq(cf_group_wait(g, cf_test_scale(10)), 0);
  cf_group_free(g);
  cf_executor_free(ex);
  cf_test_gate_destroy(&gate);
}
END_TEST

typedef struct {
  double delay_ms;
  int err;
} delayed_fail;

static int task_delayed_fail(void *arg, void **result) {
  delayed_fail *d = arg;
  cf_test_sleep_ms(d->delay_ms);
  *result = NULL;
  return d->err;
}

/* Without fail-fast: every task runs; the first failure in completion order
 * is reported. */
START_TEST(test_first_failure_in_completion_order) {
  cf_executor *ex = cf_test_pool(3);
  cf_group *g = group_on(ex, 0);
  delayed_fail slow = {300, -501}, fast = {10, -502};
  atomic_int n = 0;
  cf_future *a = NULL, *b = NULL, *c = NULL;
  ck_assert_int_eq(cf_group_submit(g, task_delayed_fail, &slow, &a), 0);
  ck_assert_int_eq(cf_group_submit(g, task_delayed_fail, &fast, &b), 0);
  ck_assert_int_eq(cf_group_submit(g, cf_test_task_count, &n, &c), 0);
  ck_assert_int_eq(cf_group_wait(g, cf_test_scale(10)), -502);
  /* Everything ran to its end. */
  ck_assert_int_eq(cf_future_error(a, 0), -501);
  ck_assert_int_eq(cf_future_error(b, 0), -502);
  ck_assert_int_eq(cf_future_error(c, 0), 0);
  ck_assert_int_eq(atomic_load(&n), 1);
  cf_future_release(a);
  cf_future_release(b);
  cf_future_release(c);
  cf_group_free(g);
  cf_executor_free(ex);
}
END_TEST

typedef struct {
  cf_test_gate *started;
  atomic_int saw_token;
} token_task;

static int task_until_token(void *arg, void **result) {
  token_task *t = arg;
  cf_test_gate_pass(t->started); /* the gate is open: just announces */
  *result = NULL;
  uint64_t start = cf_now_ns();
  while (!cf_task_cancel_requested()) {
    if (cf_test_elapsed(start) > cf_test_scale(20))
      return CF_ETIMEDOUT;
    cf_test_sleep_ms(1);
  }
  atomic_store(&t->saw_token, 1);
  return CF_ECANCELED;
}

typedef struct {
  cf_test_gate *go;
  int err;
} gated_fail;

static int task_gated_fail(void *arg, void **result) {
  gated_fail *gf = arg;
  cf_test_gate_pass(gf->go);
  *result = NULL;
  return gf->err;
}

START_TEST(test_fail_fast) {
  cf_executor *ex = cf_test_pool(2);
  cf_test_gate started, go;
  cf_test_gate_init(&started);
  cf_test_gate_init(&go);
  cf_test_gate_open(&started);
  cf_group *g = group_on(ex, CF_GROUP_FAIL_FAST);
  token_task tt = {&started, 0};
  gated_fail gf = {&go, -777};
  atomic_int ran = 0;
  cf_future *runner = NULL, *failer = NULL, *queued[4];
  ck_assert_int_eq(cf_group_submit(g, task_until_token, &tt, &runner), 0);
  ck_assert_int_eq(cf_group_submit(g, task_gated_fail, &gf, &failer), 0);
  ck_assert(cf_test_gate_wait_arrivals(&started, 1, cf_test_scale(10)));
  ck_assert(cf_test_gate_wait_arrivals(&go, 1, cf_test_scale(10)));
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(cf_group_submit(g, cf_test_task_count, &ran, &queued[i]),
                     0);
  cf_test_gate_open(&go);
  ck_assert_int_eq(cf_group_wait(g, cf_test_scale(10)), -777);
  /* Pending siblings cancelled, the running one told to stop. */
  for (int i = 0; i < 4; i++) {
    ck_assert(cf_future_cancelled(queued[i]));
    cf_future_release(queued[i]);
  }
  ck_assert_int_eq(atomic_load(&ran), 0);
  ck_assert(cf_future_done(runner));
  ck_assert_int_eq(atomic_load(&tt.saw_token), 1);
  ck_assert_int_eq(cf_future_error(runner, 0), CF_ECANCELED);
  ck_assert_int_eq(cf_future_error(failer, 0), -777);
  /* A failed fail-fast group takes no more work. */
  cf_future *late = (cf_future *)(uintptr_t)0x1;
  ck_assert_int_eq(cf_group_submit(g, cf_test_task_count, &ran, &late),
                   CF_ECANCELED);
  ck_assert_ptr_eq(late, (cf_future *)(uintptr_t)0x1);
  cf_future_release(runner);
  cf_future_release(failer);
  cf_group_free(g);
  cf_executor_free(ex);
  ck_assert_int_eq(atomic_load(&ran), 0);
  cf_test_gate_destroy(&started);
  cf_test_gate_destroy(&go);
}
END_TEST

/* Fail-fast reacts to the failure itself, not to cf_group_wait. */
START_TEST(test_fail_fast_submit_after_failure_without_wait) {
  cf_executor *ex = cf_test_pool(1);
  cf_group *g = group_on(ex, CF_GROUP_FAIL_FAST);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_group_submit(g, cf_test_task_fail, V(CF_ETASK), &f), 0);
  ck_assert_int_eq(cf_future_wait(f, cf_test_scale(10)), 0);
  uint64_t t0 = cf_now_ns();
  int rc;
  /* The group learns of the failure through the future's callback, which
   * runs just after the waiters wake. */
  while ((rc = cf_group_submit(g, cf_test_task_identity, NULL, NULL)) == 0 &&
         cf_test_elapsed(t0) < cf_test_scale(5))
    cf_test_sleep_ms(1);
  ck_assert_int_eq(rc, CF_ECANCELED);
  ck_assert_int_eq(cf_group_wait(g, cf_test_scale(10)), CF_ETASK);
  cf_future_release(f);
  cf_group_free(g);
  cf_executor_free(ex);
}
END_TEST

START_TEST(test_cancel) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate started;
  cf_test_gate_init(&started);
  cf_test_gate_open(&started);
  cf_group *g = group_on(ex, 0);
  token_task tt = {&started, 0};
  atomic_int ran = 0;
  cf_future *runner = NULL, *queued[3];
  ck_assert_int_eq(cf_group_submit(g, task_until_token, &tt, &runner), 0);
  ck_assert(cf_test_gate_wait_arrivals(&started, 1, cf_test_scale(10)));
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(cf_group_submit(g, cf_test_task_count, &ran, &queued[i]),
                     0);
  ck_assert_int_eq(cf_group_cancel(g), 0);
  for (int i = 0; i < 3; i++) {
    ck_assert(cf_future_cancelled(queued[i]));
    cf_future_release(queued[i]);
  }
  int rc = cf_group_wait(g, cf_test_scale(10));
  ck_assert_msg(rc == CF_ECANCELED || rc == 0, "wait %d", rc);
  ck_assert_int_eq(atomic_load(&tt.saw_token), 1);
  ck_assert_int_eq(atomic_load(&ran), 0);
  cf_future_release(runner);
  cf_group_free(g);
  cf_executor_free(ex);
  cf_test_gate_destroy(&started);
}
END_TEST

typedef struct {
  cf_test_gate *gate;
  atomic_int finished;
} slow_task;

static int task_gate_finish(void *arg, void **result) {
  slow_task *s = arg;
  cf_test_gate_pass(s->gate);
  cf_test_sleep_ms(10);
  atomic_store(&s->finished, 1);
  *result = NULL;
  return 0;
}

static void *open_later(void *p) {
  cf_test_sleep_ms(50);
  cf_test_gate_open(p);
  return NULL;
}

/* Structured: no task outlives its group. */
START_TEST(test_free_waits_for_running) {
  cf_executor *ex = cf_test_pool(1);
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  cf_group *g = group_on(ex, 0);
  slow_task st = {&gate, 0};
  atomic_int ran = 0;
  cf_future *running = NULL, *queued = NULL;
  ck_assert_int_eq(cf_group_submit(g, task_gate_finish, &st, &running), 0);
  ck_assert(cf_test_gate_wait_arrivals(&gate, 1, cf_test_scale(10)));
  ck_assert_int_eq(cf_group_submit(g, cf_test_task_count, &ran, &queued), 0);
  pthread_t t;
  pthread_create(&t, NULL, open_later, &gate);
  cf_group_free(g);
  ck_assert_int_eq(atomic_load(&st.finished), 1);
  ck_assert(cf_future_done(running));
  ck_assert(cf_future_cancelled(queued));
  pthread_join(t, NULL);
  cf_executor_free(ex);
  ck_assert_int_eq(atomic_load(&ran), 0);
  cf_future_release(running);
  cf_future_release(queued);
  cf_test_gate_destroy(&gate);
}
END_TEST

START_TEST(test_submit_on_shut_down_executor) {
  cf_executor *ex = cf_test_pool(1);
  cf_group *g = group_on(ex, 0);
  ck_assert_int_eq(cf_shutdown(ex, 0), 0);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_group_submit(g, cf_test_task_identity, NULL, &f),
                   CF_ESHUTDOWN);
  ck_assert_ptr_null(f);
  ck_assert_int_eq(cf_group_wait(g, 0), 0);
  cf_group_free(g);
  cf_executor_free(ex);
}
END_TEST

Suite *cf_group_suite(void) {
  Suite *s = suite_create("group");
  TCase *tc = tcase_create("group");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_invalid);
  tcase_add_test(tc, test_empty);
  tcase_add_test(tc, test_all_succeed);
  tcase_add_test(tc, test_wait_timeout);
  tcase_add_test(tc, test_first_failure_in_completion_order);
  tcase_add_test(tc, test_fail_fast);
  tcase_add_test(tc, test_fail_fast_submit_after_failure_without_wait);
  tcase_add_test(tc, test_cancel);
  tcase_add_test(tc, test_free_waits_for_running);
  tcase_add_test(tc, test_submit_on_shut_down_executor);
  suite_add_tcase(s, tc);
  return s;
}
