/* SPDX-License-Identifier: MIT */
/*
 * A counter updated from 100 tasks, protected by a mutex.
 *
 * Python:
 *     with lock:
 *         counter += 1
 *
 * Tasks run on several threads at once, so shared state needs a lock (or
 * an atomic). Without the lock, increments from two workers can interleave
 * and some are lost; ThreadSanitizer reports the race.
 */
#include <cfutures.h>
#include <pthread.h>
#include <stdio.h>

#define TASKS 100
#define INCREMENTS 1000

struct counter {
  pthread_mutex_t lock;
  long value;
};

static int add_many(void *arg, void **result) {
  struct counter *c = arg;
  for (int i = 0; i < INCREMENTS; i++) {
    pthread_mutex_lock(&c->lock);
    c->value++; /* read-modify-write: safe only under the lock */
    pthread_mutex_unlock(&c->lock);
  }
  *result = NULL;
  return 0;
}

int main(void) {
  struct counter counter = {.lock = PTHREAD_MUTEX_INITIALIZER, .value = 0};
  cf_thread_pool_options opts;
  cf_thread_pool_options_init(&opts);
  opts.max_workers = 4;
  cf_executor *pool = NULL;
  cf_group *group = NULL;

  /* A task group waits for every task submitted through it. */
  int err = cf_thread_pool_new(&opts, &pool);
  if (err == 0)
    err = cf_group_new(pool, 0, &group);
  for (int i = 0; err == 0 && i < TASKS; i++)
    err = cf_group_submit(group, add_many, &counter, NULL);
  if (err == 0)
    err = cf_group_wait(group, 30.0);
  cf_group_free(group);
  cf_executor_free(pool);
  if (err != 0) {
    fprintf(stderr, "error: %s\n", cf_strerror(err));
    return 1;
  }
  printf("counter = %ld (expected %d)\n", counter.value, TASKS * INCREMENTS);
  return counter.value == TASKS * INCREMENTS ? 0 : 1;
}
