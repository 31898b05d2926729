/* SPDX-License-Identifier: MIT */
/*
 * map: Executor.map with a bounded window (Python 3.14's buffersize). At
 * most `window` tasks are submitted and not yet consumed; consuming one
 * submits the next, so memory stays bounded whatever n is. A map is used
 * by one thread at a time: no lock.
 */
#include "internal.h"

#include <stdlib.h>

struct slot {
  cf_future *f;
  int err; /* the submit's error when f is NULL */
};

struct cf_map {
  cf_executor *ex;
  cf_fn fn;
  void *const *args;
  size_t n, window;
  size_t next_submit, next_yield;
  uint64_t deadline;
  struct slot *ring;
};

void cf_map_options_init(cf_map_options *opts) {
  if (opts == NULL)
    return;
  opts->buffersize = 0;
  opts->timeout = -1;
}

static void submit_next(cf_map *m) {
  struct slot *s = &m->ring[m->next_submit % m->window];
  s->f = NULL;
  s->err = cf_submit(m->ex, m->fn, m->args[m->next_submit], &s->f);
  m->next_submit++;
}

int cf_map_new(cf_executor *ex, cf_fn fn, void *const *args, size_t n,
               const cf_map_options *opts, cf_map **out) {
  cf_map_options defaults;
  if (opts == NULL) {
    cf_map_options_init(&defaults);
    opts = &defaults;
  }
  uint64_t deadline;
  if (ex == NULL || fn == NULL || (args == NULL && n > 0) || out == NULL ||
      cf__deadline(opts->timeout, &deadline) != 0)
    return CF_EINVAL;
  size_t window = opts->buffersize;
  if (window == 0) {
    cf_executor_stats st;
    window = cf_executor_stats_get(ex, &st) == 0 && st.max_workers > 0
                 ? 2 * st.max_workers
                 : 2;
  }
  cf_map *m = calloc(1, sizeof *m);
  if (m == NULL)
    return CF_ENOMEM;
  m->ring = calloc(window, sizeof *m->ring);
  if (m->ring == NULL) {
    free(m);
    return CF_ENOMEM;
  }
  m->ex = ex;
  m->fn = fn;
  m->args = args;
  m->n = n;
  m->window = window;
  m->deadline = deadline;
  while (m->next_submit < n && m->next_submit < window) {
    submit_next(m);
    if (m->next_submit == 1 && m->ring[0].f == NULL) {
      int rc = m->ring[0].err;
      free(m->ring);
      free(m);
      return rc;
    }
  }
  *out = m;
  return 0;
}

int cf_map_next(cf_map *m, void **result, size_t *index) {
  if (m == NULL)
    return CF_EINVAL;
  if (m->next_yield == m->n)
    return CF_EOF;
  struct slot *s = &m->ring[m->next_yield % m->window];
  int rc;
  if (s->f != NULL) {
    rc = cf__future_wait_until(s->f, m->deadline);
    if (rc != 0)
      return rc; /* the item stays: a later call may still get it */
    void *value = NULL;
    rc = cf_future_result(s->f, 0, &value);
    if (result != NULL)
      *result = rc == 0 ? value : NULL;
    cf_future_release(s->f);
    s->f = NULL;
  } else {
    rc = s->err;
    if (result != NULL)
      *result = NULL;
  }
  if (index != NULL)
    *index = m->next_yield;
  m->next_yield++;
  if (m->next_submit < m->n)
    submit_next(m);
  return rc;
}

void cf_map_free(cf_map *m) {
  if (m == NULL)
    return;
  /* Cancel from the newest, so a worker does not start what is about to
   * be cancelled; then wait for what runs, since it reads args. */
  for (size_t i = m->next_submit; i-- > m->next_yield;)
    cf_future_cancel(m->ring[i % m->window].f);
  for (size_t i = m->next_yield; i < m->next_submit; i++) {
    cf_future *f = m->ring[i % m->window].f;
    if (f != NULL) {
      cf__future_wait_until(f, UINT64_MAX);
      cf_future_release(f);
    }
  }
  free(m->ring);
  free(m);
}

int cf_map_all(cf_executor *ex, cf_fn fn, void *const *args, size_t n,
               const cf_map_options *opts, void **results, int *errors) {
  if (results == NULL && n > 0)
    return CF_EINVAL;
  cf_map *m;
  int rc = cf_map_new(ex, fn, args, n, opts, &m);
  if (rc != 0)
    return rc;
  int first = 0;
  for (size_t i = 0; i < n; i++) {
    rc = cf_map_next(m, &results[i], NULL);
    if (rc == CF_ETIMEDOUT) {
      first = rc;
      break;
    }
    if (errors != NULL)
      errors[i] = rc;
    if (rc != 0 && first == 0) {
      first = rc;
      if (errors == NULL)
        break;
    }
  }
  cf_map_free(m);
  return first;
}
