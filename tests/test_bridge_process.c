/* SPDX-License-Identifier: MIT */
/* Process-pool futures through the bridge (asyncio.wrap_future on a
 * ProcessPoolExecutor future): results, a worker that dies, and a loop-side
 * timeout that stops a running task, all delivered on the loop thread. */
#include "harness.h"

#include <cfutures/process_pool.h>
#include <cfutures/registry.h>
#ifdef CF_HAVE_UV
#include <cfutures/uv.h>
#endif
#ifdef CF_HAVE_EVENT
#include <cfutures/event.h>
#include <event2/event.h>
#endif

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

/* ---- cf_bridge_submit_bytes (loop.run_in_executor on a process pool) */

/* Submits N doublings and one crash through b; the input is a stack
 * variable overwritten at once (the bridge copies it). */
static void submit_bytes_all(cf_bridge *b, cf_executor *pool, pctx *c,
                             pslot *slots) {
  memset(c, 0, sizeof *c);
  c->loop_thread = pthread_self();
  for (int i = 0; i < N; i++) {
    int v = i;
    slots[i] = (pslot){c, i};
    ck_assert_int_eq(cf_bridge_submit_bytes(b, pool, task_double, &v, sizeof v,
                                            on_done, &slots[i], NULL),
                     0);
    v = -1;
  }
  slots[N] = (pslot){c, N};
  cf_future *f = NULL;
  ck_assert_int_eq(cf_bridge_submit_bytes(b, pool, task_crash, NULL, 0, on_done,
                                          &slots[N], &f),
                   0);
  ck_assert_ptr_nonnull(f);
  cf_future_release(f); /* the bridge keeps its own reference */
}

static void check_bytes_all(const pctx *c) {
  ck_assert_int_eq(c->done, N + 1);
  ck_assert_int_eq(c->wrong_thread, 0);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(c->status[i], 0);
    ck_assert_int_eq(c->errors[i], 0);
    ck_assert_int_eq(c->results[i], 2 * i);
  }
  /* The dead worker failed only its own task. */
  ck_assert_int_eq(c->status[N], 0);
  ck_assert_int_eq(c->errors[N], CF_EWORKER);
}

START_TEST(test_submit_bytes_poll_loop) {
  cf_executor *pool = process_pool(2);
  cf_bridge *b;
  ck_assert_int_eq(cf_bridge_new(&b), 0);
  static pctx c;
  static pslot slots[N + 1];
  submit_bytes_all(b, pool, &c, slots);
  run_until(b, &c, N + 1, 30);
  check_bytes_all(&c);
  /* A thread pool's tasks are not bytes: the other submit is for them. */
  cf_executor *threads = cf_test_pool(1);
  ck_assert_int_eq(cf_bridge_submit_bytes(b, threads, task_double, NULL, 0,
                                          on_done, &slots[0], NULL),
                   CF_EINVAL);
  ck_assert_int_eq(cf_bridge_submit(b, pool, cf_test_task_identity, NULL,
                                    on_done, &slots[0], NULL),
                   CF_EINVAL);
  ck_assert_uint_eq(cf_bridge_pending(b), 0);
  ck_assert_int_eq(cf_executor_free(threads), 0);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

#ifdef CF_HAVE_UV
typedef struct uv_bytes {
  cf_uv_bridge ub;
  uv_timer_t check;
  pctx *c;
  double start;
  uint64_t start_ns;
  int closed;
} uv_bytes;

static void on_uv_closed(cf_uv_bridge *ub) {
  ((uv_bytes *)ub->data)->closed = 1;
}

/* Closes the adapter once every callback ran (or the test ran too long). */
static void on_uv_check(uv_timer_t *t) {
  uv_bytes *u = t->data;
  if (u->c->done < N + 1 && cf_test_elapsed(u->start_ns) < cf_test_scale(30))
    return;
  uv_close((uv_handle_t *)t, NULL);
  ck_assert_int_eq(cf_uv_bridge_close(&u->ub, on_uv_closed), 0);
}

START_TEST(test_submit_bytes_uv) {
  cf_executor *pool = process_pool(2);
  uv_loop_t loop;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  static uv_bytes u;
  memset(&u, 0, sizeof u);
  ck_assert_int_eq(cf_uv_bridge_init(&loop, &u.ub), 0);
  u.ub.data = &u;
  static pctx c;
  static pslot slots[N + 1];
  u.c = &c;
  submit_bytes_all(cf_uv_bridge_get(&u.ub), pool, &c, slots);
  u.start_ns = cf_now_ns();
  uv_timer_init(&loop, &u.check);
  u.check.data = &u;
  uv_timer_start(&u.check, on_uv_check, 1, 1);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(u.closed, 1);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  check_bytes_all(&c);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST
#endif

#ifdef CF_HAVE_EVENT
typedef struct ev_bytes {
  cf_event_bridge *eb;
  pctx *c;
  int free_rc;
} ev_bytes;

static ev_bytes evb;

/* The last callback frees the adapter, which ends the loop. */
static void on_done_ev(cf_future *f, int status, void *ud) {
  on_done(f, status, ud);
  if (evb.c->done == N + 1)
    evb.free_rc = cf_event_bridge_free(evb.eb);
}

START_TEST(test_submit_bytes_event) {
  cf_executor *pool = process_pool(2);
  struct event_base *base = event_base_new();
  ck_assert_ptr_nonnull(base);
  memset(&evb, 0, sizeof evb);
  evb.free_rc = 1;
  ck_assert_int_eq(cf_event_bridge_new(base, &evb.eb), 0);
  static pctx c;
  static pslot slots[N + 1];
  evb.c = &c;
  memset(&c, 0, sizeof c);
  c.loop_thread = pthread_self();
  for (int i = 0; i <= N; i++) {
    int v = i;
    slots[i] = (pslot){&c, i};
    cf_bytes_fn fn = i < N ? task_double : task_crash;
    ck_assert_int_eq(cf_bridge_submit_bytes(cf_event_bridge_get(evb.eb), pool,
                                            fn, &v, sizeof v, on_done_ev,
                                            &slots[i], NULL),
                     0);
  }
  /* The adapter's read event keeps the loop going until it is freed. */
  ck_assert_int_eq(event_base_dispatch(base), 1);
  ck_assert_int_eq(evb.free_rc, 0);
  event_base_free(base);
  check_bytes_all(&c);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST
#endif

/* Every task and initializer by name, so that the suite also runs with
 * the spawning start methods (CF_TEST_START_METHOD). */
CF_TASK("bp.task_double", task_double)
CF_TASK("bp.task_crash", task_crash)
CF_TASK("bp.task_long", task_long)

Suite *cf_bridge_process_suite(void) {
#ifdef CF_HAVE_UV
  /* libuv's process-wide pipe, opened by its first loop and kept: open it
   * before the descriptor census (as the bridge_uv suite does). */
  uv_loop_t warm;
  if (uv_loop_init(&warm) == 0)
    uv_loop_close(&warm);
#endif
  Suite *s = suite_create("bridge_process");
  TCase *tc = tcase_create("process_pool");
  cf_test_tcase_timeout(tc, 60);
  tcase_add_test(tc, test_process_results_on_loop);
  tcase_add_test(tc, test_process_crash_and_timeout);
  tcase_add_test(tc, test_submit_bytes_poll_loop);
#ifdef CF_HAVE_UV
  tcase_add_test(tc, test_submit_bytes_uv);
#endif
#ifdef CF_HAVE_EVENT
  tcase_add_test(tc, test_submit_bytes_event);
#endif
  suite_add_tcase(s, tc);
  return s;
}
