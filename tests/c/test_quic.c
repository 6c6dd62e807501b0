// SPDX-License-Identifier: Apache-2.0
/* The QUIC transport (csrc/transport/quic.h) over real sockets on 127.0.0.1, driven by
 * a small poll() loop: connect both ways on one socket, channel binding,
 * 1,000 messages each way of 0..65,536 bytes through a relay that also
 * injects corrupted copies and later changes its port (a NAT rebinding),
 * the largest message, an oversized length, junk datagrams, Retry, a full
 * endpoint, client migration (rebind), keepalive and idle timeout, close.
 * Every wait has a deadline; nothing sleeps. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport/quic.h"
#include "testutil.h"
#include "netutil.h"

#define NMSG 1000
#define MAXEP 8
#define MAXFD 8 /* sockets per endpoint: the shared one and trusted connections' own */

/* ---- what each connection end has seen ------------------------------------ */

struct peer_end {
	uint32_t conn;
	int connected, closed, close_reason, close_app, paths;
	uint64_t close_code;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	/* the message stream this end checks */
	uint32_t rx, rx_bad, seed;
	uint32_t last_len;
};

struct ep {
	const char *name;
	struct l2s_quic *q;
	struct peer_end ends[8];
	int nends;
	uint64_t datagrams; /* non-QUIC datagrams (L2S_QUIC_EV_DATAGRAM) */
	int deaf;           /* pump() leaves its shared socket unread */
};

static struct ep *eps[MAXEP];
static int neps;

/* ---- the relay: client <-> relay <-> server, for corruption and NAT ----- */

struct relay {
	int fd_c, fd_s; /* facing the client, facing the server */
	struct sockaddr_in client, server;
	int have_client;
	int corrupt;         /* inject a damaged copy of every 8th client datagram */
	uint64_t forwarded, injected;
};

static struct relay *relay;

static int udp_socket(struct sockaddr_in *bound)
{
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	getsockname(fd, (struct sockaddr *)&a, &len);
	if (bound)
		*bound = a;
	return fd;
}

static void relay_pump(struct relay *r)
{
	static uint8_t buf[65536];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;

	for (;;) {
		fl = sizeof(from);
		n = recvfrom(r->fd_c, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		r->client = from;
		r->have_client = 1;
		if (r->corrupt && (r->forwarded % 8) == 3 && n > 40) {
			static uint8_t bad[65536];

			/* same header and connection ID, damaged protected payload */
			memcpy(bad, buf, (size_t)n);
			bad[n - 1] ^= 0x5a;
			bad[n / 2] ^= 0x01;
			sendto(r->fd_s, bad, (size_t)n, 0, (struct sockaddr *)&r->server, sizeof(r->server));
			r->injected++;
		}
		sendto(r->fd_s, buf, (size_t)n, 0, (struct sockaddr *)&r->server, sizeof(r->server));
		r->forwarded++;
	}
	for (;;) {
		fl = sizeof(from);
		n = recvfrom(r->fd_s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		if (r->have_client)
			sendto(r->fd_c, buf, (size_t)n, 0, (struct sockaddr *)&r->client, sizeof(r->client));
	}
}

/* ---- the message stream: sizes 0..65,536, content from (seed, index) ----- */

static uint32_t msg_len(uint32_t i)
{
	if (i == 0)
		return 0;
	if (i == NMSG - 1)
		return L2S_MAX_PAYLOAD;
	if (i % 3 == 0)
		return i % 17;                       /* many small ones */
	return (uint32_t)((uint64_t)i * 65536 / NMSG); /* and a sweep up */
}

static void msg_fill(uint8_t *p, uint32_t len, uint32_t seed, uint32_t i)
{
	uint32_t x = seed * 2654435761u ^ i * 40503u;

	for (uint32_t j = 0; j < len; j++) {
		x = x * 1103515245u + 12345u;
		p[j] = (uint8_t)(x >> 16);
	}
}

static uint8_t msgbuf[L2S_MAX_MESSAGE + 1];

static struct peer_end *end_of(struct ep *e, uint32_t conn)
{
	for (int i = 0; i < e->nends; i++)
		if (e->ends[i].conn == conn)
			return &e->ends[i];
	if (e->nends == 8)
		return NULL;
	memset(&e->ends[e->nends], 0, sizeof(e->ends[0]));
	e->ends[e->nends].conn = conn;
	return &e->ends[e->nends++];
}

static void on_event(struct ep *e, const struct l2s_quic_event *ev)
{
	struct peer_end *pe;

	if (ev->type == L2S_QUIC_EV_DATAGRAM) {
		e->datagrams++; /* not QUIC: junk here */
		return;
	}
	pe = end_of(e, ev->conn);

	if (!pe)
		return;
	switch (ev->type) {
	case L2S_QUIC_EV_CONNECTED:
		pe->connected = 1;
		pe->addr = ev->peer;
		pe->addr_len = ev->peer_len;
		break;
	case L2S_QUIC_EV_PATH:
		pe->paths++;
		pe->addr = ev->peer;
		pe->addr_len = ev->peer_len;
		break;
	case L2S_QUIC_EV_CLOSED:
		pe->closed = 1;
		pe->close_reason = ev->reason;
		pe->close_app = ev->app_error;
		pe->close_code = ev->error_code;
		break;
	case L2S_QUIC_EV_MESSAGE:
		pe->last_len = (uint32_t)ev->len;
		if (pe->seed) {
			uint32_t want = msg_len(pe->rx);

			msg_fill(msgbuf, want, pe->seed, pe->rx);
			if (ev->len != want || memcmp(ev->data, msgbuf, want) != 0)
				pe->rx_bad++;
		}
		pe->rx++;
		break;
	}
}

/* One round of the loop over every endpoint (and the relay). An endpoint
 * marked deaf never reads its shared socket, as if a flood filled it. */
static void pump(int max_wait_ms)
{
	struct pollfd pfd[MAXEP * MAXFD + 2];
	int owner[MAXEP * MAXFD];
	uint64_t t = now_ms(), next = t + (uint64_t)max_wait_ms;
	int n = 0, wait;

	for (int i = 0; i < neps; i++) {
		uint64_t x = l2s_quic_next_expiry(eps[i]->q);
		int base = n;
		size_t k = l2s_quic_pollfds(eps[i]->q, pfd + base, MAXFD);

		CHECK(k <= MAXFD);
		if (x < next)
			next = x;
		for (size_t j = eps[i]->deaf ? 1 : 0; j < k; j++) {
			owner[n] = i;
			pfd[n++] = pfd[base + (int)j];
		}
	}
	if (relay) {
		pfd[n].fd = relay->fd_c;
		pfd[n++].events = POLLIN;
		pfd[n].fd = relay->fd_s;
		pfd[n++].events = POLLIN;
	}
	wait = next > t ? (int)(next - t) : 0;
	poll(pfd, (nfds_t)n, wait);
	if (relay)
		relay_pump(relay);
	t = now_ms();
	for (int j = 0; j < n - (relay ? 2 : 0); j++)
		if (pfd[j].revents)
			CHECK(l2s_quic_on_io(eps[owner[j]]->q, pfd[j].fd, pfd[j].revents, t) == L2S_OK);
	for (int i = 0; i < neps; i++) {
		struct l2s_quic_event ev;

		l2s_quic_on_timer(eps[i]->q, t);
		while (l2s_quic_next_event(eps[i]->q, &ev))
			on_event(eps[i], &ev);
		l2s_quic_flush(eps[i]->q, t);
	}
}

typedef int (*cond_fn)(void *);

static int run_until(cond_fn cond, void *arg, uint64_t timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;

	while (!cond(arg)) {
		if (now_ms() >= deadline)
			return 0;
		pump(50);
	}
	return 1;
}

static void run_for(uint64_t ms)
{
	uint64_t deadline = now_ms() + ms;

	while (now_ms() < deadline)
		pump((int)(deadline - now_ms()));
}

static struct ep *ep_new(const char *name, const struct l2s_quic_params *p)
{
	static struct ep pool[MAXEP];
	struct ep *e = &pool[neps];
	struct sockaddr_in a = loopback(0);

	memset(e, 0, sizeof(*e));
	e->name = name;
	CHECK(l2s_quic_new(&e->q, (struct sockaddr *)&a, sizeof(a), p) == L2S_OK);
	eps[neps++] = e;
	return e;
}

static void ep_remove(struct ep *e)
{
	for (int i = 0; i < neps; i++)
		if (eps[i] == e) {
			eps[i] = eps[--neps];
			break;
		}
	l2s_quic_free(e->q);
	e->q = NULL;
}

static struct sockaddr_in ep_addr(struct ep *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct sockaddr_in a;

	l2s_quic_local_addr(e->q, &ss, &len);
	memcpy(&a, &ss, sizeof(a));
	return a;
}

struct pair {
	struct ep *a, *b;  /* a connects to b */
	uint32_t ca;       /* a's handle */
	struct peer_end *ea, *eb;
};

static int pair_up(void *arg)
{
	struct pair *p = arg;
	struct peer_end *eb;

	p->ea = end_of(p->a, p->ca);
	if (!p->eb) {
		for (int i = 0; i < p->b->nends; i++) {
			eb = &p->b->ends[i];
			if (eb->connected && !eb->closed) {
				uint8_t x[32], y[32];

				/* the inbound end with the same channel binding is ours */
				if (l2s_quic_channel_binding(p->b->q, eb->conn, y) == L2S_OK &&
				    l2s_quic_channel_binding(p->a->q, p->ca, x) == L2S_OK && memcmp(x, y, 32) == 0)
					p->eb = eb;
			}
		}
	}
	return p->ea && p->ea->connected && p->eb;
}

static int connect_to(struct pair *p, struct ep *a, struct ep *b, const struct sockaddr_in *to)
{
	memset(p, 0, sizeof(*p));
	p->a = a;
	p->b = b;
	if (l2s_quic_connect(a->q, (const struct sockaddr *)to, sizeof(*to), now_ms(), &p->ca) != L2S_OK)
		return 0;
	return run_until(pair_up, p, 10000);
}

/* ---- the exchange: NMSG each way, as fast as the queues allow ------------- */

struct xfer {
	struct ep *a, *b;
	uint32_t ca, cb;
	struct peer_end *ea, *eb;
	uint32_t sent_a, sent_b, seed_a, seed_b;
	int full_seen;
};

static void feed(struct ep *e, uint32_t conn, uint32_t *sent, uint32_t seed, int *full)
{
	while (*sent < NMSG) {
		uint32_t len = msg_len(*sent);
		int rc;

		msg_fill(msgbuf, len, seed, *sent);
		rc = l2s_quic_send(e->q, conn, msgbuf, len);
		if (rc == L2S_ERR_QUEUE_FULL) {
			*full = 1;
			return;
		}
		CHECK(rc == L2S_OK);
		if (rc != L2S_OK)
			return;
		(*sent)++;
	}
}

static int xfer_done(void *arg)
{
	struct xfer *x = arg;

	feed(x->a, x->ca, &x->sent_a, x->seed_a, &x->full_seen);
	feed(x->b, x->cb, &x->sent_b, x->seed_b, &x->full_seen);
	return (x->ea->rx >= NMSG && x->eb->rx >= NMSG) || x->ea->closed || x->eb->closed;
}

/* Every byte either end queued has been acknowledged by the other: the
 * send rings are empty (l2s_quic_queued counts queued, unacknowledged bytes). */
static int xfer_acked(void *arg)
{
	struct xfer *x = arg;

	return (l2s_quic_queued(x->a->q, x->ca) == 0 && l2s_quic_queued(x->b->q, x->cb) == 0) || x->ea->closed ||
	       x->eb->closed;
}

static int got_n(void *arg)
{
	struct peer_end **pe = arg;

	return pe[0]->rx >= (uint32_t)(uintptr_t)pe[1] || pe[0]->closed;
}

static int is_closed(void *arg)
{
	return ((struct peer_end *)arg)->closed;
}

static int both_closed(void *arg)
{
	struct peer_end **pe = arg;

	return pe[0]->closed && pe[1]->closed;
}

static int has_path(void *arg)
{
	return ((struct peer_end *)arg)->paths > 0;
}

/* One message each way on an established pair. */
static int ping(struct ep *a, uint32_t ca, struct peer_end *ea, struct ep *b, uint32_t cb, struct peer_end *eb)
{
	uint32_t ra = ea->rx, rb = eb->rx;
	struct peer_end *w1[2] = {eb, (void *)(uintptr_t)(rb + 1)}, *w2[2] = {ea, (void *)(uintptr_t)(ra + 1)};

	ea->seed = eb->seed = 0;
	if (l2s_quic_send(a->q, ca, (const uint8_t *)"ping", 4) != L2S_OK ||
	    l2s_quic_send(b->q, cb, (const uint8_t *)"pong", 4) != L2S_OK)
		return 0;
	return run_until(got_n, w1, 5000) && run_until(got_n, w2, 5000) && eb->rx == rb + 1 && ea->rx == ra + 1 &&
	       !ea->closed && !eb->closed;
}

static uint32_t own_sockets(struct ep *e)
{
	struct l2s_quic_stats st;

	l2s_quic_get_stats(e->q, &st);
	return st.own_sockets;
}

/* ---- the tests --------------------------------------------------------------- */

static void test_main(void)
{
	struct ep *srv = ep_new("server", NULL), *cli = ep_new("client", NULL);
	struct sockaddr_in srv_addr = ep_addr(srv), cli_addr = ep_addr(cli), relay_addr;
	struct pair p1, p2, p3;
	uint8_t b1[32], b1s[32], b2[32], b3[32], zero[32] = {0};
	struct l2s_quic_stats st0, st1;
	struct relay r;
	struct xfer x;

	/* 1. client -> relay -> server; both see CONNECTED, with each other's address */
	memset(&r, 0, sizeof(r));
	r.fd_c = udp_socket(&relay_addr);
	r.fd_s = udp_socket(NULL);
	r.server = srv_addr;
	relay = &r;
	CHECK(connect_to(&p1, cli, srv, &relay_addr));
	if (!p1.eb)
		return;
	CHECK(p1.ea->connected && p1.eb->connected);
	CHECK(memcmp(&p1.ea->addr, &relay_addr, sizeof(relay_addr)) == 0);

	/* 2. the channel binding: equal on both ends, not zero, new per connection */
	CHECK(l2s_quic_channel_binding(cli->q, p1.ca, b1) == L2S_OK);
	CHECK(l2s_quic_channel_binding(srv->q, p1.eb->conn, b1s) == L2S_OK);
	CHECK_MEM(b1, b1s, 32);
	CHECK(memcmp(b1, zero, 32) != 0);
	CHECK(connect_to(&p2, cli, srv, &srv_addr)); /* a second one, direct */
	CHECK(connect_to(&p3, srv, cli, &cli_addr)); /* and the other way on the same sockets */
	if (!p2.eb || !p3.eb)
		return;
	CHECK(memcmp(&p2.eb->addr, &cli_addr, sizeof(cli_addr)) == 0);
	CHECK(l2s_quic_channel_binding(cli->q, p2.ca, b2) == L2S_OK);
	CHECK(l2s_quic_channel_binding(srv->q, p3.ca, b3) == L2S_OK);
	CHECK(memcmp(b1, b2, 32) != 0 && memcmp(b1, b3, 32) != 0 && memcmp(b2, b3, 32) != 0);
	{
		uint32_t pending;

		CHECK(l2s_quic_connect(cli->q, (struct sockaddr *)&srv_addr, sizeof(srv_addr), now_ms(), &pending) ==
		      L2S_OK);
		CHECK(l2s_quic_channel_binding(cli->q, pending, b2) == L2S_ERR_STATE); /* not yet */
		CHECK(l2s_quic_close(cli->q, pending, L2S_QUIC_APP_NO_ERROR, now_ms()) == L2S_OK);
	}

	/* 3. the server speaks first, the client has sent nothing yet: the
	 *    client announced its stream when the handshake completed */
	{
		struct peer_end *w[2] = {p1.ea, (void *)(uintptr_t)1};

		p1.ea->seed = 0;
		CHECK(l2s_quic_send(srv->q, p1.eb->conn, (const uint8_t *)"first", 5) == L2S_OK);
		CHECK(run_until(got_n, w, 5000) && p1.ea->rx == 1 && p1.ea->last_len == 5);
		CHECK(p1.eb->rx == 0);
	}
	CHECK(ping(srv, p1.eb->conn, p1.eb, cli, p1.ca, p1.ea));

	/* 4. 1,000 messages each way, 0..65,536 bytes, through the relay that
	 *    injects damaged copies of client datagrams */
	r.corrupt = 1;
	memset(&x, 0, sizeof(x));
	x.a = cli;
	x.ca = p1.ca;
	x.ea = p1.ea;
	x.b = srv;
	x.cb = p1.eb->conn;
	x.eb = p1.eb;
	x.seed_a = 0xa11ce;
	x.seed_b = 0xb0b;
	p1.eb->rx = 0;
	p1.eb->seed = x.seed_a; /* the server checks what the client sent */
	p1.ea->rx = 0;
	p1.ea->seed = x.seed_b;
	l2s_quic_get_stats(srv->q, &st0);
	{
		uint64_t t0 = now_ms();

		CHECK(run_until(xfer_done, &x, 90000));
		printf("test_quic: 2 x %d messages (%s queue-full back-pressure) in %llu ms, %llu damaged copies injected\n",
		       NMSG, x.full_seen ? "with" : "without", (unsigned long long)(now_ms() - t0),
		       (unsigned long long)r.injected);
	}
	CHECK(p1.eb->rx == NMSG && p1.eb->rx_bad == 0);
	CHECK(p1.ea->rx == NMSG && p1.ea->rx_bad == 0);
	CHECK(p1.ea->last_len == L2S_MAX_PAYLOAD && p1.eb->last_len == L2S_MAX_PAYLOAD);
	CHECK(!p1.ea->closed && !p1.eb->closed);
	CHECK(r.injected > 0);
	l2s_quic_get_stats(srv->q, &st1);
	CHECK(st1.rx_conn_errors == st0.rx_conn_errors); /* damaged packets are dropped, not fatal */
	r.corrupt = 0;
	{
		struct l2s_quic_conn_stats cs;

		CHECK(l2s_quic_get_conn_stats(cli->q, p1.ca, &cs) == L2S_OK);
		CHECK(cs.tx_messages >= NMSG && cs.rx_messages >= NMSG && cs.smoothed_rtt_us > 0);
		/* The receivers have everything; the senders learn it from the ACKs
		 * that follow (delayed ACKs, damaged copies): both rings drain,
		 * nothing is resent as a duplicate message and both ends stay open.
		 * The deadline is a backstop for a loaded machine, not a speed test. */
		CHECK(run_until(xfer_acked, &x, 30000));
		CHECK(l2s_quic_queued(cli->q, p1.ca) == 0 && l2s_quic_queued(srv->q, p1.eb->conn) == 0);
		CHECK(p1.ea->rx == NMSG && p1.eb->rx == NMSG && !p1.ea->closed && !p1.eb->closed);
	}

	/* 5. the largest message, and one byte more is refused at the sender */
	memset(msgbuf, 0xee, sizeof(msgbuf));
	CHECK(l2s_quic_send(cli->q, p1.ca, msgbuf, L2S_MAX_MESSAGE + 1) == L2S_ERR_LENGTH);
	{
		uint32_t before = p1.eb->rx;
		struct peer_end *w[2] = {p1.eb, (void *)(uintptr_t)(before + 1)};

		p1.eb->seed = 0;
		CHECK(l2s_quic_send(cli->q, p1.ca, msgbuf, L2S_MAX_MESSAGE) == L2S_OK);
		CHECK(run_until(got_n, w, 10000) && p1.eb->last_len == L2S_MAX_MESSAGE);
	}

	/* 6. the peer's address changes (NAT rebinding at the relay): the server
	 *    validates the new path, reports PATH, and the connection goes on */
	{
		struct sockaddr_in new_addr;
		int old = r.fd_s;

		r.fd_s = udp_socket(&new_addr);
		close(old);
		CHECK(ping(cli, p1.ca, p1.ea, srv, p1.eb->conn, p1.eb));
		CHECK(run_until(has_path, p1.eb, 5000));
		CHECK(memcmp(&p1.eb->addr, &new_addr, sizeof(new_addr)) == 0);
	}

	/* 7. junk to the server's port: dropped and counted, the connection lives */
	{
		int junk = udp_socket(NULL);
		uint8_t buf[1400];
		int sent = 0, vn = 0;

		l2s_quic_get_stats(srv->q, &st0);
		for (int i = 0; i < 300; i++) {
			size_t len = i % 50 == 1 ? 1250 : 1 + (size_t)(i * 37) % sizeof(buf);

			l2s_random(buf, len);
			if (i % 3 == 0)
				buf[0] &= 0x7f; /* short header, unknown connection ID */
			if (i % 50 == 1) {
				buf[0] |= 0xc0; /* long header (fixed bit set), unknown version */
				memcpy(buf + 1, "\x1a\x2a\x3a\x4a", 4);
				buf[5] = 8;
				buf[14] = 8;
				vn++;
			}
			if (sendto(junk, buf, len, 0, (struct sockaddr *)&srv_addr, sizeof(srv_addr)) == (ssize_t)len)
				sent++;
			if (i % 50 == 0)
				pump(0);
		}
		run_for(200);
		l2s_quic_get_stats(srv->q, &st1);
		/* without the fixed bit junk goes up as a DATAGRAM (not QUIC) */
		CHECK(st1.rx_dropped - st0.rx_dropped + st1.datagrams - st0.datagrams + st1.datagrams_dropped -
			      st0.datagrams_dropped >=
		      (uint64_t)sent - 5);
		CHECK(st1.datagrams > st0.datagrams);
		/* random long headers of 1,200 bytes or more may ask for one too;
		 * past 64 stateless answers a second the rest are withheld */
		CHECK(vn > 0 && st1.version_negotiations > st0.version_negotiations);
		CHECK(st1.version_negotiations - st0.version_negotiations + st1.answers_withheld - st0.answers_withheld >=
		      (uint64_t)vn);
		CHECK(st1.version_negotiations - st0.version_negotiations + st1.stateless_resets_sent -
			      st0.stateless_resets_sent + st1.retries_sent - st0.retries_sent <= 64 * 2);
		CHECK(st1.connected == st0.connected);
		CHECK(ping(cli, p1.ca, p1.ea, srv, p1.eb->conn, p1.eb));
		close(junk);
	}

	/* 8. an oversized length closes that connection with FRAMING on both ends */
	{
		static const uint8_t bad[4] = {0x00, 0x01, 0x00, 0x2a}; /* 65,578 > L2S_MAX_MESSAGE */
		struct peer_end *w[2] = {p2.ea, p2.eb};

		l2s_quic_get_stats(srv->q, &st0);
		CHECK(l2s_quic_send_raw(cli->q, p2.ca, bad, sizeof(bad)) == L2S_OK);
		CHECK(run_until(both_closed, w, 5000));
		CHECK(p2.eb->close_reason == L2S_QUIC_CLOSE_FRAMING && p2.eb->close_code == L2S_QUIC_APP_FRAMING);
		CHECK(p2.ea->close_reason == L2S_QUIC_CLOSE_PEER && p2.ea->close_app &&
		      p2.ea->close_code == L2S_QUIC_APP_FRAMING);
		l2s_quic_get_stats(srv->q, &st1);
		CHECK(st1.framing_errors == st0.framing_errors + 1);
		CHECK(l2s_quic_send(cli->q, p2.ca, msgbuf, 1) != L2S_OK);
		CHECK(ping(cli, p1.ca, p1.ea, srv, p1.eb->conn, p1.eb)); /* the others are untouched */
		CHECK(ping(srv, p3.ca, p3.ea, cli, p3.eb->conn, p3.eb));
	}

	/* 9. close: CLOSED(LOCAL) here, CLOSED(PEER, application 0) there */
	{
		struct peer_end *w[2] = {p1.ea, p1.eb};

		CHECK(l2s_quic_close(cli->q, p1.ca, L2S_QUIC_APP_NO_ERROR, now_ms()) == L2S_OK);
		CHECK(run_until(both_closed, w, 5000));
		CHECK(p1.ea->close_reason == L2S_QUIC_CLOSE_LOCAL);
		CHECK(p1.eb->close_reason == L2S_QUIC_CLOSE_PEER && p1.eb->close_app && p1.eb->close_code == 0);
		CHECK(l2s_quic_send(cli->q, p1.ca, msgbuf, 1) != L2S_OK);
		CHECK(l2s_quic_close(srv->q, p3.ca, 7, now_ms()) == L2S_OK);
		CHECK(run_until(is_closed, p3.eb, 5000) && p3.eb->close_code == 7);
	}
	relay = NULL;
	close(r.fd_c);
	close(r.fd_s);
	ep_remove(cli);
	ep_remove(srv);
}

/* Retry, a full endpoint, and a client that moves to a new socket. */
static void test_retry_full_migrate(void)
{
	struct l2s_quic_params rp = {.always_retry = 1}, fp = {.max_connections = 1};
	struct ep *rs = ep_new("retry-server", &rp), *fs = ep_new("full-server", &fp), *cli = ep_new("client", NULL);
	struct sockaddr_in rs_addr = ep_addr(rs), fs_addr = ep_addr(fs);
	struct l2s_quic_stats st;
	struct pair p, f1;

	CHECK(connect_to(&p, cli, rs, &rs_addr));
	l2s_quic_get_stats(rs->q, &st);
	CHECK(st.retries_sent >= 1 && st.connected == 1);
	if (!p.eb)
		return;
	CHECK(ping(cli, p.ca, p.ea, rs, p.eb->conn, p.eb));

	/* max_connections = 1: the second client is refused (CONNECTION_REFUSED) */
	CHECK(connect_to(&f1, cli, fs, &fs_addr));
	{
		uint32_t c2;
		struct peer_end *e2;

		CHECK(l2s_quic_connect(cli->q, (struct sockaddr *)&fs_addr, sizeof(fs_addr), now_ms(), &c2) == L2S_OK);
		e2 = end_of(cli, c2);
		CHECK(run_until(is_closed, e2, 5000));
		CHECK(e2->close_reason == L2S_QUIC_CLOSE_PEER && !e2->close_app && e2->close_code == 0x2);
		l2s_quic_get_stats(fs->q, &st);
		CHECK(st.refused_full == 1);
	}

	/* the client moves to a new socket: its connections migrate */
	{
		struct sockaddr_in any = loopback(0), moved;

		CHECK(l2s_quic_trust(cli->q, p.ca) == L2S_OK && own_sockets(cli) == 1);
		CHECK(l2s_quic_rebind(cli->q, (struct sockaddr *)&any, sizeof(any), now_ms()) == L2S_OK);
		CHECK(own_sockets(cli) == 0); /* bound to the old address: gone */
		moved = ep_addr(cli);
		CHECK(ping(cli, p.ca, p.ea, rs, p.eb->conn, p.eb));
		CHECK(run_until(has_path, p.eb, 5000));
		CHECK(memcmp(&p.eb->addr, &moved, sizeof(moved)) == 0);
		CHECK(ping(cli, p.ca, p.ea, rs, p.eb->conn, p.eb));
	}
	ep_remove(cli);
	ep_remove(fs);
	ep_remove(rs);
}

/* A trusted connection has a socket of its own: with the shared socket never
 * read (a flood filling it), messages still go both ways; untrusted, they
 * do not. Its socket goes when the connection does. */
static void test_own_socket(void)
{
	struct ep *a = ep_new("a", NULL), *b = ep_new("b", NULL);
	struct sockaddr_in b_addr = ep_addr(b);
	struct l2s_quic_conn_stats cs;
	struct pair p;
	uint32_t rx, pending;

	CHECK(connect_to(&p, a, b, &b_addr));
	if (!p.eb)
		return;
	CHECK(ping(a, p.ca, p.ea, b, p.eb->conn, p.eb));
	CHECK(l2s_quic_trust(b->q, 0x7777) == L2S_ERR_NOT_FOUND);
	CHECK(l2s_quic_connect(a->q, (struct sockaddr *)&b_addr, sizeof(b_addr), now_ms(), &pending) == L2S_OK);
	CHECK(l2s_quic_trust(a->q, pending) == L2S_ERR_STATE); /* not connected yet */
	CHECK(l2s_quic_close(a->q, pending, L2S_QUIC_APP_NO_ERROR, now_ms()) == L2S_OK);

	/* untrusted: b's shared socket unread, a's message does not arrive */
	b->deaf = 1;
	rx = p.eb->rx;
	CHECK(l2s_quic_send(a->q, p.ca, (const uint8_t *)"lost?", 5) == L2S_OK);
	run_for(500);
	CHECK(p.eb->rx == rx);

	/* trusted: a's retransmission reaches b's own socket, and both ways work */
	CHECK(l2s_quic_trust(b->q, p.eb->conn) == L2S_OK);
	CHECK(l2s_quic_trust(b->q, p.eb->conn) == L2S_OK); /* once is enough */
	CHECK(own_sockets(b) == 1);
	CHECK(l2s_quic_get_conn_stats(b->q, p.eb->conn, &cs) == L2S_OK && cs.own_socket);
	{
		struct peer_end *w[2] = {p.eb, (void *)(uintptr_t)(rx + 1)};

		CHECK(run_until(got_n, w, 5000) && p.eb->rx == rx + 1);
	}
	for (int i = 0; i < 20; i++)
		CHECK(ping(a, p.ca, p.ea, b, p.eb->conn, p.eb));
	CHECK(!p.ea->closed && !p.eb->closed);

	/* the connection ends: its socket with it */
	b->deaf = 0;
	CHECK(l2s_quic_close(b->q, p.eb->conn, L2S_QUIC_APP_NO_ERROR, now_ms()) == L2S_OK);
	{
		struct peer_end *w[2] = {p.ea, p.eb};

		CHECK(run_until(both_closed, w, 5000));
	}
	run_for(1500); /* closing period (3 PTO) over */
	CHECK(own_sockets(b) == 0);
	ep_remove(a);
	ep_remove(b);
}

/* NMSG each way between a and b, directly, checked byte for byte. */
static void exchange(struct ep *a, struct ep *b, struct pair *p, uint32_t seed)
{
	struct xfer x = {.a = a, .ca = p->ca, .ea = p->ea, .b = b, .cb = p->eb->conn, .eb = p->eb};

	x.seed_a = p->eb->seed = seed;
	x.seed_b = p->ea->seed = seed + 1;
	p->ea->rx = p->eb->rx = 0;
	CHECK(run_until(xfer_done, &x, 60000));
	CHECK(p->eb->rx == NMSG && p->eb->rx_bad == 0 && p->ea->rx == NMSG && p->ea->rx_bad == 0);
	CHECK(run_until(xfer_acked, &x, 30000));
	CHECK(!p->ea->closed && !p->eb->closed);
}

/* A connection's packets leave in UDP GSO batches and arrive coalesced
 * (UDP GRO), from the shared socket and from its own; where GSO is
 * missing they leave one by one, the same bytes. And ngtcp2's clock has
 * sub-millisecond resolution: round trips are not measured in whole ms. */
static void test_batching(void)
{
	struct ep *a = ep_new("a", NULL), *b = ep_new("b", NULL);
	struct sockaddr_in b_addr = ep_addr(b);
	struct l2s_quic_stats sa, sb, sa2, sb2;
	struct l2s_quic_conn_stats cs, cb;
	struct pair p;

	CHECK(connect_to(&p, a, b, &b_addr));
	if (!p.eb)
		return;
	{
		/* an empty datagram is read (one of no bytes) and goes nowhere */
		int fd = udp_socket(NULL);

		CHECK(sendto(fd, "", 0, 0, (struct sockaddr *)&b_addr, sizeof(b_addr)) == 0);
		run_for(50);
		close(fd);
	}
	exchange(a, b, &p, 0x5e6);
	l2s_quic_get_stats(a->q, &sa);
	l2s_quic_get_stats(b->q, &sb);
	CHECK(sa.tx_gso_sends > 0 && sb.tx_gso_sends > 0 && sa.gso_failures == 0);
	CHECK(sa.rx_gro_datagrams > 0 && sb.rx_gro_datagrams > 0);
	/* each GSO send carries at least two datagrams */
	CHECK(sa.tx_datagrams >= 2 * sa.tx_gso_sends);
	/* A millisecond clock makes every RTT sample a whole number of ms; a
	 * finer one, by chance, on both ends at once, one time in a million. */
	CHECK(l2s_quic_get_conn_stats(a->q, p.ca, &cs) == L2S_OK && cs.min_rtt_us > 0);
	CHECK(l2s_quic_get_conn_stats(b->q, p.eb->conn, &cb) == L2S_OK && cb.min_rtt_us > 0);
	CHECK(cs.min_rtt_us % 1000 != 0 || cb.min_rtt_us % 1000 != 0);

	/* trusted: the same over each side's own socket */
	CHECK(l2s_quic_trust(a->q, p.ca) == L2S_OK && l2s_quic_trust(b->q, p.eb->conn) == L2S_OK);
	exchange(a, b, &p, 0x5e7);
	l2s_quic_get_stats(a->q, &sa2);
	l2s_quic_get_stats(b->q, &sb2);
	CHECK(sa2.tx_gso_sends > sa.tx_gso_sends && sb2.rx_gro_datagrams > sb.rx_gro_datagrams);

	/* as on a kernel without UDP_SEGMENT: one datagram per send */
	l2s_quic_test_no_gso(a->q);
	l2s_quic_test_no_gso(b->q);
	exchange(a, b, &p, 0x5e8);
	l2s_quic_get_stats(a->q, &sa);
	l2s_quic_get_stats(b->q, &sb);
	CHECK(sa.tx_gso_sends == sa2.tx_gso_sends && sb.tx_gso_sends == sb2.tx_gso_sends);
	CHECK(sa.tx_datagrams > sa2.tx_datagrams + NMSG);
	ep_remove(a);
	ep_remove(b);
}

#define CONN_COST (96 << 10) /* quic_internal.h: what a connection draws from the budget */

static int queue_empty(void *arg)
{
	struct pair *p = arg;

	return l2s_quic_queued(p->b->q, p->eb->conn) == 0;
}

/* The node's memory budget: a new client that does not fit is refused, an
 * untrusted connection receiving past it is shed, a trusted one is not;
 * the send queue's chunks come and go with the data; all is given back. */
static void test_budget(void)
{
	struct l2s_budget b = {.limit = 2 * CONN_COST + (32 << 10)};
	struct l2s_quic_params bp = {.budget = &b};
	struct ep *srv = ep_new("budget-server", &bp), *cli = ep_new("client", NULL);
	struct sockaddr_in srv_addr = ep_addr(srv);
	struct l2s_quic_stats st;
	struct pair p1, p2;
	uint64_t used;

	CHECK(connect_to(&p1, cli, srv, &srv_addr));
	CHECK(connect_to(&p2, cli, srv, &srv_addr));
	if (!p1.eb || !p2.eb)
		return;
	CHECK(b.used >= 2 * CONN_COST && b.used <= b.limit);
	{
		uint32_t c3;
		struct peer_end *e3;

		CHECK(l2s_quic_connect(cli->q, (struct sockaddr *)&srv_addr, sizeof(srv_addr), now_ms(), &c3) ==
		      L2S_OK);
		e3 = end_of(cli, c3);
		CHECK(run_until(is_closed, e3, 5000));
		CHECK(e3->close_reason == L2S_QUIC_CLOSE_PEER && !e3->close_app && e3->close_code == 0x2);
		l2s_quic_get_stats(srv->q, &st);
		CHECK(st.refused_budget == 1 && st.refused_full == 0);
	}

	/* 48 KiB to each: the trusted connection takes it past the limit,
	 * the untrusted one is shed */
	CHECK(l2s_quic_trust(srv->q, p1.eb->conn) == L2S_OK);
	memset(msgbuf, 7, 48 << 10);
	p1.eb->seed = p2.eb->seed = 0;
	CHECK(l2s_quic_send(cli->q, p1.ca, msgbuf, 48 << 10) == L2S_OK);
	{
		struct peer_end *w[2] = {p1.eb, (void *)(uintptr_t)1};

		CHECK(run_until(got_n, w, 5000) && p1.eb->rx == 1 && p1.eb->last_len == 48 << 10 && !p1.eb->closed);
	}
	CHECK(l2s_quic_send(cli->q, p2.ca, msgbuf, 48 << 10) == L2S_OK);
	CHECK(run_until(is_closed, p2.ea, 5000));
	CHECK(p2.ea->close_reason == L2S_QUIC_CLOSE_PEER && p2.ea->close_app && p2.ea->close_code == L2S_QUIC_APP_SHED);
	CHECK(p2.eb->closed && p2.eb->close_reason == L2S_QUIC_CLOSE_SHED);
	l2s_quic_get_stats(srv->q, &st);
	CHECK(st.shed_budget == 1);
	CHECK(!p1.eb->closed);

	/* one whole chunk sent and acknowledged: drawn, then given back */
	run_for(1500); /* the shed connection's closing period ends */
	used = b.used;
	CHECK(used == CONN_COST);
	CHECK(l2s_quic_send(srv->q, p1.eb->conn, msgbuf, (16 << 10) - 4) == L2S_OK);
	CHECK(b.used == used + (16 << 10));
	CHECK(run_until(queue_empty, &p1, 5000));
	CHECK(b.used == used);
	ep_remove(cli);
	ep_remove(srv);
	CHECK(b.used == 0); /* every byte drawn was given back */
}

/* Keepalive holds an idle connection open; a vanished peer ends in IDLE. */
static void test_keepalive_idle(void)
{
	struct l2s_quic_params kp = {.idle_timeout_ms = 1000, .keepalive_ms = 300};
	struct ep *a = ep_new("a", &kp), *b = ep_new("b", &kp);
	struct sockaddr_in b_addr = ep_addr(b);
	struct pair p;

	CHECK(connect_to(&p, a, b, &b_addr));
	if (!p.eb)
		return;
	run_for(2500); /* 2.5 idle timeouts without a message */
	CHECK(!p.ea->closed && !p.eb->closed);
	CHECK(ping(a, p.ca, p.ea, b, p.eb->conn, p.eb));
	ep_remove(b); /* gone without a word */
	CHECK(run_until(is_closed, p.ea, 5000));
	CHECK(p.ea->close_reason == L2S_QUIC_CLOSE_IDLE);
	ep_remove(a);
}

static void test_params(void)
{
	struct l2s_quic *q = NULL;
	struct sockaddr_in a = loopback(0);
	struct l2s_quic_params bad = {.keepalive_ms = L2S_QUIC_MAX_KEEPALIVE_MS + 1};

	CHECK(l2s_quic_new(&q, (struct sockaddr *)&a, sizeof(a), &bad) == L2S_ERR_CONFIG);
	bad.keepalive_ms = 0;
	bad.send_buffer_bytes = L2S_MAX_MESSAGE; /* cannot hold the largest message */
	CHECK(l2s_quic_new(&q, (struct sockaddr *)&a, sizeof(a), &bad) == L2S_ERR_CONFIG);
	CHECK(l2s_quic_new(&q, (struct sockaddr *)&a, sizeof(a), NULL) == L2S_OK);
	CHECK(l2s_quic_send(q, 12345, msgbuf, 1) == L2S_ERR_NOT_FOUND);
	CHECK(l2s_quic_next_expiry(q) == UINT64_MAX);
	{
		struct sockaddr_in6 v6;

		memset(&v6, 0, sizeof(v6));
		v6.sin6_family = AF_INET6;
		uint32_t c;
		CHECK(l2s_quic_connect(q, (struct sockaddr *)&v6, sizeof(v6), now_ms(), &c) == L2S_ERR_CONFIG);
	}
	l2s_quic_free(q);
	l2s_quic_free(NULL);
}

int main(void)
{
	CHECK(l2s_init() == L2S_OK);
	test_params();
	test_main();
	test_retry_full_migrate();
	test_keepalive_idle();
	test_own_socket();
	test_batching();
	test_budget();
	return tu_finish("test_quic");
}
