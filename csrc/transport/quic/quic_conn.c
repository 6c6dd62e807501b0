// SPDX-License-Identifier: Apache-2.0
/* A connection's life: closing, failing, freeing, and writing its packets. */
#include "transport/quic/quic_internal.h"

/* ---- connection life ------------------------------------------------------ */

/* ngtcp2's clock: the caller's milliseconds and the sub-millisecond part of
 * CLOCK_MONOTONIC's. Round trips on a LAN are tens of microseconds, which a
 * millisecond clock measures as 0 or 1 ms, and RTT, pacing and the ACK
 * delay all follow from them. */
ngtcp2_tstamp quic_ts(struct l2s_quic *q, uint64_t now_ms)
{
	struct timespec t;
	ngtcp2_tstamp ts;

	clock_gettime(CLOCK_MONOTONIC, &t);
	ts = (ngtcp2_tstamp)now_ms * MS + (ngtcp2_tstamp)t.tv_nsec % MS;
	if (ts < q->last_ts)
		ts = q->last_ts;
	q->last_ts = ts;
	return ts;
}

/* Back to the shared socket (the connection ends, or its peer moved). A
 * datagram waiting for the closed socket leaves from the shared one. */
void quic_own_sock_close(struct l2s_quic *q, struct qconn *c)
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

void quic_conn_free(struct l2s_quic *q, struct qconn *c)
{
	uint8_t key[1 + NGTCP2_MAX_CIDLEN];

	for (unsigned i = 0; i < c->ncids; i++)
		l2s_map_del(&q->cidmap, key, quic_cid_key(key, c->cids[i].id, c->cids[i].len));
	if (!c->outbound && !c->connected)
		q->handshaking_in--;
	quic_own_sock_close(q, c);
	if (c->conn)
		ngtcp2_conn_del(c->conn);
	if (c->tls)
		gnutls_deinit(c->tls);
	quic_ring_free(q, c);
	quic_event_free(q, c->rx_ev);
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
void quic_conn_close(struct l2s_quic *q, struct qconn *c, const quic_ccerr *ccerr,
		     uint64_t now_ms)
{
	ngtcp2_path_storage ps;
	ngtcp2_ssize n;

	if (c->state != OPEN)
		return;
	ngtcp2_path_storage_zero(&ps);
	n = ngtcp2_conn_write_connection_close(c->conn, &ps.path, NULL, q->txbuf, sizeof(q->txbuf), ccerr,
					       quic_ts(q, now_ms));
	c->state = CLOSING;
	c->close_deadline_ms = now_ms + 3 * pto_ms(c);
	if (n > 0 && (c->close_pkt = malloc((size_t)n))) {
		memcpy(c->close_pkt, q->txbuf, (size_t)n);
		c->close_len = (size_t)n;
		quic_send_answer(q, ps.path.remote.addr, ps.path.remote.addrlen, c->close_pkt, c->close_len);
	}
}

static void conn_fail_app(struct l2s_quic *q, struct qconn *c, int reason, uint64_t code, uint64_t now_ms)
{
	quic_ccerr ccerr;

	if (reason == L2S_QUIC_CLOSE_FRAMING)
		q->st.framing_errors++;
	quic_ccerr_application(&ccerr, code);
	quic_notify_closed(c, reason, 1, code);
	quic_conn_close(q, c, &ccerr, now_ms);
}

/* An ngtcp2 or TLS error: the transport error it implies goes to the peer. */
void quic_conn_fail_liberr(struct l2s_quic *q, struct qconn *c, int liberr, uint64_t now_ms)
{
	quic_ccerr ccerr;

	if (liberr == NGTCP2_ERR_CRYPTO)
		quic_ccerr_tls_alert(&ccerr, ngtcp2_conn_get_tls_alert(c->conn));
	else
		quic_ccerr_liberr(&ccerr, liberr);
	quic_notify_closed(c, L2S_QUIC_CLOSE_TRANSPORT, 0, ccerr.error_code);
	quic_conn_close(q, c, &ccerr, now_ms);
}

/* After ngtcp2 returned: act on what a callback recorded or on its error. */
void quic_conn_after_read(struct l2s_quic *q, struct qconn *c, int rv, uint64_t now_ms)
{
	if (c->fail_reason) {
		conn_fail_app(q, c, c->fail_reason, c->fail_code, now_ms);
		return;
	}
	if (rv == 0)
		return;
	if (rv == NGTCP2_ERR_DRAINING) {
		quic_ccerr ccerr;

		quic_conn_get_ccerr(c->conn, &ccerr);
		c->state = DRAINING;
		c->close_deadline_ms = now_ms + 3 * pto_ms(c);
		if (c->reset_seen)
			quic_notify_closed(c, L2S_QUIC_CLOSE_RESET, 0, 0);
		else
			quic_notify_closed(c, L2S_QUIC_CLOSE_PEER,
					   ccerr.type == QUIC_CCERR_APPLICATION, ccerr.error_code);
		return;
	}
	if (rv == NGTCP2_ERR_DROP_CONN || rv == NGTCP2_ERR_RETRY) {
		/* silently: nothing may be sent for this connection */
		quic_notify_closed(c, L2S_QUIC_CLOSE_TRANSPORT, 0, 0);
		quic_conn_free(q, c);
		return;
	}
	q->st.rx_conn_errors++;
	quic_conn_fail_liberr(q, c, rv, now_ms);
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
		quic_conn_fail_liberr(q, c, rv, now_ms);
}

/* The packets written since the last send: one path, seg-byte datagrams
 * (the last may be shorter) from q->txbuf, leaving in one GSO call. */
struct batch {
	ngtcp2_path_storage path;
	size_t len, seg, count;
};

static int same_remote(const ngtcp2_path *a, const ngtcp2_path *b)
{
	return a->remote.addrlen == b->remote.addrlen && memcmp(a->remote.addr, b->remote.addr, a->remote.addrlen) == 0;
}

/* 1: the socket is full, the rest waits. */
static int batch_send(struct l2s_quic *q, struct qconn *c, struct batch *b)
{
	size_t n = b->len;

	b->len = b->count = 0;
	if (!n)
		return 0;
	return quic_send_batch(q, c, b->path.path.remote.addr, b->path.path.remote.addrlen, q->txbuf, n, b->seg) == 1;
}

/* Adds the n-byte packet just written at q->txbuf + b->len on path ps.
 * GSO wants one path and equal datagrams but a shorter last one: a packet
 * that does not fit sends the batch before it. 1: the socket is full. */
static int batch_add(struct l2s_quic *q, struct qconn *c, struct batch *b, const ngtcp2_path *ps, size_t n)
{
	if (b->len && (n > b->seg || !same_remote(&b->path.path, ps))) {
		uint8_t *pkt = q->txbuf + b->len;

		/* Full: the batch waits, this packet is lost (and resent by QUIC). */
		if (batch_send(q, c, b))
			return 1;
		memmove(q->txbuf, pkt, n);
	}
	if (!b->len) {
		ngtcp2_path_storage_init(&b->path, ps->local.addr, ps->local.addrlen, ps->remote.addr,
					 ps->remote.addrlen, NULL);
		b->seg = n;
	}
	b->len += n;
	b->count++;
	/* a short datagram ends a GSO batch, and so does a full buffer */
	if (n < b->seg || !q->gso || b->count == GSO_MAX_SEGMENTS || sizeof(q->txbuf) - b->len < TX_MAX)
		return batch_send(q, c, b);
	return 0;
}

/* Writes c's packets: at most the send quantum, then pacing decides. */
int quic_conn_write(struct l2s_quic *q, struct qconn *c, uint64_t now_ms)
{
	ngtcp2_tstamp ts = quic_ts(q, now_ms);
	size_t max_pkts = ngtcp2_conn_get_send_quantum(c->conn) / TX_MAX, sent = 0;
	struct batch b = {.len = 0};

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

		if (c->stream_id >= 0 && !c->stream_blocked && ((nv = quic_ring_unsent(c, v)) > 0 || !c->stream_announced))
			sid = c->stream_id;
		ngtcp2_path_storage_zero(&ps);
		n = ngtcp2_conn_writev_stream(c->conn, &ps.path, NULL, q->txbuf + b.len, TX_MAX, &ndata,
					      NGTCP2_WRITE_STREAM_FLAG_NONE, sid, nv ? v : NULL, nv, ts);
		if (n < 0) {
			if (sid >= 0 && (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
					 n == NGTCP2_ERR_STREAM_NOT_FOUND)) {
				c->stream_blocked = 1;
				continue;
			}
			quic_conn_fail_liberr(q, c, (int)n, now_ms);
			return 0;
		}
		if (ndata >= 0 && sid >= 0)
			c->stream_announced = 1;
		if (ndata > 0)
			c->tx_sent += (uint64_t)ndata;
		if (n == 0)
			break;
		sent++;
		if (batch_add(q, c, &b, &ps.path, (size_t)n))
			break;
	}
	batch_send(q, c, &b);
	/* Pacing starts with the 1-RTT data: ngtcp2 0.12 paces the handshake
	 * by the 333 ms initial RTT (the client's Finished waited ~22 ms
	 * behind its first Initial), and the handshake flights are small and
	 * bounded by anti-amplification anyway. */
	if (ngtcp2_conn_get_handshake_completed(c->conn))
		ngtcp2_conn_update_pkt_tx_time(c->conn, ts);
	return q->pending_len ? 1 : 0;
}
