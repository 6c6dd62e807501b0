// SPDX-License-Identifier: Apache-2.0
/* Binary min-heap of (deadline, id) with an id -> position index. */
#include <stdlib.h>
#include <string.h>

#include "lib/timers.h"

static int before(const struct l2s_timer_slot *a, const struct l2s_timer_slot *b)
{
	return a->deadline_ms < b->deadline_ms || (a->deadline_ms == b->deadline_ms && a->id < b->id);
}

/* Writes slot s at heap index i and records where its id lives. */
static void place(struct l2s_timers *t, uint32_t i, struct l2s_timer_slot s)
{
	t->heap[i] = s;
	t->pos[s.id] = i + 1;
}

static void sift_up(struct l2s_timers *t, uint32_t i)
{
	struct l2s_timer_slot s = t->heap[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (!before(&s, &t->heap[parent]))
			break;
		place(t, i, t->heap[parent]);
		i = parent;
	}
	place(t, i, s);
}

static void sift_down(struct l2s_timers *t, uint32_t i)
{
	struct l2s_timer_slot s = t->heap[i];

	for (;;) {
		uint32_t child = 2 * i + 1;

		if (child >= t->count)
			break;
		if (child + 1 < t->count && before(&t->heap[child + 1], &t->heap[child]))
			child++;
		if (!before(&t->heap[child], &s))
			break;
		place(t, i, t->heap[child]);
		i = child;
	}
	place(t, i, s);
}

/* Restores heap order around index i after its slot changed. */
static void fix(struct l2s_timers *t, uint32_t i)
{
	if (i > 0 && before(&t->heap[i], &t->heap[(i - 1) / 2]))
		sift_up(t, i);
	else
		sift_down(t, i);
}

static void remove_at(struct l2s_timers *t, uint32_t i)
{
	uint32_t last = --t->count;

	t->pos[t->heap[i].id] = 0;
	if (i == last)
		return;
	place(t, i, t->heap[last]);
	fix(t, i);
}

static int grow_pos(struct l2s_timers *t, uint32_t id)
{
	uint64_t cap = t->pos_cap ? t->pos_cap : 16;
	uint32_t *p;

	while (cap <= id)
		cap *= 2;
	if (cap > L2S_TIMERS_MAX_ID)
		cap = L2S_TIMERS_MAX_ID;
	p = realloc(t->pos, cap * sizeof(*p));
	if (!p)
		return L2S_ERR_NOMEM;
	memset(p + t->pos_cap, 0, (cap - t->pos_cap) * sizeof(*p));
	t->pos = p;
	t->pos_cap = (uint32_t)cap;
	return L2S_OK;
}

static int grow_heap(struct l2s_timers *t)
{
	uint64_t cap = t->heap_cap ? 2 * (uint64_t)t->heap_cap : 16;
	struct l2s_timer_slot *h;

	/* At most one timer per id, so the heap never outgrows the ids. */
	if (cap > L2S_TIMERS_MAX_ID)
		cap = L2S_TIMERS_MAX_ID;
	h = realloc(t->heap, cap * sizeof(*h));
	if (!h)
		return L2S_ERR_NOMEM;
	t->heap = h;
	t->heap_cap = (uint32_t)cap;
	return L2S_OK;
}

int l2s_timers_init(struct l2s_timers *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	if (cap > L2S_TIMERS_MAX_ID)
		cap = L2S_TIMERS_MAX_ID;
	if (cap == 0)
		return L2S_OK;
	t->heap = malloc(cap * sizeof(*t->heap));
	t->pos = calloc(cap, sizeof(*t->pos));
	if (!t->heap || !t->pos) {
		l2s_timers_free(t);
		return L2S_ERR_NOMEM;
	}
	t->heap_cap = t->pos_cap = cap;
	return L2S_OK;
}

static int insert(struct l2s_timers *t, uint32_t id, uint64_t deadline_ms)
{
	struct l2s_timer_slot s = { .deadline_ms = deadline_ms, .id = id };

	if (id >= t->pos_cap && grow_pos(t, id) != L2S_OK)
		return L2S_ERR_NOMEM;
	if (t->count == t->heap_cap && grow_heap(t) != L2S_OK)
		return L2S_ERR_NOMEM;
	place(t, t->count++, s);
	sift_up(t, t->count - 1);
	return L2S_OK;
}

int l2s_timers_set(struct l2s_timers *t, uint32_t id, uint64_t deadline_ms)
{
	uint32_t i;

	if (id >= L2S_TIMERS_MAX_ID)
		return deadline_ms == L2S_TIMER_NONE ? L2S_OK : L2S_ERR_NOMEM;
	if (id >= t->pos_cap || t->pos[id] == 0)
		return deadline_ms == L2S_TIMER_NONE ? L2S_OK : insert(t, id, deadline_ms);
	i = t->pos[id] - 1;
	if (deadline_ms == L2S_TIMER_NONE) {
		remove_at(t, i);
		return L2S_OK;
	}
	t->heap[i].deadline_ms = deadline_ms;
	fix(t, i);
	return L2S_OK;
}

uint64_t l2s_timers_get(const struct l2s_timers *t, uint32_t id)
{
	if (id >= t->pos_cap || t->pos[id] == 0)
		return L2S_TIMER_NONE;
	return t->heap[t->pos[id] - 1].deadline_ms;
}

uint64_t l2s_timers_next(const struct l2s_timers *t)
{
	return t->count ? t->heap[0].deadline_ms : L2S_TIMER_NONE;
}

int l2s_timers_pop_due(struct l2s_timers *t, uint64_t now_ms, uint32_t *id)
{
	if (t->count == 0 || t->heap[0].deadline_ms > now_ms)
		return 0;
	*id = t->heap[0].id;
	remove_at(t, 0);
	return 1;
}

void l2s_timers_free(struct l2s_timers *t)
{
	free(t->heap);
	free(t->pos);
	memset(t, 0, sizeof(*t));
}
