// SPDX-License-Identifier: Apache-2.0
/* Peers: keeping a session with the peers added with connect = 1 (and with
 * those whose session was imported), over whichever transport works
 * (l2s_loop.h steps 1-6, PROTOCOL.md §2.3):
 *
 *   start:     QUIC at once, μTCP happy_eyeballs_ms later; the first to
 *              connect carries the session, the other is closed;
 *   carry:     set_path (a session exists, an imported one too), establish
 *              (a bundle is cached) or an in-band probe first;
 *   fallback:  the carrier closed, or received nothing for path_timeout_ms
 *              after it sent data: the other transport is connected at once;
 *   return:    on μTCP, QUIC is tried every quic_retry_ms;
 *   reconnect: everything down: start again after a jittered backoff.
 *
 * Peers sit in an array (L2S_LOOP_MAX_PEERS bounds it) found by key
 * through a map; the timers visit them all each round, which is cheap. */
#include <stdlib.h>
#include <string.h>

#include "lib/backoff.h"
#include "handshake/bundle.h"
#include "loop/loop_internal.h"

struct lpeer *l2s_peer_find(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES])
{
	uint32_t i;

	return l2s_map_get(&l->peer_by_pk, pk, L2S_ED25519_PK_BYTES, &i) == L2S_OK ? l->peers[i] : NULL;
}

/* Peers are never removed, so an index names one for the loop's life. */
struct lpeer *l2s_peer_add(struct l2s_loop *l, const uint8_t pk[L2S_ED25519_PK_BYTES])
{
	struct lpeer *pe;

	if (l->npeers >= L2S_LOOP_MAX_PEERS || !(pe = calloc(1, sizeof(*pe))))
		return NULL;
	if (l2s_map_put(&l->peer_by_pk, pk, L2S_ED25519_PK_BYTES, l->npeers) != L2S_OK) {
		free(pe);
		return NULL;
	}
	memcpy(pe->pk, pk, L2S_ED25519_PK_BYTES);
	pe->index = l->npeers + 1;
	l->peers[l->npeers++] = pe;
	return pe;
}

uint32_t l2s_peer_index(struct l2s_loop *l, const struct lpeer *pe)
{
	(void)l;
	return pe->index;
}

struct lpeer *l2s_peer_of_path(struct l2s_loop *l, const struct lpath *p)
{
	return p->peer && p->peer <= l->npeers ? l->peers[p->peer - 1] : NULL;
}

void l2s_peer_free(struct lpeer *pe)
{
	l2s_wipe(pe, sizeof(*pe));
	free(pe);
}

/* This side keeps the peer connected (the accepting side of a session
 * does not, unless it imported the session). */
static int wants_connection(const struct lpeer *pe)
{
	return pe->addr_len && !pe->closed && (pe->connect || pe->imported);
}

static uint64_t backoff_ms(struct l2s_loop *l, struct lpeer *pe)
{
	struct l2s_config c = { 0 };

	c.backoff_base_ms = l->p.reconnect_base_ms;
	c.backoff_max_ms = l->p.reconnect_max_ms;
	return l2s_backoff_delay(&c, pe->attempt++, &l->rng);
}

static void schedule_reconnect(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	pe->tcp_at = 0;
	pe->reconnect_at = now + backoff_ms(l, pe);
}

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
	p->peer = l2s_peer_index(l, pe);
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
	try_quic(l, pe, now);
	if (!l->quic)
		try_tcp(l, pe, now);
	else if (l->tcp)
		pe->tcp_at = now + l->p.happy_eyeballs_ms;
	if (!trying(pe) && !pe->tcp_at)
		schedule_reconnect(l, pe, now);
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

/* ---- a session on a connected path ---------------------------------------- */

/* Why a probe is out: the carrier's first (no valid bundle to start a
 * session with; no answer drops the carrier), or a refresh of the bundle a
 * live session falls back with (no answer changes nothing). */
enum { PROBE_NONE, PROBE_FIRST, PROBE_REFRESH };

/* The carrier will not do (no answer, a bad one): drop it, try again later. */
static void give_up_path(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, int err, uint64_t now)
{
	l2s_loop_peer_error(l, pe, err, now);
	p->probing = PROBE_NONE;
	pe->path = 0;
	pe->quic_retry_at = 0;
	l2s_path_close(l, p, now);
	schedule_reconnect(l, pe, now);
}

static void send_probe(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, int why, uint64_t now)
{
	uint8_t probe[L2S_DISC_PROBE_MIN_BYTES];
	size_t len;

	if (l2s_discovery_probe_make(probe, sizeof(probe), &len, 0, p->nonce, &l->rng, NULL) != L2S_OK ||
	    l2s_path_send(l, p, probe, len) != L2S_OK) {
		give_up_path(l, pe, p, L2S_ERR_IO, now);
		return;
	}
	p->probing = why;
	p->probe_deadline = now + l->p.cfg.handshake_timeout_ms;
	l->st.disc_probes++;
}

/* Records the session this side started (how: STARTED_*), or reports why it
 * could not start and tries again later. 1 when it started. */
static int session_started(struct l2s_loop *l, struct lpeer *pe, int ret, uint32_t h, int how, uint64_t now)
{
	if (ret != L2S_OK) {
		l2s_loop_peer_error(l, pe, ret, now);
		schedule_reconnect(l, pe, now);
		return 0;
	}
	pe->session = h;
	pe->started = how;
	return 1;
}

static void establish(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, uint64_t now)
{
	uint32_t h = 0;
	int ret = l2s_node_establish(l->node, pe->pk, pe->bundle, sizeof(pe->bundle), l2s_loop_unix_s(), &l->p.cfg,
				     p->id, now, &h);

	if (ret == L2S_ERR_EXPIRED || ret == L2S_ERR_AUTH || ret == L2S_ERR_DECODE) {
		pe->has_bundle = 0; /* fetch a fresh one next time */
	}
	session_started(l, pe, ret, h, STARTED_HANDSHAKE, now);
}

static int bundle_valid(struct lpeer *pe)
{
	return pe->has_bundle &&
	       l2s_prekey_bundle_verify(pe->bundle, sizeof(pe->bundle), pe->pk, l2s_loop_unix_s()) == L2S_OK;
}

static void carry(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, uint64_t now)
{
	struct l2s_session_info si;

	if (pe->session && l2s_session_set_path(l->node, pe->session, p->id, now) == L2S_OK) {
		if (pe->started != STARTED_RESUME)
			l->st.resumptions++; /* a move; an import counts when established */
		/* Still established: the move is the whole interruption. */
		if (pe->resume_from_ms && l2s_session_info(l->node, pe->session, &si) == L2S_OK &&
		    si.state == L2S_ESTABLISHED) {
			pe->resume_ms = now - pe->resume_from_ms;
			pe->resume_from_ms = 0;
		}
		return;
	}
	pe->session = 0;
	if (bundle_valid(pe))
		establish(l, pe, p, now);
	else
		send_probe(l, pe, p, PROBE_FIRST, now);
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
	carry(l, pe, p, now);
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
	if (wants_connection(pe))
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
	if (was_try && !pe->path && pe->tcp_at && wants_connection(pe))
		try_tcp(l, pe, now);
	/* An attempt failed; the whole race failed when nothing else is left. */
	if (was_try && !pe->path && !trying(pe) && !pe->tcp_at && wants_connection(pe)) {
		l2s_loop_peer_error(l, pe, L2S_ERR_IO, now);
		schedule_reconnect(l, pe, now);
	}
}

/* Nothing carries, nothing is being tried, nothing is scheduled (a connect
 * that failed at once): schedule, so that a peer is never forgotten. */
static void ensure_progress(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	if (wants_connection(pe) && !pe->path && !trying(pe) && !pe->tcp_at && !pe->reconnect_at)
		schedule_reconnect(l, pe, now);
}

/* An in-band DISCOVERY_ANSWER (PROTOCOL.md §11.3) to our probe on p. */
void l2s_peer_on_answer(struct l2s_loop *l, struct lpath *p, const uint8_t *msg, size_t len, uint64_t now)
{
	struct lpeer *pe = l2s_peer_of_path(l, p);
	struct l2s_disc_result res;
	struct l2s_disc_answer a;
	int ret, why;

	if (!pe || !p->probing || pe->path != p->id) {
		l->st.disc_dropped++;
		return;
	}
	why = p->probing;
	p->probing = PROBE_NONE;
	ret = l2s_discovery_verify(msg, len, p->nonce, pe->pk, l2s_loop_unix_s(), &res);
	if (ret == L2S_OK && !res.has_bundle)
		ret = L2S_ERR_DECODE;
	if (ret == L2S_OK)
		ret = l2s_decode_disc_answer(msg, len, &a);
	if (ret != L2S_OK && why == PROBE_REFRESH)
		l2s_loop_peer_error(l, pe, ret, now); /* the session goes on */
	if (ret != L2S_OK) {
		if (why == PROBE_FIRST)
			give_up_path(l, pe, p, ret, now);
		return;
	}
	memcpy(pe->bundle, a.bundle, sizeof(pe->bundle));
	pe->has_bundle = 1;
	if (pe->session)
		l2s_session_set_bundle(l->node, pe->session, pe->bundle, sizeof(pe->bundle), l2s_loop_unix_s());
	else
		establish(l, pe, p, now);
}

/* A live session failed: its next full handshake may need the peer's new
 * prekey (the peer restarted with one), which nothing else would fetch. */
static void refresh_bundle(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	struct lpath *p = l2s_path_get(l, pe->path);

	if (p && p->connected && !p->probing)
		send_probe(l, pe, p, PROBE_REFRESH, now);
}

/* ---- the engine's view ------------------------------------------------------ */

static void on_established(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	pe->established_ms = now;
	pe->attempt = 0;
	if (pe->resume_from_ms) {
		pe->resume_ms = now - pe->resume_from_ms;
		pe->resume_from_ms = 0;
	}
	/* counted on the side that started them */
	if (pe->started == STARTED_HANDSHAKE)
		l->st.handshakes++;
	else if (pe->started == STARTED_RESUME)
		l->st.resumptions++;
	pe->started = STARTED_NONE;
}

static void on_ended(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	pe->session = 0;
	pe->started = STARTED_NONE;
	pe->imported = 0; /* the accepting side kept it up for that session only */
	if (wants_connection(pe) && !pe->reconnect_at)
		schedule_reconnect(l, pe, now);
}

void l2s_peer_on_session_event(struct l2s_loop *l, const struct l2s_event *ev, uint64_t now)
{
	struct lpeer *pe = l2s_peer_find(l, ev->peer_pk);
	struct lpath *p;

	if (!pe)
		return;
	if (ev->type == L2S_EV_ACCEPTED) {
		pe->session = ev->session;
		pe->path = ev->path;
		pe->path_kind = l2s_path_kind(l, ev->path);
		if ((p = l2s_path_get(l, ev->path)) && !p->peer)
			p->peer = l2s_peer_index(l, pe);
		return;
	}
	if (ev->session != pe->session || ev->type != L2S_EV_STATE)
		return;
	if (ev->to == L2S_ESTABLISHED && ev->from != L2S_ROTATING)
		on_established(l, pe, now);
	else if (ev->to == L2S_FAILED)
		refresh_bundle(l, pe, now);
	else if (ev->to == L2S_STATE_END)
		on_ended(l, pe, now);
}

/* ---- timers ----------------------------------------------------------------- */

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

	return p && p->connected && wants_connection(pe) ? p : NULL;
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
	if (!wants_connection(pe))
		return;
	if (carrier && carrier->probing == PROBE_FIRST && now >= carrier->probe_deadline) {
		give_up_path(l, pe, carrier, L2S_ERR_IO, now); /* no answer to the probe */
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
			carry(l, pe, carrier, now);
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
		if (!wants_connection(pe))
			continue;
		t = min_nz(t, pe->tcp_at);
		t = min_nz(t, pe->quic_retry_at);
		t = min_nz(t, pe->reconnect_at);
		if (p && p->connected)
			t = min_nz(t, silence_deadline(l, p));
	}
	return t;
}

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
		p->peer = l2s_peer_index(l, pe);
	l2s_node_path_status(l->node, p->id, 1, now);
	if (wants_connection(pe)) {
		close_try(l, &pe->quic_try, now);
		close_try(l, &pe->tcp_try, now);
		pe->tcp_at = pe->reconnect_at = 0;
		pe->quic_retry_at = p->kind == L2S_TRANSPORT_UTCP && l->quic ? now + l->p.quic_retry_ms : 0;
		if (pe->resume_from_ms && l2s_session_info(l->node, pe->session, &si) == L2S_OK &&
		    si.state == L2S_ESTABLISHED) {
			pe->resume_ms = now - pe->resume_from_ms;
			pe->resume_from_ms = 0;
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

/* An inbound connection that carries no session (a stranger's, a
 * prober's, or one a session moved away from) ends after idle_ms of
 * silence, so that connections cannot be hoarded. */
void l2s_paths_reap_idle(struct l2s_loop *l, uint64_t idle_ms, uint64_t now)
{
	for (uint32_t i = 0; i < l->npaths; i++) {
		struct lpath *p = &l->paths[i];
		struct lpeer *pe;

		int unproven = !p->trusted && now >= p->opened_ms + idle_ms;

		if (!p->id || p->outbound || p->closing || (now < p->last_rx_ms + idle_ms && !unproven))
			continue;
		if ((pe = l2s_peer_of_path(l, p)) && pe->path == p->id && pe->session)
			continue;
		/* Kept busy but never authenticated (a QUIC peer that completed
		 * the transport's handshake and nothing of ours): it goes too. */
		l->st.paths_unproven_closed += unproven;
		p->closing = 1;
		l2s_path_close(l, p, now);
	}
}
