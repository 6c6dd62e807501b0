// SPDX-License-Identifier: Apache-2.0
/* Making connections and reading datagrams: new clients (Retry,
 * refusal), stateless answers, and the routing of each datagram. */
#include "transport/quic/quic_internal.h"

/* ---- making connections --------------------------------------------------- */

void quic_conn_settings(struct l2s_quic *q, ngtcp2_settings *s, ngtcp2_transport_params *tp, int server,
			uint64_t now_ms)
{
	ngtcp2_settings_default(s);
	s->initial_ts = quic_ts(q, now_ms);
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

int quic_conn_tls(struct l2s_quic *q, struct qconn *c, int server)
{
	gnutls_datum_t alpn = {.data = (unsigned char *)L2S_QUIC_ALPN, .size = sizeof(L2S_QUIC_ALPN) - 1};

	if (gnutls_init(&c->tls, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_END_OF_EARLY_DATA) != 0) {
		c->tls = NULL;
		return -1;
	}
	c->ref.get_conn = quic_get_conn_cb;
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

void quic_path_of(ngtcp2_path *path, struct l2s_quic *q, const struct sockaddr *remote, socklen_t remote_len)
{
	path->local.addr = (ngtcp2_sockaddr *)&q->local;
	path->local.addrlen = q->local_len;
	path->remote.addr = (ngtcp2_sockaddr *)remote;
	path->remote.addrlen = remote_len;
	path->user_data = NULL;
}

void quic_set_peer(struct qconn *c, const struct sockaddr *a, socklen_t len)
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
	struct qconn *c = quic_conn_alloc(q, 0);

	if (!c) {
		q->st.refused_full++;
		q->st.rx_dropped++;
		return;
	}
	q->handshaking_in++;
	q->st.accepted++;
	quic_set_peer(c, from, fromlen);
	quic_set_callbacks(&cb, 1);
	quic_conn_settings(q, &s, &tp, 1, now_ms);
	if (retried) {
		quic_settings_token(&s, hd);
		tp.original_dcid = *odcid;
		tp.retry_scid = hd->dcid;
		tp.retry_scid_present = 1;
	} else {
		tp.original_dcid = hd->dcid;
	}
	quic_tp_original_dcid_present(&tp);
	quic_random_cid(&scid, CID_LEN);
	if (ngtcp2_crypto_generate_stateless_reset_token(tp.stateless_reset_token, q->reset_key, sizeof(q->reset_key),
							 &scid) != 0)
		goto fail;
	tp.stateless_reset_token_present = 1;
	quic_path_of(&path, q, from, fromlen);
	if (ngtcp2_conn_server_new(&c->conn, &hd->scid, &scid, &path, hd->version, &cb, &s, &tp, NULL, c) != 0) {
		c->conn = NULL;
		goto fail;
	}
	if (quic_conn_tls(q, c, 1) != 0 || quic_cid_add(c, scid.data, scid.datalen) != 0 ||
	    quic_cid_add(c, hd->dcid.data, hd->dcid.datalen) != 0)
		goto fail;
	q->st.rx_datagrams++;
	q->st.rx_bytes += len;
	quic_conn_after_read(q, c, ngtcp2_conn_read_pkt(c->conn, &path, NULL, pkt, len, quic_ts(q, now_ms)), now_ms);
	return;
fail:
	q->st.rx_dropped++;
	c->notified = 1;
	quic_conn_free(q, c);
}

static void send_retry(struct l2s_quic *q, const ngtcp2_pkt_hd *hd, const struct sockaddr *from, socklen_t fromlen,
		       uint64_t now_ms)
{
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
	ngtcp2_cid scid;
	ngtcp2_ssize tl, n;

	if (!quic_answer_allowed(q, now_ms))
		return;
	quic_random_cid(&scid, CID_LEN);
	tl = ngtcp2_crypto_generate_retry_token(token, q->token_key, sizeof(q->token_key), hd->version,
						(const ngtcp2_sockaddr *)from, fromlen, &scid, &hd->dcid, quic_ts(q, now_ms));
	if (tl < 0)
		return;
	n = ngtcp2_crypto_write_retry(q->txbuf, sizeof(q->txbuf), hd->version, &hd->scid, &scid, &hd->dcid, token,
				      (size_t)tl);
	if (n < 0)
		return;
	q->st.retries_sent++;
	quic_send_answer(q, from, fromlen, q->txbuf, (size_t)n);
}

static void refuse(struct l2s_quic *q, const ngtcp2_pkt_hd *hd, const struct sockaddr *from, socklen_t fromlen,
		   uint64_t code, uint64_t now_ms)
{
	ngtcp2_ssize n;

	if (!quic_answer_allowed(q, now_ms))
		return;
	n = ngtcp2_crypto_write_connection_close(q->txbuf, sizeof(q->txbuf), hd->version, &hd->scid, &hd->dcid,
						 code, NULL, 0);
	if (n > 0)
		quic_send_answer(q, from, fromlen, q->txbuf, (size_t)n);
}

/* A datagram for no known connection that starts a long header. */
static void on_new_initial(struct l2s_quic *q, const struct sockaddr *from, socklen_t fromlen, const uint8_t *pkt,
			   size_t len, uint64_t now_ms)
{
	ngtcp2_pkt_hd hd;
	ngtcp2_cid odcid;
	const uint8_t *token;
	size_t token_len;
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
	token = quic_hd_token(&hd, &token_len);
	if (token_len && token[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
		if (ngtcp2_crypto_verify_retry_token(&odcid, token, token_len, q->token_key,
						     sizeof(q->token_key), hd.version, (const ngtcp2_sockaddr *)from,
						     fromlen, &hd.dcid, RETRY_TOKEN_LIFE_MS * MS, quic_ts(q, now_ms)) != 0) {
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
	if (!quic_answer_allowed(q, now_ms))
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
	quic_send_answer(q, from, fromlen, q->txbuf, (size_t)n);
}

static void send_version_negotiation(struct l2s_quic *q, const ngtcp2_version_cid *vc, const struct sockaddr *from,
				     socklen_t fromlen, size_t len, uint64_t now_ms)
{
	uint32_t sv[] = {NGTCP2_PROTO_VER_V1};
	uint8_t r;
	ngtcp2_ssize n;

	/* Only for a datagram as large as a client Initial: no amplification. */
	if (len < NGTCP2_MAX_UDP_PAYLOAD_SIZE || !quic_answer_allowed(q, now_ms))
		return;
	l2s_random(&r, 1);
	n = ngtcp2_pkt_write_version_negotiation(q->txbuf, sizeof(q->txbuf), r, vc->scid, vc->scidlen, vc->dcid,
						 vc->dcidlen, sv, 1);
	if (n > 0) {
		q->st.version_negotiations++;
		quic_send_answer(q, from, fromlen, q->txbuf, (size_t)n);
	}
}

/* Not QUIC (the fixed bit is clear and it names no connection of ours):
 * queued for the caller as a DATAGRAM event, within a small bound. */
static void on_other_datagram(struct l2s_quic *q, const struct sockaddr *from, socklen_t fromlen,
			      const uint8_t *pkt, size_t len)
{
	struct qevent *e;

	if (q->datagrams_queued >= L2S_QUIC_MAX_DATAGRAMS || len > L2S_QUIC_MAX_DATAGRAM_BYTES ||
	    !(e = quic_event_alloc(q, len))) {
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
	quic_event_push(q, e);
}

/* One received datagram. */
void quic_on_datagram(struct l2s_quic *q, const struct sockaddr *from, socklen_t fromlen, const uint8_t *pkt,
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
					   !quic_conn_by_cid(q, vc.dcid, vc.dcidlen))) {
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
	c = quic_conn_by_cid(q, vc.dcid, vc.dcidlen);
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
			quic_send_answer(q, from, fromlen, c->close_pkt, c->close_len);
		}
		return;
	}
	if (c->state == DRAINING)
		return;
	{
		ngtcp2_path path;

		quic_path_of(&path, q, from, fromlen);
		rv = ngtcp2_conn_read_pkt(c->conn, &path, NULL, pkt, len, quic_ts(q, now_ms));
		if (rv == 0)
			c->st.last_rx_ms = now_ms;
		quic_conn_after_read(q, c, rv, now_ms);
	}
}
