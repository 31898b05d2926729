/* SPDX-License-Identifier: MIT */
/*
 * Producer-consumer with a bounded queue (cf_channel).
 *
 * Python:
 *     q = queue.Queue(maxsize=4)
 *     # producers: q.put(item); consumer: item = q.get()
 *
 * Producers run as pool tasks and block while the channel is full, so a
 * slow consumer throttles them instead of letting memory grow. The last
 * producer to finish closes the channel; the consumer then drains what is
 * left and cf_channel_recv returns CF_EOF.
 */
#include <cfutures.h>
#include <cfutures/channel.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PRODUCERS 3
#define ITEMS_EACH 100

struct shared {
  cf_channel *ch;
  atomic_int producers_left;
};

struct job {
  struct shared *shared;
  int producer;
};

/* Each item is a malloc'd number: ownership passes through the channel to
 * the consumer, which frees it. */
static int produce(void *arg, void **result) {
  struct job *job = arg;
  int err = 0;
  for (int i = 0; err == 0 && i < ITEMS_EACH; i++) {
    long *item = malloc(sizeof *item);
    if (item == NULL) {
      err = CF_ENOMEM;
      break;
    }
    *item = job->producer * 1000L + i;
    err = cf_channel_send(job->shared->ch, item, -1); /* waits while full */
    if (err != 0)
      free(item); /* not sent: still ours */
  }
  /* Whatever happened, the last one out closes the channel. */
  if (atomic_fetch_sub(&job->shared->producers_left, 1) == 1)
    cf_channel_close(job->shared->ch);
  *result = NULL;
  return err;
}

int main(void) {
  struct shared shared = {.producers_left = PRODUCERS};
  struct job jobs[PRODUCERS];
  cf_executor *pool = NULL;

  int err = cf_channel_new(4, &shared.ch);
  if (err == 0)
    err = cf_thread_pool_new(NULL, &pool);
  for (int p = 0; err == 0 && p < PRODUCERS; p++) {
    jobs[p] = (struct job){.shared = &shared, .producer = p};
    err = cf_submit(pool, produce, &jobs[p], NULL); /* fire and forget */
  }
  if (err != 0) {
    fprintf(stderr, "set-up: %s\n", cf_strerror(err));
    if (shared.ch != NULL) {
      /* Closing fails the producers' sends, so they end and the pool can
       * be freed; what they had sent is still ours to free. */
      cf_channel_close(shared.ch);
      cf_executor_free(pool);
      void *item;
      while (cf_channel_recv(shared.ch, &item, 0) == 0)
        free(item);
      cf_channel_free(shared.ch);
    }
    return 1;
  }

  /* The consumer: this thread. */
  long count = 0, sum = 0;
  void *item;
  while ((err = cf_channel_recv(shared.ch, &item, 10.0)) == 0) {
    sum += *(long *)item;
    count++;
    free(item);
  }
  if (err != CF_EOF)
    fprintf(stderr, "recv: %s\n", cf_strerror(err));

  cf_executor_free(pool);
  cf_channel_free(shared.ch);
  long expected = 0;
  for (int p = 0; p < PRODUCERS; p++)
    for (int i = 0; i < ITEMS_EACH; i++)
      expected += p * 1000L + i;
  printf("consumed %ld items, sum %ld (expected %d, %ld)\n", count, sum,
         PRODUCERS * ITEMS_EACH, expected);
  return err == CF_EOF && sum == expected ? 0 : 1;
}
