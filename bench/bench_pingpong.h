/* SPDX-License-Identifier: MIT */
/*
 * A thread ping-pong: the floor under any round trip between two threads.
 * The futex kind sleeps in the kernel on each side (two wake-ups per round
 * trip, like a pool whose worker and waiter both sleep); the spin kind never
 * leaves user space. Kept running across calls, so a benchmark can
 * interleave its own round trips with the floor's and have both see the
 * same machine.
 */
#ifndef CF_BENCH_PINGPONG_H
#define CF_BENCH_PINGPONG_H

typedef struct bench_pingpong bench_pingpong;

/* Starts the responder thread. Returns NULL if it cannot. */
bench_pingpong *bench_pingpong_start(int use_futex);

/* One round trip; returns its duration in ns. Caller: one thread only. */
double bench_pingpong_round(bench_pingpong *pp);

/* Stops and joins the responder and frees pp. */
void bench_pingpong_stop(bench_pingpong *pp);

#endif /* CF_BENCH_PINGPONG_H */
