/* SPDX-License-Identifier: MIT */
/* The bridge on a real libevent loop (cfutures/event.h): delivery on the
 * loop thread while a 1 ms timer keeps ticking, the per-iteration bound,
 * deadlines served by the adapter's timer, freeing with work in flight from
 * inside a callback, four loops on one pool, a callback that submits
 * again. */
#include "harness.h"

#include <cfutures/event.h>
#include <event2/event.h>
#include <string.h>

static int task_sleepy(void *arg, void **result) {
  cf_test_sleep_ms(2 + (double)((intptr_t)arg % 4));
  *result = arg;
  return 0;
}

enum { MAXN = 1000 };

typedef struct ev_ctx {
  struct event_base *base;
  cf_event_bridge *eb;
  cf_executor *pool;
  pthread_t loop_thread;
  struct event *tick;
  int target;
  int done;
  int wrong_thread;
  int bad;
  int seen[MAXN];
  int status[MAXN];
  int ticks;
  int resubmit;
  bool free_when_done;
  bool free_after_first;
  int free_rc;
} ev_ctx;

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ((ev_ctx *)arg)->ticks++;
}

static void ctx_start(ev_ctx *c, cf_executor *pool, int tick_ms) {
  memset(c, 0, sizeof *c);
  c->base = event_base_new();
  ck_assert_ptr_nonnull(c->base);
  ck_assert_int_eq(cf_event_bridge_new(c->base, &c->eb), 0);
  c->pool = pool;
  c->loop_thread = pthread_self();
  c->free_rc = 1;
  c->tick = event_new(c->base, -1, EV_PERSIST, on_tick, c);
  if (tick_ms > 0) {
    struct timeval tv = {0, tick_ms * 1000};
    event_add(c->tick, &tv);
  }
}

static void finish(ev_ctx *c) {
  c->free_rc = cf_event_bridge_free(c->eb);
  event_del(c->tick);
}

static void ctx_run(ev_ctx *c) {
  /* The adapter's read event keeps the loop going until it is freed. */
  ck_assert_int_eq(event_base_dispatch(c->base), 1);
  ck_assert_int_eq(c->free_rc, 0);
  event_free(c->tick);
  event_base_free(c->base);
}

static void on_done(cf_future *f, int status, void *ud) {
  ev_ctx *c = ud;
  if (!pthread_equal(pthread_self(), c->loop_thread))
    c->wrong_thread++;
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
    ck_assert_int_eq(cf_bridge_submit(cf_event_bridge_get(c->eb), c->pool,
                                      cf_test_task_identity, (void *)next,
                                      on_done, c, NULL),
                     0);
  }
  if ((c->free_when_done && c->done == c->target) ||
      (c->free_after_first && c->done == 1))
    finish(c);
}

START_TEST(test_event_500_tasks_timer_ticks) {
  cf_executor *pool = cf_test_pool(8);
  static ev_ctx c;
  ctx_start(&c, pool, 1);
  ck_assert_int_eq(cf_event_bridge_set_max(c.eb, 64), 0);
  c.target = 500;
  c.free_when_done = true;
  for (intptr_t i = 0; i < 500; i++)
    ck_assert_int_eq(cf_bridge_submit(cf_event_bridge_get(c.eb), pool,
                                      task_sleepy, (void *)i, on_done, &c,
                                      NULL),
                     0);
  ctx_run(&c);
  ck_assert_int_eq(c.done, 500);
  ck_assert_int_eq(c.bad, 0);
  ck_assert_int_eq(c.wrong_thread, 0);
  for (int i = 0; i < 500; i++)
    ck_assert_int_eq(c.seen[i], 1);
  ck_assert_int_ge(c.ticks, 10);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

START_TEST(test_event_bound_per_iteration) {
  static ev_ctx c;
  ctx_start(&c, NULL, 0);
  ck_assert_int_eq(cf_event_bridge_set_max(c.eb, 5), 0);
  ck_assert_int_eq(cf_event_bridge_set_max(NULL, 5), CF_EINVAL);
  c.target = 100;
  cf_future *fs[100];
  for (intptr_t i = 0; i < 100; i++) {
    ck_assert_int_eq(cf_future_new(&fs[i]), 0);
    ck_assert_int_eq(
        cf_bridge_watch(cf_event_bridge_get(c.eb), fs[i], on_done, &c), 0);
    ck_assert_int_eq(cf_future_set_result(fs[i], (void *)i), 0);
  }
  /* One loop iteration per call: each runs at most 5 callbacks, and the
   * loop keeps coming back until all are delivered. */
  int most = 0, iterations = 0;
  while (c.done < 100 && iterations < 1000) {
    int before = c.done;
    ck_assert_int_eq(event_base_loop(c.base, EVLOOP_ONCE), 0);
    if (c.done - before > most)
      most = c.done - before;
    iterations++;
  }
  ck_assert_int_eq(c.done, 100);
  ck_assert_int_le(most, 5);
  ck_assert_int_ge(iterations, 20);
  finish(&c);
  ctx_run(&c);
  for (int i = 0; i < 100; i++)
    cf_future_release(fs[i]);
}
END_TEST

static void on_done_timeout(cf_future *f, int status, void *ud) {
  ev_ctx *c = ud;
  c->status[0] = status;
  c->done++;
  ck_assert(cf_future_cancelled(f));
  finish(c);
}

START_TEST(test_event_timeout_served_by_adapter) {
  static ev_ctx c;
  ctx_start(&c, NULL, 0);
  cf_future *f;
  ck_assert_int_eq(cf_future_new(&f), 0);
  uint64_t start = cf_now_ns();
  ck_assert_int_eq(cf_bridge_watch_timeout(cf_event_bridge_get(c.eb), f, 0.03,
                                           on_done_timeout, &c),
                   0);
  ctx_run(&c);
  ck_assert(cf_test_elapsed(start) >= 0.03);
  ck_assert_int_eq(c.done, 1);
  ck_assert_int_eq(c.status[0], CF_ETIMEDOUT);
  cf_future_release(f);
}
END_TEST

START_TEST(test_event_free_in_flight) {
  cf_executor *pool = cf_test_pool(2);
  static ev_ctx c;
  ctx_start(&c, pool, 1);
  c.free_after_first = true;
  for (intptr_t i = 0; i < 50; i++)
    ck_assert_int_eq(cf_bridge_submit(cf_event_bridge_get(c.eb), pool,
                                      task_sleepy, (void *)i, on_done, &c,
                                      NULL),
                     0);
  /* One that is surely still in flight at the free, however slow the box. */
  cf_future *user;
  ck_assert_int_eq(cf_future_new(&user), 0);
  ck_assert_int_eq(
      cf_bridge_watch(cf_event_bridge_get(c.eb), user, on_done, &c), 0);
  ctx_run(&c);
  ck_assert_int_eq(c.done, 51);
  ck_assert_int_eq(c.status[0], 0);
  int cancelled = 0;
  for (int i = 1; i < 51; i++) {
    ck_assert(c.status[i] == 0 || c.status[i] == CF_ESHUTDOWN);
    cancelled += c.status[i] == CF_ESHUTDOWN;
  }
  ck_assert_int_ge(cancelled, 1);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  /* Late completions after the bridge is gone run nothing. */
  ck_assert_int_eq(cf_future_set_result(user, NULL), 0);
  cf_future_release(user);
  ck_assert_int_eq(c.done, 51);
}
END_TEST

typedef struct wrong_thread_call {
  cf_event_bridge *eb;
  int rc;
} wrong_thread_call;

static void *free_elsewhere(void *arg) {
  wrong_thread_call *w = arg;
  w->rc = cf_event_bridge_free(w->eb);
  return NULL;
}

START_TEST(test_event_errors) {
  struct event_base *base = event_base_new();
  cf_event_bridge *eb;
  ck_assert_int_eq(cf_event_bridge_new(NULL, &eb), CF_EINVAL);
  ck_assert_int_eq(cf_event_bridge_new(base, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_event_bridge_free(NULL), CF_EINVAL);
  ck_assert_ptr_null(cf_event_bridge_get(NULL));
  ck_assert_int_eq(cf_event_bridge_new(base, &eb), 0);
  wrong_thread_call w = {eb, 0};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, free_elsewhere, &w), 0);
  pthread_join(th, NULL);
  ck_assert_int_eq(w.rc, CF_EINVAL);
  ck_assert_int_eq(cf_event_bridge_free(eb), 0);
  /* No event of ours is left: the loop has nothing to run. */
  ck_assert_int_eq(event_base_dispatch(base), 1);
  event_base_free(base);
}
END_TEST

static void on_done_plain(cf_future *f, int status, void *ud) {
  (void)f;
  *(int *)ud = status == 0 ? 1 : status;
}

typedef struct again_ctx {
  cf_event_bridge *eb;
  int status, rc;
} again_ctx;

static void on_done_free_again(cf_future *f, int status, void *ud) {
  (void)f;
  again_ctx *a = ud;
  a->status = status;
  a->rc = cf_event_bridge_free(a->eb);
}

/* A second free from a callback the first one delivers is refused with
 * the code the libuv adapter gives a second close. */
START_TEST(test_event_free_again_from_callback) {
  struct event_base *base = event_base_new();
  cf_event_bridge *eb;
  ck_assert_int_eq(cf_event_bridge_new(base, &eb), 0);
  ck_assert_ptr_nonnull(cf_event_bridge_get(eb));
  cf_future *f;
  ck_assert_int_eq(cf_future_new(&f), 0);
  again_ctx a = {eb, 1, 1};
  ck_assert_int_eq(
      cf_bridge_watch(cf_event_bridge_get(eb), f, on_done_free_again, &a), 0);
  ck_assert_int_eq(cf_event_bridge_free(eb), 0);
  ck_assert_int_eq(a.status, CF_ESHUTDOWN);
  ck_assert_int_eq(a.rc, CF_ESTATE);
  ck_assert_int_eq(event_base_dispatch(base), 1); /* nothing of ours left */
  event_base_free(base);
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0);
  cf_future_release(f);
}
END_TEST

START_TEST(test_event_bridge_closed_directly) {
  struct event_base *base = event_base_new();
  cf_event_bridge *eb;
  ck_assert_int_eq(cf_event_bridge_new(base, &eb), 0);
  int got = 0;
  cf_future *f;
  ck_assert_int_eq(cf_future_new(&f), 0);
  ck_assert_int_eq(
      cf_bridge_watch(cf_event_bridge_get(eb), f, on_done_plain, &got), 0);
  ck_assert_int_eq(cf_future_set_result(f, NULL), 0); /* fd now readable */
  ck_assert_int_eq(cf_bridge_close(cf_event_bridge_get(eb)), 0);
  ck_assert_int_eq(got, 1);
  /* The adapter drops its read event instead of spinning on the still
   * readable descriptor, so the loop runs out of events and returns. */
  ck_assert_int_eq(event_base_dispatch(base), 1);
  ck_assert_int_eq(cf_event_bridge_free(eb), 0);
  event_base_free(base);
  cf_future_release(f);
}
END_TEST

START_TEST(test_event_callback_submits_again) {
  cf_executor *pool = cf_test_pool(2);
  static ev_ctx c;
  ctx_start(&c, pool, 0);
  c.target = 200;
  c.resubmit = 199;
  c.free_when_done = true;
  ck_assert_int_eq(cf_bridge_submit(cf_event_bridge_get(c.eb), pool,
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

static void *ev_loop_main(void *arg) {
  ev_ctx *c = arg;
  cf_executor *pool = c->pool;
  ctx_start(c, pool, 1);
  c->target = 200;
  c->free_when_done = true;
  cf_event_bridge_set_max(c->eb, 16);
  for (intptr_t i = 0; i < 200; i++)
    if (cf_bridge_submit(cf_event_bridge_get(c->eb), pool, task_sleepy,
                         (void *)i, on_done, c, NULL) != 0)
      c->bad++;
  event_base_dispatch(c->base);
  event_free(c->tick);
  event_base_free(c->base);
  return NULL;
}

START_TEST(test_event_four_loops_one_pool) {
  cf_executor *pool = cf_test_pool(8);
  static ev_ctx cs[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    cs[i].pool = pool;
    ck_assert_int_eq(pthread_create(&th[i], NULL, ev_loop_main, &cs[i]), 0);
  }
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(cs[i].done, 200);
    ck_assert_int_eq(cs[i].bad, 0);
    ck_assert_int_eq(cs[i].wrong_thread, 0);
    ck_assert_int_eq(cs[i].free_rc, 0);
    for (int k = 0; k < 200; k++)
      ck_assert_int_eq(cs[i].seen[k], 1);
  }
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

Suite *cf_bridge_event_suite(void) {
  Suite *s = suite_create("bridge_event");
  TCase *tc = tcase_create("basics");
  cf_test_tcase_timeout(tc, 20);
  tcase_add_test(tc, test_event_errors);
  tcase_add_test(tc, test_event_bridge_closed_directly);
  tcase_add_test(tc, test_event_free_again_from_callback);
  tcase_add_test(tc, test_event_bound_per_iteration);
  tcase_add_test(tc, test_event_timeout_served_by_adapter);
  tcase_add_test(tc, test_event_free_in_flight);
  suite_add_tcase(s, tc);
  tc = tcase_create("loops");
  cf_test_tcase_timeout(tc, 60);
  tcase_add_test(tc, test_event_500_tasks_timer_ticks);
  tcase_add_test(tc, test_event_callback_submits_again);
  tcase_add_test(tc, test_event_four_loops_one_pool);
  suite_add_tcase(s, tc);
  return s;
}
