/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the parts of `cfutures run` that read untrusted input:
 * record splitting, replacement strings and shell quoting. It checks, for
 * any bytes:
 *  - splitting then re-joining the records gives the input back;
 *  - substitution never reads or writes out of bounds (under ASan), and a
 *    word without '{' comes back unchanged;
 *  - quoting round-trips through a POSIX-shell reading of the three forms
 *    it emits, and never leaves a raw control character (one word stays on
 *    one line).
 * Built with -DEX_LIBFUZZER -fsanitize=fuzzer it is a libFuzzer target;
 * otherwise main() replays the files it is given, then runs a fixed,
 * seeded stream of random inputs (what CTest runs, in every build).
 */
#include "executor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_subst: check failed: %s (line %d)\n", #cond,       \
              __LINE__);                                                       \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* Reads back what ex_buf_quote writes: bare words, '...' (with '\''
 * between pieces) and $'...' with \n \t \\ \' \xHH escapes. */
static char *unquote(const char *q) {
  char *out = malloc(strlen(q) + 1), *o = out;
  CHECK(out != NULL);
  const char *p = q;
  while (*p) {
    if (p[0] == '$' && p[1] == '\'') {
      p += 2;
      while (*p && *p != '\'') {
        if (*p == '\\') {
          p++;
          if (*p == 'n')
            *o++ = '\n';
          else if (*p == 't')
            *o++ = '\t';
          else if (*p == 'x') {
            unsigned v;
            CHECK(sscanf(p + 1, "%2x", &v) == 1);
            *o++ = (char)v;
            p += 2;
          } else
            *o++ = *p;
          p++;
        } else {
          *o++ = *p++;
        }
      }
      CHECK(*p == '\'');
      p++;
    } else if (*p == '\'') {
      p++;
      while (*p && *p != '\'')
        *o++ = *p++;
      CHECK(*p == '\'');
      p++;
    } else if (*p == '\\') {
      CHECK(p[1] != '\0');
      *o++ = p[1];
      p += 2;
    } else {
      *o++ = *p++;
    }
  }
  *o = '\0';
  return out;
}

static void check_quote(const char *s) {
  ex_buf b = {0};
  CHECK(ex_buf_quote(&b, s) == 0);
  for (size_t i = 0; i < b.len; i++)
    CHECK((unsigned char)b.data[i] >= 0x20 && b.data[i] != 0x7f);
  char *back = unquote(b.data);
  CHECK(strcmp(back, s) == 0);
  free(back);
  ex_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  if (size == 0)
    return 0;
  /* Records: split on the first byte's choice of separator. */
  char sep = (data[0] & 1) ? '\0' : '\n';
  char *copy = malloc(size + 1);
  CHECK(copy != NULL);
  memcpy(copy, data + 1, size - 1);
  copy[size - 1] = '\0';
  const char **items;
  size_t n;
  CHECK(ex_split_records(copy, size - 1, sep, &items, &n) == 0);
  ex_buf joined = {0};
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(items[i]);
    CHECK(items[i] >= copy && items[i] + len <= copy + size - 1);
    ex_buf_append(&joined, items[i], len);
    if (i + 1 < n || (size > 1 && data[size - 1] == (unsigned char)sep))
      ex_buf_append(&joined, &sep, 1);
  }
  /* Embedded NULs in newline mode cut a record short: compare only then. */
  if (sep == '\0' || memchr(data + 1, '\0', size - 1) == NULL)
    CHECK(joined.len == size - 1 &&
          (size == 1 || memcmp(joined.data, data + 1, size - 1) == 0));
  ex_buf_free(&joined);

  /* Substitution: record 0 is the command word, the rest its arguments. */
  if (n >= 1) {
    size_t nargs = n - 1 > 4 ? 4 : n - 1;
    const char *none[1] = {""};
    for (int quote = 0; quote < 2; quote++) {
      ex_subst c = {nargs ? items + 1 : none, nargs ? nargs : 1, n, 3, quote};
      ex_buf b = {0};
      int used = 0;
      CHECK(ex_subst_word(items[0], &c, &b, &used) == 0);
      if (strchr(items[0], '{') == NULL)
        CHECK(!used && strcmp(b.data ? b.data : "", items[0]) == 0);
      ex_buf_free(&b);
    }
    for (size_t i = 0; i < n && i < 8; i++)
      check_quote(items[i]);
  }
  free(items);
  free(copy);
  return 0;
}

#ifndef EX_LIBFUZZER
static unsigned long long rng = 0x9e3779b97f4a7c15ull;

static unsigned next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng >> 11);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (f == NULL) {
      perror(argv[i]);
      return 1;
    }
    static unsigned char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
  }
  /* Mostly the characters the parsers care about, some of any byte. */
  static const char alphabet[] = "{}{}./%#0123456789 '\"\\$`;|&\n\t\001\177a";
  unsigned char buf[256];
  long rounds = argc > 1 ? 0 : 200000;
  for (long r = 0; r < rounds; r++) {
    size_t len = next() % sizeof buf;
    for (size_t i = 0; i < len; i++) {
      unsigned x = next();
      buf[i] = (x & 7) == 0
                   ? (unsigned char)(x >> 3)
                   : (unsigned char)alphabet[(x >> 3) % (sizeof alphabet - 1)];
    }
    LLVMFuzzerTestOneInput(buf, len);
  }
  puts("ok");
  return 0;
}
#endif
