/* SPDX-License-Identifier: MIT */
/*
 * map: Executor.map with a bounded window (Python 3.14's buffersize). At
 * most `window` tasks are submitted and not yet consumed; consuming one
 * submits the next, so memory stays bounded whatever n is. A map is used
 * by one thread at a time: no lock.
 *
 * cf_map_next returns 0 for every item it consumes, whatever the item's
 * outcome (given apart, in *err); a non-zero return is about the
 * iterator alone: CF_EOF (sticks) or CF_ETIMEDOUT (past the deadline, the
 * next item is not done yet; nothing consumed). cf_map_free does not wait:
 * items still running finish on their executor, and their results go to the
 * options' discard from a done callback.
 *
 * Inputs come from an array or from the caller's generator (a stream).
 * The generator is called only from cf_map_new_stream and cf_map_next, so
 * on the thread using the map, never concurrently, and never again once
 * it returned CF_EOF or an error. Only the window's items are ever pulled
 * ahead of the consumer.
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
  void *const *args; /* the array form's inputs; NULL for a stream */
  size_t n;          /* the array form's length */
  cf_map_source_fn gen;
  void *gen_userdata;
  int src_end; /* 0 while inputs remain; else CF_EOF or the generator's code */
  size_t window;
  size_t next_submit, next_yield;
  uint64_t deadline;
  int ended; /* once non-zero, what every call returns */
  void (*discard)(void *result, void *userdata);
  void *discard_userdata;
  struct slot *ring;
};

/* Shared by the done callbacks of the items a freed map left running. */
struct discard_ctx {
  atomic_size_t refs;
  void (*fn)(void *result, void *userdata);
  void *userdata;
};

void cf_map_options_init(cf_map_options *opts) {
  if (opts == NULL)
    return;
  opts->buffersize = 0;
  opts->timeout = -1;
  opts->discard = NULL;
  opts->discard_userdata = NULL;
}

/* Takes the next input and submits it; false once the inputs ended. */
static bool submit_next(cf_map *m) {
  if (m->src_end != 0)
    return false;
  void *arg = NULL;
  if (m->gen == NULL) {
    if (m->next_submit == m->n) {
      m->src_end = CF_EOF;
      return false;
    }
    arg = m->args[m->next_submit];
  } else {
    int rc = m->gen(m->gen_userdata, &arg);
    if (rc != 0) {
      m->src_end = rc > 0 ? CF_ETASK : rc;
      return false;
    }
  }
  struct slot *s = &m->ring[m->next_submit % m->window];
  s->f = NULL;
  s->err = cf_submit(m->ex, m->fn, arg, &s->f);
  m->next_submit++;
  return true;
}

static int map_new(cf_executor *ex, cf_fn fn, void *const *args, size_t n,
                   cf_map_source_fn gen, void *gen_userdata,
                   const cf_map_options *opts, cf_map **out) {
  cf_map_options defaults;
  if (opts == NULL) {
    cf_map_options_init(&defaults);
    opts = &defaults;
  }
  uint64_t deadline;
  if (ex == NULL || fn == NULL || out == NULL ||
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
  m->gen = gen;
  m->gen_userdata = gen_userdata;
  m->window = window;
  m->deadline = deadline;
  m->discard = opts->discard;
  m->discard_userdata = opts->discard_userdata;
  while (m->next_submit < window && submit_next(m)) {
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

int cf_map_new(cf_executor *ex, cf_fn fn, void *const *args, size_t n,
               const cf_map_options *opts, cf_map **out) {
  if (args == NULL && n > 0)
    return CF_EINVAL;
  return map_new(ex, fn, args, n, NULL, NULL, opts, out);
}

int cf_map_new_stream(cf_executor *ex, cf_fn fn, cf_map_source_fn next,
                      void *userdata, const cf_map_options *opts,
                      cf_map **out) {
  if (next == NULL)
    return CF_EINVAL;
  return map_new(ex, fn, NULL, 0, next, userdata, opts, out);
}

int cf_map_next(cf_map *m, void **result, int *err, size_t *index) {
  if (m == NULL || err == NULL)
    return CF_EINVAL;
  if (m->ended == 0 && m->next_yield == m->next_submit && !submit_next(m))
    m->ended = m->src_end; /* every item read was given */
  if (m->ended != 0)
    return m->ended;
  struct slot *s = &m->ring[m->next_yield % m->window];
  void *value = NULL;
  int rc = s->err; /* a failed submit fails its item */
  if (s->f != NULL) {
    if (cf__future_wait_until(s->f, m->deadline) != 0)
      return CF_ETIMEDOUT; /* nothing consumed; a later call may get it */
    rc = cf_future_result(s->f, 0, &value);
    cf_future_release(s->f);
    s->f = NULL;
  }
  *err = rc;
  if (result != NULL)
    *result = rc == 0 ? value : NULL;
  if (index != NULL)
    *index = m->next_yield;
  m->next_yield++;
  submit_next(m);
  return 0;
}

static void discard_ctx_unref(struct discard_ctx *ctx) {
  if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) == 1)
    free(ctx);
}

static void discard_done(cf_future *f, void *userdata) {
  struct discard_ctx *ctx = userdata;
  void *value = NULL;
  if (cf_future_result(f, 0, &value) == 0)
    ctx->fn(value, ctx->userdata);
  discard_ctx_unref(ctx);
}

void cf_map_free(cf_map *m) {
  if (m == NULL)
    return;
  /* Cancel from the newest, so a worker does not start what is about to
   * be cancelled. What runs keeps running; its future keeps itself alive
   * on the executor. */
  for (size_t i = m->next_submit; i-- > m->next_yield;)
    if (m->ring[i % m->window].f != NULL)
      cf_future_cancel(m->ring[i % m->window].f);
  struct discard_ctx *ctx = NULL;
  if (m->discard != NULL && m->next_yield < m->next_submit) {
    ctx = malloc(sizeof *ctx);
    if (ctx != NULL) {
      atomic_init(&ctx->refs, 1);
      ctx->fn = m->discard;
      ctx->userdata = m->discard_userdata;
    }
  }
  bool slow = ctx == NULL; /* out of memory: discard by waiting */
  for (size_t i = m->next_yield; i < m->next_submit; i++) {
    cf_future *f = m->ring[i % m->window].f;
    if (f == NULL)
      continue;
    if (m->discard != NULL) {
      if (!slow) {
        atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
        if (cf_future_on_done(f, discard_done, ctx) != 0) {
          atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_relaxed);
          slow = true;
        }
      }
      if (slow) {
        /* Without a callback, a result is discarded only by waiting. */
        cf__future_wait_until(f, UINT64_MAX);
        void *value = NULL;
        if (cf_future_result(f, 0, &value) == 0)
          m->discard(value, m->discard_userdata);
      }
    }
    cf_future_release(f);
  }
  if (ctx != NULL)
    discard_ctx_unref(ctx);
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
  size_t i = 0;
  for (; i < n; i++) {
    int err;
    rc = cf_map_next(m, &results[i], &err, NULL);
    if (rc != 0)
      break;
    if (errors != NULL)
      errors[i] = err;
    if (err != 0 && first == 0) {
      first = err;
      if (errors == NULL)
        break;
    }
  }
  if (rc == CF_ETIMEDOUT) {
    first = rc;
    for (; i < n; i++) {
      results[i] = NULL;
      if (errors != NULL)
        errors[i] = rc;
    }
  }
  cf_map_free(m);
  return first;
}
