// SPDX-License-Identifier: Apache-2.0
/* The loop's clocks: the engine's time, the exchanges' durations and the
 * wall clock bundles expire by. The loop reads them; the engine never does. */
#include <time.h>

#include "loop/loop_internal.h"

/* Monotonic ms + 1: the engine takes 0 as "never". */
uint64_t l2s_loop_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000 + 1;
}

/* The L2 exchanges' own durations are well under a millisecond. */
uint64_t l2s_loop_now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

/* Bundle expiry is wall-clock time. */
uint64_t l2s_loop_unix_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec;
}
