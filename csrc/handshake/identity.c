// SPDX-License-Identifier: Apache-2.0
/* The local identity and the per-identity keys derived from it. */
#include <sodium.h>
#include <string.h>

#include "handshake/identity.h"

int l2s_identity_init(struct l2s_identity *id, const uint8_t sk[L2S_ED25519_SK_BYTES])
{
	uint8_t pk[L2S_ED25519_PK_BYTES], sk2[L2S_ED25519_SK_BYTES];
	int ret = l2s_ed25519_seed_keypair(pk, sk2, sk);

	/* A secret key whose second half is not its public key would make
	 * every signature we send fail at the peer: refuse it here. */
	if (ret == L2S_OK && sodium_memcmp(pk, sk + 32, sizeof(pk)) != 0)
		ret = L2S_ERR_INVALID_KEY;
	if (ret == L2S_OK) {
		memcpy(id->sk, sk2, sizeof(id->sk));
		memcpy(id->pk, pk, sizeof(id->pk));
		l2s_kdf_mac1_key(id->mac1_key, pk);
		l2s_kdf_cookie_key(id->cookie_key, pk);
	}
	l2s_wipe(sk2, sizeof(sk2));
	return ret;
}

void l2s_identity_wipe(struct l2s_identity *id)
{
	l2s_wipe(id, sizeof(*id));
}
