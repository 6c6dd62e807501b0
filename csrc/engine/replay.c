// SPDX-License-Identifier: Apache-2.0
/* Anti-replay window: a ring bitmap of 1024 bits indexed by counter modulo
 * 1024, so moving the window only clears the slots of the counters it skips
 * and never shifts memory. */
#include <string.h>

#include "engine/replay.h"

static unsigned int slot_word(uint64_t counter)
{
	return (unsigned int)((counter / 64) % L2S_REPLAY_WORDS);
}

static uint64_t slot_mask(uint64_t counter)
{
	return (uint64_t)1 << (counter % 64);
}

void l2s_replay_init(struct l2s_replay *r)
{
	memset(r, 0, sizeof(*r));
}

int l2s_replay_check(const struct l2s_replay *r, uint64_t counter)
{
	if (counter == UINT64_MAX)
		return L2S_ERR_REPLAY;
	if (counter >= r->next)
		return L2S_OK;
	/* Here next >= 1, so next - 1 is the highest counter accepted. */
	if (r->next - 1 - counter >= L2S_REPLAY_WINDOW)
		return L2S_ERR_REPLAY;
	if (r->bits[slot_word(counter)] & slot_mask(counter))
		return L2S_ERR_REPLAY;
	return L2S_OK;
}

/* Clears the slots of counters [from, to], to - from < L2S_REPLAY_WINDOW,
 * a word at a time: at most 17 iterations. */
static void clear_slots(uint64_t *bits, uint64_t from, uint64_t to)
{
	uint64_t c = from;

	while (c <= to) {
		unsigned int shift = (unsigned int)(c % 64);
		uint64_t n = 64 - shift, mask;

		if (n > to - c + 1)
			n = to - c + 1;
		mask = n == 64 ? UINT64_MAX : (((uint64_t)1 << n) - 1) << shift;
		bits[slot_word(c)] &= ~mask;
		c += n;
		if (c == 0) /* wrapped: to was UINT64_MAX */
			break;
	}
}

void l2s_replay_accept(struct l2s_replay *r, uint64_t counter)
{
	if (l2s_replay_check(r, counter) != L2S_OK)
		return;
	if (counter >= r->next) {
		/* The slots of next..counter still hold counters from a lap
		 * ago; they are unseen now. A jump of a whole window or more
		 * leaves nothing of the old window. */
		if (counter - r->next >= L2S_REPLAY_WINDOW - 1)
			memset(r->bits, 0, sizeof(r->bits));
		else
			clear_slots(r->bits, r->next, counter);
		r->next = counter + 1;
	}
	r->bits[slot_word(counter)] |= slot_mask(counter);
}
