/* SPDX-License-Identifier: Apache-2.0 */
/* The QUIC transport's parts (quic.h), shared by quic.c (the public calls),
 * quic_socket.c, quic_stream.c, quic_conn.c, quic_callbacks.c and
 * quic_accept.c: the endpoint and connection structures and the calls
 * between the parts. */
#ifndef L2S_QUIC_INTERNAL_H
#define L2S_QUIC_INTERNAL_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "lib/budget.h"
#include "lib/fifo.h"
#include "lib/map.h"
#include "transport/quic.h"
#include "transport/quic/quic_ngtcp2.h"
#include "transport/tlscert.h"
#include "wire/wire.h"

#define CID_LEN 16                 /* our connection IDs; short headers need one length */
#define MAX_CIDS 16                /* routed IDs per connection (ngtcp2 issues at most 8) */
#define TX_MAX NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE
/* One sendmsg's datagrams (UDP GSO, one IPv4 UDP payload at most): a
 * connection's packets leave in batches of this, ~45 datagrams a call. */
#define TX_BATCH (TX_MAX * (65507 / TX_MAX))
#define GSO_MAX_SEGMENTS 64        /* the kernel's UDP_MAX_SEGMENTS since Linux 4.18 */
#define RX_MAX 65536               /* one datagram, or several coalesced by UDP GRO;
				    * larger ones are truncated and dropped */
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
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448:" \
	"%DISABLE_TLS13_COMPAT_MODE"

enum { OPEN = 0, CLOSING, DRAINING };

struct qevent {
	struct l2s_fifo_link link;
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
	struct l2s_fifo events;
	struct qevent *ev_taken; /* the last taken: freed on the next call */
	uint32_t datagrams_queued;   /* DATAGRAM events waiting, at most L2S_QUIC_MAX_DATAGRAMS */
	int test_drop_rx;
	uint64_t answers_window_ms;
	uint32_t answers_in_window;
	ngtcp2_tstamp last_ts; /* the last quic_ts: ngtcp2's clock never goes back */
	int gso; /* UDP GSO works here: off after the kernel refused it once */
	/* the datagrams a full socket did not take, sent before anything else */
	size_t pending_len, pending_seg;
	int pending_fd;
	struct sockaddr_storage pending_to;
	socklen_t pending_tolen;
	struct l2s_quic_stats st;
	uint8_t pending[TX_BATCH];
	uint8_t txbuf[TX_BATCH];
	uint8_t rxbuf[RX_MAX];
};

/* quic_conn.c */
ngtcp2_tstamp quic_ts(struct l2s_quic *q, uint64_t now_ms);

/* quic_socket.c */
int quic_sock_open(const struct sockaddr *addr, socklen_t len, struct sockaddr_storage *local, socklen_t *local_len);
int quic_own_sock_open(const struct l2s_quic *q, const struct sockaddr_storage *peer, socklen_t peer_len);
int quic_sock_recv(int fd, uint8_t *buf, size_t cap, size_t *len, size_t *seg, struct sockaddr_storage *from,
		   socklen_t *fromlen);
int quic_sock_send(int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t n);
int quic_send_batch(struct l2s_quic *q, struct qconn *c, const struct sockaddr *to, socklen_t tolen,
		    const uint8_t *p, size_t n, size_t seg);
int quic_answer_allowed(struct l2s_quic *q, uint64_t now_ms);
void quic_send_answer(struct l2s_quic *q, const struct sockaddr *to, socklen_t tolen, const uint8_t *p, size_t n);
int quic_send_pending(struct l2s_quic *q);

/* quic_stream.c */
struct qconn *quic_conn_get(const struct l2s_quic *q, uint32_t handle);
struct qconn *quic_conn_alloc(struct l2s_quic *q, int outbound);
size_t quic_cid_key(uint8_t key[1 + NGTCP2_MAX_CIDLEN], const uint8_t *id, size_t len);
int quic_cid_add(struct qconn *c, const uint8_t *id, size_t len);
void quic_cid_del(struct qconn *c, const uint8_t *id, size_t len);
struct qconn *quic_conn_by_cid(const struct l2s_quic *q, const uint8_t *id, size_t len);
void quic_random_cid(ngtcp2_cid *cid, size_t len);
struct qevent *quic_event_alloc(struct l2s_quic *q, size_t len);
void quic_event_free(struct l2s_quic *q, struct qevent *e);
struct qevent *quic_event_new(int type, struct qconn *c, size_t len);
void quic_event_push(struct l2s_quic *q, struct qevent *e);
void quic_event_addr(struct qevent *e, const struct qconn *c);
void quic_notify_closed(struct qconn *c, int reason, int app, uint64_t code);
size_t quic_ring_unsent(struct qconn *c, ngtcp2_vec v[2]);
void quic_ring_acked(struct l2s_quic *q, struct qconn *c, uint64_t acked);
void quic_ring_free(struct l2s_quic *q, struct qconn *c);
int quic_queue_bytes(struct l2s_quic *q, struct qconn *c, const uint8_t *hdr, size_t hlen, const uint8_t *p,
		     size_t n);

/* quic_conn.c */
void quic_own_sock_close(struct l2s_quic *q, struct qconn *c);
void quic_conn_free(struct l2s_quic *q, struct qconn *c);
void quic_conn_close(struct l2s_quic *q, struct qconn *c, const quic_ccerr *ccerr,
		     uint64_t now_ms);
void quic_conn_fail_liberr(struct l2s_quic *q, struct qconn *c, int liberr, uint64_t now_ms);
void quic_conn_after_read(struct l2s_quic *q, struct qconn *c, int rv, uint64_t now_ms);
int quic_conn_write(struct l2s_quic *q, struct qconn *c, uint64_t now_ms);

/* quic_callbacks.c */
ngtcp2_conn *quic_get_conn_cb(ngtcp2_crypto_conn_ref *ref);
void quic_set_callbacks(ngtcp2_callbacks *cb, int server);

/* quic_accept.c */
void quic_conn_settings(struct l2s_quic *q, ngtcp2_settings *s, ngtcp2_transport_params *tp, int server,
			uint64_t now_ms);
int quic_conn_tls(struct l2s_quic *q, struct qconn *c, int server);
void quic_path_of(ngtcp2_path *path, struct l2s_quic *q, const struct sockaddr *remote, socklen_t remote_len);
void quic_set_peer(struct qconn *c, const struct sockaddr *a, socklen_t len);
void quic_on_datagram(struct l2s_quic *q, const struct sockaddr *from, socklen_t fromlen, const uint8_t *pkt,
		      size_t len, uint64_t now_ms);

#endif /* L2S_QUIC_INTERNAL_H */
