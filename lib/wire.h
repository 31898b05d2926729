/* SPDX-License-Identifier: MIT */
/*
 * The framed protocol between a process pool and its workers.
 *
 * Every message on a worker's socket is a frame: a fixed 48-byte header,
 * then msg_len bytes of message, then (unless the payload travels in shared
 * memory) len bytes of payload. Both ends run the same binary on the same
 * machine, so fields are in native byte order; the magic and version still
 * catch a stream that lost its framing. The decoder is a pure function over
 * bytes: it checks every field, and the lengths against a limit, before a
 * caller allocates anything for the frame.
 */
#ifndef CF_WIRE_H
#define CF_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define CF__WIRE_MAGIC 0x57464321u /* "!CFW" */
#define CF__WIRE_VERSION 1
#define CF__WIRE_HDR_SIZE 48
/* Longest task message carried back; longer ones are cut. */
#define CF__WIRE_MSG_MAX 4096u
/* Longest task name a TASK frame carries as its message (workers that are
 * not forks of the pool find the function by name: registry.h). */
#define CF__WIRE_NAME_MAX 127u

enum cf__wire_op {
  CF__OP_TASK = 1,      /* parent -> worker: run fn (aux, or the task named
                           by the message) on the payload */
  CF__OP_RESULT = 2,    /* worker -> parent: outcome of the oldest task */
  CF__OP_READY = 3,     /* worker -> parent: the initializer succeeded */
  CF__OP_INIT_FAIL = 4, /* worker -> parent: the initializer failed (err) */
  CF__OP_MARKS = 5,     /* parent -> worker, first: the worker's begin marks
                           (process_pool.c), `region` bytes at offset `aux`
                           of the shared memory whose descriptor comes with
                           it (CF__WF_SHM | CF__WF_NEWFD) */
};

enum cf__wire_flag {
  /* The payload is in the sender's shared memory region, of `region`
   * bytes, after its 64-byte header. */
  CF__WF_SHM = 1u << 0,
  /* A new region descriptor comes with this frame (SCM_RIGHTS). */
  CF__WF_NEWFD = 1u << 1,
  /* RESULT: the worker retires after this task (memory limit). */
  CF__WF_RETIRE = 1u << 2,
  /* RESULT, empty: the worker skipped the task, which the pool withdrew
   * before it began (process_pool.c). */
  CF__WF_SKIPPED = 1u << 3,
};
/* With CF__WF_SHM, bits 8-11 of flags name which of the sender's regions
 * holds the payload: one of the pool's CF__WIRE_TASK_SLOTS for a TASK, one
 * of the worker's CF__WIRE_SLOTS for a RESULT. */
#define CF__WF_SLOT_SHIFT 8
#define CF__WF_SLOT_MASK (15u << CF__WF_SLOT_SHIFT)
#define CF__WIRE_SLOTS 4
#define CF__WIRE_TASK_SLOTS 16

struct cf__wire_hdr {
  uint32_t magic;
  uint8_t version;
  uint8_t op;
  uint16_t flags;
  int32_t err;      /* RESULT/INIT_FAIL: 0 or a negative code */
  uint32_t msg_len; /* message bytes after the header */
  uint64_t id;      /* task id, echoed in its RESULT */
  uint64_t len;     /* payload bytes */
  uint64_t aux;     /* TASK: the function's address; MARKS: an offset */
  uint64_t region;  /* SHM: the size of the sender's region */
};

/* Writes h into buf[0..CF__WIRE_HDR_SIZE). */
void cf__wire_encode(void *buf, const struct cf__wire_hdr *h);

/*
 * Decodes the frame at buf[0..avail). Returns 0 with *h, *msg (NULL when
 * msg_len is 0), *payload (NULL for a shared-memory or empty payload) and
 * *frame_len (bytes the frame takes in buf) when it is complete and valid;
 * CF_EAGAIN (-11) when more bytes are needed (*frame_len, if the header
 * was complete, says how many in all); CF_EPROTO (-71) for a bad magic,
 * version, op, flag, error code or message length; CF_ETOOBIG (-4004) for
 * a payload above max_payload. Never allocates, never reads past avail.
 */
int cf__wire_decode(const void *buf, size_t avail, uint64_t max_payload,
                    struct cf__wire_hdr *h, const void **msg,
                    const void **payload, size_t *frame_len);

#endif /* CF_WIRE_H */
