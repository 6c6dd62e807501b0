// SPDX-License-Identifier: Apache-2.0
/* A peer's session put on the path the race (race.c) chose to carry it:
 * the session moved there (set_path), or a handshake with the peer's
 * cached bundle, or first an in-band probe for a bundle (PROTOCOL.md
 * §11.3) and the handshake with its answer. A carrier that gets no good
 * answer is given up. A live session that failed probes again, for the
 * prekey a restarted peer has now. */
#include <string.h>

#include "engine/node.h"
#include "handshake/bundle.h"
#include "loop/loop_internal.h"

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
 * could not start and tries again later. */
static void session_started(struct l2s_loop *l, struct lpeer *pe, int ret, uint32_t h, int how, uint64_t now)
{
	if (ret != L2S_OK) {
		l2s_loop_peer_error(l, pe, ret, now);
		l2s_peer_schedule_reconnect(l, pe, now);
		return;
	}
	pe->session = h;
	pe->started = how;
}

static void establish(struct l2s_loop *l, struct lpeer *pe, struct lpath *p, uint64_t now)
{
	uint32_t h = 0;
	int ret = l2s_node_establish(l->node, pe->pk, pe->bundle, sizeof(pe->bundle), l2s_loop_unix_s(), &l->p.cfg,
				     p->id, now, &h);

	pe->preparing = PREPARING_NONE; /* too late for the caller's job, if still running */

	if (ret == L2S_ERR_EXPIRED || ret == L2S_ERR_AUTH || ret == L2S_ERR_DECODE) {
		pe->has_bundle = 0; /* fetch a fresh one next time */
	}
	session_started(l, pe, ret, h, STARTED_HANDSHAKE, now);
}

/* A peer's bundle was verified as it came (l2s_loop_set_peer_bundle, a
 * discovery answer), and the engine verifies it again (preparing, or
 * establishing): here only its expiry can have changed. */
static int bundle_valid(struct lpeer *pe)
{
	struct l2s_bundle b;

	return pe->has_bundle && l2s_decode_bundle(pe->bundle, sizeof(pe->bundle), &b) == L2S_OK &&
	       l2s_loop_unix_s() < b.not_after_s;
}

/* The INITs of the full handshakes whose connections started this round,
 * prepared after the flush (their first packets are out): the work runs
 * while the transport connects (a QUIC handshake's round trip and the
 * peer's TLS work), not after it. */
void l2s_peers_prepare(struct l2s_loop *l, uint64_t now)
{
	if (!l->prepares_due)
		return;
	l->prepares_due = 0;
	for (uint32_t i = 0; i < l->npeers; i++) {
		struct lpeer *pe = l->peers[i];

		if (!pe->prepare)
			continue;
		pe->prepare = 0;
		/* the application's thread may have done it (l2s_loop_connect_prepared) */
		if (pe->session || !bundle_valid(pe) || l2s_node_has_prepared(l->node, pe->pk, pe->bundle, now))
			continue;
		if (l2s_node_prepare_handshake(l->node, pe->pk, pe->bundle, sizeof(pe->bundle), l2s_loop_unix_s(),
					       now) == L2S_OK)
			l->st.prepared_by_loop++;
	}
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
			l2s_peer_resumed(pe, now);
		}
		return;
	}
	pe->session = 0;
	if (pe->preparing == PREPARING && bundle_valid(pe)) {
		/* the caller's job lands soon and brings us back; else the timer */
		pe->preparing = PREPARING_HELD;
		pe->reconnect_at = now + (l->test_prepare_hold_ms ? l->test_prepare_hold_ms : PREPARE_HOLD_MS);
		return;
	}
	if (bundle_valid(pe))
		establish(l, pe, p, now);
	else
		send_probe(l, pe, p, PROBE_FIRST, now);
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
