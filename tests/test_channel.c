/* SPDX-License-Identifier: MIT */
/* cf_channel: order, bounds, every documented error, close semantics, and
 * many producers against many consumers. Threads are plain pthreads so the
 * channel is tested on its own. */
#include "harness.h"

#include <cfutures/channel.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define ITEM(i) ((void *)(uintptr_t)(i))

static double since(uint64_t start_ns) {
  return (double)(cf_now_ns() - start_ns) / 1e9;
}

START_TEST(test_new_errors) {
  cf_channel *ch = NULL;
  ck_assert_int_eq(cf_channel_new(0, &ch), CF_EINVAL);
  ck_assert_ptr_null(ch);
  ck_assert_int_eq(cf_channel_new(4, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_channel_new(SIZE_MAX, &ch), CF_ENOMEM);
  ck_assert_ptr_null(ch);
  ck_assert_int_eq(cf_channel_new(4, &ch), 0);
  ck_assert_uint_eq(cf_channel_capacity(ch), 4);
  ck_assert_uint_eq(cf_channel_len(ch), 0);
  ck_assert(!cf_channel_closed(ch));
  cf_channel_free(ch);
}
END_TEST

START_TEST(test_null_arguments) {
  void *item = ITEM(7);
  cf_channel *ch;
  ck_assert_int_eq(cf_channel_send(NULL, item, 0), CF_EINVAL);
  ck_assert_int_eq(cf_channel_try_send(NULL, item), CF_EINVAL);
  ck_assert_int_eq(cf_channel_recv(NULL, &item, 0), CF_EINVAL);
  ck_assert_int_eq(cf_channel_try_recv(NULL, &item), CF_EINVAL);
  ck_assert_int_eq(cf_channel_close(NULL), CF_EINVAL);
  ck_assert(!cf_channel_closed(NULL));
  ck_assert_uint_eq(cf_channel_len(NULL), 0);
  ck_assert_uint_eq(cf_channel_capacity(NULL), 0);
  cf_channel_free(NULL);
  ck_assert_int_eq(cf_channel_new(2, &ch), 0);
  ck_assert_int_eq(cf_channel_recv(ch, NULL, 0), CF_EINVAL);
  ck_assert_int_eq(cf_channel_try_recv(ch, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_channel_send(ch, item, NAN), CF_EINVAL);
  ck_assert_uint_eq(cf_channel_len(ch), 0);
  ck_assert_int_eq(cf_channel_recv(ch, &item, NAN), CF_EINVAL);
  ck_assert_ptr_eq(item, ITEM(7)); /* untouched on error */
  cf_channel_free(ch);
}
END_TEST

START_TEST(test_fifo_and_wraparound) {
  cf_channel *ch;
  ck_assert_int_eq(cf_channel_new(3, &ch), 0);
  uintptr_t next_in = 0, next_out = 0;
  /* Uneven fill and drain so head and tail cross the ring's end often. */
  for (int round = 0; round < 50; round++) {
    int fill = 1 + round % 3;
    for (int i = 0; i < fill && cf_channel_len(ch) < 3; i++)
      ck_assert_int_eq(cf_channel_send(ch, ITEM(next_in++), 0), 0);
    int drain = 1 + (round * 7) % 3;
    for (int i = 0; i < drain && cf_channel_len(ch) > 0; i++) {
      void *item;
      ck_assert_int_eq(cf_channel_recv(ch, &item, 0), 0);
      ck_assert_ptr_eq(item, ITEM(next_out++));
    }
  }
  ck_assert_uint_eq(cf_channel_len(ch), next_in - next_out);
  cf_channel_free(ch);
}
END_TEST

START_TEST(test_null_item_is_an_item) {
  cf_channel *ch;
  void *item = ITEM(1);
  ck_assert_int_eq(cf_channel_new(1, &ch), 0);
  ck_assert_int_eq(cf_channel_try_send(ch, NULL), 0);
  ck_assert_int_eq(cf_channel_try_recv(ch, &item), 0);
  ck_assert_ptr_null(item);
  cf_channel_free(ch);
}
END_TEST

START_TEST(test_full_and_empty) {
  cf_channel *ch;
  void *item = NULL;
  ck_assert_int_eq(cf_channel_new(2, &ch), 0);
  ck_assert_int_eq(cf_channel_try_recv(ch, &item), CF_EAGAIN);
  ck_assert_int_eq(cf_channel_recv(ch, &item, 0), CF_ETIMEDOUT);
  ck_assert_ptr_null(item);
  ck_assert_int_eq(cf_channel_try_send(ch, ITEM(1)), 0);
  ck_assert_int_eq(cf_channel_send(ch, ITEM(2), 0), 0);
  ck_assert_int_eq(cf_channel_try_send(ch, ITEM(3)), CF_EAGAIN);
  ck_assert_int_eq(cf_channel_send(ch, ITEM(3), 0), CF_ETIMEDOUT);
  ck_assert_uint_eq(cf_channel_len(ch), 2);
  ck_assert_int_eq(cf_channel_try_recv(ch, &item), 0);
  ck_assert_ptr_eq(item, ITEM(1));
  cf_channel_free(ch);
}
END_TEST

START_TEST(test_timeouts_never_early) {
  cf_channel *ch;
  void *item;
  ck_assert_int_eq(cf_channel_new(1, &ch), 0);
  uint64_t t0 = cf_now_ns();
  ck_assert_int_eq(cf_channel_recv(ch, &item, 0.05), CF_ETIMEDOUT);
  double dt = since(t0);
  ck_assert(dt >= 0.05);
  ck_assert(dt < cf_test_scale(5)); /* did not hang */
  ck_assert_int_eq(cf_channel_send(ch, ITEM(1), 0), 0);
  t0 = cf_now_ns();
  ck_assert_int_eq(cf_channel_send(ch, ITEM(2), 0.05), CF_ETIMEDOUT);
  dt = since(t0);
  ck_assert(dt >= 0.05);
  ck_assert(dt < cf_test_scale(5));
  cf_channel_free(ch);
}
END_TEST

START_TEST(test_close_drains_then_eof) {
  cf_channel *ch;
  void *item;
  ck_assert_int_eq(cf_channel_new(4, &ch), 0);
  ck_assert_int_eq(cf_channel_send(ch, ITEM(1), -1), 0);
  ck_assert_int_eq(cf_channel_send(ch, ITEM(2), -1), 0);
  ck_assert_int_eq(cf_channel_close(ch), 0);
  ck_assert(cf_channel_closed(ch));
  ck_assert_int_eq(cf_channel_close(ch), 0); /* twice is harmless */
  ck_assert_int_eq(cf_channel_send(ch, ITEM(3), -1), CF_ESHUTDOWN);
  ck_assert_int_eq(cf_channel_try_send(ch, ITEM(3)), CF_ESHUTDOWN);
  ck_assert_uint_eq(cf_channel_len(ch), 2);
  ck_assert_int_eq(cf_channel_recv(ch, &item, -1), 0);
  ck_assert_ptr_eq(item, ITEM(1));
  ck_assert_int_eq(cf_channel_try_recv(ch, &item), 0);
  ck_assert_ptr_eq(item, ITEM(2));
  /* Closed and empty: EOF at once, even with an infinite timeout. */
  ck_assert_int_eq(cf_channel_recv(ch, &item, -1), CF_EOF);
  ck_assert_int_eq(cf_channel_try_recv(ch, &item), CF_EOF);
  ck_assert_int_eq(cf_channel_recv(ch, &item, 0), CF_EOF);
  cf_channel_free(ch);
}
END_TEST

struct waiter {
  cf_channel *ch;
  void *item;
  double timeout;
  int rc;
  atomic_int started;
};

static void *send_thread(void *p) {
  struct waiter *w = p;
  atomic_store(&w->started, 1);
  w->rc = cf_channel_send(w->ch, w->item, w->timeout);
  return NULL;
}

static void *recv_thread(void *p) {
  struct waiter *w = p;
  atomic_store(&w->started, 1);
  w->rc = cf_channel_recv(w->ch, &w->item, w->timeout);
  return NULL;
}

static void start(pthread_t *t, void *(*fn)(void *), struct waiter *w) {
  ck_assert_int_eq(pthread_create(t, NULL, fn, w), 0);
  while (!atomic_load(&w->started))
    cf_test_sleep_ms(1);
  cf_test_sleep_ms(20); /* most likely asleep in the channel by now */
}

START_TEST(test_blocked_receiver_gets_item) {
  struct waiter w = {.timeout = -1, .item = ITEM(99)};
  pthread_t t;
  ck_assert_int_eq(cf_channel_new(1, &w.ch), 0);
  start(&t, recv_thread, &w);
  ck_assert_int_eq(cf_channel_send(w.ch, ITEM(5), -1), 0);
  pthread_join(t, NULL);
  ck_assert_int_eq(w.rc, 0);
  ck_assert_ptr_eq(w.item, ITEM(5));
  cf_channel_free(w.ch);
}
END_TEST

START_TEST(test_blocked_sender_gets_room) {
  struct waiter w = {.timeout = -1, .item = ITEM(2)};
  pthread_t t;
  void *item;
  ck_assert_int_eq(cf_channel_new(1, &w.ch), 0);
  ck_assert_int_eq(cf_channel_send(w.ch, ITEM(1), 0), 0);
  start(&t, send_thread, &w);
  ck_assert_int_eq(cf_channel_recv(w.ch, &item, -1), 0);
  ck_assert_ptr_eq(item, ITEM(1));
  pthread_join(t, NULL);
  ck_assert_int_eq(w.rc, 0);
  ck_assert_int_eq(cf_channel_recv(w.ch, &item, 0), 0);
  ck_assert_ptr_eq(item, ITEM(2));
  cf_channel_free(w.ch);
}
END_TEST

START_TEST(test_close_wakes_everyone) {
  cf_channel *full, *empty;
  ck_assert_int_eq(cf_channel_new(1, &full), 0);
  ck_assert_int_eq(cf_channel_new(1, &empty), 0);
  ck_assert_int_eq(cf_channel_send(full, ITEM(1), 0), 0);
  struct waiter s[3], r[3];
  pthread_t st[3], rt[3];
  for (int i = 0; i < 3; i++) {
    s[i] = (struct waiter){.ch = full, .item = ITEM(10 + i), .timeout = -1};
    r[i] = (struct waiter){.ch = empty, .item = ITEM(77), .timeout = 30};
    start(&st[i], send_thread, &s[i]);
    start(&rt[i], recv_thread, &r[i]);
  }
  ck_assert_int_eq(cf_channel_close(full), 0);
  ck_assert_int_eq(cf_channel_close(empty), 0);
  for (int i = 0; i < 3; i++) {
    pthread_join(st[i], NULL);
    pthread_join(rt[i], NULL);
    ck_assert_int_eq(s[i].rc, CF_ESHUTDOWN);
    ck_assert_int_eq(r[i].rc, CF_EOF);
    ck_assert_ptr_eq(r[i].item, ITEM(77));
  }
  /* The item sent before close is still there for a receiver. */
  void *item;
  ck_assert_int_eq(cf_channel_recv(full, &item, 0), 0);
  ck_assert_ptr_eq(item, ITEM(1));
  ck_assert_int_eq(cf_channel_recv(full, &item, 0), CF_EOF);
  cf_channel_free(full);
  cf_channel_free(empty);
}
END_TEST

/* Many producers, many consumers, a small channel: every item arrives
 * exactly once, and each producer's items arrive in the order it sent
 * them. */
#define PRODUCERS 4
#define CONSUMERS 3

struct mpmc {
  cf_channel *ch;
  long per_producer;
  int id;
  long received;
  long last_seen[PRODUCERS];
  bool in_order;
  uint64_t sum;
};

static void *producer(void *p) {
  struct mpmc *m = p;
  for (long i = 0; i < m->per_producer; i++) {
    uintptr_t v = ((uintptr_t)m->id << 32) | (uintptr_t)i;
    if (cf_channel_send(m->ch, ITEM(v), -1) != 0)
      abort();
  }
  return NULL;
}

static void *consumer(void *p) {
  struct mpmc *m = p;
  void *item;
  for (int i = 0; i < PRODUCERS; i++)
    m->last_seen[i] = -1;
  m->in_order = true;
  while (cf_channel_recv(m->ch, &item, -1) == 0) {
    uintptr_t v = (uintptr_t)item;
    int from = (int)(v >> 32);
    long seq = (long)(v & 0xffffffffu);
    if (seq <= m->last_seen[from])
      m->in_order = false;
    m->last_seen[from] = seq;
    m->sum += (uint64_t)seq;
    m->received++;
  }
  return NULL;
}

START_TEST(test_many_producers_many_consumers) {
  cf_channel *ch;
  long per = 20000;
#if CF_TEST_TSAN
  per = 2000;
#endif
  ck_assert_int_eq(cf_channel_new(8, &ch), 0);
  struct mpmc p[PRODUCERS], c[CONSUMERS];
  pthread_t pt[PRODUCERS], ct[CONSUMERS];
  for (int i = 0; i < CONSUMERS; i++) {
    c[i] = (struct mpmc){.ch = ch};
    ck_assert_int_eq(pthread_create(&ct[i], NULL, consumer, &c[i]), 0);
  }
  for (int i = 0; i < PRODUCERS; i++) {
    p[i] = (struct mpmc){.ch = ch, .per_producer = per, .id = i};
    ck_assert_int_eq(pthread_create(&pt[i], NULL, producer, &p[i]), 0);
  }
  for (int i = 0; i < PRODUCERS; i++)
    pthread_join(pt[i], NULL);
  ck_assert_int_eq(cf_channel_close(ch), 0);
  long total = 0;
  uint64_t sum = 0;
  for (int i = 0; i < CONSUMERS; i++) {
    pthread_join(ct[i], NULL);
    total += c[i].received;
    sum += c[i].sum;
    ck_assert(c[i].in_order);
  }
  ck_assert_int_eq(total, PRODUCERS * per);
  ck_assert_uint_eq(sum, (uint64_t)PRODUCERS * (uint64_t)per *
                             (uint64_t)(per - 1) / 2);
  ck_assert_uint_eq(cf_channel_len(ch), 0);
  cf_channel_free(ch);
}
END_TEST

Suite *cf_channel_suite(void) {
  Suite *s = suite_create("channel");
  TCase *tc = tcase_create("basic");
  cf_test_tcase_timeout(tc, 10);
  tcase_add_test(tc, test_new_errors);
  tcase_add_test(tc, test_null_arguments);
  tcase_add_test(tc, test_fifo_and_wraparound);
  tcase_add_test(tc, test_null_item_is_an_item);
  tcase_add_test(tc, test_full_and_empty);
  tcase_add_test(tc, test_timeouts_never_early);
  tcase_add_test(tc, test_close_drains_then_eof);
  suite_add_tcase(s, tc);

  tc = tcase_create("threads");
  cf_test_tcase_timeout(tc, 30);
  tcase_add_test(tc, test_blocked_receiver_gets_item);
  tcase_add_test(tc, test_blocked_sender_gets_room);
  tcase_add_test(tc, test_close_wakes_everyone);
  tcase_add_test(tc, test_many_producers_many_consumers);
  suite_add_tcase(s, tc);
  return s;
}
