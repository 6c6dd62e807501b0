// SPDX-License-Identifier: Apache-2.0
/* Writes the seed corpus of fuzz_node (tests/fuzz/node_fixture.h):
 *   make_node_corpus DIR  ->  DIR/node/seed-NN
 * Each seed starts from the fixture's established A-B pair, so messages
 * recorded here from B (data, heartbeats, rotation, resumption, close) and
 * from third nodes (handshakes) are real, valid messages for A when the
 * fuzzer replays them. Every seed is run once through nf_run() before it is
 * written (a seed that crashes is reported by the crash itself). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node_fixture.h"

struct seed {
	uint8_t buf[1 << 17];
	size_t len;
};

static const char *root;
static int count;

static void make_dir(const char *path)
{
	if (mkdir(path, 0777) != 0 && errno != EEXIST) {
		perror(path);
		exit(2);
	}
}

static void rec(struct seed *s, uint8_t op, const uint8_t *p, size_t len)
{
	if (len > 0xffff || s->len + 3 + len > sizeof(s->buf)) {
		fprintf(stderr, "make_node_corpus: seed too large\n");
		exit(2);
	}
	s->buf[s->len++] = op;
	s->buf[s->len++] = (uint8_t)(len >> 8);
	s->buf[s->len++] = (uint8_t)len;
	if (len)
		memcpy(s->buf + s->len, p, len);
	s->len += len;
}

static void rec_op(struct seed *s, uint8_t op)
{
	rec(s, op, NULL, 0);
}

static void rec_tick(struct seed *s, uint32_t ms)
{
	uint8_t b[4] = { (uint8_t)(ms >> 24), (uint8_t)(ms >> 16), (uint8_t)(ms >> 8), (uint8_t)ms };

	rec(s, NF_TICK, b, 4);
}

static void rec_ctrl(struct seed *s, uint8_t c)
{
	rec(s, NF_CTRL, &c, 1);
}

static void rec_frame(struct seed *s, const struct l2s_frame *fr)
{
	static uint8_t buf[L2S_FRAME_MAX_BYTES];
	size_t len;

	if (l2s_encode_frame(buf, sizeof(buf), fr, &len) != L2S_OK) {
		fprintf(stderr, "make_node_corpus: frame type %d does not encode\n", fr->type);
		exit(1);
	}
	rec(s, NF_FRAME_A, buf, len);
}

/* n's queued messages, recorded as messages to A from address index addr. */
static int rec_outputs(struct seed *s, struct l2s_node *n, int addr)
{
	struct l2s_output o;
	int k = 0;

	while (l2s_node_next_output(n, &o)) {
		rec(s, (uint8_t)(NF_RX_A | addr << 4), o.data, o.len);
		k++;
	}
	return k;
}

static void emit(struct seed *s)
{
	char path[4096];
	FILE *f;

	nf_run(s->buf, s->len);
	snprintf(path, sizeof(path), "%s/node", root);
	make_dir(path);
	snprintf(path, sizeof(path), "%s/node/seed-%02d", root, count++);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
	s->len = 0;
}

static void setup(struct nf *f)
{
	if (!nf_setup(f)) {
		fprintf(stderr, "make_node_corpus: fixture setup failed\n");
		exit(1);
	}
}

static void seed_data(struct seed *s)
{
	struct nf f;
	uint8_t msg[300];
	uint64_t seq;
	struct l2s_output o;
	struct seed tmp = { .len = 0 };

	/* B's data, in order, then acknowledged by a pump. */
	setup(&f);
	for (int i = 0; i < 3; i++) {
		memset(msg, 'a' + i, sizeof(msg));
		l2s_session_send(f.b, f.hb, msg, 10 + 100 * (size_t)i, f.now, &seq);
	}
	rec_outputs(s, f.b, 0);
	rec(s, NF_SEND, (const uint8_t *)"hello from a", 12);
	rec_op(s, NF_PUMP);
	rec_tick(s, 300);
	rec_op(s, NF_PUMP);
	nf_teardown(&f);
	emit(s);

	/* Out of order, with a duplicate. */
	setup(&f);
	for (int i = 0; i < 6; i++) {
		memset(msg, 'k' + i, sizeof(msg));
		l2s_session_send(f.b, f.hb, msg, 64, f.now, &seq);
	}
	while (l2s_node_next_output(f.b, &o))
		rec(&tmp, NF_RX_A, o.data, o.len);
	/* tmp holds 6 records of equal size: write them back to front. */
	for (size_t k = tmp.len; k > 0;) {
		size_t one = tmp.len / 6;

		k -= one;
		rec(s, NF_RX_A, tmp.buf + k + 3, one - 3);
	}
	rec(s, NF_RX_A, tmp.buf + 3, tmp.len / 6 - 3);
	rec_op(s, NF_PUMP);
	nf_teardown(&f);
	emit(s);
}

static void seed_frames(struct seed *s)
{
	static const uint8_t text[] = "closing: \xc3\xa9t\xc3\xa9";
	uint8_t ticket[L2S_TICKET_BYTES], pk[L2S_XWING_PK_BYTES], seed[32], ct[L2S_XWING_CT_BYTES];
	struct l2s_frame fr;

	memset(ticket, 0x7e, sizeof(ticket));
	memset(ct, 0x3c, sizeof(ct));
	memset(seed, 0x42, sizeof(seed));
	if (l2s_xwing_keygen_derand(pk, seed) != L2S_OK)
		exit(1);
	memset(&fr, 0, sizeof(fr));
	fr.type = L2S_FRAME_DATA;
	fr.u.data.seq = 1;
	fr.u.data.payload = (const uint8_t *)"fuzz";
	fr.u.data.len = 4;
	rec_frame(s, &fr);
	fr.u.data.seq = 3;
	rec_frame(s, &fr);
	fr.type = L2S_FRAME_ACK;
	fr.u.ack.next_expected = 2;
	fr.u.ack.sack = 5;
	fr.u.ack.window = 1024;
	fr.u.ack.window_bytes = 16u << 20;
	rec_frame(s, &fr);
	fr.type = L2S_FRAME_HEARTBEAT;
	fr.u.heartbeat.counter = 7;
	rec_frame(s, &fr);
	fr.type = L2S_FRAME_HEARTBEAT_REPLY;
	fr.u.heartbeat.counter = 1;
	rec_frame(s, &fr);
	fr.type = L2S_FRAME_SYNC;
	fr.u.sync.send_base = 9;
	fr.u.sync.stream = (const uint8_t *)"stream id 16 byt";
	rec_frame(s, &fr);
	fr.type = L2S_FRAME_CONFIRM;
	rec_frame(s, &fr);
	fr.type = L2S_FRAME_TICKET;
	fr.u.ticket.lifetime_s = 86400;
	fr.u.ticket.ticket = ticket;
	fr.u.ticket.len = sizeof(ticket);
	rec_frame(s, &fr);
	memset(&fr, 0, sizeof(fr));
	fr.type = L2S_FRAME_ERROR;
	fr.u.error.code = 3;
	fr.u.error.text = text;
	fr.u.error.len = sizeof(text) - 1;
	rec_frame(s, &fr);
	rec_op(s, NF_PUMP);
	emit(s);

	/* A rotation started by the (hostile) peer with a real key, answered,
	 * then a ROTATE_RESP nobody asked for, then CLOSE. */
	memset(&fr, 0, sizeof(fr));
	fr.type = L2S_FRAME_ROTATE_INIT;
	fr.u.rotate.rotation_id = 1;
	fr.u.rotate.new_index = 0x01020304;
	fr.u.rotate.key = pk;
	rec_frame(s, &fr);
	rec_op(s, NF_PUMP);
	fr.type = L2S_FRAME_ROTATE_RESP;
	fr.u.rotate.rotation_id = 9;
	fr.u.rotate.key = ct;
	rec_frame(s, &fr);
	rec_tick(s, 6000);
	rec_op(s, NF_PUMP);
	memset(&fr, 0, sizeof(fr));
	fr.type = L2S_FRAME_CLOSE;
	fr.u.close.reason = 1;
	rec_frame(s, &fr);
	emit(s);
}

static void seed_rotation(struct seed *s)
{
	rec_ctrl(s, NF_CTRL_ROTATE_A);
	rec(s, NF_SEND, (const uint8_t *)"during rotation", 15);
	rec_op(s, NF_PUMP);
	rec_tick(s, 11000);
	rec_op(s, NF_PUMP);
	rec_ctrl(s, NF_CTRL_ROTATE_B);
	rec_op(s, NF_PUMP);
	rec_ctrl(s, NF_CTRL_ROTATE_A);
	rec_op(s, NF_DROP | 8);
	rec_tick(s, 6000);
	rec_op(s, NF_PUMP);
	emit(s);
}

static void seed_liveness(struct seed *s)
{
	/* Heartbeats answered, then unanswered: warning, degraded, suspended,
	 * then the link returns and the session recovers. */
	rec_tick(s, 31000);
	rec_op(s, NF_PUMP);
	for (int i = 0; i < 4; i++) {
		rec_tick(s, 30000);
		rec_op(s, NF_DROP | 8);
		rec_tick(s, 2500);
		rec_op(s, NF_DROP | 8);
	}
	rec_tick(s, 61000);
	rec_op(s, NF_DROP | 8);
	rec_tick(s, 61000);
	rec_op(s, NF_PUMP);
	rec_tick(s, 1000);
	rec_op(s, NF_PUMP);
	emit(s);

	rec_ctrl(s, NF_CTRL_PATH_DOWN);
	rec(s, NF_SEND, (const uint8_t *)"queued", 6);
	rec_tick(s, 32000);
	rec_op(s, NF_DROP);
	rec_ctrl(s, NF_CTRL_PATH_UP);
	rec_tick(s, 1000);
	rec_op(s, NF_PUMP);
	rec_tick(s, 1000);
	rec_op(s, NF_PUMP);
	emit(s);
}

static void seed_handshakes(struct seed *s)
{
	struct nf f;
	struct l2s_node *c;
	uint8_t pk[32], bundle[L2S_PREKEY_BUNDLE_BYTES];
	uint32_t h;

	/* Requests to A from third nodes (more than A's load limit of 4, so
	 * cookies too), then B starting a second session to A. */
	setup(&f);
	l2s_node_prekey_bundle(f.a, bundle);
	for (int i = 0; i < 6; i++) {
		if (!nf_make(&c, pk, (uint8_t)(0xc0 + 8 * i)))
			exit(1);
		if (l2s_node_establish(c, f.a_pk, bundle, sizeof(bundle), NF_NOW_S, &f.cfg, 1, f.now, &h) != L2S_OK)
			exit(1);
		rec_outputs(s, c, 1 + i % 3);
		l2s_node_free(c);
	}
	if (l2s_node_establish(f.b, f.a_pk, bundle, sizeof(bundle), NF_NOW_S, &f.cfg, 1, f.now, &h) != L2S_OK)
		exit(1);
	rec_outputs(s, f.b, 0);
	rec_op(s, NF_PUMP);
	rec_tick(s, 6000);
	rec_op(s, NF_PUMP);
	nf_teardown(&f);
	emit(s);

	/* A full handshake again from A, completed. */
	rec_ctrl(s, NF_CTRL_ESTABLISH_A);
	rec(s, NF_SEND, (const uint8_t *)"new session", 11);
	rec_op(s, NF_PUMP);
	emit(s);
}

static void seed_resumption(struct seed *s)
{
	struct nf f;

	/* A moves to another path (resumption), then restarts from its export. */
	rec_ctrl(s, NF_CTRL_SET_PATH_A);
	rec_op(s, NF_PUMP);
	rec_ctrl(s, NF_CTRL_EXPORT_RESUME_A);
	rec_op(s, NF_PUMP);
	rec(s, NF_SEND, (const uint8_t *)"after resume", 12);
	rec_op(s, NF_PUMP);
	emit(s);

	/* B resumes towards A: its RESUME_INIT, answered. */
	setup(&f);
	l2s_session_set_path(f.b, f.hb, 2, f.now);
	rec_outputs(s, f.b, 0);
	rec_op(s, NF_PUMP);
	nf_teardown(&f);
	emit(s);
}

static void seed_close(struct seed *s)
{
	struct nf f;

	setup(&f);
	l2s_session_close(f.b, f.hb, f.now);
	rec_outputs(s, f.b, 0);
	rec_op(s, NF_PUMP);
	rec_tick(s, 1000);
	nf_teardown(&f);
	emit(s);

	rec_ctrl(s, NF_CTRL_CLOSE_A);
	rec_op(s, NF_PUMP);
	emit(s);
}

static void seed_junk(struct seed *s)
{
	static const int types[] = { L2S_MSG_HANDSHAKE_INIT, L2S_MSG_HANDSHAKE_RESP, L2S_MSG_COOKIE_REPLY,
				     L2S_MSG_TRANSPORT,     L2S_MSG_RESUME_INIT,    L2S_MSG_RESUME_RESP };
	static const size_t lens[] = { L2S_HS_INIT_BYTES, L2S_HS_RESP_BYTES, L2S_COOKIE_REPLY_BYTES, 64,
				       L2S_RESUME_INIT_MIN_BYTES + L2S_TICKET_BYTES, L2S_RESUME_RESP_BYTES };
	uint8_t m[L2S_HS_INIT_BYTES];

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		for (size_t k = 0; k < lens[i]; k++)
			m[k] = (uint8_t)(k * 31 + i);
		m[0] = L2S_WIRE_VERSION;
		m[1] = (uint8_t)types[i];
		m[2] = m[3] = 0;
		rec(s, (uint8_t)(NF_RX_A | (i & 3) << 4), m, lens[i]);
		rec(s, NF_RX_B, m, lens[i]);
	}
	emit(s);
}

int main(int argc, char **argv)
{
	static struct seed s;

	if (argc != 2) {
		fprintf(stderr, "usage: make_node_corpus DIR\n");
		return 2;
	}
	root = argv[1];
	make_dir(root);
	seed_data(&s);
	seed_frames(&s);
	seed_rotation(&s);
	seed_liveness(&s);
	seed_handshakes(&s);
	seed_resumption(&s);
	seed_close(&s);
	seed_junk(&s);
	printf("make_node_corpus: %d seeds written to %s/node\n", count, root);
	return 0;
}
