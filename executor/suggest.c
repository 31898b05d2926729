/* SPDX-License-Identifier: MIT */
/*
 * "Did you mean": the candidate nearest to a mistyped word, by edit
 * distance with adjacent transpositions counted as one edit ("rnu" is one
 * edit from "run"), so a slip of the fingers finds its word and a
 * different word finds nothing.
 */
#include "executor.h"

#include <string.h>

/* Only short words are compared: commands and option names. */
#define MAX_WORD 64

static size_t min3(size_t a, size_t b, size_t c) {
  size_t m = a < b ? a : b;
  return m < c ? m : c;
}

/* Optimal string alignment distance over three rows of the usual table. */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > MAX_WORD || lb > MAX_WORD)
    return (size_t)-1;
  size_t rows[3][MAX_WORD + 1];
  size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
  for (size_t j = 0; j <= lb; j++)
    prev[j] = j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cost = a[i - 1] != b[j - 1];
      cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          prev2[j - 2] + 1 < cur[j])
        cur[j] = prev2[j - 2] + 1;
    }
    size_t *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[lb];
}

const char *ex_suggest(const char *word, const char *const *candidates) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (const char *const *c = candidates; *c != NULL; c++) {
    size_t d = distance(word, *c);
    /* One edit in a word of three letters or fewer, two in longer ones. */
    size_t limit = strlen(*c) <= 3 ? 1 : 2;
    if (d <= limit && d < best_d) {
      best = *c;
      best_d = d;
    }
  }
  return best;
}
