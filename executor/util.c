/* SPDX-License-Identifier: MIT */
/*
 * Small pieces: byte buffers, shell quoting, strict number parsing, and
 * starting a thread pool's workers up front.
 *
 * LOCKING: only ex_pool_prestart locks: gate.mu guards started and open.
 * The gate lives on the caller's stack and outlives every task that uses
 * it, since the caller waits for all of them before it returns.
 */
#include "executor.h"

#include <cfutures.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int buf_reserve(ex_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (p == NULL)
    return -ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int ex_buf_append(ex_buf *b, const void *p, size_t n) {
  if (buf_reserve(b, n) != 0)
    return -ENOMEM;
  if (n > 0)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int ex_buf_puts(ex_buf *b, const char *s) {
  return ex_buf_append(b, s, strlen(s));
}

int ex_buf_printf(ex_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || buf_reserve(b, (size_t)n) != 0)
    return -ENOMEM;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

static int is_safe(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || strchr("_@%+=:,./-", c) != NULL;
}

int ex_buf_quote(ex_buf *b, const char *s) {
  int safe = *s != '\0', ctrl = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (!is_safe(*p) || *p == 0)
      safe = 0;
    if (*p < 0x20 || *p == 0x7f)
      ctrl = 1;
  }
  if (safe)
    return ex_buf_puts(b, s);
  int rc = 0;
  if (!ctrl) {
    rc |= ex_buf_puts(b, "'");
    for (const char *p = s; *p; p++)
      rc |= *p == '\'' ? ex_buf_puts(b, "'\\''") : ex_buf_append(b, p, 1);
    rc |= ex_buf_puts(b, "'");
    return rc ? -ENOMEM : 0;
  }
  rc |= ex_buf_puts(b, "$'");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '\n')
      rc |= ex_buf_puts(b, "\\n");
    else if (*p == '\t')
      rc |= ex_buf_puts(b, "\\t");
    else if (*p == '\\' || *p == '\'')
      rc |= ex_buf_printf(b, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f)
      rc |= ex_buf_printf(b, "\\x%02x", *p);
    else
      rc |= ex_buf_append(b, p, 1);
  }
  rc |= ex_buf_puts(b, "'");
  return rc ? -ENOMEM : 0;
}

void ex_buf_free(ex_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int ex_parse_long(const char *s, long min, long max, long *out) {
  if (s == NULL || *s == '\0')
    return -1;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

int ex_parse_seconds(const char *s, double *out) {
  if (s == NULL || *s == '\0')
    return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0)
    return -1;
  *out = v;
  return 0;
}

static double clock_seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double ex_mono(void) {
  return clock_seconds(CLOCK_MONOTONIC);
}
double ex_wall(void) {
  return clock_seconds(CLOCK_REALTIME);
}

int ex_write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* A start line: tasks check in, then wait until the gate opens. */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int started;
  int open;
} gate;

static int gate_task(void *arg, void **result) {
  gate *g = arg;
  *result = NULL;
  pthread_mutex_lock(&g->mu);
  g->started++;
  pthread_cond_broadcast(&g->cv);
  while (!g->open)
    pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
  return 0;
}

int ex_pool_prestart(cf_executor *ex, int n) {
  gate g = {.started = 0, .open = 0};
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&g.mu, NULL);
  pthread_cond_init(&g.cv, &ca);
  pthread_condattr_destroy(&ca);
  cf_future **fs = calloc((size_t)n, sizeof *fs);
  int rc = fs == NULL ? CF_ENOMEM : 0, k = 0;
  /* One at a time: each submit finds every worker busy at the gate, so the
   * pool starts a new one. A pool that does not within a second is left
   * to start its workers when work arrives. */
  for (; k < n && rc == 0; k++) {
    rc = cf_submit(ex, gate_task, &g, &fs[k]);
    if (rc != 0)
      break;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += 1;
    pthread_mutex_lock(&g.mu);
    int late = 0;
    while (g.started < k + 1 && !late)
      late = pthread_cond_timedwait(&g.cv, &g.mu, &dl) != 0;
    pthread_mutex_unlock(&g.mu);
    if (late) {
      k++;
      break;
    }
  }
  pthread_mutex_lock(&g.mu);
  g.open = 1;
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.mu);
  for (int i = 0; i < k; i++) {
    /* cf_future_error, not cf_future_wait: its acquire load of the state
     * orders the task's last touch of the gate before the destroy below;
     * cf_future_wait alone may return without one. */
    cf_future_error(fs[i], -1);
    cf_future_release(fs[i]);
  }
  free(fs);
  pthread_cond_destroy(&g.cv);
  pthread_mutex_destroy(&g.mu);
  return rc;
}
