/* SPDX-License-Identifier: MIT */
/* The process ends while work is in flight (row 11): exit() from the main
 * thread with a thread pool's task running and others queued, and with a
 * process pool's tasks running. The process must end promptly with the
 * status it asked for -- no crash in a destructor, no hang joining a
 * worker at exit -- and, for the process pool, leave no worker behind.
 * Each case runs in a child process of the test. Also here: the
 * harness's watchdog, checked on a test that hangs. */
#include "harness.h"

#include <cfutures/process_pool.h>
#include <cfutures/registry.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static cf_test_gate never;

static int t_sleep_forever(const void *in, size_t len, cf_buffer *out) {
  for (;;)
    pause();
  return 0;
}

/* Runs body in a child and returns its wait status, killing it if it has
 * not ended within limit seconds (status then says SIGKILL). */
static int run_child(void (*body)(int fd), int fd, double limit) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    body(fd);
    _exit(99); /* body returned instead of exiting */
  }
  uint64_t start = cf_now_ns();
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return status;
    if (cf_test_elapsed(start) > cf_test_scale(limit)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return status;
    }
    cf_test_sleep_ms(5);
  }
}

static void exit_with_thread_pool_busy(int fd) {
  cf_test_gate_init(&never);
  cf_executor *ex = NULL;
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = 2;
  if (cf_thread_pool_new(&o, &ex) != 0)
    _exit(98);
  for (int i = 0; i < 10; i++)
    if (cf_submit(ex, cf_test_task_gate, &never, NULL) != 0)
      _exit(97);
  cf_test_gate_wait_arrivals(&never, 2, 10);
  exit(7);
}

START_TEST(test_exit_with_thread_pool_busy) {
  int st = run_child(exit_with_thread_pool_busy, -1, 20);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 7,
                "the process did not end with its status (raw %#x)", st);
}
END_TEST

/* ---- CF_POOL_JOIN_AT_EXIT ---- */

static int out_fd = -1;

/* Sleeps a little, then writes one byte: proof it ran to its end. */
static int task_sleep_write(void *arg, void **result) {
  (void)result;
  cf_test_sleep_ms(30);
  char c = (char)(intptr_t)arg;
  return write(out_fd, &c, 1) == 1 ? 0 : CF_ETASK;
}

static cf_executor *joining_pool(void) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = 2;
  o.flags = CF_POOL_JOIN_AT_EXIT;
  cf_executor *ex = NULL;
  if (cf_thread_pool_new(&o, &ex) != 0)
    _exit(98);
  return ex;
}

enum { JOIN_TASKS = 8 };

static void exit_with_joining_pool(int fd) {
  out_fd = fd;
  cf_executor *ex = joining_pool();
  for (intptr_t i = 0; i < JOIN_TASKS; i++)
    if (cf_submit(ex, task_sleep_write, (void *)('a' + i), NULL) != 0)
      _exit(97);
  exit(0); /* as returning from main, with every task in flight */
}

/* Leaving main waits for the pool's tasks: every one of them writes. */
START_TEST(test_exit_joins_pool) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  int st = run_child(exit_with_joining_pool, p[1], 20);
  close(p[1]);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "raw status %#x", st);
  char buf[64];
  size_t got = 0;
  ssize_t n;
  while ((n = read(p[0], buf + got, sizeof buf - got)) > 0)
    got += (size_t)n;
  close(p[0]);
  ck_assert_uint_eq(got, JOIN_TASKS);
  for (size_t i = 0; i < got; i++)
    ck_assert(memchr(buf, (int)('a' + i), got) != NULL);
}
END_TEST

static int task_exit3(void *arg, void **result) {
  (void)arg;
  (void)result;
  exit(3);
}

static void exit_from_worker(int fd) {
  (void)fd;
  cf_test_gate_init(&never);
  cf_executor *ex = joining_pool();
  if (cf_submit(ex, cf_test_task_gate, &never, NULL) != 0)
    _exit(97);
  cf_test_gate_wait_arrivals(&never, 1, 10);
  if (cf_submit(ex, task_exit3, NULL, NULL) != 0)
    _exit(96);
  for (;;)
    pause();
}

/* exit from one of the pool's workers does not wait for the pool (its own
 * thread, and a task blocked forever): the process ends at once. */
START_TEST(test_exit_from_worker_is_not_joined) {
  int st = run_child(exit_from_worker, -1, 20);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3, "raw status %#x", st);
}
END_TEST

static void exit5(cf_future *f, void *userdata) {
  (void)f;
  (void)userdata;
  exit(5);
}

static void exit_from_callback(int fd) {
  (void)fd;
  cf_test_gate_init(&never);
  cf_executor *ex = joining_pool();
  if (cf_submit(ex, cf_test_task_gate, &never, NULL) != 0)
    _exit(97);
  cf_test_gate_wait_arrivals(&never, 1, 10);
  cf_future *f = NULL;
  if (cf_future_new(&f) != 0 || cf_future_on_done(f, exit5, NULL) != 0)
    _exit(96);
  cf_future_set_result(f, NULL); /* runs exit5 here, on the main thread */
  _exit(95);
}

/* exit from a done callback (what a task may be waiting for) does not wait
 * either. */
START_TEST(test_exit_from_callback_is_not_joined) {
  int st = run_child(exit_from_callback, -1, 20);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 5, "raw status %#x", st);
}
END_TEST

/* A freed pool is off the exit list: exit does not touch it. */
static void exit_after_free(int fd) {
  (void)fd;
  cf_executor *ex = joining_pool();
  if (cf_submit(ex, cf_test_task_identity, NULL, NULL) != 0 ||
      cf_executor_free(ex) != 0)
    _exit(97);
  exit(6);
}

START_TEST(test_exit_after_free) {
  int st = run_child(exit_after_free, -1, 20);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 6, "raw status %#x", st);
}
END_TEST

/* Writes the worker pids to fd, then exits. */
static void exit_with_process_pool_busy(int fd) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  cf_executor *ex = NULL;
  if (cf_process_pool_new(&o, &ex) != 0)
    _exit(98);
  for (int i = 0; i < 6; i++)
    if (cf_submit_bytes(ex, t_sleep_forever, NULL, 0, NULL) != 0)
      _exit(97);
  int pids[2] = {0, 0};
  for (int tries = 0; tries < 1000; tries++) {
    if (cf_process_pool_pids(ex, pids, 2) >= 2)
      break;
    cf_test_sleep_ms(5);
  }
  if (write(fd, pids, sizeof pids) != (ssize_t)sizeof pids)
    _exit(96);
  exit(7);
}

START_TEST(test_exit_with_process_pool_busy) {
  int p[2];
  ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
  int st = run_child(exit_with_process_pool_busy, p[1], 20);
  close(p[1]);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 7,
                "the process did not end with its status (raw %#x)", st);
  int pids[2] = {0, 0};
  ck_assert_int_eq(read(p[0], pids, sizeof pids), (ssize_t)sizeof pids);
  close(p[0]);
  /* Workers go when their parent does (end of file, PDEATHSIG). */
  for (int i = 0; i < 2; i++) {
    ck_assert_int_gt(pids[i], 0);
    uint64_t start = cf_now_ns();
    while (kill(pids[i], 0) == 0 && cf_test_elapsed(start) < cf_test_scale(5))
      cf_test_sleep_ms(10);
    ck_assert_msg(kill(pids[i], 0) != 0, "worker %d outlived its host",
                  pids[i]);
  }
}
END_TEST

/* The harness's watchdog itself: a test that hangs has its threads'
 * stacks dumped and is aborted before Check's timeout. */
static int t_hang_on_gate(void *arg, void **result) {
  cf_test_gate_pass(arg);
  return 0;
}

START_TEST(test_hangs_forever) {
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  cf_executor *ex = cf_test_pool(1);
  cf_future *f;
  ck_assert_int_eq(cf_submit(ex, t_hang_on_gate, &gate, &f), 0);
  cf_future_wait(f, -1);
}
END_TEST

static void run_hanging_suite(int fd) {
  dup2(fd, 2);
  Suite *s = suite_create("hang");
  TCase *tc = tcase_create("hang");
  /* 12 s: the watchdog fires at 80% (9 s), which leaves gdb 3 s to attach
   * and print, enough on a loaded machine under ASan (2 s was not). */
  cf_test_tcase_timeout(tc, 12);
  tcase_add_test(tc, test_hangs_forever);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_SILENT);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  _exit(failed == 1 ? 0 : 1);
}

START_TEST(test_watchdog_dumps_stacks) {
  if (cf_test_scale(1) != 1)
    return; /* the nested suite's timing assumes no multiplier */
  int p[2];
  ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
  int st = run_child(run_hanging_suite, p[1], 30);
  close(p[1]);
  static char out[1 << 16];
  size_t len = 0;
  ssize_t r;
  while (len < sizeof out - 1 &&
         (r = read(p[0], out + len, sizeof out - 1 - len)) > 0)
    len += (size_t)r;
  out[len] = '\0';
  close(p[0]);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                "the hanging test did not fail once (raw %#x)", st);
  ck_assert_msg(strstr(out, "=== watchdog: test still running") != NULL,
                "no watchdog report in: %.500s", out);
  ck_assert_msg(strstr(out, "=== watchdog: aborting") != NULL,
                "the watchdog did not abort: %.500s", out);
  /* Both threads' stacks: gdb names the functions; /proc shows the
   * threads. */
  ck_assert_msg(strstr(out, "t_hang_on_gate") != NULL ||
                    strstr(out, "--- thread") != NULL,
                "no stacks in: %.2000s", out);
}
END_TEST

/* Every task and initializer by name, so that the suite also runs with
 * the spawning start methods (CF_TEST_START_METHOD). */
CF_TASK("lc.t_sleep_forever", t_sleep_forever)

Suite *cf_lifecycle_suite(void) {
  Suite *s = suite_create("lifecycle");
  TCase *tc = tcase_create("exit");
  cf_test_tcase_timeout(tc, 60);
  cf_test_tcase_census(tc);
  tcase_add_test(tc, test_exit_with_thread_pool_busy);
  tcase_add_test(tc, test_exit_with_process_pool_busy);
  tcase_add_test(tc, test_exit_joins_pool);
  tcase_add_test(tc, test_exit_from_worker_is_not_joined);
  tcase_add_test(tc, test_exit_from_callback_is_not_joined);
  tcase_add_test(tc, test_exit_after_free);
  suite_add_tcase(s, tc);
  tc = tcase_create("watchdog");
  cf_test_tcase_timeout(tc, 60);
  tcase_add_test(tc, test_watchdog_dumps_stacks);
  suite_add_tcase(s, tc);
  return s;
}
