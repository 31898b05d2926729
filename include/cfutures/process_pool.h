/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures/process_pool.h
 * @brief The process pool executor (Python's ProcessPoolExecutor) and the
 * byte buffers its tasks speak (see @ref process_pool, @ref buffers and
 * cf_map_bytes_new() in @ref map).
 */
/**
 * @defgroup process_pool Process pool
 * @brief Runs C functions on bytes in worker processes (Python's
 * ProcessPoolExecutor).
 *
 * A process pool runs C functions on bytes in forked worker processes, so a
 * task that crashes, leaks or hangs cannot take the caller down. It hands
 * back the same cf_future as the thread pool: cf_wait, cf_as_completed,
 * cf_gather and cf_future_on_done work on it unchanged.
 *
 * What a task may rely on. Workers are forked from a small single-threaded
 * process (the zygote) that the pool forks from the caller inside
 * cf_process_pool_new. A worker therefore sees the caller's memory as it
 * was when the pool was created: globals written later, libraries loaded
 * later (dlopen) and heap objects made later are not there. A task function
 * must be a function of the program (or of a library loaded before the
 * pool; with the CF_START_SPAWN and CF_START_FORKSERVER start methods
 * workers are fresh processes instead, see cf_start_method), its input is
 * the bytes it is given, and its only way back is its
 * output buffer, its return code and cf_task_set_message. A worker has one
 * thread; it keeps descriptors 0, 1 and 2 and its own channel to the pool,
 * and closes every other descriptor. Signal handlers the caller installed
 * are reset to their defaults in the zygote, and its signal mask is
 * cleared. A worker exits when its channel reaches end of file (the pool
 * closed it, or the caller's process died) and is killed when the zygote
 * dies (PR_SET_PDEATHSIG). Tasks must not call exit() to finish: that is
 * reported as a crash.
 *
 * A task's own processes. Each worker leads a process group of its own,
 * and the processes a task starts (a shell pipeline, `sleep 300 &`, their
 * children) are in it unless they leave it (setsid, setpgid). Whenever the
 * pool stops a worker -- a task timeout, cf_future_request_cancel,
 * terminate, kill, free, shutdown -- its signal goes to the whole group,
 * and when a worker ends, for whatever reason, the zygote kills what is
 * left of its group (SIGKILL) before reaping it: nothing a task started in
 * its group outlives its worker. Processes a task leaves running when it
 * returns live on until their worker ends. Being a group of their own,
 * workers are not in the terminal's foreground group: a terminal's ^C
 * reaches the caller and the zygote, not them (they die with the zygote),
 * and a task that reads the terminal is stopped (SIGTTIN).
 *
 * Stopping. No call of this API waits on a task's behaviour without a
 * bound the caller chose. cf_process_pool_terminate sends SIGTERM, then
 * SIGKILL to what is left after kill_grace (default 1 s), so a task that
 * blocks or ignores SIGTERM cannot hold it up; a worker told to exit
 * (shutdown, retirement) that has not within kill_grace is killed too.
 * cf_shutdown with CF_SHUTDOWN_WAIT and cf_executor_free wait for running
 * tasks to finish, as Python's shutdown(wait=True) does: a running task
 * ends by returning or by its timeout (task_timeout, or
 * cf_submit_bytes_timeout), which kills its worker with SIGKILL. A task
 * that has no timeout and never returns keeps them waiting, as asked:
 * give such tasks a timeout, or call cf_process_pool_terminate (or
 * cf_process_pool_kill) from another thread, which ends the wait within
 * kill_grace.
 *
 * Running. Up to pipeline_depth tasks are sent ahead to each worker; a
 * task is PENDING (cf_future_cancel succeeds, and the worker skips it)
 * until its worker begins it, and RUNNING from then on, with that moment as
 * its start time (cf_future_times_get).
 *
 * Failures. A worker that dies (a signal, exit(), abort()) fails only the
 * task it was running, with CF_EWORKER and a message naming the exit status
 * or signal (or that it lost its channel to the pool), whether a core was
 * dumped, and the worker's peak resident memory; the worker is replaced and
 * every other task goes on. Tasks it had not begun -- sent ahead to it, or
 * being sent when it died, or sent to it after it died idle -- are sent
 * again to another worker; one whose workers die three times before they
 * can begin it fails with CF_EWORKER.
 * With crash_retries > 0 the task that killed its worker is run again, up
 * to that many times, before it fails. A task whose timeout passes has its
 * worker killed and fails with CF_ETIMEDOUT; cf_future_request_cancel on a
 * running task does the same and the future ends cancelled (CF_ECANCELED).
 * An initializer that fails breaks the pool (CF_EBROKEN), as Python's
 * BrokenProcessPool.
 *
 * With the generic executor calls: cf_submit on a process pool is
 * CF_EINVAL (tasks are cf_bytes_fn, see cf_submit_bytes); cf_executor_resize
 * is CF_ENOSYS; cf_shutdown with CF_SHUTDOWN_CANCEL_FUTURES cancels every
 * task not begun (queued, or sent ahead to a worker) and lets running
 * tasks finish (cf_task_cancel_requested is always false inside a worker:
 * stop a running task with cf_future_request_cancel, which kills its
 * worker); cf_executor_stats counts tasks sent ahead to a worker as queued
 * until the worker begins them. Done callbacks of process pool futures run on
 * the pool's manager thread: they must not wait for the pool itself
 * (cf_executor_free and a waiting cf_shutdown return CF_EDEADLK there).
 *
 * The pool never installs a signal handler and never waits for children
 * other than its own: the zygote is the only child of the caller's process
 * and is reaped with waitpid(pid); the workers are children of the zygote,
 * which reaps them and reports their exit status. Every descriptor the pool
 * opens is close-on-exec, and writes to a dead worker never raise SIGPIPE.
 * Large payloads (more than shm_threshold bytes) travel through sealed
 * anonymous shared memory (memfd), never a named path.
 *
 * Kernel. Linux 3.17 or later (memfd_create). The zygote watches its
 * workers through pidfds (Linux 5.3) where pidfd_open works; where it is
 * missing (ENOSYS: an older kernel, valgrind) or refused (EPERM: a seccomp
 * filter), the zygote blocks SIGCHLD and reaps its workers with waitid
 * instead -- every child of the zygote is a worker, and this happens in
 * the zygote only, never in the caller's process. The choice is made at
 * run time and changes nothing a caller sees. (CF_TEST_NO_PIDFD=1 in the
 * environment forces the second way: it exists for the library's own
 * tests.) Where close_range is missing (before 5.9) descriptors are closed
 * one by one.
 */
#ifndef CFUTURES_PROCESS_POOL_H
#define CFUTURES_PROCESS_POOL_H

#include "cfutures.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Byte buffers                                                              */
/* ------------------------------------------------------------------------ */

/**
 * @defgroup buffers Byte buffers
 * @brief The growable byte buffer a byte task writes its result into.
 * @{
 */

/**
 * A growable byte buffer: data[0..len) is filled, cap bytes are allocated.
 * The owner may read the fields, write into data[len..cap) and then raise
 * len, and lower len. Memory is managed only through the functions below:
 * outside a task it comes from malloc, but the output buffer a worker
 * hands to a task may live in shared memory, so never realloc or free
 * data directly. A zeroed struct (or CF_BUFFER_INIT) is an empty buffer.
 * Not thread-safe: one owner at a time.
 */
typedef struct cf_buffer {
  unsigned char *data; /**< the bytes; NULL while nothing is allocated */
  size_t len;          /**< bytes filled */
  size_t cap;          /**< bytes allocated */
} cf_buffer;

/** An initializer for an empty cf_buffer: `cf_buffer b = CF_BUFFER_INIT;`. */
#define CF_BUFFER_INIT                                                         \
  { NULL, 0, 0 }

/**
 * Makes *b an empty buffer. NULL is a no-op.
 *
 * @param[out] b The buffer.
 * @threads Never blocks; one owner at a time.
 */
CF_EXTERN void cf_buffer_init(cf_buffer *b);

/**
 * Makes room for at least n more bytes after len (cap >= len + n), so that
 * the caller may write them at data + len and then raise len.
 *
 * @param b The buffer.
 * @param n How many more bytes to make room for.
 * @return 0, CF_EINVAL (b NULL), CF_ENOMEM (b unchanged; also when len + n
 *         overflows).
 * @threads Never blocks; one owner at a time.
 */
CF_EXTERN int cf_buffer_reserve(cf_buffer *b, size_t n);

/**
 * Appends n bytes copied from data (which may be NULL when n is 0).
 *
 * @param b The buffer.
 * @param[in] data The bytes to copy.
 * @param n How many.
 * @return 0, CF_EINVAL (b NULL, or data NULL with n > 0), CF_ENOMEM (b
 *         unchanged).
 * @threads Never blocks; one owner at a time.
 */
CF_EXTERN int cf_buffer_append(cf_buffer *b, const void *data, size_t n);

/**
 * Sets len to 0 and keeps the memory for reuse. NULL is a no-op.
 *
 * @param b The buffer.
 * @threads Never blocks; one owner at a time.
 */
CF_EXTERN void cf_buffer_clear(cf_buffer *b);

/**
 * Frees the memory and makes *b empty. NULL is a no-op.
 *
 * @param b The buffer.
 * @threads Never blocks; one owner at a time.
 */
CF_EXTERN void cf_buffer_free(cf_buffer *b);

/** @} */

/* ------------------------------------------------------------------------ */
/* The process pool                                                          */
/* ------------------------------------------------------------------------ */

/**
 * @addtogroup process_pool
 * @{
 */

/**
 * A task run in a worker process. in[0..len) is the submitted data
 * (read-only; in is never NULL, even for 0 bytes); the task appends its
 * result to out, which arrives empty. It returns 0 on success or a negative
 * error code of its choosing (CF_ETASK when none fits; a positive return
 * becomes CF_ETASK); cf_task_set_message works inside a worker and its
 * message comes back on the future. On error, out is discarded.
 *
 * @param[in] in The submitted bytes (read-only, never NULL).
 * @param len How many.
 * @param[out] out The result buffer, empty on entry.
 * @return 0, or a negative error code.
 */
typedef int (*cf_bytes_fn)(const void *in, size_t len, cf_buffer *out);

/**
 * Initializer run once in each worker process before its first task, with
 * its own copy of the bytes given in the options. A non-zero return (or a
 * crash) breaks the pool: every pending and later task fails CF_EBROKEN.
 *
 * @param[in] arg This worker's copy of the options' initargs.
 * @param len How many bytes.
 * @return 0, or non-zero to break the pool.
 */
typedef int (*cf_bytes_init_fn)(const void *arg, size_t len);

/**
 * How a process pool starts its workers (Python's start methods).
 *
 * CF_START_FORK: the zygote is a fork of the caller, and workers are forks
 * of the zygote: fastest, and a task may be any function of the program.
 *
 * CF_START_SPAWN: the zygote and every worker are started with posix_spawn
 * of the program itself (/proc/self/exe), so nothing ever forks the
 * caller: for hosts where fork is unsafe (a large or locked address space,
 * libraries that forbid it, state a worker must not inherit). A worker
 * starts from main(), as a fresh process: tasks and initializers must be
 * registered by name (cfutures/registry.h: CF_TASK) and the program must
 * call cf_spawn_main() first thing in main. A worker sees none of the
 * caller's memory; its input is the bytes it is given, as always.
 *
 * CF_START_FORKSERVER: the zygote is spawned as above, and workers are
 * forks of it: a fresh, single-threaded image, like spawn, with fork's
 * cheaper worker start. Same requirements as CF_START_SPAWN.
 */
typedef enum {
  CF_START_FORK = 0,      /**< workers are forks of a fork of the caller */
  CF_START_SPAWN = 1,     /**< the zygote and the workers are spawned */
  CF_START_FORKSERVER = 2 /**< a spawned zygote forks the workers */
} cf_start_method;

/**
 * Sets the start method cf_process_pool_options_init puts in new options
 * (Python's multiprocessing.set_start_method); CF_START_FORK until then.
 *
 * @param method A cf_start_method.
 * @return 0 or CF_EINVAL (not a cf_start_method).
 * @threads Never blocks. Any thread; pools already created keep theirs.
 */
CF_EXTERN int cf_set_start_method(int method);

/**
 * The start method cf_process_pool_options_init puts in new options.
 *
 * @return A cf_start_method.
 * @threads Never blocks; any thread.
 */
CF_EXTERN int cf_get_start_method(void);

/**
 * Call first thing in main() in a program whose process pools use
 * CF_START_SPAWN or CF_START_FORKSERVER, after anything that registers
 * tasks (CF_TASK registrations have run by then). In a process a pool
 * started -- a spawned zygote or worker -- it takes that role and never
 * returns (the process exits when the pool is done with it). In any other
 * process it returns 0 at once and records that the program is ready to be
 * started that way: without the call, cf_process_pool_new refuses those
 * methods with CF_EINVAL rather than start a copy of the program that
 * would run its main() again.
 *
 * @return 0 in a process that no pool started; never returns in one that a
 *         pool started.
 * @threads Call from main(), before any other thread starts.
 */
CF_EXTERN int cf_spawn_main(void);

/** Options of cf_process_pool_new; cf_process_pool_options_init fills the
 * defaults. */
typedef struct cf_process_pool_options {
  /** Most worker processes, 1 to 4096. Default cf_cpu_count(). */
  int max_workers;
  /** Run in each worker before its first task; NULL = none. */
  cf_bytes_init_fn initializer;
  /** Bytes handed to the initializer: copied by cf_process_pool_new. */
  const void *initargs;
  /** How many bytes initargs holds. */
  size_t initargs_len;
  /** A worker is replaced after running this many tasks; 0 = never. */
  unsigned max_tasks_per_child;
  /** Default timeout of each task, in seconds, counted from when the task
   * starts in its worker; when it passes the worker is killed and the task
   * fails CF_ETIMEDOUT. Negative (default) = none; NaN or 0 is invalid. */
  double task_timeout;
  /** A worker whose resident memory is above this many bytes after a task
   * is retired and replaced (the task's result is still delivered).
   * 0 (default) = no limit. */
  size_t max_worker_rss;
  /** Largest argument or result, in bytes. An argument above it fails
   * cf_submit_bytes with CF_ETOOBIG; a result above it fails its future
   * with CF_ETOOBIG. Default 1 GiB; at most 1 TiB. */
  size_t max_payload;
  /** Payloads of more than this many bytes go through shared memory
   * instead of the worker's socket. Default 64 KiB; SIZE_MAX = never. */
  size_t shm_threshold;
  /** How many times a task that killed its worker is run again before it
   * fails with CF_EWORKER. Default 0 (never retried). */
  unsigned crash_retries;
  /** Most tasks sent ahead to one worker, so small tasks do not wait for a
   * round trip each. Default 64; 1 = one task at a time; at most 4096
   * (larger values mean 4096). */
  unsigned pipeline_depth;
  /** A cf_start_method. Default cf_get_start_method() (CF_START_FORK). With
   * CF_START_SPAWN or CF_START_FORKSERVER every task and the initializer
   * must be registered by name (cf_submit_bytes of an unregistered
   * function is CF_ENOENT; an unregistered initializer, CF_EINVAL). */
  int start_method;
  /** Seconds a worker is given to end after SIGTERM
   * (cf_process_pool_terminate) or after being told to exit (at shutdown,
   * or retired), before the pool sends SIGKILL. 0 (a zeroed field too) = the default, 1 second; negative
   * or NaN is invalid. */
  double kill_grace;
} cf_process_pool_options;

/**
 * Fills *opts with the defaults. NULL is a no-op.
 *
 * @param[out] opts The options to fill.
 * @threads Never blocks; any thread.
 */
CF_EXTERN void cf_process_pool_options_init(cf_process_pool_options *opts);

/**
 * Creates a process pool: forks the zygote at once (call it early, before
 * the program's other threads hold locks that a task would need) and asks
 * it for max_workers workers, which start in the background. opts may be
 * NULL for the defaults; it is copied, and so are the initializer's bytes.
 * Nothing is left behind on error.
 *
 * @param[in] opts The options, or NULL for the defaults; copied.
 * @param[out] out Receives the pool, freed with cf_executor_free.
 * @return 0 and *out, or CF_EINVAL (out NULL, a bad option; a spawning
 *         start method without cf_spawn_main, or with an unregistered
 *         initializer), CF_ENOMEM, CF_EMFILE (out of descriptors),
 *         CF_ENOSYS (a spawning start method on a kernel without
 *         memfd_create), CF_EAGAIN (fork, spawn or thread creation failed).
 * @threads Blocks only for the fork. May be called from any thread; not
 *          from inside a worker process.
 */
CF_EXTERN int cf_process_pool_new(const cf_process_pool_options *opts,
                                  cf_executor **out);

/**
 * Submits fn(data[0..len)) to run in a worker process; data is copied (NULL
 * is allowed when len is 0). *out, if not NULL, receives one reference to
 * the task's future, whose result is the bytes fn produced (see
 * cf_future_bytes). Works on every executor that takes byte tasks: process
 * pools and MPI pools (cfutures/mpi.h).
 *
 * @param ex The executor: a process pool or an MPI pool.
 * @param fn The task.
 * @param[in] data The input bytes, copied (NULL allowed when len is 0).
 * @param len How many.
 * @param[out] out If not NULL, receives one reference to the future.
 * @return 0, CF_EINVAL (ex or fn NULL, ex takes no byte tasks, data NULL
 *         with len > 0), CF_ETOOBIG (len above max_payload), CF_ENOENT (fn is
 *         not registered and the executor's workers are not forks of this
 *         process: a spawning start method, an MPI pool), CF_ESHUTDOWN,
 *         CF_EBROKEN, CF_ENOMEM.
 * @threads Never blocks on the workers. Any thread may call it.
 */
CF_EXTERN int cf_submit_bytes(cf_executor *ex, cf_bytes_fn fn, const void *data,
                              size_t len, cf_future **out);

/**
 * As cf_submit_bytes, with this task's timeout in seconds (negative = none,
 * overriding the pool's task_timeout; NaN or 0 is CF_EINVAL).
 *
 * @param ex The executor: a process pool or an MPI pool.
 * @param fn The task.
 * @param[in] data The input bytes, copied (NULL allowed when len is 0).
 * @param len How many.
 * @param timeout This task's timeout, counted from when it starts.
 * @param[out] out If not NULL, receives one reference to the future.
 * @return As cf_submit_bytes, and CF_EINVAL for a NaN or 0 timeout
 *         (CF_ENOSYS for a positive one on an MPI pool).
 * @threads Never blocks on the workers. Any thread may call it.
 */
CF_EXTERN int cf_submit_bytes_timeout(cf_executor *ex, cf_bytes_fn fn,
                                      const void *data, size_t len,
                                      double timeout, cf_future **out);

/**
 * Waits for a byte task's future (a process pool's or an MPI pool's) and
 * gives its result bytes: *data and *len point into memory owned by the
 * future, valid while the caller holds a reference. *data is never NULL on
 * success, even for 0 bytes.
 *
 * cf_future_result on the same future gives a const cf_buffer * view of
 * the same bytes (cap is 0: it is not a buffer that may grow).
 *
 * @param f The future.
 * @param timeout Seconds; negative waits forever, 0 polls.
 * @param[out] data If not NULL, receives the result bytes.
 * @param[out] len If not NULL, receives how many.
 * @return 0, the task's error (CF_EWORKER: its worker died; CF_ETIMEDOUT
 *         with cf_future_done true: its timeout killed it; CF_ETOOBIG: the
 *         result was too large; CF_EBROKEN: the pool broke; or the task's
 *         own code), CF_ECANCELED, CF_ETIMEDOUT (the wait's timeout passed
 *         first), CF_EINVAL (f NULL, NaN, or f not a byte task's).
 * @threads Blocks; any thread.
 */
CF_EXTERN int cf_future_bytes(cf_future *f, double timeout, const void **data,
                              size_t *len);

/**
 * Stops every worker with SIGTERM (Python 3.14's terminate_workers) and
 * shuts the pool down: queued tasks are cancelled (CF_ECANCELED), tasks
 * that were running fail with CF_EWORKER and a message naming the signal
 * (or finish normally if they completed first). Later submits fail
 * CF_ESHUTDOWN. The signal goes to each worker's process group (what its
 * task started too); workers still alive kill_grace after it are killed
 * with SIGKILL, so the call returns even when a task blocks or ignores
 * SIGTERM. A cf_shutdown or cf_executor_free waiting in another thread
 * returns with it.
 *
 * @param ex The process pool.
 * @return 0, CF_EINVAL (not a process pool), CF_EDEADLK (from a done
 *         callback running on the pool's own thread: the workers are
 *         signalled but not waited for).
 * @threads Blocks until every worker has been reaped: about kill_grace at
 *          most. Any thread.
 */
CF_EXTERN int cf_process_pool_terminate(cf_executor *ex);

/**
 * As cf_process_pool_terminate, with SIGKILL (kill_workers).
 *
 * @param ex The process pool.
 * @return As cf_process_pool_terminate: 0, CF_EINVAL, CF_EDEADLK.
 * @threads Blocks until every worker has been reaped. Any thread.
 */
CF_EXTERN int cf_process_pool_kill(cf_executor *ex);

/**
 * The pids of the live workers. For tests and monitoring.
 *
 * @param ex The process pool.
 * @param[out] pids Receives up to n pids.
 * @param n Room in pids.
 * @return How many workers are alive (which may be more than n), or
 *         CF_EINVAL.
 * @threads Never blocks for long; any thread.
 */
CF_EXTERN int cf_process_pool_pids(cf_executor *ex, int *pids, size_t n);

/** @} */

/* ------------------------------------------------------------------------ */
/* map over bytes                                                            */
/* ------------------------------------------------------------------------ */

/**
 * @addtogroup map
 * @{
 */

/** One input item of cf_map_bytes_new: borrowed bytes. */
typedef struct cf_bytes {
  const void *data; /**< may be NULL when len is 0 */
  size_t len;       /**< bytes at data */
} cf_bytes;

/** A map over bytes in progress (opaque). */
typedef struct cf_map_bytes cf_map_bytes;

/** Options of cf_map_bytes_new; cf_map_bytes_options_init fills the
 * defaults. */
typedef struct cf_map_bytes_options {
  /** Items sent to a worker as one task (Python's chunksize): fewer round
   * trips for small items. 0 or 1 = one task per item. With chunks, an
   * item's cf_task_set_message is not carried back (its code is), and a
   * task timeout applies to the whole chunk. */
  size_t chunksize;
  /** Most chunks submitted and not yet consumed; 0 = 2 x max_workers
   * (x pipeline_depth when chunksize is 1). */
  size_t buffersize;
  /** Deadline for the whole map, from cf_map_bytes_new; negative = none. */
  double timeout;
} cf_map_bytes_options;

/**
 * Fills *opts with the defaults (chunksize 1, buffersize 0, no timeout).
 *
 * @param[out] opts The options to fill.
 * @threads Never blocks; any thread.
 */
CF_EXTERN void cf_map_bytes_options_init(cf_map_bytes_options *opts);

/**
 * Starts fn over items[0..n) on a process pool or an MPI pool (Python's
 * ProcessPoolExecutor.map): results come back from cf_map_bytes_next in
 * input order.
 *
 * @param ex The executor: a process pool or an MPI pool.
 * @param fn The task.
 * @param items The inputs: they and the bytes they point to are borrowed
 *              until cf_map_bytes_free (each chunk's input is copied when
 *              it is submitted).
 * @param n How many.
 * @param[in] opts The options, or NULL for the defaults.
 * @param[out] out Receives the map, freed with cf_map_bytes_free.
 * @return 0, CF_EINVAL (NULL ex, fn or out; items NULL with n > 0; ex takes
 *         no byte tasks), CF_ENOENT (fn unregistered where tasks travel by
 *         name; CF_EEXIST if its name also names another function),
 *         CF_ENOMEM, CF_ETOOBIG (a chunk above max_payload), CF_ESHUTDOWN,
 *         CF_EBROKEN.
 * @threads Does not block; any thread.
 */
CF_EXTERN int cf_map_bytes_new(cf_executor *ex, cf_bytes_fn fn,
                               const cf_bytes *items, size_t n,
                               const cf_map_bytes_options *opts,
                               cf_map_bytes **out);

/**
 * A byte stream map's generator. The map copies each item into its task
 * before it calls the generator again or returns, so the bytes need stay
 * valid only until then: one buffer may serve every item.
 *
 * @param userdata What cf_map_bytes_new_stream was given.
 * @param[out] data Receives the next item's bytes (may be NULL when *len
 *                  is 0; NULL with *len > 0 ends the stream with
 *                  CF_EINVAL).
 * @param[out] len Receives how many.
 * @return 0 (an item was given), CF_EOF at the end, or another negative
 *         code for an error (a positive one counts as CF_ETASK).
 * @threads Called from cf_map_bytes_new_stream and cf_map_bytes_next, so
 *          on the thread that uses the map and never concurrently (it
 *          needs no lock); never again after it returned non-zero.
 */
typedef int (*cf_map_bytes_source_fn)(void *userdata, const void **data,
                                      size_t *len);

/**
 * Starts fn over the items next gives (Python's ProcessPoolExecutor.map
 * over a generator): as cf_map_bytes_new, chunking included, but items are
 * pulled a chunk at a time as the window frees, so at most buffersize
 * chunks are held, whatever the length of the stream; results in input
 * order. When next fails, the items already pulled are still given (a
 * chunk being filled is sent short), then cf_map_bytes_next returns next's
 * code instead of CF_EOF.
 *
 * @param ex The executor: a process pool or an MPI pool.
 * @param fn The task, run on each item.
 * @param next The generator; called here for the first window.
 * @param userdata Passed to next.
 * @param[in] opts The options, or NULL for the defaults.
 * @param[out] out Receives the map, freed with cf_map_bytes_free.
 * @return 0, CF_EINVAL (NULL ex, fn, next or out; ex takes no byte tasks),
 *         CF_ENOENT / CF_EEXIST as cf_map_bytes_new, CF_ENOMEM,
 *         CF_ETOOBIG, CF_ESHUTDOWN, CF_EBROKEN (the first chunk's submit).
 *         An error of next is reported by cf_map_bytes_next.
 * @threads Does not block except in next; any thread, which then calls
 *          next.
 */
CF_EXTERN int cf_map_bytes_new_stream(cf_executor *ex, cf_bytes_fn fn,
                                      cf_map_bytes_source_fn next,
                                      void *userdata,
                                      const cf_map_bytes_options *opts,
                                      cf_map_bytes **out);

/**
 * Waits for the next item's result, in input order, and consumes it. As
 * with cf_map_next, an item's outcome and the iterator's state are told
 * apart: 0 means an item was consumed, its outcome in *err -- 0, the
 * task's code, CF_ETIMEDOUT for a task that ran past its task timeout,
 * CF_EWORKER for one whose worker died (every item of its chunk), CF_EPROTO
 * for an item of a chunk whose output could not be decoded (the rest of
 * that chunk fails alike, the map goes on), or a submit's error; a
 * non-zero return is about the iterator alone and consumes nothing.
 *
 * @param m The map.
 * @param[out] data If not NULL, receives the item's bytes when *err is 0
 *                  (NULL otherwise), valid until the next call or
 *                  cf_map_bytes_free.
 * @param[out] len If not NULL, receives how many (0 when *err is not 0).
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
CF_EXTERN int cf_map_bytes_next(cf_map_bytes *m, const void **data, size_t *len,
                                int *err, size_t *index);

/**
 * Frees the map without waiting: chunks not started are cancelled, chunks
 * running finish in their workers and their results are dropped (the
 * pool's cf_shutdown with CF_SHUTDOWN_WAIT or cf_executor_free waits for
 * them; chunk inputs were copied, so the items may be freed at once).
 *
 * @param m The map, or NULL (a no-op).
 * @threads Never blocks. One thread at a time per map.
 */
CF_EXTERN void cf_map_bytes_free(cf_map_bytes *m);

/** @} */

#ifdef __cplusplus
}
#endif

/* Tasks by name, for workers that are not forks of the caller. */
#include "cfutures/registry.h"

#endif /* CFUTURES_PROCESS_POOL_H */
