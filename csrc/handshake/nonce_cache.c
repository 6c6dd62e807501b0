// SPDX-License-Identifier: Apache-2.0
/* Resumption nonce replay cache: bounded, keyed, set-associative, expiring. */
#include <stdlib.h>
#include <string.h>

#include "handshake/nonce_cache.h"
#include "lib/settable.h"

#define MAX_SETS ((size_t)1 << 26)

int l2s_nonce_cache_init(struct l2s_nonce_cache *c, size_t capacity, uint64_t ttl_ms, struct l2s_rng *rng)
{
	memset(c, 0, sizeof(*c));
	c->slots = l2s_settable_alloc(capacity, L2S_NONCE_WAYS, sizeof(*c->slots), MAX_SETS, &c->n_sets);
	if (!c->slots)
		return L2S_ERR_NOMEM;
	c->ttl_ms = ttl_ms ? ttl_ms : 1;
	l2s_rng_bytes(rng, c->key, sizeof(c->key));
	return L2S_OK;
}

void l2s_nonce_cache_free(struct l2s_nonce_cache *c)
{
	free(c->slots);
	l2s_wipe(c, sizeof(*c));
}

static int live(const struct l2s_nonce_entry *e, uint64_t now_ms)
{
	return e->expires_ms > now_ms;
}

int l2s_nonce_cache_insert(struct l2s_nonce_cache *c, const uint8_t nonce[L2S_NONCE_BYTES], uint64_t now_ms)
{
	uint8_t tag[L2S_SETTABLE_TAG_BYTES];
	struct l2s_nonce_entry *set, *victim;

	set = c->slots + l2s_settable_set(c->key, nonce, L2S_NONCE_BYTES, c->n_sets, tag) * L2S_NONCE_WAYS;
	victim = &set[0];
	for (int i = 0; i < L2S_NONCE_WAYS; i++) {
		if (live(&set[i], now_ms) && memcmp(set[i].tag, tag, sizeof(tag)) == 0)
			return L2S_ERR_REPLAY;
		if (set[i].expires_ms < victim->expires_ms)
			victim = &set[i];
	}
	if (live(victim, now_ms))
		c->evictions++;
	memcpy(victim->tag, tag, sizeof(tag));
	victim->expires_ms = now_ms + c->ttl_ms;
	return L2S_OK;
}
