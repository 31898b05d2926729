/* SPDX-License-Identifier: MIT */
/*
 * STREAM: cf_map_bytes_new_stream over generated input on a process pool.
 * A generator fills one buffer with the next item (64 KiB by default), the
 * map copies it into its task, a worker checksums it, and the parent checks
 * every checksum in input order. Nothing but the map's window is held, so
 * the peak resident memory must not grow with the input: the figures are
 * the throughput and VmHWM (from /proc/<pid>/status) of the parent, of the
 * largest worker and of the parent and workers summed ("peak RSS total",
 * the figure the 64 MiB bound is for).
 *
 *   bench_stream_map [--quick] [--gib G] [--item-kib K] [--chunksize C]
 *                    [--pool P] [--buffersize B]
 *
 * Default 1 GiB (--quick: 128 MiB); --gib 10 maps 10 GiB.
 */
#include "bench_util.h"

#include <cfutures.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const IMPL = "cfutures";

/* The checksum a worker computes and the parent expects. */
static uint64_t checksum(const unsigned char *p, size_t len) {
  uint64_t h = 0x9e3779b97f4a7c15u, w;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3u;
  }
  for (; i < len; i++)
    h = (h ^ p[i]) * 0x100000001b3u;
  return h;
}

static int t_checksum(const void *in, size_t len, cf_buffer *out) {
  uint64_t h = checksum(in, len);
  return cf_buffer_append(out, &h, sizeof h);
}
CF_TASK("bench.stream_checksum", t_checksum)

/* Expected checksums, by item index modulo RING: far more than the
 * window, so the generator never overwrites one not yet checked. */
enum { RING = 1 << 16 };

typedef struct {
  uint64_t next, n;
  size_t item_len;
  unsigned char *buf;
  uint64_t *expect;
} source;

static int source_next(void *userdata, const void **data, size_t *len) {
  source *s = userdata;
  if (s->next == s->n)
    return CF_EOF;
  uint64_t x = s->next * 0x9e3779b97f4a7c15u + 1;
  for (size_t i = 0; i + 8 <= s->item_len; i += 8) {
    x ^= x << 13; /* xorshift64 */
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(s->buf + i, &x, 8);
  }
  s->expect[s->next % RING] = checksum(s->buf, s->item_len);
  s->next++;
  *data = s->buf;
  *len = s->item_len;
  return 0;
}

/* VmHWM of pid (0 = this process) in bytes, or 0. */
static size_t vm_hwm(int pid) {
  char path[64], line[256];
  if (pid == 0)
    snprintf(path, sizeof path, "/proc/self/status");
  else
    snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t kib = 0;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmHWM: %zu kB", &kib) == 1)
      break;
  fclose(f);
  return kib * 1024;
}

static long arg_long(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) {
    fprintf(stderr, "bench_stream_map: %s needs a value\n", argv[*i]);
    exit(2);
  }
  return atol(argv[++*i]);
}

int main(int argc, char **argv) {
  double gib = 1;
  long item_kib = 64, chunksize = 1, pool = 2, buffersize = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      gib = 0.125;
    } else if (strcmp(argv[i], "--gib") == 0 && i + 1 < argc) {
      gib = atof(argv[++i]);
    } else if (strcmp(argv[i], "--item-kib") == 0) {
      item_kib = arg_long(argc, argv, &i);
    } else if (strcmp(argv[i], "--chunksize") == 0) {
      chunksize = arg_long(argc, argv, &i);
    } else if (strcmp(argv[i], "--pool") == 0) {
      pool = arg_long(argc, argv, &i);
    } else if (strcmp(argv[i], "--buffersize") == 0) {
      buffersize = arg_long(argc, argv, &i);
    } else if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc) {
      i++; /* STREAM is the only one */
    } else {
      fprintf(stderr,
              "usage: %s [--quick] [--gib G] [--item-kib K] [--chunksize C]"
              " [--pool P] [--buffersize B]\n",
              argv[0]);
      return 2;
    }
  }
  if (gib <= 0 || item_kib < 1 || chunksize < 1 || pool < 1 || buffersize < 0) {
    fprintf(stderr, "bench_stream_map: bad arguments\n");
    return 2;
  }
  source s = {0};
  s.item_len = (size_t)item_kib * 1024;
  s.n = (uint64_t)(gib * 1073741824.0) / s.item_len;
  s.buf = malloc(s.item_len);
  s.expect = malloc(RING * sizeof *s.expect);
  if (s.buf == NULL || s.expect == NULL || s.n == 0)
    return 1;

  cf_process_pool_options po;
  cf_process_pool_options_init(&po);
  po.max_workers = (int)pool;
  cf_executor *ex = NULL;
  int rc = cf_process_pool_new(&po, &ex);
  if (rc != 0) {
    fprintf(stderr, "bench_stream_map: pool: %s\n", cf_strerror(rc));
    return 1;
  }
  cf_map_bytes_options mo;
  cf_map_bytes_options_init(&mo);
  mo.chunksize = (size_t)chunksize;
  mo.buffersize = (size_t)buffersize;
  uint64_t t0 = bench_now_ns();
  cf_map_bytes *m = NULL;
  rc = cf_map_bytes_new_stream(ex, t_checksum, source_next, &s, &mo, &m);
  uint64_t done = 0, bad = 0;
  if (rc == 0) {
    const void *d;
    size_t len, idx;
    int err;
    while ((rc = cf_map_bytes_next(m, &d, &len, &err, &idx)) == 0) {
      uint64_t h = 0;
      if (err == 0 && len == sizeof h)
        memcpy(&h, d, sizeof h);
      if (err != 0 || len != sizeof h || h != s.expect[idx % RING])
        bad++;
      done++;
    }
    if (rc == CF_EOF)
      rc = 0;
    cf_map_bytes_free(m);
  }
  double secs = (double)(bench_now_ns() - t0) / 1e9;
  int pids[64];
  int np = cf_process_pool_pids(ex, pids, 64);
  size_t parent = vm_hwm(0), worker_max = 0, total = parent;
  for (int i = 0; i < np && i < 64; i++) {
    size_t w = vm_hwm(pids[i]);
    worker_max = w > worker_max ? w : worker_max;
    total += w;
  }
  cf_executor_free(ex);
  free(s.buf);
  free(s.expect);
  if (rc != 0 || bad != 0 || done != s.n) {
    fprintf(stderr, "bench_stream_map: %s, %llu of %llu items, %llu bad\n",
            cf_strerror(rc), (unsigned long long)done, (unsigned long long)s.n,
            (unsigned long long)bad);
    return 1;
  }
  char kase[96];
  double bytes = (double)s.n * (double)s.item_len;
  snprintf(kase, sizeof kase, "%.4g GiB, %ld KiB items, chunksize %ld",
           bytes / 1073741824.0, item_kib, chunksize);
  char label[160];
  snprintf(label, sizeof label, "%s throughput", kase);
  bench_emit("STREAM", label, IMPL, bytes / 1048576.0 / secs, "MiB/s",
             "higher");
  snprintf(label, sizeof label, "%s seconds", kase);
  bench_emit("STREAM", label, IMPL, secs, "s", "lower");
  snprintf(label, sizeof label, "%s peak RSS parent", kase);
  bench_emit("STREAM", label, IMPL, (double)parent / 1048576.0, "MiB", "lower");
  snprintf(label, sizeof label, "%s peak RSS worker max", kase);
  bench_emit("STREAM", label, IMPL, (double)worker_max / 1048576.0, "MiB",
             "lower");
  snprintf(label, sizeof label, "%s peak RSS total", kase);
  bench_emit("STREAM", label, IMPL, (double)total / 1048576.0, "MiB", "lower");
  if (total >= (size_t)64 << 20)
    fprintf(stderr, "bench_stream_map: peak RSS total %.1f MiB >= 64 MiB\n",
            (double)total / 1048576.0);
  return 0;
}
