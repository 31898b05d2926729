/* Small helpers: byte buffers, shell quoting, strict number parsing. */
#include "executor.h"

#include <errno.h>
#include <math.h>
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
