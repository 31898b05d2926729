/* SPDX-License-Identifier: MIT */
/* The byte-task workloads of W5 and W8 (bench_bytes.h). */
#include "bench_bytes.h"
#include "bench_util.h"

#include <stdlib.h>

int bench_bytes_echo(const void *in, size_t len, cf_buffer *out) {
  return cf_buffer_append(out, in, len);
}
CF_TASK("bench.echo", bench_bytes_echo)

int bench_bytes_wait(cf_future *f, size_t want) {
  size_t n = 0;
  int rc = cf_future_bytes(f, -1, NULL, &n);
  return rc != 0 ? rc : n != want ? CF_ETASK : 0;
}

int bench_bytes_round_trips(cf_executor *ex, long n, double *s) {
  unsigned char msg[64] = {1};
  for (long i = -n / 10; i < n; i++) { /* the first tenth warms up */
    uint64_t t0 = bench_now_ns();
    cf_future *f;
    int rc = cf_submit_bytes(ex, bench_bytes_echo, msg, sizeof msg, &f);
    if (rc == 0)
      rc = bench_bytes_wait(f, sizeof msg);
    if (rc != 0)
      return rc;
    cf_future_release(f);
    if (i >= 0)
      s[i] = (double)(bench_now_ns() - t0) / 1e3;
  }
  return 0;
}

int bench_bytes_submits(cf_executor *ex, long n, double *secs) {
  unsigned char msg[64] = {2};
  cf_future **fs = malloc((size_t)n * sizeof *fs);
  if (fs == NULL)
    return CF_ENOMEM;
  int rc = 0;
  long sent = 0;
  uint64_t t0 = bench_now_ns();
  for (; sent < n && rc == 0; sent++)
    rc = cf_submit_bytes(ex, bench_bytes_echo, msg, sizeof msg, &fs[sent]);
  if (rc != 0)
    sent--;
  for (long i = 0; i < sent; i++) {
    int e = bench_bytes_wait(fs[i], sizeof msg);
    rc = rc != 0 ? rc : e;
    cf_future_release(fs[i]);
  }
  *secs = (double)(bench_now_ns() - t0) / 1e9;
  free(fs);
  return rc;
}

int bench_bytes_map(cf_executor *ex, long n, size_t chunksize, double *secs) {
  static unsigned char msg[64] = {3};
  cf_bytes *items = malloc((size_t)n * sizeof *items);
  if (items == NULL)
    return CF_ENOMEM;
  for (long i = 0; i < n; i++)
    items[i] = (cf_bytes){msg, sizeof msg};
  cf_map_bytes_options o;
  cf_map_bytes_options_init(&o);
  o.chunksize = chunksize;
  uint64_t t0 = bench_now_ns();
  cf_map_bytes *m;
  int rc = cf_map_bytes_new(ex, bench_bytes_echo, items, (size_t)n, &o, &m);
  if (rc == 0) {
    size_t len;
    long got = 0;
    int err, first = 0;
    while ((rc = cf_map_bytes_next(m, NULL, &len, &err, NULL)) == 0) {
      got++;
      if (err != 0 && first == 0)
        first = err;
    }
    rc = rc != CF_EOF ? rc : first != 0 ? first : got == n ? 0 : CF_ETASK;
    cf_map_bytes_free(m);
  }
  *secs = (double)(bench_now_ns() - t0) / 1e9;
  free(items);
  return rc;
}
