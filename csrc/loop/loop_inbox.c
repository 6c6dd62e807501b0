// SPDX-License-Identifier: Apache-2.0
/* The loop's side of the inbox (PROTOCOL.md §12; the file is inbox.c): a
 * delivered MESSAGE is written there before it is acknowledged. A message
 * the inbox cannot take is refused, so its sender keeps it, and taken
 * again after LOOP_INBOX_RETRY_MS; the application hears when the inbox
 * fails and when it works again. */
#include <string.h>

#include "loop/loop_internal.h"

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

/* A MESSAGE goes on (1) unless the inbox already had it before a restart,
 * or the inbox cannot take it (then neither can what follows in this round). */
int l2s_loop_inbox_deliver(struct l2s_loop *l, struct lpeer *pe, const struct l2s_event *ev, uint64_t now)
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
