// SPDX-License-Identifier: Apache-2.0
/* The key schedule, prekey bundles, the expanded X-Wing secret and the full
 * handshake (PROTOCOL.md §3, §4, §9): agreement, determinism, every-byte
 * tampering, wrong identities, unknown prekeys, binding, counters. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "handshake/cookie.h"
#include "lib/counter_table.h"
#include "hsfixture.h"
#include "crypto/kdf.h"
#include "crypto/xwing.h"

/* ---- key schedule: every context string, spelled out here once more ---- */

static void ctx_check(const char *full, void (*fn)(uint8_t *, const uint8_t *))
{
	uint8_t in[32], a[32], b[32];

	fix_fill(in, 32, 0x5a);
	fn(a, in);
	l2s_blake3_derive_key(b, 32, full, strlen(full), in, 32);
	CHECK_MEM(a, b, 32);
}

static void test_kdf(void)
{
	uint8_t ck[32], a[32], b[32], m[64], id[16];
	struct l2s_session_keys ki, kr;

	ctx_check("l2sess/1 2026-11 resp key", l2s_kdf_resp_key);
	ctx_check("l2sess/1 2026-11 initiator to responder", l2s_kdf_initiator_to_responder);
	ctx_check("l2sess/1 2026-11 responder to initiator", l2s_kdf_responder_to_initiator);
	ctx_check("l2sess/1 2026-11 resumption", l2s_kdf_resumption);
	ctx_check("l2sess/1 2026-11 rotation chain", l2s_kdf_rotation_chain);
	ctx_check("l2sess/1 2026-11 mac1", l2s_kdf_mac1_key);
	ctx_check("l2sess/1 2026-11 cookie key", l2s_kdf_cookie_key);
	ctx_check("l2sess/1 2026-11 resume confirm", l2s_kdf_resume_confirm);
	ctx_check("l2sess/1 2026-11 ticket key", l2s_kdf_ticket_key);
	ctx_check("l2sess/1 2026-11 stored session", l2s_kdf_stored_session);

	fix_fill(ck, 32, 1);
	l2s_kdf_session_id(id, ck);
	l2s_blake3_derive_key(b, 16, "l2sess/1 2026-11 session id", 27, ck, 32);
	CHECK_MEM(id, b, 16);

	/* Multi-input derivations: the inputs concatenated in protocol order. */
	fix_fill(m, 64, 7);
	l2s_kdf_init_key(a, m, m + 32);
	l2s_blake3_derive_key(b, 32, "l2sess/1 2026-11 init key", 25, m, 64);
	CHECK_MEM(a, b, 32);
	l2s_kdf_resume_binder(a, m, m + 32); /* rs || binding */
	l2s_blake3_derive_key(b, 32, "l2sess/1 2026-11 resume binder", 30, m, 64);
	CHECK_MEM(a, b, 32);
	l2s_kdf_rotation(a, m, m + 32, ck);
	{
		uint8_t cat[96];

		memcpy(cat, m, 64);
		memcpy(cat + 64, ck, 32);
		l2s_blake3_derive_key(b, 32, "l2sess/1 2026-11 rotation", 25, cat, 96);
		CHECK_MEM(a, b, 32);
		l2s_kdf_chaining_key(a, m, m + 32, ck);
		l2s_blake3_derive_key(b, 32, "l2sess/1 2026-11 chaining key", 29, cat, 96);
		CHECK_MEM(a, b, 32);
		l2s_kdf_resumption_keys(a, m, m + 32, ck);
		l2s_blake3_derive_key(b, 32, "l2sess/1 2026-11 resumption keys", 32, cat, 96);
		CHECK_MEM(a, b, 32);
		/* Without dh: rs || th only. */
		memcpy(cat + 32, ck, 32);
		l2s_kdf_resumption_keys(a, m, NULL, ck);
		l2s_blake3_derive_key(b, 32, "l2sess/1 2026-11 resumption keys", 32, cat, 64);
		CHECK_MEM(a, b, 32);
	}
	{
		uint8_t r_pk[32], pre[L2S_XWING_PK_BYTES], bind[32], cat[32 + L2S_XWING_PK_BYTES + 32];

		fix_fill(r_pk, 32, 3);
		fix_fill(pre, sizeof(pre), 9);
		fix_fill(bind, 32, 11);
		memcpy(cat, r_pk, 32);
		memcpy(cat + 32, pre, sizeof(pre));
		memcpy(cat + 32 + sizeof(pre), bind, 32);
		l2s_kdf_transcript(a, r_pk, pre, bind);
		l2s_blake3_derive_key(b, 32, "l2sess/1 2026-11 transcript", 27, cat, sizeof(cat));
		CHECK_MEM(a, b, 32);
	}
	/* MAC is keyed BLAKE3 truncated to 16 bytes. */
	l2s_mac(a, ck, m, 64);
	l2s_blake3_keyed(b, 32, ck, m, 64);
	CHECK_MEM(a, b, 16);

	/* Roles swap the directions and nothing else. */
	l2s_session_keys_derive(&ki, ck, L2S_ROLE_INITIATOR);
	l2s_session_keys_derive(&kr, ck, L2S_ROLE_RESPONDER);
	CHECK(fix_keys_match(&ki, &kr));
	l2s_kdf_initiator_to_responder(a, ck);
	CHECK_MEM(ki.send, a, 32);
}

/* ---- X-Wing expanded secret ---- */

static void test_xwing_expanded(void)
{
	uint8_t seed[32], pk[L2S_XWING_PK_BYTES], pk2[L2S_XWING_PK_BYTES], ct[L2S_XWING_CT_BYTES];
	uint8_t ss[32], ss2[32], ss3[32], eseed[64];
	struct l2s_xwing_secret x;

	fix_fill(seed, 32, 0x21);
	fix_fill(eseed, 64, 0x99);
	CHECK(l2s_xwing_keygen_derand(pk, seed) == L2S_OK);
	CHECK(l2s_xwing_expand(&x, seed) == L2S_OK);
	l2s_xwing_public(pk2, &x);
	CHECK_MEM(pk, pk2, sizeof(pk));
	CHECK(l2s_xwing_encaps_derand(ct, ss, pk, eseed) == L2S_OK);
	CHECK(l2s_xwing_decaps(ss2, ct, seed) == L2S_OK);
	CHECK(l2s_xwing_decaps_expanded(ss3, ct, &x) == L2S_OK);
	CHECK_MEM(ss, ss2, 32);
	CHECK_MEM(ss, ss3, 32);
	ct[5] ^= 1; /* implicit rejection: same pseudorandom answer both ways */
	CHECK(l2s_xwing_decaps(ss2, ct, seed) == L2S_OK);
	CHECK(l2s_xwing_decaps_expanded(ss3, ct, &x) == L2S_OK);
	CHECK_MEM(ss2, ss3, 32);
	CHECK(memcmp(ss, ss3, 32) != 0);
	l2s_xwing_secret_wipe(&x);
}

/* ---- prekey bundles ---- */

static void test_bundle(struct fix_peer *r, struct fix_peer *other)
{
	uint8_t b[L2S_PREKEY_BUNDLE_BYTES], id[8], h[32];
	struct l2s_bundle d;

	memcpy(b, r->bundle, sizeof(b));
	CHECK(l2s_prekey_bundle_verify(b, sizeof(b), r->id.pk, FIX_NOW_S) == L2S_OK);
	CHECK(l2s_bundle_open(&d, b, sizeof(b), r->id.pk, FIX_NOW_S) == L2S_OK);
	CHECK_MEM(d.prekey_pk, r->prekey.pk, L2S_XWING_PK_BYTES);
	CHECK(d.not_after_s == FIX_NOT_AFTER_S);
	/* The signed message is the exact prefix || bytes 0..1257. */
	{
		static uint8_t m[30 + 1257];

		memcpy(m, "l2sess/1 2026-11 prekey bundle", 30);
		memcpy(m + 30, b, 1257);
		CHECK(l2s_ed25519_verify(b + 1257, m, sizeof(m), r->id.pk) == L2S_OK);
	}
	/* prekey_id = H(prekey_pk)[0..8] */
	l2s_prekey_id(id, r->prekey.pk);
	l2s_blake3(h, 32, r->prekey.pk, L2S_XWING_PK_BYTES);
	CHECK_MEM(id, h, 8);
	CHECK_MEM(r->prekey.id, h, 8);

	CHECK(l2s_prekey_bundle_verify(b, sizeof(b), r->id.pk, FIX_NOT_AFTER_S - 1) == L2S_OK);
	CHECK(l2s_prekey_bundle_verify(b, sizeof(b), r->id.pk, FIX_NOT_AFTER_S) == L2S_ERR_EXPIRED);
	CHECK(l2s_prekey_bundle_verify(b, sizeof(b), other->id.pk, FIX_NOW_S) == L2S_ERR_AUTH);
	CHECK(l2s_prekey_bundle_verify(b, sizeof(b) - 1, r->id.pk, FIX_NOW_S) == L2S_ERR_DECODE);
	CHECK(l2s_prekey_bundle_verify(b, 0, r->id.pk, FIX_NOW_S) == L2S_ERR_DECODE);
	/* Every byte matters: version -> decode, all else -> auth. */
	for (size_t i = 0; i < sizeof(b); i++) {
		int ret;

		b[i] ^= 0x01;
		ret = l2s_prekey_bundle_verify(b, sizeof(b), r->id.pk, FIX_NOW_S);
		CHECK(ret == (i == 0 ? L2S_ERR_DECODE : L2S_ERR_AUTH));
		b[i] ^= 0x01;
	}
	/* A bundle signed by another identity naming r's key. */
	CHECK(l2s_bundle_make(b, &other->id, r->prekey.pk, FIX_NOT_AFTER_S) == L2S_OK);
	memcpy(b + 1, r->id.pk, 32);
	CHECK(l2s_prekey_bundle_verify(b, sizeof(b), r->id.pk, FIX_NOW_S) == L2S_ERR_AUTH);
	/* An expired forgery is a forgery first. */
	CHECK(l2s_prekey_bundle_verify(b, sizeof(b), r->id.pk, FIX_NOT_AFTER_S + 5) == L2S_ERR_AUTH);
}

/* ---- the full handshake ---- */

static void dk(uint8_t *out, size_t n, const char *ctx, const uint8_t *in, size_t len)
{
	l2s_blake3_derive_key(out, n, ctx, strlen(ctx), in, len);
}

/* Recomputes the §4 schedule from the PROTOCOL.md text with raw BLAKE3 calls,
 * given I's state before it consumes resp; returns I's send key. */
static void spec_schedule(uint8_t i_send[32], const struct l2s_hs_initiator *ist, const uint8_t *resp,
			  const uint8_t r_pk[32], const uint8_t *prekey_pk, const uint8_t bind[32])
{
	static uint8_t buf[32 + L2S_XWING_PK_BYTES + 32 + L2S_HS_INIT_BYTES];
	uint8_t h0[32], h_init[32], k_init[32], pt[104], ss2[32], h_resp[32], ck[32], k_resp[32], sig[64];
	uint8_t z12[12] = { 0 }, sm[26 + 72];

	memcpy(buf, r_pk, 32);
	memcpy(buf + 32, prekey_pk, L2S_XWING_PK_BYTES);
	memcpy(buf + 32 + L2S_XWING_PK_BYTES, bind, 32);
	dk(h0, 32, "l2sess/1 2026-11 transcript", buf, 64 + L2S_XWING_PK_BYTES);
	memcpy(buf, h0, 32);
	memcpy(buf + 32, ist->msg, 2352);
	l2s_blake3(h_init, 32, buf, 32 + 2352);
	CHECK_MEM(h_init, ist->h_init, 32);
	memcpy(buf, ist->ss1, 32);
	memcpy(buf + 32, h_init, 32);
	dk(k_init, 32, "l2sess/1 2026-11 init key", buf, 64);
	CHECK(l2s_aead_decrypt(pt, ist->msg + 2352, 120, h_init, 32, z12, k_init) == L2S_OK);
	memcpy(sm, "l2sess/1 2026-11 initiator", 26);
	memcpy(sm + 26, h_init, 32);
	memcpy(sm + 58, pt, 40);
	CHECK(l2s_ed25519_verify(pt + 40, sm, sizeof(sm), pt) == L2S_OK);
	dk(k_init, 32, "l2sess/1 2026-11 mac1", r_pk, 32);
	l2s_mac(buf, k_init, ist->msg, 2472);
	CHECK_MEM(buf, ist->msg + 2472, 16);

	CHECK(l2s_xwing_decaps_expanded(ss2, resp + 12, &ist->e) == L2S_OK);
	memcpy(buf, h_init, 32);
	memcpy(buf + 32, ist->msg + 2352, 120);
	memcpy(buf + 152, resp, 1132);
	l2s_blake3(h_resp, 32, buf, 152 + 1132);
	memcpy(buf, ist->ss1, 32);
	memcpy(buf + 32, ss2, 32);
	memcpy(buf + 64, h_resp, 32);
	dk(ck, 32, "l2sess/1 2026-11 chaining key", buf, 96);
	dk(k_resp, 32, "l2sess/1 2026-11 resp key", ck, 32);
	CHECK(l2s_aead_decrypt(sig, resp + 1132, 80, h_resp, 32, z12, k_resp) == L2S_OK);
	memcpy(sm, "l2sess/1 2026-11 responder", 26);
	memcpy(sm + 26, h_resp, 32);
	CHECK(l2s_ed25519_verify(sig, sm, 58, r_pk) == L2S_OK);
	dk(i_send, 32, "l2sess/1 2026-11 initiator to responder", ck, 32);
}

static void test_agreement(struct fix_peer *i, struct fix_peer *r)
{
	const struct l2s_prekey *keys[] = { &r->prekey };
	struct l2s_session_keys ki, kr, ki2, kr2;
	struct l2s_hs_initiator *ist;
	struct l2s_hs_responder rst;
	uint8_t resp[L2S_HS_RESP_BYTES], bind[32];
	uint32_t r_index = 0;

	CHECK(l2s_hs_initiator_new(&ist) == L2S_OK);
	fix_fill(bind, 32, 0xb0);
	CHECK(l2s_hs_create_init(ist, &i->id, r->id.pk, r->prekey.pk, bind, 42, 0xabcdef01, NULL, &i->rng) ==
	      L2S_OK);
	CHECK(ist->msg[0] == 1 && ist->msg[1] == L2S_MSG_HANDSHAKE_INIT);
	CHECK_MEM(ist->msg + 8, r->prekey.id, 8);
	CHECK(l2s_mac1_verify(r->id.mac1_key, ist->msg, sizeof(ist->msg)) == L2S_OK);
	CHECK(sodium_is_zero(ist->msg + L2S_HS_INIT_MAC2_OFF, 16));
	/* A different channel binding is a different transcript. */
	CHECK(l2s_hs_consume_init(&rst, &r->id, keys, 1, NULL, ist->msg, sizeof(ist->msg)) == L2S_ERR_AUTH);
	CHECK(l2s_hs_consume_init(&rst, &r->id, keys, 1, bind, ist->msg, sizeof(ist->msg)) == L2S_OK);
	CHECK_MEM(rst.peer_pk, i->id.pk, 32);
	CHECK(rst.counter == 42);
	CHECK(rst.peer_index == 0xabcdef01);
	CHECK_MEM(rst.prekey_id, r->prekey.id, 8);
	CHECK(l2s_hs_create_resp(resp, &kr, &rst, &r->id, 0x12345678, &r->rng) == L2S_OK);
	CHECK(sodium_is_zero((uint8_t *)&rst, sizeof(rst))); /* wiped */
	CHECK(l2s_get_u32(resp + 8) == 0xabcdef01);
	{
		uint8_t spec_send[32];

		spec_schedule(spec_send, ist, resp, r->id.pk, r->prekey.pk, bind);
		CHECK_MEM(spec_send, kr.recv, 32);
	}
	CHECK(l2s_hs_consume_resp(&ki, &r_index, ist, &i->id, resp, sizeof(resp)) == L2S_OK);
	CHECK(r_index == 0x12345678);
	CHECK(fix_keys_match(&ki, &kr));
	CHECK(ist->done && sodium_is_zero((uint8_t *)&ist->e, sizeof(ist->e)) && sodium_is_zero(ist->ss1, 32));
	/* Consumed once: a second RESP is refused. */
	CHECK(l2s_hs_consume_resp(&ki2, &r_index, ist, &i->id, resp, sizeof(resp)) == L2S_ERR_STATE);
	l2s_hs_initiator_free(ist);

	/* A second handshake between the same peers gives fresh keys. */
	CHECK(fix_handshake(i, r, 43, &ki2, &kr2) == L2S_OK);
	CHECK(fix_keys_match(&ki2, &kr2));
	CHECK(memcmp(ki.send, ki2.send, 32) != 0);
	CHECK(memcmp(ki.session_id, ki2.session_id, 16) != 0);
}

/* Same seeds, same bytes. The digests below are regression constants taken
 * from this implementation: I's rng seed is 0x00..0x1f, R's 0x20..0x3f;
 * identity seeds 0x00..0x1f (I) and 0x20..0x3f (R); R's prekey seed
 * 0xa0..0xbf; counter 1, indices 7 and 9, no binding, no cookie. A change
 * means the bytes on the wire changed. */
static const char *const INIT_DIGEST = "e5391f65e36f13a977912e5d4ddbfde9ea13ec6a27200415bb65d16fb897dcb9";
static const char *const RESP_DIGEST = "545cdaf7ad53e2769d81ad71baa068cd5a81474acbdb3a464a8e615c58ea0d9a";

static void hexstr(char *out, const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n; k++)
		sprintf(out + 2 * k, "%02x", p[k]);
}

static void run_fixed(uint8_t init_out[L2S_HS_INIT_BYTES], uint8_t resp_out[L2S_HS_RESP_BYTES],
		      struct l2s_session_keys *ki, struct l2s_session_keys *kr)
{
	static struct fix_peer i, r;
	const struct l2s_prekey *keys[1];
	struct l2s_hs_initiator *ist;
	struct l2s_hs_responder rst;
	uint8_t seed[32];
	uint32_t idx;

	fix_peer_init(&i, 0x00);
	fix_peer_init(&r, 0x20);
	fix_fill(seed, 32, 0x00);
	l2s_rng_init_seeded(&i.rng, seed);
	fix_fill(seed, 32, 0x20);
	l2s_rng_init_seeded(&r.rng, seed);
	keys[0] = &r.prekey;
	CHECK(l2s_hs_initiator_new(&ist) == L2S_OK);
	CHECK(l2s_hs_create_init(ist, &i.id, r.id.pk, r.prekey.pk, NULL, 1, 7, NULL, &i.rng) == L2S_OK);
	memcpy(init_out, ist->msg, L2S_HS_INIT_BYTES);
	CHECK(l2s_hs_consume_init(&rst, &r.id, keys, 1, NULL, ist->msg, sizeof(ist->msg)) == L2S_OK);
	CHECK(l2s_hs_create_resp(resp_out, kr, &rst, &r.id, 9, &r.rng) == L2S_OK);
	CHECK(l2s_hs_consume_resp(ki, &idx, ist, &i.id, resp_out, L2S_HS_RESP_BYTES) == L2S_OK);
	l2s_hs_initiator_free(ist);
}

static void test_deterministic(void)
{
	static uint8_t init1[L2S_HS_INIT_BYTES], init2[L2S_HS_INIT_BYTES];
	uint8_t resp1[L2S_HS_RESP_BYTES], resp2[L2S_HS_RESP_BYTES], h[32];
	struct l2s_session_keys ki1, kr1, ki2, kr2;
	char hex[65];

	run_fixed(init1, resp1, &ki1, &kr1);
	run_fixed(init2, resp2, &ki2, &kr2);
	CHECK_MEM(init1, init2, sizeof(init1));
	CHECK_MEM(resp1, resp2, sizeof(resp1));
	CHECK_MEM(&ki1, &ki2, sizeof(ki1));
	CHECK(fix_keys_match(&ki1, &kr1));
	l2s_blake3(h, 32, init1, sizeof(init1));
	hexstr(hex, h, 32);
	printf("INIT blake3 = %s\n", hex);
	CHECK(strcmp(hex, INIT_DIGEST) == 0);
	l2s_blake3(h, 32, resp1, sizeof(resp1));
	hexstr(hex, h, 32);
	printf("RESP blake3 = %s\n", hex);
	CHECK(strcmp(hex, RESP_DIGEST) == 0);
}

/* What a node does with an INIT: mac1 first, mac2 when under load, then the
 * crypto. Returns the first error. */
static int responder_pipeline(const struct l2s_identity *self, const struct l2s_prekey *const *keys, size_t n,
			      const struct l2s_cookie_secrets *cs, const uint8_t *addr, const uint8_t *msg,
			      size_t len, struct l2s_hs_responder *rst)
{
	int ret = l2s_mac1_verify(self->mac1_key, msg, len);

	if (ret == L2S_OK && cs)
		ret = l2s_cookie_check_mac2(cs, addr, 4, msg, len);
	if (ret == L2S_OK)
		ret = l2s_hs_consume_init(rst, self, keys, n, NULL, msg, len);
	return ret;
}

static void test_tamper(struct fix_peer *i, struct fix_peer *r)
{
	const struct l2s_prekey *keys[] = { &r->prekey };
	static uint8_t m[L2S_HS_INIT_BYTES];
	uint8_t resp[L2S_HS_RESP_BYTES], cookie[32], addr[4] = { 10, 0, 0, 1 };
	struct l2s_cookie_secrets cs;
	struct l2s_session_keys ki, kr;
	struct l2s_hs_initiator *ist;
	struct l2s_hs_responder rst;
	uint32_t idx;
	int bad = 0, direct_bad = 0;

	l2s_cookie_secrets_init(&cs, &r->rng, 0);
	CHECK(l2s_cookie_compute(cookie, cs.current, addr, sizeof(addr)) == L2S_OK);
	CHECK(l2s_hs_initiator_new(&ist) == L2S_OK);
	CHECK(l2s_hs_create_init(ist, &i->id, r->id.pk, r->prekey.pk, NULL, 5, 77, cookie, &i->rng) == L2S_OK);
	/* Every byte, two ways: the full pipeline under load refuses all;
	 * the crypto alone refuses all but mac2 (only checked under load). */
	for (size_t k = 0; k < sizeof(m); k++) {
		for (int flip = 0x01; flip <= 0x80; flip <<= 7) {
			memcpy(m, ist->msg, sizeof(m));
			m[k] ^= (uint8_t)flip;
			if (responder_pipeline(&r->id, keys, 1, &cs, addr, m, sizeof(m), &rst) == L2S_OK)
				bad++;
			if (k < L2S_HS_INIT_MAC2_OFF &&
			    l2s_hs_consume_init(&rst, &r->id, keys, 1, NULL, m, sizeof(m)) == L2S_OK)
				direct_bad++;
		}
	}
	CHECK(bad == 0);
	CHECK(direct_bad == 0);
	CHECK(responder_pipeline(&r->id, keys, 1, &cs, addr, ist->msg, sizeof(ist->msg), &rst) == L2S_OK);
	CHECK(l2s_hs_create_resp(resp, &kr, &rst, &r->id, 88, &r->rng) == L2S_OK);

	bad = 0;
	for (size_t k = 0; k < sizeof(resp); k++) {
		uint8_t t[L2S_HS_RESP_BYTES];

		memcpy(t, resp, sizeof(t));
		t[k] ^= 0x01;
		if (l2s_hs_consume_resp(&ki, &idx, ist, &i->id, t, sizeof(t)) == L2S_OK)
			bad++;
	}
	CHECK(bad == 0);
	/* Truncated and extended. */
	CHECK(l2s_hs_consume_resp(&ki, &idx, ist, &i->id, resp, sizeof(resp) - 1) == L2S_ERR_DECODE);
	CHECK(l2s_hs_consume_init(&rst, &r->id, keys, 1, NULL, ist->msg, sizeof(ist->msg) - 1) == L2S_ERR_DECODE);
	/* The state survived every refusal: the genuine RESP still works. */
	CHECK(l2s_hs_consume_resp(&ki, &idx, ist, &i->id, resp, sizeof(resp)) == L2S_OK);
	CHECK(fix_keys_match(&ki, &kr));
	l2s_hs_initiator_free(ist);
}

/* Specific refusals: wrong R, unknown prekey, forged initiator identity. */
static void test_refusals(struct fix_peer *i, struct fix_peer *r, struct fix_peer *m)
{
	const struct l2s_prekey *keys[] = { &r->prekey };
	struct l2s_hs_initiator *ist;
	struct l2s_hs_responder rst;
	uint8_t k_init[32], pt[104], mac1_key[32], sm[26 + 72];
	uint8_t *sealed;

	CHECK(l2s_hs_initiator_new(&ist) == L2S_OK);

	/* I believes R is m: mac1 is keyed to the wrong identity. */
	CHECK(l2s_hs_create_init(ist, &i->id, m->id.pk, r->prekey.pk, NULL, 1, 1, NULL, &i->rng) == L2S_OK);
	CHECK(l2s_mac1_verify(r->id.mac1_key, ist->msg, sizeof(ist->msg)) == L2S_ERR_AUTH);
	CHECK(l2s_hs_consume_init(&rst, &r->id, keys, 1, NULL, ist->msg, sizeof(ist->msg)) == L2S_ERR_AUTH);

	/* Unknown prekey id (m's prekey, sent to r). */
	CHECK(l2s_hs_create_init(ist, &i->id, r->id.pk, m->prekey.pk, NULL, 1, 1, NULL, &i->rng) == L2S_OK);
	CHECK(l2s_hs_consume_init(&rst, &r->id, keys, 1, NULL, ist->msg, sizeof(ist->msg)) == L2S_ERR_NOT_FOUND);
	CHECK(sodium_is_zero((uint8_t *)&rst, sizeof(rst)));
	/* ... found once r lists it as its previous prekey. */
	{
		const struct l2s_prekey *two[] = { NULL, &r->prekey, &m->prekey };

		CHECK(l2s_hs_consume_init(&rst, &r->id, two, 3, NULL, ist->msg, sizeof(ist->msg)) == L2S_OK);
		l2s_hs_responder_wipe(&rst);
	}

	/* m forges an INIT claiming to be i: it knows everything but i's
	 * signing key. (a) keeps its own signature with i's pk; (b) signs the
	 * transcript naming i's pk with its own key. Both: L2S_ERR_AUTH. */
	for (int variant = 0; variant < 2; variant++) {
		CHECK(l2s_hs_create_init(ist, &m->id, r->id.pk, r->prekey.pk, NULL, 9, 1, NULL, &m->rng) == L2S_OK);
		sealed = ist->msg + L2S_HS_INIT_SEALED_OFF;
		l2s_kdf_init_key(k_init, ist->ss1, ist->h_init);
		CHECK(l2s_aead_decrypt(pt, sealed, 120, ist->h_init, 32, (const uint8_t[12]){ 0 }, k_init) == L2S_OK);
		CHECK_MEM(pt, m->id.pk, 32);
		memcpy(pt, i->id.pk, 32);
		if (variant == 1) {
			memcpy(sm, "l2sess/1 2026-11 initiator", 26);
			memcpy(sm + 26, ist->h_init, 32);
			memcpy(sm + 58, i->id.pk, 32);
			memcpy(sm + 90, pt + 32, 8);
			CHECK(l2s_ed25519_sign(pt + 40, sm, sizeof(sm), m->id.sk) == L2S_OK);
		}
		CHECK(l2s_aead_encrypt(sealed, pt, sizeof(pt), ist->h_init, 32, (const uint8_t[12]){ 0 }, k_init) ==
		      L2S_OK);
		l2s_kdf_mac1_key(mac1_key, r->id.pk);
		l2s_mac_put(ist->msg, L2S_HS_INIT_MAC1_OFF, mac1_key);
		CHECK(l2s_hs_consume_init(&rst, &r->id, keys, 1, NULL, ist->msg, sizeof(ist->msg)) == L2S_ERR_AUTH);
	}
	/* The unmodified forgery (m as itself) is fine: the check is the signature. */
	CHECK(l2s_hs_create_init(ist, &m->id, r->id.pk, r->prekey.pk, NULL, 9, 1, NULL, &m->rng) == L2S_OK);
	CHECK(l2s_hs_consume_init(&rst, &r->id, keys, 1, NULL, ist->msg, sizeof(ist->msg)) == L2S_OK);
	CHECK_MEM(rst.peer_pk, m->id.pk, 32);
	l2s_hs_responder_wipe(&rst);

	/* An invalid e_pk (ML-KEM coefficient >= q), re-MACed. */
	CHECK(l2s_hs_create_init(ist, &i->id, r->id.pk, r->prekey.pk, NULL, 1, 1, NULL, &i->rng) == L2S_OK);
	ist->msg[16] = 0xff;
	ist->msg[17] |= 0x0f;
	l2s_mac_put(ist->msg, L2S_HS_INIT_MAC1_OFF, r->id.mac1_key);
	CHECK(l2s_hs_consume_init(&rst, &r->id, keys, 1, NULL, ist->msg, sizeof(ist->msg)) == L2S_ERR_INVALID_KEY);

	/* An invalid prekey in a bundle is refused at I. */
	{
		static uint8_t bad_pk[L2S_XWING_PK_BYTES];

		memcpy(bad_pk, r->prekey.pk, sizeof(bad_pk));
		bad_pk[0] = 0xff;
		bad_pk[1] |= 0x0f;
		CHECK(l2s_hs_create_init(ist, &i->id, r->id.pk, bad_pk, NULL, 1, 1, NULL, &i->rng) ==
		      L2S_ERR_INVALID_KEY);
		CHECK(sodium_is_zero((uint8_t *)ist, sizeof(*ist)));
	}
	l2s_wipe(k_init, sizeof(k_init));
	l2s_hs_initiator_free(ist);
}

static void test_counter_table(struct fix_peer *i, struct fix_peer *r, struct fix_peer *m)
{
	struct l2s_counter_table t;
	uint8_t pk[32];

	CHECK(l2s_counter_table_init(&t, 1000, &r->rng) == L2S_OK);
	CHECK(l2s_counter_table_check(&t, i->id.pk, 0) == L2S_OK);
	CHECK(l2s_counter_table_accept(&t, i->id.pk, 5, 100) == L2S_OK);
	CHECK(l2s_counter_table_accept(&t, i->id.pk, 5, 101) == L2S_ERR_REPLAY);
	CHECK(l2s_counter_table_check(&t, i->id.pk, 4) == L2S_ERR_REPLAY);
	CHECK(l2s_counter_table_check(&t, i->id.pk, 6) == L2S_OK);
	CHECK(l2s_counter_table_accept(&t, m->id.pk, 1, 102) == L2S_OK);
	CHECK(l2s_counter_table_accept(&t, i->id.pk, 6, 103) == L2S_OK);
	CHECK(l2s_counter_table_accept(&t, i->id.pk, 6, 104) == L2S_ERR_REPLAY);
	CHECK(t.evictions == 0);
	l2s_counter_table_free(&t);

	/* Bounded: 4 entries, 100 identities; the table never grows. */
	CHECK(l2s_counter_table_init(&t, 4, &r->rng) == L2S_OK);
	CHECK(t.n_sets == 1);
	for (int k = 0; k < 100; k++) {
		memset(pk, k, sizeof(pk));
		CHECK(l2s_counter_table_accept(&t, pk, 1, (uint64_t)k) == L2S_OK);
	}
	CHECK(t.evictions == 96);
	memset(pk, 99, sizeof(pk));
	CHECK(l2s_counter_table_check(&t, pk, 1) == L2S_ERR_REPLAY);
	l2s_counter_table_free(&t);
}

int main(void)
{
	static struct fix_peer i, r, m;

	if (l2s_init() != L2S_OK)
		return 2;
	fix_peer_init(&i, 0x00);
	fix_peer_init(&r, 0x20);
	fix_peer_init(&m, 0x60);
	test_kdf();
	test_xwing_expanded();
	test_bundle(&r, &m);
	test_agreement(&i, &r);
	test_deterministic();
	test_tamper(&i, &r);
	test_refusals(&i, &r, &m);
	test_counter_table(&i, &r, &m);
	printf("sizeof: l2s_hs_initiator %zu, l2s_hs_responder %zu, l2s_session_keys %zu, l2s_xwing_secret %zu, "
	       "l2s_prekey %zu, l2s_identity %zu\n",
	       sizeof(struct l2s_hs_initiator), sizeof(struct l2s_hs_responder), sizeof(struct l2s_session_keys),
	       sizeof(struct l2s_xwing_secret), sizeof(struct l2s_prekey), sizeof(struct l2s_identity));
	return tu_finish("test_handshake");
}
