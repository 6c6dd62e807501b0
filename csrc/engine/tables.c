// SPDX-License-Identifier: Apache-2.0
/* The node's tables: session slots and handles, receiver indices, channel
 * bindings per path, and the output and event queues the caller drains.
 * Everything else in the engine builds on these; they call nothing above. */
#include <stdlib.h>
#include <string.h>

#include "engine/node.h"

/* Outputs and events are drained by the caller after every call; these caps
 * only stop a caller that never drains from exhausting memory. */
#define MAX_QUEUED_OUTPUTS (1u << 20)
#define MAX_QUEUED_EVENTS (1u << 20)
#define MAX_BINDINGS (1u << 16)

struct l2s_session *l2s_node_session(const struct l2s_node *node, uint32_t handle)
{
	uint32_t slot = (handle & SLOT_MASK) - 1;
	struct l2s_session *s;

	if (!handle || slot >= node->max_sessions)
		return NULL;
	s = node->slots[slot];
	return (s && s->handle == handle) ? s : NULL;
}

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

static int queue_output(struct l2s_node *node, uint32_t session, uint32_t path, const uint8_t *msg, size_t len)
{
	struct out_item *o;

	if (node->outputs.count >= MAX_QUEUED_OUTPUTS || !(o = malloc(sizeof(*o) + len)))
		return L2S_ERR_NOMEM;
	o->session = session;
	o->path = path;
	o->len = len;
	if (l2s_wire_peek(msg, len, &o->type) != L2S_OK)
		o->type = 0;
	memcpy(o->data, msg, len);
	l2s_fifo_push(&node->outputs, &o->link);
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

	if (node->events.count >= MAX_QUEUED_EVENTS || !(e = malloc(sizeof(*e) + len))) {
		node->stats[L2S_STAT_EVENTS_LOST]++;
		return;
	}
	e->ev = *ev;
	if (len)
		memcpy(e->data, data, len);
	e->ev.data = len ? e->data : NULL;
	e->ev.len = len;
	l2s_fifo_push(&node->events, &e->link);
}

int l2s_node_next_output(struct l2s_node *node, struct l2s_output *out)
{
	struct out_item *o;

	free(node->out_current);
	node->out_current = o = l2s_fifo_pop(&node->outputs);
	if (!o)
		return 0;
	out->session = o->session;
	out->path = o->path;
	out->data = o->data;
	out->len = o->len;
	out->type = o->type;
	return 1;
}

int l2s_node_next_event(struct l2s_node *node, struct l2s_event *ev)
{
	struct ev_item *e;

	if (node->ev_current) {
		l2s_wipe(node->ev_current->data, node->ev_current->ev.len);
		free(node->ev_current);
	}
	node->ev_current = e = l2s_fifo_pop(&node->events);
	if (!e)
		return 0;
	*ev = e->ev;
	return 1;
}

void *l2s_node_adopt_event_data(struct l2s_node *node)
{
	struct ev_item *e = node->ev_current;

	if (!e || !e->ev.len)
		return NULL;
	node->ev_current = NULL;
	return e;
}

void l2s_node_event_data_free(void *item)
{
	struct ev_item *e = item;

	if (!e)
		return;
	l2s_wipe(e->data, e->ev.len);
	free(e);
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

int l2s_node_tables_init(struct l2s_node *node)
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

void l2s_node_tables_free(struct l2s_node *node)
{
	free_queues(node);
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
}
