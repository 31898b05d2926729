/* SPDX-License-Identifier: MIT */
/*
 * The process pool executor: C functions on bytes, run in forked workers.
 *
 * DESIGN. Three kinds of process take part.
 *
 *  - The caller's process holds the pool: a queue of tasks, a table of
 *    worker slots, and one manager thread that multiplexes, with epoll, the
 *    zygote's control socket, every worker's socket and an eventfd that
 *    wakes it. Submitting threads send tasks to a worker themselves when
 *    one has room (so a round trip costs no manager wake-up); the manager
 *    reads results, completes futures, enforces task timeouts, starts
 *    replacements and drives shutdown. A thread blocked in cf_future_bytes
 *    reads its result from the worker's socket itself (wait_helped), which
 *    spares a round trip the manager's wake-up.
 *  - The zygote, forked from the caller inside cf_process_pool_new, is the
 *    only child of the caller's process. It keeps descriptors 0-2 and its
 *    control socket (a SOCK_SEQPACKET pair), resets the caller's signal
 *    handlers and mask, and loops: on a SPAWN request it makes a socketpair,
 *    forks a worker, and sends the parent end back with SCM_RIGHTS; on a
 *    KILL request it signals a worker (only the zygote may: until it reaps
 *    a worker, the pid cannot be reused); when a worker dies (its pidfd
 *    becomes readable, or SIGCHLD where there are no pidfds: see
 *    z_reap_setup) it reaps it with wait4 and reports the exit status and
 *    peak memory. On end of file
 *    of the control socket it kills and reaps what is left and exits. It
 *    runs nothing but this loop, so every worker (first ones and
 *    replacements) is forked from a single-threaded process whose memory
 *    is the caller's as of pool creation.
 *  - A worker leads a process group of its own (so that a signal meant
 *    for it reaches what its tasks started, and the zygote kills what is
 *    left of the group when it reaps it), keeps descriptors 0-2 and its
 *    socket (close_range), asks for SIGKILL when the zygote dies
 *    (PR_SET_PDEATHSIG), runs the initializer,
 *    then reads task frames (wire.h), runs them in order and writes result
 *    frames, batching results while more tasks are already buffered. It
 *    exits on end of file of its socket.
 *
 * START METHODS. With CF_START_SPAWN and CF_START_FORKSERVER the zygote is
 * not a fork of the caller but a posix_spawn of the program itself, which
 * takes its role in cf_spawn_main (the pool's settings come in a sealed
 * memfd); a spawn zygote also starts each worker that way, a forkserver
 * zygote forks them. Those workers are other images: TASK frames then
 * carry the task's registered name (registry.h) besides its address, and
 * the worker looks the name up. Everything else is the same protocol.
 *
 * Stopping is bounded: terminate's SIGTERM is followed by SIGKILL after
 * kill_grace, and so is a worker told to exit that has not (both in
 * deadlines_locked); task timeouts and cancels kill at once.
 *
 * BEGIN MARKS. A task sent ahead to a worker has not started: it stays
 * PENDING, cancellable, until its worker begins it. Each worker slot has a
 * ring of marks in one shared memory area of the pool (a memfd whose
 * descriptor the first frame on a worker's socket, MARKS, carries), one
 * per task sent and not yet answered: the n-th TASK frame on a socket is
 * the worker's n-th task on both sides, and its mark is word n % ring,
 * which holds n and a state. The pool writes SENT before the frame; the
 * worker, before it begins a task, writes the time and moves SENT to BEGUN
 * with a compare-exchange; the pool withdraws a task by moving SENT to
 * CANCELLED with one. Exactly one of the two wins. A worker that finds a
 * task withdrawn skips it and answers with an empty SKIPPED result, so
 * every TASK frame still gets exactly one answer, in order; the pool keeps
 * the withdrawn task in the worker's list (a ghost, its future already
 * cancelled) until that answer comes, so the tasks in the list always
 * have consecutive numbers, fewer than the ring's size: marks never
 * collide. The pool moves a future to RUNNING, with the worker's begin
 * time, when it learns of the BEGUN mark: when the result comes, when the
 * worker dies, or when somebody asks (cf_future_running, _state,
 * _times_get and _cancel consult the mark: the observe hook).
 *
 * Death is learned from the zygote's EXITED report, never from SIGCHLD:
 * the caller's process reaps only the zygote, with waitpid(zygote pid),
 * and ECHILD there means somebody else already did. When a worker dies,
 * after the results it managed to write have been read, the task it had
 * begun (its mark says BEGUN) is the one it was running, and it alone is
 * blamed; the tasks it never began, whether they were in its socket, half
 * written, or refused with EPIPE, are queued again, so a worker killed
 * while idle fails nothing. (One that keeps dying before it can begin the
 * same task fails that task after LOST_MAX tries.) Writes to workers use
 * MSG_NOSIGNAL; EPIPE only means the death report is on its way.
 *
 * Payloads above shm_threshold travel in shared memory (memfd, sealed
 * against shrinking, never a named path; a descriptor is passed to a
 * worker once, with SCM_RIGHTS). Task payloads: cf_submit_bytes copies the
 * caller's bytes once, straight into one of the pool's 16 regions, which
 * the task owns until it is done, so a task sent again after a crash still
 * has them; with all 16 taken the bytes go through the socket. Results: a
 * worker has four regions of its own, reused while free (a flag in a
 * region's first cache line says the pool has not copied it out yet), and
 * hands its task an output buffer that already lives in a free one
 * (buffer_priv.h), so a large result is not copied on its way out; the
 * pool copies it once, into the future.
 *
 * LOCKING. One mutex, pool.mu, guards the queue, the worker table (every
 * field of struct worker, including its output buffer, so any thread that
 * holds it may write to a worker's socket), the pool regions' table, the
 * pool's flags and counters. A submitter fills the region it took without
 * the lock: nobody else touches a taken region until its task is queued.
 * Worker sockets are read only under pool.mu (by the manager, or by a
 * waiting thread that took a worker's reading over: worker.helped), the
 * control socket only by the manager. Futures are completed and their callbacks
 * run with no lock held (the manager collects them in a local list). A task is
 * freed only by the thread that completed or cancelled it, and the manager
 * frees its completed tasks under pool.mu, after completing them, so a
 * thread that holds pool.mu and sees a future not done may use its task.
 * A ghost (BEGIN MARKS) is freed under pool.mu by whoever reads its
 * SKIPPED answer or reaps its worker: its future no longer points to it.
 * Lock order: pool.mu, then a future's stripe lock (cf__future_try_start
 * and cf__future_cancel_pending never run callbacks under pool.mu: only
 * cancelling a PENDING future completes it, and that happens unlocked).
 */
#include "cfutures/process_pool.h"
#include "buffer_priv.h"
#include "cfutures/registry.h"
#include "internal.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHM_HDR 64
/* Regions above this size are dropped after one use rather than kept. */
#define SHM_KEEP_MAX ((size_t)16 << 20)
#define MAX_RX_FDS 32
/* Descriptors sent with one sendmsg; the receiver takes up to MAX_RX_FDS. */
#define MAX_PEND_FDS 8
#define READ_CHUNK ((size_t)64 << 10)
/* A worker's exit status when its channel to the pool fails under it (the
 * task closed or shut it, say): EX_IOERR. End of file is a clean exit. */
#define W_EXIT_LOST 74

/* Kernel interfaces called directly so that older C libraries build. */
static int pidfd_open_(pid_t pid) {
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* ------------------------------------------------------------------------ */
/* Structures                                                                */
/* ------------------------------------------------------------------------ */

struct task;
struct tlist {
  struct task *head, *tail;
  size_t n;
};

struct task {
  struct task *prev, *next;
  cf_future *f;
  cf_bytes_fn fn;
  const char *name; /* registered name, for workers that are not forks */
  uint64_t id;
  uint64_t timeout_ns; /* 0 = none */
  unsigned crashes;
  unsigned lost; /* its workers died before they began it */
  bool in_queue;
  bool cancel_req;
  bool ghost;   /* withdrawn from its worker, which has still to skip it */
  int wslot;    /* the worker slot it was sent to, or -1 */
  uint64_t seq; /* its number on that worker (see BEGIN MARKS) */
  int preg;     /* the pool region holding the payload, or -1 */
  unsigned char *payload; /* data, or in that region */
  /* The outcome, filled under pool.mu and applied unlocked. */
  int out_state, out_err;
  void *out_value;
  char *out_msg;
  size_t len;
  unsigned char data[];
};

struct region {
  int fd;
  unsigned char *map;
  size_t size;
  bool announced; /* the peer has its descriptor */
};

enum wstate { W_FREE, W_SPAWNING, W_READY };
enum kill_reason {
  K_NONE,
  K_TIMEOUT,
  K_CANCEL,
  K_TERM,
  K_PROTO,
  K_NOMEM,
  K_BROKEN
};

struct worker {
  enum wstate st;
  pid_t pid;
  int sock;
  int sig_pending;    /* a signal the zygote has yet to be asked to send */
  bool ready_seen;    /* READY frame: the initializer succeeded */
  bool eof;           /* socket reached end of file (unregistered) */
  bool retiring;      /* gets no more tasks */
  bool closed_wr;     /* we shut our side: it exits once idle */
  uint64_t closed_at; /* when: SIGKILL follows kill_grace later */
  bool want_out;      /* EPOLLOUT registered */
  bool send_dead;     /* a write failed: the death report is coming */
  bool abandoned;     /* spawned, but its descriptors were lost */
  bool helped;        /* a waiting thread reads its socket (wait_helped) */
  uint32_t gen;       /* bumped each time the slot is freed */
  int kill_reason;
  uint64_t kill_id; /* the task a timeout or cancel killed it for */
  unsigned sent;
  unsigned unsent; /* of fl, tasks still in obuf, not yet written */
  uint64_t seq;    /* TASK frames written to it (see BEGIN MARKS) */
  bool marked;     /* its MARKS frame is written */
  struct tlist fl; /* in flight, oldest (running) first */
  uint64_t head_start;
  unsigned char *obuf;
  size_t olen, ooff, ocap;
  int pend_fds[MAX_PEND_FDS];
  int npend;
  uint16_t known; /* the pool regions whose descriptor it has */
  unsigned char *ibuf;
  size_t ilen, icap;
  int rfds[MAX_RX_FDS];
  int nrfds;
  struct region out_reg[CF__WIRE_SLOTS]; /* the worker's: results */
};

struct pool {
  struct cf_executor base;
  cf_process_pool_options o;
  unsigned char *initargs;
  pthread_mutex_t mu;
  pthread_cond_t done_cv;
  struct tlist queue;
  /* Regions for large task payloads: written once at submit, owned by
   * their task until it is done (a task sent again after a crash still
   * has its bytes), mapped by every worker that ran one. */
  struct region preg[CF__WIRE_TASK_SLOTS];
  bool preg_used[CF__WIRE_TASK_SLOTS];
  struct worker *ws;
  int nslots;
  /* The begin marks of every slot: ring marks each, marks_slot bytes
   * apart, in a memfd shared with the workers. */
  int marks_fd;
  unsigned char *marks;
  size_t marks_slot, marks_size;
  unsigned ring;
  int ep, evfd, ctl;
  pid_t zpid;
  pthread_t mgr;
  bool shutdown, broken, zygote_dead, mgr_done;
  /* In a spawned zygote or worker: the configuration memfd (kept by the
   * zygote for the workers it spawns), and an initializer that could not
   * be found by name here. */
  int cfg_fd;
  int init_err;
  int terminating;       /* the signal of terminate/kill, or 0 */
  uint64_t grace_ns;     /* kill_grace */
  uint64_t term_kill_at; /* after terminate's SIGTERM: when SIGKILL follows */
  int spawn_failures;    /* in a row */
  int early_deaths;      /* workers in a row that died before they were ready */
  /* A task could not be framed for lack of memory: the manager retries
   * every NOMEM_RETRY_MS and fails the task after NOMEM_GIVE_UP_NS. */
  bool nomem_retry;
  uint64_t nomem_since;
  char broken_msg[512];
  uint64_t next_id;
  uint64_t submitted, completed, failed, cancelled;
  bool sig_retry; /* a worker's sig_pending waits for room on ctl */
  /* The zygote's own tables: allocated before the fork, used only there.
   * zpidfds are -1 where the zygote reaps without pidfds (zsigfd). */
  pid_t *zpids;
  int *zpidfds;
  int zsigfd;
  bool zno_pidfd;
  struct pollfd *zpoll;
  int *zslot_of;
};

/* Control messages between the pool and its zygote. */
enum { Z_SPAWN = 1, Z_SPAWNED, Z_SPAWN_FAILED, Z_EXITED, Z_KILL };
struct zmsg {
  int32_t op;
  int32_t slot;
  int32_t pid;
  int32_t status; /* Z_EXITED: the wait status; Z_KILL: the signal */
  int64_t maxrss_kb;
  int32_t err;
  int32_t pad;
};

static const struct cf__executor_vtable pool_vt;

/* A task's begin mark (see BEGIN MARKS). */
struct mark {
  _Atomic uint64_t word;     /* the task's number << 2 | M_* */
  _Atomic uint64_t begin_ns; /* CLOCK_MONOTONIC when the worker began it */
};
enum { M_SENT = 1, M_BEGUN = 2, M_CANCELLED = 3 };
#define MARK(seq, st) ((uint64_t)(seq) << 2 | (uint64_t)(st))
/* Tasks sent ahead to one worker at most: the ring's size. */
#define DEPTH_MAX 4096u
/* Deaths of workers before they began a task, after which it fails. */
#define LOST_MAX 3

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static void tl_push_back(struct tlist *l, struct task *t) {
  t->next = NULL;
  t->prev = l->tail;
  if (l->tail)
    l->tail->next = t;
  else
    l->head = t;
  l->tail = t;
  l->n++;
}

static void tl_push_front(struct tlist *l, struct task *t) {
  t->prev = NULL;
  t->next = l->head;
  if (l->head)
    l->head->prev = t;
  else
    l->tail = t;
  l->head = t;
  l->n++;
}

static void tl_remove(struct tlist *l, struct task *t) {
  if (t->prev)
    t->prev->next = t->next;
  else
    l->head = t->next;
  if (t->next)
    t->next->prev = t->prev;
  else
    l->tail = t->prev;
  t->prev = t->next = NULL;
  l->n--;
}

static struct task *tl_pop(struct tlist *l) {
  struct task *t = l->head;
  if (t)
    tl_remove(l, t);
  return t;
}

static int neg_errno(void) {
  switch (errno) {
  case ENOMEM:
    return CF_ENOMEM;
  case EMFILE:
  case ENFILE:
    return CF_EMFILE;
  case EAGAIN:
    return CF_EAGAIN;
  default:
    return -errno;
  }
}

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

static void region_drop(struct region *r) {
  if (r->map != NULL)
    munmap(r->map, r->size);
  r->map = NULL;
  r->size = 0;
  r->announced = false;
  close_fd(&r->fd);
}

static _Atomic uint32_t *region_busy(const struct region *r) {
  return (_Atomic uint32_t *)(void *)r->map;
}

/* Makes sure r (ours) holds at least need bytes, creating or growing the
 * memfd. Returns 0 and sets *newfd when the descriptor is new. */
static int region_ensure(struct region *r, size_t need, bool *newfd) {
  *newfd = false;
  if (r->map != NULL && r->size >= need)
    return 0;
  long pg = sysconf(_SC_PAGESIZE);
  size_t size = r->size ? r->size : (size_t)1 << 20;
  while (size < need)
    size *= 2;
  size = (size + (size_t)pg - 1) & ~((size_t)pg - 1);
  if (r->fd < 0) {
    r->fd = memfd_create("cfutures", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (r->fd < 0)
      return neg_errno();
    /* memfds are born 0777; only this user's processes need it (through
     * /proc/<pid>/fd, which is guarded anyway): say so. */
    fchmod(r->fd, 0600);
    *newfd = true;
  }
  /* On failure a region that was mapped stays as it was: a task's output
   * buffer may live in it. */
  void *m = MAP_FAILED;
  if (ftruncate(r->fd, (off_t)size) != 0 ||
      (*newfd && fcntl(r->fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) ||
      (m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0)) ==
          MAP_FAILED) {
    int rc = neg_errno();
    if (r->map == NULL)
      region_drop(r);
    return rc;
  }
  if (r->map != NULL)
    munmap(r->map, r->size);
  r->map = m;
  r->size = size;
  return 0;
}

/* Maps (or remaps) the peer's region r so that size bytes are visible;
 * fd, if >= 0, replaces the descriptor. The peer sealed it against
 * shrinking, so once fstat says it is big enough it stays so. */
static int region_attach(struct region *r, int fd, size_t size) {
  if (fd >= 0) {
    region_drop(r);
    r->fd = fd;
  }
  if (r->fd < 0)
    return CF_EPROTO;
  if (r->map != NULL && r->size >= size)
    return 0;
  struct stat st;
  int seals = fcntl(r->fd, F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK) || fstat(r->fd, &st) != 0 ||
      (uint64_t)st.st_size < size)
    return CF_EPROTO;
  void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
  if (m == MAP_FAILED)
    return neg_errno();
  if (r->map != NULL)
    munmap(r->map, r->size);
  r->map = m;
  r->size = size;
  return 0;
}

/* A region of ours free for a new payload: a mapped one the peer is done
 * with (one too big to keep is dropped first), else an unused slot; -1 if
 * every one is busy. */
static int region_pick(struct region *rs) {
  int empty = -1;
  for (int i = 0; i < CF__WIRE_SLOTS; i++) {
    struct region *r = &rs[i];
    if (r->map == NULL) {
      if (empty < 0)
        empty = i;
      continue;
    }
    if (atomic_load_explicit(region_busy(r), memory_order_acquire) != 0)
      continue;
    if (r->size <= SHM_KEEP_MAX)
      return i;
    region_drop(r);
    if (empty < 0)
      empty = i;
  }
  return empty;
}

static void regions_drop(struct region *rs, int n) {
  for (int i = 0; i < n; i++)
    region_drop(&rs[i]);
}

static void regions_reset(struct region *rs, int n) {
  for (int i = 0; i < n; i++) {
    rs[i].fd = -1;
    rs[i].map = NULL;
    rs[i].size = 0;
    rs[i].announced = false;
  }
}

static int buf_reserve(unsigned char **buf, size_t *cap, size_t need) {
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap : 4096;
  while (c < need)
    c *= 2;
  unsigned char *n = realloc(*buf, c);
  if (n == NULL)
    return CF_ENOMEM;
  *buf = n;
  *cap = c;
  return 0;
}

static void describe_exit(char *out, size_t n, pid_t pid, int status,
                          long maxrss_kb) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char *name = sigabbrev_np(sig);
    snprintf(out, n,
             "worker process %d was killed by signal %d (SIG%s)%s; "
             "peak RSS %ld KiB",
             (int)pid, sig, name ? name : "?",
             WCOREDUMP(status) ? " (core dumped)" : "", maxrss_kb);
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == W_EXIT_LOST) {
    snprintf(out, n,
             "worker process %d lost its channel to the pool (exit status "
             "%d); peak RSS %ld KiB",
             (int)pid, W_EXIT_LOST, maxrss_kb);
  } else if (WIFEXITED(status)) {
    snprintf(out, n,
             "worker process %d exited with status %d; peak RSS %ld "
             "KiB",
             (int)pid, WEXITSTATUS(status), maxrss_kb);
  } else {
    snprintf(out, n, "worker process %d died (status 0x%x)", (int)pid,
             (unsigned)status);
  }
}

/* ------------------------------------------------------------------------ */
/* The worker process                                                        */
/* ------------------------------------------------------------------------ */

struct wctx {
  const struct pool *p;
  int sock;
  unsigned char *ibuf;
  size_t ilen, icap;
  unsigned char *obuf;
  size_t olen, ocap;
  int rfds[MAX_RX_FDS];
  int nrfds;
  int pend_fd;
  struct region in_reg[CF__WIRE_TASK_SLOTS], out_reg[CF__WIRE_SLOTS];
  cf_buffer out;
  int statm;
  unsigned done;
  cf_future *df;
  uint64_t last_aux; /* the last task resolved by name */
  cf_bytes_fn last_fn;
  struct mark *marks; /* our ring of begin marks (MARKS frame) */
  unsigned ring;
  uint64_t seq; /* TASK frames read */
};

static void w_flush(struct wctx *c) {
  size_t off = 0;
  while (off < c->olen) {
    struct iovec iov = {c->obuf + off, c->olen - off};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    union {
      struct cmsghdr h;
      char b[CMSG_SPACE(sizeof(int))];
    } cm;
    if (c->pend_fd >= 0) {
      memset(&cm, 0, sizeof cm);
      m.msg_control = cm.b;
      m.msg_controllen = sizeof cm.b;
      struct cmsghdr *h = CMSG_FIRSTHDR(&m);
      h->cmsg_level = SOL_SOCKET;
      h->cmsg_type = SCM_RIGHTS;
      h->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(h), &c->pend_fd, sizeof(int));
    }
    ssize_t r = sendmsg(c->sock, &m, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      _exit(W_EXIT_LOST); /* the pool is gone, or the task broke the channel */
    }
    c->pend_fd = -1;
    off += (size_t)r;
  }
  c->olen = 0;
}

static void w_frame(struct wctx *c, const struct cf__wire_hdr *h,
                    const void *msg, const void *payload, size_t plen) {
  size_t need = c->olen + CF__WIRE_HDR_SIZE + h->msg_len + plen;
  if (buf_reserve(&c->obuf, &c->ocap, need) != 0)
    _exit(70);
  cf__wire_encode(c->obuf + c->olen, h);
  c->olen += CF__WIRE_HDR_SIZE;
  if (h->msg_len) {
    memcpy(c->obuf + c->olen, msg, h->msg_len);
    c->olen += h->msg_len;
  }
  if (plen) {
    memcpy(c->obuf + c->olen, payload, plen);
    c->olen += plen;
  }
}

static size_t w_rss(struct wctx *c) {
  if (c->statm < 0)
    c->statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  char b[128];
  ssize_t r = c->statm >= 0 ? pread(c->statm, b, sizeof b - 1, 0) : -1;
  if (r <= 0)
    return 0;
  b[r] = 0;
  unsigned long size, res;
  if (sscanf(b, "%lu %lu", &size, &res) != 2)
    return 0;
  return res * (size_t)sysconf(_SC_PAGESIZE);
}

static struct wctx *w_self;
static int w_out_slot = -1;

static int w_grow(cf_buffer *b, size_t need) {
  struct region *o = &w_self->out_reg[w_out_slot];
  bool newfd;
  if (need > SIZE_MAX - SHM_HDR)
    return CF_ENOMEM;
  int rc = region_ensure(o, SHM_HDR + need, &newfd);
  if (rc != 0)
    return rc;
  b->data = o->map + SHM_HDR;
  b->cap = o->size - SHM_HDR;
  cf__buffer_foreign.data = b->data;
  return 0;
}

/* Gives the task an empty output buffer: in a free region of ours when
 * there is one (a large result then leaves without a copy), else malloc'd.
 * Returns the region's slot or -1. */
static int w_out_prepare(struct wctx *c) {
  int slot = c->p->o.shm_threshold != SIZE_MAX ? region_pick(c->out_reg) : -1;
  bool newfd;
  if (slot >= 0 && region_ensure(&c->out_reg[slot], SHM_HDR + 1, &newfd) != 0)
    slot = -1;
  if (c->out.data != NULL && c->out.data == cf__buffer_foreign.data)
    c->out = (cf_buffer)CF_BUFFER_INIT; /* the region's, not malloc's */
  cf__buffer_foreign.data = NULL;
  if (slot < 0) {
    cf_buffer_clear(&c->out);
    return -1;
  }
  cf_buffer_free(&c->out);
  struct region *o = &c->out_reg[slot];
  c->out.data = o->map + SHM_HDR;
  c->out.len = 0;
  c->out.cap = o->size - SHM_HDR;
  cf__buffer_foreign.data = c->out.data;
  cf__buffer_foreign.grow = w_grow;
  w_self = c;
  w_out_slot = slot;
  return slot;
}

/* The function a TASK frame names: its address where the worker is a fork
 * of the pool, else its registered name (the last one found is kept, as a
 * pool mostly sends the same task); an unknown or ambiguous name gives a
 * stand-in that fails the task and says why. */
static cf_bytes_fn w_resolve(struct wctx *c, const struct cf__wire_hdr *h,
                             const char *msg) {
  if (h->msg_len == 0)
    return (cf_bytes_fn)(uintptr_t)h->aux;
  if (c->last_aux == h->aux && c->last_fn != NULL)
    return c->last_fn;
  char name[CF__WIRE_NAME_MAX + 1];
  memcpy(name, msg, h->msg_len);
  name[h->msg_len] = 0;
  cf_bytes_fn fn;
  if (cf__bytes_task_find(name, &fn) == 0) {
    c->last_aux = h->aux;
    c->last_fn = fn;
  }
  return fn;
}

static void w_run(struct wctx *c, const struct cf__wire_hdr *h,
                  const char *name, const void *payload) {
  const struct pool *p = c->p;
  const void *in = payload;
  bool shm = h->flags & CF__WF_SHM;
  struct region *reg =
      &c->in_reg[(h->flags & CF__WF_SLOT_MASK) >> CF__WF_SLOT_SHIFT];
  if (shm) {
    int fd = -1;
    if (h->flags & CF__WF_NEWFD) {
      if (c->nrfds == 0)
        _exit(71);
      fd = c->rfds[0];
      memmove(c->rfds, c->rfds + 1, (size_t)--c->nrfds * sizeof(int));
    }
    if (region_attach(reg, fd, h->region) != 0)
      _exit(71);
    in = reg->map + SHM_HDR;
  }
  int oslot = w_out_prepare(c);
  char *msg;
  int rc = cf__bytes_task_run(c->df, w_resolve(c, h, name), in, h->len, &c->out,
                              &msg);
  if (shm && reg->size > SHM_KEEP_MAX)
    region_drop(reg); /* the pool drops it too once the task is done */
  c->done++;
  struct cf__wire_hdr r = {.magic = CF__WIRE_MAGIC,
                           .version = CF__WIRE_VERSION,
                           .op = CF__OP_RESULT};
  r.id = h->id;
  char tmp[160];
  if (rc == 0 && c->out.len > p->o.max_payload) {
    rc = CF_ETOOBIG;
    snprintf(tmp, sizeof tmp, "result of %zu bytes is above max_payload (%zu)",
             c->out.len, p->o.max_payload);
    free(msg);
    msg = cf__strdup(tmp);
  }
  r.err = rc;
  size_t mlen = msg ? strlen(msg) : 0;
  r.msg_len = (uint32_t)(mlen > CF__WIRE_MSG_MAX ? CF__WIRE_MSG_MAX : mlen);
  bool retire = false;
  if (p->o.max_worker_rss && w_rss(c) > p->o.max_worker_rss) {
    r.flags |= CF__WF_RETIRE;
    retire = true;
  }
  const void *pl = NULL;
  size_t plen = 0;
  /* The task may have freed or replaced its buffer: only a buffer still in
   * its region can be sent from there. */
  bool in_region = oslot >= 0 && c->out.data == c->out_reg[oslot].map + SHM_HDR;
  int slot = -1;
  if (rc == 0) {
    r.len = c->out.len;
    if (c->out.len > p->o.shm_threshold) {
      slot = in_region ? oslot : region_pick(c->out_reg);
      bool newfd;
      if (slot >= 0 && !in_region &&
          region_ensure(&c->out_reg[slot], SHM_HDR + c->out.len, &newfd) == 0)
        memcpy(c->out_reg[slot].map + SHM_HDR, c->out.data, c->out.len);
      else if (!in_region)
        slot = -1;
    }
    if (slot >= 0) {
      struct region *o = &c->out_reg[slot];
      atomic_store_explicit(region_busy(o), 1, memory_order_relaxed);
      r.flags |= CF__WF_SHM | (uint16_t)(slot << CF__WF_SLOT_SHIFT);
      r.region = o->size;
      if (!o->announced) {
        r.flags |= CF__WF_NEWFD;
        if (c->olen > 0)
          w_flush(c); /* one descriptor per sendmsg */
        c->pend_fd = o->fd;
        o->announced = true;
      }
    } else {
      pl = c->out.data;
      plen = c->out.len;
    }
  }
  w_frame(c, &r, msg, pl, plen);
  free(msg);
  if (slot >= 0 && c->out_reg[slot].size > SHM_KEEP_MAX) {
    /* The parent unmaps such a region after one copy; send before closing
     * our descriptor, which rides on this frame. */
    w_flush(c);
    if (in_region) {
      cf__buffer_foreign.data = NULL;
      c->out = (cf_buffer)CF_BUFFER_INIT;
    }
    region_drop(&c->out_reg[slot]);
  }
  if (!in_region && c->out.cap > SHM_KEEP_MAX)
    cf_buffer_free(&c->out);
  /* Sent now, not batched: a result must never wait behind a long task,
   * and when a worker dies every result before its running task must
   * already be out, so that the oldest unanswered task is the culprit. */
  w_flush(c);
  if (retire)
    _exit(0);
}

/* The MARKS frame: maps our ring of begin marks. */
static void w_marks(struct wctx *c, const struct cf__wire_hdr *h) {
  if (c->nrfds == 0 || h->region > SIZE_MAX || h->aux > (uint64_t)INT64_MAX)
    _exit(71);
  int fd = c->rfds[0];
  memmove(c->rfds, c->rfds + 1, (size_t)--c->nrfds * sizeof(int));
  void *m = mmap(NULL, (size_t)h->region, PROT_READ | PROT_WRITE, MAP_SHARED,
                 fd, (off_t)h->aux);
  close(fd);
  if (m == MAP_FAILED)
    _exit(71);
  c->marks = m;
  c->ring = (unsigned)(h->region / sizeof(struct mark));
}

/* Claims the next task before it begins: false if the pool withdrew it. */
static bool w_begin(struct wctx *c) {
  uint64_t n = ++c->seq;
  struct mark *m = &c->marks[n % c->ring];
  atomic_store_explicit(&m->begin_ns, cf_now_ns(), memory_order_relaxed);
  uint64_t want = MARK(n, M_SENT);
  /* release: a pool that sees BEGUN sees the time. */
  return atomic_compare_exchange_strong_explicit(
      &m->word, &want, MARK(n, M_BEGUN), memory_order_release,
      memory_order_relaxed);
}

/* A withdrawn task: keep the descriptor its frame carries (later frames
 * count on it), leave its payload unread, answer SKIPPED. */
static void w_skip(struct wctx *c, const struct cf__wire_hdr *h) {
  if (h->flags & CF__WF_NEWFD) {
    if (c->nrfds == 0)
      _exit(71);
    struct region *reg =
        &c->in_reg[(h->flags & CF__WF_SLOT_MASK) >> CF__WF_SLOT_SHIFT];
    region_drop(reg);
    reg->fd = c->rfds[0];
    memmove(c->rfds, c->rfds + 1, (size_t)--c->nrfds * sizeof(int));
  }
  struct cf__wire_hdr r = {.magic = CF__WIRE_MAGIC,
                           .version = CF__WIRE_VERSION,
                           .op = CF__OP_RESULT,
                           .flags = CF__WF_SKIPPED};
  r.id = h->id;
  w_frame(c, &r, NULL, NULL, 0);
}

static void w_recv(struct wctx *c, size_t want) {
  if (buf_reserve(&c->ibuf, &c->icap, c->ilen + want) != 0)
    _exit(70);
  struct iovec iov = {c->ibuf + c->ilen, c->icap - c->ilen};
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(sizeof(int) * MAX_RX_FDS)];
  } cm;
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = cm.b;
  m.msg_controllen = sizeof cm.b;
  ssize_t r;
  do
    r = recvmsg(c->sock, &m, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    _exit(0); /* end of file: the pool is done with us */
  if (r < 0)
    _exit(W_EXIT_LOST);
  if (m.msg_flags & MSG_CTRUNC)
    _exit(71);
  for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
      continue;
    size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
      if (c->nrfds == MAX_RX_FDS)
        _exit(71);
      c->rfds[c->nrfds++] = fd;
    }
  }
  c->ilen += (size_t)r;
}

static _Noreturn void worker_main(const struct pool *p, int sock) {
  struct wctx c = {0};
  c.p = p;
  c.sock = sock;
  c.pend_fd = -1;
  c.statm = -1;
  regions_reset(c.in_reg, CF__WIRE_TASK_SLOTS);
  regions_reset(c.out_reg, CF__WIRE_SLOTS);
  c.df = cf__bytes_task_future();
  if (c.df == NULL)
    _exit(70);
  struct cf__wire_hdr h = {
      .magic = CF__WIRE_MAGIC, .version = CF__WIRE_VERSION, .op = CF__OP_READY};
  if (p->init_err != 0) {
    h.op = CF__OP_INIT_FAIL;
    h.err = p->init_err;
    w_frame(&c, &h, NULL, NULL, 0);
    w_flush(&c);
    _exit(0);
  }
  if (p->o.initializer != NULL) {
    int rc = p->o.initializer(p->initargs ? p->initargs : (const void *)"",
                              p->o.initargs_len);
    if (rc != 0) {
      h.op = CF__OP_INIT_FAIL;
      h.err = rc < 0 ? rc : CF_ETASK;
      w_frame(&c, &h, NULL, NULL, 0);
      w_flush(&c);
      _exit(0);
    }
  }
  w_frame(&c, &h, NULL, NULL, 0);
  w_flush(&c);
  size_t off = 0;
  for (;;) {
    struct cf__wire_hdr th;
    const void *payload, *name;
    size_t flen = 0;
    int rc = cf__wire_decode(c.ibuf + off, c.ilen - off, p->o.max_payload, &th,
                             &name, &payload, &flen);
    if (rc == 0) {
      if (th.op == CF__OP_MARKS && c.marks == NULL) {
        w_marks(&c, &th);
      } else if (th.op != CF__OP_TASK || c.marks == NULL) {
        _exit(71);
      } else if (w_begin(&c)) {
        if (c.olen > 0)
          w_flush(&c); /* SKIPPED answers must not wait for this task */
        w_run(&c, &th, name, payload);
      } else {
        w_skip(&c, &th);
      }
      off += flen;
      if (c.olen > READ_CHUNK)
        w_flush(&c);
      continue;
    }
    if (rc != CF_EAGAIN)
      _exit(71);
    /* Nothing complete is buffered: send what we have, then wait. */
    if (c.olen > 0)
      w_flush(&c);
    if (off > 0)
      memmove(c.ibuf, c.ibuf + off, c.ilen - off);
    c.ilen -= off;
    off = 0;
    size_t want = READ_CHUNK;
    if (flen > c.ilen && flen - c.ilen > want)
      want = flen - c.ilen;
    w_recv(&c, want);
  }
}

/* ------------------------------------------------------------------------ */
/* The zygote                                                                */
/* ------------------------------------------------------------------------ */

/* close_range(first, last), or where the kernel lacks it (before 5.9) a
 * close of each descriptor up to the descriptor limit. */
static void close_span(unsigned first, unsigned last) {
  if (close_range(first, last, 0) == 0 || errno != ENOSYS)
    return;
  struct rlimit rl;
  unsigned top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1u << 20
                     ? (unsigned)rl.rlim_cur
                     : 1u << 20;
  for (unsigned fd = first; fd <= last && fd < top; fd++)
    close((int)fd);
}

/* Closes every descriptor above 2 but a and b (b may be -1). */
static void close_except(int a, int b) {
  int lo = a < b ? a : b, hi = a < b ? b : a;
  if (lo < 0)
    lo = hi = a;
  if (lo > 3)
    close_span(3, (unsigned)lo - 1);
  if (hi > lo + 1)
    close_span((unsigned)lo + 1, (unsigned)hi - 1);
  close_span((unsigned)hi + 1, ~0u);
}

/*
 * Spawned zygotes and workers (CF_START_SPAWN, CF_START_FORKSERVER). The
 * program is started again with posix_spawn of /proc/self/exe, its channel
 * on descriptor 3 and the pool's configuration (a sealed memfd: the options
 * a zygote and a worker use, the initializer's name and bytes) on 4, and
 * SPAWN_ENV saying which role it takes; cf_spawn_main, called first thing
 * in main, sees the variable and takes the role. Signal dispositions are
 * reset and the mask cleared by posix_spawn itself.
 */
#define SPAWN_ENV "CF_SPAWN"
#define SPAWN_FD_CHAN 3
#define SPAWN_FD_CFG 4
#define CFG_MAGIC 0x47464321u /* "!CFG" */

struct spawn_cfg {
  uint32_t magic, size;
  int32_t start_method, nslots;
  uint64_t max_payload, shm_threshold, max_worker_rss, initargs_len;
  uint32_t init_name_len, pad;
};

static bool spawn_ready;
static _Atomic int default_method = CF_START_FORK;

int cf_set_start_method(int method) {
  if (method != CF_START_FORK && method != CF_START_SPAWN &&
      method != CF_START_FORKSERVER)
    return CF_EINVAL;
  atomic_store_explicit(&default_method, method, memory_order_relaxed);
  return 0;
}

int cf_get_start_method(void) {
  return atomic_load_explicit(&default_method, memory_order_relaxed);
}

static int write_all(int fd, const void *buf, size_t n) {
  const unsigned char *b = buf;
  while (n > 0) {
    ssize_t r = write(fd, b, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r < 0 ? neg_errno() : CF_EPIPE;
    b += r;
    n -= (size_t)r;
  }
  return 0;
}

/* The configuration a spawned zygote and its workers read: a sealed memfd. */
static int cfg_make(const struct pool *p, int *out) {
  const char *iname =
      p->o.initializer ? cf_initializer_name(p->o.initializer) : NULL;
  struct spawn_cfg c = {0};
  c.magic = CFG_MAGIC;
  c.size = sizeof c;
  c.start_method = p->o.start_method;
  c.nslots = p->nslots;
  c.max_payload = p->o.max_payload;
  c.shm_threshold = p->o.shm_threshold;
  c.max_worker_rss = p->o.max_worker_rss;
  c.initargs_len = p->o.initargs_len;
  c.init_name_len = iname ? (uint32_t)strlen(iname) : 0;
  int fd = memfd_create("cfutures-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return neg_errno();
  int rc = write_all(fd, &c, sizeof c);
  if (rc == 0 && c.init_name_len)
    rc = write_all(fd, iname, c.init_name_len);
  if (rc == 0 && c.initargs_len)
    rc = write_all(fd, p->initargs, c.initargs_len);
  if (rc == 0 &&
      fcntl(fd, F_ADD_SEALS,
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    rc = neg_errno();
  if (rc != 0) {
    close(fd);
    return rc;
  }
  *out = fd;
  return 0;
}

static int read_at(int fd, void *buf, size_t n, off_t off) {
  unsigned char *b = buf;
  while (n > 0) {
    ssize_t r = pread(fd, b, n, off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    b += r;
    n -= (size_t)r;
    off += r;
  }
  return 0;
}

/* Rebuilds, in a spawned process, what a zygote and a worker use of the
 * pool. NULL if the configuration is unreadable. */
static struct pool *cfg_load(int fd) {
  struct spawn_cfg c;
  if (read_at(fd, &c, sizeof c, 0) != 0 || c.magic != CFG_MAGIC ||
      c.size != sizeof c || c.nslots < 1 || c.nslots > 8192 ||
      c.init_name_len > CF_TASK_NAME_MAX || c.initargs_len > ((size_t)1 << 40))
    return NULL;
  struct pool *p = calloc(1, sizeof *p);
  if (p == NULL)
    return NULL;
  cf_process_pool_options_init(&p->o);
  p->o.start_method = c.start_method;
  p->o.max_payload = c.max_payload;
  p->o.shm_threshold = c.shm_threshold;
  p->o.max_worker_rss = c.max_worker_rss;
  p->o.initargs_len = c.initargs_len;
  p->nslots = c.nslots;
  p->cfg_fd = -1;
  size_t ns = (size_t)p->nslots;
  p->zpids = calloc(ns, sizeof *p->zpids);
  p->zpidfds = calloc(ns, sizeof *p->zpidfds);
  p->zpoll = calloc(ns + 1, sizeof *p->zpoll);
  p->zslot_of = calloc(ns + 1, sizeof *p->zslot_of);
  if (c.initargs_len)
    p->initargs = malloc(c.initargs_len);
  if (!p->zpids || !p->zpidfds || !p->zpoll || !p->zslot_of ||
      (c.initargs_len && !p->initargs))
    return NULL; /* the process exits */
  char name[CF_TASK_NAME_MAX + 1];
  off_t off = sizeof c;
  if (read_at(fd, name, c.init_name_len, off) != 0 ||
      read_at(fd, p->initargs, c.initargs_len, off + c.init_name_len) != 0)
    return NULL;
  name[c.init_name_len] = 0;
  if (c.init_name_len)
    p->init_err = cf_initializer_lookup(name, &p->o.initializer);
  return p;
}

extern char **environ;

/* posix_spawn of this program in a role ("CF_SPAWN=..."), chan on
 * descriptor 3 and cfg on 4 and nothing else above 2. 0 and *pid, or a
 * negative errno. */
static int spawn_self(int chan, int cfg, const char *role, pid_t *pid) {
  /* dup2 onto 3 and 4 must not be a no-op (that would keep close-on-exec):
   * move both out of the way first. */
  int hc = fcntl(chan, F_DUPFD_CLOEXEC, SPAWN_FD_CFG + 1);
  int hf = fcntl(cfg, F_DUPFD_CLOEXEC, SPAWN_FD_CFG + 1);
  size_t n = 0;
  while (environ != NULL && environ[n] != NULL)
    n++;
  char **env = malloc((n + 2) * sizeof *env);
  int rc = 0;
  if (hc < 0 || hf < 0)
    rc = errno == EINVAL ? CF_EMFILE : neg_errno(); /* above the limit */
  else if (env == NULL)
    rc = CF_ENOMEM;
  if (rc == 0) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (strncmp(environ[i], SPAWN_ENV "=", sizeof SPAWN_ENV) != 0)
        env[k++] = environ[i];
    env[k++] = (char *)role;
    env[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, hc, SPAWN_FD_CHAN);
    posix_spawn_file_actions_adddup2(&fa, hf, SPAWN_FD_CFG);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (strncmp(role, SPAWN_ENV "=w", sizeof SPAWN_ENV + 1) == 0) {
      posix_spawnattr_setpgroup(&at, 0); /* a worker leads its own group */
      flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&at, flags);
    char *argv[] = {program_invocation_name, NULL};
    int e = posix_spawn(pid, "/proc/self/exe", &fa, &at, argv, env);
    if (e != 0)
      rc = -e;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
  }
  free(env);
  if (hc >= 0)
    close(hc);
  if (hf >= 0)
    close(hf);
  return rc;
}

static void z_reap(struct pool *p, int ctl, int slot, bool report);

/* Signals a worker the zygote has not reaped yet, and its process group:
 * the processes its tasks started. Until the zygote reaps the worker (its
 * group's leader) neither its pid nor its group id can be reused, which is
 * why the pool asks the zygote rather than signal them itself. */
static void z_kill(pid_t pid, int sig) {
  kill(-pid, sig);
  kill(pid, sig);
}

/* The pool is gone (its socket reached end of file or refuses writes):
 * kill and reap every worker left, so that none is orphaned, and exit. */
static _Noreturn void z_exit(struct pool *p, int ctl) {
  for (int i = 0; i < p->nslots; i++)
    if (p->zpids[i] > 0)
      z_kill(p->zpids[i], SIGKILL);
  for (int i = 0; i < p->nslots; i++)
    if (p->zpids[i] > 0)
      z_reap(p, ctl, i, false);
  _exit(0);
}

static void z_send(struct pool *p, int ctl, const struct zmsg *zm,
                   const int *fds, int nfds) {
  struct iovec iov = {(void *)zm, sizeof *zm};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(sizeof(int) * 2)];
  } cm;
  if (nfds > 0) {
    memset(&cm, 0, sizeof cm);
    m.msg_control = cm.b;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(h), fds, sizeof(int) * (size_t)nfds);
  }
  while (sendmsg(ctl, &m, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) {
      /* Descriptors in flight are ours to close; the workers must go. */
      for (int i = 0; i < nfds; i++)
        close(fds[i]);
      z_exit(p, ctl);
    }
  }
}

static void z_spawn(struct pool *p, int ctl, int slot, pid_t zygote) {
  struct zmsg zm = {0};
  zm.slot = slot;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    zm.op = Z_SPAWN_FAILED;
    zm.err = neg_errno();
    z_send(p, ctl, &zm, NULL, 0);
    return;
  }
  int bufsz = 1 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
  /* _Fork, not fork: the zygote is single-threaded, so nothing needs the
   * atfork handlers, and the host's child handlers -- inherited when the
   * zygote was forked, and already run there once -- must not run again
   * in a worker, where they may close or reuse the worker's descriptors
   * (libuv registers one). */
  pid_t pid = -1;
  int err;
  if (p->o.start_method == CF_START_SPAWN) {
    char role[48];
    snprintf(role, sizeof role, SPAWN_ENV "=w:%ld", (long)zygote);
    err = spawn_self(sv[1], p->cfg_fd, role, &pid);
  } else {
    pid = _Fork();
    err = pid < 0 ? neg_errno() : 0;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != zygote)
      _exit(0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* SIGCHLD, blocked for zsigfd */
    setpgid(0, 0);
    close_except(sv[1], -1);
    worker_main(p, sv[1]);
  }
  close(sv[1]);
  if (pid > 0)
    setpgid(pid, pid); /* also here: a kill must not find it without one */
  if (err != 0) {
    zm.op = Z_SPAWN_FAILED;
    zm.err = err;
    close(sv[0]);
    z_send(p, ctl, &zm, NULL, 0);
    return;
  }
  int pfd = -1;
  if (!p->zno_pidfd && (pfd = pidfd_open_(pid)) < 0) {
    /* Out of descriptors: it could not be watched, so it must go. */
    zm.err = neg_errno();
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    zm.op = Z_SPAWN_FAILED;
    close(sv[0]);
    z_send(p, ctl, &zm, NULL, 0);
    return;
  }
  p->zpids[slot] = pid;
  p->zpidfds[slot] = pfd;
  zm.op = Z_SPAWNED;
  zm.pid = pid;
  z_send(p, ctl, &zm, &sv[0], 1);
  close(sv[0]);
}

static void z_reap(struct pool *p, int ctl, int slot, bool report) {
  struct rusage ru;
  int status = 0;
  pid_t r;
  /* Whatever its tasks left running in its group goes with it. */
  kill(-p->zpids[slot], SIGKILL);
  do
    r = wait4(p->zpids[slot], &status, 0, &ru);
  while (r < 0 && errno == EINTR);
  pid_t pid = p->zpids[slot];
  if (p->zpidfds[slot] >= 0)
    close(p->zpidfds[slot]);
  p->zpidfds[slot] = -1;
  p->zpids[slot] = 0; /* gone before the report, which may fail (z_exit) */
  if (report) {
    struct zmsg zm = {0};
    zm.op = Z_EXITED;
    zm.slot = slot;
    zm.pid = pid;
    zm.status = status;
    zm.maxrss_kb = r > 0 ? ru.ru_maxrss : 0;
    z_send(p, ctl, &zm, NULL, 0);
  }
}

/* The caller's handlers would run here with the caller's assumptions (a
 * spawned process has those its constructors installed before main);
 * SIGCHLD must be default for wait4 to see our children's statuses. */
static void reset_signals(void) {
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;
    if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) != 0)
      continue;
    if (sig == SIGCHLD ||
        (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)) {
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = SIG_DFL;
      sigaction(sig, &sa, NULL);
    }
  }
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
}

/*
 * How the zygote learns that a worker died. With pidfds (Linux 5.3) it
 * polls one per worker. Where pidfd_open is missing (an older kernel,
 * valgrind, a seccomp filter that refuses it: ENOSYS or EPERM) it blocks
 * SIGCHLD, polls a signalfd for it (or, without one, wakes every
 * Z_POLL_MS) and asks waitid which child exited: every child of the
 * zygote is a worker, so that touches nobody else's, and it happens only
 * here, never in the caller's process. CF_TEST_NO_PIDFD=1 in the
 * environment forces the second way, for the tests.
 */
#define Z_POLL_MS 50

static void z_reap_setup(struct pool *p) {
  p->zsigfd = -1;
  int fd = getenv("CF_TEST_NO_PIDFD") != NULL ? -1 : pidfd_open_(getpid());
  if (fd >= 0) {
    close(fd);
    p->zno_pidfd = false;
    return;
  }
  if (getenv("CF_TEST_NO_PIDFD") == NULL && errno != ENOSYS && errno != EPERM) {
    p->zno_pidfd = false; /* pidfds exist: z_spawn reports the failure */
    return;
  }
  p->zno_pidfd = true;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  p->zsigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Without pidfds: reaps every worker that has exited. waitid's WNOWAIT
 * leaves it a zombie until z_reap, so its pid cannot be reused first. */
static void z_reap_exited(struct pool *p, int ctl) {
  struct signalfd_siginfo si;
  while (p->zsigfd >= 0 && read(p->zsigfd, &si, sizeof si) > 0)
    ;
  for (;;) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
        info.si_pid == 0)
      return;
    int slot = -1;
    for (int i = 0; i < p->nslots && slot < 0; i++)
      if (p->zpids[i] == info.si_pid)
        slot = i;
    if (slot >= 0)
      z_reap(p, ctl, slot, true);
    else
      while (waitpid(info.si_pid, NULL, 0) < 0 && errno == EINTR)
        ;
  }
}

static _Noreturn void zygote_main(struct pool *p, int ctl) {
  reset_signals();
  close_except(ctl, p->cfg_fd);
  pid_t self = getpid();
  for (int i = 0; i < p->nslots; i++) {
    p->zpids[i] = 0;
    p->zpidfds[i] = -1;
  }
  z_reap_setup(p);
  for (;;) {
    int n = 0;
    p->zpoll[n].fd = ctl;
    p->zpoll[n].events = POLLIN;
    p->zslot_of[n++] = -1;
    if (p->zsigfd >= 0) {
      p->zpoll[n].fd = p->zsigfd;
      p->zpoll[n].events = POLLIN;
      p->zslot_of[n++] = -1;
    }
    for (int i = 0; i < p->nslots; i++) {
      if (p->zpidfds[i] < 0)
        continue;
      p->zpoll[n].fd = p->zpidfds[i];
      p->zpoll[n].events = POLLIN;
      p->zslot_of[n++] = i;
    }
    int wait_ms = p->zno_pidfd && p->zsigfd < 0 ? Z_POLL_MS : -1;
    if (poll(p->zpoll, (nfds_t)n, wait_ms) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p->zno_pidfd)
      z_reap_exited(p, ctl);
    for (int k = 1; k < n; k++)
      if (p->zpoll[k].revents && p->zslot_of[k] >= 0)
        z_reap(p, ctl, p->zslot_of[k], true);
    if (p->zpoll[0].revents) {
      struct zmsg zm;
      ssize_t r = recv(ctl, &zm, sizeof zm, 0);
      if (r < 0 && errno == EINTR)
        continue;
      if (r != (ssize_t)sizeof zm)
        break; /* end of file, or garbage: the pool is gone */
      bool valid = zm.slot >= 0 && zm.slot < p->nslots;
      if (zm.op == Z_SPAWN && valid && p->zpids[zm.slot] == 0)
        z_spawn(p, ctl, zm.slot, self);
      else if (zm.op == Z_KILL && valid && zm.pid > 0 &&
               p->zpids[zm.slot] == zm.pid)
        z_kill(p->zpids[zm.slot], zm.status);
    }
  }
  z_exit(p, ctl);
}

int cf_spawn_main(void) {
  const char *role = getenv(SPAWN_ENV);
  if (role == NULL) {
    spawn_ready = true;
    return 0;
  }
  char r = role[0];
  long zygote = r == 'w' && role[1] == ':' ? strtol(role + 2, NULL, 10) : 0;
  unsetenv(SPAWN_ENV); /* the task's own children are not workers */
  if (r == 'w') {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (zygote <= 0 || getppid() != (pid_t)zygote)
      _exit(0); /* the zygote is already gone */
  }
  struct pool *p = r == 'z' || r == 'w' ? cfg_load(SPAWN_FD_CFG) : NULL;
  if (p == NULL)
    _exit(70);
  if (r == 'z') {
    p->cfg_fd = SPAWN_FD_CFG;
    zygote_main(p, SPAWN_FD_CHAN);
  }
  close(SPAWN_FD_CFG);
  close_except(SPAWN_FD_CHAN, -1);
  reset_signals();
  worker_main(p, SPAWN_FD_CHAN);
}

/* ------------------------------------------------------------------------ */
/* Parent side: sending                                                      */
/* ------------------------------------------------------------------------ */

#define TAG_WAKE 1u
#define TAG_CTL 2u
#define TAG_WORKER 3u

static void wake_manager(struct pool *p) {
  uint64_t one = 1;
  ssize_t r;
  do
    r = write(p->evfd, &one, sizeof one);
  while (r < 0 && errno == EINTR);
}

static struct mark *mark_of(const struct pool *p, int slot, uint64_t seq) {
  struct mark *m =
      (struct mark *)(void *)(p->marks + (size_t)slot * p->marks_slot);
  return &m[seq % p->ring];
}

/* The oldest task on w that is not a ghost. */
static struct task *first_live(const struct worker *w) {
  struct task *t = w->fl.head;
  while (t != NULL && t->ghost)
    t = t->next;
  return t;
}

/* True if t's worker has begun it; *at is when. */
static bool begun_locked(const struct pool *p, const struct task *t,
                         uint64_t *at) {
  if (t->wslot < 0 || t->ghost)
    return false;
  struct mark *m = mark_of(p, t->wslot, t->seq);
  /* acquire: pairs with the worker's release, for begin_ns. */
  if (atomic_load_explicit(&m->word, memory_order_acquire) !=
      MARK(t->seq, M_BEGUN))
    return false;
  *at = atomic_load_explicit(&m->begin_ns, memory_order_relaxed);
  return true;
}

/* Moves t's future to RUNNING, as of when its worker began it, if it did. */
static bool note_begun_locked(const struct pool *p, struct task *t) {
  uint64_t at;
  if (!begun_locked(p, t, &at))
    return false;
  cf__future_try_start_at(t->f, at);
  return true;
}

static void preg_release_locked(struct pool *p, struct task *t);

/* Withdraws t, sent to a worker, before the worker begins it: the worker
 * skips it, and t stays in its list as a ghost until the SKIPPED answer.
 * Returns t's future (and the task's reference to it), for the caller to
 * complete as cancelled with no lock held; NULL if the worker had begun it
 * (its future is then RUNNING). */
static cf_future *withdraw_locked(struct pool *p, struct task *t) {
  if (t->wslot < 0 || t->ghost || t->in_queue)
    return NULL;
  struct mark *m = mark_of(p, t->wslot, t->seq);
  uint64_t want = MARK(t->seq, M_SENT);
  if (!atomic_compare_exchange_strong_explicit(
          &m->word, &want, MARK(t->seq, M_CANCELLED), memory_order_acquire,
          memory_order_acquire)) {
    note_begun_locked(p, t);
    return NULL;
  }
  cf_future *f = t->f;
  t->ghost = true;
  t->f = NULL;
  f->arg = NULL;
  preg_release_locked(p, t); /* the worker will not read it */
  p->cancelled++;
  return f;
}

/* Completes withdrawn futures (chained through qnext) as cancelled, with
 * no lock held. */
static void complete_withdrawn(cf_future *f) {
  while (f != NULL) {
    cf_future *next = f->qnext;
    f->qnext = NULL;
    /* A task sent again after a crash is RUNNING already. */
    if (!cf__future_cancel_pending(f))
      cf__future_complete(f, CF_CANCELLED, CF_ECANCELED, NULL, NULL);
    cf_future_release(f);
    f = next;
  }
}

/* A new worker's marks start empty: the slot's previous worker has been
 * reaped, nobody else uses them. */
static void reset_marks_locked(struct pool *p, int slot) {
  struct mark *m =
      (struct mark *)(void *)(p->marks + (size_t)slot * p->marks_slot);
  for (unsigned i = 0; i < p->ring; i++) {
    atomic_store_explicit(&m[i].word, 0, memory_order_relaxed);
    atomic_store_explicit(&m[i].begin_ns, 0, memory_order_relaxed);
  }
}

/* The first frame on a worker's socket, before its first task: where its
 * marks are. The caller reserved the room. */
static void encode_marks_locked(struct pool *p, struct worker *w) {
  struct cf__wire_hdr h = {.magic = CF__WIRE_MAGIC,
                           .version = CF__WIRE_VERSION,
                           .op = CF__OP_MARKS,
                           .flags = CF__WF_SHM | CF__WF_NEWFD};
  h.aux = (uint64_t)(w - p->ws) * p->marks_slot;
  h.region = p->marks_slot;
  cf__wire_encode(w->obuf + w->olen, &h);
  w->olen += CF__WIRE_HDR_SIZE;
  w->pend_fds[w->npend++] = p->marks_fd;
  w->marked = true;
}

static void worker_epoll_locked(struct pool *p, int slot, bool out) {
  struct worker *w = &p->ws[slot];
  if (w->eof || w->want_out == out)
    return;
  struct epoll_event ev = {0};
  ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
  ev.data.u64 = ((uint64_t)TAG_WORKER << 32) | (uint32_t)slot;
  epoll_ctl(p->ep, EPOLL_CTL_MOD, w->sock, &ev);
  w->want_out = out;
}

static void worker_flush_locked(struct pool *p, int slot) {
  struct worker *w = &p->ws[slot];
  while (w->ooff < w->olen && !w->send_dead) {
    struct iovec iov = {w->obuf + w->ooff, w->olen - w->ooff};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    union {
      struct cmsghdr h;
      char b[CMSG_SPACE(sizeof(int) * MAX_PEND_FDS)];
    } cm;
    if (w->npend > 0) {
      memset(&cm, 0, sizeof cm);
      m.msg_control = cm.b;
      m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)w->npend);
      struct cmsghdr *h = CMSG_FIRSTHDR(&m);
      h->cmsg_level = SOL_SOCKET;
      h->cmsg_type = SCM_RIGHTS;
      h->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)w->npend);
      memcpy(CMSG_DATA(h), w->pend_fds, sizeof(int) * (size_t)w->npend);
    }
    ssize_t r = sendmsg(w->sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        worker_epoll_locked(p, slot, true);
        return;
      }
      /* EPIPE, ECONNRESET: it died; its EXITED report settles its tasks. */
      w->send_dead = true;
      break;
    }
    w->npend = 0;
    w->ooff += (size_t)r;
  }
  w->ooff = w->olen = 0;
  w->unsent = 0;
  worker_epoll_locked(p, slot, false);
}

/* Appends t's TASK frame to w's output. */
/* Appends t's TASK frame to w's output, after the MARKS frame if it is
 * w's first. Nothing changes if memory runs out. */
static int encode_task_locked(struct pool *p, struct worker *w,
                              struct task *t) {
  struct cf__wire_hdr h = {
      .magic = CF__WIRE_MAGIC, .version = CF__WIRE_VERSION, .op = CF__OP_TASK};
  h.id = t->id;
  h.len = t->len;
  h.aux = (uint64_t)(uintptr_t)t->fn;
  size_t nlen = t->name != NULL ? strlen(t->name) : 0;
  h.msg_len = (uint32_t)nlen;
  size_t plen = t->len;
  int slot = t->preg;
  uint16_t bit = slot >= 0 ? (uint16_t)(1u << slot) : 0;
  int marks = w->marked ? 0 : 1;
  bool newfd =
      slot >= 0 && !(w->known & bit) && w->npend + marks < MAX_PEND_FDS;
  if (slot >= 0 && ((w->known & bit) || newfd)) {
    h.flags |= CF__WF_SHM | (uint16_t)(slot << CF__WF_SLOT_SHIFT);
    h.flags |= newfd ? CF__WF_NEWFD : 0;
    h.region = p->preg[slot].size;
    plen = 0;
  }
  int rc = buf_reserve(&w->obuf, &w->ocap,
                       w->olen + (size_t)(1 + marks) * CF__WIRE_HDR_SIZE +
                           nlen + plen);
  if (rc != 0)
    return rc;
  if (marks)
    encode_marks_locked(p, w);
  if (newfd) {
    w->pend_fds[w->npend++] = p->preg[slot].fd;
    w->known |= bit;
  }
  cf__wire_encode(w->obuf + w->olen, &h);
  w->olen += CF__WIRE_HDR_SIZE;
  if (nlen) {
    memcpy(w->obuf + w->olen, t->name, nlen);
    w->olen += nlen;
  }
  if (plen) {
    memcpy(w->obuf + w->olen, t->payload, plen);
    w->olen += plen;
  }
  return 0;
}

static bool worker_takes(const struct pool *p, const struct worker *w) {
  return w->st == W_READY && !w->retiring && !w->send_dead &&
         w->fl.n < p->o.pipeline_depth;
}

#define NOMEM_RETRY_MS 10
#define NOMEM_GIVE_UP_NS 1000000000ull

/* Sends queued tasks to workers with room. Returns true if a task with a
 * deadline became the oldest on a worker, or memory ran out (the manager
 * must recompute its wake-up time). */
static bool dispatch_locked(struct pool *p) {
  bool deadline = false;
  uint64_t touched = 0; /* slots 0..63 touched; others flushed at once */
  while (p->queue.n > 0 && !p->broken) {
    int best = -1;
    for (int i = 0; i < p->nslots; i++) {
      struct worker *w = &p->ws[i];
      if (worker_takes(p, w) && (best < 0 || w->fl.n < p->ws[best].fl.n))
        best = i;
    }
    if (best < 0)
      break;
    struct worker *w = &p->ws[best];
    struct task *t = p->queue.head;
    if (encode_task_locked(p, w, t) != 0) {
      /* Out of memory: the manager tries again shortly. */
      p->nomem_retry = true;
      deadline = true;
      break;
    }
    p->nomem_since = 0;
    tl_remove(&p->queue, t);
    t->in_queue = false;
    t->wslot = best;
    t->seq = ++w->seq;
    /* Written before the frame leaves, which the worker reads before it
     * looks at the mark. */
    atomic_store_explicit(&mark_of(p, best, t->seq)->word, MARK(t->seq, M_SENT),
                          memory_order_release);
    if (first_live(w) == NULL) {
      w->head_start = cf_now_ns();
      if (t->timeout_ns || t->cancel_req)
        deadline = true;
    }
    tl_push_back(&w->fl, t);
    w->sent++;
    w->unsent++;
    if (p->o.max_tasks_per_child && w->sent >= p->o.max_tasks_per_child)
      w->retiring = true;
    if (best < 64)
      touched |= (uint64_t)1 << best;
    else
      worker_flush_locked(p, best);
  }
  /* A worker with work already in hand can wait for its frames: the
   * manager writes them when that work's results wake it, one system call
   * for many tasks instead of one per submit. One about to run dry gets
   * them now. */
  for (int i = 0; i < 64 && touched; i++)
    if (touched & ((uint64_t)1 << i)) {
      touched &= ~((uint64_t)1 << i);
      struct worker *w = &p->ws[i];
      if (w->fl.n - w->unsent < 2 || w->olen - w->ooff > READ_CHUNK)
        worker_flush_locked(p, i);
    }
  return deadline;
}

static void flush_all_locked(struct pool *p) {
  for (int i = 0; i < p->nslots; i++) {
    struct worker *w = &p->ws[i];
    if (w->st == W_READY && w->ooff < w->olen && !w->want_out)
      worker_flush_locked(p, i);
  }
}

/* ------------------------------------------------------------------------ */
/* Parent side: outcomes                                                     */
/* ------------------------------------------------------------------------ */

/* A pool region for a payload of len bytes, now owned by the caller: a
 * free one big enough, else a free one grown, else a new one; -1 if all
 * are taken (the payload then travels through the socket). */
static int preg_take_locked(struct pool *p, size_t len) {
  int best = -1;
  for (int i = 0; i < CF__WIRE_TASK_SLOTS; i++) {
    if (p->preg_used[i])
      continue;
    if (p->preg[i].map != NULL && p->preg[i].size >= SHM_HDR + len) {
      best = i;
      break;
    }
    if (best < 0 || p->preg[i].map != NULL)
      best = i;
  }
  bool newfd;
  if (best < 0 || region_ensure(&p->preg[best], SHM_HDR + len, &newfd) != 0)
    return -1;
  p->preg_used[best] = true;
  return best;
}

static void preg_release_locked(struct pool *p, struct task *t) {
  int i = t->preg;
  if (i < 0)
    return;
  t->preg = -1;
  p->preg_used[i] = false;
  if (p->preg[i].size > SHM_KEEP_MAX) {
    /* Too big to keep: the workers drop their mappings after one use and
     * will need the next region's descriptor. */
    region_drop(&p->preg[i]);
    for (int k = 0; k < p->nslots; k++)
      p->ws[k].known &= (uint16_t) ~(1u << i);
  }
}

static void set_outcome(struct pool *p, struct task *t, int state, int err,
                        void *value, char *msg, struct tlist *done) {
  preg_release_locked(p, t);
  t->out_state = state;
  t->out_err = err;
  t->out_value = value;
  t->out_msg = msg;
  if (state == CF_CANCELLED)
    p->cancelled++;
  else if (err == 0)
    p->completed++;
  else
    p->failed++;
  tl_push_back(done, t);
}

static void fail_task(struct pool *p, struct task *t, int err, const char *msg,
                      struct tlist *done) {
  set_outcome(p, t, err == CF_ECANCELED ? CF_CANCELLED : CF_FINISHED, err, NULL,
              msg ? cf__strdup(msg) : NULL, done);
}

static void break_pool_locked(struct pool *p, const char *why) {
  if (p->broken)
    return;
  p->broken = true;
  snprintf(p->broken_msg, sizeof p->broken_msg, "%s", why);
}

/* Asks the zygote to send sig to the worker. Without room on the control
 * socket the request waits in sig_pending and the manager sends it later
 * (signals_retry_locked); SIGKILL outranks anything pending. */
static void signal_locked(struct pool *p, struct worker *w, int sig) {
  if (w->sig_pending != SIGKILL)
    w->sig_pending = sig;
  if (p->zygote_dead || p->ctl < 0) {
    w->sig_pending = 0;
    return;
  }
  struct zmsg zm = {0};
  zm.op = Z_KILL;
  zm.slot = (int32_t)(w - p->ws);
  zm.pid = w->pid;
  zm.status = w->sig_pending;
  ssize_t r;
  do
    r = send(p->ctl, &zm, sizeof zm, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno == EAGAIN) {
    p->sig_retry = true;
    return;
  }
  w->sig_pending = 0; /* sent, or the zygote is gone and so is the worker */
}

static void signals_retry_locked(struct pool *p) {
  if (!p->sig_retry)
    return;
  p->sig_retry = false;
  for (int i = 0; i < p->nslots; i++)
    if (p->ws[i].st == W_READY && p->ws[i].sig_pending != 0)
      signal_locked(p, &p->ws[i], p->ws[i].sig_pending);
}

static void kill_worker_locked(struct pool *p, struct worker *w, int reason,
                               int sig) {
  if (w->kill_reason == K_NONE) {
    struct task *t = first_live(w);
    w->kill_reason = reason;
    w->kill_id = t != NULL ? t->id : 0;
  }
  w->retiring = true;
  signal_locked(p, w, sig);
}

/* A task that was sent but will not run on this worker goes back to the
 * front of the queue, or ends if the pool will not run it. */
static void requeue_locked(struct pool *p, struct task *t, struct tlist *done) {
  t->wslot = -1;
  if (p->broken)
    fail_task(p, t, CF_EBROKEN, p->broken_msg, done);
  else if (p->terminating || t->cancel_req)
    fail_task(p, t, CF_ECANCELED, NULL, done);
  else {
    tl_push_front(&p->queue, t);
    t->in_queue = true;
  }
}

static void requeue_rest_locked(struct pool *p, struct worker *w,
                                struct tlist *done) {
  while (w->fl.tail != NULL) {
    struct task *t = w->fl.tail;
    tl_remove(&w->fl, t);
    if (t->ghost)
      free(t); /* its future is cancelled already */
    else
      requeue_locked(p, t, done);
  }
}

static int handle_result_locked(struct pool *p, struct worker *w,
                                const struct cf__wire_hdr *h, const void *msg,
                                const void *payload, struct tlist *done) {
  struct task *t = w->fl.head;
  if (t == NULL || t->id != h->id ||
      t->ghost != ((h->flags & CF__WF_SKIPPED) != 0))
    return CF_EPROTO;
  if (t->ghost) {
    tl_remove(&w->fl, t);
    free(t); /* nobody else can reach it (withdraw_locked) */
    return 0;
  }
  const unsigned char *src = payload;
  struct region *reg =
      &w->out_reg[(h->flags & CF__WF_SLOT_MASK) >> CF__WF_SLOT_SHIFT];
  int fd = -1;
  if (h->flags & CF__WF_SHM) {
    if (h->flags & CF__WF_NEWFD) {
      if (w->nrfds == 0)
        return CF_EPROTO;
      fd = w->rfds[0];
      memmove(w->rfds, w->rfds + 1, (size_t)--w->nrfds * sizeof(int));
    }
    if (region_attach(reg, fd, h->region) != 0)
      return CF_EPROTO;
    src = reg->map + SHM_HDR;
  }
  char *m = NULL;
  if (h->msg_len) {
    m = malloc(h->msg_len + 1);
    if (m) {
      memcpy(m, msg, h->msg_len);
      m[h->msg_len] = 0;
    }
  }
  struct cf__bytes_result *res = NULL;
  int err = h->err;
  if (err == 0 && (res = cf__bytes_result_new(src, h->len)) == NULL)
    err = CF_ENOMEM;
  if (h->flags & CF__WF_SHM) {
    atomic_store_explicit(region_busy(reg), 0, memory_order_release);
    if (reg->size > SHM_KEEP_MAX)
      region_drop(reg);
  }
  note_begun_locked(p, t);
  tl_remove(&w->fl, t);
  t->wslot = -1;
  set_outcome(p, t, CF_FINISHED, err, res, m, done);
  w->head_start = cf_now_ns();
  if (h->flags & CF__WF_RETIRE) {
    /* It exits after this result: what it had not started goes back. */
    w->retiring = true;
    requeue_rest_locked(p, w, done);
  }
  return 0;
}

static int handle_frames_locked(struct pool *p, int slot, struct tlist *done,
                                size_t *need) {
  struct worker *w = &p->ws[slot];
  size_t off = 0;
  int rc = 0;
  *need = 0;
  for (;;) {
    struct cf__wire_hdr h;
    const void *msg, *payload;
    size_t flen = 0;
    rc = cf__wire_decode(w->ibuf + off, w->ilen - off, p->o.max_payload, &h,
                         &msg, &payload, &flen);
    if (rc == CF_EAGAIN) {
      *need = flen > w->ilen - off ? flen - (w->ilen - off) : 0;
      rc = 0;
      break;
    }
    if (rc != 0)
      break;
    off += flen;
    if (h.op == CF__OP_READY) {
      w->ready_seen = true;
      p->early_deaths = 0;
    } else if (h.op == CF__OP_INIT_FAIL) {
      char why[200];
      snprintf(why, sizeof why, "the initializer failed in worker %d: %s",
               (int)w->pid, cf_err_name(h.err));
      break_pool_locked(p, why);
    } else if (h.op == CF__OP_RESULT) {
      rc = handle_result_locked(p, w, &h, msg, payload, done);
      if (rc != 0)
        break;
    } else {
      rc = CF_EPROTO;
      break;
    }
  }
  if (off > 0)
    memmove(w->ibuf, w->ibuf + off, w->ilen - off);
  w->ilen -= off;
  return rc;
}

/* Reads what the worker sent (until EAGAIN or end of file). */
static void worker_read_locked(struct pool *p, int slot, struct tlist *done) {
  struct worker *w = &p->ws[slot];
  size_t need = 0;
  while (!w->eof) {
    size_t want = need > READ_CHUNK ? need : READ_CHUNK;
    if (buf_reserve(&w->ibuf, &w->icap, w->ilen + want) != 0) {
      /* No room to take its reply: its task fails for lack of memory. */
      kill_worker_locked(p, w, K_NOMEM, SIGKILL);
      return;
    }
    struct iovec iov = {w->ibuf + w->ilen, w->icap - w->ilen};
    union {
      struct cmsghdr h;
      char b[CMSG_SPACE(sizeof(int) * MAX_RX_FDS)];
    } cm;
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cm.b;
    m.msg_controllen = sizeof cm.b;
    ssize_t r = recvmsg(w->sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && errno == EAGAIN)
      return;
    if (r <= 0) {
      w->eof = true;
      epoll_ctl(p->ep, EPOLL_CTL_DEL, w->sock, NULL);
      return;
    }
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
      if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
        continue;
      size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
        if (w->nrfds < MAX_RX_FDS)
          w->rfds[w->nrfds++] = fd;
        else
          close(fd);
      }
    }
    w->ilen += (size_t)r;
    if ((m.msg_flags & MSG_CTRUNC) ||
        handle_frames_locked(p, slot, done, &need) != 0) {
      kill_worker_locked(p, w, K_PROTO, SIGKILL);
      w->eof = true;
      epoll_ctl(p->ep, EPOLL_CTL_DEL, w->sock, NULL);
      return;
    }
  }
}

static void worker_release_locked(struct pool *p, struct worker *w) {
  if (w->sock >= 0 && !w->eof)
    epoll_ctl(p->ep, EPOLL_CTL_DEL, w->sock, NULL);
  close_fd(&w->sock);
  for (int i = 0; i < w->nrfds; i++)
    close(w->rfds[i]);
  regions_drop(w->out_reg, CF__WIRE_SLOTS);
  free(w->obuf);
  free(w->ibuf);
  uint32_t gen = w->gen + 1;
  memset(w, 0, sizeof *w);
  w->gen = gen;
  w->st = W_FREE;
  w->sock = -1;
  regions_reset(w->out_reg, CF__WIRE_SLOTS);
}

/* The zygote reported that the worker in slot died. */
static void worker_exited_locked(struct pool *p, int slot, int status,
                                 long maxrss, bool known, struct tlist *done) {
  struct worker *w = &p->ws[slot];
  worker_read_locked(p, slot, done);
  char why[320];
  if (known)
    describe_exit(why, sizeof why, w->pid, status, maxrss);
  else
    snprintf(why, sizeof why, "worker process %d was lost with the zygote",
             (int)w->pid);
  bool clean = known && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (p->o.initializer != NULL && !w->ready_seen && !clean &&
      w->kill_reason == K_NONE) {
    char b[400];
    snprintf(b, sizeof b, "the initializer crashed: %s", why);
    break_pool_locked(p, b);
  } else if (!w->ready_seen && !clean && w->kill_reason == K_NONE &&
             !p->broken && ++p->early_deaths >= 5) {
    /* Workers that die before they can take a task (out of memory, say)
     * would be replaced forever while the queue waits: give up. */
    char b[400];
    snprintf(b, sizeof b, "workers keep dying before they are ready: %s", why);
    break_pool_locked(p, b);
  }
  /* The results it wrote have been read: the oldest task it began is the
   * one it was running (a later one began only if its answer could not be
   * read: K_PROTO, K_NOMEM). Those it never began go back. */
  struct task *t = NULL;
  for (struct task *u = w->fl.head; u != NULL; u = u->next)
    if (note_begun_locked(p, u) && t == NULL)
      t = u;
  /* Deaths before it began that are not the pool's choice (the worker's
   * own, or ours for a reply we could not take) count against the task it
   * was about to begin: it is probably what kills them. */
  bool lost = false;
  struct task *next = first_live(w);
  if (t == NULL && next != NULL && !p->broken &&
      (w->kill_reason == K_NONE || w->kill_reason == K_PROTO ||
       w->kill_reason == K_NOMEM) &&
      ++next->lost >= LOST_MAX) {
    t = next;
    lost = w->kill_reason == K_NONE; /* else told by the reason, below */
  }
  if (t != NULL) {
    char m[480];
    bool aimed = w->kill_reason == K_TIMEOUT || w->kill_reason == K_CANCEL;
    tl_remove(&w->fl, t);
    t->wslot = -1;
    if (p->broken) {
      fail_task(p, t, CF_EBROKEN, p->broken_msg, done);
    } else if (lost) {
      snprintf(m, sizeof m,
               "its workers died %d times before they could begin it; %s",
               LOST_MAX, why);
      fail_task(p, t, CF_EWORKER, m, done);
    } else if (aimed && t->id != w->kill_id) {
      /* The task the kill was aimed at finished just before it landed:
       * this one had barely started, through no fault of its own. */
      requeue_locked(p, t, done);
    } else if (w->kill_reason == K_TIMEOUT) {
      snprintf(m, sizeof m, "task timed out after %.3f s; %s",
               (double)t->timeout_ns / 1e9, why);
      fail_task(p, t, CF_ETIMEDOUT, m, done);
    } else if (w->kill_reason == K_CANCEL) {
      fail_task(p, t, CF_ECANCELED, NULL, done);
    } else if (w->kill_reason == K_PROTO) {
      snprintf(m, sizeof m, "protocol error from the worker; %s", why);
      fail_task(p, t, CF_EPROTO, m, done);
    } else if (w->kill_reason == K_NOMEM) {
      snprintf(m, sizeof m, "out of memory reading the worker's reply; %s",
               why);
      fail_task(p, t, CF_ENOMEM, m, done);
    } else if (w->kill_reason == K_TERM) {
      snprintf(m, sizeof m, "the pool was terminated; %s", why);
      fail_task(p, t, CF_EWORKER, m, done);
    } else if (++t->crashes <= p->o.crash_retries) {
      requeue_locked(p, t, done);
    } else {
      fail_task(p, t, CF_EWORKER, why, done);
    }
  }
  requeue_rest_locked(p, w, done);
  worker_release_locked(p, w);
}

static void ctl_read_locked(struct pool *p, struct tlist *done) {
  for (;;) {
    struct zmsg zm;
    struct iovec iov = {&zm, sizeof zm};
    union {
      struct cmsghdr h;
      char b[CMSG_SPACE(sizeof(int) * 2)];
    } cm;
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cm.b;
    m.msg_controllen = sizeof cm.b;
    ssize_t r = recvmsg(p->ctl, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && errno == EAGAIN)
      return;
    int fds[2] = {-1, -1};
    int nfds = 0; /* Z_SPAWNED brings the worker's socket */
    for (struct cmsghdr *h = r > 0 ? CMSG_FIRSTHDR(&m) : NULL; h;
         h = CMSG_NXTHDR(&m, h)) {
      if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
        continue;
      size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
        if (nfds < 2)
          fds[nfds++] = fd;
        else
          close(fd);
      }
    }
    if (r != (ssize_t)sizeof zm || zm.slot < 0 || zm.slot >= p->nslots) {
      for (int i = 0; i < nfds; i++)
        close(fds[i]);
      if (r > 0)
        continue;
      /* The zygote is gone: so are its workers (PR_SET_PDEATHSIG). */
      p->zygote_dead = true;
      epoll_ctl(p->ep, EPOLL_CTL_DEL, p->ctl, NULL);
      break_pool_locked(p, "the pool's zygote process died");
      for (int i = 0; i < p->nslots; i++) {
        if (p->ws[i].st == W_READY)
          worker_exited_locked(p, i, 0, 0, false, done);
        else if (p->ws[i].st == W_SPAWNING)
          worker_release_locked(p, &p->ws[i]);
      }
      return;
    }
    struct worker *w = &p->ws[zm.slot];
    if (zm.op == Z_SPAWNED && nfds == 1 && w->st == W_SPAWNING) {
      nfds = 0; /* the worker owns it now */
      w->st = W_READY;
      w->pid = zm.pid;
      w->sock = fds[0];
      fcntl(w->sock, F_SETFL, fcntl(w->sock, F_GETFL) | O_NONBLOCK);
      struct epoll_event ev = {0};
      ev.events = EPOLLIN;
      ev.data.u64 = ((uint64_t)TAG_WORKER << 32) | (uint32_t)zm.slot;
      if (epoll_ctl(p->ep, EPOLL_CTL_ADD, w->sock, &ev) != 0)
        kill_worker_locked(p, w, K_PROTO, SIGKILL);
      reset_marks_locked(p, zm.slot);
      if (p->terminating)
        kill_worker_locked(p, w, K_TERM, p->terminating);
      p->spawn_failures = 0;
    } else if (zm.op == Z_SPAWNED && w->st == W_SPAWNING) {
      /* Its descriptors did not reach us (out of descriptors: MSG_CTRUNC).
       * It sees end of file and exits; the slot is free once the zygote
       * has reaped it (it would refuse the slot before). */
      w->pid = zm.pid;
      w->abandoned = true;
    } else if ((zm.op == Z_SPAWN_FAILED ||
                (zm.op == Z_EXITED && w->abandoned && w->pid == zm.pid)) &&
               w->st == W_SPAWNING) {
      worker_release_locked(p, w);
      bool any = false;
      for (int i = 0; i < p->nslots; i++)
        any |= p->ws[i].st != W_FREE;
      /* Asking again at once would fork in a loop: a few tries, then the
       * pool is broken. */
      if (!any || ++p->spawn_failures >= 3) {
        char why[160];
        snprintf(why, sizeof why, "no worker could be started: %s",
                 cf_strerror(zm.op == Z_SPAWNED ? CF_EMFILE : zm.err));
        break_pool_locked(p, why);
      }
    } else if (zm.op == Z_EXITED && w->st == W_READY && w->pid == zm.pid) {
      worker_exited_locked(p, zm.slot, zm.status, (long)zm.maxrss_kb, true,
                           done);
    }
    for (int i = 0; i < nfds; i++)
      close(fds[i]);
  }
}

static void spawn_locked(struct pool *p, int slot) {
  struct zmsg zm = {0};
  zm.op = Z_SPAWN;
  zm.slot = slot;
  ssize_t r;
  do
    r = send(p->ctl, &zm, sizeof zm, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  if (r == (ssize_t)sizeof zm) {
    uint32_t gen = p->ws[slot].gen;
    memset(&p->ws[slot], 0, sizeof p->ws[slot]);
    p->ws[slot].gen = gen;
    p->ws[slot].st = W_SPAWNING;
    p->ws[slot].sock = -1;
    regions_reset(p->ws[slot].out_reg, CF__WIRE_SLOTS);
  }
}

/* The manager's bookkeeping after every batch of events. Returns true once
 * the pool has finished (shut down, drained, every worker reaped). */
static bool maintain_locked(struct pool *p, struct tlist *done) {
  if (p->broken) {
    while (p->queue.n > 0) {
      struct task *t = tl_pop(&p->queue);
      t->in_queue = false;
      fail_task(p, t, CF_EBROKEN, p->broken_msg, done);
    }
    for (int i = 0; i < p->nslots; i++) {
      struct worker *w = &p->ws[i];
      if (w->st == W_READY && w->fl.n > 0 && w->kill_reason == K_NONE)
        kill_worker_locked(p, w, K_BROKEN, SIGKILL);
    }
  }
  int active = 0, alive = 0, free_slot = -1;
  for (int i = 0; i < p->nslots; i++) {
    struct worker *w = &p->ws[i];
    if (w->st == W_FREE) {
      if (free_slot < 0)
        free_slot = i;
      continue;
    }
    alive++;
    if (w->st == W_SPAWNING || !w->retiring)
      active++;
  }
  if (!p->broken && !p->zygote_dead && (!p->shutdown || p->queue.n > 0)) {
    while (active < p->o.max_workers && free_slot >= 0) {
      spawn_locked(p, free_slot);
      if (p->ws[free_slot].st != W_SPAWNING)
        break;
      active++;
      alive++;
      free_slot = -1;
      for (int i = 0; i < p->nslots && free_slot < 0; i++)
        if (p->ws[i].st == W_FREE)
          free_slot = i;
    }
  }
  signals_retry_locked(p);
  p->nomem_retry = false;
  dispatch_locked(p);
  if (p->nomem_retry && p->queue.n > 0) {
    /* Memory that stays short must not strand the queue: after a while
     * the task that cannot be framed fails, and the next one tries. */
    uint64_t now = cf_now_ns();
    if (p->nomem_since == 0) {
      p->nomem_since = now;
    } else if (now - p->nomem_since >= NOMEM_GIVE_UP_NS) {
      struct task *t = tl_pop(&p->queue);
      t->in_queue = false;
      fail_task(p, t, CF_ENOMEM, "out of memory framing the task", done);
      p->nomem_since = now;
    }
  }
  flush_all_locked(p);
  /* Idle workers that will get no more work are told to exit. */
  for (int i = 0; i < p->nslots; i++) {
    struct worker *w = &p->ws[i];
    if (w->st != W_READY || w->closed_wr || w->fl.n > 0 || w->olen > 0)
      continue;
    if (w->retiring || p->broken || (p->shutdown && p->queue.n == 0)) {
      w->retiring = true;
      w->closed_wr = true;
      w->closed_at = cf_now_ns();
      shutdown(w->sock, SHUT_WR);
    }
  }
  return p->shutdown && p->queue.n == 0 && alive == 0;
}

/* Kills workers whose oldest task ran past its deadline or was asked to
 * stop; returns the milliseconds until the next deadline, or -1. */
static int deadlines_locked(struct pool *p) {
  uint64_t now = cf_now_ns(), next = UINT64_MAX;
  if (p->terminating == SIGTERM) {
    /* Past the grace, what is left is killed: no task can hold up
     * terminate by blocking or ignoring SIGTERM. */
    if (now >= p->term_kill_at) {
      p->terminating = SIGKILL;
      for (int i = 0; i < p->nslots; i++)
        if (p->ws[i].st == W_READY)
          kill_worker_locked(p, &p->ws[i], K_TERM, SIGKILL);
    } else {
      next = p->term_kill_at;
    }
  }
  for (int i = 0; i < p->nslots; i++) {
    struct worker *w = &p->ws[i];
    struct task *t = first_live(w);
    if (w->st == W_READY && w->closed_wr && t == NULL &&
        w->kill_reason == K_NONE) {
      /* Told to exit and still there (an initializer that does not
       * return, say): it goes after the grace. */
      uint64_t dl = w->closed_at + p->grace_ns;
      if (dl <= now)
        kill_worker_locked(p, w, K_TERM, SIGKILL);
      else if (dl < next)
        next = dl;
      continue;
    }
    if (w->st != W_READY || t == NULL || w->kill_reason != K_NONE)
      continue;
    uint64_t at = 0;
    bool begun = begun_locked(p, t, &at);
    if (t->cancel_req && begun) {
      kill_worker_locked(p, w, K_CANCEL, SIGKILL);
      continue;
    }
    if (t->timeout_ns == 0)
      continue;
    /* Its time counts from when it began; one about to begin is looked
     * at again shortly. */
    uint64_t dl = (begun ? at : w->head_start) + t->timeout_ns;
    if (dl <= now && begun)
      kill_worker_locked(p, w, K_TIMEOUT, SIGKILL);
    else if (dl <= now)
      next = next < now + 1000000 ? next : now + 1000000;
    else if (dl < next)
      next = dl;
  }
  if (next == UINT64_MAX)
    return -1;
  uint64_t ms = (next - now + 999999) / 1000000;
  return ms > 60000 ? 60000 : (int)ms;
}

static void free_tasks(struct tlist *l) {
  struct task *t;
  while ((t = tl_pop(l)) != NULL)
    free(t);
}

/* Completes the collected futures with no lock held. */
static void complete_all(struct tlist *done) {
  for (struct task *t = done->head; t; t = t->next) {
    cf_future *f = t->f;
    if (t->out_state == CF_CANCELLED && cf__state(f) == CF_PENDING &&
        cf__future_cancel_pending(f)) {
      free(t->out_msg);
    } else if (cf__future_complete(f, t->out_state, t->out_err, t->out_value,
                                   t->out_msg) != 0) {
      free(t->out_value);
    }
    cf_future_release(f);
  }
}

static void *manager_main(void *arg) {
  struct pool *p = arg;
  cf__tls_executor = &p->base;
  struct tlist graveyard = {0};
  int timeout_ms = -1;
  for (;;) {
    struct epoll_event evs[64];
    int n = epoll_wait(p->ep, evs, 64, timeout_ms);
    if (n < 0)
      n = 0; /* EINTR */
    struct tlist done = {0};
    pthread_mutex_lock(&p->mu);
    free_tasks(&graveyard);
    for (int i = 0; i < n; i++) {
      uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
      int slot = (int)(uint32_t)evs[i].data.u64;
      if (tag == TAG_WAKE) {
        uint64_t v;
        while (read(p->evfd, &v, sizeof v) < 0 && errno == EINTR)
          ;
      } else if (tag == TAG_CTL) {
        ctl_read_locked(p, &done);
      } else if (tag == TAG_WORKER && p->ws[slot].st == W_READY) {
        if (evs[i].events & EPOLLOUT)
          worker_flush_locked(p, slot);
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
          worker_read_locked(p, slot, &done);
      }
    }
    bool finished = maintain_locked(p, &done);
    timeout_ms = deadlines_locked(p);
    if ((p->nomem_retry || p->sig_retry) &&
        (timeout_ms < 0 || timeout_ms > NOMEM_RETRY_MS))
      timeout_ms = NOMEM_RETRY_MS;
    pthread_mutex_unlock(&p->mu);
    complete_all(&done);
    graveyard = done;
    if (finished)
      break;
  }
  pthread_mutex_lock(&p->mu);
  free_tasks(&graveyard);
  pthread_mutex_unlock(&p->mu);
  /* End of file on the control socket makes the zygote exit. shutdown,
   * not just close: a child the program forked since holds a copy of our
   * end, and closing ours alone would not end the stream. */
  pthread_mutex_lock(&p->mu);
  shutdown(p->ctl, SHUT_RDWR);
  close_fd(&p->ctl);
  pthread_mutex_unlock(&p->mu);
  int st;
  while (waitpid(p->zpid, &st, 0) < 0 && errno == EINTR)
    ;
  pthread_mutex_lock(&p->mu);
  p->mgr_done = true;
  pthread_cond_broadcast(&p->done_cv);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* The executor interface                                                    */
/* ------------------------------------------------------------------------ */

void cf_process_pool_options_init(cf_process_pool_options *o) {
  if (o == NULL)
    return;
  memset(o, 0, sizeof *o);
  o->max_workers = cf_cpu_count();
  o->task_timeout = -1;
  o->max_payload = (size_t)1 << 30;
  o->shm_threshold = (size_t)64 << 10;
  o->pipeline_depth = 64;
  o->start_method = cf_get_start_method();
}

/* The begin marks of every slot, in one memfd the workers map (sealed
 * against resizing: a worker cannot make our mapping fault). */
static int marks_create(struct pool *p) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  size_t need = (size_t)p->o.pipeline_depth * sizeof(struct mark);
  p->marks_slot = (need + pg - 1) / pg * pg;
  p->ring = (unsigned)(p->marks_slot / sizeof(struct mark));
  p->marks_size = p->marks_slot * (size_t)p->nslots;
  p->marks_fd = memfd_create("cfutures-marks", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (p->marks_fd < 0)
    return neg_errno();
  fchmod(p->marks_fd, 0600);
  void *m = MAP_FAILED;
  if (ftruncate(p->marks_fd, (off_t)p->marks_size) != 0 ||
      fcntl(p->marks_fd, F_ADD_SEALS,
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
      (m = mmap(NULL, p->marks_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                p->marks_fd, 0)) == MAP_FAILED)
    return neg_errno();
  p->marks = m;
  return 0;
}

static void pool_free_mem(struct pool *p) {
  regions_drop(p->preg, CF__WIRE_TASK_SLOTS);
  if (p->marks != NULL)
    munmap(p->marks, p->marks_size);
  close_fd(&p->marks_fd);
  free(p->ws);
  free(p->zpids);
  free(p->zpidfds);
  free(p->zpoll);
  free(p->zslot_of);
  free(p->initargs);
  close_fd(&p->ep);
  close_fd(&p->evfd);
  close_fd(&p->ctl);
  pthread_cond_destroy(&p->done_cv);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

int cf_process_pool_new(const cf_process_pool_options *opts,
                        cf_executor **out) {
  cf_process_pool_options o;
  if (opts == NULL)
    cf_process_pool_options_init(&o);
  else
    o = *opts;
  if (out == NULL || o.max_workers < 1 || o.max_workers > 4096 ||
      o.task_timeout != o.task_timeout || o.task_timeout == 0 ||
      o.max_payload > ((size_t)1 << 40) || o.pipeline_depth < 1 ||
      !(o.kill_grace >= 0) || (o.initargs == NULL && o.initargs_len > 0) ||
      (o.start_method != CF_START_FORK && o.start_method != CF_START_SPAWN &&
       o.start_method != CF_START_FORKSERVER))
    return CF_EINVAL;
  /* A spawned copy of a program that does not call cf_spawn_main would run
   * its main() again; a worker could not find an unnamed initializer. */
  bool spawned = o.start_method != CF_START_FORK;
  if (spawned && (!spawn_ready || (o.initializer != NULL &&
                                   cf_initializer_name(o.initializer) == NULL)))
    return CF_EINVAL;
  struct pool *p = calloc(1, sizeof *p);
  if (p == NULL)
    return CF_ENOMEM;
  p->base.vt = &pool_vt;
  p->o = o;
  p->grace_ns = o.kill_grace <= 0    ? 1000000000u
                : o.kill_grace > 1e6 ? (uint64_t)1e15 /* 11 days: forever */
                                     : (uint64_t)(o.kill_grace * 1e9);
  p->ep = p->evfd = p->ctl = p->cfg_fd = p->marks_fd = -1;
  if (p->o.pipeline_depth > DEPTH_MAX)
    p->o.pipeline_depth = DEPTH_MAX;
  regions_reset(p->preg, CF__WIRE_TASK_SLOTS);
  pthread_mutex_init(&p->mu, NULL);
  cf__cond_init(&p->done_cv);
  p->nslots = 2 * o.max_workers;
  size_t ns = (size_t)p->nslots;
  p->ws = calloc(ns, sizeof *p->ws);
  p->zpids = calloc(ns, sizeof *p->zpids);
  p->zpidfds = calloc(ns, sizeof *p->zpidfds);
  p->zpoll = calloc(ns + 1, sizeof *p->zpoll);
  p->zslot_of = calloc(ns + 1, sizeof *p->zslot_of);
  if (o.initargs_len > 0 && (p->initargs = malloc(o.initargs_len)) != NULL)
    memcpy(p->initargs, o.initargs, o.initargs_len);
  if (!p->ws || !p->zpids || !p->zpidfds || !p->zpoll || !p->zslot_of ||
      (o.initargs_len > 0 && p->initargs == NULL)) {
    pool_free_mem(p);
    return CF_ENOMEM;
  }
  p->o.initargs = NULL;
  for (int i = 0; i < p->nslots; i++) {
    p->ws[i].sock = -1;
    regions_reset(p->ws[i].out_reg, CF__WIRE_SLOTS);
  }
  int sv[2];
  int rc = 0;
  p->ep = epoll_create1(EPOLL_CLOEXEC);
  p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (p->ep < 0 || p->evfd < 0 || (rc = marks_create(p)) != 0 ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    rc = rc != 0 ? rc : neg_errno();
    pool_free_mem(p);
    return rc;
  }
  pid_t pid = -1;
  if (spawned) {
    int cfg = -1;
    rc = cfg_make(p, &cfg);
    if (rc == 0)
      rc = spawn_self(sv[1], cfg, SPAWN_ENV "=z", &pid);
    if (cfg >= 0)
      close(cfg);
  } else {
    pid = fork();
    if (pid == 0) {
      close(sv[0]);
      zygote_main(p, sv[1]);
    }
    rc = pid < 0 ? neg_errno() : 0;
  }
  close(sv[1]);
  if (rc != 0) {
    close(sv[0]);
    pool_free_mem(p);
    /* Whatever stopped the zygote (fork's ENOMEM; exec's ENOENT or EACCES
     * where /proc/self/exe cannot be run), the pool could not start: only
     * running out of descriptors, and a kernel without memfd_create (the
     * spawning methods' configuration), have codes of their own. */
    return rc == CF_EMFILE || rc == CF_ENOSYS ? rc : CF_EAGAIN;
  }
  p->zpid = pid;
  p->ctl = sv[0];
  struct epoll_event ev = {0};
  ev.events = EPOLLIN;
  ev.data.u64 = (uint64_t)TAG_WAKE << 32;
  epoll_ctl(p->ep, EPOLL_CTL_ADD, p->evfd, &ev);
  ev.data.u64 = (uint64_t)TAG_CTL << 32;
  epoll_ctl(p->ep, EPOLL_CTL_ADD, p->ctl, &ev);
  struct tlist none = {0};
  pthread_mutex_lock(&p->mu);
  maintain_locked(p, &none); /* ask for the first workers */
  pthread_mutex_unlock(&p->mu);
  rc = pthread_create(&p->mgr, NULL, manager_main, p);
  if (rc != 0) {
    close_fd(&p->ctl);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    pool_free_mem(p);
    return CF_EAGAIN;
  }
  *out = &p->base;
  return 0;
}

static struct pool *as_pool(cf_executor *ex) {
  return ex != NULL && ex->vt == &pool_vt ? (struct pool *)ex : NULL;
}

static int pool_submit_bytes(cf_executor *ex, cf_bytes_fn fn, const void *data,
                             size_t len, const double *timeout_opt,
                             cf_future **out) {
  struct pool *p = (struct pool *)ex;
  double timeout = timeout_opt != NULL ? *timeout_opt : p->o.task_timeout;
  if (len > p->o.max_payload)
    return CF_ETOOBIG;
  /* A worker that is not a fork of this process knows the function only
   * by its registered name. */
  const char *name = NULL;
  if (p->o.start_method != CF_START_FORK) {
    int rc = cf__task_wire_name(fn, &name);
    if (rc != 0)
      return rc;
  }
  /* A large payload is copied once, straight into shared memory, outside
   * the lock. */
  int preg = -1;
  if (len > p->o.shm_threshold) {
    pthread_mutex_lock(&p->mu);
    preg = preg_take_locked(p, len);
    pthread_mutex_unlock(&p->mu);
  }
  struct task *t = malloc(sizeof *t + (preg >= 0 ? 0 : len));
  if (t == NULL) {
    if (preg >= 0) {
      pthread_mutex_lock(&p->mu);
      p->preg_used[preg] = false;
      pthread_mutex_unlock(&p->mu);
    }
    return CF_ENOMEM;
  }
  memset(t, 0, sizeof *t);
  t->wslot = -1;
  t->fn = fn;
  t->name = name;
  t->len = len;
  t->preg = preg;
  t->payload = preg >= 0 ? p->preg[preg].map + SHM_HDR : t->data;
  if (len)
    memcpy(t->payload, data, len);
  t->timeout_ns = timeout > 0 ? (uint64_t)(timeout * 1e9) : 0;
  if (t->timeout_ns == 0 && timeout > 0)
    t->timeout_ns = 1;
  cf_future *f = cf__future_alloc(ex, NULL, t);
  if (f == NULL) {
    pthread_mutex_lock(&p->mu);
    preg_release_locked(p, t);
    pthread_mutex_unlock(&p->mu);
    free(t);
    return CF_ENOMEM;
  }
  f->value_free = free;
  t->f = f;
  if (out != NULL)
    cf_future_retain(f);
  pthread_mutex_lock(&p->mu);
  int rc = p->broken ? CF_EBROKEN : p->shutdown ? CF_ESHUTDOWN : 0;
  bool wake = false;
  if (rc == 0) {
    t->id = ++p->next_id;
    t->in_queue = true;
    tl_push_back(&p->queue, t);
    p->submitted++;
    wake = dispatch_locked(p);
  }
  if (rc != 0)
    preg_release_locked(p, t);
  pthread_mutex_unlock(&p->mu);
  if (rc != 0) {
    if (out != NULL)
      cf_future_release(f);
    f->arg = NULL;
    cf_future_release(f);
    free(t);
    return rc;
  }
  if (wake)
    wake_manager(p);
  if (out != NULL)
    *out = f;
  return 0;
}

/*
 * A thread waiting for one future reads the result from the worker's
 * socket itself, instead of sleeping until the manager has read it and
 * woken it: one wake-up less per round trip. While it waits, the manager's
 * interest in that socket is suspended (so that the result does not wake
 * both), and it polls a duplicate of the descriptor, so that the manager
 * may close the original meanwhile. It waits in slices and gives up, to
 * the ordinary wait, as soon as anything is unusual. Returns when f is
 * done or the deadline passed (the caller's wait then decides).
 */
static void wait_helped(struct pool *p, cf_future *f, uint64_t deadline) {
  while (!cf__done(f)) {
    uint64_t now = cf_now_ns();
    if (now >= deadline)
      return;
    pthread_mutex_lock(&p->mu);
    int slot = -1;
    struct task *t = cf__done(f) ? NULL : f->arg;
    for (int i = 0; t != NULL && slot < 0 && i < p->nslots; i++) {
      struct worker *w = &p->ws[i];
      if (w->st != W_READY || w->eof || w->helped || w->want_out ||
          w->ooff < w->olen)
        continue;
      for (struct task *u = w->fl.head; u; u = u->next)
        if (u == t) {
          slot = i;
          break;
        }
    }
    int fd = -1;
    uint32_t gen = 0;
    if (slot >= 0 && (fd = fcntl(p->ws[slot].sock, F_DUPFD_CLOEXEC, 0)) >= 0) {
      struct worker *w = &p->ws[slot];
      struct epoll_event ev = {0};
      ev.data.u64 = ((uint64_t)TAG_WORKER << 32) | (uint32_t)slot;
      epoll_ctl(p->ep, EPOLL_CTL_MOD, w->sock, &ev);
      w->helped = true;
      gen = w->gen;
    }
    pthread_mutex_unlock(&p->mu);
    if (fd < 0)
      return;
    uint64_t slice = deadline - now < 10000000 ? deadline - now : 10000000;
    struct pollfd pfd = {fd, POLLIN, 0};
    poll(&pfd, 1, (int)((slice + 999999) / 1000000));
    struct tlist done = {0};
    bool wake = false;
    pthread_mutex_lock(&p->mu);
    struct worker *w = &p->ws[slot];
    if (w->gen == gen && w->helped) {
      w->helped = false;
      if (w->st == W_READY) {
        worker_read_locked(p, slot, &done);
        if (!w->eof) {
          struct epoll_event ev = {0};
          ev.events = EPOLLIN | (w->want_out ? EPOLLOUT : 0);
          ev.data.u64 = ((uint64_t)TAG_WORKER << 32) | (uint32_t)slot;
          epoll_ctl(p->ep, EPOLL_CTL_MOD, w->sock, &ev);
        }
        bool dl = dispatch_locked(p);
        flush_all_locked(p);
        /* The manager must see new oldest tasks with deadlines, and a
         * worker that went away or has to be replaced. */
        wake = dl || w->eof || w->retiring ||
               (w->fl.head != NULL &&
                (w->fl.head->timeout_ns || w->fl.head->cancel_req));
      }
    }
    pthread_mutex_unlock(&p->mu);
    close(fd);
    if (wake)
      wake_manager(p);
    if (done.n > 0) {
      complete_all(&done);
      pthread_mutex_lock(&p->mu);
      free_tasks(&done);
      pthread_mutex_unlock(&p->mu);
    }
  }
}

static void pool_wait_bytes(cf_executor *ex, cf_future *f, uint64_t deadline) {
  wait_helped((struct pool *)ex, f, deadline);
}

static size_t pool_map_window(cf_executor *ex, size_t chunksize) {
  struct pool *p = (struct pool *)ex;
  /* Single items are small tasks: keep every worker's pipeline full. */
  return 2 * (size_t)p->o.max_workers *
         (chunksize == 1 ? p->o.pipeline_depth : 1);
}

static bool pool_by_name(cf_executor *ex) {
  return ((struct pool *)ex)->o.start_method != CF_START_FORK;
}

static int pool_submit(cf_executor *ex, cf_future *f) {
  (void)ex;
  (void)f;
  return CF_EINVAL; /* a process pool runs cf_bytes_fn tasks only */
}

static int pool_shutdown(cf_executor *ex, unsigned flags) {
  struct pool *p = (struct pool *)ex;
  struct tlist cancelled = {0};
  pthread_mutex_lock(&p->mu);
  p->shutdown = true;
  cf_future *withdrawn = NULL, **tail = &withdrawn;
  if (flags & CF_SHUTDOWN_CANCEL_FUTURES) {
    /* Every task not begun: those sent ahead to a worker first (they were
     * submitted first), then the queue. */
    for (int i = 0; i < p->nslots; i++) {
      if (p->ws[i].st != W_READY)
        continue;
      for (struct task *t = p->ws[i].fl.head; t != NULL; t = t->next) {
        cf_future *f = withdraw_locked(p, t);
        if (f != NULL) {
          *tail = f;
          tail = &f->qnext;
        }
      }
    }
    struct task *t;
    while ((t = tl_pop(&p->queue)) != NULL) {
      t->in_queue = false;
      fail_task(p, t, CF_ECANCELED, NULL, &cancelled);
      t->f->arg = NULL;
    }
  }
  pthread_mutex_unlock(&p->mu);
  wake_manager(p);
  complete_withdrawn(withdrawn);
  complete_all(&cancelled);
  free_tasks(&cancelled);
  if (!(flags & CF_SHUTDOWN_WAIT))
    return 0;
  if (cf__tls_executor == ex)
    return CF_EDEADLK; /* a done callback on the manager thread */
  pthread_mutex_lock(&p->mu);
  while (!p->mgr_done)
    pthread_cond_wait(&p->done_cv, &p->mu);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

static void pool_destroy(cf_executor *ex) {
  struct pool *p = (struct pool *)ex;
  pthread_join(p->mgr, NULL);
  pool_free_mem(p);
}

static int pool_stats(cf_executor *ex, cf_executor_stats *out) {
  struct pool *p = (struct pool *)ex;
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&p->mu);
  for (int i = 0; i < p->nslots; i++) {
    struct worker *w = &p->ws[i];
    if (w->st == W_FREE)
      continue;
    out->workers++;
    if (w->st == W_READY && w->fl.n == 0)
      out->idle++;
    /* A task sent ahead is queued until its worker begins it. */
    for (struct task *t = w->fl.head; t != NULL; t = t->next) {
      uint64_t at;
      if (t->ghost)
        continue;
      if (begun_locked(p, t, &at))
        out->running++;
      else
        out->queued++;
    }
  }
  out->queued += p->queue.n;
  out->max_workers = (size_t)p->o.max_workers;
  out->submitted = p->submitted;
  out->completed = p->completed;
  out->failed = p->failed;
  out->cancelled = p->cancelled;
  pthread_mutex_unlock(&p->mu);
  return 0;
}

static bool pool_cancel(cf_executor *ex, cf_future *f) {
  struct pool *p = (struct pool *)ex;
  cf_future *withdrawn = NULL;
  pthread_mutex_lock(&p->mu);
  struct task *t = cf__state(f) == CF_PENDING ? f->arg : NULL;
  if (t != NULL && t->in_queue) {
    tl_remove(&p->queue, t);
    t->in_queue = false;
    f->arg = NULL;
    preg_release_locked(p, t);
    p->cancelled++;
  } else {
    /* Sent ahead: withdrawn unless its worker has begun it. */
    if (t != NULL)
      withdrawn = withdraw_locked(p, t);
    t = NULL;
  }
  pthread_mutex_unlock(&p->mu);
  if (withdrawn != NULL) {
    bool ok = cf__future_cancel_pending(withdrawn);
    cf_future_release(withdrawn);
    return ok;
  }
  if (t == NULL)
    return false;
  bool ok = cf__future_cancel_pending(f);
  cf_future_release(f);
  free(t);
  return ok;
}

static void pool_request_cancel(cf_executor *ex, cf_future *f) {
  struct pool *p = (struct pool *)ex;
  struct tlist done = {0};
  cf_future *withdrawn = NULL;
  pthread_mutex_lock(&p->mu);
  struct task *t = cf__done(f) ? NULL : f->arg;
  if (t != NULL) {
    t->cancel_req = true;
    /* Run before on a worker that died, it is RUNNING, not PENDING; it may
     * be queued again, or sent again and not begun yet. */
    if (t->in_queue) {
      tl_remove(&p->queue, t);
      t->in_queue = false;
      f->arg = NULL;
      fail_task(p, t, CF_ECANCELED, NULL, &done);
    } else {
      withdrawn = withdraw_locked(p, t);
    }
  }
  pthread_mutex_unlock(&p->mu);
  if (withdrawn != NULL) {
    complete_withdrawn(withdrawn);
  } else if (done.n > 0) {
    complete_all(&done);
    free_tasks(&done);
  } else if (t != NULL) {
    wake_manager(p); /* it kills the worker once the task is its oldest */
  }
}

/* A PENDING future whose worker began it is RUNNING from then on. */
static void pool_observe(cf_executor *ex, cf_future *f) {
  struct pool *p = (struct pool *)ex;
  pthread_mutex_lock(&p->mu);
  struct task *t = cf__state(f) == CF_PENDING ? f->arg : NULL;
  if (t != NULL && !t->in_queue)
    note_begun_locked(p, t);
  pthread_mutex_unlock(&p->mu);
}

static bool pool_is_worker_thread(cf_executor *ex) {
  return cf__tls_executor == ex; /* only the manager thread sets it */
}

static int signal_workers(cf_executor *ex, int sig) {
  struct pool *p = as_pool(ex);
  if (p == NULL)
    return CF_EINVAL;
  pthread_mutex_lock(&p->mu);
  if (!p->terminating || sig == SIGKILL)
    p->terminating = sig;
  if (sig == SIGTERM && p->term_kill_at == 0)
    p->term_kill_at = cf_now_ns() + p->grace_ns;
  for (int i = 0; i < p->nslots; i++)
    if (p->ws[i].st == W_READY)
      kill_worker_locked(p, &p->ws[i], K_TERM, sig);
  pthread_mutex_unlock(&p->mu);
  return pool_shutdown(ex, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES);
}

int cf_process_pool_terminate(cf_executor *ex) {
  return signal_workers(ex, SIGTERM);
}

int cf_process_pool_kill(cf_executor *ex) {
  return signal_workers(ex, SIGKILL);
}

int cf_process_pool_pids(cf_executor *ex, int *pids, size_t n) {
  struct pool *p = as_pool(ex);
  if (p == NULL || (pids == NULL && n > 0))
    return CF_EINVAL;
  int count = 0;
  pthread_mutex_lock(&p->mu);
  for (int i = 0; i < p->nslots; i++) {
    if (p->ws[i].st != W_READY)
      continue;
    if ((size_t)count < n)
      pids[count] = (int)p->ws[i].pid;
    count++;
  }
  pthread_mutex_unlock(&p->mu);
  return count;
}

static const struct cf__executor_vtable pool_vt = {
    .kind = "process_pool",
    .submit = pool_submit,
    .shutdown = pool_shutdown,
    .destroy = pool_destroy,
    .stats = pool_stats,
    .resize = NULL,
    .cancel = pool_cancel,
    .request_cancel = pool_request_cancel,
    .run_inline = NULL,
    .is_worker_thread = pool_is_worker_thread,
    .submit_bytes = pool_submit_bytes,
    .wait_bytes = pool_wait_bytes,
    .map_window = pool_map_window,
    .by_name = pool_by_name,
    .observe = pool_observe,
};
