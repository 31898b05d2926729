/* SPDX-License-Identifier: MIT */
/* Combinators over futures of mixed executors: a process pool (tasks
 * registered by name, so every start method runs them), a thread pool and
 * user-made futures in one cf_future_all / cf_future_any. */
#include "harness.h"

#include <cfutures/combine.h>
#include <cfutures/process_pool.h>
#include <cfutures/registry.h>

#include <string.h>

#define V(i) ((void *)(intptr_t)(i))

static int task_square(const void *in, size_t len, cf_buffer *out) {
  int v;
  if (len != sizeof v)
    return CF_EINVAL;
  memcpy(&v, in, sizeof v);
  v *= v;
  return cf_buffer_append(out, &v, sizeof v);
}

static int task_fail(const void *in, size_t len, cf_buffer *out) {
  (void)in;
  (void)len;
  (void)out;
  cf_task_set_message("no luck");
  return CF_EPROTO;
}

static int task_slow(const void *in, size_t len, cf_buffer *out) {
  (void)in;
  (void)len;
  (void)out;
  for (int i = 0; i < 10000 && !cf_task_cancel_requested(); i++)
    cf_test_sleep_ms(1);
  return cf_task_cancel_requested() ? CF_ECANCELED : 0;
}

CF_TASK("combine.square", task_square)
CF_TASK("combine.fail", task_fail)
CF_TASK("combine.slow", task_slow)

static cf_executor *process_pool(int workers) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = workers;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  return ex;
}

static int bytes_int(cf_future *f) {
  const void *d = NULL;
  size_t len = 0;
  ck_assert_int_eq(cf_future_bytes(f, 0, &d, &len), 0);
  ck_assert_uint_eq(len, sizeof(int));
  int v;
  memcpy(&v, d, sizeof v);
  return v;
}

START_TEST(test_all_mixed_executors) {
  cf_executor *procs = process_pool(2), *threads = cf_test_pool(2);
  enum { P = 6 };
  cf_future *fs[P + 2];
  for (int i = 0; i < P; i++)
    ck_assert_int_eq(cf_submit_bytes(procs, task_square, &i, sizeof i, &fs[i]),
                     0);
  ck_assert_int_eq(cf_submit(threads, cf_test_task_sleep, V(3), &fs[P]), 0);
  ck_assert_int_eq(cf_future_new(&fs[P + 1]), 0);
  cf_future *all;
  ck_assert_int_eq(cf_future_all(fs, P + 2, 0, &all), 0);
  /* Keep the byte futures (their bytes are theirs); drop the others. */
  cf_future *user = fs[P + 1];
  cf_future_release(fs[P]);
  ck_assert_int_eq(cf_future_wait(all, 0.05), CF_ETIMEDOUT);
  cf_future_set_result(user, V(77));
  cf_future_release(user);
  const cf_outcome *o = NULL;
  ck_assert_int_eq(cf_future_result(all, cf_test_scale(30), (void **)&o), 0);
  for (int i = 0; i < P; i++) {
    ck_assert_int_eq(o[i].err, 0);
    ck_assert_ptr_null(o[i].value); /* byte results stay with their future */
    ck_assert_int_eq(bytes_int(fs[i]), i * i);
    cf_future_release(fs[i]);
  }
  ck_assert_ptr_eq(o[P].value, V(3));
  ck_assert_ptr_eq(o[P + 1].value, V(77));
  cf_future_release(all);
  ck_assert_int_eq(cf_executor_free(threads), 0);
  ck_assert_int_eq(cf_executor_free(procs), 0);
}
END_TEST

/* Fail-fast over a running worker task, a thread-pool task and a user
 * future: the failure cancels the pending thread-pool task and stops the
 * running worker task (its worker killed). The failure is set from this
 * thread: a request made from the process pool's own manager thread (a
 * callback of one of its futures) is not what this test is about. */
static bool is_running(void *f) {
  return cf_future_running(f);
}

START_TEST(test_all_fail_fast_mixed) {
  cf_executor *procs = process_pool(1), *threads = cf_test_pool(1);
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  cf_future *fs[4], *blocker;
  ck_assert_int_eq(cf_submit_bytes(procs, task_slow, NULL, 0, &fs[0]), 0);
  ck_assert_int_eq(cf_submit(threads, cf_test_task_gate, &gate, &blocker), 0);
  ck_assert_int_eq(cf_submit(threads, cf_test_task_identity, V(1), &fs[1]), 0);
  ck_assert_int_eq(cf_future_new(&fs[2]), 0);
  ck_assert_int_eq(cf_future_new(&fs[3]), 0);
  ck_assert(cf_test_poll(is_running, fs[0], 10));
  cf_future *all;
  ck_assert_int_eq(
      cf_future_all(fs, 4, CF_ALL_FAIL_FAST | CF_COMBINE_CANCEL_INPUTS, &all),
      0);
  ck_assert_int_eq(cf_future_set_error(fs[3], CF_EPROTO, "no luck"), 0);
  ck_assert(cf_future_done(all));
  ck_assert_int_eq(cf_future_error(all, 0), CF_EPROTO);
  ck_assert_str_eq(cf_future_error_message(all), "no luck");
  ck_assert_int_eq(cf_future_all_outcome(all, 0, NULL), CF_EBUSY);
  ck_assert(cf_future_cancelled(fs[1]));
  ck_assert(cf_future_cancelled(fs[2]));
  ck_assert_int_eq(cf_future_wait(fs[0], cf_test_scale(10)), 0);
  ck_assert_int_eq(cf_future_error(fs[0], 0), CF_ECANCELED);
  cf_test_gate_open(&gate);
  for (int i = 0; i < 4; i++)
    cf_future_release(fs[i]);
  cf_future_release(blocker);
  cf_future_release(all);
  ck_assert_int_eq(cf_executor_free(threads), 0);
  ck_assert_int_eq(cf_executor_free(procs), 0);
  cf_test_gate_destroy(&gate);
}
END_TEST

/* A worker task's failure, its code and message copied into the combined
 * futures. */
START_TEST(test_worker_failure_copied) {
  cf_executor *procs = process_pool(1);
  cf_future *bad;
  ck_assert_int_eq(cf_submit_bytes(procs, task_fail, NULL, 0, &bad), 0);
  cf_future *all, *any;
  ck_assert_int_eq(cf_future_all(&bad, 1, 0, &all), 0);
  ck_assert_int_eq(cf_future_any(&bad, 1, &any), 0);
  cf_future_release(bad);
  ck_assert_int_eq(cf_future_error(all, cf_test_scale(30)), CF_EPROTO);
  ck_assert_int_eq(cf_future_error(any, cf_test_scale(30)), CF_EPROTO);
  ck_assert_str_eq(cf_future_error_message(all), "no luck");
  ck_assert_str_eq(cf_future_error_message(any), "no luck");
  cf_future_release(all);
  cf_future_release(any);
  ck_assert_int_eq(cf_executor_free(procs), 0);
}
END_TEST

START_TEST(test_any_mixed_executors) {
  cf_executor *procs = process_pool(1), *threads = cf_test_pool(1);
  cf_future *fs[3];
  ck_assert_int_eq(cf_submit_bytes(procs, task_slow, NULL, 0, &fs[0]), 0);
  ck_assert_int_eq(cf_future_new(&fs[1]), 0);
  int seven = 7;
  ck_assert_int_eq(
      cf_submit_bytes(procs, task_square, &seven, sizeof seven, &fs[2]), 0);
  cf_future *any;
  ck_assert_int_eq(cf_future_any(fs, 2, &any), 0);
  /* The thread pool's task finishes first. */
  cf_future *t;
  ck_assert_int_eq(cf_submit(threads, cf_test_task_identity, V(5), &t), 0);
  cf_future *race[2] = {fs[0], t};
  cf_future *any2;
  ck_assert_int_eq(cf_future_any(race, 2, &any2), 0);
  cf_future_release(t);
  void *v = NULL;
  ck_assert_int_eq(cf_future_result(any2, cf_test_scale(30), &v), 0);
  ck_assert_ptr_eq(v, V(5));
  size_t idx;
  ck_assert_int_eq(cf_future_any_index(any2, &idx), 0);
  ck_assert_uint_eq(idx, 1);
  ck_assert(!cf_future_done(any));
  cf_future_request_cancel(fs[0]);
  ck_assert_int_eq(cf_future_error(any, cf_test_scale(30)), CF_ECANCELED);
  ck_assert_int_eq(cf_future_any_index(any, &idx), 0);
  ck_assert_uint_eq(idx, 0);
  ck_assert_int_eq(cf_future_wait(fs[2], cf_test_scale(30)), 0);
  ck_assert_int_eq(bytes_int(fs[2]), 49);
  cf_future_set_result(fs[1], NULL);
  for (int i = 0; i < 3; i++)
    cf_future_release(fs[i]);
  cf_future_release(any);
  cf_future_release(any2);
  ck_assert_int_eq(cf_executor_free(threads), 0);
  ck_assert_int_eq(cf_executor_free(procs), 0);
}
END_TEST

Suite *cf_combine_process_suite(void) {
  Suite *s = suite_create("combine_process");
  TCase *tc = tcase_create("mixed");
  cf_test_tcase_timeout(tc, 60);
  tcase_add_test(tc, test_all_mixed_executors);
  tcase_add_test(tc, test_all_fail_fast_mixed);
  tcase_add_test(tc, test_any_mixed_executors);
  tcase_add_test(tc, test_worker_failure_copied);
  suite_add_tcase(s, tc);
  return s;
}
