/* SPDX-License-Identifier: Apache-2.0 */
/* The 1-RTT hybrid handshake of docs/PROTOCOL.md §4 as pure functions over
 * explicit state. The caller (the node) owns all policy: index matching,
 * handshake counters and their replay check (counter_table.h), quarantine,
 * cookies under load (cookie.h) and timeouts.
 *
 * Initiator                                  Responder
 *   st = l2s_hs_initiator_new()
 *   l2s_hs_create_init(st, ...)  -- st->msg -->  l2s_mac1_verify()      (cheap, first)
 *                                                [cookie.h under load]
 *                                                l2s_hs_consume_init(&rst, ...)
 *                                                counter check, quarantine
 *   l2s_hs_consume_resp(&keys, st, ...) <------  l2s_hs_create_resp(out, &keys, &rst, ...)
 *   l2s_hs_initiator_free(st)
 *
 * Every function returns L2S_OK or a negative enum l2s_err and wipes every
 * temporary secret on every path. Randomness comes only from the rng
 * argument, in a fixed order (documented per function), so a seeded rng
 * reproduces the messages byte for byte.
 */
#ifndef L2S_HANDSHAKE_H
#define L2S_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "handshake/identity.h"
#include "crypto/kdf.h"
#include "l2s.h"
#include "handshake/prekey.h"
#include "crypto/rng.h"
#include "wire/wire.h"
#include "crypto/xwing.h"

#define L2S_HS_SIG_INITIATOR "l2sess/1 2026-11 initiator"
#define L2S_HS_SIG_RESPONDER "l2sess/1 2026-11 responder"

/* The initiator between create-INIT and consume-RESP. Heap-allocated with
 * l2s_hs_initiator_new() so that a session carries only a pointer while the
 * ~2.5 KB ephemeral exists; free it (wiping) when the attempt ends. */
struct l2s_hs_initiator {
	struct l2s_xwing_secret e;          /* ephemeral X-Wing key, wiped after RESP */
	uint8_t ss1[L2S_XWING_SS_BYTES];    /* from the encapsulation to R's prekey */
	uint8_t h_init[L2S_HASH_BYTES];
	uint8_t r_pk[L2S_ED25519_PK_BYTES]; /* the responder's identity */
	uint8_t msg[L2S_HS_INIT_BYTES];     /* the INIT as sent (re-sent with mac2) */
	uint64_t counter;
	uint32_t sender_index;
	int done;                           /* 1 once the RESP was consumed */
};

/* L2S_OK or L2S_ERR_NOMEM; *out is zeroed state. */
int l2s_hs_initiator_new(struct l2s_hs_initiator **out);
/* Wipes and frees; NULL is fine. */
void l2s_hs_initiator_free(struct l2s_hs_initiator *st);

/* Builds HANDSHAKE_INIT into st->msg (L2S_HS_INIT_BYTES).
 *   r_pk, prekey_pk: from R's verified bundle (bundle.h);
 *   binding: the transport's channel binding, NULL for 32 zero bytes;
 *   counter: I's handshake counter towards R (strictly growing);
 *   sender_index: I's random local index for this attempt;
 *   cookie: a cookie from R's COOKIE_REPLY (sets mac2) or NULL.
 * rng draws: 32 bytes (ephemeral seed), then 64 bytes (encapsulation).
 * L2S_ERR_INVALID_KEY when prekey_pk fails the ML-KEM key check. */
int l2s_hs_create_init(struct l2s_hs_initiator *st, const struct l2s_identity *self,
		       const uint8_t r_pk[L2S_ED25519_PK_BYTES], const uint8_t prekey_pk[L2S_XWING_PK_BYTES],
		       const uint8_t *binding, uint64_t counter, uint32_t sender_index, const uint8_t *cookie,
		       struct l2s_rng *rng);

/* The part of a HANDSHAKE_INIT that depends on neither the transport (the
 * binding) nor the attempt (counter, index): the ephemeral key and the
 * encapsulation to R's prekey, three quarters of its cost. Made ahead of
 * time, while a transport connects. */
struct l2s_hs_prepared {
	uint8_t prekey_id[L2S_PREKEY_ID_BYTES]; /* the prekey ct1 is for */
	struct l2s_xwing_secret e;
	uint8_t ct1[L2S_XWING_CT_BYTES];
	uint8_t ss1[L2S_XWING_SS_BYTES];
};

/* rng draws as l2s_hs_create_init's. L2S_ERR_INVALID_KEY as there; p is
 * wiped on failure. */
int l2s_hs_prepare(struct l2s_hs_prepared *p, const uint8_t prekey_pk[L2S_XWING_PK_BYTES], struct l2s_rng *rng);

/* l2s_hs_create_init with a prepared part for the same prekey_pk (else
 * L2S_ERR_STATE), which it consumes (wipes); no rng draws. */
int l2s_hs_create_init_prepared(struct l2s_hs_initiator *st, const struct l2s_identity *self,
				const uint8_t r_pk[L2S_ED25519_PK_BYTES], const uint8_t prekey_pk[L2S_XWING_PK_BYTES],
				const uint8_t *binding, uint64_t counter, uint32_t sender_index,
				const uint8_t *cookie, struct l2s_hs_prepared *p);

/* Sets mac2 of st->msg from a cookie (after a COOKIE_REPLY), ready to re-send. */
void l2s_hs_initiator_set_cookie(struct l2s_hs_initiator *st, const uint8_t cookie[L2S_COOKIE_BYTES]);

/* Consumes a COOKIE_REPLY to this attempt (l2s_cookie_reply_consume() with
 * st's responder, index and mac1) and sets mac2 of st->msg: send st->msg
 * again. cookie_out (32 bytes, or NULL) receives the cookie so the caller
 * can use it for a later attempt to the same address; R accepts it for
 * 120 to 240 s. Errors as l2s_cookie_reply_consume(). */
int l2s_hs_initiator_consume_cookie(struct l2s_hs_initiator *st, uint8_t *cookie_out, const uint8_t *msg,
				    size_t len);
/* The same after the caller decoded the reply (m). */
int l2s_hs_initiator_open_cookie(struct l2s_hs_initiator *st, uint8_t *cookie_out, const struct l2s_cookie_reply *m);

/* Consumes HANDSHAKE_RESP. The caller matched its receiver_index to this
 * attempt; it is checked again (L2S_ERR_NOT_FOUND). Errors: L2S_ERR_DECODE,
 * L2S_ERR_AUTH (mac1, sealed_sig or sig_R). Run l2s_mac1_verify() first, as
 * for every handshake-family message, and drop on failure there; an
 * L2S_ERR_AUTH from here after that means the response did not authenticate
 * and the attempt ends (§4.3: failed, authentication_failed). On L2S_OK: keys for the
 * initiator role, *responder_index = R's sender_index, and the ephemeral
 * secret and ss1 are wiped (st->done = 1). On an error st is unchanged. */
int l2s_hs_consume_resp(struct l2s_session_keys *keys, uint32_t *responder_index, struct l2s_hs_initiator *st,
			const struct l2s_identity *self, const uint8_t *msg, size_t len);
/* The same for a caller that has decoded msg (m, by l2s_decode_hs_resp, which
 * refuses a non-zero mac2) and checked its mac1 (the engine, which does both
 * before it looks for the attempt): each message is decoded and its MACs
 * checked once. */
int l2s_hs_consume_resp_checked(struct l2s_session_keys *keys, uint32_t *responder_index,
				struct l2s_hs_initiator *st, const struct l2s_hs_resp *m, const uint8_t *msg);

/* The responder between consume-INIT and create-RESP: short-lived (stack). */
struct l2s_hs_responder {
	uint8_t ss1[L2S_XWING_SS_BYTES];
	uint8_t h_init[L2S_HASH_BYTES];
	uint8_t sealed_identity[L2S_HS_INIT_SEALED_BYTES];
	uint8_t e_pk[L2S_XWING_PK_BYTES];
	uint8_t peer_pk[L2S_ED25519_PK_BYTES];    /* the verified initiator identity */
	uint8_t prekey_id[L2S_PREKEY_ID_BYTES];   /* which of our prekeys I used */
	uint64_t counter;                          /* I's verified handshake counter */
	uint32_t peer_index;                       /* I's sender_index */
};

/* Consumes HANDSHAKE_INIT. Order (cheap first): decode (L2S_ERR_DECODE),
 * mac1 (L2S_ERR_AUTH), prekey by prekey_id among prekeys[0..n) (NULL
 * entries skipped; L2S_ERR_NOT_FOUND), e_pk check (L2S_ERR_INVALID_KEY),
 * decapsulation, open sealed_identity and verify sig_I (L2S_ERR_AUTH).
 * mac2 is not looked at (cookie.h). binding: NULL for zeros. On L2S_OK st
 * holds the verified peer_pk and counter; the counter policy is the
 * caller's. On an error st is wiped. */
int l2s_hs_consume_init(struct l2s_hs_responder *st, const struct l2s_identity *self,
			const struct l2s_prekey *const *prekeys, size_t n_prekeys, const uint8_t *binding,
			const uint8_t *msg, size_t len);
/* The same after the caller decoded msg (m) and checked its mac1. */
int l2s_hs_consume_init_checked(struct l2s_hs_responder *st, const struct l2s_identity *self,
				const struct l2s_prekey *const *prekeys, size_t n_prekeys, const uint8_t *binding,
				const struct l2s_hs_init *m, const uint8_t *msg);

/* Builds HANDSHAKE_RESP (L2S_HS_RESP_BYTES) into out and the responder's
 * keys. rng draws: 64 bytes (encapsulation to e_pk). st is wiped on return. */
int l2s_hs_create_resp(uint8_t out[L2S_HS_RESP_BYTES], struct l2s_session_keys *keys, struct l2s_hs_responder *st,
		       const struct l2s_identity *self, uint32_t sender_index, struct l2s_rng *rng);

void l2s_hs_responder_wipe(struct l2s_hs_responder *st);

#endif /* L2S_HANDSHAKE_H */
