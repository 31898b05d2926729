/* SPDX-License-Identifier: MIT */
/* Load (rows 2, 3, 7 at full size; test_stress.c has the smaller matrix):
 *
 *  - storms of 100,000 tiny tasks for each of {1, 4, 16, 64} submitting
 *    threads x {1, 2, 8, 32} workers. Each task has its own counters: how
 *    often it ran and how often its done callback fired. Some tasks are
 *    fire-and-forget (no future), some are cancelled as soon as they are
 *    submitted. Afterwards every task with a future saw its callback fire
 *    exactly once; a task ran once unless its cancel won, and then never;
 *    the executor's counters add up to the tasks submitted;
 *  - ping-pong with one worker that never spins (spin_us 0), so every
 *    task needs a real wake-up: a lost wakeup hangs it (the watchdog then
 *    shows where).
 * Counts shrink with CF_STRESS_SCALE and under ThreadSanitizer. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
  atomic_uchar ran;
  atomic_uchar callbacks;
  bool has_future;
  bool cancelled;
} task_slot;

static int task_run(void *arg, void **result) {
  task_slot *t = arg;
  atomic_fetch_add_explicit(&t->ran, 1, memory_order_relaxed);
  *result = arg;
  return 0;
}

static void on_done(cf_future *f, void *userdata) {
  task_slot *t = userdata;
  atomic_fetch_add_explicit(&t->callbacks, 1, memory_order_relaxed);
}

typedef struct {
  cf_executor *ex;
  task_slot *slots;
  size_t first, count;
  int errors;
} submitter;

enum { WINDOW = 256 };

static void *submitter_main(void *p) {
  submitter *s = p;
  cf_future *win[WINDOW] = {0};
  for (size_t k = 0; k < s->count; k++) {
    size_t i = s->first + k;
    task_slot *t = &s->slots[i];
    cf_future **slot = &win[k % WINDOW];
    if (*slot != NULL) {
      if (cf_future_wait(*slot, -1) != 0)
        s->errors++;
      cf_future_release(*slot);
      *slot = NULL;
    }
    if (i % 5 == 4) {
      if (cf_submit(s->ex, task_run, t, NULL) != 0)
        s->errors++;
      continue;
    }
    t->has_future = true;
    if (cf_submit(s->ex, task_run, t, slot) != 0) {
      s->errors++;
      continue;
    }
    if (cf_future_on_done(*slot, on_done, t) != 0)
      s->errors++;
    if (i % 13 == 0)
      t->cancelled = cf_future_cancel(*slot);
  }
  for (size_t k = 0; k < WINDOW; k++) {
    if (win[k] == NULL)
      continue;
    if (cf_future_wait(win[k], -1) != 0)
      s->errors++;
    cf_future_release(win[k]);
  }
  return NULL;
}

static const int storm_submitters[] = {1, 4, 16, 64};
static const int storm_workers[] = {1, 2, 8, 32};

static uint64_t storm_tasks_total;

static void storm(int nsub, int workers, size_t total) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = workers;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), 0);
  task_slot *slots = calloc(total, sizeof *slots);
  submitter *subs = calloc((size_t)nsub, sizeof *subs);
  pthread_t *tids = calloc((size_t)nsub, sizeof *tids);
  ck_assert(slots != NULL && subs != NULL && tids != NULL);
  size_t per = total / (size_t)nsub;
  for (int i = 0; i < nsub; i++) {
    subs[i] = (submitter){ex, slots, per * (size_t)i,
                          i == nsub - 1 ? total - per * (size_t)i : per, 0};
    ck_assert_int_eq(pthread_create(&tids[i], NULL, submitter_main, &subs[i]),
                     0);
  }
  for (int i = 0; i < nsub; i++) {
    pthread_join(tids[i], NULL);
    ck_assert_int_eq(subs[i].errors, 0);
  }
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  uint64_t ran = 0, cancelled = 0;
  for (size_t i = 0; i < total; i++) {
    task_slot *t = &slots[i];
    unsigned r = atomic_load(&t->ran), c = atomic_load(&t->callbacks);
    ck_assert_msg(r == (t->cancelled ? 0u : 1u),
                  "%d x %d: task %zu ran %u times (cancelled %d)", nsub,
                  workers, i, r, t->cancelled);
    if (t->has_future)
      ck_assert_msg(c == 1, "%d x %d: task %zu: %u callbacks", nsub, workers, i,
                    c);
    ran += r;
    cancelled += t->cancelled;
  }
  cf_executor_stats st;
  ck_assert_int_eq(cf_executor_stats_get(ex, &st), 0);
  ck_assert_uint_eq(st.submitted, total);
  ck_assert_uint_eq(st.completed, ran);
  ck_assert_uint_eq(st.cancelled, cancelled);
  ck_assert_uint_eq(st.failed, 0);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  free(slots);
  free(subs);
  free(tids);
  storm_tasks_total += total;
}

/* One loop iteration per submitter count, all worker counts in it. */
START_TEST(test_storm) {
  int nsub = storm_submitters[_i];
  size_t total = (size_t)cf_test_stress_count(100000);
  for (size_t w = 0; w < sizeof storm_workers / sizeof storm_workers[0]; w++)
    storm(nsub, storm_workers[w], total);
  fprintf(stderr, "storm: %d submitters x {1, 2, 8, 32} workers: %llu tasks\n",
          nsub, (unsigned long long)storm_tasks_total);
}
END_TEST

START_TEST(test_ping_pong_wakeups) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = 1;
  o.spin_us = 0;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), 0);
  long rounds = cf_test_stress_count(200000);
  for (long r = 0; r < rounds; r++) {
    cf_future *f;
    ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, &o, &f), 0);
    void *out;
    ck_assert_int_eq(cf_future_result(f, -1, &out), 0);
    ck_assert_ptr_eq(out, &o);
    cf_future_release(f);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
  fprintf(stderr, "ping-pong: %ld rounds\n", rounds);
}
END_TEST

Suite *cf_load_suite(void) {
  Suite *s = suite_create("load");
  TCase *tc = tcase_create("load");
  /* Each case stays under ~30 s normally; sanitizers get headroom. */
  cf_test_tcase_timeout(tc, 240);
  cf_test_tcase_census(tc);
  tcase_add_loop_test(tc, test_storm, 0,
                      sizeof storm_submitters / sizeof storm_submitters[0]);
  tcase_add_test(tc, test_ping_pong_wakeups);
  suite_add_tcase(s, tc);
  return s;
}
