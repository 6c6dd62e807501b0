// SPDX-License-Identifier: Apache-2.0
/* The loop's path table: every transport connection (QUIC or μTCP) is one
 * engine path, named by a loop path id that is never 0 and not reused
 * before the 32-bit counter wraps. The transports' events are turned into
 * engine calls here: messages to l2s_node_receive, CONNECTED to the path's
 * channel binding and status, CLOSED to a path that is down.
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

static void path_set_addr(struct lpath *p, const struct sockaddr_storage *sa, socklen_t sa_len)
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
		path_set_addr(p, sa, sa_len);
		return p;
	}
	return NULL;
}

static void held_free(struct l2s_loop *l, struct lpath *p)
{
	while (p->held) {
		struct lheld *h = p->held;

		p->held = h->next;
		l2s_budget_give(&l->budget, sizeof(*h) + h->len);
		l2s_wipe(h->data, h->len);
		free(h);
	}
	if (p->held_tail)
		l->paths_holding--;
	p->held_tail = NULL;
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

/* ---- from the transports -------------------------------------------------- */

/* ---- the L2 exchanges' own durations (l2s_loop_peer_info) ------------------- */

static uint64_t *exchange_result(struct lpeer *pe, int answer)
{
	if (pe->exchange_type == L2S_MSG_HANDSHAKE_INIT && answer == L2S_MSG_HANDSHAKE_RESP)
		return &pe->handshake_us;
	if (pe->exchange_type == L2S_MSG_RESUME_INIT && answer == L2S_MSG_RESUME_RESP)
		return &pe->resume_us;
	return NULL;
}

/* The engine took a message on p: an answer to our INIT ends the exchange. */
static void exchange_answered(struct l2s_loop *l, struct lpath *p, int type)
{
	struct lpeer *pe = l2s_peer_of_path(l, p);
	uint64_t *result = pe && pe->exchange_sent_us ? exchange_result(pe, type) : NULL;

	if (!result)
		return;
	*result = l2s_loop_now_us() - pe->exchange_sent_us;
	pe->exchange_type = 0;
	pe->exchange_sent_us = 0;
}

/* Our INIT went to the transport. Its re-sends keep the first one's time
 * (a loss is part of the exchange); another kind of INIT starts anew. */
static void exchange_sent(struct l2s_loop *l, const struct l2s_output *o)
{
	int type = o->len >= 2 ? o->data[1] : 0;
	struct lpeer *pe = NULL;

	if (type != L2S_MSG_HANDSHAKE_INIT && type != L2S_MSG_RESUME_INIT)
		return;
	for (uint32_t i = 0; i < l->npeers && !pe; i++)
		if (l->peers[i]->session == o->session)
			pe = l->peers[i];
	if (!pe || (pe->exchange_type == type && pe->exchange_sent_us))
		return;
	pe->exchange_type = type;
	pe->exchange_sent_us = l2s_loop_now_us();
}

/* A session authenticated on p: its μTCP connection is no longer shed, its
 * QUIC connection gets a socket of its own (out of a flood's way), and an
 * inbound path of either kind is no longer closed for being unproven. */
static void path_trust(struct l2s_loop *l, struct lpath *p)
{
	if (p->trusted)
		return;
	p->trusted = 1;
	if (p->kind == L2S_TRANSPORT_UTCP)
		l2s_tcp_trust(l->tcp, p->conn);
	else
		l2s_quic_trust(l->quic, p->conn);
}

static void on_message(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len, uint64_t now)
{
	int ret;

	p->last_rx_ms = now;
	/* Discovery travels in-band too (PROTOCOL.md §11.3); the node never sees it. */
	if (len >= 2 && msg[0] == L2S_WIRE_VERSION && msg[1] == L2S_MSG_DISCOVERY_PROBE) {
		l2s_loop_disc_inband(l, p, msg, len, now);
		return;
	}
	if (len >= 2 && msg[0] == L2S_WIRE_VERSION && msg[1] == L2S_MSG_DISCOVERY_ANSWER) {
		l2s_peer_on_answer(l, p, msg, len, now);
		return;
	}
	ret = l2s_node_receive(l->node, p->id, p->addr, p->addr_len, msg, len, now);
	if (ret == L2S_OK)
		l->st.rx_messages++;
	if (ret == L2S_OK && len >= 2)
		exchange_answered(l, p, msg[1]);
	/* A TRANSPORT message the engine took was sealed under a session's keys:
	 * the peer authenticated on this connection. */
	if (ret == L2S_OK && len >= 2 && msg[1] == L2S_MSG_TRANSPORT)
		path_trust(l, p);
	else if (ret < 0 && -ret < (int)(sizeof(l->st.rx_dropped) / sizeof(l->st.rx_dropped[0])))
		l->st.rx_dropped[-ret]++;
	/* Each message may release events: count them before taking another. */
	l2s_loop_node_events(l, now);
}

static void on_connected(struct l2s_loop *l, int kind, uint32_t conn, int outbound,
			 const struct sockaddr_storage *sa, socklen_t sa_len, uint64_t now)
{
	struct lpath *p = l2s_path_by_conn(l, kind, conn);
	uint8_t b[L2S_QUIC_BINDING_BYTES];

	if (!p && !(p = l2s_path_open(l, kind, conn, outbound, sa, sa_len, now))) {
		/* the table is as large as both transports allow: should not happen */
		if (kind == L2S_TRANSPORT_QUIC)
			l2s_quic_close(l->quic, conn, L2S_QUIC_APP_NO_ERROR, now);
		else
			l2s_tcp_close(l->tcp, conn, now);
		return;
	}
	path_set_addr(p, sa, sa_len);
	p->connected = 1;
	p->last_rx_ms = now;
	/* QUIC binds the handshakes on this path to its TLS session (PROTOCOL.md §2.1). */
	if (kind == L2S_TRANSPORT_QUIC && l2s_quic_channel_binding(l->quic, conn, b) == L2S_OK) {
		l2s_node_path_binding(l->node, p->id, b);
		l2s_wipe(b, sizeof(b));
	}
	l2s_node_path_status(l->node, p->id, 1, now);
	if (p->outbound)
		l2s_peer_on_connected(l, p, now);
}

static void on_closed(struct l2s_loop *l, int kind, uint32_t conn, uint64_t now)
{
	struct lpath *p = l2s_path_by_conn(l, kind, conn);

	if (!p)
		return;
	if (p->connected)
		l2s_node_path_status(l->node, p->id, 0, now);
	l2s_peer_on_closed(l, p, now);
	l2s_path_free(l, p);
}

void l2s_loop_quic_events(struct l2s_loop *l, uint64_t now)
{
	struct l2s_quic_event ev;
	struct lpath *p;

	while (l->quic && !l2s_loop_paused(l) && l2s_quic_next_event(l->quic, &ev)) {
		switch (ev.type) {
		case L2S_QUIC_EV_CONNECTED:
			on_connected(l, L2S_TRANSPORT_QUIC, ev.conn, ev.outbound, &ev.peer, ev.peer_len, now);
			break;
		case L2S_QUIC_EV_MESSAGE:
			if ((p = l2s_path_by_conn(l, L2S_TRANSPORT_QUIC, ev.conn)))
				on_message(l, p, ev.data, ev.len, now);
			break;
		case L2S_QUIC_EV_PATH:
			if ((p = l2s_path_by_conn(l, L2S_TRANSPORT_QUIC, ev.conn))) {
				path_set_addr(p, &ev.peer, ev.peer_len);
				/* QUIC validated the new address of a connection
				 * already authenticated: its own socket follows. */
				if (p->trusted)
					l2s_quic_trust(l->quic, ev.conn);
			}
			break;
		case L2S_QUIC_EV_CLOSED:
			on_closed(l, L2S_TRANSPORT_QUIC, ev.conn, now);
			break;
		case L2S_QUIC_EV_DATAGRAM:
			l2s_loop_disc_datagram(l, &ev, now);
			break;
		}
	}
}

void l2s_loop_tcp_events(struct l2s_loop *l, uint64_t now)
{
	struct l2s_tcp_event ev;
	struct lpath *p;

	while (l->tcp && !l2s_loop_paused(l) && l2s_tcp_next_event(l->tcp, &ev)) {
		switch (ev.type) {
		case L2S_TCP_EV_CONNECTED:
			on_connected(l, L2S_TRANSPORT_UTCP, ev.conn, ev.outbound, &ev.peer, ev.peer_len, now);
			break;
		case L2S_TCP_EV_MESSAGE:
			if ((p = l2s_path_by_conn(l, L2S_TRANSPORT_UTCP, ev.conn)))
				on_message(l, p, ev.data, ev.len, now);
			break;
		case L2S_TCP_EV_CLOSED:
			on_closed(l, L2S_TRANSPORT_UTCP, ev.conn, now);
			break;
		}
	}
}

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
	h->next = NULL;
	h->len = len;
	memcpy(h->data, msg, len);
	if (p->held_tail)
		p->held_tail->next = h;
	else {
		p->held = h;
		l->paths_holding++;
	}
	p->held_tail = h;
	p->held_bytes += len;
	l->st.tx_held++;
	return 0;
}

/* Sends p's held outputs in order until the transport is full again. One
 * it refuses for another reason (closing) is dropped, as send_output would. */
static void send_held(struct l2s_loop *l, struct lpath *p)
{
	struct lheld *h;
	int ret = L2S_OK;

	while ((h = p->held) && (ret = l2s_path_send(l, p, h->data, h->len)) != L2S_ERR_QUEUE_FULL) {
		if (ret == L2S_OK)
			l->st.tx_messages++;
		else
			l->st.tx_dropped++;
		p->held = h->next;
		p->held_bytes -= h->len;
		l2s_budget_give(&l->budget, sizeof(*h) + h->len);
		l2s_wipe(h->data, h->len);
		free(h);
	}
	if (!p->held && p->held_tail) {
		p->held_tail = NULL;
		l->paths_holding--;
	}
}

static void send_all_held(struct l2s_loop *l)
{
	for (uint32_t i = 0; l->paths_holding && i < l->npaths; i++)
		if (l->paths[i].id && l->paths[i].held)
			send_held(l, &l->paths[i]);
}

/* One output to its path. What a full transport refuses is held, and so is
 * everything after it on that path, so the path's order stays the engine's. */
/* 1 when msg went to the transport or waits in the path's hold, 0 when dropped. */
static int send_output(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len)
{
	int ret = L2S_ERR_NOT_FOUND;

	if (p && !p->held && (ret = l2s_path_send(l, p, msg, len)) == L2S_OK) {
		l->st.tx_messages++;
		return 1;
	}
	if (p && (p->held || ret == L2S_ERR_QUEUE_FULL) && hold(l, p, msg, len) == 0)
		return 1;
	l->st.tx_dropped++;
	return 0;
}

/* The engine's outputs to their paths, after what was held from earlier
 * rounds. A path that is gone or closing drops the message, as does one
 * whose hold is full: the engine retransmits what matters. */
void l2s_loop_flush_outputs(struct l2s_loop *l)
{
	struct l2s_output o;

	send_all_held(l);
	while (l2s_node_next_output(l->node, &o)) {
		if (l2s_loop_refused(l, o.session) || !o.path)
			continue; /* path 0: an imported session before its first connection */
		if (send_output(l, l2s_path_get(l, o.path), o.data, o.len))
			exchange_sent(l, &o);
	}
	l->nrefused = 0;
}
