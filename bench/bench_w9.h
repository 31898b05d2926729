/* SPDX-License-Identifier: MIT */
/*
 * W9, fork-join: what every implementation shares, so that each runs the
 * same serial code below its cutoff and reports the same cases. C and C++
 * (the oneTBB peer includes it too).
 *
 * fib(n): above the cutoff a call submits fib(n-1), computes fib(n-2)
 * itself and waits for the child. quicksort: a Hoare partition, the left
 * part submitted, the right part sorted by the caller, then a wait; parts
 * of at most W9_SORT_CUTOFF ints are sorted serially.
 */
#ifndef CF_BENCH_W9_H
#define CF_BENCH_W9_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define W9_FIB_N 38
#define W9_FIB_N_QUICK 32
#define W9_SORT_N 10000000L
#define W9_SORT_N_QUICK 1000000L
#define W9_SORT_CUTOFF 10000L

static const int w9_cutoffs[] = {15, 20, 25};
#define W9_NCUTOFFS 3

static inline long w9_fib(int n) {
  return n < 2 ? n : w9_fib(n - 1) + w9_fib(n - 2);
}

/* The same pseudo-random ints every time (an LCG). */
static inline void w9_fill(int *v, long n) {
  uint64_t x = 88172645463325252ull;
  for (long i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    v[i] = (int)(x >> 33);
  }
}

/* Partitions v[0..n) (n >= 2) around its middle element: afterwards
 * v[0..k) <= pivot <= v[k..n), 0 < k < n. */
static inline long w9_partition(int *v, long n) {
  int pivot = v[n / 2];
  long i = -1, j = n;
  for (;;) {
    do
      i++;
    while (v[i] < pivot);
    do
      j--;
    while (v[j] > pivot);
    if (i >= j)
      return j + 1;
    int t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

static inline void w9_sort_serial(int *v, long n) {
  while (n > 1) {
    if (n <= 16) {
      for (long i = 1; i < n; i++) {
        int x = v[i];
        long j = i;
        for (; j > 0 && v[j - 1] > x; j--)
          v[j] = v[j - 1];
        v[j] = x;
      }
      return;
    }
    long k = w9_partition(v, n);
    w9_sort_serial(v, k);
    v += k;
    n -= k;
  }
}

/* 0 if v[0..n) is sorted. */
static inline int w9_check_sorted(const int *v, long n) {
  for (long i = 1; i < n; i++)
    if (v[i - 1] > v[i]) {
      fprintf(stderr, "W9: not sorted at %ld\n", i);
      return -1;
    }
  return 0;
}

#endif /* CF_BENCH_W9_H */
