// SPDX-License-Identifier: Apache-2.0
/* BLAKE3: the hash and KDF of everything above the KEM. Thin one-shot
 * wrappers over the official C implementation, which picks its SIMD back end
 * at run time. */
#include <blake3.h>

#include "l2s.h"

/* From blake3_dispatch.c: how many inputs the chosen back end hashes at once. */
size_t blake3_simd_degree(void);

static void finish(blake3_hasher *h, uint8_t *out, size_t out_len)
{
	blake3_hasher_finalize(h, out, out_len);
	/* The state of a keyed or derive-key hasher holds key material. */
	l2s_wipe(h, sizeof(*h));
}

void l2s_blake3(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	blake3_hasher h;

	blake3_hasher_init(&h);
	blake3_hasher_update(&h, in, in_len);
	finish(&h, out, out_len);
}

void l2s_blake3_keyed(uint8_t *out, size_t out_len, const uint8_t key[L2S_BLAKE3_KEY_BYTES],
		      const uint8_t *in, size_t in_len)
{
	blake3_hasher h;

	blake3_hasher_init_keyed(&h, key);
	blake3_hasher_update(&h, in, in_len);
	finish(&h, out, out_len);
}

void l2s_blake3_derive_key(uint8_t *out, size_t out_len, const char *context, size_t context_len,
			   const uint8_t *material, size_t material_len)
{
	blake3_hasher h;

	blake3_hasher_init_derive_key_raw(&h, context, context_len);
	blake3_hasher_update(&h, material, material_len);
	finish(&h, out, out_len);
}

const char *l2s_blake3_backend(void)
{
	switch (blake3_simd_degree()) {
	case 16:
		return "avx512";
	case 8:
		return "avx2";
	case 4:
#if defined(__aarch64__) || defined(__arm__)
		return "neon";
#else
		return "sse4.1/sse2";
#endif
	default:
		return "portable";
	}
}
