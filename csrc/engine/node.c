// SPDX-License-Identifier: Apache-2.0
/* The node: one local identity and all its sessions, seen from the caller.
 * The public entry points of the sans-IO engine (l2s.h) that act on the
 * node as a whole or on one session: life cycle, time, paths, sending,
 * rotating, closing, receiving. The top of the engine: nothing calls up
 * into this file. */
#include <stdlib.h>
#include <string.h>

#include "engine/node.h"

#define DEFAULT_MAX_SESSIONS (1u << 16)
#define MAX_SESSIONS (1u << 20)

/* ---- time ---------------------------------------------------------------- */

int l2s_node_tick(struct l2s_node *node, uint64_t now_ms)
{
	uint32_t slot;

	while (l2s_timers_pop_due(&node->timers, now_ms, &slot)) {
		struct l2s_session *s = node->slots[slot];

		if (s)
			l2s_session_on_timers(node, s, now_ms);
	}
	l2s_node_extra_tick(node, now_ms);
	return L2S_OK;
}

uint64_t l2s_node_next_deadline(const struct l2s_node *node)
{
	uint64_t timers = l2s_timers_next(&node->timers), prepared = l2s_node_prepared_expiry(node);

	return timers < prepared ? timers : prepared;
}

/* ---- paths ------------------------------------------------------------------ */

int l2s_node_path_status(struct l2s_node *node, uint32_t path, int up, uint64_t now_ms)
{
	/* A scan keeps sessions free of a path table. It ends at the last live
	 * session: slots are taken lowest first, so a flood of connections
	 * (each one a path up, then down) costs a few slots each, not all. */
	for (uint32_t i = 0, seen = 0; i < node->max_sessions && seen < node->live; i++) {
		struct l2s_session *s = node->slots[i];

		seen += s != NULL;
		if (!s || s->path != path)
			continue;
		if (up) {
			s->path_down_since = 0;
			if (s->state == L2S_DEGRADED && !s->pending)
				s->retry_at = now_ms;
		} else if (!s->path_down_since) {
			s->path_down_since = now_ms;
		}
		l2s_schedule(node, s);
	}
	return L2S_OK;
}

/* ---- sessions, from the caller's side -------------------------------------- */

int l2s_session_send(struct l2s_node *node, uint32_t handle, const uint8_t *msg, size_t len, uint64_t now_ms,
		     uint64_t *seq)
{
	struct l2s_session *s = l2s_node_session(node, handle);
	int ret;

	if (!s)
		return L2S_ERR_NOT_FOUND;
	if (len > L2S_MAX_PAYLOAD)
		return L2S_ERR_LENGTH;
	ret = l2s_delivery_enqueue(&s->dl, msg, len, seq);
	if (ret != L2S_OK)
		return ret;
	l2s_send_flush(node, s, now_ms);
	l2s_schedule(node, s);
	return L2S_OK;
}

int l2s_session_info(const struct l2s_node *node, uint32_t handle, struct l2s_session_info *info)
{
	const struct l2s_session *s = l2s_node_session(node, handle);

	if (!s)
		return L2S_ERR_NOT_FOUND;
	memset(info, 0, sizeof(*info));
	info->state = s->state;
	info->failure_reason = s->failure_reason;
	info->initiator = s->initiator;
	memcpy(info->peer_pk, s->peer_pk, sizeof(info->peer_pk));
	memcpy(info->session_id, s->session_id, sizeof(info->session_id));
	info->path = s->path;
	info->expires_ms = s->expires;
	info->key_established_ms = s->key_established;
	info->quarantined_until_ms = s->quarantine_until;
	info->next_retry_ms = s->retry_at;
	info->missed_heartbeats = s->missed;
	info->retries = s->retries;
	info->rotations = s->rotations;
	info->queued = s->dl.queued;
	info->unacked = s->dl.in_flight;
	info->next_send_seq = s->dl.next_seq;
	info->next_recv_seq = s->dl.next_expected;
	info->retransmits = s->dl.retransmits;
	memcpy(info->rx_stream, s->dl.rx_stream, sizeof(info->rx_stream));
	return L2S_OK;
}

int l2s_session_rotate(struct l2s_node *node, uint32_t handle, uint64_t now_ms)
{
	struct l2s_session *s = l2s_node_session(node, handle);

	if (!s)
		return L2S_ERR_NOT_FOUND;
	if (s->state != L2S_ESTABLISHED || s->pending)
		return L2S_ERR_STATE;
	return l2s_start_rotation(node, s, L2S_REASON_ROTATION_REQUESTED, now_ms);
}

int l2s_session_set_path(struct l2s_node *node, uint32_t handle, uint32_t path, uint64_t now_ms)
{
	struct l2s_session *s = l2s_node_session(node, handle);
	struct l2s_event ev;

	if (!s)
		return L2S_ERR_NOT_FOUND;
	if (s->path == path)
		return L2S_OK;
	s->path = path;
	s->path_down_since = 0;
	l2s_session_event(&ev, L2S_EV_TRANSPORT, s, now_ms);
	l2s_node_event(node, &ev, NULL, 0);
	/* The same session continues on the new path through resumption. An
	 * exchange in flight is re-sent there at once: what went on the old
	 * path is lost with it (an imported session's first path is 0). */
	if (s->have_rs && !s->pending && (s->state == L2S_ESTABLISHED || s->state == L2S_DEGRADED))
		l2s_start_resume(node, s, now_ms);
	else if (s->pending == PENDING_RESUME || s->pending == PENDING_HANDSHAKE)
		s->pending_resend = now_ms;
	l2s_schedule(node, s);
	return L2S_OK;
}

int l2s_session_refuse_data(struct l2s_node *node, uint32_t handle, uint64_t seq)
{
	struct l2s_session *s = l2s_node_session(node, handle);

	if (!s)
		return L2S_ERR_NOT_FOUND;
	l2s_delivery_refuse(&s->dl, seq);
	return L2S_OK;
}

int l2s_session_accept_data(struct l2s_node *node, uint32_t handle)
{
	struct l2s_session *s = l2s_node_session(node, handle);

	if (!s)
		return L2S_ERR_NOT_FOUND;
	l2s_delivery_accept(&s->dl);
	return L2S_OK;
}

int l2s_session_close(struct l2s_node *node, uint32_t handle, uint64_t now_ms)
{
	struct l2s_session *s = l2s_node_session(node, handle);

	if (!s)
		return L2S_ERR_NOT_FOUND;
	if (s->kp_valid[KP_CUR])
		l2s_send_simple(node, s, L2S_FRAME_CLOSE, 0);
	l2s_session_end(node, s, L2S_EV_STATE, L2S_REASON_CLOSED, now_ms);
	return L2S_OK;
}

int l2s_node_set_accept_config(struct l2s_node *node, const struct l2s_config *cfg)
{
	int ret = l2s_config_check(cfg);

	if (ret == L2S_OK)
		node->accept_cfg = *cfg;
	return ret;
}

static int discovery_message(int type)
{
	return type == L2S_MSG_DISCOVERY_PROBE || type == L2S_MSG_DISCOVERY_ANSWER;
}

int l2s_node_receive_typed(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
			   const uint8_t *msg, size_t len, uint64_t now_ms, int *type)
{
	int ret;

	*type = 0;
	if (addr_len > L2S_MAX_ADDR_BYTES)
		return L2S_ERR_LENGTH;
	ret = l2s_receive(node, path, addr, addr_len, msg, len, now_ms, type);
	if (!discovery_message(*type))
		node->stats[ret == L2S_OK ? L2S_STAT_RX_OK : L2S_STAT_RX_DROPPED]++;
	return ret;
}

int l2s_node_receive(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len, const uint8_t *msg,
		     size_t len, uint64_t now_ms)
{
	int type;

	return l2s_node_receive_typed(node, path, addr, addr_len, msg, len, now_ms, &type);
}

void l2s_node_receive_begin(struct l2s_node *node)
{
	node->batching = 1;
}

void l2s_node_receive_end(struct l2s_node *node, uint64_t now_ms)
{
	node->batching = 0;
	for (uint32_t i = 0; i < node->nowed; i++) {
		/* a handle whose session went during the batch finds nothing */
		struct l2s_session *s = l2s_node_session(node, node->owed[i]);

		if (s && s->flush_owed) {
			s->flush_owed = 0;
			l2s_send_flush(node, s, now_ms);
			l2s_schedule(node, s);
		}
	}
	node->nowed = 0;
}

/* ---- life cycle -------------------------------------------------------------- */

int l2s_node_new(struct l2s_node **out, const struct l2s_node_params *params, uint64_t now_ms)
{
	struct l2s_node *node = calloc(1, sizeof(*node));
	int ret;

	*out = NULL;
	if (!node)
		return L2S_ERR_NOMEM;
	if (params->deterministic)
		l2s_rng_init_seeded(&node->rng, params->rng_seed);
	else
		l2s_rng_init_system(&node->rng);
	node->max_sessions = params->max_sessions ? params->max_sessions : DEFAULT_MAX_SESSIONS;
	if (node->max_sessions > MAX_SESSIONS)
		node->max_sessions = MAX_SESSIONS;
	node->load_limit = params->handshake_load_limit ? params->handshake_load_limit : 1024;
	node->reliable_paths = params->reliable_paths != 0;
	node->rate_per_s = params->handshake_rate_per_s ? params->handshake_rate_per_s : 20;
	node->work_per_s = params->handshake_work_per_s ? params->handshake_work_per_s : 100;
	memcpy(node->storage_key, params->storage_key, sizeof(node->storage_key));
	l2s_config_default(&node->accept_cfg);
	ret = l2s_node_tables_init(node);
	if (ret == L2S_OK)
		ret = l2s_node_identity_init(node, params, now_ms);
	if (ret != L2S_OK) {
		l2s_node_free(node);
		return ret;
	}
	*out = node;
	return L2S_OK;
}

void l2s_node_free(struct l2s_node *node)
{
	if (!node)
		return;
	for (uint32_t i = 0; node->slots && i < node->max_sessions; i++)
		if (node->slots[i])
			l2s_session_destroy(node, node->slots[i]);
	l2s_node_tables_free(node);
	l2s_node_extra_free(node);
	l2s_wipe(node, sizeof(*node));
	free(node);
}
