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
 *
 * cf_map_bytes_next returns 0 for every item it consumes (its outcome in
 * *err), non-zero only about the iterator (CF_EOF, or CF_ETIMEDOUT past the
 * deadline with the next item not done), as cf_map_next. A chunk
 * whose output cannot be decoded fails its remaining items with CF_EPROTO
 * and the map goes on with the next chunk. Chunk inputs are copied at
 * submit, so cf_map_bytes_free need not wait for running chunks.
 *
 * Inputs come from an array or from the caller's generator (a stream),
 * pulled one chunk at a time when a chunk is submitted: each item is
 * copied into the chunk (or, one item a task, by cf_submit_bytes) before
 * the generator is called again, so the generator may reuse one buffer,
 * and at most the window's chunks are held. The generator runs only in
 * cf_map_bytes_new_stream and cf_map_bytes_next: on the thread using the
 * map, never concurrently, never again after CF_EOF or an error.
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
  const char *name;      /* fn's registered name, where tasks travel by name */
  const cf_bytes *items; /* the array form's inputs; NULL for a stream */
  size_t n;              /* the array form's length */
  cf_map_bytes_source_fn gen;
  void *gen_userdata;
  size_t pulled; /* inputs taken so far */
  int src_end;   /* 0 while inputs remain; else CF_EOF or the generator's */
  size_t chunksize, window;
  uint64_t deadline;
  cf_future **fs;   /* by chunk % window */
  int *sub_err;     /* a chunk that could not be submitted */
  size_t *count;    /* items in each chunk, by chunk % window */
  size_t submitted; /* chunks submitted (or failed to) */
  size_t chunk;     /* the chunk being consumed */
  size_t item;      /* next item to give */
  size_t in_chunk;  /* items of the current chunk given */
  size_t off;       /* read position in the current chunk's output */
  int chunk_err;    /* the current chunk's output is malformed */
  int ended;        /* once non-zero, what every call returns */
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

/* The next input: 0, CF_EOF, or the generator's error (which sticks). */
static int pull(cf_map_bytes *m, const void **data, size_t *len) {
  if (m->src_end != 0)
    return m->src_end;
  int rc = 0;
  if (m->gen == NULL) {
    if (m->pulled == m->n) {
      rc = CF_EOF;
    } else {
      *data = m->items[m->pulled].data;
      *len = m->items[m->pulled].len;
    }
  } else {
    *data = NULL;
    *len = 0;
    rc = m->gen(m->gen_userdata, data, len);
    if (rc > 0)
      rc = CF_ETASK;
    if (rc == 0 && *data == NULL && *len > 0)
      rc = CF_EINVAL;
  }
  if (rc != 0) {
    m->src_end = rc;
    return rc;
  }
  if (*data == NULL)
    *data = "";
  m->pulled++;
  return 0;
}

/* Pulls up to chunksize inputs and submits them as one task; false if the
 * inputs had ended (nothing submitted). */
static bool map_submit_next(cf_map_bytes *m) {
  size_t slot = m->submitted % m->window;
  const void *d;
  size_t len;
  if (pull(m, &d, &len) != 0)
    return false;
  m->fs[slot] = NULL;
  m->count[slot] = 1;
  m->submitted++;
  int rc;
  if (m->chunksize == 1) {
    rc = cf_submit_bytes(m->ex, m->fn, d, len, &m->fs[slot]);
  } else {
    cf_buffer *b = &m->scratch;
    cf_buffer_clear(b);
    uint64_t fnv = (uint64_t)(uintptr_t)m->fn, count = 0;
    uint64_t nlen = m->name ? strlen(m->name) : 0;
    rc = cf_buffer_append(b, &fnv, 8);
    if (rc == 0)
      rc = cf_buffer_append(b, &count, 8); /* patched below */
    if (rc == 0)
      rc = cf_buffer_append(b, &nlen, 8);
    if (rc == 0)
      rc = cf_buffer_append(b, m->name, (size_t)nlen);
    /* Every input of the chunk is pulled, even after an error, so the
     * chunk's items are all accounted for. */
    for (;;) {
      uint64_t n = len;
      if (rc == 0)
        rc = cf_buffer_append(b, &n, 8);
      if (rc == 0)
        rc = cf_buffer_append(b, d, len);
      count++;
      if (count == m->chunksize || pull(m, &d, &len) != 0)
        break;
    }
    m->count[slot] = (size_t)count;
    if (rc == 0) {
      memcpy(b->data + 8, &count, 8);
      rc = cf_submit_bytes(m->ex, cf__map_chunk_run, b->data, b->len,
                           &m->fs[slot]);
    }
    if (b->cap > ((size_t)1 << 20))
      cf_buffer_free(b);
  }
  m->sub_err[slot] = rc;
  return true;
}

void cf_map_bytes_free(cf_map_bytes *m) {
  if (m == NULL)
    return;
  /* Newest first, so a worker does not start what is about to be
   * cancelled; a running chunk finishes in its worker, unread. */
  for (size_t c = m->submitted; c-- > m->chunk;)
    if (m->fs[c % m->window] != NULL)
      cf_future_cancel(m->fs[c % m->window]);
  for (size_t c = m->chunk; c < m->submitted; c++)
    cf_future_release(m->fs[c % m->window]);
  cf_future_release(m->hold);
  cf_buffer_free(&m->scratch);
  free(m->fs);
  free(m->sub_err);
  free(m->count);
  free(m);
}

static int map_bytes_new(cf_executor *ex, cf_bytes_fn fn, const cf_bytes *items,
                         size_t n, cf_map_bytes_source_fn gen,
                         void *gen_userdata, const cf_map_bytes_options *opts,
                         cf_map_bytes **out) {
  cf_map_bytes_options o;
  if (opts == NULL)
    cf_map_bytes_options_init(&o);
  else
    o = *opts;
  if (ex == NULL || ex->vt->submit_bytes == NULL || fn == NULL || out == NULL)
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
  m->gen = gen;
  m->gen_userdata = gen_userdata;
  m->chunksize = o.chunksize > 1 ? o.chunksize : 1;
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
  m->count = calloc(m->window, sizeof *m->count);
  if (m->fs == NULL || m->sub_err == NULL || m->count == NULL) {
    cf_map_bytes_free(m);
    return CF_ENOMEM;
  }
  while (m->submitted < m->window && map_submit_next(m))
    ;
  if (m->submitted > 0 && m->sub_err[0] != 0) {
    rc = m->sub_err[0];
    cf_map_bytes_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

int cf_map_bytes_new(cf_executor *ex, cf_bytes_fn fn, const cf_bytes *items,
                     size_t n, const cf_map_bytes_options *opts,
                     cf_map_bytes **out) {
  if (items == NULL && n > 0)
    return CF_EINVAL;
  return map_bytes_new(ex, fn, items, n, NULL, NULL, opts, out);
}

int cf_map_bytes_new_stream(cf_executor *ex, cf_bytes_fn fn,
                            cf_map_bytes_source_fn next, void *userdata,
                            const cf_map_bytes_options *opts,
                            cf_map_bytes **out) {
  if (next == NULL)
    return CF_EINVAL;
  return map_bytes_new(ex, fn, NULL, 0, next, userdata, opts, out);
}

/* Decodes the next item of a chunk's output b[0..blen) at *off: its code,
 * then its bytes. CF_EPROTO if the output ends early. */
static int chunk_item(const unsigned char *b, size_t blen, size_t *off,
                      int *err, const void **d, size_t *dl) {
  int32_t e;
  uint64_t n;
  if (blen - *off < 12)
    return CF_EPROTO;
  memcpy(&e, b + *off, 4);
  memcpy(&n, b + *off + 4, 8);
  if (blen - *off - 12 < n)
    return CF_EPROTO;
  *err = e;
  *d = b + *off + 12;
  *dl = (size_t)n;
  *off += 12 + (size_t)n;
  return 0;
}

int cf_map_bytes_next(cf_map_bytes *m, const void **data, size_t *len, int *err,
                      size_t *index) {
  if (m == NULL || err == NULL)
    return CF_EINVAL;
  cf_future_release(m->hold);
  m->hold = NULL;
  if (m->ended == 0 && m->chunk == m->submitted && !map_submit_next(m))
    m->ended = m->src_end; /* every item read was given */
  if (m->ended != 0)
    return m->ended;
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
      return CF_ETIMEDOUT; /* nothing consumed; a later call may get it */
    rc = cf_future_error(f, 0);
  }
  const void *d = NULL;
  size_t dl = 0;
  if (rc == 0) {
    const unsigned char *b;
    size_t blen;
    cf_future_bytes(f, 0, (const void **)&b, &blen);
    if (m->chunksize == 1) {
      d = b;
      dl = blen;
    } else if (m->chunk_err == 0) {
      m->chunk_err = chunk_item(b, blen, &m->off, &rc, &d, &dl);
    }
    if (m->chunk_err != 0)
      rc = m->chunk_err;
  }
  *err = rc;
  if (index != NULL)
    *index = m->item;
  if (data != NULL)
    *data = rc == 0 ? d : NULL;
  if (len != NULL)
    *len = rc == 0 ? dl : 0;
  m->item++;
  if (++m->in_chunk == m->count[slot]) {
    /* The chunk is used up; its bytes stay valid until the next call. */
    m->hold = f;
    m->fs[slot] = NULL;
    m->chunk++;
    m->in_chunk = 0;
    m->off = 0;
    m->chunk_err = 0;
    map_submit_next(m);
  }
  return 0;
}
