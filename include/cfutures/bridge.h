/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures/bridge.h
 * @brief The event-loop bridge: Python's loop.run_in_executor and
 * asyncio.wrap_future for C event loops (see @ref bridge).
 */
/**
 * @defgroup bridge Event-loop bridge
 * @brief Python's loop.run_in_executor and asyncio.wrap_future for C event
 * loops: completions delivered on the loop's thread, one wake per burst.
 *
 * A bridge is a completion channel owned by one event-loop thread. Work is
 * submitted through it (or any future is watched through it); when the
 * future is done, the bridge makes one descriptor readable, and the loop
 * calls cf_bridge_dispatch, which runs each completion callback on the loop
 * thread, in completion order, with no library lock held. Workers write to
 * the descriptor only when the completion list was empty, so a burst of
 * completions costs the loop one wake, not one per task.
 *
 * Ready-made adapters (@ref adapters): cfutures/uv.h (libuv, library
 * cfutures_uv) and cfutures/event.h (libevent, library cfutures_event). A
 * plain epoll loop needs no adapter:
 *
 * @code
 *   cf_bridge *b;
 *   cf_bridge_new(&b);
 *   struct epoll_event ev = {.events = EPOLLIN, .data.ptr = b};
 *   epoll_ctl(ep, EPOLL_CTL_ADD, cf_bridge_fd(b), &ev);
 *   cf_bridge_submit(b, pool, work, arg, on_done, ctx, NULL);
 *   for (;;) {
 *     int n = epoll_wait(ep, evs, 16, cf_bridge_next_timeout_ms(b));
 *     ... handle the loop's other descriptors ...
 *     cf_bridge_dispatch(b, 64, NULL); // readable, or a deadline passed
 *   }
 *   cf_bridge_free(b);
 * @endcode
 *
 * with
 *
 * @code
 *   static void on_done(cf_future *f, int status, void *ctx) {
 *     void *v;
 *     if (status == 0 && cf_future_result(f, 0, &v) == 0)
 *       ... use v, on the loop thread ...
 *   }
 * @endcode
 *
 * Dispatching when the descriptor is not readable is harmless (it runs what
 * is ready, possibly nothing), so a loop may call cf_bridge_dispatch on
 * every iteration instead of testing which descriptor woke it.
 * @{
 */
#ifndef CFUTURES_BRIDGE_H
#define CFUTURES_BRIDGE_H

#include "../cfutures.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A completion channel owned by one event-loop thread (opaque). */
typedef struct cf_bridge cf_bridge;

/* cf_buffer (cfutures/process_pool.h), named here without its header,
 * which includes this one. */
struct cf_buffer;

/**
 * A completion callback, run on the loop thread by cf_bridge_dispatch (or
 * by cf_bridge_close / cf_bridge_free). f is borrowed for the duration of
 * the call (take a reference with cf_future_retain to keep it). status
 * says why the callback runs:
 *
 *  - 0: f is done (finished or cancelled); cf_future_result(f, 0, &v) gives
 *    its outcome without blocking.
 *  - CF_ETIMEDOUT: the watch's timeout passed before f was done. The bridge
 *    has called cf_future_request_cancel(f) just before this call, so f may
 *    now be cancelled, or still running (its cancel token raised). The
 *    bridge drops f afterwards; nothing else is delivered for it.
 *  - CF_ESHUTDOWN: the bridge was closed before f's completion reached it;
 *    f may be pending, running or done (cf_future_done tells). The bridge
 *    does not cancel the task. (A task that was cancelled is reported with
 *    status 0 and cf_future_result giving CF_ECANCELED.)
 *
 * Argument lifetime: unless status is 0, f may not be done, and a task
 * that is still running may still read the argument given to
 * cf_bridge_submit. Free that argument only once f is done, which
 * cf_future_on_done arranges in every case (it runs at once if f is done
 * already, otherwise on the thread that completes f, after the task has
 * returned):
 *
 * @code
 *   static void free_request(cf_future *f, void *req) { (void)f; free(req); }
 *
 *   static void on_done(cf_future *f, int status, void *req) {
 *     if (status == 0)
 *       ... use the outcome, cf_future_result(f, 0, &v) ...
 *     else
 *       cf_future_request_cancel(f); // a pending task will not run
 *     if (cf_future_on_done(f, free_request, req) != 0) {
 *       cf_future_wait(f, -1); // out of memory: wait for the task instead
 *       free_request(f, req);
 *     }
 *   }
 * @endcode
 *
 * Freeing the argument in the callback itself is safe only when status is
 * 0. Byte tasks (cf_bridge_submit_bytes) copy their input, so none of this
 * applies to them.
 *
 * Each watch's callback runs exactly once. The callback may submit and
 * watch again through the same bridge, cancel futures, and close or free
 * the bridge (the rest of the batch is then delivered as cf_bridge_close
 * describes).
 *
 * @param f The future (borrowed).
 * @param status 0, CF_ETIMEDOUT or CF_ESHUTDOWN, as above.
 * @param userdata The pointer given with the watch.
 */
typedef void (*cf_bridge_fn)(cf_future *f, int status, void *userdata);

/**
 * Creates a bridge with its descriptor: an eventfd (a pipe where eventfd is
 * missing), non-blocking and close-on-exec. *out receives the bridge,
 * which is not yet bound to a thread: the first thread to call
 * cf_bridge_dispatch (or cf_bridge_bind_thread) becomes its loop thread.
 *
 * @param[out] out Receives the bridge, freed with cf_bridge_free.
 * @return 0, CF_EINVAL (out NULL), CF_ENOMEM, CF_EMFILE (no descriptor
 *         left).
 * @threads Never blocks. Any thread.
 */
CF_EXTERN int cf_bridge_new(cf_bridge **out);

/**
 * The descriptor to poll for readability (EPOLLIN, UV_READABLE, EV_READ).
 * It stays owned by the bridge: do not read, write or close it. It stays
 * open until cf_bridge_free.
 *
 * @param b The bridge.
 * @return The descriptor, or CF_EINVAL for NULL.
 * @threads Never blocks. Any thread.
 */
CF_EXTERN int cf_bridge_fd(const cf_bridge *b);

/**
 * Makes the calling thread the bridge's loop thread (hand-over from the
 * thread that first dispatched is allowed, but not while that thread is
 * inside cf_bridge_dispatch).
 *
 * @param b The bridge.
 * @return 0 or CF_EINVAL (NULL).
 * @threads Never blocks. The thread that becomes the loop thread.
 */
CF_EXTERN int cf_bridge_bind_thread(cf_bridge *b);

/**
 * Submits fn(arg) to executor with cf_submit and calls on_done(future, 0,
 * userdata) on the loop thread once it is done (loop.run_in_executor).
 * The bridge holds its own reference to the future until on_done has run.
 * On error on_done never runs; if the task was queued before the watch
 * failed (the bridge closed meanwhile, or memory ran out), it is
 * cancelled, or asked to stop with cf_future_request_cancel if it already
 * runs.
 *
 * @param b The bridge.
 * @param executor The executor the task runs on (a thread pool).
 * @param fn The task.
 * @param arg Passed to fn; the caller keeps it alive until the task is
 *            done, which the status given to on_done does not always
 *            mean (see cf_bridge_fn).
 * @param on_done Run on the loop thread once the task is done.
 * @param userdata Passed to on_done.
 * @param[out] out If not NULL, receives one reference to the future (to
 *                 cancel it, for instance: on_done then receives a
 *                 cancelled future).
 * @return 0, CF_EINVAL (b, executor, fn or on_done NULL), CF_ESTATE (the
 *         bridge is closed), CF_ENOMEM, or any error of cf_submit
 *         (CF_ESHUTDOWN, CF_EBROKEN, CF_EAGAIN, CF_EINVAL for an executor
 *         that takes byte tasks: use cf_bridge_submit_bytes).
 * @threads Blocks only where cf_submit blocks (a full bounded queue). Any
 *          thread.
 */
CF_EXTERN int cf_bridge_submit(cf_bridge *b, cf_executor *executor, cf_fn fn,
                               void *arg, cf_bridge_fn on_done, void *userdata,
                               cf_future **out);

/**
 * Submits the byte task fn(data[0..len)) to a process pool or an MPI pool
 * with cf_submit_bytes and calls on_done(future, 0, userdata) on the loop
 * thread once it is done: cf_bridge_submit for executors whose tasks take
 * and return bytes. data is copied before this returns, so the caller may
 * free it at once, whatever status on_done later receives. In on_done,
 * cf_future_bytes(f, 0, &out, &n) gives the result bytes (or the task's
 * error: CF_EWORKER, CF_ETIMEDOUT, ...) without blocking. The bridge holds
 * its own reference to the future until on_done has run. On error on_done
 * never runs; if the task was queued before the watch failed, it is
 * cancelled, or asked to stop if it already runs.
 *
 * @param b The bridge.
 * @param executor The executor the task runs on (a process pool or an MPI
 *                 pool).
 * @param fn The task, a cf_bytes_fn (spelled out here because
 *           cfutures/process_pool.h, which defines that type, includes
 *           this header); registered by name (CF_TASK) where the workers
 *           are not forks of this process (spawn, forkserver, MPI).
 * @param[in] data The input bytes, copied (NULL allowed when len is 0).
 * @param len How many.
 * @param on_done Run on the loop thread once the task is done.
 * @param userdata Passed to on_done.
 * @param[out] out If not NULL, receives one reference to the future.
 * @return 0, CF_EINVAL (b, executor, fn or on_done NULL), CF_ESTATE (the
 *         bridge is closed), CF_ENOMEM, or any error of cf_submit_bytes
 *         (CF_EINVAL for an executor that takes no byte tasks, such as a
 *         thread pool, or data NULL with len > 0; CF_ETOOBIG, CF_ENOENT,
 *         CF_ESHUTDOWN, CF_EBROKEN).
 * @threads Never blocks on the workers. Any thread.
 */
CF_EXTERN int cf_bridge_submit_bytes(cf_bridge *b, cf_executor *executor,
                                     int (*fn)(const void *in, size_t len,
                                               struct cf_buffer *out),
                                     const void *data, size_t len,
                                     cf_bridge_fn on_done, void *userdata,
                                     cf_future **out);

/**
 * Delivers the completion of any future (asyncio.wrap_future): a thread-
 * or process-pool future, a continuation, or one made by cf_future_new.
 * on_done(f, 0, userdata) runs on the loop thread once f is done (at the
 * next dispatch if f is done already). The bridge holds a reference to f
 * until on_done has run; the caller keeps its own. Watching one future
 * several times (through one or several bridges) delivers each watch once.
 *
 * A future made by cf_future_new that is never completed keeps the
 * watch's record and the bridge's memory (not its descriptor) alive after
 * cf_bridge_free: complete or cancel such futures.
 *
 * @param b The bridge.
 * @param f The future to watch (the caller keeps its reference).
 * @param on_done Run on the loop thread once f is done.
 * @param userdata Passed to on_done.
 * @return 0, CF_EINVAL (b, f or on_done NULL), CF_ESTATE (the bridge is
 *         closed), CF_ENOMEM.
 * @threads Never blocks. Any thread.
 */
CF_EXTERN int cf_bridge_watch(cf_bridge *b, cf_future *f, cf_bridge_fn on_done,
                              void *userdata);

/**
 * cf_bridge_watch with a loop-side timeout in seconds: if f is not done
 * when the timeout passes, on_done(f, CF_ETIMEDOUT, userdata) runs on the
 * loop thread instead, after cf_future_request_cancel(f) (a pending task
 * is cancelled, a running one sees its cancel token). A negative timeout
 * is cf_bridge_watch. No thread and no descriptor per watch: the bridge
 * keeps a deadline heap that cf_bridge_dispatch checks, and
 * cf_bridge_next_timeout_ms tells the loop how long it may sleep; adding a
 * watch whose deadline comes before every other makes the descriptor
 * readable, so a loop that is asleep recomputes its timeout.
 *
 * @param b The bridge.
 * @param f The future to watch (the caller keeps its reference).
 * @param timeout Seconds from now; negative = none.
 * @param on_done Run on the loop thread once f is done or the timeout
 *                passed.
 * @param userdata Passed to on_done.
 * @return As cf_bridge_watch, and CF_EINVAL for a NaN timeout.
 * @threads Never blocks. Any thread.
 */
CF_EXTERN int cf_bridge_watch_timeout(cf_bridge *b, cf_future *f,
                                      double timeout, cf_bridge_fn on_done,
                                      void *userdata);

/**
 * Milliseconds until the earliest watch deadline (rounded up): the
 * timeout argument for epoll_wait or poll.
 *
 * @param b The bridge.
 * @return The milliseconds, 0 if a deadline has passed, -1 if there is
 *         none; CF_EINVAL for NULL.
 * @threads Never blocks. Any thread.
 */
CF_EXTERN int cf_bridge_next_timeout_ms(cf_bridge *b);

/**
 * Runs ready completion callbacks, on the calling thread, in completion
 * order (deadlines that passed count as completions, at the time of the
 * call), with no lock held. Call it when the descriptor is readable or the
 * cf_bridge_next_timeout_ms timeout has passed. At most max callbacks run
 * (0 = every completion ready when the call starts, not those that arrive
 * during it), so a flood cannot starve the loop: if completions remain,
 * the descriptor is left readable and the loop comes back.
 *
 * The first thread to dispatch becomes the loop thread (unless
 * cf_bridge_bind_thread chose one).
 *
 * @param b The bridge.
 * @param max Most callbacks to run; 0 = every completion ready when the
 *            call starts.
 * @param[out] ran If not NULL, receives the number of callbacks run.
 * @return 0; CF_EINVAL (b NULL, or called from a thread that is not the
 *         loop thread: nothing runs); CF_EBUSY (called from inside one of
 *         the bridge's callbacks: nothing runs); CF_ESTATE (the bridge is
 *         closed).
 * @threads Never blocks (except in callbacks). Loop thread only.
 */
CF_EXTERN int cf_bridge_dispatch(cf_bridge *b, size_t max, size_t *ran);

/**
 * How many watches (submits included) have not had their callback run.
 *
 * @param b The bridge.
 * @return The count; 0 for NULL.
 * @threads Never blocks. Any thread.
 */
CF_EXTERN size_t cf_bridge_pending(cf_bridge *b);

/**
 * Closes the bridge with work in flight, on the loop thread: later
 * submits and watches fail with CF_ESTATE, and every callback not yet run
 * runs now, on the calling thread, before this returns -- first those whose
 * completion (or timeout) had already reached the bridge, with their
 * status (0 or CF_ETIMEDOUT), then all others with CF_ESHUTDOWN. No
 * callback is lost and none runs later. Tasks are not cancelled; their
 * completions, when they come, are dropped without touching freed memory.
 * A task delivered with CF_ESHUTDOWN may still be running and reading its
 * argument: see cf_bridge_fn for when that argument may be freed.
 * Called from inside a callback, the rest of the current batch is
 * delivered the same way. The descriptor stays open until cf_bridge_free,
 * and may stay readable: stop polling it once the bridge is closed (the
 * adapters do).
 *
 * @param b The bridge.
 * @return 0, CF_EINVAL (NULL, or a thread other than the loop thread once
 *         one is bound), CF_ESTATE (already closed).
 * @threads Never blocks (except in callbacks). Loop thread only.
 */
CF_EXTERN int cf_bridge_close(cf_bridge *b);

/**
 * Closes the bridge as cf_bridge_close does if that was not done, closes
 * its descriptor (stop polling it first) and drops the caller's handle;
 * the memory goes once no completion in flight can touch it. May be called
 * from inside a callback.
 *
 * @param b The bridge.
 * @return 0, CF_EINVAL (NULL, or a thread other than the loop thread:
 *         nothing is freed).
 * @threads Never blocks (except in callbacks). Loop thread only.
 */
CF_EXTERN int cf_bridge_free(cf_bridge *b);

/** @} */

/**
 * @defgroup adapters Event-loop adapters
 * @brief The bridge on libuv (@ref uv_adapter), libevent
 * (@ref event_adapter) and epoll.
 *
 * Each adapter is its own library, so that the core depends on no event
 * loop. An epoll (or poll, select) loop needs no adapter: it polls
 * cf_bridge_fd(), sleeps at most cf_bridge_next_timeout_ms() and calls
 * cf_bridge_dispatch() (the example in @ref bridge).
 */

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_BRIDGE_H */
