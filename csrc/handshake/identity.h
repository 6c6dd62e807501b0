/* SPDX-License-Identifier: Apache-2.0 */
/* The local node's long-term identity with the keys derived from its public
 * key once, so that the mac1 check on every received handshake message costs
 * a single BLAKE3 call (PROTOCOL.md §4.3). */
#ifndef L2S_IDENTITY_H
#define L2S_IDENTITY_H

#include <stdint.h>

#include "crypto/kdf.h"
#include "l2s.h"

struct l2s_identity {
	uint8_t sk[L2S_ED25519_SK_BYTES];  /* Ed25519 seed || public key */
	uint8_t pk[L2S_ED25519_PK_BYTES];
	uint8_t mac1_key[L2S_KEY_BYTES];   /* KDF("mac1", pk): mac1 of messages to us */
	uint8_t cookie_key[L2S_KEY_BYTES]; /* KDF("cookie key", pk): our COOKIE_REPLYs */
};

/* From the 64-byte libsodium secret key (seed || pk). L2S_ERR_INVALID_KEY
 * when the public half does not belong to the seed. */
int l2s_identity_init(struct l2s_identity *id, const uint8_t sk[L2S_ED25519_SK_BYTES]);
void l2s_identity_wipe(struct l2s_identity *id);

#endif /* L2S_IDENTITY_H */
