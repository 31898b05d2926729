/* SPDX-License-Identifier: MIT */
/*
 * Task groups (a nursery): every task submitted through a group is waited
 * on together; in fail-fast mode the first failure cancels the pending
 * siblings and raises the cancel token of the running ones.
 *
 * LOCKING. g->mu guards the member list, the outstanding count and the
 * failure state. Done callbacks take it; cancelling siblings (which runs
 * their callbacks, re-entering this file) happens with it released. A task
 * stays outstanding until its callback has finished touching the group, so
 * cf_group_free, which waits for outstanding == 0, never frees the group
 * under a running callback. Members are only prepended, never removed
 * before the group is freed, so a snapshot of the head is safe to walk
 * unlocked.
 */
#include "internal.h"

#include <stdlib.h>

struct member {
  struct member *next;
  cf_future *f;
  cf_group *g;
  struct cf__callback node;
};

struct cf_group {
  cf_executor *ex;
  unsigned flags;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct member *members;
  size_t outstanding;
  int first_err;
  bool failed, closed;
};

int cf_group_new(cf_executor *ex, unsigned flags, cf_group **out) {
  if (ex == NULL || out == NULL || (flags & ~(unsigned)CF_GROUP_FAIL_FAST))
    return CF_EINVAL;
  cf_group *g = calloc(1, sizeof *g);
  if (g == NULL)
    return CF_ENOMEM;
  g->ex = ex;
  g->flags = flags;
  pthread_mutex_init(&g->mu, NULL);
  cf__cond_init(&g->cv);
  *out = g;
  return 0;
}

static void cancel_members(struct member *m) {
  for (; m != NULL; m = m->next)
    if (!cf__done(m->f))
      cf_future_request_cancel(m->f);
}

static void member_done(cf_future *f, void *userdata) {
  struct member *m = userdata;
  cf_group *g = m->g;
  bool is_failure = cf__state(f) == CF_FINISHED && f->err != 0;
  pthread_mutex_lock(&g->mu);
  bool trigger = false;
  if (is_failure && !g->failed) {
    g->failed = true;
    g->first_err = f->err;
    trigger = g->flags & CF_GROUP_FAIL_FAST;
  }
  struct member *snapshot = g->members;
  pthread_mutex_unlock(&g->mu);
  if (trigger)
    cancel_members(snapshot);
  pthread_mutex_lock(&g->mu);
  if (--g->outstanding == 0)
    pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

int cf_group_submit(cf_group *g, cf_fn fn, void *arg, cf_future **out) {
  if (g == NULL || fn == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&g->mu);
  int rc = g->failed && (g->flags & CF_GROUP_FAIL_FAST) ? CF_ECANCELED
           : g->closed                                  ? CF_ESTATE
                                                        : 0;
  pthread_mutex_unlock(&g->mu);
  if (rc != 0)
    return rc;
  struct member *m = calloc(1, sizeof *m);
  if (m == NULL)
    return CF_ENOMEM;
  rc = cf_submit(g->ex, fn, arg, &m->f);
  if (rc != 0) {
    free(m);
    return rc;
  }
  m->g = g;
  m->node = (struct cf__callback){.fn = member_done, .userdata = m};
  pthread_mutex_lock(&g->mu);
  m->next = g->members;
  g->members = m;
  g->outstanding++;
  bool late = g->failed && (g->flags & CF_GROUP_FAIL_FAST);
  pthread_mutex_unlock(&g->mu);
  if (!cf__future_add_node(m->f, &m->node))
    member_done(m->f, m);
  else if (late) /* raced a failure's sweep */
    cf_future_request_cancel(m->f);
  if (out != NULL)
    *out = cf_future_retain(m->f);
  return 0;
}

int cf_group_wait(cf_group *g, double timeout) {
  uint64_t deadline;
  if (g == NULL || cf__deadline(timeout, &deadline) != 0)
    return CF_EINVAL;
  pthread_mutex_lock(&g->mu);
  int rc = 0;
  while (g->outstanding > 0) {
    if (cf__cond_wait_until(&g->cv, &g->mu, deadline) == CF_ETIMEDOUT &&
        g->outstanding > 0) {
      rc = CF_ETIMEDOUT;
      break;
    }
  }
  if (rc == 0) {
    rc = g->first_err;
    g->closed = true;
  }
  pthread_mutex_unlock(&g->mu);
  return rc;
}

int cf_group_cancel(cf_group *g) {
  if (g == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&g->mu);
  struct member *snapshot = g->members;
  pthread_mutex_unlock(&g->mu);
  cancel_members(snapshot);
  return 0;
}

void cf_group_free(cf_group *g) {
  if (g == NULL)
    return;
  pthread_mutex_lock(&g->mu);
  bool unfinished = g->outstanding > 0;
  pthread_mutex_unlock(&g->mu);
  if (unfinished)
    cf_group_cancel(g);
  pthread_mutex_lock(&g->mu);
  while (g->outstanding > 0)
    pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
  struct member *m = g->members;
  while (m != NULL) {
    struct member *next = m->next;
    cf_future_release(m->f);
    free(m);
    m = next;
  }
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
  free(g);
}
