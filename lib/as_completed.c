/*
 * as_completed: futures already done are queued first, in input order; the
 * others register a node that queues them when they complete. The iterator
 * holds a reference to each distinct future until it is yielded. The struct
 * is freed by whoever drops its last reference -- the owner, or a node that
 * fires while the owner frees it -- and that last drop also releases the
 * futures never yielded, once no node can still queue one.
 *
 * LOCKING. it->mu guards the ready ring (n slots: each distinct future
 * enters it at most once), the counts and the per-future states. It is
 * taken before a future's stripe lock (registering), never after.
 */
#include "internal.h"

#include <stdlib.h>

enum { NEW, QUEUED, REGISTERED, REMOVED };

struct cf_as_completed {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_size_t refs;
  uint64_t deadline;
  size_t nfutures;    /* distinct futures */
  size_t cap;         /* ring size, >= 1 */
  size_t remaining;   /* not yet yielded */
  size_t head, count; /* ready ring */
  cf_future **futures;
  cf_future **ready;
  unsigned char *state;
  struct cf__callback *nodes;
};

static void it_destroy(cf_as_completed *it) {
  if (it->ready != NULL)
    for (size_t k = 0; k < it->count; k++)
      cf_future_release(it->ready[(it->head + k) % it->cap]);
  if (it->state != NULL)
    for (size_t i = 0; i < it->nfutures; i++)
      if (it->state[i] == REMOVED)
        cf_future_release(it->futures[i]);
  free(it->futures);
  free(it->ready);
  free(it->state);
  free(it->nodes);
  pthread_mutex_destroy(&it->mu);
  pthread_cond_destroy(&it->cv);
  free(it);
}

static void it_unref(cf_as_completed *it) {
  if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) == 1)
    it_destroy(it);
}

static void push_locked(cf_as_completed *it, cf_future *f) {
  it->ready[(it->head + it->count) % it->cap] = f;
  it->count++;
}

static void node_fired(cf_future *f, void *userdata) {
  cf_as_completed *it = userdata;
  pthread_mutex_lock(&it->mu);
  push_locked(it, f);
  pthread_cond_signal(&it->cv);
  pthread_mutex_unlock(&it->mu);
  it_unref(it);
}

int cf_as_completed_new(cf_future *const *fs, size_t n, double timeout,
                        cf_as_completed **out) {
  uint64_t deadline;
  if ((fs == NULL && n > 0) || out == NULL ||
      cf__deadline(timeout, &deadline) != 0)
    return CF_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (fs[i] == NULL)
      return CF_EINVAL;
  cf_as_completed *it = calloc(1, sizeof *it);
  if (it == NULL)
    return CF_ENOMEM;
  pthread_mutex_init(&it->mu, NULL);
  cf__cond_init(&it->cv);
  atomic_init(&it->refs, 1);
  it->cap = n ? n : 1;
  it->futures = malloc(it->cap * sizeof *it->futures);
  it->ready = malloc(it->cap * sizeof *it->ready);
  it->state = calloc(it->cap, 1);
  it->nodes = malloc(it->cap * sizeof *it->nodes);
  ptrdiff_t m = -1;
  if (it->futures && it->ready && it->state && it->nodes)
    m = cf__distinct(fs, n, it->futures);
  if (m < 0) {
    it_destroy(it);
    return CF_ENOMEM;
  }
  it->deadline = deadline;
  it->nfutures = it->remaining = (size_t)m;
  for (size_t i = 0; i < it->nfutures; i++) {
    cf_future_retain(it->futures[i]);
    if (cf__done(it->futures[i])) {
      push_locked(it, it->futures[i]);
      it->state[i] = QUEUED;
    }
  }
  /* Then the rest; one that completed in between is queued here. */
  for (size_t i = 0; i < it->nfutures; i++) {
    if (it->state[i] == QUEUED)
      continue;
    it->nodes[i] = (struct cf__callback){.fn = node_fired, .userdata = it};
    atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
    pthread_mutex_lock(&it->mu);
    if (cf__future_add_node(it->futures[i], &it->nodes[i])) {
      it->state[i] = REGISTERED;
    } else {
      push_locked(it, it->futures[i]);
      it->state[i] = QUEUED;
      atomic_fetch_sub_explicit(&it->refs, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&it->mu);
  }
  *out = it;
  return 0;
}

int cf_as_completed_next(cf_as_completed *it, cf_future **out) {
  if (it == NULL || out == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&it->mu);
  while (it->count == 0) {
    if (it->remaining == 0) {
      pthread_mutex_unlock(&it->mu);
      return CF_EOF;
    }
    if (cf__cond_wait_until(&it->cv, &it->mu, it->deadline) == CF_ETIMEDOUT &&
        it->count == 0) {
      pthread_mutex_unlock(&it->mu);
      return CF_ETIMEDOUT;
    }
  }
  cf_future *f = it->ready[it->head];
  it->head = (it->head + 1) % it->cap;
  it->count--;
  it->remaining--;
  pthread_mutex_unlock(&it->mu);
  *out = f; /* the iterator's reference becomes the caller's */
  return 0;
}

size_t cf_as_completed_remaining(const cf_as_completed *it) {
  if (it == NULL)
    return 0;
  cf_as_completed *w = (cf_as_completed *)it;
  pthread_mutex_lock(&w->mu);
  size_t r = w->remaining;
  pthread_mutex_unlock(&w->mu);
  return r;
}

void cf_as_completed_free(cf_as_completed *it) {
  if (it == NULL)
    return;
  for (size_t i = 0; i < it->nfutures; i++) {
    if (it->state[i] == REGISTERED &&
        cf__future_remove_node(it->futures[i], &it->nodes[i])) {
      it->state[i] = REMOVED;
      it_unref(it);
    }
  }
  it_unref(it);
}
