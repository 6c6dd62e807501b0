/* SPDX-License-Identifier: Apache-2.0 */
/* The node's timers: one deadline per id (a session slot), kept in a binary
 * min-heap ordered by (deadline, id) with an id -> heap position index.
 * set/update/cancel/pop are O(log n); the earliest deadline is O(1). Equal
 * deadlines pop in id order, so runs are reproducible.
 *
 * Ids are small integers below L2S_TIMERS_MAX_ID. The arrays start at the
 * capacity given to init and double on demand (the position index grows to
 * the largest id set, the heap to the number of timers set).
 */
#ifndef L2S_TIMERS_H
#define L2S_TIMERS_H

#include <stdint.h>

#include "l2s.h"

#define L2S_TIMERS_MAX_ID ((uint32_t)1 << 24)
#define L2S_TIMER_NONE UINT64_MAX

struct l2s_timer_slot {
	uint64_t deadline_ms;
	uint32_t id;
};

struct l2s_timers {
	struct l2s_timer_slot *heap;
	uint32_t *pos;     /* pos[id] = heap index + 1; 0 when id has no timer */
	uint32_t count;    /* timers set */
	uint32_t heap_cap; /* slots allocated in heap */
	uint32_t pos_cap;  /* entries allocated in pos: ids below it */
};

/* L2S_OK or L2S_ERR_NOMEM. cap is the initial capacity (ids and timers). */
int l2s_timers_init(struct l2s_timers *t, uint32_t cap);
/* Sets, moves or (deadline L2S_TIMER_NONE) cancels the timer of id.
 * L2S_ERR_NOMEM when growing fails or id >= L2S_TIMERS_MAX_ID; the timers
 * are unchanged then. Cancelling an unset id is a no-op. */
int l2s_timers_set(struct l2s_timers *t, uint32_t id, uint64_t deadline_ms);
/* The deadline of id, L2S_TIMER_NONE when unset. */
uint64_t l2s_timers_get(const struct l2s_timers *t, uint32_t id);
/* The earliest deadline, L2S_TIMER_NONE when no timer is set. */
uint64_t l2s_timers_next(const struct l2s_timers *t);
/* 1 and the id of the earliest timer with deadline <= now_ms, which is
 * removed; 0 when none is due. */
int l2s_timers_pop_due(struct l2s_timers *t, uint64_t now_ms, uint32_t *id);
void l2s_timers_free(struct l2s_timers *t);

#endif /* L2S_TIMERS_H */
