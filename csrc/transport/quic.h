/* SPDX-License-Identifier: Apache-2.0 */
/* quic.h - the QUIC transport (DESIGN.md §3 layer 5, §4 QUIC row).
 *
 * One endpoint owns one non-blocking UDP socket, the shared socket, and
 * serves both directions on it: connections it opens (l2s_quic_connect) and
 * connections peers open to it share it, told apart by connection ID. A
 * connection its owner trusts (l2s_quic_trust: its peer authenticated) gets
 * a socket of its own on the same port, connected to the peer: the kernel
 * then queues that peer's datagrams apart, so a flood of the shared socket
 * (junk, Initials) neither fills its queue nor takes its turn; the shared
 * socket is read at most 64 datagrams a call. Built on ngtcp2 0.12 with its
 * GnuTLS crypto helper.
 *
 *  - ALPN "l2sess/1", TLS 1.3 only, an ephemeral self-signed certificate
 *    (tlscert.h) that nobody verifies: authentication is the L2 handshake's
 *    job, and l2s_quic_channel_binding() ties that handshake to this TLS
 *    session (PROTOCOL.md §4.1, `binding` in h0).
 *  - One bidirectional stream per connection, opened by the client, carrying
 *    L2 messages as `u32` big-endian length || message (PROTOCOL.md §2). A
 *    length above L2S_MAX_MESSAGE, a second stream or the stream's end
 *    closes the connection with an application error (L2S_QUIC_APP_*).
 *  - Sans-IO apart from the sockets: the caller passes the time (now_ms, a
 *    CLOCK_MONOTONIC millisecond clock) into every call, polls the fds of
 *    l2s_quic_pollfds() and calls l2s_quic_on_io / l2s_quic_on_timer /
 *    l2s_quic_flush; the module's own recvmsg/sendmsg are the only I/O. No
 *    global state. ngtcp2 gets now_ms with the sub-millisecond part of
 *    CLOCK_MONOTONIC (round trips on a LAN are microseconds).
 *  - A connection's packets leave in UDP GSO batches (one sendmsg for up
 *    to ~64 KiB of equal datagrams) and arrive coalesced where the kernel
 *    does UDP GRO; a kernel that refuses GSO gets one datagram a call.
 *
 * A driving loop, in order, each round:
 *     poll(l2s_quic_pollfds(q, ...), timeout = l2s_quic_next_expiry(q) - now)
 *     l2s_quic_on_io(q, fd, revents, now)  for each ready fd
 *     l2s_quic_on_timer(q, now)           always (cheap when nothing is due)
 *     while (l2s_quic_next_event(q, &ev)) ...   (may call l2s_quic_send)
 *     l2s_quic_flush(q, now)
 * Receive flow-control credit is returned when a MESSAGE event is taken, so
 * a caller that stops taking events stops the peer, not the memory bound.
 *
 * Bounds: max_connections; per connection a send queue of send_buffer_bytes
 * (L2S_ERR_QUEUE_FULL beyond it, nothing dropped), a receive window of
 * recv_window_bytes (the stream and connection flow-control limits: received
 * but untaken messages never exceed it) and up to L2S_QUIC_MAX_CIDS
 * connection IDs; one 64 KiB buffer for reading, one for writing a batch
 * and one for a batch a full socket blocked. Junk datagrams are dropped and counted (struct l2s_quic_stats).
 * With a memory budget (budget.h, the node's): each connection draws ~96
 * KiB for its QUIC and TLS state (a new client that does not fit is
 * refused, CONNECTION_REFUSED), its send queue 16 KiB chunks as they fill
 * (a send that does not fit is L2S_ERR_QUEUE_FULL; a trusted connection's
 * first has the budget's owner shed what it may), and every event its
 * bytes until taken; an untrusted connection that receives a message past
 * the limit is shed (L2S_QUIC_APP_SHED).
 *
 * Other datagrams on the port. A datagram whose first byte lacks QUIC's
 * fixed bit ((b & 0x40) == 0) and whose destination connection ID names
 * none of our connections is not QUIC. (ngtcp2 0.12 always offers
 * grease_quic_bit, RFC 9287, so an established peer may clear the bit; a
 * new client's Initial never does, RFC 9287 §3.1.) Such a datagram (raw
 * discovery, PROTOCOL.md §11) is passed up as an L2S_QUIC_EV_DATAGRAM event
 * with its source, at most L2S_QUIC_MAX_DATAGRAMS waiting (more are dropped
 * and counted), and l2s_quic_send_datagram() answers it from the same port.
 */
#ifndef L2S_QUIC_H
#define L2S_QUIC_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/budget.h"
#include "l2s.h"
#include "l2s_transport.h"

#define L2S_QUIC_ALPN "l2sess/1"
#define L2S_QUIC_EXPORTER_LABEL "EXPORTER-l2sess/1 channel binding"
#define L2S_QUIC_BINDING_BYTES 32
#define L2S_QUIC_FRAME_OVERHEAD 4 /* the u32 length */
#define L2S_QUIC_MAX_DATAGRAMS 64        /* DATAGRAM events waiting; more are dropped */
#define L2S_QUIC_MAX_DATAGRAM_BYTES 1500 /* a larger non-QUIC datagram is dropped */

/* Application error codes in CONNECTION_CLOSE (type 0x1d). */
enum l2s_quic_app_error {
	L2S_QUIC_APP_NO_ERROR = 0x0,
	L2S_QUIC_APP_FRAMING = 0x1, /* a length above L2S_MAX_MESSAGE */
	L2S_QUIC_APP_STREAM = 0x2,  /* a second stream, or the stream ended or was reset */
	L2S_QUIC_APP_SHED = 0x3,    /* shed: the node's memory budget is spent, and no session
				     * authenticated on the connection */
};


struct l2s_quic;

/* 1 when the build has this transport; 0 in a build without ngtcp2 and
 * GnuTLS (quic_none.c), where l2s_quic_new always fails. */
int l2s_quic_available(void);

/* Opens and binds the shared socket (non-blocking, close-on-exec; a port
 * another socket holds is EADDRINUSE, and only after the bind does it allow
 * SO_REUSEPORT, for trusted connections' own sockets) and makes the TLS
 * certificate. bind_addr: IPv4 or IPv6, port 0 for an
 * ephemeral one. params may be NULL for the defaults. L2S_ERR_CONFIG,
 * L2S_ERR_IO (errno tells), L2S_ERR_NOMEM. */
int l2s_quic_new(struct l2s_quic **out, const struct sockaddr *bind_addr, socklen_t bind_len,
		 const struct l2s_quic_params *params);
/* Frees every connection without a word to the peers (l2s_quic_close them
 * and flush first for a polite exit) and closes the socket. NULL is fine. */
void l2s_quic_free(struct l2s_quic *q);

/* The sockets to poll, with the events wanted: the shared socket first,
 * then each trusted connection's own. Returns how many there are (only cap
 * are written); the set changes between rounds. */
size_t l2s_quic_pollfds(const struct l2s_quic *q, struct pollfd *fds, size_t cap);
/* The bound address (with the port the kernel chose). */
int l2s_quic_local_addr(const struct l2s_quic *q, struct sockaddr_storage *addr, socklen_t *len);

/* Starts a client connection to peer; *conn gets its non-zero handle at
 * once. CONNECTED or CLOSED follows. L2S_ERR_CONFIG for another address
 * family than the socket's, L2S_ERR_NOMEM at max_connections. */
int l2s_quic_connect(struct l2s_quic *q, const struct sockaddr *peer, socklen_t peer_len, uint64_t now_ms,
		     uint32_t *conn);

/* Queues one message (copied; 0..L2S_MAX_MESSAGE bytes) on conn's stream.
 * Allowed from connect on; it leaves with l2s_quic_flush as flow control
 * permits. L2S_ERR_LENGTH above L2S_MAX_MESSAGE, L2S_ERR_QUEUE_FULL when the
 * send ring has no room (nothing queued is dropped; retry after a flush),
 * L2S_ERR_NOT_FOUND for an unknown handle, L2S_ERR_STATE once closing. */
int l2s_quic_send(struct l2s_quic *q, uint32_t conn, const uint8_t *msg, size_t len);
/* Bytes queued and not yet acknowledged by the peer (framing included). */
size_t l2s_quic_queued(const struct l2s_quic *q, uint32_t conn);

/* Closes conn with an application error code (L2S_QUIC_APP_NO_ERROR for a
 * normal end): CONNECTION_CLOSE is sent at once and CLOSED(LOCAL) queued. */
int l2s_quic_close(struct l2s_quic *q, uint32_t conn, uint64_t app_error, uint64_t now_ms);

/* fd (one of l2s_quic_pollfds) is ready: reads its waiting datagrams (until
 * EAGAIN; at most 64 a call from the shared socket, 1,024 from a
 * connection's own) and feeds each to its connection; new clients are
 * accepted here. Version Negotiation, Retry and Stateless Reset answers are
 * sent at once. L2S_ERR_NOT_FOUND for an fd that is not the endpoint's. */
int l2s_quic_on_io(struct l2s_quic *q, int fd, short revents, uint64_t now_ms);
/* conn's peer has authenticated (the owner's word): from now on conn's
 * datagrams use a socket of its own, bound to the shared socket's address
 * (SO_REUSEPORT) and connected to the peer. It goes back to the shared
 * socket when the peer's address changes (PATH) until trusted again.
 * L2S_ERR_STATE before CONNECTED or once closing, L2S_ERR_IO when the
 * socket cannot be made (the connection goes on over the shared one). */
int l2s_quic_trust(struct l2s_quic *q, uint32_t conn);
/* Runs the connections' timers due at now_ms (loss recovery, keepalive,
 * idle and handshake timeouts, the end of closing and draining). */
int l2s_quic_on_timer(struct l2s_quic *q, uint64_t now_ms);
/* The earliest deadline in ms, UINT64_MAX when there is none. */
uint64_t l2s_quic_next_expiry(const struct l2s_quic *q);
/* Writes what the connections have to send (ACKs, handshake, stream data
 * as flow and congestion control and pacing allow). When a socket is full
 * the datagram waits, and l2s_quic_pollfds() asks POLLOUT of that socket
 * until a later flush sent it. */
int l2s_quic_flush(struct l2s_quic *q, uint64_t now_ms);

enum l2s_quic_event_type {
	L2S_QUIC_EV_CONNECTED = 1, /* the QUIC handshake is complete; peer is set */
	L2S_QUIC_EV_MESSAGE,       /* one whole message, in order */
	L2S_QUIC_EV_CLOSED,        /* the handle is gone (last event of a connection) */
	L2S_QUIC_EV_PATH,          /* the peer's address changed (validated); peer is set */
	L2S_QUIC_EV_DATAGRAM,      /* a non-QUIC datagram (conn 0); peer is its source, data/len it */
};

enum l2s_quic_close_reason {
	L2S_QUIC_CLOSE_LOCAL = 1,         /* l2s_quic_close; error_code is ours */
	L2S_QUIC_CLOSE_PEER,              /* the peer's CONNECTION_CLOSE; error_code, app_error */
	L2S_QUIC_CLOSE_IDLE,              /* idle timeout */
	L2S_QUIC_CLOSE_HANDSHAKE_TIMEOUT, /* the QUIC handshake did not complete in time */
	L2S_QUIC_CLOSE_FRAMING,           /* the peer broke the stream rules; error_code is L2S_QUIC_APP_* */
	L2S_QUIC_CLOSE_TRANSPORT,         /* a QUIC or TLS error here; error_code is the transport error */
	L2S_QUIC_CLOSE_RESET,             /* a Stateless Reset from the peer */
	L2S_QUIC_CLOSE_SHED,              /* we shed it (L2S_QUIC_APP_SHED) */
};

struct l2s_quic_event {
	int type;
	uint32_t conn;
	int outbound;                 /* this side connected (the QUIC client) */
	struct sockaddr_storage peer; /* CONNECTED, PATH */
	socklen_t peer_len;
	const uint8_t *data;          /* MESSAGE: valid until the next l2s_quic_next_event or l2s_quic_free */
	size_t len;
	int reason;                   /* CLOSED: enum l2s_quic_close_reason */
	int app_error;                /* CLOSED: error_code is an application error code */
	uint64_t error_code;          /* CLOSED */
};
/* 1 and the next event, or 0 when there is none. CLOSED is reported for
 * every connection made by l2s_quic_connect and for accepted ones that had
 * reported CONNECTED; an inbound handshake that fails is only counted. */
int l2s_quic_next_event(struct l2s_quic *q, struct l2s_quic_event *ev);

/* The TLS exporter (RFC 8446 §7.5) with label L2S_QUIC_EXPORTER_LABEL, an
 * empty context and 32 bytes: equal on both ends of one connection and
 * unpredictable to anyone else, so it binds the L2 handshake (h0) to it.
 * L2S_ERR_STATE before CONNECTED. */
int l2s_quic_channel_binding(const struct l2s_quic *q, uint32_t conn, uint8_t out[L2S_QUIC_BINDING_BYTES]);

void l2s_quic_get_stats(const struct l2s_quic *q, struct l2s_quic_stats *st);

struct l2s_quic_conn_stats {
	int outbound, connected, closing;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint64_t tx_messages, tx_bytes, rx_messages, rx_bytes; /* message bytes, framing excluded */
	uint64_t queued_bytes;                                 /* as l2s_quic_queued */
	uint64_t smoothed_rtt_us, min_rtt_us, cwnd, bytes_in_flight;
	uint32_t path_changes;
	int own_socket;                                        /* l2s_quic_trust gave it one */
	uint64_t last_rx_ms;                                   /* the last packet the connection accepted */
};
int l2s_quic_get_conn_stats(const struct l2s_quic *q, uint32_t conn, struct l2s_quic_conn_stats *st);

/* Moves the endpoint to a new socket bound to addr (port 0: any), as after
 * a local address change. Connections this side opened migrate to it
 * (ngtcp2_conn_initiate_immediate_migration: a fresh connection ID, the
 * peer validates the new path and reports PATH); where that is refused
 * (handshake not yet confirmed, no spare ID) the path's local address just
 * changes, as in a NAT rebinding. Connections peers opened to us do not
 * survive it: QUIC clients drop packets from a new server address (RFC 9000
 * §9), so they end by idle timeout. The old sockets are closed (connections'
 * own ones too: they go back to the shared socket). */
int l2s_quic_rebind(struct l2s_quic *q, const struct sockaddr *addr, socklen_t len, uint64_t now_ms);

/* Sends one non-QUIC datagram (its first byte must lack the fixed bit, at
 * most one UDP payload) from the endpoint's socket, at once, never queued.
 * L2S_ERR_CONFIG for another address family, L2S_ERR_LENGTH, L2S_ERR_IO
 * when the socket refuses it (dropped, counted in tx_errors). */
int l2s_quic_send_datagram(struct l2s_quic *q, const struct sockaddr *to, socklen_t tolen, const uint8_t *data,
			   size_t len);

/* Tests only: while drop is set, every received datagram is read and
 * dropped (counted in rx_dropped), as if the network ate them. */
void l2s_quic_test_drop_rx(struct l2s_quic *q, int drop);

/* Tests only: sends as where the kernel refuses UDP GSO, one datagram a call. */
void l2s_quic_test_no_gso(struct l2s_quic *q);

/* Tests only: puts raw bytes on conn's stream, bypassing the framing (to
 * show that the peer refuses a bad length). Same errors as l2s_quic_send. */
int l2s_quic_send_raw(struct l2s_quic *q, uint32_t conn, const uint8_t *bytes, size_t len);

#endif /* L2S_QUIC_H */
