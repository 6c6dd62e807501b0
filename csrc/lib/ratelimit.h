/* SPDX-License-Identifier: Apache-2.0 */
/* Per-source-address token buckets for handshake requests (PROTOCOL.md §4.3).
 *
 * A fixed-size table allocated once (bounded memory), sets of
 * L2S_RATELIMIT_WAYS buckets chosen by a keyed hash of the address with a
 * per-table random key, so an attacker cannot aim collisions at a victim's
 * bucket. A full set reuses an idle (refilled) bucket, else the least
 * recently used one; a reused bucket starts full, which favours the evicted
 * address, never the attacker. Each request costs O(1): one keyed BLAKE3.
 */
#ifndef L2S_RATELIMIT_H
#define L2S_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "l2s.h"
#include "crypto/rng.h"

#define L2S_RATELIMIT_WAYS 4

struct l2s_bucket {
	uint8_t tag[16];  /* keyed hash of the address */
	uint64_t last_ms; /* last refill */
	uint64_t seen_ms; /* last request, for LRU reuse */
	uint64_t tokens;  /* in thousandths of a request */
	int used;
};

struct l2s_ratelimit {
	struct l2s_bucket *slots; /* n_sets * L2S_RATELIMIT_WAYS */
	size_t n_sets;            /* a power of two */
	uint8_t key[32];
	uint64_t rate_per_s;      /* refill, requests per second */
	uint64_t burst;           /* bucket size, requests */
};

/* Room for at least capacity addresses (rounded up). rate_per_s and burst
 * of 0 are taken as 1. L2S_ERR_NOMEM. rng draws: 32 bytes (the key). */
int l2s_ratelimit_init(struct l2s_ratelimit *rl, size_t capacity, uint32_t rate_per_s, uint32_t burst,
		       struct l2s_rng *rng);
void l2s_ratelimit_free(struct l2s_ratelimit *rl);
/* Takes one token from addr's bucket: 1 when the request may go on, 0 when
 * the address is over its rate (answer with a cookie or drop). now_ms is
 * the node's monotonic clock; a clock going backwards refills nothing. */
int l2s_ratelimit_allow(struct l2s_ratelimit *rl, const uint8_t *addr, size_t addr_len, uint64_t now_ms);

#endif /* L2S_RATELIMIT_H */
