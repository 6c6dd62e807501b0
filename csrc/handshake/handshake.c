// SPDX-License-Identifier: Apache-2.0
/* The full handshake (PROTOCOL.md §4): HANDSHAKE_INIT and HANDSHAKE_RESP. */
#include <stdlib.h>
#include <string.h>

#include "handshake/cookie.h"
#include "handshake/handshake.h"

#define SIG_I_PREFIX_LEN (sizeof(L2S_HS_SIG_INITIATOR) - 1)
#define SIG_R_PREFIX_LEN (sizeof(L2S_HS_SIG_RESPONDER) - 1)
/* sealed_identity plaintext: I_pk || counter || sig_I */
#define IDENTITY_PT_BYTES (L2S_ED25519_PK_BYTES + 8 + L2S_ED25519_SIG_BYTES)

static const uint8_t zero_nonce[L2S_AEAD_NONCE_BYTES];
static const uint8_t zero_binding[L2S_BINDING_BYTES];
static const uint8_t zero_mac[L2S_MAC_BYTES];

int l2s_hs_initiator_new(struct l2s_hs_initiator **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? L2S_OK : L2S_ERR_NOMEM;
}

void l2s_hs_initiator_free(struct l2s_hs_initiator *st)
{
	if (!st)
		return;
	l2s_wipe(st, sizeof(*st));
	free(st);
}

void l2s_hs_responder_wipe(struct l2s_hs_responder *st)
{
	l2s_wipe(st, sizeof(*st));
}

/* h_init = H(h0 || INIT bytes 0..2352), h0 binding R, its prekey and the channel. */
static void init_transcript(uint8_t h_init[L2S_HASH_BYTES], const uint8_t r_pk[L2S_ED25519_PK_BYTES],
			    const uint8_t prekey_pk[L2S_XWING_PK_BYTES], const uint8_t *binding,
			    const uint8_t *init_msg)
{
	uint8_t h0[L2S_HASH_BYTES];
	struct l2s_part p[] = { { h0, sizeof(h0) }, { init_msg, L2S_HS_INIT_SEALED_OFF } };

	l2s_kdf_transcript(h0, r_pk, prekey_pk, binding ? binding : zero_binding);
	l2s_hash_parts(h_init, p, 2);
}

/* h_resp = H(h_init || sealed_identity || RESP bytes 0..1132). */
static void resp_transcript(uint8_t h_resp[L2S_HASH_BYTES], const uint8_t h_init[L2S_HASH_BYTES],
			    const uint8_t sealed_identity[L2S_HS_INIT_SEALED_BYTES], const uint8_t *resp_msg)
{
	struct l2s_part p[] = {
		{ h_init, L2S_HASH_BYTES },
		{ sealed_identity, L2S_HS_INIT_SEALED_BYTES },
		{ resp_msg, L2S_HS_RESP_SEALED_OFF },
	};

	l2s_hash_parts(h_resp, p, 3);
}

/* The message sig_I signs: prefix || h_init || I_pk || counter. */
static void sig_i_message(uint8_t m[SIG_I_PREFIX_LEN + 32 + 32 + 8], const uint8_t h_init[L2S_HASH_BYTES],
			  const uint8_t i_pk[L2S_ED25519_PK_BYTES], uint64_t counter)
{
	memcpy(m, L2S_HS_SIG_INITIATOR, SIG_I_PREFIX_LEN);
	memcpy(m + SIG_I_PREFIX_LEN, h_init, 32);
	memcpy(m + SIG_I_PREFIX_LEN + 32, i_pk, 32);
	l2s_put_u64(m + SIG_I_PREFIX_LEN + 64, counter);
}

static void sig_r_message(uint8_t m[SIG_R_PREFIX_LEN + 32], const uint8_t h_resp[L2S_HASH_BYTES])
{
	memcpy(m, L2S_HS_SIG_RESPONDER, SIG_R_PREFIX_LEN);
	memcpy(m + SIG_R_PREFIX_LEN, h_resp, 32);
}

/* ---- initiator: HANDSHAKE_INIT ---- */

/* A fresh ephemeral X-Wing key from 32 rng bytes. */
static int make_ephemeral(struct l2s_xwing_secret *e, struct l2s_rng *rng)
{
	uint8_t seed[L2S_XWING_SK_BYTES];
	int ret;

	l2s_rng_bytes(rng, seed, sizeof(seed));
	ret = l2s_xwing_expand(e, seed);
	l2s_wipe(seed, sizeof(seed));
	return ret;
}

/* X-Wing encapsulation with 64 rng bytes. */
static int encaps_rng(uint8_t ct[L2S_XWING_CT_BYTES], uint8_t ss[L2S_XWING_SS_BYTES],
		      const uint8_t pk[L2S_XWING_PK_BYTES], struct l2s_rng *rng)
{
	uint8_t eseed[L2S_XWING_ESEED_BYTES];
	int ret;

	l2s_rng_bytes(rng, eseed, sizeof(eseed));
	ret = l2s_xwing_encaps_derand(ct, ss, pk, eseed);
	l2s_wipe(eseed, sizeof(eseed));
	return ret;
}

/* Writes the public part of INIT (bytes 0..2352, zeros after). */
static int encode_init_prefix(struct l2s_hs_initiator *st, const uint8_t prekey_id[L2S_PREKEY_ID_BYTES],
			      const uint8_t ct1[L2S_XWING_CT_BYTES])
{
	uint8_t e_pk[L2S_XWING_PK_BYTES];
	uint8_t placeholder[L2S_HS_INIT_SEALED_BYTES] = { 0 };
	struct l2s_hs_init m = {
		.sender_index = st->sender_index,
		.prekey_id = prekey_id,
		.e_pk = e_pk,
		.ct1 = ct1,
		.sealed_identity = placeholder,
		.mac1 = zero_mac,
		.mac2 = zero_mac,
	};
	size_t len;

	l2s_xwing_public(e_pk, &st->e);
	if (l2s_encode_hs_init(st->msg, sizeof(st->msg), &m, &len) != L2S_OK || len != L2S_HS_INIT_BYTES)
		return L2S_ERR_INTERNAL;
	return L2S_OK;
}

/* sealed_identity = AEAD(k_init, 0, I_pk || counter || sig_I, ad = h_init). */
static int seal_identity(struct l2s_hs_initiator *st, const struct l2s_identity *self)
{
	uint8_t k_init[L2S_KEY_BYTES], pt[IDENTITY_PT_BYTES];
	uint8_t sm[SIG_I_PREFIX_LEN + 72];
	int ret;

	sig_i_message(sm, st->h_init, self->pk, st->counter);
	memcpy(pt, self->pk, L2S_ED25519_PK_BYTES);
	l2s_put_u64(pt + L2S_ED25519_PK_BYTES, st->counter);
	ret = l2s_ed25519_sign(pt + L2S_ED25519_PK_BYTES + 8, sm, sizeof(sm), self->sk);
	if (ret == L2S_OK) {
		l2s_kdf_init_key(k_init, st->ss1, st->h_init);
		ret = l2s_aead_encrypt(st->msg + L2S_HS_INIT_SEALED_OFF, pt, sizeof(pt), st->h_init,
				       L2S_HASH_BYTES, zero_nonce, k_init);
	}
	l2s_wipe(k_init, sizeof(k_init));
	l2s_wipe(pt, sizeof(pt));
	return ret;
}

int l2s_hs_prepare(struct l2s_hs_prepared *p, const uint8_t prekey_pk[L2S_XWING_PK_BYTES], struct l2s_rng *rng)
{
	int ret = make_ephemeral(&p->e, rng);

	if (ret == L2S_OK)
		ret = encaps_rng(p->ct1, p->ss1, prekey_pk, rng);
	if (ret != L2S_OK) {
		l2s_wipe(p, sizeof(*p));
		return ret;
	}
	l2s_prekey_id(p->prekey_id, prekey_pk);
	return L2S_OK;
}

int l2s_hs_create_init_prepared(struct l2s_hs_initiator *st, const struct l2s_identity *self,
				const uint8_t r_pk[L2S_ED25519_PK_BYTES], const uint8_t prekey_pk[L2S_XWING_PK_BYTES],
				const uint8_t *binding, uint64_t counter, uint32_t sender_index,
				const uint8_t *cookie, struct l2s_hs_prepared *p)
{
	uint8_t mac1_key[L2S_KEY_BYTES], prekey_id[L2S_PREKEY_ID_BYTES];
	int ret;

	l2s_prekey_id(prekey_id, prekey_pk);
	if (memcmp(prekey_id, p->prekey_id, sizeof(prekey_id)) != 0)
		return L2S_ERR_STATE;
	l2s_wipe(st, sizeof(*st));
	st->counter = counter;
	st->sender_index = sender_index;
	memcpy(st->r_pk, r_pk, L2S_ED25519_PK_BYTES);
	st->e = p->e;
	memcpy(st->ss1, p->ss1, sizeof(st->ss1));
	ret = encode_init_prefix(st, p->prekey_id, p->ct1);
	l2s_wipe(p, sizeof(*p));
	if (ret == L2S_OK) {
		init_transcript(st->h_init, r_pk, prekey_pk, binding, st->msg);
		ret = seal_identity(st, self);
	}
	if (ret != L2S_OK) {
		l2s_wipe(st, sizeof(*st));
		return ret;
	}
	l2s_kdf_mac1_key(mac1_key, r_pk);
	l2s_mac_put(st->msg, L2S_HS_INIT_MAC1_OFF, mac1_key);
	if (cookie)
		l2s_hs_initiator_set_cookie(st, cookie);
	return L2S_OK;
}

int l2s_hs_create_init(struct l2s_hs_initiator *st, const struct l2s_identity *self,
		       const uint8_t r_pk[L2S_ED25519_PK_BYTES], const uint8_t prekey_pk[L2S_XWING_PK_BYTES],
		       const uint8_t *binding, uint64_t counter, uint32_t sender_index, const uint8_t *cookie,
		       struct l2s_rng *rng)
{
	struct l2s_hs_prepared p;
	int ret = l2s_hs_prepare(&p, prekey_pk, rng);

	if (ret != L2S_OK) {
		l2s_wipe(st, sizeof(*st));
		return ret;
	}
	return l2s_hs_create_init_prepared(st, self, r_pk, prekey_pk, binding, counter, sender_index, cookie, &p);
}

void l2s_hs_initiator_set_cookie(struct l2s_hs_initiator *st, const uint8_t cookie[L2S_COOKIE_BYTES])
{
	l2s_mac_put(st->msg, L2S_HS_INIT_MAC2_OFF, cookie);
}

int l2s_hs_initiator_open_cookie(struct l2s_hs_initiator *st, uint8_t *cookie_out, const struct l2s_cookie_reply *m)
{
	uint8_t cookie[L2S_COOKIE_BYTES];
	int ret;

	if (st->done)
		return L2S_ERR_STATE;
	ret = l2s_cookie_reply_open(cookie, st->r_pk, st->sender_index, st->msg + L2S_HS_INIT_MAC1_OFF, m);
	if (ret == L2S_OK) {
		l2s_hs_initiator_set_cookie(st, cookie);
		if (cookie_out)
			memcpy(cookie_out, cookie, sizeof(cookie));
	}
	l2s_wipe(cookie, sizeof(cookie));
	return ret;
}

int l2s_hs_initiator_consume_cookie(struct l2s_hs_initiator *st, uint8_t *cookie_out, const uint8_t *msg,
				    size_t len)
{
	struct l2s_cookie_reply m;

	if (st->done)
		return L2S_ERR_STATE;
	if (l2s_decode_cookie_reply(msg, len, &m) != L2S_OK)
		return L2S_ERR_DECODE;
	return l2s_hs_initiator_open_cookie(st, cookie_out, &m);
}

/* ---- initiator: HANDSHAKE_RESP ---- */

/* Opens sealed_sig under k_resp and checks sig_R over h_resp. */
static int check_responder_sig(const uint8_t *sealed_sig, const uint8_t k_resp[L2S_KEY_BYTES],
			       const uint8_t h_resp[L2S_HASH_BYTES], const uint8_t r_pk[L2S_ED25519_PK_BYTES])
{
	uint8_t sig[L2S_ED25519_SIG_BYTES], sm[SIG_R_PREFIX_LEN + 32];
	int ret;

	ret = l2s_aead_decrypt(sig, sealed_sig, L2S_HS_RESP_SEALED_BYTES, h_resp, L2S_HASH_BYTES, zero_nonce,
			       k_resp);
	if (ret != L2S_OK)
		return L2S_ERR_AUTH;
	sig_r_message(sm, h_resp);
	return l2s_ed25519_verify(sig, sm, sizeof(sm), r_pk);
}

int l2s_hs_consume_resp(struct l2s_session_keys *keys, uint32_t *responder_index, struct l2s_hs_initiator *st,
			const struct l2s_identity *self, const uint8_t *msg, size_t len)
{
	struct l2s_hs_resp m;

	if (st->done)
		return L2S_ERR_STATE;
	if (l2s_decode_hs_resp(msg, len, &m) != L2S_OK)
		return L2S_ERR_DECODE;
	if (l2s_mac_check(msg, L2S_HS_RESP_MAC1_OFF, self->mac1_key) != L2S_OK)
		return L2S_ERR_AUTH;
	return l2s_hs_consume_resp_checked(keys, responder_index, st, &m, msg);
}

int l2s_hs_consume_resp_checked(struct l2s_session_keys *keys, uint32_t *responder_index,
				struct l2s_hs_initiator *st, const struct l2s_hs_resp *mp, const uint8_t *msg)
{
	uint8_t ss2[L2S_XWING_SS_BYTES], h_resp[L2S_HASH_BYTES], ck[L2S_KEY_BYTES], k_resp[L2S_KEY_BYTES];
	const struct l2s_hs_resp m = *mp;
	int ret;

	if (st->done)
		return L2S_ERR_STATE;
	if (m.receiver_index != st->sender_index)
		return L2S_ERR_NOT_FOUND;
	ret = l2s_xwing_decaps_expanded(ss2, m.ct2, &st->e);
	if (ret == L2S_OK) {
		resp_transcript(h_resp, st->h_init, st->msg + L2S_HS_INIT_SEALED_OFF, msg);
		l2s_kdf_chaining_key(ck, st->ss1, ss2, h_resp);
		l2s_kdf_resp_key(k_resp, ck);
		ret = check_responder_sig(m.sealed_sig, k_resp, h_resp, st->r_pk);
	}
	if (ret == L2S_OK) {
		l2s_session_keys_derive(keys, ck, L2S_ROLE_INITIATOR);
		*responder_index = m.sender_index;
		/* Forward secrecy: the ephemeral is useless to keep from here on. */
		l2s_xwing_secret_wipe(&st->e);
		l2s_wipe(st->ss1, sizeof(st->ss1));
		st->done = 1;
	}
	l2s_wipe(ss2, sizeof(ss2));
	l2s_wipe(ck, sizeof(ck));
	l2s_wipe(k_resp, sizeof(k_resp));
	return ret;
}

/* ---- responder: HANDSHAKE_INIT ---- */

/* Opens sealed_identity and verifies sig_I; fills peer_pk and counter. */
static int open_identity(struct l2s_hs_responder *st, const uint8_t *sealed)
{
	uint8_t k_init[L2S_KEY_BYTES], pt[IDENTITY_PT_BYTES], sm[SIG_I_PREFIX_LEN + 72];
	int ret;

	l2s_kdf_init_key(k_init, st->ss1, st->h_init);
	ret = l2s_aead_decrypt(pt, sealed, L2S_HS_INIT_SEALED_BYTES, st->h_init, L2S_HASH_BYTES, zero_nonce,
			       k_init);
	l2s_wipe(k_init, sizeof(k_init));
	if (ret != L2S_OK)
		return L2S_ERR_AUTH;
	memcpy(st->peer_pk, pt, L2S_ED25519_PK_BYTES);
	st->counter = l2s_get_u64(pt + L2S_ED25519_PK_BYTES);
	sig_i_message(sm, st->h_init, st->peer_pk, st->counter);
	ret = l2s_ed25519_verify(pt + L2S_ED25519_PK_BYTES + 8, sm, sizeof(sm), st->peer_pk);
	l2s_wipe(pt, sizeof(pt));
	return ret;
}

int l2s_hs_consume_init(struct l2s_hs_responder *st, const struct l2s_identity *self,
			const struct l2s_prekey *const *prekeys, size_t n_prekeys, const uint8_t *binding,
			const uint8_t *msg, size_t len)
{
	struct l2s_hs_init m;

	l2s_wipe(st, sizeof(*st));
	if (l2s_decode_hs_init(msg, len, &m) != L2S_OK)
		return L2S_ERR_DECODE;
	if (l2s_mac_check(msg, L2S_HS_INIT_MAC1_OFF, self->mac1_key) != L2S_OK)
		return L2S_ERR_AUTH;
	return l2s_hs_consume_init_checked(st, self, prekeys, n_prekeys, binding, &m, msg);
}

int l2s_hs_consume_init_checked(struct l2s_hs_responder *st, const struct l2s_identity *self,
				const struct l2s_prekey *const *prekeys, size_t n_prekeys, const uint8_t *binding,
				const struct l2s_hs_init *mp, const uint8_t *msg)
{
	const struct l2s_hs_init m = *mp;
	const struct l2s_prekey *pk;
	int ret;

	l2s_wipe(st, sizeof(*st));
	pk = l2s_prekey_find(prekeys, n_prekeys, m.prekey_id);
	if (!pk)
		return L2S_ERR_NOT_FOUND;
	/* Refuse a bad e_pk now, not after the caller has committed the counter. */
	if (l2s_mlkem768_check_ek(m.e_pk) != L2S_OK)
		return L2S_ERR_INVALID_KEY;
	ret = l2s_xwing_decaps_expanded(st->ss1, m.ct1, &pk->secret);
	if (ret == L2S_OK) {
		init_transcript(st->h_init, self->pk, pk->pk, binding, msg);
		ret = open_identity(st, m.sealed_identity);
	}
	if (ret != L2S_OK) {
		l2s_hs_responder_wipe(st);
		return ret;
	}
	memcpy(st->sealed_identity, m.sealed_identity, L2S_HS_INIT_SEALED_BYTES);
	memcpy(st->e_pk, m.e_pk, L2S_XWING_PK_BYTES);
	memcpy(st->prekey_id, m.prekey_id, L2S_PREKEY_ID_BYTES);
	st->peer_index = m.sender_index;
	return L2S_OK;
}

/* ---- responder: HANDSHAKE_RESP ---- */

/* Writes RESP bytes 0..1132 (sealed_sig and MACs zero for now). */
static int encode_resp_prefix(uint8_t out[L2S_HS_RESP_BYTES], const struct l2s_hs_responder *st,
			      uint32_t sender_index, const uint8_t ct2[L2S_XWING_CT_BYTES])
{
	uint8_t placeholder[L2S_HS_RESP_SEALED_BYTES] = { 0 };
	struct l2s_hs_resp m = {
		.sender_index = sender_index,
		.receiver_index = st->peer_index,
		.ct2 = ct2,
		.sealed_sig = placeholder,
		.mac1 = zero_mac,
		.mac2 = zero_mac,
	};
	size_t len;

	if (l2s_encode_hs_resp(out, L2S_HS_RESP_BYTES, &m, &len) != L2S_OK || len != L2S_HS_RESP_BYTES)
		return L2S_ERR_INTERNAL;
	return L2S_OK;
}

/* sealed_sig = AEAD(k_resp, 0, sig_R, ad = h_resp). */
static int seal_responder_sig(uint8_t *out, const uint8_t k_resp[L2S_KEY_BYTES],
			      const uint8_t h_resp[L2S_HASH_BYTES], const struct l2s_identity *self)
{
	uint8_t sig[L2S_ED25519_SIG_BYTES], sm[SIG_R_PREFIX_LEN + 32];
	int ret;

	sig_r_message(sm, h_resp);
	ret = l2s_ed25519_sign(sig, sm, sizeof(sm), self->sk);
	if (ret == L2S_OK)
		ret = l2s_aead_encrypt(out, sig, sizeof(sig), h_resp, L2S_HASH_BYTES, zero_nonce, k_resp);
	return ret;
}

int l2s_hs_create_resp(uint8_t out[L2S_HS_RESP_BYTES], struct l2s_session_keys *keys, struct l2s_hs_responder *st,
		       const struct l2s_identity *self, uint32_t sender_index, struct l2s_rng *rng)
{
	uint8_t ct2[L2S_XWING_CT_BYTES], ss2[L2S_XWING_SS_BYTES], h_resp[L2S_HASH_BYTES];
	uint8_t ck[L2S_KEY_BYTES], k_resp[L2S_KEY_BYTES], mac1_key[L2S_KEY_BYTES];
	int ret = encaps_rng(ct2, ss2, st->e_pk, rng);

	if (ret == L2S_OK)
		ret = encode_resp_prefix(out, st, sender_index, ct2);
	if (ret == L2S_OK) {
		resp_transcript(h_resp, st->h_init, st->sealed_identity, out);
		l2s_kdf_chaining_key(ck, st->ss1, ss2, h_resp);
		l2s_kdf_resp_key(k_resp, ck);
		ret = seal_responder_sig(out + L2S_HS_RESP_SEALED_OFF, k_resp, h_resp, self);
	}
	if (ret == L2S_OK) {
		l2s_kdf_mac1_key(mac1_key, st->peer_pk);
		l2s_mac_put(out, L2S_HS_RESP_MAC1_OFF, mac1_key);
		l2s_session_keys_derive(keys, ck, L2S_ROLE_RESPONDER);
	} else {
		l2s_wipe(out, L2S_HS_RESP_BYTES);
	}
	l2s_wipe(ss2, sizeof(ss2));
	l2s_wipe(ck, sizeof(ck));
	l2s_wipe(k_resp, sizeof(k_resp));
	l2s_hs_responder_wipe(st);
	return ret;
}
