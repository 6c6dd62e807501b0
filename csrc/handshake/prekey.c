// SPDX-License-Identifier: Apache-2.0
/* Responder prekeys: expansion, naming and lookup by prekey_id. */
#include <string.h>

#include "handshake/prekey.h"

void l2s_prekey_id(uint8_t id[L2S_PREKEY_ID_BYTES], const uint8_t prekey_pk[L2S_XWING_PK_BYTES])
{
	uint8_t h[L2S_BLAKE3_OUT_BYTES];

	l2s_blake3(h, sizeof(h), prekey_pk, L2S_XWING_PK_BYTES);
	memcpy(id, h, L2S_PREKEY_ID_BYTES);
}

int l2s_prekey_init(struct l2s_prekey *pk, const uint8_t seed[L2S_XWING_SK_BYTES])
{
	int ret = l2s_xwing_expand(&pk->secret, seed);

	if (ret != L2S_OK)
		return ret;
	l2s_xwing_public(pk->pk, &pk->secret);
	l2s_prekey_id(pk->id, pk->pk);
	return L2S_OK;
}

void l2s_prekey_wipe(struct l2s_prekey *pk)
{
	l2s_wipe(pk, sizeof(*pk));
}

const struct l2s_prekey *l2s_prekey_find(const struct l2s_prekey *const *keys, size_t n,
					 const uint8_t id[L2S_PREKEY_ID_BYTES])
{
	for (size_t i = 0; i < n; i++)
		if (keys[i] && memcmp(keys[i]->id, id, L2S_PREKEY_ID_BYTES) == 0)
			return keys[i];
	return NULL;
}
