/* SPDX-License-Identifier: Apache-2.0 */
/* The responder's X-Wing prekeys (PROTOCOL.md §3): expanded once, named on
 * the wire by prekey_id = H(prekey_pk)[0..8]. A node keeps its current and
 * previous prekey so that bundles published before a change still work. */
#ifndef L2S_PREKEY_H
#define L2S_PREKEY_H

#include <stddef.h>
#include <stdint.h>

#include "l2s.h"
#include "wire/wire.h"
#include "crypto/xwing.h"

struct l2s_prekey {
	struct l2s_xwing_secret secret;
	uint8_t pk[L2S_XWING_PK_BYTES];
	uint8_t id[L2S_PREKEY_ID_BYTES];
};

void l2s_prekey_id(uint8_t id[L2S_PREKEY_ID_BYTES], const uint8_t prekey_pk[L2S_XWING_PK_BYTES]);
/* Expands the 32-byte X-Wing seed and computes pk and id. */
int l2s_prekey_init(struct l2s_prekey *pk, const uint8_t seed[L2S_XWING_SK_BYTES]);
void l2s_prekey_wipe(struct l2s_prekey *pk);
/* The prekey among keys[0..n) (NULL entries skipped) whose id matches, or
 * NULL. Ids are public, so an ordinary comparison is fine. */
const struct l2s_prekey *l2s_prekey_find(const struct l2s_prekey *const *keys, size_t n,
					 const uint8_t id[L2S_PREKEY_ID_BYTES]);

#endif /* L2S_PREKEY_H */
