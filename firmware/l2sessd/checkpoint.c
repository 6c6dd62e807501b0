// SPDX-License-Identifier: Apache-2.0
/* checkpoint.c - which sessions a checkpoint saves (checkpoint.h). */
#include "checkpoint.h"

#include <stdlib.h>
#include <string.h>

/* A print of what a resumption needs of the session: not its expiry,
 * which each heartbeat moves (the refresh saves that). */
static void print_of(const struct l2s_loop_peer_info *p, uint8_t out[32])
{
	const struct l2s_session_info *s = &p->session;
	uint8_t buf[128];
	size_t n = 0;

#define PUT(x) (memcpy(buf + n, &(x), sizeof(x)), n += sizeof(x))
	PUT(s->session_id);
	PUT(s->rx_stream);
	PUT(s->state);
	PUT(s->rotations);
	PUT(s->key_established_ms);
	PUT(s->next_send_seq);
	PUT(s->next_recv_seq);
	PUT(s->unacked);
	PUT(s->queued);
#undef PUT
	l2s_blake3(out, 32, buf, n);
}

static size_t slot_of(const struct checkpoint_marks *m, const uint8_t pk[32])
{
	size_t i = ((size_t)pk[0] | (size_t)pk[1] << 8 | (size_t)pk[2] << 16) & (m->cap - 1);

	while (m->slots[i].used && memcmp(m->slots[i].pk, pk, 32) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

int checkpoint_due(const struct checkpoint_marks *m, const struct l2s_loop_peer_info *p, uint64_t now_ms)
{
	const struct checkpoint_mark *mark;
	uint8_t print[32];

	if (!m->cap)
		return 1;
	mark = &m->slots[slot_of(m, p->pk)];
	if (!mark->used || now_ms - mark->saved_ms >= CHECKPOINT_REFRESH_MS)
		return 1;
	print_of(p, print);
	return memcmp(print, mark->print, 32) != 0;
}

static int grow(struct checkpoint_marks *m)
{
	struct checkpoint_marks bigger = { .cap = m->cap ? 2 * m->cap : 64 };
	size_t i;

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -1;
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].used)
			bigger.slots[slot_of(&bigger, m->slots[i].pk)] = m->slots[i];
	bigger.count = m->count;
	free(m->slots);
	*m = bigger;
	return 0;
}

void checkpoint_saved(struct checkpoint_marks *m, const struct l2s_loop_peer_info *p, uint64_t now_ms)
{
	struct checkpoint_mark *mark;

	if (2 * (m->count + 1) > m->cap && grow(m))
		return; /* no memory for the mark: the session is saved again next time */
	mark = &m->slots[slot_of(m, p->pk)];
	if (!mark->used) {
		mark->used = 1;
		memcpy(mark->pk, p->pk, 32);
		m->count++;
	}
	print_of(p, mark->print);
	mark->saved_ms = now_ms;
}

void checkpoint_marks_free(struct checkpoint_marks *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
