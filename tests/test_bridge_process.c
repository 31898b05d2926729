/* SPDX-License-Identifier: MIT */
/* Process-pool futures through the bridge (asyncio.wrap_future on a
 * ProcessPoolExecutor future): results, a worker that dies, and a loop-side
 * timeout that stops a running task, all delivered on the loop thread. */
#include "harness.h"

#include <cfutures/process_pool.h>
#include <cfutures/registry.h>

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Doubles the int it is given. */
static int task_double(const void *in, size_t len, cf_buffer *out) {
  int v;
  if (len != sizeof v)
    return CF_EINVAL;
  memcpy(&v, in, sizeof v);
  v *= 2;
  return cf_buffer_append(out, &v, sizeof v);
}

static int task_crash(const void *in, size_t len, cf_buffer *out) {
  (void)in;
  (void)len;
  (void)out;
  raise(SIGKILL);
  return 0;
}

static int task_long(const void *in, size_t len, cf_buffer *out) {
  (void)in;
  (void)len;
  (void)out;
  cf_test_sleep_ms(10000);
  return 0;
}

enum { N = 100 };

typedef struct pctx {
  pthread_t loop_thread;
  int done;
  int wrong_thread;
  int results[N];
  int status[N + 4];
  int errors[N + 4];
} pctx;

typedef struct pslot {
  pctx *c;
  int index;
} pslot;

static void on_done(cf_future *f, int status, void *ud) {
  pslot *s = ud;
  pctx *c = s->c;
  if (!pthread_equal(pthread_self(), c->loop_thread))
    c->wrong_thread++;
  const void *data = NULL;
  size_t len = 0;
  int err = cf_future_bytes(f, 0, &data, &len);
  if (err == 0 && len == sizeof(int) && s->index < N)
    memcpy(&c->results[s->index], data, sizeof(int));
  c->status[s->index] = status;
  c->errors[s->index] = err;
  c->done++;
}

static void run_until(cf_bridge *b, pctx *c, int target, double timeout) {
  uint64_t start = cf_now_ns();
  while (c->done < target && cf_test_elapsed(start) < cf_test_scale(timeout)) {
    struct pollfd p = {.fd = cf_bridge_fd(b), .events = POLLIN};
    int ms = cf_bridge_next_timeout_ms(b);
    poll(&p, 1, ms < 0 || ms > 100 ? 100 : ms);
    ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0);
  }
}

static cf_executor *process_pool(int workers) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = workers;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  return ex;
}

START_TEST(test_process_results_on_loop) {
  cf_executor *pool = process_pool(2);
  cf_bridge *b;
  ck_assert_int_eq(cf_bridge_new(&b), 0);
  static pctx c;
  memset(&c, 0, sizeof c);
  c.loop_thread = pthread_self();
  static pslot slots[N];
  for (int i = 0; i < N; i++) {
    cf_future *f;
    ck_assert_int_eq(cf_submit_bytes(pool, task_double, &i, sizeof i, &f), 0);
    slots[i] = (pslot){&c, i};
    ck_assert_int_eq(cf_bridge_watch(b, f, on_done, &slots[i]), 0);
    cf_future_release(f); /* the bridge keeps the future alive */
  }
  run_until(b, &c, N, 30);
  ck_assert_int_eq(c.done, N);
  ck_assert_int_eq(c.wrong_thread, 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(c.status[i], 0);
    ck_assert_int_eq(c.errors[i], 0);
    ck_assert_int_eq(c.results[i], 2 * i);
  }
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

START_TEST(test_process_crash_and_timeout) {
  cf_executor *pool = process_pool(2);
  cf_bridge *b;
  ck_assert_int_eq(cf_bridge_new(&b), 0);
  static pctx c;
  memset(&c, 0, sizeof c);
  c.loop_thread = pthread_self();
  pslot crash = {&c, 0}, slow = {&c, 1};
  cf_future *fc, *fs;
  ck_assert_int_eq(cf_submit_bytes(pool, task_crash, NULL, 0, &fc), 0);
  ck_assert_int_eq(cf_submit_bytes(pool, task_long, NULL, 0, &fs), 0);
  ck_assert_int_eq(cf_bridge_watch(b, fc, on_done, &crash), 0);
  ck_assert_int_eq(cf_bridge_watch_timeout(b, fs, 0.2, on_done, &slow), 0);
  run_until(b, &c, 2, 30);
  ck_assert_int_eq(c.done, 2);
  ck_assert_int_eq(c.wrong_thread, 0);
  /* The dead worker failed its task only; the result came through. */
  ck_assert_int_eq(c.status[0], 0);
  ck_assert_int_eq(c.errors[0], CF_EWORKER);
  /* The loop gave up on the slow one, and the pool stopped it. */
  ck_assert_int_eq(c.status[1], CF_ETIMEDOUT);
  ck_assert_int_eq(cf_future_wait(fs, cf_test_scale(10)), 0);
  ck_assert(cf_future_cancelled(fs));
  cf_future_release(fc);
  cf_future_release(fs);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

/* Every task and initializer by name, so that the suite also runs with
 * the spawning start methods (CF_TEST_START_METHOD). */
CF_TASK("bp.task_double", task_double)
CF_TASK("bp.task_crash", task_crash)
CF_TASK("bp.task_long", task_long)

Suite *cf_bridge_process_suite(void) {
  Suite *s = suite_create("bridge_process");
  TCase *tc = tcase_create("process_pool");
  cf_test_tcase_timeout(tc, 60);
  tcase_add_test(tc, test_process_results_on_loop);
  tcase_add_test(tc, test_process_crash_and_timeout);
  suite_add_tcase(s, tc);
  return s;
}
