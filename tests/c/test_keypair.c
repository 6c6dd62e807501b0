// SPDX-License-Identifier: Apache-2.0
/* TRANSPORT seal/open under a key pair: layout, round trips, tag failures
 * that leave the replay window untouched, replays, reordering, limits. */
#include <stdlib.h>
#include <string.h>

#include "engine/keypair.h"
#include "testutil.h"

static uint8_t k_ab[32], k_ba[32];
static uint8_t msg[L2S_MAX_MESSAGE], frame[L2S_MAX_MESSAGE];

static void make_pair(struct l2s_keypair *a, struct l2s_keypair *b)
{
	l2s_keypair_init(a, k_ab, k_ba, 0x11111111, 0x22222222, 1000, 1);
	l2s_keypair_init(b, k_ba, k_ab, 0x22222222, 0x11111111, 1000, 1);
}

static void test_layout(void)
{
	struct l2s_keypair a, b;
	uint8_t pt[5] = { 'h', 'e', 'l', 'l', 'o' }, nonce[12] = { 0 }, out[5]; /* no NUL: 5 bytes */
	size_t len = 0, flen = 0;

	make_pair(&a, &b);
	a.send_counter = 0x0102030405060708u;
	CHECK(l2s_keypair_seal(&a, pt, 5, msg, sizeof(msg), &len) == L2S_OK);
	CHECK(len == 5 + 32);
	CHECK(msg[0] == 1 && msg[1] == 4 && msg[2] == 0 && msg[3] == 0);
	CHECK(l2s_get_u32(msg + 4) == 0x22222222);
	CHECK(l2s_get_u64(msg + 8) == 0x0102030405060708u);
	CHECK(l2s_keypair_msg_index(msg) == 0x22222222);
	/* Nonce: 4 zero bytes || counter little-endian; AD: the header. */
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(8 - i);
	CHECK(l2s_aead_decrypt(out, msg + 16, len - 16, msg, 16, nonce, k_ab) == L2S_OK);
	CHECK_MEM(out, pt, 5);
	CHECK(a.send_counter == 0x0102030405060709u);
	CHECK(a.frames_sent == 1 && a.bytes_sent == 5);

	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_OK);
	CHECK(flen == 5);
	CHECK_MEM(frame, pt, 5);
	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_ERR_REPLAY);
}

static void test_round_trip_sizes(void)
{
	struct l2s_keypair a, b;
	size_t sizes[] = { 1, 2, 63, 64, 65, 1000, 65545, L2S_KEYPAIR_MAX_FRAME };

	make_pair(&a, &b);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], len = 0, flen = 0;
		uint8_t *pt = malloc(n);

		for (size_t j = 0; j < n; j++)
			pt[j] = (uint8_t)(j * 7 + i);
		CHECK(l2s_keypair_seal(&a, pt, n, msg, sizeof(msg), &len) == L2S_OK);
		CHECK(len == n + L2S_KEYPAIR_OVERHEAD && len <= L2S_MAX_MESSAGE);
		CHECK(l2s_keypair_open(&b, msg, len, frame, n, &flen) == L2S_OK);
		CHECK(flen == n);
		CHECK_MEM(frame, pt, n);
		/* B answers on its own keys; A opens. */
		CHECK(l2s_keypair_seal(&b, pt, n, msg, sizeof(msg), &len) == L2S_OK);
		CHECK(l2s_keypair_open(&a, msg, len, frame, sizeof(frame), &flen) == L2S_OK);
		CHECK(flen == n && memcmp(frame, pt, n) == 0);
		free(pt);
	}
	/* Sealing in place: the frame already sits after the header slot. */
	{
		size_t len = 0, flen = 0;

		memcpy(msg + 16, "in place", 8);
		CHECK(l2s_keypair_seal(&a, msg + 16, 8, msg, sizeof(msg), &len) == L2S_OK);
		CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_OK);
		CHECK(flen == 8 && memcmp(frame, "in place", 8) == 0);
	}
}

static void test_tag_failure_keeps_window(void)
{
	struct l2s_keypair a, b;
	struct l2s_replay before;
	uint8_t m0[64], pt[20];
	size_t len0 = 0, len = 0, flen = 0;
	int all_failed = 1, all_auth = 1, window_same = 1;

	make_pair(&a, &b);
	memset(pt, 0xab, sizeof(pt));
	CHECK(l2s_keypair_seal(&a, pt, sizeof(pt), m0, sizeof(m0), &len0) == L2S_OK);
	a.send_counter = 5000;
	CHECK(l2s_keypair_seal(&a, pt, sizeof(pt), msg, sizeof(msg), &len) == L2S_OK);
	before = b.replay;
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			int err;

			msg[i] ^= (uint8_t)(1 << bit);
			err = l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen);
			msg[i] ^= (uint8_t)(1 << bit);
			if (err == L2S_OK)
				all_failed = 0;
			if (i >= 16 && err != L2S_ERR_AUTH)
				all_auth = 0;
			if (memcmp(&before, &b.replay, sizeof(before)) != 0)
				window_same = 0;
		}
	}
	CHECK(all_failed);
	CHECK(all_auth);
	CHECK(window_same);
	/* Header damage is caught before any crypto. */
	msg[0] = 2;
	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_ERR_DECODE);
	msg[0] = 1;
	msg[3] = 1;
	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_ERR_DECODE);
	msg[3] = 0;
	msg[7] ^= 1;
	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_ERR_NOT_FOUND);
	msg[7] ^= 1;
	msg[8] ^= 0x10; /* counter >= 2^60 */
	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_ERR_DECODE);
	msg[8] ^= 0x10;
	/* A forged frame with counter 5000 did not move the window: 0 opens. */
	CHECK(l2s_keypair_open(&b, m0, len0, frame, sizeof(frame), &flen) == L2S_OK);
	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_OK);
	CHECK(l2s_keypair_open(&b, m0, len0, frame, sizeof(frame), &flen) == L2S_ERR_REPLAY);
	/* A short output buffer is refused before decrypting and changes nothing. */
	a.send_counter = 4990; /* inside the window below 5000 */
	CHECK(l2s_keypair_seal(&a, pt, sizeof(pt), msg, sizeof(msg), &len) == L2S_OK);
	before = b.replay;
	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(pt) - 1, &flen) == L2S_ERR_LENGTH);
	CHECK(memcmp(&before, &b.replay, sizeof(before)) == 0);
	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(pt), &flen) == L2S_OK);
}

static uint64_t rs = 42;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

#define N_REORDER 300

static void test_reorder_once(void)
{
	static uint8_t sealed[N_REORDER][64];
	size_t lens[N_REORDER], flen = 0;
	int order[3 * N_REORDER], ok = 0, replays = 0, opened[N_REORDER] = { 0 }, bad = 0;
	struct l2s_keypair a, b;

	make_pair(&a, &b);
	for (int i = 0; i < N_REORDER; i++) {
		uint8_t pt[8];

		l2s_put_u64(pt, (uint64_t)i);
		CHECK(l2s_keypair_seal(&a, pt, 8, sealed[i], 64, &lens[i]) == L2S_OK);
	}
	/* Every message three times, shuffled: each must open exactly once. */
	for (int i = 0; i < 3 * N_REORDER; i++)
		order[i] = i % N_REORDER;
	for (int i = 3 * N_REORDER - 1; i > 0; i--) {
		int j = (int)(rnd() % (uint64_t)(i + 1)), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < 3 * N_REORDER; i++) {
		int k = order[i], err = l2s_keypair_open(&b, sealed[k], lens[k], frame, sizeof(frame), &flen);

		if (err == L2S_OK) {
			ok++;
			opened[k]++;
			if (l2s_get_u64(frame) != (uint64_t)k)
				bad++;
		} else if (err == L2S_ERR_REPLAY) {
			replays++;
		}
	}
	CHECK(ok == N_REORDER);
	CHECK(replays == 2 * N_REORDER);
	CHECK(bad == 0);
	for (int i = 0; i < N_REORDER; i++)
		CHECK(opened[i] == 1);

	/* Older than the window: refused even though never seen. */
	{
		uint8_t old[64], pt[8] = { 0 };
		size_t old_len = 0, len = 0;

		CHECK(l2s_keypair_seal(&a, pt, 8, old, sizeof(old), &old_len) == L2S_OK);
		a.send_counter += L2S_REPLAY_WINDOW - 1;
		CHECK(l2s_keypair_seal(&a, pt, 8, msg, sizeof(msg), &len) == L2S_OK);
		CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_OK);
		CHECK(l2s_keypair_open(&b, old, old_len, frame, sizeof(frame), &flen) == L2S_ERR_REPLAY);
	}
}

static void test_limits(void)
{
	struct l2s_keypair a, b;
	uint8_t pt[4] = { 1, 2, 3, 4 };
	size_t len = 0, flen = 0;

	make_pair(&a, &b);
	CHECK(l2s_keypair_seal(&a, pt, 0, msg, sizeof(msg), &len) == L2S_ERR_LENGTH);
	CHECK(l2s_keypair_seal(&a, msg + 100, L2S_KEYPAIR_MAX_FRAME + 1, msg, sizeof(msg) , &len) ==
	      L2S_ERR_LENGTH);
	CHECK(l2s_keypair_seal(&a, pt, 4, msg, 4 + 31, &len) == L2S_ERR_LENGTH);
	CHECK(a.send_counter == 0);
	CHECK(l2s_keypair_seal(&a, pt, 4, msg, 4 + 32, &len) == L2S_OK);
	CHECK(l2s_keypair_open(&b, msg, 32, frame, sizeof(frame), &flen) == L2S_ERR_DECODE);
	CHECK(l2s_keypair_open(&b, msg, L2S_MAX_MESSAGE + 1, frame, sizeof(frame), &flen) == L2S_ERR_DECODE);

	/* The last counter a pair may use is 2^60 - 1. */
	a.send_counter = L2S_KEYPAIR_MAX_COUNTER - 1;
	CHECK(l2s_keypair_seal(&a, pt, 4, msg, sizeof(msg), &len) == L2S_OK);
	CHECK(l2s_get_u64(msg + 8) == L2S_KEYPAIR_MAX_COUNTER - 1);
	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_OK);
	CHECK(l2s_keypair_seal(&a, pt, 4, msg, sizeof(msg), &len) == L2S_ERR_STATE);
	CHECK(a.send_counter == L2S_KEYPAIR_MAX_COUNTER);

	/* A receive-only pair (previous or next) refuses to seal. */
	l2s_keypair_init(&a, k_ab, k_ba, 1, 2, 0, 0);
	CHECK(l2s_keypair_seal(&a, pt, 4, msg, sizeof(msg), &len) == L2S_ERR_STATE);

	/* Wrong keys: the tag fails. */
	l2s_keypair_init(&a, k_ab, k_ba, 1, 2, 0, 1);
	l2s_keypair_init(&b, k_ba, k_ba, 2, 1, 0, 1);
	CHECK(l2s_keypair_seal(&a, pt, 4, msg, sizeof(msg), &len) == L2S_OK);
	CHECK(l2s_keypair_open(&b, msg, len, frame, sizeof(frame), &flen) == L2S_ERR_AUTH);

	l2s_keypair_wipe(&a);
	{
		static const struct l2s_keypair zero;

		CHECK(memcmp(&a, &zero, sizeof(a)) == 0);
	}
	/* Three pairs per session must leave room in a 2 KiB session. */
	CHECK(sizeof(struct l2s_keypair) <= 256);
	printf("sizeof(struct l2s_keypair) = %zu\n", sizeof(struct l2s_keypair));
}

int main(void)
{
	CHECK(l2s_init() == L2S_OK);
	l2s_random(k_ab, sizeof(k_ab));
	l2s_random(k_ba, sizeof(k_ba));
	test_layout();
	test_round_trip_sizes();
	test_tag_failure_keeps_window();
	test_reorder_once();
	test_limits();
	return tu_finish("keypair");
}
