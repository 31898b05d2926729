/* SPDX-License-Identifier: MIT */
/* The one clock of the library: CLOCK_MONOTONIC, so a wall-clock jump never
 * makes a wait return early or late. Timeouts become one absolute deadline
 * at the API boundary; every wait loops on its predicate up to it. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

uint64_t cf_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int cf_cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int cf__deadline(double timeout, uint64_t *deadline) {
  if (isnan(timeout))
    return CF_EINVAL;
  if (timeout < 0 || timeout > 1e9) { /* beyond ~31 years is forever */
    *deadline = UINT64_MAX;
    return 0;
  }
  *deadline = cf_now_ns() + (uint64_t)(timeout * 1e9);
  return 0;
}

void cf__deadline_timespec(uint64_t deadline, struct timespec *ts) {
  ts->tv_sec = (time_t)(deadline / 1000000000u);
  ts->tv_nsec = (long)(deadline % 1000000000u);
}

int cf__cond_init(pthread_cond_t *cv) {
  pthread_condattr_t attr;
  int rc = pthread_condattr_init(&attr);
  if (rc != 0)
    return -rc;
  rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (rc == 0)
    rc = pthread_cond_init(cv, &attr);
  pthread_condattr_destroy(&attr);
  return -rc;
}

int cf__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                        uint64_t deadline) {
  if (deadline == UINT64_MAX) {
    pthread_cond_wait(cv, mu);
    return 0;
  }
  if (cf_now_ns() >= deadline)
    return CF_ETIMEDOUT;
  struct timespec ts;
  cf__deadline_timespec(deadline, &ts);
  return pthread_cond_timedwait(cv, mu, &ts) == ETIMEDOUT ? CF_ETIMEDOUT : 0;
}
