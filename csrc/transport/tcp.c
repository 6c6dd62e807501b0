// SPDX-License-Identifier: Apache-2.0
/* The μTCP fallback transport (see tcp.h).
 *
 * Layout: socket helpers, the connection table, the event queue, the
 * per-connection send buffer and receive framing, then the public calls.
 * A connection is freed as soon as it ends; its CLOSED event carries what
 * the caller needs, so no handle outlives its socket. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/tcp.h"
#include "wire/wire.h"

#define FRAME_MIN (L2S_TCP_FRAME_OVERHEAD + L2S_MAX_MESSAGE)
#define DEF_BUFFER (1u << 20)
#define DEF_MAX_CONNS 1024 /* half of them may be untrusted: a flood from a few hundred addresses fits */
#define DEF_CONNECT_TIMEOUT_MS 10000
#define DEF_LINGER_MS 2000
#define DEF_BACKLOG 128
#define ACCEPTS_PER_CALL 64 /* a flood of connects cannot starve the others */
#define DEF_UNTRUSTED_SEND (64u << 10)
#define DEF_AUTH_TIMEOUT_MS 10000
#define DEF_MEMORY_BUDGET (32ull << 20)
#define DEF_UNTRUSTED_MSGS_PER_S 8
#define TX_FIRST (16u << 10)    /* a send buffer starts this big and doubles as needed */
#define RX_FIRST (4u << 10)     /* so does a receive buffer, up to one whole frame */
/* While untrusted connections fill their slots, a new one costs an old one:
 * at most this many a second, the rest wait in the listen backlog (and then
 * in the flooder's SYN retries) at no cost to us. */
#define SHED_FOR_NEW_PER_S 256

/* C_LINGER: closed for the caller (CLOSED reported, handle 0) while the
 * socket still writes what was queued, sends its FIN and reads the peer's
 * bytes away, so that close() does not reset the connection. */
enum conn_state { C_FREE = 0, C_CONNECTING, C_OPEN, C_LINGER };

struct conn {
	int state, fd, outbound, shut;
	int trusted;           /* ours, or a session authenticated on it */
	uint32_t handle;
	uint64_t deadline_ms;  /* connecting, lingering, or an untrusted one's end */
	uint64_t opened_ms;
	uint32_t rx_tokens;    /* untrusted: messages it may still send this second */
	uint64_t refill_ms;    /* untrusted: when rx_tokens fill up again */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint8_t *tx;     /* [tx_head, tx_tail) waits for the socket */
	size_t tx_head, tx_tail, tx_cap;
	uint8_t *rx;     /* [0, rx_fill) read, not yet a whole message */
	size_t rx_fill, rx_cap;
	size_t rx_pending; /* bytes of MESSAGE events not yet taken */
};

struct host_count {
	const struct sockaddr_storage *host; /* NULL: free */
	uint32_t n;
};

struct event {
	struct event *next;
	struct l2s_tcp_event ev;
	uint8_t data[]; /* MESSAGE bytes */
};

struct l2s_tcp {
	int lfd;
	struct l2s_tcp_params p;
	struct conn *conns;
	struct conn **by_fd;   /* conns by their fd: every readiness finds its own at once */
	size_t by_fd_cap;
	struct host_count *hosts; /* shed_candidate's scratch table: hosts_cap, a power of two */
	uint32_t hosts_cap;
	uint32_t shed_tokens;     /* SHED_FOR_NEW_PER_S: sheds for new connections left this second */
	uint64_t shed_refill_ms;  /* when they fill up again; accepting waits for it when they run out */
	int accept_paused;
	uint32_t nconns, next_handle;
	struct event *head, *tail, *taken; /* taken: the last event returned, freed on the next call */
	struct l2s_budget own_budget, *b;  /* b: the node's (params) or own_budget */
	struct l2s_tcp_stats st;
};

/* Bytes held for peers: this endpoint's count and the node's budget. */
static void held_add(struct l2s_tcp *t, size_t n)
{
	t->st.held_bytes += n;
	l2s_budget_draw(t->b, n);
}

static void held_sub(struct l2s_tcp *t, size_t n)
{
	t->st.held_bytes -= n;
	l2s_budget_give(t->b, n);
}

/* ---- sockets ------------------------------------------------------------- */

static int sock_prepare(const struct l2s_tcp *t, int fd)
{
	int one = 1;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	/* Messages are whole units: Nagle would hold a small one back a round trip. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -1;
	if (t->p.sock_sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &t->p.sock_sndbuf, sizeof(int)) < 0)
		return -1;
	if (t->p.sock_rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &t->p.sock_rcvbuf, sizeof(int)) < 0)
		return -1;
	return 0;
}

static int would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* ---- connections --------------------------------------------------------- */

static struct conn *conn_by_handle(const struct l2s_tcp *t, uint32_t h)
{
	for (uint32_t i = 0; h && i < t->p.max_connections; i++)
		if (t->conns[i].state != C_FREE && t->conns[i].handle == h)
			return &t->conns[i];
	return NULL;
}

static struct conn *conn_by_fd(const struct l2s_tcp *t, int fd)
{
	return fd >= 0 && (size_t)fd < t->by_fd_cap ? t->by_fd[fd] : NULL;
}

static int by_fd_set(struct l2s_tcp *t, int fd, struct conn *c)
{
	if ((size_t)fd >= t->by_fd_cap) {
		size_t cap = 2 * (size_t)fd + 16;
		struct conn **m = realloc(t->by_fd, cap * sizeof(*m));

		if (!m)
			return -1;
		memset(m + t->by_fd_cap, 0, (cap - t->by_fd_cap) * sizeof(*m));
		t->by_fd = m;
		t->by_fd_cap = cap;
	}
	t->by_fd[fd] = c;
	return 0;
}

static struct conn *conn_alloc(struct l2s_tcp *t, int fd)
{
	struct conn *c = NULL;

	for (uint32_t i = 0; i < t->p.max_connections && !c; i++)
		if (t->conns[i].state == C_FREE)
			c = &t->conns[i];
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->rx = malloc(RX_FIRST);
	c->rx_cap = RX_FIRST;
	if (!c->rx || by_fd_set(t, fd, c) < 0) {
		free(c->rx);
		c->rx = NULL;
		return NULL;
	}
	c->fd = fd;
	/* Handles are never 0 and not reused soon (2^32 connections). */
	if (++t->next_handle == 0)
		t->next_handle = 1;
	c->handle = t->next_handle;
	t->nconns++;
	t->st.connections = t->nconns;
	return c;
}

/* ---- events -------------------------------------------------------------- */

static int event_push(struct l2s_tcp *t, const struct conn *c, int type, const uint8_t *data, size_t len)
{
	struct event *e = malloc(sizeof(*e) + len);

	if (!e)
		return L2S_ERR_NOMEM;
	memset(e, 0, sizeof(*e));
	e->ev.type = type;
	e->ev.conn = c->handle;
	e->ev.outbound = c->outbound;
	e->ev.peer = c->peer;
	e->ev.peer_len = c->peer_len;
	if (len)
		memcpy(e->data, data, len);
	e->ev.data = e->data;
	e->ev.len = len;
	held_add(t, len);
	if (t->tail)
		t->tail->next = e;
	else
		t->head = e;
	t->tail = e;
	return L2S_OK;
}

static void conn_release(struct l2s_tcp *t, struct conn *c)
{
	held_sub(t, c->tx_tail - c->tx_head + c->rx_fill);
	if (c->state == C_OPEN && !c->trusted)
		t->st.untrusted--;
	by_fd_set(t, c->fd, NULL);
	close(c->fd);
	free(c->tx);
	free(c->rx);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	t->nconns--;
	t->st.connections = t->nconns;
}

static void conn_report(struct l2s_tcp *t, struct conn *c, int reason, int err)
{
	/* Without memory for the event the caller would never learn; the slot
	 * must go anyway, so a failed push only loses the event. */
	if (event_push(t, c, L2S_TCP_EV_CLOSED, NULL, 0) == L2S_OK) {
		t->tail->ev.reason = reason;
		t->tail->ev.error = err;
	}
	if (reason == L2S_TCP_CLOSE_FRAMING)
		t->st.framing_errors++;
	else if (reason == L2S_TCP_CLOSE_ERROR)
		t->st.resets++;
	else if (reason == L2S_TCP_CLOSE_CONNECT || reason == L2S_TCP_CLOSE_TIMEOUT)
		t->st.connect_failures++;
	t->st.closed++;
}

/* Ends c now: the socket closes, CLOSED is queued (not again for a
 * lingering one), the slot is free. */
static void conn_end(struct l2s_tcp *t, struct conn *c, int reason, int err)
{
	if (c->state != C_LINGER)
		conn_report(t, c, reason, err);
	conn_release(t, c);
}

static void conn_opened(struct l2s_tcp *t, struct conn *c)
{
	c->state = C_OPEN;
	t->st.connected++;
	event_push(t, c, L2S_TCP_EV_CONNECTED, NULL, 0);
}

/* ---- send buffer --------------------------------------------------------- */

static size_t tx_room(const struct l2s_tcp *t, const struct conn *c)
{
	return t->p.send_buffer_bytes - (c->tx_tail - c->tx_head);
}

/* Room for need more bytes at the tail (need fits tx_room): compacts
 * rather than wrap (one contiguous write per call), then grows the buffer,
 * so that a connection holds what it queues, not its bound. */
static int tx_reserve(struct l2s_tcp *t, struct conn *c, size_t need)
{
	size_t cap = c->tx_cap;
	uint8_t *b;

	if (c->tx_tail + need > cap && c->tx_head) {
		memmove(c->tx, c->tx + c->tx_head, c->tx_tail - c->tx_head);
		c->tx_tail -= c->tx_head;
		c->tx_head = 0;
	}
	if (c->tx_tail + need <= cap)
		return 0;
	while (cap < c->tx_tail + need)
		cap = cap ? 2 * cap : TX_FIRST;
	if (cap > t->p.send_buffer_bytes)
		cap = t->p.send_buffer_bytes;
	if (!(b = realloc(c->tx, cap)))
		return -1;
	c->tx = b;
	c->tx_cap = cap;
	return 0;
}

static void tx_put(struct l2s_tcp *t, struct conn *c, const uint8_t *b, size_t len)
{
	memcpy(c->tx + c->tx_tail, b, len);
	c->tx_tail += len;
	held_add(t, len);
}

/* Writes until the buffer is empty or the socket full. 0, or -1 with
 * the connection ended. */
static int tx_flush(struct l2s_tcp *t, struct conn *c)
{
	while ((c->state == C_OPEN || c->state == C_LINGER) && c->tx_head < c->tx_tail) {
		ssize_t n = send(c->fd, c->tx + c->tx_head, c->tx_tail - c->tx_head, MSG_NOSIGNAL);

		if (n < 0 && would_block(errno))
			break;
		if (n < 0) {
			conn_end(t, c, L2S_TCP_CLOSE_ERROR, errno);
			return -1;
		}
		c->tx_head += (size_t)n;
		held_sub(t, (size_t)n);
	}
	if (c->tx_head == c->tx_tail)
		c->tx_head = c->tx_tail = 0;
	return 0;
}

/* ---- receive framing ----------------------------------------------------- */

/* Turns every whole message in rx into an event. 0, or -1 with the
 * connection ended for a bad length. */
static int rx_frame(struct l2s_tcp *t, struct conn *c)
{
	size_t off = 0;

	while (c->rx_fill - off >= L2S_TCP_FRAME_OVERHEAD) {
		uint32_t len = l2s_get_u32(c->rx + off);

		if (len > L2S_MAX_MESSAGE) {
			conn_end(t, c, L2S_TCP_CLOSE_FRAMING, 0);
			return -1;
		}
		if (c->rx_fill - off - L2S_TCP_FRAME_OVERHEAD < len || (!c->trusted && !c->rx_tokens))
			break;
		if (!c->trusted)
			c->rx_tokens--;
		if (event_push(t, c, L2S_TCP_EV_MESSAGE, c->rx + off + L2S_TCP_FRAME_OVERHEAD, len)) {
			conn_end(t, c, L2S_TCP_CLOSE_ERROR, ENOMEM);
			return -1;
		}
		c->rx_pending += len;
		t->st.rx_messages++;
		t->st.rx_bytes += len;
		off += L2S_TCP_FRAME_OVERHEAD + len;
	}
	memmove(c->rx, c->rx + off, c->rx_fill - off);
	c->rx_fill -= off;
	held_sub(t, off);
	return 0;
}

static int rx_wanted(const struct l2s_tcp *t, const struct conn *c)
{
	return c->state == C_OPEN && c->rx_pending < t->p.recv_buffer_bytes && t->b->used < t->b->limit &&
	       (c->trusted || c->rx_tokens);
}

/* A buffer full of a frame not yet whole: room for more, up to a whole
 * frame (so that the many small ones of a flood hold little). */
static int rx_grow(struct conn *c)
{
	size_t cap = 2 * c->rx_cap < FRAME_MIN ? 2 * c->rx_cap : FRAME_MIN;
	uint8_t *b = realloc(c->rx, cap);

	if (!b)
		return -1;
	c->rx = b;
	c->rx_cap = cap;
	return 0;
}

/* Reads while the receive budget (and an untrusted connection's tokens)
 * lasts, into rx, which grows up to one whole frame. */
static void rx_read(struct l2s_tcp *t, struct conn *c)
{
	while (rx_wanted(t, c)) {
		ssize_t n;

		if (c->rx_fill == c->rx_cap && rx_grow(c) < 0) {
			conn_end(t, c, L2S_TCP_CLOSE_ERROR, ENOMEM);
			return;
		}
		n = recv(c->fd, c->rx + c->rx_fill, c->rx_cap - c->rx_fill, 0);

		if (n < 0 && would_block(errno))
			return;
		if (n < 0) {
			conn_end(t, c, L2S_TCP_CLOSE_ERROR, errno);
			return;
		}
		if (n == 0) {
			conn_end(t, c, L2S_TCP_CLOSE_PEER, 0);
			return;
		}
		c->rx_fill += (size_t)n;
		held_add(t, (size_t)n);
		if (rx_frame(t, c))
			return;
	}
}

/* Once the queue is out: FIN, then discard until the peer's FIN. */
static void linger_step(struct l2s_tcp *t, struct conn *c)
{
	if (c->tx_head < c->tx_tail)
		return;
	if (!c->shut) {
		shutdown(c->fd, SHUT_WR);
		c->shut = 1;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->rx, c->rx_cap, 0);

		if (n < 0 && would_block(errno))
			return;
		if (n <= 0) {
			conn_release(t, c);
			return;
		}
	}
}

/* ---- untrusted connections (tcp.h) -------------------------------------------- */

static void shed(struct l2s_tcp *t, struct conn *c, uint64_t *counter)
{
	(*counter)++;
	conn_end(t, c, L2S_TCP_CLOSE_SHED, 0);
}

static int untrusted(const struct conn *c)
{
	return c->state == C_OPEN && !c->trusted;
}

void l2s_tcp_reclaim(struct l2s_tcp *t, uint64_t n)
{
	while (!l2s_budget_fits(t->b, n)) {
		struct conn *worst = NULL;
		size_t most = 0;

		for (uint32_t i = 0; i < t->p.max_connections; i++) {
			struct conn *c = &t->conns[i];
			size_t held = c->tx_tail - c->tx_head + c->rx_fill + c->rx_pending;

			if (untrusted(c) && held > most) {
				worst = c;
				most = held;
			}
		}
		if (!worst)
			return;
		shed(t, worst, &t->st.shed_budget);
	}
}

static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
		      sizeof(struct in6_addr)) == 0;
}

static uint32_t host_hash(const struct sockaddr_storage *a)
{
	const uint8_t *b = a->ss_family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr
						    : (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
	size_t n = a->ss_family == AF_INET ? 4 : 16;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* The untrusted connections of c's host, counted in t->hosts. */
static uint32_t count_host(struct l2s_tcp *t, const struct conn *c)
{
	uint32_t i = host_hash(&c->peer) & (t->hosts_cap - 1);

	while (t->hosts[i].host && !same_host(t->hosts[i].host, &c->peer))
		i = (i + 1) & (t->hosts_cap - 1);
	t->hosts[i].host = &c->peer;
	return ++t->hosts[i].n;
}

/* The oldest untrusted connection of the host that holds the most: one
 * pass to count (a table of at most max_connections hosts), one to pick. */
static struct conn *shed_candidate(struct l2s_tcp *t)
{
	const struct sockaddr_storage *busiest = NULL;
	struct conn *best = NULL;
	uint32_t most = 0;

	memset(t->hosts, 0, t->hosts_cap * sizeof(*t->hosts));
	for (uint32_t i = 0; i < t->p.max_connections; i++) {
		uint32_t n;

		if (untrusted(&t->conns[i]) && (n = count_host(t, &t->conns[i])) > most) {
			most = n;
			busiest = &t->conns[i].peer;
		}
	}
	for (uint32_t i = 0; busiest && i < t->p.max_connections; i++) {
		struct conn *c = &t->conns[i];

		if (untrusted(c) && same_host(&c->peer, busiest) && (!best || c->opened_ms < best->opened_ms))
			best = c;
	}
	return best;
}

static int room_for_one(const struct l2s_tcp *t)
{
	return t->st.untrusted < t->p.max_untrusted && t->nconns < t->p.max_connections;
}

/* Room for one more accepted connection, at an untrusted one's cost if need be. */
static int make_room(struct l2s_tcp *t)
{
	struct conn *c;

	if (room_for_one(t))
		return 1;
	if (!(c = shed_candidate(t)))
		return t->nconns < t->p.max_connections;
	shed(t, c, &t->st.shed_for_new);
	t->shed_tokens--;
	return 1;
}

/* 0 when accepting must wait for the next second's sheds. */
static int may_accept(struct l2s_tcp *t, uint64_t now_ms)
{
	if (now_ms >= t->shed_refill_ms) {
		t->shed_tokens = SHED_FOR_NEW_PER_S;
		t->shed_refill_ms = now_ms + 1000;
		t->accept_paused = 0;
	}
	if (room_for_one(t) || t->shed_tokens)
		return 1;
	t->accept_paused = 1;
	return 0;
}

int l2s_tcp_trust(struct l2s_tcp *t, uint32_t conn)
{
	struct conn *c = conn_by_handle(t, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (untrusted(c)) {
		t->st.untrusted--;
		c->trusted = 1;
		rx_frame(t, c); /* what waited for a token */
	}
	return L2S_OK;
}

/* ---- the listener ---------------------------------------------------------- */

static void on_accept(struct l2s_tcp *t, uint64_t now_ms)
{
	for (int i = 0; i < ACCEPTS_PER_CALL; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct conn *c;
		int fd;

		if (!may_accept(t, now_ms))
			return;
		fd = accept(t->lfd, (struct sockaddr *)&peer, &plen);
		if (fd < 0)
			return; /* EAGAIN, or an aborted connect: nothing to do */
		if (!make_room(t) || sock_prepare(t, fd) < 0 || !(c = conn_alloc(t, fd))) {
			/* Accept and close: a pending connect would keep the listener readable. */
			close(fd);
			t->st.refused_full++;
			continue;
		}
		c->peer = peer;
		c->peer_len = plen;
		c->opened_ms = now_ms;
		c->deadline_ms = now_ms + t->p.auth_timeout_ms;
		c->rx_tokens = t->p.untrusted_msgs_per_s;
		c->refill_ms = now_ms + 1000;
		t->st.accepted++;
		t->st.untrusted++;
		conn_opened(t, c);
	}
}

/* A connect finished, failed or is still under way. The socket's own
 * state decides, not revents (the fd may have been reused). */
static void on_connecting(struct l2s_tcp *t, struct conn *c)
{
	int err = 0;
	socklen_t elen = sizeof(err);
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno;
	if (err) {
		conn_end(t, c, L2S_TCP_CLOSE_CONNECT, err);
		return;
	}
	if (getpeername(c->fd, (struct sockaddr *)&ss, &slen) < 0)
		return; /* ENOTCONN: still connecting */
	conn_opened(t, c);
	tx_flush(t, c);
}

/* ---- public calls ------------------------------------------------------------ */

static int params_fill(struct l2s_tcp_params *p, const struct l2s_tcp_params *in)
{
	if (in)
		*p = *in;
	else
		memset(p, 0, sizeof(*p));
	if (!p->max_connections)
		p->max_connections = DEF_MAX_CONNS;
	if (!p->send_buffer_bytes)
		p->send_buffer_bytes = DEF_BUFFER;
	if (!p->recv_buffer_bytes)
		p->recv_buffer_bytes = DEF_BUFFER;
	if (!p->connect_timeout_ms)
		p->connect_timeout_ms = DEF_CONNECT_TIMEOUT_MS;
	if (!p->linger_ms)
		p->linger_ms = DEF_LINGER_MS;
	if (!p->backlog)
		p->backlog = DEF_BACKLOG;
	if (!p->max_untrusted)
		p->max_untrusted = p->max_connections / 2 ? p->max_connections / 2 : 1;
	if (!p->untrusted_send_bytes)
		p->untrusted_send_bytes = DEF_UNTRUSTED_SEND;
	if (!p->auth_timeout_ms)
		p->auth_timeout_ms = DEF_AUTH_TIMEOUT_MS;
	if (!p->memory_budget)
		p->memory_budget = DEF_MEMORY_BUDGET;
	if (!p->untrusted_msgs_per_s)
		p->untrusted_msgs_per_s = DEF_UNTRUSTED_MSGS_PER_S;
	if (p->max_connections > L2S_TCP_MAX_CONNECTIONS || p->send_buffer_bytes < FRAME_MIN ||
	    p->recv_buffer_bytes < FRAME_MIN || p->sock_sndbuf < 0 || p->sock_rcvbuf < 0)
		return L2S_ERR_CONFIG;
	return L2S_OK;
}

static int listen_on(struct l2s_tcp *t, const struct sockaddr *addr, socklen_t len)
{
	int one = 1;

	t->lfd = socket(addr->sa_family, SOCK_STREAM, 0);
	if (t->lfd < 0)
		return L2S_ERR_IO;
	/* sock_prepare on the listener: accepted sockets inherit the buffer
	 * sizes from it, which must be set before the handshake. SO_REUSEADDR:
	 * a restarted node binds at once although its last connections wait in
	 * TIME-WAIT on the port (Linux still refuses a second listener). */
	if (sock_prepare(t, t->lfd) < 0 || setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(t->lfd, addr, len) < 0 || listen(t->lfd, t->p.backlog) < 0)
		return L2S_ERR_IO;
	return L2S_OK;
}

static void tcp_reclaim(void *t, uint64_t n)
{
	l2s_tcp_reclaim(t, n);
}

int l2s_tcp_new(struct l2s_tcp **out, const struct sockaddr *bind_addr, socklen_t bind_len,
		const struct l2s_tcp_params *params)
{
	struct l2s_tcp *t;
	int rc;

	*out = NULL;
	if (bind_addr && bind_addr->sa_family != AF_INET && bind_addr->sa_family != AF_INET6)
		return L2S_ERR_CONFIG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return L2S_ERR_NOMEM;
	t->lfd = -1;
	rc = params_fill(&t->p, params);
	t->own_budget.limit = t->p.memory_budget;
	t->own_budget.reclaim = tcp_reclaim;
	t->own_budget.ctx = t;
	t->b = t->p.budget ? t->p.budget : &t->own_budget;
	t->st.memory_budget = t->b->limit;
	if (rc == L2S_OK) {
		for (t->hosts_cap = 2; t->hosts_cap < 2 * t->p.max_connections; t->hosts_cap *= 2)
			;
		t->conns = calloc(t->p.max_connections, sizeof(*t->conns));
		t->hosts = calloc(t->hosts_cap, sizeof(*t->hosts));
		rc = t->conns && t->hosts ? L2S_OK : L2S_ERR_NOMEM;
	}
	if (rc == L2S_OK && bind_addr)
		rc = listen_on(t, bind_addr, bind_len);
	if (rc != L2S_OK) {
		int saved = errno;

		l2s_tcp_free(t);
		errno = saved;
		return rc;
	}
	*out = t;
	return L2S_OK;
}

static void events_free(struct event *e)
{
	while (e) {
		struct event *next = e->next;

		free(e);
		e = next;
	}
}

void l2s_tcp_free(struct l2s_tcp *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; t->conns && i < t->p.max_connections; i++) {
		struct conn *c = &t->conns[i];

		if (c->state == C_FREE)
			continue;
		close(c->fd);
		free(c->tx);
		free(c->rx);
	}
	if (t->lfd >= 0)
		close(t->lfd);
	events_free(t->head);
	free(t->taken);
	if (t->b)
		l2s_budget_give(t->b, t->st.held_bytes); /* all of it is freed here */
	free(t->conns);
	free(t->by_fd);
	free(t->hosts);
	free(t);
}

int l2s_tcp_local_addr(const struct l2s_tcp *t, struct sockaddr_storage *addr, socklen_t *len)
{
	*len = sizeof(*addr);
	if (t->lfd < 0)
		return L2S_ERR_STATE;
	return getsockname(t->lfd, (struct sockaddr *)addr, len) < 0 ? L2S_ERR_IO : L2S_OK;
}

size_t l2s_tcp_pollfds(const struct l2s_tcp *t, struct pollfd *pfds, size_t cap)
{
	size_t n = 0;

	if (t->lfd >= 0) {
		if (n < cap)
			pfds[n] = (struct pollfd){ .fd = t->lfd, .events = t->accept_paused ? 0 : POLLIN };
		n++;
	}
	for (uint32_t i = 0; i < t->p.max_connections; i++) {
		const struct conn *c = &t->conns[i];
		short ev = 0;

		if (c->state == C_FREE)
			continue;
		if (c->state == C_CONNECTING || c->tx_head < c->tx_tail)
			ev |= POLLOUT;
		if (rx_wanted(t, c) || c->state == C_LINGER)
			ev |= POLLIN;
		if (n < cap)
			pfds[n] = (struct pollfd){ .fd = c->fd, .events = ev };
		n++;
	}
	return n;
}

int l2s_tcp_on_io(struct l2s_tcp *t, int fd, short revents, uint64_t now_ms)
{
	struct conn *c;

	if (!revents)
		return L2S_OK;
	if (fd >= 0 && fd == t->lfd) {
		on_accept(t, now_ms);
		return L2S_OK;
	}
	c = conn_by_fd(t, fd);
	if (!c)
		return L2S_OK;
	if (c->state == C_CONNECTING) {
		on_connecting(t, c);
		return L2S_OK;
	}
	if (c->state == C_LINGER) {
		if (tx_flush(t, c) == 0)
			linger_step(t, c);
		return L2S_OK;
	}
	/* A pending error ends c even when it wants neither direction now
	 * (receive budget spent, nothing queued): poll would report it forever. */
	if (revents & POLLERR) {
		int err = 0;
		socklen_t elen = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err) {
			conn_end(t, c, L2S_TCP_CLOSE_ERROR, err);
			return L2S_OK;
		}
	}
	/* Write first: an error or reset shows on either, and a read may end c. */
	if (tx_flush(t, c) == 0)
		rx_read(t, c);
	return L2S_OK;
}

int l2s_tcp_on_timer(struct l2s_tcp *t, uint64_t now_ms)
{
	if (t->accept_paused && now_ms >= t->shed_refill_ms)
		on_accept(t, now_ms);
	for (uint32_t i = 0; i < t->p.max_connections; i++) {
		struct conn *c = &t->conns[i];

		if (c->state == C_CONNECTING && now_ms >= c->deadline_ms)
			conn_end(t, c, L2S_TCP_CLOSE_TIMEOUT, 0);
		else if (c->state == C_LINGER && now_ms >= c->deadline_ms)
			conn_release(t, c);
		else if (untrusted(c) && now_ms >= c->deadline_ms)
			shed(t, c, &t->st.shed_unauthenticated);
		else if (untrusted(c) && now_ms >= c->refill_ms) {
			c->rx_tokens = t->p.untrusted_msgs_per_s;
			c->refill_ms = now_ms + 1000;
			if (rx_frame(t, c) == 0) /* what waited in rx first */
				rx_read(t, c);
		}
	}
	return L2S_OK;
}

uint64_t l2s_tcp_next_expiry(const struct l2s_tcp *t)
{
	uint64_t next = t->accept_paused ? t->shed_refill_ms : UINT64_MAX;

	for (uint32_t i = 0; i < t->p.max_connections; i++) {
		const struct conn *c = &t->conns[i];

		if ((c->state == C_CONNECTING || c->state == C_LINGER || untrusted(c)) && c->deadline_ms < next)
			next = c->deadline_ms;
		if (untrusted(c) && !c->rx_tokens && c->refill_ms < next)
			next = c->refill_ms;
	}
	return next;
}

int l2s_tcp_connect(struct l2s_tcp *t, const struct sockaddr *peer, socklen_t peer_len, uint64_t now_ms,
		    uint32_t *conn)
{
	struct conn *c;
	int fd;

	*conn = 0;
	if (peer_len > sizeof(c->peer) || (peer->sa_family != AF_INET && peer->sa_family != AF_INET6))
		return L2S_ERR_CONFIG;
	if (t->nconns >= t->p.max_connections)
		return L2S_ERR_NOMEM;
	fd = socket(peer->sa_family, SOCK_STREAM, 0);
	if (fd < 0)
		return L2S_ERR_IO;
	if (sock_prepare(t, fd) < 0) {
		close(fd);
		return L2S_ERR_IO;
	}
	c = conn_alloc(t, fd);
	if (!c) {
		close(fd);
		return L2S_ERR_NOMEM;
	}
	c->state = C_CONNECTING;
	c->outbound = 1;
	c->trusted = 1; /* ours */
	c->deadline_ms = now_ms + t->p.connect_timeout_ms;
	memcpy(&c->peer, peer, peer_len);
	c->peer_len = peer_len;
	t->st.connects++;
	*conn = c->handle;
	if (connect(fd, peer, peer_len) == 0)
		conn_opened(t, c);
	else if (errno != EINPROGRESS && errno != EINTR)
		conn_end(t, c, L2S_TCP_CLOSE_CONNECT, errno);
	return L2S_OK;
}

static int queue(struct l2s_tcp *t, uint32_t conn, const uint8_t *b1, size_t l1, const uint8_t *b2, size_t l2)
{
	struct conn *c = conn_by_handle(t, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (untrusted(c) && c->tx_tail - c->tx_head + l1 + l2 > t->p.untrusted_send_bytes) {
		shed(t, c, &t->st.shed_not_reading);
		return L2S_ERR_NOT_FOUND;
	}
	if (untrusted(c) && !l2s_budget_fits(t->b, l1 + l2)) {
		shed(t, c, &t->st.shed_budget);
		return L2S_ERR_NOT_FOUND;
	}
	if (tx_room(t, c) < l1 + l2 || !l2s_budget_claim(t->b, l1 + l2)) {
		t->st.queue_full++;
		return L2S_ERR_QUEUE_FULL;
	}
	if (tx_reserve(t, c, l1 + l2))
		return L2S_ERR_NOMEM;
	tx_put(t, c, b1, l1);
	if (l2)
		tx_put(t, c, b2, l2);
	tx_flush(t, c);
	return L2S_OK;
}

int l2s_tcp_send(struct l2s_tcp *t, uint32_t conn, const uint8_t *msg, size_t len)
{
	uint8_t hdr[L2S_TCP_FRAME_OVERHEAD];
	int rc;

	if (len > L2S_MAX_MESSAGE)
		return L2S_ERR_LENGTH;
	l2s_put_u32(hdr, (uint32_t)len);
	rc = queue(t, conn, hdr, sizeof(hdr), msg, len);
	if (rc == L2S_OK) {
		t->st.tx_messages++;
		t->st.tx_bytes += len;
	}
	return rc;
}

int l2s_tcp_send_raw(struct l2s_tcp *t, uint32_t conn, const uint8_t *bytes, size_t len)
{
	if (len > t->p.send_buffer_bytes)
		return L2S_ERR_LENGTH;
	return queue(t, conn, bytes, len, NULL, 0);
}

size_t l2s_tcp_queued(const struct l2s_tcp *t, uint32_t conn)
{
	const struct conn *c = conn_by_handle(t, conn);

	return c ? c->tx_tail - c->tx_head : 0;
}

int l2s_tcp_close(struct l2s_tcp *t, uint32_t conn, uint64_t now_ms)
{
	struct conn *c = conn_by_handle(t, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (c->state != C_OPEN) {
		conn_end(t, c, L2S_TCP_CLOSE_LOCAL, 0);
		return L2S_OK;
	}
	conn_report(t, c, L2S_TCP_CLOSE_LOCAL, 0);
	if (untrusted(c))
		t->st.untrusted--;
	c->handle = 0;
	c->state = C_LINGER;
	c->deadline_ms = now_ms + t->p.linger_ms;
	if (tx_flush(t, c) == 0)
		linger_step(t, c);
	return L2S_OK;
}

int l2s_tcp_next_event(struct l2s_tcp *t, struct l2s_tcp_event *ev)
{
	struct event *e = t->head;
	struct conn *c;

	free(t->taken);
	t->taken = NULL;
	if (!e)
		return 0;
	t->head = e->next;
	if (!t->head)
		t->tail = NULL;
	/* A taken message frees receive budget: its connection may read again. */
	held_sub(t, e->ev.len);
	if (e->ev.type == L2S_TCP_EV_MESSAGE && (c = conn_by_handle(t, e->ev.conn)))
		c->rx_pending -= e->ev.len;
	*ev = e->ev;
	t->taken = e;
	return 1;
}

void l2s_tcp_get_stats(const struct l2s_tcp *t, struct l2s_tcp_stats *st)
{
	*st = t->st;
}
