/* The process ends while work is in flight (row 11): exit() from the main
 * thread with a thread pool's task running and others queued, and with a
 * process pool's tasks running. The process must end promptly with the
 * status it asked for -- no crash in a destructor, no hang joining a
 * worker at exit -- and, for the process pool, leave no worker behind.
 * Each case runs in a child process of the test. */
#include "harness.h"

#include <cfutures/process_pool.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
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

Suite *cf_lifecycle_suite(void) {
  Suite *s = suite_create("lifecycle");
  TCase *tc = tcase_create("exit");
  cf_test_tcase_timeout(tc, 60);
  cf_test_tcase_census(tc);
  tcase_add_test(tc, test_exit_with_thread_pool_busy);
  tcase_add_test(tc, test_exit_with_process_pool_busy);
  suite_add_tcase(s, tc);
  return s;
}
