/* SPDX-License-Identifier: MIT */
/*
 * The MPI pool: byte tasks run by the ranks of an MPI job.
 *
 * DESIGN. Every rank calls cf_mpi_pool_new. They agree on the outcome with
 * one MPI_Allreduce, then the root (the client) starts a manager thread and
 * returns the pool, and every other rank serves on its calling thread until
 * a SHUTDOWN message comes. All the pool's traffic is on a duplicate of the
 * caller's communicator. Messages, in native byte order (one job, one
 * architecture):
 *
 *   TASK     client -> rank   [struct mhdr: id, 0, name_len][name][payload]
 *   RESULT   rank -> client   [struct mhdr: id, err, msg_len][msg][bytes]
 *   READY    rank -> client   [struct mhdr: 0, initializer's code, msg_len]
 *   TASKS    client -> rank   [u32 len][TASK] ...: small tasks queued for
 *                             one rank at once, in one message
 *   SHUTDOWN client -> rank   (empty)
 *   BYE      rank -> client   (empty): the answer to SHUTDOWN, sent after
 *                             everything before it; the client reads until
 *                             every rank's BYE, so no rank is left blocked
 *                             in a send and no message on the communicator
 *
 * A rank runs its tasks in the order they arrive, so its results come back
 * in the order they were sent: the client keeps a FIFO of tasks in flight
 * per rank and matches each result to its head (a mismatch is a protocol
 * error that breaks the pool). Only the manager thread calls MPI on the
 * client side. Submitters queue a task (already packed into its TASK
 * message) and wake the manager if it sleeps; the manager sends tasks to
 * the ready rank with the fewest in flight (among equals the one that
 * answered last, still polling), up to pipeline_depth each, and nothing
 * before every rank has reported on its initializer,
 * with MPI_Isend (a blocking send of a large task could wait for a rank
 * that is itself blocked sending a result to us), and receives with
 * MPI_Iprobe + MPI_Recv (probing twice before it sleeps: Open MPI reads
 * new data only after a look for a match). After its last message it
 * keeps polling for spin_us, yielding the CPU, then sleeps in doubling
 * steps up to poll_max_us on its condition variable
 * (so a submit wakes it at once); with nothing in flight it sleeps until a
 * submit. A serving rank polls and sleeps the same way, without the
 * condition variable.
 *
 * LOCKING. pool.mu guards the queue, the per-rank FIFOs and counters, and
 * the pool's flags. The manager takes it to move tasks and release
 * results, and never holds it across an MPI call or a future completion
 * (done callbacks run on the manager thread, unlocked). Futures are
 * completed by the thread that took the task off every list. Lock order:
 * pool.mu, then a future's stripe lock (cf_future_cancel -> mpi_cancel
 * runs with no lock and takes pool.mu; completion happens after unlock).
 * The registry of live pools (for the exit handler) has its own mutex,
 * live_mu, never held with pool.mu.
 */
#include "cfutures/mpi.h"
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

enum {
  T_TASK = 1,
  T_RESULT = 2,
  T_READY = 3,
  T_SHUTDOWN = 4,
  T_TASKS = 5,
  T_BYE = 6
};

/* Tasks of at most BATCH_TASK_MAX bytes queued for the same rank at once
 * go in one TASKS message of at most BATCH_MAX bytes: one message, not
 * one per task (over TCP each costs system calls on both sides). */
#define BATCH_TASK_MAX ((size_t)4096)
#define BATCH_MAX ((size_t)65536)

struct mhdr {
  uint64_t id;
  int32_t err;
  uint32_t len; /* name (TASK) or message (RESULT, READY) bytes */
};

#define MSG_MAX 4096u
#define PAYLOAD_LIMIT ((size_t)1 << 30)

static const struct cf__private *P;

struct mtask {
  struct mtask *next;
  cf_future *f;
  uint64_t id;
  bool sending;  /* its TASK message is being sent */
  bool answered; /* the future is done; freed when the send ends */
  bool in_queue;
  size_t len; /* bytes of msg */
  unsigned char msg[];
};

struct mlist {
  struct mtask *head, *tail;
  size_t n;
};

struct mrank {
  struct mlist fl;    /* in flight, oldest first */
  uint64_t last_seen; /* when its last message came (manager only) */
  bool ready, used, replied;
};

struct mpool {
  struct cf_executor base;
  cf_mpi_pool_options o;
  MPI_Comm comm;
  int size, root;
  pthread_mutex_t mu;
  pthread_cond_t cv;      /* wakes the manager: a submit, a shutdown */
  pthread_cond_t done_cv; /* the manager finished */
  bool sleeping;          /* the manager waits on cv */
  struct mlist queue;
  struct mrank *ranks;
  int nready, nreplied, nused;
  size_t inflight;
  bool shutdown, broken, mgr_done, joined;
  char broken_msg[256];
  uint64_t next_id;
  uint64_t submitted, completed, failed, cancelled;
  pthread_t mgr;
  struct mpool *live_next;
};

static const struct cf__executor_vtable mpi_vt;
static _Thread_local struct mpool *tls_manager_of;

/* Pools open on this process, shut down by the exit handler. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mpool *live;
static bool we_initialized, exit_handler_set;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static void ml_push(struct mlist *l, struct mtask *t) {
  t->next = NULL;
  if (l->tail)
    l->tail->next = t;
  else
    l->head = t;
  l->tail = t;
  l->n++;
}

static struct mtask *ml_pop(struct mlist *l) {
  struct mtask *t = l->head;
  if (t) {
    l->head = t->next;
    if (!l->head)
      l->tail = NULL;
    l->n--;
    t->next = NULL;
  }
  return t;
}

static bool ml_remove(struct mlist *l, struct mtask *t) {
  struct mtask **pp = &l->head, *prev = NULL;
  for (; *pp && *pp != t; prev = *pp, pp = &(*pp)->next)
    ;
  if (*pp == NULL)
    return false;
  *pp = t->next;
  if (l->tail == t)
    l->tail = prev;
  l->n--;
  t->next = NULL;
  return true;
}

static void sleep_ns(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Poll pacing: spin for spin_us, then sleep 1 us, 2 us, ... up to
 * poll_max_us. */
struct pace {
  uint64_t spin_until;
  uint64_t step_ns;
};

static void pace_reset(struct pace *pc, const cf_mpi_pool_options *o) {
  pc->spin_until = cf_now_ns() + (uint64_t)o->spin_us * 1000u;
  pc->step_ns = 0;
}

/* How long to sleep before the next poll (0: poll again at once). */
static uint64_t pace_next(struct pace *pc, const cf_mpi_pool_options *o) {
  if (pc->step_ns == 0 && cf_now_ns() < pc->spin_until)
    return 0;
  uint64_t max = (uint64_t)o->poll_max_us * 1000u;
  pc->step_ns = pc->step_ns == 0 ? 1000 : pc->step_ns * 2;
  if (pc->step_ns > max)
    pc->step_ns = max;
  return pc->step_ns;
}

/* MPI_Iprobe, asked twice when the first look finds nothing: Open MPI
 * matches against what it has already read before it reads more, so a
 * message that arrived while we slept is seen by the second look, not one
 * sleep later. */
static int probe(int src, MPI_Comm comm, int *flag, MPI_Status *st) {
  int rc = MPI_Iprobe(src, MPI_ANY_TAG, comm, flag, st);
  if (rc == MPI_SUCCESS && !*flag)
    rc = MPI_Iprobe(src, MPI_ANY_TAG, comm, flag, st);
  return rc;
}

/* Polls until a message from src (or MPI_ANY_SOURCE) is there, pacing
 * as pc says. An MPI code. */
static int wait_message(int src, MPI_Comm comm, MPI_Status *st, struct pace *pc,
                        const cf_mpi_pool_options *o) {
  for (;;) {
    int flag = 0;
    int rc = probe(src, comm, &flag, st);
    if (rc != MPI_SUCCESS || flag)
      return rc;
    uint64_t ns = pace_next(pc, o);
    if (ns)
      sleep_ns(ns);
    else
      sched_yield(); /* polling: let an oversubscribed CPU's others run */
  }
}

/* Receives the message st describes into b: b->data[0..b->len). An MPI
 * code. */
static int recv_probed(MPI_Comm comm, const MPI_Status *st, cf_buffer *b) {
  int count = 0;
  MPI_Get_count(st, MPI_BYTE, &count);
  cf_buffer_clear(b);
  /* One more byte, so that data is never NULL, even for an empty one. */
  if (count < 0 || cf_buffer_reserve(b, (size_t)count + 1) != 0)
    return MPI_ERR_NO_MEM;
  int rc = MPI_Recv(b->data, count, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, comm,
                    MPI_STATUS_IGNORE);
  if (rc == MPI_SUCCESS)
    b->len = (size_t)count;
  return rc;
}

/* Memory a rare large message left behind is given back, not kept. */
static void trim(cf_buffer *b) {
  if (b->cap > ((size_t)16 << 20))
    cf_buffer_free(b);
}

static void mpi_errmsg(int code, const char *what, char *out, size_t n) {
  char es[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, es, &len) != MPI_SUCCESS)
    snprintf(es, sizeof es, "MPI error %d", code);
  snprintf(out, n, "%s: %s", what, es);
}

/* ------------------------------------------------------------------------ */
/* A serving rank                                                            */
/* ------------------------------------------------------------------------ */

/* Sends a RESULT (or READY) message: header, message, bytes. */
static int send_reply(MPI_Comm comm, int root, int tag, uint64_t id, int err,
                      const char *msg, const void *bytes, size_t blen,
                      cf_buffer *scratch) {
  size_t mlen = msg ? strlen(msg) : 0;
  if (mlen > MSG_MAX)
    mlen = MSG_MAX;
  struct mhdr h = {id, err, (uint32_t)mlen};
  cf_buffer_clear(scratch);
  int rc = cf_buffer_reserve(scratch, sizeof h + mlen + blen);
  if (rc != 0) {
    /* No room for the bytes: at least the code must get back. */
    h.err = CF_ENOMEM;
    h.len = 0;
    return MPI_Send(&h, (int)sizeof h, MPI_BYTE, root, tag, comm);
  }
  memcpy(scratch->data, &h, sizeof h);
  if (mlen)
    memcpy(scratch->data + sizeof h, msg, mlen);
  if (blen)
    memcpy(scratch->data + sizeof h + mlen, bytes, blen);
  scratch->len = sizeof h + mlen + blen;
  return MPI_Send(scratch->data, (int)scratch->len, MPI_BYTE, root, tag, comm);
}

/* A serving rank's state while it runs tasks. */
struct server {
  const cf_mpi_pool_options *o;
  MPI_Comm comm;
  int root;
  cf_future *df; /* recycled to run each task (NULL: out of memory) */
  cf_buffer out, reply;
  char last[CF_TASK_NAME_MAX + 1]; /* the last name found, and its task */
  cf_bytes_fn last_fn;
};

/* Runs one TASK message and sends its RESULT. An MPI code. */
static int serve_task(struct server *sv, const unsigned char *m, size_t len) {
  struct mhdr h;
  if (len < sizeof h)
    return MPI_ERR_OTHER;
  memcpy(&h, m, sizeof h);
  if (h.len > CF_TASK_NAME_MAX || len - sizeof h < h.len)
    return MPI_ERR_OTHER;
  char name[CF_TASK_NAME_MAX + 1];
  memcpy(name, m + sizeof h, h.len);
  name[h.len] = 0;
  const unsigned char *payload = m + sizeof h + h.len;
  size_t plen = len - sizeof h - h.len;
  cf_bytes_fn fn;
  if (sv->last_fn != NULL && strcmp(name, sv->last) == 0) {
    fn = sv->last_fn;
  } else if (P->bytes_task_find(name, &fn) == 0) {
    memcpy(sv->last, name, h.len + 1);
    sv->last_fn = fn;
  }
  char *msg = NULL;
  cf_buffer_clear(&sv->out);
  int err = sv->df == NULL
                ? CF_ENOMEM
                : P->bytes_task_run(sv->df, fn, payload, plen, &sv->out, &msg);
  char tmp[128];
  if (err == 0 && sv->out.len > sv->o->max_payload) {
    err = CF_ETOOBIG;
    snprintf(tmp, sizeof tmp, "result of %zu bytes is above max_payload",
             sv->out.len);
    free(msg);
    msg = strdup(tmp);
  }
  int rc = send_reply(sv->comm, sv->root, T_RESULT, h.id, err, msg,
                      err == 0 ? sv->out.data : NULL,
                      err == 0 ? sv->out.len : 0, &sv->reply);
  free(msg);
  trim(&sv->out);
  return rc;
}

/* Runs the TASK messages of a TASKS message, [u32 len][TASK] each, in
 * order. An MPI code. */
static int serve_batch(struct server *sv, const unsigned char *m, size_t len) {
  int rc = MPI_SUCCESS;
  while (len > 0 && rc == MPI_SUCCESS) {
    uint32_t n;
    if (len < sizeof n)
      return MPI_ERR_OTHER;
    memcpy(&n, m, sizeof n);
    if (len - sizeof n < n)
      return MPI_ERR_OTHER;
    rc = serve_task(sv, m + sizeof n, n);
    m += sizeof n + n;
    len -= sizeof n + n;
  }
  return rc;
}

static int serve(struct mpool *p, bool used) {
  struct server sv = {.o = &p->o, .comm = p->comm, .root = p->root};
  const cf_mpi_pool_options *o = &p->o;
  cf_buffer in = CF_BUFFER_INIT;
  int rc = MPI_SUCCESS;
  /* Short sleeps must be short: the default 50 us slack would dominate. */
  int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0);
  sv.df = P->bytes_task_future();
  if (used) {
    int err = sv.df == NULL ? CF_ENOMEM : 0;
    if (err == 0 && o->initializer != NULL) {
      err = o->initializer(o->initargs ? o->initargs : (const void *)"",
                           o->initargs_len);
      if (err > 0)
        err = CF_ETASK;
    }
    rc =
        send_reply(sv.comm, sv.root, T_READY, 0, err, NULL, NULL, 0, &sv.reply);
    if (err != 0)
      used = false; /* wait for the shutdown, run nothing */
  }
  struct pace pc;
  pace_reset(&pc, o);
  while (rc == MPI_SUCCESS) {
    MPI_Status st;
    rc = wait_message(sv.root, sv.comm, &st, &pc, o);
    if (rc == MPI_SUCCESS)
      rc = recv_probed(sv.comm, &st, &in);
    if (rc == MPI_SUCCESS && st.MPI_TAG == T_SHUTDOWN) {
      /* Everything before it was answered: say so, and go. */
      rc = MPI_Send(NULL, 0, MPI_BYTE, sv.root, T_BYE, sv.comm);
      break;
    }
    if (rc != MPI_SUCCESS)
      break;
    if (st.MPI_TAG == T_TASK)
      rc = serve_task(&sv, in.data, in.len);
    else if (st.MPI_TAG == T_TASKS)
      rc = serve_batch(&sv, in.data, in.len);
    else
      rc = MPI_ERR_OTHER;
    trim(&in);
    pace_reset(&pc, o);
  }
  prctl(PR_SET_TIMERSLACK, slack > 0 ? slack : 50000, 0, 0, 0);
  cf_future_release(sv.df);
  cf_buffer_free(&in);
  cf_buffer_free(&sv.out);
  cf_buffer_free(&sv.reply);
  MPI_Comm_free(&sv.comm);
  return rc == MPI_SUCCESS ? 0 : CF_EBROKEN;
}

/* ------------------------------------------------------------------------ */
/* The client: manager thread                                                */
/* ------------------------------------------------------------------------ */

/* Takes every queued and in-flight task off its list, to fail (broken). */
static void break_pool_locked(struct mpool *p, const char *why,
                              struct mlist *fail) {
  if (!p->broken) {
    p->broken = true;
    snprintf(p->broken_msg, sizeof p->broken_msg, "%s", why);
  }
  struct mtask *t;
  while ((t = ml_pop(&p->queue)) != NULL) {
    t->in_queue = false;
    ml_push(fail, t);
  }
  for (int r = 0; r < p->size; r++)
    while ((t = ml_pop(&p->ranks[r].fl)) != NULL) {
      p->inflight--;
      ml_push(fail, t);
    }
}

/* Picks the ready rank with the fewest tasks in flight and room for one
 * more; among equals, the one that answered last, which is still polling
 * (a rank that has been idle longer may be asleep). -1 if none. */
static int pick_rank_locked(struct mpool *p) {
  int best = -1;
  size_t bestn = p->o.pipeline_depth;
  uint64_t best_seen = 0;
  for (int r = 0; r < p->size; r++) {
    struct mrank *m = &p->ranks[r];
    if (!m->ready || m->fl.n > bestn || m->fl.n >= p->o.pipeline_depth ||
        (m->fl.n == bestn && best >= 0 && m->last_seen <= best_seen))
      continue;
    best = r;
    bestn = m->fl.n;
    best_seen = m->last_seen;
  }
  return best;
}

/* A send in flight: one task's TASK message, or a TASKS message carrying
 * several (batch, n of them, its bytes in buf). */
struct pending_send {
  MPI_Request req;
  struct mtask *t;
  struct mtask **batch;
  size_t n;
  unsigned char *buf;
  int rank;
};

/* A send finished (or was cancelled): its tasks' memory may go once their
 * futures are done. */
static void send_done(struct pending_send *ps) {
  size_t n = ps->batch ? ps->n : 1;
  for (size_t i = 0; i < n; i++) {
    struct mtask *t = ps->batch ? ps->batch[i] : ps->t;
    t->sending = false;
    if (t->answered)
      free(t);
  }
  free(ps->batch);
  free(ps->buf);
  ps->batch = NULL;
  ps->buf = NULL;
}

/* Posts the sends sends[first..*nsends), which hold one task each, in the
 * order their tasks joined their ranks' FIFOs (a rank answers in the order
 * it receives). Runs of small tasks for the same rank become one TASKS
 * message; a large task for a rank ends the run before it, so order per
 * rank is kept. Compacts the array. Returns an MPI code. */
static int post_sends(struct mpool *p, struct pending_send *sends, size_t first,
                      size_t *nsends) {
  size_t end = *nsends, out = first;
  int rc = MPI_SUCCESS;
  /* Entries are written back at out <= i; entries taken into a batch are
   * later ones (j > i), marked with rank -1. */
  for (size_t i = first; i < end; i++) {
    if (sends[i].rank < 0)
      continue;
    struct pending_send ps = sends[i];
    ps.req = MPI_REQUEST_NULL;
    size_t n = 1, bytes = ps.t->len;
    if (rc == MPI_SUCCESS && ps.t->len <= BATCH_TASK_MAX) {
      for (size_t j = i + 1; j < end; j++) {
        struct mtask *u = sends[j].t;
        if (sends[j].rank != ps.rank)
          continue;
        if (u->len > BATCH_TASK_MAX || bytes + u->len > BATCH_MAX)
          break;
        n++;
        bytes += u->len;
      }
    }
    if (n > 1) {
      ps.batch = malloc(n * sizeof *ps.batch);
      ps.buf = malloc(bytes + n * sizeof(uint32_t));
      if (ps.batch == NULL || ps.buf == NULL) {
        free(ps.batch);
        free(ps.buf);
        ps.batch = NULL;
        ps.buf = NULL;
        n = 1; /* no memory to batch: send this one alone */
      }
    }
    if (rc != MPI_SUCCESS) {
      /* Left unposted, with no request: the broken pool's clean-up
       * releases it with the rest. */
    } else if (n > 1) {
      unsigned char *w = ps.buf;
      size_t k = 0;
      for (size_t j = i; k < n; j++) {
        if (sends[j].rank != ps.rank)
          continue;
        struct mtask *u = sends[j].t;
        uint32_t len = (uint32_t)u->len;
        memcpy(w, &len, sizeof len);
        memcpy(w + sizeof len, u->msg, u->len);
        w += sizeof len + u->len;
        ps.batch[k++] = u;
        if (j > i)
          sends[j].rank = -1;
      }
      ps.n = n;
      ps.t = NULL;
      rc = MPI_Isend(ps.buf, (int)(w - ps.buf), MPI_BYTE, ps.rank, T_TASKS,
                     p->comm, &ps.req);
    } else {
      rc = MPI_Isend(ps.t->msg, (int)ps.t->len, MPI_BYTE, ps.rank, T_TASK,
                     p->comm, &ps.req);
    }
    if (rc != MPI_SUCCESS)
      ps.req = MPI_REQUEST_NULL;
    sends[out++] = ps;
  }
  *nsends = out;
  return rc;
}

/* A task's memory holds its TASK message: it is freed once its future is
 * done and its send finished, in whichever order those happen (a result
 * can be read before MPI_Test has reported the send complete). */
static void task_done(struct mtask *t) {
  if (t->sending)
    t->answered = true;
  else
    free(t);
}

static void handle_message(struct mpool *p, const MPI_Status *st,
                           const unsigned char *buf, size_t count,
                           struct mlist *fail) {
  struct mhdr h = {0};
  int src = st->MPI_SOURCE;
  if (count >= sizeof h)
    memcpy(&h, buf, sizeof h);
  size_t mlen = h.len;
  if (count < sizeof h || src < 0 || src >= p->size || src == p->root ||
      mlen > MSG_MAX || count - sizeof h < mlen) {
    pthread_mutex_lock(&p->mu);
    break_pool_locked(p, "malformed message from a rank", fail);
    pthread_mutex_unlock(&p->mu);
    return;
  }
  char *msg = NULL;
  if (mlen) {
    msg = malloc(mlen + 1);
    if (msg) {
      memcpy(msg, buf + sizeof h, mlen);
      msg[mlen] = 0;
    }
  }
  const unsigned char *bytes = buf + sizeof h + mlen;
  size_t blen = count - sizeof h - mlen;
  if (st->MPI_TAG == T_READY) {
    pthread_mutex_lock(&p->mu);
    struct mrank *m = &p->ranks[src];
    if (m->used && !m->replied) {
      m->replied = true;
      p->nreplied++;
    }
    if (h.err == 0 && m->used && !m->ready) {
      m->ready = true;
      p->nready++;
    } else if (h.err != 0) {
      char why[200];
      snprintf(why, sizeof why, "the initializer failed on rank %d: %s", src,
               cf_strerror(h.err));
      break_pool_locked(p, why, fail);
    }
    pthread_mutex_unlock(&p->mu);
    free(msg);
    return;
  }
  pthread_mutex_lock(&p->mu);
  struct mtask *t = p->ranks[src].fl.head;
  if (st->MPI_TAG != T_RESULT || t == NULL || t->id != h.id) {
    break_pool_locked(p, "a rank answered out of order", fail);
    pthread_mutex_unlock(&p->mu);
    free(msg);
    return;
  }
  ml_pop(&p->ranks[src].fl);
  p->ranks[src].last_seen = cf_now_ns();
  p->inflight--;
  if (h.err == 0)
    p->completed++;
  else
    p->failed++;
  pthread_mutex_unlock(&p->mu);
  struct cf__bytes_result *res = NULL;
  int err = h.err;
  if (err == 0 && (res = P->bytes_result_new(bytes, blen)) == NULL)
    err = CF_ENOMEM;
  P->future_complete(t->f, CF_FINISHED, err, res, msg);
  cf_future_release(t->f);
  task_done(t);
}

static void *manager_main(void *arg) {
  struct mpool *p = arg;
  tls_manager_of = p;
  prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0);
  size_t cap = (size_t)p->size * p->o.pipeline_depth + 1;
  struct pending_send *sends = calloc(cap, sizeof *sends);
  size_t nsends = 0;
  cf_buffer rb = CF_BUFFER_INIT; /* the message being read */
  struct pace pc;
  pace_reset(&pc, &p->o);
  int mrc = MPI_SUCCESS;
  bool mpi_failed = false;
  char why[300];
  for (;;) {
    struct mlist fail = {0};
    bool progress = false;
    if (sends == NULL) {
      pthread_mutex_lock(&p->mu);
      break_pool_locked(p, "out of memory in the manager", &fail);
      pthread_mutex_unlock(&p->mu);
    }
    /* Queue -> ranks. */
    size_t first_new = nsends;
    pthread_mutex_lock(&p->mu);
    /* Nothing goes out before every rank has said whether its initializer
     * worked, so the first tasks spread over all of them. */
    while (sends != NULL && !p->broken && p->queue.head != NULL &&
           p->nreplied == p->nused && nsends < cap) {
      int r = pick_rank_locked(p);
      if (r < 0)
        break;
      struct mtask *t = ml_pop(&p->queue);
      t->in_queue = false;
      P->future_try_start(t->f); /* queued tasks are PENDING (see cancel) */
      t->sending = true;
      ml_push(&p->ranks[r].fl, t);
      p->inflight++;
      sends[nsends] = (struct pending_send){.t = t, .rank = r};
      nsends++;
    }
    pthread_mutex_unlock(&p->mu);
    /* Post the new sends, then test them all. */
    if (nsends > first_new) {
      mrc = post_sends(p, sends, first_new, &nsends);
      progress = true;
    }
    for (size_t i = 0; i < nsends && mrc == MPI_SUCCESS;) {
      int done = 0;
      mrc = MPI_Test(&sends[i].req, &done, MPI_STATUS_IGNORE);
      if (mrc == MPI_SUCCESS && done) {
        send_done(&sends[i]);
        sends[i] = sends[--nsends];
        progress = true;
        continue;
      }
      i++;
    }
    /* Results. */
    while (mrc == MPI_SUCCESS) {
      int flag = 0;
      MPI_Status st;
      mrc = probe(MPI_ANY_SOURCE, p->comm, &flag, &st);
      if (mrc != MPI_SUCCESS || !flag)
        break;
      mrc = recv_probed(p->comm, &st, &rb);
      if (mrc != MPI_SUCCESS)
        break;
      handle_message(p, &st, rb.data, rb.len, &fail);
      trim(&rb);
      progress = true;
    }
    if (mrc != MPI_SUCCESS) {
      mpi_errmsg(mrc, "MPI call failed on the client", why, sizeof why);
      pthread_mutex_lock(&p->mu);
      break_pool_locked(p, why, &fail);
      pthread_mutex_unlock(&p->mu);
      /* The first failure breaks the pool and the manager goes on, to
       * finish its sends and drain what the ranks still answer (a rank
       * blocked sending to us could not see the shutdown); one more
       * means MPI itself is unusable: the sends are given up. */
      if (mpi_failed) {
        for (size_t i = 0; i < nsends; i++)
          send_done(&sends[i]);
        nsends = 0;
      }
      mpi_failed = true;
      mrc = MPI_SUCCESS;
    }
    if (fail.head != NULL) {
      pthread_mutex_lock(&p->mu);
      p->failed += fail.n;
      const char *bm = p->broken_msg;
      pthread_mutex_unlock(&p->mu);
      /* Tasks still being sent are freed when their send ends
       * (task_done). */
      struct mtask *u;
      while ((u = ml_pop(&fail)) != NULL) {
        P->future_complete(u->f, CF_FINISHED, CF_EBROKEN, NULL, strdup(bm));
        cf_future_release(u->f);
        task_done(u);
      }
      progress = true;
    }
    /* Done? Every task answered and every send finished. */
    pthread_mutex_lock(&p->mu);
    bool idle = p->queue.head == NULL && p->inflight == 0 && nsends == 0;
    /* Every rank's READY is read before SHUTDOWN goes out, so that no
     * message is left behind on the communicator we free. */
    if (p->shutdown && idle && p->nreplied == p->nused) {
      pthread_mutex_unlock(&p->mu);
      break;
    }
    if (progress) {
      pthread_mutex_unlock(&p->mu);
      pace_reset(&pc, &p->o);
      continue;
    }
    /* Within spin_us of the last message or submit, look again at once (a
     * client submitting one task at a time finds us awake); then sleep,
     * until a submit when nothing is out, else in growing steps. */
    uint64_t ns = pace_next(&pc, &p->o);
    if (ns == 0) {
      pthread_mutex_unlock(&p->mu);
      sched_yield();
      continue;
    }
    p->sleeping = true;
    if (idle && p->nreplied == p->nused) {
      pthread_cond_wait(&p->cv, &p->mu);
      pace_reset(&pc, &p->o);
    } else {
      P->cond_wait_until(&p->cv, &p->mu, cf_now_ns() + ns);
    }
    p->sleeping = false;
    pthread_mutex_unlock(&p->mu);
  }
  /* Release every serving rank, used or not: each answers SHUTDOWN with
   * BYE once it has sent everything before it, and everything is read,
   * so that no rank is left blocked in a send and nothing is left on the
   * communicator. */
  int nbye = 0;
  for (int r = 0; r < p->size; r++) {
    if (r == p->root)
      continue;
    if (MPI_Send(NULL, 0, MPI_BYTE, r, T_SHUTDOWN, p->comm) == MPI_SUCCESS)
      nbye++;
  }
  struct pace w;
  pace_reset(&w, &p->o);
  int misses = 0;
  while (nbye > 0) {
    MPI_Status st;
    if (wait_message(MPI_ANY_SOURCE, p->comm, &st, &w, &p->o) != MPI_SUCCESS)
      break;
    /* Anything but BYE is a late answer of a broken pool, whose task
     * already failed. */
    if (recv_probed(p->comm, &st, &rb) != MPI_SUCCESS && ++misses > 100)
      break;
    if (st.MPI_TAG == T_BYE)
      nbye--;
    pace_reset(&w, &p->o);
  }
  MPI_Comm_free(&p->comm);
  free(sends);
  cf_buffer_free(&rb);
  pthread_mutex_lock(&p->mu);
  p->mgr_done = true;
  pthread_cond_broadcast(&p->done_cv);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* The executor calls                                                        */
/* ------------------------------------------------------------------------ */

static int mpi_submit_bytes(cf_executor *ex, cf_bytes_fn fn, const void *data,
                            size_t len, const double *timeout,
                            cf_future **out) {
  struct mpool *p = (struct mpool *)ex;
  /* A rank cannot be stopped mid-task: a task timeout cannot be kept. */
  if (timeout != NULL && *timeout > 0)
    return CF_ENOSYS;
  if (len > p->o.max_payload)
    return CF_ETOOBIG;
  const char *name;
  int rc0 = P->task_wire_name(fn, &name);
  if (rc0 != 0)
    return rc0;
  size_t nlen = strlen(name);
  struct mhdr h = {0, 0, (uint32_t)nlen};
  size_t mlen = sizeof h + nlen + len;
  struct mtask *t = malloc(sizeof *t + mlen);
  if (t == NULL)
    return CF_ENOMEM;
  memset(t, 0, sizeof *t);
  t->len = mlen;
  cf_future *f = P->future_alloc(ex, NULL, t);
  if (f == NULL) {
    free(t);
    return CF_ENOMEM;
  }
  f->value_free = free;
  t->f = f;
  memcpy(t->msg + sizeof h, name, nlen);
  if (len)
    memcpy(t->msg + sizeof h + nlen, data, len);
  if (out != NULL)
    cf_future_retain(f);
  pthread_mutex_lock(&p->mu);
  int rc = p->broken ? CF_EBROKEN : p->shutdown ? CF_ESHUTDOWN : 0;
  bool wake = false;
  if (rc == 0) {
    t->id = h.id = ++p->next_id;
    memcpy(t->msg, &h, sizeof h);
    t->in_queue = true;
    ml_push(&p->queue, t);
    p->submitted++;
    wake = p->sleeping;
  }
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
    pthread_cond_signal(&p->cv);
  if (out != NULL)
    *out = f;
  return 0;
}

static int mpi_submit(cf_executor *ex, cf_future *f) {
  (void)ex;
  (void)f;
  return CF_EINVAL; /* ranks run byte tasks only */
}

static bool mpi_cancel(cf_executor *ex, cf_future *f) {
  struct mpool *p = (struct mpool *)ex;
  pthread_mutex_lock(&p->mu);
  struct mtask *t = cf__state(f) == CF_PENDING ? f->arg : NULL;
  if (t != NULL && t->in_queue && ml_remove(&p->queue, t)) {
    t->in_queue = false;
    f->arg = NULL;
    p->cancelled++;
  } else {
    t = NULL;
  }
  pthread_mutex_unlock(&p->mu);
  if (t == NULL)
    return false;
  bool ok = P->future_cancel_pending(f);
  cf_future_release(f);
  free(t);
  return ok;
}

static int mpi_shutdown(cf_executor *ex, unsigned flags) {
  struct mpool *p = (struct mpool *)ex;
  struct mlist cancelled = {0};
  pthread_mutex_lock(&p->mu);
  p->shutdown = true;
  if (flags & CF_SHUTDOWN_CANCEL_FUTURES) {
    struct mtask *t;
    while ((t = ml_pop(&p->queue)) != NULL) {
      t->in_queue = false;
      t->f->arg = NULL;
      p->cancelled++;
      ml_push(&cancelled, t);
    }
  }
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  struct mtask *t;
  while ((t = ml_pop(&cancelled)) != NULL) {
    P->future_complete(t->f, CF_CANCELLED, CF_ECANCELED, NULL, NULL);
    cf_future_release(t->f);
    free(t);
  }
  if (!(flags & CF_SHUTDOWN_WAIT))
    return 0;
  if (tls_manager_of == p)
    return CF_EDEADLK; /* a done callback on the manager thread */
  pthread_mutex_lock(&p->mu);
  while (!p->mgr_done)
    pthread_cond_wait(&p->done_cv, &p->mu);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

static void live_remove(struct mpool *p) {
  pthread_mutex_lock(&live_mu);
  for (struct mpool **pp = &live; *pp; pp = &(*pp)->live_next)
    if (*pp == p) {
      *pp = p->live_next;
      break;
    }
  pthread_mutex_unlock(&live_mu);
}

static void mpi_destroy(cf_executor *ex) {
  struct mpool *p = (struct mpool *)ex;
  live_remove(p);
  if (!p->joined)
    pthread_join(p->mgr, NULL);
  free(p->ranks);
  pthread_cond_destroy(&p->cv);
  pthread_cond_destroy(&p->done_cv);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

static int mpi_stats(cf_executor *ex, cf_executor_stats *out) {
  struct mpool *p = (struct mpool *)ex;
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&p->mu);
  out->workers = (size_t)p->nready;
  for (int r = 0; r < p->size; r++)
    if (p->ranks[r].ready && p->ranks[r].fl.n == 0)
      out->idle++;
  out->queued = p->queue.n;
  out->running = p->inflight;
  for (int r = 0; r < p->size; r++)
    out->max_workers += p->ranks[r].used;
  out->submitted = p->submitted;
  out->completed = p->completed;
  out->failed = p->failed;
  out->cancelled = p->cancelled;
  pthread_mutex_unlock(&p->mu);
  return 0;
}

static bool mpi_is_worker_thread(cf_executor *ex) {
  return tls_manager_of == (struct mpool *)ex;
}

static size_t mpi_map_window(cf_executor *ex, size_t chunksize) {
  struct mpool *p = (struct mpool *)ex;
  size_t w = 0;
  for (int r = 0; r < p->size; r++)
    w += p->ranks[r].used;
  return 2 * w * (chunksize == 1 ? p->o.pipeline_depth : 1);
}

/* A thread waiting on one of the pool's futures polls it for a while
 * first: the answer of a short task is microseconds away, and sleeping
 * would cost two context switches per future. The ranks are other
 * processes, so nothing here knows how busy the CPUs are: the poll is
 * allowed, and cf__spin_until (spin.c), told a CPU is free, does not yield;
 * it lasts at most spin_us. */
static bool mpi_cpu_to_spare(cf_executor *ex) {
  (void)ex;
  return true;
}

static bool mpi_by_name(cf_executor *ex) {
  (void)ex;
  return true;
}

static const struct cf__executor_vtable mpi_vt = {
    .kind = "mpi_pool",
    .submit = mpi_submit,
    .shutdown = mpi_shutdown,
    .destroy = mpi_destroy,
    .stats = mpi_stats,
    .cancel = mpi_cancel,
    .is_worker_thread = mpi_is_worker_thread,
    .submit_bytes = mpi_submit_bytes,
    .map_window = mpi_map_window,
    .by_name = mpi_by_name,
    .cpu_to_spare = mpi_cpu_to_spare,
};

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

void cf_mpi_pool_options_init(cf_mpi_pool_options *o) {
  if (o == NULL)
    return;
  memset(o, 0, sizeof *o);
  o->comm = MPI_COMM_WORLD;
  o->root = 0;
  o->max_payload = (size_t)256 << 20;
  o->pipeline_depth = 8;
  o->spin_us = 1000;
  o->poll_max_us = 1000;
}

/* At exit: pools the program left open are shut down (which releases
 * their serving ranks), then MPI is finalised if the pool initialised it. */
static void at_exit(void) {
  for (;;) {
    pthread_mutex_lock(&live_mu);
    struct mpool *p = live;
    if (p != NULL)
      live = p->live_next;
    pthread_mutex_unlock(&live_mu);
    if (p == NULL)
      break;
    if (tls_manager_of != p &&
        mpi_shutdown(&p->base, CF_SHUTDOWN_WAIT | CF_SHUTDOWN_CANCEL_FUTURES) ==
            0) {
      /* Joined, not freed: the program may still hold the pointer. */
      pthread_join(p->mgr, NULL);
      p->joined = true;
    }
  }
  int fin = 1;
  if (we_initialized && MPI_Finalized(&fin) == MPI_SUCCESS && !fin)
    MPI_Finalize();
}

/* Makes sure MPI is usable from several threads. 0 or CF_ENOSYS. */
static int mpi_ready(void) {
  int init = 0, fin = 0, provided = MPI_THREAD_SINGLE;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (fin)
    return CF_ENOSYS;
  if (!init) {
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) !=
        MPI_SUCCESS)
      return CF_ENOSYS;
    we_initialized = true;
  } else {
    MPI_Query_thread(&provided);
  }
  pthread_mutex_lock(&live_mu);
  if (!exit_handler_set && atexit(at_exit) == 0)
    exit_handler_set = true;
  pthread_mutex_unlock(&live_mu);
  return provided >= MPI_THREAD_MULTIPLE ? 0 : CF_ENOSYS;
}

int cf_mpi_pool_new(const cf_mpi_pool_options *opts, cf_executor **out) {
  cf_mpi_pool_options o;
  if (opts == NULL)
    cf_mpi_pool_options_init(&o);
  else
    o = *opts;
  if (o.comm == MPI_COMM_NULL)
    return CF_EINVAL;
  if (P == NULL && (P = cf_private_api(CF__PRIVATE_ABI)) == NULL)
    return CF_ENOSYS;
  int rc = mpi_ready();
  if (rc == CF_ENOSYS) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (fin)
      return rc; /* no collective is possible any more */
  }
  int size = 0, me = 0;
  if (MPI_Comm_size(o.comm, &size) != MPI_SUCCESS ||
      MPI_Comm_rank(o.comm, &me) != MPI_SUCCESS)
    return CF_EINVAL;
  if (rc == 0 && (out == NULL || size < 2 || o.root < 0 || o.root >= size ||
                  o.max_workers < 0 || o.pipeline_depth < 1 ||
                  o.poll_max_us < 1 || o.max_payload > PAYLOAD_LIMIT ||
                  (o.initargs == NULL && o.initargs_len > 0)))
    rc = CF_EINVAL;
  struct mpool *p = NULL;
  if (rc == 0) {
    p = calloc(1, sizeof *p);
    if (p != NULL)
      p->ranks = calloc((size_t)size, sizeof *p->ranks);
    if (p == NULL || p->ranks == NULL) {
      if (p != NULL)
        free(p);
      p = NULL;
      rc = CF_ENOMEM;
    }
  }
  /* Agree: the most negative code any rank saw (0 if none). */
  int agreed = rc;
  if (MPI_Allreduce(&rc, &agreed, 1, MPI_INT, MPI_MIN, o.comm) != MPI_SUCCESS)
    agreed = CF_EBROKEN;
  if (agreed != 0) {
    if (p != NULL) {
      free(p->ranks);
      free(p);
    }
    return rc != 0 ? rc : agreed;
  }
  p->base.vt = &mpi_vt;
  p->base.spin_us = 50;
  p->o = o;
  p->size = size;
  p->root = o.root;
  int workers =
      o.max_workers == 0 || o.max_workers > size - 1 ? size - 1 : o.max_workers;
  for (int r = 0, n = 0; r < size && n < workers; r++)
    if (r != o.root) {
      p->ranks[r].used = true;
      p->nused = ++n;
    }
  pthread_mutex_init(&p->mu, NULL);
  P->cond_init(&p->cv);
  P->cond_init(&p->done_cv);
  if (MPI_Comm_dup(o.comm, &p->comm) != MPI_SUCCESS) {
    /* Collective, so every rank fails it alike. */
    free(p->ranks);
    free(p);
    return CF_EBROKEN;
  }
  MPI_Comm_set_errhandler(p->comm, MPI_ERRORS_RETURN);
  if (me != o.root) {
    rc = serve(p, p->ranks[me].used);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->ranks);
    free(p);
    *out = NULL;
    return rc;
  }
  if (pthread_create(&p->mgr, NULL, manager_main, p) != 0) {
    /* Nobody will run the pool: release the serving ranks ourselves. */
    p->shutdown = true;
    for (int r = 0; r < size; r++)
      if (r != o.root)
        MPI_Send(NULL, 0, MPI_BYTE, r, T_SHUTDOWN, p->comm);
    MPI_Comm_free(&p->comm);
    free(p->ranks);
    free(p);
    return CF_EAGAIN;
  }
  pthread_mutex_lock(&live_mu);
  p->live_next = live;
  live = p;
  pthread_mutex_unlock(&live_mu);
  *out = &p->base;
  return 0;
}
