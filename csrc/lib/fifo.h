/* SPDX-License-Identifier: Apache-2.0 */
/* The one first-in, first-out queue all of the node's queues use (the
 * engine's outputs and events, the loop's events and held outputs, the
 * transports' events). An item embeds a struct l2s_fifo_link as its first
 * member; the queue owns no memory and bounds nothing: its users count. */
#ifndef L2S_FIFO_H
#define L2S_FIFO_H

#include <stddef.h>

struct l2s_fifo_link {
	struct l2s_fifo_link *next;
};

struct l2s_fifo {
	struct l2s_fifo_link *head, *tail;
	size_t count;
};

static inline void l2s_fifo_push(struct l2s_fifo *q, struct l2s_fifo_link *item)
{
	item->next = NULL;
	if (q->tail)
		q->tail->next = item;
	else
		q->head = item;
	q->tail = item;
	q->count++;
}

/* The oldest item, or NULL. */
static inline void *l2s_fifo_peek(const struct l2s_fifo *q)
{
	return q->head;
}

/* The oldest item, taken off the queue, or NULL. */
static inline void *l2s_fifo_pop(struct l2s_fifo *q)
{
	struct l2s_fifo_link *item = q->head;

	if (!item)
		return NULL;
	q->head = item->next;
	if (!q->head)
		q->tail = NULL;
	q->count--;
	return item;
}

#endif /* L2S_FIFO_H */
