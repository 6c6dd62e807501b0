/* SPDX-License-Identifier: Apache-2.0 */
/* tcp.h - the μTCP fallback transport (DESIGN.md §3 layer 5, PROTOCOL.md §2.2).
 *
 * One endpoint owns a non-blocking listening socket and any number (up to
 * max_connections) of non-blocking TCP connections, accepted or opened with
 * l2s_tcp_connect. Every socket has TCP_NODELAY. A connection carries L2
 * messages as `u32` big-endian length || message and nothing else; a length
 * above L2S_MAX_MESSAGE closes that connection (counted) and no other.
 *
 * Sans-IO apart from the sockets: the caller passes the time (now_ms, a
 * CLOCK_MONOTONIC millisecond clock) where a deadline matters (connect
 * timeout) and drives the sockets from its own poll()/epoll loop:
 *
 *     n = l2s_tcp_pollfds(t, pfds, cap)    fds with the events each wants
 *     poll(pfds, n, l2s_tcp_next_expiry(t) - now)
 *     for each pfd with revents:  l2s_tcp_on_io(t, pfd.fd, pfd.revents, now)
 *     l2s_tcp_on_timer(t, now)
 *     while (l2s_tcp_next_event(t, &ev)) ...   (may call l2s_tcp_send)
 *
 * The fd set changes between rounds (accepts, closes): rebuild it each round
 * (epoll users: compare with the previous set). An fd closed and reused
 * within a round is harmless: on_io trusts the socket, not revents.
 *
 * Bounds: max_connections; per connection a send buffer of send_buffer_bytes
 * (L2S_ERR_QUEUE_FULL beyond it, nothing accepted is dropped while the
 * connection lives) and a receive buffer of recv_buffer_bytes: messages
 * read but not yet taken with l2s_tcp_next_event count against it, and the
 * socket is not read while it is full (so at most recv_buffer_bytes plus
 * one frame are held), so a slow caller stops the peer
 * (TCP flow control) rather than growing memory.
 *
 * Untrusted connections: an accepted connection is untrusted until the
 * caller says a session authenticated on it (l2s_tcp_trust); ours (connect)
 * are trusted. An untrusted connection is read at most untrusted_msgs_per_s
 * messages a second (as many at once): a handshake needs a few, and a flood
 * waits in the kernel's buffers, then the flooder's, costing the node
 * nothing. The peers that never authenticate are shed, in this order
 * of what they cost and prove (CLOSED with L2S_TCP_CLOSE_SHED):
 *   - one that does not read: more than untrusted_send_bytes queued for it;
 *   - one that sends nothing that authenticates within auth_timeout_ms;
 *   - the oldest one of the address holding the most untrusted connections,
 *     when a new connection arrives and untrusted ones hold max_untrusted
 *     slots or the table is full (so they never hold every slot);
 *   - one whose send would take the budget past its limit, and, when a
 *     trusted connection's send needs room, the ones holding the most.
 * The budget (budget.h; the node's, shared with its other parts, or the
 * endpoint's own of memory_budget) counts, over all connections, the bytes
 * queued to send, read and not yet a whole message, and the received
 * messages not yet taken: past its limit no connection is read, an
 * untrusted connection's send sheds it, and a trusted one's sheds untrusted
 * ones, then is refused with L2S_ERR_QUEUE_FULL (back-pressure, nothing
 * dropped).
 *
 * Connections live in a fixed table of max_connections slots searched
 * linearly (by fd in l2s_tcp_on_io, by handle elsewhere): fine for the
 * fallback's few peers, not meant for thousands.
 */
#ifndef L2S_TCP_H
#define L2S_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/socket.h>

#include "lib/budget.h"
#include "l2s.h"
#include "l2s_transport.h"

#define L2S_TCP_FRAME_OVERHEAD 4 /* the u32 length */


struct l2s_tcp;

/* Opens, binds and listens (non-blocking, close-on-exec). bind_addr may be
 * NULL for an endpoint that only connects out. params may be NULL.
 * L2S_ERR_CONFIG, L2S_ERR_IO (errno tells), L2S_ERR_NOMEM. */
int l2s_tcp_new(struct l2s_tcp **out, const struct sockaddr *bind_addr, socklen_t bind_len,
		const struct l2s_tcp_params *params);
/* Closes every socket (queued bytes are lost, no events) and frees. NULL is fine. */
void l2s_tcp_free(struct l2s_tcp *t);

/* The bound address (with the port the kernel chose). L2S_ERR_STATE without a listener. */
int l2s_tcp_local_addr(const struct l2s_tcp *t, struct sockaddr_storage *addr, socklen_t *len);

/* Fills pfds with every fd and the events it wants (POLLIN, POLLOUT);
 * returns how many there are, which may exceed cap (only cap are filled).
 * At most 1 + max_connections. */
size_t l2s_tcp_pollfds(const struct l2s_tcp *t, struct pollfd *pfds, size_t cap);

/* Sheds untrusted connections, those holding the most bytes first, until
 * n more bytes fit the budget or none is left (an authenticated session
 * needs the room; the budget's reclaim). */
void l2s_tcp_reclaim(struct l2s_tcp *t, uint64_t n);
/* Handles readiness of fd (from l2s_tcp_pollfds): accepts, finishes a
 * connect, reads and frames, writes queued bytes. Unknown fds are ignored. */
int l2s_tcp_on_io(struct l2s_tcp *t, int fd, short revents, uint64_t now_ms);
/* Closes connects past their deadline (CLOSED, L2S_TCP_CLOSE_TIMEOUT) and
 * ends lingering closes past theirs. */
int l2s_tcp_on_timer(struct l2s_tcp *t, uint64_t now_ms);
/* The earliest deadline in ms, UINT64_MAX when there is none. */
uint64_t l2s_tcp_next_expiry(const struct l2s_tcp *t);

/* Starts a non-blocking connect; *conn gets a non-zero handle at once and
 * CONNECTED or CLOSED follows. L2S_ERR_NOMEM at max_connections,
 * L2S_ERR_IO when no socket can be made. A connect refused at once still
 * returns L2S_OK and reports CLOSED. */
int l2s_tcp_connect(struct l2s_tcp *t, const struct sockaddr *peer, socklen_t peer_len, uint64_t now_ms,
		    uint32_t *conn);

/* Queues one message (copied; 0..L2S_MAX_MESSAGE bytes) and writes what the
 * socket takes. Allowed from connect on. L2S_ERR_LENGTH above
 * L2S_MAX_MESSAGE, L2S_ERR_QUEUE_FULL when the send buffer has no room for
 * it (nothing queued is dropped; retry after POLLOUT), L2S_ERR_NOT_FOUND
 * for an unknown or closed handle. */
int l2s_tcp_send(struct l2s_tcp *t, uint32_t conn, const uint8_t *msg, size_t len);
/* Bytes queued and not yet written to the socket (framing included). */
size_t l2s_tcp_queued(const struct l2s_tcp *t, uint32_t conn);

/* Closes conn for the caller: CLOSED(LOCAL) follows and the handle is gone.
 * The socket lingers up to linger_ms (and still counts against
 * max_connections): it writes what is queued, sends its FIN and reads the
 * peer's bytes away until the peer's FIN, so that the kernel does not reset
 * the connection and lose the queued messages. A connect under way is
 * abandoned at once. */
int l2s_tcp_close(struct l2s_tcp *t, uint32_t conn, uint64_t now_ms);

/* A session authenticated on conn: it is kept as long as it lives. */
int l2s_tcp_trust(struct l2s_tcp *t, uint32_t conn);

/* Tests only: puts raw bytes on conn, bypassing the framing. */
int l2s_tcp_send_raw(struct l2s_tcp *t, uint32_t conn, const uint8_t *bytes, size_t len);

enum l2s_tcp_event_type {
	L2S_TCP_EV_CONNECTED = 1, /* accepted, or our connect completed; peer is set */
	L2S_TCP_EV_MESSAGE,       /* one whole message, in order */
	L2S_TCP_EV_CLOSED,        /* the handle is gone (last event of a connection) */
};

enum l2s_tcp_close_reason {
	L2S_TCP_CLOSE_LOCAL = 1,   /* l2s_tcp_close */
	L2S_TCP_CLOSE_PEER,        /* orderly end (EOF) from the peer */
	L2S_TCP_CLOSE_ERROR,       /* a socket error (reset, ...); error is the errno */
	L2S_TCP_CLOSE_CONNECT,     /* the connect failed; error is the errno (ECONNREFUSED, ...) */
	L2S_TCP_CLOSE_TIMEOUT,     /* the connect did not complete in time */
	L2S_TCP_CLOSE_FRAMING,     /* a length above L2S_MAX_MESSAGE */
	L2S_TCP_CLOSE_SHED,        /* an untrusted connection shed (see above) */
};

struct l2s_tcp_event {
	int type;
	uint32_t conn;
	int outbound;                 /* this side connected */
	struct sockaddr_storage peer; /* every event */
	socklen_t peer_len;
	const uint8_t *data;          /* MESSAGE: valid until the next l2s_tcp_next_event or l2s_tcp_free */
	size_t len;
	int reason;                   /* CLOSED: enum l2s_tcp_close_reason */
	int error;                    /* CLOSED: errno for ERROR and CONNECT, else 0 */
};
/* 1 and the next event, or 0 when there is none. Every connection that
 * had a handle ends with exactly one CLOSED. */
int l2s_tcp_next_event(struct l2s_tcp *t, struct l2s_tcp_event *ev);

void l2s_tcp_get_stats(const struct l2s_tcp *t, struct l2s_tcp_stats *st);

#endif /* L2S_TCP_H */
