// SPDX-License-Identifier: Apache-2.0
/* mac1/mac2, cookie secrets, COOKIE_REPLY (PROTOCOL.md §4.3, §4.4) and the
 * per-address token buckets. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "handshake/cookie.h"
#include "hsfixture.h"
#include "lib/ratelimit.h"

static const uint8_t addr_a[4] = { 192, 0, 2, 1 };
static const uint8_t addr_b[4] = { 192, 0, 2, 2 };

static void test_mac1_offsets(struct fix_peer *i, struct fix_peer *r)
{
	struct l2s_hs_initiator *ist;
	size_t off;
	uint8_t junk[L2S_HS_INIT_BYTES];

	CHECK(l2s_hs_initiator_new(&ist) == L2S_OK);
	CHECK(l2s_hs_create_init(ist, &i->id, r->id.pk, r->prekey.pk, NULL, 1, 3, NULL, &i->rng) == L2S_OK);
	CHECK(l2s_mac1_offset(ist->msg, sizeof(ist->msg), &off) == L2S_OK && off == 2472);
	CHECK(l2s_mac1_verify(r->id.mac1_key, ist->msg, sizeof(ist->msg)) == L2S_OK);
	CHECK(l2s_mac1_verify(i->id.mac1_key, ist->msg, sizeof(ist->msg)) == L2S_ERR_AUTH);
	CHECK(l2s_mac1_verify(r->id.mac1_key, ist->msg, sizeof(ist->msg) - 1) == L2S_ERR_DECODE);
	/* Junk with a valid header costs one MAC and is refused. */
	memset(junk, 0x41, sizeof(junk));
	junk[0] = 1;
	junk[1] = 1;
	junk[2] = junk[3] = 0;
	CHECK(l2s_mac1_verify(r->id.mac1_key, junk, sizeof(junk)) == L2S_ERR_AUTH);
	/* Other types by length. */
	junk[1] = L2S_MSG_HANDSHAKE_RESP;
	CHECK(l2s_mac1_offset(junk, L2S_HS_RESP_BYTES, &off) == L2S_OK && off == 1212);
	junk[1] = L2S_MSG_RESUME_RESP;
	CHECK(l2s_mac1_offset(junk, 124, &off) == L2S_OK && off == 92);
	junk[1] = L2S_MSG_RESUME_INIT;
	CHECK(l2s_mac1_offset(junk, 124 + 120, &off) == L2S_OK && off == 108 + 120);
	CHECK(l2s_mac1_offset(junk, 124 + 257, &off) == L2S_ERR_DECODE);
	junk[1] = L2S_MSG_COOKIE_REPLY;
	CHECK(l2s_mac1_offset(junk, 68, &off) == L2S_ERR_DECODE);
	junk[1] = L2S_MSG_TRANSPORT;
	CHECK(l2s_mac1_offset(junk, 100, &off) == L2S_ERR_DECODE);
	l2s_hs_initiator_free(ist);
}

/* Under load: INIT without mac2 -> COOKIE_REPLY -> INIT with mac2 -> handshake. */
static void test_round_trip(struct fix_peer *i, struct fix_peer *r)
{
	const struct l2s_prekey *keys[] = { &r->prekey };
	uint8_t reply[L2S_COOKIE_REPLY_BYTES], t[L2S_COOKIE_REPLY_BYTES], cookie[32], cookie2[32];
	uint8_t resp[L2S_HS_RESP_BYTES], first_mac1[16];
	struct l2s_cookie_secrets cs;
	struct l2s_hs_initiator *ist;
	struct l2s_hs_responder rst;
	struct l2s_session_keys ki, kr;
	uint32_t idx;
	int bad = 0;

	l2s_cookie_secrets_init(&cs, &r->rng, 1000);
	CHECK(l2s_hs_initiator_new(&ist) == L2S_OK);
	CHECK(l2s_hs_create_init(ist, &i->id, r->id.pk, r->prekey.pk, NULL, 1, 0x77, NULL, &i->rng) == L2S_OK);
	memcpy(first_mac1, ist->msg + L2S_HS_INIT_MAC1_OFF, 16);
	CHECK(l2s_cookie_check_mac2(&cs, addr_a, 4, ist->msg, sizeof(ist->msg)) == L2S_ERR_AUTH);
	CHECK(l2s_cookie_reply_create(reply, &r->id, &cs, ist->msg, sizeof(ist->msg), addr_a, 4, &r->rng) == L2S_OK);
	CHECK(reply[1] == L2S_MSG_COOKIE_REPLY && l2s_get_u32(reply + 4) == 0x77);

	/* Every byte of the reply matters to I. */
	for (size_t k = 0; k < sizeof(reply); k++) {
		memcpy(t, reply, sizeof(t));
		t[k] ^= 0x01;
		if (l2s_cookie_reply_consume(cookie, r->id.pk, 0x77, first_mac1, t, sizeof(t)) == L2S_OK)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(l2s_cookie_reply_consume(cookie, r->id.pk, 0x78, first_mac1, reply, sizeof(reply)) ==
	      L2S_ERR_NOT_FOUND);
	CHECK(l2s_cookie_reply_consume(cookie, i->id.pk, 0x77, first_mac1, reply, sizeof(reply)) == L2S_ERR_AUTH);
	first_mac1[0] ^= 1; /* a reply to another request */
	CHECK(l2s_cookie_reply_consume(cookie, r->id.pk, 0x77, first_mac1, reply, sizeof(reply)) == L2S_ERR_AUTH);
	first_mac1[0] ^= 1;
	CHECK(l2s_cookie_reply_consume(cookie, r->id.pk, 0x77, first_mac1, reply, 67) == L2S_ERR_DECODE);
	CHECK(l2s_cookie_reply_consume(cookie, r->id.pk, 0x77, first_mac1, reply, sizeof(reply)) == L2S_OK);
	CHECK(l2s_cookie_compute(cookie2, cs.current, addr_a, 4) == L2S_OK);
	CHECK_MEM(cookie, cookie2, 32);

	/* I re-sends the same request with mac2. */
	CHECK(l2s_hs_initiator_consume_cookie(ist, cookie2, reply, sizeof(reply)) == L2S_OK);
	CHECK_MEM(cookie2, cookie, 32);
	CHECK_MEM(ist->msg + L2S_HS_INIT_MAC1_OFF, first_mac1, 16); /* mac1 unchanged */
	CHECK(l2s_cookie_check_mac2(&cs, addr_a, 4, ist->msg, sizeof(ist->msg)) == L2S_OK);
	/* mac2 proves the address: from another address it fails. */
	CHECK(l2s_cookie_check_mac2(&cs, addr_b, 4, ist->msg, sizeof(ist->msg)) == L2S_ERR_AUTH);
	CHECK(l2s_cookie_check_mac2(&cs, addr_a, 0, ist->msg, sizeof(ist->msg)) == L2S_ERR_LENGTH);
	CHECK(l2s_cookie_check_mac2(&cs, addr_a, 33, ist->msg, sizeof(ist->msg)) == L2S_ERR_LENGTH);
	CHECK(l2s_cookie_check_mac2(&cs, addr_a, 4, ist->msg, sizeof(ist->msg) - 1) == L2S_ERR_DECODE);
	CHECK(l2s_hs_consume_init(&rst, &r->id, keys, 1, NULL, ist->msg, sizeof(ist->msg)) == L2S_OK);
	CHECK(l2s_hs_create_resp(resp, &kr, &rst, &r->id, 5, &r->rng) == L2S_OK);
	CHECK(l2s_hs_consume_resp(&ki, &idx, ist, &i->id, resp, sizeof(resp)) == L2S_OK);
	CHECK(fix_keys_match(&ki, &kr));
	/* A later attempt can carry the kept cookie from the start. */
	CHECK(l2s_hs_create_init(ist, &i->id, r->id.pk, r->prekey.pk, NULL, 2, 0x79, cookie, &i->rng) == L2S_OK);
	CHECK(l2s_cookie_check_mac2(&cs, addr_a, 4, ist->msg, sizeof(ist->msg)) == L2S_OK);
	/* After the attempt ends, the cookie path refuses. */
	CHECK(l2s_hs_consume_resp(&ki, &idx, ist, &i->id, resp, sizeof(resp)) != L2S_OK);
	l2s_hs_initiator_free(ist);
	l2s_cookie_secrets_wipe(&cs);
}

/* The secret is replaced every 120 s; the previous one is still accepted. */
static void test_secret_rotation(struct fix_peer *i, struct fix_peer *r)
{
	struct l2s_cookie_secrets cs;
	struct l2s_hs_initiator *ist;
	uint8_t cookie[32], first[32];

	l2s_cookie_secrets_init(&cs, &r->rng, 0);
	CHECK(l2s_cookie_secrets_deadline(&cs) == 120000);
	memcpy(first, cs.current, 32);
	CHECK(l2s_cookie_compute(cookie, cs.current, addr_a, 4) == L2S_OK);
	CHECK(l2s_hs_initiator_new(&ist) == L2S_OK);
	CHECK(l2s_hs_create_init(ist, &i->id, r->id.pk, r->prekey.pk, NULL, 1, 1, cookie, &i->rng) == L2S_OK);
	CHECK(l2s_cookie_check_mac2(&cs, addr_a, 4, ist->msg, sizeof(ist->msg)) == L2S_OK);

	l2s_cookie_secrets_update(&cs, &r->rng, 119999); /* not yet */
	CHECK_MEM(cs.current, first, 32);
	l2s_cookie_secrets_update(&cs, &r->rng, 120000);
	CHECK(memcmp(cs.current, first, 32) != 0);
	CHECK(cs.have_previous && memcmp(cs.previous, first, 32) == 0);
	CHECK(l2s_cookie_check_mac2(&cs, addr_a, 4, ist->msg, sizeof(ist->msg)) == L2S_OK);
	l2s_cookie_secrets_update(&cs, &r->rng, 240000);
	CHECK(l2s_cookie_check_mac2(&cs, addr_a, 4, ist->msg, sizeof(ist->msg)) == L2S_ERR_AUTH);

	/* A long silence: both old secrets go. */
	CHECK(l2s_cookie_compute(cookie, cs.current, addr_a, 4) == L2S_OK);
	CHECK(l2s_hs_create_init(ist, &i->id, r->id.pk, r->prekey.pk, NULL, 2, 1, cookie, &i->rng) == L2S_OK);
	l2s_cookie_secrets_update(&cs, &r->rng, 240000 + 240000);
	CHECK(!cs.have_previous && sodium_is_zero(cs.previous, 32));
	CHECK(l2s_cookie_check_mac2(&cs, addr_a, 4, ist->msg, sizeof(ist->msg)) == L2S_ERR_AUTH);
	l2s_hs_initiator_free(ist);
	l2s_cookie_secrets_wipe(&cs);
}

static void test_ratelimit(struct fix_peer *r)
{
	struct l2s_ratelimit rl;
	int allowed = 0;
	uint8_t addr[16];

	CHECK(l2s_ratelimit_init(&rl, 64, 2, 5, &r->rng) == L2S_OK);
	for (int k = 0; k < 5; k++)
		CHECK(l2s_ratelimit_allow(&rl, addr_a, 4, 1000) == 1);
	CHECK(l2s_ratelimit_allow(&rl, addr_a, 4, 1000) == 0);
	CHECK(l2s_ratelimit_allow(&rl, addr_b, 4, 1000) == 1); /* independent */
	CHECK(l2s_ratelimit_allow(&rl, addr_a, 4, 1499) == 0);  /* 2/s: 0.998 tokens */
	CHECK(l2s_ratelimit_allow(&rl, addr_a, 4, 1500) == 1);
	CHECK(l2s_ratelimit_allow(&rl, addr_a, 4, 1500) == 0);
	/* A long pause refills to the burst, never beyond. */
	for (int k = 0; k < 10; k++)
		allowed += l2s_ratelimit_allow(&rl, addr_a, 4, 1000000);
	CHECK(allowed == 5);
	/* A clock going backwards refills nothing. */
	CHECK(l2s_ratelimit_allow(&rl, addr_a, 4, 10) == 0);
	/* A time near UINT64_MAX does not overflow. */
	CHECK(l2s_ratelimit_allow(&rl, addr_a, 4, UINT64_MAX) == 1);
	l2s_ratelimit_free(&rl);

	/* Bounded memory under a flood of addresses: the table does not grow,
	 * and each new address still gets its burst. */
	CHECK(l2s_ratelimit_init(&rl, 8, 1, 1, &r->rng) == L2S_OK);
	CHECK(rl.n_sets == 2);
	allowed = 0;
	for (uint32_t k = 0; k < 10000; k++) {
		memset(addr, 0, sizeof(addr));
		l2s_put_u32(addr, k);
		allowed += l2s_ratelimit_allow(&rl, addr, sizeof(addr), 5000);
	}
	CHECK(allowed == 10000);
	CHECK(rl.n_sets == 2);
	l2s_ratelimit_free(&rl);
}

int main(void)
{
	static struct fix_peer i, r;

	if (l2s_init() != L2S_OK)
		return 2;
	fix_peer_init(&i, 0x00);
	fix_peer_init(&r, 0x20);
	test_mac1_offsets(&i, &r);
	test_round_trip(&i, &r);
	test_secret_rotation(&i, &r);
	test_ratelimit(&r);
	return tu_finish("test_cookie");
}
