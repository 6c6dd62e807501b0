// SPDX-License-Identifier: Apache-2.0
/* The ngtcp2 callbacks. They only record (events, failures); the public
 * call that made ngtcp2 call back acts after it returns. */
#include "transport/quic/quic_internal.h"

/* ---- ngtcp2 callbacks ----------------------------------------------------- */

ngtcp2_conn *quic_get_conn_cb(ngtcp2_crypto_conn_ref *ref)
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
	quic_random_cid(cid, cidlen);
	if (ngtcp2_crypto_generate_stateless_reset_token(token, c->q->reset_key, sizeof(c->q->reset_key), cid) != 0 ||
	    quic_cid_add(c, cid->data, cid->datalen) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int remove_cid_cb(ngtcp2_conn *conn, const ngtcp2_cid *cid, void *ud)
{
	(void)conn;
	quic_cid_del(ud, cid->data, cid->datalen);
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
	if (!(e = quic_event_new(L2S_QUIC_EV_CONNECTED, c, 0)))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	quic_event_addr(e, c);
	quic_event_push(c->q, e);
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
			if (!(c->rx_ev = quic_event_new(L2S_QUIC_EV_MESSAGE, c, len)))
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
			quic_event_push(c->q, c->rx_ev);
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
		quic_ring_acked(c->q, c, offset + datalen);
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

static int path_validated(struct qconn *c, const ngtcp2_path *path, ngtcp2_path_validation_result res)
{
	struct qevent *e;

	if (res != NGTCP2_PATH_VALIDATION_RESULT_SUCCESS || path->remote.addrlen > sizeof(c->peer) ||
	    (path->remote.addrlen == c->peer_len && memcmp(path->remote.addr, &c->peer, c->peer_len) == 0))
		return 0;
	memcpy(&c->peer, path->remote.addr, path->remote.addrlen);
	c->peer_len = path->remote.addrlen;
	/* Its own socket is connected to the old address: back to the shared
	 * one until the new path is trusted again. */
	quic_own_sock_close(c->q, c);
	c->st.path_changes++;
	c->q->st.path_changes++;
	if (c->announced && !c->notified && (e = quic_event_new(L2S_QUIC_EV_PATH, c, 0))) {
		quic_event_addr(e, c);
		quic_event_push(c->q, e);
	}
	return 0;
}

/* ngtcp2 1.x also names the path it would fall back to; we do not use it. */
#if NGTCP2_VERSION_NUM >= 0x010000
static int path_validation_cb(ngtcp2_conn *conn, uint32_t flags, const ngtcp2_path *path,
			      const ngtcp2_path *fallback_path, ngtcp2_path_validation_result res, void *ud)
{
	(void)conn;
	(void)flags;
	(void)fallback_path;
	return path_validated(ud, path, res);
}
#else
static int path_validation_cb(ngtcp2_conn *conn, uint32_t flags, const ngtcp2_path *path,
			      ngtcp2_path_validation_result res, void *ud)
{
	(void)conn;
	(void)flags;
	return path_validated(ud, path, res);
}
#endif

void quic_set_callbacks(ngtcp2_callbacks *cb, int server)
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
