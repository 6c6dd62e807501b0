// SPDX-License-Identifier: Apache-2.0
/* Resumption messages (PROTOCOL.md §8): binder, confirm and the key schedule. */
#include <sodium.h>
#include <string.h>

#include "handshake/cookie.h"
#include "handshake/resume.h"

#define RESUME_HEAD_BYTES 92 /* RESUME_INIT bytes before the ticket */

static const uint8_t zero16[16];
static const uint8_t zero_binding[L2S_BINDING_BYTES];

void l2s_resume_initiator_wipe(struct l2s_resume_initiator *st)
{
	l2s_wipe(st, sizeof(*st));
}

void l2s_resume_responder_wipe(struct l2s_resume_responder *st)
{
	l2s_wipe(st, sizeof(*st));
}

/* ck' = KDF("resumption keys", rs || dh || H(binding || RESUME_INIT || RESP
 * bytes 0..76)): keys made on one transport connection differ on any other. */
static void resumed_chaining_key(uint8_t ck[L2S_KEY_BYTES], const uint8_t rs[L2S_KEY_BYTES], const uint8_t *dh,
				 const uint8_t binding[L2S_BINDING_BYTES], const uint8_t *init_msg, size_t init_len,
				 const uint8_t *resp_msg)
{
	uint8_t th[L2S_HASH_BYTES];
	struct l2s_part p[] = {
		{ binding, L2S_BINDING_BYTES },
		{ init_msg, init_len },
		{ resp_msg, L2S_RESUME_RESP_CONFIRM_OFF },
	};

	l2s_hash_parts(th, p, 3);
	l2s_kdf_resumption_keys(ck, rs, dh, th);
}

/* Keys as in §4.2, but the session keeps its id. */
static void resumed_keys(struct l2s_session_keys *keys, const uint8_t ck[L2S_KEY_BYTES], int role,
			 const uint8_t session_id[L2S_SESSION_ID_BYTES])
{
	l2s_session_keys_derive(keys, ck, role);
	memcpy(keys->session_id, session_id, L2S_SESSION_ID_BYTES);
}

/* Writes MAC(KDF("resume binder", rs || binding), msg[0..off)) at msg + off. */
static void put_binder(uint8_t *msg, size_t off, const uint8_t rs[L2S_KEY_BYTES],
		       const uint8_t binding[L2S_BINDING_BYTES])
{
	uint8_t k[L2S_KEY_BYTES];

	l2s_kdf_resume_binder(k, rs, binding);
	l2s_mac_put(msg, off, k);
	l2s_wipe(k, sizeof(k));
}

static int check_binder(const uint8_t *msg, size_t off, const uint8_t rs[L2S_KEY_BYTES],
			const uint8_t binding[L2S_BINDING_BYTES])
{
	uint8_t k[L2S_KEY_BYTES];
	int ret;

	l2s_kdf_resume_binder(k, rs, binding);
	ret = l2s_mac_check(msg, off, k);
	l2s_wipe(k, sizeof(k));
	return ret;
}

static void put_confirm(uint8_t *msg, const uint8_t ck[L2S_KEY_BYTES])
{
	uint8_t k[L2S_KEY_BYTES];

	l2s_kdf_resume_confirm(k, ck);
	l2s_mac_put(msg, L2S_RESUME_RESP_CONFIRM_OFF, k);
	l2s_wipe(k, sizeof(k));
}

static int check_confirm(const uint8_t *msg, const uint8_t ck[L2S_KEY_BYTES])
{
	uint8_t k[L2S_KEY_BYTES];
	int ret;

	l2s_kdf_resume_confirm(k, ck);
	ret = l2s_mac_check(msg, L2S_RESUME_RESP_CONFIRM_OFF, k);
	l2s_wipe(k, sizeof(k));
	return ret;
}

/* ---- initiator ---- */

static int encode_init(struct l2s_resume_initiator *st, const uint8_t nonce[L2S_NONCE_BYTES],
		       const uint8_t *x_pk, const uint8_t *ticket, size_t ticket_len)
{
	struct l2s_resume_init m = {
		.sender_index = st->sender_index,
		.mode = ticket_len ? L2S_RESUME_MODE_TICKET : L2S_RESUME_MODE_KDF,
		.flags = x_pk ? L2S_RESUME_FLAG_X25519 : 0,
		.session_id = st->session_id,
		.nonce = nonce,
		.x25519_pk = x_pk,
		.ticket = ticket,
		.ticket_len = ticket_len,
		.binder = zero16,
		.mac1 = zero16,
	};

	if (l2s_encode_resume_init(st->msg, sizeof(st->msg), &m, &st->msg_len) != L2S_OK ||
	    st->msg_len != L2S_RESUME_INIT_MIN_BYTES + ticket_len)
		return L2S_ERR_INTERNAL;
	return L2S_OK;
}

int l2s_resume_create_init(struct l2s_resume_initiator *st, const uint8_t r_pk[L2S_ED25519_PK_BYTES],
			   const uint8_t *binding, const uint8_t session_id[L2S_SESSION_ID_BYTES],
			   const uint8_t rs[L2S_KEY_BYTES], const uint8_t *ticket, size_t ticket_len, int with_x25519,
			   uint32_t sender_index, struct l2s_rng *rng)
{
	uint8_t nonce[L2S_NONCE_BYTES], x_pk[L2S_X25519_BYTES], mac1_key[L2S_KEY_BYTES];
	int ret = L2S_OK;

	if (ticket_len > L2S_MAX_TICKET || (ticket_len && !ticket))
		return L2S_ERR_LENGTH;
	l2s_resume_initiator_wipe(st);
	memcpy(st->rs, rs, L2S_KEY_BYTES);
	memcpy(st->session_id, session_id, L2S_SESSION_ID_BYTES);
	memcpy(st->binding, binding ? binding : zero_binding, L2S_BINDING_BYTES);
	st->sender_index = sender_index;
	st->with_x25519 = !!with_x25519;
	l2s_rng_bytes(rng, nonce, sizeof(nonce));
	if (st->with_x25519) {
		l2s_rng_bytes(rng, st->x_sk, sizeof(st->x_sk));
		ret = l2s_x25519_base(x_pk, st->x_sk);
	}
	if (ret == L2S_OK)
		ret = encode_init(st, nonce, st->with_x25519 ? x_pk : NULL, ticket, ticket_len);
	if (ret != L2S_OK) {
		l2s_resume_initiator_wipe(st);
		return ret;
	}
	put_binder(st->msg, RESUME_HEAD_BYTES + ticket_len, st->rs, st->binding);
	l2s_kdf_mac1_key(mac1_key, r_pk);
	l2s_mac_put(st->msg, st->msg_len - L2S_MAC_BYTES, mac1_key);
	return L2S_OK;
}

/* The DH of the optional share: NULL dh when none was offered. */
static int initiator_dh(uint8_t dh[L2S_X25519_BYTES], int *have_dh, const struct l2s_resume_initiator *st,
			const uint8_t r_x_pk[L2S_X25519_BYTES])
{
	int r_has_share = !sodium_is_zero(r_x_pk, L2S_X25519_BYTES);

	*have_dh = 0;
	if (!st->with_x25519)
		return r_has_share ? L2S_ERR_DECODE : L2S_OK;
	/* We asked for forward secrecy: a response without a share is refused. */
	if (!r_has_share)
		return L2S_ERR_AUTH;
	*have_dh = 1;
	return l2s_x25519(dh, st->x_sk, r_x_pk);
}

int l2s_resume_consume_resp(struct l2s_session_keys *keys, uint32_t *responder_index,
			    struct l2s_resume_initiator *st, const struct l2s_identity *self, const uint8_t *msg,
			    size_t len)
{
	struct l2s_resume_resp m;

	if (st->done)
		return L2S_ERR_STATE;
	if (l2s_decode_resume_resp(msg, len, &m) != L2S_OK)
		return L2S_ERR_DECODE;
	if (l2s_mac_check(msg, L2S_RESUME_RESP_MAC1_OFF, self->mac1_key) != L2S_OK)
		return L2S_ERR_AUTH;
	return l2s_resume_consume_resp_checked(keys, responder_index, st, &m, msg);
}

int l2s_resume_consume_resp_checked(struct l2s_session_keys *keys, uint32_t *responder_index,
				    struct l2s_resume_initiator *st, const struct l2s_resume_resp *mp,
				    const uint8_t *msg)
{
	uint8_t dh[L2S_X25519_BYTES], ck[L2S_KEY_BYTES];
	const struct l2s_resume_resp m = *mp;
	int have_dh, ret;

	if (st->done)
		return L2S_ERR_STATE;
	/* The reserved tail is covered by no MAC: it must be zero. */
	if (!sodium_is_zero(msg + L2S_RESUME_RESP_MAC1_OFF + L2S_MAC_BYTES, L2S_MAC_BYTES))
		return L2S_ERR_DECODE;
	if (m.receiver_index != st->sender_index)
		return L2S_ERR_NOT_FOUND;
	ret = initiator_dh(dh, &have_dh, st, m.x25519_pk);
	if (ret == L2S_OK) {
		resumed_chaining_key(ck, st->rs, have_dh ? dh : NULL, st->binding, st->msg, st->msg_len, msg);
		ret = check_confirm(msg, ck);
	}
	if (ret == L2S_OK) {
		resumed_keys(keys, ck, L2S_ROLE_INITIATOR, st->session_id);
		*responder_index = m.sender_index;
		l2s_wipe(st->rs, sizeof(st->rs));
		l2s_wipe(st->x_sk, sizeof(st->x_sk));
		st->done = 1;
	}
	l2s_wipe(dh, sizeof(dh));
	l2s_wipe(ck, sizeof(ck));
	return ret;
}

/* ---- responder ---- */

/* Ticket mode: R's own ticket names the session, its peer and rs. */
static int secret_from_ticket(struct l2s_resume_responder *st, const struct l2s_resume_ctx *ctx,
			      const struct l2s_resume_init *m, uint64_t now_ms)
{
	struct l2s_ticket_contents c;
	int ret;

	if (!ctx->tickets)
		return L2S_ERR_AUTH;
	ret = l2s_ticket_open(&c, ctx->tickets, m->ticket, m->ticket_len, NULL, now_ms);
	if (ret == L2S_ERR_DECODE)
		return L2S_ERR_AUTH; /* not a ticket we could have made */
	if (ret != L2S_OK)
		return ret;
	if (sodium_memcmp(c.session_id, m->session_id, L2S_SESSION_ID_BYTES) != 0) {
		ret = L2S_ERR_AUTH;
	} else {
		memcpy(st->rs, c.rs, L2S_KEY_BYTES);
		memcpy(st->peer_pk, c.peer_pk, L2S_ED25519_PK_BYTES);
		st->ticket_not_after_ms = c.not_after_ms;
	}
	l2s_ticket_contents_wipe(&c);
	return ret;
}

/* Key-derivation mode: the first secret R holds for the session whose binder
 * verifies (R may hold a confirmed and an unconfirmed one). */
static int secret_from_store(struct l2s_resume_responder *st, const struct l2s_resume_ctx *ctx,
			     const struct l2s_resume_init *m, const uint8_t *msg)
{
	int found = 0;

	for (int k = 0; ctx->lookup && k < L2S_RESUME_CANDIDATES; k++) {
		if (ctx->lookup(ctx->lookup_arg, m->session_id, k, st->rs, st->peer_pk) != L2S_OK)
			continue;
		found = 1;
		if (check_binder(msg, RESUME_HEAD_BYTES + m->ticket_len, st->rs, st->binding) == L2S_OK) {
			st->candidate = k;
			return L2S_OK;
		}
	}
	return found ? L2S_ERR_AUTH : L2S_ERR_NOT_FOUND;
}

int l2s_resume_consume_init(struct l2s_resume_responder *st, const struct l2s_resume_ctx *ctx,
			    const uint8_t *msg, size_t len, uint64_t now_ms)
{
	struct l2s_resume_init m;

	l2s_resume_responder_wipe(st);
	/* The codec enforces mode vs ticket_len and flags vs x25519_pk. */
	if (l2s_decode_resume_init(msg, len, &m) != L2S_OK)
		return L2S_ERR_DECODE;
	if (l2s_mac_check(msg, len - L2S_MAC_BYTES, ctx->self->mac1_key) != L2S_OK)
		return L2S_ERR_AUTH;
	return l2s_resume_consume_init_checked(st, ctx, &m, msg, len, now_ms);
}

int l2s_resume_consume_init_checked(struct l2s_resume_responder *st, const struct l2s_resume_ctx *ctx,
				    const struct l2s_resume_init *mp, const uint8_t *msg, size_t len,
				    uint64_t now_ms)
{
	struct l2s_resume_init m = *mp;
	int ret;

	l2s_resume_responder_wipe(st);
	memcpy(st->binding, ctx->binding ? ctx->binding : zero_binding, L2S_BINDING_BYTES);
	if (m.mode == L2S_RESUME_MODE_TICKET) {
		ret = secret_from_ticket(st, ctx, &m, now_ms);
		if (ret == L2S_OK)
			ret = check_binder(msg, RESUME_HEAD_BYTES + m.ticket_len, st->rs, st->binding);
		/* A ticket we cannot open (made before we restarted) for a
		 * session we hold (restored): the binder under our rs decides,
		 * as in key-derivation mode. */
		if ((ret == L2S_ERR_AUTH || ret == L2S_ERR_EXPIRED) && secret_from_store(st, ctx, &m, msg) == L2S_OK) {
			m.mode = L2S_RESUME_MODE_KDF;
			st->ticket_not_after_ms = 0;
			ret = L2S_OK;
		}
	} else {
		ret = secret_from_store(st, ctx, &m, msg);
	}
	/* Only requests that proved rs reach the cache: nobody else can fill it. */
	if (ret == L2S_OK)
		ret = l2s_nonce_cache_insert(ctx->nonces, m.nonce, now_ms);
	if (ret != L2S_OK) {
		l2s_resume_responder_wipe(st);
		return ret;
	}
	memcpy(st->session_id, m.session_id, L2S_SESSION_ID_BYTES);
	memcpy(st->peer_x_pk, m.x25519_pk, L2S_X25519_BYTES);
	memcpy(st->msg, msg, len);
	st->msg_len = len;
	st->peer_index = m.sender_index;
	st->mode = m.mode;
	st->flags = m.flags;
	return L2S_OK;
}

/* Our X25519 share and the DH with I's, when I offered one. */
static int responder_dh(uint8_t dh[L2S_X25519_BYTES], uint8_t x_pk[L2S_X25519_BYTES],
			const struct l2s_resume_responder *st, struct l2s_rng *rng)
{
	uint8_t x_sk[L2S_X25519_BYTES];
	int ret;

	l2s_rng_bytes(rng, x_sk, sizeof(x_sk));
	ret = l2s_x25519_base(x_pk, x_sk);
	if (ret == L2S_OK)
		ret = l2s_x25519(dh, x_sk, st->peer_x_pk);
	l2s_wipe(x_sk, sizeof(x_sk));
	return ret;
}

static int encode_resp(uint8_t out[L2S_RESUME_RESP_BYTES], const struct l2s_resume_responder *st,
		       uint32_t sender_index, const uint8_t nonce[L2S_NONCE_BYTES], const uint8_t *x_pk)
{
	struct l2s_resume_resp m = {
		.sender_index = sender_index,
		.receiver_index = st->peer_index,
		.nonce = nonce,
		.x25519_pk = x_pk,
		.confirm = zero16,
		.mac1 = zero16,
	};
	size_t len;

	if (l2s_encode_resume_resp(out, L2S_RESUME_RESP_BYTES, &m, &len) != L2S_OK || len != L2S_RESUME_RESP_BYTES)
		return L2S_ERR_INTERNAL;
	return L2S_OK;
}

int l2s_resume_create_resp(uint8_t out[L2S_RESUME_RESP_BYTES], struct l2s_session_keys *keys,
			   struct l2s_resume_responder *st, uint32_t sender_index, struct l2s_rng *rng)
{
	uint8_t nonce[L2S_NONCE_BYTES], x_pk[L2S_X25519_BYTES] = { 0 }, dh[L2S_X25519_BYTES];
	uint8_t ck[L2S_KEY_BYTES], mac1_key[L2S_KEY_BYTES];
	int have_dh = st->flags & L2S_RESUME_FLAG_X25519;
	int ret = L2S_OK;

	l2s_rng_bytes(rng, nonce, sizeof(nonce));
	if (have_dh)
		ret = responder_dh(dh, x_pk, st, rng);
	if (ret == L2S_OK)
		ret = encode_resp(out, st, sender_index, nonce, x_pk);
	if (ret == L2S_OK) {
		resumed_chaining_key(ck, st->rs, have_dh ? dh : NULL, st->binding, st->msg, st->msg_len, out);
		put_confirm(out, ck);
		l2s_kdf_mac1_key(mac1_key, st->peer_pk);
		l2s_mac_put(out, L2S_RESUME_RESP_MAC1_OFF, mac1_key);
		resumed_keys(keys, ck, L2S_ROLE_RESPONDER, st->session_id);
	} else {
		l2s_wipe(out, L2S_RESUME_RESP_BYTES);
	}
	l2s_wipe(dh, sizeof(dh));
	l2s_wipe(ck, sizeof(ck));
	l2s_resume_responder_wipe(st);
	return ret;
}
