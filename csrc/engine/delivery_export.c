// SPDX-License-Identifier: Apache-2.0
/* The delivery window exported and imported (a stored session), re-synced
 * with the peer (SYNC, PROTOCOL.md §5) and taken over by a new session. */
#include "engine/delivery_internal.h"

/* ---- export and import --------------------------------------------------- */

#define EXPORT_FIXED (1 + 2 * L2S_STREAM_ID_BYTES + 8 + 8 + 4 + 4)
#define RECORD_HEADER (8 + 4)

static size_t list_size(const struct l2s_dlist *l)
{
	size_t n = 0;

	for (const struct l2s_dmsg *m = l->head; m; m = m->next)
		n += RECORD_HEADER + m->len;
	return n;
}

size_t l2s_delivery_export_size(const struct l2s_delivery *d)
{
	return EXPORT_FIXED + list_size(&d->queue) + list_size(&d->reorder);
}

static uint8_t *put_list(uint8_t *p, const struct l2s_dlist *l, uint32_t count)
{
	l2s_put_u32(p, count);
	p += 4;
	for (const struct l2s_dmsg *m = l->head; m; m = m->next) {
		l2s_put_u64(p, m->seq);
		l2s_put_u32(p + 8, m->len);
		memcpy(p + RECORD_HEADER, m->data, m->len);
		p += RECORD_HEADER + m->len;
	}
	return p;
}

/* next_seq as a checkpoint records it: seq_reserve ahead, so that seqs used
 * after the checkpoint are not used again by whoever restores it. */
static uint64_t reserved_next_seq(const struct l2s_delivery *d, uint64_t seq_reserve)
{
	if (seq_reserve > L2S_DELIVERY_MAX_SEQ - d->next_seq)
		return L2S_DELIVERY_MAX_SEQ;
	return d->next_seq + seq_reserve;
}

int l2s_delivery_export(const struct l2s_delivery *d, uint64_t seq_reserve, uint8_t *out, size_t cap,
			size_t *len)
{
	size_t need = l2s_delivery_export_size(d);
	uint8_t *p = out;

	*len = need;
	if (cap < need)
		return L2S_ERR_LENGTH;
	*p++ = L2S_DELIVERY_EXPORT_VERSION;
	memcpy(p, d->tx_stream, L2S_STREAM_ID_BYTES);
	memcpy(p + L2S_STREAM_ID_BYTES, d->rx_stream, L2S_STREAM_ID_BYTES);
	p += 2 * L2S_STREAM_ID_BYTES;
	l2s_put_u64(p, reserved_next_seq(d, seq_reserve));
	l2s_put_u64(p + 8, d->next_expected);
	p = put_list(p + 16, &d->queue, d->queued);
	put_list(p, &d->reorder, d->buffered);
	return L2S_OK;
}

int l2s_delivery_export_rx_stream(const uint8_t *in, size_t len, uint8_t out[L2S_STREAM_ID_BYTES])
{
	if (len < 1 + 2 * L2S_STREAM_ID_BYTES || in[0] != L2S_DELIVERY_EXPORT_VERSION)
		return L2S_ERR_DECODE;
	memcpy(out, in + 1 + L2S_STREAM_ID_BYTES, L2S_STREAM_ID_BYTES);
	return L2S_OK;
}

/* A bounds-checked reader over the import buffer. */
struct reader {
	const uint8_t *p;
	size_t left;
};

static int read_u64(struct reader *r, uint64_t *v)
{
	if (r->left < 8)
		return L2S_ERR_DECODE;
	*v = l2s_get_u64(r->p);
	r->p += 8;
	r->left -= 8;
	return L2S_OK;
}

static int read_u32(struct reader *r, uint32_t *v)
{
	if (r->left < 4)
		return L2S_ERR_DECODE;
	*v = l2s_get_u32(r->p);
	r->p += 4;
	r->left -= 4;
	return L2S_OK;
}

/* Reads one list of records whose seqs ascend strictly inside (lo, hi);
 * appends copies to l and returns their payload bytes through *bytes. */
static int read_list(struct reader *r, struct l2s_dlist *l, uint64_t lo, uint64_t hi, uint32_t rto_ms,
		     uint32_t *count, uint64_t *bytes)
{
	uint32_t n, len;
	uint64_t seq, prev = lo;

	*count = 0;
	*bytes = 0;
	if (read_u32(r, &n) != L2S_OK)
		return L2S_ERR_DECODE;
	for (uint32_t i = 0; i < n; i++) {
		struct l2s_dmsg *m;

		if (read_u64(r, &seq) != L2S_OK || read_u32(r, &len) != L2S_OK)
			return L2S_ERR_DECODE;
		if (seq <= prev || seq >= hi || len > L2S_MAX_PAYLOAD || len > r->left)
			return L2S_ERR_DECODE;
		m = delivery_msg_new(seq, r->p, len, rto_ms);
		if (!m)
			return L2S_ERR_NOMEM;
		delivery_list_insert_after(l, l->tail, m);
		r->p += len;
		r->left -= len;
		prev = seq;
		(*count)++;
		*bytes += len;
	}
	return L2S_OK;
}

static int import_body(struct l2s_delivery *d, struct reader *r)
{
	uint64_t next_seq, next_expected;
	int err;

	if (r->left < 1 + 2 * L2S_STREAM_ID_BYTES || r->p[0] != L2S_DELIVERY_EXPORT_VERSION)
		return L2S_ERR_DECODE;
	memcpy(d->tx_stream, r->p + 1, L2S_STREAM_ID_BYTES);
	memcpy(d->rx_stream, r->p + 1 + L2S_STREAM_ID_BYTES, L2S_STREAM_ID_BYTES);
	r->p += 1 + 2 * L2S_STREAM_ID_BYTES;
	r->left -= 1 + 2 * L2S_STREAM_ID_BYTES;
	if (read_u64(r, &next_seq) != L2S_OK || read_u64(r, &next_expected) != L2S_OK)
		return L2S_ERR_DECODE;
	if (next_seq == 0 || next_seq > L2S_DELIVERY_MAX_SEQ || next_expected == 0 ||
	    next_expected > L2S_DELIVERY_MAX_SEQ)
		return L2S_ERR_DECODE;
	d->next_seq = next_seq;
	d->next_expected = next_expected;
	err = read_list(r, &d->queue, 0, next_seq, d->rto_base_ms, &d->queued, &d->queued_bytes);
	if (err != L2S_OK)
		return err;
	err = read_list(r, &d->reorder, next_expected, L2S_DELIVERY_MAX_SEQ, 0, &d->buffered,
			&d->buffered_bytes);
	if (err != L2S_OK)
		return err;
	return r->left == 0 ? L2S_OK : L2S_ERR_DECODE;
}

int l2s_delivery_import(struct l2s_delivery *d, const uint8_t *in, size_t len)
{
	struct reader r = { .p = in, .left = len };
	int err;

	if (d->queue.head || d->reorder.head || d->next_seq != 1 || d->next_expected != 1)
		return L2S_ERR_STATE;
	err = import_body(d, &r);
	if (err != L2S_OK) {
		l2s_delivery_free(d);
		return err;
	}
	d->first_unsent = d->queue.head;
	d->ack_pending = 1;
	/* The checkpoint may be stale: the seqs between what the peer has and
	 * next_seq may never come. The peer learns to step over them. */
	d->sync_base = d->next_seq;
	d->sync_due_ms = 0;
	d->sync_rto_ms = d->rto_base_ms;
	return L2S_OK;
}

static void reset_receive(struct l2s_delivery *d)
{
	delivery_free_list(&d->reorder);
	d->buffered = 0;
	d->buffered_bytes = 0;
	d->next_expected = 1;
}

int l2s_delivery_sync(struct l2s_delivery *d, const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t send_base,
		      l2s_deliver_fn *deliver, void *ctx)
{
	int n = 0;

	if (send_base == 0 || send_base > L2S_DELIVERY_MAX_SEQ || !delivery_stream_named(stream))
		return 0;
	if (memcmp(stream, d->rx_stream, L2S_STREAM_ID_BYTES) != 0) {
		/* Another stream than the one we counted (the peer lost the old
		 * one) starts from nothing; a first name changes nothing. */
		if (delivery_stream_named(d->rx_stream))
			reset_receive(d);
		memcpy(d->rx_stream, stream, L2S_STREAM_ID_BYTES);
	}
	d->rx_unsure = 0;
	/* Answered even when it changes nothing: the sender re-sends its SYNC
	 * until an ACK shows next_expected at or past it. */
	d->ack_pending = 1;
	/* Everything below the peer's send base was acknowledged by us (or by
	 * the state we lost, or skipped by its restore): nothing below it will
	 * ever be sent again. */
	if (send_base <= d->next_expected)
		return 0;
	/* What we hold below send_base the sender will not send again (a
	 * restored sender skipped it):
	 * deliver it, in order, stepping over the seqs that will never come. */
	while (d->reorder.head && d->reorder.head->seq < send_base) {
		delivery_deliver_held(d, deliver, ctx);
		n++;
	}
	d->next_expected = send_base;
	return n + delivery_drain_reorder(d, deliver, ctx);
}

/* Appends what src holds to dst's queue, with dst's next seqs; src is left
 * empty. Queue limits do not apply: accepted messages are never dropped. */
static void move_queue(struct l2s_delivery *dst, struct l2s_delivery *src)
{
	struct l2s_dmsg *m, *next;

	for (m = src->queue.head; m; m = next) {
		next = m->next;
		m->prev = m->next = m->fprev = m->fnext = NULL;
		m->seq = dst->next_seq++;
		m->sends = 0;
		m->parked = 0;
		m->sacked = 0;
		m->rto_ms = dst->rto_base_ms;
		delivery_list_insert_after(&dst->queue, dst->queue.tail, m);
		dst->queued++;
		dst->queued_bytes += m->len;
		if (!dst->first_unsent)
			dst->first_unsent = m;
	}
	src->queue.head = src->queue.tail = NULL;
	l2s_delivery_free(src);
}

void l2s_delivery_take_over(struct l2s_delivery *d, struct l2s_delivery *old)
{
	struct l2s_delivery mine = *d;

	move_queue(old, d);
	/* d gets old's state and keeps its own limits. */
	*d = *old;
	d->rto_base_ms = mine.rto_base_ms;
	d->rto_max_ms = mine.rto_max_ms;
	d->bytes_limit = mine.bytes_limit;
	d->queue_limit = mine.queue_limit;
	d->reorder_window = mine.reorder_window;
	d->retransmits = mine.retransmits;
	d->rx_duplicates = mine.rx_duplicates;
	d->rx_dropped = mine.rx_dropped;
	/* old is empty: its lists now belong to d. */
	delivery_reset_state(old);
}
