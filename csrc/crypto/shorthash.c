// SPDX-License-Identifier: Apache-2.0
/* SipHash-2-4 for table lookups (shorthash.h). */
#include <sodium.h>

#include "crypto/shorthash.h"

uint64_t l2s_shorthash(const uint8_t key[L2S_SHORTHASH_KEY_BYTES], const uint8_t *in, size_t len)
{
	uint8_t h[crypto_shorthash_siphash24_BYTES];

	crypto_shorthash_siphash24(h, in, len, key);
	return (uint64_t)h[0] | (uint64_t)h[1] << 8 | (uint64_t)h[2] << 16 | (uint64_t)h[3] << 24 |
	       (uint64_t)h[4] << 32 | (uint64_t)h[5] << 40 | (uint64_t)h[6] << 48 | (uint64_t)h[7] << 56;
}
