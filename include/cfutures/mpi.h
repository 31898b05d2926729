/* SPDX-License-Identifier: MIT */
/**
 * @file cfutures/mpi.h
 * @brief An executor whose workers are the ranks of an MPI job (see
 * @ref mpi).
 */
/**
 * @defgroup mpi MPI pool
 * @brief An executor whose workers are the ranks of an MPI job
 * (mpi4py.futures' MPICommExecutor, for C).
 *
 * Optional: built as its own
 * library (cfutures_mpi, pkg-config cfutures-mpi, CMake cfutures::cfutures_mpi)
 * where MPI is found. Include <mpi.h>-using code only where it is built.
 *
 * The model is SPMD: the program runs under mpirun (mpirun -n N prog), and
 * every rank of the communicator calls cf_mpi_pool_new with the same
 * communicator and root. On the root (the client) it returns a pool; on
 * every other rank it serves tasks -- runs them, in the order they come,
 * on the calling thread -- until the client shuts the pool down, and then
 * returns 0 with *out set to NULL:
 *
 * @code
 *     cf_executor *ex;
 *     if (cf_mpi_pool_new(NULL, &ex) != 0) ...;
 *     if (ex != NULL) {            // rank 0: submit, wait, map ...
 *       ...
 *       cf_executor_free(ex);      // every serving rank returns now
 *     }
 *     MPI_Finalize();
 * @endcode
 *
 * Tasks are byte tasks (cf_bytes_fn, as on a process pool) and travel by
 * name: each must be registered, on every rank, with CF_TASK
 * (cfutures/registry.h); cf_submit_bytes of an unregistered function is
 * CF_ENOENT, and a name a serving rank does not know fails that task with
 * CF_ENOENT. The futures are ordinary cf_futures: cf_future_bytes,
 * cf_wait, cf_as_completed, cf_gather, cf_future_on_done, cf_map_bytes
 * (with chunksize) work on them unchanged.
 *
 * Scheduling. A task goes to the ready serving rank with the fewest tasks
 * in flight, so idle ranks are served first; up to pipeline_depth tasks
 * are sent ahead to a rank, so that the network round trip is hidden
 * behind the task it runs. A task counts as running from when it is sent.
 * cf_future_cancel succeeds while a task is still queued on the client;
 * cf_future_request_cancel does nothing to a task already sent (a rank
 * cannot be interrupted), and for the same reason cf_submit_bytes_timeout
 * with a positive timeout is CF_ENOSYS (a negative one means none, as
 * everywhere). cf_executor_resize is CF_ENOSYS: the ranks are the job's.
 *
 * Threads and MPI. The client runs one manager thread that makes every MPI
 * call of the pool, on a duplicate of the communicator (so the pool's
 * messages never match the program's); it needs MPI_THREAD_MULTIPLE.
 * If MPI is not initialised, cf_mpi_pool_new initialises it with
 * MPI_THREAD_MULTIPLE and finalises it at exit (after shutting down any
 * pool still open, which releases the serving ranks), as mpi4py does. If
 * the program initialised MPI with less than MPI_THREAD_MULTIPLE,
 * cf_mpi_pool_new fails with CF_ENOSYS on every rank. Threads waiting on
 * the pool's futures make no MPI call (they poll the future for up to
 * 50 us, yielding the CPU, then sleep). While waiting for messages the
 * manager and the serving ranks poll, then sleep in growing steps up to
 * poll_max_us (Open MPI's blocking calls would spin a CPU each); a client
 * with nothing in flight sleeps until a submit. Among idle ranks the one
 * that answered last is chosen, as it is still polling.
 *
 * Errors. A task's error code and message come back as on a process pool.
 * An initializer that fails on a rank breaks the pool (CF_EBROKEN, with a
 * message naming the rank). An MPI error on the client's side fails every
 * pending and running task with CF_EBROKEN and a message naming the MPI
 * error. A rank that dies (a crash, a signal, exit()) cannot be survived
 * under Open MPI: mpirun kills every rank of the job, the client
 * included, and exits non-zero naming the rank and its signal or status
 * (tests/mpi/rank_death.sh shows it). Tasks must not call exit() or
 * MPI_Finalize, nor use the pool's communicator.
 *
 * Byte order: ranks exchange native integers in message headers, so all
 * ranks of one pool must share the byte order (as they do on one cluster).
 * @{
 */
#ifndef CFUTURES_MPI_H
#define CFUTURES_MPI_H

#include "cfutures/process_pool.h"

#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Options of cf_mpi_pool_new; cf_mpi_pool_options_init fills the
 * defaults. Every rank passes its own copy: comm and root must agree,
 * the initializer and its bytes are each rank's own. */
typedef struct cf_mpi_pool_options {
  /** The ranks taking part (duplicated by the pool). Default
   * MPI_COMM_WORLD. */
  MPI_Comm comm;
  /** The client rank. Default 0. */
  int root;
  /** Most serving ranks used: the lowest-numbered ranks other than root;
   * the others wait for the shutdown. 0 (default) = every other rank. */
  int max_workers;
  /** Run on each serving rank before its first task (this rank's pointer:
   * it need not be registered). Non-zero breaks the pool. NULL = none. */
  cf_bytes_init_fn initializer;
  /** Bytes handed to this rank's initializer (borrowed for the call). */
  const void *initargs;
  /** How many bytes initargs holds. */
  size_t initargs_len;
  /** Largest argument or result, in bytes: a larger argument fails
   * cf_submit_bytes with CF_ETOOBIG, a larger result fails its future with
   * CF_ETOOBIG. Default 256 MiB; at most 1 GiB (MPI counts are int). */
  size_t max_payload;
  /** Most tasks sent ahead to one rank. Default 8; 1 = one at a time. */
  unsigned pipeline_depth;
  /** Microseconds a manager or serving rank keeps polling (yielding the
   * CPU between looks) after its last message before it starts to sleep:
   * while tasks keep coming, nobody sleeps and misses one. Default 1000. */
  unsigned spin_us;
  /** Longest sleep between two polls, in microseconds: the most a message
   * waits for an idle rank to notice it. Default 1000, at least 1. */
  unsigned poll_max_us;
} cf_mpi_pool_options;

/**
 * Fills *opts with the defaults. NULL is a no-op. Does not need MPI to be
 * initialised.
 *
 * @param[out] opts The options to fill.
 * @threads Never blocks; any thread.
 */
CF_EXTERN void cf_mpi_pool_options_init(cf_mpi_pool_options *opts);

/**
 * Collective over opts->comm: creates the pool on the root and serves it on
 * every other rank (see the top of this header). opts may be NULL for the
 * defaults.
 *
 * @param[in] opts This rank's options, or NULL for the defaults.
 * @param[out] out On the root, receives the pool, which cf_shutdown and
 *                 cf_executor_free end (which releases the serving ranks);
 *                 on a serving rank, NULL once the pool is shut down.
 * @return 0; errors, the same on every rank (the ranks agree on them before
 *         any serving starts): CF_EINVAL (out NULL on some rank, a bad
 *         option, root out of range, fewer than 2 ranks, opts->comm
 *         MPI_COMM_NULL -- this one is local), CF_ENOSYS (MPI initialised
 *         without MPI_THREAD_MULTIPLE, or finalised), CF_ENOMEM, CF_EAGAIN
 *         (on the root only: its manager thread could not start; the serving
 *         ranks are released and return 0 with NULL), CF_EBROKEN (an MPI
 *         call failed; on a serving rank, also when its link to the client
 *         failed while serving).
 * @threads Collective: blocks until every rank has called it. On a serving
 *          rank it blocks, running tasks, until the pool is shut down. Call
 *          from one thread per rank.
 */
CF_EXTERN int cf_mpi_pool_new(const cf_mpi_pool_options *opts,
                              cf_executor **out);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* CFUTURES_MPI_H */
