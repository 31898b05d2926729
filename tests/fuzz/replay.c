/* SPDX-License-Identifier: MIT */
/* Replays a libFuzzer corpus through a target without libFuzzer: every
 * file named on the command line (directories are walked one level), then
 * seeded mutations of them (bit flips, truncations, splices, boundary
 * lengths), so that CTest exercises the target under every build. Prints
 * the number of executions. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint8_t *data;
  size_t len;
} input;

static input *inputs;
static size_t ninputs, cap;

static void add_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return;
  uint8_t *buf = NULL;
  size_t len = 0, room = 0;
  for (;;) {
    if (len == room) {
      room = room ? room * 2 : 4096;
      uint8_t *nb = realloc(buf, room);
      if (nb == NULL) {
        free(buf);
        fclose(f);
        return;
      }
      buf = nb;
    }
    size_t n = fread(buf + len, 1, room - len, f);
    if (n == 0)
      break;
    len += n;
  }
  fclose(f);
  if (ninputs == cap) {
    cap = cap ? cap * 2 : 64;
    input *ni = realloc(inputs, cap * sizeof *ni);
    if (ni == NULL) {
      free(buf);
      return;
    }
    inputs = ni;
  }
  inputs[ninputs++] = (input){buf, len};
}

static void add_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    add_file(path);
    return;
  }
  DIR *d = opendir(path);
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", path, e->d_name);
    add_file(full);
  }
  if (d != NULL)
    closedir(d);
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Runs the target on a copy of exactly len bytes on the heap, so that
 * AddressSanitizer sees any read past the end. */
static int run_exact(const uint8_t *data, size_t len) {
  uint8_t *exact = malloc(len ? len : 1);
  if (exact == NULL)
    return -1;
  if (len)
    memcpy(exact, data, len);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

int main(int argc, char **argv) {
  long mutations = 20000;
  const char *m = getenv("CF_FUZZ_MUTATIONS");
  if (m != NULL)
    mutations = atol(m);
  for (int i = 1; i < argc; i++)
    add_path(argv[i]);
  if (ninputs == 0) {
    fprintf(stderr, "replay: no corpus\n");
    return 2;
  }
  long execs = 0;
  for (size_t i = 0; i < ninputs; i++, execs++)
    if (run_exact(inputs[i].data, inputs[i].len) != 0)
      return 1;
  static const uint64_t edges[] = {
      0, 1, 63, 64, 4096, 4097, 1u << 30, UINT64_MAX, (uint64_t)1 << 63};
  uint8_t buf[8192];
  for (long r = 0; r < mutations; r++, execs++) {
    input *a = &inputs[next() % ninputs];
    size_t len = a->len < sizeof buf ? a->len : sizeof buf;
    memcpy(buf, a->data, len);
    switch (next() % 5) {
    case 0: /* flip bits */
      for (int k = 0; k < 1 + (int)(next() % 4) && len; k++)
        buf[next() % len] ^= (uint8_t)(1u << (next() % 8));
      break;
    case 1: /* truncate */
      len = len ? next() % len : 0;
      break;
    case 2: { /* a boundary value in a 64-bit field of the header */
      size_t at = 16 + 8 * (next() % 4);
      uint64_t v = edges[next() % (sizeof edges / sizeof edges[0])];
      if (len >= at + 8)
        memcpy(buf + at, &v, 8);
      break;
    }
    case 3: { /* a boundary value in msg_len or err */
      uint32_t v = (uint32_t)edges[next() % 6] + (uint32_t)(next() % 3) - 1;
      size_t at = next() % 2 ? 12 : 8;
      if (len >= at + 4)
        memcpy(buf + at, &v, 4);
      break;
    }
    default: { /* splice another input behind this one */
      input *b = &inputs[next() % ninputs];
      size_t n = b->len < sizeof buf - len ? b->len : sizeof buf - len;
      memcpy(buf + len, b->data, n);
      len += n;
      break;
    }
    }
    if (run_exact(buf, len) != 0)
      return 1;
  }
  printf("replayed %zu corpus inputs, %ld executions in all\n", ninputs, execs);
  for (size_t i = 0; i < ninputs; i++)
    free(inputs[i].data);
  free(inputs);
  return 0;
}
