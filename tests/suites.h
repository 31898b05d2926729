/* SPDX-License-Identifier: MIT */
/* The registry of test suites: each tests/test_<name>.c defines
 * Suite *cf_<name>_suite(void). One line per suite; the CTest label says
 * which runs it belongs to ("unit", "stress", "fork": fork-based suites are
 * skipped under ThreadSanitizer, which cannot follow fork). */
CF_SUITE(error, unit)
CF_SUITE(spin, unit)
CF_SUITE(future, unit)
CF_SUITE(thread_pool, unit)
CF_SUITE(wait, unit)
CF_SUITE(as_completed, unit)
CF_SUITE(gather, unit)
CF_SUITE(map, unit)
CF_SUITE(map_bytes, unit)
CF_SUITE(group, unit)
CF_SUITE(then, unit)
CF_SUITE(combine, unit)
CF_SUITE(combine_process, fork)
CF_SUITE(timer, unit)
CF_SUITE(timer_fork, fork)
CF_SUITE(channel, unit)
CF_SUITE(semaphore, unit)
CF_SUITE(bridge, unit)
CF_SUITE(bridge_process, fork)
/* The loop adapters' suites: only where libuv / libevent were found. */
#ifdef CF_HAVE_UV
CF_SUITE(bridge_uv, unit)
#endif
#ifdef CF_HAVE_EVENT
CF_SUITE(bridge_event, unit)
#endif
CF_SUITE(stress, stress)
CF_SUITE(process_pool, fork)
CF_SUITE(security, fork)
CF_SUITE(badinput, unit)
CF_SUITE(badinput_process, fork)
CF_SUITE(process_faults, fork)
CF_SUITE(process_lifecycle, fork)
CF_SUITE(load, stress)
CF_SUITE(lifecycle, fork)
CF_SUITE(registry, unit)
CF_SUITE(spawn, fork)
