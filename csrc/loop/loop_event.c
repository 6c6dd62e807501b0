// SPDX-License-Identifier: Apache-2.0
/* The application's event queue, bounded. It never drops: above half of
 * event_queue_limit events, or of the memory budget in their bytes, the
 * loop stops taking messages from the transports, whose flow control then
 * holds the peers back. What goes in is decided above (node_event.c, and
 * the peers' errors and moves). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/node.h"
#include "loop/loop_internal.h"

int l2s_loop_paused(const struct l2s_loop *l)
{
	return l->events.count >= l->p.event_queue_limit / 2 || l->ev_bytes >= l->budget.limit / 2;
}

static void push(struct l2s_loop *l, struct levent *e, size_t len)
{
	e->ev.len = len;
	l2s_budget_draw(&l->budget, sizeof(*e) + len);
	l->ev_bytes += sizeof(*e) + len;
	l2s_fifo_push(&l->events, &e->link);
	l->st.events_queued++;
	if (l->events.count > l->st.events_peak)
		l->st.events_peak = l->events.count;
	l->events_unannounced = 1;
}

void l2s_loop_event_push(struct l2s_loop *l, const struct l2s_loop_event *ev, const uint8_t *data, size_t len)
{
	struct levent *e = malloc(sizeof(*e) + len);

	/* Without memory the event cannot be kept; nothing better to do than count it. */
	if (!e) {
		l->st.rx_dropped[-L2S_ERR_NOMEM]++;
		return;
	}
	e->ev = *ev;
	e->adopted = NULL;
	if (len)
		memcpy(e->data, data, len);
	e->ev.data = len ? e->data : NULL;
	push(l, e, len);
}

/* An event whose data stays in the engine's item (a MESSAGE): no copy of
 * up to 64 KiB; the item is freed (wiped) with the event. */
void l2s_loop_event_push_adopted(struct l2s_loop *l, const struct l2s_loop_event *ev, const uint8_t *data, size_t len,
				 void *adopted)
{
	struct levent *e = malloc(sizeof(*e));

	if (!e) {
		l2s_node_event_data_free(adopted);
		l->st.rx_dropped[-L2S_ERR_NOMEM]++;
		return;
	}
	e->ev = *ev;
	e->adopted = adopted;
	e->ev.data = data;
	push(l, e, len);
}

/* Unlocks the loop, then wakes whoever waits for events if some came:
 * once per round, and after the unlock, so that a waiter does not wake
 * only to block on the mutex (a context switch per event, before). */
void l2s_loop_unlock(struct l2s_loop *l)
{
	int announce = l->events_unannounced;

	l->events_unannounced = 0;
	pthread_mutex_unlock(&l->mu);
	if (announce)
		pthread_cond_broadcast(&l->cv);
}

void l2s_loop_peer_error(struct l2s_loop *l, const struct lpeer *pe, int err, uint64_t now)
{
	struct l2s_loop_event ev = { 0 };

	ev.type = L2S_LOOP_EV_PEER_ERROR;
	ev.time_ms = now;
	ev.error = err;
	memcpy(ev.peer_pk, pe->pk, sizeof(ev.peer_pk));
	l2s_loop_event_push(l, &ev, NULL, 0);
}

void l2s_loop_refused_event(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], uint64_t now)
{
	struct l2s_loop_event ev = { 0 };

	ev.type = L2S_LOOP_EV_REFUSED;
	ev.time_ms = now;
	memcpy(ev.peer_pk, pk, sizeof(ev.peer_pk));
	l->st.refused++;
	l2s_loop_event_push(l, &ev, NULL, 0);
}

static void free_all(struct l2s_loop *l, struct l2s_fifo *q)
{
	struct levent *e;

	while ((e = l2s_fifo_pop(q))) {
		l2s_budget_give(&l->budget, sizeof(*e) + e->ev.len);
		if (e->adopted)
			l2s_node_event_data_free(e->adopted);
		else
			l2s_wipe(e->data, e->ev.len);
		free(e);
	}
}

void l2s_loop_events_free(struct l2s_loop *l)
{
	free_all(l, &l->events);
	free_all(l, &l->taken);
	l->ev_bytes = 0;
}

int l2s_loop_next_events(struct l2s_loop *l, struct l2s_loop_event *evs, size_t max)
{
	struct levent *e;
	int was_paused, n = 0;

	if (max > INT32_MAX)
		max = INT32_MAX;
	pthread_mutex_lock(&l->mu);
	was_paused = l2s_loop_paused(l);
	/* The events taken last time: their data was valid until now. */
	free_all(l, &l->taken);
	while ((size_t)n < max && (e = l2s_fifo_pop(&l->events))) {
		l->ev_bytes -= sizeof(*e) + e->ev.len;
		l2s_fifo_push(&l->taken, &e->link);
		evs[n++] = e->ev;
	}
	/* Room again: the loop takes messages from the transports again. */
	if (was_paused && !l2s_loop_paused(l)) {
		uint64_t one = 1;

		if (write(l->wakefd, &one, sizeof(one)) < 0) {
			/* the counter is full: the loop wakes anyway */
		}
	}
	l2s_loop_unlock(l);
	return n;
}

int l2s_loop_next_event(struct l2s_loop *l, struct l2s_loop_event *ev)
{
	return l2s_loop_next_events(l, ev, 1);
}
