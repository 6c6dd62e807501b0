/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's randomness: the system CSPRNG, or (tests only) a seeded
 * deterministic stream so that handshakes are reproducible byte for byte.
 * Each node owns one; there is no global generator. */
#ifndef L2S_RNG_H
#define L2S_RNG_H

#include <stdint.h>

#include "l2s.h"

struct l2s_rng {
	int deterministic;
	uint8_t key[32];  /* BLAKE3 key of the deterministic stream */
	uint64_t counter; /* blocks drawn so far */
};

void l2s_rng_init_system(struct l2s_rng *rng);
void l2s_rng_init_seeded(struct l2s_rng *rng, const uint8_t seed[32]);
void l2s_rng_bytes(struct l2s_rng *rng, uint8_t *out, size_t len);
/* Uniform in [0, bound), bound > 0. */
uint64_t l2s_rng_uniform(struct l2s_rng *rng, uint64_t bound);
void l2s_rng_wipe(struct l2s_rng *rng);

#endif /* L2S_RNG_H */
