// SPDX-License-Identifier: Apache-2.0
/* μTCP's untrusted connections (tcp.h): who is shed, in which order, and
 * the listener's accepts, as far as those rules allow new connections. */
#include "transport/tcp/tcp_internal.h"

/* ---- untrusted connections (tcp.h) -------------------------------------------- */

void tcp_shed(struct l2s_tcp *t, struct conn *c, uint64_t *counter)
{
	(*counter)++;
	tcp_conn_end(t, c, L2S_TCP_CLOSE_SHED, 0);
}

int tcp_untrusted(const struct conn *c)
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

			if (tcp_untrusted(c) && held > most) {
				worst = c;
				most = held;
			}
		}
		if (!worst)
			return;
		tcp_shed(t, worst, &t->st.shed_budget);
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

		if (tcp_untrusted(&t->conns[i]) && (n = count_host(t, &t->conns[i])) > most) {
			most = n;
			busiest = &t->conns[i].peer;
		}
	}
	for (uint32_t i = 0; busiest && i < t->p.max_connections; i++) {
		struct conn *c = &t->conns[i];

		if (tcp_untrusted(c) && same_host(&c->peer, busiest) && (!best || c->opened_ms < best->opened_ms))
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
	tcp_shed(t, c, &t->st.shed_for_new);
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
	struct conn *c = tcp_conn_by_handle(t, conn);

	if (!c)
		return L2S_ERR_NOT_FOUND;
	if (tcp_untrusted(c)) {
		t->st.untrusted--;
		c->trusted = 1;
		tcp_rx_frame(t, c); /* what waited for a token */
	}
	return L2S_OK;
}

void tcp_on_accept(struct l2s_tcp *t, uint64_t now_ms)
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
		if (!make_room(t) || tcp_sock_prepare(t, fd) < 0 || !(c = tcp_conn_alloc(t, fd))) {
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
		tcp_conn_opened(t, c);
	}
}
