// SPDX-License-Identifier: Apache-2.0
/* When a session's timer fires next. Each session has one entry in the
 * node's heap: the earliest of its deadlines, so a tick costs O(log n) per
 * session that is due and nothing for the idle ones. What it does then:
 * timeouts.c. docs/STATE_MACHINE.md explains the heartbeat, degradation,
 * suspension, retry and rotation times used here. */
#include "engine/node.h"

#define NEVER UINT64_MAX

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return (b && b < a) ? b : a;
}

static uint64_t rotation_due(const struct l2s_session *s)
{
	/* The responder waits a little longer so that both sides' timers do
	 * not start two rotations at once; the initiator's wins anyway. */
	uint64_t slack = s->initiator ? 0 : s->cfg.handshake_timeout_ms;

	return s->key_established + (s->cfg.ttl_ms - s->cfg.rotation_window_ms) + slack;
}

/* The current keys carried as many frames or bytes as the configuration
 * allows (rotate_after_messages, rotate_after_bytes). */
static int keys_used_up(const struct l2s_session *s)
{
	const struct l2s_keypair *kp = &s->kp[KP_CUR];

	return kp->frames_sent >= s->cfg.rotate_after_messages || kp->bytes_sent >= s->cfg.rotate_after_bytes;
}

/* The one place that decides a rotation (timeouts.c starts it; the
 * application's l2s_session_rotate is the only other way): the keys' time
 * is up or they are used up. */
int l2s_schedule_rotation_now(const struct l2s_session *s, uint64_t now)
{
	return s->state == L2S_ESTABLISHED && !s->pending && (now >= rotation_due(s) || keys_used_up(s));
}

/* Rotating with nothing pending: we gave up our rotation for the peer's
 * (collision) and wait for its confirmation; if that never comes, the
 * session fails like a timed-out rotation rather than rotate for ever. */
uint64_t l2s_schedule_rotation_answer_due(const struct l2s_session *s)
{
	return s->state_since + 2 * s->cfg.handshake_timeout_ms;
}

static uint64_t liveness_deadline(const struct l2s_session *s)
{
	return earliest(NEVER, l2s_heartbeat_deadline(s));
}

static int can_send(const struct l2s_session *s)
{
	return s->kp_valid[KP_CUR] && s->kp[KP_CUR].can_send;
}

static uint64_t session_deadline(const struct l2s_session *s)
{
	uint64_t d = NEVER, rto;

	if (s->dl.ack_pending && can_send(s))
		return 0;
	if (s->state == L2S_ESTABLISHED && !s->pending && keys_used_up(s))
		return 0;
	d = earliest(d, s->pending_deadline);
	d = earliest(d, s->pending_resend);
	d = earliest(d, s->grace_end);
	switch (s->state) {
	case L2S_ESTABLISHED:
	case L2S_ROTATING:
		d = earliest(d, liveness_deadline(s));
		if (s->state == L2S_ESTABLISHED && !s->pending)
			d = earliest(d, rotation_due(s));
		if (s->state == L2S_ROTATING && !s->pending)
			d = earliest(d, l2s_schedule_rotation_answer_due(s));
		rto = l2s_delivery_next_deadline(&s->dl);
		if (rto != L2S_TIMER_NONE && can_send(s))
			d = earliest(d, rto);
		break;
	case L2S_DEGRADED:
		d = earliest(d, liveness_deadline(s));
		d = earliest(d, s->state_since + s->cfg.degraded_timeout_ms);
		if (!s->pending)
			d = earliest(d, s->retry_at);
		break;
	case L2S_SUSPENDED:
	case L2S_FAILED:
		d = earliest(d, s->retry_at);
		d = earliest(d, s->expires);
		break;
	default:
		break;
	}
	return d;
}

void l2s_schedule(struct l2s_node *node, struct l2s_session *s)
{
	l2s_timers_set(&node->timers, s->slot, session_deadline(s));
}

/* After running a session's timers nothing may be due again at the same
 * instant, or one tick would never end. */
void l2s_schedule_after(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	uint64_t d = session_deadline(s);

	l2s_timers_set(&node->timers, s->slot, d <= now ? now + 1 : d);
}

/* An authenticated frame arrived: the peer is alive. */
void l2s_session_activity(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	(void)node;
	s->last_rx = now;
	l2s_heartbeat_activity(s, now);
}
