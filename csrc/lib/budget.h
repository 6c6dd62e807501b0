/* SPDX-License-Identifier: Apache-2.0 */
/* The node's memory budget (NODE.md "Under attack"): one count of the bytes
 * the transports and the loop hold for peers (send and receive buffers,
 * received messages not yet taken, held outputs, half-open connections),
 * shared by all of them, so that no flood on one of them can take memory
 * the others need and the sum stays bounded. Each part draws what it holds
 * and gives it back when it lets go; who may pass the limit is each part's
 * rule (an authenticated session's received bytes, already bounded by flow
 * control, are counted and never dropped; everything else is refused or
 * shed first). One budget belongs to one loop: no locking, no globals.
 */
#ifndef L2S_BUDGET_H
#define L2S_BUDGET_H

#include <stdint.h>

struct l2s_budget {
	uint64_t limit, used, peak;
	/* Frees what proves least (the owner's shedding order) until n more
	 * bytes fit, if it can; NULL: nothing to shed. */
	void (*reclaim)(void *ctx, uint64_t n);
	void *ctx;
};

static inline int l2s_budget_fits(const struct l2s_budget *b, uint64_t n)
{
	return b->used + n <= b->limit;
}

/* For an authenticated session's n bytes: sheds what may be shed to make
 * them fit; whether they fit now. */
static inline int l2s_budget_claim(struct l2s_budget *b, uint64_t n)
{
	if (!l2s_budget_fits(b, n) && b->reclaim)
		b->reclaim(b->ctx, n);
	return l2s_budget_fits(b, n);
}

static inline void l2s_budget_draw(struct l2s_budget *b, uint64_t n)
{
	b->used += n;
	if (b->used > b->peak)
		b->peak = b->used;
}

static inline void l2s_budget_give(struct l2s_budget *b, uint64_t n)
{
	b->used -= n;
}

#endif /* L2S_BUDGET_H */
