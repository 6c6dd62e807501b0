// SPDX-License-Identifier: Apache-2.0
/* Ed25519 (RFC 8032) identity signatures through libsodium. */
#include <sodium.h>

#include "l2s.h"

int l2s_ed25519_keypair(uint8_t pk[L2S_ED25519_PK_BYTES], uint8_t sk[L2S_ED25519_SK_BYTES])
{
	return crypto_sign_ed25519_keypair(pk, sk) == 0 ? L2S_OK : L2S_ERR_INTERNAL;
}

int l2s_ed25519_seed_keypair(uint8_t pk[L2S_ED25519_PK_BYTES], uint8_t sk[L2S_ED25519_SK_BYTES],
			     const uint8_t seed[L2S_ED25519_SEED_BYTES])
{
	return crypto_sign_ed25519_seed_keypair(pk, sk, seed) == 0 ? L2S_OK : L2S_ERR_INTERNAL;
}

int l2s_ed25519_sign(uint8_t sig[L2S_ED25519_SIG_BYTES], const uint8_t *msg, size_t msg_len,
		     const uint8_t sk[L2S_ED25519_SK_BYTES])
{
	return crypto_sign_ed25519_detached(sig, NULL, msg, msg_len, sk) == 0 ? L2S_OK : L2S_ERR_INTERNAL;
}

int l2s_ed25519_verify(const uint8_t sig[L2S_ED25519_SIG_BYTES], const uint8_t *msg, size_t msg_len,
		       const uint8_t pk[L2S_ED25519_PK_BYTES])
{
	/* libsodium rejects non-canonical S and small-order keys (strict RFC 8032). */
	return crypto_sign_ed25519_verify_detached(sig, msg, msg_len, pk) == 0 ? L2S_OK : L2S_ERR_AUTH;
}
