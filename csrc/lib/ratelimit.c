// SPDX-License-Identifier: Apache-2.0
/* Token buckets per source address in a bounded, keyed, set-associative table. */
#include <stdlib.h>
#include <string.h>

#include "lib/ratelimit.h"
#include "lib/settable.h"

#define MILLI 1000u
#define MAX_SETS ((size_t)1 << 26)

int l2s_ratelimit_init(struct l2s_ratelimit *rl, size_t capacity, uint32_t rate_per_s, uint32_t burst,
		       struct l2s_rng *rng)
{
	memset(rl, 0, sizeof(*rl));
	rl->slots = l2s_settable_alloc(capacity, L2S_RATELIMIT_WAYS, sizeof(*rl->slots), MAX_SETS, &rl->n_sets);
	if (!rl->slots)
		return L2S_ERR_NOMEM;
	rl->rate_per_s = rate_per_s ? rate_per_s : 1;
	rl->burst = burst ? burst : 1;
	l2s_rng_bytes(rng, rl->key, sizeof(rl->key));
	return L2S_OK;
}

void l2s_ratelimit_free(struct l2s_ratelimit *rl)
{
	free(rl->slots);
	l2s_wipe(rl, sizeof(*rl));
}

/* Adds the tokens earned since last_ms, up to the burst. */
static void refill(const struct l2s_ratelimit *rl, struct l2s_bucket *b, uint64_t now_ms)
{
	uint64_t cap = rl->burst * MILLI, elapsed;

	if (now_ms <= b->last_ms)
		return;
	elapsed = now_ms - b->last_ms;
	b->last_ms = now_ms;
	/* rate_per_s thousandths per millisecond; cap elapsed against overflow. */
	if (elapsed >= cap / rl->rate_per_s + 1) {
		b->tokens = cap;
		return;
	}
	b->tokens += elapsed * rl->rate_per_s;
	if (b->tokens > cap)
		b->tokens = cap;
}

/* A free bucket, an idle (full) one, else the least recently used. */
static struct l2s_bucket *victim(const struct l2s_ratelimit *rl, struct l2s_bucket *set, uint64_t now_ms)
{
	struct l2s_bucket *v = &set[0];

	for (int i = 0; i < L2S_RATELIMIT_WAYS; i++) {
		if (!set[i].used)
			return &set[i];
		refill(rl, &set[i], now_ms);
		if (set[i].tokens == rl->burst * MILLI)
			return &set[i];
		if (set[i].seen_ms < v->seen_ms)
			v = &set[i];
	}
	return v;
}

int l2s_ratelimit_allow(struct l2s_ratelimit *rl, const uint8_t *addr, size_t addr_len, uint64_t now_ms)
{
	uint8_t tag[L2S_SETTABLE_TAG_BYTES];
	struct l2s_bucket *set, *b = NULL;

	set = rl->slots + l2s_settable_set(rl->key, addr, addr_len, rl->n_sets, tag) * L2S_RATELIMIT_WAYS;
	for (int i = 0; i < L2S_RATELIMIT_WAYS && !b; i++)
		if (set[i].used && memcmp(set[i].tag, tag, sizeof(tag)) == 0)
			b = &set[i];
	if (b) {
		refill(rl, b, now_ms);
	} else {
		b = victim(rl, set, now_ms);
		memcpy(b->tag, tag, sizeof(tag));
		b->used = 1;
		b->last_ms = now_ms;
		b->tokens = rl->burst * MILLI;
	}
	b->seen_ms = now_ms;
	if (b->tokens < MILLI)
		return 0;
	b->tokens -= MILLI;
	return 1;
}
