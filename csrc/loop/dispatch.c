// SPDX-License-Identifier: Apache-2.0
/* The loop's traffic between the transports and the engine, both ways.
 * In: each transport event goes where it belongs (a message to the
 * engine, or to discovery when the engine says it is one; CONNECTED to the path's channel
 * binding and status, then to the race; CLOSED to a path that is down).
 * Out: the engine's outputs to their paths. On the way, the L2 exchanges
 * are timed: from our INIT leaving to its answer arriving. */
#include "loop/loop_internal.h"

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

/* Our INIT went to the transport at sent_us (read before the send: on a
 * busy core the answer may come before this thread runs again). Its
 * re-sends keep the first one's time (a loss is part of the exchange);
 * another kind of INIT starts anew. */
static void exchange_sent(struct l2s_loop *l, const struct l2s_output *o, uint64_t sent_us)
{
	int type = o->type;
	struct lpeer *pe = NULL;

	if (type != L2S_MSG_HANDSHAKE_INIT && type != L2S_MSG_RESUME_INIT)
		return;
	for (uint32_t i = 0; i < l->npeers && !pe; i++)
		if (l->peers[i]->session == o->session)
			pe = l->peers[i];
	if (!pe || (pe->exchange_type == type && pe->exchange_sent_us))
		return;
	pe->exchange_type = type;
	pe->exchange_sent_us = sent_us;
}

/* ---- from the transports -------------------------------------------------- */

static void on_message(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len, uint64_t now)
{
	int type, ret;

	p->last_rx_ms = now;
	ret = l2s_node_receive_typed(l->node, p->id, p->addr, p->addr_len, msg, len, now, &type);
	/* Discovery travels in-band too (PROTOCOL.md §11.3); the engine leaves it to us. */
	if (type == L2S_MSG_DISCOVERY_PROBE) {
		l2s_loop_disc_inband(l, p, msg, len, now);
		return;
	}
	if (type == L2S_MSG_DISCOVERY_ANSWER) {
		l2s_peer_on_answer(l, p, msg, len, now);
		return;
	}
	if (ret == L2S_OK) {
		l->st.rx_messages++;
		exchange_answered(l, p, type);
	}
	/* A TRANSPORT message the engine took was sealed under a session's keys:
	 * the peer authenticated on this connection. */
	if (ret == L2S_OK && type == L2S_MSG_TRANSPORT)
		l2s_path_trust(l, p);
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
	l2s_path_set_addr(p, sa, sa_len);
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
				l2s_path_set_addr(p, &ev.peer, ev.peer_len);
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

/* ---- to the transports ---------------------------------------------------- */

/* The engine's outputs to their paths, after what was held from earlier
 * rounds. A path that is gone or closing drops the message, as does one
 * whose hold is full: the engine retransmits what matters. */
void l2s_loop_flush_outputs(struct l2s_loop *l)
{
	struct l2s_output o;

	l2s_paths_send_held(l);
	while (l2s_node_next_output(l->node, &o)) {
		uint64_t sent_us = l2s_loop_now_us();

		if (l2s_loop_refused(l, o.session) || !o.path)
			continue; /* path 0: an imported session before its first connection */
		if (l2s_path_output(l, l2s_path_get(l, o.path), o.data, o.len))
			exchange_sent(l, &o, sent_us);
	}
	l2s_loop_refused_clear(l); /* their answers are dropped: the next round refuses anew */
}
