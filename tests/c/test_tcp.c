// SPDX-License-Identifier: Apache-2.0
/* The μTCP transport (csrc/transport/tcp.h) over real sockets on 127.0.0.1, driven by
 * a small poll() loop: connect, 1,000 messages each way of 0..65,577 bytes
 * through 4 KiB socket buffers (partial reads and writes), QUEUE_FULL
 * back-pressure, an oversized length, junk on a fresh connection, a reset,
 * peer close, a connect timeout, a refused connect and the connection
 * bound. Every wait has a deadline; nothing sleeps. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport/tcp.h"
#include "testutil.h"
#include "netutil.h"

#define NMSG 1000
#define MAXREC 32
#define WAIT_MS 20000

/* What one end of one connection has seen. */
struct rec {
	uint32_t conn;
	int connected, closed, reason, error;
	uint32_t rx, rx_bad, dir; /* dir: the pattern the peer sends */
};

struct ep {
	struct l2s_tcp *t;
	int untrusting; /* 0: trusts what it accepts at once, as the loop does once a session authenticates */
	struct rec recs[MAXREC];
	int nrec;
};

static struct ep *eps[4];
static int neps;
static uint8_t msgbuf[L2S_MAX_MESSAGE];

static size_t msg_len(uint32_t i)
{
	return (size_t)((uint64_t)i * L2S_MAX_MESSAGE / (NMSG - 1));
}

static uint8_t msg_byte(uint32_t dir, uint32_t i, size_t j)
{
	return (uint8_t)(i * 131 + j * 7 + dir * 29);
}

static const uint8_t *make_msg(uint32_t dir, uint32_t i)
{
	for (size_t j = 0; j < msg_len(i); j++)
		msgbuf[j] = msg_byte(dir, i, j);
	return msgbuf;
}

static struct rec *rec_of(struct ep *e, uint32_t conn)
{
	for (int i = 0; i < e->nrec; i++)
		if (e->recs[i].conn == conn)
			return &e->recs[i];
	if (e->nrec == MAXREC)
		return NULL;
	memset(&e->recs[e->nrec], 0, sizeof(e->recs[0]));
	e->recs[e->nrec].conn = conn;
	return &e->recs[e->nrec++];
}

static void on_message(struct rec *r, const struct l2s_tcp_event *ev)
{
	int ok = ev->len == msg_len(r->rx);

	for (size_t j = 0; ok && j < ev->len; j++)
		ok = ev->data[j] == msg_byte(r->dir, r->rx, j);
	if (!ok)
		r->rx_bad++;
	r->rx++;
}

static void drain(struct ep *e)
{
	struct l2s_tcp_event ev;

	while (l2s_tcp_next_event(e->t, &ev)) {
		struct rec *r = rec_of(e, ev.conn);

		if (!r)
			continue;
		if (ev.type == L2S_TCP_EV_CONNECTED) {
			r->connected++;
			if (!ev.outbound && !e->untrusting)
				CHECK(l2s_tcp_trust(e->t, ev.conn) == L2S_OK);
		}
		else if (ev.type == L2S_TCP_EV_MESSAGE)
			on_message(r, &ev);
		else if (ev.type == L2S_TCP_EV_CLOSED) {
			r->closed++;
			r->reason = ev.reason;
			r->error = ev.error;
		}
	}
}

/* One round over every endpoint: poll (at most timeout ms), I/O, timers, events. */
static void pump(int timeout)
{
	struct pollfd pfds[64];
	struct ep *owner[64];
	size_t n = 0;

	for (int i = 0; i < neps; i++) {
		size_t k = eps[i]->t ? l2s_tcp_pollfds(eps[i]->t, pfds + n, 64 - n) : 0;

		CHECK(n + k <= 64);
		for (size_t j = n; j < n + k && j < 64; j++)
			owner[j] = eps[i];
		n += k;
	}
	poll(pfds, n, timeout);
	for (size_t j = 0; j < n; j++)
		l2s_tcp_on_io(owner[j]->t, pfds[j].fd, pfds[j].revents, now_ms());
	for (int i = 0; i < neps; i++) {
		if (!eps[i]->t)
			continue;
		l2s_tcp_on_timer(eps[i]->t, now_ms());
		drain(eps[i]);
	}
}

#define WAIT_FOR(cond)                                          \
	do {                                                    \
		uint64_t dl_ = now_ms() + WAIT_MS;              \
		while (!(cond) && now_ms() < dl_)               \
			pump(20);                               \
		CHECK(cond);                                    \
	} while (0)

static struct sockaddr_in addr_of(struct ep *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct sockaddr_in a;

	CHECK(l2s_tcp_local_addr(e->t, &ss, &len) == L2S_OK);
	memcpy(&a, &ss, sizeof(a));
	return a;
}

static struct rec *connect_to(struct ep *from, struct ep *to, int *nto_before)
{
	struct sockaddr_in a = addr_of(to);
	uint32_t h;

	*nto_before = to->nrec;
	CHECK(l2s_tcp_connect(from->t, (struct sockaddr *)&a, sizeof(a), now_ms(), &h) == L2S_OK);
	CHECK(h != 0);
	return rec_of(from, h);
}

/* Both directions at once, sending whenever the queue takes more. */
static void exchange(struct ep *a, struct rec *ra, struct ep *b, struct rec *rb)
{
	uint32_t sa = 0, sb = 0, partial = 0;
	uint64_t dl = now_ms() + 60000;

	ra->dir = 2;
	rb->dir = 1;
	while ((ra->rx < NMSG || rb->rx < NMSG) && now_ms() < dl) {
		while (sa < NMSG && l2s_tcp_send(a->t, ra->conn, make_msg(1, sa), msg_len(sa)) == L2S_OK)
			sa++;
		while (sb < NMSG && l2s_tcp_send(b->t, rb->conn, make_msg(2, sb), msg_len(sb)) == L2S_OK)
			sb++;
		if (l2s_tcp_queued(a->t, ra->conn) > 0)
			partial++; /* the 4 KiB socket did not take a whole message */
		pump(20);
	}
	CHECK(partial > 0);
	CHECK(sa == NMSG && sb == NMSG);
	CHECK(ra->rx == NMSG && rb->rx == NMSG);
	CHECK(ra->rx_bad == 0 && rb->rx_bad == 0);
}

/* Checks that ra <-> rb still carries a message both ways. */
static void still_works(struct ep *a, struct rec *ra, struct ep *b, struct rec *rb)
{
	uint32_t xa = ra->rx, xb = rb->rx;

	/* Continue each pattern where it stands: message index rx. */
	CHECK(l2s_tcp_send(a->t, ra->conn, make_msg(1, rb->rx % NMSG), msg_len(rb->rx % NMSG)) == L2S_OK);
	CHECK(l2s_tcp_send(b->t, rb->conn, make_msg(2, ra->rx % NMSG), msg_len(ra->rx % NMSG)) == L2S_OK);
	ra->rx %= NMSG;
	rb->rx %= NMSG;
	xa %= NMSG;
	xb %= NMSG;
	WAIT_FOR(ra->rx == xa + 1 && rb->rx == xb + 1);
	CHECK(ra->rx_bad == 0 && rb->rx_bad == 0 && !ra->closed && !rb->closed);
}

/* ---- untrusted connections are shed (tcp.h) ------------------------------------ */

/* A plain client socket from host 127.0.0.<last> to e, connected. */
static int raw_client(struct ep *e, int last)
{
	struct sockaddr_in a = addr_of(e), from = loopback(0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	from.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)last);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&from, sizeof(from)) == 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

static int open_conns(struct ep *e)
{
	int n = 0;

	for (int i = 0; i < e->nrec; i++)
		n += e->recs[i].connected && !e->recs[i].closed;
	return n;
}

/* D accepts but trusts nothing by itself (a node before any session
 * authenticates): 8 slots, at most 4 untrusted, 16 KiB queued for one,
 * a 5 s life (room for a loaded machine), a 256 KiB budget. */
static void test_shedding(void)
{
	struct sockaddr_in any = loopback(0);
	struct l2s_tcp_params p = {
		.sock_sndbuf = 4096, .sock_rcvbuf = 4096, .max_connections = 8, .max_untrusted = 4,
		.untrusted_send_bytes = 16 << 10, .auth_timeout_ms = 5000, .memory_budget = 256 << 10,
	};
	struct ep D = { .untrusting = 1 };
	struct l2s_tcp_stats st;
	int fds[16], newcomer, sent = 0, rc;

	CHECK(l2s_tcp_new(&D.t, (struct sockaddr *)&any, sizeof(any), &p) == L2S_OK);
	if (!D.t)
		return;
	eps[neps++] = &D;

	/* A client that never reads: D's answers pile up for it and, past
	 * 16 KiB that it did not take, it is shed (the socket buffers took some). */
	fds[0] = raw_client(&D, 1);
	WAIT_FOR(D.nrec == 1 && D.recs[0].connected);
	while ((rc = l2s_tcp_send(D.t, D.recs[0].conn, make_msg(0, 60), 1200)) == L2S_OK && sent < 10000)
		sent++;
	CHECK(rc == L2S_ERR_NOT_FOUND && sent > 10);
	WAIT_FOR(D.recs[0].closed && D.recs[0].reason == L2S_TCP_CLOSE_SHED);
	l2s_tcp_get_stats(D.t, &st);
	CHECK(st.shed_not_reading == 1 && st.held_bytes == 0 && st.untrusted == 0);
	close(fds[0]);

	/* Untrusted connections never hold every slot: 12 from one host, then
	 * a newcomer from another, then 6 more from the first. The newcomer
	 * outlives them all (the shed one is the oldest of the busiest host),
	 * and never more than 4 are open. */
	for (int i = 0; i < 12; i++) {
		fds[i] = raw_client(&D, 1);
		pump(5);
	}
	WAIT_FOR(D.nrec == 13);
	newcomer = raw_client(&D, 2);
	WAIT_FOR(D.nrec == 14 && D.recs[13].connected);
	for (int i = 0; i < 6; i++) {
		close(fds[i]);
		fds[i] = raw_client(&D, 1);
		pump(5);
	}
	WAIT_FOR(D.nrec == 20);
	l2s_tcp_get_stats(D.t, &st);
	CHECK(st.untrusted <= 4 && open_conns(&D) <= 4 && st.shed_for_new >= 1);
	CHECK(!D.recs[13].closed);
	/* A session authenticated on the newcomer's connection: it stays past
	 * the 5 s that end every untrusted one. */
	CHECK(l2s_tcp_trust(D.t, D.recs[13].conn) == L2S_OK);
	WAIT_FOR(open_conns(&D) == 1);
	l2s_tcp_get_stats(D.t, &st);
	CHECK(st.shed_unauthenticated >= 1 && st.untrusted == 0 && !D.recs[13].closed);

	/* The budget: the trusted newcomer, not reading, is held back at
	 * 256 KiB (back-pressure, nothing dropped) ... */
	sent = 0;
	while ((rc = l2s_tcp_send(D.t, D.recs[13].conn, make_msg(0, 999), L2S_MAX_MESSAGE)) == L2S_OK)
		sent++;
	while (l2s_tcp_send(D.t, D.recs[13].conn, make_msg(0, 60), 1200) == L2S_OK)
		;
	l2s_tcp_get_stats(D.t, &st);
	CHECK(rc == L2S_ERR_QUEUE_FULL && sent >= 1 && st.held_bytes <= p.memory_budget);
	/* ... and an untrusted connection's send past the budget sheds it. */
	fds[15] = raw_client(&D, 3);
	WAIT_FOR(D.nrec == 21 && D.recs[20].connected);
	CHECK(l2s_tcp_send(D.t, D.recs[20].conn, make_msg(0, 60), 1200) == L2S_ERR_NOT_FOUND);
	WAIT_FOR(D.recs[20].closed && D.recs[20].reason == L2S_TCP_CLOSE_SHED);
	l2s_tcp_get_stats(D.t, &st);
	CHECK(st.shed_budget == 1 && !D.recs[13].closed);

	for (int i = 0; i < 12; i++)
		close(fds[i]);
	close(fds[15]);
	close(newcomer);
	neps--;
	l2s_tcp_free(D.t);
}

static void reclaim(void *t, uint64_t n)
{
	l2s_tcp_reclaim(t, n);
}

/* A session's send needs the budget that an untrusted connection holds
 * (half a message it never finishes): that connection is shed for it (as
 * the loop, the budget's owner, has it). */
static void test_reclaim(void)
{
	struct sockaddr_in any = loopback(0);
	struct l2s_budget budget = {.limit = 128 << 10};
	struct l2s_tcp_params p = {.sock_sndbuf = 4096, .sock_rcvbuf = 4096, .budget = &budget};
	struct ep E = { .untrusting = 1 };
	struct l2s_tcp_stats st;
	uint8_t half[4 + 60000] = {0};
	uint32_t be;
	int holder, session, rc;

	CHECK(l2s_tcp_new(&E.t, (struct sockaddr *)&any, sizeof(any), &p) == L2S_OK);
	if (!E.t)
		return;
	budget.reclaim = reclaim;
	budget.ctx = E.t;
	eps[neps++] = &E;
	holder = raw_client(&E, 4);
	session = raw_client(&E, 5);
	WAIT_FOR(E.nrec == 2 && E.recs[0].connected && E.recs[1].connected);
	be = htonl(65000); /* announces 65,000 bytes, sends 60,000 */
	memcpy(half, &be, 4);
	CHECK(write(holder, half, sizeof(half)) == (ssize_t)sizeof(half));
	WAIT_FOR(budget.used >= 60000);
	CHECK(l2s_tcp_trust(E.t, E.recs[1].conn) == L2S_OK);
	/* the session's peer does not read: its queue fills the budget */
	while ((rc = l2s_tcp_send(E.t, E.recs[1].conn, make_msg(0, 60), 1200)) == L2S_OK)
		;
	l2s_tcp_get_stats(E.t, &st);
	/* more queued than fitted beside the holder's 60,000 */
	CHECK(rc == L2S_ERR_QUEUE_FULL && st.held_bytes > budget.limit - 60000 && budget.used <= budget.limit);
	CHECK(st.shed_budget == 1);
	pump(5); /* the shed connection's CLOSED event */
	CHECK(E.recs[0].closed && E.recs[0].reason == L2S_TCP_CLOSE_SHED && !E.recs[1].closed);
	close(holder);
	close(session);
	neps--;
	l2s_tcp_free(E.t);
	CHECK(budget.used == 0); /* every byte drawn was given back */
}

int main(void)
{
	struct sockaddr_in any = loopback(0);
	struct l2s_tcp_params p = {
		.sock_sndbuf = 4096,
		.sock_rcvbuf = 4096,
		.send_buffer_bytes = L2S_TCP_FRAME_OVERHEAD + L2S_MAX_MESSAGE,
		.recv_buffer_bytes = L2S_TCP_FRAME_OVERHEAD + L2S_MAX_MESSAGE,
		.max_connections = 4,
		.max_untrusted = 4, /* connections accepted in one round all stay (test_shedding: fewer) */
	};
	struct ep A = { 0 }, B = { 0 }, C = { 0 };
	struct l2s_tcp_stats st;
	struct rec *ab, *ba, *cb, *ac;
	int before;

	CHECK(l2s_tcp_new(&A.t, (struct sockaddr *)&any, sizeof(any), &p) == L2S_OK);
	CHECK(l2s_tcp_new(&B.t, (struct sockaddr *)&any, sizeof(any), &p) == L2S_OK);
	CHECK(l2s_tcp_new(&C.t, NULL, 0, NULL) == L2S_OK);
	if (!A.t || !B.t || !C.t)
		return tu_finish("test_tcp");
	eps[neps++] = &A;
	eps[neps++] = &B;
	eps[neps++] = &C;

	/* Bad parameters. */
	{
		struct l2s_tcp *x;
		struct l2s_tcp_params bad = { .send_buffer_bytes = 100 };

		CHECK(l2s_tcp_new(&x, (struct sockaddr *)&any, sizeof(any), &bad) == L2S_ERR_CONFIG && !x);
	}

	/* Connect: CONNECTED on both sides. */
	ab = connect_to(&A, &B, &before);
	WAIT_FOR(ab->connected == 1 && B.nrec == before + 1 && B.recs[before].connected == 1);
	ba = &B.recs[before];

	/* 1,000 messages each way, 0..65,577 bytes, through 4 KiB socket buffers. */
	exchange(&A, ab, &B, ba);
	l2s_tcp_get_stats(A.t, &st);
	CHECK(st.tx_messages == NMSG && st.rx_messages == NMSG && st.queue_full > 0);

	/* Back-pressure: without polling, the send buffer fills and refuses;
	 * everything it took arrives once the loop runs. */
	{
		uint32_t k = 0, x0 = ba->rx;
		int rc;

		while ((rc = l2s_tcp_send(A.t, ab->conn, make_msg(1, (x0 + k) % NMSG), msg_len((x0 + k) % NMSG))) ==
		       L2S_OK)
			k++;
		CHECK(rc == L2S_ERR_QUEUE_FULL);
		CHECK(k > 0 && l2s_tcp_queued(A.t, ab->conn) <= p.send_buffer_bytes);
		ba->rx %= NMSG;
		x0 %= NMSG;
		WAIT_FOR(ba->rx == x0 + k);
		CHECK(ba->rx_bad == 0);
		CHECK(l2s_tcp_send(A.t, ab->conn, NULL, L2S_MAX_MESSAGE + 1) == L2S_ERR_LENGTH);
		CHECK(l2s_tcp_send(A.t, 0xdeadbeef, NULL, 0) == L2S_ERR_NOT_FOUND);
	}

	/* An oversized length closes that connection only. */
	{
		static const uint8_t big[4] = { 0x00, 0x01, 0x00, 0x2a }; /* 65,578 */

		cb = connect_to(&C, &B, &before);
		WAIT_FOR(cb->connected == 1 && B.nrec == before + 1);
		CHECK(l2s_tcp_send_raw(C.t, cb->conn, big, sizeof(big)) == L2S_OK);
		WAIT_FOR(cb->closed == 1 && B.recs[before].closed == 1);
		CHECK(B.recs[before].reason == L2S_TCP_CLOSE_FRAMING);
		CHECK(cb->reason == L2S_TCP_CLOSE_PEER || cb->reason == L2S_TCP_CLOSE_ERROR);
		l2s_tcp_get_stats(B.t, &st);
		CHECK(st.framing_errors == 1);
		still_works(&A, ab, &B, ba);
	}

	/* Random junk on a fresh plain socket: closed and counted, others unharmed. */
	{
		struct sockaddr_in a = addr_of(&B);
		uint8_t junk[512];
		uint32_t x = 0x9e3779b9;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		char c;

		for (size_t i = 0; i < sizeof(junk); i++) {
			x = x * 1664525 + 1013904223;
			junk[i] = (uint8_t)(x >> 24);
		}
		junk[0] |= 0x80; /* a length far above L2S_MAX_MESSAGE */
		before = B.nrec;
		CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
		CHECK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
		WAIT_FOR(B.nrec == before + 1 && B.recs[before].closed == 1);
		CHECK(B.recs[before].reason == L2S_TCP_CLOSE_FRAMING);
		l2s_tcp_get_stats(B.t, &st);
		CHECK(st.framing_errors == 2);
		CHECK(read(fd, &c, 1) <= 0); /* B hung up */
		close(fd);
		still_works(&A, ab, &B, ba);
	}

	/* A reset from the peer: CLOSED with the error, counted. */
	{
		struct sockaddr_in a = addr_of(&B);
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		before = B.nrec;
		CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
		WAIT_FOR(B.nrec == before + 1 && B.recs[before].connected == 1);
		CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
		close(fd); /* linger 0: RST */
		WAIT_FOR(B.recs[before].closed == 1);
		CHECK(B.recs[before].reason == L2S_TCP_CLOSE_ERROR && B.recs[before].error == ECONNRESET);
		l2s_tcp_get_stats(B.t, &st);
		CHECK(st.resets == 1);
	}

	/* The connection bound: B holds 4; a fifth is accepted and closed at once. */
	{
		struct sockaddr_in a = addr_of(&B);
		uint32_t h[3];
		int fd, n0;

		before = B.nrec;
		for (int i = 0; i < 3; i++)
			CHECK(l2s_tcp_connect(C.t, (struct sockaddr *)&a, sizeof(a), now_ms(), &h[i]) == L2S_OK);
		WAIT_FOR(B.nrec == before + 3);
		l2s_tcp_get_stats(B.t, &st);
		CHECK(st.connections == 4);
		n0 = (int)st.refused_full;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
		WAIT_FOR((l2s_tcp_get_stats(B.t, &st), st.refused_full == (uint64_t)n0 + 1));
		close(fd);
		for (int i = 0; i < 3; i++)
			CHECK(l2s_tcp_close(C.t, h[i], now_ms()) == L2S_OK);
		WAIT_FOR(B.recs[before].closed && B.recs[before + 1].closed && B.recs[before + 2].closed);
		CHECK(B.recs[before].reason == L2S_TCP_CLOSE_PEER);
		WAIT_FOR((l2s_tcp_get_stats(C.t, &st), st.connections == 0)); /* lingers ended on B's FIN */
	}

	/* Peer close: LOCAL on the closing side, PEER on the other; the largest
	 * message, queued beyond what the socket took, still arrives first. */
	ba->rx = NMSG - 1;
	CHECK(l2s_tcp_send(A.t, ab->conn, make_msg(1, NMSG - 1), L2S_MAX_MESSAGE) == L2S_OK);
	CHECK(l2s_tcp_queued(A.t, ab->conn) > 0);
	CHECK(l2s_tcp_close(A.t, ab->conn, now_ms()) == L2S_OK);
	WAIT_FOR(ab->closed == 1 && ba->closed == 1);
	CHECK(ab->reason == L2S_TCP_CLOSE_LOCAL && ba->reason == L2S_TCP_CLOSE_PEER);
	CHECK(ba->rx == NMSG && ba->rx_bad == 0);
	WAIT_FOR((l2s_tcp_get_stats(A.t, &st), st.connections == 0)); /* the linger ended */
	CHECK(l2s_tcp_send(A.t, ab->conn, NULL, 0) == L2S_ERR_NOT_FOUND);

	/* The connect deadline: time is the caller's, so jump past it. */
	{
		struct sockaddr_in a = addr_of(&B);
		uint64_t t0 = now_ms();
		uint32_t h;

		CHECK(l2s_tcp_connect(C.t, (struct sockaddr *)&a, sizeof(a), t0, &h) == L2S_OK);
		CHECK(l2s_tcp_next_expiry(C.t) == t0 + 10000);
		CHECK(l2s_tcp_on_timer(C.t, t0 + 9999) == L2S_OK);
		drain(&C);
		CHECK(rec_of(&C, h)->closed == 0);
		CHECK(l2s_tcp_on_timer(C.t, t0 + 10000) == L2S_OK);
		drain(&C);
		CHECK(rec_of(&C, h)->closed == 1 && rec_of(&C, h)->reason == L2S_TCP_CLOSE_TIMEOUT);
		CHECK(l2s_tcp_next_expiry(C.t) == UINT64_MAX);
		/* B may have accepted it: it ends there as a peer close. */
		for (int i = 0; i < 50; i++)
			pump(5);
	}

	/* A connect to a closed port: CLOSED with the error. */
	{
		struct sockaddr_in a = loopback(0);
		socklen_t len = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		uint32_t h;

		CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
		CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
		close(fd); /* bound, never listening: the port refuses */
		CHECK(l2s_tcp_connect(C.t, (struct sockaddr *)&a, sizeof(a), now_ms(), &h) == L2S_OK);
		ac = rec_of(&C, h);
		WAIT_FOR(ac->closed == 1);
		CHECK(ac->reason == L2S_TCP_CLOSE_CONNECT && ac->error == ECONNREFUSED);
		CHECK(ac->connected == 0);
	}

	/* A restart binds at once: B's port carried a connection when B went
	 * (its close is the active one, as on a crash: that connection waits in
	 * TIME-WAIT on B's port), yet a new transport binds the port. A second
	 * listener on it is still refused. */
	{
		struct sockaddr_in a = addr_of(&B);
		struct l2s_tcp *again = NULL, *twice = NULL;
		struct rec *r = connect_to(&C, &B, &before);

		WAIT_FOR(r->connected == 1 && B.nrec == before + 1 && B.recs[before].connected == 1);
		l2s_tcp_free(B.t);
		B.t = NULL;
		WAIT_FOR(r->closed == 1);
		CHECK(l2s_tcp_new(&again, (struct sockaddr *)&a, sizeof(a), &p) == L2S_OK);
		CHECK(l2s_tcp_new(&twice, (struct sockaddr *)&a, sizeof(a), &p) == L2S_ERR_IO && !twice);
		B.t = again;
	}

	for (int i = 0; i < neps; i++)
		if (eps[i]->t)
			l2s_tcp_free(eps[i]->t);
	neps = 0;
	test_shedding();
	test_reclaim();
	return tu_finish("test_tcp");
}
