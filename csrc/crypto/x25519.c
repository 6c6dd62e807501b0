// SPDX-License-Identifier: Apache-2.0
/* X25519 (RFC 7748) through libsodium's constant-time implementation. */
#include <sodium.h>

#include "crypto/ct.h"
#include "l2s.h"

int l2s_x25519_base(uint8_t pk[L2S_X25519_BYTES], const uint8_t sk[L2S_X25519_BYTES])
{
	return crypto_scalarmult_curve25519_base(pk, sk) == 0 ? L2S_OK : L2S_ERR_INVALID_KEY;
}

int l2s_x25519_keypair(uint8_t pk[L2S_X25519_BYTES], uint8_t sk[L2S_X25519_BYTES])
{
	l2s_random(sk, L2S_X25519_BYTES);
	return l2s_x25519_base(pk, sk);
}

int l2s_x25519(uint8_t out[L2S_X25519_BYTES], const uint8_t sk[L2S_X25519_BYTES],
	       const uint8_t pk[L2S_X25519_BYTES])
{
	/* libsodium refuses an all-zero result, i.e. a small-order peer key: a
	 * peer that sends one would otherwise force a known shared secret. */
	int ret = crypto_scalarmult_curve25519(out, sk, pk);

	/* Whether the result is zero depends only on the public key's order. */
	l2s_declassify(&ret, sizeof(ret));
	if (ret != 0) {
		l2s_wipe(out, L2S_X25519_BYTES);
		return L2S_ERR_INVALID_KEY;
	}
	return L2S_OK;
}
