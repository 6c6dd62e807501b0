/* SPDX-License-Identifier: Apache-2.0 */
/* Resumption (PROTOCOL.md §8): RESUME_INIT and RESUME_RESP, one round trip,
 * in ticket mode (R opens its own ticket to find rs) or key-derivation mode
 * (R looks rs up by session_id in what it stored), with an optional fresh
 * X25519 share from each side for forward secrecy of the resumed keys.
 *
 * Initiator                                  Responder
 *   l2s_resume_create_init(&ist, ...)  ------>  l2s_resume_consume_init(&rst, &ctx, ...)
 *                                                (mac1, ticket or lookup, binder, nonce cache)
 *   l2s_resume_consume_resp(&keys, &ist) <----  l2s_resume_create_resp(out, &keys, &rst, ...)
 *   send CONFIRM under keys                      established on the first frame under keys
 *
 * Both messages are bound to the transport connection they travel on, as
 * the full handshake is through h0: the binder key is KDF("resume binder",
 * rs || binding) and the binding enters the transcript hash, so a RESUME_INIT
 * relayed from another QUIC connection fails the responder's binder check.
 *
 * Keys come from ck' = KDF("resumption keys", rs || dh || H(binding ||
 * RESUME_INIT || RESP bytes 0..76)) exactly as §4.2 derives them from ck,
 * with the resumption initiator in the initiator role, except that session_id is
 * kept: keys->session_id is the resumed session's id, keys->rs and keys->rc
 * are the next resumption secret and rotation chain.
 */
#ifndef L2S_RESUME_H
#define L2S_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "handshake/identity.h"
#include "crypto/kdf.h"
#include "l2s.h"
#include "handshake/nonce_cache.h"
#include "crypto/rng.h"
#include "handshake/ticket.h"
#include "wire/wire.h"

#define L2S_RESUME_INIT_MAX_BYTES (L2S_RESUME_INIT_MIN_BYTES + L2S_MAX_TICKET)

/* The initiator between create-INIT and consume-RESP (~480 bytes). */
struct l2s_resume_initiator {
	uint8_t rs[L2S_KEY_BYTES];
	uint8_t session_id[L2S_SESSION_ID_BYTES];
	uint8_t x_sk[L2S_X25519_BYTES];       /* fresh X25519 secret, if with_x25519 */
	uint8_t binding[L2S_BINDING_BYTES];   /* of the path RESUME_INIT was sent on */
	uint8_t msg[L2S_RESUME_INIT_MAX_BYTES]; /* the RESUME_INIT as sent */
	size_t msg_len;
	uint32_t sender_index;
	int with_x25519;
	int done;
};

/* Builds RESUME_INIT into st->msg (st->msg_len bytes).
 *   r_pk: R's identity (mac1); binding: the channel binding of the path
 *   RESUME_INIT goes out on, NULL for 32 zero bytes (PROTOCOL.md §2.1);
 *   session_id, rs: the session being resumed;
 *   ticket, ticket_len: R's ticket (ticket mode), or NULL, 0 (key derivation);
 *   with_x25519: offer a fresh X25519 share.
 * rng draws: 32 bytes (nonce_i), then 32 bytes (X25519 secret) if offered.
 * L2S_ERR_LENGTH when ticket_len > 256. */
int l2s_resume_create_init(struct l2s_resume_initiator *st, const uint8_t r_pk[L2S_ED25519_PK_BYTES],
			   const uint8_t *binding, const uint8_t session_id[L2S_SESSION_ID_BYTES],
			   const uint8_t rs[L2S_KEY_BYTES], const uint8_t *ticket, size_t ticket_len, int with_x25519,
			   uint32_t sender_index, struct l2s_rng *rng);
/* Consumes RESUME_RESP: L2S_ERR_DECODE, L2S_ERR_AUTH (mac1: drop; confirm,
 * or no X25519 share when one was offered: the attempt failed; call
 * l2s_mac1_verify() first to tell the two apart),
 * L2S_ERR_NOT_FOUND (receiver_index), L2S_ERR_INVALID_KEY (R's X25519
 * share has small order). On L2S_OK the keys (initiator role) and R's index;
 * st's secrets are wiped. On an error st is unchanged. */
int l2s_resume_consume_resp(struct l2s_session_keys *keys, uint32_t *responder_index,
			    struct l2s_resume_initiator *st, const struct l2s_identity *self, const uint8_t *msg,
			    size_t len);
/* The same after the caller decoded msg (m) and checked its mac1: each
 * message is decoded and its MACs checked once. */
int l2s_resume_consume_resp_checked(struct l2s_session_keys *keys, uint32_t *responder_index,
				    struct l2s_resume_initiator *st, const struct l2s_resume_resp *m,
				    const uint8_t *msg);
void l2s_resume_initiator_wipe(struct l2s_resume_initiator *st);

/* Key-derivation mode: the node's stored sessions. Fills the candidate-th
 * resumption secret the node holds for session_id (0: the confirmed one, 1:
 * one from keys the peer has not confirmed yet) and the peer's identity, and
 * returns L2S_OK, or L2S_ERR_NOT_FOUND when there is no such candidate. */
#define L2S_RESUME_CANDIDATES 2
typedef int (*l2s_resume_lookup_fn)(void *arg, const uint8_t session_id[L2S_SESSION_ID_BYTES], int candidate,
				    uint8_t rs[L2S_KEY_BYTES], uint8_t peer_pk[L2S_ED25519_PK_BYTES]);

/* What the responder brings to a RESUME_INIT. */
struct l2s_resume_ctx {
	const struct l2s_identity *self;
	const struct l2s_ticket_keys *tickets; /* NULL: ticket mode refused */
	struct l2s_nonce_cache *nonces;        /* nonce_i replay cache */
	l2s_resume_lookup_fn lookup;           /* NULL: key-derivation mode refused */
	void *lookup_arg;
	const uint8_t *binding;                /* of the path RESUME_INIT arrived on; NULL: zeros */
};

/* The responder between consume-INIT and create-RESP: short-lived. */
struct l2s_resume_responder {
	uint8_t rs[L2S_KEY_BYTES];
	uint8_t session_id[L2S_SESSION_ID_BYTES];
	uint8_t peer_pk[L2S_ED25519_PK_BYTES];  /* whom the session belongs to */
	uint8_t peer_x_pk[L2S_X25519_BYTES];    /* I's X25519 share, if flagged */
	uint8_t binding[L2S_BINDING_BYTES];     /* ctx->binding, for the transcript */
	uint8_t msg[L2S_RESUME_INIT_MAX_BYTES]; /* the RESUME_INIT (transcript) */
	size_t msg_len;
	uint64_t ticket_not_after_ms;            /* ticket mode */
	int candidate;                           /* key-derivation mode: the lookup candidate that verified */
	uint32_t peer_index;
	uint8_t mode, flags;
};

/* Consumes RESUME_INIT. Order: decode and field rules (L2S_ERR_DECODE),
 * mac1 (L2S_ERR_AUTH), the ticket (L2S_ERR_AUTH: not ours, forged or for
 * another session_id; L2S_ERR_EXPIRED) or the lookup (L2S_ERR_NOT_FOUND),
 * binder (L2S_ERR_AUTH: also when made for another connection's binding),
 * nonce cache (L2S_ERR_REPLAY). No public-key work. A ticket that fails
 * (e.g. made before this node restarted) is not the end when the lookup
 * holds the session: its rs and the binder decide, and st->mode says
 * key derivation.
 * On L2S_OK st says which session (session_id, peer_pk) is resumed; the
 * caller checks quarantine and whether it accepts. On an error st is wiped. */
int l2s_resume_consume_init(struct l2s_resume_responder *st, const struct l2s_resume_ctx *ctx,
			    const uint8_t *msg, size_t len, uint64_t now_ms);
/* The same after the caller decoded msg (m) and checked its mac1. */
int l2s_resume_consume_init_checked(struct l2s_resume_responder *st, const struct l2s_resume_ctx *ctx,
				    const struct l2s_resume_init *m, const uint8_t *msg, size_t len,
				    uint64_t now_ms);
/* Builds RESUME_RESP (124 bytes) and the responder's keys. rng draws: 32
 * bytes (nonce_r), then 32 (X25519 secret) when I offered a share.
 * L2S_ERR_INVALID_KEY when I's share has small order. st is wiped. */
int l2s_resume_create_resp(uint8_t out[L2S_RESUME_RESP_BYTES], struct l2s_session_keys *keys,
			   struct l2s_resume_responder *st, uint32_t sender_index, struct l2s_rng *rng);
void l2s_resume_responder_wipe(struct l2s_resume_responder *st);

#endif /* L2S_RESUME_H */
