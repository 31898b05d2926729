/* SPDX-License-Identifier: MIT */
/*
 * Spinning and parking (spin.c): how a thread waits for a word another
 * thread will change. Private; depends on nothing else in lib/ but the
 * clock, so that futures, pools and the bridge can all use it.
 */
#ifndef CF_SPIN_H
#define CF_SPIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Polls done(arg) until it is true or spin_us pass, pausing between looks
 * (doubling up to max_pauses). spare(spare_arg) says whether a CPU is free
 * for the poller; it is asked about once a microsecond, and only when it
 * says no (or is NULL: unknown) does the poller yield the CPU. Returns
 * true if done. */
bool cf__spin_until(bool (*done)(void *), void *arg, unsigned spin_us,
                    unsigned max_pauses, bool (*spare)(void *),
                    void *spare_arg);

/* Sleeps while *word == expected, up to an absolute CLOCK_MONOTONIC
 * deadline in ns (UINT64_MAX = none). Returns on a wake, a changed word, a
 * signal or the deadline: the caller re-checks. */
void cf__park_until(_Atomic uint32_t *word, uint32_t expected,
                    uint64_t deadline);

/* Wakes every thread parked on word. */
void cf__unpark_all(_Atomic uint32_t *word);

#endif /* CF_SPIN_H */
