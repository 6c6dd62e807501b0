// SPDX-License-Identifier: Apache-2.0
/* The QUIC transport over ngtcp2 0.12 and GnuTLS (quic.h): its public calls.
 * The parts: quic_socket.c (the sockets), quic_stream.c (handles,
 * connection IDs, events, the send queue), quic_conn.c (a connection's life
 * and writing), quic_callbacks.c (ngtcp2's callbacks), quic_accept.c (new
 * clients and the routing of datagrams). Every ngtcp2 call that may call back is made from a
 * public call, never from inside a callback: callbacks only record
 * (events, failures) and the caller acts after ngtcp2 returns. */
#include "transport/quic/quic_internal.h"

/* ---- public calls ----------------------------------------------------------- */

int l2s_quic_available(void)
{
	return 1;
}

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
	q->gso = 1;
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
	if ((q->fd = quic_sock_open(bind_addr, bind_len, &q->local, &q->local_len)) < 0)
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
			quic_conn_free(q, q->slots[i]);
	while ((e = l2s_fifo_pop(&q->events)))
		quic_event_free(q, e);
	quic_event_free(q, q->ev_taken);
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
	if (!(c = quic_conn_alloc(q, 1)))
		return L2S_ERR_NOMEM;
	quic_set_peer(c, peer, peer_len);
	quic_set_callbacks(&cb, 0);
	quic_conn_settings(q, &s, &tp, 0, now_ms);
	quic_random_cid(&dcid, CID_LEN);
	quic_random_cid(&scid, CID_LEN);
	quic_path_of(&path, q, peer, peer_len);
	if (ngtcp2_conn_client_new(&c->conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &s, &tp, NULL, c) != 0) {
		c->conn = NULL;
		goto fail;
	}
	if (quic_conn_tls(q, c, 0) != 0 || quic_cid_add(c, scid.data, scid.datalen) != 0)
		goto fail;
	*conn = c->handle;
	return L2S_OK;
fail:
	c->notified = 1;
	quic_conn_free(q, c);
	return L2S_ERR_NOMEM;
}

static int send_common(struct l2s_quic *q, uint32_t conn, const uint8_t *hdr, size_t hlen, const uint8_t *p,
		       size_t n)
{
	struct qconn *c = quic_conn_get(q, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (c->state != OPEN || c->notified)
		return L2S_ERR_STATE;
	return quic_queue_bytes(q, c, hdr, hlen, p, n);
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
		struct qconn *c = quic_conn_get(q, conn);

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
	struct qconn *c = quic_conn_get(q, conn);

	return c ? (size_t)(c->tx_end - c->tx_acked) : 0;
}

int l2s_quic_close(struct l2s_quic *q, uint32_t conn, uint64_t app_error, uint64_t now_ms)
{
	struct qconn *c = quic_conn_get(q, conn);
	quic_ccerr ccerr;

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (c->state != OPEN || c->notified)
		return L2S_ERR_STATE;
	quic_ccerr_application(&ccerr, app_error);
	quic_notify_closed(c, L2S_QUIC_CLOSE_LOCAL, 1, app_error);
	quic_conn_close(q, c, &ccerr, now_ms);
	return L2S_OK;
}

/* Reads up to max datagrams from fd (a coalesced read counts each of its
 * datagrams, so GRO does not widen the bound). A connection's own socket
 * is read only while it is still that connection's: a datagram may close it. */
static void read_socket(struct l2s_quic *q, int fd, uint32_t owner, int max, uint64_t now_ms)
{
	struct sockaddr_storage from;
	socklen_t fromlen;
	size_t len, seg, n;

	for (int i = 0; i < max; i += (int)n) {
		struct qconn *c = owner ? quic_conn_get(q, owner) : NULL;
		int rc;

		n = 1;
		if (owner && (!c || c->fd != fd))
			break;
		rc = quic_sock_recv(fd, q->rxbuf, sizeof(q->rxbuf), &len, &seg, &from, &fromlen);
		if (rc == 0)
			break;
		if (rc < 0 || fromlen > sizeof(from) || from.ss_family != q->local.ss_family || q->test_drop_rx) {
			q->st.rx_dropped++;
			continue;
		}
		if (!len)
			continue; /* an empty datagram: nothing to route */
		n = (len + seg - 1) / seg;
		if (n > 1)
			q->st.rx_gro_datagrams += n;
		for (size_t off = 0; off < len; off += seg)
			quic_on_datagram(q, (struct sockaddr *)&from, fromlen, q->rxbuf + off,
					 len - off < seg ? len - off : seg, now_ms);
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
	struct qconn *c = quic_conn_get(q, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (c->state != OPEN || !c->connected)
		return L2S_ERR_STATE;
	c->trusted = 1;
	if (c->fd >= 0)
		return L2S_OK;
	if ((c->fd = quic_own_sock_open(q, &c->peer, c->peer_len)) < 0) {
		q->st.own_socket_failures++;
		return L2S_ERR_IO;
	}
	c->st.own_socket = 1;
	q->st.own_sockets++;
	return L2S_OK;
}

int l2s_quic_on_timer(struct l2s_quic *q, uint64_t now_ms)
{
	ngtcp2_tstamp ts = quic_ts(q, now_ms);

	for (uint32_t i = 0; i < q->nslots; i++) {
		struct qconn *c = q->slots[i];
		int rv;

		if (!c)
			continue;
		if (c->state != OPEN) {
			if (now_ms >= c->close_deadline_ms)
				quic_conn_free(q, c);
			continue;
		}
		if (ngtcp2_conn_get_expiry(c->conn) > ts)
			continue;
		rv = ngtcp2_conn_handle_expiry(c->conn, ts);
		if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
			/* silently: the peer has gone, or never came */
			quic_notify_closed(c, rv == NGTCP2_ERR_IDLE_CLOSE ? L2S_QUIC_CLOSE_IDLE : L2S_QUIC_CLOSE_HANDSHAKE_TIMEOUT,
					   0, 0);
			quic_conn_free(q, c);
		} else if (rv != 0) {
			quic_conn_fail_liberr(q, c, rv, now_ms);
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
	if (quic_send_pending(q))
		return L2S_OK;
	for (uint32_t i = 0; i < q->nslots; i++) {
		struct qconn *c = q->slots[i];

		if (c && c->state == OPEN && quic_conn_write(q, c, now_ms))
			break;
	}
	return L2S_OK;
}

int l2s_quic_next_event(struct l2s_quic *q, struct l2s_quic_event *ev)
{
	struct qevent *e;
	struct qconn *c;

	quic_event_free(q, q->ev_taken);
	q->ev_taken = NULL;
	if (!(e = l2s_fifo_pop(&q->events)))
		return 0;
	/* A taken message frees its share of the receive window. */
	if (e->credit && (c = quic_conn_get(q, e->ev.conn)) && c->state == OPEN && c->stream_id >= 0) {
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
	if (quic_sock_send(q->fd, to, tolen, data, len) != 0) {
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

void l2s_quic_test_no_gso(struct l2s_quic *q)
{
	q->gso = 0;
}

int l2s_quic_channel_binding(const struct l2s_quic *q, uint32_t conn, uint8_t out[L2S_QUIC_BINDING_BYTES])
{
	struct qconn *c = quic_conn_get(q, conn);

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
	struct qconn *c = quic_conn_get(q, conn);
	quic_conn_info cs;

	if (!c)
		return L2S_ERR_NOT_FOUND;
	*st = c->st;
	st->closing = c->state != OPEN || c->notified;
	memcpy(&st->peer, &c->peer, c->peer_len);
	st->peer_len = c->peer_len;
	st->queued_bytes = c->tx_end - c->tx_acked;
	quic_conn_get_info(c->conn, &cs);
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
	if ((fd = quic_sock_open(addr, len, &local, &local_len)) < 0)
		return L2S_ERR_IO;
	q->pending_len = 0;
	for (uint32_t i = 0; i < q->nslots; i++)
		if (q->slots[i])
			quic_own_sock_close(q, q->slots[i]);
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
		quic_path_of(&path, q, (const struct sockaddr *)cur->remote.addr, cur->remote.addrlen);
		if (c->outbound && ngtcp2_conn_initiate_immediate_migration(c->conn, &path, quic_ts(q, now_ms)) == 0)
			continue;
		ngtcp2_addr_init(&a, (ngtcp2_sockaddr *)&q->local, q->local_len);
		ngtcp2_conn_set_local_addr(c->conn, &a);
	}
	return L2S_OK;
}
