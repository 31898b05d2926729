/* SPDX-License-Identifier: MIT */
/* Timers (cf_future_after), scheduled tasks (cf_submit_after,
 * cf_submit_every) and cf_future_with_timeout: never early, in deadline
 * order, cancellable, many at once, timers whose callbacks start timers,
 * cancel races, the timer thread leaving when idle. The fork cases are in
 * test_timer_fork.c. */
#include "harness.h"

#include <cfutures/combine.h>
#include <cfutures/timer.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V(i) ((void *)(intptr_t)(i))
#define MS 1000000ull

static void count_cb(cf_future *f, void *userdata) {
  (void)f;
  atomic_fetch_add((atomic_int *)userdata, 1);
}

static bool is_done(void *f) {
  return cf_future_done(f);
}

START_TEST(test_invalid) {
  cf_future *f = (cf_future *)(uintptr_t)0x1;
  cf_executor *pool = cf_test_pool(1);
  ck_assert_int_eq(cf_future_after(1, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_after(NAN, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_after(NULL, 1, cf_test_task_identity, NULL, &f),
                   CF_EINVAL);
  ck_assert_int_eq(cf_submit_after(pool, 1, NULL, NULL, &f), CF_EINVAL);
  ck_assert_int_eq(cf_submit_after(pool, 1, cf_test_task_identity, NULL, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(cf_submit_after(pool, NAN, cf_test_task_identity, NULL, &f),
                   CF_EINVAL);
  double bad_periods[] = {0, -1, NAN, INFINITY};
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(cf_submit_every(pool, bad_periods[i], 0,
                                     cf_test_task_identity, NULL, &f),
                     CF_EINVAL);
  ck_assert_int_eq(
      cf_submit_every(pool, 1, 1u << 9, cf_test_task_identity, NULL, &f),
      CF_EINVAL);
  ck_assert_int_eq(cf_submit_every(NULL, 1, 0, cf_test_task_identity, NULL, &f),
                   CF_EINVAL);
  cf_future *p;
  ck_assert_int_eq(cf_future_new(&p), 0);
  ck_assert_int_eq(cf_future_with_timeout(NULL, 1, 0, &f), CF_EINVAL);
  ck_assert_int_eq(cf_future_with_timeout(p, 1, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_with_timeout(p, NAN, 0, &f), CF_EINVAL);
  ck_assert_int_eq(cf_future_with_timeout(p, 1, 1u << 9, &f), CF_EINVAL);
  ck_assert_ptr_eq(f, (cf_future *)(uintptr_t)0x1);
  /* A timer belongs to the library. */
  cf_future *t;
  ck_assert_int_eq(cf_future_after(10, &t), 0);
  ck_assert_int_eq(cf_future_set_result(t, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_running(t), CF_EINVAL);
  ck_assert(cf_future_cancel(t));
  cf_future_release(t);
  cf_future_release(p);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

typedef struct fired {
  pthread_t thread;
  atomic_int calls;
} fired;

static void record_thread(cf_future *f, void *userdata) {
  (void)f;
  fired *r = userdata;
  r->thread = pthread_self();
  atomic_fetch_add(&r->calls, 1);
}

START_TEST(test_after_never_early) {
  cf_future *t;
  uint64_t start = cf_now_ns();
  ck_assert_int_eq(cf_future_after(0.03, &t), 0);
  fired r = {0};
  ck_assert_int_eq(cf_future_on_done(t, record_thread, &r), 0);
  ck_assert(!cf_future_done(t) || cf_now_ns() - start >= 30 * MS);
  void *v = V(1);
  ck_assert_int_eq(cf_future_result(t, cf_test_scale(10), &v), 0);
  ck_assert_ptr_null(v);
  cf_future_times tm;
  ck_assert_int_eq(cf_future_times_get(t, &tm), 0);
  ck_assert_uint_ge(tm.finished_ns - start, 30 * MS);
  ck_assert_uint_ge(cf_now_ns() - start, 30 * MS);
  ck_assert(cf_test_poll(is_done, t, 1));
  uint64_t t0 = cf_now_ns();
  while (atomic_load(&r.calls) == 0 && cf_test_elapsed(t0) < 10)
    cf_test_sleep_ms(0.1);
  ck_assert_int_eq(atomic_load(&r.calls), 1);
  /* On the timer thread, not the caller's. */
  ck_assert(!pthread_equal(r.thread, pthread_self()));
  cf_future_release(t);
  /* Zero and negative delays complete as soon as the thread runs. */
  ck_assert_int_eq(cf_future_after(0, &t), 0);
  ck_assert_int_eq(cf_future_wait(t, cf_test_scale(10)), 0);
  cf_future_release(t);
  ck_assert_int_eq(cf_future_after(-5, &t), 0);
  ck_assert_int_eq(cf_future_wait(t, cf_test_scale(10)), 0);
  cf_future_release(t);
}
END_TEST

enum { ORDER_N = 200 };

typedef struct order_log {
  pthread_mutex_t mu;
  int n;
  int seq[ORDER_N];
} order_log;

typedef struct order_item {
  order_log *log;
  int rank;
} order_item;

static void log_fire(cf_future *f, void *userdata) {
  (void)f;
  order_item *it = userdata;
  pthread_mutex_lock(&it->log->mu);
  it->log->seq[it->log->n++] = it->rank;
  pthread_mutex_unlock(&it->log->mu);
}

/* Timers created in shuffled order fire in deadline order; every other
 * one is cancelled, which takes it out of the heap's middle. */
START_TEST(test_order_and_cancel) {
  static order_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
  static order_item items[ORDER_N];
  cf_future *ts[ORDER_N];
  int perm[ORDER_N];
  for (int i = 0; i < ORDER_N; i++)
    perm[i] = i;
  srand(7);
  for (int i = ORDER_N - 1; i > 0; i--) {
    int j = rand() % (i + 1), x = perm[i];
    perm[i] = perm[j];
    perm[j] = x;
  }
  /* Deadlines from one base, 1 ms apart (far more than the thread needs to
   * tell them apart), so their order does not depend on how long creating
   * the others took; the base leaves time to create and cancel them all. */
  uint64_t base = cf_now_ns();
  double lead = cf_test_scale(0.5);
  for (int k = 0; k < ORDER_N; k++) {
    int rank = perm[k];
    items[rank] = (order_item){&log, rank};
    double at = lead + rank * 0.001 - (double)(cf_now_ns() - base) / 1e9;
    ck_assert_msg(at > 0, "creating the timers took longer than %.1f s", lead);
    ck_assert_int_eq(cf_future_after(at, &ts[rank]), 0);
    ck_assert_int_eq(cf_future_on_done(ts[rank], log_fire, &items[rank]), 0);
  }
  int cancelled = 0;
  for (int rank = 1; rank < ORDER_N; rank += 2) {
    ck_assert(cf_future_cancel(ts[rank]));
    cancelled++;
  }
  for (int rank = 0; rank < ORDER_N; rank++)
    ck_assert_int_eq(cf_future_wait(ts[rank], cf_test_scale(10)), 0);
  uint64_t t0 = cf_now_ns();
  while (cf_test_elapsed(t0) < 10) {
    pthread_mutex_lock(&log.mu);
    int n = log.n;
    pthread_mutex_unlock(&log.mu);
    if (n == ORDER_N)
      break;
    cf_test_sleep_ms(1);
  }
  ck_assert_int_eq(log.n, ORDER_N);
  /* The cancelled ones were logged at once, by this thread, in cancel
   * order; then the others in deadline order. */
  for (int k = 0; k < cancelled; k++)
    ck_assert_int_eq(log.seq[k], 2 * k + 1);
  for (int k = cancelled; k < ORDER_N; k++) {
    ck_assert_int_eq(log.seq[k], 2 * (k - cancelled));
    ck_assert(!cf_future_cancelled(ts[log.seq[k]]));
  }
  for (int rank = 0; rank < ORDER_N; rank++)
    cf_future_release(ts[rank]);
}
END_TEST

/* 20,000 timers over 100 ms, a quarter of them cancelled at random; the
 * caller releases every one at once and only counts callbacks. */
START_TEST(test_many) {
  enum { N = 20000 };
  static cf_future *ts[N];
  atomic_int fired_n = 0, cancelled_n = 0;
  srand(11);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(cf_future_after((rand() % 100) / 1000.0, &ts[i]), 0);
    ck_assert_int_eq(cf_future_on_done(ts[i], count_cb, &fired_n), 0);
  }
  for (int i = 0; i < N; i += 4)
    if (cf_future_cancel(ts[i]))
      atomic_fetch_add(&cancelled_n, 1);
  for (int i = 0; i < N; i++)
    cf_future_release(ts[i]);
  uint64_t t0 = cf_now_ns();
  while (atomic_load(&fired_n) < N && cf_test_elapsed(t0) < cf_test_scale(20))
    cf_test_sleep_ms(1);
  ck_assert_int_eq(atomic_load(&fired_n), N);
  ck_assert_int_gt(atomic_load(&cancelled_n), 0);
}
END_TEST

/* A timer's callback starts the next timer: a chain of 50, then a second
 * generation of two per link (a tree), all from the timer thread. */
typedef struct chain {
  atomic_int left;
  atomic_int started;
  cf_future *done;
} chain;

static void chain_step(cf_future *f, void *userdata) {
  (void)f;
  chain *c = userdata;
  if (atomic_fetch_sub(&c->left, 1) == 1) {
    cf_future_set_result(c->done, NULL);
    return;
  }
  cf_future *next;
  if (cf_future_after(0.001, &next) != 0) {
    cf_future_set_error(c->done, CF_ENOMEM, NULL);
    return;
  }
  atomic_fetch_add(&c->started, 1);
  cf_future_on_done(next, chain_step, c);
  cf_future_release(next);
}

START_TEST(test_callback_starts_timers) {
  static chain c;
  atomic_init(&c.left, 50);
  ck_assert_int_eq(cf_future_new(&c.done), 0);
  cf_future *first;
  ck_assert_int_eq(cf_future_after(0.001, &first), 0);
  ck_assert_int_eq(cf_future_on_done(first, chain_step, &c), 0);
  cf_future_release(first);
  ck_assert_int_eq(cf_future_result(c.done, cf_test_scale(10), NULL), 0);
  ck_assert_int_eq(atomic_load(&c.started), 49);
  cf_future_release(c.done);
}
END_TEST

/* Cancel from two threads right at the deadline: the timer ends once,
 * cancelled or finished, its callback runs once. */
typedef struct racer {
  cf_future *t;
  pthread_barrier_t *go;
  bool won;
} racer;

static void *cancel_at_deadline(void *arg) {
  racer *r = arg;
  pthread_barrier_wait(r->go);
  cf_test_sleep_ms(1);
  r->won = cf_future_cancel(r->t);
  return NULL;
}

START_TEST(test_cancel_race) {
  long rounds = cf_test_stress_count(400);
  long cancelled = 0;
  for (long i = 0; i < rounds; i++) {
    cf_future *t;
    ck_assert_int_eq(cf_future_after(0.001, &t), 0);
    atomic_int cbs = 0;
    ck_assert_int_eq(cf_future_on_done(t, count_cb, &cbs), 0);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 3);
    racer r[2] = {{t, &go, false}, {t, &go, false}};
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
      pthread_create(&th[k], NULL, cancel_at_deadline, &r[k]);
    pthread_barrier_wait(&go);
    for (int k = 0; k < 2; k++)
      pthread_join(th[k], NULL);
    pthread_barrier_destroy(&go);
    ck_assert_int_eq(cf_future_wait(t, cf_test_scale(10)), 0);
    uint64_t t0 = cf_now_ns();
    while (atomic_load(&cbs) == 0 && cf_test_elapsed(t0) < 10)
      cf_test_sleep_ms(0.05);
    ck_assert_int_eq(atomic_load(&cbs), 1);
    ck_assert_int_eq(r[0].won, cf_future_cancelled(t));
    ck_assert_int_eq(r[1].won, cf_future_cancelled(t));
    cancelled += cf_future_cancelled(t);
    cf_future_release(t);
  }
  fprintf(stderr, "timer cancel race: %ld rounds, %ld cancelled\n", rounds,
          cancelled);
}
END_TEST

/* With no timer pending for a second, the timer thread leaves; the next
 * timer starts another. */
START_TEST(test_idle_thread_leaves) {
  int base = cf_test_count_threads();
  cf_future *t;
  ck_assert_int_eq(cf_future_after(0.001, &t), 0);
  ck_assert_int_eq(cf_future_wait(t, cf_test_scale(10)), 0);
  cf_future_release(t);
  ck_assert_int_le(cf_test_settle_threads(base, 5), base);
  ck_assert_int_eq(cf_future_after(0.001, &t), 0);
  ck_assert_int_eq(cf_future_wait(t, cf_test_scale(10)), 0);
  cf_future_release(t);
}
END_TEST

/* cf_submit_after --------------------------------------------------------- */

START_TEST(test_submit_after) {
  cf_executor *pool = cf_test_pool(1);
  atomic_int ran = 0;
  cf_future *f;
  uint64_t start = cf_now_ns();
  ck_assert_int_eq(cf_submit_after(pool, 0.03, cf_test_task_count, &ran, &f),
                   0);
  ck_assert_int_eq(cf_future_state(f), CF_PENDING);
  ck_assert_int_eq(cf_future_wait(f, cf_test_scale(10)), 0);
  ck_assert_uint_ge(cf_now_ns() - start, 30 * MS);
  ck_assert_int_eq(atomic_load(&ran), 1);
  ck_assert_int_eq(cf_future_error(f, 0), 0);
  cf_future_release(f);
  /* The task's result, error and message come through. */
  ck_assert_int_eq(
      cf_submit_after(pool, 0.001, cf_test_task_identity, V(42), &f), 0);
  void *v = NULL;
  ck_assert_int_eq(cf_future_result(f, cf_test_scale(10), &v), 0);
  ck_assert_ptr_eq(v, V(42));
  cf_future_release(f);
  ck_assert_int_eq(
      cf_submit_after(pool, 0.001, cf_test_task_fail, V(CF_EPIPE), &f), 0);
  ck_assert_int_eq(cf_future_error(f, cf_test_scale(10)), CF_EPIPE);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

/* Cancel while the timer is pending (fn never runs), while the task is
 * queued (likewise), and while it runs (fails; request_cancel reaches the
 * task's token). */
static int task_until_cancelled(void *arg, void **result) {
  (void)result;
  atomic_fetch_add((atomic_int *)arg, 1);
  uint64_t start = cf_now_ns();
  while (!cf_task_cancel_requested() && cf_test_elapsed(start) < 10)
    cf_test_sleep_ms(1);
  return CF_ECANCELED;
}

static bool is_running(void *f) {
  return cf_future_running(f);
}

START_TEST(test_submit_after_cancel) {
  cf_executor *pool = cf_test_pool(1);
  atomic_int ran = 0;
  cf_future *f;
  ck_assert_int_eq(cf_submit_after(pool, 10, cf_test_task_count, &ran, &f), 0);
  atomic_int cbs = 0;
  ck_assert_int_eq(cf_future_on_done(f, count_cb, &cbs), 0);
  ck_assert(cf_future_cancel(f));
  ck_assert(cf_future_cancelled(f));
  ck_assert_int_eq(atomic_load(&cbs), 1);
  ck_assert(!cf_future_cancel(f) || cf_future_cancelled(f));
  cf_future_release(f);

  cf_test_gate gate;
  cf_test_gate_init(&gate);
  cf_future *blocker;
  ck_assert_int_eq(cf_submit(pool, cf_test_task_gate, &gate, &blocker), 0);
  ck_assert(cf_test_gate_wait_arrivals(&gate, 1, 10));
  ck_assert_int_eq(cf_submit_after(pool, 0.001, cf_test_task_count, &ran, &f),
                   0);
  /* Once the timer fired the task waits in the queue behind blocker. */
  cf_executor_stats st;
  uint64_t t0 = cf_now_ns();
  do {
    cf_test_sleep_ms(1);
    cf_executor_stats_get(pool, &st);
  } while (st.queued == 0 && cf_test_elapsed(t0) < 10);
  ck_assert_uint_eq(st.queued, 1);
  ck_assert(!cf_future_done(f));
  ck_assert(cf_future_cancel(f));
  ck_assert_int_eq(cf_future_error(f, 0), CF_ECANCELED);
  cf_test_gate_open(&gate);
  cf_future_release(blocker);
  cf_future_release(f);

  atomic_int started = 0;
  ck_assert_int_eq(
      cf_submit_after(pool, 0.001, task_until_cancelled, &started, &f), 0);
  t0 = cf_now_ns();
  while (atomic_load(&started) == 0 && cf_test_elapsed(t0) < 10)
    cf_test_sleep_ms(1);
  ck_assert(!cf_future_cancel(f)); /* it runs */
  ck_assert(!cf_future_done(f));
  ck_assert_int_eq(cf_future_request_cancel(f), 0);
  ck_assert_int_eq(cf_future_wait(f, cf_test_scale(10)), 0);
  ck_assert(cf_future_cancelled(f));
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(pool), 0);
  ck_assert_int_eq(atomic_load(&ran), 0);
  cf_test_gate_destroy(&gate);
}
END_TEST

START_TEST(test_submit_after_shutdown) {
  cf_executor *pool = cf_test_pool(1);
  cf_future *f;
  ck_assert_int_eq(cf_submit_after(pool, 0.02, cf_test_task_identity, NULL, &f),
                   0);
  ck_assert_int_eq(cf_shutdown(pool, 0), 0);
  ck_assert_int_eq(cf_future_error(f, cf_test_scale(10)), CF_ESHUTDOWN);
  ck_assert_str_eq(cf_future_error_message(f),
                   "the scheduled task could not be submitted");
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

/* cf_submit_every -------------------------------------------------------- */

typedef struct ticks {
  atomic_int n;
  int fail_at;
  int sleep_ms;
  pthread_mutex_t mu;
  uint64_t start[64], end[64];
} ticks;

static int tick(void *arg, void **result) {
  (void)result;
  ticks *t = arg;
  uint64_t s = cf_now_ns();
  if (t->sleep_ms > 0)
    cf_test_sleep_ms(t->sleep_ms);
  pthread_mutex_lock(&t->mu);
  int k = atomic_fetch_add(&t->n, 1);
  if (k < 64) {
    t->start[k] = s;
    t->end[k] = cf_now_ns();
  }
  pthread_mutex_unlock(&t->mu);
  if (t->fail_at > 0 && k + 1 == t->fail_at) {
    cf_task_set_message("third time");
    return CF_EPROTO;
  }
  return 0;
}

START_TEST(test_every_fixed_rate_cancel) {
  cf_executor *pool = cf_test_pool(2);
  static ticks t = {.mu = PTHREAD_MUTEX_INITIALIZER};
  cf_future *f;
  uint64_t start = cf_now_ns();
  ck_assert_int_eq(
      cf_submit_every(pool, 0.01, CF_EVERY_FIXED_RATE, tick, &t, &f), 0);
  uint64_t t0 = cf_now_ns();
  while (atomic_load(&t.n) < 5 && cf_test_elapsed(t0) < cf_test_scale(10))
    cf_test_sleep_ms(1);
  ck_assert_int_ge(atomic_load(&t.n), 5);
  ck_assert(!cf_future_done(f));
  ck_assert(cf_future_cancel(f));
  ck_assert(cf_future_cancelled(f));
  int at_cancel = atomic_load(&t.n);
  cf_test_sleep_ms(50);
  /* A run that had started may finish; none starts after the cancel. */
  ck_assert_int_le(atomic_load(&t.n), at_cancel + 1);
  /* Run k is due (k + 1) periods after the start, never earlier. */
  for (int k = 0; k < 5; k++)
    ck_assert_uint_ge(t.start[k] - start, (uint64_t)(k + 1) * 10 * MS);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

START_TEST(test_every_fixed_delay_and_failure) {
  cf_executor *pool = cf_test_pool(1);
  static ticks t = {
      .mu = PTHREAD_MUTEX_INITIALIZER, .fail_at = 3, .sleep_ms = 10};
  cf_future *f;
  ck_assert_int_eq(
      cf_submit_every(pool, 0.01, CF_EVERY_FIXED_DELAY, tick, &t, &f), 0);
  ck_assert_int_eq(cf_future_error(f, cf_test_scale(10)), CF_EPROTO);
  ck_assert_str_eq(cf_future_error_message(f), "third time");
  ck_assert_int_eq(atomic_load(&t.n), 3);
  /* Each run starts one period after the previous one ended. */
  for (int k = 1; k < 3; k++)
    ck_assert_uint_ge(t.start[k] - t.end[k - 1], 10 * MS);
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

/* cf_future_with_timeout ------------------------------------------------ */

START_TEST(test_with_timeout) {
  for (int flag = 0; flag < 2; flag++) {
    cf_future *p, *w;
    ck_assert_int_eq(cf_future_new(&p), 0);
    uint64_t start = cf_now_ns();
    ck_assert_int_eq(cf_future_with_timeout(
                         p, 0.03, flag ? CF_COMBINE_CANCEL_INPUTS : 0, &w),
                     0);
    ck_assert_int_eq(cf_future_error(w, cf_test_scale(10)), CF_ETIMEDOUT);
    ck_assert_uint_ge(cf_now_ns() - start, 30 * MS);
    ck_assert(!cf_future_cancelled(w));
    ck_assert_int_eq(cf_future_cancelled(p), flag);
    ck_assert_int_eq(cf_future_done(p), flag);
    cf_future_set_result(p, NULL);
    cf_future_release(p);
    cf_future_release(w);
  }
  /* Done first: its outcome, and the timer goes. */
  cf_future *p, *w;
  ck_assert_int_eq(cf_future_new(&p), 0);
  ck_assert_int_eq(cf_future_with_timeout(p, 10, 0, &w), 0);
  ck_assert_int_eq(cf_future_set_error(p, CF_EPIPE, "closed"), 0);
  ck_assert(cf_future_done(w));
  ck_assert_int_eq(cf_future_error(w, 0), CF_EPIPE);
  ck_assert_str_eq(cf_future_error_message(w), "closed");
  cf_future_release(w);
  /* Already done; negative = no timeout. */
  ck_assert_int_eq(cf_future_with_timeout(p, 0, 0, &w), 0);
  ck_assert_int_eq(cf_future_error(w, 0), CF_EPIPE);
  cf_future_release(w);
  cf_future_release(p);
  ck_assert_int_eq(cf_future_new(&p), 0);
  ck_assert_int_eq(cf_future_with_timeout(p, -1, 0, &w), 0);
  ck_assert_int_eq(cf_future_wait(w, 0.05), CF_ETIMEDOUT);
  cf_future_set_result(p, V(9));
  void *v = NULL;
  ck_assert_int_eq(cf_future_result(w, 0, &v), 0);
  ck_assert_ptr_eq(v, V(9));
  cf_future_release(w);
  cf_future_release(p);
  /* Cancelling the combined future cancels the timer and, if asked, f. */
  ck_assert_int_eq(cf_future_new(&p), 0);
  ck_assert_int_eq(cf_future_with_timeout(p, 10, CF_COMBINE_CANCEL_INPUTS, &w),
                   0);
  ck_assert(cf_future_cancel(w));
  ck_assert(cf_future_cancelled(p));
  cf_future_release(w);
  cf_future_release(p);
}
END_TEST

/* A thread-pool task that outlives its timeout is stopped through its
 * token; the combined future fails at the deadline, not at the end. */
START_TEST(test_with_timeout_on_pool) {
  cf_executor *pool = cf_test_pool(1);
  atomic_int started = 0;
  cf_future *f, *w;
  ck_assert_int_eq(cf_submit(pool, task_until_cancelled, &started, &f), 0);
  ck_assert(cf_test_poll(is_running, f, 10));
  ck_assert_int_eq(
      cf_future_with_timeout(f, 0.02, CF_COMBINE_CANCEL_INPUTS, &w), 0);
  cf_future_release(f);
  ck_assert_int_eq(cf_future_error(w, cf_test_scale(10)), CF_ETIMEDOUT);
  cf_future_release(w);
  ck_assert_int_eq(cf_executor_free(pool), 0);
}
END_TEST

Suite *cf_timer_suite(void) {
  Suite *s = suite_create("timer");
  TCase *tc = tcase_create("core");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_invalid);
  tcase_add_test(tc, test_after_never_early);
  tcase_add_test(tc, test_order_and_cancel);
  tcase_add_test(tc, test_many);
  tcase_add_test(tc, test_callback_starts_timers);
  tcase_add_test(tc, test_idle_thread_leaves);
  tcase_add_test(tc, test_submit_after);
  tcase_add_test(tc, test_submit_after_cancel);
  tcase_add_test(tc, test_submit_after_shutdown);
  tcase_add_test(tc, test_every_fixed_rate_cancel);
  tcase_add_test(tc, test_every_fixed_delay_and_failure);
  tcase_add_test(tc, test_with_timeout);
  tcase_add_test(tc, test_with_timeout_on_pool);
  suite_add_tcase(s, tc);
  tc = tcase_create("race");
  cf_test_tcase_timeout(tc, 120);
  tcase_add_test(tc, test_cancel_race);
  suite_add_tcase(s, tc);
  return s;
}
