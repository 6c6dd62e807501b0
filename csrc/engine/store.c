// SPDX-License-Identifier: Apache-2.0
/* StoredSession: a versioned record sealed under the node's storage key. */
#include <stdlib.h>
#include <string.h>

#include "engine/store.h"

#define FLAG_TICKET 0x01

size_t l2s_store_sealed_len(size_t ticket_len, size_t delivery_len)
{
	return L2S_STORE_OVERHEAD + L2S_STORE_FIXED_BYTES + ticket_len + delivery_len;
}

void l2s_stored_session_wipe(struct l2s_stored_session *s)
{
	l2s_wipe(s, sizeof(*s));
}

static void outer_header(uint8_t h[5])
{
	memcpy(h, L2S_STORE_MAGIC, 4);
	h[4] = L2S_STORE_FORMAT;
}

static void record_write(uint8_t *r, const struct l2s_stored_session *s)
{
	r[0] = L2S_STORE_RECORD_VERSION;
	r[1] = s->role == L2S_ROLE_INITIATOR ? 1 : 0;
	r[2] = s->ticket_len ? FLAG_TICKET : 0;
	r[3] = 0;
	memcpy(r + 4, s->peer_pk, 32);
	memcpy(r + 36, s->session_id, 16);
	memcpy(r + 52, s->rs, 32);
	memcpy(r + 84, s->rc, 32);
	memcpy(r + 116, s->peer_prekey_id, 8);
	l2s_put_u64(r + 124, s->handshake_counter);
	l2s_put_u64(r + 132, s->created_ms);
	l2s_put_u64(r + 140, s->expires_ms);
	l2s_put_u64(r + 148, s->ticket_len ? s->ticket_not_after_ms : 0);
	l2s_put_u16(r + 156, (uint16_t)s->ticket_len);
	l2s_put_u32(r + 158, (uint32_t)s->delivery_len);
	memcpy(r + L2S_STORE_FIXED_BYTES, s->ticket, s->ticket_len);
	if (s->delivery_len)
		memcpy(r + L2S_STORE_FIXED_BYTES + s->ticket_len, s->delivery, s->delivery_len);
}

int l2s_store_seal(uint8_t *out, size_t cap, size_t *len, const struct l2s_stored_session *s,
		   const uint8_t storage_key[L2S_KEY_BYTES], struct l2s_rng *rng)
{
	uint8_t key[L2S_KEY_BYTES];
	uint8_t *nonce = out + 5, *record = out + L2S_STORE_OUTER_BYTES;
	size_t rlen = L2S_STORE_FIXED_BYTES + s->ticket_len + s->delivery_len;
	int ret;

	if (s->ticket_len > L2S_MAX_TICKET || s->delivery_len > L2S_STORE_MAX_DELIVERY ||
	    (s->delivery_len && !s->delivery))
		return L2S_ERR_LENGTH;
	if (cap < l2s_store_sealed_len(s->ticket_len, s->delivery_len))
		return L2S_ERR_LENGTH;
	outer_header(out);
	l2s_rng_bytes(rng, nonce, L2S_AEAD_NONCE_BYTES);
	/* Build the record in place and encrypt it there (libsodium allows it). */
	record_write(record, s);
	l2s_kdf_stored_session(key, storage_key);
	ret = l2s_aead_encrypt(record, record, rlen, out, 5, nonce, key);
	l2s_wipe(key, sizeof(key));
	if (ret != L2S_OK) {
		l2s_wipe(out, l2s_store_sealed_len(s->ticket_len, s->delivery_len));
		return ret;
	}
	*len = l2s_store_sealed_len(s->ticket_len, s->delivery_len);
	return L2S_OK;
}

/* Every field rule of the record; lengths must add up exactly. */
static int record_check(const uint8_t *r, size_t rlen)
{
	size_t t = l2s_get_u16(r + 156), d = l2s_get_u32(r + 158);

	if (r[0] != L2S_STORE_RECORD_VERSION || r[1] > 1 || (r[2] & ~FLAG_TICKET) || r[3] != 0)
		return L2S_ERR_DECODE;
	if (t > L2S_MAX_TICKET || d > L2S_STORE_MAX_DELIVERY || !!(r[2] & FLAG_TICKET) != (t != 0))
		return L2S_ERR_DECODE;
	if (t == 0 && l2s_get_u64(r + 148) != 0)
		return L2S_ERR_DECODE;
	if (L2S_STORE_FIXED_BYTES + t + d != rlen)
		return L2S_ERR_DECODE;
	return L2S_OK;
}

static void record_read(struct l2s_stored_session *s, const uint8_t *r)
{
	memset(s, 0, sizeof(*s));
	s->role = r[1] ? L2S_ROLE_INITIATOR : L2S_ROLE_RESPONDER;
	memcpy(s->peer_pk, r + 4, 32);
	memcpy(s->session_id, r + 36, 16);
	memcpy(s->rs, r + 52, 32);
	memcpy(s->rc, r + 84, 32);
	memcpy(s->peer_prekey_id, r + 116, 8);
	s->handshake_counter = l2s_get_u64(r + 124);
	s->created_ms = l2s_get_u64(r + 132);
	s->expires_ms = l2s_get_u64(r + 140);
	s->ticket_not_after_ms = l2s_get_u64(r + 148);
	s->ticket_len = l2s_get_u16(r + 156);
	s->delivery_len = l2s_get_u32(r + 158);
	memcpy(s->ticket, r + L2S_STORE_FIXED_BYTES, s->ticket_len);
}

/* Checks and parses an authenticated record into s (delivery into buf). */
static int record_parse(struct l2s_stored_session *s, uint8_t *buf, size_t cap, const uint8_t *r, size_t rlen,
			uint64_t now_ms)
{
	struct l2s_stored_session tmp;
	int ret = record_check(r, rlen);

	if (ret != L2S_OK)
		return ret;
	record_read(&tmp, r);
	if (tmp.delivery_len > cap)
		ret = L2S_ERR_LENGTH;
	else if (now_ms >= tmp.expires_ms)
		ret = L2S_ERR_EXPIRED;
	if (ret == L2S_OK) {
		if (tmp.delivery_len)
			memcpy(buf, r + L2S_STORE_FIXED_BYTES + tmp.ticket_len, tmp.delivery_len);
		tmp.delivery = buf;
		*s = tmp;
	}
	l2s_stored_session_wipe(&tmp);
	return ret;
}

int l2s_store_open(struct l2s_stored_session *s, uint8_t *delivery_buf, size_t delivery_cap, const uint8_t *in,
		   size_t len, const uint8_t storage_key[L2S_KEY_BYTES], uint64_t now_ms)
{
	uint8_t key[L2S_KEY_BYTES], head[5];
	uint8_t *record;
	size_t rlen;
	int ret;

	outer_header(head);
	if (len < L2S_STORE_OVERHEAD + L2S_STORE_FIXED_BYTES ||
	    len > l2s_store_sealed_len(L2S_MAX_TICKET, L2S_STORE_MAX_DELIVERY) || memcmp(in, head, 5) != 0)
		return L2S_ERR_DECODE;
	rlen = len - L2S_STORE_OVERHEAD;
	record = malloc(rlen);
	if (!record)
		return L2S_ERR_NOMEM;
	l2s_kdf_stored_session(key, storage_key);
	ret = l2s_aead_decrypt(record, in + L2S_STORE_OUTER_BYTES, len - L2S_STORE_OUTER_BYTES, in, 5, in + 5, key);
	l2s_wipe(key, sizeof(key));
	if (ret == L2S_OK)
		ret = record_parse(s, delivery_buf, delivery_cap, record, rlen, now_ms);
	else
		ret = L2S_ERR_AUTH;
	l2s_wipe(record, rlen);
	free(record);
	return ret;
}
