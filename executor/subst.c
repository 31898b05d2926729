/* SPDX-License-Identifier: MIT */
/*
 * Replacement strings ({}, {.}, {/}, {//}, {/.}, {#}, {%}, {N...}), as GNU
 * parallel has them, and splitting input into records. Pure functions of
 * their arguments: no global state, no lock.
 */
#include "executor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { M_NONE, M_NOEXT, M_BASE, M_DIR, M_BASENOEXT, M_SEQ, M_SLOT };

static int append_modified(ex_buf *b, const char *s, int mod, int quote) {
  const char *base = strrchr(s, '/');
  base = base ? base + 1 : s;
  const char *from = s;
  size_t len = strlen(s);
  switch (mod) {
  case M_BASE:
  case M_BASENOEXT:
    from = base;
    len = strlen(base);
    break;
  case M_DIR:
    if (base == s) {
      from = ".";
      len = 1;
    } else {
      len = (size_t)(base - 1 - s);
      if (len == 0) {
        from = "/";
        len = 1;
      }
    }
    break;
  default:
    break;
  }
  if (mod == M_NOEXT || mod == M_BASENOEXT) {
    const char *dot = strrchr(base, '.');
    if (dot != NULL && dot != base)
      len = (size_t)(dot - from);
  }
  if (!quote)
    return ex_buf_append(b, from, len);
  char *tmp = strndup(from, len);
  if (tmp == NULL)
    return -ENOMEM;
  int rc = ex_buf_quote(b, tmp);
  free(tmp);
  return rc;
}

/* p points at '{'. Appends the value of the replacement string there and
 * returns its length; 0 when p starts no replacement string; (size_t)-1
 * when memory ran out. */
static size_t subst_one(const char *p, const ex_subst *c, ex_buf *b) {
  int quote = c->quote;
  const char *q = p + 1;
  size_t n = 0;
  int has_n = 0;
  while (*q >= '0' && *q <= '9' && q - p < 7) {
    n = n * 10 + (size_t)(*q - '0');
    q++;
    has_n = 1;
  }
  const char *close = strchr(q, '}');
  if (close == NULL || close - q > 2)
    return 0;
  size_t ml = (size_t)(close - q);
  static const struct {
    const char *s;
    int mod;
  } mods[] = {{"", M_NONE},        {".", M_NOEXT}, {"/", M_BASE}, {"//", M_DIR},
              {"/.", M_BASENOEXT}, {"#", M_SEQ},   {"%", M_SLOT}};
  int mod = -1;
  for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
    if (strlen(mods[i].s) == ml && strncmp(mods[i].s, q, ml) == 0)
      mod = mods[i].mod;
  if (mod < 0 || (has_n && (mod == M_SEQ || mod == M_SLOT)) ||
      (has_n && (n < 1 || n > c->nargs)))
    return 0;
  int rc = 0;
  if (mod == M_SEQ)
    rc = ex_buf_printf(b, "%zu", c->seq);
  else if (mod == M_SLOT)
    rc = ex_buf_printf(b, "%d", c->slot);
  else if (has_n)
    rc = append_modified(b, c->args[n - 1], mod, quote);
  else
    for (size_t i = 0; i < c->nargs && rc == 0; i++) {
      if (i > 0)
        rc = ex_buf_puts(b, " ");
      rc |= append_modified(b, c->args[i], mod, quote);
    }
  if (rc != 0)
    return (size_t)-1;
  return (size_t)(close - p) + 1;
}

int ex_subst_word(const char *s, const ex_subst *c, ex_buf *b, int *used) {
  for (const char *p = s; *p;) {
    size_t t = *p == '{' ? subst_one(p, c, b) : 0;
    if (t == (size_t)-1)
      return -ENOMEM;
    if (t > 0) {
      *used = 1;
      p += t;
    } else {
      if (ex_buf_append(b, p, 1) != 0)
        return -ENOMEM;
      p++;
    }
  }
  return ex_buf_append(b, "", 0);
}

int ex_split_records(char *data, size_t len, char sep, const char ***items,
                     size_t *n) {
  size_t count = 0;
  for (size_t i = 0; i < len; i++)
    count += data[i] == sep;
  if (len > 0 && data[len - 1] != sep)
    count++;
  const char **v = malloc((count ? count : 1) * sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  size_t k = 0, start = 0;
  for (size_t i = 0; i < len; i++) {
    if (data[i] == sep) {
      data[i] = '\0';
      v[k++] = data + start;
      start = i + 1;
    }
  }
  if (start < len)
    v[k++] = data + start; /* the buffer is NUL-terminated after len */
  *items = v;
  *n = k;
  return 0;
}
