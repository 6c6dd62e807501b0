// SPDX-License-Identifier: Apache-2.0
/* Rotation crypto (PROTOCOL.md §6): both sides derive the same next keys,
 * chained onto rc; any change to either frame desynchronises the keys. */
#include <sodium.h>
#include <string.h>

#include "hsfixture.h"
#include "handshake/rotation.h"

static struct fix_peer A, B;
static struct l2s_session_keys KA, KB; /* A initiated the session */

/* next keys of A and B agree, in the rotation's roles. */
static int agree(const struct l2s_session_keys *a, const struct l2s_session_keys *b)
{
	return fix_keys_match(a, b);
}

static void test_agreement(void)
{
	struct l2s_rotation *st;
	struct l2s_session_keys na, nb, na2, nb2;
	uint8_t resp[L2S_ROTATE_RESP_FRAME_BYTES], buf[L2S_ROTATE_INIT_FRAME_BYTES + L2S_ROTATE_RESP_FRAME_BYTES];
	uint8_t ss[32], th[32], ck[32], k[32], cat[96];
	uint32_t peer_index = 0;

	CHECK(l2s_rotation_new(&st) == L2S_OK);
	CHECK(l2s_rotation_start(st, 7, 0xa1, &A.rng) == L2S_OK);
	CHECK(st->frame[0] == L2S_FRAME_ROTATE_INIT && l2s_get_u32(st->frame + 1) == 7);
	CHECK(l2s_get_u32(st->frame + 5) == 0xa1);
	CHECK(l2s_rotation_respond(resp, &nb, &KB, st->frame, sizeof(st->frame), 0xb1, &B.rng) == L2S_OK);
	CHECK(resp[0] == L2S_FRAME_ROTATE_RESP && l2s_get_u32(resp + 1) == 7 && l2s_get_u32(resp + 5) == 0xb1);

	/* §6 from the text: ck' = KDF("rotation", rc || ss || H(INIT || RESP)). */
	CHECK(l2s_xwing_decaps_expanded(ss, resp + 9, &st->e) == L2S_OK);
	memcpy(buf, st->frame, L2S_ROTATE_INIT_FRAME_BYTES);
	memcpy(buf + L2S_ROTATE_INIT_FRAME_BYTES, resp, L2S_ROTATE_RESP_FRAME_BYTES);
	l2s_blake3(th, 32, buf, sizeof(buf));
	memcpy(cat, KA.rc, 32);
	memcpy(cat + 32, ss, 32);
	memcpy(cat + 64, th, 32);
	l2s_blake3_derive_key(ck, 32, "l2sess/1 2026-11 rotation", 25, cat, 96);

	CHECK(l2s_rotation_finish(&na, &peer_index, st, &KA, resp, sizeof(resp)) == L2S_OK);
	CHECK(peer_index == 0xb1);
	CHECK(agree(&na, &nb));
	l2s_blake3_derive_key(k, 32, "l2sess/1 2026-11 initiator to responder", 39, ck, 32);
	CHECK_MEM(na.send, k, 32);
	l2s_blake3_derive_key(k, 32, "l2sess/1 2026-11 rotation chain", 31, ck, 32);
	CHECK_MEM(na.rc, k, 32);
	/* New keys and chain; the session's id and resumption secret stay. */
	CHECK(memcmp(na.send, KA.send, 32) != 0 && memcmp(na.rc, KA.rc, 32) != 0);
	CHECK_MEM(na.session_id, KA.session_id, 16);
	CHECK_MEM(na.rs, KA.rs, 32);
	CHECK(st->done && sodium_is_zero((uint8_t *)&st->e, sizeof(st->e)));
	CHECK(l2s_rotation_finish(&na2, &peer_index, st, &KA, resp, sizeof(resp)) == L2S_ERR_STATE);

	/* A second rotation, started by B this time, chains on the new rc. */
	CHECK(l2s_rotation_start(st, 8, 0xb2, &B.rng) == L2S_OK);
	CHECK(l2s_rotation_respond(resp, &na2, &na, st->frame, sizeof(st->frame), 0xa2, &A.rng) == L2S_OK);
	CHECK(l2s_rotation_finish(&nb2, &peer_index, st, &nb, resp, sizeof(resp)) == L2S_OK);
	CHECK(agree(&nb2, &na2));
	CHECK(memcmp(nb2.rc, nb.rc, 32) != 0);
	/* Output may alias the current keys. */
	CHECK(l2s_rotation_start(st, 9, 1, &A.rng) == L2S_OK);
	nb2 = nb;
	CHECK(l2s_rotation_respond(resp, &nb2, &nb2, st->frame, sizeof(st->frame), 2, &B.rng) == L2S_OK);
	CHECK(l2s_rotation_finish(&na2, &peer_index, st, &na, resp, sizeof(resp)) == L2S_OK);
	CHECK(agree(&na2, &nb2));
	l2s_rotation_free(st);
}

static void test_tamper(void)
{
	static uint8_t f[L2S_ROTATE_INIT_FRAME_BYTES];
	struct l2s_rotation *st;
	struct l2s_session_keys na, nb;
	uint8_t resp[L2S_ROTATE_RESP_FRAME_BYTES], t[L2S_ROTATE_RESP_FRAME_BYTES];
	uint32_t idx;
	int agreed = 0, errors = 0;

	CHECK(l2s_rotation_new(&st) == L2S_OK);
	CHECK(l2s_rotation_start(st, 3, 4, &A.rng) == L2S_OK);
	/* A changed ROTATE_INIT: B refuses it or ends up with other keys. */
	for (size_t k = 0; k < sizeof(f); k++) {
		memcpy(f, st->frame, sizeof(f));
		f[k] ^= 0x01;
		if (l2s_rotation_respond(resp, &nb, &KB, f, sizeof(f), 5, &B.rng) != L2S_OK) {
			errors++;
			continue;
		}
		if (l2s_get_u32(resp + 1) != 3) {
			errors++; /* A would not match the rotation_id */
			continue;
		}
		if (l2s_rotation_finish(&na, &idx, st, &KA, resp, sizeof(resp)) == L2S_OK) {
			agreed += agree(&na, &nb);
			st->done = 0; /* test only: let the same ephemeral finish again */
			CHECK(l2s_rotation_start(st, 3, 4, &A.rng) == L2S_OK);
		}
	}
	CHECK(agreed == 0);
	CHECK(errors > 0);
	CHECK(l2s_rotation_respond(resp, &nb, &KB, st->frame, sizeof(st->frame) - 1, 5, &B.rng) == L2S_ERR_DECODE);
	/* A changed ROTATE_RESP: A refuses it or derives keys B does not have. */
	CHECK(l2s_rotation_respond(resp, &nb, &KB, st->frame, sizeof(st->frame), 5, &B.rng) == L2S_OK);
	agreed = 0;
	for (size_t k = 0; k < sizeof(resp); k++) {
		struct l2s_rotation *copy;

		CHECK(l2s_rotation_new(&copy) == L2S_OK);
		*copy = *st;
		memcpy(t, resp, sizeof(t));
		t[k] ^= 0x01;
		if (l2s_rotation_finish(&na, &idx, copy, &KA, t, sizeof(t)) == L2S_OK)
			agreed += agree(&na, &nb) && idx == 5;
		l2s_rotation_free(copy);
	}
	CHECK(agreed == 0);
	CHECK(l2s_rotation_finish(&na, &idx, st, &KA, resp, 10) == L2S_ERR_DECODE);
	/* Another rotation's answer. */
	resp[4] ^= 1;
	CHECK(l2s_rotation_finish(&na, &idx, st, &KA, resp, sizeof(resp)) == L2S_ERR_NOT_FOUND);
	resp[4] ^= 1;
	/* A frame of the wrong type. */
	CHECK(l2s_rotation_respond(resp, &nb, &KB, resp, sizeof(resp), 5, &B.rng) == L2S_ERR_DECODE);
	/* An invalid ML-KEM key in ROTATE_INIT. */
	memcpy(f, st->frame, sizeof(f));
	f[9] = 0xff;
	f[10] |= 0x0f;
	CHECK(l2s_rotation_respond(t, &nb, &KB, f, sizeof(f), 5, &B.rng) == L2S_ERR_INVALID_KEY);
	l2s_rotation_free(st);
}

static void test_deterministic(void)
{
	struct l2s_rotation *a, *b;
	struct l2s_rng r1, r2;
	uint8_t seed[32];

	fix_fill(seed, 32, 0);
	l2s_rng_init_seeded(&r1, seed);
	l2s_rng_init_seeded(&r2, seed);
	CHECK(l2s_rotation_new(&a) == L2S_OK);
	CHECK(l2s_rotation_new(&b) == L2S_OK);
	CHECK(l2s_rotation_start(a, 1, 2, &r1) == L2S_OK);
	CHECK(l2s_rotation_start(b, 1, 2, &r2) == L2S_OK);
	CHECK_MEM(a->frame, b->frame, sizeof(a->frame));
	l2s_rotation_free(a);
	l2s_rotation_free(b);
}

int main(void)
{
	if (l2s_init() != L2S_OK)
		return 2;
	fix_peer_init(&A, 0x00);
	fix_peer_init(&B, 0x20);
	CHECK(fix_handshake(&A, &B, 1, &KA, &KB) == L2S_OK);
	test_agreement();
	test_tamper();
	test_deterministic();
	printf("sizeof: l2s_rotation %zu\n", sizeof(struct l2s_rotation));
	return tu_finish("test_rotation");
}
