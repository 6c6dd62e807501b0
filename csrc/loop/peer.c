// SPDX-License-Identifier: Apache-2.0
/* Peers: the peers a node keeps a session with (added with connect = 1,
 * or whose session was imported), each carried on the path the race
 * (race.c) chose: starting its session there (set_path, establish with a
 * cached bundle, or an in-band probe first), following the engine's
 * events, and reaping what is gone. Peers sit in an array
 * (L2S_LOOP_MAX_PEERS bounds it) found by key through a map; the timers
 * visit them all each round, which is cheap. */
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

/* The newest L2S_LOOP_DELIVERED_STREAMS streams are kept: the caller names
 * them oldest first, and a stream named again keeps its place. */
void l2s_peer_set_delivered(struct lpeer *pe, const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t upto)
{
	uint32_t i;

	for (i = 0; i < pe->ndelivered_streams; i++)
		if (memcmp(pe->delivered_streams[i].stream, stream, L2S_STREAM_ID_BYTES) == 0) {
			if (upto > pe->delivered_streams[i].upto)
				pe->delivered_streams[i].upto = upto;
			return;
		}
	if (pe->ndelivered_streams == L2S_LOOP_DELIVERED_STREAMS) {
		memmove(&pe->delivered_streams[0], &pe->delivered_streams[1], (pe->ndelivered_streams - 1) * sizeof(pe->delivered_streams[0]));
		pe->ndelivered_streams--;
	}
	memcpy(pe->delivered_streams[pe->ndelivered_streams].stream, stream, L2S_STREAM_ID_BYTES);
	pe->delivered_streams[pe->ndelivered_streams++].upto = upto;
}

int l2s_peer_delivered_before(const struct lpeer *pe, const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t seq)
{
	for (uint32_t i = 0; i < pe->ndelivered_streams; i++)
		if (memcmp(pe->delivered_streams[i].stream, stream, L2S_STREAM_ID_BYTES) == 0)
			return seq <= pe->delivered_streams[i].upto;
	return 0;
}

void l2s_peer_free(struct lpeer *pe)
{
	l2s_wipe(pe, sizeof(*pe));
	free(pe);
}

/* This side keeps the peer connected (the accepting side of a session
 * does not, unless it imported the session). */
int l2s_peer_wants_connection(const struct lpeer *pe)
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

void l2s_peer_schedule_reconnect(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	pe->tcp_at = 0;
	pe->reconnect_at = now + backoff_ms(l, pe);
}

/* ---- a session on a connected path ---------------------------------------- */

/* The carrier will not do (no answer, a bad one): drop it, try again later. */
void l2s_peer_give_up_path(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, int err, uint64_t now)
{
	l2s_loop_peer_error(l, pe, err, now);
	p->probing = PROBE_NONE;
	pe->path = 0;
	pe->quic_retry_at = 0;
	l2s_path_close(l, p, now);
	l2s_peer_schedule_reconnect(l, pe, now);
}

static void send_probe(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, int why, uint64_t now)
{
	uint8_t probe[L2S_DISC_PROBE_MIN_BYTES];
	size_t len;

	if (l2s_discovery_probe_make(probe, sizeof(probe), &len, 0, p->nonce, &l->rng, NULL) != L2S_OK ||
	    l2s_path_send(l, p, probe, len) != L2S_OK) {
		l2s_peer_give_up_path(l, pe, p, L2S_ERR_IO, now);
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
		l2s_peer_schedule_reconnect(l, pe, now);
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

void l2s_peer_carry(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, uint64_t now)
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

void l2s_peer_ensure_progress(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	if (l2s_peer_wants_connection(pe) && !pe->path && !l2s_peer_trying(pe) && !pe->tcp_at && !pe->reconnect_at)
		l2s_peer_schedule_reconnect(l, pe, now);
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
			l2s_peer_give_up_path(l, pe, p, ret, now);
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
void l2s_peer_refresh_bundle(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	struct lpath *p = l2s_path_get(l, pe->path);

	if (p && p->connected && !p->probing)
		send_probe(l, pe, p, PROBE_REFRESH, now);
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
	if (l2s_peer_wants_connection(pe)) {
		l2s_peer_close_try(l, &pe->quic_try, now);
		l2s_peer_close_try(l, &pe->tcp_try, now);
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
	l2s_peer_count_move(l, pe, p->kind);
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
		l2s_peer_close_try(l, &pe->quic_try, now);
		l2s_peer_close_try(l, &pe->tcp_try, now);
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
