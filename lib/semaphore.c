/* SPDX-License-Identifier: MIT */
/*
 * A counting semaphore: a count under a mutex, and a CLOCK_MONOTONIC
 * condition variable for the waiters.
 *
 * DESIGN/LOCKING
 *
 * `mu` guards `count` and `nwaiters`. An acquirer that finds the count at 0
 * counts itself in `nwaiters` and sleeps on `cv`; release signals one
 * waiter only when one sleeps, so an uncontended release costs a lock and
 * an unlock. A woken acquirer re-checks the count (a third thread may have
 * taken the permit first, or the wake-up was spurious), up to the one
 * deadline computed on entry. No other library lock is ever taken while
 * `mu` is held and no callback runs here.
 *
 * POSIX sem_t is not used: sem_timedwait measures on CLOCK_REALTIME, so a
 * wall-clock jump would make waits return early or late.
 */
#include "cfutures/semaphore.h"

#include "internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct cf_semaphore {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t count;    /* free permits */
  size_t nwaiters; /* acquirers asleep on cv */
};

int cf_semaphore_new(size_t initial, cf_semaphore **out) {
  if (out == NULL)
    return CF_EINVAL;
  cf_semaphore *s = calloc(1, sizeof *s);
  if (s == NULL)
    return CF_ENOMEM;
  /* These fail only for lack of resources on Linux: report CF_ENOMEM. */
  if (pthread_mutex_init(&s->mu, NULL) != 0) {
    free(s);
    return CF_ENOMEM;
  }
  if (cf__cond_init(&s->cv) != 0) {
    pthread_mutex_destroy(&s->mu);
    free(s);
    return CF_ENOMEM;
  }
  s->count = initial;
  *out = s;
  return 0;
}

static int acquire_deadline(cf_semaphore *s, uint64_t deadline, bool may_wait) {
  int err = 0;
  pthread_mutex_lock(&s->mu);
  while (s->count == 0) {
    if (!may_wait) {
      err = CF_EAGAIN;
      break;
    }
    s->nwaiters++;
    err = cf__cond_wait_until(&s->cv, &s->mu, deadline);
    s->nwaiters--;
    if (err != 0) {
      /* A permit released as the deadline passed is still taken. */
      if (s->count > 0)
        err = 0;
      break;
    }
  }
  if (err == 0)
    s->count--;
  pthread_mutex_unlock(&s->mu);
  return err;
}

int cf_semaphore_acquire(cf_semaphore *s, double timeout) {
  uint64_t deadline;
  if (s == NULL)
    return CF_EINVAL;
  int err = cf__deadline(timeout, &deadline);
  if (err != 0)
    return err;
  return acquire_deadline(s, deadline, true);
}

int cf_semaphore_try_acquire(cf_semaphore *s) {
  if (s == NULL)
    return CF_EINVAL;
  return acquire_deadline(s, 0, false);
}

int cf_semaphore_release(cf_semaphore *s) {
  if (s == NULL)
    return CF_EINVAL;
  int err = 0;
  pthread_mutex_lock(&s->mu);
  if (s->count == SIZE_MAX) {
    err = CF_EINVAL;
  } else {
    s->count++;
    if (s->nwaiters > 0)
      pthread_cond_signal(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  return err;
}

/* Locks a semaphore the caller declared const: the mutex is its one
 * mutable part, and the object itself was never const. */
size_t cf_semaphore_value(const cf_semaphore *s) {
  if (s == NULL)
    return 0;
  cf_semaphore *m = (cf_semaphore *)s;
  pthread_mutex_lock(&m->mu);
  size_t count = m->count;
  pthread_mutex_unlock(&m->mu);
  return count;
}

void cf_semaphore_free(cf_semaphore *s) {
  if (s == NULL)
    return;
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
}
