/* SPDX-License-Identifier: Apache-2.0 */
/* A bounded cache of recently used RESUME_INIT nonces (PROTOCOL.md §8): an
 * exact replay of a resumption request is refused while its entry lives.
 *
 * Fixed size, allocated once: sets of L2S_NONCE_WAYS entries chosen by a
 * keyed hash of the nonce (per-cache random key); an entry stores a 16-byte
 * keyed tag, not the nonce. Entries expire ttl_ms after insertion; a full
 * set evicts the entry closest to expiry. Only requests whose binder
 * verified are inserted, so strangers cannot flush the cache. An evicted
 * nonce could be replayed once more, which is harmless: a replay cannot
 * produce the initiator's CONFIRM (`evictions` counts it).
 */
#ifndef L2S_NONCE_CACHE_H
#define L2S_NONCE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "l2s.h"
#include "crypto/rng.h"
#include "wire/wire.h"

#define L2S_NONCE_WAYS 8

struct l2s_nonce_entry {
	uint8_t tag[16];
	uint64_t expires_ms; /* 0: free */
};

struct l2s_nonce_cache {
	struct l2s_nonce_entry *slots; /* n_sets * L2S_NONCE_WAYS */
	size_t n_sets;                 /* a power of two */
	uint8_t key[32];
	uint64_t ttl_ms;
	uint64_t evictions;
};

/* Room for at least capacity nonces; ttl_ms 0 is taken as 1. L2S_ERR_NOMEM. */
int l2s_nonce_cache_init(struct l2s_nonce_cache *c, size_t capacity, uint64_t ttl_ms, struct l2s_rng *rng);
void l2s_nonce_cache_free(struct l2s_nonce_cache *c);
/* L2S_OK and remembers nonce, or L2S_ERR_REPLAY when it is remembered. O(1). */
int l2s_nonce_cache_insert(struct l2s_nonce_cache *c, const uint8_t nonce[L2S_NONCE_BYTES], uint64_t now_ms);

#endif /* L2S_NONCE_CACHE_H */
