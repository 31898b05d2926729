/* SPDX-License-Identifier: MIT */
/* Faults injected at the k-th call (curl's torture method): allocation,
 * thread creation and fork failures, spurious and late wakeups, and
 * descriptor exhaustion. Built into cf_fault_tests, whose link wraps the
 * calls (fault_inject.h).
 *
 * Each torture scenario runs once counting the allocations it makes, then
 * once per k failing the k-th (and, sticky, every one from the k-th on).
 * Every call must return 0 or a documented resource code, nothing may
 * hang (every wait has a bound: running into it fails the scenario), every
 * task accepted must be accounted for, and LeakSanitizer (address build)
 * must find nothing. While an allocation fault is armed the scenarios do
 * not use Check's assertions, which allocate: they record the first
 * problem in `why` and return -1. */
#include "fault_inject.h"
#include "harness.h"

#include <cfutures/channel.h>
#include <cfutures/combine.h>
#include <cfutures/process_pool.h>
#include <cfutures/semaphore.h>
#include <cfutures/timer.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define V(i) ((void *)(intptr_t)(i))
/* Bound on every wait inside a scenario: reaching it is a hang. */
#define BOUND 10.0

static char why[256];

#define FAIL(...)                                                              \
  do {                                                                         \
    snprintf(why, sizeof why, __VA_ARGS__);                                    \
    return -1;                                                                 \
  } while (0)

/* 0, or an out-of-resources code: what a call may return under a fault. */
static bool resource_code(int rc) {
  return rc == 0 || rc == CF_ENOMEM || rc == CF_EAGAIN;
}

#define EXPECT_RC(call)                                                        \
  do {                                                                         \
    int rc_ = (call);                                                          \
    if (!resource_code(rc_))                                                   \
      FAIL("%s:%d: %s returned %s", __FILE__, __LINE__, #call,                 \
           cf_err_name(rc_));                                                  \
  } while (0)

static atomic_int ran;

static int task_count(void *arg, void **result) {
  atomic_fetch_add(&ran, 1);
  *result = arg;
  return 0;
}

static int then_count(cf_future *prev, void *arg, void **result) {
  atomic_fetch_add(&ran, 1);
  *result = arg;
  return 0;
}

static void cb_count(cf_future *f, void *userdata) {
  atomic_fetch_add((atomic_int *)userdata, 1);
}

/* Checks f finishes within the bound with its value or a resource code;
 * counts the successes. */
static int settle(cf_future *f, void *want, int *ok) {
  void *out = NULL;
  int rc = cf_future_result(f, BOUND, &out);
  if (rc == CF_ETIMEDOUT && !cf_future_done(f))
    FAIL("a future was never completed (lost task)");
  if (!resource_code(rc))
    FAIL("a future failed with %s", cf_err_name(rc));
  if (rc == 0 && out != want)
    FAIL("a future gave the wrong result");
  if (rc == 0)
    (*ok)++;
  return 0;
}

static cf_executor *pool_or_null(int workers, int *rc) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = workers;
  o.thread_name_prefix = "torture";
  cf_executor *ex = NULL;
  *rc = cf_thread_pool_new(&o, &ex);
  return ex;
}

/* Frees ex, which must succeed under any fault. */
static int pool_free(cf_executor *ex) {
  int rc = cf_executor_free(ex);
  if (rc != 0)
    FAIL("cf_executor_free returned %s", cf_err_name(rc));
  return 0;
}

/* Scenarios ------------------------------------------------------------- */

static int scen_future(void) {
  cf_future *f = NULL, *t = NULL;
  atomic_int cbs = 0;
  atomic_store(&ran, 0);
  EXPECT_RC(cf_future_new(&f));
  if (f == NULL)
    return 0;
  int rc = cf_future_on_done(f, cb_count, &cbs);
  EXPECT_RC(rc);
  bool cb_added = rc == 0;
  EXPECT_RC(cf_future_then(f, NULL, then_count, V(7), &t));
  EXPECT_RC(cf_future_set_running(f));
  EXPECT_RC(cf_future_set_error(f, CF_ETASK, "a message to copy"));
  if (!cf_future_done(f))
    FAIL("set_error left the future pending");
  if (cb_added && atomic_load(&cbs) != 1)
    FAIL("done callback ran %d times", atomic_load(&cbs));
  int ok = 0;
  if (t != NULL && settle(t, V(7), &ok) != 0)
    return -1;
  if (atomic_load(&ran) != ok)
    FAIL("continuation ran %d times for %d results", atomic_load(&ran), ok);
  cf_future_release(t);
  cf_future_release(f);
  return 0;
}

enum { NTASKS = 8 };

static int scen_submit(void) {
  int rc;
  atomic_store(&ran, 0);
  cf_executor *ex = pool_or_null(2, &rc);
  EXPECT_RC(rc);
  if (ex == NULL)
    return 0;
  cf_future *fs[NTASKS] = {0};
  int accepted = 0, ok = 0, fire = 0;
  for (int i = 0; i < NTASKS; i++) {
    rc = cf_submit(ex, task_count, V(i + 1), &fs[i]);
    EXPECT_RC(rc);
    accepted += rc == 0;
  }
  for (int i = 0; i < 2; i++) {
    rc = cf_submit(ex, task_count, NULL, NULL);
    EXPECT_RC(rc);
    fire += rc == 0;
  }
  for (int i = 0; i < NTASKS; i++)
    if (fs[i] != NULL && settle(fs[i], V(i + 1), &ok) != 0)
      return -1;
  if (cf_shutdown(ex, CF_SHUTDOWN_WAIT) != 0)
    FAIL("shutdown failed");
  /* A task that ran but whose future failed would show as ran > ok. */
  if (atomic_load(&ran) != ok + fire)
    FAIL("%d tasks ran, %d results and %d fire-and-forget accepted (of %d)",
         atomic_load(&ran), ok, fire, accepted);
  for (int i = 0; i < NTASKS; i++)
    cf_future_release(fs[i]);
  return pool_free(ex);
}

static int scen_wait(void) {
  int rc;
  cf_executor *ex = pool_or_null(2, &rc);
  EXPECT_RC(rc);
  if (ex == NULL)
    return 0;
  cf_future *fs[NTASKS] = {0}, *done[NTASKS], *not_done[NTASKS];
  size_t n = 0;
  for (int i = 0; i < NTASKS; i++) {
    cf_future *f = NULL;
    rc = cf_submit(ex, cf_test_task_identity, V(i + 1), &f);
    EXPECT_RC(rc);
    if (rc == 0)
      fs[n++] = f;
  }
  size_t nd = 0, nn = 0;
  rc = cf_wait(fs, n, BOUND, CF_FIRST_COMPLETED, done, &nd, not_done, &nn);
  EXPECT_RC(rc);
  rc = cf_wait(fs, n, BOUND, CF_ALL_COMPLETED, done, &nd, not_done, &nn);
  EXPECT_RC(rc);
  if (rc == 0 && (nd != n || nn != 0))
    FAIL("cf_wait ALL_COMPLETED: %zu done, %zu not done of %zu", nd, nn, n);
  cf_as_completed *it = NULL;
  rc = cf_as_completed_new(fs, n, BOUND, &it);
  EXPECT_RC(rc);
  if (it != NULL) {
    size_t yielded = 0;
    cf_future *f;
    while ((rc = cf_as_completed_next(it, &f)) == 0) {
      yielded++;
      cf_future_release(f);
    }
    if (rc != CF_EOF)
      EXPECT_RC(rc);
    if (rc == CF_EOF && yielded != n)
      FAIL("as_completed yielded %zu of %zu", yielded, n);
    cf_as_completed_free(it);
  }
  void *results[NTASKS];
  int errors[NTASKS];
  EXPECT_RC(cf_gather(fs, n, BOUND, 0, results, NULL));
  rc = cf_gather(fs, n, BOUND, CF_GATHER_RETURN_ERRORS, results, errors);
  EXPECT_RC(rc);
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (!resource_code(errors[i]))
      FAIL("gather: future %zu failed with %s", i, cf_err_name(errors[i]));
  for (size_t i = 0; i < n; i++)
    cf_future_release(fs[i]);
  return pool_free(ex);
}

static int scen_map(void) {
  int rc;
  cf_executor *ex = pool_or_null(2, &rc);
  EXPECT_RC(rc);
  if (ex == NULL)
    return 0;
  enum { N = 16 };
  void *args[N], *results[N];
  int errors[N];
  for (int i = 0; i < N; i++) {
    args[i] = V(i + 1);
    errors[i] = 1; /* untouched when the map fails before its tasks */
  }
  cf_map_options mo;
  cf_map_options_init(&mo);
  mo.buffersize = 4;
  mo.timeout = BOUND;
  rc = cf_map_all(ex, cf_test_task_identity, args, N, &mo, results, errors);
  EXPECT_RC(rc);
  for (int i = 0; i < N; i++) {
    if (errors[i] != 1 && !resource_code(errors[i]))
      FAIL("map_all: item %d failed with %s", i, cf_err_name(errors[i]));
    if (errors[i] == 0 && results[i] != args[i])
      FAIL("map_all: item %d has the wrong result", i);
  }
  cf_map *m = NULL;
  rc = cf_map_new(ex, cf_test_task_identity, args, N, &mo, &m);
  EXPECT_RC(rc);
  if (m != NULL) {
    void *r;
    size_t idx, seen = 0;
    int err;
    while ((rc = cf_map_next(m, &r, &err, &idx)) == 0) {
      EXPECT_RC(err);
      if (err == 0 && r != args[idx])
        FAIL("map_next: wrong result for %zu", idx);
      if (++seen > N)
        FAIL("map_next gave more than %d items", N);
    }
    if (rc == CF_ETIMEDOUT)
      FAIL("map_next hung");
    if (rc != CF_EOF)
      FAIL("map_next ended with %s", cf_err_name(rc));
    cf_map_free(m);
  }
  return pool_free(ex);
}

static int scen_group(void) {
  int rc;
  atomic_store(&ran, 0);
  cf_executor *ex = pool_or_null(2, &rc);
  EXPECT_RC(rc);
  if (ex == NULL)
    return 0;
  for (unsigned flags = 0; flags <= CF_GROUP_FAIL_FAST; flags++) {
    cf_group *g = NULL;
    rc = cf_group_new(ex, flags, &g);
    EXPECT_RC(rc);
    if (g == NULL)
      continue;
    int accepted = 0;
    for (int i = 0; i < 5; i++) {
      rc = cf_group_submit(g, task_count, V(i + 1), NULL);
      EXPECT_RC(rc);
      accepted += rc == 0;
    }
    rc = cf_group_wait(g, BOUND);
    if (rc == CF_ETIMEDOUT)
      FAIL("group_wait hung");
    EXPECT_RC(rc);
    cf_group_free(g);
    (void)accepted;
  }
  return pool_free(ex);
}

static int scen_then_on_pool(void) {
  int rc;
  atomic_store(&ran, 0);
  cf_executor *ex = pool_or_null(2, &rc);
  EXPECT_RC(rc);
  if (ex == NULL)
    return 0;
  cf_future *f = NULL, *t = NULL, *t2 = NULL;
  rc = cf_submit(ex, cf_test_task_identity, V(1), &f);
  EXPECT_RC(rc);
  int ok = 0;
  if (f != NULL) {
    EXPECT_RC(cf_future_then(f, ex, then_count, V(2), &t));
    if (t != NULL)
      EXPECT_RC(cf_future_then(t, ex, then_count, V(3), &t2));
    if (t != NULL && settle(t, V(2), &ok) != 0)
      return -1;
    if (t2 != NULL && settle(t2, V(3), &ok) != 0)
      return -1;
  }
  if (cf_shutdown(ex, CF_SHUTDOWN_WAIT) != 0)
    FAIL("shutdown failed");
  if (atomic_load(&ran) != ok)
    FAIL("%d continuations ran for %d results", atomic_load(&ran), ok);
  cf_future_release(t2);
  cf_future_release(t);
  cf_future_release(f);
  return pool_free(ex);
}

static void bridge_done(cf_future *f, int status, void *userdata) {
  atomic_fetch_add((atomic_int *)userdata, 1);
}

static int scen_bridge(void) {
  int rc;
  cf_executor *ex = pool_or_null(2, &rc);
  EXPECT_RC(rc);
  if (ex == NULL)
    return 0;
  cf_bridge *b = NULL;
  rc = cf_bridge_new(&b);
  if (rc != CF_EMFILE)
    EXPECT_RC(rc);
  if (b == NULL)
    return pool_free(ex);
  atomic_int done = 0;
  int accepted = 0;
  for (int i = 0; i < 4; i++) {
    rc = cf_bridge_submit(b, ex, cf_test_task_identity, V(i + 1), bridge_done,
                          &done, NULL);
    EXPECT_RC(rc);
    accepted += rc == 0;
  }
  uint64_t start = cf_now_ns();
  while (atomic_load(&done) < accepted) {
    if (cf_test_elapsed(start) > BOUND)
      FAIL("bridge: %d of %d callbacks after %.0f s", atomic_load(&done),
           accepted, BOUND);
    EXPECT_RC(cf_bridge_dispatch(b, 0, NULL));
    cf_test_sleep_ms(0.1);
  }
  if (atomic_load(&done) != accepted)
    FAIL("bridge: %d callbacks for %d tasks", atomic_load(&done), accepted);
  if (cf_bridge_free(b) != 0)
    FAIL("cf_bridge_free failed");
  return pool_free(ex);
}

static int scen_channel(void) {
  cf_channel *ch = NULL;
  EXPECT_RC(cf_channel_new(4, &ch));
  if (ch == NULL)
    return 0;
  for (int i = 0; i < 4; i++)
    EXPECT_RC(cf_channel_send(ch, V(i + 1), 0));
  void *item;
  for (int i = 0; i < 4; i++) {
    if (cf_channel_recv(ch, &item, 0) != 0 || item != V(i + 1))
      FAIL("channel lost an item");
  }
  cf_channel_free(ch);
  cf_semaphore *sem = NULL;
  EXPECT_RC(cf_semaphore_new(1, &sem));
  if (sem != NULL) {
    EXPECT_RC(cf_semaphore_acquire(sem, 0));
    EXPECT_RC(cf_semaphore_release(sem));
    cf_semaphore_free(sem);
  }
  return 0;
}

static int t_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}

static int scen_process_pool(void) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  o.shm_threshold = 1024;
  cf_executor *ex = NULL;
  int rc = cf_process_pool_new(&o, &ex);
  EXPECT_RC(rc);
  if (ex == NULL)
    return 0;
  static char big[4096];
  cf_future *fs[2] = {0};
  EXPECT_RC(cf_submit_bytes(ex, t_echo, "hello", 5, &fs[0]));
  EXPECT_RC(cf_submit_bytes(ex, t_echo, big, sizeof big, &fs[1]));
  for (int i = 0; i < 2; i++) {
    if (fs[i] == NULL)
      continue;
    const void *d;
    size_t len;
    rc = cf_future_bytes(fs[i], BOUND, &d, &len);
    if (rc == CF_ETIMEDOUT && !cf_future_done(fs[i]))
      FAIL("a process pool future was never completed");
    /* Allocation faults in the worker itself fail its task. */
    if (!resource_code(rc) && rc != CF_EWORKER && rc != CF_EBROKEN)
      FAIL("a process pool future failed with %s", cf_err_name(rc));
    if (rc == 0 && len != (i == 0 ? 5u : sizeof big))
      FAIL("a process pool result has %zu bytes", len);
    cf_future_release(fs[i]);
  }
  return pool_free(ex);
}

/* Combinators over user futures: every allocation (the record, the
 * outcomes, the combined future, a copied message) may fail; a call that
 * fails has registered nothing, and nothing leaks. */
static int scen_combine(void) {
  cf_future *fs[3] = {0};
  for (int i = 0; i < 3; i++) {
    EXPECT_RC(cf_future_new(&fs[i]));
    if (fs[i] == NULL) {
      for (int j = 0; j < i; j++)
        cf_future_release(fs[j]);
      return 0;
    }
  }
  cf_future *all = NULL, *fast = NULL, *any = NULL;
  EXPECT_RC(cf_future_all(fs, 3, 0, &all));
  EXPECT_RC(
      cf_future_all(fs, 3, CF_ALL_FAIL_FAST | CF_COMBINE_CANCEL_INPUTS, &fast));
  EXPECT_RC(cf_future_any(fs, 3, &any));
  cf_future_set_result(fs[0], V(1));
  cf_future_set_error(fs[1], CF_ETASK, "a message to copy");
  cf_future_set_result(fs[2], V(3));
  if (all != NULL && cf_future_error(all, 0) != CF_ETASK)
    FAIL("all did not fail with its input's code");
  if (fast != NULL && cf_future_error(fast, 0) != CF_ETASK)
    FAIL("fail-fast did not fail with its input's code");
  if (any != NULL && cf_future_error(any, 0) != 0)
    FAIL("any did not take its first input's outcome");
  cf_future_release(all);
  cf_future_release(fast);
  cf_future_release(any);
  for (int i = 0; i < 3; i++)
    cf_future_release(fs[i]);
  return 0;
}

/* Timers, scheduled tasks and with_timeout: an allocation that fails (the
 * timer's future, the heap's growth, a record, the task's future) fails
 * the call or the scheduled future with CF_ENOMEM; nothing leaks. */
static int scen_timer(void) {
  int rc;
  cf_executor *ex = pool_or_null(1, &rc);
  EXPECT_RC(rc);
  cf_future *t = NULL, *s = NULL, *w = NULL, *p = NULL;
  EXPECT_RC(cf_future_after(0.001, &t));
  if (ex != NULL)
    EXPECT_RC(cf_submit_after(ex, 0.001, task_count, V(5), &s));
  EXPECT_RC(cf_future_new(&p));
  if (p != NULL)
    EXPECT_RC(cf_future_with_timeout(p, 0.001, CF_COMBINE_CANCEL_INPUTS, &w));
  int ok = 0;
  if (t != NULL && settle(t, NULL, &ok) != 0)
    return -1;
  if (s != NULL && settle(s, V(5), &ok) != 0)
    return -1;
  if (w != NULL) {
    int e = cf_future_error(w, BOUND);
    if (e != CF_ETIMEDOUT && !resource_code(e))
      FAIL("with_timeout ended with %s", cf_err_name(e));
  }
  cf_future_release(w);
  cf_future_release(p);
  cf_future_release(s);
  cf_future_release(t);
  return ex != NULL ? pool_free(ex) : 0;
}

/* The torture driver ---------------------------------------------------- */

typedef int (*scenario)(void);

/* Every k (and every k sticky) when CF_TORTURE_FULL is set; otherwise
 * about 24 points spread over the calls (the shallow pass CI runs on every
 * change). */
static void torture_ex(const char *name, scenario s, bool sticky_too) {
  int fds0 = cf_test_count_fds();
  cf_fi_arm(CF_FI_ALLOC, 0, false);
  int rc = s();
  long calls = cf_fi_disarm(CF_FI_ALLOC);
  ck_assert_msg(rc == 0, "%s without faults: %s", name, why);
  ck_assert_int_gt(calls, 0);
  long step = 1;
  if (getenv("CF_TORTURE_FULL") == NULL && calls > 24)
    step = calls / 24;
  long before = cf_fi_injected(CF_FI_ALLOC);
  long runs = 0;
  for (long k = 1; k <= calls + 2; k += step) {
    for (int sticky = 0; sticky < (sticky_too ? 2 : 1); sticky++) {
      why[0] = '\0';
      cf_fi_arm(CF_FI_ALLOC, k, sticky);
      rc = s();
      cf_fi_disarm(CF_FI_ALLOC);
      runs++;
      ck_assert_msg(rc == 0, "%s, allocation %ld failing%s: %s", name, k,
                    sticky ? " (and every later one)" : "", why);
    }
  }
  ck_assert_msg(!cf_fi_leaks_found(), "%s: LeakSanitizer found leaks", name);
  ck_assert_int_eq(cf_test_count_fds(), fds0);
  fprintf(stderr, "torture %s: %ld allocations, %ld runs, %ld faults\n", name,
          calls, runs, cf_fi_injected(CF_FI_ALLOC) - before);
}

static void torture(const char *name, scenario s) {
  torture_ex(name, s, true);
}

START_TEST(test_alloc_future) {
  torture("future", scen_future);
}
END_TEST

START_TEST(test_alloc_submit) {
  torture("submit", scen_submit);
}
END_TEST

START_TEST(test_alloc_wait) {
  torture("wait", scen_wait);
}
END_TEST

START_TEST(test_alloc_map) {
  torture("map", scen_map);
}
END_TEST

START_TEST(test_alloc_group) {
  torture("group", scen_group);
}
END_TEST

START_TEST(test_alloc_then) {
  torture("then", scen_then_on_pool);
}
END_TEST

START_TEST(test_alloc_combine) {
  torture("combine", scen_combine);
}
END_TEST

START_TEST(test_alloc_timer) {
  torture("timer", scen_timer);
}
END_TEST

START_TEST(test_alloc_bridge) {
  torture("bridge", scen_bridge);
}
END_TEST

START_TEST(test_alloc_channel) {
  torture("channel", scen_channel);
}
END_TEST

START_TEST(test_alloc_process_pool) {
  /* Sticky too: every allocation failing from the k-th on, in the parent
   * and in the zygote and workers that inherit the counter. The pool must
   * then fail its tasks (or break), not restart workers forever. */
  torture_ex("process_pool", scen_process_pool, true);
}
END_TEST

/* Thread creation ------------------------------------------------------- */

static int task_sleep_count(void *arg, void **result) {
  cf_test_sleep_ms(1);
  atomic_fetch_add(&ran, 1);
  *result = arg;
  return 0;
}

/* The k-th worker (or every one from the k-th) cannot start: submits fail
 * with CF_EAGAIN or the pool runs with the workers it has; an accepted
 * task always runs. */
/* The timer thread cannot start: the first timer fails with CF_EAGAIN
 * and leaves nothing behind; the next one, with threads back, works. */
START_TEST(test_timer_thread_fails) {
  cf_future *t = NULL;
  cf_fi_arm(CF_FI_THREAD, 1, true);
  int rc = cf_future_after(0.001, &t);
  cf_fi_disarm(CF_FI_THREAD);
  ck_assert_int_eq(rc, CF_EAGAIN);
  ck_assert_ptr_null(t);
  ck_assert_int_eq(cf_future_after(0.001, &t), 0);
  ck_assert_int_eq(cf_future_wait(t, BOUND), 0);
  cf_future_release(t);
}
END_TEST

START_TEST(test_thread_create_fails) {
  enum { N = 40 };
  long faults = 0;
  for (long k = 1; k <= 5; k++) {
    for (int sticky = 0; sticky < 2; sticky++) {
      atomic_store(&ran, 0);
      int threads0 = cf_test_count_threads();
      cf_executor *ex = cf_test_pool(4);
      long before = cf_fi_injected(CF_FI_THREAD);
      cf_fi_arm(CF_FI_THREAD, k, sticky);
      cf_future *fs[N] = {0};
      int accepted = 0, refused = 0;
      for (int i = 0; i < N; i++) {
        int rc = cf_submit(ex, task_sleep_count, V(i + 1), &fs[i]);
        ck_assert_msg(rc == 0 || rc == CF_EAGAIN, "k=%ld: submit gave %s", k,
                      cf_err_name(rc));
        accepted += rc == 0;
        refused += rc == CF_EAGAIN;
      }
      int ok = 0;
      for (int i = 0; i < N; i++) {
        if (fs[i] == NULL)
          continue;
        ck_assert_msg(settle(fs[i], V(i + 1), &ok) == 0, "k=%ld: %s", k, why);
        cf_future_release(fs[i]);
      }
      cf_fi_disarm(CF_FI_THREAD);
      faults += cf_fi_injected(CF_FI_THREAD) - before;
      ck_assert_int_eq(ok, accepted);
      ck_assert_int_eq(atomic_load(&ran), accepted);
      /* Only when no worker at all could start may a submit be refused. */
      if (k > 1)
        ck_assert_int_eq(refused, 0);
      /* The pool still works once threads can be created again. */
      cf_future *f = NULL;
      ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, V(99), &f), 0);
      void *out = NULL;
      ck_assert_int_eq(cf_future_result(f, BOUND, &out), 0);
      ck_assert_ptr_eq(out, V(99));
      cf_future_release(f);
      ck_assert_int_eq(cf_executor_free(ex), 0);
      ck_assert_int_le(cf_test_settle_threads(threads0, 5), threads0);
    }
  }
  ck_assert_msg(!cf_fi_leaks_found(), "LeakSanitizer found leaks");
  fprintf(stderr, "pthread_create: %ld faults\n", faults);
}
END_TEST

/* Descendants of this process still alive or unreaped (children of the
 * test's threads). */
static int count_children(void) {
  char path[64], buf[4096];
  int n = 0;
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", getpid(), getpid());
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = '\0';
  for (char *p = strtok(buf, " \n"); p != NULL; p = strtok(NULL, " \n"))
    n++;
  return n;
}

/* The process pool's manager thread cannot start. */
START_TEST(test_process_pool_thread_fails) {
  int fds0 = cf_test_count_fds(), kids0 = count_children();
  cf_executor *ex = NULL;
  cf_fi_arm(CF_FI_THREAD, 1, true);
  int rc = cf_process_pool_new(NULL, &ex);
  cf_fi_disarm(CF_FI_THREAD);
  ck_assert_int_eq(rc, CF_EAGAIN);
  ck_assert_ptr_null(ex);
  ck_assert_int_eq(cf_test_count_fds(), fds0);
  ck_assert_int_eq(count_children(), kids0);
}
END_TEST

/* Fork ------------------------------------------------------------------- */

START_TEST(test_fork_fails_at_create) {
  int fds0 = cf_test_count_fds(), kids0 = count_children();
  cf_executor *ex = NULL;
  cf_fi_arm(CF_FI_FORK, 1, false);
  int rc = cf_process_pool_new(NULL, &ex);
  cf_fi_disarm(CF_FI_FORK);
  ck_assert_int_eq(rc, CF_EAGAIN);
  ck_assert_ptr_null(ex);
  ck_assert_int_eq(cf_test_count_fds(), fds0);
  ck_assert_int_eq(count_children(), kids0);
}
END_TEST

/* The zygote inherits the armed counter: with fail_at 2 (sticky) every
 * worker fork fails; with fail_at 2 or 3 alone one worker fails to start
 * and is tried again. No future may be left pending. */
START_TEST(test_fork_fails_for_workers) {
  int fds0 = cf_test_count_fds();
  /* With recycle, every task needs a new worker: the failed forks land
   * on replacements (gh-115634), not only on the first workers. */
  struct {
    long k;
    bool sticky;
    unsigned recycle;
  } cases[] = {{2, true, 0},  {2, false, 0}, {3, false, 0},
               {4, false, 1}, {6, false, 1}, {5, true, 1}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    cf_process_pool_options o;
    cf_process_pool_options_init(&o);
    o.max_workers = 2;
    o.max_tasks_per_child = cases[c].recycle;
    cf_executor *ex = NULL;
    cf_fi_arm(CF_FI_FORK, cases[c].k, cases[c].sticky);
    ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
    cf_fi_disarm(CF_FI_FORK); /* here; the zygote keeps its own copy */
    cf_future *fs[8] = {0};
    for (int i = 0; i < 8; i++) {
      int rc = cf_submit_bytes(ex, t_echo, "abc", 3, &fs[i]);
      ck_assert_msg(rc == 0 || rc == CF_EBROKEN || rc == CF_EAGAIN,
                    "submit gave %s", cf_err_name(rc));
    }
    for (int i = 0; i < 8; i++) {
      if (fs[i] == NULL)
        continue;
      int rc = cf_future_bytes(fs[i], BOUND, NULL, NULL);
      ck_assert_msg(cf_future_done(fs[i]),
                    "case %zu: a future is still pending after %.0f s", c,
                    BOUND);
      if (!cases[c].sticky)
        ck_assert_msg(rc == 0, "case %zu: one failed fork failed a task: %s", c,
                      cf_err_name(rc));
      else
        ck_assert_msg(rc == 0 || rc == CF_EBROKEN || rc == CF_EAGAIN ||
                          rc == CF_EWORKER,
                      "case %zu: %s", c, cf_err_name(rc));
      cf_future_release(fs[i]);
    }
    ck_assert_int_eq(cf_executor_free(ex), 0);
  }
  ck_assert_int_eq(cf_test_count_fds(), fds0);
}
END_TEST

/* Descriptor exhaustion ------------------------------------------------ */

static int highest_fd(void) {
  int hi = -1;
  for (int fd = 0; fd < 4096; fd++)
    if (fcntl(fd, F_GETFD) != -1)
      hi = fd;
  return hi;
}

/* RLIMIT_NOFILE a few descriptors above what is open: each step of the
 * pool's creation meets EMFILE in turn. */
START_TEST(test_rlimit_nofile) {
  struct rlimit rl0;
  ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl0), 0);
  /* Fill the holes below the highest descriptor, so that the limit is
   * what bounds the pool's new ones. */
  static int filler[4096];
  int nfill = 0, hi = highest_fd(), fd;
  while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fd < hi &&
         nfill < 4096)
    filler[nfill++] = fd;
  if (fd >= 0)
    close(fd);
  int fds0 = cf_test_count_fds(), kids0 = count_children();
  int created = 0, refused = 0;
  for (int extra = 0; extra <= 12; extra++) {
    struct rlimit rl = rl0;
    rl.rlim_cur = (rlim_t)(highest_fd() + 1 + extra);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    cf_process_pool_options o;
    cf_process_pool_options_init(&o);
    o.max_workers = 1;
    cf_executor *ex = NULL;
    int rc = cf_process_pool_new(&o, &ex);
    if (getenv("CF_FI_TRACE") != NULL)
      fprintf(stderr, "rlimit %d: %s\n", (int)rl.rlim_cur, cf_err_name(rc));
    if (rc == 0) {
      created++;
      cf_future *f = NULL;
      rc = cf_submit_bytes(ex, t_echo, "x", 1, &f);
      if (rc == 0) {
        rc = cf_future_bytes(f, BOUND, NULL, NULL);
        ck_assert_msg(cf_future_done(f),
                      "RLIMIT_NOFILE %d (%d free): the task never completed",
                      (int)rl.rlim_cur, extra);
        cf_future_release(f);
      }
      ck_assert_msg(rc == 0 || rc == CF_EMFILE || rc == CF_EBROKEN ||
                        rc == CF_EWORKER,
                    "extra=%d: %s", extra, cf_err_name(rc));
      ck_assert_int_eq(cf_executor_free(ex), 0);
    } else {
      refused++;
      ck_assert_msg(rc == CF_EMFILE, "extra=%d: %s", extra, cf_err_name(rc));
      ck_assert_ptr_null(ex);
    }
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl0), 0);
    ck_assert_msg(cf_test_count_fds() == fds0, "extra=%d: %d fds, not %d",
                  extra, cf_test_count_fds(), fds0);
    ck_assert_int_eq(count_children(), kids0);
  }
  for (int i = 0; i < nfill; i++)
    close(filler[i]);
  ck_assert_int_gt(refused, 0);
  ck_assert_int_gt(created, 0);
  fprintf(stderr, "rlimit: %d refused, %d created\n", refused, created);
}
END_TEST

/* The bridge out of descriptors: CF_EMFILE, nothing half-made. */
START_TEST(test_bridge_out_of_descriptors) {
  struct rlimit rl0;
  ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl0), 0);
  static int filler[4096];
  int nfill = 0, hi = highest_fd(), fd;
  while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fd < hi &&
         nfill < 4096)
    filler[nfill++] = fd;
  if (fd >= 0)
    close(fd);
  int fds0 = cf_test_count_fds();
  int made = 0;
  for (int extra = 0; extra <= 3; extra++) {
    struct rlimit rl = rl0;
    rl.rlim_cur = (rlim_t)(highest_fd() + 1 + extra);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    cf_bridge *b = NULL;
    int rc = cf_bridge_new(&b);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl0), 0);
    if (rc == 0) {
      made++;
      ck_assert_int_eq(cf_bridge_free(b), 0);
    } else {
      ck_assert_msg(rc == CF_EMFILE, "extra=%d: %s", extra, cf_err_name(rc));
      ck_assert_ptr_null(b);
    }
    ck_assert_int_eq(cf_test_count_fds(), fds0);
  }
  for (int i = 0; i < nfill; i++)
    close(filler[i]);
  ck_assert_int_gt(made, 0);
}
END_TEST

/* Spurious and late wakeups ------------------------------------------- */

/* Waits of every kind while condition waits wake spuriously and notifies
 * come late: no early return, no hang, every result right. */
START_TEST(test_spurious_wakeups) {
  long rounds = cf_test_stress_count(20000);
  cf_executor *ex = cf_test_pool(4);
  cf_fi_spurious(true);
  long spurious0 = cf_fi_spurious_count();
  enum { B = 8 };
  for (long r = 0; r < rounds; r++) {
    cf_future *fs[B];
    for (int i = 0; i < B; i++)
      ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, V(i + 1), &fs[i]),
                       0);
    switch (r % 4) {
    case 0: {
      size_t nd = 0, nn = 0;
      cf_future *done[B], *not_done[B];
      ck_assert_int_eq(
          cf_wait(fs, B, BOUND, CF_ALL_COMPLETED, done, &nd, not_done, &nn), 0);
      ck_assert_uint_eq(nd, B);
      break;
    }
    case 1: {
      cf_as_completed *it;
      ck_assert_int_eq(cf_as_completed_new(fs, B, BOUND, &it), 0);
      cf_future *f;
      int n = 0;
      while (cf_as_completed_next(it, &f) == 0) {
        ck_assert(cf_future_done(f));
        cf_future_release(f);
        n++;
      }
      ck_assert_int_eq(n, B);
      cf_as_completed_free(it);
      break;
    }
    case 2: {
      void *res[B];
      ck_assert_int_eq(cf_gather(fs, B, BOUND, 0, res, NULL), 0);
      for (int i = 0; i < B; i++)
        ck_assert_ptr_eq(res[i], V(i + 1));
      break;
    }
    default:
      break;
    }
    for (int i = 0; i < B; i++) {
      void *out;
      ck_assert_int_eq(cf_future_result(fs[i], BOUND, &out), 0);
      ck_assert_ptr_eq(out, V(i + 1));
      cf_future_release(fs[i]);
    }
    /* A short timed wait must not return before its deadline even when
     * woken spuriously. */
    if (r % 500 == 0) {
      cf_future *pending;
      ck_assert_int_eq(cf_future_new(&pending), 0);
      uint64_t t0 = cf_now_ns();
      ck_assert_int_eq(cf_future_wait(pending, 0.005), CF_ETIMEDOUT);
      ck_assert_uint_ge(cf_now_ns() - t0, 5000000u);
      cf_future_release(pending);
    }
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_fi_spurious(false);
  fprintf(stderr, "spurious wakeups: %ld rounds, %ld injected\n", rounds,
          cf_fi_spurious_count() - spurious0);
}
END_TEST

/* Condition variables' clocks --------------------------------------------
 * Every condition variable the library makes waits on CLOCK_MONOTONIC, so
 * that no timed wait, now or added later, moves with the wall clock. */
START_TEST(test_condition_variables_monotonic) {
  long before = cf_fi_conds_not_monotonic();
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_thread_pool_new(NULL, &ex), 0);
  cf_future *f = NULL;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, V(1), &f), 0);
  ck_assert_int_eq(cf_future_error(f, 30), 0);
  cf_future *fs[1] = {f};
  ck_assert_int_eq(cf_wait(fs, 1, 30, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL),
                   0);
  cf_future_release(f);
  cf_group *g = NULL;
  ck_assert_int_eq(cf_group_new(ex, 0, &g), 0);
  cf_group_free(g);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  cf_channel *ch = NULL;
  ck_assert_int_eq(cf_channel_new(4, &ch), 0);
  cf_channel_free(ch);
  cf_semaphore *sem = NULL;
  ck_assert_int_eq(cf_semaphore_new(1, &sem), 0);
  cf_semaphore_free(sem);
  ck_assert_int_eq(cf_fi_conds_not_monotonic() - before, 0);
}
END_TEST

Suite *cf_faults_suite(void) {
  Suite *s = suite_create("faults");
  TCase *tc = tcase_create("alloc");
  cf_test_tcase_timeout(tc, 120);
  cf_test_tcase_census(tc);
  tcase_add_test(tc, test_alloc_future);
  tcase_add_test(tc, test_alloc_submit);
  tcase_add_test(tc, test_alloc_wait);
  tcase_add_test(tc, test_alloc_map);
  tcase_add_test(tc, test_alloc_group);
  tcase_add_test(tc, test_alloc_then);
  tcase_add_test(tc, test_alloc_combine);
  tcase_add_test(tc, test_alloc_timer);
  tcase_add_test(tc, test_alloc_bridge);
  tcase_add_test(tc, test_alloc_channel);
  suite_add_tcase(s, tc);
  tc = tcase_create("threads");
  cf_test_tcase_timeout(tc, 60);
  cf_test_tcase_census(tc);
  tcase_add_test(tc, test_thread_create_fails);
  tcase_add_test(tc, test_timer_thread_fails);
  tcase_add_test(tc, test_bridge_out_of_descriptors);
  tcase_add_test(tc, test_spurious_wakeups);
  tcase_add_test(tc, test_condition_variables_monotonic);
  suite_add_tcase(s, tc);
  return s;
}

Suite *cf_faults_fork_suite(void) {
  Suite *s = suite_create("faults_fork");
  TCase *tc = tcase_create("process");
  cf_test_tcase_timeout(tc, 120);
  tcase_add_test(tc, test_process_pool_thread_fails);
  tcase_add_test(tc, test_fork_fails_at_create);
  tcase_add_test(tc, test_fork_fails_for_workers);
  tcase_add_test(tc, test_rlimit_nofile);
  suite_add_tcase(s, tc);
  /* Every allocation failing from the k-th on, in the pool and its
   * processes: a future is sometimes never completed (a worker start that
   * failed for memory is not retried), so it is tagged and run on its own
   * (tests/reliability.cmake) until start failures back off and retry. */
  TCase *torture = tcase_create("process_torture");
  cf_test_tcase_timeout(torture, 120);
  tcase_set_tags(torture, "known_failure");
  tcase_add_test(torture, test_alloc_process_pool);
  suite_add_tcase(s, torture);
  return s;
}
