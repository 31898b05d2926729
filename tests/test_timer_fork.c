/* SPDX-License-Identifier: MIT */
/* Timers across fork: the child has no timer thread; a timer pending in
 * the parent at the fork never fires in the child, and the child's first
 * timer starts a thread of its own. Also: cf_submit_after refuses a
 * process pool (its tasks are byte tasks). */
#include "harness.h"

#include <cfutures/process_pool.h>
#include <cfutures/timer.h>

#include <sys/wait.h>
#include <unistd.h>

/* The child's checks, as an exit code: 0 = all held. */
static int child_checks(cf_future *inherited) {
  cf_test_sleep_ms(300); /* past the inherited timer's deadline */
  if (cf_future_done(inherited))
    return 1;
  cf_future *t;
  if (cf_future_after(0.01, &t) != 0)
    return 2;
  if (cf_future_wait(t, 10) != 0)
    return 3;
  cf_future_release(t);
  /* The inherited one is not ours to cancel from the heap, but cancelling
   * its future is safe. */
  if (!cf_future_cancel(inherited))
    return 4;
  return 0;
}

START_TEST(test_fork_child_timers) {
  cf_future *warm, *pending;
  /* A timer thread exists in the parent. */
  ck_assert_int_eq(cf_future_after(0.001, &warm), 0);
  ck_assert_int_eq(cf_future_wait(warm, cf_test_scale(10)), 0);
  ck_assert_int_eq(cf_future_after(0.1, &pending), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0)
    _exit(child_checks(pending));
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status));
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  /* The parent's timers are unaffected. */
  ck_assert_int_eq(cf_future_wait(pending, cf_test_scale(10)), 0);
  ck_assert(!cf_future_cancelled(pending));
  cf_future *t;
  ck_assert_int_eq(cf_future_after(0.001, &t), 0);
  ck_assert_int_eq(cf_future_wait(t, cf_test_scale(10)), 0);
  cf_future_release(t);
  cf_future_release(pending);
  cf_future_release(warm);
}
END_TEST

START_TEST(test_submit_after_process_pool) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  cf_executor *ex;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit_after(ex, 0.01, cf_test_task_identity, NULL, &f),
                   CF_EINVAL);
  ck_assert_int_eq(
      cf_submit_every(ex, 0.01, 0, cf_test_task_identity, NULL, &f), CF_EINVAL);
  ck_assert_ptr_null(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

Suite *cf_timer_fork_suite(void) {
  Suite *s = suite_create("timer_fork");
  TCase *tc = tcase_create("fork");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_fork_child_timers);
  tcase_add_test(tc, test_submit_after_process_pool);
  suite_add_tcase(s, tc);
  return s;
}
