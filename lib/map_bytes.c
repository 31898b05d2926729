/* SPDX-License-Identifier: MIT */
/*
 * cf_map_bytes: Python's Executor.map over byte tasks, on any executor that
 * takes them (process pools, MPI pools), results in input order.
 *
 * A chunk is one task whose input is [u64 fn][u64 count][u64 name_len]
 * [name] then, per item, [u64 len][bytes], and whose output is, per item,
 * [i32 err][u64 len][bytes]. The library's chunk task decodes it where it
 * runs and calls the user's function on each item: by its address (fn)
 * where the worker is a fork of the caller, by its registered name where
 * the task crosses a process image (name_len > 0). A map is used by one
 * thread at a time: no lock.
 */
#include "cfutures/registry.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int cf__map_chunk_run(const void *in, size_t len, cf_buffer *out) {
  const unsigned char *p = in, *end = p + len;
  uint64_t fnv, count, nlen;
  if (len < 24)
    return CF_EPROTO;
  memcpy(&fnv, p, 8);
  memcpy(&count, p + 8, 8);
  memcpy(&nlen, p + 16, 8);
  p += 24;
  cf_bytes_fn fn = (cf_bytes_fn)(uintptr_t)fnv;
  if (nlen > 0) {
    char name[CF_TASK_NAME_MAX + 1];
    if (nlen > CF_TASK_NAME_MAX || (uint64_t)(end - p) < nlen)
      return CF_EPROTO;
    memcpy(name, p, (size_t)nlen);
    name[nlen] = 0;
    p += nlen;
    /* Not found here: the stand-in fails the whole chunk with the
     * lookup's code and says why, as a single task would. */
    if (cf__bytes_task_find(name, &fn) != 0)
      return fn(NULL, 0, out);
  }
  cf_buffer item = CF_BUFFER_INIT;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t n;
    if ((size_t)(end - p) < 8)
      return CF_EPROTO;
    memcpy(&n, p, 8);
    p += 8;
    if ((uint64_t)(end - p) < n)
      return CF_EPROTO;
    cf_buffer_clear(&item);
    int32_t rc = fn(n ? p : (const unsigned char *)"", (size_t)n, &item);
    if (rc > 0)
      rc = CF_ETASK;
    p += n;
    uint64_t olen = rc == 0 ? item.len : 0;
    int e = cf_buffer_reserve(out, 12 + olen);
    if (e != 0) {
      cf_buffer_free(&item);
      return e;
    }
    memcpy(out->data + out->len, &rc, 4);
    memcpy(out->data + out->len + 4, &olen, 8);
    if (olen)
      memcpy(out->data + out->len + 12, item.data, olen);
    out->len += 12 + olen;
  }
  cf_buffer_free(&item);
  return 0;
}

struct cf_map_bytes {
  cf_executor *ex;
  cf_bytes_fn fn;
  const char *name; /* fn's registered name, where tasks travel by name */
  const cf_bytes *items;
  size_t n, chunksize, nchunks, window;
  uint64_t deadline;
  cf_future **fs;   /* by chunk % window */
  int *sub_err;     /* a chunk that could not be submitted */
  size_t submitted; /* chunks submitted (or failed to) */
  size_t chunk;     /* the chunk being consumed */
  size_t item;      /* next item to give */
  size_t off;       /* read position in the current chunk's output */
  cf_future *hold;  /* the last chunk, whose bytes the caller may hold */
  cf_buffer scratch;
};

void cf_map_bytes_options_init(cf_map_bytes_options *o) {
  if (o == NULL)
    return;
  o->chunksize = 1;
  o->buffersize = 0;
  o->timeout = -1;
}

static void map_submit_next(cf_map_bytes *m) {
  size_t c = m->submitted++, slot = c % m->window;
  size_t first = c * m->chunksize;
  size_t last = first + m->chunksize > m->n ? m->n : first + m->chunksize;
  m->fs[slot] = NULL;
  int rc;
  if (m->chunksize == 1) {
    rc = cf_submit_bytes(m->ex, m->fn, m->items[first].data,
                         m->items[first].len, &m->fs[slot]);
  } else {
    cf_buffer *b = &m->scratch;
    cf_buffer_clear(b);
    uint64_t fnv = (uint64_t)(uintptr_t)m->fn, count = last - first;
    uint64_t nlen = m->name ? strlen(m->name) : 0;
    rc = cf_buffer_append(b, &fnv, 8);
    if (rc == 0)
      rc = cf_buffer_append(b, &count, 8);
    if (rc == 0)
      rc = cf_buffer_append(b, &nlen, 8);
    if (rc == 0)
      rc = cf_buffer_append(b, m->name, (size_t)nlen);
    for (size_t i = first; i < last && rc == 0; i++) {
      uint64_t n = m->items[i].len;
      rc = cf_buffer_append(b, &n, 8);
      if (rc == 0)
        rc = cf_buffer_append(b, m->items[i].data, m->items[i].len);
    }
    if (rc == 0)
      rc = cf_submit_bytes(m->ex, cf__map_chunk_run, b->data, b->len,
                           &m->fs[slot]);
    if (b->cap > ((size_t)1 << 20))
      cf_buffer_free(b);
  }
  m->sub_err[slot] = rc;
}

void cf_map_bytes_free(cf_map_bytes *m) {
  if (m == NULL)
    return;
  for (size_t c = m->chunk; c < m->submitted; c++)
    if (m->fs[c % m->window] != NULL)
      cf_future_cancel(m->fs[c % m->window]);
  for (size_t c = m->chunk; c < m->submitted; c++) {
    cf_future *f = m->fs[c % m->window];
    if (f != NULL) {
      cf_future_wait(f, -1);
      cf_future_release(f);
    }
  }
  cf_future_release(m->hold);
  cf_buffer_free(&m->scratch);
  free(m->fs);
  free(m->sub_err);
  free(m);
}

int cf_map_bytes_new(cf_executor *ex, cf_bytes_fn fn, const cf_bytes *items,
                     size_t n, const cf_map_bytes_options *opts,
                     cf_map_bytes **out) {
  cf_map_bytes_options o;
  if (opts == NULL)
    cf_map_bytes_options_init(&o);
  else
    o = *opts;
  if (ex == NULL || ex->vt->submit_bytes == NULL || fn == NULL || out == NULL ||
      (items == NULL && n > 0))
    return CF_EINVAL;
  const char *name = NULL;
  if (ex->vt->by_name != NULL && ex->vt->by_name(ex)) {
    int err = cf__task_wire_name(fn, &name);
    if (err != 0)
      return err;
  }
  uint64_t deadline;
  int rc = cf__deadline(o.timeout, &deadline);
  if (rc != 0)
    return rc;
  cf_map_bytes *m = calloc(1, sizeof *m);
  if (m == NULL)
    return CF_ENOMEM;
  m->ex = ex;
  m->fn = fn;
  m->name = name;
  m->items = items;
  m->n = n;
  m->chunksize = o.chunksize > 1 ? o.chunksize : 1;
  m->nchunks = (n + m->chunksize - 1) / m->chunksize;
  /* Single items are small tasks: keep every worker's pipeline full. */
  m->window = o.buffersize ? o.buffersize
              : ex->vt->map_window != NULL
                  ? ex->vt->map_window(ex, m->chunksize)
                  : 16;
  if (m->window == 0)
    m->window = 1;
  m->deadline = deadline;
  m->fs = calloc(m->window, sizeof *m->fs);
  m->sub_err = calloc(m->window, sizeof *m->sub_err);
  if (m->fs == NULL || m->sub_err == NULL) {
    cf_map_bytes_free(m);
    return CF_ENOMEM;
  }
  while (m->submitted < m->nchunks && m->submitted < m->window)
    map_submit_next(m);
  if (m->nchunks > 0 && m->sub_err[0] != 0) {
    rc = m->sub_err[0];
    cf_map_bytes_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

int cf_map_bytes_next(cf_map_bytes *m, const void **data, size_t *len,
                      size_t *index) {
  if (m == NULL)
    return CF_EINVAL;
  cf_future_release(m->hold);
  m->hold = NULL;
  if (m->item >= m->n)
    return CF_EOF;
  size_t slot = m->chunk % m->window;
  cf_future *f = m->fs[slot];
  int rc = m->sub_err[slot];
  if (rc == 0) {
    uint64_t now = cf_now_ns();
    double left = m->deadline == UINT64_MAX ? -1
                  : m->deadline > now       ? (double)(m->deadline - now) / 1e9
                                            : 0;
    rc = cf_future_bytes(f, left, NULL, NULL); /* reads it itself */
    if (rc == CF_ETIMEDOUT && !cf_future_done(f))
      return rc;
    rc = cf_future_error(f, 0);
  }
  const void *d = "";
  size_t dl = 0;
  if (rc == 0) {
    const unsigned char *b;
    size_t blen;
    cf_future_bytes(f, 0, (const void **)&b, &blen);
    if (m->chunksize == 1) {
      d = b;
      dl = blen;
    } else {
      int32_t e;
      uint64_t n;
      if (blen - m->off < 12)
        return CF_EPROTO;
      memcpy(&e, b + m->off, 4);
      memcpy(&n, b + m->off + 4, 8);
      if (blen - m->off - 12 < n)
        return CF_EPROTO;
      rc = e;
      d = b + m->off + 12;
      dl = (size_t)n;
      m->off += 12 + (size_t)n;
    }
  }
  if (index != NULL)
    *index = m->item;
  if (rc == 0) {
    if (data != NULL)
      *data = d;
    if (len != NULL)
      *len = dl;
  }
  m->item++;
  size_t end = (m->chunk + 1) * m->chunksize;
  if (m->item >= end || m->item >= m->n) {
    /* The chunk is used up; its bytes stay valid until the next call. */
    m->hold = f;
    m->fs[slot] = NULL;
    m->chunk++;
    m->off = 0;
    if (m->submitted < m->nchunks)
      map_submit_next(m);
  }
  return rc;
}
