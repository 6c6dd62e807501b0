// SPDX-License-Identifier: Apache-2.0
/* The event loop (l2s_loop.h) end to end: loops in this process on 127.0.0.1
 * (and [::1]), real crypto, real sockets, driven alternately with
 * l2s_loop_run_once (and once on a thread with l2s_loop_run):
 *  1. QUIC + in-band discovery + handshake, 1,000 messages each way exactly
 *     once in order, equal non-zero channel bindings, the inbox lines;
 *     l2s_loop_send_many stopping at a full queue; 8 MiB in 64 KiB messages
 *     with nothing dropped or retransmitted;
 *  2. a μTCP-only node; μTCP winning the race when QUIC hears nothing;
 *  3. a wrong DID key: PEER_ERROR(AUTH), no session; a refused connect and
 *     a silent listener: PEER_ERROR(IO), retried;
 *  4. raw UDP discovery from a plain socket: token (<= 3x), then bundle;
 *  5. QUIC blocked mid-transfer: one TRANSPORT event, on μTCP, nothing
 *     lost; unblocked: back on QUIC within quic_retry_ms;
 *  6. export, free, a new loop with the same identity imports: resumption
 *     (same session id, no handshake), queued messages arrive once, and
 *     delivered_upto holds back what the inbox had; the same from the
 *     accepting side, which resumes toward the peer's address; 50 restarts
 *     in a row, each exporting at once, each resumed within 1 s; a DID that
 *     is not a peer gets nowhere; accept_any lists the stranger; IPv6;
 *  7. junk at the UDP and TCP ports: dropped and counted, an idle
 *     connection closed, and a busy one that never authenticates, sessions
 *     work;
 *  8. the event queue bound while the application does not read;
 *  9. l2s_loop_run on a thread with l2s_loop_wait_event, stop; close_peer.
 * A build without QUIC (l2s_loop_has_quic() == 0) runs every loop as
 * no_quic: the sessions above run on μTCP, and the cases about QUIC (the
 * race, raw UDP discovery, the fallback and return, UDP junk) are skipped,
 * each said so. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "transport/discovery.h"
#include "engine/delivery.h"
#include "l2s_loop.h"
#include "netutil.h"
#include "testutil.h"

#define MAXN 4
#define SEED_MSG 0x5eed

struct tnode {
	const char *name;
	struct l2s_loop *l;
	struct l2s_loop_params p;
	uint8_t pk[L2S_ED25519_PK_BYTES];
	struct sockaddr_in addr;
	int hold;                 /* do not take events (the queue-bound test) */
	int big;                  /* its peers send big_payload() messages */
	uint64_t taken;           /* events taken from its loop */
	struct {
		uint8_t pk[32];
		uint64_t next;    /* the seq expected next from this sender */
	} from[MAXN];
	int nfrom;
	uint64_t rx, rx_bad, delivered, transport_evs, accepted, peer_errors, last_error, closed;
	uint64_t failed;          /* state events to failed (an exchange timed out or was refused) */
	uint64_t inbox_evs[2];    /* INBOX events: failed, works again */
	int inbox_errno;
	int last_transport;
};

static struct tnode *nodes[MAXN];
static int nnodes;
static int quic_built;  /* l2s_loop_has_quic() */
static int primary;     /* the transport a session between two default nodes ends on */

static const char *primary_name(void)
{
	return primary == L2S_TRANSPORT_QUIC ? "QUIC" : "uTCP";
}

/* 1 when this build has QUIC; else the case is skipped, and says so. */
static int need_quic(const char *what)
{
	if (!quic_built)
		tu_skip("test_loop", what, "this build has no QUIC transport");
	return quic_built;
}

static uint64_t unix_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec;
}

static size_t payload(uint8_t *out, uint64_t seq, uint32_t seed)
{
	size_t len = 16 + (size_t)(seq * 131 % 700);

	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(seq * 7 + i * 13 + seed);
	return len;
}

/* The seq expected next from pk (0: none yet). */
static uint64_t *rx_next(struct tnode *n, const uint8_t pk[32])
{
	for (int i = 0; i < n->nfrom; i++)
		if (memcmp(n->from[i].pk, pk, 32) == 0)
			return &n->from[i].next;
	if (n->nfrom == MAXN)
		return &n->from[0].next; /* not in these tests */
	memcpy(n->from[n->nfrom].pk, pk, 32);
	n->from[n->nfrom].next = 0;
	return &n->from[n->nfrom++].next;
}

/* The burst test's messages: the largest payload, content by seq. */
static size_t big_payload(uint8_t *out, uint64_t seq)
{
	memset(out, (int)(seq * 29 + 3), L2S_MAX_PAYLOAD);
	memcpy(out, &seq, sizeof(seq));
	return L2S_MAX_PAYLOAD;
}

static void on_event(struct tnode *n, const struct l2s_loop_event *ev)
{
	static uint8_t want[L2S_MAX_PAYLOAD];

	switch (ev->type) {
	case L2S_EV_MESSAGE: {
		size_t len = n->big ? big_payload(want, ev->seq) : payload(want, ev->seq, SEED_MSG);
		uint64_t *next = rx_next(n, ev->peer_pk);

		/* In order; a resumed sender skips its export's seq reserve once. */
		int in_order = !*next || ev->seq == *next || ev->seq == *next + L2S_DELIVERY_SEQ_RESERVE;

		if (!in_order || ev->len != len || memcmp(ev->data, want, len) != 0) {
			if (!n->rx_bad)
				fprintf(stderr, "%s: seq %llu, expected %llu (len %zu/%zu)\n", n->name,
					(unsigned long long)ev->seq, (unsigned long long)*next, ev->len, len);
			n->rx_bad++;
		}
		*next = ev->seq + 1;
		n->rx++;
		break;
	}
	case L2S_EV_DELIVERED:
		n->delivered++;
		break;
	case L2S_EV_TRANSPORT:
		n->transport_evs++;
		n->last_transport = ev->transport;
		break;
	case L2S_EV_ACCEPTED:
		n->accepted++;
		break;
	case L2S_EV_STATE:
		n->failed += ev->to == L2S_FAILED;
		break;
	case L2S_EV_CLOSED:
		n->closed++;
		break;
	case L2S_LOOP_EV_PEER_ERROR:
		n->peer_errors++;
		n->last_error = (uint64_t)-ev->error;
		break;
	case L2S_LOOP_EV_INBOX:
		n->inbox_evs[ev->error ? 0 : 1]++;
		n->inbox_errno = ev->error ? ev->error : n->inbox_errno;
		break;
	}
}

static void drain(struct tnode *n)
{

	struct l2s_loop_event evs[16];
	int k;

	/* in batches: every event's data stays valid until the next call */
	while (!n->hold && (k = l2s_loop_next_events(n->l, evs, 16)) > 0) {
		n->taken += (uint64_t)k;
		for (int i = 0; i < k; i++)
			on_event(n, &evs[i]);
	}
}

/* Events queued by n's loop minus those taken: how many wait now, when
 * none did at the start (*peak 0, *base from queue_start). */
static void queue_start(struct tnode *n, uint64_t *base)
{
	struct l2s_loop_stats st;

	l2s_loop_stats(n->l, &st);
	*base = st.events_queued - n->taken;
}

static void queue_peak(struct tnode *n, uint64_t base, uint64_t *peak)
{
	struct l2s_loop_stats st;

	l2s_loop_stats(n->l, &st);
	if (st.events_queued - n->taken - base > *peak)
		*peak = st.events_queued - n->taken - base;
}

static void pump_once(void)
{
	for (int i = 0; i < nnodes; i++) {
		l2s_loop_run_once(nodes[i]->l, 1);
		drain(nodes[i]);
	}
}

typedef int (*cond_fn)(void *);

static int run_until(cond_fn cond, void *arg, uint64_t timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (now_ms() < end) {
		pump_once();
		if (cond(arg))
			return 1;
	}
	return cond(arg);
}

static void run_for(uint64_t ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end)
		pump_once();
}

static void node_params(struct l2s_loop_params *p, const uint8_t sk[L2S_ED25519_SK_BYTES],
			const uint8_t storage_key[32])
{
	struct sockaddr_in a = loopback(0);

	l2s_loop_params_default(p);
	memcpy(p->node.identity_sk, sk, L2S_ED25519_SK_BYTES);
	l2s_random(p->node.prekey_seed, sizeof(p->node.prekey_seed));
	p->node.prekey_not_after_s = unix_s() + 3600;
	memcpy(p->node.storage_key, storage_key, 32);
	p->node.handshake_rate_per_s = 1000;
	p->node.handshake_work_per_s = 100000; /* a test run makes hundreds a second */
	memcpy(&p->listen, &a, sizeof(a));
	p->listen_len = sizeof(a);
	p->cfg.retransmit_timeout_ms = 100;
	p->cfg.handshake_timeout_ms = 1000; /* idle inbound connections go after 2 s */
	p->cfg.heartbeat_interval_ms = 2000;
	p->cfg.heartbeat_reply_timeout_ms = 1000;
	p->quic.handshake_timeout_ms = 1000;
	p->path_timeout_ms = 600;
	p->quic_retry_ms = 1000;
	p->reconnect_base_ms = 50;
	p->reconnect_max_ms = 500;
}

static int node_start(struct tnode *n)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (l2s_loop_new(&n->l, &n->p) != L2S_OK)
		return 0;
	l2s_loop_local_addr(n->l, &ss, &len);
	memcpy(&n->addr, &ss, sizeof(n->addr));
	nodes[nnodes++] = n;
	return 1;
}

static int node_new(struct tnode *n, const char *name, int no_quic)
{
	uint8_t sk[L2S_ED25519_SK_BYTES], key[32];

	memset(n, 0, sizeof(*n));
	n->name = name;
	l2s_ed25519_keypair(n->pk, sk);
	l2s_random(key, sizeof(key));
	node_params(&n->p, sk, key);
	n->p.no_quic = no_quic;
	l2s_wipe(sk, sizeof(sk));
	return node_start(n);
}

static void node_remove(struct tnode *n)
{
	for (int i = 0; i < nnodes; i++)
		if (nodes[i] == n) {
			nodes[i] = nodes[--nnodes];
			break;
		}
	l2s_loop_free(n->l);
	n->l = NULL;
}

static int peer_of(struct tnode *n, const uint8_t pk[32], struct l2s_loop_peer_info *info)
{
	size_t count = l2s_loop_peer_count(n->l);

	for (size_t i = 0; i < count; i++)
		if (l2s_loop_peer_info(n->l, i, info) == L2S_OK && memcmp(info->pk, pk, 32) == 0)
			return 1;
	return 0;
}

struct link {
	struct tnode *a, *b;
	int transport;
};

static int established(struct tnode *n, const uint8_t pk[32], int transport)
{
	struct l2s_loop_peer_info info;

	return peer_of(n, pk, &info) && info.has_session && info.session.state == L2S_ESTABLISHED &&
	       (!transport || info.transport == transport);
}

static int link_up(void *arg)
{
	struct link *k = arg;

	return established(k->a, k->b->pk, k->transport) && established(k->b, k->a->pk, k->transport);
}

/* ---- sending with back-pressure ----------------------------------------- */

struct xfer {
	struct tnode *from, *to;
	uint64_t sent, want, base; /* base: to->rx before */
};

static void feed(struct xfer *x)
{
	static uint8_t buf[1024];

	while (x->sent < x->want) {
		uint64_t seq = 0;
		struct l2s_loop_peer_info info;
		size_t len;
		int ret;

		if (!peer_of(x->from, x->to->pk, &info) || !info.has_session)
			return;
		len = payload(buf, info.session.next_send_seq, SEED_MSG);
		ret = l2s_loop_send(x->from->l, x->to->pk, buf, len, &seq);
		if (ret != L2S_OK)
			return; /* QUEUE_FULL: the next round makes room */
		x->sent++;
	}
}

static int xfers_done(void *arg)
{
	struct xfer *x = arg;

	feed(&x[0]);
	feed(&x[1]);
	return x[0].to->rx - x[0].base >= x[0].want && x[1].to->rx - x[1].base >= x[1].want;
}

static int both_ways(struct tnode *a, struct tnode *b, uint64_t n, uint64_t timeout_ms)
{
	struct xfer x[2] = { { a, b, 0, n, b->rx }, { b, a, 0, n, a->rx } };

	return run_until(xfers_done, x, timeout_ms);
}

/* ---- 1. QUIC, in-band discovery, 1,000 messages each way ------------------------ */

static struct tnode A, B;
static FILE *inbox; /* B's */
static char inbox_path[] = "/tmp/l2s-test-inbox-XXXXXX";

/* PROTOCOL.md §12: one line per delivered message, in order. */
static void check_inbox(uint64_t want)
{
	static char line[4096];
	static uint8_t pl[1024];
	uint64_t n = 0, bad = 0, last = 0;
	char hexpk[65];

	for (int i = 0; i < 32; i++)
		snprintf(hexpk + 2 * i, 3, "%02x", A.pk[i]);
	rewind(inbox);
	while (fgets(line, sizeof(line), inbox)) {
		char sid[33], pk[65], data[2048];
		unsigned long long seq;
		size_t len;

		if (sscanf(line, "%32s %llu %64s %2047s", sid, &seq, pk, data) != 4 || strlen(sid) != 32 ||
		    strcmp(pk, hexpk) != 0 || seq != last + 1) {
			bad++;
			continue;
		}
		len = payload(pl, seq, SEED_MSG);
		for (size_t i = 0; i < len; i++) {
			unsigned v;

			if (sscanf(data + 2 * i, "%2x", &v) != 1 || v != pl[i])
				bad++;
		}
		if (strlen(data) != 2 * len)
			bad++;
		last = seq;
		n++;
	}
	CHECK(n == want && bad == 0);
	fseek(inbox, 0, SEEK_END);
}

static void test_quic_session(void)
{
	struct link k = { &A, &B, primary };
	struct l2s_loop_stats sa, sb;
	uint8_t ba[32], bb[32], zero[32] = { 0 };
	uint64_t t0;

	CHECK(l2s_loop_add_peer(B.l, A.pk, NULL, 0, 0) == L2S_OK);
	CHECK(l2s_loop_add_peer(A.l, B.pk, (struct sockaddr *)&B.addr, sizeof(B.addr), 1) == L2S_OK);
	t0 = now_ms();
	CHECK(run_until(link_up, &k, 5000));
	printf("test_loop: %s + in-band discovery + handshake in %llu ms\n", primary_name(),
	       (unsigned long long)(now_ms() - t0));
	l2s_loop_stats(A.l, &sa);
	l2s_loop_stats(B.l, &sb);
	CHECK(sa.disc_probes == 1 && sb.disc_answers == 1); /* no cached bundle: fetched in-band */
	CHECK(sa.handshakes == 1 && sa.resumptions == 0);
	CHECK(sa.handshakes_prepared == 0); /* no bundle to prepare with before discovery */
	CHECK(B.accepted == 1);
	/* The QUIC exporter entered both handshakes: equal and not zero (μTCP has
	 * no TLS session to bind to). */
	CHECK(l2s_loop_test_binding(A.l, B.pk, ba) == L2S_OK);
	CHECK(l2s_loop_test_binding(B.l, A.pk, bb) == L2S_OK);
	CHECK(memcmp(ba, bb, 32) == 0 && (memcmp(ba, zero, 32) != 0) == quic_built);

	t0 = now_ms();
	CHECK(both_ways(&A, &B, 1000, 20000));
	printf("test_loop: 2 x 1000 messages over %s in %llu ms\n", primary_name(), (unsigned long long)(now_ms() - t0));
	CHECK(A.rx == 1000 && B.rx == 1000 && A.rx_bad == 0 && B.rx_bad == 0);
	check_inbox(1000);
	run_until(link_up, &k, 300);
	CHECK(A.transport_evs == 0 && B.transport_evs == 0);
	/* authenticated: a QUIC connection has a socket of its own on each side */
	l2s_loop_stats(A.l, &sa);
	l2s_loop_stats(B.l, &sb);
	CHECK(sa.quic.own_sockets == (uint64_t)quic_built && sb.quic.own_sockets == (uint64_t)quic_built);
	CHECK(sa.quic.own_socket_failures == 0 && sb.quic.own_socket_failures == 0);
	/* the node's budget: the default, and the connections' share drawn from
	 * it (a QUIC connection holds ~96 KiB; μTCP only its buffers, while they fill) */
	CHECK(sa.budget_limit == 32u << 20 && sa.budget_peak <= sa.budget_limit);
	CHECK(quic_built ? sa.budget_used >= 96u << 10 : sa.budget_peak > 0);
}

/* ---- 1a. l2s_loop_send_many: in order, stops at a full queue ---------------------- */

#define MANY 5000

struct many {
	const struct iovec *v;
	size_t next;
	uint64_t rx_base;
};

static int many_done(void *arg)
{
	struct many *m = arg;
	size_t acc = 0;

	if (m->next < MANY) {
		l2s_loop_send_many(A.l, B.pk, m->v + m->next, MANY - m->next, NULL, &acc);
		m->next += acc;
	}
	return m->next == MANY && B.rx - m->rx_base >= MANY;
}

static void test_send_many(void)
{
	static uint8_t bufs[MANY][720];
	static struct iovec v[MANY];
	static uint64_t seqs[MANY];
	struct many m = { v, 0, B.rx };
	struct l2s_loop_peer_info info;
	uint64_t base, limit = A.p.cfg.send_queue_limit;
	size_t acc = 99;
	uint8_t nobody[32] = { 1 };

	CHECK(l2s_loop_send_many(A.l, nobody, v, 1, seqs, &acc) == L2S_ERR_NOT_FOUND && acc == 0);
	CHECK(peer_of(&A, B.pk, &info) && info.has_session);
	CHECK(l2s_loop_send_many(A.l, B.pk, v, 0, seqs, &acc) == L2S_OK && acc == 0);
	base = info.session.next_send_seq;
	for (size_t i = 0; i < MANY; i++) {
		v[i].iov_base = bufs[i];
		v[i].iov_len = payload(bufs[i], base + i, SEED_MSG);
	}
	/* The loop cannot take acknowledgements during the call: the queue
	 * fills at its count limit and the call stops there. */
	CHECK(limit < MANY && info.session.queued < limit);
	CHECK(l2s_loop_send_many(A.l, B.pk, v, MANY, seqs, &acc) == L2S_ERR_QUEUE_FULL);
	CHECK(acc == limit - info.session.queued);
	for (size_t i = 0; i < acc; i++)
		if (seqs[i] != base + i) {
			CHECK(seqs[i] == base + i);
			break;
		}
	m.next = acc;
	CHECK(run_until(many_done, &m, 20000));
	CHECK(B.rx - m.rx_base == MANY && B.rx_bad == 0);
}

/* ---- 1b. a burst of 64 KiB messages over QUIC (μTCP without it) ------------------- */

static int burst_done(void *arg)
{
	struct xfer *x = arg;
	static uint8_t buf[L2S_MAX_PAYLOAD];

	while (x->sent < x->want) {
		struct l2s_loop_peer_info info;

		if (!peer_of(x->from, x->to->pk, &info) || !info.has_session)
			break;
		big_payload(buf, info.session.next_send_seq);
		if (l2s_loop_send(x->from->l, x->to->pk, buf, L2S_MAX_PAYLOAD, NULL) != L2S_OK)
			break; /* QUEUE_FULL: the next round makes room */
		x->sent++;
	}
	return x->to->rx >= x->want && x->from->delivered >= x->want;
}

/* 8 MiB in 64 KiB messages, far more than the QUIC send ring holds: the
 * engine's byte window and the loop's hold keep it within the transport,
 * so nothing is dropped and nothing waits for a retransmission timeout. */
static void test_big_burst(void)
{
	static struct tnode C, D;
	struct link k = { &C, &D, primary };
	struct xfer x = { &C, &D, 0, 128, 0 };
	struct l2s_loop_peer_info info;
	struct l2s_loop_stats sc, sd;
	uint64_t t0;

	CHECK(node_new(&C, "C", 0));
	memset(&D, 0, sizeof(D));
	D.name = "D";
	D.big = 1;
	D.p = C.p;
	l2s_ed25519_keypair(D.pk, D.p.node.identity_sk);
	l2s_random(D.p.node.prekey_seed, sizeof(D.p.node.prekey_seed));
	CHECK(node_start(&D));
	C.p.cfg.retransmit_timeout_ms = 1000; /* a loopback burst never needs one */
	node_remove(&C);
	CHECK(node_start(&C));
	if (!C.l || !D.l)
		return;
	CHECK(l2s_loop_add_peer(D.l, C.pk, NULL, 0, 0) == L2S_OK);
	CHECK(l2s_loop_add_peer(C.l, D.pk, (struct sockaddr *)&D.addr, sizeof(D.addr), 1) == L2S_OK);
	CHECK(run_until(link_up, &k, 5000));
	t0 = now_ms();
	CHECK(run_until(burst_done, &x, 15000));
	printf("test_loop: 128 x 64 KiB over %s in %llu ms\n", primary_name(), (unsigned long long)(now_ms() - t0));
	CHECK(D.rx == 128 && D.rx_bad == 0 && C.delivered == 128);
	CHECK(peer_of(&C, D.pk, &info) && info.has_session && info.session.retransmits == 0);
	l2s_loop_stats(C.l, &sc);
	l2s_loop_stats(D.l, &sd);
	CHECK(sc.tx_dropped == 0 && sd.tx_dropped == 0);
	node_remove(&C);
	node_remove(&D);
}

/* ---- 2. μTCP only ----------------------------------------------------------------- */

static void test_utcp_only(void)
{
	struct tnode C;
	struct link k = { &C, &B, L2S_TRANSPORT_UTCP };
	struct l2s_loop_stats sc;

	CHECK(node_new(&C, "C", 1));
	if (!C.l)
		return;
	CHECK(l2s_loop_add_peer(B.l, C.pk, NULL, 0, 0) == L2S_OK);
	CHECK(l2s_loop_add_peer(C.l, C.pk, NULL, 0, 0) == L2S_OK); /* a peer without address: never dialled */
	CHECK(l2s_loop_add_peer(C.l, B.pk, (struct sockaddr *)&B.addr, sizeof(B.addr), 1) == L2S_OK);
	CHECK(run_until(link_up, &k, 5000));
	CHECK(both_ways(&C, &B, 300, 10000));
	CHECK(C.rx == 300 && C.rx_bad == 0);
	l2s_loop_stats(C.l, &sc);
	CHECK(sc.quic.connections == 0 && sc.tcp.connected >= 1 && sc.disc_probes == 1);
	node_remove(&C);
	/* B still serves A */
	CHECK(both_ways(&A, &B, 10, 5000));
}

/* The race: F listens on μTCP only, so E's QUIC attempt hears nothing and
 * μTCP, started happy_eyeballs_ms later, wins and carries the session. */
static void test_utcp_wins_race(void)
{
	struct tnode E, F;
	struct link k = { &E, &F, L2S_TRANSPORT_UTCP };
	struct l2s_loop_stats se;
	uint64_t t0;

	if (!need_quic("the QUIC/uTCP race"))
		return;
	CHECK(node_new(&F, "F", 1));
	CHECK(node_new(&E, "E", 0));
	if (!E.l || !F.l)
		return;
	CHECK(l2s_loop_add_peer(F.l, E.pk, NULL, 0, 0) == L2S_OK);
	CHECK(l2s_loop_add_peer(E.l, F.pk, (struct sockaddr *)&F.addr, sizeof(F.addr), 1) == L2S_OK);
	t0 = now_ms();
	CHECK(run_until(link_up, &k, 5000));
	CHECK(now_ms() - t0 >= 250); /* μTCP waited for QUIC first */
	printf("test_loop: uTCP won the race after %llu ms\n", (unsigned long long)(now_ms() - t0));
	CHECK(both_ways(&E, &F, 100, 5000));
	run_for(1300); /* a QUIC retry (every 1 s) fails quietly */
	l2s_loop_stats(E.l, &se);
	CHECK(se.quic.connected == 0 && se.tcp.connected == 1);
	CHECK(E.peer_errors == 0 && E.transport_evs == 0 && E.rx_bad == 0 && F.rx_bad == 0);
	CHECK(established(&E, F.pk, L2S_TRANSPORT_UTCP));
	node_remove(&E);
	node_remove(&F);
}

/* An idle link: both sides keep the session (connect = 1 on each), and every
 * heartbeat and QUIC keep-alive leaves after a silence longer than
 * path_timeout_ms. Nothing fails, so nothing moves (issue 8: counted from
 * the last receipt, each of them was taken for a dead carrier). */
static void node_idle_params(struct tnode *n)
{
	node_remove(n);
	n->p.cfg.heartbeat_interval_ms = 1000;
	n->p.cfg.heartbeat_reply_timeout_ms = 500;
	n->p.path_timeout_ms = 300;
	n->p.quic.keepalive_ms = 700;
	CHECK(node_start(n));
}

static void test_idle_link_stays(void)
{
	struct tnode G, H;
	struct link k = { &G, &H, primary };
	struct l2s_loop_peer_info gi, hi;

	CHECK(node_new(&G, "G", 0));
	CHECK(node_new(&H, "H", 0));
	if (!G.l || !H.l)
		return;
	node_idle_params(&G);
	node_idle_params(&H);
	CHECK(l2s_loop_add_peer(G.l, H.pk, (struct sockaddr *)&H.addr, sizeof(H.addr), 1) == L2S_OK);
	CHECK(l2s_loop_add_peer(H.l, G.pk, (struct sockaddr *)&G.addr, sizeof(G.addr), 1) == L2S_OK);
	CHECK(run_until(link_up, &k, 5000));
	CHECK(both_ways(&G, &H, 10, 5000));
	run_for(3500); /* three heartbeats, keep-alives between them */
	CHECK(link_up(&k));
	CHECK(G.transport_evs == 0 && H.transport_evs == 0);
	CHECK(peer_of(&G, H.pk, &gi) && gi.fallbacks == 0 && gi.returns == 0);
	CHECK(peer_of(&H, G.pk, &hi) && hi.fallbacks == 0 && hi.returns == 0);
	node_remove(&G);
	node_remove(&H);
}

/* ---- 3. a wrong DID key ------------------------------------------------------------- */

static int got_error(void *arg)
{
	struct tnode *n = arg;

	return n->peer_errors > 0;
}

static void test_bad_did(void)
{
	struct tnode D;
	uint8_t wrong_pk[32], wrong_sk[64];
	struct l2s_loop_stats sd;

	CHECK(node_new(&D, "D", 0));
	if (!D.l)
		return;
	l2s_ed25519_keypair(wrong_pk, wrong_sk);
	CHECK(l2s_loop_add_peer(B.l, D.pk, NULL, 0, 0) == L2S_OK);
	CHECK(l2s_loop_add_peer(D.l, wrong_pk, (struct sockaddr *)&B.addr, sizeof(B.addr), 1) == L2S_OK);
	CHECK(run_until(got_error, &D, 3000));
	CHECK(D.last_error == (uint64_t)-L2S_ERR_AUTH);
	run_for(200);
	l2s_loop_stats(D.l, &sd);
	CHECK(sd.sessions == 0 && sd.handshakes == 0);
	CHECK(!established(&D, wrong_pk, 0));
	node_remove(&D);
}

/* Nobody listens: μTCP's connect is refused, PEER_ERROR(IO), and retried. */
static void test_refused(void)
{
	struct tnode G;
	struct sockaddr_in closed = loopback(0);
	socklen_t len = sizeof(closed);
	uint8_t pk[32], sk[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* a port that was just free */
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&closed, sizeof(closed)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&closed, &len) == 0);
	close(fd);
	CHECK(node_new(&G, "G", 1));
	if (!G.l)
		return;
	l2s_ed25519_keypair(pk, sk);
	CHECK(l2s_loop_add_peer(G.l, pk, (struct sockaddr *)&closed, sizeof(closed), 1) == L2S_OK);
	CHECK(run_until(got_error, &G, 2000));
	CHECK(G.last_error == (uint64_t)-L2S_ERR_IO);
	run_for(600); /* backoff 50 .. 500 ms: it tries again */
	CHECK(G.peer_errors >= 2);
	node_remove(&G);
}

/* A listener that accepts and never answers: the in-band probe times out
 * after handshake_timeout_ms (1 s), PEER_ERROR(IO), and it is tried again. */
static void test_silent_peer(void)
{
	struct tnode G;
	struct sockaddr_in silent = loopback(0);
	socklen_t len = sizeof(silent);
	uint8_t pk[32], sk[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint64_t t0;

	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&silent, sizeof(silent)) == 0 && listen(fd, 8) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&silent, &len) == 0);
	CHECK(node_new(&G, "G", 1));
	if (!G.l)
		return;
	l2s_ed25519_keypair(pk, sk);
	CHECK(l2s_loop_add_peer(G.l, pk, (struct sockaddr *)&silent, sizeof(silent), 1) == L2S_OK);
	t0 = now_ms();
	CHECK(run_until(got_error, &G, 3000));
	CHECK(G.last_error == (uint64_t)-L2S_ERR_IO && now_ms() - t0 >= 900);
	node_remove(&G);
	close(fd);
}

/* ---- 4. raw UDP discovery ---------------------------------------------------------- */

static int udp_exchange(int fd, const uint8_t *probe, size_t len, uint8_t *ans, size_t cap, size_t *ans_len)
{
	uint64_t end = now_ms() + 2000;

	if (sendto(fd, probe, len, 0, (struct sockaddr *)&B.addr, sizeof(B.addr)) != (ssize_t)len)
		return 0;
	while (now_ms() < end) {
		ssize_t n;

		pump_once();
		n = recv(fd, ans, cap, MSG_DONTWAIT);
		if (n > 0) {
			*ans_len = (size_t)n;
			return 1;
		}
	}
	return 0;
}

static int contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return 1;
	return 0;
}

static void test_raw_discovery(void)
{
	uint8_t probe[L2S_DISC_PROBE_MAX_BYTES], ans[2048], nonce[32], bundle[L2S_PREKEY_BUNDLE_BYTES];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in any = loopback(0);
	struct l2s_disc_result res;
	struct l2s_rng rng;
	size_t pl, al = 0;

	if (!need_quic("raw UDP discovery (it answers on QUIC's UDP port)")) {
		close(fd);
		return;
	}
	l2s_rng_init_system(&rng);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&any, sizeof(any)) == 0);
	CHECK(l2s_discovery_probe_make(probe, sizeof(probe), &pl, 0, nonce, &rng, NULL) == L2S_OK);
	CHECK(udp_exchange(fd, probe, pl, ans, sizeof(ans), &al));
	CHECK(al > 0 && al <= L2S_DISC_AMPLIFICATION * pl);
	CHECK(l2s_discovery_verify(ans, al, nonce, B.pk, unix_s(), &res) == L2S_OK);
	CHECK(res.has_token && !res.has_bundle && res.n_transports == 2);
	CHECK(res.observed.port != 0 && res.observed.ip[0] == 127);
	CHECK(l2s_discovery_probe_make(probe, sizeof(probe), &pl, 0, nonce, &rng, res.token) == L2S_OK);
	CHECK(udp_exchange(fd, probe, pl, ans, sizeof(ans), &al));
	CHECK(l2s_discovery_verify(ans, al, nonce, B.pk, unix_s(), &res) == L2S_OK);
	CHECK(res.has_bundle && !res.has_token);
	CHECK(l2s_loop_bundle(B.l, bundle) == L2S_OK);
	CHECK(l2s_prekey_bundle_verify(bundle, sizeof(bundle), B.pk, unix_s()) == L2S_OK);
	/* the answer's bundle is B's own (the verify above opened it) */
	CHECK(contains(ans, al, bundle, sizeof(bundle)));
	/* The answer is for the nonce we kept: another DID does not verify. */
	CHECK(l2s_discovery_verify(ans, al, nonce, A.pk, unix_s(), &res) == L2S_ERR_AUTH);
	close(fd);
	l2s_rng_wipe(&rng);
}

/* ---- 5. QUIC blocked: μTCP carries on, QUIC comes back ---------------------------------- */

struct moved {
	struct tnode *n;
	uint64_t evs;
	int transport;
};

static int moved_to(void *arg)
{
	struct moved *m = arg;

	return m->n->transport_evs >= m->evs && m->n->last_transport == m->transport &&
	       established(&A, B.pk, m->transport);
}

static void test_fallback(void)
{
	struct xfer x[2] = { { &A, &B, 0, 600, B.rx }, { &B, &A, 0, 600, A.rx } };
	struct moved to_tcp = { &A, 1, L2S_TRANSPORT_UTCP }, to_quic = { &A, 2, L2S_TRANSPORT_QUIC };
	struct l2s_loop_peer_info info;
	uint64_t t0, a_evs = A.transport_evs, b_evs = B.transport_evs;
	uint64_t a_rx = A.rx, b_rx = B.rx;

	if (!need_quic("the fallback from QUIC to uTCP and back"))
		return;
	/* Half the transfer on QUIC, then the network eats A's QUIC datagrams. */
	x[0].want = x[1].want = 300;
	CHECK(run_until(xfers_done, x, 10000));
	x[0].want = x[1].want = 600;
	feed(&x[0]);
	feed(&x[1]);
	l2s_loop_test_block_quic(A.l, 1);
	t0 = now_ms();
	CHECK(run_until(moved_to, &to_tcp, 5000));
	printf("test_loop: fallback to uTCP after %llu ms (path timeout 600 ms)\n", (unsigned long long)(now_ms() - t0));
	CHECK(run_until(xfers_done, x, 10000));
	CHECK(A.rx - a_rx == 600 && B.rx - b_rx == 600 && A.rx_bad == 0 && B.rx_bad == 0);
	CHECK(A.transport_evs - a_evs == 1); /* one event for the move, no noise */
	CHECK(peer_of(&B, A.pk, &info) && info.transport == L2S_TRANSPORT_UTCP);
	CHECK(B.transport_evs - b_evs == 1 && B.last_transport == L2S_TRANSPORT_UTCP);
	/* The network heals: A is back on QUIC within quic_retry_ms (1 s) and a bit. */
	l2s_loop_test_block_quic(A.l, 0);
	to_quic.evs = A.transport_evs + 1;
	t0 = now_ms();
	CHECK(run_until(moved_to, &to_quic, 4000));
	CHECK(now_ms() - t0 <= 1000 + 500); /* the next retry, and its handshake */
	printf("test_loop: back on QUIC %llu ms after unblocking\n", (unsigned long long)(now_ms() - t0));
	CHECK(both_ways(&A, &B, 100, 5000));
	CHECK(A.rx_bad == 0 && B.rx_bad == 0);
	CHECK(peer_of(&A, B.pk, &info) && info.fallbacks == 1 && info.returns == 1);
	CHECK(A.transport_evs - a_evs == 2);
}

/* ---- 6. export, restart, import -------------------------------------------------------- */

static int resumed(void *arg)
{
	struct tnode *n = arg;
	struct l2s_loop_stats st;

	l2s_loop_stats(n->l, &st);
	return st.resumptions >= 1 && established(n, B.pk, 0);
}

static int got_rx(void *arg)
{
	uint64_t *want = arg;

	return B.rx >= want[0] && A.rx >= want[1];
}

static void test_export_import(void)
{
	static uint8_t blob[1 << 20];
	uint8_t buf[1024];
	struct l2s_loop_peer_info before, after, ainfo;
	struct l2s_loop_stats st;
	uint64_t want[2], upto, seq, b_rx0;
	size_t len;
	int fails = 0;

	CHECK(peer_of(&B, A.pk, &before) && before.has_session);
	b_rx0 = B.rx;
	/* 50 messages queued at A when it goes away: free flushes what it can
	 * (the acknowledgements never come back), the import sends them again */
	for (int i = 0; i < 50; i++) {
		CHECK(peer_of(&A, B.pk, &ainfo));
		len = payload(buf, ainfo.session.next_send_seq, SEED_MSG);
		fails += l2s_loop_send(A.l, B.pk, buf, len, &seq) != L2S_OK;
	}
	CHECK(fails == 0);
	CHECK(l2s_loop_export(A.l, B.pk, blob, sizeof(blob), &len) == L2S_OK);
	upto = *rx_next(&A, B.pk) - 1; /* what A's inbox has from B */
	node_remove(&A);
	A.p.node.handshake_counter = 0;
	CHECK(node_start(&A));
	if (!A.l)
		return;
	CHECK(l2s_loop_add_peer(A.l, B.pk, (struct sockaddr *)&B.addr, sizeof(B.addr), 1) == L2S_OK);
	/* B's next 5 messages are taken as delivered already (an inbox that ran ahead) */
	CHECK(l2s_loop_import(A.l, blob, len, upto + 5) == L2S_OK);
	CHECK(run_until(resumed, &A, 5000));
	l2s_loop_stats(A.l, &st);
	CHECK(st.handshakes == 0 && st.resumptions == 1);
	CHECK(peer_of(&A, B.pk, &ainfo) && ainfo.resume_ms > 0 && ainfo.resume_ms < 5000);
	/* the L2 exchange alone: within the whole, the connect not in it */
	CHECK(ainfo.resume_us > 0 && ainfo.resume_us <= ainfo.resume_ms * 1000);
	printf("test_loop: import to established in %llu ms\n", (unsigned long long)ainfo.resume_ms);
	want[0] = b_rx0 + 50;
	want[1] = 0;
	CHECK(run_until(got_rx, want, 5000));
	run_for(200);
	CHECK(B.rx == want[0] && B.rx_bad == 0); /* the 50 exactly once, in order */
	CHECK(peer_of(&B, A.pk, &after) && after.has_session);
	CHECK(memcmp(before.session.session_id, after.session.session_id, 16) == 0); /* the same session */
	/* B sends 10: the first 5 are held back by delivered_upto */
	*rx_next(&A, B.pk) = upto + 6;
	for (int i = 0; i < 10; i++) {
		CHECK(peer_of(&B, A.pk, &after));
		len = payload(buf, after.session.next_send_seq, SEED_MSG);
		CHECK(l2s_loop_send(B.l, A.pk, buf, len, &seq) == L2S_OK);
	}
	want[0] = B.rx;
	want[1] = A.rx + 5;
	CHECK(run_until(got_rx, want, 5000));
	run_for(200);
	CHECK(A.rx == want[1] && A.rx_bad == 0);
	CHECK(peer_of(&A, B.pk, &ainfo) && ainfo.rx_messages - ainfo.delivered == 5);
}

/* Restart after restart, each export taken the moment the import is
 * established (before B's TICKET for the new resumption secret could
 * arrive): every import resumes within 1 s (a resumption with the stale
 * ticket was dropped by B and waited out handshake_timeout_ms). */
static void test_resume_cycles(int cycles)
{
	static uint8_t blob[1 << 20];
	struct l2s_loop_peer_info info;
	struct l2s_loop_stats st;
	uint64_t want[2], seq;
	uint8_t buf[1024];
	int quick = 0;
	size_t len, len1;

	CHECK(l2s_loop_export(A.l, B.pk, blob, sizeof(blob), &len) == L2S_OK);
	*rx_next(&B, A.pk) = 0; /* A sent nothing since its last restore: two reserves to skip */
	for (int i = 0; i < cycles; i++) {
		node_remove(&A);
		if (!node_start(&A))
			break;
		if (l2s_loop_add_peer(A.l, B.pk, (struct sockaddr *)&B.addr, sizeof(B.addr), 1) != L2S_OK ||
		    l2s_loop_import(A.l, blob, len, *rx_next(&A, B.pk) - 1) != L2S_OK)
			break;
		if (!run_until(resumed, &A, 1000))
			continue;
		l2s_loop_stats(A.l, &st);
		quick += st.handshakes == 0 && peer_of(&A, B.pk, &info) && info.resume_us > 0;
		/* one message queued with the export, so that B steps over
		 * this restore's seq reserve before the next restore skips one */
		len1 = payload(buf, info.session.next_send_seq, SEED_MSG);
		CHECK(l2s_loop_send(A.l, B.pk, buf, len1, &seq) == L2S_OK);
		CHECK(l2s_loop_export(A.l, B.pk, blob, sizeof(blob), &len) == L2S_OK);
		want[0] = B.rx + 1;
		want[1] = 0;
		CHECK(run_until(got_rx, want, 1000));
	}
	CHECK(quick == cycles && B.rx_bad == 0);
}

/* Both sides stop cleanly (each exports) and start again on their ports,
 * the accepting side first, with their exports: the first resumption
 * succeeds (no exchange times out, no full handshake) and both ways work.
 * The time it took is printed: the goal is 100 ms (issue 9: 6-35 s); the
 * check does not depend on the machine's speed. */
static void test_both_restart(void)
{
	static uint8_t be[1 << 16], bf[1 << 16];
	struct tnode E, F;
	struct link k = { &E, &F, 0 };
	struct l2s_loop_peer_info ie, iff;
	struct l2s_loop_stats st;
	size_t le, lf;
	uint64_t t0;

	CHECK(node_new(&E, "E", 0) && node_new(&F, "F", 0));
	if (!E.l || !F.l)
		return;
	CHECK(l2s_loop_add_peer(F.l, E.pk, (struct sockaddr *)&E.addr, sizeof(E.addr), 0) == L2S_OK);
	CHECK(l2s_loop_add_peer(E.l, F.pk, (struct sockaddr *)&F.addr, sizeof(F.addr), 1) == L2S_OK);
	CHECK(run_until(link_up, &k, 5000));
	CHECK(both_ways(&E, &F, 10, 5000));
	CHECK(l2s_loop_export(E.l, F.pk, be, sizeof(be), &le) == L2S_OK);
	CHECK(l2s_loop_export(F.l, E.pk, bf, sizeof(bf), &lf) == L2S_OK);
	node_remove(&E);
	node_remove(&F);
	memcpy(&E.p.listen, &E.addr, sizeof(E.addr));
	memcpy(&F.p.listen, &F.addr, sizeof(F.addr));
	CHECK(node_start(&F));
	if (!F.l)
		return;
	CHECK(l2s_loop_add_peer(F.l, E.pk, (struct sockaddr *)&E.addr, sizeof(E.addr), 0) == L2S_OK);
	CHECK(l2s_loop_import(F.l, bf, lf, *rx_next(&F, E.pk) - 1) == L2S_OK);
	run_for(50);
	t0 = now_ms();
	CHECK(node_start(&E));
	if (!E.l)
		return;
	CHECK(l2s_loop_add_peer(E.l, F.pk, (struct sockaddr *)&F.addr, sizeof(F.addr), 1) == L2S_OK);
	CHECK(l2s_loop_import(E.l, be, le, *rx_next(&E, F.pk) - 1) == L2S_OK);
	CHECK(run_until(link_up, &k, 10000));
	printf("test_loop: both restarted, established again in %llu ms\n", (unsigned long long)(now_ms() - t0));
	CHECK(E.failed == 0 && F.failed == 0);
	CHECK(peer_of(&E, F.pk, &ie) && peer_of(&F, E.pk, &iff));
	CHECK(memcmp(ie.session.session_id, iff.session.session_id, 16) == 0);
	l2s_loop_stats(E.l, &st);
	CHECK(st.handshakes == 0);
	l2s_loop_stats(F.l, &st);
	CHECK(st.handshakes == 0);
	CHECK(both_ways(&E, &F, 10, 5000));
	CHECK(E.rx_bad == 0 && F.rx_bad == 0);
	node_remove(&E);
	node_remove(&F);
}

/* The accepting side restarts: B (connect = 0, with A's address) exports,
 * goes away, comes back on another port and imports. It resumes toward A,
 * A's session follows the connection B made, and B's queued messages
 * arrive once. */
static int b_resumed_a(void *arg)
{
	struct l2s_loop_stats st;

	(void)arg;
	l2s_loop_stats(B.l, &st);
	return st.resumptions >= 1 && established(&B, A.pk, 0) && established(&A, B.pk, 0);
}

static void test_accepting_side_import(void)
{
	static uint8_t blob[1 << 20];
	struct l2s_loop_peer_info before, after, info;
	uint8_t buf[1024];
	uint64_t seq, want[2];
	size_t len;

	CHECK(l2s_loop_add_peer(B.l, A.pk, (struct sockaddr *)&A.addr, sizeof(A.addr), 0) == L2S_OK);
	CHECK(peer_of(&A, B.pk, &before) && before.has_session);
	for (int i = 0; i < 30; i++) {
		CHECK(peer_of(&B, A.pk, &info));
		len = payload(buf, info.session.next_send_seq, SEED_MSG);
		CHECK(l2s_loop_send(B.l, A.pk, buf, len, &seq) == L2S_OK);
	}
	CHECK(l2s_loop_export(B.l, A.pk, blob, sizeof(blob), &len) == L2S_OK);
	node_remove(&B);
	CHECK(node_start(&B));
	if (!B.l)
		return;
	CHECK(l2s_loop_add_peer(B.l, A.pk, (struct sockaddr *)&A.addr, sizeof(A.addr), 0) == L2S_OK);
	CHECK(l2s_loop_import(B.l, blob, len, *rx_next(&B, A.pk) - 1) == L2S_OK);
	want[0] = 0;
	want[1] = A.rx + 30;
	CHECK(run_until(b_resumed_a, NULL, 5000));
	CHECK(run_until(got_rx, want, 5000));
	run_for(100);
	CHECK(A.rx == want[1] && A.rx_bad == 0);
	CHECK(peer_of(&A, B.pk, &after) && memcmp(before.session.session_id, after.session.session_id, 16) == 0);
	CHECK(both_ways(&A, &B, 20, 5000));
	CHECK(A.rx_bad == 0 && B.rx_bad == 0);
}

struct rx_goal {
	struct tnode *n;
	uint64_t rx;
};

static int rx_reached(void *arg)
{
	struct rx_goal *g = arg;

	return g->n->rx >= g->rx;
}

/* D loses its state and comes back with a new prekey (on another port); it
 * only accepts. C's live session cannot resume, and its fallback handshake
 * under D's old prekey goes unanswered: the loop fetches D's new bundle
 * in-band when the session fails, and the next handshake works. What C
 * queued meanwhile arrives once, in order. (Short degraded and suspended
 * timeouts: the path back passes both.) */
static void test_peer_new_prekey(void)
{
	struct tnode C, D;
	struct l2s_loop_peer_info before, info;
	struct l2s_loop_stats st0, st;
	struct link k = { &C, &D, 0 };
	struct rx_goal goal = { &D, 0 };
	uint8_t buf[1024];
	uint64_t seq;
	size_t len;
	int fails = 0;

	CHECK(node_new(&C, "C", 0) && node_new(&D, "D", 0));
	if (!C.l || !D.l)
		return;
	node_remove(&C);
	C.p.cfg.degraded_timeout_ms = 1000;
	C.p.cfg.suspended_retry_ms = 1000;
	CHECK(node_start(&C));
	CHECK(l2s_loop_add_peer(D.l, C.pk, (struct sockaddr *)&C.addr, sizeof(C.addr), 0) == L2S_OK);
	CHECK(l2s_loop_add_peer(C.l, D.pk, (struct sockaddr *)&D.addr, sizeof(D.addr), 1) == L2S_OK);
	CHECK(run_until(link_up, &k, 5000));
	CHECK(peer_of(&C, D.pk, &before));
	l2s_loop_stats(C.l, &st0);
	node_remove(&D);
	l2s_random(D.p.node.prekey_seed, sizeof(D.p.node.prekey_seed));
	CHECK(node_start(&D));
	CHECK(l2s_loop_add_peer(D.l, C.pk, (struct sockaddr *)&C.addr, sizeof(C.addr), 0) == L2S_OK);
	CHECK(l2s_loop_add_peer(C.l, D.pk, (struct sockaddr *)&D.addr, sizeof(D.addr), 1) == L2S_OK);
	for (int i = 0; i < 20; i++) {
		CHECK(peer_of(&C, D.pk, &info));
		len = payload(buf, info.session.next_send_seq, SEED_MSG);
		fails += l2s_loop_send(C.l, D.pk, buf, len, &seq) != L2S_OK;
	}
	CHECK(fails == 0);
	goal.rx = D.rx + 20;
	CHECK(run_until(link_up, &k, 60000));
	CHECK(run_until(rx_reached, &goal, 10000));
	run_for(100);
	CHECK(D.rx == goal.rx && D.rx_bad == 0);
	l2s_loop_stats(C.l, &st);
	/* a new bundle fetched, and a new session id: a full handshake */
	CHECK(st.disc_probes > st0.disc_probes);
	CHECK(peer_of(&C, D.pk, &info) && memcmp(info.session.session_id, before.session.session_id, 16) != 0);
	CHECK(both_ways(&C, &D, 20, 5000));
	CHECK(C.rx_bad == 0 && D.rx_bad == 0);
	node_remove(&C);
	node_remove(&D);
}

/* J's inbox is a full disk (/dev/full): J refuses I's messages, acknowledges
 * none (I keeps all 40), says so once (an INBOX event, the stats), and the
 * session stays up. Space returns (the fd now names a file): J takes them
 * again by itself, all 40 once and in order, and says the inbox works. */
static void test_inbox_full(void)
{
	struct tnode I, J;
	struct link k = { &I, &J, 0 };
	struct rx_goal goal = { &J, 0 };
	struct l2s_loop_peer_info info;
	struct l2s_loop_stats st;
	uint8_t buf[1024];
	uint64_t seq;
	size_t len;
	int fails = 0;
	char dir[] = "/tmp/l2s-test-full-XXXXXX", path[64], line[4096];
	FILE *later;
	int lines = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/inbox", dir);
	CHECK(symlink("/dev/full", path) == 0);
	CHECK(node_new(&I, "I", 0) && node_new(&J, "J", 0));
	if (!I.l || !J.l)
		return;
	node_remove(&J);
	J.p.inbox = path;
	CHECK(node_start(&J));
	CHECK(l2s_loop_add_peer(J.l, I.pk, (struct sockaddr *)&I.addr, sizeof(I.addr), 0) == L2S_OK);
	CHECK(l2s_loop_add_peer(I.l, J.pk, (struct sockaddr *)&J.addr, sizeof(J.addr), 1) == L2S_OK);
	CHECK(run_until(link_up, &k, 5000));
	for (int i = 0; i < 40; i++) {
		CHECK(peer_of(&I, J.pk, &info));
		len = payload(buf, info.session.next_send_seq, SEED_MSG);
		fails += l2s_loop_send(I.l, J.pk, buf, len, &seq) != L2S_OK;
	}
	CHECK(fails == 0);
	run_for(1500);
	CHECK(J.rx == 0 && J.inbox_evs[0] == 1 && J.inbox_errno == ENOSPC);
	l2s_loop_stats(J.l, &st);
	CHECK(st.inbox_failures >= 1 && st.inbox_refusing == 1 && st.inbox_errno == ENOSPC);
	CHECK(peer_of(&I, J.pk, &info) && info.session.unacked + info.session.queued >= 40);
	CHECK(link_up(&k)); /* the session itself is fine */
	/* Space returns: the inbox is opened again after a failure, now a file. */
	CHECK(unlink(path) == 0);
	goal.rx = 40;
	CHECK(run_until(rx_reached, &goal, 30000));
	run_for(200);
	CHECK(J.rx == 40 && J.rx_bad == 0 && J.inbox_evs[1] == 1);
	l2s_loop_stats(J.l, &st);
	CHECK(st.inbox_refusing == 0);
	CHECK(peer_of(&I, J.pk, &info) && info.session.unacked == 0);
	node_remove(&I);
	node_remove(&J);
	CHECK((later = fopen(path, "r")) != NULL);
	while (later && fgets(line, sizeof(line), later))
		lines++;
	CHECK(lines == 40);
	if (later)
		fclose(later);
	unlink(path);
	rmdir(dir);
}

/* A DID that is not B's peer (and B has no accept_any): its session is
 * closed at ACCEPTED and it gets no answer, so it never gets established. */
static void test_not_a_peer(void)
{
	struct tnode H;
	size_t peers = l2s_loop_peer_count(B.l);
	uint64_t accepted = B.accepted;

	CHECK(node_new(&H, "H", 0));
	if (!H.l)
		return;
	CHECK(l2s_loop_add_peer(H.l, B.pk, (struct sockaddr *)&B.addr, sizeof(B.addr), 1) == L2S_OK);
	run_for(800);
	CHECK(!established(&H, B.pk, 0));
	CHECK(l2s_loop_peer_count(B.l) == peers && B.accepted == accepted);
	CHECK(H.accepted == 0 && H.transport_evs == 0);
	node_remove(&H);
}

/* accept_any: a stranger's session is accepted and its DID listed as a
 * peer (connect 0, no address). */
static void test_accept_any(void)
{
	struct tnode J, K;
	struct link k = { &J, &K, primary };
	struct l2s_loop_peer_info info;
	uint8_t sk[64], key[32];

	memset(&K, 0, sizeof(K));
	K.name = "K";
	l2s_ed25519_keypair(K.pk, sk);
	l2s_random(key, sizeof(key));
	node_params(&K.p, sk, key);
	K.p.accept_any = 1;
	CHECK(node_start(&K));
	CHECK(node_new(&J, "J", 0));
	if (!J.l || !K.l)
		return;
	CHECK(l2s_loop_add_peer(J.l, K.pk, (struct sockaddr *)&K.addr, sizeof(K.addr), 1) == L2S_OK);
	CHECK(run_until(link_up, &k, 5000));
	CHECK(l2s_loop_peer_count(K.l) == 1);
	CHECK(l2s_loop_peer_info(K.l, 0, &info) == L2S_OK && memcmp(info.pk, J.pk, 32) == 0);
	CHECK(info.connect == 0 && info.addr_len == 0 && info.has_session && info.transport == primary);
	CHECK(both_ways(&J, &K, 20, 5000));
	node_remove(&J);
	node_remove(&K);
	l2s_wipe(sk, sizeof(sk));
}

/* With the peer's bundle cached, the INIT is prepared while the connection
 * is made and the handshake uses it: by the loop after its round's flush
 * (BY_LOOP), or by the caller's thread (l2s_loop_connect_prepared,
 * BY_CALLER), and then never by the loop. A carrier that is up before the
 * caller's job is done waits for it (HELD: the job takes 300 ms more here),
 * but not beyond its bound (HOLD_RUNS_OUT: a 20 ms bound, then the loop
 * makes the INIT itself, and the late job is dropped). Without a bundle
 * (in-band discovery first, NO_BUNDLE) nothing is prepared. Either way the
 * session works. */
enum { BY_LOOP, BY_CALLER, HELD, HOLD_RUNS_OUT, NO_BUNDLE };

struct caller {
	struct l2s_loop *l;
	const uint8_t *pk;
	int ret;
};

static void *connect_prepared_thread(void *arg)
{
	struct caller *c = arg;

	c->ret = l2s_loop_connect_prepared(c->l, c->pk);
	return NULL;
}

static void prepared_pair(int how)
{
	struct tnode J, K;
	struct link k = { &J, &K, primary };
	struct l2s_loop_stats sj, sk;
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES], stranger[L2S_ED25519_PK_BYTES] = { 7 };
	int by_caller = how == BY_CALLER || how == HELD, by_loop = how == BY_LOOP;
	struct caller c = { 0 };
	pthread_t th;
	uint64_t t0, up_ms;

	CHECK(node_new(&K, "K", 0));
	CHECK(node_new(&J, "J", 0));
	if (!J.l || !K.l)
		return;
	CHECK(l2s_loop_add_peer(K.l, J.pk, NULL, 0, 0) == L2S_OK);
	CHECK(l2s_loop_bundle(K.l, bundle) == L2S_OK);
	CHECK(l2s_loop_add_peer(J.l, K.pk, NULL, 0, 0) == L2S_OK);
	if (how != NO_BUNDLE)
		CHECK(l2s_loop_set_peer_bundle(J.l, K.pk, bundle, sizeof(bundle)) == L2S_OK);
	t0 = now_ms();
	if (how == BY_LOOP) {
		CHECK(l2s_loop_add_peer(J.l, K.pk, (struct sockaddr *)&K.addr, sizeof(K.addr), 1) == L2S_OK);
	} else if (how == HELD || how == HOLD_RUNS_OUT) {
		/* the caller's own thread, while this one runs the loops */
		CHECK(l2s_loop_add_peer(J.l, K.pk, (struct sockaddr *)&K.addr, sizeof(K.addr), 0) == L2S_OK);
		l2s_loop_test_prepare_delay(J.l, how == HELD ? 300 : 1000, how == HELD ? 10000 : 20);
		c = (struct caller){ J.l, K.pk, -1 };
		CHECK(pthread_create(&th, NULL, connect_prepared_thread, &c) == 0);
	} else {
		CHECK(l2s_loop_connect_prepared(J.l, stranger) == L2S_ERR_NOT_FOUND);
		CHECK(l2s_loop_connect_prepared(J.l, K.pk) == L2S_ERR_CONFIG); /* no address yet */
		CHECK(l2s_loop_add_peer(J.l, K.pk, (struct sockaddr *)&K.addr, sizeof(K.addr), 0) == L2S_OK);
		CHECK(l2s_loop_connect_prepared(J.l, K.pk) == L2S_OK);
	}
	CHECK(run_until(link_up, &k, 5000));
	up_ms = now_ms() - t0;
	if (how == HELD)
		CHECK(up_ms >= 300); /* it waited for the job */
	if (how == HOLD_RUNS_OUT)
		CHECK(up_ms < 1000); /* it did not */
	if (how == HELD || how == HOLD_RUNS_OUT) {
		CHECK(pthread_join(th, NULL) == 0);
		CHECK(c.ret == L2S_OK);
	}
	l2s_loop_stats(J.l, &sj);
	l2s_loop_stats(K.l, &sk);
	CHECK(sj.handshakes == 1 && sj.disc_probes == (how == NO_BUNDLE));
	CHECK(sj.handshakes_prepared == (uint64_t)(by_caller || by_loop));
	CHECK(sj.prepared_by_caller == (uint64_t)by_caller && sj.prepared_by_loop == (uint64_t)by_loop);
	CHECK(sk.prepared_by_caller == 0 && sk.prepared_by_loop == 0 && sk.handshakes_prepared == 0);
	CHECK(both_ways(&J, &K, 20, 5000));
	node_remove(&J);
	node_remove(&K);
}

static void test_prepared_handshake(void)
{
	prepared_pair(BY_LOOP);
	prepared_pair(BY_CALLER);
	prepared_pair(HELD);
	prepared_pair(HOLD_RUNS_OUT);
	prepared_pair(NO_BUNDLE);
}

struct carried {
	struct tnode *n;
	const uint8_t *pk;
	int transport;
};

static int carried_by(void *arg)
{
	struct carried *c = arg;
	struct l2s_loop_peer_info info;

	return peer_of(c->n, c->pk, &info) && info.has_session && info.transport == c->transport;
}

/* IPv6: the same over [::1], QUIC then μTCP after a block (μTCP alone
 * without QUIC). */
static void test_ipv6(void)
{
	struct tnode V, W;
	struct sockaddr_in6 a6;
	struct link k = { &V, &W, primary };
	struct carried w_tcp = { &W, V.pk, L2S_TRANSPORT_UTCP };
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t sk[64], key[32];
	struct tnode *both[2] = { &V, &W };

	for (int i = 0; i < 2; i++) {
		struct tnode *n = both[i];

		memset(n, 0, sizeof(*n));
		n->name = i ? "W" : "V";
		l2s_ed25519_keypair(n->pk, sk);
		l2s_random(key, sizeof(key));
		node_params(&n->p, sk, key);
		memset(&a6, 0, sizeof(a6));
		a6.sin6_family = AF_INET6;
		a6.sin6_addr = in6addr_loopback;
		memcpy(&n->p.listen, &a6, sizeof(a6));
		n->p.listen_len = sizeof(a6);
		if (l2s_loop_new(&n->l, &n->p) != L2S_OK) {
			CHECK(0);
			return;
		}
		nodes[nnodes++] = n;
	}
	l2s_wipe(sk, sizeof(sk));
	CHECK(l2s_loop_local_addr(W.l, &ss, &len) == L2S_OK && ss.ss_family == AF_INET6);
	CHECK(l2s_loop_add_peer(W.l, V.pk, NULL, 0, 0) == L2S_OK);
	CHECK(l2s_loop_add_peer(V.l, W.pk, (struct sockaddr *)&ss, len, 1) == L2S_OK);
	CHECK(run_until(link_up, &k, 5000));
	CHECK(both_ways(&V, &W, 100, 5000));
	if (need_quic("IPv6 fallback from QUIC to uTCP")) {
		l2s_loop_test_block_quic(V.l, 1);
		CHECK(run_until(carried_by, &w_tcp, 5000));
		CHECK(both_ways(&V, &W, 100, 5000));
		CHECK(V.rx == 200 && W.rx == 200);
		CHECK(V.transport_evs == 1 && W.transport_evs == 1);
	} else {
		CHECK(V.rx == 100 && W.rx == 100);
		CHECK(V.transport_evs == 0 && W.transport_evs == 0);
	}
	CHECK(V.rx_bad == 0 && W.rx_bad == 0);
	node_remove(&V);
	node_remove(&W);
}

/* ---- 7. junk at the ports ------------------------------------------------------------------- */

static int tcp_to(const struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (const struct sockaddr *)a, sizeof(*a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_junk(void)
{
	struct l2s_loop_stats s0, s1;
	uint8_t buf[1400];
	int u = socket(AF_INET, SOCK_DGRAM, 0), t;
	uint64_t dropped0 = 0, dropped1 = 0;

	l2s_loop_stats(B.l, &s0);
	if (!need_quic("junk at the UDP port (QUIC's)")) {
		close(u);
		u = -1;
	}
	for (int i = 0; u >= 0 && i < 200; i++) {
		size_t len = 1 + (size_t)(i * 53) % sizeof(buf);

		l2s_random(buf, len);
		if (i % 2)
			buf[0] &= (uint8_t)~0x40; /* not QUIC: discovery's junk */
		sendto(u, buf, len, 0, (struct sockaddr *)&B.addr, sizeof(B.addr));
		if (i % 20 == 0)
			pump_once();
	}
	/* μTCP: a frame of random bytes, then an oversized length */
	t = tcp_to(&B.addr);
	CHECK(t >= 0);
	if (t >= 0) {
		uint8_t frame[4 + 300] = { 0, 0, 1, 44 };
		uint8_t big[4] = { 0x7f, 0xff, 0xff, 0xff };

		l2s_random(frame + 4, 300);
		frame[4] = 1; /* version 1, TRANSPORT, garbage after */
		frame[5] = 4;
		CHECK(write(t, frame, sizeof(frame)) == (ssize_t)sizeof(frame));
		run_for(100);
		CHECK(write(t, big, sizeof(big)) == (ssize_t)sizeof(big));
		run_for(100);
		close(t);
	}
	/* and a truncated frame */
	t = tcp_to(&B.addr);
	if (t >= 0) {
		uint8_t part[6] = { 0, 0, 4, 0, 1, 4 };

		CHECK(write(t, part, sizeof(part)) == (ssize_t)sizeof(part));
		run_for(50);
		close(t);
	}
	/* a connection that says nothing is closed after 2 handshake timeouts */
	t = tcp_to(&B.addr);
	CHECK(t >= 0);
	if (t >= 0) {
		uint64_t end = now_ms() + 4000;
		ssize_t n = -1;

		while (now_ms() < end && n != 0) {
			pump_once();
			n = recv(t, buf, sizeof(buf), MSG_DONTWAIT);
		}
		CHECK(n == 0); /* EOF: B closed it */
		close(t);
	}
	/* ... and so is one kept busy that never authenticates (junk every 200 ms) */
	t = tcp_to(&B.addr);
	CHECK(t >= 0);
	if (t >= 0) {
		uint8_t frame[4 + 40] = { 0, 0, 0, 40, 1, 4 };
		uint64_t end = now_ms() + 4000, next = 0;
		ssize_t n = -1;

		while (now_ms() < end && n != 0) {
			if (now_ms() >= next) {
				l2s_random(frame + 6, sizeof(frame) - 6);
				if (write(t, frame, sizeof(frame)) < 0)
					break;
				next = now_ms() + 200;
			}
			pump_once();
			n = recv(t, buf, sizeof(buf), MSG_DONTWAIT);
		}
		CHECK(n == 0 || (n < 0 && errno == ECONNRESET)); /* B closed it */
		close(t);
	}
	run_for(200);
	l2s_loop_stats(B.l, &s1);
	CHECK(s1.paths_unproven_closed > s0.paths_unproven_closed);
	for (int i = 0; i < 17; i++) {
		dropped0 += s0.rx_dropped[i];
		dropped1 += s1.rx_dropped[i];
	}
	if (u >= 0) {
		CHECK(s1.quic.rx_dropped + s1.disc_dropped + s1.quic.datagrams_dropped - s0.quic.rx_dropped -
			      s0.disc_dropped - s0.quic.datagrams_dropped >=
		      190);
		CHECK(s1.disc_dropped > s0.disc_dropped);
	}
	CHECK(s1.tcp.framing_errors == s0.tcp.framing_errors + 1);
	CHECK(dropped1 > dropped0); /* the random frame reached the node and was refused */
	CHECK(both_ways(&A, &B, 50, 5000));
	CHECK(A.rx_bad == 0 && B.rx_bad == 0);
	if (u >= 0)
		close(u);
}

/* ---- 8. the event queue bound --------------------------------------------------------------- */

static int b_acked(void *arg)
{
	struct l2s_loop_peer_info info;

	(void)arg;
	return peer_of(&B, A.pk, &info) && info.has_session && info.session.unacked == 0;
}

static void test_event_bound(void)
{
	struct xfer x = { &A, &B, 0, 1500, B.rx };
	uint64_t end, moves = A.transport_evs, rx0, peak = 0, base;

	/* B's own sends acknowledged, so that what B holds is A's messages (an
	 * acknowledgement may release many DELIVERED events at once). */
	CHECK(run_until(b_acked, NULL, 3000));
	run_for(100);
	queue_start(&B, &base);
	rx0 = B.rx;
	/* B's limit is 64: the loop stops taking messages at 32 waiting events. */
	B.hold = 1;
	end = now_ms() + 1500;
	while (now_ms() < end) {
		feed(&x);
		pump_once();
		queue_peak(&B, base, &peak);
	}
	/* (the loop's own events_peak counts earlier tests: DELIVERED events
	 * of one acknowledgement may go beyond the pause, l2s_loop.h) */
	CHECK(peak >= 32 && peak <= 32 + 8);
	printf("test_loop: held events peaked at %llu (limit 64), %llu of 1500 sent\n", (unsigned long long)peak,
	       (unsigned long long)x.sent);
	B.hold = 0;
	drain(&B);
	CHECK(B.rx - rx0 >= 28); /* what was held was mostly A's messages */
	end = now_ms() + 20000;
	while (now_ms() < end && B.rx - x.base < 1500) {
		feed(&x);
		pump_once();
		queue_peak(&B, base, &peak);
	}
	CHECK(B.rx - x.base == 1500 && B.rx_bad == 0);
	CHECK(peak <= 32 + 8);
	/* the transport acknowledged the held data: no false path failure */
	CHECK(A.transport_evs == moves);
}

/* ---- 9. l2s_loop_run on a thread ------------------------------------------------------------- */

static void *run_thread(void *arg)
{
	return (void *)(intptr_t)l2s_loop_run(arg);
}

static void test_thread(void)
{
	pthread_t th;
	struct l2s_loop_event ev;
	struct l2s_loop_peer_info info;
	uint8_t buf[1024];
	size_t len;
	uint64_t seq, end, got = 0;
	void *ret;

	/* B runs on its own thread; A is pumped here. */
	for (int i = 0; i < nnodes; i++)
		if (nodes[i] == &B)
			nodes[i] = nodes[--nnodes];
	CHECK(pthread_create(&th, NULL, run_thread, B.l) == 0);
	CHECK(peer_of(&A, B.pk, &info));
	len = payload(buf, info.session.next_send_seq, SEED_MSG);
	CHECK(l2s_loop_send(A.l, B.pk, buf, len, &seq) == L2S_OK);
	end = now_ms() + 5000;
	while (now_ms() < end && !got) {
		pump_once();
		if (l2s_loop_wait_event(B.l, 10) == 1)
			while (l2s_loop_next_event(B.l, &ev))
				got += ev.type == L2S_EV_MESSAGE && ev.seq == seq;
	}
	CHECK(got == 1);
	/* idle: the loop sleeps until its next timer, it does not spin (A is
	 * kept running, or B would rightly find its path silent) */
	{
		struct l2s_loop_stats s0, s1;

		run_for(100);
		l2s_loop_stats(B.l, &s0);
		run_for(500);
		l2s_loop_stats(B.l, &s1);
		CHECK(s1.rounds - s0.rounds < 50);
		printf("test_loop: %llu rounds in 500 idle ms\n", (unsigned long long)(s1.rounds - s0.rounds));
	}
	l2s_loop_stop(B.l);
	CHECK(pthread_join(th, &ret) == 0 && ret == NULL);
	CHECK(l2s_loop_wait_event(B.l, -1) == 0); /* stopped: returns at once */
	nodes[nnodes++] = &B;
}

static int b_closed(void *arg)
{
	struct l2s_loop_stats st;

	(void)arg;
	l2s_loop_stats(A.l, &st);
	return B.closed >= 1 && st.quic.connections == 0 && st.tcp.connections == 0;
}

/* A ends its session with B: B hears CLOSE, A's connections go, and A does
 * not dial again. */
static void test_close_peer(void)
{
	struct l2s_loop_stats st;
	uint64_t errors = A.peer_errors;

	CHECK(l2s_loop_close_peer(A.l, B.pk) == L2S_OK);
	CHECK(run_until(b_closed, NULL, 3000));
	run_for(700);
	l2s_loop_stats(A.l, &st);
	CHECK(st.quic.connections == 0 && st.tcp.connections == 0 && st.sessions == 0);
	CHECK(A.peer_errors == errors);
	CHECK(l2s_loop_send(A.l, B.pk, (const uint8_t *)"x", 1, NULL) == L2S_ERR_NOT_FOUND);
}

int main(void)
{
	uint64_t t0 = now_ms();

	if (l2s_init() != L2S_OK)
		return 1;
	quic_built = l2s_loop_has_quic();
	primary = quic_built ? L2S_TRANSPORT_QUIC : L2S_TRANSPORT_UTCP;
	if (!quic_built)
		printf("test_loop: this build has uTCP and discovery only: every node runs with no_quic\n");
	/* A and B ask for QUIC (no_quic = 0): a build without it runs them on μTCP. */
	CHECK(node_new(&A, "A", 0));
	CHECK(node_new(&B, "B", 0));
	if (!A.l || !B.l)
		return tu_finish("test_loop");
	l2s_loop_free(B.l);
	nnodes = 1;
	B.p.event_queue_limit = 64;
	{
		int fd = mkstemp(inbox_path);

		CHECK(fd >= 0 && (inbox = fdopen(fd, "r")) != NULL);
		B.p.inbox = inbox_path;
		B.p.inbox_sync = 1;
	}
	CHECK(node_start(&B));
	test_quic_session();
	test_send_many();
	test_big_burst();
	test_utcp_only();
	test_utcp_wins_race();
	test_idle_link_stays();
	test_bad_did();
	test_refused();
	test_silent_peer();
	test_raw_discovery();
	test_fallback();
	test_export_import();
	test_resume_cycles(50);
	test_accepting_side_import();
	test_peer_new_prekey();
	test_both_restart();
	test_inbox_full();
	test_not_a_peer();
	test_accept_any();
	test_prepared_handshake();
	test_ipv6();
	test_junk();
	test_event_bound();
	test_thread();
	test_close_peer();
	for (int i = nnodes - 1; i >= 0; i--)
		node_remove(nodes[i]);
	if (inbox)
		fclose(inbox);
	printf("test_loop: %llu ms\n", (unsigned long long)(now_ms() - t0));
	unlink(inbox_path);
	return tu_finish("test_loop");
}
