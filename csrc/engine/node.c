// SPDX-License-Identifier: Apache-2.0
/* The node: one local identity and all its sessions. Public entry points of
 * the sans-IO engine, session slots and handles, receiver indices, and the
 * output and event queues the caller drains. */
#include <stdlib.h>
#include <string.h>

#include "engine/node.h"

#define SLOT_BITS 21
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define DEFAULT_MAX_SESSIONS (1u << 16)
#define MAX_SESSIONS (1u << 20)
/* Outputs and events are drained by the caller after every call; these caps
 * only stop a caller that never drains from exhausting memory. */
#define MAX_QUEUED_OUTPUTS (1u << 20)
#define MAX_QUEUED_EVENTS (1u << 20)

/* ---- handles and slots ---------------------------------------------------- */

struct l2s_session *l2s_node_session(const struct l2s_node *node, uint32_t handle)
{
	uint32_t slot = (handle & SLOT_MASK) - 1;
	struct l2s_session *s;

	if (!handle || slot >= node->max_sessions)
		return NULL;
	s = node->slots[slot];
	return (s && s->handle == handle) ? s : NULL;
}

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

/* ---- receiver indices --------------------------------------------------- */

uint32_t l2s_node_new_index(struct l2s_node *node, uint32_t slot, int kp)
{
	uint8_t key[4];
	uint32_t index, dummy;

	/* Random, non-zero and unused: an index tells an observer nothing and a
	 * forged frame must guess one. */
	do {
		l2s_rng_bytes(&node->rng, key, sizeof(key));
		index = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
	} while (!index || l2s_map_get(&node->by_index, key, sizeof(key), &dummy) == L2S_OK);
	if (l2s_map_put(&node->by_index, key, sizeof(key), index_value(slot, kp)) != L2S_OK)
		return 0;
	return index;
}

void l2s_node_drop_index(struct l2s_node *node, uint32_t index)
{
	uint8_t key[4];

	l2s_u32_key(key, index);
	l2s_map_del(&node->by_index, key, sizeof(key));
}

/* ---- outputs and events ----------------------------------------------------- */

static int queue_output(struct l2s_node *node, uint32_t session, uint32_t path, const uint8_t *msg, size_t len)
{
	struct out_item *o;

	if (node->out_count >= MAX_QUEUED_OUTPUTS || !(o = malloc(sizeof(*o) + len)))
		return L2S_ERR_NOMEM;
	o->next = NULL;
	o->session = session;
	o->path = path;
	o->len = len;
	memcpy(o->data, msg, len);
	if (node->out_tail)
		node->out_tail->next = o;
	else
		node->out_head = o;
	node->out_tail = o;
	node->out_count++;
	return L2S_OK;
}

int l2s_node_output(struct l2s_node *node, struct l2s_session *s, const uint8_t *msg, size_t len)
{
	return queue_output(node, s->handle, s->path, msg, len);
}

int l2s_node_output_path(struct l2s_node *node, uint32_t path, const uint8_t *msg, size_t len)
{
	return queue_output(node, 0, path, msg, len);
}

void l2s_node_event(struct l2s_node *node, const struct l2s_event *ev, const uint8_t *data, size_t len)
{
	struct ev_item *e;

	if (node->ev_count >= MAX_QUEUED_EVENTS || !(e = malloc(sizeof(*e) + len))) {
		node->stats[L2S_STAT_EVENTS_LOST]++;
		return;
	}
	e->next = NULL;
	e->ev = *ev;
	if (len)
		memcpy(e->data, data, len);
	e->ev.data = len ? e->data : NULL;
	e->ev.len = len;
	if (node->ev_tail)
		node->ev_tail->next = e;
	else
		node->ev_head = e;
	node->ev_tail = e;
	node->ev_count++;
}

int l2s_node_next_output(struct l2s_node *node, struct l2s_output *out)
{
	struct out_item *o = node->out_head;

	free(node->out_current);
	node->out_current = NULL;
	if (!o)
		return 0;
	node->out_head = o->next;
	if (!node->out_head)
		node->out_tail = NULL;
	node->out_count--;
	node->out_current = o;
	out->session = o->session;
	out->path = o->path;
	out->data = o->data;
	out->len = o->len;
	return 1;
}

int l2s_node_next_event(struct l2s_node *node, struct l2s_event *ev)
{
	struct ev_item *e = node->ev_head;

	if (node->ev_current) {
		l2s_wipe(node->ev_current->data, node->ev_current->ev.len);
		free(node->ev_current);
		node->ev_current = NULL;
	}
	if (!e)
		return 0;
	node->ev_head = e->next;
	if (!node->ev_head)
		node->ev_tail = NULL;
	node->ev_count--;
	node->ev_current = e;
	*ev = e->ev;
	return 1;
}

static void free_queues(struct l2s_node *node)
{
	struct l2s_output o;
	struct l2s_event e;

	while (l2s_node_next_output(node, &o))
		;
	l2s_node_next_output(node, &o);
	while (l2s_node_next_event(node, &e))
		;
	l2s_node_next_event(node, &e);
}

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
	return l2s_timers_next(&node->timers);
}

/* ---- channel bindings -------------------------------------------------------- */

#define MAX_BINDINGS (1u << 16)

static int binding_grow(struct l2s_node *node)
{
	uint32_t cap = node->binding_cap ? 2 * node->binding_cap : 16;
	uint8_t(*b)[32];
	uint32_t *paths;

	if (cap > MAX_BINDINGS)
		cap = MAX_BINDINGS;
	if (!(b = realloc(node->bindings, cap * sizeof(*b))))
		return L2S_ERR_NOMEM;
	node->bindings = b;
	if (!(paths = realloc(node->binding_paths, cap * sizeof(*paths))))
		return L2S_ERR_NOMEM;
	node->binding_paths = paths;
	node->binding_cap = cap;
	return L2S_OK;
}

/* Clearing frees the slot (the last binding moves into it), so a caller
 * that names every connection by a new path id stays within MAX_BINDINGS
 * as long as it clears the paths that are gone. */
static void binding_clear(struct l2s_node *node, const uint8_t key[4], uint32_t i)
{
	uint32_t last = node->nbindings - 1;
	uint8_t k[4];

	l2s_map_del(&node->by_path, key, 4);
	if (i != last) {
		memcpy(node->bindings[i], node->bindings[last], 32);
		node->binding_paths[i] = node->binding_paths[last];
		l2s_u32_key(k, node->binding_paths[i]);
		l2s_map_put(&node->by_path, k, sizeof(k), i);
	}
	l2s_wipe(node->bindings[last], 32);
	node->nbindings--;
}

int l2s_node_path_binding(struct l2s_node *node, uint32_t path, const uint8_t *binding)
{
	uint8_t key[4];
	uint32_t i;

	l2s_u32_key(key, path);
	if (l2s_map_get(&node->by_path, key, sizeof(key), &i) == L2S_OK) {
		if (binding)
			memcpy(node->bindings[i], binding, 32);
		else
			binding_clear(node, key, i);
		return L2S_OK;
	}
	if (!binding)
		return L2S_OK;
	if (node->nbindings >= MAX_BINDINGS)
		return L2S_ERR_NOMEM;
	if (node->nbindings == node->binding_cap && binding_grow(node) != L2S_OK)
		return L2S_ERR_NOMEM;
	i = node->nbindings;
	if (l2s_map_put(&node->by_path, key, sizeof(key), i) != L2S_OK)
		return L2S_ERR_NOMEM;
	memcpy(node->bindings[i], binding, 32);
	node->binding_paths[i] = path;
	node->nbindings++;
	return L2S_OK;
}

const uint8_t *l2s_node_binding(const struct l2s_node *node, uint32_t path)
{
	uint8_t key[4];
	uint32_t i;

	l2s_u32_key(key, path);
	return l2s_map_get(&node->by_path, key, sizeof(key), &i) == L2S_OK ? node->bindings[i] : NULL;
}

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
	return l2s_start_rotation(node, s, now_ms);
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
		l2s_send_simple(node, s, L2S_FRAME_CLOSE, 0, now_ms);
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

int l2s_node_receive(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len, const uint8_t *msg,
		     size_t len, uint64_t now_ms)
{
	int ret;

	if (addr_len > L2S_MAX_ADDR_BYTES)
		return L2S_ERR_LENGTH;
	ret = l2s_receive(node, path, addr, addr_len, msg, len, now_ms);
	node->stats[ret == L2S_OK ? L2S_STAT_RX_OK : L2S_STAT_RX_DROPPED]++;
	return ret;
}

void l2s_node_receive_begin(struct l2s_node *node)
{
	node->batching = 1;
}

int l2s_node_defer_flush(struct l2s_node *node, struct l2s_session *s)
{
	if (!node->batching)
		return 0;
	if (s->flush_owed)
		return 1;
	if (node->nowed == L2S_NODE_BATCH_SESSIONS)
		return 0;
	s->flush_owed = 1;
	node->owed[node->nowed++] = s->handle;
	return 1;
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

static int alloc_tables(struct l2s_node *node)
{
	uint8_t k[4][32];
	int ret;

	node->slots = calloc(node->max_sessions, sizeof(*node->slots));
	node->generation = calloc(node->max_sessions, sizeof(*node->generation));
	node->free_slots = malloc(node->max_sessions * sizeof(*node->free_slots));
	if (!node->slots || !node->generation || !node->free_slots)
		return L2S_ERR_NOMEM;
	for (uint32_t i = 0; i < node->max_sessions; i++)
		node->free_slots[i] = node->max_sessions - 1 - i;
	node->nfree = node->max_sessions;
	l2s_rng_bytes(&node->rng, k[0], sizeof(k));
	/* Up to three key pairs and one pending exchange per session. */
	ret = l2s_map_init(&node->by_index, 4 * node->max_sessions, k[0]);
	if (ret == L2S_OK)
		ret = l2s_map_init(&node->by_peer, node->max_sessions, k[1]);
	if (ret == L2S_OK)
		ret = l2s_map_init(&node->by_sid, node->max_sessions, k[2]);
	if (ret == L2S_OK)
		ret = l2s_map_init(&node->by_half, node->max_sessions, k[3]);
	if (ret == L2S_OK)
		ret = l2s_map_init(&node->by_path, MAX_BINDINGS, k[1]);
	if (ret == L2S_OK)
		ret = l2s_timers_init(&node->timers, node->max_sessions);
	l2s_wipe(k, sizeof(k));
	return ret;
}

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
	ret = alloc_tables(node);
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
	free_queues(node);
	l2s_node_extra_free(node);
	l2s_map_free(&node->by_index);
	l2s_map_free(&node->by_peer);
	l2s_map_free(&node->by_sid);
	l2s_map_free(&node->by_half);
	l2s_map_free(&node->by_path);
	if (node->bindings)
		l2s_wipe(node->bindings, node->nbindings * sizeof(*node->bindings));
	free(node->bindings);
	free(node->binding_paths);
	l2s_timers_free(&node->timers);
	free(node->slots);
	free(node->generation);
	free(node->free_slots);
	l2s_wipe(node, sizeof(*node));
	free(node);
}
