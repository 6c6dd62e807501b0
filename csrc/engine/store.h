/* SPDX-License-Identifier: Apache-2.0 */
/* StoredSession (PROTOCOL.md §10): what a node keeps to resume a session
 * after a restart, sealed under its storage key.
 *
 * Sealed form:  "L2SS" (4) || format 0x01 (1) || nonce (12) ||
 *               AEAD(KDF("stored session", storage_key), nonce, record,
 *                    ad = the first 5 bytes)
 *
 * Record (plaintext, all integers big-endian):
 *   off  len  field
 *     0    1  record version = 0x01
 *     1    1  role: 0x01 initiator, 0x00 responder (of the establishing handshake)
 *     2    1  flags: bit 0 set <=> a ticket is present; other bits 0
 *     3    1  reserved = 0
 *     4   32  peer_pk (the peer's Ed25519 identity)
 *    36   16  session_id
 *    52   32  rs (resumption secret)
 *    84   32  rc (rotation chain)
 *   116    8  peer_prekey_id at establishment (zeros when unknown)
 *   124    8  handshake_counter (I's counter towards the peer)
 *   132    8  created_ms
 *   140    8  expires_ms (open refuses the record from then on)
 *   148    8  ticket_not_after_ms (0 without a ticket)
 *   156    2  ticket_len T (0, or 1..256 with the flag)
 *   158    4  delivery_len D (<= L2S_STORE_MAX_DELIVERY)
 *   162    T  ticket
 * 162+T    D  delivery state: opaque bytes supplied by the caller
 */
#ifndef L2S_STORE_H
#define L2S_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kdf.h"
#include "l2s.h"
#include "crypto/rng.h"
#include "wire/wire.h"

#define L2S_STORE_MAGIC "L2SS"
#define L2S_STORE_FORMAT 1
#define L2S_STORE_RECORD_VERSION 1
#define L2S_STORE_OUTER_BYTES (4 + 1 + L2S_AEAD_NONCE_BYTES)
#define L2S_STORE_FIXED_BYTES 162
#define L2S_STORE_OVERHEAD (L2S_STORE_OUTER_BYTES + L2S_AEAD_TAG_BYTES)
#define L2S_STORE_MAX_DELIVERY ((size_t)64 << 20)

struct l2s_stored_session {
	int role; /* enum l2s_role */
	uint8_t peer_pk[L2S_ED25519_PK_BYTES];
	uint8_t session_id[L2S_SESSION_ID_BYTES];
	uint8_t rs[L2S_KEY_BYTES];
	uint8_t rc[L2S_KEY_BYTES];
	uint8_t peer_prekey_id[L2S_PREKEY_ID_BYTES];
	uint64_t handshake_counter;
	uint64_t created_ms, expires_ms;
	uint64_t ticket_not_after_ms;
	uint8_t ticket[L2S_MAX_TICKET];
	size_t ticket_len;
	const uint8_t *delivery; /* seal: the caller's bytes; open: delivery_buf */
	size_t delivery_len;
};

/* Size of the sealed form for these lengths (no overflow for valid ones). */
size_t l2s_store_sealed_len(size_t ticket_len, size_t delivery_len);
/* Seals s into out. *len gets the size; L2S_ERR_LENGTH when cap is short or
 * a length is out of range. rng draws: 12 bytes (nonce). */
int l2s_store_seal(uint8_t *out, size_t cap, size_t *len, const struct l2s_stored_session *s,
		   const uint8_t storage_key[L2S_KEY_BYTES], struct l2s_rng *rng);
/* Opens a sealed StoredSession. The delivery blob is copied to delivery_buf
 * (at most len - L2S_STORE_OVERHEAD - L2S_STORE_FIXED_BYTES bytes) and
 * s->delivery points there. L2S_ERR_DECODE (malformed outer form or
 * record), L2S_ERR_AUTH (wrong key or tampered), L2S_ERR_LENGTH
 * (delivery_cap too small), L2S_ERR_EXPIRED (now_ms >= expires_ms).
 * s is written only on L2S_OK. */
int l2s_store_open(struct l2s_stored_session *s, uint8_t *delivery_buf, size_t delivery_cap, const uint8_t *in,
		   size_t len, const uint8_t storage_key[L2S_KEY_BYTES], uint64_t now_ms);
void l2s_stored_session_wipe(struct l2s_stored_session *s);

#endif /* L2S_STORE_H */
