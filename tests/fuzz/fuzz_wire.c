/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the process pool's frame decoder (lib/wire.c).
 *
 * Built with clang -fsanitize=fuzzer,address,undefined by
 * tests/fuzz/run.sh; built without libFuzzer (CF_FUZZ_REPLAY) it is the
 * fuzz_wire_replay program that CTest runs over the checked-in corpus plus
 * seeded mutations of it.
 *
 * For every input and a range of payload limits it checks what the reader
 * in lib/process_pool.c relies on: the decoder returns one of its four
 * codes; a frame it accepts lies inside the input, its lengths add up and
 * its payload is within the limit; a declared length above the limit is
 * refused before a caller could size a buffer from it (a frame that needs
 * more bytes never asks for more than header + message cap + limit); a
 * truncated frame asks for more; re-encoding an accepted header gives back
 * its bytes. Any violation aborts, which libFuzzer reports. */
#include "wire.h"

#include <cfutures.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond)                                                          \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_wire: %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
      abort();                                                                 \
    }                                                                          \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every accepted frame's bytes, so that ASan sees any read outside
 * the input. */
static unsigned touch(const void *p, size_t n) {
  const unsigned char *c = p;
  unsigned sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += c[i];
  return sum;
}

static volatile unsigned sink;

static void check_one(const uint8_t *data, size_t size, uint64_t limit) {
  struct cf__wire_hdr h;
  memset(&h, 0xa5, sizeof h);
  const void *msg = (void *)1, *payload = (void *)1;
  size_t fl = (size_t)-1;
  int rc = cf__wire_decode(data, size, limit, &h, &msg, &payload, &fl);
  REQUIRE(rc == 0 || rc == CF_EAGAIN || rc == CF_EPROTO || rc == CF_ETOOBIG);
  if (rc == CF_EAGAIN && size >= CF__WIRE_HDR_SIZE) {
    /* The header was valid: what it asks for is bounded by the limit. */
    REQUIRE(fl > size);
    REQUIRE(fl <= (uint64_t)CF__WIRE_HDR_SIZE + CF__WIRE_MSG_MAX + limit);
  }
  if (rc != 0)
    return;
  bool shm = (h.flags & CF__WF_SHM) != 0;
  REQUIRE(h.magic == CF__WIRE_MAGIC && h.version == CF__WIRE_VERSION);
  REQUIRE(h.len <= limit);
  REQUIRE(h.msg_len <= CF__WIRE_MSG_MAX);
  REQUIRE(fl <= size);
  REQUIRE(fl == CF__WIRE_HDR_SIZE + h.msg_len + (shm ? 0 : h.len));
  REQUIRE((msg == NULL) == (h.msg_len == 0));
  REQUIRE((payload == NULL) == (shm || h.len == 0));
  if (msg != NULL) {
    REQUIRE((const uint8_t *)msg == data + CF__WIRE_HDR_SIZE);
    sink += touch(msg, h.msg_len);
  }
  if (payload != NULL) {
    REQUIRE((const uint8_t *)payload == data + CF__WIRE_HDR_SIZE + h.msg_len);
    sink += touch(payload, h.len);
  }
  if (shm)
    REQUIRE(h.region >= 64 && h.len <= h.region - 64);
  unsigned char again[CF__WIRE_HDR_SIZE];
  cf__wire_encode(again, &h);
  REQUIRE(memcmp(again, data, CF__WIRE_HDR_SIZE) == 0);
  /* One byte short of the frame is "need more", never a frame. */
  struct cf__wire_hdr h2;
  size_t fl2 = 0;
  int rc2 = cf__wire_decode(data, fl - 1, limit, &h2, NULL, NULL, &fl2);
  REQUIRE(rc2 == CF_EAGAIN);
  if (fl - 1 >= CF__WIRE_HDR_SIZE)
    REQUIRE(fl2 == fl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The pool's max_payload is at most 1 TiB (cf_process_pool_new refuses
   * more). Above SIZE_MAX - header - message cap the decoder's frame length
   * wraps: it is not a limit the pool can be given. */
  static const uint64_t limits[] = {0, 1, 4096, (uint64_t)1 << 30,
                                    (uint64_t)1 << 40};
  for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
    check_one(data, size, limits[i]);
  /* A stream: frames back to back, as the reader walks its buffer. */
  size_t off = 0;
  while (off < size) {
    struct cf__wire_hdr h;
    size_t fl = 0;
    if (cf__wire_decode(data + off, size - off, (uint64_t)1 << 30, &h, NULL,
                        NULL, &fl) != 0)
      break;
    REQUIRE(fl >= CF__WIRE_HDR_SIZE && fl <= size - off);
    off += fl;
  }
  return 0;
}
