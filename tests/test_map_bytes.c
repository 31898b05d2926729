/* SPDX-License-Identifier: MIT */
/* cf_map_bytes' iterator contract on an executor that needs no fork: each
 * byte task runs on the submitting thread and one chunk's output can be
 * cut short, as a corrupted worker would send it. A malformed chunk fails
 * its remaining items and the map goes on. */
#include "harness.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* A byte executor that runs each task inline. The chunk numbered `cut`
 * has its output cut to `keep` bytes. */
typedef struct {
  cf_executor ex;
  int submitted;
  int cut;
  size_t keep;
} inline_ex;

static int inline_submit_bytes(cf_executor *ex, cf_bytes_fn fn,
                               const void *data, size_t len,
                               const double *timeout, cf_future **out) {
  (void)timeout;
  inline_ex *ie = (inline_ex *)ex;
  cf_buffer b = CF_BUFFER_INIT;
  int rc = fn(data, len, &b);
  if (ie->submitted++ == ie->cut && b.len > ie->keep)
    b.len = ie->keep;
  cf_future *f = cf__future_alloc(ex, NULL, NULL);
  ck_assert_ptr_nonnull(f);
  struct cf__bytes_result *res = NULL;
  if (rc == 0) {
    res = cf__bytes_result_new(b.data, b.len);
    ck_assert_ptr_nonnull(res);
  }
  f->value_free = free;
  cf__future_complete(f, CF_FINISHED, rc, res, NULL);
  cf_buffer_free(&b);
  if (out != NULL)
    *out = f;
  else
    cf_future_release(f);
  return 0;
}

static const struct cf__executor_vtable inline_vt = {
    .kind = "inline bytes",
    .submit_bytes = inline_submit_bytes,
};

static void inline_init(inline_ex *ie, int cut, size_t keep) {
  memset(ie, 0, sizeof *ie);
  ie->ex.vt = &inline_vt;
  ie->cut = cut;
  ie->keep = keep;
}

/* Doubles a u32. */
static int t_double(const void *in, size_t len, cf_buffer *out) {
  uint32_t v;
  if (len != sizeof v)
    return CF_EINVAL;
  memcpy(&v, in, sizeof v);
  v *= 2;
  return cf_buffer_append(out, &v, sizeof v);
}

enum { N = 9, CHUNK = 3 };

static uint32_t vals[N];
static cf_bytes items[N];

static void items_init(void) {
  for (uint32_t i = 0; i < N; i++) {
    vals[i] = i;
    items[i] = (cf_bytes){&vals[i], sizeof vals[i]};
  }
}

/* Chunk 1 (items 3..5) is cut inside item 4's header: item 3 is whole,
 * items 4 and 5 fail CF_EPROTO, each consumed in turn; chunk 2 is fine. */
START_TEST(test_malformed_chunk_moves_on) {
  items_init();
  inline_ex ie;
  inline_init(&ie, 1, 16 + 5); /* item 3 = [i32][u64][4 bytes] = 16 */
  cf_map_bytes_options o;
  cf_map_bytes_options_init(&o);
  o.chunksize = CHUNK;
  cf_map_bytes *m;
  ck_assert_int_eq(cf_map_bytes_new(&ie.ex, t_double, items, N, &o, &m), 0);
  int calls = 0;
  const void *d;
  size_t n, idx, next = 0;
  int err, rc;
  while ((rc = cf_map_bytes_next(m, &d, &n, &err, &idx)) == 0) {
    ck_assert_int_lt(++calls, 2 * N); /* never spins on one item */
    ck_assert_uint_eq(idx, next++);
    if (idx == 4 || idx == 5) {
      ck_assert_int_eq(err, CF_EPROTO);
      ck_assert_ptr_null(d);
      ck_assert_uint_eq(n, 0);
      continue;
    }
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(n, 4);
    uint32_t v;
    memcpy(&v, d, 4);
    ck_assert_uint_eq(v, 2 * idx);
  }
  ck_assert_int_eq(rc, CF_EOF);
  ck_assert_uint_eq(next, N);
  ck_assert_int_eq(cf_map_bytes_next(m, &d, &n, &err, &idx), CF_EOF);
  cf_map_bytes_free(m);
}
END_TEST

/* Items that fail have their own outcome; the call still returns 0. */
START_TEST(test_item_errors_are_outcomes) {
  items_init();
  vals[2] = UINT32_MAX;
  items[2].len = 2; /* t_double refuses it */
  for (size_t chunk = 1; chunk <= CHUNK; chunk += CHUNK - 1) {
    inline_ex ie;
    inline_init(&ie, -1, 0);
    cf_map_bytes_options o;
    cf_map_bytes_options_init(&o);
    o.chunksize = chunk;
    cf_map_bytes *m;
    ck_assert_int_eq(cf_map_bytes_new(&ie.ex, t_double, items, N, &o, &m), 0);
    int err;
    size_t idx;
    for (size_t i = 0; i < N; i++) {
      ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, &idx), 0);
      ck_assert_uint_eq(idx, i);
      ck_assert_int_eq(err, i == 2 ? CF_EINVAL : 0);
    }
    ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, &idx), CF_EOF);
    ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, NULL, &idx), CF_EINVAL);
    cf_map_bytes_free(m);
  }
}
END_TEST

/* A byte generator that hands out every item from one buffer, overwritten
 * at each call: the map must have copied the previous item. */
typedef struct {
  uint32_t next, n, fail_at;
  int fail_rc;
  uint32_t buf;
  int calls, calls_after_end;
  bool ended;
  pthread_t owner;
  bool other_thread;
  const size_t *consumed;
  size_t max_ahead;
} bgen;

static int bgen_next(void *userdata, const void **data, size_t *len) {
  bgen *g = userdata;
  g->calls++;
  if (!pthread_equal(pthread_self(), g->owner))
    g->other_thread = true;
  if (g->ended)
    g->calls_after_end++;
  if (g->next == g->fail_at || g->next == g->n) {
    g->ended = true;
    return g->next == g->fail_at ? g->fail_rc : CF_EOF;
  }
  g->buf = g->next++;
  *data = &g->buf;
  *len = sizeof g->buf;
  if (g->consumed != NULL && g->next - *g->consumed > g->max_ahead)
    g->max_ahead = g->next - *g->consumed;
  return 0;
}

static void bgen_init(bgen *g, uint32_t n) {
  *g = (bgen){.n = n, .fail_at = UINT32_MAX, .owner = pthread_self()};
}

/* Results in order for every chunking, partial last chunk included; at
 * most the window's chunks pulled ahead; the generator runs on the
 * consumer's thread only, and not after its end. */
START_TEST(test_stream_in_order) {
  enum { M = 50 };
  size_t chunks[] = {1, 3, 4, 7, 64};
  for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++) {
    inline_ex ie;
    inline_init(&ie, -1, 0);
    size_t consumed = 0;
    bgen g;
    bgen_init(&g, M);
    g.consumed = &consumed;
    cf_map_bytes_options o;
    cf_map_bytes_options_init(&o);
    o.chunksize = chunks[k];
    o.buffersize = 2;
    cf_map_bytes *m;
    ck_assert_int_eq(
        cf_map_bytes_new_stream(&ie.ex, t_double, bgen_next, &g, &o, &m), 0);
    const void *d;
    size_t n, idx;
    int err, rc;
    while ((rc = cf_map_bytes_next(m, &d, &n, &err, &idx)) == 0) {
      ck_assert_uint_eq(idx, consumed);
      ck_assert_int_eq(err, 0);
      ck_assert_uint_eq(n, 4);
      uint32_t v;
      memcpy(&v, d, 4);
      ck_assert_uint_eq(v, 2 * idx);
      consumed++;
    }
    ck_assert_int_eq(rc, CF_EOF);
    ck_assert_uint_eq(consumed, M);
    /* Two chunks held, and the one being refilled in the consuming call. */
    ck_assert_uint_le(g.max_ahead, 2 * chunks[k] + 1);
    ck_assert(!g.other_thread);
    ck_assert_int_eq(g.calls_after_end, 0);
    ck_assert_int_eq(cf_map_bytes_next(m, &d, &n, &err, &idx), CF_EOF);
    cf_map_bytes_free(m);
  }
}
END_TEST

/* A generator error: the items pulled before it are given (a chunk being
 * filled goes short), then its code, for good. */
START_TEST(test_stream_generator_error) {
  for (size_t chunk = 1; chunk <= 4; chunk += 3) {
    for (uint32_t at = 0; at < 9; at += 4) {
      inline_ex ie;
      inline_init(&ie, -1, 0);
      bgen g;
      bgen_init(&g, 100);
      g.fail_at = at;
      g.fail_rc = -4343;
      cf_map_bytes_options o;
      cf_map_bytes_options_init(&o);
      o.chunksize = chunk;
      cf_map_bytes *m;
      ck_assert_int_eq(
          cf_map_bytes_new_stream(&ie.ex, t_double, bgen_next, &g, &o, &m), 0);
      int err, rc;
      size_t idx, k = 0;
      while ((rc = cf_map_bytes_next(m, NULL, NULL, &err, &idx)) == 0) {
        ck_assert_uint_eq(idx, k++);
        ck_assert_int_eq(err, 0);
      }
      ck_assert_int_eq(rc, -4343);
      ck_assert_uint_eq(k, at);
      ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, &idx), -4343);
      ck_assert_int_eq(g.calls_after_end, 0);
      cf_map_bytes_free(m);
    }
  }
}
END_TEST

static int gen_null_data(void *userdata, const void **data, size_t *len) {
  (void)userdata;
  *data = NULL;
  *len = 3;
  return 0;
}

START_TEST(test_stream_invalid) {
  inline_ex ie;
  inline_init(&ie, -1, 0);
  bgen g;
  bgen_init(&g, 0);
  cf_map_bytes *m = (cf_map_bytes *)(uintptr_t)0x1;
  ck_assert_int_eq(
      cf_map_bytes_new_stream(&ie.ex, t_double, NULL, &g, NULL, &m), CF_EINVAL);
  ck_assert_int_eq(
      cf_map_bytes_new_stream(NULL, t_double, bgen_next, &g, NULL, &m),
      CF_EINVAL);
  ck_assert_int_eq(
      cf_map_bytes_new_stream(&ie.ex, NULL, bgen_next, &g, NULL, &m),
      CF_EINVAL);
  ck_assert_int_eq(
      cf_map_bytes_new_stream(&ie.ex, t_double, bgen_next, &g, NULL, NULL),
      CF_EINVAL);
  ck_assert_ptr_eq(m, (cf_map_bytes *)(uintptr_t)0x1);
  ck_assert_int_eq(g.calls, 0);
  /* Empty. */
  ck_assert_int_eq(
      cf_map_bytes_new_stream(&ie.ex, t_double, bgen_next, &g, NULL, &m), 0);
  int err;
  ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, NULL), CF_EOF);
  cf_map_bytes_free(m);
  /* NULL data with a length ends the stream with CF_EINVAL. */
  ck_assert_int_eq(
      cf_map_bytes_new_stream(&ie.ex, t_double, gen_null_data, NULL, NULL, &m),
      0);
  ck_assert_int_eq(cf_map_bytes_next(m, NULL, NULL, &err, NULL), CF_EINVAL);
  cf_map_bytes_free(m);
  /* A thread pool takes no byte tasks. */
  cf_executor *tp = cf_test_pool(1);
  ck_assert_int_eq(
      cf_map_bytes_new_stream(tp, t_double, bgen_next, &g, NULL, &m),
      CF_EINVAL);
  cf_executor_free(tp);
}
END_TEST

Suite *cf_map_bytes_suite(void) {
  Suite *s = suite_create("map_bytes");
  TCase *tc = tcase_create("iterator");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_malformed_chunk_moves_on);
  tcase_add_test(tc, test_item_errors_are_outcomes);
  suite_add_tcase(s, tc);
  tc = tcase_create("stream");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_stream_in_order);
  tcase_add_test(tc, test_stream_generator_error);
  tcase_add_test(tc, test_stream_invalid);
  suite_add_tcase(s, tc);
  return s;
}
