/* SPDX-License-Identifier: MIT */
/* Combinators (cf_future_all, cf_future_any): outcomes in input order,
 * fail-fast, return-errors, cancelling the combined future, inputs that
 * are repeated, already done or released at once, delivery through the
 * bridge, and cancel races against completing inputs. The process pool
 * cases are in test_combine_process.c. */
#include "harness.h"
#include "internal.h"

#include <cfutures/combine.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>

#define V(i) ((void *)(intptr_t)(i))

static cf_future *pending(void) {
  cf_future *f = NULL;
  ck_assert_int_eq(cf_future_new(&f), 0);
  return f;
}

static unsigned refs_of(const cf_future *f) {
  return atomic_load(&f->refs);
}

static void count_cb(cf_future *f, void *userdata) {
  (void)f;
  atomic_fetch_add((atomic_int *)userdata, 1);
}

START_TEST(test_invalid) {
  cf_future *a = pending(), *fs[2] = {a, NULL};
  cf_future *out = (cf_future *)(uintptr_t)0x1;
  ck_assert_int_eq(cf_future_all(fs, 1, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_all(NULL, 1, 0, &out), CF_EINVAL);
  ck_assert_int_eq(cf_future_all(fs, 2, 0, &out), CF_EINVAL);
  ck_assert_int_eq(cf_future_all(fs, 1, 1u << 20, &out), CF_EINVAL);
  ck_assert_int_eq(
      cf_future_all(fs, 1, CF_ALL_FAIL_FAST | CF_ALL_RETURN_ERRORS, &out),
      CF_EINVAL);
  ck_assert_int_eq(cf_future_any(fs, 0, &out), CF_EINVAL);
  ck_assert_int_eq(cf_future_any(NULL, 1, &out), CF_EINVAL);
  ck_assert_int_eq(cf_future_any(fs, 2, &out), CF_EINVAL);
  ck_assert_int_eq(cf_future_any(fs, 1, NULL), CF_EINVAL);
  ck_assert_ptr_eq(out, (cf_future *)(uintptr_t)0x1);
  /* Nothing was registered: a is untouched. */
  ck_assert_uint_eq(refs_of(a), 1);
  size_t idx;
  ck_assert_int_eq(cf_future_all_outcome(NULL, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_all_outcome(a, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_any_index(NULL, &idx), CF_EINVAL);
  ck_assert_int_eq(cf_future_any_index(a, &idx), CF_EINVAL);
  /* The combined futures belong to the library, and each accessor takes
   * only its own kind. */
  cf_future *all, *any;
  ck_assert_int_eq(cf_future_all(fs, 1, 0, &all), 0);
  ck_assert_int_eq(cf_future_any(fs, 1, &any), 0);
  ck_assert_int_eq(cf_future_set_result(all, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_error(any, CF_ETASK, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_running(all), CF_EINVAL);
  ck_assert_int_eq(cf_future_all_outcome(all, 0, NULL), CF_ESTATE);
  ck_assert_int_eq(cf_future_all_outcome(all, 1, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_all_outcome(any, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_any_index(any, &idx), CF_ESTATE);
  ck_assert_int_eq(cf_future_any_index(any, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_any_index(all, &idx), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_result(a, V(3)), 0);
  ck_assert(cf_future_done(all) && cf_future_done(any));
  ck_assert_int_eq(cf_future_all_outcome(all, 1, NULL), CF_EINVAL);
  cf_future_release(all);
  cf_future_release(any);
  cf_future_release(a);
}
END_TEST

START_TEST(test_all_empty) {
  cf_future *all;
  atomic_int cbs = 0;
  ck_assert_int_eq(cf_future_all(NULL, 0, 0, &all), 0);
  ck_assert(cf_future_done(all));
  ck_assert_int_eq(cf_future_on_done(all, count_cb, &cbs), 0);
  ck_assert_int_eq(atomic_load(&cbs), 1);
  void *v = V(1);
  ck_assert_int_eq(cf_future_result(all, 0, &v), 0);
  ck_assert_ptr_null(v);
  ck_assert_int_eq(cf_future_all_outcome(all, 0, NULL), CF_EINVAL);
  cf_future_release(all);
}
END_TEST

START_TEST(test_all_in_input_order) {
  enum { N = 5 };
  cf_future *fs[N];
  for (int i = 0; i < N; i++)
    fs[i] = pending();
  cf_future *all;
  atomic_int cbs = 0;
  ck_assert_int_eq(cf_future_all(fs, N, 0, &all), 0);
  ck_assert_int_eq(cf_future_on_done(all, count_cb, &cbs), 0);
  for (int i = N - 1; i >= 0; i--) {
    ck_assert(!cf_future_done(all));
    ck_assert_int_eq(cf_future_set_result(fs[i], V(10 + i)), 0);
  }
  ck_assert(cf_future_done(all));
  ck_assert_int_eq(atomic_load(&cbs), 1);
  const cf_outcome *o = NULL;
  ck_assert_int_eq(cf_future_result(all, 0, (void **)&o), 0);
  ck_assert_ptr_nonnull(o);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(o[i].err, 0);
    ck_assert_ptr_eq(o[i].value, V(10 + i));
    void *v = NULL;
    ck_assert_int_eq(cf_future_all_outcome(all, (size_t)i, &v), 0);
    ck_assert_ptr_eq(v, V(10 + i));
    /* The combinator dropped its references. */
    ck_assert_uint_eq(refs_of(fs[i]), 1);
    cf_future_release(fs[i]);
  }
  cf_future_release(all);
}
END_TEST

/* Without flags: done when all are done, failing with the first failure
 * in input order (not in completion order), with its message. */
START_TEST(test_all_first_failure_in_input_order) {
  cf_future *fs[4];
  for (int i = 0; i < 4; i++)
    fs[i] = pending();
  cf_future *all;
  ck_assert_int_eq(cf_future_all(fs, 4, 0, &all), 0);
  ck_assert_int_eq(cf_future_set_error(fs[3], CF_EPROTO, "three"), 0);
  ck_assert_int_eq(cf_future_set_result(fs[0], V(1)), 0);
  ck_assert_int_eq(cf_future_set_error(fs[1], CF_ETASK, "one"), 0);
  ck_assert(!cf_future_done(all));
  ck_assert(cf_future_cancel(fs[2]));
  ck_assert(cf_future_done(all));
  ck_assert(!cf_future_cancelled(all));
  ck_assert_int_eq(cf_future_result(all, 0, NULL), CF_ETASK);
  ck_assert_str_eq(cf_future_error_message(all), "one");
  void *v = V(9);
  ck_assert_int_eq(cf_future_all_outcome(all, 0, &v), 0);
  ck_assert_ptr_eq(v, V(1));
  ck_assert_int_eq(cf_future_all_outcome(all, 1, &v), CF_ETASK);
  ck_assert_ptr_null(v);
  ck_assert_int_eq(cf_future_all_outcome(all, 2, NULL), CF_ECANCELED);
  ck_assert_int_eq(cf_future_all_outcome(all, 3, NULL), CF_EPROTO);
  for (int i = 0; i < 4; i++)
    cf_future_release(fs[i]);
  cf_future_release(all);
}
END_TEST

START_TEST(test_all_fail_fast) {
  for (int cancel = 0; cancel < 2; cancel++) {
    cf_future *fs[3];
    for (int i = 0; i < 3; i++)
      fs[i] = pending();
    cf_future *all;
    unsigned flags = CF_ALL_FAIL_FAST | (cancel ? CF_COMBINE_CANCEL_INPUTS : 0);
    ck_assert_int_eq(cf_future_all(fs, 3, flags, &all), 0);
    ck_assert_int_eq(cf_future_set_result(fs[2], V(2)), 0);
    ck_assert(!cf_future_done(all));
    ck_assert_int_eq(cf_future_set_error(fs[1], CF_EPIPE, "pipe"), 0);
    ck_assert(cf_future_done(all));
    ck_assert_int_eq(cf_future_error(all, 0), CF_EPIPE);
    ck_assert_str_eq(cf_future_error_message(all), "pipe");
    ck_assert_int_eq(cf_future_all_outcome(all, 0, NULL), CF_EBUSY);
    ck_assert_int_eq(cf_future_all_outcome(all, 1, NULL), CF_EPIPE);
    ck_assert_int_eq(cf_future_all_outcome(all, 2, NULL), 0);
    /* The unfinished input was let go; cancelled only if asked. */
    ck_assert_uint_eq(refs_of(fs[0]), 1);
    ck_assert_int_eq(cf_future_cancelled(fs[0]), cancel);
    if (!cancel)
      ck_assert_int_eq(cf_future_set_result(fs[0], V(0)), 0);
    for (int i = 0; i < 3; i++)
      cf_future_release(fs[i]);
    cf_future_release(all);
  }
}
END_TEST

/* A cancelled input is a failure for fail-fast, as in asyncio.gather. */
START_TEST(test_all_fail_fast_on_cancel) {
  cf_future *fs[2] = {pending(), pending()};
  cf_future *all;
  ck_assert_int_eq(cf_future_all(fs, 2, CF_ALL_FAIL_FAST, &all), 0);
  ck_assert(cf_future_cancel(fs[0]));
  ck_assert(cf_future_done(all));
  ck_assert(!cf_future_cancelled(all));
  ck_assert_int_eq(cf_future_error(all, 0), CF_ECANCELED);
  cf_future_set_result(fs[1], NULL);
  cf_future_release(fs[0]);
  cf_future_release(fs[1]);
  cf_future_release(all);
}
END_TEST

START_TEST(test_all_return_errors) {
  cf_future *fs[3] = {pending(), pending(), pending()};
  cf_future *all;
  ck_assert_int_eq(cf_future_all(fs, 3, CF_ALL_RETURN_ERRORS, &all), 0);
  cf_future_set_error(fs[0], CF_ETASK, "x");
  ck_assert(cf_future_cancel(fs[1]));
  ck_assert(!cf_future_done(all));
  cf_future_set_result(fs[2], V(7));
  const cf_outcome *o = NULL;
  ck_assert_int_eq(cf_future_result(all, 0, (void **)&o), 0);
  ck_assert_ptr_null(cf_future_error_message(all));
  ck_assert_int_eq(o[0].err, CF_ETASK);
  ck_assert_int_eq(o[1].err, CF_ECANCELED);
  ck_assert_int_eq(o[2].err, 0);
  ck_assert_ptr_eq(o[2].value, V(7));
  for (int i = 0; i < 3; i++)
    cf_future_release(fs[i]);
  cf_future_release(all);
}
END_TEST

/* One input listed three times, one already done, one released at once. */
START_TEST(test_all_duplicates_done_released) {
  cf_future *a = pending(), *done = pending(), *b = pending();
  cf_future_set_result(done, V(5));
  cf_future *fs[5] = {a, done, a, b, a};
  cf_future *all;
  ck_assert_int_eq(cf_future_all(fs, 5, 0, &all), 0);
  ck_assert_uint_eq(refs_of(a), 4);
  ck_assert_uint_eq(refs_of(done), 1); /* done: nothing to hold */
  cf_future_set_result(a, V(1));
  ck_assert(!cf_future_done(all));
  ck_assert_uint_eq(refs_of(a), 1);
  cf_future_set_result(b, V(2));
  ck_assert_uint_eq(refs_of(b), 1);
  cf_future_release(b);
  const cf_outcome *o = NULL;
  ck_assert_int_eq(cf_future_result(all, 0, (void **)&o), 0);
  intptr_t want[5] = {1, 5, 1, 2, 1};
  for (int i = 0; i < 5; i++)
    ck_assert_ptr_eq(o[i].value, V(want[i]));
  cf_future_release(a);
  cf_future_release(done);
  cf_future_release(all);
}
END_TEST

START_TEST(test_all_already_failed_fail_fast) {
  cf_future *bad = pending(), *p = pending();
  cf_future_set_error(bad, CF_ETASK, NULL);
  cf_future *fs[2] = {p, bad};
  cf_future *all;
  ck_assert_int_eq(
      cf_future_all(fs, 2, CF_ALL_FAIL_FAST | CF_COMBINE_CANCEL_INPUTS, &all),
      0);
  ck_assert(cf_future_done(all));
  ck_assert_int_eq(cf_future_error(all, 0), CF_ETASK);
  ck_assert_ptr_null(cf_future_error_message(all));
  ck_assert(cf_future_cancelled(p));
  ck_assert_uint_eq(refs_of(p), 1);
  cf_future_release(p);
  cf_future_release(bad);
  cf_future_release(all);
}
END_TEST

/* Cancelling the combined future: it ends cancelled, drops the inputs,
 * and cancels them only when asked. */
START_TEST(test_cancel_combined) {
  for (int flag = 0; flag < 2; flag++) {
    cf_future *fs[3] = {pending(), pending(), pending()};
    cf_future_set_result(fs[1], V(1));
    cf_future *all, *any;
    ck_assert_int_eq(
        cf_future_all(fs, 3, flag ? CF_COMBINE_CANCEL_INPUTS : 0, &all), 0);
    ck_assert_int_eq(cf_future_any(fs + 2, 1, &any), 0);
    ck_assert(cf_future_cancel(all));
    ck_assert(cf_future_cancelled(all));
    ck_assert_int_eq(cf_future_all_outcome(all, 1, NULL), CF_ECANCELED);
    ck_assert_int_eq(cf_future_result(all, 0, NULL), CF_ECANCELED);
    ck_assert_uint_eq(refs_of(fs[0]), 1);
    ck_assert_int_eq(cf_future_cancelled(fs[0]), flag);
    ck_assert_int_eq(cf_future_cancelled(fs[2]), flag);
    ck_assert_int_eq(cf_future_request_cancel(any), flag ? CF_ESTATE : 0);
    ck_assert(cf_future_done(any));
    size_t idx;
    if (flag) {
      /* fs[2] was cancelled first: any has it as its outcome. */
      ck_assert_int_eq(cf_future_any_index(any, &idx), 0);
      ck_assert_int_eq(cf_future_error(any, 0), CF_ECANCELED);
      ck_assert(!cf_future_cancelled(any));
    } else {
      ck_assert_int_eq(cf_future_any_index(any, &idx), CF_ECANCELED);
      ck_assert(cf_future_cancelled(any));
      ck_assert_uint_eq(refs_of(fs[2]), 1);
    }
    /* Completing the inputs later touches nothing freed. */
    cf_future_set_result(fs[0], NULL);
    cf_future_set_result(fs[2], NULL);
    ck_assert(!cf_future_cancel(all) || cf_future_cancelled(all));
    for (int i = 0; i < 3; i++)
      cf_future_release(fs[i]);
    cf_future_release(all);
    cf_future_release(any);
  }
}
END_TEST

/* The caller drops the combined future at once; its callback still runs
 * when the inputs complete, and everything is freed (ASan checks). */
START_TEST(test_release_combined_first) {
  cf_future *a = pending(), *b = pending();
  cf_future *fs[2] = {a, b};
  cf_future *all, *any;
  atomic_int cbs = 0;
  ck_assert_int_eq(cf_future_all(fs, 2, 0, &all), 0);
  ck_assert_int_eq(cf_future_any(fs, 2, &any), 0);
  ck_assert_int_eq(cf_future_on_done(all, count_cb, &cbs), 0);
  ck_assert_int_eq(cf_future_on_done(any, count_cb, &cbs), 0);
  cf_future_release(all);
  cf_future_release(any);
  cf_future_set_result(b, NULL);
  ck_assert_int_eq(atomic_load(&cbs), 1);
  cf_future_set_result(a, NULL);
  ck_assert_int_eq(atomic_load(&cbs), 2);
  ck_assert_uint_eq(refs_of(a), 1);
  ck_assert_uint_eq(refs_of(b), 1);
  cf_future_release(a);
  cf_future_release(b);
}
END_TEST

START_TEST(test_any) {
  cf_future *fs[3] = {pending(), pending(), pending()};
  cf_future *any;
  ck_assert_int_eq(cf_future_any(fs, 3, &any), 0);
  ck_assert(!cf_future_done(any));
  ck_assert_int_eq(cf_future_set_error(fs[1], CF_EPIPE, "first"), 0);
  ck_assert(cf_future_done(any));
  size_t idx = 99;
  ck_assert_int_eq(cf_future_any_index(any, &idx), 0);
  ck_assert_uint_eq(idx, 1);
  ck_assert_int_eq(cf_future_error(any, 0), CF_EPIPE);
  ck_assert_str_eq(cf_future_error_message(any), "first");
  for (int i = 0; i < 3; i++)
    ck_assert_uint_eq(refs_of(fs[i]), 1);
  cf_future_set_result(fs[0], V(1));
  cf_future_release(any);
  /* Several already done: the first in input order. */
  cf_future *again[3] = {fs[2], fs[1], fs[0]};
  ck_assert_int_eq(cf_future_any(again, 3, &any), 0);
  ck_assert(cf_future_done(any));
  ck_assert_int_eq(cf_future_any_index(any, &idx), 0);
  ck_assert_uint_eq(idx, 1);
  cf_future_release(any);
  /* A repeated input; a value. */
  cf_future *dup[2] = {fs[2], fs[2]};
  ck_assert_int_eq(cf_future_any(dup, 2, &any), 0);
  cf_future_set_result(fs[2], V(42));
  void *v = NULL;
  ck_assert_int_eq(cf_future_result(any, 0, &v), 0);
  ck_assert_ptr_eq(v, V(42));
  ck_assert_int_eq(cf_future_any_index(any, &idx), 0);
  ck_assert_uint_eq(idx, 0);
  cf_future_release(any);
  for (int i = 0; i < 3; i++)
    cf_future_release(fs[i]);
}
END_TEST

/* Thread-pool tasks, user futures and a continuation in one call; the
 * caller's references go at once. */
START_TEST(test_mixed_thread_pool) {
  cf_executor *pool = cf_test_pool(2);
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  cf_future *fs[5];
  ck_assert_int_eq(cf_submit(pool, cf_test_task_identity, V(1), &fs[0]), 0);
  ck_assert_int_eq(cf_submit(pool, cf_test_task_gate, &gate, &fs[1]), 0);
  fs[2] = pending();
  ck_assert_int_eq(cf_submit(pool, cf_test_task_sleep, V(5), &fs[3]), 0);
  cf_future *user = cf_future_retain(fs[2]);
  cf_future *all, *any;
  ck_assert_int_eq(cf_future_any(fs + 1, 3, &any), 0);
  ck_assert_int_eq(cf_future_all(fs, 4, 0, &all), 0);
  for (int i = 0; i < 4; i++)
    cf_future_release(fs[i]);
  /* The 5 ms sleep wins the race against a closed gate and a user future. */
  ck_assert_int_eq(cf_future_wait(any, cf_test_scale(10)), 0);
  size_t idx;
  ck_assert_int_eq(cf_future_any_index(any, &idx), 0);
  ck_assert_uint_eq(idx, 2);
  ck_assert_int_eq(cf_future_wait(all, 0.05), CF_ETIMEDOUT);
  cf_test_gate_open(&gate);
  cf_future_set_result(user, V(3));
  cf_future_release(user);
  const cf_outcome *o = NULL;
  ck_assert_int_eq(cf_future_result(all, cf_test_scale(10), (void **)&o), 0);
  ck_assert_ptr_eq(o[0].value, V(1));
  ck_assert_ptr_eq(o[1].value, &gate);
  ck_assert_ptr_eq(o[2].value, V(3));
  ck_assert_ptr_eq(o[3].value, V(5));
  cf_future_release(all);
  cf_future_release(any);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  cf_test_gate_destroy(&gate);
}
END_TEST

typedef struct watch_ctx {
  pthread_t loop;
  int calls, on_loop, status;
  const cf_outcome *outs;
} watch_ctx;

static void on_watch(cf_future *f, int status, void *userdata) {
  watch_ctx *c = userdata;
  c->calls++;
  c->on_loop += pthread_equal(pthread_self(), c->loop);
  c->status = status;
  c->outs = NULL;
  cf_future_result(f, 0, (void **)&c->outs);
}

/* asyncio's `await gather(...)` from a loop: watch the combined future. */
START_TEST(test_bridge_watch) {
  cf_executor *pool = cf_test_pool(2);
  cf_bridge *b;
  ck_assert_int_eq(cf_bridge_new(&b), 0);
  enum { N = 16 };
  cf_future *fs[N];
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(cf_submit(pool, cf_test_task_sleep, V(i % 3), &fs[i]), 0);
  cf_future *all;
  ck_assert_int_eq(cf_future_all(fs, N, 0, &all), 0);
  for (int i = 0; i < N; i++)
    cf_future_release(fs[i]);
  watch_ctx c = {.loop = pthread_self()};
  ck_assert_int_eq(cf_bridge_watch(b, all, on_watch, &c), 0);
  uint64_t start = cf_now_ns();
  while (c.calls == 0 && cf_test_elapsed(start) < cf_test_scale(10)) {
    struct pollfd p = {.fd = cf_bridge_fd(b), .events = POLLIN};
    poll(&p, 1, 100);
    ck_assert_int_eq(cf_bridge_dispatch(b, 0, NULL), 0);
  }
  ck_assert_int_eq(c.calls, 1);
  ck_assert_int_eq(c.on_loop, 1);
  ck_assert_int_eq(c.status, 0);
  ck_assert_ptr_nonnull(c.outs);
  for (int i = 0; i < N; i++)
    ck_assert_ptr_eq(c.outs[i].value, V(i % 3));
  cf_future_release(all);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

/* Races ------------------------------------------------------------------ */

typedef struct race {
  cf_future *target;
  pthread_barrier_t *go;
  atomic_int cancelled;
} race;

static void *cancel_thread(void *arg) {
  race *r = arg;
  pthread_barrier_wait(r->go);
  if (cf_future_cancel(r->target))
    atomic_fetch_add(&r->cancelled, 1);
  return NULL;
}

/* The combined future is cancelled from three threads while its inputs
 * complete on the pool: its callback runs once, it ends either cancelled
 * or with every outcome, and every input is let go (refs back to the
 * caller's one). Fail-fast with cancel-inputs and any, likewise. */
START_TEST(test_cancel_race) {
  cf_executor *pool = cf_test_pool(3);
  long rounds = cf_test_stress_count(2000);
  enum { N = 6, T = 3 };
  long ended_cancelled = 0;
  for (long round = 0; round < rounds; round++) {
    cf_future *fs[N];
    for (int i = 0; i < N; i++) {
      cf_fn fn = (i == 3 && round % 3 == 1) ? cf_test_task_fail
                                            : cf_test_task_identity;
      void *arg = fn == cf_test_task_fail ? V(CF_ETASK) : V(i);
      ck_assert_int_eq(cf_submit(pool, fn, arg, &fs[i]), 0);
    }
    unsigned flags = round % 3 == 0 ? 0
                     : round % 3 == 1
                         ? CF_ALL_FAIL_FAST | CF_COMBINE_CANCEL_INPUTS
                         : CF_COMBINE_CANCEL_INPUTS;
    cf_future *comb;
    if (round % 4 == 3)
      ck_assert_int_eq(cf_future_any(fs, N, &comb), 0);
    else
      ck_assert_int_eq(cf_future_all(fs, N, flags, &comb), 0);
    atomic_int cbs = 0;
    ck_assert_int_eq(cf_future_on_done(comb, count_cb, &cbs), 0);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, T + 1);
    race r = {.target = comb, .go = &go};
    pthread_t th[T];
    for (int t = 0; t < T; t++)
      pthread_create(&th[t], NULL, cancel_thread, &r);
    pthread_barrier_wait(&go);
    for (int t = 0; t < T; t++)
      pthread_join(th[t], NULL);
    pthread_barrier_destroy(&go);
    ck_assert_int_eq(cf_future_wait(comb, cf_test_scale(10)), 0);
    for (int i = 0; i < N; i++)
      ck_assert_int_eq(cf_future_wait(fs[i], cf_test_scale(10)), 0);
    /* Waiters wake before callbacks run: give the callback its moment. */
    uint64_t t0 = cf_now_ns();
    while (atomic_load(&cbs) == 0 && cf_test_elapsed(t0) < 10)
      cf_test_sleep_ms(0.05);
    ck_assert_int_eq(atomic_load(&cbs), 1);
    if (cf_future_cancelled(comb)) {
      ended_cancelled++;
      ck_assert_int_eq(atomic_load(&r.cancelled), T);
    } else {
      ck_assert_int_eq(atomic_load(&r.cancelled), 0);
    }
    for (int i = 0; i < N; i++) {
      /* A completing input's callback may still be finishing on its
       * worker: wait for it to drop its reference. */
      uint64_t start = cf_now_ns();
      while (refs_of(fs[i]) != 1 && cf_test_elapsed(start) < 10)
        cf_test_sleep_ms(0.05);
      ck_assert_uint_eq(refs_of(fs[i]), 1);
      cf_future_release(fs[i]);
    }
    cf_future_release(comb);
  }
  fprintf(stderr, "combine cancel race: %ld rounds, %ld ended cancelled\n",
          rounds, ended_cancelled);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

Suite *cf_combine_suite(void) {
  Suite *s = suite_create("combine");
  TCase *tc = tcase_create("core");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_invalid);
  tcase_add_test(tc, test_all_empty);
  tcase_add_test(tc, test_all_in_input_order);
  tcase_add_test(tc, test_all_first_failure_in_input_order);
  tcase_add_test(tc, test_all_fail_fast);
  tcase_add_test(tc, test_all_fail_fast_on_cancel);
  tcase_add_test(tc, test_all_return_errors);
  tcase_add_test(tc, test_all_duplicates_done_released);
  tcase_add_test(tc, test_all_already_failed_fail_fast);
  tcase_add_test(tc, test_cancel_combined);
  tcase_add_test(tc, test_release_combined_first);
  tcase_add_test(tc, test_any);
  tcase_add_test(tc, test_mixed_thread_pool);
  tcase_add_test(tc, test_bridge_watch);
  suite_add_tcase(s, tc);
  tc = tcase_create("race");
  cf_test_tcase_timeout(tc, 120);
  tcase_add_test(tc, test_cancel_race);
  suite_add_tcase(s, tc);
  return s;
}
