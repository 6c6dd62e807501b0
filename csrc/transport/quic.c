// SPDX-License-Identifier: Apache-2.0
/* The QUIC transport over ngtcp2 0.12 and GnuTLS (see quic.h).
 *
 * Layout: the socket edge (sock_*), connection lookup (handles, connection
 * IDs), the per-connection send ring and receive reassembly, the ngtcp2
 * callbacks, then the public calls. Every ngtcp2 call that may call back
 * is made from a public call, never from inside a callback: callbacks only
 * record (events, failures) and the caller acts after ngtcp2 returns. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "lib/budget.h"
#include "lib/map.h"
#include "transport/quic.h"
#include "transport/tlscert.h"
#include "wire/wire.h"

#define CID_LEN 16                 /* our connection IDs; short headers need one length */
#define MAX_CIDS 16                /* routed IDs per connection (ngtcp2 issues at most 8) */
#define TX_MAX NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE
#define RX_MAX 65536               /* one datagram; larger ones are truncated and dropped */
#define OWN_READS_PER_CALL 1024  /* from a trusted connection's own socket */
#define SHARED_READS_PER_CALL 64  /* from the shared socket: new clients, untrusted
				   * ones and junk wait their turn behind sessions */
#define MAX_BURST 64               /* datagrams per connection per flush */
#define CLOSE_RESENDS 8            /* answers to a peer that keeps sending while we close */
#define RETRY_TOKEN_LIFE_MS 10000
#define STATELESS_BUDGET 64        /* stateless answers (reset, VN, Retry, refusal) per second:
				    * a flood of junk or Initials costs a read each, no more */
#define CHUNK 16384                /* the send queue's allocation unit */
#define CONN_COST (96 << 10)       /* what one connection's ngtcp2 and GnuTLS state take
				    * (measured: ~93 KiB, ngtcp2 0.12 + GnuTLS 3.7, x86-64) */
#define MS NGTCP2_MILLISECONDS     /* ngtcp2 counts nanoseconds */
#define QUIC_FIXED_BIT 0x40        /* RFC 9000 §17: set in every packet we accept */

#define TLS_PRIORITY                                                                       \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:" \
	"%DISABLE_TLS13_COMPAT_MODE"

enum { OPEN = 0, CLOSING, DRAINING };

struct qevent {
	struct qevent *next;
	struct l2s_quic_event ev;
	uint32_t credit; /* stream bytes to give back to the peer when taken */
	uint8_t data[];
};

struct qcid {
	uint8_t len;
	uint8_t id[NGTCP2_MAX_CIDLEN];
};

struct qconn {
	struct l2s_quic *q;
	uint32_t handle;
	ngtcp2_conn *conn;
	gnutls_session_t tls;
	ngtcp2_crypto_conn_ref ref;
	int outbound, connected, announced, notified, state;
	uint64_t close_deadline_ms;
	uint8_t *close_pkt;
	size_t close_len;
	unsigned close_resends;
	/* a failure noticed in a callback, acted on after ngtcp2 returns */
	int fail_reason;
	uint64_t fail_code;
	int reset_seen;
	/* the one stream */
	int64_t stream_id;
	int stream_blocked, stream_announced;
	/* send queue: stream offsets acked <= sent <= end, end - acked <=
	 * send_buffer_bytes, kept in CHUNK-byte chunks (tx_nchunks slots, by
	 * offset / CHUNK) allocated while they hold bytes not yet acknowledged:
	 * ngtcp2 points into them until then */
	uint8_t **tx;
	uint32_t tx_nchunks;
	uint64_t tx_acked, tx_sent, tx_end;
	/* receive reassembly: the length prefix, then the message's event */
	uint8_t hdr[4];
	uint32_t hdr_got;
	struct qevent *rx_ev;
	uint32_t rx_got;
	struct qcid cids[MAX_CIDS];
	unsigned ncids;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	int trusted; /* l2s_quic_trust: its peer authenticated */
	int fd;      /* its own socket, connected to peer, or -1 */
	struct l2s_quic_conn_stats st;
};

struct l2s_quic {
	int fd;
	struct sockaddr_storage local;
	socklen_t local_len;
	struct l2s_quic_params p;
	struct l2s_budget own_budget, *b; /* b: the node's (params) or own_budget, unlimited */
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	uint8_t reset_key[32], token_key[32];
	struct l2s_map cidmap;
	struct qconn **slots;
	uint16_t *gens;
	uint32_t nslots, nconns, handshaking_in;
	struct qevent *ev_head, *ev_tail, *ev_taken;
	uint32_t datagrams_queued;   /* DATAGRAM events waiting, at most L2S_QUIC_MAX_DATAGRAMS */
	int test_drop_rx;
	uint64_t answers_window_ms;
	uint32_t answers_in_window;
	size_t pending_len;
	int pending_fd;
	struct sockaddr_storage pending_to;
	socklen_t pending_tolen;
	struct l2s_quic_stats st;
	uint8_t pending[TX_MAX];
	uint8_t txbuf[TX_MAX];
	uint8_t rxbuf[RX_MAX];
};

static ngtcp2_tstamp ts_of(uint64_t now_ms)
{
	return (ngtcp2_tstamp)now_ms * MS;
}

/* ---- the socket edge ------------------------------------------------------ */

static int sock_open(const struct sockaddr *addr, socklen_t len, struct sockaddr_storage *local, socklen_t *local_len)
{
	int fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	*local_len = sizeof(*local);
	if (bind(fd, addr, len) < 0 || getsockname(fd, (struct sockaddr *)local, local_len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	/* After the bind, so that a second node on the same port still gets
	 * EADDRINUSE; from now on our own connected sockets may join the port
	 * (own_sock_open). Without it they fail and everything stays here. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &(int){1}, sizeof(int));
	return fd;
}

/* A trusted connection's own socket: the shared socket's address, connected
 * to the peer, so that the kernel queues the peer's datagrams apart from
 * whatever floods the shared socket (its 4-tuple outranks the shared
 * socket's match). */
static int own_sock_open(const struct l2s_quic *q, const struct sockaddr_storage *peer, socklen_t peer_len)
{
	int fd = socket(q->local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &(int){1}, sizeof(int)) < 0 ||
	    bind(fd, (const struct sockaddr *)&q->local, q->local_len) < 0 ||
	    connect(fd, (const struct sockaddr *)peer, peer_len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1: one datagram in buf (*from set); 0: nothing more now (or a socket
 * error: the next poll round tries again); -1: a truncated datagram. */
static int sock_recv(int fd, uint8_t *buf, size_t cap, size_t *len, struct sockaddr_storage *from, socklen_t *fromlen)
{
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_name = from, .msg_namelen = sizeof(*from), .msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	do
		n = recvmsg(fd, &mh, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return 0;
	if (mh.msg_flags & MSG_TRUNC)
		return -1;
	*len = (size_t)n;
	*fromlen = mh.msg_namelen;
	return 1;
}

/* 0 sent, 1 the socket is full (try later), -1 dropped. */
static int sock_send(int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t n)
{
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	struct msghdr mh = {.msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1};

	for (;;) {
		if (sendmsg(fd, &mh, 0) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : -1;
	}
}

static int same_addr(const struct sockaddr *a, socklen_t alen, const struct sockaddr_storage *b, socklen_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Sends or, when the socket is full, keeps the one pending datagram. c's
 * own socket carries what goes to its peer; everything else leaves from
 * the shared one. */
static int send_dgram(struct l2s_quic *q, struct qconn *c, const struct sockaddr *to, socklen_t tolen,
		      const uint8_t *p, size_t n)
{
	int own = c && c->fd >= 0 && same_addr(to, tolen, &c->peer, c->peer_len);
	int fd = own ? c->fd : q->fd;
	int rc = own ? sock_send(fd, NULL, 0, p, n) : sock_send(fd, to, tolen, p, n);

	if (rc == 0) {
		q->st.tx_datagrams++;
		q->st.tx_bytes += n;
	} else if (rc == 1) {
		q->st.tx_blocked++;
		memcpy(q->pending, p, n);
		q->pending_len = n;
		q->pending_fd = fd;
		memcpy(&q->pending_to, to, tolen);
		q->pending_tolen = tolen;
	} else {
		q->st.tx_errors++;
	}
	return rc;
}

/* One more stateless answer this second, or none. */
static int answer_allowed(struct l2s_quic *q, uint64_t now_ms)
{
	if (now_ms >= q->answers_window_ms + 1000) {
		q->answers_window_ms = now_ms;
		q->answers_in_window = 0;
	}
	if (q->answers_in_window >= STATELESS_BUDGET) {
		q->st.answers_withheld++;
		return 0;
	}
	q->answers_in_window++;
	return 1;
}

/* A stateless answer (VN, Retry, reset, refusal): never queued. */
static void send_answer(struct l2s_quic *q, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t n)
{
	if (sock_send(q->fd, to, tolen, p, n) == 0) {
		q->st.tx_datagrams++;
		q->st.tx_bytes += n;
	} else {
		q->st.tx_errors++;
	}
}

static int send_pending(struct l2s_quic *q)
{
	int rc;

	if (!q->pending_len)
		return 0;
	rc = q->pending_fd == q->fd
		     ? sock_send(q->fd, (struct sockaddr *)&q->pending_to, q->pending_tolen, q->pending, q->pending_len)
		     : sock_send(q->pending_fd, NULL, 0, q->pending, q->pending_len);
	if (rc == 1)
		return 1;
	if (rc == 0) {
		q->st.tx_datagrams++;
		q->st.tx_bytes += q->pending_len;
	} else {
		q->st.tx_errors++;
	}
	q->pending_len = 0;
	return 0;
}

/* ---- handles and connection IDs ----------------------------------------- */

static struct qconn *conn_get(const struct l2s_quic *q, uint32_t handle)
{
	uint32_t slot = (handle & 0xffff) - 1;

	if (!handle || slot >= q->nslots || !q->slots[slot] || q->slots[slot]->handle != handle)
		return NULL;
	return q->slots[slot];
}

static struct qconn *conn_alloc(struct l2s_quic *q, int outbound)
{
	struct qconn *c;
	uint32_t slot;

	if (q->nconns >= q->p.max_connections)
		return NULL;
	for (slot = 0; slot < q->nslots && q->slots[slot]; slot++)
		;
	/* A peer's new connection must fit the budget; ours are the node's own. */
	if (slot == q->nslots || (!outbound && !l2s_budget_fits(q->b, CONN_COST)) || !(c = calloc(1, sizeof(*c))))
		return NULL;
	l2s_budget_draw(q->b, CONN_COST);
	if (++q->gens[slot] == 0)
		q->gens[slot] = 1;
	c->q = q;
	c->handle = (uint32_t)q->gens[slot] << 16 | (slot + 1);
	c->outbound = outbound;
	c->stream_id = -1;
	c->fd = -1;
	c->st.outbound = outbound;
	q->slots[slot] = c;
	q->nconns++;
	return c;
}

static size_t cid_key(uint8_t key[1 + NGTCP2_MAX_CIDLEN], const uint8_t *id, size_t len)
{
	key[0] = (uint8_t)len;
	memcpy(key + 1, id, len);
	return 1 + len;
}

static int cid_add(struct qconn *c, const uint8_t *id, size_t len)
{
	uint8_t key[1 + NGTCP2_MAX_CIDLEN];

	if (len > NGTCP2_MAX_CIDLEN || c->ncids == MAX_CIDS)
		return -1;
	if (l2s_map_put(&c->q->cidmap, key, cid_key(key, id, len), c->handle) != L2S_OK)
		return -1;
	c->cids[c->ncids].len = (uint8_t)len;
	memcpy(c->cids[c->ncids].id, id, len);
	c->ncids++;
	return 0;
}

static void cid_del(struct qconn *c, const uint8_t *id, size_t len)
{
	uint8_t key[1 + NGTCP2_MAX_CIDLEN];

	for (unsigned i = 0; i < c->ncids; i++) {
		if (c->cids[i].len == len && memcmp(c->cids[i].id, id, len) == 0) {
			l2s_map_del(&c->q->cidmap, key, cid_key(key, id, len));
			c->cids[i] = c->cids[--c->ncids];
			return;
		}
	}
}

static struct qconn *conn_by_cid(const struct l2s_quic *q, const uint8_t *id, size_t len)
{
	uint8_t key[1 + NGTCP2_MAX_CIDLEN];
	uint32_t handle;

	if (len > NGTCP2_MAX_CIDLEN || l2s_map_get(&q->cidmap, key, cid_key(key, id, len), &handle) != L2S_OK)
		return NULL;
	return conn_get(q, handle);
}

static void random_cid(ngtcp2_cid *cid, size_t len)
{
	uint8_t b[NGTCP2_MAX_CIDLEN];

	l2s_random(b, len);
	ngtcp2_cid_init(cid, b, len);
}

/* ---- events --------------------------------------------------------------- */

/* Every event's bytes are drawn from the budget until it is taken. */
static struct qevent *event_alloc(struct l2s_quic *q, size_t len)
{
	struct qevent *e = calloc(1, sizeof(*e) + len);

	if (e)
		l2s_budget_draw(q->b, sizeof(*e) + len);
	return e;
}

static void event_free(struct l2s_quic *q, struct qevent *e)
{
	if (!e)
		return;
	l2s_budget_give(q->b, sizeof(*e) + e->ev.len);
	free(e);
}

static struct qevent *event_new(int type, struct qconn *c, size_t len)
{
	struct qevent *e = event_alloc(c->q, len);

	if (!e)
		return NULL;
	e->ev.type = type;
	e->ev.conn = c->handle;
	e->ev.outbound = c->outbound;
	e->ev.len = len;
	return e;
}

static void event_push(struct l2s_quic *q, struct qevent *e)
{
	if (q->ev_tail)
		q->ev_tail->next = e;
	else
		q->ev_head = e;
	q->ev_tail = e;
}

static void event_addr(struct qevent *e, const struct qconn *c)
{
	memcpy(&e->ev.peer, &c->peer, c->peer_len);
	e->ev.peer_len = c->peer_len;
}

/* The connection's last event. Without memory it is lost, and the handle
 * fails with L2S_ERR_NOT_FOUND once the connection is freed. */
static void notify_closed(struct qconn *c, int reason, int app, uint64_t code)
{
	struct qevent *e;

	if (c->notified)
		return;
	c->notified = 1;
	c->q->st.closed++;
	if (!c->outbound && !c->announced)
		return;
	if ((e = event_new(L2S_QUIC_EV_CLOSED, c, 0))) {
		e->ev.reason = reason;
		e->ev.app_error = app;
		e->ev.error_code = code;
		event_push(c->q, e);
	}
}

/* ---- the send queue ------------------------------------------------------- */

static uint8_t **chunk_slot(const struct qconn *c, uint64_t off)
{
	return &c->tx[(off / CHUNK) % c->tx_nchunks];
}

static void ring_put(struct qconn *c, const uint8_t *p, size_t n)
{
	while (n) {
		size_t at = (size_t)(c->tx_end % CHUNK), k = CHUNK - at;

		if (k > n)
			k = n;
		memcpy(*chunk_slot(c, c->tx_end) + at, p, k);
		c->tx_end += k;
		p += k;
		n -= k;
	}
}

/* The first unsent bytes, as at most two vectors (more than a packet). */
static size_t ring_unsent(struct qconn *c, ngtcp2_vec v[2])
{
	uint64_t off = c->tx_sent;
	size_t nv = 0;

	while (nv < 2 && off < c->tx_end) {
		size_t at = (size_t)(off % CHUNK), k = CHUNK - at;

		if (k > c->tx_end - off)
			k = (size_t)(c->tx_end - off);
		v[nv].base = *chunk_slot(c, off) + at;
		v[nv++].len = k;
		off += k;
	}
	return nv;
}

/* Chunks for the bytes up to offset end, each drawn from the budget: an
 * authenticated connection may have untrusted ones shed for it. */
static int ring_reserve(struct l2s_quic *q, struct qconn *c, uint64_t end)
{
	if (!c->tx) {
		/* end - acked <= send_buffer_bytes spans at most this many */
		c->tx_nchunks = (q->p.send_buffer_bytes + CHUNK - 1) / CHUNK + 1;
		if (!(c->tx = calloc(c->tx_nchunks, sizeof(*c->tx))))
			return L2S_ERR_NOMEM;
	}
	for (uint64_t off = c->tx_end - c->tx_end % CHUNK; off < end; off += CHUNK) {
		uint8_t **slot = chunk_slot(c, off);

		if (*slot)
			continue;
		if (!(c->trusted ? l2s_budget_claim(q->b, CHUNK) : l2s_budget_fits(q->b, CHUNK))) {
			q->st.budget_full++;
			return L2S_ERR_QUEUE_FULL;
		}
		if (!(*slot = malloc(CHUNK)))
			return L2S_ERR_NOMEM;
		l2s_budget_draw(q->b, CHUNK);
	}
	return L2S_OK;
}

/* The peer acknowledged up to acked: the chunks wholly below it go. */
static void ring_acked(struct l2s_quic *q, struct qconn *c, uint64_t acked)
{
	for (uint64_t off = c->tx_acked - c->tx_acked % CHUNK; off + CHUNK <= acked; off += CHUNK) {
		uint8_t **slot = chunk_slot(c, off);

		if (*slot) {
			free(*slot);
			*slot = NULL;
			l2s_budget_give(q->b, CHUNK);
		}
	}
	c->tx_acked = acked;
}

static void ring_free(struct l2s_quic *q, struct qconn *c)
{
	for (uint32_t i = 0; c->tx && i < c->tx_nchunks; i++)
		if (c->tx[i]) {
			free(c->tx[i]);
			l2s_budget_give(q->b, CHUNK);
		}
	free(c->tx);
	c->tx = NULL;
}

static int queue_bytes(struct l2s_quic *q, struct qconn *c, const uint8_t *hdr, size_t hlen, const uint8_t *p,
		       size_t n)
{
	int rc;

	if (c->tx_end - c->tx_acked + hlen + n > q->p.send_buffer_bytes)
		return L2S_ERR_QUEUE_FULL;
	if ((rc = ring_reserve(q, c, c->tx_end + hlen + n)) != L2S_OK)
		return rc;
	ring_put(c, hdr, hlen);
	ring_put(c, p, n);
	return L2S_OK;
}

/* ---- connection life ------------------------------------------------------ */

/* Back to the shared socket (the connection ends, or its peer moved). A
 * datagram waiting for the closed socket leaves from the shared one. */
static void own_sock_close(struct l2s_quic *q, struct qconn *c)
{
	if (c->fd < 0)
		return;
	if (q->pending_len && q->pending_fd == c->fd)
		q->pending_fd = q->fd;
	close(c->fd);
	c->fd = -1;
	c->st.own_socket = 0;
	q->st.own_sockets--;
}

static void conn_free(struct l2s_quic *q, struct qconn *c)
{
	uint8_t key[1 + NGTCP2_MAX_CIDLEN];

	for (unsigned i = 0; i < c->ncids; i++)
		l2s_map_del(&q->cidmap, key, cid_key(key, c->cids[i].id, c->cids[i].len));
	if (!c->outbound && !c->connected)
		q->handshaking_in--;
	own_sock_close(q, c);
	if (c->conn)
		ngtcp2_conn_del(c->conn);
	if (c->tls)
		gnutls_deinit(c->tls);
	ring_free(q, c);
	event_free(q, c->rx_ev);
	free(c->close_pkt);
	l2s_budget_give(q->b, CONN_COST);
	q->slots[(c->handle & 0xffff) - 1] = NULL;
	q->nconns--;
	free(c);
}

static uint64_t pto_ms(struct qconn *c)
{
	return ngtcp2_conn_get_pto(c->conn) / MS + 1;
}

/* Enters the closing period with a CONNECTION_CLOSE (RFC 9000 §10.2.1). */
static void conn_close(struct l2s_quic *q, struct qconn *c, const ngtcp2_connection_close_error *ccerr,
		       uint64_t now_ms)
{
	ngtcp2_path_storage ps;
	ngtcp2_ssize n;

	if (c->state != OPEN)
		return;
	ngtcp2_path_storage_zero(&ps);
	n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, NULL, q->txbuf, sizeof(q->txbuf), ccerr,
					       ts_of(now_ms));
	c->state = CLOSING;
	c->close_deadline_ms = now_ms + 3 * pto_ms(c);
	if (n > 0 && (c->close_pkt = malloc((size_t)n))) {
		memcpy(c->close_pkt, q->txbuf, (size_t)n);
		c->close_len = (size_t)n;
		send_answer(q, ps.path.remote.addr, ps.path.remote.addrlen, c->close_pkt, c->close_len);
	}
}

static void conn_fail_app(struct l2s_quic *q, struct qconn *c, int reason, uint64_t code, uint64_t now_ms)
{
	ngtcp2_connection_close_error ccerr;

	if (reason == L2S_QUIC_CLOSE_FRAMING)
		q->st.framing_errors++;
	ngtcp2_connection_close_error_set_application_error(&ccerr, code, NULL, 0);
	notify_closed(c, reason, 1, code);
	conn_close(q, c, &ccerr, now_ms);
}

/* An ngtcp2 or TLS error: the transport error it implies goes to the peer. */
static void conn_fail_liberr(struct l2s_quic *q, struct qconn *c, int liberr, uint64_t now_ms)
{
	ngtcp2_connection_close_error ccerr;

	if (liberr == NGTCP2_ERR_CRYPTO)
		ngtcp2_connection_close_error_set_transport_error_tls_alert(&ccerr, ngtcp2_conn_get_tls_alert(c->conn),
									    NULL, 0);
	else
		ngtcp2_connection_close_error_set_transport_error_liberr(&ccerr, liberr, NULL, 0);
	notify_closed(c, L2S_QUIC_CLOSE_TRANSPORT, 0, ccerr.error_code);
	conn_close(q, c, &ccerr, now_ms);
}

/* After ngtcp2 returned: act on what a callback recorded or on its error. */
static void conn_after_read(struct l2s_quic *q, struct qconn *c, int rv, uint64_t now_ms)
{
	if (c->fail_reason) {
		conn_fail_app(q, c, c->fail_reason, c->fail_code, now_ms);
		return;
	}
	if (rv == 0)
		return;
	if (rv == NGTCP2_ERR_DRAINING) {
		ngtcp2_connection_close_error ccerr;

		ngtcp2_conn_get_connection_close_error(c->conn, &ccerr);
		c->state = DRAINING;
		c->close_deadline_ms = now_ms + 3 * pto_ms(c);
		if (c->reset_seen)
			notify_closed(c, L2S_QUIC_CLOSE_RESET, 0, 0);
		else
			notify_closed(c, L2S_QUIC_CLOSE_PEER,
				      ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION, ccerr.error_code);
		return;
	}
	if (rv == NGTCP2_ERR_DROP_CONN || rv == NGTCP2_ERR_RETRY) {
		/* silently: nothing may be sent for this connection */
		notify_closed(c, L2S_QUIC_CLOSE_TRANSPORT, 0, 0);
		conn_free(q, c);
		return;
	}
	q->st.rx_conn_errors++;
	conn_fail_liberr(q, c, rv, now_ms);
}

/* ---- ngtcp2 callbacks ----------------------------------------------------- */

static ngtcp2_conn *get_conn_cb(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct qconn *)ref->user_data)->conn;
}

static void rand_cb(uint8_t *dest, size_t destlen, const ngtcp2_rand_ctx *ctx)
{
	(void)ctx;
	l2s_random(dest, destlen);
}

static int new_cid_cb(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *ud)
{
	struct qconn *c = ud;

	(void)conn;
	random_cid(cid, cidlen);
	if (ngtcp2_crypto_generate_stateless_reset_token(token, c->q->reset_key, sizeof(c->q->reset_key), cid) != 0 ||
	    cid_add(c, cid->data, cid->datalen) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int remove_cid_cb(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *ud)
{
	(void)conn;
	cid_del(ud, cid->data, cid->datalen);
	return 0;
}

static void fail_later(struct qconn *c, int reason, uint64_t code)
{
	if (!c->fail_reason) {
		c->fail_reason = reason;
		c->fail_code = code;
	}
}

static int handshake_completed_cb(ngtcp2_conn *conn, void *ud)
{
	struct qconn *c = ud;
	const ngtcp2_path *path = ngtcp2_conn_get_path(conn);
	gnutls_datum_t alpn;
	struct qevent *e;

	if (gnutls_alpn_get_selected_protocol(c->tls, &alpn) != 0 || alpn.size != strlen(L2S_QUIC_ALPN) ||
	    memcmp(alpn.data, L2S_QUIC_ALPN, alpn.size) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	c->connected = 1;
	c->st.connected = 1;
	if (!c->outbound)
		c->q->handshaking_in--;
	c->q->st.connected++;
	if (path->remote.addrlen <= sizeof(c->peer)) {
		memcpy(&c->peer, path->remote.addr, path->remote.addrlen);
		c->peer_len = path->remote.addrlen;
	}
	if (!(e = event_new(L2S_QUIC_EV_CONNECTED, c, 0)))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	event_addr(e, c);
	event_push(c->q, e);
	c->announced = 1;
	return 0;
}

static int stream_open_cb(ngtcp2_conn *conn, int64_t stream_id, void *ud)
{
	struct qconn *c = ud;

	(void)conn;
	if (c->stream_id >= 0 || !ngtcp2_is_bidi_stream(stream_id)) {
		fail_later(c, L2S_QUIC_CLOSE_FRAMING, L2S_QUIC_APP_STREAM);
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	c->stream_id = stream_id;
	return 0;
}

/* Feeds in-order stream bytes to the length-prefix parser. */
static int parse_stream(struct qconn *c, const uint8_t *p, size_t n)
{
	while (n) {
		if (!c->rx_ev) {
			size_t k = 4 - c->hdr_got;
			uint32_t len;

			if (k > n)
				k = n;
			memcpy(c->hdr + c->hdr_got, p, k);
			c->hdr_got += (uint32_t)k;
			p += k;
			n -= k;
			if (c->hdr_got < 4)
				return 0;
			len = l2s_get_u32(c->hdr);
			if (len > L2S_MAX_MESSAGE) {
				fail_later(c, L2S_QUIC_CLOSE_FRAMING, L2S_QUIC_APP_FRAMING);
				return -1;
			}
			if (!(c->rx_ev = event_new(L2S_QUIC_EV_MESSAGE, c, len)))
				return -1;
			/* Past the budget a connection no session authenticated
			 * on goes; an authenticated one's bytes are bounded by
			 * its receive window and never dropped. */
			if (!c->trusted && c->q->b->used > c->q->b->limit) {
				c->q->st.shed_budget++;
				fail_later(c, L2S_QUIC_CLOSE_SHED, L2S_QUIC_APP_SHED);
				return -1;
			}
			c->rx_ev->credit = 4 + len;
			c->rx_got = 0;
		}
		{
			size_t k = c->rx_ev->ev.len - c->rx_got;

			if (k > n)
				k = n;
			memcpy(c->rx_ev->data + c->rx_got, p, k);
			c->rx_got += (uint32_t)k;
			p += k;
			n -= k;
		}
		if (c->rx_got == c->rx_ev->ev.len) {
			c->rx_ev->ev.data = c->rx_ev->data;
			c->st.rx_messages++;
			c->st.rx_bytes += c->rx_ev->ev.len;
			event_push(c->q, c->rx_ev);
			c->rx_ev = NULL;
			c->hdr_got = 0;
		}
	}
	return 0;
}

static int recv_stream_data_cb(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t offset,
			       const uint8_t *data, size_t datalen, void *ud, void *sud)
{
	struct qconn *c = ud;

	(void)conn;
	(void)offset;
	(void)sud;
	if (stream_id != c->stream_id) {
		fail_later(c, L2S_QUIC_CLOSE_FRAMING, L2S_QUIC_APP_STREAM);
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	if (parse_stream(c, data, datalen) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (flags & NGTCP2_STREAM_DATA_FLAG_FIN)
		fail_later(c, L2S_QUIC_CLOSE_FRAMING, L2S_QUIC_APP_STREAM);
	return 0;
}

static int acked_cb(ngtcp2_conn *conn, int64_t stream_id, uint64_t offset, uint64_t datalen, void *ud, void *sud)
{
	struct qconn *c = ud;

	(void)conn;
	(void)sud;
	if (stream_id == c->stream_id && offset + datalen > c->tx_acked)
		ring_acked(c->q, c, offset + datalen);
	return 0;
}

static int stream_close_cb(ngtcp2_conn *conn, uint32_t flags, int64_t stream_id, uint64_t app_error_code, void *ud,
			   void *sud)
{
	struct qconn *c = ud;

	(void)conn;
	(void)flags;
	(void)app_error_code;
	(void)sud;
	if (stream_id == c->stream_id)
		fail_later(c, L2S_QUIC_CLOSE_FRAMING, L2S_QUIC_APP_STREAM);
	return 0;
}

static int stream_reset_cb(ngtcp2_conn *conn, int64_t stream_id, uint64_t final_size, uint64_t app_error_code,
			   void *ud, void *sud)
{
	(void)final_size;
	return stream_close_cb(conn, 0, stream_id, app_error_code, ud, sud);
}

static int stateless_reset_cb(ngtcp2_conn *conn, const ngtcp2_pkt_stateless_reset *sr, void *ud)
{
	(void)conn;
	(void)sr;
	((struct qconn *)ud)->reset_seen = 1;
	return 0;
}

static int path_validation_cb(ngtcp2_conn *conn, uint32_t flags, const ngtcp2_path *path,
			      ngtcp2_path_validation_result res, void *ud)
{
	struct qconn *c = ud;
	struct qevent *e;

	(void)conn;
	(void)flags;
	if (res != NGTCP2_PATH_VALIDATION_RESULT_SUCCESS || path->remote.addrlen > sizeof(c->peer) ||
	    (path->remote.addrlen == c->peer_len && memcmp(path->remote.addr, &c->peer, c->peer_len) == 0))
		return 0;
	memcpy(&c->peer, path->remote.addr, path->remote.addrlen);
	c->peer_len = path->remote.addrlen;
	/* Its own socket is connected to the old address: back to the shared
	 * one until the new path is trusted again. */
	own_sock_close(c->q, c);
	c->st.path_changes++;
	c->q->st.path_changes++;
	if (c->announced && !c->notified && (e = event_new(L2S_QUIC_EV_PATH, c, 0))) {
		event_addr(e, c);
		event_push(c->q, e);
	}
	return 0;
}

static void set_callbacks(ngtcp2_callbacks *cb, int server)
{
	memset(cb, 0, sizeof(*cb));
	if (server) {
		cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
	} else {
		cb->client_initial = ngtcp2_crypto_client_initial_cb;
		cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
	}
	cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
	cb->encrypt = ngtcp2_crypto_encrypt_cb;
	cb->decrypt = ngtcp2_crypto_decrypt_cb;
	cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
	cb->update_key = ngtcp2_crypto_update_key_cb;
	cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
	cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
	cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
	cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
	cb->rand = rand_cb;
	cb->get_new_connection_id = new_cid_cb;
	cb->remove_connection_id = remove_cid_cb;
	cb->handshake_completed = handshake_completed_cb;
	cb->stream_open = stream_open_cb;
	cb->recv_stream_data = recv_stream_data_cb;
	cb->acked_stream_data_offset = acked_cb;
	cb->stream_close = stream_close_cb;
	cb->stream_reset = stream_reset_cb;
	cb->recv_stateless_reset = stateless_reset_cb;
	cb->path_validation = path_validation_cb;
}

/* ---- making connections --------------------------------------------------- */

static void conn_settings(const struct l2s_quic *q, ngtcp2_settings *s, ngtcp2_transport_params *tp, int server,
			  uint64_t now_ms)
{
	ngtcp2_settings_default(s);
	s->initial_ts = ts_of(now_ms);
	s->handshake_timeout = q->p.handshake_timeout_ms * MS;
	s->rand_ctx.native_handle = NULL;
	ngtcp2_transport_params_default(tp);
	/* One bidirectional stream, opened by the client; nothing else. */
	tp->initial_max_streams_bidi = server ? 1 : 0;
	tp->initial_max_streams_uni = 0;
	tp->initial_max_stream_data_bidi_local = q->p.recv_window_bytes;
	tp->initial_max_stream_data_bidi_remote = q->p.recv_window_bytes;
	tp->initial_max_stream_data_uni = 0;
	tp->initial_max_data = q->p.recv_window_bytes;
	tp->max_idle_timeout = q->p.idle_timeout_ms * MS;
}

static int conn_tls(struct l2s_quic *q, struct qconn *c, int server)
{
	gnutls_datum_t alpn = {.data = (unsigned char *)L2S_QUIC_ALPN, .size = sizeof(L2S_QUIC_ALPN) - 1};

	if (gnutls_init(&c->tls, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_END_OF_EARLY_DATA) != 0) {
		c->tls = NULL;
		return -1;
	}
	c->ref.get_conn = get_conn_cb;
	c->ref.user_data = c;
	gnutls_session_set_ptr(c->tls, &c->ref);
	if (gnutls_priority_set(c->tls, q->prio) != 0 ||
	    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, q->cred) != 0 ||
	    gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0)
		return -1;
	if ((server ? ngtcp2_crypto_gnutls_configure_server_session(c->tls)
		    : ngtcp2_crypto_gnutls_configure_client_session(c->tls)) != 0)
		return -1;
	ngtcp2_conn_set_tls_native_handle(c->conn, c->tls);
	ngtcp2_conn_set_keep_alive_timeout(c->conn, q->p.keepalive_ms * MS);
	return 0;
}

static void path_of(ngtcp2_path *path, struct l2s_quic *q, const struct sockaddr *remote, socklen_t remote_len)
{
	path->local.addr = (ngtcp2_sockaddr *)&q->local;
	path->local.addrlen = q->local_len;
	path->remote.addr = (ngtcp2_sockaddr *)remote;
	path->remote.addrlen = remote_len;
	path->user_data = NULL;
}

static void set_peer(struct qconn *c, const struct sockaddr *a, socklen_t len)
{
	memcpy(&c->peer, a, len);
	c->peer_len = len;
}

/* An accepted client Initial: the server side of a new connection. */
static void server_conn(struct l2s_quic *q, const ngtcp2_pkt_hd *hd, const ngtcp2_cid *odcid, int retried,
			const struct sockaddr *from, socklen_t fromlen, const uint8_t *pkt, size_t len, uint64_t now_ms)
{
	ngtcp2_callbacks cb;
	ngtcp2_settings s;
	ngtcp2_transport_params tp;
	ngtcp2_path path;
	ngtcp2_cid scid;
	struct qconn *c = conn_alloc(q, 0);

	if (!c) {
		q->st.refused_full++;
		q->st.rx_dropped++;
		return;
	}
	q->handshaking_in++;
	q->st.accepted++;
	set_peer(c, from, fromlen);
	set_callbacks(&cb, 1);
	conn_settings(q, &s, &tp, 1, now_ms);
	if (retried) {
		s.token = hd->token;
		tp.original_dcid = *odcid;
		tp.retry_scid = hd->dcid;
		tp.retry_scid_present = 1;
	} else {
		tp.original_dcid = hd->dcid;
	}
	random_cid(&scid, CID_LEN);
	if (ngtcp2_crypto_generate_stateless_reset_token(tp.stateless_reset_token, q->reset_key, sizeof(q->reset_key),
							 &scid) != 0)
		goto fail;
	tp.stateless_reset_token_present = 1;
	path_of(&path, q, from, fromlen);
	if (ngtcp2_conn_server_new(&c->conn, &hd->scid, &scid, &path, hd->version, &cb, &s, &tp, NULL, c) != 0) {
		c->conn = NULL;
		goto fail;
	}
	if (conn_tls(q, c, 1) != 0 || cid_add(c, scid.data, scid.datalen) != 0 ||
	    cid_add(c, hd->dcid.data, hd->dcid.datalen) != 0)
		goto fail;
	q->st.rx_datagrams++;
	q->st.rx_bytes += len;
	conn_after_read(q, c, ngtcp2_conn_read_pkt(c->conn, &path, NULL, pkt, len, ts_of(now_ms)), now_ms);
	return;
fail:
	q->st.rx_dropped++;
	c->notified = 1;
	conn_free(q, c);
}

static void send_retry(struct l2s_quic *q, const ngtcp2_pkt_hd *hd, const struct sockaddr *from, socklen_t fromlen,
		       uint64_t now_ms)
{
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
	ngtcp2_cid scid;
	ngtcp2_ssize tl, n;

	if (!answer_allowed(q, now_ms))
		return;
	random_cid(&scid, CID_LEN);
	tl = ngtcp2_crypto_generate_retry_token(token, q->token_key, sizeof(q->token_key), hd->version,
						(const ngtcp2_sockaddr *)from, fromlen, &scid, &hd->dcid, ts_of(now_ms));
	if (tl < 0)
		return;
	n = ngtcp2_crypto_write_retry(q->txbuf, sizeof(q->txbuf), hd->version, &hd->scid, &scid, &hd->dcid, token,
				      (size_t)tl);
	if (n < 0)
		return;
	q->st.retries_sent++;
	send_answer(q, from, fromlen, q->txbuf, (size_t)n);
}

static void refuse(struct l2s_quic *q, const ngtcp2_pkt_hd *hd, const struct sockaddr *from, socklen_t fromlen,
		   uint64_t code, uint64_t now_ms)
{
	ngtcp2_ssize n;

	if (!answer_allowed(q, now_ms))
		return;
	n = ngtcp2_crypto_write_connection_close(q->txbuf, sizeof(q->txbuf), hd->version, &hd->scid, &hd->dcid,
						 code, NULL, 0);
	if (n > 0)
		send_answer(q, from, fromlen, q->txbuf, (size_t)n);
}

/* A datagram for no known connection that starts a long header. */
static void on_new_initial(struct l2s_quic *q, const struct sockaddr *from, socklen_t fromlen, const uint8_t *pkt,
			   size_t len, uint64_t now_ms)
{
	ngtcp2_pkt_hd hd;
	ngtcp2_cid odcid;
	int retried = 0;

	if (ngtcp2_accept(&hd, pkt, len) != 0 || hd.type != NGTCP2_PKT_INITIAL) {
		q->st.rx_dropped++;
		return;
	}
	if (q->nconns >= q->p.max_connections || !l2s_budget_fits(q->b, CONN_COST)) {
		if (q->nconns >= q->p.max_connections)
			q->st.refused_full++;
		else
			q->st.refused_budget++;
		q->st.rx_dropped++;
		refuse(q, &hd, from, fromlen, NGTCP2_CONNECTION_REFUSED, now_ms);
		return;
	}
	if (hd.token.len && hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
		if (ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len, q->token_key,
						     sizeof(q->token_key), hd.version, (const ngtcp2_sockaddr *)from,
						     fromlen, &hd.dcid, RETRY_TOKEN_LIFE_MS * MS, ts_of(now_ms)) != 0) {
			q->st.retry_tokens_bad++;
			q->st.rx_dropped++;
			refuse(q, &hd, from, fromlen, NGTCP2_INVALID_TOKEN, now_ms);
			return;
		}
		retried = 1;
	} else if (q->p.always_retry || q->handshaking_in >= q->p.retry_threshold) {
		q->st.rx_dropped++;
		send_retry(q, &hd, from, fromlen, now_ms);
		return;
	}
	server_conn(q, &hd, &odcid, retried, from, fromlen, pkt, len, now_ms);
}

/* A short header for no known connection: perhaps ours from before a
 * restart, so a Stateless Reset (RFC 9000 §10.3), smaller than the packet
 * that caused it, within the STATELESS_BUDGET. */
static void maybe_reset(struct l2s_quic *q, const struct sockaddr *from, socklen_t fromlen, const uint8_t *dcid,
			size_t len, uint64_t now_ms)
{
	uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN], rnd[32];
	size_t randlen;
	ngtcp2_cid cid;
	ngtcp2_ssize n;

	if (len < 1 + CID_LEN + NGTCP2_STATELESS_RESET_TOKENLEN + 1 + NGTCP2_MIN_STATELESS_RESET_RANDLEN)
		return;
	if (!answer_allowed(q, now_ms))
		return;
	/* first byte + random + token, one byte shorter than the trigger */
	randlen = len - 2 - NGTCP2_STATELESS_RESET_TOKENLEN;
	if (randlen > sizeof(rnd))
		randlen = sizeof(rnd);
	ngtcp2_cid_init(&cid, dcid, CID_LEN);
	l2s_random(rnd, randlen);
	if (ngtcp2_crypto_generate_stateless_reset_token(token, q->reset_key, sizeof(q->reset_key), &cid) != 0)
		return;
	n = ngtcp2_pkt_write_stateless_reset(q->txbuf, sizeof(q->txbuf), token, rnd, randlen);
	if (n <= 0)
		return;
	q->st.stateless_resets_sent++;
	send_answer(q, from, fromlen, q->txbuf, (size_t)n);
}

static void send_version_negotiation(struct l2s_quic *q, const ngtcp2_version_cid *vc, const struct sockaddr *from,
				     socklen_t fromlen, size_t len, uint64_t now_ms)
{
	uint32_t sv[] = {NGTCP2_PROTO_VER_V1};
	uint8_t r;
	ngtcp2_ssize n;

	/* Only for a datagram as large as a client Initial: no amplification. */
	if (len < NGTCP2_MAX_UDP_PAYLOAD_SIZE || !answer_allowed(q, now_ms))
		return;
	l2s_random(&r, 1);
	n = ngtcp2_pkt_write_version_negotiation(q->txbuf, sizeof(q->txbuf), r, vc->scid, vc->scidlen, vc->dcid,
						 vc->dcidlen, sv, 1);
	if (n > 0) {
		q->st.version_negotiations++;
		send_answer(q, from, fromlen, q->txbuf, (size_t)n);
	}
}

/* Not QUIC (the fixed bit is clear and it names no connection of ours):
 * queued for the caller as a DATAGRAM event, within a small bound. */
static void on_other_datagram(struct l2s_quic *q, const struct sockaddr *from, socklen_t fromlen,
			      const uint8_t *pkt, size_t len)
{
	struct qevent *e;

	if (q->datagrams_queued >= L2S_QUIC_MAX_DATAGRAMS || len > L2S_QUIC_MAX_DATAGRAM_BYTES ||
	    !(e = event_alloc(q, len))) {
		q->st.datagrams_dropped++;
		return;
	}
	e->ev.type = L2S_QUIC_EV_DATAGRAM;
	memcpy(&e->ev.peer, from, fromlen);
	e->ev.peer_len = fromlen;
	memcpy(e->data, pkt, len);
	e->ev.data = e->data;
	e->ev.len = len;
	q->datagrams_queued++;
	q->st.datagrams++;
	event_push(q, e);
}

/* One received datagram. */
static void on_datagram(struct l2s_quic *q, const struct sockaddr *from, socklen_t fromlen, const uint8_t *pkt,
			size_t len, uint64_t now_ms)
{
	ngtcp2_version_cid vc;
	struct qconn *c;
	int rv;

	if (!len)
		return;
	rv = ngtcp2_pkt_decode_version_cid(&vc, pkt, len, CID_LEN);
	/* ngtcp2 always offers grease_quic_bit, so a peer's packets may lack
	 * the fixed bit; a new client's Initial never does. Without the bit,
	 * only a packet for one of our connections is QUIC. */
	if (!(pkt[0] & QUIC_FIXED_BIT) && (rv != 0 || vc.dcidlen > NGTCP2_MAX_CIDLEN ||
					   !conn_by_cid(q, vc.dcid, vc.dcidlen))) {
		on_other_datagram(q, from, fromlen, pkt, len);
		return;
	}

	if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
		q->st.rx_dropped++;
		send_version_negotiation(q, &vc, from, fromlen, len, now_ms);
		return;
	}
	if (rv != 0 || vc.dcidlen > NGTCP2_MAX_CIDLEN) {
		q->st.rx_dropped++;
		return;
	}
	c = conn_by_cid(q, vc.dcid, vc.dcidlen);
	if (!c) {
		if (pkt[0] & 0x80) {
			on_new_initial(q, from, fromlen, pkt, len, now_ms);
		} else {
			q->st.rx_dropped++;
			maybe_reset(q, from, fromlen, vc.dcid, len, now_ms);
		}
		return;
	}
	q->st.rx_datagrams++;
	q->st.rx_bytes += len;
	if (c->state == CLOSING) {
		if (c->close_pkt && c->close_resends < CLOSE_RESENDS) {
			c->close_resends++;
			send_answer(q, from, fromlen, c->close_pkt, c->close_len);
		}
		return;
	}
	if (c->state == DRAINING)
		return;
	{
		ngtcp2_path path;

		path_of(&path, q, from, fromlen);
		rv = ngtcp2_conn_read_pkt(c->conn, &path, NULL, pkt, len, ts_of(now_ms));
		if (rv == 0)
			c->st.last_rx_ms = now_ms;
		conn_after_read(q, c, rv, now_ms);
	}
}

/* ---- writing -------------------------------------------------------------- */

/* The client opens the stream once the handshake is done. */
static void ensure_stream(struct l2s_quic *q, struct qconn *c, uint64_t now_ms)
{
	int64_t id;
	int rv;

	if (!c->outbound || c->stream_id >= 0 || !c->connected)
		return;
	rv = ngtcp2_conn_open_bidi_stream(c->conn, &id, NULL);
	if (rv == 0)
		c->stream_id = id;
	else if (rv != NGTCP2_ERR_STREAM_ID_BLOCKED)
		conn_fail_liberr(q, c, rv, now_ms);
}

/* Writes c's packets: at most the send quantum, then pacing decides. */
static int conn_write(struct l2s_quic *q, struct qconn *c, uint64_t now_ms)
{
	ngtcp2_tstamp ts = ts_of(now_ms);
	size_t max_pkts = ngtcp2_conn_get_send_quantum(c->conn) / TX_MAX, sent = 0;

	ensure_stream(q, c, now_ms);
	if (c->state != OPEN)
		return 0;
	if (max_pkts < 1)
		max_pkts = 1;
	if (max_pkts > MAX_BURST)
		max_pkts = MAX_BURST;
	c->stream_blocked = 0;
	while (sent < max_pkts) {
		ngtcp2_vec v[2];
		size_t nv = 0;
		int64_t sid = -1;
		ngtcp2_ssize n, ndata = -1;
		ngtcp2_path_storage ps;

		if (c->stream_id >= 0 && !c->stream_blocked && ((nv = ring_unsent(c, v)) > 0 || !c->stream_announced))
			sid = c->stream_id;
		ngtcp2_path_storage_zero(&ps);
		n = ngtcp2_conn_writev_stream(c->conn, &ps.path, NULL, q->txbuf, sizeof(q->txbuf), &ndata,
					      NGTCP2_WRITE_STREAM_FLAG_NONE, sid, nv ? v : NULL, nv, ts);
		if (n < 0) {
			if (sid >= 0 && (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
					 n == NGTCP2_ERR_STREAM_NOT_FOUND)) {
				c->stream_blocked = 1;
				continue;
			}
			conn_fail_liberr(q, c, (int)n, now_ms);
			return 0;
		}
		if (ndata >= 0 && sid >= 0)
			c->stream_announced = 1;
		if (ndata > 0)
			c->tx_sent += (uint64_t)ndata;
		if (n == 0)
			break;
		sent++;
		if (send_dgram(q, c, ps.path.remote.addr, ps.path.remote.addrlen, q->txbuf, (size_t)n) == 1)
			break;
	}
	/* Pacing starts with the 1-RTT data: ngtcp2 0.12 paces the handshake
	 * by the 333 ms initial RTT (the client's Finished waited ~22 ms
	 * behind its first Initial), and the handshake flights are small and
	 * bounded by anti-amplification anyway. */
	if (ngtcp2_conn_get_handshake_completed(c->conn))
		ngtcp2_conn_update_pkt_tx_time(c->conn, ts);
	return q->pending_len ? 1 : 0;
}

/* ---- public calls ----------------------------------------------------------- */

static int params_check(struct l2s_quic_params *p)
{
	const uint32_t min_buf = L2S_QUIC_FRAME_OVERHEAD + L2S_MAX_MESSAGE;
	int zero = 1;

	if (!p->idle_timeout_ms)
		p->idle_timeout_ms = 60000;
	if (!p->keepalive_ms)
		p->keepalive_ms = 20000;
	if (!p->handshake_timeout_ms)
		p->handshake_timeout_ms = 10000;
	if (!p->max_connections)
		p->max_connections = 256;
	if (!p->send_buffer_bytes)
		p->send_buffer_bytes = 1u << 20;
	if (!p->recv_window_bytes)
		p->recv_window_bytes = 1u << 20;
	if (!p->retry_threshold)
		p->retry_threshold = 64;
	for (size_t i = 0; i < sizeof(p->static_secret); i++)
		zero &= p->static_secret[i] == 0;
	if (zero)
		l2s_random(p->static_secret, sizeof(p->static_secret));
	if (p->keepalive_ms > L2S_QUIC_MAX_KEEPALIVE_MS || p->max_connections > L2S_QUIC_MAX_CONNECTIONS ||
	    p->send_buffer_bytes < min_buf || p->recv_window_bytes < min_buf || p->idle_timeout_ms < 1000)
		return L2S_ERR_CONFIG;
	return L2S_OK;
}

static const char RESET_CTX[] = "l2sess/1 2026-11 quic stateless reset key";
static const char TOKEN_CTX[] = "l2sess/1 2026-11 quic retry token key";
static const char MAP_CTX[] = "l2sess/1 2026-11 quic cid map key";

int l2s_quic_new(struct l2s_quic **out, const struct sockaddr *bind_addr, socklen_t bind_len,
		 const struct l2s_quic_params *params)
{
	struct l2s_quic *q;
	uint8_t map_key[32];
	int rc;

	if (!out || !bind_addr || (bind_addr->sa_family != AF_INET && bind_addr->sa_family != AF_INET6))
		return L2S_ERR_CONFIG;
	if (l2s_init() != L2S_OK)
		return L2S_ERR_INIT;
	if (!(q = calloc(1, sizeof(*q))))
		return L2S_ERR_NOMEM;
	q->fd = -1;
	if (params)
		q->p = *params;
	q->own_budget.limit = UINT64_MAX;
	q->b = q->p.budget ? q->p.budget : &q->own_budget;
	if ((rc = params_check(&q->p)) != L2S_OK)
		goto fail;
	l2s_blake3_derive_key(q->reset_key, 32, RESET_CTX, sizeof(RESET_CTX) - 1, q->p.static_secret, 32);
	l2s_blake3_derive_key(q->token_key, 32, TOKEN_CTX, sizeof(TOKEN_CTX) - 1, q->p.static_secret, 32);
	l2s_random(map_key, sizeof(map_key));
	l2s_blake3_derive_key(map_key, 32, MAP_CTX, sizeof(MAP_CTX) - 1, map_key, 32);
	rc = L2S_ERR_NOMEM;
	q->nslots = q->p.max_connections;
	if (!(q->slots = calloc(q->nslots, sizeof(*q->slots))) || !(q->gens = calloc(q->nslots, sizeof(*q->gens))) ||
	    l2s_map_init(&q->cidmap, q->nslots * (MAX_CIDS + 1), map_key) != L2S_OK)
		goto fail;
	if ((rc = l2s_tls_ephemeral_credentials(&q->cred)) != L2S_OK)
		goto fail;
	rc = L2S_ERR_IO;
	if (gnutls_priority_init(&q->prio, TLS_PRIORITY, NULL) != 0) {
		q->prio = NULL;
		goto fail;
	}
	if ((q->fd = sock_open(bind_addr, bind_len, &q->local, &q->local_len)) < 0)
		goto fail;
	*out = q;
	return L2S_OK;
fail:
	l2s_quic_free(q);
	return rc;
}

void l2s_quic_free(struct l2s_quic *q)
{
	struct qevent *e;

	if (!q)
		return;
	for (uint32_t i = 0; q->slots && i < q->nslots; i++)
		if (q->slots[i])
			conn_free(q, q->slots[i]);
	while ((e = q->ev_head)) {
		q->ev_head = e->next;
		event_free(q, e);
	}
	event_free(q, q->ev_taken);
	if (q->cidmap.slots)
		l2s_map_free(&q->cidmap);
	free(q->slots);
	free(q->gens);
	if (q->prio)
		gnutls_priority_deinit(q->prio);
	if (q->cred)
		gnutls_certificate_free_credentials(q->cred);
	if (q->fd >= 0)
		close(q->fd);
	l2s_wipe(q->reset_key, sizeof(q->reset_key));
	l2s_wipe(q->token_key, sizeof(q->token_key));
	l2s_wipe(q->p.static_secret, sizeof(q->p.static_secret));
	free(q);
}

int l2s_quic_local_addr(const struct l2s_quic *q, struct sockaddr_storage *addr, socklen_t *len)
{
	memcpy(addr, &q->local, q->local_len);
	*len = q->local_len;
	return L2S_OK;
}

int l2s_quic_connect(struct l2s_quic *q, const struct sockaddr *peer, socklen_t peer_len, uint64_t now_ms,
		     uint32_t *conn)
{
	ngtcp2_callbacks cb;
	ngtcp2_settings s;
	ngtcp2_transport_params tp;
	ngtcp2_path path;
	ngtcp2_cid dcid, scid;
	struct qconn *c;

	if (!peer || peer->sa_family != q->local.ss_family || peer_len > sizeof(struct sockaddr_storage))
		return L2S_ERR_CONFIG;
	if (!(c = conn_alloc(q, 1)))
		return L2S_ERR_NOMEM;
	set_peer(c, peer, peer_len);
	set_callbacks(&cb, 0);
	conn_settings(q, &s, &tp, 0, now_ms);
	random_cid(&dcid, CID_LEN);
	random_cid(&scid, CID_LEN);
	path_of(&path, q, peer, peer_len);
	if (ngtcp2_conn_client_new(&c->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &s, &tp, NULL, c) != 0) {
		c->conn = NULL;
		goto fail;
	}
	if (conn_tls(q, c, 0) != 0 || cid_add(c, scid.data, scid.datalen) != 0)
		goto fail;
	*conn = c->handle;
	return L2S_OK;
fail:
	c->notified = 1;
	conn_free(q, c);
	return L2S_ERR_NOMEM;
}

static int send_common(struct l2s_quic *q, uint32_t conn, const uint8_t *hdr, size_t hlen, const uint8_t *p,
		       size_t n)
{
	struct qconn *c = conn_get(q, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (c->state != OPEN || c->notified)
		return L2S_ERR_STATE;
	return queue_bytes(q, c, hdr, hlen, p, n);
}

int l2s_quic_send(struct l2s_quic *q, uint32_t conn, const uint8_t *msg, size_t len)
{
	uint8_t hdr[4];
	int rc;

	if (len > L2S_MAX_MESSAGE)
		return L2S_ERR_LENGTH;
	l2s_put_u32(hdr, (uint32_t)len);
	rc = send_common(q, conn, hdr, 4, msg, len);
	if (rc == L2S_OK) {
		struct qconn *c = conn_get(q, conn);

		c->st.tx_messages++;
		c->st.tx_bytes += len;
	}
	return rc;
}

int l2s_quic_send_raw(struct l2s_quic *q, uint32_t conn, const uint8_t *bytes, size_t len)
{
	return send_common(q, conn, NULL, 0, bytes, len);
}

size_t l2s_quic_queued(const struct l2s_quic *q, uint32_t conn)
{
	struct qconn *c = conn_get(q, conn);

	return c ? (size_t)(c->tx_end - c->tx_acked) : 0;
}

int l2s_quic_close(struct l2s_quic *q, uint32_t conn, uint64_t app_error, uint64_t now_ms)
{
	struct qconn *c = conn_get(q, conn);
	ngtcp2_connection_close_error ccerr;

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (c->state != OPEN || c->notified)
		return L2S_ERR_STATE;
	ngtcp2_connection_close_error_set_application_error(&ccerr, app_error, NULL, 0);
	notify_closed(c, L2S_QUIC_CLOSE_LOCAL, 1, app_error);
	conn_close(q, c, &ccerr, now_ms);
	return L2S_OK;
}

/* Reads up to max datagrams from fd. A connection's own socket is read
 * only while it is still that connection's: a datagram may close it. */
static void read_socket(struct l2s_quic *q, int fd, uint32_t owner, int max, uint64_t now_ms)
{
	struct sockaddr_storage from;
	socklen_t fromlen;
	size_t len;

	for (int i = 0; i < max; i++) {
		struct qconn *c = owner ? conn_get(q, owner) : NULL;
		int rc;

		if (owner && (!c || c->fd != fd))
			break;
		rc = sock_recv(fd, q->rxbuf, sizeof(q->rxbuf), &len, &from, &fromlen);
		if (rc == 0)
			break;
		if (rc < 0 || fromlen > sizeof(from) || from.ss_family != q->local.ss_family || q->test_drop_rx) {
			q->st.rx_dropped++;
			continue;
		}
		on_datagram(q, (struct sockaddr *)&from, fromlen, q->rxbuf, len, now_ms);
	}
}

int l2s_quic_on_io(struct l2s_quic *q, int fd, short revents, uint64_t now_ms)
{
	if (!(revents & (POLLIN | POLLERR | POLLHUP)))
		return L2S_OK;
	if (fd == q->fd) {
		read_socket(q, fd, 0, SHARED_READS_PER_CALL, now_ms);
		return L2S_OK;
	}
	for (uint32_t i = 0; i < q->nslots; i++)
		if (q->slots[i] && q->slots[i]->fd == fd) {
			read_socket(q, fd, q->slots[i]->handle, OWN_READS_PER_CALL, now_ms);
			return L2S_OK;
		}
	return L2S_ERR_NOT_FOUND;
}

size_t l2s_quic_pollfds(const struct l2s_quic *q, struct pollfd *fds, size_t cap)
{
	size_t n = 0;

	if (cap > n) {
		fds[n].fd = q->fd;
		fds[n].events = POLLIN | (q->pending_len && q->pending_fd == q->fd ? POLLOUT : 0);
	}
	n++;
	for (uint32_t i = 0; i < q->nslots; i++) {
		const struct qconn *c = q->slots[i];

		if (!c || c->fd < 0)
			continue;
		if (cap > n) {
			fds[n].fd = c->fd;
			fds[n].events = POLLIN | (q->pending_len && q->pending_fd == c->fd ? POLLOUT : 0);
		}
		n++;
	}
	return n;
}

int l2s_quic_trust(struct l2s_quic *q, uint32_t conn)
{
	struct qconn *c = conn_get(q, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (c->state != OPEN || !c->connected)
		return L2S_ERR_STATE;
	c->trusted = 1;
	if (c->fd >= 0)
		return L2S_OK;
	if ((c->fd = own_sock_open(q, &c->peer, c->peer_len)) < 0) {
		q->st.own_socket_failures++;
		return L2S_ERR_IO;
	}
	c->st.own_socket = 1;
	q->st.own_sockets++;
	return L2S_OK;
}

int l2s_quic_on_timer(struct l2s_quic *q, uint64_t now_ms)
{
	ngtcp2_tstamp ts = ts_of(now_ms);

	for (uint32_t i = 0; i < q->nslots; i++) {
		struct qconn *c = q->slots[i];
		int rv;

		if (!c)
			continue;
		if (c->state != OPEN) {
			if (now_ms >= c->close_deadline_ms)
				conn_free(q, c);
			continue;
		}
		if (ngtcp2_conn_get_expiry(c->conn) > ts)
			continue;
		rv = ngtcp2_conn_handle_expiry(c->conn, ts);
		if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
			/* silently: the peer has gone, or never came */
			notify_closed(c, rv == NGTCP2_ERR_IDLE_CLOSE ? L2S_QUIC_CLOSE_IDLE : L2S_QUIC_CLOSE_HANDSHAKE_TIMEOUT,
				      0, 0);
			conn_free(q, c);
		} else if (rv != 0) {
			conn_fail_liberr(q, c, rv, now_ms);
		}
	}
	return L2S_OK;
}

uint64_t l2s_quic_next_expiry(const struct l2s_quic *q)
{
	uint64_t best = UINT64_MAX;

	for (uint32_t i = 0; i < q->nslots; i++) {
		struct qconn *c = q->slots[i];
		uint64_t t;

		if (!c)
			continue;
		if (c->state != OPEN) {
			t = c->close_deadline_ms;
		} else {
			ngtcp2_tstamp e = ngtcp2_conn_get_expiry(c->conn);

			t = e == UINT64_MAX ? UINT64_MAX : (e + MS - 1) / MS;
		}
		if (t < best)
			best = t;
	}
	return best;
}

int l2s_quic_flush(struct l2s_quic *q, uint64_t now_ms)
{
	if (send_pending(q))
		return L2S_OK;
	for (uint32_t i = 0; i < q->nslots; i++) {
		struct qconn *c = q->slots[i];

		if (c && c->state == OPEN && conn_write(q, c, now_ms))
			break;
	}
	return L2S_OK;
}

int l2s_quic_next_event(struct l2s_quic *q, struct l2s_quic_event *ev)
{
	struct qevent *e;
	struct qconn *c;

	event_free(q, q->ev_taken);
	q->ev_taken = NULL;
	if (!(e = q->ev_head))
		return 0;
	q->ev_head = e->next;
	if (!q->ev_head)
		q->ev_tail = NULL;
	/* A taken message frees its share of the receive window. */
	if (e->credit && (c = conn_get(q, e->ev.conn)) && c->state == OPEN && c->stream_id >= 0) {
		ngtcp2_conn_extend_max_stream_offset(c->conn, c->stream_id, e->credit);
		ngtcp2_conn_extend_max_offset(c->conn, e->credit);
	}
	if (e->ev.type == L2S_QUIC_EV_DATAGRAM)
		q->datagrams_queued--;
	*ev = e->ev;
	q->ev_taken = e;
	return 1;
}

int l2s_quic_send_datagram(struct l2s_quic *q, const struct sockaddr *to, socklen_t tolen, const uint8_t *data,
			   size_t len)
{
	if (!q || !to || tolen > sizeof(struct sockaddr_storage) || to->sa_family != q->local.ss_family)
		return L2S_ERR_CONFIG;
	if (!len || len > TX_MAX || (data[0] & QUIC_FIXED_BIT))
		return L2S_ERR_LENGTH;
	/* Like the stateless answers: never queued behind the connections. */
	if (sock_send(q->fd, to, tolen, data, len) != 0) {
		q->st.tx_errors++;
		return L2S_ERR_IO;
	}
	q->st.tx_datagrams++;
	q->st.tx_bytes += len;
	return L2S_OK;
}

void l2s_quic_test_drop_rx(struct l2s_quic *q, int drop)
{
	q->test_drop_rx = drop;
}

int l2s_quic_channel_binding(const struct l2s_quic *q, uint32_t conn, uint8_t out[L2S_QUIC_BINDING_BYTES])
{
	struct qconn *c = conn_get(q, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (!c->connected)
		return L2S_ERR_STATE;
	if (gnutls_prf_rfc5705(c->tls, sizeof(L2S_QUIC_EXPORTER_LABEL) - 1, L2S_QUIC_EXPORTER_LABEL, 0, NULL,
			       L2S_QUIC_BINDING_BYTES, (char *)out) != 0)
		return L2S_ERR_IO;
	return L2S_OK;
}

void l2s_quic_get_stats(const struct l2s_quic *q, struct l2s_quic_stats *st)
{
	*st = q->st;
	st->connections = q->nconns;
}

int l2s_quic_get_conn_stats(const struct l2s_quic *q, uint32_t conn, struct l2s_quic_conn_stats *st)
{
	struct qconn *c = conn_get(q, conn);
	ngtcp2_conn_stat cs;

	if (!c)
		return L2S_ERR_NOT_FOUND;
	*st = c->st;
	st->closing = c->state != OPEN || c->notified;
	memcpy(&st->peer, &c->peer, c->peer_len);
	st->peer_len = c->peer_len;
	st->queued_bytes = c->tx_end - c->tx_acked;
	ngtcp2_conn_get_conn_stat(c->conn, &cs);
	st->smoothed_rtt_us = cs.smoothed_rtt / 1000;
	st->min_rtt_us = cs.min_rtt == UINT64_MAX ? 0 : cs.min_rtt / 1000;
	st->cwnd = cs.cwnd;
	st->bytes_in_flight = cs.bytes_in_flight;
	return L2S_OK;
}

int l2s_quic_rebind(struct l2s_quic *q, const struct sockaddr *addr, socklen_t len, uint64_t now_ms)
{
	struct sockaddr_storage local;
	socklen_t local_len;
	int fd;

	if (!addr || addr->sa_family != q->local.ss_family)
		return L2S_ERR_CONFIG;
	if ((fd = sock_open(addr, len, &local, &local_len)) < 0)
		return L2S_ERR_IO;
	q->pending_len = 0;
	for (uint32_t i = 0; i < q->nslots; i++)
		if (q->slots[i])
			own_sock_close(q, q->slots[i]);
	close(q->fd);
	q->fd = fd;
	q->local = local;
	q->local_len = local_len;
	for (uint32_t i = 0; i < q->nslots; i++) {
		struct qconn *c = q->slots[i];
		const ngtcp2_path *cur;
		ngtcp2_path path;
		ngtcp2_addr a;

		if (!c || c->state != OPEN)
			continue;
		/* A client migrates (RFC 9000 §9) with a fresh connection ID at
		 * once: the old socket is gone, so there is nothing to probe
		 * from. Before the handshake is confirmed, or without a spare
		 * ID, and always for our server side, the path just changes its
		 * local address, as a NAT rebinding would. */
		cur = ngtcp2_conn_get_path(c->conn);
		path_of(&path, q, (const struct sockaddr *)cur->remote.addr, cur->remote.addrlen);
		if (c->outbound && ngtcp2_conn_initiate_immediate_migration(c->conn, &path, ts_of(now_ms)) == 0)
			continue;
		ngtcp2_addr_init(&a, (ngtcp2_sockaddr *)&q->local, q->local_len);
		ngtcp2_conn_set_local_addr(c->conn, &a);
	}
	return L2S_OK;
}
