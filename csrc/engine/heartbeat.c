// SPDX-License-Identifier: Apache-2.0
/* The heartbeat (PROTOCOL.md §5 HEARTBEAT and HEARTBEAT_REPLY,
 * docs/STATE_MACHINE.md "liveness"): when one goes out, what a reply and a
 * peer's request do, and when a missing reply counts as a miss. The hb_*
 * fields and `missed` of a session are written here only; what a miss does
 * to the session (a warning, degraded) is the schedule's (schedule.c). */
#include "engine/node.h"

/* Keys from a handshake or a resumption start a new heartbeat sequence: a
 * peer that restarted from its StoredSession counts from 1 again, and
 * frames under these keys cannot be old ones. (Rotation keeps it.) */
void l2s_heartbeat_restart(struct l2s_session *s, uint64_t now)
{
	s->missed = 0;
	s->hb_peer_counter = 0;
	s->hb_outstanding = 0;
	s->hb_reply_deadline = 0;
	s->hb_next = now + s->cfg.heartbeat_interval_ms;
}

/* An authenticated frame arrived: the next heartbeat can wait an interval,
 * unless one is already out (its reply still decides). */
void l2s_heartbeat_activity(struct l2s_session *s, uint64_t now)
{
	if (!s->hb_outstanding)
		s->hb_next = now + s->cfg.heartbeat_interval_ms;
}

uint64_t l2s_heartbeat_deadline(const struct l2s_session *s)
{
	if (!s->hb_reply_deadline)
		return s->hb_next;
	if (!s->hb_next)
		return s->hb_reply_deadline;
	return s->hb_next < s->hb_reply_deadline ? s->hb_next : s->hb_reply_deadline;
}

static int send_request(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	s->hb_counter++;
	s->hb_outstanding = s->hb_counter;
	s->hb_sent = now;
	s->hb_reply_deadline = now + s->cfg.heartbeat_reply_timeout_ms;
	/* The next one follows an interval after this one if it goes unanswered. */
	s->hb_next = now + s->cfg.heartbeat_interval_ms;
	return l2s_send_simple(node, s, L2S_FRAME_HEARTBEAT, s->hb_counter);
}

/* 1 when the reply deadline passed and that counts as a miss. DATA or ACK
 * since the heartbeat went out shows the stream moving: the reply waits
 * behind data on a busy stream, so the deadline moves on instead. (A peer's
 * own heartbeat says nothing of ours; a peer that is re-establishing sends
 * neither.) */
int l2s_heartbeat_reply_missed(struct l2s_session *s, uint64_t now)
{
	if (!s->hb_reply_deadline || now < s->hb_reply_deadline)
		return 0;
	if (s->last_data_rx > s->hb_sent) {
		s->hb_reply_deadline = now + s->cfg.heartbeat_reply_timeout_ms;
		s->hb_sent = s->last_data_rx;
		return 0;
	}
	s->hb_reply_deadline = 0;
	s->missed++;
	return 1;
}

void l2s_heartbeat_send_due(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	if (s->hb_next && now >= s->hb_next)
		send_request(node, s, now);
}

int l2s_heartbeat_on_reply(struct l2s_session *s, uint64_t counter, uint64_t now)
{
	if (!s->hb_outstanding || counter != s->hb_outstanding)
		return L2S_ERR_REPLAY;
	s->hb_outstanding = 0;
	s->hb_reply_deadline = 0;
	s->missed = 0;
	s->hb_next = now + s->cfg.heartbeat_interval_ms;
	/* "TTL is extended". */
	if (s->expires < now + s->cfg.ttl_ms)
		s->expires = now + s->cfg.ttl_ms;
	return L2S_OK;
}

int l2s_heartbeat_on_request(struct l2s_node *node, struct l2s_session *s, uint64_t counter)
{
	/* Only a session that carries data answers: one that is re-establishing
	 * (or failed) would otherwise tell the peer all is well, and a peer
	 * that sees its heartbeats answered never starts a recovery itself. */
	if (s->state != L2S_ESTABLISHED && s->state != L2S_ROTATING)
		return L2S_ERR_STATE;
	/* Monotonic counters (spec §7.1): an old heartbeat is a replay even if
	 * its frame counter was new under other keys. */
	if (counter <= s->hb_peer_counter)
		return L2S_ERR_REPLAY;
	s->hb_peer_counter = counter;
	return l2s_send_simple(node, s, L2S_FRAME_HEARTBEAT_REPLY, counter);
}
