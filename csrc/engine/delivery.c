// SPDX-License-Identifier: Apache-2.0
/* Reliable in-order delivery: a seq-ordered send queue with an in-flight
 * list ordered by retransmission deadline, and a seq-ordered reorder buffer.
 * Every list operation is O(1) except inserts that search from the tail
 * (new deadlines and new seqs are nearly always the largest) and ACK
 * processing, which is O(messages freed + 64). Export, import and SYNC are
 * in delivery_export.c. */
#include "engine/delivery_internal.h"

#define RTO_CLAMP_MS ((uint32_t)1 << 31)

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ---- message allocation and the two kinds of list ---------------------- */

struct l2s_dmsg *delivery_msg_new(uint64_t seq, const uint8_t *data, size_t len, uint32_t rto_ms)
{
	struct l2s_dmsg *m = malloc(sizeof(*m) + len);

	if (!m)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->seq = seq;
	m->rto_ms = rto_ms;
	m->len = (uint32_t)len;
	if (len)
		memcpy(m->data, data, len);
	return m;
}

static void msg_free(struct l2s_dmsg *m)
{
	l2s_wipe(m, sizeof(*m) + m->len);
	free(m);
}

/* Seq-ordered lists (send queue, reorder buffer) link through prev/next. */
void delivery_list_insert_after(struct l2s_dlist *l, struct l2s_dmsg *pos, struct l2s_dmsg *m)
{
	m->prev = pos;
	m->next = pos ? pos->next : l->head;
	if (m->next)
		m->next->prev = m;
	else
		l->tail = m;
	if (pos)
		pos->next = m;
	else
		l->head = m;
}

static void list_unlink(struct l2s_dlist *l, struct l2s_dmsg *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		l->head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		l->tail = m->prev;
	m->prev = m->next = NULL;
}

/* The in-flight list links through fprev/fnext, ordered by due_ms (ties in
 * send order). Deadlines only grow with the clock, so the search from the
 * tail ends at once unless a long timeout was armed just before. */
static void flight_insert(struct l2s_dlist *l, struct l2s_dmsg *m)
{
	struct l2s_dmsg *pos = l->tail;

	while (pos && pos->due_ms > m->due_ms)
		pos = pos->fprev;
	m->fprev = pos;
	m->fnext = pos ? pos->fnext : l->head;
	if (m->fnext)
		m->fnext->fprev = m;
	else
		l->tail = m;
	if (pos)
		pos->fnext = m;
	else
		l->head = m;
}

static void flight_unlink(struct l2s_dlist *l, struct l2s_dmsg *m)
{
	if (m->fprev)
		m->fprev->fnext = m->fnext;
	else
		l->head = m->fnext;
	if (m->fnext)
		m->fnext->fprev = m->fprev;
	else
		l->tail = m->fprev;
	m->fprev = m->fnext = NULL;
}

void delivery_free_list(struct l2s_dlist *l)
{
	struct l2s_dmsg *m = l->head, *next;

	for (; m; m = next) {
		next = m->next;
		msg_free(m);
	}
	l->head = l->tail = NULL;
}

/* ---- life cycle ---------------------------------------------------------- */

void delivery_reset_state(struct l2s_delivery *d)
{
	d->next_seq = 1;
	d->sync_base = 0;
	d->sync_due_ms = 0;
	d->sync_rto_ms = d->rto_base_ms;
	d->queue.head = d->queue.tail = NULL;
	d->first_unsent = NULL;
	d->flight.head = d->flight.tail = NULL;
	d->queued = d->in_flight = 0;
	d->queued_bytes = d->in_flight_bytes = 0;
	d->next_expected = 1;
	d->reorder.head = d->reorder.tail = NULL;
	d->buffered = 0;
	d->buffered_bytes = 0;
	d->ack_pending = 0;
	memset(d->tx_stream, 0, sizeof(d->tx_stream));
	memset(d->rx_stream, 0, sizeof(d->rx_stream));
	d->announce = 0;
	d->rx_unsure = 0;
}

void l2s_delivery_set_rto(struct l2s_delivery *d, uint64_t rto)
{
	/* Clamped so that timers always move forward and doubling never wraps. */
	d->rto_base_ms = rto == 0 ? 1 : rto > RTO_CLAMP_MS ? RTO_CLAMP_MS : (uint32_t)rto;
	d->rto_max_ms = d->rto_base_ms > L2S_DELIVERY_RTO_MAX_MS ? d->rto_base_ms : L2S_DELIVERY_RTO_MAX_MS;
	d->sync_rto_ms = d->rto_base_ms;
}

void l2s_delivery_init(struct l2s_delivery *d, const struct l2s_config *cfg)
{
	memset(d, 0, sizeof(*d));
	l2s_delivery_set_rto(d, cfg->retransmit_timeout_ms);
	d->bytes_limit = cfg->send_queue_bytes_limit;
	d->queue_limit = cfg->send_queue_limit;
	d->reorder_window = cfg->reorder_window;
	delivery_reset_state(d);
}

void l2s_delivery_free(struct l2s_delivery *d)
{
	delivery_free_list(&d->queue);
	delivery_free_list(&d->reorder);
	delivery_reset_state(d);
}

/* ---- send side ----------------------------------------------------------- */

int l2s_delivery_enqueue(struct l2s_delivery *d, const uint8_t *msg, size_t len, uint64_t *seq)
{
	struct l2s_dmsg *m;

	if (len > L2S_MAX_PAYLOAD)
		return L2S_ERR_LENGTH;
	/* queued_bytes may exceed the limit after an import: test it first. */
	if (d->queued >= d->queue_limit || d->queued_bytes > d->bytes_limit ||
	    len > d->bytes_limit - d->queued_bytes)
		return L2S_ERR_QUEUE_FULL;
	if (d->next_seq >= L2S_DELIVERY_MAX_SEQ)
		return L2S_ERR_STATE;
	m = delivery_msg_new(d->next_seq, msg, len, d->rto_base_ms);
	if (!m)
		return L2S_ERR_NOMEM;
	delivery_list_insert_after(&d->queue, d->queue.tail, m);
	if (!d->first_unsent)
		d->first_unsent = m;
	d->queued++;
	d->queued_bytes += len;
	*seq = d->next_seq++;
	return L2S_OK;
}

/* Whether never-sent m may go now: inside the seq window, and within the
 * byte window unless nothing is in flight (a message never waits for itself). */
static int in_window(const struct l2s_delivery *d, const struct l2s_dmsg *m)
{
	uint64_t window = (uint64_t)d->peer_window + 1, bytes = d->peer_window_bytes;

	if (window > L2S_DELIVERY_WINDOW)
		window = L2S_DELIVERY_WINDOW;
	if (bytes > L2S_DELIVERY_WINDOW_BYTES)
		bytes = L2S_DELIVERY_WINDOW_BYTES;
	if (m->seq - d->queue.head->seq >= window)
		return 0;
	return d->in_flight_bytes == 0 || d->in_flight_bytes + m->len <= bytes;
}

/* Whether the next ACK can report m on its own. All seqs below the oldest
 * unacked one were received, so the peer's next_expected is at least that
 * seq and its SACK reaches at least 64 past it. */
static int in_sack_reach(const struct l2s_delivery *d, const struct l2s_dmsg *m)
{
	return m->seq - d->queue.head->seq <= L2S_DELIVERY_SACK_BITS;
}

static void rearm(struct l2s_delivery *d, struct l2s_dmsg *m, uint64_t due_ms)
{
	flight_unlink(&d->flight, m);
	m->due_ms = due_ms;
	flight_insert(&d->flight, m);
}

struct l2s_dmsg *l2s_delivery_next_due(struct l2s_delivery *d, uint64_t now_ms)
{
	struct l2s_dmsg *m;

	/* A timed-out message beyond SACK reach was most likely received and
	 * is waiting behind a gap: the ACK that covers the gap will cover it.
	 * Re-sending it blindly would repeat most of the window after every
	 * single loss, so its timer is re-armed instead; it is re-sent once
	 * the gap closes and it is still unacknowledged. Each pass moves one
	 * message past now_ms (rto_ms >= 1), so this loop is bounded. */
	while ((m = d->flight.head) && m->due_ms <= now_ms) {
		if (in_sack_reach(d, m))
			return m;
		m->parked = 1;
		rearm(d, m, add_sat(now_ms, m->rto_ms));
	}
	if (d->first_unsent && in_window(d, d->first_unsent))
		return d->first_unsent;
	return NULL;
}

void l2s_delivery_mark_sent(struct l2s_delivery *d, struct l2s_dmsg *m, uint64_t now_ms)
{
	if (m->sends == 0) {
		/* Unsent messages are the queue's suffix, which m heads. */
		if (d->first_unsent == m)
			d->first_unsent = m->next;
		d->in_flight++;
		d->in_flight_bytes += m->len;
	} else {
		flight_unlink(&d->flight, m);
		d->retransmits++;
	}
	m->sends++;
	m->parked = 0;
	m->due_ms = add_sat(now_ms, m->rto_ms);
	m->rto_ms = m->rto_ms >= d->rto_max_ms / 2 ? d->rto_max_ms : 2 * m->rto_ms;
	flight_insert(&d->flight, m);
}

/* m is no longer in flight (acknowledged or SACKed). */
static void leave_flight(struct l2s_delivery *d, struct l2s_dmsg *m)
{
	if (!m->sends || m->sacked)
		return;
	flight_unlink(&d->flight, m);
	d->in_flight--;
	d->in_flight_bytes -= m->len;
	m->parked = 0;
}

/* A SACKed message stays queued until the cumulative ACK covers it: the
 * receiver holds it out of order and may lose it (a crash restored from an
 * older checkpoint). It leaves the flight, so no timeout re-sends it, and
 * re-establishment (resend_all) sends it again. */
static void sacked(struct l2s_delivery *d, struct l2s_dmsg *m)
{
	leave_flight(d, m);
	m->sacked = 1;
}

/* Frees one acknowledged message from the send queue. */
static void release(struct l2s_delivery *d, struct l2s_dmsg *m, l2s_acked_fn *acked, void *ctx)
{
	uint64_t seq = m->seq;

	if (d->first_unsent == m)
		d->first_unsent = m->next;
	leave_flight(d, m);
	list_unlink(&d->queue, m);
	d->queued--;
	d->queued_bytes -= m->len;
	msg_free(m);
	if (acked)
		acked(ctx, seq);
}

/* Parked messages that an ACK brought within reach but did not acknowledge
 * were lost: their timeout expired long ago, so they are due at once
 * (deadline 0 needs no clock). At most 65 messages are looked at. */
static void unpark_in_reach(struct l2s_delivery *d)
{
	for (struct l2s_dmsg *m = d->queue.head; m && in_sack_reach(d, m); m = m->next) {
		if (m->parked) {
			m->parked = 0;
			rearm(d, m, 0);
		}
	}
}

/* An ACK at or past sync_base shows that the owed SYNC took effect (or was
 * not needed). Otherwise, once an ACK frees the last message below
 * sync_base, the SYNC is due at once: the peer waits at the gap for seqs
 * that will never come, and holds or drops what we send above it. */
static void sync_after_ack(struct l2s_delivery *d, uint64_t next_expected, uint64_t base_before)
{
	uint64_t base = l2s_delivery_send_base(d);

	/* Nothing between the peer's next_expected and our lowest queued seq
	 * will ever be sent (a restore skipped it, perhaps a restore of a
	 * checkpoint whose own gap was never announced): a SYNC is owed now,
	 * also when one for a later gap waits for the queue to drain. (A stale
	 * ACK may cause one SYNC too many, which costs an ACK.) */
	if (next_expected < base && base != d->sync_base) {
		d->sync_base = base;
		d->sync_due_ms = 0;
		d->sync_rto_ms = d->rto_base_ms;
		return;
	}
	if (!d->sync_base)
		return;
	if (next_expected >= d->sync_base) {
		d->sync_base = 0;
		return;
	}
	if (base_before < d->sync_base && base >= d->sync_base) {
		d->sync_due_ms = 0;
		d->sync_rto_ms = d->rto_base_ms;
	}
}

int l2s_delivery_on_ack(struct l2s_delivery *d, uint64_t next_expected, uint64_t sack, l2s_acked_fn *acked,
			void *ctx)
{
	uint64_t base_before = l2s_delivery_send_base(d);
	struct l2s_dmsg *m;
	int freed = 0;

	if (next_expected == 0 || next_expected > d->next_seq)
		return L2S_ERR_DECODE;
	while (d->queue.head && d->queue.head->seq < next_expected) {
		release(d, d->queue.head, acked, ctx);
		freed++;
	}
	/* The queue now starts at or after next_expected; one forward walk
	 * matches the SACK bits against it. */
	m = d->queue.head;
	for (unsigned int i = 0; i < L2S_DELIVERY_SACK_BITS && m; i++) {
		uint64_t seq = next_expected + 1 + i;

		if (!(sack >> i & 1))
			continue;
		while (m && m->seq < seq)
			m = m->next;
		if (m && m->seq == seq && m->sends && !m->sacked) {
			sacked(d, m);
			m = m->next;
		}
	}
	unpark_in_reach(d);
	sync_after_ack(d, next_expected, base_before);
	return freed;
}

void l2s_delivery_resend_all(struct l2s_delivery *d)
{
	for (struct l2s_dmsg *m = d->queue.head; m; m = m->next) {
		m->fprev = m->fnext = NULL;
		m->sends = 0;
		m->parked = 0;
		m->sacked = 0;
		m->rto_ms = d->rto_base_ms;
	}
	d->flight.head = d->flight.tail = NULL;
	d->in_flight = 0;
	d->in_flight_bytes = 0;
	d->first_unsent = d->queue.head;
}

/* Whether the owed SYNC may go out: one naming the stream always; one over
 * a gap once nothing below sync_base is queued. */
static int sync_ready(const struct l2s_delivery *d)
{
	return d->announce || (d->sync_base && l2s_delivery_send_base(d) >= d->sync_base);
}

uint64_t l2s_delivery_next_deadline(const struct l2s_delivery *d)
{
	uint64_t t = d->flight.head ? d->flight.head->due_ms : UINT64_MAX;

	if (sync_ready(d) && d->sync_due_ms && d->sync_due_ms < t)
		t = d->sync_due_ms;
	return t;
}

void l2s_delivery_want_sync(struct l2s_delivery *d)
{
	uint64_t base = l2s_delivery_send_base(d);

	/* An import's gap stays owed: its sync_base lies above this one. */
	if (base > d->sync_base)
		d->sync_base = base;
	d->sync_due_ms = 0;
	d->sync_rto_ms = d->rto_base_ms;
	d->announce = 1;
	d->rx_unsure = 1;
	d->ack_pending = 0; /* an ACK of what may be another stream would free the wrong messages */
}

void l2s_delivery_announced(struct l2s_delivery *d)
{
	/* The peer took no DATA until it read the SYNC: send again what went
	 * before (it drops what it has), rather than wait for timeouts. */
	if (d->announce)
		l2s_delivery_resend_all(d);
	d->announce = 0;
}

int delivery_stream_named(const uint8_t id[L2S_STREAM_ID_BYTES])
{
	uint8_t acc = 0;

	for (int i = 0; i < L2S_STREAM_ID_BYTES; i++)
		acc |= id[i];
	return acc != 0;
}

void l2s_delivery_begin_stream(struct l2s_delivery *d, const uint8_t id[L2S_STREAM_ID_BYTES])
{
	if (!delivery_stream_named(d->tx_stream))
		memcpy(d->tx_stream, id, L2S_STREAM_ID_BYTES);
}

int l2s_delivery_sync_due(const struct l2s_delivery *d, uint64_t now_ms)
{
	return sync_ready(d) && d->sync_due_ms <= now_ms;
}

void l2s_delivery_sync_sent(struct l2s_delivery *d, uint64_t now_ms)
{
	/* A SYNC from below the gap needs no answer: the one that steps over
	 * the gap becomes due when the ACK frees the last message below it. */
	if (!sync_ready(d))
		return;
	d->sync_due_ms = add_sat(now_ms, d->sync_rto_ms);
	d->sync_rto_ms = d->sync_rto_ms >= d->rto_max_ms / 2 ? d->rto_max_ms : 2 * d->sync_rto_ms;
}

/* ---- receive side -------------------------------------------------------- */

/* Delivers the first held message; the stream continues after it. */
void delivery_deliver_held(struct l2s_delivery *d, l2s_deliver_fn *deliver, void *ctx)
{
	struct l2s_dmsg *m = d->reorder.head;

	list_unlink(&d->reorder, m);
	d->buffered--;
	d->buffered_bytes -= m->len;
	d->next_expected = m->seq + 1;
	deliver(ctx, m->seq, m->data, m->len);
	msg_free(m);
}

/* Delivers held messages that have become next in line. */
int delivery_drain_reorder(struct l2s_delivery *d, l2s_deliver_fn *deliver, void *ctx)
{
	int n = 0;

	while (d->reorder.head && d->reorder.head->seq == d->next_expected) {
		delivery_deliver_held(d, deliver, ctx);
		n++;
	}
	return n;
}

/* Holds an out-of-order message; the caller checked it is inside the window. */
static int hold(struct l2s_delivery *d, uint64_t seq, const uint8_t *data, size_t len)
{
	struct l2s_dmsg *pos = d->reorder.tail, *m;

	while (pos && pos->seq > seq)
		pos = pos->prev;
	if (pos && pos->seq == seq) {
		d->rx_duplicates++;
		return L2S_OK;
	}
	if (d->buffered_bytes > d->bytes_limit || len > d->bytes_limit - d->buffered_bytes) {
		d->rx_dropped++;
		return L2S_OK;
	}
	m = delivery_msg_new(seq, data, len, 0);
	if (!m) {
		d->rx_dropped++;
		return L2S_ERR_NOMEM;
	}
	delivery_list_insert_after(&d->reorder, pos, m);
	d->buffered++;
	d->buffered_bytes += len;
	return L2S_OK;
}

int l2s_delivery_on_data(struct l2s_delivery *d, uint64_t seq, const uint8_t *data, size_t len,
			 l2s_deliver_fn *deliver, void *ctx)
{
	if (seq == 0 || seq >= L2S_DELIVERY_MAX_SEQ)
		return L2S_ERR_DECODE;
	if (len > L2S_MAX_PAYLOAD)
		return L2S_ERR_LENGTH;
	if (d->rx_unsure || d->rx_refusing) {
		/* Which stream it belongs to is unknown until the SYNC, or the
		 * application cannot take it: the sender re-sends it. */
		d->rx_dropped++;
		return 0;
	}
	/* Every DATA frame is answered, duplicates too: the sender re-sent
	 * because it has not seen our ACK. */
	d->ack_pending = 1;
	if (seq < d->next_expected) {
		d->rx_duplicates++;
		return 0;
	}
	if (seq == d->next_expected) {
		d->next_expected++;
		deliver(ctx, seq, data, len);
		return 1 + delivery_drain_reorder(d, deliver, ctx);
	}
	if (seq - d->next_expected > d->reorder_window) {
		d->rx_dropped++;
		return 0;
	}
	return hold(d, seq, data, len);
}

int l2s_delivery_ack_pending(const struct l2s_delivery *d)
{
	return d->ack_pending;
}

void l2s_delivery_build_ack(struct l2s_delivery *d, uint64_t *next_expected, uint64_t *sack)
{
	uint64_t bits = 0;

	for (const struct l2s_dmsg *m = d->reorder.head; m; m = m->next) {
		uint64_t bit = m->seq - d->next_expected - 1;

		if (bit >= L2S_DELIVERY_SACK_BITS)
			break;
		bits |= (uint64_t)1 << bit;
	}
	*next_expected = d->next_expected;
	*sack = bits;
	d->ack_pending = 0;
}

void l2s_delivery_refuse(struct l2s_delivery *d, uint64_t seq)
{
	if (seq && seq < d->next_expected)
		d->next_expected = seq;
	delivery_free_list(&d->reorder);
	d->buffered = 0;
	d->buffered_bytes = 0;
	d->rx_refusing = 1;
}

void l2s_delivery_accept(struct l2s_delivery *d)
{
	d->rx_refusing = 0;
}

void l2s_delivery_window(const struct l2s_delivery *d, uint32_t *window, uint32_t *window_bytes)
{
	*window = d->reorder_window;
	*window_bytes = d->bytes_limit > UINT32_MAX ? UINT32_MAX : (uint32_t)d->bytes_limit;
}

void l2s_delivery_set_peer_window(struct l2s_delivery *d, uint32_t window, uint32_t window_bytes)
{
	d->peer_window = window;
	d->peer_window_bytes = window_bytes;
}

uint64_t l2s_delivery_send_base(const struct l2s_delivery *d)
{
	return d->queue.head ? d->queue.head->seq : d->next_seq;
}
