// SPDX-License-Identifier: Apache-2.0
/* Connection handles and IDs, the events for the owner, and the send
 * queue: the stream bytes waiting for acknowledgement, in budgeted chunks. */
#include "transport/quic/quic_internal.h"

/* ---- handles and connection IDs ----------------------------------------- */

struct qconn *quic_conn_get(const struct l2s_quic *q, uint32_t handle)
{
	uint32_t slot = (handle & 0xffff) - 1;

	if (!handle || slot >= q->nslots || !q->slots[slot] || q->slots[slot]->handle != handle)
		return NULL;
	return q->slots[slot];
}

struct qconn *quic_conn_alloc(struct l2s_quic *q, int outbound)
{
	struct qconn *c;
	uint32_t slot;

	if (q->nconns >= q->p.max_connections)
		return NULL;
	for (slot = 0; slot < q->nslots && q->slots[slot]; slot++)
		;
	/* A peer's new connection must fit the budget; ours are the node's own. */
	if (slot == q->nslots || (!outbound && !l2s_budget_fits(q->b, CONN_COST)) || !(c = calloc(1, sizeof(*c))))
		return NULL;
	l2s_budget_draw(q->b, CONN_COST);
	if (++q->gens[slot] == 0)
		q->gens[slot] = 1;
	c->q = q;
	c->handle = (uint32_t)q->gens[slot] << 16 | (slot + 1);
	c->outbound = outbound;
	c->stream_id = -1;
	c->fd = -1;
	c->st.outbound = outbound;
	q->slots[slot] = c;
	q->nconns++;
	return c;
}

size_t quic_cid_key(uint8_t key[1 + NGTCP2_MAX_CIDLEN], const uint8_t *id, size_t len)
{
	key[0] = (uint8_t)len;
	memcpy(key + 1, id, len);
	return 1 + len;
}

int quic_cid_add(struct qconn *c, const uint8_t *id, size_t len)
{
	uint8_t key[1 + NGTCP2_MAX_CIDLEN];

	if (len > NGTCP2_MAX_CIDLEN || c->ncids == MAX_CIDS)
		return -1;
	if (l2s_map_put(&c->q->cidmap, key, quic_cid_key(key, id, len), c->handle) != L2S_OK)
		return -1;
	c->cids[c->ncids].len = (uint8_t)len;
	memcpy(c->cids[c->ncids].id, id, len);
	c->ncids++;
	return 0;
}

void quic_cid_del(struct qconn *c, const uint8_t *id, size_t len)
{
	uint8_t key[1 + NGTCP2_MAX_CIDLEN];

	for (unsigned i = 0; i < c->ncids; i++) {
		if (c->cids[i].len == len && memcmp(c->cids[i].id, id, len) == 0) {
			l2s_map_del(&c->q->cidmap, key, quic_cid_key(key, id, len));
			c->cids[i] = c->cids[--c->ncids];
			return;
		}
	}
}

struct qconn *quic_conn_by_cid(const struct l2s_quic *q, const uint8_t *id, size_t len)
{
	uint8_t key[1 + NGTCP2_MAX_CIDLEN];
	uint32_t handle;

	if (len > NGTCP2_MAX_CIDLEN || l2s_map_get(&q->cidmap, key, quic_cid_key(key, id, len), &handle) != L2S_OK)
		return NULL;
	return quic_conn_get(q, handle);
}

void quic_random_cid(ngtcp2_cid *cid, size_t len)
{
	uint8_t b[NGTCP2_MAX_CIDLEN];

	l2s_random(b, len);
	ngtcp2_cid_init(cid, b, len);
}

/* ---- events --------------------------------------------------------------- */

/* Every event's bytes are drawn from the budget until it is taken. Only
 * the header is zeroed: the data is written before anyone reads it (and
 * zeroing a 64 KiB message's took as long as copying it). */
struct qevent *quic_event_alloc(struct l2s_quic *q, size_t len)
{
	struct qevent *e = malloc(sizeof(*e) + len);

	if (e) {
		memset(e, 0, sizeof(*e));
		l2s_budget_draw(q->b, sizeof(*e) + len);
	}
	return e;
}

void quic_event_free(struct l2s_quic *q, struct qevent *e)
{
	if (!e)
		return;
	l2s_budget_give(q->b, sizeof(*e) + e->ev.len);
	free(e);
}

struct qevent *quic_event_new(int type, struct qconn *c, size_t len)
{
	struct qevent *e = quic_event_alloc(c->q, len);

	if (!e)
		return NULL;
	e->ev.type = type;
	e->ev.conn = c->handle;
	e->ev.outbound = c->outbound;
	e->ev.len = len;
	return e;
}

void quic_event_push(struct l2s_quic *q, struct qevent *e)
{
	l2s_fifo_push(&q->events, &e->link);
}

void quic_event_addr(struct qevent *e, const struct qconn *c)
{
	memcpy(&e->ev.peer, &c->peer, c->peer_len);
	e->ev.peer_len = c->peer_len;
}

/* The connection's last event. Without memory it is lost, and the handle
 * fails with L2S_ERR_NOT_FOUND once the connection is freed. */
void quic_notify_closed(struct qconn *c, int reason, int app, uint64_t code)
{
	struct qevent *e;

	if (c->notified)
		return;
	c->notified = 1;
	c->q->st.closed++;
	if (!c->outbound && !c->announced)
		return;
	if ((e = quic_event_new(L2S_QUIC_EV_CLOSED, c, 0))) {
		e->ev.reason = reason;
		e->ev.app_error = app;
		e->ev.error_code = code;
		quic_event_push(c->q, e);
	}
}

/* ---- the send queue ------------------------------------------------------- */

static uint8_t **chunk_slot(const struct qconn *c, uint64_t off)
{
	return &c->tx[(off / CHUNK) % c->tx_nchunks];
}

static void ring_put(struct qconn *c, const uint8_t *p, size_t n)
{
	while (n) {
		size_t at = (size_t)(c->tx_end % CHUNK), k = CHUNK - at;

		if (k > n)
			k = n;
		memcpy(*chunk_slot(c, c->tx_end) + at, p, k);
		c->tx_end += k;
		p += k;
		n -= k;
	}
}

/* The first unsent bytes, as at most two vectors (more than a packet). */
size_t quic_ring_unsent(struct qconn *c, ngtcp2_vec v[2])
{
	uint64_t off = c->tx_sent;
	size_t nv = 0;

	while (nv < 2 && off < c->tx_end) {
		size_t at = (size_t)(off % CHUNK), k = CHUNK - at;

		if (k > c->tx_end - off)
			k = (size_t)(c->tx_end - off);
		v[nv].base = *chunk_slot(c, off) + at;
		v[nv++].len = k;
		off += k;
	}
	return nv;
}

/* Chunks for the bytes up to offset end, each drawn from the budget: an
 * authenticated connection may have untrusted ones shed for it. */
static int ring_reserve(struct l2s_quic *q, struct qconn *c, uint64_t end)
{
	if (!c->tx) {
		/* end - acked <= send_buffer_bytes spans at most this many */
		c->tx_nchunks = (q->p.send_buffer_bytes + CHUNK - 1) / CHUNK + 1;
		if (!(c->tx = calloc(c->tx_nchunks, sizeof(*c->tx))))
			return L2S_ERR_NOMEM;
	}
	for (uint64_t off = c->tx_end - c->tx_end % CHUNK; off < end; off += CHUNK) {
		uint8_t **slot = chunk_slot(c, off);

		if (*slot)
			continue;
		if (!(c->trusted ? l2s_budget_claim(q->b, CHUNK) : l2s_budget_fits(q->b, CHUNK))) {
			q->st.budget_full++;
			return L2S_ERR_QUEUE_FULL;
		}
		if (!(*slot = malloc(CHUNK)))
			return L2S_ERR_NOMEM;
		l2s_budget_draw(q->b, CHUNK);
	}
	return L2S_OK;
}

/* The peer acknowledged up to acked: the chunks wholly below it go. */
void quic_ring_acked(struct l2s_quic *q, struct qconn *c, uint64_t acked)
{
	for (uint64_t off = c->tx_acked - c->tx_acked % CHUNK; off + CHUNK <= acked; off += CHUNK) {
		uint8_t **slot = chunk_slot(c, off);

		if (*slot) {
			free(*slot);
			*slot = NULL;
			l2s_budget_give(q->b, CHUNK);
		}
	}
	c->tx_acked = acked;
}

void quic_ring_free(struct l2s_quic *q, struct qconn *c)
{
	for (uint32_t i = 0; c->tx && i < c->tx_nchunks; i++)
		if (c->tx[i]) {
			free(c->tx[i]);
			l2s_budget_give(q->b, CHUNK);
		}
	free(c->tx);
	c->tx = NULL;
}

int quic_queue_bytes(struct l2s_quic *q, struct qconn *c, const uint8_t *hdr, size_t hlen, const uint8_t *p,
		     size_t n)
{
	int rc;

	if (c->tx_end - c->tx_acked + hlen + n > q->p.send_buffer_bytes)
		return L2S_ERR_QUEUE_FULL;
	if ((rc = ring_reserve(q, c, c->tx_end + hlen + n)) != L2S_OK)
		return rc;
	ring_put(c, hdr, hlen);
	ring_put(c, p, n);
	return L2S_OK;
}
