/* SPDX-License-Identifier: MIT */
/* Stress: many submitters, cancel racing start, waits racing completion,
 * shutdown racing submits, random delays. Counts shrink with
 * CF_STRESS_SCALE and under ThreadSanitizer (cf_test_stress_count). Every
 * task is accounted for exactly once: results + errors + cancelled ==
 * submitted, and a task that ran ran once. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define V(i) ((void *)(intptr_t)(i))

/* Sleeps 0-50 us, chosen by the caller's seed. */
static void jitter(unsigned *seed) {
  struct timespec ts = {0, (long)(rand_r(seed) % 51) * 1000};
  nanosleep(&ts, NULL);
}

/* ---- 1. submit storm ---- */

enum { STORM_THREADS = 8, STORM_MAX_THREADS = 16, STORM_BATCH = 512 };

typedef struct {
  atomic_uchar *ran; /* one counter per task */
  size_t index;
} storm_item;

static int task_storm(void *arg, void **result) {
  storm_item *it = arg;
  atomic_fetch_add_explicit(&it->ran[it->index], 1, memory_order_relaxed);
  *result = arg;
  return it->index % 11 == 0 ? CF_ETASK : 0;
}

typedef struct {
  cf_executor *ex;
  atomic_uchar *ran;
  size_t first, count;
  storm_item *items;
  uint64_t ok, failed, cancelled, other;
  int submit_errors;
} storm_thread;

static void *storm_main(void *p) {
  storm_thread *t = p;
  cf_future *batch[STORM_BATCH];
  size_t done = 0;
  while (done < t->count) {
    size_t n = t->count - done < STORM_BATCH ? t->count - done : STORM_BATCH;
    for (size_t k = 0; k < n; k++) {
      size_t i = t->first + done + k;
      t->items[i] = (storm_item){t->ran, i};
      if (cf_submit(t->ex, task_storm, &t->items[i], &batch[k]) != 0) {
        t->submit_errors++;
        batch[k] = NULL;
        continue;
      }
      if (i % 7 == 0)
        cf_future_cancel(batch[k]);
    }
    for (size_t k = 0; k < n; k++) {
      if (batch[k] == NULL)
        continue;
      size_t i = t->first + done + k;
      void *out = NULL;
      int rc = cf_future_result(batch[k], -1, &out);
      unsigned ran = atomic_load(&t->ran[i]);
      if (rc == 0 && out == &t->items[i] && ran == 1)
        t->ok++;
      else if (rc == CF_ETASK && i % 11 == 0 && ran == 1)
        t->failed++;
      else if (rc == CF_ECANCELED && cf_future_cancelled(batch[k]) && ran == 0)
        t->cancelled++;
      else
        t->other++;
      cf_future_release(batch[k]);
    }
    done += n;
  }
  return NULL;
}

/* nthreads submitters x per tasks each on a pool of workers. */
static void run_storm(int nthreads, size_t per, int workers) {
  size_t total = per * (size_t)nthreads;
  cf_executor *ex = cf_test_pool(workers);
  atomic_uchar *ran = calloc(total, sizeof *ran);
  storm_item *items = calloc(total, sizeof *items);
  ck_assert(ran != NULL && items != NULL);
  storm_thread th[STORM_MAX_THREADS];
  pthread_t tid[STORM_MAX_THREADS];
  for (int i = 0; i < nthreads; i++) {
    th[i] = (storm_thread){ex, ran, per * i, per, items, 0, 0, 0, 0, 0};
    ck_assert_int_eq(pthread_create(&tid[i], NULL, storm_main, &th[i]), 0);
  }
  uint64_t ok = 0, failed = 0, cancelled = 0, other = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(tid[i], NULL);
    ck_assert_int_eq(th[i].submit_errors, 0);
    ok += th[i].ok;
    failed += th[i].failed;
    cancelled += th[i].cancelled;
    other += th[i].other;
  }
  ck_assert_uint_eq(other, 0);
  ck_assert_uint_eq(ok + failed + cancelled, total);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  /* Nothing ran twice, nothing ran after its future said cancelled. */
  uint64_t runs = 0;
  for (size_t i = 0; i < total; i++) {
    ck_assert_uint_le(atomic_load(&ran[i]), 1);
    runs += atomic_load(&ran[i]);
  }
  ck_assert_uint_eq(runs, ok + failed);
  cf_executor_stats st;
  ck_assert_int_eq(cf_executor_stats_get(ex, &st), 0);
  ck_assert_uint_eq(st.submitted, total);
  ck_assert_uint_eq(st.completed, ok);
  ck_assert_uint_eq(st.failed, failed);
  ck_assert_uint_eq(st.cancelled, cancelled);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  free(ran);
  free(items);
}

START_TEST(test_submit_storm) {
  run_storm(STORM_THREADS, (size_t)cf_test_stress_count(100000), 4);
}
END_TEST

/* Submitters x workers, as in RELIABILITY row 2, at a smaller count. */
START_TEST(test_submit_storm_matrix) {
  static const int submitters[] = {1, 4, 16};
  static const int workers[] = {1, 2, 8, 32};
  for (size_t s = 0; s < 3; s++)
    for (size_t w = 0; w < 4; w++)
      run_storm(submitters[s],
                (size_t)cf_test_stress_count(20000) / (size_t)submitters[s] + 1,
                workers[w]);
}
END_TEST

/* ---- 2. cancel racing start ---- */

typedef struct {
  atomic_int ran;
  atomic_int callbacks;
  atomic_int cb_saw_cancelled;
} round_state;

static int task_round(void *arg, void **result) {
  round_state *r = arg;
  atomic_fetch_add(&r->ran, 1);
  *result = NULL;
  return 0;
}

static void cb_round(cf_future *f, void *userdata) {
  round_state *r = userdata;
  atomic_fetch_add(&r->callbacks, 1);
  if (cf_future_cancelled(f))
    atomic_store(&r->cb_saw_cancelled, 1);
}

START_TEST(test_cancel_races_start) {
  size_t rounds = (size_t)cf_test_stress_count(10000);
  cf_executor *ex = cf_test_pool(2);
  round_state *rs = calloc(rounds, sizeof *rs);
  cf_future **fs = calloc(rounds, sizeof *fs);
  bool *said = calloc(rounds, sizeof *said);
  ck_assert(rs != NULL && fs != NULL && said != NULL);
  size_t cancelled = 0;
  for (size_t i = 0; i < rounds; i++) {
    ck_assert_int_eq(cf_submit(ex, task_round, &rs[i], &fs[i]), 0);
    if (i % 2 == 0)
      ck_assert_int_eq(cf_future_on_done(fs[i], cb_round, &rs[i]), 0);
    said[i] = cf_future_cancel(fs[i]);
    if (i % 2 == 1)
      ck_assert_int_eq(cf_future_on_done(fs[i], cb_round, &rs[i]), 0);
    cancelled += said[i];
    /* Let the workers go idle now and then, so starts race cancels from
     * both a busy and an idle pool. */
    if (i % 64 == 0)
      cf_future_wait(fs[i], -1);
  }
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  for (size_t i = 0; i < rounds; i++) {
    ck_assert(cf_future_done(fs[i]));
    if (said[i]) {
      ck_assert(cf_future_cancelled(fs[i]));
      ck_assert_int_eq(atomic_load(&rs[i].ran), 0);
      ck_assert_int_eq(atomic_load(&rs[i].cb_saw_cancelled), 1);
      ck_assert_int_eq(cf_future_result(fs[i], 0, NULL), CF_ECANCELED);
    } else {
      ck_assert(!cf_future_cancelled(fs[i]));
      ck_assert_int_eq(atomic_load(&rs[i].ran), 1);
      ck_assert_int_eq(cf_future_result(fs[i], 0, NULL), 0);
    }
    ck_assert_int_eq(atomic_load(&rs[i].callbacks), 1);
    cf_future_release(fs[i]);
  }
  cf_executor_stats st;
  cf_executor_stats_get(ex, &st);
  ck_assert_uint_eq(st.cancelled, cancelled);
  ck_assert_uint_eq(st.completed, rounds - cancelled);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  free(rs);
  free(fs);
  free(said);
}
END_TEST

/* ---- 3. wait and as_completed racing completion ---- */

static int task_jitter(void *arg, void **result) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  jitter(&seed);
  *result = arg;
  return 0;
}

START_TEST(test_wait_races_completion) {
  enum { K = 4 };
  size_t rounds = (size_t)cf_test_stress_count(3000);
  cf_executor *ex = cf_test_pool(3);
  for (size_t r = 0; r < rounds; r++) {
    cf_future *fs[K], *done[K], *not_done[K];
    for (int k = 0; k < K; k++)
      ck_assert_int_eq(
          cf_submit(ex, task_jitter, V(r * K + (size_t)k + 1), &fs[k]), 0);
    size_t nd = 0, nn = 0;
    int mode = (int)(r % 3) + 1;
    ck_assert_int_eq(
        cf_wait(fs, K, cf_test_scale(10), mode, done, &nd, not_done, &nn), 0);
    ck_assert_uint_eq(nd + nn, K);
    ck_assert_uint_ge(nd, 1);
    for (size_t i = 0; i < nd; i++)
      ck_assert(cf_future_done(done[i]));
    if (mode == CF_ALL_COMPLETED || mode == CF_FIRST_EXCEPTION)
      ck_assert_uint_eq(nd, K);
    for (int k = 0; k < K; k++) {
      ck_assert_int_eq(cf_future_result(fs[k], cf_test_scale(10), NULL), 0);
      cf_future_release(fs[k]);
    }
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

START_TEST(test_as_completed_races_completion) {
  enum { K = 6 };
  size_t rounds = (size_t)cf_test_stress_count(2000);
  cf_executor *ex = cf_test_pool(3);
  for (size_t r = 0; r < rounds; r++) {
    cf_future *fs[K];
    for (int k = 0; k < K; k++)
      ck_assert_int_eq(
          cf_submit(ex, task_jitter, V(r * K + (size_t)k + 1), &fs[k]), 0);
    if (r % 5 == 0)
      cf_future_cancel(fs[K - 1]);
    cf_as_completed *it = NULL;
    ck_assert_int_eq(cf_as_completed_new(fs, K, cf_test_scale(10), &it), 0);
    int seen[K] = {0};
    cf_future *f = NULL;
    int rc;
    while ((rc = cf_as_completed_next(it, &f)) == 0) {
      ck_assert(cf_future_done(f));
      for (int k = 0; k < K; k++)
        seen[k] += fs[k] == f;
      cf_future_release(f);
    }
    ck_assert_int_eq(rc, CF_EOF);
    ck_assert_uint_eq(cf_as_completed_remaining(it), 0);
    for (int k = 0; k < K; k++) {
      ck_assert_int_eq(seen[k], 1);
      cf_future_release(fs[k]);
    }
    cf_as_completed_free(it);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
}
END_TEST

/* ---- 4. shutdown racing submits ---- */

enum { RACE_THREADS = 8 };

typedef struct {
  cf_executor *ex;
  atomic_int *runs;
  cf_future **accepted;
  size_t naccepted, cap;
  int bad_rc;
  unsigned seed;
} race_thread;

static int task_run_once(void *arg, void **result) {
  atomic_fetch_add((atomic_int *)arg, 1);
  *result = arg;
  return 0;
}

static void *race_main(void *p) {
  race_thread *t = p;
  for (;;) {
    cf_future *f = NULL;
    int rc = cf_submit(t->ex, task_run_once, t->runs, &f);
    if (rc == CF_ESHUTDOWN)
      break;
    if (rc != 0) {
      t->bad_rc = rc;
      break;
    }
    if (t->naccepted == t->cap) {
      t->cap = t->cap ? 2 * t->cap : 256;
      t->accepted = realloc(t->accepted, t->cap * sizeof *t->accepted);
      if (t->accepted == NULL)
        abort();
    }
    t->accepted[t->naccepted++] = f;
    if (rand_r(&t->seed) % 8 == 0)
      jitter(&t->seed);
  }
  return NULL;
}

START_TEST(test_shutdown_races_submits) {
  size_t rounds = (size_t)cf_test_stress_count(60);
  unsigned seed = 12345;
  for (size_t r = 0; r < rounds; r++) {
    cf_executor *ex = cf_test_pool(2);
    atomic_int runs = 0;
    race_thread th[RACE_THREADS];
    pthread_t tid[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
      th[i] = (race_thread){ex, &runs, NULL, 0, 0, 0, (unsigned)(r * 31 + i)};
      ck_assert_int_eq(pthread_create(&tid[i], NULL, race_main, &th[i]), 0);
    }
    cf_test_sleep_ms((double)(rand_r(&seed) % 3000) / 1000.0);
    unsigned flags = CF_SHUTDOWN_WAIT;
    bool cancel = r % 3 == 2;
    if (cancel)
      flags |= CF_SHUTDOWN_CANCEL_FUTURES;
    ck_assert_int_eq(cf_shutdown(ex, flags), 0);
    size_t accepted = 0, finished = 0, cancelled = 0;
    for (int i = 0; i < RACE_THREADS; i++) {
      pthread_join(tid[i], NULL);
      ck_assert_int_eq(th[i].bad_rc, 0);
      for (size_t k = 0; k < th[i].naccepted; k++) {
        cf_future *f = th[i].accepted[k];
        /* Accepted means it ran, or (cancel_futures) it was cancelled:
         * never accepted and then dropped. */
        ck_assert(cf_future_done(f));
        if (cf_future_cancelled(f)) {
          ck_assert(cancel);
          cancelled++;
        } else {
          ck_assert_int_eq(cf_future_result(f, 0, NULL), 0);
          finished++;
        }
        cf_future_release(f);
      }
      accepted += th[i].naccepted;
      free(th[i].accepted);
    }
    ck_assert_uint_eq(finished + cancelled, accepted);
    ck_assert_int_eq(atomic_load(&runs), (int)finished);
    cf_executor_stats st;
    cf_executor_stats_get(ex, &st);
    ck_assert_uint_eq(st.submitted, accepted);
    ck_assert_uint_eq(st.completed, finished);
    ck_assert_uint_eq(st.cancelled, cancelled);
    ck_assert_int_eq(cf_executor_free(ex), 0);
  }
}
END_TEST

/* ---- 5. random delays, cancels and token requests, all together ---- */

typedef struct {
  atomic_int ran;
  unsigned seed;
} delay_item;

static int task_random_delay(void *arg, void **result) {
  delay_item *d = arg;
  atomic_fetch_add(&d->ran, 1);
  unsigned seed = d->seed;
  jitter(&seed);
  if (cf_task_cancel_requested())
    return CF_ECANCELED;
  jitter(&seed);
  *result = arg;
  return seed % 13 == 0 ? CF_ETASK : 0;
}

START_TEST(test_random_delays) {
  size_t n = (size_t)cf_test_stress_count(20000);
  cf_executor *ex = cf_test_pool(4);
  delay_item *items = calloc(n, sizeof *items);
  cf_future **fs = calloc(n, sizeof *fs);
  ck_assert(items != NULL && fs != NULL);
  unsigned seed = 99;
  for (size_t i = 0; i < n; i++) {
    items[i].seed = (unsigned)i * 2654435761u;
    ck_assert_int_eq(cf_submit(ex, task_random_delay, &items[i], &fs[i]), 0);
    unsigned roll = (unsigned)rand_r(&seed) % 10;
    if (roll == 0)
      cf_future_cancel(fs[i]);
    else if (roll == 1 && i > 0)
      cf_future_request_cancel(fs[i - 1]);
  }
  void **results = calloc(n, sizeof *results);
  int *errors = calloc(n, sizeof *errors);
  ck_assert(results != NULL && errors != NULL);
  ck_assert_int_eq(cf_gather(fs, n, cf_test_scale(60), CF_GATHER_RETURN_ERRORS,
                             results, errors),
                   0);
  size_t ok = 0, failed = 0, cancelled = 0;
  for (size_t i = 0; i < n; i++) {
    int ran = atomic_load(&items[i].ran);
    ck_assert_int_le(ran, 1);
    if (errors[i] == 0) {
      ck_assert_int_eq(ran, 1);
      ck_assert_ptr_eq(results[i], &items[i]);
      ok++;
    } else if (cf_future_cancelled(fs[i])) {
      ck_assert_int_eq(errors[i], CF_ECANCELED);
      cancelled++;
    } else {
      ck_assert_int_eq(errors[i], CF_ETASK);
      ck_assert_int_eq(ran, 1);
      failed++;
    }
    cf_future_release(fs[i]);
  }
  ck_assert_uint_eq(ok + failed + cancelled, n);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  cf_executor_stats st;
  cf_executor_stats_get(ex, &st);
  ck_assert_uint_eq(st.submitted, n);
  ck_assert_uint_eq(st.completed + st.failed + st.cancelled, n);
  ck_assert_uint_eq(st.completed, ok);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  free(items);
  free(fs);
  free(results);
  free(errors);
}
END_TEST

Suite *cf_stress_suite(void) {
  Suite *s = suite_create("stress");
  TCase *tc = tcase_create("stress");
  /* Each case stays under ~20 s normally; sanitizers get headroom. */
  cf_test_tcase_timeout(tc, 120);
  tcase_add_test(tc, test_submit_storm);
  tcase_add_test(tc, test_submit_storm_matrix);
  tcase_add_test(tc, test_cancel_races_start);
  tcase_add_test(tc, test_wait_races_completion);
  tcase_add_test(tc, test_as_completed_races_completion);
  tcase_add_test(tc, test_shutdown_races_submits);
  tcase_add_test(tc, test_random_delays);
  suite_add_tcase(s, tc);
  return s;
}
