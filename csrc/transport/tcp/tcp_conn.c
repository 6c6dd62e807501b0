// SPDX-License-Identifier: Apache-2.0
/* μTCP connections: sockets, the connection table, events, the send
 * buffer, receive framing, lingering closes, and connects completing. */
#include "transport/tcp/tcp_internal.h"

/* Bytes held for peers: this endpoint's count and the node's budget. */
static void held_add(struct l2s_tcp *t, size_t n)
{
	t->st.held_bytes += n;
	l2s_budget_draw(t->b, n);
}

void tcp_held_sub(struct l2s_tcp *t, size_t n)
{
	t->st.held_bytes -= n;
	l2s_budget_give(t->b, n);
}

/* ---- sockets ------------------------------------------------------------- */

int tcp_sock_prepare(const struct l2s_tcp *t, int fd)
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

struct conn *tcp_conn_by_handle(const struct l2s_tcp *t, uint32_t h)
{
	for (uint32_t i = 0; h && i < t->p.max_connections; i++)
		if (t->conns[i].state != C_FREE && t->conns[i].handle == h)
			return &t->conns[i];
	return NULL;
}

struct conn *tcp_conn_by_fd(const struct l2s_tcp *t, int fd)
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

struct conn *tcp_conn_alloc(struct l2s_tcp *t, int fd)
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

/* The event queued, or NULL without memory. */
static struct event *event_push(struct l2s_tcp *t, const struct conn *c, int type, const uint8_t *data,
				size_t len)
{
	struct event *e = malloc(sizeof(*e) + len);

	if (!e)
		return NULL;
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
	l2s_fifo_push(&t->events, &e->link);
	return e;
}

void tcp_conn_release(struct l2s_tcp *t, struct conn *c)
{
	tcp_held_sub(t, c->tx_tail - c->tx_head + c->rx_fill);
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

void tcp_conn_report(struct l2s_tcp *t, struct conn *c, int reason, int err)
{
	/* Without memory for the event the caller would never learn; the slot
	 * must go anyway, so a failed push only loses the event. */
	struct event *e = event_push(t, c, L2S_TCP_EV_CLOSED, NULL, 0);

	if (e) {
		e->ev.reason = reason;
		e->ev.error = err;
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
void tcp_conn_end(struct l2s_tcp *t, struct conn *c, int reason, int err)
{
	if (c->state != C_LINGER)
		tcp_conn_report(t, c, reason, err);
	tcp_conn_release(t, c);
}

void tcp_conn_opened(struct l2s_tcp *t, struct conn *c)
{
	c->state = C_OPEN;
	t->st.connected++;
	event_push(t, c, L2S_TCP_EV_CONNECTED, NULL, 0);
}

/* ---- send buffer --------------------------------------------------------- */

size_t tcp_tx_room(const struct l2s_tcp *t, const struct conn *c)
{
	return t->p.send_buffer_bytes - (c->tx_tail - c->tx_head);
}

/* Room for need more bytes at the tail (need fits tx_room): compacts
 * rather than wrap (one contiguous write per call), then grows the buffer,
 * so that a connection holds what it queues, not its bound. */
int tcp_tx_reserve(struct l2s_tcp *t, struct conn *c, size_t need)
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

void tcp_tx_put(struct l2s_tcp *t, struct conn *c, const uint8_t *b, size_t len)
{
	memcpy(c->tx + c->tx_tail, b, len);
	c->tx_tail += len;
	held_add(t, len);
}

/* Writes until the buffer is empty or the socket full. 0, or -1 with
 * the connection ended. */
int tcp_tx_flush(struct l2s_tcp *t, struct conn *c)
{
	while ((c->state == C_OPEN || c->state == C_LINGER) && c->tx_head < c->tx_tail) {
		ssize_t n = send(c->fd, c->tx + c->tx_head, c->tx_tail - c->tx_head, MSG_NOSIGNAL);

		if (n < 0 && would_block(errno))
			break;
		if (n < 0) {
			tcp_conn_end(t, c, L2S_TCP_CLOSE_ERROR, errno);
			return -1;
		}
		c->tx_head += (size_t)n;
		tcp_held_sub(t, (size_t)n);
	}
	if (c->tx_head == c->tx_tail)
		c->tx_head = c->tx_tail = 0;
	return 0;
}

/* ---- receive framing ----------------------------------------------------- */

/* Turns every whole message in rx into an event. 0, or -1 with the
 * connection ended for a bad length. */
int tcp_rx_frame(struct l2s_tcp *t, struct conn *c)
{
	size_t off = 0;

	while (c->rx_fill - off >= L2S_TCP_FRAME_OVERHEAD) {
		uint32_t len = l2s_get_u32(c->rx + off);

		if (len > L2S_MAX_MESSAGE) {
			tcp_conn_end(t, c, L2S_TCP_CLOSE_FRAMING, 0);
			return -1;
		}
		if (c->rx_fill - off - L2S_TCP_FRAME_OVERHEAD < len || (!c->trusted && !c->rx_tokens))
			break;
		if (!c->trusted)
			c->rx_tokens--;
		if (!event_push(t, c, L2S_TCP_EV_MESSAGE, c->rx + off + L2S_TCP_FRAME_OVERHEAD, len)) {
			tcp_conn_end(t, c, L2S_TCP_CLOSE_ERROR, ENOMEM);
			return -1;
		}
		c->rx_pending += len;
		t->st.rx_messages++;
		t->st.rx_bytes += len;
		off += L2S_TCP_FRAME_OVERHEAD + len;
	}
	memmove(c->rx, c->rx + off, c->rx_fill - off);
	c->rx_fill -= off;
	tcp_held_sub(t, off);
	return 0;
}

int tcp_rx_wanted(const struct l2s_tcp *t, const struct conn *c)
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
void tcp_rx_read(struct l2s_tcp *t, struct conn *c)
{
	while (tcp_rx_wanted(t, c)) {
		ssize_t n;

		if (c->rx_fill == c->rx_cap && rx_grow(c) < 0) {
			tcp_conn_end(t, c, L2S_TCP_CLOSE_ERROR, ENOMEM);
			return;
		}
		n = recv(c->fd, c->rx + c->rx_fill, c->rx_cap - c->rx_fill, 0);

		if (n < 0 && would_block(errno))
			return;
		if (n < 0) {
			tcp_conn_end(t, c, L2S_TCP_CLOSE_ERROR, errno);
			return;
		}
		if (n == 0) {
			tcp_conn_end(t, c, L2S_TCP_CLOSE_PEER, 0);
			return;
		}
		c->rx_fill += (size_t)n;
		held_add(t, (size_t)n);
		if (tcp_rx_frame(t, c))
			return;
	}
}

/* Once the queue is out: FIN, then discard until the peer's FIN. */
void tcp_linger_step(struct l2s_tcp *t, struct conn *c)
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
			tcp_conn_release(t, c);
			return;
		}
	}
}

/* ---- the listener ---------------------------------------------------------- */

/* A connect finished, failed or is still under way. The socket's own
 * state decides, not revents (the fd may have been reused). */
void tcp_on_connecting(struct l2s_tcp *t, struct conn *c)
{
	int err = 0;
	socklen_t elen = sizeof(err);
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno;
	if (err) {
		tcp_conn_end(t, c, L2S_TCP_CLOSE_CONNECT, err);
		return;
	}
	if (getpeername(c->fd, (struct sockaddr *)&ss, &slen) < 0)
		return; /* ENOTCONN: still connecting */
	tcp_conn_opened(t, c);
	tcp_tx_flush(t, c);
}
