// SPDX-License-Identifier: Apache-2.0
/* Writes a seed corpus of valid encodings for every fuzz harness:
 *   make_corpus DIR  ->  DIR/<harness>/seed-NN
 * so the fuzzers (and the replay tests) start from messages the decoders
 * accept and mutate from there. Every seed is checked to round-trip before
 * it is written; a seed that does not is a bug, reported by exit status 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "roundtrip.h"

struct corpus {
	const char *root;
	const char *name; /* the harness being seeded, and its seed count */
	int n, npeek;
	int failed;
};

static void make_dir(const char *path)
{
	if (mkdir(path, 0777) != 0 && errno != EEXIST) {
		perror(path);
		exit(2);
	}
}

static void write_seed(struct corpus *c, const char *name, int n, const uint8_t *b, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", c->root, name);
	make_dir(path);
	snprintf(path, sizeof(path), "%s/%s/seed-%02d", c->root, name, n);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static uint8_t bytes[L2S_MAX_MESSAGE]; /* field contents, any values */
static uint8_t buf[L2S_MAX_MESSAGE];     /* the encoding being written */

/* Takes the encoder's result for buf[0, len), checks the harness's property
 * on it and writes it; messages (with the §2 header) also seed peek. */
static void emit(struct corpus *c, const char *name, rt_fn fn, int is_message, int rc, size_t len)
{
	if (name != c->name) {
		c->name = name;
		c->n = 0;
	}
	if (rc != L2S_OK || rt_check(fn, buf, len) != RT_ACCEPTED) {
		fprintf(stderr, "make_corpus: seed %s/%d does not encode or round-trip\n", name, c->n);
		c->failed = 1;
		return;
	}
	write_seed(c, name, c->n++, buf, len);
	if (is_message)
		write_seed(c, "peek", c->npeek++, buf, len);
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 131 * i + (i >> 8));
}

static void seed_handshake(struct corpus *c)
{
	struct l2s_hs_init hi = { 0x01020304, bytes, bytes + 8, bytes + 1300, bytes + 2500, bytes + 2700, NULL };
	struct l2s_hs_resp hr = { 7, 0xfffffffe, bytes + 100, bytes + 1300, bytes + 2000, NULL };
	struct l2s_cookie_reply cr = { 0xdeadbeef, bytes + 40, bytes + 60 };
	size_t len = 0;
	int rc;

	rc = l2s_encode_hs_init(buf, sizeof(buf), &hi, &len);
	emit(c, "hs_init", rt_hs_init, 1, rc, len);
	hi.mac2 = bytes + 3000;
	rc = l2s_encode_hs_init(buf, sizeof(buf), &hi, &len);
	emit(c, "hs_init", rt_hs_init, 1, rc, len);
	rc = l2s_encode_hs_resp(buf, sizeof(buf), &hr, &len);
	emit(c, "hs_resp", rt_hs_resp, 1, rc, len);
	rc = l2s_encode_cookie_reply(buf, sizeof(buf), &cr, &len);
	emit(c, "cookie_reply", rt_cookie_reply, 1, rc, len);
}

static void seed_transport(struct corpus *c)
{
	static const size_t sizes[] = { L2S_TRANSPORT_MIN_BYTES, 16 + 9 + 100 + 16, L2S_MAX_MESSAGE };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int rc = l2s_encode_transport_header(buf, (uint32_t)(i + 1), 1000 * i);

		memcpy(buf + L2S_TRANSPORT_HEADER_BYTES, bytes, sizes[i] - L2S_TRANSPORT_HEADER_BYTES);
		emit(c, "transport", rt_transport, 1, rc, sizes[i]);
	}
}

static void emit_frame(struct corpus *c, const struct l2s_frame *f)
{
	size_t len = 0;
	int rc;

	rc = l2s_encode_frame(buf, sizeof(buf), f, &len);
	emit(c, "frame", rt_frame, 0, rc, len);
}

static void seed_frames(struct corpus *c)
{
	static const uint8_t text[] = "peer closed: \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91";
	static const size_t data_lens[] = { 0, 100, L2S_MAX_PAYLOAD };
	static const size_t ticket_lens[] = { 1, L2S_TICKET_BYTES, L2S_MAX_TICKET };
	struct l2s_frame f;

	for (size_t i = 0; i < 3; i++) {
		memset(&f, 0, sizeof(f));
		f.type = L2S_FRAME_DATA;
		f.u.data.seq = i + 1;
		f.u.data.payload = bytes;
		f.u.data.len = data_lens[i];
		emit_frame(c, &f);
	}
	f.type = L2S_FRAME_ACK;
	f.u.ack.next_expected = 42;
	f.u.ack.sack = 0x8000000000000005ull;
	f.u.ack.window = 1024;
	f.u.ack.window_bytes = 16u << 20;
	emit_frame(c, &f);
	f.type = L2S_FRAME_HEARTBEAT;
	f.u.heartbeat.counter = 9;
	emit_frame(c, &f);
	f.type = L2S_FRAME_HEARTBEAT_REPLY;
	emit_frame(c, &f);
	f.type = L2S_FRAME_ROTATE_INIT;
	f.u.rotate.rotation_id = 3;
	f.u.rotate.new_index = 0x11223344;
	f.u.rotate.key = bytes + 5;
	emit_frame(c, &f);
	f.type = L2S_FRAME_ROTATE_RESP;
	emit_frame(c, &f);
	memset(&f, 0, sizeof(f));
	f.type = L2S_FRAME_CONFIRM;
	emit_frame(c, &f);
	for (size_t i = 0; i < 3; i++) {
		f.type = L2S_FRAME_TICKET;
		f.u.ticket.lifetime_s = 86400;
		f.u.ticket.ticket = bytes + 9;
		f.u.ticket.len = ticket_lens[i];
		emit_frame(c, &f);
	}
	memset(&f, 0, sizeof(f));
	f.type = L2S_FRAME_CLOSE;
	f.u.close.reason = 17;
	emit_frame(c, &f);
	f.type = L2S_FRAME_ERROR;
	f.u.error.code = 4;
	f.u.error.text = text;
	f.u.error.len = sizeof(text) - 1;
	emit_frame(c, &f);
	f.u.error.len = 0;
	emit_frame(c, &f);
	memset(&f, 0, sizeof(f));
	f.type = L2S_FRAME_SYNC;
	f.u.sync.send_base = 1;
	f.u.sync.stream = (const uint8_t *)"stream id 16 byt";
	emit_frame(c, &f);
}

static void seed_resume(struct corpus *c)
{
	static const uint8_t zero_pk[L2S_X25519_BYTES];
	struct l2s_resume_init ri = {
		.sender_index = 5, .mode = L2S_RESUME_MODE_TICKET, .flags = L2S_RESUME_FLAG_X25519,
		.session_id = bytes, .nonce = bytes + 16, .x25519_pk = bytes + 48, .ticket = bytes + 80,
		.ticket_len = L2S_TICKET_BYTES, .binder = bytes + 400, .mac1 = bytes + 416,
	};
	struct l2s_resume_resp rr = { 6, 5, bytes + 20, zero_pk, bytes + 60, bytes + 80 };
	size_t len = 0;
	int rc;

	rc = l2s_encode_resume_init(buf, sizeof(buf), &ri, &len);
	emit(c, "resume_init", rt_resume_init, 1, rc, len);
	ri.ticket_len = L2S_MAX_TICKET;
	ri.flags = 0;
	ri.x25519_pk = NULL;
	rc = l2s_encode_resume_init(buf, sizeof(buf), &ri, &len);
	emit(c, "resume_init", rt_resume_init, 1, rc, len);
	ri.mode = L2S_RESUME_MODE_KDF;
	ri.ticket_len = 0;
	rc = l2s_encode_resume_init(buf, sizeof(buf), &ri, &len);
	emit(c, "resume_init", rt_resume_init, 1, rc, len);
	ri.flags = L2S_RESUME_FLAG_X25519;
	ri.x25519_pk = bytes + 200;
	rc = l2s_encode_resume_init(buf, sizeof(buf), &ri, &len);
	emit(c, "resume_init", rt_resume_init, 1, rc, len);
	rc = l2s_encode_resume_resp(buf, sizeof(buf), &rr, &len);
	emit(c, "resume_resp", rt_resume_resp, 1, rc, len);
	rr.x25519_pk = bytes + 300;
	rc = l2s_encode_resume_resp(buf, sizeof(buf), &rr, &len);
	emit(c, "resume_resp", rt_resume_resp, 1, rc, len);
}

static void seed_bundle_ticket(struct corpus *c)
{
	struct l2s_bundle b = { bytes, bytes + 32, 1893456000, bytes + 2000 };
	struct l2s_ticket t = { 0x00000001, bytes + 50, bytes + 70 };
	size_t len = 0;
	int rc;

	rc = l2s_encode_bundle(buf, sizeof(buf), &b, &len);
	emit(c, "bundle", rt_bundle, 0, rc, len);
	rc = l2s_encode_ticket(buf, sizeof(buf), &t, &len);
	emit(c, "ticket", rt_ticket, 0, rc, len);
}

/* Both discovery messages seed the one discovery harness. */
static void seed_discovery(struct corpus *c)
{
	static const char name[] = "discovery";
	struct l2s_disc_probe p = { bytes, NULL, L2S_DISC_PROBE_MIN_BYTES };
	struct l2s_disc_answer a = {
		.identity_pk = bytes + 100,
		.observed = { L2S_DISC_AF_INET, 50000, { 192, 0, 2, 7 } },
		.transports = { { L2S_DISC_T_UDP, 4433 }, { L2S_DISC_T_QUIC, 4434 }, { L2S_DISC_T_UTCP, 4435 } },
		.n_transports = 3,
		.token = bytes + 200,
		.signature = bytes + 300,
	};
	size_t len = 0;
	int rc;

	rc = l2s_encode_disc_probe(buf, sizeof(buf), &p, &len);
	emit(c, name, rt_disc_probe, 1, rc, len);
	p.token = bytes + 40;
	p.len = 700;
	rc = l2s_encode_disc_probe(buf, sizeof(buf), &p, &len);
	emit(c, name, rt_disc_probe, 1, rc, len);
	rc = l2s_encode_disc_answer(buf, sizeof(buf), &a, &len);
	emit(c, name, rt_disc_answer, 1, rc, len);
	a.observed.family = L2S_DISC_AF_INET6;
	a.n_transports = 0;
	a.token = NULL;
	a.bundle = bytes + 400;
	rc = l2s_encode_disc_answer(buf, sizeof(buf), &a, &len);
	emit(c, name, rt_disc_answer, 1, rc, len);
}

int main(int argc, char **argv)
{
	struct corpus c = { 0 };

	if (argc != 2) {
		fprintf(stderr, "usage: make_corpus DIR\n");
		return 2;
	}
	c.root = argv[1];
	make_dir(c.root);
	fill(bytes, sizeof(bytes), 0x5c);
	seed_handshake(&c);
	seed_transport(&c);
	seed_frames(&c);
	seed_resume(&c);
	seed_bundle_ticket(&c);
	seed_discovery(&c);
	if (c.failed)
		return 1;
	printf("make_corpus: seeds written to %s\n", c.root);
	return 0;
}
