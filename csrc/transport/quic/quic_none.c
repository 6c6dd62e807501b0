// SPDX-License-Identifier: Apache-2.0
/* The QUIC transport when the build has none (no ngtcp2 or GnuTLS for the
 * target: an OpenWrt musl build, or -DL2S_WITH_QUIC=OFF). It stands in for
 * the rest of quic/ and tlscert.c, so that the loop builds unchanged: no
 * endpoint can be made, the loop runs as with no_quic (l2s_loop_new), and
 * so every call below that takes an endpoint is unreachable; each still
 * answers as for an endpoint with nothing on it. */
#include <errno.h>
#include <string.h>

#include "transport/quic.h"

int l2s_quic_available(void)
{
	return 0;
}

int l2s_quic_new(struct l2s_quic **out, const struct sockaddr *bind_addr, socklen_t bind_len,
		 const struct l2s_quic_params *params)
{
	(void)bind_addr, (void)bind_len, (void)params;
	if (out)
		*out = NULL;
	errno = EPROTONOSUPPORT;
	return L2S_ERR_CONFIG;
}

void l2s_quic_free(struct l2s_quic *q)
{
	(void)q;
}

size_t l2s_quic_pollfds(const struct l2s_quic *q, struct pollfd *fds, size_t cap)
{
	(void)q, (void)fds, (void)cap;
	return 0;
}

int l2s_quic_local_addr(const struct l2s_quic *q, struct sockaddr_storage *addr, socklen_t *len)
{
	(void)q, (void)addr, (void)len;
	return L2S_ERR_STATE;
}

int l2s_quic_connect(struct l2s_quic *q, const struct sockaddr *peer, socklen_t peer_len, uint64_t now_ms,
		     uint32_t *conn)
{
	(void)q, (void)peer, (void)peer_len, (void)now_ms, (void)conn;
	return L2S_ERR_CONFIG;
}

int l2s_quic_send(struct l2s_quic *q, uint32_t conn, const uint8_t *msg, size_t len)
{
	(void)q, (void)conn, (void)msg, (void)len;
	return L2S_ERR_NOT_FOUND;
}

int l2s_quic_close(struct l2s_quic *q, uint32_t conn, uint64_t app_error, uint64_t now_ms)
{
	(void)q, (void)conn, (void)app_error, (void)now_ms;
	return L2S_ERR_NOT_FOUND;
}

int l2s_quic_on_io(struct l2s_quic *q, int fd, short revents, uint64_t now_ms)
{
	(void)q, (void)fd, (void)revents, (void)now_ms;
	return L2S_ERR_NOT_FOUND;
}

int l2s_quic_trust(struct l2s_quic *q, uint32_t conn)
{
	(void)q, (void)conn;
	return L2S_ERR_NOT_FOUND;
}

int l2s_quic_on_timer(struct l2s_quic *q, uint64_t now_ms)
{
	(void)q, (void)now_ms;
	return L2S_OK;
}

uint64_t l2s_quic_next_expiry(const struct l2s_quic *q)
{
	(void)q;
	return UINT64_MAX;
}

int l2s_quic_flush(struct l2s_quic *q, uint64_t now_ms)
{
	(void)q, (void)now_ms;
	return L2S_OK;
}

int l2s_quic_next_event(struct l2s_quic *q, struct l2s_quic_event *ev)
{
	(void)q, (void)ev;
	return 0;
}

int l2s_quic_channel_binding(const struct l2s_quic *q, uint32_t conn, uint8_t out[L2S_QUIC_BINDING_BYTES])
{
	(void)q, (void)conn, (void)out;
	return L2S_ERR_NOT_FOUND;
}

void l2s_quic_get_stats(const struct l2s_quic *q, struct l2s_quic_stats *st)
{
	(void)q;
	memset(st, 0, sizeof(*st));
}

int l2s_quic_get_conn_stats(const struct l2s_quic *q, uint32_t conn, struct l2s_quic_conn_stats *st)
{
	(void)q, (void)conn, (void)st;
	return L2S_ERR_NOT_FOUND;
}

int l2s_quic_send_datagram(struct l2s_quic *q, const struct sockaddr *to, socklen_t tolen, const uint8_t *data,
			   size_t len)
{
	(void)q, (void)to, (void)tolen, (void)data, (void)len;
	return L2S_ERR_IO;
}

void l2s_quic_test_drop_rx(struct l2s_quic *q, int drop)
{
	(void)q, (void)drop;
}

void l2s_quic_test_no_gso(struct l2s_quic *q)
{
	(void)q;
}
