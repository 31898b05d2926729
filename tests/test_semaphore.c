/* SPDX-License-Identifier: MIT */
/* cf_semaphore: counting, every documented error, timeouts, wake-ups, and
 * the bound it exists for (never more than N holders at once). */
#include "harness.h"

#include <cfutures/semaphore.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>

static double since(uint64_t start_ns) {
  return (double)(cf_now_ns() - start_ns) / 1e9;
}

START_TEST(test_new_and_errors) {
  cf_semaphore *s = NULL;
  ck_assert_int_eq(cf_semaphore_new(1, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_semaphore_acquire(NULL, 0), CF_EINVAL);
  ck_assert_int_eq(cf_semaphore_try_acquire(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_semaphore_release(NULL), CF_EINVAL);
  ck_assert_uint_eq(cf_semaphore_value(NULL), 0);
  cf_semaphore_free(NULL);
  ck_assert_int_eq(cf_semaphore_new(0, &s), 0);
  ck_assert_uint_eq(cf_semaphore_value(s), 0);
  ck_assert_int_eq(cf_semaphore_acquire(s, NAN), CF_EINVAL);
  cf_semaphore_free(s);
}
END_TEST

START_TEST(test_counting) {
  cf_semaphore *s;
  ck_assert_int_eq(cf_semaphore_new(2, &s), 0);
  ck_assert_int_eq(cf_semaphore_acquire(s, -1), 0);
  ck_assert_int_eq(cf_semaphore_try_acquire(s), 0);
  ck_assert_uint_eq(cf_semaphore_value(s), 0);
  ck_assert_int_eq(cf_semaphore_try_acquire(s), CF_EAGAIN);
  ck_assert_int_eq(cf_semaphore_acquire(s, 0), CF_ETIMEDOUT);
  ck_assert_int_eq(cf_semaphore_release(s), 0);
  ck_assert_int_eq(cf_semaphore_release(s), 0);
  ck_assert_int_eq(cf_semaphore_release(s), 0); /* above the initial count */
  ck_assert_uint_eq(cf_semaphore_value(s), 3);
  ck_assert_int_eq(cf_semaphore_acquire(s, 0), 0);
  ck_assert_uint_eq(cf_semaphore_value(s), 2);
  cf_semaphore_free(s);
}
END_TEST

START_TEST(test_release_overflow) {
  cf_semaphore *s;
  ck_assert_int_eq(cf_semaphore_new(SIZE_MAX, &s), 0);
  ck_assert_int_eq(cf_semaphore_release(s), CF_EINVAL);
  ck_assert_uint_eq(cf_semaphore_value(s), SIZE_MAX);
  ck_assert_int_eq(cf_semaphore_try_acquire(s), 0);
  ck_assert_int_eq(cf_semaphore_release(s), 0);
  cf_semaphore_free(s);
}
END_TEST

START_TEST(test_timeout_never_early) {
  cf_semaphore *s;
  ck_assert_int_eq(cf_semaphore_new(0, &s), 0);
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(cf_semaphore_acquire(s, 0.05), CF_ETIMEDOUT);
  double dt = since(t0);
  ck_assert(dt >= 0.05);
  ck_assert(dt < cf_test_scale(5)); /* did not hang */
  ck_assert_uint_eq(cf_semaphore_value(s), 0);
  cf_semaphore_free(s);
}
END_TEST

struct acquirer {
  cf_semaphore *s;
  double timeout;
  int rc;
  atomic_int started;
};

static void *acquire_thread(void *p) {
  struct acquirer *a = p;
  atomic_store(&a->started, 1);
  a->rc = cf_semaphore_acquire(a->s, a->timeout);
  return NULL;
}

START_TEST(test_release_wakes_waiters) {
  cf_semaphore *s;
  ck_assert_int_eq(cf_semaphore_new(0, &s), 0);
  struct acquirer a[3];
  pthread_t t[3];
  for (int i = 0; i < 3; i++) {
    a[i] = (struct acquirer){.s = s, .timeout = 30};
    ck_assert_int_eq(pthread_create(&t[i], NULL, acquire_thread, &a[i]), 0);
  }
  for (int i = 0; i < 3; i++)
    while (!atomic_load(&a[i].started))
      cf_test_sleep_ms(1);
  cf_test_sleep_ms(20);
  /* One release per waiter: each wakes exactly one, none is lost. */
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(cf_semaphore_release(s), 0);
  for (int i = 0; i < 3; i++) {
    pthread_join(t[i], NULL);
    ck_assert_int_eq(a[i].rc, 0);
  }
  ck_assert_uint_eq(cf_semaphore_value(s), 0);
  cf_semaphore_free(s);
}
END_TEST

#define LIMIT 3
#define THREADS 8

struct bounded {
  cf_semaphore *s;
  atomic_int holders;
  atomic_int most;
  long rounds;
  atomic_int errors;
};

static void *bounded_thread(void *p) {
  struct bounded *b = p;
  for (long i = 0; i < b->rounds; i++) {
    if (cf_semaphore_acquire(b->s, -1) != 0) {
      atomic_fetch_add(&b->errors, 1);
      continue;
    }
    int now = atomic_fetch_add(&b->holders, 1) + 1;
    int most = atomic_load(&b->most);
    while (now > most && !atomic_compare_exchange_weak(&b->most, &most, now))
      ;
    if (i % 64 == 0)
      cf_test_sleep_ms(0.05);
    atomic_fetch_sub(&b->holders, 1);
    if (cf_semaphore_release(b->s) != 0)
      atomic_fetch_add(&b->errors, 1);
  }
  return NULL;
}

START_TEST(test_bounds_concurrency) {
  struct bounded b = {.rounds = CF_TEST_TSAN ? 500 : 5000};
  ck_assert_int_eq(cf_semaphore_new(LIMIT, &b.s), 0);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, bounded_thread, &b), 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  ck_assert_int_eq(atomic_load(&b.errors), 0);
  ck_assert_int_le(atomic_load(&b.most), LIMIT);
  ck_assert_int_ge(atomic_load(&b.most), 1);
  ck_assert_uint_eq(cf_semaphore_value(b.s), LIMIT);
  cf_semaphore_free(b.s);
}
END_TEST

Suite *cf_semaphore_suite(void) {
  Suite *s = suite_create("semaphore");
  TCase *tc = tcase_create("basic");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_new_and_errors);
  tcase_add_test(tc, test_counting);
  tcase_add_test(tc, test_release_overflow);
  tcase_add_test(tc, test_timeout_never_early);
  suite_add_tcase(s, tc);

  tc = tcase_create("threads");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_release_wakes_waiters);
  tcase_add_test(tc, test_bounds_concurrency);
  suite_add_tcase(s, tc);
  return s;
}
