/* SPDX-License-Identifier: MIT */
/* The frame encoder and checked decoder (see wire.h). */
#include "wire.h"

#include "cfutures.h"

#include <string.h>

void cf__wire_encode(void *buf, const struct cf__wire_hdr *h) {
  unsigned char *p = buf;
  memcpy(p + 0, &h->magic, 4);
  p[4] = h->version;
  p[5] = h->op;
  memcpy(p + 6, &h->flags, 2);
  memcpy(p + 8, &h->err, 4);
  memcpy(p + 12, &h->msg_len, 4);
  memcpy(p + 16, &h->id, 8);
  memcpy(p + 24, &h->len, 8);
  memcpy(p + 32, &h->aux, 8);
  memcpy(p + 40, &h->region, 8);
}

static int check_header(const struct cf__wire_hdr *h, uint64_t max_payload) {
  if (h->magic != CF__WIRE_MAGIC || h->version != CF__WIRE_VERSION)
    return CF_EPROTO;
  if (h->msg_len > CF__WIRE_MSG_MAX)
    return CF_EPROTO;
  /* Whatever the limit, a length that would wrap the frame's size is a
   * lie: refuse it before any sum is formed. */
  if (h->len > UINT64_MAX - CF__WIRE_HDR_SIZE - CF__WIRE_MSG_MAX)
    return CF_ETOOBIG;
  unsigned allowed;
  switch (h->op) {
  case CF__OP_TASK:
    allowed = CF__WF_SHM | CF__WF_NEWFD;
    if (h->err != 0 || h->msg_len > CF__WIRE_NAME_MAX || h->aux == 0)
      return CF_EPROTO;
    break;
  case CF__OP_RESULT:
    allowed = CF__WF_SHM | CF__WF_NEWFD | CF__WF_RETIRE | CF__WF_SKIPPED;
    if (h->err > 0 || (h->err != 0 && h->len != 0))
      return CF_EPROTO;
    if ((h->flags & CF__WF_SKIPPED) &&
        (h->flags != CF__WF_SKIPPED || h->err != 0 || h->len != 0 ||
         h->msg_len != 0))
      return CF_EPROTO;
    break;
  case CF__OP_READY:
    allowed = 0;
    if (h->err != 0 || h->msg_len != 0 || h->len != 0)
      return CF_EPROTO;
    break;
  case CF__OP_INIT_FAIL:
    allowed = 0;
    if (h->err >= 0 || h->len != 0)
      return CF_EPROTO;
    break;
  case CF__OP_MARKS:
    allowed = CF__WF_SHM | CF__WF_NEWFD;
    if (h->flags != allowed || h->err != 0 || h->msg_len != 0 || h->len != 0)
      return CF_EPROTO;
    break;
  default:
    return CF_EPROTO;
  }
  if (h->op == CF__OP_TASK || h->op == CF__OP_RESULT)
    allowed |= CF__WF_SLOT_MASK;
  if (h->flags & ~allowed)
    return CF_EPROTO;
  if ((h->flags & CF__WF_SLOT_MASK) && !(h->flags & CF__WF_SHM))
    return CF_EPROTO;
  if (h->op == CF__OP_RESULT &&
      (h->flags & CF__WF_SLOT_MASK) >> CF__WF_SLOT_SHIFT >= CF__WIRE_SLOTS)
    return CF_EPROTO;
  if ((h->flags & CF__WF_NEWFD) && !(h->flags & CF__WF_SHM))
    return CF_EPROTO;
  if (!(h->flags & CF__WF_SHM) && h->region != 0)
    return CF_EPROTO;
  if (h->len > max_payload)
    return CF_ETOOBIG;
  /* A shared-memory payload starts after the region's 64-byte header. */
  if ((h->flags & CF__WF_SHM) && (h->region < 64 || h->len > h->region - 64))
    return CF_EPROTO;
  return 0;
}

int cf__wire_decode(const void *buf, size_t avail, uint64_t max_payload,
                    struct cf__wire_hdr *h, const void **msg,
                    const void **payload, size_t *frame_len) {
  if (avail < CF__WIRE_HDR_SIZE)
    return CF_EAGAIN;
  const unsigned char *p = buf;
  struct cf__wire_hdr d;
  memcpy(&d.magic, p + 0, 4);
  d.version = p[4];
  d.op = p[5];
  memcpy(&d.flags, p + 6, 2);
  memcpy(&d.err, p + 8, 4);
  memcpy(&d.msg_len, p + 12, 4);
  memcpy(&d.id, p + 16, 8);
  memcpy(&d.len, p + 24, 8);
  memcpy(&d.aux, p + 32, 8);
  memcpy(&d.region, p + 40, 8);
  int rc = check_header(&d, max_payload);
  if (rc != 0)
    return rc;
  /* check_header bounds both terms, so the sum cannot wrap; on a 32-bit
   * size_t, refuse what cannot be addressed. */
  uint64_t inline_len = (d.flags & CF__WF_SHM) ? 0 : d.len;
  uint64_t total = (uint64_t)CF__WIRE_HDR_SIZE + d.msg_len + inline_len;
  if (total > (uint64_t)SIZE_MAX)
    return CF_ETOOBIG;
  if (frame_len != NULL)
    *frame_len = (size_t)total;
  if (avail < total)
    return CF_EAGAIN;
  *h = d;
  if (msg != NULL)
    *msg = d.msg_len ? p + CF__WIRE_HDR_SIZE : NULL;
  if (payload != NULL)
    *payload = inline_len ? p + CF__WIRE_HDR_SIZE + d.msg_len : NULL;
  return 0;
}
