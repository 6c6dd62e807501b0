// SPDX-License-Identifier: Apache-2.0
/* What a session does when its timer fires (schedule.c sets it): an
 * exchange re-sent or timed out, a missed heartbeat judged, a retry from
 * degraded, suspended or failed, a rotation that is due, previous keys
 * wiped. docs/STATE_MACHINE.md explains the times. */
#include "engine/node.h"

#define RESUMES_BEFORE_HANDSHAKE 3

static void degrade(struct l2s_node *node, struct l2s_session *s, int reason, uint64_t now)
{
	if (s->state == L2S_ROTATING)
		return; /* the rotation's own timeout decides */
	if (l2s_session_transition(node, s, L2S_DEGRADED, reason, now) != L2S_OK)
		return;
	/* Re-establish at once if the transport is there; else when it returns
	 * or at the retry time, whichever comes first. */
	s->retries = 0;
	s->retry_at = s->path_down_since ? now + s->cfg.backoff_base_ms : now;
}

/* A heartbeat timeout is when liveness is judged (docs/STATE_MACHINE.md):
 * degraded after heartbeat_tolerance misses in a row, or at the first miss
 * once the transport has reported no connectivity for more than
 * connectivity_timeout. In a partition that begins at the last activity this
 * is the first timeout (32 s), and degraded_timeout later the third (92 s). */
static void heartbeat_missed(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	if (s->missed >= s->cfg.heartbeat_tolerance)
		degrade(node, s, L2S_REASON_MISSED_HEARTBEATS, now);
	else if (s->path_down_since && now > s->path_down_since + s->cfg.connectivity_timeout_ms)
		degrade(node, s, L2S_REASON_CONNECTIVITY_LOST, now);
	else if (!s->path_down_since && (s->state == L2S_ESTABLISHED || s->state == L2S_ROTATING))
		/* "Single missed heartbeat": a warning while the transport is up. */
		l2s_session_warning(node, s, L2S_REASON_MISSED_HEARTBEATS, now);
}

static void liveness_timers(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	if (l2s_heartbeat_reply_missed(s, now))
		heartbeat_missed(node, s, now);
	l2s_heartbeat_send_due(node, s, now);
}

/* Returns 1 when the session is gone. */
static int pending_timeout(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	int kind = s->pending;

	s->pending_deadline = 0;
	switch (kind) {
	case PENDING_ROTATION:
		l2s_session_fail(node, s, L2S_REASON_ROTATION_TIMEOUT, now);
		break;
	case PENDING_ACCEPT:
	case PENDING_RESUMED:
		if (s->state == L2S_HANDSHAKE_RECEIVED) {
			/* An inbound handshake or resumption the initiator never
			 * confirmed. Its keys were never confirmed and the retry is
			 * the initiator's to make: nothing is left to re-establish,
			 * so the session ends here (PROTOCOL.md §4.1: the half-open
			 * handshake times out). Kept, it would "retry" for ever and
			 * hold a slot: anyone with a fresh key pair could fill the
			 * node with them. */
			l2s_session_fail(node, s, L2S_REASON_TIMEOUT, now);
			l2s_session_transition(node, s, L2S_STATE_END, L2S_REASON_CLEANUP, now);
			l2s_session_destroy(node, s);
			return 1;
		}
		/* fall through */
	case PENDING_HANDSHAKE:
	case PENDING_RESUME:
		/* Silence cannot tell a partition from a peer that refuses our
		 * resumption (it lost its state, or ours is an old checkpoint).
		 * A session restored from storage that never got through falls
		 * back to a full handshake at once (if we know the peer's
		 * prekey bundle); a live one after every
		 * RESUMES_BEFORE_HANDSHAKE-th silent attempt, or at once when
		 * the peer's own resumption showed that our secrets differ
		 * (resumption.c). Fallen back, it stays with full handshakes
		 * until established (the peer that lost our session will never
		 * answer a resumption), but tries one resumption after every
		 * RESUMES_BEFORE_HANDSHAKE-th silent handshake: our copy of the
		 * peer's bundle may be stale while the peer kept the session. */
		if (kind == PENDING_RESUME)
			s->resume_failed = s->resume_failed || !s->was_established || s->hs_timeouts ||
					   ++s->resume_timeouts % RESUMES_BEFORE_HANDSHAKE == 0;
		else
			s->resume_failed = ++s->hs_timeouts % RESUMES_BEFORE_HANDSHAKE != 0;
		if (s->state == L2S_HANDSHAKE_INITIATED || s->state == L2S_HANDSHAKE_RECEIVED) {
			l2s_session_fail(node, s, L2S_REASON_TIMEOUT, now);
		} else {
			/* A re-establishment attempt from `degraded` failed: stay
			 * and try again after a backoff. */
			l2s_session_clear_pending(node, s);
			s->retry_at = now + l2s_backoff_delay(&s->cfg, s->retries++, &node->rng);
		}
		break;
	default:
		break;
	}
	return 0;
}

static void pending_resend(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	s->pending_resend = 0;
	switch (s->pending) {
	case PENDING_HANDSHAKE:
		l2s_start_handshake(node, s, now);
		break;
	case PENDING_RESUME:
		l2s_start_resume(node, s, now);
		break;
	case PENDING_ROTATION:
		l2s_resend_rotation(node, s, now);
		break;
	default:
		break;
	}
}

/* A way back exists: resumption (we hold a resumption secret) or a full
 * handshake (we hold the peer's prekey bundle). */
static int can_reestablish(const struct l2s_session *s)
{
	return s->have_rs || s->peer_bundle;
}

/* Resumption, unless one failed and a full handshake is possible. */
static void reestablish(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	if (s->have_rs && !(s->resume_failed && s->peer_bundle))
		l2s_start_resume(node, s, now);
	else
		l2s_start_handshake(node, s, now);
}

static void retry(struct l2s_node *node, struct l2s_session *s, int reason, uint64_t now)
{
	s->retry_at = 0;
	if (!can_reestablish(s) || (s->cfg.max_retries && s->retries > s->cfg.max_retries)) {
		l2s_session_transition(node, s, L2S_STATE_END, L2S_REASON_CLEANUP, now);
		l2s_session_destroy(node, s);
		return;
	}
	if (l2s_session_transition(node, s, L2S_HANDSHAKE_INITIATED, reason, now) != L2S_OK)
		return;
	reestablish(node, s, now);
}

/* Runs whatever is due for one session (which may end it). */
void l2s_session_on_timers(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	uint32_t handle = s->handle;

	if (s->grace_end && now >= s->grace_end) {
		l2s_session_drop_keys(node, s, KP_PREV);
		s->grace_end = 0;
	}
	if (s->pending_deadline && now >= s->pending_deadline) {
		if (pending_timeout(node, s, now))
			return; /* the session is gone */
	} else if (s->pending_resend && now >= s->pending_resend)
		pending_resend(node, s, now);

	switch (s->state) {
	case L2S_ESTABLISHED:
	case L2S_ROTATING:
		if (s->state == L2S_ROTATING && !s->pending && now >= l2s_schedule_rotation_answer_due(s)) {
			l2s_session_fail(node, s, L2S_REASON_ROTATION_TIMEOUT, now);
			break;
		}
		liveness_timers(node, s, now);
		if (l2s_schedule_rotation_now(s, now) && l2s_start_rotation(node, s, L2S_REASON_TIME_TO_ROTATE, now) != L2S_OK)
			s->key_established = now; /* try again one rotation period later */
		break;
	case L2S_DEGRADED:
		liveness_timers(node, s, now);
		if (now >= s->state_since + s->cfg.degraded_timeout_ms) {
			l2s_session_clear_pending(node, s);
			l2s_session_transition(node, s, L2S_SUSPENDED, L2S_REASON_TIMEOUT, now);
			s->retry_at = now + s->cfg.suspended_retry_ms;
		} else if (s->retry_at && now >= s->retry_at && !s->pending) {
			s->retry_at = 0;
			reestablish(node, s, now);
		}
		break;
	case L2S_SUSPENDED:
		if (s->expires && now >= s->expires) {
			l2s_session_transition(node, s, L2S_STATE_END, L2S_REASON_CLEANUP, now);
			l2s_session_destroy(node, s);
			return;
		}
		if (s->retry_at && now >= s->retry_at)
			retry(node, s, L2S_REASON_RETRY, now);
		break;
	case L2S_FAILED:
		if (s->retry_at && now >= s->retry_at)
			retry(node, s, L2S_REASON_RETRY_WITH_BACKOFF, now);
		break;
	default:
		break;
	}
	if (l2s_node_session(node, handle) != s)
		return;
	l2s_send_flush(node, s, now);
	l2s_schedule_after(node, s, now);
}
