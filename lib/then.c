/* SPDX-License-Identifier: MIT */
/*
 * Continuations (cf_future_then). A record ties the antecedent to the
 * continuation's future; it has two owners, the callback on the antecedent
 * (which starts the continuation) and the callback on the continuation
 * (which fires when it is done, run or cancelled), and the last one frees it.
 * No lock: the reference count orders the two.
 */
#include "internal.h"

#include <stdlib.h>

struct then_rec {
  atomic_int refs;
  cf_then_fn fn;
  void *arg;
  cf_future *prev; /* referenced until the record is freed */
  cf_future *cont; /* likewise */
  struct cf__callback prev_node, cont_node;
};

static void rec_release(struct then_rec *r) {
  if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
    return;
  cf_future_release(r->prev);
  cf_future_release(r->cont);
  free(r);
}

static int trampoline(void *arg, void **result) {
  struct then_rec *r = arg;
  return r->fn(r->prev, r->arg, result);
}

static void on_prev_done(cf_future *prev, void *userdata) {
  struct then_rec *r = userdata;
  cf_future *cont = r->cont;
  cf_executor *ex = cont->ex;
  if (cf__done(cont)) {
    /* cancelled while it waited */
  } else if (ex == &cf__inline_executor) {
    if (cf__future_try_start(cont))
      cf__future_run_started(cont);
  } else {
    cf_future_retain(cont); /* the queue's reference */
    int rc = cf__executor_submit_future(ex, cont);
    if (rc != 0) {
      cf_future_release(cont);
      cf__future_complete(
          cont, CF_FINISHED, rc, NULL,
          cf__strdup("the continuation could not be submitted"));
    }
  }
  rec_release(r);
}

static void on_cont_done(cf_future *cont, void *userdata) {
  rec_release(userdata);
}

int cf_future_then(cf_future *f, cf_executor *executor, cf_then_fn fn,
                   void *arg, cf_future **out) {
  if (f == NULL || fn == NULL || out == NULL)
    return CF_EINVAL;
  if (executor != NULL &&
      (!executor->vt->takes_fn || executor->vt->submit == NULL))
    return CF_EINVAL;
  struct then_rec *r = calloc(1, sizeof *r);
  if (r == NULL)
    return CF_ENOMEM;
  cf_future *cont = cf__future_alloc(
      executor != NULL ? executor : &cf__inline_executor, trampoline, r);
  if (cont == NULL) {
    free(r);
    return CF_ENOMEM;
  }
  atomic_init(&r->refs, 2);
  r->fn = fn;
  r->arg = arg;
  r->prev = cf_future_retain(f);
  r->cont = cf_future_retain(cont);
  r->cont_node = (struct cf__callback){.fn = on_cont_done, .userdata = r};
  r->prev_node = (struct cf__callback){.fn = on_prev_done, .userdata = r};
  *out = cont;
  /* cont is pending and private until *out is read: this cannot fail. */
  cf__future_add_node(cont, &r->cont_node);
  if (!cf__future_add_node(f, &r->prev_node))
    on_prev_done(f, r);
  return 0;
}
