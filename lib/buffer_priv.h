/* SPDX-License-Identifier: MIT */
/*
 * Private to buffer.c and process_pool.c: a worker process lets its task's
 * output buffer live in a shared memory region, so that a large result
 * reaches the pool without a copy. Such a buffer's memory is not malloc's:
 * cf_buffer_reserve and cf_buffer_free send it to these hooks instead. A
 * worker is single-threaded, so one process-wide slot is enough.
 */
#ifndef CF_BUFFER_PRIV_H
#define CF_BUFFER_PRIV_H

#include "cfutures/process_pool.h"

struct cf__buffer_foreign {
  /* The data pointer of the one foreign buffer, or NULL. */
  const unsigned char *data;
  /* Grows it to hold need bytes in all (updating data and cap). */
  int (*grow)(cf_buffer *b, size_t need);
};

extern struct cf__buffer_foreign cf__buffer_foreign;

#endif /* CF_BUFFER_PRIV_H */
