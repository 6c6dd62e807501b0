// SPDX-License-Identifier: Apache-2.0
/* Engine randomness: libsodium's CSPRNG, or a BLAKE3 keyed stream for the
 * deterministic test mode: output block i = BLAKE3-keyed(seed, "l2sess rng" || i). */
#include <string.h>

#include "crypto/rng.h"

void l2s_rng_init_system(struct l2s_rng *rng)
{
	memset(rng, 0, sizeof(*rng));
}

void l2s_rng_init_seeded(struct l2s_rng *rng, const uint8_t seed[32])
{
	rng->deterministic = 1;
	memcpy(rng->key, seed, 32);
	rng->counter = 0;
}

static void seeded_block(struct l2s_rng *rng, uint8_t *out, size_t len)
{
	uint8_t in[18] = "l2sess rng";

	for (int i = 0; i < 8; i++)
		in[10 + i] = (uint8_t)(rng->counter >> (8 * i));
	rng->counter++;
	l2s_blake3_keyed(out, len, rng->key, in, sizeof(in));
}

void l2s_rng_bytes(struct l2s_rng *rng, uint8_t *out, size_t len)
{
	if (!rng->deterministic) {
		l2s_random(out, len);
		return;
	}
	/* One call, one block of any length: callers' draws stay aligned no
	 * matter how the lengths change between versions of a caller. */
	seeded_block(rng, out, len);
}

uint64_t l2s_rng_uniform(struct l2s_rng *rng, uint64_t bound)
{
	/* Rejection sampling avoids modulo bias. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % bound, v;
	uint8_t b[8];

	do {
		l2s_rng_bytes(rng, b, sizeof(b));
		v = 0;
		for (int i = 0; i < 8; i++)
			v = v << 8 | b[i];
	} while (v >= limit);
	return v % bound;
}

void l2s_rng_wipe(struct l2s_rng *rng)
{
	l2s_wipe(rng, sizeof(*rng));
}
