// SPDX-License-Identifier: Apache-2.0
/* Largest handshake counter per initiator: a bounded set-associative table. */
#include <stdlib.h>
#include <string.h>

#include "lib/counter_table.h"
#include "lib/settable.h"

#define MAX_SETS ((size_t)1 << 28)

int l2s_counter_table_init(struct l2s_counter_table *t, size_t capacity, struct l2s_rng *rng)
{
	memset(t, 0, sizeof(*t));
	t->slots = l2s_settable_alloc(capacity, L2S_COUNTER_WAYS, sizeof(*t->slots), MAX_SETS, &t->n_sets);
	if (!t->slots)
		return L2S_ERR_NOMEM;
	l2s_rng_bytes(rng, t->key, sizeof(t->key));
	return L2S_OK;
}

void l2s_counter_table_free(struct l2s_counter_table *t)
{
	free(t->slots);
	l2s_wipe(t, sizeof(*t));
}

/* The set an identity lives in; keyed so nobody can aim at one set. */
static struct l2s_counter_entry *set_of(const struct l2s_counter_table *t, const uint8_t pk[32])
{
	return t->slots + l2s_settable_set(t->key, pk, L2S_ED25519_PK_BYTES, t->n_sets, NULL) * L2S_COUNTER_WAYS;
}

static struct l2s_counter_entry *lookup(struct l2s_counter_entry *set, const uint8_t pk[32])
{
	for (int i = 0; i < L2S_COUNTER_WAYS; i++)
		if (set[i].used && memcmp(set[i].pk, pk, L2S_ED25519_PK_BYTES) == 0)
			return &set[i];
	return NULL;
}

/* A free entry, else the least recently updated one. */
static struct l2s_counter_entry *victim(struct l2s_counter_table *t, struct l2s_counter_entry *set)
{
	struct l2s_counter_entry *v = &set[0];

	for (int i = 0; i < L2S_COUNTER_WAYS; i++) {
		if (!set[i].used)
			return &set[i];
		if (set[i].used_ms < v->used_ms)
			v = &set[i];
	}
	t->evictions++;
	return v;
}

int l2s_counter_table_check(const struct l2s_counter_table *t, const uint8_t pk[L2S_ED25519_PK_BYTES],
			    uint64_t counter)
{
	const struct l2s_counter_entry *e = lookup(set_of(t, pk), pk);

	return e && counter <= e->counter ? L2S_ERR_REPLAY : L2S_OK;
}

int l2s_counter_table_accept(struct l2s_counter_table *t, const uint8_t pk[L2S_ED25519_PK_BYTES],
			     uint64_t counter, uint64_t now_ms)
{
	struct l2s_counter_entry *set = set_of(t, pk);
	struct l2s_counter_entry *e = lookup(set, pk);

	if (e && counter <= e->counter)
		return L2S_ERR_REPLAY;
	if (!e) {
		e = victim(t, set);
		memcpy(e->pk, pk, L2S_ED25519_PK_BYTES);
		e->used = 1;
	}
	e->counter = counter;
	e->used_ms = now_ms;
	return L2S_OK;
}
