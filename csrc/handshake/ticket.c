// SPDX-License-Identifier: Apache-2.0
/* Ticket keys and the ticket format of PROTOCOL.md §8. */
#include <sodium.h>
#include <string.h>

#include "handshake/ticket.h"

static void new_stek(struct l2s_stek *s, uint32_t id, struct l2s_rng *rng)
{
	uint8_t seed[L2S_KEY_BYTES];

	l2s_rng_bytes(rng, seed, sizeof(seed));
	l2s_kdf_ticket_key(s->key, seed);
	l2s_wipe(seed, sizeof(seed));
	s->id = id;
	s->valid = 1;
}

void l2s_ticket_keys_init(struct l2s_ticket_keys *k, uint64_t lifetime_ms, struct l2s_rng *rng, uint64_t now_ms)
{
	uint8_t b[4];

	memset(k, 0, sizeof(*k));
	k->lifetime_ms = lifetime_ms ? lifetime_ms : 1;
	/* A random first id: tickets from an earlier run of the node (whose
	 * keys are gone) almost never name a key we hold. */
	l2s_rng_bytes(rng, b, sizeof(b));
	new_stek(&k->current, l2s_get_u32(b), rng);
	k->changed_ms = now_ms;
}

void l2s_ticket_keys_update(struct l2s_ticket_keys *k, struct l2s_rng *rng, uint64_t now_ms)
{
	if (now_ms < l2s_ticket_keys_deadline(k))
		return;
	if (now_ms - k->changed_ms < 2 * k->lifetime_ms)
		k->previous = k->current;
	else
		l2s_wipe(&k->previous, sizeof(k->previous));
	/* id + 1 differs from the previous id; both are public. */
	new_stek(&k->current, k->current.id + 1, rng);
	k->changed_ms = now_ms;
}

uint64_t l2s_ticket_keys_deadline(const struct l2s_ticket_keys *k)
{
	return k->changed_ms + k->lifetime_ms;
}

void l2s_ticket_keys_wipe(struct l2s_ticket_keys *k)
{
	l2s_wipe(k, sizeof(*k));
}

void l2s_ticket_contents_wipe(struct l2s_ticket_contents *c)
{
	l2s_wipe(c, sizeof(*c));
}

static void pack(uint8_t pt[L2S_TICKET_PT_BYTES], const struct l2s_ticket_contents *c)
{
	memcpy(pt, c->session_id, L2S_SESSION_ID_BYTES);
	memcpy(pt + 16, c->peer_pk, L2S_ED25519_PK_BYTES);
	memcpy(pt + 48, c->rs, L2S_KEY_BYTES);
	l2s_put_u64(pt + 80, c->not_after_ms);
}

static void unpack(struct l2s_ticket_contents *c, const uint8_t pt[L2S_TICKET_PT_BYTES])
{
	memcpy(c->session_id, pt, L2S_SESSION_ID_BYTES);
	memcpy(c->peer_pk, pt + 16, L2S_ED25519_PK_BYTES);
	memcpy(c->rs, pt + 48, L2S_KEY_BYTES);
	c->not_after_ms = l2s_get_u64(pt + 80);
}

int l2s_ticket_seal(uint8_t out[L2S_TICKET_BYTES], const struct l2s_ticket_keys *k,
		    const struct l2s_ticket_contents *c, struct l2s_rng *rng)
{
	uint8_t pt[L2S_TICKET_PT_BYTES], nonce[L2S_AEAD_NONCE_BYTES], ad[4];
	uint8_t sealed[L2S_TICKET_PT_BYTES + L2S_AEAD_TAG_BYTES];
	struct l2s_ticket t = { .stek_id = k->current.id, .nonce = nonce, .sealed = sealed };
	size_t len;
	int ret;

	l2s_rng_bytes(rng, nonce, sizeof(nonce));
	l2s_put_u32(ad, t.stek_id);
	pack(pt, c);
	ret = l2s_aead_encrypt(sealed, pt, sizeof(pt), ad, sizeof(ad), nonce, k->current.key);
	l2s_wipe(pt, sizeof(pt));
	if (ret != L2S_OK)
		return ret;
	if (l2s_encode_ticket(out, L2S_TICKET_BYTES, &t, &len) != L2S_OK || len != L2S_TICKET_BYTES)
		return L2S_ERR_INTERNAL;
	return L2S_OK;
}

static const struct l2s_stek *find_stek(const struct l2s_ticket_keys *k, uint32_t id)
{
	if (k->current.valid && k->current.id == id)
		return &k->current;
	if (k->previous.valid && k->previous.id == id)
		return &k->previous;
	return NULL;
}

int l2s_ticket_open(struct l2s_ticket_contents *c, const struct l2s_ticket_keys *k, const uint8_t *ticket,
		    size_t len, const uint8_t *expected_peer, uint64_t now_ms)
{
	uint8_t pt[L2S_TICKET_PT_BYTES], ad[4];
	struct l2s_ticket_contents tmp;
	const struct l2s_stek *stek;
	struct l2s_ticket t;
	int ret;

	if (l2s_decode_ticket(ticket, len, &t) != L2S_OK)
		return L2S_ERR_DECODE;
	stek = find_stek(k, t.stek_id);
	if (!stek)
		return L2S_ERR_AUTH;
	l2s_put_u32(ad, t.stek_id);
	if (l2s_aead_decrypt(pt, t.sealed, sizeof(pt) + L2S_AEAD_TAG_BYTES, ad, sizeof(ad), t.nonce, stek->key) !=
	    L2S_OK)
		return L2S_ERR_AUTH;
	unpack(&tmp, pt);
	l2s_wipe(pt, sizeof(pt));
	ret = L2S_OK;
	if (expected_peer && sodium_memcmp(tmp.peer_pk, expected_peer, L2S_ED25519_PK_BYTES) != 0)
		ret = L2S_ERR_AUTH;
	else if (now_ms >= tmp.not_after_ms)
		ret = L2S_ERR_EXPIRED;
	if (ret == L2S_OK)
		*c = tmp;
	l2s_ticket_contents_wipe(&tmp);
	return ret;
}
