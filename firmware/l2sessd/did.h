/* SPDX-License-Identifier: Apache-2.0 */
/* did.h - did:key of an Ed25519 key (PROTOCOL.md §3): "did:key:z" and the
 * base58btc of the multicodec prefix 0xed 0x01 and the 32-byte key. */
#ifndef L2SESSD_DID_H
#define L2SESSD_DID_H

#include <stddef.h>
#include <stdint.h>

#define DID_MAX_CHARS 57 /* "did:key:z" + at most 48 digits */
#define DID_WHY_BYTES 96

/* out gets the DID, NUL-terminated (DID_MAX_CHARS + 1 bytes). */
void did_from_public_key(char out[DID_MAX_CHARS + 1], const uint8_t pk[32]);
/* 0 and pk, or -1 and why, in l2sess.did's words. */
int did_to_public_key(const char *did, size_t len, uint8_t pk[32], char why[DID_WHY_BYTES]);

#endif
