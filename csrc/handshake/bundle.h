/* SPDX-License-Identifier: Apache-2.0 */
/* Signed prekey bundles (PROTOCOL.md §3). The public check is
 * l2s_prekey_bundle_verify() in l2s.h; l2s_bundle_open() is the same check
 * returning the decoded fields for the node. */
#ifndef L2S_BUNDLE_H
#define L2S_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "handshake/identity.h"
#include "l2s.h"
#include "wire/wire.h"

#define L2S_BUNDLE_SIG_PREFIX "l2sess/1 2026-11 prekey bundle"

/* Writes the 1321-byte PREKEY_BUNDLE for prekey_pk, signed by id. */
int l2s_bundle_make(uint8_t out[L2S_PREKEY_BUNDLE_BYTES], const struct l2s_identity *id,
		    const uint8_t prekey_pk[L2S_XWING_PK_BYTES], uint64_t not_after_s);
/* Decodes and checks a bundle: L2S_ERR_DECODE (malformed), L2S_ERR_AUTH
 * (identity_pk differs or the signature fails), L2S_ERR_EXPIRED
 * (now_s >= not_after). On L2S_OK *out points into bundle. */
int l2s_bundle_open(struct l2s_bundle *out, const uint8_t *bundle, size_t len,
		    const uint8_t identity_pk[L2S_ED25519_PK_BYTES], uint64_t now_s);

#endif /* L2S_BUNDLE_H */
