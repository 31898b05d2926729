/* SPDX-License-Identifier: MIT */
/* The bridge on a real libuv loop (cfutures/uv.h): delivery on the loop
 * thread while a 1 ms uv timer keeps ticking, the per-iteration bound,
 * cancellation, deadlines served by the adapter's timer, closing with work
 * in flight, four loops on one pool, a callback that submits again. */
#include "harness.h"

#include <cfutures/uv.h>
#include <string.h>

static int task_sleepy(void *arg, void **result) {
  cf_test_sleep_ms(2 + (double)((intptr_t)arg % 4));
  *result = arg;
  return 0;
}

enum { MAXN = 1000 };

typedef struct uv_ctx {
  uv_loop_t loop;
  cf_uv_bridge ub;
  cf_executor *pool;
  pthread_t loop_thread;
  uv_timer_t tick;
  uv_check_t check;
  int target;
  int done;
  int wrong_thread;
  int bad;
  int seen[MAXN];
  int status[MAXN];
  int ticks;
  int iterations;
  int in_iteration;  /* callbacks since the last loop iteration */
  int most_per_iter; /* the largest of those */
  int resubmit;
  int closed;
  bool close_when_done;
  bool close_after_first;
} uv_ctx;

static void on_closed(cf_uv_bridge *ub) {
  uv_ctx *c = ub->data;
  c->closed++;
  uv_close((uv_handle_t *)&c->tick, NULL);
  uv_close((uv_handle_t *)&c->check, NULL);
}

static void on_tick(uv_timer_t *t) {
  uv_ctx *c = t->data;
  c->ticks++;
}

static void on_check(uv_check_t *h) {
  uv_ctx *c = h->data;
  c->iterations++;
  c->in_iteration = 0;
}

static void ctx_start(uv_ctx *c, cf_executor *pool, double tick_ms) {
  memset(c, 0, sizeof *c);
  ck_assert_int_eq(uv_loop_init(&c->loop), 0);
  ck_assert_int_eq(cf_uv_bridge_init(&c->loop, &c->ub), 0);
  c->ub.data = c;
  c->pool = pool;
  c->loop_thread = pthread_self();
  uv_timer_init(&c->loop, &c->tick);
  c->tick.data = c;
  if (tick_ms > 0)
    uv_timer_start(&c->tick, on_tick, (uint64_t)tick_ms, (uint64_t)tick_ms);
  uv_check_init(&c->loop, &c->check);
  c->check.data = c;
  uv_check_start(&c->check, on_check);
}

static void ctx_run(uv_ctx *c) {
  ck_assert_int_eq(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(c->closed, 1);
  ck_assert_int_eq(uv_loop_close(&c->loop), 0);
}

static void on_done(cf_future *f, int status, void *ud) {
  uv_ctx *c = ud;
  if (!pthread_equal(pthread_self(), c->loop_thread))
    c->wrong_thread++;
  c->in_iteration++;
  if (c->in_iteration > c->most_per_iter)
    c->most_per_iter = c->in_iteration;
  void *v = NULL;
  if (status == 0 && cf_future_result(f, 0, &v) == 0 && (intptr_t)v < MAXN)
    c->seen[(intptr_t)v]++;
  else
    c->bad++;
  c->status[c->done < MAXN ? c->done : 0] = status;
  c->done++;
  if (c->resubmit > 0) {
    intptr_t next = c->target - c->resubmit;
    c->resubmit--;
    ck_assert_int_eq(cf_bridge_submit(cf_uv_bridge_get(&c->ub), c->pool,
                                      cf_test_task_identity, (void *)next,
                                      on_done, c, NULL),
                     0);
  }
  if ((c->close_when_done && c->done == c->target) ||
      (c->close_after_first && c->done == 1))
    ck_assert_int_eq(cf_uv_bridge_close(&c->ub, on_closed), 0);
}

START_TEST(test_uv_500_tasks_timer_ticks) {
  cf_executor *pool = cf_test_pool(8);
  static uv_ctx c;
  ctx_start(&c, pool, 1);
  ck_assert_int_eq(cf_uv_bridge_set_max(&c.ub, 64), 0);
  c.target = 500;
  c.close_when_done = true;
  for (intptr_t i = 0; i < 500; i++)
    ck_assert_int_eq(cf_bridge_submit(cf_uv_bridge_get(&c.ub), pool,
                                      task_sleepy, (void *)i, on_done, &c,
                                      NULL),
                     0);
  ctx_run(&c);
  ck_assert_int_eq(c.done, 500);
  ck_assert_int_eq(c.bad, 0);
  ck_assert_int_eq(c.wrong_thread, 0);
  for (int i = 0; i < 500; i++)
    ck_assert_int_eq(c.seen[i], 1);
  ck_assert_int_le(c.most_per_iter, 64);
  ck_assert_int_ge(c.ticks, 10);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

START_TEST(test_uv_bound_per_iteration) {
  static uv_ctx c;
  ctx_start(&c, NULL, 0);
  ck_assert_int_eq(cf_uv_bridge_set_max(&c.ub, 5), 0);
  c.target = 100;
  c.close_when_done = true;
  cf_future *fs[100];
  for (intptr_t i = 0; i < 100; i++) {
    ck_assert_int_eq(cf_future_new(&fs[i]), 0);
    ck_assert_int_eq(
        cf_bridge_watch(cf_uv_bridge_get(&c.ub), fs[i], on_done, &c), 0);
    ck_assert_int_eq(cf_future_set_result(fs[i], (void *)i), 0);
  }
  ctx_run(&c);
  ck_assert_int_eq(c.done, 100);
  ck_assert_int_le(c.most_per_iter, 5);
  ck_assert_int_ge(c.iterations, 20);
  for (int i = 0; i < 100; i++)
    cf_future_release(fs[i]);
}
END_TEST

typedef struct cancel_ctx {
  uv_ctx *c;
  cf_future *f;
  bool cancelled;
} cancel_ctx;

static void on_cancel_timer(uv_timer_t *t) {
  cancel_ctx *cc = t->data;
  cc->cancelled = cf_future_cancel(cc->f);
  uv_close((uv_handle_t *)t, NULL);
}

static void on_done_cancelled(cf_future *f, int status, void *ud) {
  cancel_ctx *cc = ud;
  ck_assert_int_eq(status, 0);
  ck_assert(cf_future_cancelled(f));
  cc->c->done++;
  ck_assert_int_eq(cf_uv_bridge_close(&cc->c->ub, on_closed), 0);
}

START_TEST(test_uv_cancel_from_loop) {
  cf_executor *pool = cf_test_pool(1);
  static uv_ctx c;
  ctx_start(&c, pool, 0);
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  cf_future *blocker;
  ck_assert_int_eq(cf_submit(pool, cf_test_task_gate, &gate, &blocker), 0);
  ck_assert(cf_test_gate_wait_arrivals(&gate, 1, cf_test_scale(10)));
  static cancel_ctx cc;
  cc.c = &c;
  ck_assert_int_eq(cf_bridge_submit(cf_uv_bridge_get(&c.ub), pool,
                                    cf_test_task_identity, NULL,
                                    on_done_cancelled, &cc, &cc.f),
                   0);
  uv_timer_t t;
  uv_timer_init(&c.loop, &t);
  t.data = &cc;
  uv_timer_start(&t, on_cancel_timer, 5, 0);
  ctx_run(&c);
  ck_assert(cc.cancelled);
  ck_assert_int_eq(c.done, 1);
  cf_test_gate_open(&gate);
  cf_future_release(blocker);
  cf_future_release(cc.f);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  cf_test_gate_destroy(&gate);
}
END_TEST

typedef struct timeout_ctx {
  uv_ctx *c;
  uint64_t start;
  double elapsed;
  int status;
} timeout_ctx;

static void on_done_timeout(cf_future *f, int status, void *ud) {
  timeout_ctx *tc = ud;
  tc->elapsed = cf_test_elapsed(tc->start);
  tc->status = status;
  ck_assert(pthread_equal(pthread_self(), tc->c->loop_thread));
  ck_assert(cf_future_cancelled(f));
  ck_assert_int_eq(cf_uv_bridge_close(&tc->c->ub, on_closed), 0);
}

START_TEST(test_uv_timeout_served_by_adapter) {
  static uv_ctx c;
  ctx_start(&c, NULL, 0);
  cf_future *f;
  ck_assert_int_eq(cf_future_new(&f), 0);
  static timeout_ctx tc;
  tc.c = &c;
  tc.start = cf_now_ns();
  ck_assert_int_eq(cf_bridge_watch_timeout(cf_uv_bridge_get(&c.ub), f, 0.03,
                                           on_done_timeout, &tc),
                   0);
  ctx_run(&c); /* nothing but the adapter's timer can end this loop */
  ck_assert_int_eq(tc.status, CF_ETIMEDOUT);
  ck_assert(tc.elapsed >= 0.03);
  cf_future_release(f);
}
END_TEST

START_TEST(test_uv_close_in_flight) {
  cf_executor *pool = cf_test_pool(2);
  static uv_ctx c;
  ctx_start(&c, pool, 1);
  c.close_after_first = true;
  for (intptr_t i = 0; i < 50; i++)
    ck_assert_int_eq(cf_bridge_submit(cf_uv_bridge_get(&c.ub), pool,
                                      task_sleepy, (void *)i, on_done, &c,
                                      NULL),
                     0);
  /* One that is surely still in flight at close, however slow the box. */
  cf_future *user;
  ck_assert_int_eq(cf_future_new(&user), 0);
  ck_assert_int_eq(cf_bridge_watch(cf_uv_bridge_get(&c.ub), user, on_done, &c),
                   0);
  ctx_run(&c);
  /* All 51 ran once: the first normally, the rest from the close. */
  ck_assert_int_eq(c.done, 51);
  ck_assert_int_eq(c.status[0], 0);
  int cancelled = 0;
  for (int i = 1; i < 51; i++) {
    ck_assert(c.status[i] == 0 || c.status[i] == CF_ESHUTDOWN);
    cancelled += c.status[i] == CF_ESHUTDOWN;
  }
  ck_assert_int_ge(cancelled, 1);
  ck_assert_int_eq(c.wrong_thread, 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  /* Late completions after the bridge is gone run nothing. */
  ck_assert_int_eq(cf_future_set_result(user, NULL), 0);
  cf_future_release(user);
  ck_assert_int_eq(c.done, 51);
}
END_TEST

static void on_closed_plain(cf_uv_bridge *ub) {
  *(int *)ub->data += 1;
}

typedef struct wrong_thread_call {
  cf_uv_bridge *ub;
  int rc;
} wrong_thread_call;

static void *close_elsewhere(void *arg) {
  wrong_thread_call *w = arg;
  w->rc = cf_uv_bridge_close(w->ub, NULL);
  return NULL;
}

START_TEST(test_uv_errors) {
  uv_loop_t loop;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  cf_uv_bridge ub;
  ck_assert_int_eq(cf_uv_bridge_init(NULL, &ub), CF_EINVAL);
  ck_assert_int_eq(cf_uv_bridge_init(&loop, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_uv_bridge_close(NULL, NULL), CF_EINVAL);
  ck_assert_ptr_null(cf_uv_bridge_get(NULL));
  ck_assert_int_eq(cf_uv_bridge_set_max(NULL, 5), CF_EINVAL);
  ck_assert_int_eq(cf_uv_bridge_init(&loop, &ub), 0);
  ck_assert_ptr_nonnull(cf_uv_bridge_get(&ub));
  int closed = 0;
  ub.data = &closed;
  wrong_thread_call w = {&ub, 0};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, close_elsewhere, &w), 0);
  pthread_join(th, NULL);
  ck_assert_int_eq(w.rc, CF_EINVAL);
  ck_assert_int_eq(cf_uv_bridge_close(&ub, on_closed_plain), 0);
  ck_assert_int_eq(cf_uv_bridge_close(&ub, on_closed_plain), CF_ESTATE);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static void on_done_plain(cf_future *f, int status, void *ud) {
  (void)f;
  *(int *)ud = status == 0 ? 1 : status;
}

typedef struct again_ctx {
  cf_uv_bridge *ub;
  int status, rc;
} again_ctx;

static void on_done_close_again(cf_future *f, int status, void *ud) {
  (void)f;
  again_ctx *a = ud;
  a->status = status;
  a->rc = cf_uv_bridge_close(a->ub, NULL);
}

/* A second close from a callback the first one delivers is refused with
 * the code the libevent adapter gives a second free. */
START_TEST(test_uv_close_again_from_callback) {
  uv_loop_t loop;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  cf_uv_bridge ub;
  ck_assert_int_eq(cf_uv_bridge_init(&loop, &ub), 0);
  int closed = 0;
  ub.data = &closed;
  cf_future *f;
  ck_assert_int_eq(cf_future_new(&f), 0);
  again_ctx a = {&ub, 1, 1};
  ck_assert_int_eq(
      cf_bridge_watch(cf_uv_bridge_get(&ub), f, on_done_close_again, &a), 0);
  ck_assert_int_eq(cf_uv_bridge_close(&ub, on_closed_plain), 0);
  ck_assert_int_eq(a.status, CF_ESHUTDOWN);
  ck_assert_int_eq(a.rc, CF_ESTATE);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(closed, 1);
  ck_assert_ptr_null(cf_uv_bridge_get(&ub));
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0);
  cf_future_release(f);
}
END_TEST

START_TEST(test_uv_bridge_closed_directly) {
  uv_loop_t loop;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  cf_uv_bridge ub;
  ck_assert_int_eq(cf_uv_bridge_init(&loop, &ub), 0);
  int closed = 0, got = 0;
  ub.data = &closed;
  cf_future *f;
  ck_assert_int_eq(cf_future_new(&f), 0);
  ck_assert_int_eq(
      cf_bridge_watch(cf_uv_bridge_get(&ub), f, on_done_plain, &got), 0);
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0); /* fd now readable */
  /* Closed behind the adapter: the callback runs now... */
  ck_assert_int_eq(cf_bridge_close(cf_uv_bridge_get(&ub)), 0);
  ck_assert_int_eq(got, 1);
  /* ...and the adapter stops polling the still-readable descriptor
   * instead of spinning on it. */
  uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert(!uv_is_active((uv_handle_t *)&ub.poll));
  ck_assert_int_eq(cf_uv_bridge_close(&ub, on_closed_plain), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  cf_future_release(f);
}
END_TEST

START_TEST(test_uv_callback_submits_again) {
  cf_executor *pool = cf_test_pool(2);
  static uv_ctx c;
  ctx_start(&c, pool, 0);
  c.target = 200;
  c.resubmit = 199;
  c.close_when_done = true;
  ck_assert_int_eq(cf_bridge_submit(cf_uv_bridge_get(&c.ub), pool,
                                    cf_test_task_identity, (void *)0, on_done,
                                    &c, NULL),
                   0);
  ctx_run(&c);
  ck_assert_int_eq(c.done, 200);
  for (int i = 0; i < 200; i++)
    ck_assert_int_eq(c.seen[i], 1);
  ck_assert_int_eq(c.wrong_thread, 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

static void *uv_loop_main(void *arg) {
  uv_ctx *c = arg;
  cf_executor *pool = c->pool;
  ctx_start(c, pool, 1);
  c->target = 200;
  c->close_when_done = true;
  cf_uv_bridge_set_max(&c->ub, 16);
  for (intptr_t i = 0; i < 200; i++)
    if (cf_bridge_submit(cf_uv_bridge_get(&c->ub), pool, task_sleepy, (void *)i,
                         on_done, c, NULL) != 0)
      c->bad++;
  uv_run(&c->loop, UV_RUN_DEFAULT);
  uv_loop_close(&c->loop);
  return NULL;
}

START_TEST(test_uv_four_loops_one_pool) {
  cf_executor *pool = cf_test_pool(8);
  static uv_ctx cs[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    cs[i].pool = pool;
    ck_assert_int_eq(pthread_create(&th[i], NULL, uv_loop_main, &cs[i]), 0);
  }
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(cs[i].done, 200);
    ck_assert_int_eq(cs[i].bad, 0);
    ck_assert_int_eq(cs[i].wrong_thread, 0);
    ck_assert_int_eq(cs[i].closed, 1);
    for (int k = 0; k < 200; k++)
      ck_assert_int_eq(cs[i].seen[k], 1);
  }
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

Suite *cf_bridge_uv_suite(void) {
  /* libuv opens a process-wide pipe with its first loop and keeps it for
   * good: open it now, before each test's descriptor census is taken, so
   * it is not mistaken for a leak (and the census does not wait for it). */
  uv_loop_t warm;
  if (uv_loop_init(&warm) == 0)
    uv_loop_close(&warm);
  Suite *s = suite_create("bridge_uv");
  TCase *tc = tcase_create("basics");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_uv_errors);
  tcase_add_test(tc, test_uv_bridge_closed_directly);
  tcase_add_test(tc, test_uv_close_again_from_callback);
  tcase_add_test(tc, test_uv_bound_per_iteration);
  tcase_add_test(tc, test_uv_cancel_from_loop);
  tcase_add_test(tc, test_uv_timeout_served_by_adapter);
  tcase_add_test(tc, test_uv_close_in_flight);
  suite_add_tcase(s, tc);
  tc = tcase_create("loops");
  cf_test_tcase_timeout(tc, 60);
  tcase_add_test(tc, test_uv_500_tasks_timer_ticks);
  tcase_add_test(tc, test_uv_callback_submits_again);
  tcase_add_test(tc, test_uv_four_loops_one_pool);
  suite_add_tcase(s, tc);
  return s;
}
