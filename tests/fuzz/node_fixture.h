/* SPDX-License-Identifier: Apache-2.0
 *
 * node_fixture.h - the engine under fuzzing (tests/fuzz/fuzz_node.c) and
 * the generator of its seed corpus (tests/fuzz/make_node_corpus.c).
 *
 * Every input starts from the same state: node A (the target) and node B,
 * both deterministic (fixed seeds, clock at 1000 ms), with one session
 * established by a real full handshake. Because the state is always the
 * same, messages recorded from B by the corpus generator are valid TRANSPORT
 * messages for A in every run, so the fuzzer starts past the AEAD.
 *
 * The input is a sequence of records, each
 *     op (u8) || len (u16, big-endian) || len bytes (cut short at the end)
 * where op & 7 is the kind and the other bits a parameter:
 *
 *   NF_RX_A    the bytes are a message to A, from one of four addresses
 *              (op >> 4 & 3), on path 1 + (op >> 3 & 1);
 *   NF_FRAME_A the bytes are a frame: B seals it under its current keys
 *              (as an authenticated but hostile peer would) and A receives it;
 *   NF_TICK    time passes (u32 big-endian ms, capped at an hour) and both
 *              nodes run their timers;
 *   NF_PUMP    A's and B's queued messages are delivered to each other
 *              until quiet (bounded);
 *   NF_SEND    an application message on A's session (op >> 3 & 1: B's);
 *   NF_RX_B    the bytes are a message to B, from A's address;
 *   NF_CTRL    an API call, by the first byte: rotate A, rotate B, move A to
 *              the other path, path down, path up, close A's session, export
 *              A's session and resume it, establish A -> B again;
 *   NF_DROP    A's queued messages are lost (op >> 3 & 1: B's too).
 *
 * Whatever the input, the nodes must not crash, leak, break the state
 * machine's transition table or emit a malformed message: nf_run() aborts
 * on a violation.
 */
#ifndef L2S_FUZZ_NODE_FIXTURE_H
#define L2S_FUZZ_NODE_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/keypair.h"
#include "l2s.h"
#include "engine/node.h"
#include "wire/wire.h"

enum { NF_RX_A, NF_FRAME_A, NF_TICK, NF_PUMP, NF_SEND, NF_RX_B, NF_CTRL, NF_DROP };
enum {
	NF_CTRL_ROTATE_A,
	NF_CTRL_ROTATE_B,
	NF_CTRL_SET_PATH_A,
	NF_CTRL_PATH_DOWN,
	NF_CTRL_PATH_UP,
	NF_CTRL_CLOSE_A,
	NF_CTRL_EXPORT_RESUME_A,
	NF_CTRL_ESTABLISH_A,
	NF_CTRL_COUNT
};

#define NF_START_MS 1000u
#define NF_NOW_S 1800000000u
#define NF_MAX_TICK_MS 3600000u
#define NF_PUMP_ROUNDS 64

struct nf {
	struct l2s_node *a, *b;
	uint8_t a_pk[32], b_pk[32];
	uint32_t ha, hb; /* A's session handle, B's */
	uint64_t now;
	struct l2s_config cfg;
};

static const char *const nf_addrs[4] = { "peer-b", "stranger", "10.0.0.1:4433", "" };
static const uint8_t nf_addr_b[] = "peer-b";
static const uint8_t nf_addr_a[] = "peer-a";

static void nf_fail(const char *what)
{
	fprintf(stderr, "fuzz_node: %s\n", what);
	abort();
}

static int nf_make(struct l2s_node **node, uint8_t pk[32], uint8_t tag)
{
	struct l2s_node_params p;
	uint8_t seed[32], sk[64];

	memset(&p, 0, sizeof(p));
	memset(seed, tag, sizeof(seed));
	if (l2s_ed25519_seed_keypair(pk, sk, seed) != L2S_OK)
		return 0;
	memcpy(p.identity_sk, sk, sizeof(sk));
	memset(p.prekey_seed, tag + 1, sizeof(p.prekey_seed));
	p.prekey_not_after_s = 4000000000u;
	memset(p.storage_key, tag + 2, sizeof(p.storage_key));
	p.deterministic = 1;
	memset(p.rng_seed, tag + 3, sizeof(p.rng_seed));
	p.max_sessions = 16;
	p.handshake_load_limit = 4;
	return l2s_node_new(node, &p, NF_START_MS) == L2S_OK;
}

/* Checks and drops a node's events; tracks B's accepted session. */
static void nf_events(struct nf *f, struct l2s_node *n)
{
	struct l2s_event ev;

	while (l2s_node_next_event(n, &ev)) {
		if (ev.type == L2S_EV_STATE) {
			if (ev.to == L2S_STATE_END) {
				if (ev.reason != L2S_REASON_CLEANUP && ev.reason != L2S_REASON_CLOSED &&
				    ev.reason != L2S_REASON_REPLACED)
					nf_fail("a session ended for another reason than cleanup, closed or replaced");
			} else if (l2s_transition_allowed(ev.from, ev.to) != L2S_OK) {
				nf_fail("a transition outside the table");
			}
		}
		if (ev.type == L2S_EV_ACCEPTED && n == f->b)
			f->hb = ev.session;
		if (ev.type == L2S_EV_MESSAGE && ev.len > L2S_MAX_PAYLOAD)
			nf_fail("an application message longer than the maximum");
	}
}

static void nf_check_output(const struct l2s_output *o)
{
	if (o->len < 4 || o->len > L2S_MAX_MESSAGE || o->data[0] != L2S_WIRE_VERSION || o->data[2] || o->data[3])
		nf_fail("a malformed message was emitted");
}

/* Delivers from's queued messages to `to`; returns how many there were. */
static int nf_move(struct nf *f, struct l2s_node *from, struct l2s_node *to, const uint8_t *from_addr,
		   size_t from_addr_len)
{
	struct l2s_output o;
	int n = 0;

	while (l2s_node_next_output(from, &o)) {
		nf_check_output(&o);
		l2s_node_receive(to, o.path ? o.path : 1, from_addr, from_addr_len, o.data, o.len, f->now);
		n++;
	}
	return n;
}

static void nf_pump(struct nf *f)
{
	for (int round = 0; round < NF_PUMP_ROUNDS; round++) {
		int moved = nf_move(f, f->a, f->b, nf_addr_a, sizeof(nf_addr_a) - 1);

		moved += nf_move(f, f->b, f->a, nf_addr_b, sizeof(nf_addr_b) - 1);
		nf_events(f, f->a);
		nf_events(f, f->b);
		if (!moved)
			break;
	}
}

static void nf_drop(struct nf *f, struct l2s_node *n)
{
	struct l2s_output o;

	while (l2s_node_next_output(n, &o))
		nf_check_output(&o);
	nf_events(f, n);
}

/* A -> B full handshake; returns A's handle or 0. */
static uint32_t nf_establish(struct nf *f)
{
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	uint32_t h = 0;

	if (l2s_node_prekey_bundle(f->b, bundle) != L2S_OK ||
	    l2s_node_establish(f->a, f->b_pk, bundle, sizeof(bundle), NF_NOW_S, &f->cfg, 1, f->now, &h) != L2S_OK)
		return 0;
	nf_pump(f);
	return h;
}

static void nf_teardown(struct nf *f)
{
	l2s_node_free(f->a);
	l2s_node_free(f->b);
	f->a = f->b = NULL;
}

/* The common starting state; 1 on success. */
static int nf_setup(struct nf *f)
{
	struct l2s_session_info ia, ib;

	memset(f, 0, sizeof(*f));
	f->now = NF_START_MS;
	l2s_config_default(&f->cfg);
	if (l2s_init() != L2S_OK || !nf_make(&f->a, f->a_pk, 0xa0) || !nf_make(&f->b, f->b_pk, 0xb0)) {
		nf_teardown(f);
		return 0;
	}
	f->ha = nf_establish(f);
	if (!f->ha || l2s_session_info(f->a, f->ha, &ia) != L2S_OK || l2s_session_info(f->b, f->hb, &ib) != L2S_OK ||
	    ia.state != L2S_ESTABLISHED || ib.state != L2S_ESTABLISHED) {
		nf_teardown(f);
		return 0;
	}
	return 1;
}

/* NF_DEBUG=1 in the environment: what each record did, on stderr. */
static void nf_trace(const char *what, size_t off, int ret)
{
	static int on = -1;

	if (on < 0)
		on = getenv("NF_DEBUG") != NULL;
	if (on)
		fprintf(stderr, "fuzz_node: @%zu %s -> %s\n", off, what, l2s_strerror(ret));
}

/* B seals frame under its current keys and A receives it. */
static void nf_frame_to_a(struct nf *f, const uint8_t *frame, size_t len)
{
	static uint8_t msg[L2S_MAX_MESSAGE];
	struct l2s_session *s = l2s_node_session(f->b, f->hb);
	size_t out_len;

	if (!s || !s->kp_valid[KP_CUR] || !len || len > L2S_KEYPAIR_MAX_FRAME)
		return;
	if (l2s_keypair_seal(&s->kp[KP_CUR], frame, len, msg, sizeof(msg), &out_len) == L2S_OK)
		nf_trace("frame to A", 0, l2s_node_receive(f->a, 1, nf_addr_b, sizeof(nf_addr_b) - 1, msg, out_len, f->now));
}

static void nf_ctrl(struct nf *f, const uint8_t *p, size_t len)
{
	static uint8_t blob[1 << 16];
	size_t blob_len;
	uint32_t h;

	switch (len ? p[0] % NF_CTRL_COUNT : 0) {
	case NF_CTRL_ROTATE_A:
		l2s_session_rotate(f->a, f->ha, f->now);
		break;
	case NF_CTRL_ROTATE_B:
		l2s_session_rotate(f->b, f->hb, f->now);
		break;
	case NF_CTRL_SET_PATH_A: {
		struct l2s_session_info info;

		if (l2s_session_info(f->a, f->ha, &info) == L2S_OK)
			l2s_session_set_path(f->a, f->ha, info.path == 1 ? 2 : 1, f->now);
		break;
	}
	case NF_CTRL_PATH_DOWN:
		l2s_node_path_status(f->a, 1, 0, f->now);
		break;
	case NF_CTRL_PATH_UP:
		l2s_node_path_status(f->a, 1, 1, f->now);
		break;
	case NF_CTRL_CLOSE_A:
		l2s_session_close(f->a, f->ha, f->now);
		break;
	case NF_CTRL_EXPORT_RESUME_A:
		if (l2s_session_export(f->a, f->ha, blob, sizeof(blob), &blob_len) == L2S_OK &&
		    l2s_node_resume(f->a, blob, blob_len, &f->cfg, 1, f->now, &h) == L2S_OK)
			f->ha = h;
		break;
	case NF_CTRL_ESTABLISH_A:
		h = nf_establish(f);
		if (h)
			f->ha = h;
		break;
	}
}

/* Runs one input from the common starting state. */
static void nf_run(const uint8_t *data, size_t size)
{
	struct nf f;
	size_t off = 0;

	if (!nf_setup(&f))
		nf_fail("the starting state could not be set up");
	while (off + 3 <= size) {
		uint8_t op = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		const uint8_t *p = data + off + 3;

		off += 3;
		if (len > size - off)
			len = size - off;
		off += len;
		switch (op & 7) {
		case NF_RX_A: {
			const char *addr = nf_addrs[op >> 4 & 3];

			nf_trace("message to A", off,
				 l2s_node_receive(f.a, 1 + (op >> 3 & 1), (const uint8_t *)addr, strlen(addr), p, len,
						  f.now));
			break;
		}
		case NF_FRAME_A:
			nf_frame_to_a(&f, p, len);
			break;
		case NF_TICK: {
			uint64_t ms = len >= 4 ? (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3]
					       : 100 * (uint64_t)len;

			f.now += ms > NF_MAX_TICK_MS ? NF_MAX_TICK_MS : ms;
			l2s_node_tick(f.a, f.now);
			l2s_node_tick(f.b, f.now);
			break;
		}
		case NF_PUMP:
			nf_pump(&f);
			break;
		case NF_SEND: {
			uint64_t seq;

			if (op >> 3 & 1)
				l2s_session_send(f.b, f.hb, p, len, f.now, &seq);
			else
				l2s_session_send(f.a, f.ha, p, len, f.now, &seq);
			break;
		}
		case NF_RX_B:
			nf_trace("message to B", off,
				 l2s_node_receive(f.b, 1, nf_addr_a, sizeof(nf_addr_a) - 1, p, len, f.now));
			break;
		case NF_CTRL:
			nf_ctrl(&f, p, len);
			break;
		case NF_DROP:
			nf_drop(&f, f.a);
			if (op >> 3 & 1)
				nf_drop(&f, f.b);
			break;
		}
		nf_events(&f, f.a);
		nf_events(&f, f.b);
		if (f.a->live > f.a->max_sessions || f.b->live > f.b->max_sessions)
			nf_fail("more sessions than max_sessions");
	}
	nf_drop(&f, f.a);
	nf_drop(&f, f.b);
	nf_teardown(&f);
}

#endif /* L2S_FUZZ_NODE_FIXTURE_H */
