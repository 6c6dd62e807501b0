// SPDX-License-Identifier: Apache-2.0
/* A session's life: its slot and handle, state transitions with their
 * audit events, failure, its end. Its keys: keys.c. */
#include <stdlib.h>
#include <string.h>

#include "engine/node.h"

struct l2s_session *l2s_session_alloc(struct l2s_node *node, const struct l2s_config *cfg, uint64_t now)
{
	struct l2s_session *s;
	uint32_t slot;

	if (!node->nfree)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	slot = node->free_slots[--node->nfree];
	node->generation[slot] = (uint16_t)((node->generation[slot] + 1) & 0x7ff);
	s->slot = slot;
	s->handle = (uint32_t)node->generation[slot] << SLOT_BITS | (slot + 1);
	s->state = L2S_IDLE;
	s->state_since = now;
	s->cfg = *cfg;
	s->expires = now + cfg->ttl_ms;
	l2s_delivery_init(&s->dl, cfg);
	if (node->reliable_paths && cfg->heartbeat_interval_ms > cfg->retransmit_timeout_ms)
		l2s_delivery_set_rto(&s->dl, cfg->heartbeat_interval_ms);
	node->slots[slot] = s;
	node->live++;
	return s;
}

static void unlink_maps(struct l2s_node *node, struct l2s_session *s)
{
	uint32_t v;

	if (l2s_map_get(&node->by_peer, s->peer_pk, sizeof(s->peer_pk), &v) == L2S_OK && v == s->slot)
		l2s_map_del(&node->by_peer, s->peer_pk, sizeof(s->peer_pk));
	if (l2s_map_get(&node->by_sid, s->session_id, sizeof(s->session_id), &v) == L2S_OK && v == s->slot)
		l2s_map_del(&node->by_sid, s->session_id, sizeof(s->session_id));
	if (l2s_map_get(&node->by_half, s->peer_pk, sizeof(s->peer_pk), &v) == L2S_OK && v == s->slot)
		l2s_map_del(&node->by_half, s->peer_pk, sizeof(s->peer_pk));
}

void l2s_session_destroy(struct l2s_node *node, struct l2s_session *s)
{
	l2s_session_clear_pending(node, s);
	for (int i = 0; i < KP_COUNT; i++)
		l2s_session_drop_keys(node, s, i);
	unlink_maps(node, s);
	l2s_timers_set(&node->timers, s->slot, L2S_TIMER_NONE);
	l2s_delivery_free(&s->dl);
	free(s->peer_bundle);
	free(s->ticket);
	free(s->rot_resp);
	node->slots[s->slot] = NULL;
	node->free_slots[node->nfree++] = s->slot;
	node->live--;
	l2s_wipe(s, sizeof(*s));
	free(s);
}

/* The fields every event of a session carries; callers add the rest. */
void l2s_session_event(struct l2s_event *ev, int type, const struct l2s_session *s, uint64_t now)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->session = s->handle;
	ev->time_ms = now;
	ev->path = s->path;
	memcpy(ev->peer_pk, s->peer_pk, sizeof(ev->peer_pk));
	memcpy(ev->session_id, s->session_id, sizeof(ev->session_id));
}

static void state_event(struct l2s_node *node, struct l2s_session *s, int from, int to, int reason, uint64_t now)
{
	struct l2s_event ev;

	l2s_session_event(&ev, L2S_EV_STATE, s, now);
	ev.from = from;
	ev.to = to;
	ev.reason = reason;
	l2s_node_event(node, &ev, NULL, 0);
}

/* Every state change goes through here: the table is enforced, and each
 * transition is one audit event (time, peer, from, to, reason). */
int l2s_session_transition(struct l2s_node *node, struct l2s_session *s, int to, int reason, uint64_t now)
{
	int from = s->state;

	if (l2s_transition_allowed(from, to) != L2S_OK)
		return L2S_ERR_STATE;
	s->state = (uint8_t)to;
	s->state_since = now;
	if (to == L2S_FAILED)
		s->failure_reason = (uint8_t)reason;
	state_event(node, s, from, to, reason, now);
	return L2S_OK;
}

/* Closing and replacement end the machine from any state (not one of the
 * table's transitions): one audit event from -> [*] with the reason, then the
 * session is gone. type is L2S_EV_STATE, or L2S_EV_CLOSED for a peer's CLOSE
 * (which then also gets the audit event). */
void l2s_session_end(struct l2s_node *node, struct l2s_session *s, int type, int reason, uint64_t now)
{
	struct l2s_event ev;

	l2s_session_event(&ev, type, s, now);
	ev.from = s->state;
	ev.to = L2S_STATE_END;
	ev.reason = reason;
	l2s_node_event(node, &ev, NULL, 0);
	if (type != L2S_EV_STATE) {
		ev.type = L2S_EV_STATE;
		l2s_node_event(node, &ev, NULL, 0);
	}
	l2s_session_destroy(node, s);
}

void l2s_session_warning(struct l2s_node *node, struct l2s_session *s, int reason, uint64_t now)
{
	struct l2s_event ev;

	l2s_session_event(&ev, L2S_EV_WARNING, s, now);
	ev.from = ev.to = s->state;
	ev.reason = reason;
	l2s_node_event(node, &ev, NULL, 0);
}

/* Any state that can fail goes to `failed` with the reason, and a retry is
 * scheduled after the backoff (and any quarantine). */
void l2s_session_fail(struct l2s_node *node, struct l2s_session *s, int reason, uint64_t now)
{
	uint64_t delay;

	l2s_session_clear_pending(node, s);
	if (l2s_session_transition(node, s, L2S_FAILED, reason, now) != L2S_OK)
		return;
	delay = l2s_backoff_delay(&s->cfg, s->retries, &node->rng);
	s->retries++;
	s->retry_at = now + delay;
	if (s->retry_at < s->quarantine_until)
		s->retry_at = s->quarantine_until;
	l2s_schedule(node, s);
}
