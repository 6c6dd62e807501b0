// SPDX-License-Identifier: Apache-2.0
/* mac1/mac2 over encoded message prefixes, cookie secrets and COOKIE_REPLY. */
#include <sodium.h>
#include <string.h>

#include "handshake/cookie.h"
#include "crypto/kdf.h"

void l2s_mac_put(uint8_t *msg, size_t off, const uint8_t key[L2S_BLAKE3_KEY_BYTES])
{
	l2s_mac(msg + off, key, msg, off);
}

int l2s_mac_check(const uint8_t *msg, size_t off, const uint8_t key[L2S_BLAKE3_KEY_BYTES])
{
	uint8_t mac[L2S_MAC_BYTES];
	int ret;

	l2s_mac(mac, key, msg, off);
	ret = sodium_memcmp(mac, msg + off, L2S_MAC_BYTES) == 0 ? L2S_OK : L2S_ERR_AUTH;
	l2s_wipe(mac, sizeof(mac));
	return ret;
}

int l2s_mac1_offset(const uint8_t *msg, size_t len, size_t *off)
{
	int type;

	if (l2s_wire_peek(msg, len, &type) != L2S_OK)
		return L2S_ERR_DECODE;
	switch (type) {
	case L2S_MSG_HANDSHAKE_INIT:
		if (len != L2S_HS_INIT_BYTES)
			return L2S_ERR_DECODE;
		*off = L2S_HS_INIT_MAC1_OFF;
		return L2S_OK;
	case L2S_MSG_HANDSHAKE_RESP:
		if (len != L2S_HS_RESP_BYTES)
			return L2S_ERR_DECODE;
		*off = L2S_HS_RESP_MAC1_OFF;
		return L2S_OK;
	case L2S_MSG_RESUME_INIT:
		/* mac1 is the last field; the full decode checks ticket_len. */
		if (len < L2S_RESUME_INIT_MIN_BYTES || len > L2S_RESUME_INIT_MIN_BYTES + L2S_MAX_TICKET)
			return L2S_ERR_DECODE;
		*off = len - L2S_MAC_BYTES;
		return L2S_OK;
	case L2S_MSG_RESUME_RESP:
		if (len != L2S_RESUME_RESP_BYTES)
			return L2S_ERR_DECODE;
		*off = L2S_RESUME_RESP_MAC1_OFF;
		return L2S_OK;
	}
	return L2S_ERR_DECODE;
}

int l2s_mac1_verify(const uint8_t key[L2S_BLAKE3_KEY_BYTES], const uint8_t *msg, size_t len)
{
	size_t off;

	if (l2s_mac1_offset(msg, len, &off) != L2S_OK)
		return L2S_ERR_DECODE;
	return l2s_mac_check(msg, off, key);
}

/* ---- cookie secrets ---- */

void l2s_cookie_secrets_init(struct l2s_cookie_secrets *s, struct l2s_rng *rng, uint64_t now_ms)
{
	memset(s, 0, sizeof(*s));
	l2s_rng_bytes(rng, s->current, sizeof(s->current));
	s->changed_ms = now_ms;
}

void l2s_cookie_secrets_update(struct l2s_cookie_secrets *s, struct l2s_rng *rng, uint64_t now_ms)
{
	if (now_ms < l2s_cookie_secrets_deadline(s))
		return;
	/* Two lifetimes without a call: the current secret is too old to keep. */
	s->have_previous = now_ms - s->changed_ms < 2ull * L2S_COOKIE_SECRET_LIFETIME_MS;
	if (s->have_previous)
		memcpy(s->previous, s->current, sizeof(s->previous));
	else
		l2s_wipe(s->previous, sizeof(s->previous));
	l2s_rng_bytes(rng, s->current, sizeof(s->current));
	s->changed_ms = now_ms;
}

uint64_t l2s_cookie_secrets_deadline(const struct l2s_cookie_secrets *s)
{
	return s->changed_ms + L2S_COOKIE_SECRET_LIFETIME_MS;
}

void l2s_cookie_secrets_wipe(struct l2s_cookie_secrets *s)
{
	l2s_wipe(s, sizeof(*s));
}

int l2s_cookie_compute(uint8_t cookie[L2S_COOKIE_BYTES], const uint8_t secret[32], const uint8_t *addr,
		       size_t addr_len)
{
	if (!addr || addr_len == 0 || addr_len > L2S_MAX_ADDR_BYTES)
		return L2S_ERR_LENGTH;
	l2s_blake3_keyed(cookie, L2S_COOKIE_BYTES, secret, addr, addr_len);
	return L2S_OK;
}

/* mac2 against the cookie one secret gives for addr. */
static int mac2_matches(const uint8_t secret[32], const uint8_t *addr, size_t addr_len, const uint8_t *msg)
{
	uint8_t cookie[L2S_COOKIE_BYTES];
	int ret = l2s_cookie_compute(cookie, secret, addr, addr_len);

	if (ret == L2S_OK)
		ret = l2s_mac_check(msg, L2S_HS_INIT_MAC2_OFF, cookie);
	l2s_wipe(cookie, sizeof(cookie));
	return ret;
}

int l2s_cookie_check_mac2(const struct l2s_cookie_secrets *s, const uint8_t *addr, size_t addr_len,
			  const uint8_t *msg, size_t len)
{
	size_t mac1_off;
	int ret;

	if (!addr || addr_len == 0 || addr_len > L2S_MAX_ADDR_BYTES)
		return L2S_ERR_LENGTH;
	if (l2s_mac1_offset(msg, len, &mac1_off) != L2S_OK || mac1_off != L2S_HS_INIT_MAC1_OFF)
		return L2S_ERR_DECODE;
	/* An all-zero mac2 means "no cookie": not worth a hash. */
	if (sodium_is_zero(msg + L2S_HS_INIT_MAC2_OFF, L2S_MAC_BYTES))
		return L2S_ERR_AUTH;
	ret = mac2_matches(s->current, addr, addr_len, msg);
	if (ret != L2S_OK && s->have_previous)
		ret = mac2_matches(s->previous, addr, addr_len, msg);
	return ret;
}

/* ---- COOKIE_REPLY ---- */

int l2s_cookie_reply_create(uint8_t out[L2S_COOKIE_REPLY_BYTES], const struct l2s_identity *self,
			    const struct l2s_cookie_secrets *s, const uint8_t *request, size_t request_len,
			    const uint8_t *addr, size_t addr_len, struct l2s_rng *rng)
{
	uint8_t cookie[L2S_COOKIE_BYTES], nonce[L2S_AEAD_NONCE_BYTES];
	uint8_t sealed[L2S_COOKIE_BYTES + L2S_AEAD_TAG_BYTES];
	struct l2s_cookie_reply m = { .nonce = nonce, .sealed_cookie = sealed };
	struct l2s_hs_init req;
	size_t len;
	int ret;

	if (l2s_decode_hs_init(request, request_len, &req) != L2S_OK)
		return L2S_ERR_DECODE;
	ret = l2s_cookie_compute(cookie, s->current, addr, addr_len);
	if (ret != L2S_OK)
		return ret;
	l2s_rng_bytes(rng, nonce, sizeof(nonce));
	ret = l2s_aead_encrypt(sealed, cookie, sizeof(cookie), req.mac1, L2S_MAC_BYTES, nonce, self->cookie_key);
	l2s_wipe(cookie, sizeof(cookie));
	if (ret != L2S_OK)
		return ret;
	m.receiver_index = req.sender_index;
	if (l2s_encode_cookie_reply(out, L2S_COOKIE_REPLY_BYTES, &m, &len) != L2S_OK || len != L2S_COOKIE_REPLY_BYTES)
		return L2S_ERR_INTERNAL;
	return L2S_OK;
}

int l2s_cookie_reply_open(uint8_t cookie[L2S_COOKIE_BYTES], const uint8_t r_pk[L2S_ED25519_PK_BYTES],
			  uint32_t sender_index, const uint8_t mac1[L2S_MAC_BYTES], const struct l2s_cookie_reply *m)
{
	uint8_t key[L2S_KEY_BYTES];
	int ret;

	if (m->receiver_index != sender_index)
		return L2S_ERR_NOT_FOUND;
	l2s_kdf_cookie_key(key, r_pk);
	ret = l2s_aead_decrypt(cookie, m->sealed_cookie, L2S_COOKIE_BYTES + L2S_AEAD_TAG_BYTES, mac1, L2S_MAC_BYTES,
			       m->nonce, key);
	l2s_wipe(key, sizeof(key));
	return ret == L2S_OK ? L2S_OK : L2S_ERR_AUTH;
}

int l2s_cookie_reply_consume(uint8_t cookie[L2S_COOKIE_BYTES], const uint8_t r_pk[L2S_ED25519_PK_BYTES],
			     uint32_t sender_index, const uint8_t mac1[L2S_MAC_BYTES], const uint8_t *msg,
			     size_t len)
{
	struct l2s_cookie_reply m;

	if (l2s_decode_cookie_reply(msg, len, &m) != L2S_OK)
		return L2S_ERR_DECODE;
	return l2s_cookie_reply_open(cookie, r_pk, sender_index, mac1, &m);
}
