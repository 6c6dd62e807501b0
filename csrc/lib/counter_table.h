/* SPDX-License-Identifier: Apache-2.0 */
/* The responder's memory of the largest handshake counter per verified
 * initiator identity (PROTOCOL.md §4.1): a replayed HANDSHAKE_INIT carries a
 * counter that is not larger and is refused, without wall-clock time.
 *
 * Fixed size, allocated once: sets of L2S_COUNTER_WAYS entries chosen by a
 * keyed hash of the identity (per-table random key). A full set evicts its
 * least recently updated entry; an evicted identity's old INIT would then be
 * accepted once more, which is harmless: it cannot produce the CONFIRM, so
 * it only costs one half-open handshake (and `evictions` counts it).
 */
#ifndef L2S_COUNTER_TABLE_H
#define L2S_COUNTER_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "l2s.h"
#include "crypto/rng.h"

#define L2S_COUNTER_WAYS 4

struct l2s_counter_entry {
	uint8_t pk[L2S_ED25519_PK_BYTES];
	uint64_t counter;
	uint64_t used_ms;
	int used;
};

struct l2s_counter_table {
	struct l2s_counter_entry *slots; /* n_sets * L2S_COUNTER_WAYS */
	size_t n_sets;                   /* a power of two */
	uint8_t key[32];                 /* set selection */
	uint64_t evictions;
};

/* Room for at least capacity identities (rounded up). L2S_ERR_NOMEM. */
int l2s_counter_table_init(struct l2s_counter_table *t, size_t capacity, struct l2s_rng *rng);
void l2s_counter_table_free(struct l2s_counter_table *t);
/* L2S_OK when counter is larger than any seen from pk (or pk is unknown),
 * else L2S_ERR_REPLAY. Changes nothing. */
int l2s_counter_table_check(const struct l2s_counter_table *t, const uint8_t pk[L2S_ED25519_PK_BYTES],
			    uint64_t counter);
/* Check, then remember counter as pk's largest. O(1). */
int l2s_counter_table_accept(struct l2s_counter_table *t, const uint8_t pk[L2S_ED25519_PK_BYTES],
			     uint64_t counter, uint64_t now_ms);

#endif /* L2S_COUNTER_TABLE_H */
