/* SPDX-License-Identifier: MIT */
/* The test harness.
 *
 * LOCKING. A gate's mu guards its open flag and arrival count; waiters
 * sleep on its cv. Nothing else here takes a lock, and no library call is
 * made with a gate's mu held (cf_test_gate_wait_arrivals drops it between
 * polls), so gates cannot take part in a lock cycle with the library.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double multiplier = 1.0;

void cf_test_harness_init(void) {
  const char *m = getenv("TIMEOUT_MULTIPLIER");
  if (m != NULL && atof(m) > 0)
    multiplier = atof(m);
}

double cf_test_scale(double seconds) {
  return seconds * multiplier;
}

static void watchdog_attach(TCase *tc, double seconds);

void cf_test_tcase_timeout(TCase *tc, double seconds) {
  tcase_set_timeout(tc, cf_test_scale(seconds));
  watchdog_attach(tc, cf_test_scale(seconds));
}

static int count_dir(const char *path) {
  DIR *d = opendir(path);
  if (d == NULL)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* opendir's own descriptor is counted by both calls alike. */
int cf_test_count_fds(void) {
  return count_dir("/proc/self/fd");
}
static void *noop_thread(void *arg) {
  return arg;
}

int cf_test_count_threads(void) {
  /* ThreadSanitizer starts a background thread of its own with the first
   * pthread_create of a process: start it before the first count, so it is
   * part of every baseline. */
  static bool warmed;
  if (CF_TEST_TSAN && !warmed) {
    pthread_t t;
    if (pthread_create(&t, NULL, noop_thread, NULL) == 0)
      pthread_join(t, NULL);
    warmed = true;
  }
  return count_dir("/proc/self/task");
}

int cf_test_settle_threads(int want, double timeout) {
  uint64_t start = cf_now_ns();
  int n;
  while ((n = cf_test_count_threads()) > want &&
         cf_test_elapsed(start) < cf_test_scale(timeout))
    cf_test_sleep_ms(1);
  return n;
}

void cf_test_sleep_ms(double ms) {
  struct timespec ts = {(time_t)(ms / 1000),
                        (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

double cf_test_elapsed(uint64_t start_ns) {
  return (double)(cf_now_ns() - start_ns) / 1e9;
}

long cf_test_stress_count(long base) {
  const char *s = getenv("CF_STRESS_SCALE");
  if (s != NULL && atof(s) > 0)
    base = (long)((double)base / atof(s));
  if (CF_TEST_TSAN)
    base /= 4;
  return base < 1 ? 1 : base;
}

void cf_test_gate_init(cf_test_gate *g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->open = false;
  g->arrived = 0;
}

void cf_test_gate_destroy(cf_test_gate *g) {
  pthread_cond_destroy(&g->cv);
  pthread_mutex_destroy(&g->mu);
}

void cf_test_gate_open(cf_test_gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

void cf_test_gate_pass(cf_test_gate *g) {
  pthread_mutex_lock(&g->mu);
  g->arrived++;
  pthread_cond_broadcast(&g->cv);
  while (!g->open)
    pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

int cf_test_gate_arrivals(cf_test_gate *g) {
  pthread_mutex_lock(&g->mu);
  int n = g->arrived;
  pthread_mutex_unlock(&g->mu);
  return n;
}

bool cf_test_gate_wait_arrivals(cf_test_gate *g, int k, double timeout) {
  uint64_t start = cf_now_ns();
  pthread_mutex_lock(&g->mu);
  while (g->arrived < k && cf_test_elapsed(start) < timeout) {
    pthread_mutex_unlock(&g->mu);
    cf_test_sleep_ms(1);
    pthread_mutex_lock(&g->mu);
  }
  bool ok = g->arrived >= k;
  pthread_mutex_unlock(&g->mu);
  return ok;
}

int cf_test_task_identity(void *arg, void **result) {
  *result = arg;
  return 0;
}

int cf_test_task_fail(void *arg, void **result) {
  (void)result;
  return (int)(intptr_t)arg;
}

int cf_test_task_gate(void *arg, void **result) {
  cf_test_gate_pass(arg);
  *result = arg;
  return 0;
}

int cf_test_task_sleep(void *arg, void **result) {
  cf_test_sleep_ms((double)(intptr_t)arg);
  *result = arg;
  return 0;
}

int cf_test_task_count(void *arg, void **result) {
  atomic_fetch_add((atomic_int *)arg, 1);
  *result = NULL;
  return 0;
}

bool cf_test_poll(bool (*pred)(void *), void *ctx, double timeout) {
  uint64_t start = cf_now_ns();
  double limit = cf_test_scale(timeout);
  while (!pred(ctx)) {
    if (cf_test_elapsed(start) > limit)
      return pred(ctx);
    cf_test_sleep_ms(1);
  }
  return true;
}

cf_executor *cf_test_pool(int max_workers) {
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  o.max_workers = max_workers;
  cf_executor *ex = NULL;
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), 0);
  ck_assert_ptr_nonnull(ex);
  return ex;
}

/* Watchdog and census -------------------------------------------------- */

/* Check runs fixtures without telling them which TCase they belong to, so
 * each distinct timeout gets a slot and a setup function of its own. */
enum { WATCH_SLOTS = 16 };
static double watch_seconds[WATCH_SLOTS];
static int watch_nslots;
static cf_test_census watch_base;

static void put(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0)
      return;
    s += w;
    n -= (size_t)w;
  }
}

static void put_num(long v) {
  char b[24];
  int i = (int)sizeof b - 1;
  b[i] = '\0';
  bool neg = v < 0;
  unsigned long u = neg ? 0 - (unsigned long)v : (unsigned long)v;
  do {
    b[--i] = (char)('0' + u % 10);
    u /= 10;
  } while (u && i > 1);
  if (neg)
    b[--i] = '-';
  put(b + i);
}

/* Copies a small /proc file to stderr (async-signal-safe). */
static void put_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  char b[2048];
  ssize_t n;
  while ((n = read(fd, b, sizeof b)) > 0)
    if (write(2, b, (size_t)n) < 0)
      break;
  close(fd);
}

/* Without gdb: each thread's name, state and kernel stack (where
 * readable), from /proc, with raw getdents64 (opendir may allocate). */
static void dump_proc_tasks(void) {
  int dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return;
  char buf[4096];
  long n;
  while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      unsigned short reclen;
      memcpy(&reclen, buf + off + 16, sizeof reclen);
      const char *name = buf + off + 19;
      off += reclen;
      if (name[0] == '.')
        continue;
      char path[96] = "/proc/self/task/";
      strcat(path, name);
      size_t base = strlen(path);
      put("--- thread ");
      put(name);
      put(": ");
      strcpy(path + base, "/stat");
      put_file(path);
      strcpy(path + base, "/wchan");
      put("wchan: ");
      put_file(path);
      put("\n");
      strcpy(path + base, "/stack");
      put_file(path);
    }
  }
  close(dfd);
}

static void watchdog_fire(int sig) {
  (void)sig;
  put("\n=== watchdog: test still running near its timeout; stacks of pid ");
  put_num(getpid());
  put(":\n");
  char pid[16] = "";
  long p = getpid();
  int i = 15;
  do {
    pid[--i] = (char)('0' + p % 10);
    p /= 10;
  } while (p);
  const char *pidstr = pid + i;
  /* A test that lowered RLIMIT_NOFILE would leave gdb (and the /proc
   * fallback) without descriptors. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* Let the child attach even where Yama restricts ptrace to ancestors. */
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  pid_t child = fork();
  if (child == 0) {
    dup2(2, 1);
    execlp("gdb", "gdb", "-nx", "-batch", "-p", pidstr, "-ex",
           "set pagination off", "-ex", "thread apply all bt", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  if (child > 0)
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
      ;
  if (child < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    dump_proc_tasks();
  put("=== watchdog: aborting the test\n");
  signal(SIGABRT, SIG_DFL);
  raise(SIGABRT);
}

static void watchdog_arm(double seconds) {
  /* Check scales its own timeouts by CK_TIMEOUT_MULTIPLIER. */
  const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
  if (m != NULL && atof(m) > 0)
    seconds *= atof(m);
  unsigned at = (unsigned)(seconds * 0.8);
  if (at < 1)
    at = 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = watchdog_fire;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  alarm(at);
}

static void watch_teardown(void) {
  alarm(0);
  char msg[256];
  if (!cf_test_census_settle(&watch_base, 2, msg, sizeof msg)) {
    put("census: ");
    put(msg);
    put("\n");
  }
}

#define WATCH_SETUP(i)                                                         \
  static void watch_setup_##i(void) {                                          \
    cf_test_census_take(&watch_base);                                          \
    watchdog_arm(watch_seconds[i]);                                            \
  }
WATCH_SETUP(0)
WATCH_SETUP(1)
WATCH_SETUP(2)
WATCH_SETUP(3)
WATCH_SETUP(4)
WATCH_SETUP(5)
WATCH_SETUP(6)
WATCH_SETUP(7)
WATCH_SETUP(8)
WATCH_SETUP(9)
WATCH_SETUP(10)
WATCH_SETUP(11)
WATCH_SETUP(12)
WATCH_SETUP(13)
WATCH_SETUP(14)
WATCH_SETUP(15)
static void (*const watch_setups[WATCH_SLOTS])(void) = {
    watch_setup_0,  watch_setup_1,  watch_setup_2,  watch_setup_3,
    watch_setup_4,  watch_setup_5,  watch_setup_6,  watch_setup_7,
    watch_setup_8,  watch_setup_9,  watch_setup_10, watch_setup_11,
    watch_setup_12, watch_setup_13, watch_setup_14, watch_setup_15};

/* Only where Check forks each test: without fork a test's SIGALRM would
 * outlive it, and aborting would end every test of the run. */
static void watchdog_attach(TCase *tc, double seconds) {
  const char *fork_mode = getenv("CK_FORK");
  if (fork_mode != NULL && strcmp(fork_mode, "no") == 0)
    return;
  int slot = -1;
  for (int i = 0; i < watch_nslots; i++)
    if (watch_seconds[i] == seconds)
      slot = i;
  if (slot < 0 && watch_nslots < WATCH_SLOTS) {
    slot = watch_nslots++;
    watch_seconds[slot] = seconds;
  }
  if (slot >= 0)
    tcase_add_checked_fixture(tc, watch_setups[slot], watch_teardown);
}

int cf_test_children(pid_t *out, int max) {
  /* Children of every thread of this process. */
  int dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return -1;
  DIR *d = fdopendir(dfd);
  if (d == NULL) {
    close(dfd);
    return -1;
  }
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[320];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
    FILE *f = fopen(path, "re");
    if (f == NULL)
      continue;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
      if (n < max)
        out[n] = (pid_t)pid;
      n++;
    }
    fclose(f);
  }
  closedir(d);
  return n;
}

int cf_test_count_children(void) {
  return cf_test_children(NULL, 0);
}

void cf_test_census_take(cf_test_census *c) {
  c->fds = cf_test_count_fds();
  c->threads = cf_test_count_threads();
  c->children = cf_test_count_children();
  c->shm = count_dir("/dev/shm");
}

bool cf_test_census_settle(const cf_test_census *base, double timeout,
                           char *msg, size_t msglen) {
  uint64_t start = cf_now_ns();
  cf_test_census now;
  for (;;) {
    cf_test_census_take(&now);
    bool same = now.fds == base->fds && now.threads <= base->threads &&
                now.children <= base->children && now.shm <= base->shm;
    if (same) {
      if (msg != NULL && msglen > 0)
        msg[0] = '\0';
      return true;
    }
    if (cf_test_elapsed(start) > cf_test_scale(timeout))
      break;
    cf_test_sleep_ms(5);
  }
  if (msg != NULL)
    snprintf(msg, msglen,
             "fds %d -> %d, threads %d -> %d, children %d -> %d, "
             "/dev/shm %d -> %d",
             base->fds, now.fds, base->threads, now.threads, base->children,
             now.children, base->shm, now.shm);
  return false;
}

static cf_test_census strict_base;

static void census_setup(void) {
  cf_test_census_take(&strict_base);
}

static void census_teardown(void) {
  char msg[256];
  bool same = cf_test_census_settle(&strict_base, 5, msg, sizeof msg);
  ck_assert_msg(same, "left behind: %s", msg);
}

void cf_test_tcase_census(TCase *tc) {
  tcase_add_checked_fixture(tc, census_setup, census_teardown);
}

int cf_test_main(const cf_test_suite *suites, size_t n, int argc, char **argv) {
  /* A spawned pool worker takes its role here and never returns. */
  cf_spawn_main();
  /* The process pool suites run again with the other start methods. */
  const char *method = getenv("CF_TEST_START_METHOD");
  if (method != NULL && strcmp(method, "spawn") == 0)
    cf_set_start_method(CF_START_SPAWN);
  else if (method != NULL && strcmp(method, "forkserver") == 0)
    cf_set_start_method(CF_START_FORKSERVER);
  SRunner *sr = NULL;
  for (size_t i = 0; i < n; i++) {
    if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
      continue;
    if (sr == NULL)
      sr = srunner_create(suites[i].make());
    else
      srunner_add_suite(sr, suites[i].make());
  }
  if (sr == NULL) {
    fprintf(stderr, "no suite named %s\n", argc > 1 ? argv[1] : "");
    return 2;
  }
  cf_test_harness_init();
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
