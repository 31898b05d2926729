/* SPDX-License-Identifier: MIT */
/*
 * as_completed: futures already done are queued first, in input order; the
 * others register a node that queues them when they complete. The iterator
 * holds a reference to each distinct future until it is yielded. The struct
 * is freed by whoever drops its last reference -- the owner, or a node that
 * fires while the owner frees it -- and that last drop also releases the
 * futures never yielded, once no node can still queue one.
 *
 * A future's done state is published before its callbacks run, and a
 * slow callback added before our node delays the node. So once the
 * deadline has passed, next also scans the registered futures for one that
 * is done and yields it ahead of its node, which then finds it YIELDED and
 * queues nothing. Before the deadline the ring alone is read: a scan on
 * every call would make an iteration quadratic.
 *
 * LOCKING. it->mu guards the ready ring (n slots: each distinct future
 * enters it at most once), the counts and the per-future states. It is
 * taken before a future's stripe lock (registering, unregistering), never
 * after: nodes fire with no stripe lock held.
 */
#include "internal.h"

#include <stdlib.h>

/* Per-future states, changed under mu. */
enum { NEW, QUEUED, REGISTERED, FIRED, YIELDED, REMOVED };

struct slot {
  cf_as_completed *it;
  size_t index;
};

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
  size_t *ready; /* indices into futures */
  unsigned char *state;
  struct cf__callback *nodes;
  struct slot *slots; /* node i's userdata */
};

static void it_destroy(cf_as_completed *it) {
  /* Every future not yielded is still referenced by the iterator. */
  if (it->state != NULL)
    for (size_t i = 0; i < it->nfutures; i++)
      if (it->state[i] != YIELDED)
        cf_future_release(it->futures[i]);
  free(it->futures);
  free(it->ready);
  free(it->state);
  free(it->nodes);
  free(it->slots);
  pthread_mutex_destroy(&it->mu);
  pthread_cond_destroy(&it->cv);
  free(it);
}

static void it_unref(cf_as_completed *it) {
  if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) == 1)
    it_destroy(it);
}

static void push_locked(cf_as_completed *it, size_t i, int state) {
  it->ready[(it->head + it->count) % it->cap] = i;
  it->count++;
  it->state[i] = (unsigned char)state;
}

static void node_fired(cf_future *f, void *userdata) {
  struct slot *slot = userdata;
  cf_as_completed *it = slot->it;
  pthread_mutex_lock(&it->mu);
  if (it->state[slot->index] == REGISTERED) { /* else yielded by a scan */
    push_locked(it, slot->index, FIRED);
    pthread_cond_signal(&it->cv);
  }
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
  it->slots = malloc(it->cap * sizeof *it->slots);
  ptrdiff_t m = -1;
  if (it->futures && it->ready && it->state && it->nodes && it->slots)
    m = cf__distinct(fs, n, it->futures);
  if (m < 0) {
    it_destroy(it);
    return CF_ENOMEM;
  }
  it->deadline = deadline;
  it->nfutures = it->remaining = (size_t)m;
  for (size_t i = 0; i < it->nfutures; i++) {
    cf_future_retain(it->futures[i]);
    if (cf__done(it->futures[i]))
      push_locked(it, i, QUEUED);
  }
  /* Then the rest; one that completed in between is queued here. */
  for (size_t i = 0; i < it->nfutures; i++) {
    if (it->state[i] == QUEUED)
      continue;
    it->slots[i] = (struct slot){it, i};
    it->nodes[i] =
        (struct cf__callback){.fn = node_fired, .userdata = &it->slots[i]};
    atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
    pthread_mutex_lock(&it->mu);
    if (cf__future_add_node(it->futures[i], &it->nodes[i])) {
      it->state[i] = REGISTERED;
    } else {
      push_locked(it, i, QUEUED);
      atomic_fetch_sub_explicit(&it->refs, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&it->mu);
  }
  *out = it;
  return 0;
}

/* A registered future already done whose node has not fired yet, or
 * SIZE_MAX. Its node is detached from the future (done futures hold no
 * callbacks), so it will fire; node_fired skips it once YIELDED. */
static size_t scan_done_locked(const cf_as_completed *it) {
  for (size_t i = 0; i < it->nfutures; i++)
    if (it->state[i] == REGISTERED && cf__done(it->futures[i]))
      return i;
  return SIZE_MAX;
}

int cf_as_completed_next(cf_as_completed *it, cf_future **out) {
  if (it == NULL || out == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&it->mu);
  size_t i = SIZE_MAX;
  while (it->count == 0) {
    if (it->remaining == 0) {
      pthread_mutex_unlock(&it->mu);
      return CF_EOF;
    }
    if (cf__cond_wait_until(&it->cv, &it->mu, it->deadline) == CF_ETIMEDOUT &&
        it->count == 0) {
      i = scan_done_locked(it);
      if (i == SIZE_MAX) {
        pthread_mutex_unlock(&it->mu);
        return CF_ETIMEDOUT;
      }
      break;
    }
  }
  if (i == SIZE_MAX) {
    i = it->ready[it->head];
    it->head = (it->head + 1) % it->cap;
    it->count--;
  }
  cf_future *f = it->futures[i];
  it->state[i] = YIELDED;
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
  /* Unregister what has not fired. A node that fires meanwhile blocks on
   * mu, then queues its future (released when the iterator is destroyed)
   * and drops its own reference. */
  size_t removed = 0;
  pthread_mutex_lock(&it->mu);
  for (size_t i = 0; i < it->nfutures; i++) {
    if (it->state[i] == REGISTERED &&
        cf__future_remove_node(it->futures[i], &it->nodes[i])) {
      it->state[i] = REMOVED;
      removed++;
    }
  }
  pthread_mutex_unlock(&it->mu);
  while (removed-- > 0)
    it_unref(it);
  it_unref(it);
}
