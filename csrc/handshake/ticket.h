/* SPDX-License-Identifier: Apache-2.0 */
/* Session tickets (PROTOCOL.md §8): R seals (session_id, peer_pk, rs,
 * not_after) under its own ticket key so it can resume a session without
 * keeping per-session state. Ticket: stek_id (u32) || nonce (12) ||
 * AEAD(stek, nonce, session_id || peer_pk || rs || not_after_ms, ad = stek_id),
 * 120 bytes, opaque to I.
 *
 * R keeps two ticket keys, current and previous, each with a distinct id;
 * the current one is replaced every ticket lifetime, so a ticket sealed just
 * before a replacement can be opened until it expires. stek =
 * KDF("ticket key", a random 32-byte seed).
 */
#ifndef L2S_TICKET_H
#define L2S_TICKET_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kdf.h"
#include "l2s.h"
#include "crypto/rng.h"
#include "wire/wire.h"

#define L2S_TICKET_PT_BYTES (L2S_SESSION_ID_BYTES + L2S_ED25519_PK_BYTES + L2S_KEY_BYTES + 8)

struct l2s_stek {
	uint32_t id;
	uint8_t key[L2S_KEY_BYTES];
	int valid;
};

struct l2s_ticket_keys {
	struct l2s_stek current, previous;
	uint64_t changed_ms;  /* when current was made */
	uint64_t lifetime_ms; /* the ticket lifetime; current is replaced after it */
};

struct l2s_ticket_contents {
	uint8_t session_id[L2S_SESSION_ID_BYTES];
	uint8_t peer_pk[L2S_ED25519_PK_BYTES]; /* the peer the ticket was issued to */
	uint8_t rs[L2S_KEY_BYTES];
	uint64_t not_after_ms;                 /* on R's clock */
};

/* rng draws: 4 bytes (first id), 32 bytes (seed). lifetime_ms 0 is taken as 1. */
void l2s_ticket_keys_init(struct l2s_ticket_keys *k, uint64_t lifetime_ms, struct l2s_rng *rng, uint64_t now_ms);
/* Replaces the current key once a lifetime has passed (32 rng bytes); after
 * two lifetimes without a call the previous key is dropped too. */
void l2s_ticket_keys_update(struct l2s_ticket_keys *k, struct l2s_rng *rng, uint64_t now_ms);
uint64_t l2s_ticket_keys_deadline(const struct l2s_ticket_keys *k);
void l2s_ticket_keys_wipe(struct l2s_ticket_keys *k);

/* Seals c under the current key into a 120-byte ticket. rng draws: 12 bytes. */
int l2s_ticket_seal(uint8_t out[L2S_TICKET_BYTES], const struct l2s_ticket_keys *k,
		    const struct l2s_ticket_contents *c, struct l2s_rng *rng);
/* Opens a ticket. L2S_ERR_DECODE (not 120 bytes), L2S_ERR_AUTH (unknown
 * stek_id, bad tag, or expected_peer given and different), L2S_ERR_EXPIRED
 * (now_ms >= not_after_ms). c is written only on L2S_OK. */
int l2s_ticket_open(struct l2s_ticket_contents *c, const struct l2s_ticket_keys *k, const uint8_t *ticket,
		    size_t len, const uint8_t *expected_peer, uint64_t now_ms);
void l2s_ticket_contents_wipe(struct l2s_ticket_contents *c);

#endif /* L2S_TICKET_H */
