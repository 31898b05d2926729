/* SPDX-License-Identifier: MIT */
/*
 * Byte tasks where they run: in a process pool's worker, on an MPI pool's
 * rank. Both run one task at a time on one thread, through a recycled
 * future that carries the task's code and message (cf_task_set_message)
 * out, and both find a task by name the same way.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct cf__bytes_result *cf__bytes_result_new(const void *data, size_t len) {
  if (len > SIZE_MAX - sizeof(struct cf__bytes_result))
    return NULL;
  struct cf__bytes_result *r = malloc(sizeof *r + len);
  if (r == NULL)
    return NULL;
  r->view.data = r->bytes;
  r->view.len = len;
  r->view.cap = 0;
  if (len)
    memcpy(r->bytes, data, len);
  return r;
}

struct tramp {
  cf_bytes_fn fn;
  const void *in;
  size_t len;
  cf_buffer *out;
};

static int trampoline(void *arg, void **result) {
  struct tramp *t = arg;
  (void)result;
  return t->fn(t->in, t->len, t->out);
}

cf_future *cf__bytes_task_future(void) {
  return cf__future_alloc(NULL, trampoline, NULL);
}

int cf__bytes_task_run(cf_future *df, cf_bytes_fn fn, const void *in,
                       size_t len, cf_buffer *out, char **msg) {
  static const unsigned char empty[1];
  struct tramp tr = {fn, in != NULL ? in : empty, len, out};
  df->fn = trampoline;
  df->arg = &tr;
  df->msg = NULL;
  df->err = 0;
  df->value = NULL;
  atomic_store_explicit(&df->state, CF_RUNNING, memory_order_relaxed);
  cf__future_run_started(df);
  df->arg = NULL;
  *msg = df->msg;
  df->msg = NULL;
  return df->err;
}

static int missing(const void *in, size_t len, cf_buffer *out) {
  cf_task_set_message("the task's name is not registered here (register "
                      "it with CF_TASK, before main runs, in every process)");
  return CF_ENOENT;
}

static int ambiguous(const void *in, size_t len, cf_buffer *out) {
  cf_task_set_message("the task's name names two functions here");
  return CF_EEXIST;
}

int cf__bytes_task_find(const char *name, cf_bytes_fn *fn) {
  int rc = cf_task_lookup(name, fn);
  if (rc != 0)
    *fn = rc == CF_EEXIST ? ambiguous : missing;
  return rc;
}
