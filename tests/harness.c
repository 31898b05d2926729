/* The test harness.
 *
 * LOCKING. A gate's mu guards its open flag and arrival count; waiters
 * sleep on its cv. Nothing else here takes a lock, and no library call is
 * made with a gate's mu held (cf_test_gate_wait_arrivals drops it between
 * polls), so gates cannot take part in a lock cycle with the library.
 */
#include "harness.h"

#include <dirent.h>
#include <stdlib.h>
#include <time.h>

static double multiplier = 1.0;

void cf_test_harness_init(void) {
  const char *m = getenv("TIMEOUT_MULTIPLIER");
  if (m != NULL && atof(m) > 0)
    multiplier = atof(m);
}

double cf_test_scale(double seconds) {
  return seconds * multiplier;
}

void cf_test_tcase_timeout(TCase *tc, double seconds) {
  tcase_set_timeout(tc, cf_test_scale(seconds));
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
