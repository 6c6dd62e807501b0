// SPDX-License-Identifier: Apache-2.0
/* The μTCP fallback transport (tcp.h): its public calls. The parts:
 * tcp_conn.c (sockets, the connection table, events, the send buffer and
 * receive framing) and tcp_shed.c (untrusted connections, accepts). A
 * connection is freed as soon as it ends; its CLOSED event carries what
 * the caller needs, so no handle outlives its socket. */
#include "transport/tcp/tcp_internal.h"

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
	if (tcp_sock_prepare(t, t->lfd) < 0 || setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
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

void l2s_tcp_free(struct l2s_tcp *t)
{
	struct event *e;

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
	while ((e = l2s_fifo_pop(&t->events)))
		free(e);
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
		if (tcp_rx_wanted(t, c) || c->state == C_LINGER)
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
		tcp_on_accept(t, now_ms);
		return L2S_OK;
	}
	c = tcp_conn_by_fd(t, fd);
	if (!c)
		return L2S_OK;
	if (c->state == C_CONNECTING) {
		tcp_on_connecting(t, c);
		return L2S_OK;
	}
	if (c->state == C_LINGER) {
		if (tcp_tx_flush(t, c) == 0)
			tcp_linger_step(t, c);
		return L2S_OK;
	}
	/* A pending error ends c even when it wants neither direction now
	 * (receive budget spent, nothing queued): poll would report it forever. */
	if (revents & POLLERR) {
		int err = 0;
		socklen_t elen = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err) {
			tcp_conn_end(t, c, L2S_TCP_CLOSE_ERROR, err);
			return L2S_OK;
		}
	}
	/* Write first: an error or reset shows on either, and a read may end c. */
	if (tcp_tx_flush(t, c) == 0)
		tcp_rx_read(t, c);
	return L2S_OK;
}

int l2s_tcp_on_timer(struct l2s_tcp *t, uint64_t now_ms)
{
	if (t->accept_paused && now_ms >= t->shed_refill_ms)
		tcp_on_accept(t, now_ms);
	for (uint32_t i = 0; i < t->p.max_connections; i++) {
		struct conn *c = &t->conns[i];

		if (c->state == C_CONNECTING && now_ms >= c->deadline_ms)
			tcp_conn_end(t, c, L2S_TCP_CLOSE_TIMEOUT, 0);
		else if (c->state == C_LINGER && now_ms >= c->deadline_ms)
			tcp_conn_release(t, c);
		else if (tcp_untrusted(c) && now_ms >= c->deadline_ms)
			tcp_shed(t, c, &t->st.shed_unauthenticated);
		else if (tcp_untrusted(c) && now_ms >= c->refill_ms) {
			c->rx_tokens = t->p.untrusted_msgs_per_s;
			c->refill_ms = now_ms + 1000;
			if (tcp_rx_frame(t, c) == 0) /* what waited in rx first */
				tcp_rx_read(t, c);
		}
	}
	return L2S_OK;
}

uint64_t l2s_tcp_next_expiry(const struct l2s_tcp *t)
{
	uint64_t next = t->accept_paused ? t->shed_refill_ms : UINT64_MAX;

	for (uint32_t i = 0; i < t->p.max_connections; i++) {
		const struct conn *c = &t->conns[i];

		if ((c->state == C_CONNECTING || c->state == C_LINGER || tcp_untrusted(c)) && c->deadline_ms < next)
			next = c->deadline_ms;
		if (tcp_untrusted(c) && !c->rx_tokens && c->refill_ms < next)
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
	if (tcp_sock_prepare(t, fd) < 0) {
		close(fd);
		return L2S_ERR_IO;
	}
	c = tcp_conn_alloc(t, fd);
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
		tcp_conn_opened(t, c);
	else if (errno != EINPROGRESS && errno != EINTR)
		tcp_conn_end(t, c, L2S_TCP_CLOSE_CONNECT, errno);
	return L2S_OK;
}

static int queue(struct l2s_tcp *t, uint32_t conn, const uint8_t *b1, size_t l1, const uint8_t *b2, size_t l2)
{
	struct conn *c = tcp_conn_by_handle(t, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (tcp_untrusted(c) && c->tx_tail - c->tx_head + l1 + l2 > t->p.untrusted_send_bytes) {
		tcp_shed(t, c, &t->st.shed_not_reading);
		return L2S_ERR_NOT_FOUND;
	}
	if (tcp_untrusted(c) && !l2s_budget_fits(t->b, l1 + l2)) {
		tcp_shed(t, c, &t->st.shed_budget);
		return L2S_ERR_NOT_FOUND;
	}
	if (tcp_tx_room(t, c) < l1 + l2 || !l2s_budget_claim(t->b, l1 + l2)) {
		t->st.queue_full++;
		return L2S_ERR_QUEUE_FULL;
	}
	if (tcp_tx_reserve(t, c, l1 + l2))
		return L2S_ERR_NOMEM;
	tcp_tx_put(t, c, b1, l1);
	if (l2)
		tcp_tx_put(t, c, b2, l2);
	tcp_tx_flush(t, c);
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
	const struct conn *c = tcp_conn_by_handle(t, conn);

	return c ? c->tx_tail - c->tx_head : 0;
}

int l2s_tcp_close(struct l2s_tcp *t, uint32_t conn, uint64_t now_ms)
{
	struct conn *c = tcp_conn_by_handle(t, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (c->state != C_OPEN) {
		tcp_conn_end(t, c, L2S_TCP_CLOSE_LOCAL, 0);
		return L2S_OK;
	}
	tcp_conn_report(t, c, L2S_TCP_CLOSE_LOCAL, 0);
	if (tcp_untrusted(c))
		t->st.untrusted--;
	c->handle = 0;
	c->state = C_LINGER;
	c->deadline_ms = now_ms + t->p.linger_ms;
	if (tcp_tx_flush(t, c) == 0)
		tcp_linger_step(t, c);
	return L2S_OK;
}

int l2s_tcp_next_event(struct l2s_tcp *t, struct l2s_tcp_event *ev)
{
	struct event *e;
	struct conn *c;

	free(t->taken);
	t->taken = e = l2s_fifo_pop(&t->events);
	if (!e)
		return 0;
	/* A taken message frees receive budget: its connection may read again. */
	tcp_held_sub(t, e->ev.len);
	if (e->ev.type == L2S_TCP_EV_MESSAGE && (c = tcp_conn_by_handle(t, e->ev.conn)))
		c->rx_pending -= e->ev.len;
	*ev = e->ev;
	return 1;
}

void l2s_tcp_get_stats(const struct l2s_tcp *t, struct l2s_tcp_stats *st)
{
	*st = t->st;
}
