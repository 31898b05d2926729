/* SPDX-License-Identifier: MIT */
/* How a process pool's workers are watched, started and stopped, under
 * conditions a host meets: a sandbox without pidfd_open (rows 42), tasks
 * that will not die (39), tasks that leave processes behind (41), worker
 * starts that fail (40), and a host that forks (row 11's neighbour). Real
 * processes, real signals, real limits. */
#include "harness.h"

#include <cfutures/process_pool.h>

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tasks ------------------------------------------------------------------- */

static int t_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}

static int t_segv(const void *in, size_t len, cf_buffer *out) {
  raise(SIGSEGV);
  return 0;
}

static int t_forever(const void *in, size_t len, cf_buffer *out) {
  for (;;)
    pause();
  return 0;
}

/* Helpers ----------------------------------------------------------------- */

static cf_executor *pool_of(int workers) {
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = workers;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &ex), 0);
  return ex;
}

static void expect_error(cf_future *f, int err, const char *needle) {
  ck_assert_int_eq(cf_future_error(f, 30), err);
  if (needle != NULL) {
    const char *m = cf_future_error_message(f);
    ck_assert_msg(m != NULL && strstr(m, needle) != NULL,
                  "message '%s' lacks '%s'", m ? m : "(null)", needle);
  }
}

static void expect_echo(cf_executor *ex) {
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_echo, "abc", 3, &f), 0);
  const void *d;
  size_t n;
  int rc = cf_future_bytes(f, 30, &d, &n);
  ck_assert_msg(rc == 0, "echo failed: %s (%s)", cf_err_name(rc),
                cf_future_error_message(f) ? cf_future_error_message(f) : "");
  ck_assert_uint_eq(n, 3);
  ck_assert_int_eq(memcmp(d, "abc", 3), 0);
  cf_future_release(f);
}

static bool no_children(void) {
  errno = 0;
  pid_t r = waitpid(-1, NULL, WNOHANG);
  return r == -1 && errno == ECHILD;
}

/* Without pidfd_open --------------------------------------------------------
 * A seccomp filter makes pidfd_open fail with err in this test process and
 * every process it starts (the zygote, the workers), as a sandbox does;
 * valgrind 3.19 and kernels before 5.3 give ENOSYS the same way. */

static void deny_pidfd_open(int err) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
      BPF_STMT(BPF_RET | BPF_K,
               SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
  ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
  ck_assert_int_eq(syscall(SYS_pidfd_open, getpid(), 0), -1);
  ck_assert(errno == err || errno == ENOSYS); /* valgrind: never reached */
}

/* _i: 0 ENOSYS (no such call), 1 EPERM (a filter that refuses it). */
START_TEST(test_works_without_pidfd_open) {
  deny_pidfd_open(_i == 0 ? ENOSYS : EPERM);
  cf_executor *ex = pool_of(2);
  expect_echo(ex);
  /* A death is still seen and blamed on its task alone. */
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_segv, NULL, 0, &f), 0);
  expect_error(f, CF_EWORKER, "SIGSEGV");
  cf_future_release(f);
  expect_echo(ex);
  /* A timeout still kills its worker. */
  ck_assert_int_eq(cf_submit_bytes_timeout(ex, t_forever, NULL, 0, 0.2, &f), 0);
  expect_error(f, CF_ETIMEDOUT, NULL);
  cf_future_release(f);
  expect_echo(ex);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(no_children());
}
END_TEST

START_TEST(test_terminate_without_pidfd_open) {
  deny_pidfd_open(ENOSYS);
  cf_executor *ex = pool_of(2);
  cf_future *f;
  ck_assert_int_eq(cf_submit_bytes(ex, t_forever, NULL, 0, &f), 0);
  for (int i = 0; i < 5000 && !cf_future_running(f); i++)
    cf_test_sleep_ms(1);
  ck_assert_int_eq(cf_process_pool_terminate(ex), 0);
  expect_error(f, CF_EWORKER, "SIGTERM");
  cf_future_release(f);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert(no_children());
}
END_TEST

/* Every task by name, so that the suite also runs with the spawning start
 * methods (CF_TEST_START_METHOD). */
CF_TASK("pl.t_echo", t_echo)
CF_TASK("pl.t_segv", t_segv)
CF_TASK("pl.t_forever", t_forever)

Suite *cf_process_lifecycle_suite(void) {
  Suite *s = suite_create("process_lifecycle");
  TCase *tc = tcase_create("reaping");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_loop_test(tc, test_works_without_pidfd_open, 0, 2);
  tcase_add_test(tc, test_terminate_without_pidfd_open);
  suite_add_tcase(s, tc);
  return s;
}
