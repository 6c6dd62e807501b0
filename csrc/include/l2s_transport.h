/* SPDX-License-Identifier: Apache-2.0 */
/* l2s_transport.h - what a user of the event loop (l2s_loop.h) sets and
 * reads of its two transports: their parameters and counters. The
 * transports themselves (csrc/transport/quic.h, tcp.h) are internal. */
#ifndef L2S_TRANSPORT_H
#define L2S_TRANSPORT_H

#include <stdint.h>

struct l2s_budget; /* the node's memory budget, the loop's own */

enum l2s_transport_kind {
	L2S_TRANSPORT_NONE = 0,
	L2S_TRANSPORT_QUIC = 1,
	L2S_TRANSPORT_UTCP = 2,
};

#define L2S_QUIC_MAX_KEEPALIVE_MS 25000 /* DESIGN.md §5: NAT bindings */
#define L2S_QUIC_MAX_CONNECTIONS 65535

struct l2s_quic_params {
	uint64_t idle_timeout_ms;      /* 0: 60 s (max_idle_timeout transport parameter) */
	uint64_t keepalive_ms;         /* 0: 20 s; above L2S_QUIC_MAX_KEEPALIVE_MS is L2S_ERR_CONFIG */
	uint64_t handshake_timeout_ms; /* 0: 10 s */
	uint32_t max_connections;      /* 0: 256; both directions together */
	uint32_t send_buffer_bytes;    /* per connection; 0: 1 MiB; at least 4 + L2S_MAX_MESSAGE */
	uint32_t recv_window_bytes;    /* per connection; 0: 1 MiB; at least 4 + L2S_MAX_MESSAGE */
	uint32_t retry_threshold;      /* handshaking inbound connections before a new client must
					* prove its address with a Retry; 0: 64 */
	int always_retry;              /* every new client gets a Retry first (tests, or under attack) */
	struct l2s_budget *budget;     /* the node's memory budget to draw from; NULL: unlimited */
	uint8_t static_secret[32];     /* keys stateless-reset and Retry tokens; all zero: random.
					* Keep it across restarts to reset peers of a former run. */
};

struct l2s_quic_stats {
	uint64_t rx_datagrams, rx_bytes, tx_datagrams, tx_bytes;
	uint64_t rx_dropped;          /* junk: undecodable, unknown connection, truncated, refused */
	uint64_t rx_conn_errors;      /* datagrams a connection refused (bad keys, bad frames) */
	uint64_t version_negotiations, retries_sent, retry_tokens_bad, stateless_resets_sent;
	uint64_t answers_withheld; /* stateless answers not sent: past 64 a second */
	uint64_t accepted, refused_full, connected, closed, path_changes;
	uint64_t framing_errors;      /* connections closed for L2S_QUIC_APP_FRAMING or _STREAM */
	uint64_t tx_blocked, tx_errors; /* sendmsg EAGAIN (retried) and other failures (dropped) */
	uint64_t tx_gso_sends;        /* sendmsg calls that carried several datagrams (UDP GSO) */
	uint64_t gso_failures;        /* 1 when the kernel refused GSO: one datagram a call since */
	uint64_t rx_gro_datagrams;    /* datagrams that came coalesced in one read (UDP GRO) */
	uint64_t datagrams, datagrams_dropped; /* non-QUIC datagrams passed up, and over the bound */
	uint64_t own_socket_failures; /* l2s_quic_trust could not make a socket */
	uint64_t refused_budget;      /* new clients refused: the budget could not take another */
	uint64_t shed_budget;         /* untrusted connections closed past the budget (APP_SHED) */
	uint64_t budget_full;         /* sends refused (L2S_ERR_QUEUE_FULL) for want of budget */
	uint32_t connections;         /* open now, including closing ones */
	uint32_t own_sockets;         /* trusted connections with a socket of their own now */
};

#define L2S_TCP_MAX_CONNECTIONS 65535

struct l2s_tcp_params {
	uint32_t max_connections;    /* 0: 1024; both directions together */
	uint32_t send_buffer_bytes;  /* per connection; 0: 1 MiB; at least 4 + L2S_MAX_MESSAGE */
	uint32_t recv_buffer_bytes;  /* per connection; 0: 1 MiB; at least 4 + L2S_MAX_MESSAGE */
	uint64_t connect_timeout_ms; /* 0: 10 s */
	uint64_t linger_ms;          /* after l2s_tcp_close, to deliver what is queued; 0: 2 s */
	int sock_sndbuf, sock_rcvbuf; /* SO_SNDBUF / SO_RCVBUF on every socket; 0: kernel default */
	int backlog;                 /* listen(); 0: 128 */
	uint32_t max_untrusted;      /* untrusted connections; 0: half of max_connections */
	uint32_t untrusted_send_bytes; /* queued for an untrusted connection; 0: 64 KiB */
	uint64_t auth_timeout_ms;    /* an untrusted connection's life; 0: 10 s */
	uint64_t memory_budget;      /* all connections' queued bytes; 0: 32 MiB (without budget) */
	struct l2s_budget *budget;   /* the node's budget to draw from; NULL: one of memory_budget */
	uint32_t untrusted_msgs_per_s; /* read from an untrusted connection; 0: 8 */
};

struct l2s_tcp_stats {
	uint64_t accepted, refused_full, connects, connected, connect_failures, closed;
	uint64_t rx_messages, rx_bytes, tx_messages, tx_bytes; /* message bytes, framing excluded */
	uint64_t framing_errors;      /* connections closed for a length above L2S_MAX_MESSAGE */
	uint64_t resets;              /* connections closed by a socket error */
	uint64_t queue_full;          /* sends refused with L2S_ERR_QUEUE_FULL */
	uint64_t shed_not_reading, shed_unauthenticated, shed_for_new, shed_budget; /* in that order */
	uint32_t connections;         /* open now, including lingering closes */
	uint32_t untrusted;           /* of them, accepted and not yet trusted */
	uint64_t held_bytes;          /* queued to send and received not taken, all connections */
	uint64_t memory_budget;
};

#endif /* L2S_TRANSPORT_H */
