/* SPDX-License-Identifier: MIT */
/*
 * The registry of named tasks and initializers.
 *
 * DESIGN. An append-only hash table: every entry is indexed twice, by name
 * and by function, in fixed arrays of bucket heads. An entry is filled in
 * completely before it is published with a release store of a bucket
 * head, and never changes afterwards except for its `clash` flag (atomic),
 * so lookups read with acquire loads and take no lock. That also makes
 * them safe in a child forked while another thread was registering: there
 * is no lock for it to find held.
 *
 * LOCKING. One mutex, reg_mu, serialises registrations (the check for an
 * existing name and the publication). Nothing else is ever locked here.
 */
#include "cfutures/registry.h"
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 256

enum kind { K_TASK = 1, K_INIT = 2 };

struct entry {
  struct entry *next_name, *next_fn;
  void (*fn)(void);
  int kind;
  atomic_bool clash; /* a second function claimed this name */
  char name[];
};

static struct entry *_Atomic by_name[NBUCKETS];
static struct entry *_Atomic by_fn[NBUCKETS];
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;

static unsigned hash_name(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h % NBUCKETS;
}

static unsigned hash_fn(void (*fn)(void)) {
  uint64_t x = (uint64_t)(uintptr_t)fn;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (unsigned)(x % NBUCKETS);
}

static bool valid_name(const char *name) {
  size_t n = 0;
  for (const char *p = name; *p; p++, n++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
              c == '/' || c == '-';
    if (!ok || n >= CF_TASK_NAME_MAX)
      return false;
  }
  if (n == 0)
    return false;
  return strncmp(name, "cf.", 3) != 0;
}

static struct entry *find_name(const char *name) {
  struct entry *e =
      atomic_load_explicit(&by_name[hash_name(name)], memory_order_acquire);
  for (; e != NULL; e = e->next_name)
    if (strcmp(e->name, name) == 0)
      return e;
  return NULL;
}

static int add(const char *name, void (*fn)(void), int kind) {
  if (name == NULL || fn == NULL || !valid_name(name))
    return CF_EINVAL;
  int rc = 0;
  pthread_mutex_lock(&reg_mu);
  struct entry *e = find_name(name);
  if (e != NULL) {
    if (e->fn != fn || e->kind != kind) {
      atomic_store_explicit(&e->clash, true, memory_order_release);
      rc = CF_EEXIST;
    }
    pthread_mutex_unlock(&reg_mu);
    return rc;
  }
  size_t n = strlen(name);
  e = malloc(sizeof *e + n + 1);
  if (e == NULL) {
    pthread_mutex_unlock(&reg_mu);
    return CF_ENOMEM;
  }
  memcpy(e->name, name, n + 1);
  e->fn = fn;
  e->kind = kind;
  atomic_init(&e->clash, false);
  unsigned hn = hash_name(name), hf = hash_fn(fn);
  e->next_name = atomic_load_explicit(&by_name[hn], memory_order_relaxed);
  e->next_fn = atomic_load_explicit(&by_fn[hf], memory_order_relaxed);
  atomic_store_explicit(&by_fn[hf], e, memory_order_release);
  atomic_store_explicit(&by_name[hn], e, memory_order_release);
  pthread_mutex_unlock(&reg_mu);
  return 0;
}

static int lookup(const char *name, int kind, void (**fn)(void)) {
  if (name == NULL || fn == NULL)
    return CF_EINVAL;
  struct entry *e = find_name(name);
  if (e == NULL || e->kind != kind)
    return CF_ENOENT;
  if (atomic_load_explicit(&e->clash, memory_order_acquire))
    return CF_EEXIST;
  *fn = e->fn;
  return 0;
}

static const char *name_of(void (*fn)(void), int kind) {
  if (fn == NULL)
    return NULL;
  /* Newest first: the last match is the first name fn was given. */
  const char *name = NULL;
  struct entry *e =
      atomic_load_explicit(&by_fn[hash_fn(fn)], memory_order_acquire);
  for (; e != NULL; e = e->next_fn)
    if (e->fn == fn && e->kind == kind)
      name = e->name;
  return name;
}

int cf_task_register(const char *name, cf_bytes_fn fn) {
  return add(name, (void (*)(void))fn, K_TASK);
}

int cf_initializer_register(const char *name, cf_bytes_init_fn fn) {
  return add(name, (void (*)(void))fn, K_INIT);
}

/* The library's own task, known everywhere without a registration (and so
 * linked into every program that can receive it). */
static const char chunk_name[] = "cf.map_chunk";

int cf_task_lookup(const char *name, cf_bytes_fn *fn) {
  if (name != NULL && fn != NULL && strcmp(name, chunk_name) == 0) {
    *fn = cf__map_chunk_run;
    return 0;
  }
  void (*g)(void) = NULL;
  int rc = lookup(name, K_TASK, fn != NULL ? &g : NULL);
  if (rc == 0)
    *fn = (cf_bytes_fn)g;
  return rc;
}

int cf_initializer_lookup(const char *name, cf_bytes_init_fn *fn) {
  void (*g)(void) = NULL;
  int rc = lookup(name, K_INIT, fn != NULL ? &g : NULL);
  if (rc == 0)
    *fn = (cf_bytes_init_fn)g;
  return rc;
}

const char *cf_task_name(cf_bytes_fn fn) {
  if (fn == cf__map_chunk_run)
    return chunk_name;
  return name_of((void (*)(void))fn, K_TASK);
}

const char *cf_initializer_name(cf_bytes_init_fn fn) {
  return name_of((void (*)(void))fn, K_INIT);
}

int cf__task_wire_name(cf_bytes_fn fn, const char **name) {
  const char *n = cf_task_name(fn);
  if (n == NULL)
    return CF_ENOENT;
  /* A name two functions claim would resolve to neither where it lands. */
  cf_bytes_fn same;
  int rc = cf_task_lookup(n, &same);
  if (rc != 0)
    return rc;
  *name = n;
  return 0;
}

int cf_submit_named(cf_executor *ex, const char *name, const void *data,
                    size_t len, cf_future **out) {
  if (ex == NULL || name == NULL)
    return CF_EINVAL;
  cf_bytes_fn fn;
  int rc = cf_task_lookup(name, &fn);
  if (rc != 0)
    return rc;
  return cf_submit_bytes(ex, fn, data, len, out);
}
