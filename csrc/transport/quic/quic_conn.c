// SPDX-License-Identifier: Apache-2.0
/* A connection's life: closing, failing, freeing, and writing its packets. */
#include "transport/quic/quic_internal.h"

/* ---- connection life ------------------------------------------------------ */

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
					       ts_of(now_ms));
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

/* Writes c's packets: at most the send quantum, then pacing decides. */
int quic_conn_write(struct l2s_quic *q, struct qconn *c, uint64_t now_ms)
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

		if (c->stream_id >= 0 && !c->stream_blocked && ((nv = quic_ring_unsent(c, v)) > 0 || !c->stream_announced))
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
		if (quic_send_dgram(q, c, ps.path.remote.addr, ps.path.remote.addrlen, q->txbuf, (size_t)n) == 1)
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
