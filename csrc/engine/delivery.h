/* SPDX-License-Identifier: Apache-2.0 */
/* Reliable, exactly-once, in-order delivery of one session's application
 * messages (PROTOCOL.md §5 "Delivery"). Knows nothing of keys or frames: the
 * caller turns what it returns into DATA and ACK frames and feeds received
 * ones back in. Sequence numbers start at 1 and continue across rotations,
 * resumptions and transport changes (export/import keeps them, with a
 * reserve for stale checkpoints: see export below).
 *
 * Send side. enqueue() copies a message into the queue and gives it the next
 * seq; the queue is bounded by the config's send_queue_limit (messages) and
 * send_queue_bytes_limit (payload bytes), and a full queue refuses with
 * L2S_ERR_QUEUE_FULL: an accepted message stays until acknowledged.
 *
 * next_due() returns what to transmit now: first an in-flight message whose
 * retransmission timeout expired, else the oldest never-sent message whose
 * seq is below the oldest unacknowledged one + the send window. The caller
 * sends it and calls mark_sent() with it before calling in again.
 *  - The send window, min(L2S_DELIVERY_WINDOW, the peer's window + 1),
 *    keeps a burst from flooding a lossy link and from overrunning what the
 *    peer holds out of order: every ACK carries the receiver's reorder
 *    window (seqs past next_expected) and its byte bound
 *    (set_peer_window). Until the first ACK both are taken as 0: one
 *    message in flight, which the peer takes in order.
 *  - A second bound, min(L2S_DELIVERY_WINDOW_BYTES, the peer's byte bound)
 *    of payload in flight (at least one message always goes), keeps the
 *    window below what the transports buffer per connection (1 MiB send
 *    rings by default): 256 messages of 64 KiB would be 16 MiB, which a
 *    transport refuses and the engine then has to retransmit after a
 *    timeout.
 *  - The timeout starts at retransmit_timeout_ms and doubles with each send
 *    of that message, up to max(5 s, the start value); a start value of 0
 *    is taken as 1 ms, one above 2^31 ms as 2^31 ms.
 *  - A message more than 64 seqs past the oldest unacknowledged one is
 *    beyond what a SACK can report. When its timeout expires it is not
 *    re-sent but "parked" (timer re-armed): it most likely waits at the peer
 *    behind a gap that the next cumulative ACK closes. An ACK that brings a
 *    parked message within reach without acknowledging it makes it due at
 *    once. Without this, every single loss would re-send most of the window.
 *
 * Receive side. on_data() delivers in order through a callback, holds
 * messages up to reorder_window past the next expected one (copies), drops
 * duplicates and anything beyond the window (the sender will re-send), and
 * marks an ACK as pending. The reorder buffer's bytes are bounded by
 * send_queue_bytes_limit too (no separate config field).
 *
 * Streams. Each direction's seqs number one stream, named by a random
 * 16-byte id that every SYNC carries. A stream outlives the session it
 * began in: resumptions continue it, and so does a full handshake that
 * replaces a session (take_over), so what the receiver delivered is never
 * numbered anew and delivered twice. After keys from a handshake or a
 * resumption the receiver takes no DATA and sends no ACK until a SYNC has
 * named the sender's stream: it may hold state of another stream (the peer
 * lost its own), which a SYNC naming a new stream resets. The sender's SYNC
 * is owed until an ACK under the new keys shows the peer read it.
 *
 * Callbacks must not call into the same l2s_delivery.
 */
#ifndef L2S_DELIVERY_H
#define L2S_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "l2s.h"

#define L2S_DELIVERY_WINDOW 256      /* largest send window, in seqs past the oldest unacked */
/* Largest payload in flight (sent, unacknowledged), half the transports'
 * default per-connection send ring: a retransmission of all of it still fits. */
#define L2S_DELIVERY_WINDOW_BYTES (512u * 1024)
#define L2S_DELIVERY_RTO_MAX_MS 5000 /* retransmission timeout cap */
#define L2S_DELIVERY_SACK_BITS 64
/* Seqs stay below this, so seq arithmetic never overflows. */
#define L2S_DELIVERY_MAX_SEQ ((uint64_t)1 << 62)

/* One queued message: outgoing (send queue) or out of order (reorder buffer). */
struct l2s_dmsg {
	struct l2s_dmsg *prev, *next;   /* seq order within its list */
	struct l2s_dmsg *fprev, *fnext; /* send side, in flight: due_ms order */
	uint64_t seq;
	uint64_t due_ms;                /* in flight: when it is re-sent */
	uint32_t rto_ms;                /* timeout armed by its next send */
	uint32_t sends;                 /* sends since enqueue, resend_all or import; 0: unsent */
	uint32_t len;
	uint32_t parked;                /* timed out beyond SACK reach, timer re-armed */
	uint32_t sacked;                /* the peer's SACK showed it: not re-sent on a timeout */
	uint8_t data[];
};

struct l2s_dlist {
	struct l2s_dmsg *head, *tail;
};

struct l2s_delivery {
	/* limits, copied from the config at init */
	uint32_t rto_base_ms, rto_max_ms;
	uint64_t bytes_limit;
	uint32_t queue_limit, reorder_window;

	/* What the peer holds out of order, from its last ACK (0 before one) */
	uint32_t peer_window, peer_window_bytes;

	/* send side */
	uint64_t next_seq;              /* given to the next enqueued message */
	struct l2s_dlist queue;         /* unacknowledged messages, seq order */
	struct l2s_dmsg *first_unsent;  /* queue suffix never sent (since resend_all) */
	struct l2s_dlist flight;        /* sent and unacknowledged, due_ms order */
	uint32_t queued, in_flight;
	uint64_t queued_bytes;
	uint64_t in_flight_bytes;       /* payload of the in-flight messages */

	/* A SYNC owed to the peer until one of its ACKs reaches sync_base: after
	 * an import the seqs skipped by the reserve are a gap the peer must be
	 * told to step over, and after re-establishment it must learn where the
	 * stream stands. 0: none owed. */
	uint64_t sync_base;
	uint64_t sync_due_ms;           /* its next (re)transmission; 0: at once */
	uint32_t sync_rto_ms;           /* doubled per send, like a message's */

	uint8_t tx_stream[L2S_STREAM_ID_BYTES]; /* our stream's id (zeros: not begun) */
	uint8_t announce;               /* a SYNC naming the stream is owed until announced() */

	/* receive side */
	uint8_t rx_stream[L2S_STREAM_ID_BYTES]; /* the stream next_expected counts (zeros: none) */
	uint8_t rx_unsure;              /* no DATA taken, no ACK sent until a SYNC names the stream */
	uint8_t rx_refusing;            /* the application cannot take more: DATA dropped, unacknowledged */
	uint64_t next_expected;         /* seq to deliver next */
	struct l2s_dlist reorder;       /* held out of order, seq order */
	uint32_t buffered;
	uint64_t buffered_bytes;
	uint8_t ack_pending;

	/* statistics */
	uint64_t retransmits, rx_duplicates, rx_dropped;
};

/* Called with each seq an ACK newly acknowledged (see on_ack). */
typedef void l2s_acked_fn(void *ctx, uint64_t seq);
/* Called with each message delivered in order; data is valid during the call. */
typedef void l2s_deliver_fn(void *ctx, uint64_t seq, const uint8_t *data, size_t len);

void l2s_delivery_init(struct l2s_delivery *d, const struct l2s_config *cfg);
/* Changes the first retransmission timeout (before anything is queued). */
void l2s_delivery_set_rto(struct l2s_delivery *d, uint64_t rto_ms);
/* Wipes and frees every held message; d is empty (limits kept) afterwards. */
void l2s_delivery_free(struct l2s_delivery *d);

/* ---- send side ---- */

/* Copies msg (0 .. L2S_MAX_PAYLOAD bytes) into the queue; *seq gets its
 * number. L2S_ERR_QUEUE_FULL at the count or byte limit, L2S_ERR_LENGTH for
 * a too-long message, L2S_ERR_NOMEM; nothing changes on error. */
int l2s_delivery_enqueue(struct l2s_delivery *d, const uint8_t *msg, size_t len, uint64_t *seq);
/* The message to transmit at now_ms, or NULL. May re-arm the timers of
 * expired messages beyond SACK reach (see above); nothing else changes. */
struct l2s_dmsg *l2s_delivery_next_due(struct l2s_delivery *d, uint64_t now_ms);
/* Records that m, just returned by next_due(), was sent at now_ms. */
void l2s_delivery_mark_sent(struct l2s_delivery *d, struct l2s_dmsg *m, uint64_t now_ms);
/* An ACK frame: frees messages below next_expected, calling acked (may be
 * NULL) once per freed message, ascending. Messages whose SACK bit is set
 * (bit i: next_expected + 1 + i) stay queued until a cumulative ACK covers
 * them (the receiver may lose what it holds out of order in a crash) but are
 * not re-sent on a timeout. Returns how many were freed, or L2S_ERR_DECODE
 * (nothing changed) when next_expected is 0 or above next_seq: it
 * acknowledges a message never sent. SACK bits for never-sent seqs are
 * ignored. Stale or repeated ACKs free nothing. */
int l2s_delivery_on_ack(struct l2s_delivery *d, uint64_t next_expected, uint64_t sack, l2s_acked_fn *acked,
			void *ctx);
/* Makes every queued message due now as if never sent, with its timeout
 * back at the start value: after re-establishment, resumption, transport
 * fallback or rotation. */
void l2s_delivery_resend_all(struct l2s_delivery *d);
/* The earliest retransmission deadline (of a message or of an owed SYNC),
 * UINT64_MAX when none. Never-sent messages inside the window and a SYNC
 * due at once are not counted here: drain next_due() and sync_due() after
 * enqueue, on_ack, resend_all and want_sync. */
uint64_t l2s_delivery_next_deadline(const struct l2s_delivery *d);

/* ---- SYNC: telling the peer where our stream stands ----
 *
 * A SYNC carries send_base() and is owed until an ACK shows the peer's
 * next_expected at sync_base or above. It is due when nothing below
 * sync_base is still queued (so it never makes the peer skip a message we
 * will re-send), at once when that becomes true, then again after a timeout
 * that doubles like a message's until the ACK arrives. */

/* Keys from a handshake or resumption were confirmed: owe a SYNC for where
 * the stream stands now, until announced(); take no DATA until the peer's
 * SYNC names its stream. */
void l2s_delivery_want_sync(struct l2s_delivery *d);
/* An ACK arrived under the keys the SYNC went out under: the peer read it
 * (an unsure receiver sends no ACK). */
void l2s_delivery_announced(struct l2s_delivery *d);
/* Names our stream, unless it has a name already. */
void l2s_delivery_begin_stream(struct l2s_delivery *d, const uint8_t id[L2S_STREAM_ID_BYTES]);
/* 1 when a SYNC (value: send_base()) should be sent at now_ms. */
int l2s_delivery_sync_due(const struct l2s_delivery *d, uint64_t now_ms);
/* Records that a SYNC was sent at now_ms: arms its retransmission. */
void l2s_delivery_sync_sent(struct l2s_delivery *d, uint64_t now_ms);

/* ---- receive side ---- */

/* A DATA frame. Returns how many messages were delivered through deliver
 * (0 for a held, duplicate or dropped message), L2S_ERR_DECODE for seq 0 or
 * seq >= L2S_DELIVERY_MAX_SEQ, L2S_ERR_LENGTH for len > L2S_MAX_PAYLOAD,
 * L2S_ERR_NOMEM when a copy for the reorder buffer fails (dropped). */
int l2s_delivery_on_data(struct l2s_delivery *d, uint64_t seq, const uint8_t *data, size_t len,
			 l2s_deliver_fn *deliver, void *ctx);
/* 1 when an ACK should be sent (set by every DATA frame and by import). */
int l2s_delivery_ack_pending(const struct l2s_delivery *d);
/* A new session replaces old: d continues old's streams, both directions
 * (seqs, unacknowledged messages, what was received), and old is left empty.
 * Messages already queued on d follow old's, with new seqs. d keeps its
 * limits. */
void l2s_delivery_take_over(struct l2s_delivery *d, struct l2s_delivery *old);
/* The lowest unacknowledged seq (next_seq when none): the SYNC frame's value. */
uint64_t l2s_delivery_send_base(const struct l2s_delivery *d);
/* A SYNC from the peer: a stream other than the one the receive side counts
 * (if it has counted a named one) resets it (nothing held, next_expected 1);
 * then moves next_expected up to
 * send_base, delivers what was held below it (the peer freed it when our
 * SACK covered it) and what is now in order, stepping over seqs that will
 * never come, and returns the count. Every SYNC is answered with an ACK: the
 * sender re-sends it until it sees one. */
int l2s_delivery_sync(struct l2s_delivery *d, const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t send_base,
		      l2s_deliver_fn *deliver, void *ctx);
/* The application could not take message seq (its inbox is full, say):
 * the receive side goes back to seq, drops what it holds beyond, and takes
 * no DATA (nor acknowledges any) until accept(). Nothing from seq on was
 * acknowledged if this comes before the ACK of the batch that delivered
 * it, so the sender still has it. */
void l2s_delivery_refuse(struct l2s_delivery *d, uint64_t seq);
void l2s_delivery_accept(struct l2s_delivery *d);
/* The ACK frame's fields; clears the pending flag. */
void l2s_delivery_build_ack(struct l2s_delivery *d, uint64_t *next_expected, uint64_t *sack);
/* What this receiver holds out of order, for the ACK frame: its reorder
 * window (seqs past next_expected) and byte bound (at most 2^32 - 1). */
void l2s_delivery_window(const struct l2s_delivery *d, uint32_t *window, uint32_t *window_bytes);
/* The same figures from the peer's ACK: they bound what we send. */
void l2s_delivery_set_peer_window(struct l2s_delivery *d, uint32_t window, uint32_t window_bytes);

/* ---- StoredSession: export and import ----
 *
 * Format version 2, integers big-endian like the wire:
 *
 *   u8  version = 2
 *   16  tx_stream, 16 rx_stream (zeros: none yet)
 *   u64 next_seq          1 .. L2S_DELIVERY_MAX_SEQ
 *   u64 next_expected     1 .. L2S_DELIVERY_MAX_SEQ
 *   u32 n_queued,   then n_queued   x { u64 seq, u32 len, len bytes }
 *   u32 n_buffered, then n_buffered x { u64 seq, u32 len, len bytes }
 *
 * Queued seqs ascend strictly and lie in [1, next_seq); buffered seqs ascend
 * strictly and lie above next_expected, below L2S_DELIVERY_MAX_SEQ; every
 * len <= L2S_MAX_PAYLOAD; nothing follows the last record. The reorder
 * buffer is kept because the peer may have freed SACKed messages in it.
 * Queue limits are not applied on import: an accepted message is never
 * dropped, the queue refuses new ones until it is below its limits again.
 *
 * A checkpoint may be stale when it is imported: the sender may have used
 * (and had acknowledged) seqs from next_seq on after it was taken, and the
 * peer would drop new messages with those seqs as duplicates. So export
 * writes next_seq + seq_reserve (a StoredSession uses
 * L2S_DELIVERY_SEQ_RESERVE): new messages after an import get seqs above
 * anything sent before, as long as fewer than seq_reserve were enqueued
 * after the export. Import owes the peer a SYNC for the gap (see above).
 */
#define L2S_DELIVERY_EXPORT_VERSION 2

size_t l2s_delivery_export_size(const struct l2s_delivery *d);
/* The rx_stream an export names, without importing it; L2S_ERR_DECODE. */
int l2s_delivery_export_rx_stream(const uint8_t *in, size_t len, uint8_t out[L2S_STREAM_ID_BYTES]);
/* *len gets the size; L2S_ERR_LENGTH (with *len set) when cap is short.
 * next_seq is written seq_reserve ahead, at most L2S_DELIVERY_MAX_SEQ. */
int l2s_delivery_export(const struct l2s_delivery *d, uint64_t seq_reserve, uint8_t *out, size_t cap,
			size_t *len);
/* Into a just-initialised (empty) d, else L2S_ERR_STATE. L2S_ERR_DECODE for
 * any malformed input, L2S_ERR_NOMEM; d is left empty on error. Imported
 * messages are unsent (due at once), an ACK is pending and a SYNC is owed
 * up to the imported next_seq. */
int l2s_delivery_import(struct l2s_delivery *d, const uint8_t *in, size_t len);

#endif /* L2S_DELIVERY_H */
