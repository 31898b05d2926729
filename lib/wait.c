/* SPDX-License-Identifier: MIT */
/*
 * Waiting on many futures (Python's wait). ALL_COMPLETED waits on each
 * future in turn against the shared deadline: it sleeps at most once per
 * future still running, and usually far less, with nothing to register.
 * The other modes register one node per pending future on a heap waiter;
 * a completing future's node counts it and signals. The waiter is freed by
 * whoever drops its last reference -- the caller, or a node that fires
 * while the caller is already leaving -- so a late callback never touches
 * freed memory.
 *
 * LOCKING. waiter->mu guards its counts; it is taken inside a future's
 * callback (no library lock held there) and by the waiting thread.
 */
#include "internal.h"

#include <stdlib.h>

struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_size_t refs;
  size_t ndone, nfailed;
  bool cancelled_fails;
  struct cf__callback nodes[];
};

static void waiter_unref(struct waiter *w) {
  if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1)
    return;
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
}

static bool failed(const cf_future *f, bool cancelled_fails) {
  uint32_t st = cf__state(f);
  return (st == CF_FINISHED && f->err != 0) ||
         (st == CF_CANCELLED && cancelled_fails);
}

static void node_fired(cf_future *f, void *userdata) {
  struct waiter *w = userdata;
  pthread_mutex_lock(&w->mu);
  w->ndone++;
  if (failed(f, w->cancelled_fails))
    w->nfailed++;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  waiter_unref(w);
}

static bool met(int mode, size_t ndone, size_t nfailed, size_t n) {
  switch (mode) {
  case CF_FIRST_COMPLETED:
    return ndone > 0;
  case CF_FIRST_EXCEPTION:
    return nfailed > 0 || ndone == n;
  default:
    return ndone == n;
  }
}

int cf__wait_many(cf_future *const *fs, size_t n, uint64_t deadline, int mode,
                  bool cancelled_fails) {
  if (mode == CF_ALL_COMPLETED) {
    for (size_t i = 0; i < n; i++) {
      int rc = cf__future_wait_until(fs[i], deadline);
      if (rc != 0)
        return rc;
    }
    return 0;
  }
  size_t ndone = 0, nfailed = 0;
  for (size_t i = 0; i < n; i++) {
    if (cf__done(fs[i])) {
      ndone++;
      nfailed += failed(fs[i], cancelled_fails);
    }
  }
  if (met(mode, ndone, nfailed, n))
    return 0;
  if (deadline != UINT64_MAX && cf_now_ns() >= deadline)
    return CF_ETIMEDOUT;

  struct waiter *w = malloc(sizeof *w + n * sizeof w->nodes[0]);
  if (w == NULL)
    return CF_ENOMEM;
  pthread_mutex_init(&w->mu, NULL);
  cf__cond_init(&w->cv);
  atomic_init(&w->refs, 1);
  w->cancelled_fails = cancelled_fails;
  w->ndone = w->nfailed = 0;
  /* Count afresh: each future is either registered (and counted when it
   * fires) or found done now. */
  size_t already = 0, already_failed = 0;
  for (size_t i = 0; i < n; i++) {
    w->nodes[i] = (struct cf__callback){.fn = node_fired, .userdata = w};
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
    if (!cf__future_add_node(fs[i], &w->nodes[i])) {
      atomic_fetch_sub_explicit(&w->refs, 1, memory_order_relaxed);
      w->nodes[i].userdata = NULL; /* not registered */
      already++;
      already_failed += failed(fs[i], cancelled_fails);
    }
  }
  int rc = 0;
  pthread_mutex_lock(&w->mu);
  while (!met(mode, already + w->ndone, already_failed + w->nfailed, n)) {
    if (cf__cond_wait_until(&w->cv, &w->mu, deadline) == CF_ETIMEDOUT &&
        !met(mode, already + w->ndone, already_failed + w->nfailed, n)) {
      rc = CF_ETIMEDOUT;
      break;
    }
  }
  pthread_mutex_unlock(&w->mu);
  for (size_t i = 0; i < n; i++) {
    if (w->nodes[i].userdata != NULL &&
        cf__future_remove_node(fs[i], &w->nodes[i]))
      waiter_unref(w);
  }
  waiter_unref(w);
  return rc;
}

/* Open addressing on pointers: fast enough that deduplicating 100,000
 * futures costs a few ns each. */
ptrdiff_t cf__distinct(cf_future *const *fs, size_t n, cf_future **out) {
  size_t cap = 16;
  while (cap < 2 * n)
    cap <<= 1;
  cf_future **set = calloc(cap, sizeof *set);
  if (set == NULL)
    return -1;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    uintptr_t h = (uintptr_t)fs[i];
    h = (h >> 4) * 0x9E3779B97F4A7C15ull;
    size_t j = (size_t)(h >> 20) & (cap - 1);
    while (set[j] != NULL && set[j] != fs[i])
      j = (j + 1) & (cap - 1);
    if (set[j] == NULL) {
      set[j] = fs[i];
      out[m++] = fs[i];
    }
  }
  free(set);
  return (ptrdiff_t)m;
}

int cf_wait(cf_future *const *fs, size_t n, double timeout,
            cf_return_when return_when, cf_future **done, size_t *ndone,
            cf_future **not_done, size_t *nnot_done) {
  uint64_t deadline;
  if ((fs == NULL && n > 0) || cf__deadline(timeout, &deadline) != 0 ||
      (return_when != CF_FIRST_COMPLETED && return_when != CF_FIRST_EXCEPTION &&
       return_when != CF_ALL_COMPLETED) ||
      (done != NULL && ndone == NULL) ||
      (not_done != NULL && nnot_done == NULL))
    return CF_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (fs[i] == NULL)
      return CF_EINVAL;
  int rc = n == 0 ? 0 : cf__wait_many(fs, n, deadline, (int)return_when, false);
  if (rc != 0 && rc != CF_ETIMEDOUT)
    return rc;
  if (done == NULL && not_done == NULL && ndone == NULL && nnot_done == NULL)
    return rc;
  cf_future **distinct = malloc((n ? n : 1) * sizeof *distinct);
  ptrdiff_t m = distinct == NULL ? -1 : cf__distinct(fs, n, distinct);
  if (m < 0) {
    free(distinct);
    return CF_ENOMEM;
  }
  /* One snapshot decides each future's side, so both lists agree. */
  size_t d = 0, nd = 0;
  for (ptrdiff_t i = 0; i < m; i++) {
    if (cf__done(distinct[i])) {
      if (done != NULL)
        done[d] = distinct[i];
      d++;
    } else {
      if (not_done != NULL)
        not_done[nd] = distinct[i];
      nd++;
    }
  }
  free(distinct);
  if (ndone != NULL)
    *ndone = d;
  if (nnot_done != NULL)
    *nnot_done = nd;
  return rc;
}
