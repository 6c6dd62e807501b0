/* SPDX-License-Identifier: Apache-2.0 */
/* The few places where ngtcp2 0.12 (Debian bookworm) and 1.x (bookworm-
 * backports, Raspberry Pi OS trixie, OpenWrt) differ, under names of our
 * own: the connection-close error, the connection's statistics, where a
 * packet header or the settings keep a token, the path-validation callback
 * (quic_callbacks.c) and a server's original_dcid_present. The rest of the QUIC module
 * uses the API the two share. */
#ifndef L2S_QUIC_NGTCP2_H
#define L2S_QUIC_NGTCP2_H

#include <ngtcp2/ngtcp2.h>

#if NGTCP2_VERSION_NUM >= 0x010000

typedef ngtcp2_ccerr quic_ccerr;
typedef ngtcp2_conn_info quic_conn_info;
#define QUIC_CCERR_APPLICATION NGTCP2_CCERR_TYPE_APPLICATION

static inline void quic_ccerr_application(quic_ccerr *e, uint64_t code)
{
	ngtcp2_ccerr_set_application_error(e, code, NULL, 0);
}

static inline void quic_ccerr_tls_alert(quic_ccerr *e, uint8_t alert)
{
	ngtcp2_ccerr_set_tls_alert(e, alert, NULL, 0);
}

static inline void quic_ccerr_liberr(quic_ccerr *e, int liberr)
{
	ngtcp2_ccerr_set_liberr(e, liberr, NULL, 0);
}

static inline void quic_conn_get_ccerr(ngtcp2_conn *conn, quic_ccerr *out)
{
	*out = *ngtcp2_conn_get_ccerr(conn);
}

static inline void quic_conn_get_info(ngtcp2_conn *conn, quic_conn_info *out)
{
	ngtcp2_conn_get_conn_info(conn, out);
}

static inline const uint8_t *quic_hd_token(const ngtcp2_pkt_hd *hd, size_t *len)
{
	*len = hd->tokenlen;
	return hd->token;
}

static inline void quic_settings_token(ngtcp2_settings *s, const ngtcp2_pkt_hd *hd)
{
	s->token = hd->token;
	s->tokenlen = hd->tokenlen;
}

/* 1.x asks a server to say that it set original_dcid. */
static inline void quic_tp_original_dcid_present(ngtcp2_transport_params *tp)
{
	tp->original_dcid_present = 1;
}

#else /* ngtcp2 0.x */

typedef ngtcp2_connection_close_error quic_ccerr;
typedef ngtcp2_conn_stat quic_conn_info;
#define QUIC_CCERR_APPLICATION NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION

static inline void quic_ccerr_application(quic_ccerr *e, uint64_t code)
{
	ngtcp2_connection_close_error_set_application_error(e, code, NULL, 0);
}

static inline void quic_ccerr_tls_alert(quic_ccerr *e, uint8_t alert)
{
	ngtcp2_connection_close_error_set_transport_error_tls_alert(e, alert, NULL, 0);
}

static inline void quic_ccerr_liberr(quic_ccerr *e, int liberr)
{
	ngtcp2_connection_close_error_set_transport_error_liberr(e, liberr, NULL, 0);
}

static inline void quic_conn_get_ccerr(ngtcp2_conn *conn, quic_ccerr *out)
{
	ngtcp2_conn_get_connection_close_error(conn, out);
}

static inline void quic_conn_get_info(ngtcp2_conn *conn, quic_conn_info *out)
{
	ngtcp2_conn_get_conn_stat(conn, out);
}

static inline const uint8_t *quic_hd_token(const ngtcp2_pkt_hd *hd, size_t *len)
{
	*len = hd->token.len;
	return hd->token.base;
}

static inline void quic_settings_token(ngtcp2_settings *s, const ngtcp2_pkt_hd *hd)
{
	s->token = hd->token;
}

static inline void quic_tp_original_dcid_present(ngtcp2_transport_params *tp)
{
	(void)tp;
}

#endif
#endif /* L2S_QUIC_NGTCP2_H */
