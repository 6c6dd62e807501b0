// SPDX-License-Identifier: Apache-2.0
/* The transport race (l2s_loop.h steps 1-6, PROTOCOL.md §2.3): which of
 * QUIC and μTCP carries a peer's session.
 *
 *   start:     QUIC at once, μTCP happy_eyeballs_ms later; the first to
 *              connect carries the session, the other is closed;
 *   fallback:  the carrier closed, or received nothing for path_timeout_ms
 *              after it sent data: the other transport is connected at once;
 *   return:    on μTCP, QUIC is tried every quic_retry_ms;
 *   reconnect: everything down: start again after a jittered backoff;
 *   follow:    the engine moved the session to a connection the peer
 *              resumed (or answered) on: that one carries it now.
 *
 * What the winner does with the session is carry.c's. The peers' timers
 * run here, with the race's: a probe's deadline and the inbox's retry too. */
#include <string.h>

#include "loop/loop_internal.h"

/* ---- making connections --------------------------------------------------- */

static uint32_t connect_kind(struct l2s_loop *l, struct lpeer *pe, int kind, uint64_t now)
{
	struct lpath *p;
	uint32_t conn;
	int ret;

	if (kind == L2S_TRANSPORT_QUIC)
		ret = l2s_quic_connect(l->quic, (struct sockaddr *)&pe->addr, pe->addr_len, now, &conn);
	else
		ret = l2s_tcp_connect(l->tcp, (struct sockaddr *)&pe->addr, pe->addr_len, now, &conn);
	if (ret != L2S_OK) {
		l2s_loop_peer_error(l, pe, ret, now);
		return 0;
	}
	if (!(p = l2s_path_open(l, kind, conn, 1, &pe->addr, pe->addr_len, now))) {
		if (kind == L2S_TRANSPORT_QUIC)
			l2s_quic_close(l->quic, conn, L2S_QUIC_APP_NO_ERROR, now);
		else
			l2s_tcp_close(l->tcp, conn, now);
		l2s_loop_peer_error(l, pe, L2S_ERR_NOMEM, now);
		return 0;
	}
	p->peer = pe->index;
	return p->id;
}

static void try_quic(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	if (l->quic && !pe->quic_try)
		pe->quic_try = connect_kind(l, pe, L2S_TRANSPORT_QUIC, now);
}

static void try_tcp(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	pe->tcp_at = 0;
	if (l->tcp && !pe->tcp_try)
		pe->tcp_try = connect_kind(l, pe, L2S_TRANSPORT_UTCP, now);
}

static int trying(const struct lpeer *pe)
{
	return pe->quic_try || pe->tcp_try;
}

/* Happy eyeballs: QUIC now, μTCP a little later unless QUIC wins first. */
static void start_attempt(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	pe->reconnect_at = 0;
	if (pe->session && !pe->resume_from_ms)
		pe->resume_from_ms = now;
	if (!pe->session && !pe->preparing)
		pe->prepare = l->prepares_due = 1; /* a full handshake follows */
	try_quic(l, pe, now);
	if (!l->quic)
		try_tcp(l, pe, now);
	else if (l->tcp)
		pe->tcp_at = now + l->p.happy_eyeballs_ms;
	if (!trying(pe) && !pe->tcp_at)
		l2s_peer_schedule_reconnect(l, pe, now);
}

/* The carrier failed: the other transport at once (QUIC returns later
 * through quic_retry_ms, or with the next full attempt). */
static void fall_back(struct l2s_loop *l, struct lpeer *pe, int failed_kind, uint64_t now)
{
	if (!pe->resume_from_ms)
		pe->resume_from_ms = now;
	if (failed_kind == L2S_TRANSPORT_QUIC)
		try_tcp(l, pe, now);
	else
		try_quic(l, pe, now);
	if (!trying(pe))
		start_attempt(l, pe, now);
}

static void count_move(struct l2s_loop *l, struct lpeer *pe, int to)
{
	if (pe->path_kind == L2S_TRANSPORT_QUIC && to == L2S_TRANSPORT_UTCP) {
		pe->fallbacks++;
		l->st.fallbacks++;
	} else if (pe->path_kind == L2S_TRANSPORT_UTCP && to == L2S_TRANSPORT_QUIC) {
		pe->returns++;
		l->st.returns++;
	}
	pe->path_kind = to;
}

static void close_try(struct l2s_loop *l, uint32_t *try, uint64_t now)
{
	struct lpath *p = l2s_path_get(l, *try);

	*try = 0;
	if (p)
		l2s_path_close(l, p, now);
}

/* p connected and wins: it carries the session from now on. */
static void adopt(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, uint64_t now)
{
	if (pe->quic_try == p->id)
		pe->quic_try = 0;
	if (pe->tcp_try == p->id)
		pe->tcp_try = 0;
	close_try(l, p->kind == L2S_TRANSPORT_QUIC ? &pe->tcp_try : &pe->quic_try, now);
	pe->tcp_at = 0;
	pe->reconnect_at = 0;
	pe->path = p->id;
	p->busy_since = 0;
	pe->quic_retry_at = p->kind == L2S_TRANSPORT_UTCP && l->quic ? now + l->p.quic_retry_ms : 0;
	count_move(l, pe, p->kind);
	l2s_peer_carry(l, pe, p, now);
}

void l2s_peer_on_connected(struct l2s_loop *l, struct lpath *p, uint64_t now)
{
	struct lpeer *pe = l2s_peer_of_path(l, p);
	struct lpath *carrier;

	if (!pe || pe->closed || (pe->quic_try != p->id && pe->tcp_try != p->id)) {
		l2s_path_close(l, p, now);
		return;
	}
	carrier = l2s_path_get(l, pe->path);
	if (!carrier) {
		adopt(l, pe, p, now);
	} else if (carrier->kind == L2S_TRANSPORT_UTCP && p->kind == L2S_TRANSPORT_QUIC) {
		/* back to QUIC; μTCP closes once the session moved */
		adopt(l, pe, p, now);
		l2s_path_close(l, carrier, now);
	} else {
		close_try(l, p->kind == L2S_TRANSPORT_QUIC ? &pe->quic_try : &pe->tcp_try, now);
	}
}

/* The carrier is gone (closed, or silent with data in flight). */
static void carrier_lost(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, uint64_t now)
{
	pe->path = 0;
	pe->quic_retry_at = 0;
	if (l2s_peer_wants_connection(pe))
		fall_back(l, pe, p->kind, now);
}

void l2s_peer_on_closed(struct l2s_loop *l, struct lpath *p, uint64_t now)
{
	struct lpeer *pe = l2s_peer_of_path(l, p);
	int was_try;

	if (!pe)
		return;
	if (pe->path == p->id) {
		carrier_lost(l, pe, p, now);
		return;
	}
	was_try = pe->quic_try == p->id || pe->tcp_try == p->id;
	if (pe->quic_try == p->id)
		pe->quic_try = 0;
	if (pe->tcp_try == p->id)
		pe->tcp_try = 0;
	/* QUIC failed before μTCP's turn: no reason to wait for it */
	if (was_try && !pe->path && pe->tcp_at && l2s_peer_wants_connection(pe))
		try_tcp(l, pe, now);
	/* An attempt failed; the whole race failed when nothing else is left. */
	if (was_try && !pe->path && !trying(pe) && !pe->tcp_at && l2s_peer_wants_connection(pe)) {
		l2s_loop_peer_error(l, pe, L2S_ERR_IO, now);
		l2s_peer_schedule_reconnect(l, pe, now);
	}
}

/* ---- following the engine's move ------------------------------------------ */

static void transport_event(struct l2s_loop *l, struct lpeer *pe, int kind, uint64_t now)
{
	struct l2s_loop_event ev = { 0 };

	ev.type = L2S_EV_TRANSPORT;
	ev.session = pe->session;
	ev.time_ms = now;
	memcpy(ev.peer_pk, pe->pk, sizeof(ev.peer_pk));
	ev.transport = kind;
	l2s_loop_event_push(l, &ev, NULL, 0);
}

/* The engine moved the session to the connection its peer resumed (or
 * answered) on: that connection carries it now. This is how the accepting
 * side follows a move, and how either side takes a connection the other
 * made (a restarted peer resuming toward us). The application hears of a
 * change of transport once, as on the side that moved. */
static void follow_session(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, uint64_t now)
{
	struct lpath *old = l2s_path_get(l, pe->path);
	struct l2s_session_info si;

	/* ours and of no use now (one the peer made ends by idleness) */
	if (old && old->outbound)
		l2s_path_close(l, old, now);
	pe->path = p->id;
	p->busy_since = 0; /* its clock starts now that it carries */
	if (!p->peer)
		p->peer = pe->index;
	l2s_node_path_status(l->node, p->id, 1, now);
	if (l2s_peer_wants_connection(pe)) {
		close_try(l, &pe->quic_try, now);
		close_try(l, &pe->tcp_try, now);
		pe->tcp_at = pe->reconnect_at = 0;
		pe->quic_retry_at = p->kind == L2S_TRANSPORT_UTCP && l->quic ? now + l->p.quic_retry_ms : 0;
		if (pe->resume_from_ms && l2s_session_info(l->node, pe->session, &si) == L2S_OK &&
		    si.state == L2S_ESTABLISHED) {
			l2s_peer_resumed(pe, now);
		}
	}
	if (p->kind == pe->path_kind)
		return;
	if (pe->path_kind != L2S_TRANSPORT_NONE)
		transport_event(l, pe, p->kind, now);
	count_move(l, pe, p->kind);
}

void l2s_peers_sync_paths(struct l2s_loop *l, uint64_t now)
{
	for (uint32_t i = 0; i < l->npeers; i++) {
		struct lpeer *pe = l->peers[i];
		struct l2s_session_info si;
		struct lpath *p;

		if (!pe->session || l2s_session_info(l->node, pe->session, &si) != L2S_OK || si.path == pe->path)
			continue;
		if ((p = l2s_path_get(l, si.path)) && p->connected)
			follow_session(l, pe, p, now);
	}
}

/* ---- closed peers ------------------------------------------------------------ */

/* Peers closed with l2s_loop_close_peer lose their connections once the
 * session is gone and its CLOSE was flushed. */
void l2s_peers_reap(struct l2s_loop *l, uint64_t now)
{
	for (uint32_t i = 0; i < l->npeers; i++) {
		struct lpeer *pe = l->peers[i];
		struct lpath *p;

		if (!pe->closed || pe->session)
			continue;
		if ((p = l2s_path_get(l, pe->path)))
			l2s_path_close(l, p, now);
		pe->path = 0;
		close_try(l, &pe->quic_try, now);
		close_try(l, &pe->tcp_try, now);
	}
}

/* ---- timers ----------------------------------------------------------------- */

/* Nothing carries, nothing is being tried, nothing is scheduled (a connect
 * that failed at once): schedule, so that a peer is never forgotten. */
static void ensure_progress(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	if (l2s_peer_wants_connection(pe) && !pe->path && !trying(pe) && !pe->tcp_at && !pe->reconnect_at)
		l2s_peer_schedule_reconnect(l, pe, now);
}

/* The carrier has data in flight. On QUIC "in flight" is the transport's
 * own: unacknowledged packets, which the peer's stack acknowledges even
 * while its application reads nothing. μTCP shows no such thing, so there
 * it is the session's unacknowledged messages (a peer that stops reading
 * for path_timeout_ms looks gone, and the session moves to a new
 * connection: nothing is lost). */
static int carrier_busy(struct l2s_loop *l, struct lpeer *pe, struct lpath *p)
{
	struct l2s_session_info si;

	if (l2s_path_in_flight(l, p))
		return 1;
	return p->kind == L2S_TRANSPORT_UTCP && pe->session &&
	       l2s_session_info(l->node, pe->session, &si) == L2S_OK && si.unacked != 0;
}

/* Starts the carrier's clock when data goes in flight, stops it when
 * nothing is in flight any more. */
static void watch_carrier(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, uint64_t now)
{
	if (!carrier_busy(l, pe, p))
		p->busy_since = 0;
	else if (!p->busy_since)
		p->busy_since = now;
}

/* The carrier failed when data it sent got nothing back for
 * path_timeout_ms. The wait starts when the data went in flight, or at the
 * last receipt if that is later: a link that sends a heartbeat or a QUIC
 * keep-alive after a long idle time has not been silent for that long
 * (counted from the last receipt, every idle link "failed" at the first
 * thing it sent, and the session flapped to the other transport). */
static uint64_t silence_deadline(struct l2s_loop *l, struct lpath *p)
{
	uint64_t from = l2s_path_last_rx(l, p);

	if (!p->busy_since)
		return UINT64_MAX;
	return (p->busy_since > from ? p->busy_since : from) + l->p.path_timeout_ms;
}

static struct lpath *watched_carrier(struct l2s_loop *l, struct lpeer *pe)
{
	struct lpath *p = l2s_path_get(l, pe->path);

	return p && p->connected && l2s_peer_wants_connection(pe) ? p : NULL;
}

void l2s_peers_check_paths(struct l2s_loop *l, uint64_t now)
{
	for (uint32_t i = 0; i < l->npeers; i++) {
		struct lpeer *pe = l->peers[i];
		struct lpath *p = watched_carrier(l, pe);

		if (!p)
			continue;
		watch_carrier(l, pe, p, now);
		if (now < silence_deadline(l, p))
			continue;
		l2s_node_path_status(l->node, p->id, 0, now);
		l2s_path_close(l, p, now);
		carrier_lost(l, pe, p, now);
	}
}

/* After the round's outputs left: a carrier they made busy starts its
 * clock now, not at whichever round comes next. */
void l2s_peers_watch_paths(struct l2s_loop *l, uint64_t now)
{
	for (uint32_t i = 0; i < l->npeers; i++) {
		struct lpeer *pe = l->peers[i];
		struct lpath *p = watched_carrier(l, pe);

		if (p)
			watch_carrier(l, pe, p, now);
	}
}

static void peer_tick(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	struct lpath *carrier = l2s_path_get(l, pe->path);

	l2s_loop_inbox_retry(l, pe, now);
	if (carrier && carrier->probing == PROBE_REFRESH && now >= carrier->probe_deadline)
		carrier->probing = PROBE_NONE;
	if (!l2s_peer_wants_connection(pe))
		return;
	if (carrier && carrier->probing == PROBE_FIRST && now >= carrier->probe_deadline) {
		l2s_peer_give_up_path(l, pe, carrier, L2S_ERR_IO, now); /* no answer to the probe */
		carrier = NULL;
	}
	if (pe->tcp_at && now >= pe->tcp_at && !carrier)
		try_tcp(l, pe, now);
	if (pe->quic_retry_at && now >= pe->quic_retry_at) {
		pe->quic_retry_at = now + l->p.quic_retry_ms;
		if (carrier && carrier->kind == L2S_TRANSPORT_UTCP)
			try_quic(l, pe, now);
	}
	if (pe->reconnect_at && now >= pe->reconnect_at) {
		pe->reconnect_at = 0;
		if (carrier && carrier->connected && !pe->session)
			l2s_peer_carry(l, pe, carrier, now);
		else if (!carrier && !trying(pe))
			start_attempt(l, pe, now);
	}
	ensure_progress(l, pe, now);
}

void l2s_peers_tick(struct l2s_loop *l, uint64_t now)
{
	for (uint32_t i = 0; i < l->npeers; i++)
		peer_tick(l, l->peers[i], now);
}

static uint64_t min_nz(uint64_t a, uint64_t b)
{
	return b && b < a ? b : a;
}

uint64_t l2s_peers_next_timer(struct l2s_loop *l)
{
	uint64_t t = UINT64_MAX;

	for (uint32_t i = 0; i < l->npeers; i++) {
		struct lpeer *pe = l->peers[i];
		struct lpath *p = l2s_path_get(l, pe->path);

		if (p && p->probing)
			t = min_nz(t, p->probe_deadline);
		t = min_nz(t, pe->inbox_retry_at);
		if (!l2s_peer_wants_connection(pe))
			continue;
		t = min_nz(t, pe->tcp_at);
		t = min_nz(t, pe->quic_retry_at);
		t = min_nz(t, pe->reconnect_at);
		if (p && p->connected)
			t = min_nz(t, silence_deadline(l, p));
	}
	return t;
}
