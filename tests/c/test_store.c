// SPDX-License-Identifier: Apache-2.0
/* StoredSession sealing (PROTOCOL.md §10): round trips, the documented
 * layout, wrong key, every-byte tampering, malformed records, expiry. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "hsfixture.h"
#include "engine/store.h"

static struct l2s_rng RNG;
static uint8_t KEY[32], OTHER_KEY[32];
static uint8_t DELIVERY[3000];

static void sample(struct l2s_stored_session *s, size_t ticket_len, size_t delivery_len)
{
	memset(s, 0, sizeof(*s));
	s->role = L2S_ROLE_INITIATOR;
	fix_fill(s->peer_pk, 32, 1);
	fix_fill(s->session_id, 16, 2);
	fix_fill(s->rs, 32, 3);
	fix_fill(s->rc, 32, 4);
	fix_fill(s->peer_prekey_id, 8, 5);
	s->handshake_counter = 77;
	s->created_ms = 1000;
	s->expires_ms = 1000 + 86400000;
	fix_fill(s->ticket, ticket_len, 6);
	s->ticket_len = ticket_len;
	s->ticket_not_after_ms = ticket_len ? 5000 : 0;
	s->delivery = DELIVERY;
	s->delivery_len = delivery_len;
}

static int same(const struct l2s_stored_session *a, const struct l2s_stored_session *b)
{
	return a->role == b->role && !memcmp(a->peer_pk, b->peer_pk, 32) && !memcmp(a->session_id, b->session_id, 16) &&
	       !memcmp(a->rs, b->rs, 32) && !memcmp(a->rc, b->rc, 32) && !memcmp(a->peer_prekey_id, b->peer_prekey_id, 8) &&
	       a->handshake_counter == b->handshake_counter && a->created_ms == b->created_ms &&
	       a->expires_ms == b->expires_ms && a->ticket_not_after_ms == b->ticket_not_after_ms &&
	       a->ticket_len == b->ticket_len && !memcmp(a->ticket, b->ticket, a->ticket_len) &&
	       a->delivery_len == b->delivery_len && !memcmp(a->delivery, b->delivery, a->delivery_len);
}

static void test_round_trip(void)
{
	static uint8_t sealed[4096], sealed2[4096], out[4096];
	struct l2s_stored_session s, o;
	size_t len, len2;

	sample(&s, 120, sizeof(DELIVERY));
	CHECK(l2s_store_seal(sealed, sizeof(sealed), &len, &s, KEY, &RNG) == L2S_OK);
	CHECK(len == l2s_store_sealed_len(120, sizeof(DELIVERY)));
	CHECK(len == 4 + 1 + 12 + 162 + 120 + sizeof(DELIVERY) + 16);
	CHECK(memcmp(sealed, "L2SS\x01", 5) == 0);
	CHECK(l2s_store_open(&o, out, sizeof(out), sealed, len, KEY, 2000) == L2S_OK);
	CHECK(same(&s, &o) && o.delivery == out);
	/* A random nonce: sealing twice gives different bytes. */
	CHECK(l2s_store_seal(sealed2, sizeof(sealed2), &len2, &s, KEY, &RNG) == L2S_OK);
	CHECK(len2 == len && memcmp(sealed, sealed2, len) != 0);

	/* The record layout of §10, checked on the decrypted bytes. */
	{
		uint8_t k[32], *rec = malloc(len - 33);

		l2s_blake3_derive_key(k, 32, "l2sess/1 2026-11 stored session", 31, KEY, 32);
		CHECK(l2s_aead_decrypt(rec, sealed + 17, len - 17, sealed, 5, sealed + 5, k) == L2S_OK);
		CHECK(rec[0] == 1 && rec[1] == 1 && rec[2] == 1 && rec[3] == 0);
		CHECK_MEM(rec + 4, s.peer_pk, 32);
		CHECK_MEM(rec + 36, s.session_id, 16);
		CHECK_MEM(rec + 52, s.rs, 32);
		CHECK_MEM(rec + 84, s.rc, 32);
		CHECK_MEM(rec + 116, s.peer_prekey_id, 8);
		CHECK(l2s_get_u64(rec + 124) == 77 && l2s_get_u64(rec + 132) == 1000);
		CHECK(l2s_get_u64(rec + 140) == s.expires_ms && l2s_get_u64(rec + 148) == 5000);
		CHECK(l2s_get_u16(rec + 156) == 120 && l2s_get_u32(rec + 158) == sizeof(DELIVERY));
		CHECK_MEM(rec + 162, s.ticket, 120);
		CHECK_MEM(rec + 282, DELIVERY, sizeof(DELIVERY));
		free(rec);
	}

	/* No ticket, no delivery state, responder role. */
	sample(&s, 0, 0);
	s.role = L2S_ROLE_RESPONDER;
	s.delivery = NULL;
	CHECK(l2s_store_seal(sealed, sizeof(sealed), &len, &s, KEY, &RNG) == L2S_OK);
	CHECK(len == 4 + 1 + 12 + 162 + 16);
	CHECK(l2s_store_open(&o, NULL, 0, sealed, len, KEY, 2000) == L2S_OK);
	CHECK(o.role == L2S_ROLE_RESPONDER && o.ticket_len == 0 && o.delivery_len == 0);

	/* Capacity and range checks. */
	sample(&s, 120, 100);
	CHECK(l2s_store_seal(sealed, l2s_store_sealed_len(120, 100) - 1, &len, &s, KEY, &RNG) == L2S_ERR_LENGTH);
	s.ticket_len = 257;
	CHECK(l2s_store_seal(sealed, sizeof(sealed), &len, &s, KEY, &RNG) == L2S_ERR_LENGTH);
	s.ticket_len = 120;
	s.delivery_len = L2S_STORE_MAX_DELIVERY + 1;
	CHECK(l2s_store_seal(sealed, sizeof(sealed), &len, &s, KEY, &RNG) == L2S_ERR_LENGTH);
	s.delivery_len = 100;
	CHECK(l2s_store_seal(sealed, sizeof(sealed), &len, &s, KEY, &RNG) == L2S_OK);
	CHECK(l2s_store_open(&o, out, 99, sealed, len, KEY, 2000) == L2S_ERR_LENGTH);
	CHECK(l2s_store_open(&o, out, 100, sealed, len, KEY, 2000) == L2S_OK);
	/* Expiry. */
	CHECK(l2s_store_open(&o, out, 100, sealed, len, KEY, s.expires_ms - 1) == L2S_OK);
	CHECK(l2s_store_open(&o, out, 100, sealed, len, KEY, s.expires_ms) == L2S_ERR_EXPIRED);
}

static void test_refusals(void)
{
	static uint8_t sealed[1024], t[1024], out[1024];
	struct l2s_stored_session s, o;
	size_t len;
	int bad = 0;

	sample(&s, 120, 50);
	CHECK(l2s_store_seal(sealed, sizeof(sealed), &len, &s, KEY, &RNG) == L2S_OK);
	CHECK(l2s_store_open(&o, out, sizeof(out), sealed, len, OTHER_KEY, 2000) == L2S_ERR_AUTH);
	memset(&o, 0x5a, sizeof(o));
	for (size_t k = 0; k < len; k++) {
		int ret, want = k < 5 ? L2S_ERR_DECODE : L2S_ERR_AUTH;

		memcpy(t, sealed, len);
		t[k] ^= 0x01;
		ret = l2s_store_open(&o, out, sizeof(out), t, len, KEY, 2000);
		if (ret != want)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(o.handshake_counter == 0x5a5a5a5a5a5a5a5aull); /* never written */
	for (size_t n = 0; n < len; n++)
		if (l2s_store_open(&o, out, sizeof(out), sealed, n, KEY, 2000) == L2S_OK)
			bad++;
	CHECK(bad == 0);

	/* Malformed records under the right key: DECODE, not AUTH. */
	for (int c = 0; c < 6; c++) {
		uint8_t k[32], rec[512];
		size_t rlen = len - 33;

		l2s_kdf_stored_session(k, KEY);
		CHECK(l2s_aead_decrypt(rec, sealed + 17, len - 17, sealed, 5, sealed + 5, k) == L2S_OK);
		switch (c) {
		case 0: rec[0] = 2; break;              /* record version */
		case 1: rec[1] = 2; break;              /* role */
		case 2: rec[2] = 0; break;              /* flag says no ticket, T = 120 */
		case 3: rec[3] = 1; break;              /* reserved */
		case 4: l2s_put_u32(rec + 158, 51); break; /* lengths do not add up */
		case 5: l2s_put_u16(rec + 156, 300); break; /* ticket too long */
		}
		memcpy(t, sealed, 17);
		CHECK(l2s_aead_encrypt(t + 17, rec, rlen, t, 5, t + 5, k) == L2S_OK);
		CHECK(l2s_store_open(&o, out, sizeof(out), t, len, KEY, 2000) == L2S_ERR_DECODE);
	}
}

int main(void)
{
	uint8_t seed[32];

	if (l2s_init() != L2S_OK)
		return 2;
	fix_fill(seed, 32, 0x10);
	l2s_rng_init_seeded(&RNG, seed);
	fix_fill(KEY, 32, 0x70);
	fix_fill(OTHER_KEY, 32, 0x71);
	fix_fill(DELIVERY, sizeof(DELIVERY), 0x33);
	test_round_trip();
	test_refusals();
	return tu_finish("test_store");
}
