/* SPDX-License-Identifier: MIT */
/* Bad input to the process pool (row 24): options out of range, bad
 * arguments to a live pool, and thread-pool calls on it. Forks, so it
 * sits out ThreadSanitizer runs; test_badinput.c has the rest. */
#include "harness.h"

#include <cfutures/process_pool.h>
#include <cfutures/registry.h>

#include <math.h>

#define V(i) ((void *)(intptr_t)(i))

static int bytes_fn(const void *in, size_t len, cf_buffer *out) {
  return 0;
}
static int bytes_init(const void *a, size_t len) {
  return 0;
}
static int then_fn(cf_future *p, void *a, void **r) {
  return 0;
}

/* Process pool options out of range, and a process pool where a thread
 * pool is needed (row 24). */
START_TEST(test_process_pool_bad_options) {
  cf_process_pool_options o;
  cf_executor *ex = V(1);
  cf_process_pool_options_init(&o);
  o.max_workers = 0;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), CF_EINVAL);
  cf_process_pool_options_init(&o);
  o.task_timeout = NAN;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), CF_EINVAL);
  cf_process_pool_options_init(&o);
  o.task_timeout = 0;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), CF_EINVAL);
  cf_process_pool_options_init(&o);
  o.max_payload = ((size_t)1 << 40) + 1;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), CF_EINVAL);
  cf_process_pool_options_init(&o);
  o.pipeline_depth = 0;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), CF_EINVAL);
  cf_process_pool_options_init(&o);
  o.initializer = bytes_init;
  o.initargs = NULL;
  o.initargs_len = 4;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), CF_EINVAL);
  ck_assert_ptr_eq(ex, V(1));

  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  cf_future *f = V(1);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, NULL, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes(ex, NULL, "x", 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes(ex, bytes_fn, NULL, 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes_timeout(ex, bytes_fn, "x", 1, NAN, &f),
                   CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes_timeout(ex, bytes_fn, "x", 1, 0, &f),
                   CF_EINVAL);
  ck_assert_ptr_eq(f, V(1));
  ck_assert_int_eq(cf_submit_bytes(ex, bytes_fn, NULL, 0, &f), 0);
  ck_assert_int_eq(cf_future_bytes(f, 30, NULL, NULL), 0);
  /* A continuation may not run on a process pool. */
  cf_future *t = V(1);
  ck_assert_int_eq(cf_future_then(f, ex, then_fn, NULL, &t), CF_EINVAL);
  ck_assert_ptr_eq(t, V(1));
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* Every task and initializer by name, so that the suite also runs with
 * the spawning start methods (CF_TEST_START_METHOD). */
CF_TASK("bip.bytes_fn", bytes_fn)
CF_INITIALIZER("bip.bytes_init", bytes_init)

Suite *cf_badinput_process_suite(void) {
  Suite *s = suite_create("badinput_process");
  TCase *tc = tcase_create("process");
  cf_test_tcase_timeout(tc, 30);
  cf_test_tcase_census(tc);
  tcase_add_test(tc, test_process_pool_bad_options);
  suite_add_tcase(s, tc);
  return s;
}
