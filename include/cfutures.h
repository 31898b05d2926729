/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures.h
 * @brief cfutures: Python's concurrent.futures for C.
 *
 * Executors run work on a pool of threads (or of forked worker processes,
 * see cfutures/process_pool.h) and hand back futures that can be waited on,
 * gathered, iterated as they complete, cancelled and given timeouts.
 *
 * Conventions that hold for every function below unless its comment says
 * otherwise:
 *
 *  - Fallible calls return 0 on success or a negative CF_E* code; results
 *    come back through out-parameters, which are left untouched on error.
 *    No function prints, aborts or raises a signal because of a caller's
 *    mistake.
 *  - Timeouts are in seconds (a double), measured on CLOCK_MONOTONIC. A
 *    negative timeout waits forever, zero polls, NaN is CF_EINVAL. A timeout
 *    becomes one absolute deadline when the call starts; calls that wait on
 *    many futures share that deadline.
 *  - Futures are reference-counted. A function that hands out a future
 *    (cf_submit, cf_future_new, ...) gives the caller one reference, which
 *    the caller drops with cf_future_release. Functions that take a future
 *    borrow it for the duration of the call.
 *  - Every function is thread-safe unless its comment says otherwise.
 *
 * This header holds the core: @ref errors, @ref version, @ref futures,
 * @ref continuations, @ref tasks, @ref executors, @ref thread_pool,
 * @ref waiting, @ref map, @ref groups and @ref clock. It includes the
 * headers of the bridge, the channel, the process pool (with the byte
 * buffers and the registry) and the semaphore.
 */
#ifndef CFUTURES_H
#define CFUTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup version Version
 * @brief The library's version, at compile time and at run time.
 *
 * The header's numbers say which API a program was compiled against;
 * cf_version() says which library it runs with.
 * @{
 */

/**
 * @def CF_EXTERN
 * @brief Marks a public function: exported from the shared library when
 * the library itself is built (CF_BUILDING), nothing otherwise (and for
 * the static library, CF_STATIC).
 */
#if defined(CF_STATIC)
#define CF_EXTERN
#elif defined(CF_BUILDING)
#define CF_EXTERN __attribute__((visibility("default")))
#else
#define CF_EXTERN
#endif

/** The major version: changes when the API or the ABI breaks. */
#define CF_VERSION_MAJOR 0
/** The minor version: changes when the API grows compatibly. */
#define CF_VERSION_MINOR 1
/** The patch version: changes for fixes only. */
#define CF_VERSION_PATCH 0
/**
 * The version as one number, 0xMMmmpp (major, minor, patch), for
 * comparisons in the preprocessor: `#if CF_VERSION_HEX >= 0x000100`.
 */
#define CF_VERSION_HEX                                                         \
  ((CF_VERSION_MAJOR << 16) | (CF_VERSION_MINOR << 8) | CF_VERSION_PATCH)

/**
 * The library's version as "MAJOR.MINOR.PATCH" (static storage).
 *
 * @return The version string of the library the program runs with, which
 *         may differ from the header's CF_VERSION_* it was compiled with.
 * @threads Never blocks; any thread.
 */
CF_EXTERN const char *cf_version(void);

/** @} */

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/**
 * @defgroup errors Errors
 * @brief Negative CF_E* codes, their names and messages.
 *
 * Every fallible function returns 0 or one of these codes (Python's
 * exceptions: BrokenExecutor is CF_EBROKEN, CancelledError CF_ECANCELED,
 * TimeoutError CF_ETIMEDOUT, InvalidStateError CF_ESTATE). A task may
 * return any of them, or a code of its own.
 * @{
 */

/**
 * Every error code, its value and its message, in one table. Codes that have
 * a POSIX errno twin use minus that errno (as libuv does on Unix), so
 * -errno from a system call can be returned as is.
 *
 * @param X A macro called as X(name, value, message) for each code: name
 *          without the CF_ prefix, the negative value, the message that
 *          cf_strerror() returns.
 */
#define CF_ERRNO_MAP(X)                                                        \
  X(EINVAL, -22, "invalid argument")                                           \
  X(ENOMEM, -12, "out of memory")                                              \
  X(EAGAIN, -11, "resource temporarily unavailable")                           \
  X(ETIMEDOUT, -110, "timed out")                                              \
  X(ECANCELED, -125, "operation cancelled")                                    \
  X(ESHUTDOWN, -108, "shut down")                                              \
  X(EDEADLK, -35, "operation would deadlock")                                  \
  X(EBUSY, -16, "resource busy")                                               \
  X(EMFILE, -24, "too many open files")                                        \
  X(EPROTO, -71, "protocol error")                                             \
  X(EPIPE, -32, "broken pipe")                                                 \
  X(ENOSYS, -38, "function not implemented")                                   \
  X(ENOENT, -2, "no such name registered")                                     \
  X(EEXIST, -17, "name already registered")                                    \
  X(EBROKEN, -4001, "executor is broken")                                      \
  X(ESTATE, -4002, "invalid state for this operation")                         \
  X(EWORKER, -4003, "worker process died")                                     \
  X(ETOOBIG, -4004, "payload too large")                                       \
  X(ETASK, -4005, "task failed")                                               \
  X(EOF, -4095, "end of sequence")

/** The error codes, generated from CF_ERRNO_MAP. */
typedef enum {
#define CF__ERR_ENUM(name, value, msg) CF_##name = (value),
  CF_ERRNO_MAP(CF__ERR_ENUM)
#undef CF__ERR_ENUM
} cf_errno;

/**
 * @var CF_EINVAL
 * Invalid argument: a NULL where an object is required, a NaN timeout, an
 * unknown flag, or an object of the wrong kind (-EINVAL).
 * @var CF_ENOMEM
 * Out of memory (-ENOMEM).
 * @var CF_EAGAIN
 * Resource temporarily unavailable: a full queue or channel that was asked
 * not to block, or a thread or process that could not be created (-EAGAIN).
 * @var CF_ETIMEDOUT
 * The timeout passed first; or a task's own timeout killed it (-ETIMEDOUT).
 * @var CF_ECANCELED
 * The future was cancelled before it ran, or the task stopped on request
 * (-ECANCELED).
 * @var CF_ESHUTDOWN
 * The executor (or channel) is shut down and accepts no more work; to a
 * bridge callback, the bridge closed before the future's completion
 * reached it (-ESHUTDOWN).
 * @var CF_EDEADLK
 * The call would wait for itself, such as a waiting shutdown from one of
 * the executor's own workers (-EDEADLK).
 * @var CF_EBUSY
 * The object is in use, such as a bridge dispatched from inside its own
 * callback (-EBUSY).
 * @var CF_EMFILE
 * No file descriptor left (-EMFILE).
 * @var CF_EPROTO
 * A peer (a worker process, a rank) sent a malformed message (-EPROTO).
 * @var CF_EPIPE
 * The channel to a peer broke (-EPIPE).
 * @var CF_ENOSYS
 * This executor kind (or this MPI library) cannot do that (-ENOSYS).
 * @var CF_ENOENT
 * No task or initializer is registered under that name (-ENOENT).
 * @var CF_EEXIST
 * The name is registered for another function: it is ambiguous (-EEXIST).
 * @var CF_EBROKEN
 * The executor is broken (an initializer failed, a peer was lost): pending
 * and later work fails (Python's BrokenExecutor).
 * @var CF_ESTATE
 * The object is not in a state that allows the call: a future completed
 * twice, a closed bridge, a group already waited for (Python's
 * InvalidStateError).
 * @var CF_EWORKER
 * The worker process running the task died (a signal, exit(), abort());
 * the future's message names the status.
 * @var CF_ETOOBIG
 * An argument or a result is larger than the executor's max_payload.
 * @var CF_ETASK
 * The task failed, with no more specific code (the code for a task that
 * returns a positive value).
 * @var CF_EOF
 * End of sequence: an iterator, a map or a closed channel has nothing more
 * to give. Not a failure.
 */

/** The same code as CF_ESTATE (its older name). */
#define CF_EINVALSTATE CF_ESTATE
/** The same code as CF_ECANCELED: both spellings name it. */
#define CF_ECANCELLED CF_ECANCELED

/**
 * The message for an error code (static storage, never NULL).
 *
 * @param err A CF_E* code, 0, or any other int.
 * @return The message for err. Unknown codes give "unknown error". 0 gives
 *         "success".
 * @threads Never blocks; any thread.
 */
CF_EXTERN const char *cf_strerror(int err);

/**
 * The code's name without its prefix, such as "ETIMEDOUT" (static storage).
 *
 * @param err A CF_E* code, 0, or any other int.
 * @return The name, never NULL: "OK" for 0, "UNKNOWN" for a code not in
 *         the table.
 * @threads Never blocks; any thread.
 */
CF_EXTERN const char *cf_err_name(int err);

/** @} */

/* ------------------------------------------------------------------------ */
/* Futures                                                                   */
/* ------------------------------------------------------------------------ */

/**
 * @defgroup futures Futures
 * @brief The outcome of a task: wait on it, read its result or error,
 * cancel it, be called when it is done (Python's Future).
 *
 * Futures are reference-counted: a call that hands one out gives the
 * caller one reference, dropped with cf_future_release(). A future made by
 * cf_future_new() is completed by user code (cf_future_set_running(),
 * cf_future_set_result(), cf_future_set_error()); the others by their
 * executor.
 * @{
 */

/** A future (opaque, reference-counted). */
typedef struct cf_future cf_future;
/**
 * An executor (opaque): a thread pool, a process pool or an MPI pool, all
 * driven through the same calls.
 * @ingroup executors
 */
typedef struct cf_executor cf_executor;

/**
 * A task run by a thread pool. It receives the argument given to cf_submit
 * and stores its result in *result (the future does not own or free it).
 * It returns 0 on success or a negative error code of its choosing (use
 * CF_ETASK when none fits); cf_task_set_message adds a message. A task that
 * returns CF_ECANCELED after cf_task_cancel_requested() became true ends
 * cancelled.
 *
 * @param arg The argument given to cf_submit (or cf_map_new, ...).
 * @param[out] result Where the task stores its result.
 * @return 0, or a negative error code.
 */
typedef int (*cf_fn)(void *arg, void **result);

/**
 * A done callback: the future is borrowed for the duration of the call.
 *
 * @param f The future that is done (borrowed).
 * @param userdata The pointer given to cf_future_on_done.
 */
typedef void (*cf_done_fn)(cf_future *f, void *userdata);

/** The states of a future, as returned by cf_future_state. */
typedef enum {
  CF_PENDING = 0, /**< queued, or created by cf_future_new and not started */
  CF_RUNNING = 1, /**< a worker runs it (or cf_future_set_running was called) */
  CF_FINISHED = 2, /**< done with a result or an error */
  CF_CANCELLED = 3 /**< done, cancelled before it ran */
} cf_state;

/**
 * Creates a future that user code completes with cf_future_set_result or
 * cf_future_set_error (Python's Future() used by executor writers).
 *
 * @param[out] out Receives the future, with one reference.
 * @return 0, or CF_EINVAL (out NULL), CF_ENOMEM.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_future_new(cf_future **out);

/**
 * Adds a reference.
 *
 * @param f The future, or NULL.
 * @return f (NULL if f is NULL).
 * @threads Never blocks; any thread.
 */
CF_EXTERN cf_future *cf_future_retain(cf_future *f);

/**
 * Drops a reference; the future is freed with the last one. Releasing a
 * pending future does not cancel its task: the task still runs (or is
 * still cancelled) and its done callbacks still fire. NULL is a no-op.
 * Releasing more references than were held is undefined behaviour.
 *
 * @param f The future, or NULL.
 * @threads Never blocks; any thread.
 */
CF_EXTERN void cf_future_release(cf_future *f);

/**
 * The current state.
 *
 * @param f The future.
 * @return A cf_state, or CF_EINVAL for NULL.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_future_state(const cf_future *f);

/**
 * True if the future was cancelled.
 *
 * @param f The future.
 * @return Whether f was cancelled; false for NULL.
 * @threads Never blocks; any thread.
 */
CF_EXTERN bool cf_future_cancelled(const cf_future *f);

/**
 * True while the task runs.
 *
 * @param f The future.
 * @return Whether f's task runs now; false for NULL.
 * @threads Never blocks; any thread.
 */
CF_EXTERN bool cf_future_running(const cf_future *f);

/**
 * True once finished or cancelled.
 *
 * @param f The future.
 * @return Whether f is done; false for NULL.
 * @threads Never blocks; any thread.
 */
CF_EXTERN bool cf_future_done(const cf_future *f);

/**
 * Cancels a pending future (Python's Future.cancel). On success the task
 * never runs, waiters wake and done callbacks run, on the calling thread,
 * before this returns.
 *
 * @param f The future.
 * @return true if the future is cancelled now (it was pending, or already
 *         cancelled); false if it runs or has finished, or f is NULL.
 * @threads Never blocks on the task (runs the done callbacks); any thread.
 */
CF_EXTERN bool cf_future_cancel(cf_future *f);

/**
 * Cancels f if it is pending; if it runs, raises its cancel token so that a
 * task polling cf_task_cancel_requested can stop early.
 *
 * @param f The future.
 * @return 0, or CF_EINVAL (NULL), CF_ESTATE (already done).
 * @threads Never blocks on the task; any thread.
 */
CF_EXTERN int cf_future_request_cancel(cf_future *f);

/**
 * Waits until f is done.
 *
 * @param[in] f The future to wait for.
 * @param timeout Seconds; negative waits forever, 0 polls.
 * @return 0 when done, CF_ETIMEDOUT if the timeout passed first, CF_EINVAL
 *         for NULL or NaN.
 * @threads Blocks (see "Deadlock avoidance" in cf_future_result for waits
 *          from inside a worker); any thread.
 */
CF_EXTERN int cf_future_wait(cf_future *f, double timeout);

/**
 * Waits for f and gives its result (Python's Future.result(timeout)).
 *
 * Deadlock avoidance: called from a worker thread of a thread pool on a
 * pending future queued on that same pool, the task is taken from the
 * queue and run inline on the calling worker, instead of waiting for a
 * worker that may never come (Python hangs here).
 *
 * @param f The future.
 * @param timeout Seconds; negative waits forever, 0 polls.
 * @param[out] out If not NULL, receives the task's result on success.
 * @return 0 and sets *out (if out is not NULL) to the task's result; the
 *         task's error code if it failed; CF_ECANCELED if it was cancelled;
 *         CF_ETIMEDOUT if the timeout passed first (cf_future_done tells that
 *         case apart from a task that itself failed with CF_ETIMEDOUT);
 *         CF_EINVAL for a NULL future or a NaN timeout.
 * @threads Blocks; any thread.
 */
CF_EXTERN int cf_future_result(cf_future *f, double timeout, void **out);

/**
 * Waits for f and gives its error (Python's Future.exception(timeout)).
 *
 * @param f The future.
 * @param timeout Seconds; negative waits forever, 0 polls.
 * @return 0 if it succeeded, its error code if it failed, CF_ECANCELED if it
 *         was cancelled, CF_ETIMEDOUT if the timeout passed first, CF_EINVAL
 *         for NULL.
 * @threads Blocks; any thread.
 */
CF_EXTERN int cf_future_error(cf_future *f, double timeout);

/**
 * The message that came with a failed future's error.
 *
 * @param f The future.
 * @return The message, or NULL if none (or f is not done, or NULL). The
 *         string is owned by the future and lives as long as it does.
 * @threads Never blocks; any thread.
 */
CF_EXTERN const char *cf_future_error_message(const cf_future *f);

/**
 * Adds a callback run once when f is done (Python's add_done_callback).
 * If f is already done the callback runs at once, on the calling thread,
 * before this returns; otherwise it runs on the thread that completes the
 * future, with no library lock held, after all waiters have been woken.
 * Callbacks run in the order they were added. A callback may add further
 * callbacks, release or cancel other futures, and submit work.
 *
 * @param f The future.
 * @param cb The callback.
 * @param userdata Passed to cb.
 * @return 0, CF_EINVAL (f or cb NULL), CF_ENOMEM.
 * @threads Does not block (except to run cb); any thread.
 */
CF_EXTERN int cf_future_on_done(cf_future *f, cf_done_fn cb, void *userdata);

/**
 * Marks a future made by cf_future_new as running (Python's
 * set_running_or_notify_cancel).
 *
 * @param f A future made by cf_future_new.
 * @return 0 if it is now running, CF_ECANCELED if it had been cancelled (the
 *         caller must not run the work), CF_ESTATE if it runs or is done
 *         already, CF_EINVAL for NULL or a future owned by an executor.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_future_set_running(cf_future *f);

/**
 * Completes a future made by cf_future_new with a result. The future does
 * not own value. Wakes waiters and runs done callbacks on the calling
 * thread before returning.
 *
 * @param f A future made by cf_future_new.
 * @param value The result (not owned by the future).
 * @return 0, CF_ESTATE if it is already done (a second set), CF_EINVAL for
 *         NULL or a future owned by an executor.
 * @threads Never blocks (except to run the done callbacks); any thread.
 */
CF_EXTERN int cf_future_set_result(cf_future *f, void *value);

/**
 * Completes a future made by cf_future_new with an error. CF_ECANCELED
 * marks the future cancelled. Wakes waiters and runs done callbacks on the
 * calling thread before returning.
 *
 * @param f A future made by cf_future_new.
 * @param err The error code: must be negative.
 * @param message May be NULL; copied.
 * @return 0, CF_ESTATE (already done), CF_EINVAL (NULL, err >= 0, a future
 *         owned by an executor), CF_ENOMEM (the message could not be copied;
 *         the future is still completed, without a message).
 * @threads Never blocks (except to run the done callbacks); any thread.
 */
CF_EXTERN int cf_future_set_error(cf_future *f, int err, const char *message);

/** Times of a future's life, in nanoseconds of CLOCK_MONOTONIC; 0 = not yet. */
typedef struct cf_future_times {
  uint64_t queued_ns;   /**< submitted, or created by cf_future_new */
  uint64_t started_ns;  /**< a worker started it (0 if it never ran) */
  uint64_t finished_ns; /**< finished or cancelled */
} cf_future_times;

/**
 * Copies when f was queued, started and finished, so a caller can split a
 * latency into queue wait (started - queued) and run time (finished -
 * started).
 *
 * @param f The future.
 * @param[out] out Receives the times.
 * @return 0 or CF_EINVAL.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_future_times_get(const cf_future *f, cf_future_times *out);

/** @} */

/**
 * @defgroup continuations Continuations
 * @brief Work that runs when a future is done (Java's thenApply; Python
 * has none).
 * @{
 */

/**
 * A continuation: runs once the antecedent is done and receives it
 * (borrowed; done, so cf_future_result on it does not block).
 *
 * @param prev The antecedent future, done (borrowed).
 * @param arg The argument given to cf_future_then.
 * @param[out] result Where the continuation stores its result.
 * @return 0, or a negative error code: the continuation's future's outcome.
 */
typedef int (*cf_then_fn)(cf_future *prev, void *arg, void **result);

/**
 * Chains a continuation (Java's thenApply/handle; Python has none): once f
 * is done (whatever its outcome) fn(f, arg, &result) runs, submitted to
 * executor, or inline on the thread that completed f if executor is NULL.
 * If the executor refuses the continuation (shut down, broken), *out fails
 * with that code. Cancelling *out before it starts means fn never runs.
 *
 * @param f The antecedent future.
 * @param executor Where fn runs; NULL = inline on the thread that
 *                 completes f.
 * @param fn The continuation.
 * @param arg Passed to fn.
 * @param[out] out Receives a future for the continuation's result (one
 *                 reference).
 * @return 0, CF_EINVAL (f, fn or out NULL; a process pool executor),
 *         CF_ENOMEM, CF_ESHUTDOWN.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_future_then(cf_future *f, cf_executor *executor, cf_then_fn fn,
                             void *arg, cf_future **out);

/** @} */

/* Inside a task ----------------------------------------------------------- */

/**
 * @defgroup tasks Inside a task
 * @brief What a running task may ask about itself: its future, whether to
 * stop, a message for its error.
 * @{
 */

/**
 * True once cf_future_request_cancel (or a fail-fast group, or a shutdown
 * with CF_SHUTDOWN_CANCEL_FUTURES) asked the task running on this thread to
 * stop. A cheap atomic load. Cancellation is cooperative: nothing is ever
 * interrupted.
 *
 * @return Whether the task running on this thread was asked to stop; false
 *         outside a task.
 * @threads Never blocks; from inside a task (any other thread gets false).
 */
CF_EXTERN bool cf_task_cancel_requested(void);

/**
 * Attaches a message (copied) to the error the task running on this thread
 * is about to return.
 *
 * @param message The message; copied.
 * @return 0, CF_ESTATE outside a task, CF_EINVAL for NULL, CF_ENOMEM.
 * @threads Never blocks; from inside a task.
 */
CF_EXTERN int cf_task_set_message(const char *message);

/**
 * The future of the task running on this thread.
 *
 * @return The future (borrowed), or NULL outside a task.
 * @threads Never blocks; from inside a task (any other thread gets NULL).
 */
CF_EXTERN cf_future *cf_task_current(void);

/** @} */

/* ------------------------------------------------------------------------ */
/* Executors                                                                 */
/* ------------------------------------------------------------------------ */

/**
 * @defgroup executors Executors
 * @brief Submit work, shut down, count, resize: the calls every executor
 * kind takes (Python's Executor).
 *
 * The kinds: @ref thread_pool, @ref process_pool (byte tasks, see
 * cf_submit_bytes()) and @ref mpi.
 */

/**
 * @defgroup thread_pool Thread pool
 * @brief Runs cf_fn tasks on a pool of threads (Python's
 * ThreadPoolExecutor).
 * @{
 */

/**
 * Initializer run once in each new worker; non-zero breaks the pool.
 *
 * @param arg The options' initargs.
 * @return 0, or non-zero to break the pool (CF_EBROKEN).
 */
typedef int (*cf_init_fn)(void *arg);

/** cf_thread_pool_options.flags */
enum {
  /** With max_queued set, a full queue makes cf_submit fail with CF_EAGAIN
   * instead of blocking. */
  CF_POOL_NONBLOCK = 1 << 0,
  /** Leaving main (exit() or returning from main) waits for the pool's
   * tasks, queued and running, as Python's interpreter exit does: an
   * atexit handler shuts the pool down with CF_SHUTDOWN_WAIT. Refused --
   * exit goes on at once and the tasks end with the process -- when exit
   * is called from a worker of the pool, or from a done callback (which
   * may be what a task waits for). Without it, exit ends running tasks
   * silently. */
  CF_POOL_JOIN_AT_EXIT = 1 << 1
};

/** Options of cf_thread_pool_new; cf_thread_pool_options_init fills the
 * defaults. */
typedef struct cf_thread_pool_options {
  /** Most threads the pool runs; must be >= 1. Default min(32, cpus + 4). */
  int max_workers;
  /** Threads are named "<prefix>_<n>" (truncated to 15 bytes, the kernel's
   * limit). NULL = "cf". Copied. */
  const char *thread_name_prefix;
  /** Run in each worker thread before its first task; if it returns non-zero
   * the pool is broken: pending and later submits fail with CF_EBROKEN. */
  cf_init_fn initializer;
  /** The initializer's argument. */
  void *initargs;
  /** Most tasks waiting in the queue (not counting running ones) before
   * cf_submit blocks (or fails with CF_EAGAIN under CF_POOL_NONBLOCK).
   * 0 = unbounded. */
  size_t max_queued;
  /** CF_POOL_* flags. */
  unsigned flags;
  /** Microseconds an idle worker polls for work, and a thread waiting on
   * one of the pool's futures polls it, before sleeping (yielding the CPU
   * as they go), so that a steady stream of submits and short round trips
   * need no wake-up system calls. Nobody polls while the pool's busy
   * workers occupy every CPU. Default 50; 0 never polls. */
  unsigned spin_us;
} cf_thread_pool_options;

/**
 * Fills *opts with the defaults. NULL is a no-op.
 *
 * @param[out] opts The options to fill.
 * @threads Never blocks; any thread.
 */
CF_EXTERN void cf_thread_pool_options_init(cf_thread_pool_options *opts);

/**
 * Creates a thread pool (Python's ThreadPoolExecutor). Workers start
 * lazily, one per submit while no idle worker exists, up to max_workers,
 * and are reused when idle. Leaving main with tasks in flight ends them
 * with the process unless CF_POOL_JOIN_AT_EXIT is set: then exit waits for
 * every task (except when called from one of the pool's workers or from a
 * done callback, where waiting could deadlock). cf_executor_free takes
 * the pool off the exit list.
 *
 * @param[in] opts The options, or NULL for the defaults; copied.
 * @param[out] out Receives the pool, freed with cf_executor_free.
 * @return 0 and *out, or CF_EINVAL (out NULL, max_workers < 1, unknown
 *         flags), CF_ENOMEM (also: the exit handler could not be
 *         registered).
 * @threads Never blocks (no worker starts before the first submit); any
 *          thread.
 */
CF_EXTERN int cf_thread_pool_new(const cf_thread_pool_options *opts,
                                 cf_executor **out);

/** @} */

/**
 * @addtogroup executors
 * @{
 */

/**
 * Submits fn(arg) (Python's Executor.submit). Tasks start in the order
 * they were submitted (one thread's submits in its order; concurrent
 * submits in the order they reached the queue), each on the first free
 * worker. With out NULL the task runs and its outcome is counted in
 * cf_executor_stats only.
 *
 * @param ex The executor: a thread pool (a process pool takes
 *           cf_submit_bytes).
 * @param fn The task.
 * @param arg Passed to fn; not owned by the future.
 * @param[out] out If not NULL, receives one reference to the task's future.
 * @return 0, CF_EINVAL (ex or fn NULL; a process pool, which takes
 *         cf_submit_bytes), CF_ESHUTDOWN (after cf_shutdown), CF_EBROKEN (the
 *         initializer failed), CF_EAGAIN (queue full under CF_POOL_NONBLOCK),
 *         CF_ENOMEM.
 * @threads With a bounded queue, blocks while the queue is full -- except
 *          when called from one of the pool's own workers, which never waits
 *          on the bound (it could wait forever). Otherwise never blocks. Any
 *          thread.
 */
CF_EXTERN int cf_submit(cf_executor *ex, cf_fn fn, void *arg, cf_future **out);

/** cf_shutdown flags. */
enum {
  CF_SHUTDOWN_WAIT = 1 << 0,           /**< wait for running and queued work */
  CF_SHUTDOWN_CANCEL_FUTURES = 1 << 1, /**< cancel every queued task */
};

/**
 * Stops the executor accepting work (Python's shutdown(wait,
 * cancel_futures)): later submits fail with CF_ESHUTDOWN. With
 * CF_SHUTDOWN_CANCEL_FUTURES every queued task is cancelled (its future
 * reports CF_ECANCELED, its callbacks run) and running tasks see their
 * cancel token raised. With CF_SHUTDOWN_WAIT the call blocks until every
 * task that was not cancelled has finished and the workers have exited.
 *
 * @param ex The executor.
 * @param flags CF_SHUTDOWN_* flags, or 0.
 * @return 0, CF_EINVAL (NULL, unknown flags), or CF_EDEADLK when
 *         CF_SHUTDOWN_WAIT is asked from one of the executor's own workers
 *         (or a done callback running on one): the shutdown is then started
 *         but not waited for.
 * @threads Blocks with CF_SHUTDOWN_WAIT, never without. May be called
 *          several times and from several threads.
 */
CF_EXTERN int cf_shutdown(cf_executor *ex, unsigned flags);

/**
 * Shuts the executor down with CF_SHUTDOWN_WAIT if that was not done and
 * frees it. Futures it produced stay valid until released.
 *
 * @param ex The executor.
 * @return 0, CF_EINVAL (NULL), CF_EDEADLK (called from one of its own
 *         workers; nothing is freed).
 * @threads Blocks until the workers have exited. Any thread but the
 *          executor's own workers; no other call may use ex afterwards.
 */
CF_EXTERN int cf_executor_free(cf_executor *ex);

/** A snapshot of an executor's counters. */
typedef struct cf_executor_stats {
  size_t workers;     /**< threads or processes alive */
  size_t idle;        /**< of which waiting for work */
  size_t queued;      /**< tasks waiting in the queue */
  size_t running;     /**< tasks running */
  size_t max_workers; /**< the current bound on workers */
  uint64_t submitted; /**< tasks accepted */
  uint64_t completed; /**< finished with a result */
  uint64_t failed;    /**< finished with an error */
  uint64_t cancelled; /**< cancelled before they ran */
} cf_executor_stats;

/**
 * Copies the counters.
 *
 * @param ex The executor.
 * @param[out] out Receives the snapshot.
 * @return 0 or CF_EINVAL.
 * @threads Never blocks for long; any thread.
 */
CF_EXTERN int cf_executor_stats_get(cf_executor *ex, cf_executor_stats *out);

/**
 * Changes max_workers at run time. Growing lets the pool start more
 * workers as work arrives; shrinking retires idle workers at once and busy
 * ones when their task ends.
 *
 * @param ex The executor.
 * @param max_workers The new bound, >= 1.
 * @return 0, CF_EINVAL (NULL, max_workers < 1), CF_ESHUTDOWN, CF_ENOSYS (an
 *         executor kind that cannot resize).
 * @threads Never blocks for long; any thread.
 */
CF_EXTERN int cf_executor_resize(cf_executor *ex, int max_workers);

/** @} */

/* ------------------------------------------------------------------------ */
/* Waiting on many                                                          */
/* ------------------------------------------------------------------------ */

/**
 * @defgroup waiting Waiting on many
 * @brief cf_wait(), the as_completed iterator and cf_gather(): one
 * deadline for many futures, of any executor.
 * @{
 */

/** When cf_wait returns (Python's return_when). */
typedef enum {
  CF_FIRST_COMPLETED = 1, /**< any future is done */
  CF_FIRST_EXCEPTION = 2, /**< any finishes with an error, or all are done */
  CF_ALL_COMPLETED = 3    /**< all are done */
} cf_return_when;

/**
 * Waits on n futures (Python's concurrent.futures.wait). Returns when
 * any is done (CF_FIRST_COMPLETED), any finishes with an error or all are
 * done (CF_FIRST_EXCEPTION; as in Python a cancelled future is not an
 * error), or all are done (CF_ALL_COMPLETED).
 * On return, done[0..*ndone) and not_done[0..*nnot_done) hold the distinct
 * futures (borrowed; a future listed twice in fs is reported once), in
 * the order of fs; either array may be NULL, and each needs room for n.
 *
 * @param fs The futures (borrowed).
 * @param n How many.
 * @param timeout Seconds; negative waits forever, 0 polls.
 * @param return_when The condition.
 * @param[out] done Receives the futures that are done, or NULL.
 * @param[out] ndone Receives how many are done, or NULL.
 * @param[out] not_done Receives the futures that are not done, or NULL.
 * @param[out] nnot_done Receives how many are not done, or NULL.
 * @return 0 when the condition was met, CF_ETIMEDOUT (with both arrays
 *         filled) when the timeout passed first, CF_EINVAL (fs NULL with
 *         n > 0, a NULL entry, a bad mode, NaN), CF_ENOMEM. n == 0 returns 0
 *         at once.
 * @threads Blocks; the waiter sleeps until a future wakes it, never polls.
 *          Any thread.
 */
CF_EXTERN int cf_wait(cf_future *const *fs, size_t n, double timeout,
                      cf_return_when return_when, cf_future **done,
                      size_t *ndone, cf_future **not_done, size_t *nnot_done);

/** An iterator over futures in completion order (opaque). */
typedef struct cf_as_completed cf_as_completed;

/**
 * Starts an iteration over fs in completion order (Python's as_completed):
 * futures already done come first, in the order of fs, then the others as
 * they finish; a future listed twice is yielded once. The iterator holds a
 * reference to each future until it is yielded or the iterator is freed.
 *
 * @param fs The futures (the iterator takes its own references).
 * @param n How many.
 * @param timeout One deadline for the whole iteration, in seconds;
 *                negative = none.
 * @param[out] out Receives the iterator, freed with cf_as_completed_free.
 * @return 0, CF_EINVAL, CF_ENOMEM.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_as_completed_new(cf_future *const *fs, size_t n,
                                  double timeout, cf_as_completed **out);

/**
 * Gives the next future to complete.
 *
 * @param it The iterator.
 * @param[out] out Receives a reference the caller releases.
 * @return 0, CF_EOF once every future has been yielded, CF_ETIMEDOUT when
 *         the deadline passed and none of the futures not yet yielded is
 *         done (cf_as_completed_remaining says how many are left; a later
 *         call yields each that is done by the time of that call, even one
 *         whose other done callbacks are still running), CF_EINVAL.
 * @threads Blocks until the deadline. One thread at a time per iterator.
 */
CF_EXTERN int cf_as_completed_next(cf_as_completed *it, cf_future **out);

/**
 * How many futures have not been yielded yet.
 *
 * @param it The iterator.
 * @return The count (0 for NULL).
 * @threads Never blocks for long; any thread.
 */
CF_EXTERN size_t cf_as_completed_remaining(const cf_as_completed *it);

/**
 * Frees the iterator and its references. Futures are not cancelled. NULL
 * is a no-op.
 *
 * @param it The iterator, or NULL.
 * @threads Never blocks; no other call may use it at the same time or
 *          afterwards.
 */
CF_EXTERN void cf_as_completed_free(cf_as_completed *it);

/** cf_gather flags */
enum {
  /** Collect every outcome in errors[] instead of failing on the first. */
  CF_GATHER_RETURN_ERRORS = 1 << 0
};

/**
 * Waits for every future and collects results in input order (asyncio's
 * gather). Without CF_GATHER_RETURN_ERRORS it returns the error of the
 * first future to fail as soon as one fails (the others are left running)
 * and 0 when all succeed. With it, it waits for all, stores each outcome
 * (0 or its error code) in errors and returns 0.
 *
 * @param fs The futures (borrowed).
 * @param n How many.
 * @param timeout Seconds; negative waits forever, 0 polls.
 * @param flags CF_GATHER_RETURN_ERRORS, or 0.
 * @param[out] results Room for n, or NULL: receives each result (NULL for a
 *                     failed one).
 * @param[out] errors Room for n: receives each outcome (0 or its error
 *                    code); required with CF_GATHER_RETURN_ERRORS, may be
 *                    NULL without.
 * @return 0, the first failure's code (without CF_GATHER_RETURN_ERRORS),
 *         CF_ETIMEDOUT if the deadline passed first, CF_EINVAL for bad
 *         arguments.
 * @threads Blocks; any thread.
 */
CF_EXTERN int cf_gather(cf_future *const *fs, size_t n, double timeout,
                        unsigned flags, void **results, int *errors);

/** @} */

/* ------------------------------------------------------------------------ */
/* map                                                                       */
/* ------------------------------------------------------------------------ */

/**
 * @defgroup map Map
 * @brief A function over many inputs, results in input order, with a
 * bounded number of tasks in flight (Python's Executor.map); over bytes
 * with chunks for process and MPI pools (cf_map_bytes_new()).
 * @{
 */

/** A map in progress (opaque). */
typedef struct cf_map cf_map;

/** Options of cf_map_new, cf_map_new_stream and cf_map_all;
 * cf_map_options_init fills the defaults. */
typedef struct cf_map_options {
  /** Most tasks submitted but not yet consumed (Python 3.14's buffersize):
   * a million inputs never make a million futures at once. 0 = 2 x the
   * executor's max_workers. */
  size_t buffersize;
  /** Deadline for the whole map, from cf_map_new; negative = none. */
  double timeout;
  /** Called once with the result of each item that succeeded but was never
   * given to the caller because the map was freed first (NULL = such
   * results are dropped; the library never frees a result): for results
   * that own memory. Runs on the thread that frees the map for an item
   * already done, else on the thread that completes the item (a worker),
   * possibly after cf_map_free returned and concurrently with other calls
   * of discard. */
  void (*discard)(void *result, void *userdata);
  /** Passed to discard. */
  void *discard_userdata;
} cf_map_options;

/**
 * Fills *opts with the defaults (buffersize 0, no timeout, no discard).
 *
 * @param[out] opts The options to fill.
 * @threads Never blocks; any thread.
 */
CF_EXTERN void cf_map_options_init(cf_map_options *opts);

/**
 * Starts fn over args[0..n) on ex (Python's Executor.map): results come
 * back from cf_map_next in input order. What the entries of args point to
 * must stay valid until every task that may run has ended: cf_map_free
 * does not wait for running ones (cf_shutdown with CF_SHUTDOWN_WAIT or
 * cf_executor_free does).
 *
 * @param ex The executor (one that takes cf_fn tasks).
 * @param fn The task, called as fn(args[i], &result).
 * @param args The inputs: the array is borrowed until cf_map_free.
 * @param n How many.
 * @param[in] opts The options, or NULL for the defaults.
 * @param[out] out Receives the map, freed with cf_map_free.
 * @return 0, CF_EINVAL (NULL ex, fn or out; args NULL with n > 0; a NaN
 *         timeout), CF_ENOMEM, or the first submit's error (CF_ESHUTDOWN,
 *         CF_EBROKEN, CF_EAGAIN).
 * @threads Does not block (except on a bounded queue, like cf_submit); any
 *          thread.
 */
CF_EXTERN int cf_map_new(cf_executor *ex, cf_fn fn, void *const *args, size_t n,
                         const cf_map_options *opts, cf_map **out);

/**
 * A stream map's generator (Python's iterable).
 *
 * @param userdata What cf_map_new_stream was given.
 * @param[out] arg Receives the next input.
 * @return 0 (*arg is the next input), CF_EOF at the end, or another
 *         negative code for an error (a positive one counts as CF_ETASK).
 * @threads Called from cf_map_new_stream and cf_map_next, so on the thread
 *          that uses the map and never concurrently (it needs no lock);
 *          never again after it returned non-zero.
 */
typedef int (*cf_map_source_fn)(void *userdata, void **arg);

/**
 * Starts fn over the inputs next gives (Python's Executor.map over a
 * generator): as cf_map_new, but inputs are pulled as the window frees, so
 * at most buffersize items are pulled and not yet consumed, whatever the
 * length of the stream; results in input order. When next fails, the
 * items already pulled are still given, then cf_map_next returns next's
 * code instead of CF_EOF. An input whose task never runs (cancelled by
 * cf_map_free; the first one, if its submit fails and this returns that
 * error) is never passed to fn: inputs that own memory need an owner
 * besides fn for that case.
 *
 * @param ex The executor (one that takes cf_fn tasks).
 * @param fn The task, called as fn(arg, &result) for each input.
 * @param next The generator; called here for the first window.
 * @param userdata Passed to next.
 * @param[in] opts The options, or NULL for the defaults.
 * @param[out] out Receives the map, freed with cf_map_free.
 * @return 0, CF_EINVAL (NULL ex, fn, next or out; a NaN timeout),
 *         CF_ENOMEM, or the first submit's error (CF_ESHUTDOWN, CF_EBROKEN,
 *         CF_EAGAIN). An error of next is reported by cf_map_next.
 * @threads Does not block except in next and on a bounded queue; any
 *          thread, which then calls next.
 */
CF_EXTERN int cf_map_new_stream(cf_executor *ex, cf_fn fn,
                                cf_map_source_fn next, void *userdata,
                                const cf_map_options *opts, cf_map **out);

/**
 * Waits for the next item in input order and consumes it. An item's own
 * outcome and the iterator's state are told apart: 0 means an item was
 * consumed, whatever its outcome, which is in *err (0, the task's code,
 * CF_ECANCELED, or the error of a submit that failed); a non-zero return
 * is about the iterator alone and consumes nothing. So no item's outcome
 * ends a loop `while (cf_map_next(m, &r, &err, &i) == 0)` early, and none
 * leaves the map unable to advance.
 *
 * @param m The map.
 * @param[out] result If not NULL, receives the item's result (NULL when
 *                    *err is not 0).
 * @param[out] err Receives the item's outcome; required.
 * @param[out] index If not NULL, receives the item's index.
 * @return 0 (an item was consumed), CF_EOF (every item was given; so is
 *         every later call), CF_ETIMEDOUT (the map's deadline has passed
 *         and the next item is not done: a later call gives it once it
 *         is), a stream's generator error (once the items pulled before it
 *         were given; so is every later call), CF_EINVAL (m or err NULL).
 * @threads Blocks until the item is done or the deadline passes; calls a
 *          stream's generator. One thread at a time per map.
 */
CF_EXTERN int cf_map_next(cf_map *m, void **result, int *err, size_t *index);

/**
 * Frees the map without waiting, as Python's map raises at its deadline
 * while running items keep running: items not started are cancelled;
 * items still running go on on their executor, which keeps them until
 * they end (cf_shutdown with CF_SHUTDOWN_WAIT and cf_executor_free wait
 * for them); results never given go to the options' discard, if any.
 *
 * @param m The map, or NULL (a no-op).
 * @threads Never blocks (except, out of memory, to discard a running
 *          item's result). One thread at a time per map.
 */
CF_EXTERN void cf_map_free(cf_map *m);

/**
 * Runs fn over args[0..n) and stores results in input order. The timeout
 * bounds the call: at the deadline it returns, items not given get a NULL
 * result and CF_ETIMEDOUT in errors, and items still running keep running
 * as after cf_map_free (their results go to opts->discard).
 *
 * @param ex The executor (one that takes cf_fn tasks).
 * @param fn The task.
 * @param args The inputs; what they point to must outlive the tasks.
 * @param n How many.
 * @param[in] opts The options, or NULL for the defaults.
 * @param[out] results Room for n: receives the results in input order.
 * @param[out] errors Room for n, or NULL: receives each outcome.
 * @return 0 if every task succeeded, else CF_ETIMEDOUT at the deadline,
 *         else the first failure's code in input order (all tasks are
 *         still waited for when errors is not NULL), CF_EINVAL, or an
 *         error of cf_map_new.
 * @threads Blocks until done or the deadline; any thread.
 */
CF_EXTERN int cf_map_all(cf_executor *ex, cf_fn fn, void *const *args, size_t n,
                         const cf_map_options *opts, void **results,
                         int *errors);

/** @} */

/* ------------------------------------------------------------------------ */
/* Task groups                                                               */
/* ------------------------------------------------------------------------ */

/**
 * @defgroup groups Task groups
 * @brief Structured concurrency: tasks waited on together, optionally
 * fail-fast (trio's nurseries, Java's StructuredTaskScope).
 * @{
 */

/** A task group (opaque). */
typedef struct cf_group cf_group;

/** cf_group_new flags */
enum {
  /** The first task to fail cancels every pending sibling and raises the
   * cancel token of the running ones. */
  CF_GROUP_FAIL_FAST = 1 << 0
};

/**
 * Creates a structured task group on ex (a nursery): tasks submitted
 * through it are waited on together.
 *
 * @param ex The executor the group's tasks run on.
 * @param flags CF_GROUP_FAIL_FAST, or 0.
 * @param[out] out Receives the group, freed with cf_group_free.
 * @return 0, CF_EINVAL, CF_ENOMEM.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_group_new(cf_executor *ex, unsigned flags, cf_group **out);

/**
 * Submits fn(arg) as part of g.
 *
 * @param g The group.
 * @param fn The task.
 * @param arg Passed to fn.
 * @param[out] out May be NULL; receives a reference to the task's future.
 * @return 0, the executor's submit errors, CF_ECANCELED (a fail-fast group
 *         that has already failed), CF_ESTATE (cf_group_wait has returned,
 *         other than with CF_ETIMEDOUT: a group is closed once waited for),
 *         CF_EINVAL.
 * @threads Blocks only where cf_submit blocks (a full bounded queue); any
 *          thread.
 */
CF_EXTERN int cf_group_submit(cf_group *g, cf_fn fn, void *arg,
                              cf_future **out);

/**
 * Waits until every task of the group is done.
 *
 * @param g The group.
 * @param timeout Seconds; negative waits forever, 0 polls.
 * @return 0 if all succeeded, the first failure's code otherwise (in
 *         completion order; in fail-fast mode the failure that cancelled the
 *         rest), CF_ETIMEDOUT, CF_EINVAL.
 * @threads Blocks; any thread.
 */
CF_EXTERN int cf_group_wait(cf_group *g, double timeout);

/**
 * Cancels the group's pending tasks and raises its running tasks' tokens.
 *
 * @param g The group.
 * @return 0, or CF_EINVAL (NULL).
 * @threads Never blocks on the tasks (runs the cancelled futures' done
 *          callbacks); any thread.
 */
CF_EXTERN int cf_group_cancel(cf_group *g);

/**
 * Frees the group. If tasks are still unfinished it cancels what is pending
 * and waits for what runs (structured: no task outlives its group). NULL is
 * a no-op.
 *
 * @param g The group, or NULL.
 * @threads Blocks while tasks run; no other call may use g afterwards.
 */
CF_EXTERN void cf_group_free(cf_group *g);

/** @} */

/* ------------------------------------------------------------------------ */
/* Clock                                                                     */
/* ------------------------------------------------------------------------ */

/**
 * @defgroup clock Clock and CPUs
 * @brief The clock every timeout is measured on, and the CPU count the
 * defaults are computed from.
 * @{
 */

/**
 * Nanoseconds on CLOCK_MONOTONIC.
 *
 * @return The current time, in nanoseconds of CLOCK_MONOTONIC.
 * @threads Never blocks; any thread.
 */
CF_EXTERN uint64_t cf_now_ns(void);

/**
 * The number of CPUs this process may run on (at least 1).
 *
 * @return The count, at least 1.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_cpu_count(void);

/** @} */

#ifdef __cplusplus
}
#endif

/* Further parts of the API, each in its own header (one line each). */
#include "cfutures/bridge.h"
#include "cfutures/channel.h"
#include "cfutures/combine.h"
#include "cfutures/process_pool.h"
#include "cfutures/semaphore.h"
#include "cfutures/timer.h"

#endif /* CFUTURES_H */
