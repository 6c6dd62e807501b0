// SPDX-License-Identifier: Apache-2.0
/* The peer table: the peers a node knows (added with l2s_loop_add_peer,
 * or the DID of an inbound session), what a restart already delivered of
 * theirs, whether this side keeps them connected and when it tries again.
 * Peers sit in an array (L2S_LOOP_MAX_PEERS bounds it) found by key through
 * a map; the timers visit them all each round, which is cheap. How a peer
 * is connected and carried is decided above (race.c, carry.c); here, an
 * inbound connection that carries no peer's session is closed when idle. */
#include <stdlib.h>
#include <string.h>

#include "lib/backoff.h"
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

/* The interruption that began at resume_from_ms is over. Its length is
 * whole ms, at least 1: 0 says there was none, and the ms clock can read
 * the same at both ends of a resumption on a fast link. */
void l2s_peer_resumed(struct lpeer *pe, uint64_t now)
{
	pe->resume_ms = now > pe->resume_from_ms ? now - pe->resume_from_ms : 1;
	pe->resume_from_ms = 0;
}

/* Start again after a jittered backoff that grows with each failure. */
void l2s_peer_schedule_reconnect(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	pe->tcp_at = 0;
	pe->reconnect_at = now + backoff_ms(l, pe);
}

/* ---- connections no session uses ------------------------------------------- */

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
