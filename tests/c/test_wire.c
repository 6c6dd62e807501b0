// SPDX-License-Identifier: Apache-2.0
/* The wire codecs (csrc/wire/wire.c) against docs/PROTOCOL.md §2-§8: the exact
 * documented bytes, round trips both ways, every truncation and extension,
 * header and field-range violations, encoder refusals, and a deterministic
 * mutation loop over every decoder.
 *
 * Expected encodings are built here field by field in the order of the
 * PROTOCOL.md tables with the test's own big-endian writer, not from
 * wire.c's offsets, so a layout slip on either side shows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "wire/wire.h"
#include "../fuzz/roundtrip.h"

/* ---- helpers ------------------------------------------------------------- */

/* Field contents: a fixed pattern; fields point into it at distinct offsets. */
static uint8_t src[L2S_MAX_MESSAGE];

/* An expected encoding, appended field by field. */
struct wb {
	uint8_t b[L2S_MAX_MESSAGE + 16];
	size_t n;
};

static void wb_u8(struct wb *w, unsigned int v)
{
	w->b[w->n++] = (uint8_t)v;
}

static void wb_be(struct wb *w, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		wb_u8(w, (unsigned int)(v >> (8 * i)) & 0xff);
}

static void wb_bytes(struct wb *w, const uint8_t *p, size_t n)
{
	if (p)
		memcpy(w->b + w->n, p, n);
	else
		memset(w->b + w->n, 0, n);
	w->n += n;
}

static void wb_header(struct wb *w, unsigned int type)
{
	w->n = 0;
	wb_u8(w, 0x01);
	wb_u8(w, type);
	wb_u8(w, 0);
	wb_u8(w, 0);
}

/* rt_check on an exactly-sized heap copy, so ASan sees any overread. */
static enum rt_result rt_exact(rt_fn fn, const uint8_t *msg, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);
	enum rt_result r;

	if (len)
		memcpy(b, msg, len);
	r = rt_check(fn, b, len);
	free(b);
	return r;
}

static int rejected(rt_fn fn, const uint8_t *msg, size_t len)
{
	return rt_exact(fn, msg, len) == RT_REJECTED;
}

static int accepted(rt_fn fn, const uint8_t *msg, size_t len)
{
	return rt_exact(fn, msg, len) == RT_ACCEPTED;
}

/* Every length 0 .. n+1 (the extra byte 0x00, then 0xff): accepted, and
 * re-encoded exactly, when min <= length <= max, rejected otherwise. */
static void check_lengths(rt_fn fn, const uint8_t *msg, size_t n, size_t min, size_t max)
{
	uint8_t *b = malloc(n + 1);
	int bad = 0;

	memcpy(b, msg, n);
	for (size_t l = 0; l <= n + 1; l++) {
		enum rt_result want = l >= min && l <= max ? RT_ACCEPTED : RT_REJECTED;

		b[n] = 0x00;
		bad += rt_exact(fn, b, l) != want;
		b[n] = 0xff;
		bad += l == n + 1 && rt_exact(fn, b, l) != want;
	}
	CHECK(bad == 0);
	free(b);
}

/* Changes one byte to every other value: each is rejected. */
static void check_byte_rejected(rt_fn fn, const uint8_t *msg, size_t n, size_t off)
{
	uint8_t *b = malloc(n);
	int bad = 0;

	memcpy(b, msg, n);
	for (unsigned int v = 0; v < 256; v++) {
		if (v == msg[off])
			continue;
		b[off] = (uint8_t)v;
		bad += !rejected(fn, b, n);
	}
	CHECK(bad == 0);
	free(b);
}

/* §2: the version, the type and both reserved bytes. */
static void check_header(rt_fn fn, const uint8_t *msg, size_t n)
{
	for (size_t off = 0; off < L2S_HEADER_BYTES; off++)
		check_byte_rejected(fn, msg, n, off);
}

/* Sets byte off to v and expects the decoder to reject the result. */
static int rejects_with(rt_fn fn, const uint8_t *msg, size_t n, size_t off, uint8_t v)
{
	uint8_t *b = malloc(n);
	int r;

	memcpy(b, msg, n);
	b[off] = v;
	r = rejected(fn, b, n);
	free(b);
	return r;
}

/* The full battery for one valid encoding of a fixed-layout message. */
static void check_message(rt_fn fn, const uint8_t *msg, size_t n)
{
	CHECK(accepted(fn, msg, n));
	check_lengths(fn, msg, n, n, n);
	check_header(fn, msg, n);
}

#define CANARY 0xa5

static int untouched(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != CANARY)
			return 0;
	return 1;
}

/* Seeds for the mutation loop, collected by the per-message tests. */
#define MAX_SEEDS 64
static struct {
	uint8_t *b;
	size_t len;
} seeds[MAX_SEEDS];
static int nseeds;

static void add_seed(const uint8_t *b, size_t len)
{
	if (nseeds == MAX_SEEDS)
		abort();
	seeds[nseeds].b = malloc(len);
	memcpy(seeds[nseeds].b, b, len);
	seeds[nseeds++].len = len;
}

/* ---- HANDSHAKE_INIT (§4.1) ----------------------------------------------- */

static void test_hs_init(void)
{
	static struct wb w;
	static uint8_t out[L2S_HS_INIT_BYTES + 8];
	struct l2s_hs_init in = { 0xa1b2c3d4, src + 1, src + 10, src + 1300, src + 2500, src + 2700, src + 2800 };
	struct l2s_hs_init m;
	size_t len = 0;

	wb_header(&w, 0x01);
	wb_be(&w, 0xa1b2c3d4, 4);
	wb_bytes(&w, src + 1, 8);
	wb_bytes(&w, src + 10, 1216);
	wb_bytes(&w, src + 1300, 1120);
	wb_bytes(&w, src + 2500, 120);
	wb_bytes(&w, src + 2700, 16);
	wb_bytes(&w, src + 2800, 16);
	CHECK(w.n == 2504);

	CHECK(l2s_encode_hs_init(out, sizeof(out), &in, &len) == L2S_OK);
	CHECK(len == 2504);
	CHECK_MEM(out, w.b, 2504);
	CHECK(l2s_decode_hs_init(w.b, w.n, &m) == L2S_OK);
	CHECK(m.sender_index == 0xa1b2c3d4);
	CHECK(m.prekey_id == w.b + 8 && m.e_pk == w.b + 16 && m.ct1 == w.b + 1232);
	CHECK(m.sealed_identity == w.b + 2352 && m.mac1 == w.b + 2472 && m.mac2 == w.b + 2488);
	check_message(rt_hs_init, w.b, w.n);
	add_seed(w.b, w.n);

	/* NULL MACs write zeros; both MAC values decode. */
	in.mac1 = in.mac2 = NULL;
	CHECK(l2s_encode_hs_init(out, sizeof(out), &in, &len) == L2S_OK);
	memset(w.b + 2472, 0, 32);
	CHECK_MEM(out, w.b, 2504);
	CHECK(accepted(rt_hs_init, out, len));

	/* Refusals leave out untouched. */
	memset(out, CANARY, sizeof(out));
	CHECK(l2s_encode_hs_init(out, 2503, &in, &len) == L2S_ERR_LENGTH);
	in.ct1 = NULL;
	CHECK(l2s_encode_hs_init(out, sizeof(out), &in, &len) == L2S_ERR_LENGTH);
	CHECK(untouched(out, sizeof(out)));
	CHECK(l2s_decode_hs_init(NULL, 2504, &m) == L2S_ERR_DECODE);
	CHECK(l2s_decode_hs_init(w.b, w.n, NULL) == L2S_ERR_DECODE);
	CHECK(l2s_encode_hs_init(NULL, 2504, &in, &len) == L2S_ERR_LENGTH);
	CHECK(l2s_encode_hs_init(out, sizeof(out), NULL, &len) == L2S_ERR_LENGTH);

	/* In place: a decoded struct re-encodes into its own buffer. */
	memcpy(out, w.b, w.n);
	CHECK(l2s_decode_hs_init(out, w.n, &m) == L2S_OK);
	CHECK(l2s_encode_hs_init(out, w.n, &m, &len) == L2S_OK);
	CHECK(len == w.n);
	CHECK_MEM(out, w.b, w.n);
}

/* ---- HANDSHAKE_RESP (§4.2) ----------------------------------------------- */

static void test_hs_resp(void)
{
	static struct wb w;
	static uint8_t out[L2S_HS_RESP_BYTES];
	static const uint8_t zero16[16];
	struct l2s_hs_resp in = { 0x01020304, 0xfffffff0, src + 3, src + 1200, src + 1300, NULL };
	struct l2s_hs_resp m;
	size_t len = 0;
	int bad = 0;

	wb_header(&w, 0x02);
	wb_be(&w, 0x01020304, 4);
	wb_be(&w, 0xfffffff0, 4);
	wb_bytes(&w, src + 3, 1120);
	wb_bytes(&w, src + 1200, 80);
	wb_bytes(&w, src + 1300, 16);
	wb_bytes(&w, NULL, 16);
	CHECK(w.n == 1244);

	CHECK(l2s_encode_hs_resp(out, sizeof(out), &in, &len) == L2S_OK);
	CHECK(len == 1244);
	CHECK_MEM(out, w.b, 1244);
	CHECK(l2s_decode_hs_resp(w.b, w.n, &m) == L2S_OK);
	CHECK(m.sender_index == 0x01020304 && m.receiver_index == 0xfffffff0);
	CHECK(m.ct2 == w.b + 12 && m.sealed_sig == w.b + 1132 && m.mac1 == w.b + 1212 && m.mac2 == w.b + 1228);
	check_message(rt_hs_resp, w.b, w.n);
	add_seed(w.b, w.n);

	/* mac2 is reserved: zeros only, on both sides. */
	for (size_t i = 1228; i < 1244; i++)
		bad += !rejects_with(rt_hs_resp, w.b, w.n, i, 0x01);
	CHECK(bad == 0);
	in.mac2 = zero16;
	CHECK(l2s_encode_hs_resp(out, sizeof(out), &in, &len) == L2S_OK);
	memset(out, CANARY, sizeof(out));
	in.mac2 = src + 1;
	CHECK(l2s_encode_hs_resp(out, sizeof(out), &in, &len) == L2S_ERR_LENGTH);
	in.mac2 = NULL;
	CHECK(l2s_encode_hs_resp(out, 1243, &in, &len) == L2S_ERR_LENGTH);
	in.sealed_sig = NULL;
	CHECK(l2s_encode_hs_resp(out, sizeof(out), &in, &len) == L2S_ERR_LENGTH);
	CHECK(untouched(out, sizeof(out)));
}

/* ---- COOKIE_REPLY (§4.4) ------------------------------------------------- */

static void test_cookie_reply(void)
{
	static struct wb w;
	uint8_t out[L2S_COOKIE_REPLY_BYTES];
	struct l2s_cookie_reply in = { 0x0badcafe, src + 7, src + 30 };
	struct l2s_cookie_reply m;
	size_t len = 0;

	wb_header(&w, 0x03);
	wb_be(&w, 0x0badcafe, 4);
	wb_bytes(&w, src + 7, 12);
	wb_bytes(&w, src + 30, 48);
	CHECK(w.n == 68);

	CHECK(l2s_encode_cookie_reply(out, sizeof(out), &in, &len) == L2S_OK);
	CHECK(len == 68);
	CHECK_MEM(out, w.b, 68);
	CHECK(l2s_decode_cookie_reply(w.b, w.n, &m) == L2S_OK);
	CHECK(m.receiver_index == 0x0badcafe && m.nonce == w.b + 8 && m.sealed_cookie == w.b + 20);
	check_message(rt_cookie_reply, w.b, w.n);
	add_seed(w.b, w.n);

	memset(out, CANARY, sizeof(out));
	CHECK(l2s_encode_cookie_reply(out, 67, &in, &len) == L2S_ERR_LENGTH);
	in.nonce = NULL;
	CHECK(l2s_encode_cookie_reply(out, sizeof(out), &in, &len) == L2S_ERR_LENGTH);
	CHECK(untouched(out, sizeof(out)));
}

/* ---- TRANSPORT (§5) ------------------------------------------------------ */

static void test_transport(void)
{
	static struct wb w;
	uint8_t hdr[L2S_TRANSPORT_HEADER_BYTES];
	struct l2s_transport m;

	wb_header(&w, 0x04);
	wb_be(&w, 0x11223344, 4);
	wb_be(&w, 0x0102030405060708ull, 8);
	CHECK(l2s_encode_transport_header(hdr, 0x11223344, 0x0102030405060708ull) == L2S_OK);
	CHECK_MEM(hdr, w.b, 16);
	CHECK(l2s_encode_transport_header(NULL, 1, 1) == L2S_ERR_LENGTH);
	wb_bytes(&w, src, 125); /* a 109-byte frame and its tag */

	CHECK(l2s_decode_transport(w.b, w.n, &m) == L2S_OK);
	CHECK(m.receiver_index == 0x11223344 && m.counter == 0x0102030405060708ull);
	CHECK(m.sealed == w.b + 16 && m.sealed_len == 125);
	CHECK(accepted(rt_transport, w.b, w.n));
	/* Any length from 16 + 1 + 16 up is a TRANSPORT. */
	check_lengths(rt_transport, w.b, w.n, 33, L2S_MAX_MESSAGE);
	check_header(rt_transport, w.b, w.n);
	add_seed(w.b, w.n);

	/* The extremes: 33 and 65 577 bytes, not 32 or 65 578. */
	wb_header(&w, 0x04);
	wb_bytes(&w, src, L2S_MAX_MESSAGE + 1 - 4);
	CHECK(accepted(rt_transport, w.b, 33));
	CHECK(rejected(rt_transport, w.b, 32));
	CHECK(accepted(rt_transport, w.b, 65577));
	CHECK(rejected(rt_transport, w.b, 65578));
	CHECK(l2s_decode_transport(w.b, 65577, &m) == L2S_OK && m.sealed_len == 65561);
}

/* ---- frames (§5) --------------------------------------------------------- */

/* Encodes f, compares with the expected bytes and runs the length battery
 * (accepted exactly for lengths in [min, max]). */
static void check_frame(const struct l2s_frame *f, const struct wb *w, size_t min, size_t max)
{
	static uint8_t out[L2S_FRAME_MAX_BYTES];
	struct l2s_frame m;
	size_t len = 0;

	CHECK(l2s_encode_frame(out, sizeof(out), f, &len) == L2S_OK);
	CHECK(len == w->n);
	CHECK_MEM(out, w->b, w->n);
	CHECK(l2s_decode_frame(w->b, w->n, &m) == L2S_OK);
	CHECK(m.type == f->type);
	CHECK(accepted(rt_frame, w->b, w->n));
	if (w->n <= 4096) {
		check_lengths(rt_frame, w->b, w->n, min, max);
		add_seed(w->b, w->n);
	}
	/* Too little room: refused, nothing written. */
	memset(out, CANARY, w->n);
	CHECK(l2s_encode_frame(out, w->n - 1, f, &len) == L2S_ERR_LENGTH);
	CHECK(untouched(out, w->n));
}

static void frame_start(struct wb *w, unsigned int type)
{
	w->n = 0;
	wb_u8(w, type);
}

/* Expects l2s_encode_frame to refuse f. */
static int encode_refused(const struct l2s_frame *f)
{
	static uint8_t out[L2S_FRAME_MAX_BYTES + 16];
	size_t len = 0;

	return l2s_encode_frame(out, sizeof(out), f, &len) == L2S_ERR_LENGTH;
}

static void test_frame_data(void)
{
	static struct wb w;
	struct l2s_frame f = { .type = L2S_FRAME_DATA }, m;
	size_t lens[] = { 0, 1, 100, L2S_MAX_PAYLOAD };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		f.u.data.seq = 0x8000000000000001ull + i;
		f.u.data.payload = src + 5;
		f.u.data.len = lens[i];
		frame_start(&w, 0x01);
		wb_be(&w, f.u.data.seq, 8);
		wb_bytes(&w, src + 5, lens[i]);
		/* Every length from 9 on is a DATA frame with a shorter payload. */
		check_frame(&f, &w, 9, L2S_FRAME_MAX_BYTES);
		CHECK(l2s_decode_frame(w.b, w.n, &m) == L2S_OK);
		CHECK(m.u.data.seq == f.u.data.seq && m.u.data.len == lens[i] && m.u.data.payload == w.b + 9);
	}
	/* The largest payload is 65 536 bytes. */
	wb_u8(&w, 0);
	CHECK(w.n == 65546);
	CHECK(rejected(rt_frame, w.b, w.n));
	f.u.data.len = L2S_MAX_PAYLOAD + 1;
	CHECK(encode_refused(&f));
	/* seq counts from 1. */
	frame_start(&w, 0x01);
	wb_be(&w, 0, 8);
	wb_bytes(&w, src, 3);
	CHECK(rejected(rt_frame, w.b, w.n));
	f.u.data.seq = 0;
	f.u.data.len = 3;
	CHECK(encode_refused(&f));
	f.u.data.seq = 1;
	f.u.data.payload = NULL;
	CHECK(encode_refused(&f));
	f.u.data.len = 0;
	CHECK(!encode_refused(&f));
}

static void test_frame_ack_heartbeat(void)
{
	static struct wb w;
	struct l2s_frame f = { .type = L2S_FRAME_ACK };

	f.u.ack.next_expected = 0x0102030405060708ull;
	f.u.ack.sack = 0xf0e0d0c0b0a09080ull;
	f.u.ack.window = 0x11223344u;
	f.u.ack.window_bytes = 0x55667788u;
	frame_start(&w, 0x02);
	wb_be(&w, f.u.ack.next_expected, 8);
	wb_be(&w, f.u.ack.sack, 8);
	wb_be(&w, f.u.ack.window, 4);
	wb_be(&w, f.u.ack.window_bytes, 4);
	check_frame(&f, &w, 25, 25);
	/* next_expected is at least 1: seq counts from 1. */
	memset(w.b + 1, 0, 8);
	CHECK(rejected(rt_frame, w.b, w.n));
	f.u.ack.next_expected = 0;
	CHECK(encode_refused(&f));

	for (int type = L2S_FRAME_HEARTBEAT; type <= L2S_FRAME_HEARTBEAT_REPLY; type++) {
		memset(&f, 0, sizeof(f));
		f.type = type;
		f.u.heartbeat.counter = 0xfedcba9876543210ull;
		frame_start(&w, (unsigned int)type);
		wb_be(&w, f.u.heartbeat.counter, 8);
		check_frame(&f, &w, 9, 9);
		f.u.heartbeat.counter = 0; /* any counter is well-formed */
		CHECK(!encode_refused(&f));
	}

	/* SYNC: send_base (u64), at least 1 like every seq, and the stream id
	 * (16 bytes, not all zero). */
	memset(&f, 0, sizeof(f));
	f.type = L2S_FRAME_SYNC;
	f.u.sync.send_base = 0x0102030405060708ull;
	f.u.sync.stream = src + 3;
	frame_start(&w, 0x0b);
	wb_be(&w, f.u.sync.send_base, 8);
	wb_bytes(&w, src + 3, 16);
	check_frame(&f, &w, 25, 25);
	memset(w.b + 1, 0, 8);
	CHECK(rejected(rt_frame, w.b, w.n));
	memcpy(w.b + 1, "\1\2\3\4\5\6\7\10", 8);
	memset(w.b + 9, 0, 16);
	CHECK(rejected(rt_frame, w.b, w.n));
	w.b[24] = 1; /* one non-zero byte names a stream */
	CHECK(accepted(rt_frame, w.b, w.n));
	f.u.sync.send_base = 0;
	CHECK(encode_refused(&f));
	f.u.sync.send_base = 1;
	f.u.sync.stream = NULL;
	CHECK(encode_refused(&f));
	{
		static const uint8_t zero_stream[16];

		f.u.sync.stream = zero_stream;
		CHECK(encode_refused(&f));
	}
}

static void test_frame_rotate(void)
{
	static struct wb w;
	struct l2s_frame f = { .type = L2S_FRAME_ROTATE_INIT }, m;

	f.u.rotate.rotation_id = 0x01020304;
	f.u.rotate.new_index = 0xa0b0c0d0;
	f.u.rotate.key = src + 77;
	frame_start(&w, 0x05);
	wb_be(&w, 0x01020304, 4);
	wb_be(&w, 0xa0b0c0d0, 4);
	wb_bytes(&w, src + 77, 1216);
	CHECK(w.n == 1225);
	check_frame(&f, &w, 1225, 1225);
	CHECK(l2s_decode_frame(w.b, w.n, &m) == L2S_OK);
	CHECK(m.u.rotate.rotation_id == 0x01020304 && m.u.rotate.new_index == 0xa0b0c0d0);
	CHECK(m.u.rotate.key == w.b + 9);
	/* A ROTATE_RESP-sized body is not a ROTATE_INIT, and back. */
	CHECK(rejected(rt_frame, w.b, 1129));
	w.b[0] = 0x06;
	CHECK(rejected(rt_frame, w.b, 1225));

	f.type = L2S_FRAME_ROTATE_RESP;
	frame_start(&w, 0x06);
	wb_be(&w, 0x01020304, 4);
	wb_be(&w, 0xa0b0c0d0, 4);
	wb_bytes(&w, src + 77, 1120);
	CHECK(w.n == 1129);
	check_frame(&f, &w, 1129, 1129);
	f.u.rotate.key = NULL;
	CHECK(encode_refused(&f));
}

static void test_frame_confirm_close(void)
{
	static struct wb w;
	struct l2s_frame f = { .type = L2S_FRAME_CONFIRM };

	frame_start(&w, 0x07);
	check_frame(&f, &w, 1, 1);

	f.type = L2S_FRAME_CLOSE;
	for (unsigned int reason = 0; reason < 256; reason += 255) {
		f.u.close.reason = (uint8_t)reason;
		frame_start(&w, 0x09);
		wb_u8(&w, reason);
		check_frame(&f, &w, 2, 2);
	}
}

static void test_frame_ticket(void)
{
	static struct wb w;
	struct l2s_frame f = { .type = L2S_FRAME_TICKET }, m;
	size_t lens[] = { 1, L2S_TICKET_BYTES, L2S_MAX_TICKET };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		f.u.ticket.lifetime_s = 0x00015180;
		f.u.ticket.ticket = src + 11;
		f.u.ticket.len = lens[i];
		frame_start(&w, 0x08);
		wb_be(&w, 0x00015180, 4);
		wb_be(&w, lens[i], 2);
		wb_bytes(&w, src + 11, lens[i]);
		check_frame(&f, &w, w.n, w.n);
		CHECK(l2s_decode_frame(w.b, w.n, &m) == L2S_OK);
		CHECK(m.u.ticket.lifetime_s == 86400 && m.u.ticket.len == lens[i] && m.u.ticket.ticket == w.b + 7);
	}
	/* lifetime 0 */
	memset(w.b + 1, 0, 4);
	CHECK(rejected(rt_frame, w.b, w.n));
	/* 257 ticket bytes, length consistent */
	frame_start(&w, 0x08);
	wb_be(&w, 1, 4);
	wb_be(&w, 257, 2);
	wb_bytes(&w, src, 257);
	CHECK(rejected(rt_frame, w.b, w.n));
	/* no ticket bytes */
	frame_start(&w, 0x08);
	wb_be(&w, 1, 4);
	wb_be(&w, 0, 2);
	CHECK(rejected(rt_frame, w.b, w.n));
	/* ticket_len disagreeing with the frame length either way */
	frame_start(&w, 0x08);
	wb_be(&w, 1, 4);
	wb_be(&w, 10, 2);
	wb_bytes(&w, src, 11);
	CHECK(rejected(rt_frame, w.b, w.n));
	CHECK(accepted(rt_frame, w.b, w.n - 1));
	CHECK(rejected(rt_frame, w.b, w.n - 2));
	w.b[6] = 0xff;
	w.b[5] = 0xff;
	CHECK(rejected(rt_frame, w.b, w.n));

	f.u.ticket.len = 0;
	CHECK(encode_refused(&f));
	f.u.ticket.len = L2S_MAX_TICKET + 1;
	CHECK(encode_refused(&f));
	f.u.ticket.len = 5;
	f.u.ticket.lifetime_s = 0;
	CHECK(encode_refused(&f));
	f.u.ticket.lifetime_s = 1;
	f.u.ticket.ticket = NULL;
	CHECK(encode_refused(&f));
}

static void test_frame_error(void)
{
	static struct wb w;
	static const char *good[] = {
		"", "plain ascii", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x91", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf",
	};
	static const char *bad[] = {
		"\x80", "\xc3", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80",
		"\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "ok\xe2\x82",
		"\xe2\x28\xa1", "\xf0\x9f\x94",
	};
	struct l2s_frame f = { .type = L2S_FRAME_ERROR }, m;
	uint8_t text[L2S_MAX_ERROR_TEXT + 1];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		size_t n = strlen(good[i]);

		f.u.error.code = (uint8_t)(0x40 + i);
		f.u.error.text = (const uint8_t *)good[i];
		f.u.error.len = n;
		frame_start(&w, 0x0a);
		wb_u8(&w, 0x40 + (unsigned int)i);
		wb_u8(&w, (unsigned int)n);
		wb_bytes(&w, (const uint8_t *)good[i], n);
		check_frame(&f, &w, w.n, w.n);
		CHECK(l2s_decode_frame(w.b, w.n, &m) == L2S_OK);
		CHECK(m.u.error.code == 0x40 + i && m.u.error.len == n && m.u.error.text == w.b + 3);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);

		frame_start(&w, 0x0a);
		wb_u8(&w, 1);
		wb_u8(&w, (unsigned int)n);
		wb_bytes(&w, (const uint8_t *)bad[i], n);
		CHECK(rejected(rt_frame, w.b, w.n));
		f.u.error.text = (const uint8_t *)bad[i];
		f.u.error.len = n;
		CHECK(encode_refused(&f));
	}
	/* 255 text bytes is the most; 256 cannot be encoded. */
	memset(text, 'x', sizeof(text));
	f.u.error.text = text;
	f.u.error.len = 255;
	frame_start(&w, 0x0a);
	wb_u8(&w, 0);
	wb_u8(&w, 255);
	wb_bytes(&w, text, 255);
	f.u.error.code = 0;
	check_frame(&f, &w, w.n, w.n);
	f.u.error.len = 256;
	CHECK(encode_refused(&f));
	f.u.error.len = 1;
	f.u.error.text = NULL;
	CHECK(encode_refused(&f));
	/* The two-byte head alone, and text_len past the end. */
	CHECK(rejected(rt_frame, (const uint8_t *)"\x0a\x01", 2));
	CHECK(rejected(rt_frame, (const uint8_t *)"\x0a\x01\x02x", 4));
}

static void test_frame_types(void)
{
	struct l2s_frame f = { 0 };
	uint8_t b[32];
	int bad = 0;

	/* Unknown frame types, with bodies of every small length. */
	memset(b, 1, sizeof(b));
	for (unsigned int t = 0; t < 256; t++) {
		if (t >= 0x01 && t <= 0x0b)
			continue;
		b[0] = (uint8_t)t;
		for (size_t n = 0; n <= sizeof(b); n++)
			bad += !rejected(rt_frame, b, n);
		f.type = (int)t;
		bad += !encode_refused(&f);
	}
	f.type = -1;
	bad += !encode_refused(&f);
	f.type = 0x10a;
	bad += !encode_refused(&f);
	CHECK(bad == 0);
	CHECK(l2s_decode_frame(NULL, 1, &f) == L2S_ERR_DECODE);
	CHECK(l2s_decode_frame(b, 1, NULL) == L2S_ERR_DECODE);
}

/* ---- RESUME_INIT (§8) ---------------------------------------------------- */

static void build_resume_init(struct wb *w, unsigned int mode, unsigned int flags, const uint8_t *pk,
			      size_t tlen)
{
	wb_header(w, 0x05);
	wb_be(w, 0x55667788, 4);
	wb_u8(w, mode);
	wb_u8(w, flags);
	wb_bytes(w, src + 100, 16);
	wb_bytes(w, src + 116, 32);
	wb_bytes(w, pk, 32);
	wb_be(w, tlen, 2);
	wb_bytes(w, src + 400, tlen);
	wb_bytes(w, src + 700, 16);
	wb_bytes(w, src + 716, 16);
}

static void check_resume_init_case(unsigned int mode, unsigned int flags, const uint8_t *pk, size_t tlen)
{
	static struct wb w;
	static uint8_t out[512];
	struct l2s_resume_init in = {
		.sender_index = 0x55667788, .mode = (uint8_t)mode, .flags = (uint8_t)flags,
		.session_id = src + 100, .nonce = src + 116, .x25519_pk = pk, .ticket = src + 400,
		.ticket_len = tlen, .binder = src + 700, .mac1 = src + 716,
	};
	struct l2s_resume_init m;
	size_t len = 0;

	build_resume_init(&w, mode, flags, pk, tlen);
	CHECK(w.n == 124 + tlen);
	CHECK(l2s_encode_resume_init(out, sizeof(out), &in, &len) == L2S_OK);
	CHECK(len == w.n);
	CHECK_MEM(out, w.b, w.n);
	CHECK(l2s_decode_resume_init(w.b, w.n, &m) == L2S_OK);
	CHECK(m.sender_index == 0x55667788 && m.mode == mode && m.flags == flags && m.ticket_len == tlen);
	CHECK(m.session_id == w.b + 10 && m.nonce == w.b + 26 && m.x25519_pk == w.b + 58);
	CHECK(m.ticket == w.b + 92 && m.binder_off == 92 + tlen);
	CHECK(m.binder == w.b + 92 + tlen && m.mac1 == w.b + 108 + tlen);
	check_message(rt_resume_init, w.b, w.n);
	add_seed(w.b, w.n);

	memset(out, CANARY, sizeof(out));
	CHECK(l2s_encode_resume_init(out, w.n - 1, &in, &len) == L2S_ERR_LENGTH);
	CHECK(untouched(out, sizeof(out)));
}

/* Expects the encoder to refuse in and the decoder to refuse its bytes. */
static void check_resume_init_refused(unsigned int mode, unsigned int flags, const uint8_t *pk, size_t tlen)
{
	static struct wb w;
	static uint8_t out[512];
	struct l2s_resume_init in = {
		.mode = (uint8_t)mode, .flags = (uint8_t)flags, .session_id = src, .nonce = src,
		.x25519_pk = pk, .ticket = src, .ticket_len = tlen,
	};
	size_t len = 0;

	CHECK(l2s_encode_resume_init(out, sizeof(out), &in, &len) == L2S_ERR_LENGTH);
	build_resume_init(&w, mode, flags, pk, tlen);
	CHECK(rejected(rt_resume_init, w.b, w.n));
}

static void test_resume_init(void)
{
	static struct wb w;
	static const uint8_t zero[32];
	uint8_t pk[32] = { 0 };
	uint8_t out[512];
	struct l2s_resume_init in = { .mode = 1, .session_id = src, .nonce = src, .ticket = src, .ticket_len = 1 };
	size_t len = 0;
	int bad = 0;

	check_resume_init_case(L2S_RESUME_MODE_TICKET, 1, src + 148, L2S_TICKET_BYTES);
	check_resume_init_case(L2S_RESUME_MODE_TICKET, 0, zero, 1);
	check_resume_init_case(L2S_RESUME_MODE_TICKET, 1, src + 148, L2S_MAX_TICKET);
	check_resume_init_case(L2S_RESUME_MODE_KDF, 0, zero, 0);
	check_resume_init_case(L2S_RESUME_MODE_KDF, 1, src + 148, 0);
	/* One non-zero byte anywhere makes the key present. */
	pk[31] = 1;
	check_resume_init_case(L2S_RESUME_MODE_KDF, 1, pk, 0);

	/* mode: 1 or 2; ticket 1..256 bytes in ticket mode, none in KDF mode. */
	check_resume_init_refused(0, 0, zero, 0);
	check_resume_init_refused(3, 0, zero, 0);
	check_resume_init_refused(0xff, 0, zero, 5);
	check_resume_init_refused(L2S_RESUME_MODE_TICKET, 0, zero, 0);
	check_resume_init_refused(L2S_RESUME_MODE_TICKET, 0, zero, L2S_MAX_TICKET + 1);
	check_resume_init_refused(L2S_RESUME_MODE_KDF, 0, zero, 1);
	/* flags: bit 0 only, and set exactly when the key is non-zero. */
	for (unsigned int bit = 1; bit < 8; bit++)
		check_resume_init_refused(L2S_RESUME_MODE_KDF, 1u << bit | 1, src + 148, 0);
	check_resume_init_refused(L2S_RESUME_MODE_KDF, 1, zero, 0);
	check_resume_init_refused(L2S_RESUME_MODE_KDF, 0, src + 148, 0);
	check_resume_init_refused(L2S_RESUME_MODE_TICKET, 0, pk, 9);
	CHECK(l2s_encode_resume_init(out, sizeof(out), &(struct l2s_resume_init){ .mode = 2, .flags = 1,
		.session_id = src, .nonce = src }, &len) == L2S_ERR_LENGTH); /* flag set, key NULL */

	/* ticket_len against the message length: each byte of the u16. */
	build_resume_init(&w, 1, 0, zero, 20);
	for (unsigned int v = 0; v < 0x10000; v += 1) {
		if (v == 20)
			continue;
		w.b[90] = (uint8_t)(v >> 8);
		w.b[91] = (uint8_t)v;
		bad += !rejected(rt_resume_init, w.b, w.n);
		if (v == 300)
			v = 0xfff0; /* and the top of the range */
	}
	CHECK(bad == 0);
	/* The largest message is 380 bytes; 381 with ticket_len 257 is not. */
	build_resume_init(&w, 1, 0, zero, L2S_MAX_TICKET + 1);
	CHECK(w.n == 381 && rejected(rt_resume_init, w.b, w.n));

	in.ticket = NULL;
	CHECK(l2s_encode_resume_init(out, sizeof(out), &in, &len) == L2S_ERR_LENGTH);
	in.ticket = src;
	in.session_id = NULL;
	CHECK(l2s_encode_resume_init(out, sizeof(out), &in, &len) == L2S_ERR_LENGTH);
}

/* ---- RESUME_RESP (§8) ---------------------------------------------------- */

static void test_resume_resp(void)
{
	static struct wb w;
	uint8_t out[L2S_RESUME_RESP_BYTES];
	struct l2s_resume_resp in = { 0x0a0b0c0d, 0x01020304, src + 20, src + 60, src + 100, src + 120 };
	struct l2s_resume_resp m;
	size_t len = 0;
	int bad = 0;

	for (int with_key = 1; with_key >= 0; with_key--) {
		in.x25519_pk = with_key ? src + 60 : NULL;
		wb_header(&w, 0x06);
		wb_be(&w, 0x0a0b0c0d, 4);
		wb_be(&w, 0x01020304, 4);
		wb_bytes(&w, src + 20, 32);
		wb_bytes(&w, in.x25519_pk, 32);
		wb_bytes(&w, src + 100, 16);
		wb_bytes(&w, src + 120, 16);
		wb_bytes(&w, NULL, 16);
		CHECK(w.n == 124);
		CHECK(l2s_encode_resume_resp(out, sizeof(out), &in, &len) == L2S_OK);
		CHECK(len == 124);
		CHECK_MEM(out, w.b, 124);
		CHECK(l2s_decode_resume_resp(w.b, w.n, &m) == L2S_OK);
		CHECK(m.sender_index == 0x0a0b0c0d && m.receiver_index == 0x01020304);
		CHECK(m.nonce == w.b + 12 && m.x25519_pk == w.b + 44 && m.confirm == w.b + 76 && m.mac1 == w.b + 92);
		check_message(rt_resume_resp, w.b, w.n);
		add_seed(w.b, w.n);
	}
	/* The trailing reserved 16 bytes are zeros. */
	for (size_t i = 108; i < 124; i++)
		bad += !rejects_with(rt_resume_resp, w.b, w.n, i, 0x80);
	CHECK(bad == 0);
	/* NULL MACs write zeros. */
	in.confirm = in.mac1 = NULL;
	CHECK(l2s_encode_resume_resp(out, sizeof(out), &in, &len) == L2S_OK);
	CHECK(accepted(rt_resume_resp, out, len));
	memset(out, CANARY, sizeof(out));
	CHECK(l2s_encode_resume_resp(out, 123, &in, &len) == L2S_ERR_LENGTH);
	in.nonce = NULL;
	CHECK(l2s_encode_resume_resp(out, sizeof(out), &in, &len) == L2S_ERR_LENGTH);
	CHECK(untouched(out, sizeof(out)));
}

/* ---- PREKEY_BUNDLE (§3) and ticket (§8) ---------------------------------- */

static void test_bundle(void)
{
	static struct wb w;
	static uint8_t out[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_bundle in = { src + 1, src + 40, 0x0000000070dbd880ull, src + 1500 };
	struct l2s_bundle m;
	size_t len = 0;

	w.n = 0;
	wb_u8(&w, 0x01);
	wb_bytes(&w, src + 1, 32);
	wb_bytes(&w, src + 40, 1216);
	wb_be(&w, 0x0000000070dbd880ull, 8);
	wb_bytes(&w, src + 1500, 64);
	CHECK(w.n == 1321);

	CHECK(l2s_encode_bundle(out, sizeof(out), &in, &len) == L2S_OK);
	CHECK(len == 1321);
	CHECK_MEM(out, w.b, 1321);
	CHECK(l2s_decode_bundle(w.b, w.n, &m) == L2S_OK);
	CHECK(m.identity_pk == w.b + 1 && m.prekey_pk == w.b + 33 && m.signature == w.b + 1257);
	CHECK(m.not_after_s == 0x70dbd880ull);
	CHECK(accepted(rt_bundle, w.b, w.n));
	check_lengths(rt_bundle, w.b, w.n, 1321, 1321);
	check_byte_rejected(rt_bundle, w.b, w.n, 0); /* version */
	add_seed(w.b, w.n);

	in.signature = NULL; /* signed afterwards over bytes 0..1257 */
	CHECK(l2s_encode_bundle(out, sizeof(out), &in, &len) == L2S_OK);
	memset(w.b + 1257, 0, 64);
	CHECK_MEM(out, w.b, 1321);
	memset(out, CANARY, sizeof(out));
	CHECK(l2s_encode_bundle(out, 1320, &in, &len) == L2S_ERR_LENGTH);
	in.prekey_pk = NULL;
	CHECK(l2s_encode_bundle(out, sizeof(out), &in, &len) == L2S_ERR_LENGTH);
	CHECK(untouched(out, sizeof(out)));
}

static void test_ticket(void)
{
	static struct wb w;
	uint8_t out[L2S_TICKET_BYTES];
	struct l2s_ticket in = { 0xc0ffee01, src + 3, src + 15 };
	struct l2s_ticket m;
	size_t len = 0;

	w.n = 0;
	wb_be(&w, 0xc0ffee01, 4);
	wb_bytes(&w, src + 3, 12);
	wb_bytes(&w, src + 15, 16 + 32 + 32 + 8 + 16);
	CHECK(w.n == 120);

	CHECK(l2s_encode_ticket(out, sizeof(out), &in, &len) == L2S_OK);
	CHECK(len == 120);
	CHECK_MEM(out, w.b, 120);
	CHECK(l2s_decode_ticket(w.b, w.n, &m) == L2S_OK);
	CHECK(m.stek_id == 0xc0ffee01 && m.nonce == w.b + 4 && m.sealed == w.b + 16);
	CHECK(accepted(rt_ticket, w.b, w.n));
	check_lengths(rt_ticket, w.b, w.n, 120, 120);
	add_seed(w.b, w.n);

	memset(out, CANARY, sizeof(out));
	CHECK(l2s_encode_ticket(out, 119, &in, &len) == L2S_ERR_LENGTH);
	in.sealed = NULL;
	CHECK(l2s_encode_ticket(out, sizeof(out), &in, &len) == L2S_ERR_LENGTH);
	CHECK(untouched(out, sizeof(out)));
}

/* ---- peek (§2) ----------------------------------------------------------- */

static void test_peek(void)
{
	static uint8_t b[L2S_MAX_MESSAGE + 1];
	static const size_t min[] = { 0, 2504, 1244, 68, 33, 124, 124, 256, 141 };
	static const size_t max[] = { 0, 2504, 1244, 68, 65577, 380, 124, 1200, 1466 };
	int type = 0, bad = 0;

	for (int t = 1; t <= 8; t++) {
		memset(b, 0, sizeof(b));
		b[0] = 1;
		b[1] = (uint8_t)t;
		type = 0;
		CHECK(l2s_wire_peek(b, min[t], &type) == L2S_OK && type == t);
		CHECK(l2s_wire_peek(b, max[t], &type) == L2S_OK && type == t);
		CHECK(accepted(rt_peek, b, min[t]));
		CHECK(rejected(rt_peek, b, min[t] - 1));
		CHECK(rejected(rt_peek, b, max[t] + 1));
		check_byte_rejected(rt_peek, b, min[t], 0);
		check_byte_rejected(rt_peek, b, min[t], 2);
		check_byte_rejected(rt_peek, b, min[t], 3);
		/* Another type is accepted only when the length fits it too
		 * (RESUME_RESP's 124 bytes also make a minimal RESUME_INIT). */
		for (int t2 = 1; t2 <= 8; t2++) {
			b[1] = (uint8_t)t2;
			bad += (min[t] >= min[t2] && min[t] <= max[t2]) != accepted(rt_peek, b, min[t]);
		}
	}
	CHECK(bad == 0);
	/* Unknown types, short input, missing arguments. */
	memset(b, 0, 64);
	b[0] = 1;
	for (unsigned int t = 0; t < 256; t++) {
		if (t >= 1 && t <= 8)
			continue;
		b[1] = (uint8_t)t;
		bad += !rejected(rt_peek, b, 33) || !rejected(rt_peek, b, 124);
	}
	CHECK(bad == 0);
	b[1] = 4;
	for (size_t n = 0; n < 4; n++)
		CHECK(rejected(rt_peek, b, n));
	CHECK(l2s_wire_peek(NULL, 33, &type) == L2S_ERR_DECODE);
	CHECK(l2s_wire_peek(b, 33, NULL) == L2S_ERR_DECODE);
}

/* ---- mutations ----------------------------------------------------------- */

struct xorshift {
	uint64_t s;
};

static uint64_t xs_next(struct xorshift *x)
{
	x->s ^= x->s << 13;
	x->s ^= x->s >> 7;
	x->s ^= x->s << 17;
	return x->s;
}

/* One to four random edits, biased towards the header and length fields
 * where the decoders branch. Returns the new length (<= cap). */
static size_t mutate(struct xorshift *x, uint8_t *b, size_t len, size_t cap)
{
	static const uint8_t interesting[] = { 0x00, 0x01, 0x02, 0x7f, 0x80, 0xff };
	int edits = 1 + (int)(xs_next(x) % 4);

	for (int i = 0; i < edits; i++) {
		uint64_t r = xs_next(x);
		size_t pos = len ? (size_t)(r >> 16) % len : 0;

		switch (r % 6) {
		case 0:
			if (len)
				b[pos] ^= (uint8_t)(1u << (r >> 8 & 7));
			break;
		case 1:
			if (len)
				b[pos] = (uint8_t)(r >> 8);
			break;
		case 2: /* header, frame head and RESUME_INIT up to ticket_len */
			pos = (size_t)(r >> 16) % 96;
			if (pos < len)
				b[pos] = interesting[(r >> 8) % sizeof(interesting)];
			break;
		case 3: /* a small u16 somewhere in the first 96 bytes */
			pos = (size_t)(r >> 16) % 95;
			if (pos + 1 < len)
				l2s_put_u16(b + pos, (uint16_t)((r >> 8) % 300));
			break;
		case 4: { /* grow or shrink a little */
			size_t d = (size_t)(r >> 8) % 9;

			if (d < 4)
				len = len > d + 1 ? len - d - 1 : 0;
			else if (len + d - 3 <= cap) {
				memset(b + len, (int)(r >> 24), d - 3);
				len += d - 3;
			}
			break;
		}
		default: /* truncate anywhere */
			len = len ? (size_t)(r >> 8) % (len + 1) : 0;
			break;
		}
	}
	return len;
}

static void test_mutations(void)
{
	static const rt_fn all[] = {
		rt_hs_init, rt_hs_resp, rt_cookie_reply, rt_transport, rt_frame,
		rt_resume_init, rt_resume_resp, rt_bundle, rt_ticket, rt_peek,
	};
	enum { N = 100000, NFN = sizeof(all) / sizeof(all[0]) };
	static uint8_t b[4096];
	struct xorshift x = { 0x2545f4914f6cdd1dull };
	long acc[NFN] = { 0 }, failures = 0, total_acc = 0;

	CHECK(nseeds > 20);
	for (long i = 0; i < N; i++) {
		int s = (int)(xs_next(&x) % (uint64_t)nseeds);
		size_t len = seeds[s].len;

		memcpy(b, seeds[s].b, len);
		len = mutate(&x, b, len, sizeof(b));
		for (size_t f = 0; f < NFN; f++) {
			enum rt_result r = rt_exact(all[f], b, len);

			if (r == RT_FAILED && failures++ < 5)
				fprintf(stderr, "mutation %ld: codec %zu broke the round trip (len %zu)\n", i, f, len);
			acc[f] += r == RT_ACCEPTED;
		}
	}
	CHECK(failures == 0);
	/* The loop must reach both outcomes of every decoder. */
	for (size_t f = 0; f < NFN; f++) {
		CHECK(acc[f] > 0 && acc[f] < N);
		total_acc += acc[f];
	}
	printf("mutations: %d x %d decoders, %ld accepted and re-encoded exactly, %ld failures\n", N, (int)NFN,
	       total_acc, failures);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(0x3c + 97 * i + (i >> 8));
	test_hs_init();
	test_hs_resp();
	test_cookie_reply();
	test_transport();
	test_frame_data();
	test_frame_ack_heartbeat();
	test_frame_rotate();
	test_frame_confirm_close();
	test_frame_ticket();
	test_frame_error();
	test_frame_types();
	test_resume_init();
	test_resume_resp();
	test_bundle();
	test_ticket();
	test_peek();
	test_mutations();
	for (int i = 0; i < nseeds; i++)
		free(seeds[i].b);
	return tu_finish("test_wire");
}
