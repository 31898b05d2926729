/* SPDX-License-Identifier: MIT */
/*
 * A bounded blocking queue of pointers: a ring buffer under one mutex.
 *
 * DESIGN/LOCKING
 *
 * `mu` guards every field but `capacity` (fixed at creation). Two condition
 * variables on CLOCK_MONOTONIC hang off it: `not_full` for senders and
 * `not_empty` for receivers. A sender or receiver counts itself in
 * `nsenders` / `nreceivers` while it sleeps, so the common case (nobody
 * waiting) signals nothing. Each side signals one waiter of the other side
 * per item moved; close broadcasts to both, since every waiter must see it.
 * No callback ever runs here and no other library lock is taken while `mu`
 * is held, so the channel sits at the bottom of any lock order.
 *
 * Every wait loops on its predicate (spurious wake-ups, and a second thread
 * that takes the slot or item first), against one deadline computed on
 * entry.
 */
#include "cfutures/channel.h"

#include "internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct cf_channel {
  pthread_mutex_t mu;
  pthread_cond_t not_full;
  pthread_cond_t not_empty;
  void **items;    /* ring of `capacity` slots */
  size_t capacity; /* fixed */
  size_t head;     /* index of the oldest item */
  size_t len;      /* items queued */
  size_t nsenders, nreceivers;
  bool closed;
};

int cf_channel_new(size_t capacity, cf_channel **out) {
  if (out == NULL || capacity == 0)
    return CF_EINVAL;
  if (capacity > SIZE_MAX / sizeof(void *))
    return CF_ENOMEM;
  cf_channel *ch = calloc(1, sizeof *ch);
  if (ch == NULL)
    return CF_ENOMEM;
  ch->items = malloc(capacity * sizeof(void *));
  if (ch->items == NULL) {
    free(ch);
    return CF_ENOMEM;
  }
  /* These fail only for lack of resources on Linux: report CF_ENOMEM. */
  if (pthread_mutex_init(&ch->mu, NULL) != 0)
    goto fail_mu;
  if (cf__cond_init(&ch->not_full) != 0)
    goto fail_full;
  if (cf__cond_init(&ch->not_empty) != 0)
    goto fail_empty;
  ch->capacity = capacity;
  *out = ch;
  return 0;

fail_empty:
  pthread_cond_destroy(&ch->not_full);
fail_full:
  pthread_mutex_destroy(&ch->mu);
fail_mu:
  free(ch->items);
  free(ch);
  return CF_ENOMEM;
}

static void push_locked(cf_channel *ch, void *item) {
  size_t tail = ch->head + ch->len;
  if (tail >= ch->capacity)
    tail -= ch->capacity;
  ch->items[tail] = item;
  ch->len++;
  if (ch->nreceivers > 0)
    pthread_cond_signal(&ch->not_empty);
}

static void *pop_locked(cf_channel *ch) {
  void *item = ch->items[ch->head];
  if (++ch->head == ch->capacity)
    ch->head = 0;
  ch->len--;
  if (ch->nsenders > 0)
    pthread_cond_signal(&ch->not_full);
  return item;
}

/* A sender woken by close must report it even if room appeared at the same
 * time: after close nothing is accepted. */
static int send_deadline(cf_channel *ch, void *item, uint64_t deadline,
                         bool may_wait) {
  int err = 0;
  pthread_mutex_lock(&ch->mu);
  for (;;) {
    if (ch->closed) {
      err = CF_ESHUTDOWN;
      break;
    }
    if (ch->len < ch->capacity) {
      push_locked(ch, item);
      break;
    }
    if (!may_wait) {
      err = CF_EAGAIN;
      break;
    }
    ch->nsenders++;
    err = cf__cond_wait_until(&ch->not_full, &ch->mu, deadline);
    ch->nsenders--;
    if (err != 0) {
      /* The deadline passed; a last look, since a slot or close may have
       * come with it. */
      if (ch->closed)
        err = CF_ESHUTDOWN;
      else if (ch->len < ch->capacity) {
        push_locked(ch, item);
        err = 0;
      }
      break;
    }
  }
  pthread_mutex_unlock(&ch->mu);
  return err;
}

int cf_channel_send(cf_channel *ch, void *item, double timeout) {
  uint64_t deadline;
  if (ch == NULL)
    return CF_EINVAL;
  int err = cf__deadline(timeout, &deadline);
  if (err != 0)
    return err;
  return send_deadline(ch, item, deadline, true);
}

int cf_channel_try_send(cf_channel *ch, void *item) {
  if (ch == NULL)
    return CF_EINVAL;
  return send_deadline(ch, item, 0, false);
}

static int recv_deadline(cf_channel *ch, void **item, uint64_t deadline,
                         bool may_wait) {
  int err = 0;
  pthread_mutex_lock(&ch->mu);
  for (;;) {
    if (ch->len > 0) {
      *item = pop_locked(ch);
      break;
    }
    if (ch->closed) {
      err = CF_EOF;
      break;
    }
    if (!may_wait) {
      err = CF_EAGAIN;
      break;
    }
    ch->nreceivers++;
    err = cf__cond_wait_until(&ch->not_empty, &ch->mu, deadline);
    ch->nreceivers--;
    if (err != 0) {
      if (ch->len > 0) {
        *item = pop_locked(ch);
        err = 0;
      } else if (ch->closed) {
        err = CF_EOF;
      }
      break;
    }
  }
  pthread_mutex_unlock(&ch->mu);
  return err;
}

int cf_channel_recv(cf_channel *ch, void **item, double timeout) {
  uint64_t deadline;
  if (ch == NULL || item == NULL)
    return CF_EINVAL;
  int err = cf__deadline(timeout, &deadline);
  if (err != 0)
    return err;
  return recv_deadline(ch, item, deadline, true);
}

int cf_channel_try_recv(cf_channel *ch, void **item) {
  if (ch == NULL || item == NULL)
    return CF_EINVAL;
  return recv_deadline(ch, item, 0, false);
}

int cf_channel_close(cf_channel *ch) {
  if (ch == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&ch->mu);
  if (!ch->closed) {
    ch->closed = true;
    pthread_cond_broadcast(&ch->not_full);
    pthread_cond_broadcast(&ch->not_empty);
  }
  pthread_mutex_unlock(&ch->mu);
  return 0;
}

/* The getters take the lock on a channel the caller declared const: the
 * mutex is the one mutable part, and the object itself was never const. */
bool cf_channel_closed(const cf_channel *ch) {
  if (ch == NULL)
    return false;
  cf_channel *m = (cf_channel *)ch;
  pthread_mutex_lock(&m->mu);
  bool closed = m->closed;
  pthread_mutex_unlock(&m->mu);
  return closed;
}

size_t cf_channel_len(const cf_channel *ch) {
  if (ch == NULL)
    return 0;
  cf_channel *m = (cf_channel *)ch;
  pthread_mutex_lock(&m->mu);
  size_t len = m->len;
  pthread_mutex_unlock(&m->mu);
  return len;
}

size_t cf_channel_capacity(const cf_channel *ch) {
  return ch == NULL ? 0 : ch->capacity;
}

void cf_channel_free(cf_channel *ch) {
  if (ch == NULL)
    return;
  pthread_cond_destroy(&ch->not_empty);
  pthread_cond_destroy(&ch->not_full);
  pthread_mutex_destroy(&ch->mu);
  free(ch->items);
  free(ch);
}
