/* SPDX-License-Identifier: MIT */
/*
 * Combinators (cfutures/combine.h): a future that completes when its
 * inputs decide, with no thread waiting.
 *
 * DESIGN. A record ties the inputs to the combined future "out". Each input
 * has a slot: a callback node on that input and a reference to it. The
 * node's callback records the input's outcome and, if that decides (the
 * last input for all, the first failure for fail-fast, the first input for
 * any), takes the other slots' nodes off the inputs still pending, drops
 * their references (cancelling them if asked), then completes out. Out
 * carries a node of its own, added first so that it runs before the user's
 * callbacks: if out was cancelled before anything decided, it lets the
 * inputs go the same way. The record is freed by whoever drops
 * its last reference: one per armed slot, one for out's node, one for the
 * creating call; it holds a reference to out until then.
 *
 * Out belongs to a pseudo-executor per kind (no queue, no vtable slots), so
 * that users cannot complete it and the accessors know what it is; its
 * `arg` holds n (all) or the winner's index (any). All's outcome array is
 * handed to out as its value (freed with it); a cancelled out never gets it
 * and the record frees it.
 *
 * LOCKING. rec->mu guards the slots' armed flags, the counts and the
 * decision. It is taken in input callbacks and out's callback (no library
 * lock held there) and by the creating call, which holds it while it
 * registers every slot so that no decision is taken halfway. Lock order:
 * rec->mu, then a future's stripe lock (adding and removing nodes). No user
 * code and no completion runs under rec->mu.
 */
#include "internal.h"

#include "cfutures/combine.h"

#include <stdlib.h>
#include <string.h>

enum kind { KIND_ALL, KIND_ANY, KIND_TIMEOUT };

static const struct cf__executor_vtable all_vt = {.kind = "all"};
static const struct cf__executor_vtable any_vt = {.kind = "any"};
static const struct cf__executor_vtable timeout_vt = {.kind = "with_timeout"};
static cf_executor all_ex = {.vt = &all_vt};
static cf_executor any_ex = {.vt = &any_vt};
static cf_executor timeout_ex = {.vt = &timeout_vt};

struct rec;

struct slot {
  struct rec *rec;
  cf_future *f; /* referenced while armed */
  struct cf__callback node;
  bool armed;    /* the node is on f's list (under rec->mu) */
  bool timer;    /* with_timeout's timer: cancelled whenever let go */
  bool detached; /* taken off by detach, which now owns the ref */
};

struct rec {
  pthread_mutex_t mu;
  atomic_uint refs;
  enum kind kind;
  unsigned flags;
  cf_future *out; /* referenced until the record is freed */
  struct cf__callback out_node;
  /* Under mu. */
  size_t n, left;
  bool ended;       /* out's outcome is decided, or out was cancelled */
  size_t fail_at;   /* all: lowest failed index so far (n = none) */
  int err;          /* the decided error */
  char *msg;        /* the decided error's message (copy), or NULL */
  void *value;      /* any: the winner's value */
  cf_outcome *outs; /* all: owned here until handed to out */
  struct slot slots[];
};

static void rec_unref(struct rec *r) {
  if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
    return;
  pthread_mutex_destroy(&r->mu);
  cf_future_release(r->out);
  free(r->outs);
  free(r->msg);
  free(r);
}

static int outcome_of(const cf_future *f) {
  return cf__state(f) == CF_CANCELLED ? CF_ECANCELED : f->err;
}

/* A result pointer the caller may keep after the input is gone: byte
 * results belong to their future. */
static void *value_of(const cf_future *f) {
  return f->value_free == NULL ? f->value : NULL;
}

/* A copy of f's message; NULL if it has none or memory is short (the
 * outcome matters, the message is a courtesy). */
static char *msg_of(const cf_future *f) {
  return f->msg != NULL ? cf__strdup(f->msg) : NULL;
}

/* Records input i (done) and says whether this decides out. */
static bool record_locked(struct rec *r, size_t i, const cf_future *f) {
  if (r->ended)
    return false;
  int err = outcome_of(f);
  r->left--;
  if (r->kind == KIND_TIMEOUT && r->slots[i].timer) {
    r->err = CF_ETIMEDOUT;
    return r->ended = true;
  }
  if (r->kind != KIND_ALL) {
    r->err = err;
    r->value = err == 0 ? value_of(f) : NULL;
    r->msg = err != 0 ? msg_of(f) : NULL;
    r->out->arg = (void *)(uintptr_t)i;
    return r->ended = true;
  }
  r->outs[i] = (cf_outcome){err, err == 0 ? value_of(f) : NULL};
  if (err != 0 && i < r->fail_at && !(r->flags & CF_ALL_RETURN_ERRORS)) {
    r->fail_at = i;
    r->err = err;
    free(r->msg);
    r->msg = msg_of(f);
    if (r->flags & CF_ALL_FAIL_FAST)
      return r->ended = true;
  }
  return r->ended = r->left == 0;
}

/* Takes the slots' nodes off the inputs still pending and lets those go
 * (asking them to cancel if the flags say so). Called once, with no lock
 * held, by whoever ended out: the decider before it completes out, or
 * out's callback when out was cancelled. */
static void detach(struct rec *r) {
  pthread_mutex_lock(&r->mu);
  unsigned ndetached = 0;
  for (size_t i = 0; i < r->n; i++) {
    struct slot *s = &r->slots[i];
    if (s->armed && cf__future_remove_node(s->f, &s->node)) {
      s->armed = false;
      s->detached = true;
      ndetached++;
    }
  }
  pthread_mutex_unlock(&r->mu);
  if (ndetached == 0)
    return;
  /* Only this call reads detached slots from here on. */
  for (size_t i = 0; i < r->n; i++) {
    struct slot *s = &r->slots[i];
    if (!s->detached)
      continue;
    if ((r->flags & CF_COMBINE_CANCEL_INPUTS) || s->timer)
      cf_future_request_cancel(s->f);
    cf_future_release(s->f);
  }
  /* The detached slots' references, at once: the caller holds one more,
   * so this never frees the record. */
  atomic_fetch_sub_explicit(&r->refs, ndetached, memory_order_acq_rel);
}

/* Completes out with the decided outcome; called once, by whoever decided,
 * with no lock held. The inputs left over are let go first, so a thread
 * that sees out done also sees them asked to cancel. Out may have been
 * cancelled meanwhile: then the outcome is dropped. */
static void finish(struct rec *r) {
  detach(r);
  char *msg = r->msg;
  r->msg = NULL;
  if (r->kind != KIND_ALL) {
    cf__future_complete(r->out, CF_FINISHED, r->err, r->value, msg);
    return;
  }
  cf_outcome *outs = r->outs;
  r->outs = NULL;
  if (cf__future_complete(r->out, CF_FINISHED, r->err, outs, msg) != 0)
    free(outs);
}

static void on_input_done(cf_future *f, void *userdata) {
  struct slot *s = userdata;
  struct rec *r = s->rec;
  pthread_mutex_lock(&r->mu);
  s->armed = false;
  bool decided = record_locked(r, (size_t)(s - r->slots), f);
  pthread_mutex_unlock(&r->mu);
  cf_future_release(f);
  if (decided)
    finish(r);
  rec_unref(r);
}

/* Out is done. If nothing had decided, it was cancelled: let the inputs
 * go here, before cf_future_cancel returns. */
static void on_out_done(cf_future *out, void *userdata) {
  struct rec *r = userdata;
  pthread_mutex_lock(&r->mu);
  bool cancelled = !r->ended;
  r->ended = true;
  pthread_mutex_unlock(&r->mu);
  if (cancelled)
    detach(r);
  rec_unref(r);
}

/* Builds the record and out, registers every input and returns out. */
static int combine(enum kind kind, cf_future *const *fs, size_t n,
                   unsigned flags, cf_future **out) {
  if (n > (SIZE_MAX - sizeof(struct rec)) / sizeof(struct slot) ||
      n > SIZE_MAX / sizeof(cf_outcome))
    return CF_ENOMEM;
  struct rec *r = calloc(1, sizeof *r + n * sizeof(struct slot));
  if (r == NULL)
    return CF_ENOMEM;
  if (kind == KIND_ALL && n > 0 &&
      (r->outs = malloc(n * sizeof(cf_outcome))) == NULL) {
    free(r);
    return CF_ENOMEM;
  }
  cf_executor *ex = kind == KIND_ALL   ? &all_ex
                    : kind == KIND_ANY ? &any_ex
                                       : &timeout_ex;
  cf_future *o = cf__future_alloc(ex, NULL, (void *)(uintptr_t)n);
  if (o == NULL || pthread_mutex_init(&r->mu, NULL) != 0) {
    if (o != NULL)
      cf__future_mem_free(o);
    free(r->outs);
    free(r);
    return CF_ENOMEM;
  }
  if (kind == KIND_ALL)
    o->value_free = free;
  r->kind = kind;
  r->flags = flags;
  r->out = o; /* the record's reference; the caller's is taken below */
  r->n = r->left = r->fail_at = n;
  for (size_t i = 0; i < n; i++) {
    if (r->outs != NULL)
      r->outs[i] = (cf_outcome){CF_EBUSY, NULL};
    r->slots[i].rec = r;
    r->slots[i].timer = kind == KIND_TIMEOUT && i == 1;
    r->slots[i].node =
        (struct cf__callback){.fn = on_input_done, .userdata = &r->slots[i]};
  }
  atomic_init(&r->refs, 2); /* this call and out's node */
  r->out_node = (struct cf__callback){.fn = on_out_done, .userdata = r};
  cf__future_add_node(o, &r->out_node); /* pending and private: succeeds */
  *out = cf_future_retain(o);

  pthread_mutex_lock(&r->mu);
  bool decided = n == 0;
  for (size_t i = 0; i < n && !r->ended; i++) {
    struct slot *s = &r->slots[i];
    s->f = fs[i];
    if (!cf__done(fs[i])) {
      cf_future_retain(fs[i]);
      atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
      s->armed = true;
      if (cf__future_add_node(fs[i], &s->node))
        continue;
      /* Done in the meantime. The caller's reference keeps it alive. */
      s->armed = false;
      atomic_fetch_sub_explicit(&r->refs, 1, memory_order_relaxed);
      cf_future_release(fs[i]);
    }
    decided = record_locked(r, i, fs[i]);
  }
  if (n == 0)
    r->ended = true;
  pthread_mutex_unlock(&r->mu);
  if (decided)
    finish(r);
  rec_unref(r);
  return 0;
}

static bool valid_inputs(cf_future *const *fs, size_t n) {
  if (fs == NULL && n > 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (fs[i] == NULL)
      return false;
  return true;
}

int cf_future_all(cf_future *const *fs, size_t n, unsigned flags,
                  cf_future **out) {
  const unsigned known =
      CF_ALL_FAIL_FAST | CF_ALL_RETURN_ERRORS | CF_COMBINE_CANCEL_INPUTS;
  if (out == NULL || !valid_inputs(fs, n) || (flags & ~known) ||
      ((flags & CF_ALL_FAIL_FAST) && (flags & CF_ALL_RETURN_ERRORS)))
    return CF_EINVAL;
  return combine(KIND_ALL, fs, n, flags, out);
}

int cf_future_any(cf_future *const *fs, size_t n, cf_future **out) {
  if (out == NULL || n == 0 || !valid_inputs(fs, n))
    return CF_EINVAL;
  return combine(KIND_ANY, fs, n, 0, out);
}

int cf_future_all_outcome(const cf_future *all, size_t i, void **result) {
  if (all == NULL || all->ex != &all_ex || i >= (uintptr_t)all->arg)
    return CF_EINVAL;
  uint32_t st = cf__state(all);
  if (st == CF_CANCELLED)
    return CF_ECANCELED;
  if (st != CF_FINISHED)
    return CF_ESTATE;
  const cf_outcome *o = (const cf_outcome *)all->value + i;
  if (result != NULL)
    *result = o->value;
  return o->err;
}

int cf_future_any_index(const cf_future *any, size_t *index) {
  if (any == NULL || index == NULL || any->ex != &any_ex)
    return CF_EINVAL;
  uint32_t st = cf__state(any);
  if (st == CF_CANCELLED)
    return CF_ECANCELED;
  if (st != CF_FINISHED)
    return CF_ESTATE;
  *index = (uintptr_t)any->arg;
  return 0;
}

int cf_future_with_timeout(cf_future *f, double seconds, unsigned flags,
                           cf_future **out) {
  uint64_t deadline;
  if (f == NULL || out == NULL || cf__deadline(seconds, &deadline) != 0 ||
      (flags & ~(unsigned)CF_COMBINE_CANCEL_INPUTS))
    return CF_EINVAL;
  cf_future *fs[2] = {f, NULL};
  if (deadline != UINT64_MAX && !cf__done(f)) {
    int rc = cf__timer_at(deadline, &fs[1]);
    if (rc != 0)
      return rc;
  }
  int rc = combine(KIND_TIMEOUT, fs, fs[1] != NULL ? 2 : 1, flags, out);
  if (rc != 0 && fs[1] != NULL)
    cf_future_cancel(fs[1]);
  cf_future_release(fs[1]);
  return rc;
}
