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

double cf_test_scale(double seconds) { return seconds * multiplier; }

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
int cf_test_count_fds(void) { return count_dir("/proc/self/fd"); }
int cf_test_count_threads(void) { return count_dir("/proc/self/task"); }

void cf_test_sleep_ms(double ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};
  while (nanosleep(&ts, &ts) != 0)
    ;
}
