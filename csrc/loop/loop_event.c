// SPDX-License-Identifier: Apache-2.0
/* The application's side of the loop: the engine's events passed on (with
 * the session's transport), the inbox lines for delivered messages
 * (PROTOCOL.md §12), and the bounded event queue. The queue never drops:
 * above half of event_queue_limit events, or of the memory budget in their
 * bytes, the loop stops taking messages from the transports, whose flow
 * control then holds the peers back. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop/loop_internal.h"

int l2s_loop_paused(const struct l2s_loop *l)
{
	return l->ev_count >= l->p.event_queue_limit / 2 || l->ev_bytes >= l->budget.limit / 2;
}

void l2s_loop_event_push(struct l2s_loop *l, const struct l2s_loop_event *ev, const uint8_t *data, size_t len)
{
	struct levent *e = malloc(sizeof(*e) + len);

	/* Without memory the event cannot be kept; nothing better to do than count it. */
	if (!e) {
		l->st.rx_dropped[-L2S_ERR_NOMEM]++;
		return;
	}
	e->next = NULL;
	e->ev = *ev;
	if (len)
		memcpy(e->data, data, len);
	e->ev.data = len ? e->data : NULL;
	e->ev.len = len;
	l2s_budget_draw(&l->budget, sizeof(*e) + len);
	l->ev_bytes += sizeof(*e) + len;
	if (l->ev_tail)
		l->ev_tail->next = e;
	else
		l->ev_head = e;
	l->ev_tail = e;
	l->ev_count++;
	l->st.events_queued++;
	if (l->ev_count > l->st.events_peak)
		l->st.events_peak = l->ev_count;
	pthread_cond_broadcast(&l->cv);
}

void l2s_loop_peer_error(struct l2s_loop *l, const struct lpeer *pe, int err, uint64_t now)
{
	struct l2s_loop_event ev = { 0 };

	ev.type = L2S_LOOP_EV_PEER_ERROR;
	ev.time_ms = now;
	ev.error = err;
	memcpy(ev.peer_pk, pe->pk, sizeof(ev.peer_pk));
	l2s_loop_event_push(l, &ev, NULL, 0);
}

/* The events the application took last: their data stays valid until it
 * asks for more. */
static void free_taken(struct l2s_loop *l)
{
	struct levent *e;

	while ((e = l->ev_taken)) {
		l->ev_taken = e->next;
		l2s_budget_give(&l->budget, sizeof(*e) + e->ev.len);
		l2s_wipe(e->data, e->ev.len);
		free(e);
	}
}

void l2s_loop_events_free(struct l2s_loop *l)
{
	struct levent *e;

	while ((e = l->ev_head)) {
		l->ev_head = e->next;
		l2s_budget_give(&l->budget, sizeof(*e) + e->ev.len);
		l2s_wipe(e->data, e->ev.len);
		free(e);
	}
	l->ev_tail = NULL;
	free_taken(l);
	l->ev_count = 0;
	l->ev_bytes = 0;
}

int l2s_loop_next_events(struct l2s_loop *l, struct l2s_loop_event *evs, size_t max)
{
	struct levent *e;
	int was_paused, n = 0;

	if (max > INT32_MAX)
		max = INT32_MAX;
	pthread_mutex_lock(&l->mu);
	was_paused = l2s_loop_paused(l);
	free_taken(l);
	while ((size_t)n < max && (e = l->ev_head)) {
		l->ev_head = e->next;
		if (!l->ev_head)
			l->ev_tail = NULL;
		l->ev_count--;
		l->ev_bytes -= sizeof(*e) + e->ev.len;
		e->next = l->ev_taken;
		l->ev_taken = e;
		evs[n++] = e->ev;
	}
	/* Room again: the loop takes messages from the transports again. */
	if (was_paused && !l2s_loop_paused(l)) {
		uint64_t one = 1;

		if (write(l->wakefd, &one, sizeof(one)) < 0) {
			/* the counter is full: the loop wakes anyway */
		}
	}
	pthread_mutex_unlock(&l->mu);
	return n;
}

int l2s_loop_next_event(struct l2s_loop *l, struct l2s_loop_event *ev)
{
	return l2s_loop_next_events(l, ev, 1);
}

/* ---- the inbox (PROTOCOL.md §12) -------------------------------------------- */

/* INBOX: error the errno of the failed write, 0 when the inbox works again. */
static void inbox_event(struct l2s_loop *l, const struct l2s_event *ev, int err, uint64_t now)
{
	struct l2s_loop_event out = { .type = L2S_LOOP_EV_INBOX, .session = ev->session, .error = err };

	out.time_ms = now;
	memcpy(out.peer_pk, ev->peer_pk, sizeof(out.peer_pk));
	l2s_loop_event_push(l, &out, NULL, 0);
}

/* The inbox took no line: the session goes back to this message and takes
 * no more (the sender keeps it all: nothing is acknowledged) until a retry. */
static void inbox_failed(struct l2s_loop *l, struct lpeer *pe, const struct l2s_event *ev, int err, uint64_t now)
{
	l->st.inbox_failures++;
	l->st.inbox_errno = err;
	l2s_session_refuse_data(l->node, ev->session, ev->seq);
	pe->inbox_refused = ev->session;
	pe->inbox_retry_at = now + LOOP_INBOX_RETRY_MS;
	if (!pe->inbox_down) {
		pe->inbox_down = 1;
		l->st.inbox_refusing++;
		inbox_event(l, ev, err, now);
	}
}

/* A line written after failures: the inbox works again. */
static void inbox_back(struct l2s_loop *l, struct lpeer *pe, const struct l2s_event *ev, uint64_t now)
{
	pe->inbox_down = 0;
	l->st.inbox_refusing--;
	inbox_event(l, ev, 0, now);
}

/* Time to try the inbox again: the refused session takes DATA again (and
 * the next line written says whether the inbox works). */
void l2s_loop_inbox_retry(struct l2s_loop *l, struct lpeer *pe, uint64_t now)
{
	if (!pe->inbox_refused || now < pe->inbox_retry_at)
		return;
	l2s_session_accept_data(l->node, pe->inbox_refused);
	pe->inbox_retry_at = 0;
}

/* Before the round's acknowledgements are made. A failed sync is counted:
 * the lines were written, and only a power loss before the disk catches up
 * can lose them (PROTOCOL.md §12). */
void l2s_loop_inbox_sync(struct l2s_loop *l)
{
	int err = l2s_inbox_sync(&l->inbox);

	if (err) {
		l->st.inbox_failures++;
		l->st.inbox_errno = err;
	}
	l->st.inbox_rotations = l->inbox.rotations;
}

/* A MESSAGE goes on unless the inbox already had it before a restart, or
 * the inbox cannot take it (then neither can what follows in this round). */
static int deliver(struct l2s_loop *l, struct lpeer *pe, const struct l2s_event *ev, uint64_t now)
{
	int err;

	if (pe->inbox_refused == ev->session) {
		if (pe->inbox_retry_at)
			return 0; /* after the failed one in this round: it comes again */
		pe->inbox_refused = 0; /* data came after the retry */
	}
	pe->rx_messages++;
	if (l2s_peer_delivered_before(pe, ev->stream, ev->seq))
		return 0;
	if ((err = l2s_inbox_write(&l->inbox, ev->stream, ev->seq, ev->peer_pk, ev->data, ev->len)) != 0) {
		pe->rx_messages--;
		inbox_failed(l, pe, ev, err, now);
		return 0;
	}
	if (pe->inbox_down)
		inbox_back(l, pe, ev, now);
	pe->delivered++;
	return 1;
}

static void pass_on(struct l2s_loop *l, const struct l2s_event *ev)
{
	struct l2s_loop_event out = { 0 };

	out.type = ev->type;
	out.session = ev->session;
	out.time_ms = ev->time_ms;
	memcpy(out.peer_pk, ev->peer_pk, sizeof(out.peer_pk));
	out.from = ev->from;
	out.to = ev->to;
	out.reason = ev->reason;
	out.seq = ev->seq;
	out.transport = l2s_path_kind(l, ev->path);
	l2s_loop_event_push(l, &out, ev->data, ev->type == L2S_EV_MESSAGE ? ev->len : 0);
}

int l2s_loop_refused(const struct l2s_loop *l, uint32_t session)
{
	for (uint32_t i = 0; session && i < l->nrefused; i++)
		if (l->refused[i] == session)
			return 1;
	return 0;
}

/* Sessions of DIDs we do not serve end at ACCEPTED, and say nothing. */
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
		return 0;
	}
	return 1;
}

void l2s_loop_node_events(struct l2s_loop *l, uint64_t now)
{
	struct l2s_event ev;

	while (l2s_node_next_event(l->node, &ev)) {
		struct lpeer *pe;

		if (!admit(l, &ev, now))
			continue;
		l2s_peer_on_session_event(l, &ev, now);
		pe = l2s_peer_find(l, ev.peer_pk);
		if (ev.type == L2S_EV_MESSAGE && !deliver(l, pe, &ev, now))
			continue;
		if (ev.type == L2S_EV_TRANSPORT)
			pe->path_kind = l2s_path_kind(l, ev.path);
		pass_on(l, &ev);
	}
}
