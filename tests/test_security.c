/* SPDX-License-Identifier: MIT */
/* Security: what the pool exposes to processes it does not own.
 *
 *  - No descriptor of a process pool, a thread pool or a bridge leaks into
 *    a child the host spawns from another thread while they work (row 33):
 *    the child sees exactly what it saw before they existed.
 *  - A worker process keeps 0, 1, 2 and its own channel and regions, none
 *    of the host's other descriptors.
 *  - Nothing appears under /dev/shm, and the shared-memory descriptors are
 *    anonymous memfds, sealed against growth by the other side, and not
 *    open to other users (row 34).
 *  - The cfutures program hands job arguments to no shell and takes no
 *    environment from its input (rows 35, 36), for the shapes that
 *    tests/executor/run_security.sh does not try: a leading dash, embedded
 *    newlines through -0, a 1 MiB argument, and NAME=value records. */
#include "harness.h"

#include <cfutures/process_pool.h>
#include <cfutures/registry.h>

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifdef CF_TEST_CLI
/* Runs argv with stdin from in (len bytes, may be NULL) and returns its
 * stdout (malloc'd, NUL-terminated) and exit status. */
static char *run_capture(char *const argv[], const char *in, size_t inlen,
                         int *status) {
  int out[2], inp[2];
  ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
  ck_assert_int_eq(pipe2(inp, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ck_assert_int_eq(rc, 0);
  close(inp[0]);
  close(out[1]);
  /* Feed stdin and read stdout in turn; inputs here are small enough
   * for the pipe or read by the child before it writes much. */
  size_t off = 0;
  while (in != NULL && off < inlen) {
    ssize_t w = write(inp[1], in + off, inlen - off);
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  close(inp[1]);
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  ck_assert_ptr_nonnull(buf);
  for (;;) {
    if (cap - len < 4096) {
      cap *= 2;
      buf = realloc(buf, cap);
      ck_assert_ptr_nonnull(buf);
    }
    ssize_t r = read(out[0], buf + len, cap - len - 1);
    if (r <= 0)
      break;
    len += (size_t)r;
  }
  buf[len] = '\0';
  close(out[0]);
  while (waitpid(pid, status, 0) < 0)
    ;
  return buf;
}
#endif

/* What `ls /proc/self/fd` prints in a child spawned the way an
 * unsuspecting host does it: fork from some thread, then exec. */
static char *child_fds(void) {
  int out[2];
  ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    execl("/bin/sh", "sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '",
          (char *)NULL);
    _exit(127);
  }
  ck_assert_int_ge(pid, 0);
  close(out[1]);
  char *buf = calloc(1, 4096);
  ck_assert_ptr_nonnull(buf);
  size_t len = 0;
  ssize_t r;
  while ((r = read(out[0], buf + len, 4095 - len)) > 0)
    len += (size_t)r;
  close(out[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    ;
  return buf;
}

typedef struct {
  char *seen[64];
  int n;
  atomic_bool stop;
} spawner;

static void *spawner_main(void *p) {
  spawner *s = p;
  while (!atomic_load(&s->stop) && s->n < 64)
    s->seen[s->n++] = child_fds();
  return NULL;
}

static int t_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}

static int t_slow_echo(const void *in, size_t len, cf_buffer *out) {
  cf_test_sleep_ms(5);
  return cf_buffer_append(out, in, len);
}

static void cb_noop(cf_future *f, int err, void *userdata) {
  (void)f;
  (void)err;
  (void)userdata;
}

START_TEST(test_no_descriptor_leaks_into_spawned_children) {
  char *before = child_fds();
  spawner s = {.n = 0};
  atomic_init(&s.stop, false);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, spawner_main, &s), 0);

  /* Everything that opens descriptors, working while the spawner runs. */
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  o.shm_threshold = 4096;
  cf_executor *pp = NULL, *tp = cf_test_pool(2);
  ck_assert_int_eq(cf_process_pool_new(&o, &pp), 0);
  cf_bridge *b = NULL;
  ck_assert_int_eq(cf_bridge_new(&b), 0);
  size_t big = 1 << 20;
  char *data = calloc(1, big);
  ck_assert_ptr_nonnull(data);
  for (int round = 0; round < 20; round++) {
    cf_future *f[3];
    ck_assert_int_eq(cf_submit_bytes(pp, t_slow_echo, data, big, &f[0]), 0);
    ck_assert_int_eq(cf_submit_bytes(pp, t_echo, "x", 1, &f[1]), 0);
    ck_assert_int_eq(cf_bridge_submit(b, tp, cf_test_task_identity, NULL,
                                      cb_noop, NULL, &f[2]),
                     0);
    for (int i = 0; i < 3; i++) {
      ck_assert_int_eq(cf_future_wait(f[i], 30), 0);
      cf_future_release(f[i]);
    }
    size_t ran;
    cf_bridge_dispatch(b, 0, &ran);
  }
  atomic_store(&s.stop, true);
  pthread_join(t, NULL);
  ck_assert_int_gt(s.n, 0);
  for (int i = 0; i < s.n; i++) {
    ck_assert_msg(strcmp(s.seen[i], before) == 0,
                  "a spawned child saw fds [%s], not [%s]", s.seen[i], before);
    free(s.seen[i]);
  }
  /* And once more with everything idle. */
  char *after = child_fds();
  ck_assert_str_eq(after, before);
  free(after);
  free(before);
  free(data);
  ck_assert_int_eq(cf_bridge_free(b), 0);
  ck_assert_int_eq(cf_executor_free(pp), 0);
  ck_assert_int_eq(cf_executor_free(tp), 0);
}
END_TEST

/* In the worker: every descriptor it holds, as "fd=target" lines. */
static int t_list_fds(const void *in, size_t len, cf_buffer *out) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return CF_ETASK;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
      continue;
    char path[300], target[256], line[600];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = '\0';
    int l = snprintf(line, sizeof line, "%s=%s\n", e->d_name, target);
    cf_buffer_append(out, line, (size_t)l);
  }
  closedir(d);
  return 0;
}

START_TEST(test_worker_keeps_only_its_own_descriptors) {
  /* A descriptor of the host's, without close-on-exec, as a careless
   * host would have: the worker must not have it. */
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 1;
  o.shm_threshold = 1024;
  cf_executor *pp = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &pp), 0);
  static char big[8192];
  cf_future *f;
  /* Bring a shared region into being, then list. */
  ck_assert_int_eq(cf_submit_bytes(pp, t_echo, big, sizeof big, &f), 0);
  ck_assert_int_eq(cf_future_bytes(f, 30, NULL, NULL), 0);
  cf_future_release(f);
  ck_assert_int_eq(cf_submit_bytes(pp, t_list_fds, NULL, 0, &f), 0);
  const void *d;
  size_t len;
  ck_assert_int_eq(cf_future_bytes(f, 30, &d, &len), 0);
  char *list = strndup(d, len);
  cf_future_release(f);
  int sockets = 0;
  for (char *line = strtok(list, "\n"); line != NULL;
       line = strtok(NULL, "\n")) {
    int fd = atoi(line);
    const char *target = strchr(line, '=') + 1;
    if (fd <= 2)
      continue;
    if (strncmp(target, "socket:", 7) == 0) {
      sockets++;
      continue;
    }
    ck_assert_msg(strncmp(target, "/memfd:", 7) == 0,
                  "the worker holds %s, not one of its own", line);
  }
  ck_assert_int_eq(sockets, 1);
  free(list);
  ck_assert_int_eq(cf_executor_free(pp), 0);
  close(p[0]);
  close(p[1]);
}
END_TEST

static int count_shm(void) {
  DIR *d = opendir("/dev/shm");
  if (d == NULL)
    return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

START_TEST(test_shared_memory_is_anonymous_and_private) {
  int shm0 = count_shm();
  cf_process_pool_options o;
  cf_process_pool_options_init(&o);
  o.max_workers = 2;
  o.shm_threshold = 1024;
  cf_executor *pp = NULL;
  ck_assert_int_eq(cf_process_pool_new(&o, &pp), 0);
  static char big[1 << 18];
  cf_future *f[4];
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(cf_submit_bytes(pp, t_slow_echo, big, sizeof big, &f[i]),
                     0);
  int memfds = 0, open_modes = 0;
  /* Once one payload has gone through, with the others in flight: every
   * region is a memfd. */
  ck_assert_int_eq(cf_future_wait(f[0], 30), 0);
  DIR *dir = opendir("/proc/self/fd");
  ck_assert_ptr_nonnull(dir);
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[300], target[256];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0)
      continue;
    target[n] = '\0';
    ck_assert_msg(strncmp(target, "/dev/shm/", 9) != 0,
                  "a named shared memory object is open: %s", target);
    if (strncmp(target, "/memfd:", 7) != 0)
      continue;
    memfds++;
    struct stat st;
    ck_assert_int_eq(fstat(atoi(e->d_name), &st), 0);
    if (st.st_mode & 077)
      open_modes++;
  }
  closedir(dir);
  ck_assert_int_eq(count_shm(), shm0);
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(cf_future_bytes(f[i], 30, NULL, NULL), 0);
    cf_future_release(f[i]);
  }
  ck_assert_int_eq(cf_executor_free(pp), 0);
  ck_assert_int_eq(count_shm(), shm0);
  ck_assert_int_gt(memfds, 0);
  ck_assert_msg(open_modes == 0,
                "%d of %d memfds have group/other permission bits", open_modes,
                memfds);
}
END_TEST

/* The cfutures program ----------------------------------------------- */

#ifdef CF_TEST_CLI
START_TEST(test_cli_arguments_stay_literal) {
  char dir[] = "/tmp/cf_sec_XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char pwned[64];
  snprintf(pwned, sizeof pwned, "%s/pwned", dir);
  /* NUL-separated records: one holds a newline, one starts with a dash,
   * one tries each kind of shell expansion, one is 100 KiB long (the kernel
   * refuses one argument above 128 KiB). */
  size_t bigl = 100 << 10; /* a single argument may have 128 KiB */
  char *in = malloc(bigl + 4096);
  ck_assert_ptr_nonnull(in);
  int n = snprintf(in, 4096,
                   "-n%c--help%cline1\ntouch %s%c$(touch %s)%c`touch %s`%c"
                   "; touch %s%c",
                   0, 0, pwned, 0, pwned, 0, pwned, 0, pwned, 0);
  memset(in + n, 'A', bigl);
  in[n + bigl] = '\0';
  size_t inlen = (size_t)n + bigl + 1;
  char *argv[] = {CF_TEST_CLI,       "run",  "-k", "-0", "-j", "2",
                  "/usr/bin/printf", "[%s]", NULL};
  int st;
  char *out = run_capture(argv, in, inlen, &st);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
  char want[512];
  int w = snprintf(want, sizeof want,
                   "[-n][--help][line1\ntouch %s][$(touch %s)][`touch %s`]"
                   "[; touch %s]",
                   pwned, pwned, pwned, pwned);
  ck_assert_msg(strncmp(out, want, (size_t)w) == 0, "got %.200s", out);
  ck_assert_uint_eq(strlen(out), (size_t)w + bigl + 2);
  ck_assert_msg(access(pwned, F_OK) != 0, "an argument reached a shell");
  free(out);
  /* NAME=value records, LD_PRELOAD first of all, are arguments: the job
   * gets them as $0 and its environment does not change. */
  const char *lines = "LD_PRELOAD=/nonexistent/evil.so\nLD_LIBRARY_PATH=/x\n";
  char *argv3[] = {
      CF_TEST_CLI,
      "run",
      "-k",
      "/bin/sh",
      "-c",
      "echo \"[$0] ${LD_PRELOAD:-unset} ${LD_LIBRARY_PATH:-unset}\"",
      NULL};
  out = run_capture(argv3, lines, strlen(lines), &st);
  ck_assert_int_eq(WEXITSTATUS(st), 0);
  ck_assert_str_eq(out, "[LD_PRELOAD=/nonexistent/evil.so] unset unset\n"
                        "[LD_LIBRARY_PATH=/x] unset unset\n");
  free(out);
  free(in);
  rmdir(dir);
}
END_TEST
#endif

/* Every task and initializer by name, so that the suite also runs with
 * the spawning start methods (CF_TEST_START_METHOD). */
CF_TASK("sec.t_echo", t_echo)
CF_TASK("sec.t_slow_echo", t_slow_echo)
CF_TASK("sec.t_list_fds", t_list_fds)

Suite *cf_security_suite(void) {
  Suite *s = suite_create("security");
  TCase *tc = tcase_create("security");
  cf_test_tcase_timeout(tc, 60);
  cf_test_tcase_census(tc);
  tcase_add_test(tc, test_no_descriptor_leaks_into_spawned_children);
  tcase_add_test(tc, test_worker_keeps_only_its_own_descriptors);
  tcase_add_test(tc, test_shared_memory_is_anonymous_and_private);
#ifdef CF_TEST_CLI
  tcase_add_test(tc, test_cli_arguments_stay_literal);
#endif
  suite_add_tcase(s, tc);
  return s;
}
