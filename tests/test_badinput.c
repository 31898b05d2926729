/* SPDX-License-Identifier: MIT */
/* Bad input across the whole public API (matrix rows 23-25): every
 * function given NULL where it takes a pointer, invalid numbers (NaN
 * timeouts, worker counts below 1, unknown flags and modes), objects of
 * the wrong kind (a thread pool where a process pool is needed, a future
 * another executor owns), and states in the wrong order. Each gets its
 * documented code or no-op: never a crash (UBSan watches the address
 * build), never a callback. */
#include "harness.h"

#include <cfutures/process_pool.h>

#include <math.h>

#define V(i) ((void *)(intptr_t)(i))

static atomic_int callbacks;

static void cb(cf_future *f, void *u) {
  atomic_fetch_add(&callbacks, 1);
}
static void bcb(cf_future *f, int err, void *u) {
  atomic_fetch_add(&callbacks, 1);
}
static int then_fn(cf_future *p, void *a, void **r) {
  atomic_fetch_add(&callbacks, 1);
  return 0;
}
static int bytes_fn(const void *in, size_t len, cf_buffer *out) {
  return 0;
}

START_TEST(test_null_everywhere) {
  atomic_store(&callbacks, 0);
  /* Errors and version. */
  ck_assert_ptr_nonnull(cf_version());
  ck_assert_ptr_nonnull(cf_strerror(12345));
  ck_assert_ptr_nonnull(cf_err_name(12345));
  ck_assert_ptr_nonnull(cf_strerror(INT32_MIN));
  /* Futures. */
  ck_assert_int_eq(cf_future_new(NULL), CF_EINVAL);
  ck_assert_ptr_null(cf_future_retain(NULL));
  cf_future_release(NULL);
  ck_assert_int_eq(cf_future_state(NULL), CF_EINVAL);
  ck_assert(!cf_future_cancelled(NULL));
  ck_assert(!cf_future_running(NULL));
  ck_assert(!cf_future_done(NULL));
  ck_assert(!cf_future_cancel(NULL));
  ck_assert_int_eq(cf_future_request_cancel(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_wait(NULL, 0), CF_EINVAL);
  ck_assert_int_eq(cf_future_result(NULL, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_error(NULL, 0), CF_EINVAL);
  ck_assert_ptr_null(cf_future_error_message(NULL));
  ck_assert_int_eq(cf_future_on_done(NULL, cb, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_running(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_result(NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_error(NULL, CF_ETASK, NULL), CF_EINVAL);
  cf_future_times times;
  ck_assert_int_eq(cf_future_times_get(NULL, &times), CF_EINVAL);
  cf_future *out = V(1);
  ck_assert_int_eq(cf_future_then(NULL, NULL, then_fn, NULL, &out), CF_EINVAL);
  ck_assert_ptr_eq(out, V(1)); /* out-parameters untouched on error */
  /* Outside a task. */
  ck_assert(!cf_task_cancel_requested());
  ck_assert_ptr_null(cf_task_current());
  ck_assert_int_eq(cf_task_set_message("x"), CF_ESTATE);
  /* Executors. */
  cf_thread_pool_options_init(NULL);
  cf_process_pool_options_init(NULL);
  ck_assert_int_eq(cf_thread_pool_new(NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_process_pool_new(NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_submit(NULL, cf_test_task_identity, NULL, &out),
                   CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes(NULL, bytes_fn, NULL, 0, &out), CF_EINVAL);
  ck_assert_int_eq(cf_submit_bytes_timeout(NULL, bytes_fn, NULL, 0, 1, &out),
                   CF_EINVAL);
  ck_assert_ptr_eq(out, V(1));
  ck_assert_int_eq(cf_shutdown(NULL, 0), CF_EINVAL);
  ck_assert_int_eq(cf_executor_free(NULL), CF_EINVAL);
  cf_executor_stats st;
  ck_assert_int_eq(cf_executor_stats_get(NULL, &st), CF_EINVAL);
  ck_assert_int_eq(cf_executor_resize(NULL, 2), CF_EINVAL);
  ck_assert_int_eq(cf_process_pool_terminate(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_process_pool_kill(NULL), CF_EINVAL);
  int pids[2];
  ck_assert_int_eq(cf_process_pool_pids(NULL, pids, 2), CF_EINVAL);
  ck_assert_int_eq(cf_future_bytes(NULL, 0, NULL, NULL), CF_EINVAL);
  /* Many futures. */
  ck_assert_int_eq(
      cf_wait(NULL, 1, 0, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(
      cf_wait(NULL, 0, 0, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL), 0);
  cf_as_completed *it = V(1);
  ck_assert_int_eq(cf_as_completed_new(NULL, 1, 0, &it), CF_EINVAL);
  ck_assert_int_eq(cf_as_completed_new(NULL, 0, 0, NULL), CF_EINVAL);
  ck_assert_ptr_eq(it, V(1));
  ck_assert_int_eq(cf_as_completed_next(NULL, &out), CF_EINVAL);
  ck_assert_uint_eq(cf_as_completed_remaining(NULL), 0);
  cf_as_completed_free(NULL);
  ck_assert_int_eq(cf_gather(NULL, 1, 0, 0, NULL, NULL), CF_EINVAL);
  /* map. */
  cf_map_options_init(NULL);
  cf_map *m = V(1);
  ck_assert_int_eq(cf_map_new(NULL, cf_test_task_identity, NULL, 0, NULL, &m),
                   CF_EINVAL);
  ck_assert_ptr_eq(m, V(1));
  ck_assert_int_eq(cf_map_next(NULL, NULL, &(int){0}, NULL), CF_EINVAL);
  cf_map_free(NULL);
  ck_assert_int_eq(
      cf_map_all(NULL, cf_test_task_identity, NULL, 0, NULL, NULL, NULL),
      CF_EINVAL);
  cf_map_bytes_options_init(NULL);
  cf_map_bytes *mb = V(1);
  ck_assert_int_eq(cf_map_bytes_new(NULL, bytes_fn, NULL, 0, NULL, &mb),
                   CF_EINVAL);
  ck_assert_ptr_eq(mb, V(1));
  ck_assert_int_eq(cf_map_bytes_next(NULL, NULL, NULL, &(int){0}, NULL),
                   CF_EINVAL);
  cf_map_bytes_free(NULL);
  /* Groups. */
  cf_group *g = V(1);
  ck_assert_int_eq(cf_group_new(NULL, 0, &g), CF_EINVAL);
  ck_assert_ptr_eq(g, V(1));
  ck_assert_int_eq(cf_group_submit(NULL, cf_test_task_identity, NULL, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(cf_group_wait(NULL, 0), CF_EINVAL);
  ck_assert_int_eq(cf_group_cancel(NULL), CF_EINVAL);
  cf_group_free(NULL);
  /* Channels, semaphores. */
  ck_assert_int_eq(cf_channel_new(1, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_channel_send(NULL, NULL, 0), CF_EINVAL);
  ck_assert_int_eq(cf_channel_try_send(NULL, NULL), CF_EINVAL);
  void *item;
  ck_assert_int_eq(cf_channel_recv(NULL, &item, 0), CF_EINVAL);
  ck_assert_int_eq(cf_channel_try_recv(NULL, &item), CF_EINVAL);
  ck_assert_int_eq(cf_channel_close(NULL), CF_EINVAL);
  ck_assert(!cf_channel_closed(NULL));
  ck_assert_uint_eq(cf_channel_len(NULL), 0);
  ck_assert_uint_eq(cf_channel_capacity(NULL), 0);
  cf_channel_free(NULL);
  ck_assert_int_eq(cf_semaphore_new(1, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_semaphore_acquire(NULL, 0), CF_EINVAL);
  ck_assert_int_eq(cf_semaphore_try_acquire(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_semaphore_release(NULL), CF_EINVAL);
  ck_assert_uint_eq(cf_semaphore_value(NULL), 0);
  cf_semaphore_free(NULL);
  /* Bridge. */
  ck_assert_int_eq(cf_bridge_new(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_fd(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_bind_thread(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_submit(NULL, NULL, cf_test_task_identity, NULL,
                                    bcb, NULL, &out),
                   CF_EINVAL);
  ck_assert_int_eq(cf_bridge_watch(NULL, NULL, bcb, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_watch_timeout(NULL, NULL, 1, bcb, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(cf_bridge_next_timeout_ms(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_dispatch(NULL, 0, NULL), CF_EINVAL);
  ck_assert_uint_eq(cf_bridge_pending(NULL), 0);
  ck_assert_int_eq(cf_bridge_close(NULL), CF_EINVAL);
  ck_assert_int_eq(cf_bridge_free(NULL), CF_EINVAL);
  /* Buffers. */
  cf_buffer_init(NULL);
  ck_assert_int_eq(cf_buffer_reserve(NULL, 1), CF_EINVAL);
  ck_assert_int_eq(cf_buffer_append(NULL, "x", 1), CF_EINVAL);
  cf_buffer b = CF_BUFFER_INIT;
  ck_assert_int_eq(cf_buffer_append(&b, NULL, 1), CF_EINVAL);
  ck_assert_int_eq(cf_buffer_append(&b, NULL, 0), 0);
  /* len + n overflows: refused before any allocation. */
  ck_assert_int_eq(cf_buffer_append(&b, "x", 1), 0);
  ck_assert_int_eq(cf_buffer_reserve(&b, SIZE_MAX), CF_ENOMEM);
  ck_assert_uint_eq(b.len, 1);
  cf_buffer_clear(NULL);
  cf_buffer_free(NULL);
  cf_buffer_free(&b);
  ck_assert_int_eq(atomic_load(&callbacks), 0);
}
END_TEST

/* Live objects, bad arguments: each call refused, the object unharmed. */
START_TEST(test_invalid_arguments_on_live_objects) {
  atomic_store(&callbacks, 0);
  cf_thread_pool_options o;
  cf_thread_pool_options_init(&o);
  cf_executor *ex = V(1);
  o.max_workers = 0;
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), CF_EINVAL);
  o.max_workers = -5;
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), CF_EINVAL);
  o.max_workers = 2;
  o.flags = 1u << 30;
  ck_assert_int_eq(cf_thread_pool_new(&o, &ex), CF_EINVAL);
  ck_assert_ptr_eq(ex, V(1));
  ex = cf_test_pool(2);
  cf_future *f = V(1);
  ck_assert_int_eq(cf_submit(ex, NULL, NULL, &f), CF_EINVAL);
  ck_assert_ptr_eq(f, V(1));
  ck_assert_int_eq(cf_shutdown(ex, 1u << 20), CF_EINVAL);
  ck_assert_int_eq(cf_executor_resize(ex, 0), CF_EINVAL);
  ck_assert_int_eq(cf_executor_resize(ex, -1), CF_EINVAL);
  /* A thread pool where a process pool is needed. */
  ck_assert_int_eq(cf_submit_bytes(ex, bytes_fn, "x", 1, &f), CF_EINVAL);
  ck_assert_int_eq(cf_process_pool_terminate(ex), CF_EINVAL);
  ck_assert_int_eq(cf_process_pool_kill(ex), CF_EINVAL);
  int pids[1];
  ck_assert_int_eq(cf_process_pool_pids(ex, pids, 1), CF_EINVAL);
  cf_map_bytes *mb = V(1);
  cf_bytes items[1] = {{"x", 1}};
  ck_assert_int_eq(cf_map_bytes_new(ex, bytes_fn, items, 1, NULL, &mb),
                   CF_EINVAL);
  ck_assert_int_eq(cf_map_bytes_new(ex, bytes_fn, NULL, 1, NULL, &mb),
                   CF_EINVAL);
  /* A future the pool owns: user code may not complete it, and it holds
   * no bytes. */
  cf_test_gate gate;
  cf_test_gate_init(&gate);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_gate, &gate, &f), 0);
  ck_assert_int_eq(cf_future_set_result(f, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_running(f), CF_EINVAL);
  ck_assert_int_eq(cf_future_bytes(f, 0, NULL, NULL), CF_EINVAL);
  /* NaN timeouts, bad modes, NULL entries. */
  ck_assert_int_eq(cf_future_wait(f, NAN), CF_EINVAL);
  ck_assert_int_eq(cf_future_result(f, NAN, NULL), CF_EINVAL);
  cf_future *fs[2] = {f, NULL};
  ck_assert_int_eq(
      cf_wait(fs, 1, NAN, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(
      cf_wait(fs, 1, 0, (cf_return_when)99, NULL, NULL, NULL, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_wait(fs, 2, 0, CF_ALL_COMPLETED, NULL, NULL, NULL, NULL),
                   CF_EINVAL);
  cf_as_completed *it = V(1);
  ck_assert_int_eq(cf_as_completed_new(fs, 2, 0, &it), CF_EINVAL);
  ck_assert_int_eq(cf_as_completed_new(fs, 1, NAN, &it), CF_EINVAL);
  ck_assert_ptr_eq(it, V(1));
  ck_assert_int_eq(cf_gather(fs, 2, 0, 0, NULL, NULL), CF_EINVAL);
  /* RETURN_ERRORS needs the errors array. */
  ck_assert_int_eq(cf_gather(fs, 1, 0, CF_GATHER_RETURN_ERRORS, NULL, NULL),
                   CF_EINVAL);
  ck_assert_int_eq(cf_future_on_done(f, NULL, NULL), CF_EINVAL);
  cf_future *t = V(1);
  ck_assert_int_eq(cf_future_then(f, NULL, NULL, NULL, &t), CF_EINVAL);
  ck_assert_int_eq(cf_future_then(f, NULL, then_fn, NULL, NULL), CF_EINVAL);
  ck_assert_ptr_eq(t, V(1));
  cf_group *g = V(1);
  ck_assert_int_eq(cf_group_new(ex, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_group_new(ex, 1u << 20, &g), CF_EINVAL);
  ck_assert_ptr_eq(g, V(1));
  cf_map *m = V(1);
  void *args[1] = {NULL};
  ck_assert_int_eq(cf_map_new(ex, NULL, args, 1, NULL, &m), CF_EINVAL);
  ck_assert_int_eq(cf_map_new(ex, cf_test_task_identity, NULL, 1, NULL, &m),
                   CF_EINVAL);
  cf_map_options mo;
  cf_map_options_init(&mo);
  mo.timeout = NAN;
  ck_assert_int_eq(cf_map_new(ex, cf_test_task_identity, args, 1, &mo, &m),
                   CF_EINVAL);
  ck_assert_ptr_eq(m, V(1));
  /* The pool is unharmed. */
  cf_test_gate_open(&gate);
  void *r;
  ck_assert_int_eq(cf_future_result(f, 10, &r), 0);
  ck_assert_ptr_eq(r, &gate);
  cf_future_release(f);
  cf_test_gate_destroy(&gate);
  ck_assert_int_eq(cf_executor_free(ex), 0);
  ck_assert_int_eq(atomic_load(&callbacks), 0);
}
END_TEST

/* States in the wrong order (row 25). */
START_TEST(test_state_misuse) {
  cf_future *f;
  ck_assert_int_eq(cf_future_new(&f), 0);
  ck_assert_int_eq(cf_future_set_error(f, 0, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_set_error(f, 5, NULL), CF_EINVAL);
  ck_assert_int_eq(cf_future_state(f), CF_PENDING);
  ck_assert_int_eq(cf_future_set_running(f), 0);
  ck_assert_int_eq(cf_future_set_running(f), CF_ESTATE);
  ck_assert(!cf_future_cancel(f)); /* running: too late */
  ck_assert_int_eq(cf_future_set_result(f, V(3)), 0);
  ck_assert_int_eq(cf_future_set_result(f, V(4)), CF_ESTATE);
  ck_assert_int_eq(cf_future_set_error(f, CF_ETASK, "late"), CF_ESTATE);
  ck_assert_int_eq(cf_future_request_cancel(f), CF_ESTATE);
  void *r;
  ck_assert_int_eq(cf_future_result(f, 0, &r), 0);
  ck_assert_ptr_eq(r, V(3));
  cf_future_release(f);

  ck_assert_int_eq(cf_future_new(&f), 0);
  ck_assert(cf_future_cancel(f));
  ck_assert(cf_future_cancel(f)); /* already cancelled: still true */
  ck_assert_int_eq(cf_future_set_running(f), CF_ECANCELED);
  ck_assert_int_eq(cf_future_set_result(f, NULL), CF_ESTATE);
  ck_assert_int_eq(cf_future_result(f, 0, &r), CF_ECANCELED);
  ck_assert_int_eq(cf_future_error(f, 0), CF_ECANCELED);
  cf_future_release(f);

  /* A pending future polled with timeout 0 times out at once. */
  ck_assert_int_eq(cf_future_new(&f), 0);
  ck_assert_int_eq(cf_future_result(f, 0, &r), CF_ETIMEDOUT);
  ck_assert(!cf_future_done(f));
  cf_future_release(f);

  /* Submit after shutdown; shutdown twice; free after shutdown. */
  cf_executor *ex = cf_test_pool(1);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(cf_shutdown(ex, CF_SHUTDOWN_WAIT), 0);
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, NULL, &f),
                   CF_ESHUTDOWN);
  ck_assert_int_eq(cf_executor_resize(ex, 3), CF_ESHUTDOWN);
  cf_group *g;
  if (cf_group_new(ex, 0, &g) == 0) {
    ck_assert_int_eq(cf_group_submit(g, cf_test_task_identity, NULL, NULL),
                     CF_ESHUTDOWN);
    cf_group_free(g);
  }
  ck_assert_int_eq(cf_executor_free(ex), 0);

  /* A group is closed once waited for. */
  ex = cf_test_pool(1);
  ck_assert_int_eq(cf_group_new(ex, 0, &g), 0);
  ck_assert_int_eq(cf_group_submit(g, cf_test_task_identity, NULL, NULL), 0);
  ck_assert_int_eq(cf_group_wait(g, 10), 0);
  ck_assert_int_eq(cf_group_submit(g, cf_test_task_identity, NULL, NULL),
                   CF_ESTATE);
  cf_group_free(g);

  /* A map past its end keeps saying so. */
  void *args[2] = {V(1), V(2)};
  cf_map *m;
  ck_assert_int_eq(cf_map_new(ex, cf_test_task_identity, args, 2, NULL, &m), 0);
  size_t idx;
  int err;
  ck_assert_int_eq(cf_map_next(m, &r, NULL, &idx), CF_EINVAL); /* err */
  ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), 0);
  ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), 0);
  ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), CF_EOF);
  ck_assert_int_eq(cf_map_next(m, &r, &err, &idx), CF_EOF);
  cf_map_free(m);

  /* An iterator past its end, too. */
  cf_future *one;
  ck_assert_int_eq(cf_submit(ex, cf_test_task_identity, NULL, &one), 0);
  cf_as_completed *it;
  ck_assert_int_eq(cf_as_completed_new(&one, 1, 10, &it), 0);
  cf_future *got;
  ck_assert_int_eq(cf_as_completed_next(it, &got), 0);
  cf_future_release(got);
  ck_assert_int_eq(cf_as_completed_next(it, &got), CF_EOF);
  ck_assert_int_eq(cf_as_completed_next(it, &got), CF_EOF);
  cf_as_completed_free(it);
  cf_future_release(one);
  ck_assert_int_eq(cf_executor_free(ex), 0);

  /* Channel: closed twice, send after close. */
  cf_channel *ch;
  ck_assert_int_eq(cf_channel_new(1, &ch), 0);
  ck_assert_int_eq(cf_channel_close(ch), 0);
  ck_assert_int_eq(cf_channel_close(ch), 0);
  ck_assert_int_eq(cf_channel_try_send(ch, NULL), CF_ESHUTDOWN);
  void *item;
  ck_assert_int_eq(cf_channel_recv(ch, &item, 0), CF_EOF);
  ck_assert_int_eq(cf_channel_recv(ch, NULL, 0), CF_EINVAL);
  cf_channel_free(ch);
  /* Semaphore: NaN. */
  cf_semaphore *s;
  ck_assert_int_eq(cf_semaphore_new(0, &s), 0);
  ck_assert_int_eq(cf_semaphore_acquire(s, NAN), CF_EINVAL);
  ck_assert_int_eq(cf_semaphore_acquire(s, 0), CF_ETIMEDOUT);
  cf_semaphore_free(s);
}
END_TEST

Suite *cf_badinput_suite(void) {
  Suite *s = suite_create("badinput");
  TCase *tc = tcase_create("badinput");
  cf_test_tcase_timeout(tc, 30);
  cf_test_tcase_census(tc);
  tcase_add_test(tc, test_null_everywhere);
  tcase_add_test(tc, test_invalid_arguments_on_live_objects);
  tcase_add_test(tc, test_state_misuse);
  suite_add_tcase(s, tc);
  return s;
}
