/* SPDX-License-Identifier: Apache-2.0 */
/* l2s_loop.h - the event loop, public API (DESIGN.md §3 layer 7): one thread drives a node
 * (the sans-IO engine), its QUIC endpoint, its μTCP endpoint, discovery and
 * every timer with epoll. This is the I/O edge: the only place that reads
 * the clocks (CLOCK_MONOTONIC for now_ms, CLOCK_REALTIME for bundle expiry)
 * and touches sockets. No global state: any number of loops may live in one
 * process (the tests run two).
 *
 * Ports. One UDP port carries QUIC and raw discovery (a datagram whose first
 * byte lacks QUIC's fixed bit 0x40 is not QUIC, RFC 9000 §17: it goes to
 * discovery, PROTOCOL.md §11); the TCP port of the same number carries μTCP.
 *
 * Transports built. A build without ngtcp2 and GnuTLS (an OpenWrt musl
 * target, or -DL2S_WITH_QUIC=OFF) has μTCP and discovery only: every loop
 * runs as with no_quic = 1, whatever params say, with no UDP port, so
 * discovery is the in-band kind (on μTCP connections) alone.
 * l2s_loop_has_quic() says which build this is.
 *
 * Peers. A peer is a DID (its Ed25519 key) and an address. A peer added with
 * connect = 1 is one this node keeps a session with:
 *   1. transports are raced, happy-eyeballs style: QUIC at once, μTCP
 *      happy_eyeballs_ms later unless QUIC connected first; the first to
 *      connect carries the session, the other is closed;
 *   2. without a valid cached bundle, the peer's prekey bundle is fetched
 *      in-band: a DISCOVERY_PROBE on the new connection (the connection
 *      proves the address, so the answer carries the bundle; PROTOCOL.md
 *      §11.3), verified against the DID;
 *   3. the full handshake runs on that connection; on QUIC its TLS exporter
 *      is the path's channel binding (l2s_node_path_binding);
 *   4. when the connection fails (closed, or nothing received on it for
 *      path_timeout_ms after it sent data) the session moves to a
 *      new connection of the other transport through resumption
 *      (l2s_session_set_path): queued messages flush, and the application
 *      sees one L2S_EV_TRANSPORT event;
 *   5. while on μTCP, QUIC is tried again every quic_retry_ms and the
 *      session moves back when it connects;
 *   6. reconnects back off from reconnect_base_ms to reconnect_max_ms.
 * A peer added with connect = 0 may open sessions to us (an allow-list
 * entry) and its address is used to resume an imported session; inbound
 * sessions from DIDs that are not peers are closed unless accept_any.
 *
 * Threads. l2s_loop_run() runs on one thread; every other function may be
 * called from any thread at any time (one internal mutex, held while the
 * loop works, never while it waits) and wakes the loop through an eventfd.
 * l2s_loop_stop() is also async-signal-safe.
 *
 * Bounds. Events for the application wait in a queue of event_queue_limit
 * events; above half of it the loop stops taking messages from the
 * transports (which still acknowledge at their level: QUIC's stream window
 * and μTCP's receive buffer then stop the peers), so it only overflows by
 * what one received message can release (at most the reorder window of
 * MESSAGEs, or the DELIVERED events of one acknowledgement), and no event
 * is ever dropped. Sends use the engine's bounded queue (L2S_ERR_QUEUE_FULL).
 * The engine keeps at most 512 KiB of a session's data in flight
 * (L2S_DELIVERY_WINDOW_BYTES), half a QUIC or μTCP send buffer (1 MiB per
 * connection by default); what a full transport still refuses waits in a
 * per-path hold of at most LOOP_HOLD_BYTES (~770 KiB, allocated only while
 * used) and goes first once the transport drains: nothing is dropped for a
 * full transport, so a burst never waits for a retransmission timeout.
 * Per connection, then, at most: send queue + receive window (1 MiB each by
 * default) + the hold; and over the whole node, memory_budget: everything
 * above draws from it, and past it the node sheds what proves least (μTCP
 * connections no session authenticated on, those holding most first; new
 * QUIC clients are refused and unauthenticated QUIC connections that
 * receive are closed), refuses sends with L2S_ERR_QUEUE_FULL and, past half
 * of it in queued events, stops taking messages from the transports as
 * above. An authenticated session's accepted messages are never dropped.
 */
#ifndef L2S_LOOP_H
#define L2S_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "l2s.h"
#include "l2s_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

#define L2S_LOOP_MAX_PEERS 4096
#define L2S_LOOP_DELIVERED_STREAMS 8 /* per peer: streams delivered before a restart */


struct l2s_loop_params {
	struct l2s_node_params node;    /* identity, prekey, storage key, limits */
	struct l2s_config cfg;          /* for the sessions this node starts and accepts */
	struct sockaddr_storage listen; /* UDP (QUIC + discovery) and TCP on this port; port 0: any */
	socklen_t listen_len;           /* 0: no listener (connect-only node) */
	int no_quic, no_utcp;           /* leave a transport out (tests, or a UDP-less site);
					 * a build without QUIC: always no_quic */
	struct l2s_quic_params quic;    /* zeros: quic.h defaults */
	struct l2s_tcp_params tcp;      /* zeros: tcp.h defaults */
	uint64_t happy_eyeballs_ms;     /* μTCP starts this long after QUIC; 0: 250 */
	uint64_t path_timeout_ms;       /* a connection that received nothing for this long after
					 * it sent data has failed; 0: 3000 */
	uint64_t quic_retry_ms;         /* on μTCP, QUIC is tried again this often; 0: 30 s */
	uint64_t reconnect_base_ms;     /* 0: 100 */
	uint64_t reconnect_max_ms;      /* 0: 10 s */
	uint32_t event_queue_limit;     /* 0: 8192 */
	int accept_any;                 /* accept sessions from DIDs that are not peers */
	const char *inbox;              /* NULL: none. Else every MESSAGE is written to this file
					 * (PROTOCOL.md §12 inbox line, created 0600) before the
					 * round's outputs, so its acknowledgement never leaves
					 * before the write */
	uint64_t inbox_max_bytes;       /* the inbox rotates before it passes this; 0: never */
	uint32_t inbox_keep;            /* rotated inbox files kept (inbox.1 the newest); 0: 1 */
	int inbox_sync;                 /* the inbox lines are on the disk (fdatasync) before
					 * the acknowledgements leave */
	uint64_t memory_budget;         /* the node's memory budget (budget.h): what the transports
					 * hold for peers, their half-open connections, held
					 * outputs and the event queue's bytes; 0: 32 MiB */
};
void l2s_loop_params_default(struct l2s_loop_params *p);

/* 1 when this build has the QUIC transport; 0 when it has μTCP and
 * discovery only (then no_quic is taken as 1), so that a daemon can say so
 * in its status. Needs no loop. */
int l2s_loop_has_quic(void);

struct l2s_loop;

/* Makes the node, binds the sockets. L2S_ERR_CONFIG, L2S_ERR_IO (errno
 * tells), L2S_ERR_NOMEM. The identity and storage key are copied and wiped
 * from the loop on free, not from p. */
int l2s_loop_new(struct l2s_loop **out, const struct l2s_loop_params *p);
/* Closes every connection politely (CONNECTION_CLOSE, μTCP FIN) without
 * closing the sessions (so that both sides can resume later), then frees.
 * Must not race l2s_loop_run: stop and join first. NULL is fine. */
void l2s_loop_free(struct l2s_loop *l);

/* The bound address (UDP and TCP share the port). */
int l2s_loop_local_addr(struct l2s_loop *l, struct sockaddr_storage *addr, socklen_t *len);
/* This node's signed prekey bundle. */
int l2s_loop_bundle(struct l2s_loop *l, uint8_t out[L2S_PREKEY_BUNDLE_BYTES]);
/* l2s_node_renew_prekey on the loop's node; the new bundle is what
 * l2s_loop_bundle and discovery answers give from now on. */
int l2s_loop_renew_prekey(struct l2s_loop *l, const uint8_t seed[L2S_XWING_SK_BYTES], uint64_t not_after_s);

/* Runs until l2s_loop_stop(). Returns L2S_OK, or L2S_ERR_IO when epoll fails. */
int l2s_loop_run(struct l2s_loop *l);
/* One round: waits at most timeout_ms (0: do not wait) for I/O or a timer,
 * then does everything due. For single-threaded callers and tests. */
int l2s_loop_run_once(struct l2s_loop *l, int timeout_ms);
/* For a program that drives the loop from its own poll() on one thread
 * (firmware/l2sessd): poll l2s_loop_poll_fd() for POLLIN beside its own
 * fds, for at most l2s_loop_poll_timeout() ms (-1: no limit; it also
 * registers the sockets the last round opened, so call it right before
 * each poll), then call l2s_loop_run_once(l, 0). The fd is the loop's
 * epoll fd: readable when a socket, a timer's wake-up or another thread's
 * call (a send) has work for the loop. */
int l2s_loop_poll_fd(struct l2s_loop *l);
int l2s_loop_poll_timeout(struct l2s_loop *l);
/* Makes l2s_loop_run return after its current round. */
void l2s_loop_stop(struct l2s_loop *l);

/* Adds (or updates the address and flag of) a peer. L2S_ERR_NOMEM beyond
 * L2S_LOOP_MAX_PEERS. connect = 1 starts connecting at once. */
int l2s_loop_add_peer(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], const struct sockaddr *addr,
		      socklen_t addr_len, int connect);
/* A cached bundle for a peer (verified against its key; expired ones are
 * refused): used instead of in-band discovery, and for the fallback from a
 * refused resumption to a full handshake. */
int l2s_loop_set_peer_bundle(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], const uint8_t *bundle,
			     size_t len);
/* l2s_loop_add_peer(connect = 1) for a peer already added with its address,
 * and, when its bundle is cached, the work of the coming full handshake
 * (the bundle's check, the HANDSHAKE_INIT's ephemeral key and
 * encapsulation, ~0.2 ms) in the caller's thread while the loop makes the
 * connection. L2S_ERR_NOT_FOUND for an unknown peer, L2S_ERR_CONFIG for one
 * without an address, else L2S_OK. */
int l2s_loop_connect_prepared(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES]);
/* Restores an exported StoredSession (l2s_loop_export) into the engine at
 * once, so that the peer's own resumption finds it, and resumes it once a
 * connection to its peer is up. The peer is added first (L2S_ERR_NOT_FOUND
 * otherwise) and has no session yet (L2S_ERR_STATE); a StoredSession the
 * engine refuses (damaged, expired, another node's) is refused here with
 * the engine's error, and the peer is then reached by a full handshake. Messages with
 * seq <= delivered_upto in the peer's stream the StoredSession received
 * (PROTOCOL.md §5, §12) were delivered before a crash (the inbox says so)
 * and are acknowledged but not delivered again. */
int l2s_loop_import(struct l2s_loop *l, const uint8_t *stored, size_t len, uint64_t delivered_upto);
/* The same for another stream of the peer's that the inbox holds (a stream
 * the peer started after the checkpoint, PROTOCOL.md §12): its messages
 * with seq <= upto are acknowledged but not delivered again. The newest
 * L2S_LOOP_DELIVERED_STREAMS streams per peer are kept; name them oldest
 * first. L2S_ERR_NOT_FOUND for an unknown peer. */
int l2s_loop_set_delivered(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES],
			   const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t upto);
/* The current session with pk as a StoredSession. L2S_ERR_NOT_FOUND when
 * there is none, L2S_ERR_LENGTH when cap is short (*len gets the size). */
int l2s_loop_export(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], uint8_t *out, size_t cap,
		    size_t *len);

/* Queues a message to the peer's session. L2S_ERR_NOT_FOUND while there is
 * no session with pk yet, L2S_ERR_QUEUE_FULL, L2S_ERR_STATE (failed). */
int l2s_loop_send(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], const uint8_t *msg, size_t len,
		  uint64_t *seq);
/* Queues n messages to the peer's session in order, under one lock and
 * with one wake-up: what l2s_loop_send does n times, cheaper. Stops at the
 * first message refused; *accepted gets how many were queued (seqs[0 ..
 * *accepted - 1] their seqs; seqs may be NULL). L2S_OK when all were, else
 * the refusal's error, as l2s_loop_send's (L2S_ERR_QUEUE_FULL: send the
 * rest once 'delivered' events made room). */
int l2s_loop_send_many(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], const struct iovec *msgs,
		       size_t n, uint64_t *seqs, size_t *accepted);
/* Starts a key rotation of the peer's session now. */
int l2s_loop_rotate(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES]);
/* Closes the peer's session (CLOSE to the peer) and stops connecting to it. */
int l2s_loop_close_peer(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES]);

enum l2s_loop_event_type {
	/* 1 .. 7: enum l2s_event_type, the engine's events passed on */
	L2S_LOOP_EV_PEER_ERROR = 16, /* connecting to a peer failed (error); it is retried */
	L2S_LOOP_EV_INBOX = 17,      /* the inbox failed for the peer's messages (error: the errno), or
				      * works again (error 0); meanwhile the session takes none */
	L2S_LOOP_EV_REFUSED = 18,    /* a DID this node does not serve authenticated and was refused */
};

struct l2s_loop_event {
	int type;          /* enum l2s_event_type or enum l2s_loop_event_type */
	uint32_t session;
	uint64_t time_ms;
	uint8_t peer_pk[L2S_ED25519_PK_BYTES];
	uint8_t session_id[L2S_SESSION_ID_BYTES]; /* as struct l2s_event's */
	int from, to, reason;
	uint64_t seq;
	int transport;     /* the session's transport now (enum l2s_transport_kind) */
	int error;         /* PEER_ERROR: an l2s_err */
	const uint8_t *data; /* MESSAGE: valid until the next l2s_loop_next_event or free */
	size_t len;
};
/* 1 and the next event, 0 when there is none. */
int l2s_loop_next_event(struct l2s_loop *l, struct l2s_loop_event *ev);
/* Up to max events, oldest first, under one lock: how many were taken.
 * Their data stays valid until the next l2s_loop_next_event(s) or free. */
int l2s_loop_next_events(struct l2s_loop *l, struct l2s_loop_event *evs, size_t max);
/* Blocks (no lock held) until an event waits or timeout_ms passes (-1: no
 * limit) or the loop stops: 1 when an event waits, else 0. */
int l2s_loop_wait_event(struct l2s_loop *l, int timeout_ms);

struct l2s_loop_peer_info {
	uint8_t pk[L2S_ED25519_PK_BYTES];
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int connect;
	int has_session;
	struct l2s_session_info session; /* when has_session */
	int transport;                   /* enum l2s_transport_kind */
	uint64_t rtt_us;                 /* QUIC smoothed RTT, 0 on μTCP */
	uint64_t established_ms;         /* when the session last became established */
	uint64_t resume_ms;              /* import/reconnect to established, last time; 0: none */
	/* The L2 exchanges alone, as this side started them (last time; 0:
	 * none): HANDSHAKE_INIT or RESUME_INIT (an import's or a transport
	 * move's) handed to the transport, its first copy, to the peer's
	 * valid answer taken; no transport connect, CLOCK_MONOTONIC in µs. */
	uint64_t handshake_us, resume_us;
	uint32_t fallbacks, returns;     /* moves QUIC -> μTCP and back */
	uint64_t tx_messages, rx_messages, delivered; /* sent; received; passed on (delivered_upto held back the rest) */
};
size_t l2s_loop_peer_count(struct l2s_loop *l);
/* The i-th peer (0 <= i < count), or an inbound session's peer. */
int l2s_loop_peer_info(struct l2s_loop *l, size_t i, struct l2s_loop_peer_info *info);

struct l2s_loop_stats {
	struct l2s_quic_stats quic;
	struct l2s_tcp_stats tcp;
	uint64_t rounds;
	uint64_t rx_messages;       /* given to the node */
	uint64_t rx_dropped[17];    /* by -l2s_err: what the node or discovery refused */
	uint64_t tx_messages, tx_dropped; /* outputs sent; dropped (path gone, or LOOP_HOLD_BYTES full) */
	uint64_t disc_probes, disc_answers, disc_dropped; /* raw UDP and in-band */
	uint64_t inbox_failures;    /* inbox writes that failed (each refused a message, kept by its sender) */
	uint64_t inbox_refusing;    /* peers whose messages the inbox cannot take now */
	int inbox_errno;            /* of the last failure */
	uint64_t inbox_rotations;
	uint64_t refused;           /* sessions of DIDs this node does not serve, closed at ACCEPTED */
	uint64_t paths_unproven_closed; /* inbound connections closed: no session authenticated on
					 * them within max(2 x handshake_timeout, path_timeout) */
	uint64_t handshakes, resumptions, fallbacks, returns; /* handshakes and resumptions this side
					* started: imports when established, moves when started */
	uint64_t handshakes_prepared; /* HANDSHAKE_INITs prepared while their connection was made */
	uint64_t prepared_by_caller, prepared_by_loop; /* who made them: l2s_loop_connect_prepared, or the loop */
	uint64_t events_queued, events_peak;
	uint32_t sessions, peers;
	uint64_t tx_held;           /* outputs a full transport refused, held and sent later */
	uint64_t budget_limit, budget_used, budget_peak; /* the memory budget, bytes */
};
void l2s_loop_stats(struct l2s_loop *l, struct l2s_loop_stats *st);

/* Tests only: l2s_loop_connect_prepared's job takes delay_ms longer, as
 * on a loaded machine, and a carrier waits for it hold_ms at most (0: the
 * usual bound). */
void l2s_loop_test_prepare_delay(struct l2s_loop *l, unsigned delay_ms, unsigned hold_ms);
/* Tests only: while block is set, the QUIC endpoint drops every datagram
 * it receives (l2s_quic_test_drop_rx), as if the network ate them. */
void l2s_loop_test_block_quic(struct l2s_loop *l, int block);
/* Tests only: the channel binding the engine holds for the path of pk's
 * session (32 zero bytes when it has none). L2S_ERR_NOT_FOUND without one. */
int l2s_loop_test_binding(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES], uint8_t out[32]);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* L2S_LOOP_H */
