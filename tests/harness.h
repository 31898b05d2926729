/* SPDX-License-Identifier: MIT */
/* The shared test harness: timeouts scaled by TIMEOUT_MULTIPLIER, a census of
 * the process's descriptors and threads, gates that hold tasks until a test
 * releases them, and small task functions. */
#ifndef CF_TEST_HARNESS_H
#define CF_TEST_HARNESS_H

#include <cfutures.h>
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sanitizer builds run much slower; stress counts shrink there. */
#if defined(__SANITIZE_THREAD__)
#define CF_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CF_TEST_TSAN 1
#endif
#endif
#ifndef CF_TEST_TSAN
#define CF_TEST_TSAN 0
#endif

void cf_test_harness_init(void);
/* base seconds x TIMEOUT_MULTIPLIER (default 1). */
double cf_test_scale(double seconds);
/* Sets a TCase's timeout to base seconds, scaled. */
void cf_test_tcase_timeout(TCase *tc, double seconds);
/* Open descriptors and live threads of this process (from /proc). */
int cf_test_count_fds(void);
int cf_test_count_threads(void);
/* Polls until at most want threads are alive or timeout seconds (scaled)
 * pass; returns the last count. A joined thread can stay listed in /proc
 * for a moment after pthread_join returns. */
int cf_test_settle_threads(int want, double timeout);
/* Sleeps for ms milliseconds. */
void cf_test_sleep_ms(double ms);
/* Seconds elapsed since start_ns (from cf_now_ns). */
double cf_test_elapsed(uint64_t start_ns);
/* A stress count: base divided by CF_STRESS_SCALE (if set) and by 4 under
 * ThreadSanitizer; never below 1. */
long cf_test_stress_count(long base);

/* A gate holds tasks until the test opens it; it also counts arrivals so a
 * test can wait until k tasks are parked on it. */
typedef struct cf_test_gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool open;
  int arrived;
} cf_test_gate;

void cf_test_gate_init(cf_test_gate *g);
void cf_test_gate_destroy(cf_test_gate *g);
void cf_test_gate_open(cf_test_gate *g);
/* Blocks until the gate opens (counts as one arrival). */
void cf_test_gate_pass(cf_test_gate *g);
/* Arrivals so far. */
int cf_test_gate_arrivals(cf_test_gate *g);
/* Waits up to timeout seconds for at least k arrivals; true if reached. */
bool cf_test_gate_wait_arrivals(cf_test_gate *g, int k, double timeout);

/* Task functions. */
/* *result = arg, returns 0. */
int cf_test_task_identity(void *arg, void **result);
/* Returns (int)(intptr_t)arg as its error code. */
int cf_test_task_fail(void *arg, void **result);
/* arg is a cf_test_gate: passes it, *result = arg. */
int cf_test_task_gate(void *arg, void **result);
/* Sleeps (intptr_t)arg milliseconds, *result = arg. */
int cf_test_task_sleep(void *arg, void **result);
/* arg is an atomic_int: increments it, *result = NULL. */
int cf_test_task_count(void *arg, void **result);

/* Waits until pred(ctx) or timeout seconds passed; returns pred's value. */
bool cf_test_poll(bool (*pred)(void *), void *ctx, double timeout);

/* Pool with max_workers workers (other options default), asserting
 * success. */
cf_executor *cf_test_pool(int max_workers);

/* A test program's main: runs the suite named by argv[1] (as CTest does,
 * one process per suite), or every suite with no argument. */
typedef struct cf_test_suite {
  const char *name;
  Suite *(*make)(void);
} cf_test_suite;
int cf_test_main(const cf_test_suite *suites, size_t n, int argc, char **argv);

#endif

/* Watchdog and census ---------------------------------------------------
 * cf_test_tcase_timeout also arms a watchdog in each test's process: a
 * test still running at 80% of its timeout has every thread's stack
 * dumped on stderr (gdb, or /proc when gdb is missing) and is aborted, so
 * a hang fails with its stacks instead of a bare timeout. The same fixture
 * takes a census before each test and prints a warning when descriptors,
 * threads or child processes are not back at that baseline afterwards. */

/* What a test process holds: counts from /proc. */
typedef struct cf_test_census {
  int fds;
  int threads;
  int children; /* live or unreaped children of this process */
  int shm;      /* entries in /dev/shm (the library should add none) */
} cf_test_census;

void cf_test_census_take(cf_test_census *c);
/* True when the process is back at base: waits up to timeout seconds
 * (scaled) for threads and children to go; writes what differs to msg. */
bool cf_test_census_settle(const cf_test_census *base, double timeout,
                           char *msg, size_t msglen);
/* Children (live or zombie) of this process. */
int cf_test_count_children(void);
/* The same, storing up to max of their pids in out (NULL when max is 0). */
int cf_test_children(pid_t *out, int max);
/* Makes the census strict for tc's tests: a test that leaves descriptors,
 * threads, children or /dev/shm entries behind fails. */
void cf_test_tcase_census(TCase *tc);
