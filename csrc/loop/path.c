// SPDX-License-Identifier: Apache-2.0
/* The loop's path table: every transport connection (QUIC or μTCP) is one
 * engine path, named by a loop path id that is never 0 and not reused
 * before the 32-bit counter wraps. What is done here concerns one
 * connection: open, send, close, trust it, and hold what its full
 * transport refused. Which peer a path serves, and what its events mean,
 * is decided above (dispatch.c, race.c).
 *
 * The table has one slot per connection the transports allow; two maps
 * find a slot by path id and by (transport, handle). */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "loop/loop_internal.h"
#include "lib/map.h"

int l2s_loop_paths_init(struct l2s_loop *l)
{
	uint8_t key[32];
	int ret;

	l->npaths = (l->p.quic.max_connections ? l->p.quic.max_connections : 256) +
		    (l->p.tcp.max_connections ? l->p.tcp.max_connections : 256);
	if (!(l->paths = calloc(l->npaths, sizeof(*l->paths))))
		return L2S_ERR_NOMEM;
	l->next_path_id = 1;
	l2s_rng_bytes(&l->rng, key, sizeof(key));
	ret = l2s_map_init(&l->path_by_id, l->npaths, key);
	if (ret == L2S_OK)
		ret = l2s_map_init(&l->path_by_conn, l->npaths, key);
	l2s_wipe(key, sizeof(key));
	return ret;
}

void l2s_loop_paths_free(struct l2s_loop *l)
{
	if (l->path_by_id.slots)
		l2s_map_free(&l->path_by_id);
	if (l->path_by_conn.slots)
		l2s_map_free(&l->path_by_conn);
	free(l->paths);
	l->paths = NULL;
}

static void conn_key(uint8_t key[5], int kind, uint32_t conn)
{
	key[0] = (uint8_t)kind;
	l2s_u32_key(key + 1, conn);
}

struct lpath *l2s_path_get(struct l2s_loop *l, uint32_t id)
{
	uint8_t key[4];
	uint32_t i;

	l2s_u32_key(key, id);
	return id && l2s_map_get(&l->path_by_id, key, sizeof(key), &i) == L2S_OK ? &l->paths[i] : NULL;
}

struct lpath *l2s_path_by_conn(struct l2s_loop *l, int kind, uint32_t conn)
{
	uint8_t key[5];
	uint32_t i;

	conn_key(key, kind, conn);
	return l2s_map_get(&l->path_by_conn, key, sizeof(key), &i) == L2S_OK ? &l->paths[i] : NULL;
}

int l2s_path_kind(struct l2s_loop *l, uint32_t id)
{
	struct lpath *p = l2s_path_get(l, id);

	return p ? p->kind : L2S_TRANSPORT_NONE;
}

static uint32_t new_path_id(struct l2s_loop *l)
{
	uint32_t id;

	do {
		id = l->next_path_id++;
		if (!l->next_path_id)
			l->next_path_id = 1;
	} while (!id || l2s_path_get(l, id));
	return id;
}

/* family || IP: the engine keys rate limits and cookies on the host, not the port. */
static size_t host_bytes(uint8_t out[LOOP_ADDR_BYTES], const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET) {
		out[0] = 4;
		memcpy(out + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 5;
	}
	if (sa->ss_family == AF_INET6) {
		out[0] = 6;
		memcpy(out + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 17;
	}
	return 0;
}

void l2s_path_set_addr(struct lpath *p, const struct sockaddr_storage *sa, socklen_t sa_len)
{
	memset(&p->sa, 0, sizeof(p->sa));
	memcpy(&p->sa, sa, sa_len);
	p->sa_len = sa_len;
	p->addr_len = host_bytes(p->addr, &p->sa);
}

struct lpath *l2s_path_open(struct l2s_loop *l, int kind, uint32_t conn, int outbound,
			    const struct sockaddr_storage *sa, socklen_t sa_len, uint64_t now)
{
	/* A linear search for a free slot: opening is rare next to lookups. */
	for (uint32_t i = 0; i < l->npaths; i++) {
		struct lpath *p = &l->paths[i];
		uint8_t ik[4], ck[5];

		if (p->id)
			continue;
		memset(p, 0, sizeof(*p));
		p->id = new_path_id(l);
		l2s_u32_key(ik, p->id);
		conn_key(ck, kind, conn);
		if (l2s_map_put(&l->path_by_id, ik, sizeof(ik), i) != L2S_OK ||
		    l2s_map_put(&l->path_by_conn, ck, sizeof(ck), i) != L2S_OK) {
			l2s_map_del(&l->path_by_id, ik, sizeof(ik));
			p->id = 0;
			return NULL;
		}
		p->kind = kind;
		p->conn = conn;
		p->outbound = outbound;
		p->opened_ms = p->last_rx_ms = now;
		l2s_path_set_addr(p, sa, sa_len);
		return p;
	}
	return NULL;
}

static void held_free(struct l2s_loop *l, struct lpath *p)
{
	struct lheld *h;

	if (p->held.count)
		l->paths_holding--;
	while ((h = l2s_fifo_pop(&p->held))) {
		l2s_budget_give(&l->budget, sizeof(*h) + h->len);
		l2s_wipe(h->data, h->len);
		free(h);
	}
	p->held_bytes = 0;
}

void l2s_path_free(struct l2s_loop *l, struct lpath *p)
{
	uint8_t ik[4], ck[5];

	l2s_u32_key(ik, p->id);
	conn_key(ck, p->kind, p->conn);
	l2s_map_del(&l->path_by_id, ik, sizeof(ik));
	l2s_map_del(&l->path_by_conn, ck, sizeof(ck));
	/* the engine's binding slot is freed with the path */
	l2s_node_path_binding(l->node, p->id, NULL);
	held_free(l, p);
	l2s_wipe(p->nonce, sizeof(p->nonce));
	memset(p, 0, sizeof(*p));
}

/* The transport reports CLOSED later; the slot lives until then. */
void l2s_path_close(struct l2s_loop *l, struct lpath *p, uint64_t now)
{
	if (p->kind == L2S_TRANSPORT_QUIC)
		l2s_quic_close(l->quic, p->conn, L2S_QUIC_APP_NO_ERROR, now);
	else
		l2s_tcp_close(l->tcp, p->conn, now);
}

int l2s_path_send(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len)
{
	if (p->kind == L2S_TRANSPORT_QUIC)
		return l2s_quic_send(l->quic, p->conn, msg, len);
	return l2s_tcp_send(l->tcp, p->conn, msg, len);
}

int l2s_path_in_flight(struct l2s_loop *l, struct lpath *p)
{
	struct l2s_quic_conn_stats cs;

	if (p->kind == L2S_TRANSPORT_UTCP)
		return l2s_tcp_queued(l->tcp, p->conn) != 0;
	return l2s_quic_get_conn_stats(l->quic, p->conn, &cs) == L2S_OK && cs.bytes_in_flight;
}

/* Anything the connection accepted: a message, or on QUIC any packet (ACKs). */
uint64_t l2s_path_last_rx(struct l2s_loop *l, struct lpath *p)
{
	struct l2s_quic_conn_stats cs;

	if (p->kind == L2S_TRANSPORT_QUIC && l2s_quic_get_conn_stats(l->quic, p->conn, &cs) == L2S_OK &&
	    cs.last_rx_ms > p->last_rx_ms)
		return cs.last_rx_ms;
	return p->last_rx_ms;
}

/* A session authenticated on p: its μTCP connection is no longer shed, its
 * QUIC connection gets a socket of its own (out of a flood's way), and an
 * inbound path of either kind is no longer closed for being unproven. */
void l2s_path_trust(struct l2s_loop *l, struct lpath *p)
{
	if (p->trusted)
		return;
	p->trusted = 1;
	if (p->kind == L2S_TRANSPORT_UTCP)
		l2s_tcp_trust(l->tcp, p->conn);
	else
		l2s_quic_trust(l->quic, p->conn);
}

/* ---- held outputs ----------------------------------------------------------- */

/* Keeps a copy of an output the full transport refused, behind the ones
 * already held: 0, or -1 when LOOP_HOLD_BYTES is reached (or no memory). */
static int hold(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len)
{
	struct lheld *h;

	/* A session's outputs may have unauthenticated connections shed for them. */
	if (p->held_bytes + len > LOOP_HOLD_BYTES ||
	    !(p->trusted ? l2s_budget_claim(&l->budget, sizeof(*h) + len) : l2s_budget_fits(&l->budget, sizeof(*h) + len)) ||
	    !(h = malloc(sizeof(*h) + len)))
		return -1;
	l2s_budget_draw(&l->budget, sizeof(*h) + len);
	h->len = len;
	memcpy(h->data, msg, len);
	if (!p->held.count)
		l->paths_holding++;
	l2s_fifo_push(&p->held, &h->link);
	p->held_bytes += len;
	l->st.tx_held++;
	return 0;
}

/* Sends p's held outputs in order until the transport is full again. One
 * it refuses for another reason (closing) is dropped, as l2s_path_output would. */
static void send_held(struct l2s_loop *l, struct lpath *p)
{
	struct lheld *h;
	int ret = L2S_OK;

	if (!p->held.count)
		return;
	while ((h = l2s_fifo_peek(&p->held)) && (ret = l2s_path_send(l, p, h->data, h->len)) != L2S_ERR_QUEUE_FULL) {
		if (ret == L2S_OK)
			l->st.tx_messages++;
		else
			l->st.tx_dropped++;
		l2s_fifo_pop(&p->held);
		p->held_bytes -= h->len;
		l2s_budget_give(&l->budget, sizeof(*h) + h->len);
		l2s_wipe(h->data, h->len);
		free(h);
	}
	if (!p->held.count)
		l->paths_holding--;
}

/* Every path's held outputs, before anything newer goes out. */
void l2s_paths_send_held(struct l2s_loop *l)
{
	for (uint32_t i = 0; l->paths_holding && i < l->npaths; i++)
		if (l->paths[i].id && l->paths[i].held.count)
			send_held(l, &l->paths[i]);
}

/* One output to its path (p NULL: gone, dropped). What a full transport
 * refuses is held, and so is everything after it on that path, so the
 * path's order stays the engine's. 1 when msg went to the transport or
 * waits in the path's hold, 0 when dropped. */
int l2s_path_output(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len)
{
	int ret = L2S_ERR_NOT_FOUND;

	if (p && !p->held.count && (ret = l2s_path_send(l, p, msg, len)) == L2S_OK) {
		l->st.tx_messages++;
		return 1;
	}
	if (p && (p->held.count || ret == L2S_ERR_QUEUE_FULL) && hold(l, p, msg, len) == 0)
		return 1;
	l->st.tx_dropped++;
	return 0;
}

