// SPDX-License-Identifier: Apache-2.0
/* The engine's events, in the order it made them: a session of a DID we do
 * not serve is refused at ACCEPTED (its answer held back), the peer follows
 * its session's state, a MESSAGE goes through the inbox (loop_inbox.c), and
 * what remains goes to the application's queue with the session's
 * transport. */
#include <string.h>

#include "engine/node.h"
#include "loop/loop_internal.h"

/* ---- sessions we do not serve -------------------------------------------------- */

/* Refused this round: the session's outputs are dropped (dispatch.c). */
int l2s_loop_refused(const struct l2s_loop *l, uint32_t session)
{
	for (uint32_t i = 0; session && i < l->nrefused; i++)
		if (l->refused[i] == session)
			return 1;
	return 0;
}

void l2s_loop_refused_clear(struct l2s_loop *l)
{
	l->nrefused = 0;
}

/* Sessions of DIDs we do not serve end at ACCEPTED: the stranger is told
 * nothing, the application is (REFUSED, counted). */
static int admit(struct l2s_loop *l, const struct l2s_event *ev, uint64_t now)
{
	struct lpeer *pe = l2s_peer_find(l, ev->peer_pk);

	if (ev->type != L2S_EV_ACCEPTED)
		return pe != NULL && !l2s_loop_refused(l, ev->session);
	if (!pe && l->p.accept_any && (pe = l2s_peer_add(l, ev->peer_pk)))
		l->st.peers = l->npeers;
	if (!pe || pe->closed) {
		/* Its HANDSHAKE_RESP waits in the engine's outputs: hold it back,
		 * so the stranger learns nothing (beyond LOOP_MAX_REFUSED in one
		 * round the answer leaves, to a session that is gone). */
		if (l->nrefused < LOOP_MAX_REFUSED)
			l->refused[l->nrefused++] = ev->session;
		l2s_session_close(l->node, ev->session, now);
		l2s_loop_refused_event(l, ev->peer_pk, now);
		return 0;
	}
	return 1;
}

/* ---- the peer follows its session ---------------------------------------------- */

static void on_established(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	pe->established_ms = now;
	pe->attempt = 0;
	if (pe->resume_from_ms)
		l2s_peer_resumed(pe, now);
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
	if (l2s_peer_wants_connection(pe) && !pe->reconnect_at)
		l2s_peer_schedule_reconnect(l, pe, now);
}

/* The peer keeps track of its session: ACCEPTED names it and its path,
 * ESTABLISHED counts it, FAILED fetches a fresh bundle, END lets the peer
 * connect again. */
static void track_session(struct l2s_loop *l, const struct l2s_event *ev, uint64_t now)
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
			p->peer = pe->index;
		return;
	}
	if (ev->session != pe->session || ev->type != L2S_EV_STATE)
		return;
	if (ev->to == L2S_ESTABLISHED && ev->from != L2S_ROTATING)
		on_established(l, pe, now);
	else if (ev->to == L2S_FAILED)
		l2s_peer_refresh_bundle(l, pe, now);
	else if (ev->to == L2S_STATE_END)
		on_ended(l, pe, now);
}

/* ---- to the application -------------------------------------------------------- */

static void pass_on(struct l2s_loop *l, const struct l2s_event *ev)
{
	struct l2s_loop_event out = { 0 };

	out.type = ev->type;
	out.session = ev->session;
	out.time_ms = ev->time_ms;
	memcpy(out.peer_pk, ev->peer_pk, sizeof(out.peer_pk));
	memcpy(out.session_id, ev->session_id, sizeof(out.session_id));
	out.from = ev->from;
	out.to = ev->to;
	out.reason = ev->reason;
	out.seq = ev->seq;
	out.transport = l2s_path_kind(l, ev->path);
	if (ev->type == L2S_EV_MESSAGE && ev->len)
		l2s_loop_event_push_adopted(l, &out, ev->data, ev->len, l2s_node_adopt_event_data(l->node));
	else
		l2s_loop_event_push(l, &out, NULL, 0);
}

/* Every event the engine has: admitted, followed by its peer, a MESSAGE
 * written to the inbox, then queued for the application. */
void l2s_loop_node_events(struct l2s_loop *l, uint64_t now)
{
	struct l2s_event ev;

	while (l2s_node_next_event(l->node, &ev)) {
		struct lpeer *pe;

		if (!admit(l, &ev, now))
			continue;
		track_session(l, &ev, now);
		pe = l2s_peer_find(l, ev.peer_pk);
		if (ev.type == L2S_EV_MESSAGE && !l2s_loop_inbox_deliver(l, pe, &ev, now))
			continue;
		if (ev.type == L2S_EV_TRANSPORT)
			pe->path_kind = l2s_path_kind(l, ev.path);
		pass_on(l, &ev);
	}
}
