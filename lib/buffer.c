/* SPDX-License-Identifier: MIT */
/* cf_buffer: the growable byte buffer process-pool tasks write into. */
#include "buffer_priv.h"
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cf__buffer_foreign cf__buffer_foreign;

void cf_buffer_init(cf_buffer *b) {
  if (b != NULL)
    *b = (cf_buffer)CF_BUFFER_INIT;
}

int cf_buffer_reserve(cf_buffer *b, size_t n) {
  if (b == NULL)
    return CF_EINVAL;
  if (n > SIZE_MAX - b->len)
    return CF_ENOMEM;
  size_t need = b->len + n;
  if (need <= b->cap)
    return 0;
  if (b->data != NULL && b->data == cf__buffer_foreign.data)
    return cf__buffer_foreign.grow(b, need);
  /* Doubling keeps appends amortised O(1); small buffers start at 64. */
  size_t cap = b->cap < 64 ? 64 : b->cap;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  unsigned char *p = realloc(b->data, cap);
  if (p == NULL)
    return CF_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int cf_buffer_append(cf_buffer *b, const void *data, size_t n) {
  if (b == NULL || (data == NULL && n > 0))
    return CF_EINVAL;
  if (n == 0)
    return 0;
  int rc = cf_buffer_reserve(b, n);
  if (rc != 0)
    return rc;
  memcpy(b->data + b->len, data, n);
  b->len += n;
  return 0;
}

void cf_buffer_clear(cf_buffer *b) {
  if (b != NULL)
    b->len = 0;
}

void cf_buffer_free(cf_buffer *b) {
  if (b == NULL)
    return;
  if (b->data == NULL || b->data != cf__buffer_foreign.data)
    free(b->data);
  *b = (cf_buffer)CF_BUFFER_INIT;
}
