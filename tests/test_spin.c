/* SPDX-License-Identifier: MIT */
/* spin.c: polling stops when the word changes or the budget is spent, the
 * clock and the yield decision are not paid on every look, and parking
 * sleeps until woken or the deadline. */
#include "harness.h"
#include "spin.h"

#include <pthread.h>
#include <stdatomic.h>

struct probe {
  atomic_int flag;
  atomic_long looks, asks;
  bool spare;
};

static bool probe_done(void *arg) {
  struct probe *p = arg;
  atomic_fetch_add_explicit(&p->looks, 1, memory_order_relaxed);
  return atomic_load_explicit(&p->flag, memory_order_acquire) != 0;
}

static bool probe_spare(void *arg) {
  struct probe *p = arg;
  atomic_fetch_add_explicit(&p->asks, 1, memory_order_relaxed);
  return p->spare;
}

static void *set_later(void *arg) {
  struct probe *p = arg;
  struct timespec ts = {0, 2000000};
  nanosleep(&ts, NULL);
  atomic_store_explicit(&p->flag, 1, memory_order_release);
  cf__unpark_all((_Atomic uint32_t *)&p->flag);
  return NULL;
}

START_TEST(test_spin_sees_change) {
  struct probe p = {.spare = true};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, set_later, &p), 0);
  /* A budget of 10 s: it returns because the flag changed. */
  ck_assert(cf__spin_until(probe_done, &p, 10000000, 8, probe_spare, &p));
  pthread_join(t, NULL);
}
END_TEST

/* The budget runs out; the yield question is asked once per run of looks
 * (several looks each), never once a look. */
static void check_budget(bool spare, bool with_hint) {
  struct probe p = {.spare = spare};
  uint64_t t0 = cf_now_ns();
  ck_assert(!cf__spin_until(probe_done, &p, 2000, 1,
                            with_hint ? probe_spare : NULL, &p));
  ck_assert_uint_ge(cf_now_ns() - t0, 2000000u);
  long looks = atomic_load(&p.looks), asks = atomic_load(&p.asks);
  ck_assert_int_gt(looks, 0);
  if (with_hint) {
    ck_assert_int_gt(asks, 0);
    ck_assert_int_ge(looks, 8 * asks);
  } else {
    ck_assert_int_eq(asks, 0);
  }
}

START_TEST(test_spin_budget) {
  check_budget(true, true);
  check_budget(false, true);
  check_budget(true, false);
}
END_TEST

START_TEST(test_spin_done_at_once) {
  struct probe p = {.spare = true};
  atomic_store(&p.flag, 1);
  ck_assert(cf__spin_until(probe_done, &p, 0, 1, probe_spare, &p));
  ck_assert_int_eq(atomic_load(&p.looks), 1);
  ck_assert_int_eq(atomic_load(&p.asks), 0);
}
END_TEST

START_TEST(test_park) {
  struct probe p = {.spare = true};
  _Atomic uint32_t *word = (_Atomic uint32_t *)&p.flag;
  /* A word that is not the expected value: returns at once. */
  cf__park_until(word, 7, UINT64_MAX);
  /* A deadline in the past, then a short one. */
  cf__park_until(word, 0, 1);
  uint64_t t0 = cf_now_ns();
  cf__park_until(word, 0, t0 + 1000000);
  /* Woken by another thread (re-checked: a wake may come before the
   * sleep, and then the word has changed). */
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, set_later, &p), 0);
  while (atomic_load(word) == 0)
    cf__park_until(word, 0, UINT64_MAX);
  pthread_join(t, NULL);
}
END_TEST

Suite *cf_spin_suite(void) {
  Suite *s = suite_create("spin");
  TCase *tc = tcase_create("basic");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_spin_sees_change);
  tcase_add_test(tc, test_spin_budget);
  tcase_add_test(tc, test_spin_done_at_once);
  tcase_add_test(tc, test_park);
  suite_add_tcase(s, tc);
  return s;
}
