/* SPDX-License-Identifier: Apache-2.0
 *
 * nodesim.h - two (or more) sans-IO nodes over a simulated link, for the C
 * tests that drive real nodes with real crypto (test_node.c,
 * test_security.c, test_hs_vectors.c).
 *
 * Time is the variable ns_now (milliseconds); nothing sleeps. Every message
 * a node emits is moved to the other node by ns_pump() unless the link is
 * down (ns_link_up = 0) or the optional filter (ns_filter) drops it; the
 * filter may also rewrite the message in place, so tests can record,
 * replay and tamper with traffic. Each peer has its own source address, so
 * the responder's cookies, token buckets and address quarantine see
 * distinct senders. Tests that want to move messages by hand use
 * ns_collect() (take a node's outputs) and ns_deliver().
 */
#ifndef L2S_NODESIM_H
#define L2S_NODESIM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l2s.h"
#include "testutil.h"

#define NS_MAX_STATES 256
#define NS_MAX_IDS 1024 /* message ids recorded per peer */
#define NS_BUNDLE_NOW_S 1800000000u /* "now" in Unix seconds for bundle checks */

struct ns_state_ev {
	uint32_t session;
	int from, to, reason;
	uint64_t time_ms;
};

struct ns_peer {
	struct l2s_node *node;
	uint8_t tag;
	uint8_t pk[32], sk[64];
	uint8_t addr[L2S_MAX_ADDR_BYTES];
	size_t addr_len;
	uint32_t session; /* the session the test follows: its own, or the last accepted */
	/* what the events said */
	int states[NS_MAX_STATES], nstates; /* `to` of each state event, in order */
	struct ns_state_ev sev[NS_MAX_STATES];
	int nsev, states_lost;
	uint64_t received, next_expected_seq, delivered;
	int warnings, out_of_order, accepted, closed;
	uint8_t last_msg[64];
	size_t last_msg_len;
	/* the first 4 bytes (big-endian) of each message of 4 bytes or more,
	 * with its seq, in delivery order: ns_send_ids() numbers messages */
	uint32_t ids[NS_MAX_IDS];
	uint64_t id_seqs[NS_MAX_IDS];
	int nids;
};

/* Node parameters a test may change before ns_make_peer_opts(). */
struct ns_opts {
	uint32_t max_sessions;         /* 0: 64 */
	uint32_t handshake_load_limit; /* 0: the node's default */
	uint32_t handshake_rate_per_s; /* 0: the node's default */
	uint32_t handshake_work_per_s; /* 0: the node's default */
	uint64_t handshake_counter;
	uint64_t prekey_not_after_s;   /* 0: far future */
	const uint8_t *prekey_seed;    /* NULL: tag + 1 in every byte */
	const uint8_t *previous_prekey_seed; /* NULL: none */
	int system_rng;                /* 1: not deterministic */
};

static uint64_t ns_now = 1000;
static int ns_link_up = 1;

/* Called for every message ns_pump() moves: from's output on its way to to.
 * Return 0 to drop it; the message may be changed in place (its length
 * stays). */
typedef int (*ns_filter_fn)(void *arg, const struct ns_peer *from, const struct ns_peer *to, uint8_t *msg,
			    size_t len);
static ns_filter_fn ns_filter;
static void *ns_filter_arg;

static inline void ns_make_peer_opts(struct ns_peer *p, uint8_t tag, const struct ns_opts *o)
{
	struct l2s_node_params params;
	uint8_t seed[32];

	memset(&params, 0, sizeof(params));
	memset(p, 0, sizeof(*p));
	p->tag = tag;
	memset(seed, tag, sizeof(seed));
	l2s_ed25519_seed_keypair(p->pk, p->sk, seed);
	memcpy(params.identity_sk, p->sk, 64);
	memset(params.prekey_seed, tag + 1, 32);
	params.prekey_not_after_s = o && o->prekey_not_after_s ? o->prekey_not_after_s : 4000000000u;
	memset(params.storage_key, tag + 2, 32);
	params.deterministic = !(o && o->system_rng);
	memset(params.rng_seed, tag + 3, 32);
	params.max_sessions = o && o->max_sessions ? o->max_sessions : 64;
	if (o) {
		params.handshake_load_limit = o->handshake_load_limit;
		params.handshake_work_per_s = o->handshake_work_per_s;
		params.handshake_rate_per_s = o->handshake_rate_per_s;
		params.handshake_counter = o->handshake_counter;
		if (o->prekey_seed)
			memcpy(params.prekey_seed, o->prekey_seed, 32);
		if (o->previous_prekey_seed) {
			memcpy(params.previous_prekey_seed, o->previous_prekey_seed, 32);
			params.has_previous_prekey = 1;
		}
	}
	CHECK(l2s_node_new(&p->node, &params, ns_now) == L2S_OK);
	p->addr_len = (size_t)snprintf((char *)p->addr, sizeof(p->addr), "addr-%02x", tag);
	p->next_expected_seq = 1;
}

static inline void ns_make_peer(struct ns_peer *p, uint8_t tag)
{
	ns_make_peer_opts(p, tag, NULL);
}

static inline void ns_free_peer(struct ns_peer *p)
{
	l2s_node_free(p->node);
	p->node = NULL;
}

static inline void ns_drain_events(struct ns_peer *p)
{
	struct l2s_event ev;

	while (l2s_node_next_event(p->node, &ev)) {
		if (ev.type == L2S_EV_STATE) {
			if (p->nstates < NS_MAX_STATES) {
				struct ns_state_ev *e = &p->sev[p->nsev++];

				p->states[p->nstates++] = ev.to;
				e->session = ev.session;
				e->from = ev.from;
				e->to = ev.to;
				e->reason = ev.reason;
				e->time_ms = ev.time_ms;
			} else {
				p->states_lost++;
			}
		}
		if (ev.type == L2S_EV_ACCEPTED) {
			p->session = ev.session;
			p->accepted++;
		}
		if (ev.type == L2S_EV_MESSAGE) {
			if (ev.seq != p->next_expected_seq)
				p->out_of_order++;
			p->next_expected_seq = ev.seq + 1;
			p->received++;
			p->last_msg_len = ev.len < sizeof(p->last_msg) ? ev.len : sizeof(p->last_msg);
			if (p->last_msg_len)
				memcpy(p->last_msg, ev.data, p->last_msg_len);
			if (ev.len >= 4 && p->nids < NS_MAX_IDS) {
				p->id_seqs[p->nids] = ev.seq;
				p->ids[p->nids++] = (uint32_t)ev.data[0] << 24 | (uint32_t)ev.data[1] << 16 |
						    (uint32_t)ev.data[2] << 8 | ev.data[3];
			}
		}
		if (ev.type == L2S_EV_DELIVERED)
			p->delivered++;
		if (ev.type == L2S_EV_WARNING)
			p->warnings++;
		if (ev.type == L2S_EV_CLOSED)
			p->closed++;
	}
}

/* Forgets the recorded state events (counters stay). */
static inline void ns_clear_states(struct ns_peer *p)
{
	p->nstates = p->nsev = p->states_lost = 0;
}

/* 1 when p recorded the transition to `to` with `reason` for session h (0: any). */
static inline int ns_saw(const struct ns_peer *p, uint32_t h, int to, int reason)
{
	for (int i = 0; i < p->nsev; i++)
		if ((!h || p->sev[i].session == h) && p->sev[i].to == to && p->sev[i].reason == reason)
			return 1;
	return 0;
}

/* Hands msg to `to` as if it came from `from` (its address); returns what
 * l2s_node_receive() returned. The receiver's events are drained. */
static inline int ns_deliver(struct ns_peer *to, const struct ns_peer *from, const uint8_t *msg, size_t len)
{
	int r = l2s_node_receive(to->node, 1, from->addr, from->addr_len, msg, len, ns_now);

	if (r && getenv("NS_DEBUG"))
		fprintf(stderr, "ns: %02x -> %02x type %d len %zu -> %s\n", from->tag, to->tag, len > 1 ? msg[1] : -1,
			len, l2s_strerror(r));
	ns_drain_events(to);
	return r;
}

/* Moves one node's queued outputs to the other; returns how many moved. */
static inline int ns_move(struct ns_peer *from, struct ns_peer *to)
{
	static uint8_t buf[L2S_MAX_MESSAGE];
	struct l2s_output o;
	int moved = 0;

	while (l2s_node_next_output(from->node, &o)) {
		moved++;
		if (!ns_link_up || o.len > sizeof(buf))
			continue;
		memcpy(buf, o.data, o.len);
		if (ns_filter && !ns_filter(ns_filter_arg, from, to, buf, o.len))
			continue;
		ns_deliver(to, from, buf, o.len);
	}
	return moved;
}

/* Moves every queued message across (unless the link is down) until quiet. */
static inline void ns_pump(struct ns_peer *a, struct ns_peer *b)
{
	int moved;

	do {
		moved = ns_move(a, b);
		moved += ns_move(b, a);
		ns_drain_events(a);
		ns_drain_events(b);
	} while (moved);
}

/* Lets ms pass in steps of step ms, ticking both nodes and pumping. */
static inline void ns_advance(struct ns_peer *a, struct ns_peer *b, uint64_t ms, uint64_t step)
{
	for (uint64_t t = 0; t < ms; t += step) {
		ns_now += step;
		l2s_node_tick(a->node, ns_now);
		if (b)
			l2s_node_tick(b->node, ns_now);
		if (b)
			ns_pump(a, b);
		else
			ns_drain_events(a);
	}
}

static inline int ns_state(const struct ns_peer *p, uint32_t h)
{
	struct l2s_session_info info;

	if (l2s_session_info(p->node, h, &info) != L2S_OK)
		return -1;
	return info.state;
}

static inline int ns_state_of(const struct ns_peer *p)
{
	return ns_state(p, p->session);
}

static inline void ns_send_n(struct ns_peer *from, int n)
{
	uint8_t msg[100];
	uint64_t seq;

	for (int i = 0; i < n; i++) {
		memset(msg, i, sizeof(msg));
		CHECK(l2s_session_send(from->node, from->session, msg, sizeof(msg), ns_now, &seq) == L2S_OK);
	}
}

/* n messages numbered first, first + 1, ... (4 bytes each, big-endian). */
static inline void ns_send_ids(struct ns_peer *from, uint32_t first, int n)
{
	uint8_t msg[4];
	uint64_t seq;

	for (int i = 0; i < n; i++) {
		uint32_t id = first + (uint32_t)i;

		msg[0] = (uint8_t)(id >> 24);
		msg[1] = (uint8_t)(id >> 16);
		msg[2] = (uint8_t)(id >> 8);
		msg[3] = (uint8_t)id;
		CHECK(l2s_session_send(from->node, from->session, msg, sizeof(msg), ns_now, &seq) == L2S_OK);
	}
}

/* 1 when p's app got exactly ids first .. first + n - 1, in order, once
 * each, with strictly ascending seqs. */
static inline int ns_got_ids(const struct ns_peer *p, uint32_t first, int n)
{
	if (p->nids != n)
		return 0;
	for (int i = 0; i < n; i++)
		if (p->ids[i] != first + (uint32_t)i || (i && p->id_seqs[i] <= p->id_seqs[i - 1]))
			return 0;
	return 1;
}

/* a starts a full handshake to b (b's current bundle); L2S_OK or the error. */
static inline int ns_start(struct ns_peer *a, const struct ns_peer *b, const struct l2s_config *cfg, uint32_t *h)
{
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_config def;

	if (!cfg) {
		l2s_config_default(&def);
		cfg = &def;
	}
	CHECK(l2s_node_prekey_bundle(b->node, bundle) == L2S_OK);
	return l2s_node_establish(a->node, b->pk, bundle, sizeof(bundle), NS_BUNDLE_NOW_S, cfg, 1, ns_now, h);
}

/* A full handshake a -> b, pumped to the end; 1 when both sides are established. */
static inline int ns_connect(struct ns_peer *a, struct ns_peer *b, const struct l2s_config *cfg)
{
	if (ns_start(a, b, cfg, &a->session) != L2S_OK)
		return 0;
	ns_pump(a, b);
	return ns_state_of(a) == L2S_ESTABLISHED && ns_state_of(b) == L2S_ESTABLISHED;
}

/* ---- messages by hand ------------------------------------------------------ */

struct ns_msg {
	uint8_t *data;
	size_t len;
	uint32_t session;
};

#define NS_BOX_MAX 256

struct ns_box {
	struct ns_msg m[NS_BOX_MAX];
	int n;
};

static inline void ns_box_add(struct ns_box *box, const uint8_t *data, size_t len, uint32_t session)
{
	struct ns_msg *m;

	if (box->n == NS_BOX_MAX) {
		fprintf(stderr, "nodesim: box full\n");
		exit(2);
	}
	m = &box->m[box->n++];
	m->data = malloc(len ? len : 1);
	if (!m->data)
		exit(2);
	memcpy(m->data, data, len);
	m->len = len;
	m->session = session;
}

/* Takes every queued output of p into box (nothing is delivered). */
static inline int ns_collect(struct ns_peer *p, struct ns_box *box)
{
	struct l2s_output o;
	int n = 0;

	while (l2s_node_next_output(p->node, &o)) {
		ns_box_add(box, o.data, o.len, o.session);
		n++;
	}
	ns_drain_events(p);
	return n;
}

/* Drops every queued output of p. */
static inline int ns_discard(struct ns_peer *p)
{
	struct l2s_output o;
	int n = 0;

	while (l2s_node_next_output(p->node, &o))
		n++;
	ns_drain_events(p);
	return n;
}

static inline void ns_box_free(struct ns_box *box)
{
	for (int i = 0; i < box->n; i++)
		free(box->m[i].data);
	box->n = 0;
}

/* The k-th (from 0) message of the given wire type in box, or NULL. */
static inline const struct ns_msg *ns_box_find(const struct ns_box *box, int type, int k)
{
	for (int i = 0; i < box->n; i++)
		if (box->m[i].len > 1 && box->m[i].data[1] == type && k-- == 0)
			return &box->m[i];
	return NULL;
}

/* Delivers every message in box to `to`, from `from`. */
static inline void ns_box_deliver(struct ns_box *box, struct ns_peer *to, const struct ns_peer *from)
{
	for (int i = 0; i < box->n; i++)
		ns_deliver(to, from, box->m[i].data, box->m[i].len);
}

#endif /* L2S_NODESIM_H */
