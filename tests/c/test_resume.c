// SPDX-License-Identifier: Apache-2.0
/* Resumption (PROTOCOL.md §8): both modes with and without the X25519
 * share, binder and confirm, channel binding, replayed nonces, every-byte
 * tampering. */
#include <sodium.h>
#include <string.h>

#include "handshake/cookie.h"
#include "hsfixture.h"
#include "handshake/resume.h"

#define NOW 5000000ull

static struct fix_peer I, R, M;
static struct l2s_session_keys KI, KR; /* the session being resumed */
static struct l2s_ticket_keys TK;
static struct l2s_nonce_cache NC;
static uint8_t TICKET[L2S_TICKET_BYTES];

/* R's stored sessions for key-derivation mode: just the one, confirmed. */
static int lookup(void *arg, const uint8_t sid[16], int candidate, uint8_t rs[32], uint8_t peer_pk[32])
{
	const struct l2s_session_keys *k = arg;

	if (candidate != 0 || memcmp(sid, k->session_id, 16) != 0)
		return L2S_ERR_NOT_FOUND;
	memcpy(rs, k->rs, 32);
	memcpy(peer_pk, I.id.pk, 32);
	return L2S_OK;
}

static struct l2s_resume_ctx ctx(void)
{
	struct l2s_resume_ctx c = {
		.self = &R.id, .tickets = &TK, .nonces = &NC, .lookup = lookup, .lookup_arg = &KR,
	};
	return c;
}

static void setup(void)
{
	struct l2s_ticket_contents c;

	fix_peer_init(&I, 0x00);
	fix_peer_init(&R, 0x20);
	fix_peer_init(&M, 0x60);
	CHECK(fix_handshake(&I, &R, 1, &KI, &KR) == L2S_OK);
	l2s_ticket_keys_init(&TK, 3600000, &R.rng, NOW);
	CHECK(l2s_nonce_cache_init(&NC, 4096, 3600000, &R.rng) == L2S_OK);
	memcpy(c.session_id, KR.session_id, 16);
	memcpy(c.peer_pk, I.id.pk, 32);
	memcpy(c.rs, KR.rs, 32);
	c.not_after_ms = NOW + 3600000;
	CHECK(l2s_ticket_seal(TICKET, &TK, &c, &R.rng) == L2S_OK);
}

/* One resumption; ticket NULL selects key-derivation mode. */
static int resume(const uint8_t *ticket, int with_x, struct l2s_session_keys *ki, struct l2s_session_keys *kr,
		  uint64_t now)
{
	struct l2s_resume_initiator ist;
	struct l2s_resume_responder rst;
	struct l2s_resume_ctx c = ctx();
	uint8_t resp[L2S_RESUME_RESP_BYTES];
	uint32_t idx = 0;
	int ret;

	ret = l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, ticket, ticket ? L2S_TICKET_BYTES : 0,
				     with_x, 0x31, &I.rng);
	if (ret == L2S_OK)
		ret = l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, now);
	if (ret == L2S_OK) {
		CHECK_MEM(rst.peer_pk, I.id.pk, 32);
		CHECK_MEM(rst.session_id, KR.session_id, 16);
		ret = l2s_resume_create_resp(resp, kr, &rst, 0x32, &R.rng);
	}
	if (ret == L2S_OK)
		ret = l2s_resume_consume_resp(ki, &idx, &ist, &I.id, resp, sizeof(resp));
	if (ret == L2S_OK) {
		CHECK(idx == 0x32);
		CHECK(sodium_is_zero(ist.rs, 32) && sodium_is_zero(ist.x_sk, 32));
		CHECK(sodium_is_zero(resp + 44, 32) == !with_x);
	}
	l2s_resume_initiator_wipe(&ist);
	return ret;
}

static void test_modes(void)
{
	struct l2s_session_keys ki, kr, prev_i;

	memset(&prev_i, 0, sizeof(prev_i));
	for (int mode = 0; mode < 2; mode++) {
		for (int with_x = 0; with_x < 2; with_x++) {
			CHECK(resume(mode ? NULL : TICKET, with_x, &ki, &kr, NOW + 1) == L2S_OK);
			CHECK(fix_keys_match(&ki, &kr));
			/* Same session, new keys, new rs and rc. */
			CHECK_MEM(ki.session_id, KI.session_id, 16);
			CHECK(memcmp(ki.send, KI.send, 32) != 0 && memcmp(ki.rs, KI.rs, 32) != 0);
			CHECK(memcmp(ki.rc, KI.rc, 32) != 0);
			CHECK(memcmp(ki.send, prev_i.send, 32) != 0); /* fresh nonces each time */
			prev_i = ki;
		}
	}
}

/* The exact §8 schedule, recomputed here for one X25519 resumption. */
static void test_schedule(void)
{
	struct l2s_resume_initiator ist;
	struct l2s_resume_responder rst;
	struct l2s_resume_ctx c = ctx();
	struct l2s_session_keys ki, kr;
	uint8_t resp[L2S_RESUME_RESP_BYTES], buf[512], th[32], dh[32], ck[32], k[32], mac[32], bind[32];
	uint32_t idx;

	fix_fill(bind, 32, 0x3c);
	c.binding = bind;
	CHECK(l2s_resume_create_init(&ist, R.id.pk, bind, KI.session_id, KI.rs, NULL, 0, 1, 7, &I.rng) == L2S_OK);
	CHECK(ist.msg_len == 124 && ist.msg[8] == 2 && ist.msg[9] == 1);
	memcpy(buf, KI.rs, 32);
	memcpy(buf + 32, bind, 32);
	l2s_blake3_derive_key(k, 32, "l2sess/1 2026-11 resume binder", 30, buf, 64);
	l2s_blake3_keyed(mac, 32, k, ist.msg, 92);
	CHECK_MEM(mac, ist.msg + 92, 16);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_OK);
	CHECK(l2s_resume_create_resp(resp, &kr, &rst, 8, &R.rng) == L2S_OK);
	CHECK(l2s_x25519(dh, ist.x_sk, resp + 44) == L2S_OK);
	memcpy(buf, bind, 32);
	memcpy(buf + 32, ist.msg, 124);
	memcpy(buf + 156, resp, 76);
	l2s_blake3(th, 32, buf, 232);
	memcpy(buf, KI.rs, 32);
	memcpy(buf + 32, dh, 32);
	memcpy(buf + 64, th, 32);
	l2s_blake3_derive_key(ck, 32, "l2sess/1 2026-11 resumption keys", 32, buf, 96);
	l2s_blake3_derive_key(k, 32, "l2sess/1 2026-11 resume confirm", 31, ck, 32);
	l2s_blake3_keyed(mac, 32, k, resp, 76);
	CHECK_MEM(mac, resp + 76, 16);
	l2s_blake3_derive_key(k, 32, "l2sess/1 2026-11 mac1", 21, I.id.pk, 32);
	l2s_blake3_keyed(mac, 32, k, resp, 92);
	CHECK_MEM(mac, resp + 92, 16);
	CHECK(sodium_is_zero(resp + 108, 16));
	CHECK(l2s_resume_consume_resp(&ki, &idx, &ist, &I.id, resp, sizeof(resp)) == L2S_OK);
	l2s_blake3_derive_key(k, 32, "l2sess/1 2026-11 initiator to responder", 39, ck, 32);
	CHECK_MEM(ki.send, k, 32);
	l2s_blake3_derive_key(k, 32, "l2sess/1 2026-11 resumption", 27, ck, 32);
	CHECK_MEM(ki.rs, k, 32);
	CHECK(fix_keys_match(&ki, &kr));
}

/* The channel binding (QUIC TLS exporter, PROTOCOL.md §2.1): a RESUME_INIT
 * made for one connection is refused on another before the nonce cache, and
 * the binding enters the key schedule on both sides. */
static void test_binding(void)
{
	struct l2s_resume_initiator ist;
	struct l2s_resume_responder rst;
	struct l2s_resume_ctx c = ctx();
	struct l2s_session_keys ki, kr;
	uint8_t resp[L2S_RESUME_RESP_BYTES], here[32], there[32];
	uint32_t idx;

	fix_fill(here, 32, 0x41);
	fix_fill(there, 32, 0x42);
	for (int mode = 0; mode < 2; mode++) {
		const uint8_t *t = mode ? NULL : TICKET;
		size_t tlen = mode ? 0 : sizeof(TICKET);

		CHECK(l2s_resume_create_init(&ist, R.id.pk, here, KI.session_id, KI.rs, t, tlen, 0, 9, &I.rng) ==
		      L2S_OK);
		c.binding = there; /* relayed onto another connection */
		CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
		c.binding = NULL; /* or onto an unbound path */
		CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
		/* The refusals did not spend the nonce: the real one still works. */
		c.binding = here;
		CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_OK);
		CHECK(l2s_resume_create_resp(resp, &kr, &rst, 10, &R.rng) == L2S_OK);
		CHECK(l2s_resume_consume_resp(&ki, &idx, &ist, &I.id, resp, sizeof(resp)) == L2S_OK);
		CHECK(fix_keys_match(&ki, &kr));
		l2s_resume_initiator_wipe(&ist);
	}
	/* Past the binder, the binding still enters the transcript: an
	 * initiator holding another binding derives other keys (confirm fails). */
	CHECK(l2s_resume_create_init(&ist, R.id.pk, here, KI.session_id, KI.rs, NULL, 0, 0, 9, &I.rng) == L2S_OK);
	c.binding = here;
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_OK);
	CHECK(l2s_resume_create_resp(resp, &kr, &rst, 10, &R.rng) == L2S_OK);
	memcpy(ist.binding, there, 32);
	CHECK(l2s_resume_consume_resp(&ki, &idx, &ist, &I.id, resp, sizeof(resp)) == L2S_ERR_AUTH);
	memcpy(ist.binding, here, 32);
	CHECK(l2s_resume_consume_resp(&ki, &idx, &ist, &I.id, resp, sizeof(resp)) == L2S_OK);
	CHECK(fix_keys_match(&ki, &kr));
	l2s_resume_initiator_wipe(&ist);
}

static void test_refusals(void)
{
	struct l2s_resume_initiator ist;
	struct l2s_resume_responder rst;
	struct l2s_resume_ctx c = ctx(), stateless = ctx();
	struct l2s_session_keys ki, kr;
	struct l2s_ticket_contents tc;
	uint8_t other_sid[16], t[L2S_TICKET_BYTES], bad_rs[32], resp[L2S_RESUME_RESP_BYTES];
	uint32_t idx;

	stateless.lookup = NULL; /* a responder that holds no sessions: tickets only */

	/* Replay: the same RESUME_INIT twice. */
	CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, TICKET, sizeof(TICKET), 1, 1, &I.rng) ==
	      L2S_OK);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_OK);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW + 10) == L2S_ERR_REPLAY);
	CHECK(sodium_is_zero((uint8_t *)&rst, sizeof(rst)));

	/* Binder tampered (mac1 made valid again): refused at the binder. */
	CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, TICKET, sizeof(TICKET), 0, 1, &I.rng) ==
	      L2S_OK);
	ist.msg[92 + 120] ^= 1;
	l2s_mac_put(ist.msg, ist.msg_len - 16, R.id.mac1_key);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
	/* An I that does not know rs cannot make a binder. */
	fix_fill(bad_rs, 32, 0x77);
	CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, bad_rs, TICKET, sizeof(TICKET), 0, 1,
				     &I.rng) == L2S_OK);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
	CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, bad_rs, NULL, 0, 0, 1, &I.rng) == L2S_OK);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
	/* Unknown session in key-derivation mode; no lookup at all. */
	fix_fill(other_sid, 16, 0x99);
	CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, other_sid, KI.rs, NULL, 0, 0, 1, &I.rng) == L2S_OK);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_ERR_NOT_FOUND);
	/* The ticket names another session than the message. */
	CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, other_sid, KI.rs, TICKET, sizeof(TICKET), 0, 1, &I.rng) ==
	      L2S_OK);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
	/* Expired ticket: refused by a responder without the session; one that
	 * holds it (restored) checks the binder under its rs instead. */
	CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, TICKET, sizeof(TICKET), 0, 1, &I.rng) ==
	      L2S_OK);
	CHECK(l2s_resume_consume_init(&rst, &stateless, ist.msg, ist.msg_len, NOW + 3600000) == L2S_ERR_EXPIRED);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW + 3600000) == L2S_OK &&
	      rst.mode == L2S_RESUME_MODE_KDF);
	/* A ticket from another responder's keys, and a wrong-length one. */
	{
		struct l2s_ticket_keys other;

		l2s_ticket_keys_init(&other, 3600000, &M.rng, NOW);
		memcpy(tc.session_id, KI.session_id, 16);
		memcpy(tc.peer_pk, I.id.pk, 32);
		memcpy(tc.rs, KI.rs, 32);
		tc.not_after_ms = NOW + 1000;
		CHECK(l2s_ticket_seal(t, &other, &tc, &M.rng) == L2S_OK);
		CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, t, sizeof(t), 0, 1, &I.rng) ==
		      L2S_OK);
		CHECK(l2s_resume_consume_init(&rst, &stateless, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
		/* (R restarted: its ticket keys are new, the session restored) */
		CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_OK &&
		      rst.mode == L2S_RESUME_MODE_KDF && rst.candidate == 0);
		CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, t, 100, 0, 1, &I.rng) ==
		      L2S_OK);
		CHECK(l2s_resume_consume_init(&rst, &stateless, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
		/* the same, but I does not know rs: refused either way */
		CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, bad_rs, t, sizeof(t), 0, 1, &I.rng) ==
		      L2S_OK);
		CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
		l2s_ticket_keys_wipe(&other);
	}
	/* Sent to the wrong responder: mac1. */
	CHECK(l2s_resume_create_init(&ist, M.id.pk, NULL, KI.session_id, KI.rs, NULL, 0, 0, 1, &I.rng) == L2S_OK);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
	/* A mode the responder does not offer. */
	{
		struct l2s_resume_ctx no = { .self = &R.id, .nonces = &NC };

		CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, NULL, 0, 0, 1, &I.rng) ==
		      L2S_OK);
		CHECK(l2s_resume_consume_init(&rst, &no, ist.msg, ist.msg_len, NOW) == L2S_ERR_NOT_FOUND);
		CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, TICKET, sizeof(TICKET), 0, 1,
					     &I.rng) == L2S_OK);
		CHECK(l2s_resume_consume_init(&rst, &no, ist.msg, ist.msg_len, NOW) == L2S_ERR_AUTH);
	}
	CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, TICKET, 257, 0, 1, &I.rng) ==
	      L2S_ERR_LENGTH);

	/* I asked for X25519, the answer has none: refused (no silent downgrade). */
	CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, NULL, 0, 1, 1, &I.rng) == L2S_OK);
	CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_OK);
	rst.flags = 0;
	CHECK(l2s_resume_create_resp(resp, &kr, &rst, 2, &R.rng) == L2S_OK);
	CHECK(l2s_resume_consume_resp(&ki, &idx, &ist, &I.id, resp, sizeof(resp)) == L2S_ERR_AUTH);
	/* A small-order X25519 share from I (re-MACed): the DH is refused. */
	{
		/* A point of order 8 (libsodium refuses the all-zero DH result). */
		static const uint8_t small[32] = { 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
						   0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
						   0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 };
		uint8_t k[32];

		CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, NULL, 0, 1, 1, &I.rng) ==
		      L2S_OK);
		memcpy(ist.msg + 58, small, 32);
		l2s_kdf_resume_binder(k, KI.rs, ist.binding); /* zeros: no binding */
		l2s_mac_put(ist.msg, 92, k);
		l2s_mac_put(ist.msg, 108, R.id.mac1_key);
		CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_OK);
		CHECK(l2s_resume_create_resp(resp, &kr, &rst, 2, &R.rng) == L2S_ERR_INVALID_KEY);
		CHECK(sodium_is_zero(resp, sizeof(resp)));
	}
	l2s_resume_initiator_wipe(&ist);
}

static void test_tamper(void)
{
	struct l2s_resume_initiator ist;
	struct l2s_resume_responder rst;
	struct l2s_resume_ctx c = ctx();
	struct l2s_session_keys ki, kr;
	uint8_t m[L2S_RESUME_INIT_MAX_BYTES], resp[L2S_RESUME_RESP_BYTES], t[L2S_RESUME_RESP_BYTES];
	uint32_t idx;
	int bad = 0;

	for (int mode = 0; mode < 2; mode++) {
		CHECK(l2s_resume_create_init(&ist, R.id.pk, NULL, KI.session_id, KI.rs, mode ? NULL : TICKET,
					     mode ? 0 : sizeof(TICKET), 1, 0x41, &I.rng) == L2S_OK);
		for (size_t k = 0; k < ist.msg_len; k++) {
			memcpy(m, ist.msg, ist.msg_len);
			m[k] ^= 0x01;
			if (l2s_resume_consume_init(&rst, &c, m, ist.msg_len, NOW) == L2S_OK)
				bad++;
		}
		CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len - 1, NOW) == L2S_ERR_DECODE);
		CHECK(l2s_resume_consume_init(&rst, &c, ist.msg, ist.msg_len, NOW) == L2S_OK);
		CHECK(l2s_resume_create_resp(resp, &kr, &rst, 0x42, &R.rng) == L2S_OK);
		for (size_t k = 0; k < sizeof(resp); k++) {
			memcpy(t, resp, sizeof(t));
			t[k] ^= 0x01;
			if (l2s_resume_consume_resp(&ki, &idx, &ist, &I.id, t, sizeof(t)) == L2S_OK)
				bad++;
		}
		CHECK(l2s_resume_consume_resp(&ki, &idx, &ist, &I.id, resp, sizeof(resp)) == L2S_OK);
		CHECK(fix_keys_match(&ki, &kr));
		CHECK(l2s_resume_consume_resp(&ki, &idx, &ist, &I.id, resp, sizeof(resp)) == L2S_ERR_STATE);
	}
	CHECK(bad == 0);
	l2s_resume_initiator_wipe(&ist);
}

/* Same rng seeds, same resumption bytes. */
static void test_deterministic(void)
{
	struct l2s_resume_initiator a, b;
	struct l2s_rng r1, r2;
	uint8_t seed[32];

	fix_fill(seed, 32, 0);
	l2s_rng_init_seeded(&r1, seed);
	l2s_rng_init_seeded(&r2, seed);
	CHECK(l2s_resume_create_init(&a, R.id.pk, NULL, KI.session_id, KI.rs, TICKET, sizeof(TICKET), 1, 5, &r1) ==
	      L2S_OK);
	CHECK(l2s_resume_create_init(&b, R.id.pk, NULL, KI.session_id, KI.rs, TICKET, sizeof(TICKET), 1, 5, &r2) ==
	      L2S_OK);
	CHECK(a.msg_len == b.msg_len && memcmp(a.msg, b.msg, a.msg_len) == 0);
	l2s_resume_initiator_wipe(&a);
	l2s_resume_initiator_wipe(&b);
}

int main(void)
{
	if (l2s_init() != L2S_OK)
		return 2;
	setup();
	test_modes();
	test_schedule();
	test_binding();
	test_refusals();
	test_tamper();
	test_deterministic();
	printf("sizeof: l2s_resume_initiator %zu, l2s_resume_responder %zu\n", sizeof(struct l2s_resume_initiator),
	       sizeof(struct l2s_resume_responder));
	l2s_nonce_cache_free(&NC);
	l2s_ticket_keys_wipe(&TK);
	return tu_finish("test_resume");
}
