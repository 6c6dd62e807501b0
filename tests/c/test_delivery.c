// SPDX-License-Identifier: Apache-2.0
/* Delivery state: exactly once and in order over a lossy, reordering,
 * duplicating simulated channel in both directions; queue limits; SACK;
 * retransmission timeouts; resend_all; export/import. */
#include <stdlib.h>
#include <string.h>

#include "engine/delivery.h"
#include "testutil.h"
#include "wire/wire.h"


/* A delivery state whose peer runs the same config: its first ACK would
 * have told us its window (PROTOCOL.md §5), so the tests start from there. */
static void dinit(struct l2s_delivery *d, const struct l2s_config *cfg)
{
	l2s_delivery_init(d, cfg);
	l2s_delivery_set_peer_window(d, cfg->reorder_window,
				     cfg->send_queue_bytes_limit > UINT32_MAX ? UINT32_MAX
									: (uint32_t)cfg->send_queue_bytes_limit);
}
static uint64_t rs;

static uint64_t rnd(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void default_cfg(struct l2s_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->retransmit_timeout_ms = 200;
	cfg->send_queue_limit = 4096;
	cfg->send_queue_bytes_limit = 16u << 20;
	cfg->reorder_window = 1024;
}

/* Payload of message seq from side s: checkable content, lengths 0 .. 299
 * and now and then a maximal one. */
static size_t payload_len(int s, uint64_t seq)
{
	return seq % 997 == 0 ? L2S_MAX_PAYLOAD : (size_t)((seq * 37 + (uint64_t)s * 11) % 300);
}

static void payload_fill(uint8_t *p, int s, uint64_t seq)
{
	size_t n = payload_len(s, seq);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seq * 131 + i + (uint64_t)s * 7);
}

static uint8_t scratch[L2S_MAX_PAYLOAD];

/* ---- the simulated channel ---------------------------------------------- */

struct pkt {
	uint64_t at;
	int to, is_ack;
	uint64_t a, b; /* DATA: seq; ACK: next_expected, sack */
	uint32_t len;
	uint8_t *data;
};

struct net {
	struct pkt *p;
	size_t n, cap;
	unsigned int loss_pct, dup_pct;
	uint64_t sent, lost, dups;
};

static void net_put(struct net *net, const struct pkt *pk, uint64_t now)
{
	struct pkt *q;

	if (net->n == net->cap) {
		net->cap = net->cap ? 2 * net->cap : 256;
		net->p = realloc(net->p, net->cap * sizeof(*net->p));
	}
	q = &net->p[net->n++];
	*q = *pk;
	q->at = now + 5 + rnd() % 40; /* random delay: reordering */
	if (pk->len) {
		q->data = malloc(pk->len);
		memcpy(q->data, pk->data, pk->len);
	} else {
		q->data = NULL;
	}
}

static void net_send(struct net *net, const struct pkt *pk, uint64_t now)
{
	net->sent++;
	if (rnd() % 100 < net->loss_pct) {
		net->lost++;
		return;
	}
	net_put(net, pk, now);
	if (rnd() % 100 < net->dup_pct) {
		net->dups++;
		net_put(net, pk, now);
	}
}

/* ---- endpoints ------------------------------------------------------------ */

struct ep {
	int side;
	struct l2s_delivery d;
	uint64_t n;        /* messages to send */
	uint64_t enq_next; /* next seq to enqueue */
	uint64_t rx_next;  /* next seq the deliver callback must see */
	uint64_t rx_total; /* messages the peer sends */
	int rx_bad, ack_bad, enq_bad;
	uint8_t *acked;    /* per own seq: acknowledged yet */
	uint64_t acked_count, queue_full;
};

static void on_deliver(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	struct ep *e = ctx;
	int peer = 1 - e->side;

	if (seq != e->rx_next || seq > e->rx_total || len != payload_len(peer, seq)) {
		e->rx_bad++;
		return;
	}
	payload_fill(scratch, peer, seq);
	if (len && memcmp(scratch, data, len) != 0)
		e->rx_bad++;
	e->rx_next++;
}

static void on_acked(void *ctx, uint64_t seq)
{
	struct ep *e = ctx;

	if (seq == 0 || seq >= e->enq_next || e->acked[seq]) {
		e->ack_bad++;
		return;
	}
	e->acked[seq] = 1;
	e->acked_count++;
}

static void ep_init(struct ep *e, int side, const struct l2s_config *cfg, uint64_t n)
{
	memset(e, 0, sizeof(*e));
	e->side = side;
	dinit(&e->d, cfg);
	e->n = e->rx_total = n;
	e->enq_next = e->rx_next = 1;
	e->acked = calloc(n + 1, 1);
}

static void ep_enqueue_some(struct ep *e)
{
	uint64_t burst = rnd() % 40;

	while (burst-- && e->enq_next <= e->n) {
		uint64_t seq = 0;
		int err;

		payload_fill(scratch, e->side, e->enq_next);
		err = l2s_delivery_enqueue(&e->d, scratch, payload_len(e->side, e->enq_next), &seq);
		if (err == L2S_ERR_QUEUE_FULL) {
			e->queue_full++;
			return;
		}
		if (err != L2S_OK || seq != e->enq_next)
			e->enq_bad++;
		e->enq_next++;
	}
}

static void ep_transmit(struct ep *e, struct net *net, uint64_t now)
{
	struct l2s_dmsg *m;
	int guard = 0;

	while ((m = l2s_delivery_next_due(&e->d, now)) && guard++ < 10000) {
		struct pkt pk = { .to = 1 - e->side, .a = m->seq, .len = m->len, .data = m->data };

		net_send(net, &pk, now);
		l2s_delivery_mark_sent(&e->d, m, now);
	}
	if (l2s_delivery_ack_pending(&e->d)) {
		struct pkt pk = { .to = 1 - e->side, .is_ack = 1 };

		l2s_delivery_build_ack(&e->d, &pk.a, &pk.b);
		net_send(net, &pk, now);
	}
}

static int ep_done(const struct ep *e)
{
	return e->enq_next > e->n && e->d.queued == 0 && e->rx_next > e->rx_total;
}

/* Export both sides, drop them, import into fresh state: a restart from a
 * StoredSession taken at this moment. */
static int restart(struct ep *e, const struct l2s_config *cfg)
{
	size_t len = 0, need = l2s_delivery_export_size(&e->d);
	uint8_t *blob = malloc(need);
	int ok;

	ok = l2s_delivery_export(&e->d, 0, blob, need, &len) == L2S_OK && len == need;
	l2s_delivery_free(&e->d);
	dinit(&e->d, cfg);
	ok = ok && l2s_delivery_import(&e->d, blob, len) == L2S_OK;
	free(blob);
	return ok;
}

struct sim_opts {
	uint64_t seed, n;
	unsigned int loss_pct, dup_pct;
	uint64_t restart_at; /* restart both sides once side 1 has this many; 0: never */
	uint64_t resend_every_ms; /* resend_all on both sides that often; 0: never */
	const struct l2s_config *cfg;
};

static void run_sim(const struct sim_opts *o, const char *name)
{
	struct net net = { .loss_pct = o->loss_pct, .dup_pct = o->dup_pct };
	struct ep ep[2];
	uint64_t now = 0, limit = 3600u * 1000u, last_resend = 0, deliver_calls = 0;
	int restarted = 0, ok_restart = 1, decode_errors = 0;

	rs = o->seed;
	ep_init(&ep[0], 0, o->cfg, o->n);
	ep_init(&ep[1], 1, o->cfg, o->n);
	while (now < limit && !(ep_done(&ep[0]) && ep_done(&ep[1]))) {
		for (int s = 0; s < 2; s++) {
			ep_enqueue_some(&ep[s]);
			ep_transmit(&ep[s], &net, now);
		}
		now += 1 + rnd() % 10;
		for (size_t i = 0; i < net.n;) {
			struct pkt pk = net.p[i];
			struct ep *e = &ep[pk.to];
			int r;

			if (pk.at > now) {
				i++;
				continue;
			}
			net.p[i] = net.p[--net.n]; /* swap-remove: more reordering */
			if (pk.is_ack)
				r = l2s_delivery_on_ack(&e->d, pk.a, pk.b, on_acked, e);
			else
				r = l2s_delivery_on_data(&e->d, pk.a, pk.data, pk.len, on_deliver, e);
			if (r < 0)
				decode_errors++;
			else if (!pk.is_ack)
				deliver_calls += (uint64_t)r;
			free(pk.data);
		}
		if (o->restart_at && !restarted && ep[1].rx_next > o->restart_at) {
			ok_restart = restart(&ep[0], o->cfg) && restart(&ep[1], o->cfg);
			restarted = 1;
		}
		if (o->resend_every_ms && now - last_resend >= o->resend_every_ms) {
			l2s_delivery_resend_all(&ep[0].d);
			l2s_delivery_resend_all(&ep[1].d);
			last_resend = now;
		}
	}
	printf("%s: %llu ms simulated, %llu packets, %llu lost, %llu duplicated, "
	       "retransmits %llu/%llu, queue-full %llu/%llu, rx dup %llu/%llu, rx dropped %llu/%llu\n",
	       name, (unsigned long long)now, (unsigned long long)net.sent, (unsigned long long)net.lost,
	       (unsigned long long)net.dups, (unsigned long long)ep[0].d.retransmits,
	       (unsigned long long)ep[1].d.retransmits, (unsigned long long)ep[0].queue_full,
	       (unsigned long long)ep[1].queue_full, (unsigned long long)ep[0].d.rx_duplicates,
	       (unsigned long long)ep[1].d.rx_duplicates, (unsigned long long)ep[0].d.rx_dropped,
	       (unsigned long long)ep[1].d.rx_dropped);
	CHECK(now < limit);
	CHECK(ok_restart);
	CHECK(!o->restart_at || restarted);
	CHECK(decode_errors == 0);
	CHECK(deliver_calls == 2 * o->n);
	for (int s = 0; s < 2; s++) {
		struct ep *e = &ep[s];

		CHECK(e->rx_bad == 0);
		CHECK(e->ack_bad == 0);
		CHECK(e->enq_bad == 0);
		CHECK(e->rx_next == o->n + 1);   /* all delivered, in order, once */
		CHECK(e->acked_count == o->n);   /* all acknowledged, once */
		CHECK(e->d.queued == 0 && e->d.queued_bytes == 0 && e->d.in_flight == 0);
		CHECK(e->d.queue.head == NULL && e->d.flight.head == NULL);
		CHECK(e->d.buffered == 0 && e->d.buffered_bytes == 0);
		CHECK(l2s_delivery_next_deadline(&e->d) == UINT64_MAX);
		l2s_delivery_free(&e->d);
		free(e->acked);
	}
	for (size_t i = 0; i < net.n; i++)
		free(net.p[i].data);
	free(net.p);
}

static void test_simulations(void)
{
	struct l2s_config cfg, small;
	struct sim_opts o = { .seed = 1, .n = 10000, .loss_pct = 5, .dup_pct = 5, .cfg = &cfg };

	default_cfg(&cfg);
	run_sim(&o, "lossy 5%");
	o.seed = 2;
	o.restart_at = 5000;
	run_sim(&o, "export/import at 5000");
	o.seed = 3;
	o.restart_at = 0;
	o.resend_every_ms = 700;
	o.n = 3000;
	run_sim(&o, "resend_all every 700 ms");
	/* Tight limits: a reorder window far below the send window, a small
	 * queue and byte limit, heavy loss. */
	default_cfg(&small);
	small.send_queue_limit = 64;
	small.send_queue_bytes_limit = 70000;
	small.reorder_window = 16;
	o = (struct sim_opts){ .seed = 4, .n = 2000, .loss_pct = 20, .dup_pct = 10, .cfg = &small };
	run_sim(&o, "tight limits, 20% loss");
	/* More seeds, shorter runs. */
	for (uint64_t seed = 10; seed < 16; seed++) {
		o = (struct sim_opts){ .seed = seed, .n = 1500, .loss_pct = 5 + (unsigned int)seed % 3 * 5,
				       .dup_pct = 5, .restart_at = seed % 2 ? 700 : 0, .cfg = &cfg };
		run_sim(&o, "seed");
	}
}

/* ---- focused cases ---------------------------------------------------------- */

static uint64_t acked_log[200];
static size_t acked_n;

static void log_acked(void *ctx, uint64_t seq)
{
	(void)ctx;
	if (acked_n < 200)
		acked_log[acked_n++] = seq;
}

static uint64_t dlog[200];
static size_t dlog_n;

static const uint8_t STREAM_A[L2S_STREAM_ID_BYTES] = { 0xa };
static const uint8_t STREAM_B[L2S_STREAM_ID_BYTES] = { 0xb };

static void log_deliver(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	if (dlog_n < 200)
		dlog[dlog_n++] = seq;
}

static void send_all_due(struct l2s_delivery *d, uint64_t now, uint64_t *seqs, size_t *n)
{
	struct l2s_dmsg *m;

	*n = 0;
	while ((m = l2s_delivery_next_due(d, now))) {
		seqs[(*n)++] = m->seq;
		l2s_delivery_mark_sent(d, m, now);
	}
}

static void test_queue_limits(void)
{
	struct l2s_config cfg;
	struct l2s_delivery d, r;
	uint8_t buf[1000] = { 0 };
	uint64_t seq = 0, ne, sack;
	struct l2s_dmsg *m;

	default_cfg(&cfg);
	cfg.send_queue_limit = 8;
	cfg.send_queue_bytes_limit = 1000;
	dinit(&d, &cfg);
	dinit(&r, &cfg);
	for (int i = 0; i < 8; i++) {
		buf[0] = (uint8_t)i;
		CHECK(l2s_delivery_enqueue(&d, buf, 10, &seq) == L2S_OK && seq == (uint64_t)i + 1);
	}
	seq = 77;
	CHECK(l2s_delivery_enqueue(&d, buf, 1, &seq) == L2S_ERR_QUEUE_FULL && seq == 77);
	CHECK(l2s_delivery_enqueue(&d, buf, 0, &seq) == L2S_ERR_QUEUE_FULL);
	CHECK(d.queued == 8 && d.queued_bytes == 80 && d.next_seq == 9);
	/* Nothing accepted was lost: all eight arrive, in order. */
	dlog_n = 0;
	while ((m = l2s_delivery_next_due(&d, 0))) {
		CHECK(l2s_delivery_on_data(&r, m->seq, m->data, m->len, log_deliver, NULL) == 1);
		CHECK(m->data[0] == (uint8_t)(m->seq - 1));
		l2s_delivery_mark_sent(&d, m, 0);
	}
	CHECK(dlog_n == 8 && dlog[0] == 1 && dlog[7] == 8);
	l2s_delivery_build_ack(&r, &ne, &sack);
	CHECK(ne == 9 && sack == 0);
	CHECK(l2s_delivery_on_ack(&d, ne, sack, NULL, NULL) == 8);
	CHECK(d.queued == 0 && d.queued_bytes == 0);

	/* The byte limit. */
	CHECK(l2s_delivery_enqueue(&d, buf, 600, &seq) == L2S_OK && seq == 9);
	CHECK(l2s_delivery_enqueue(&d, buf, 401, &seq) == L2S_ERR_QUEUE_FULL);
	CHECK(l2s_delivery_enqueue(&d, buf, 400, &seq) == L2S_OK && seq == 10);
	CHECK(l2s_delivery_enqueue(&d, buf, 1, &seq) == L2S_ERR_QUEUE_FULL);
	CHECK(l2s_delivery_enqueue(&d, buf, 0, &seq) == L2S_OK && seq == 11); /* empty is fine */
	CHECK(l2s_delivery_on_ack(&d, 10, 0, NULL, NULL) == 1); /* acks unsent 9: allowed */
	CHECK(l2s_delivery_enqueue(&d, buf, 600, &seq) == L2S_OK && seq == 12);
	CHECK(l2s_delivery_enqueue(&d, scratch, L2S_MAX_PAYLOAD + 1, &seq) == L2S_ERR_LENGTH);
	CHECK(d.queued == 3 && d.queued_bytes == 1000);
	l2s_delivery_free(&d);
	l2s_delivery_free(&r);
}

/* The peer's window (PROTOCOL.md §5, ACK): none known, one message in
 * flight; then what its ACK said, in seqs past the oldest unacked and in
 * bytes; a receiver advertises its own reorder window and byte bound. */
static void test_peer_window(void)
{
	static uint8_t big[1000];
	struct l2s_config cfg;
	struct l2s_delivery d;
	uint64_t seqs[300], seq, t = 1000;
	uint32_t w, wb;
	size_t n;

	default_cfg(&cfg);
	cfg.reorder_window = 7;
	cfg.send_queue_bytes_limit = 20000;
	l2s_delivery_init(&d, &cfg);
	l2s_delivery_window(&d, &w, &wb);
	CHECK(w == 7 && wb == 20000);
	for (int i = 0; i < 20; i++)
		CHECK(l2s_delivery_enqueue(&d, big, sizeof(big), &seq) == L2S_OK);
	send_all_due(&d, t, seqs, &n);
	CHECK(n == 1 && seqs[0] == 1);
	/* It holds 3 past next_expected: 4 in flight from the oldest. */
	l2s_delivery_set_peer_window(&d, 3, UINT32_MAX);
	send_all_due(&d, t, seqs, &n);
	CHECK(n == 3 && seqs[0] == 2 && seqs[2] == 4);
	CHECK(l2s_delivery_on_ack(&d, 3, 0, NULL, NULL) == 2);
	send_all_due(&d, t, seqs, &n);
	CHECK(n == 2 && seqs[0] == 5 && seqs[1] == 6);
	/* 2,500 bytes: in flight 3..6 is 4,000 already, nothing goes. */
	l2s_delivery_set_peer_window(&d, 100, 2500);
	send_all_due(&d, t, seqs, &n);
	CHECK(n == 0);
	CHECK(l2s_delivery_on_ack(&d, 6, 0, NULL, NULL) == 3);
	send_all_due(&d, t, seqs, &n);
	CHECK(n == 1 && seqs[0] == 7); /* 6 and 7: 2,000 bytes */
	/* A bound below one message: one still goes when nothing is in flight. */
	l2s_delivery_set_peer_window(&d, 100, 10);
	CHECK(l2s_delivery_on_ack(&d, 8, 0, NULL, NULL) == 2);
	send_all_due(&d, t, seqs, &n);
	CHECK(n == 1 && seqs[0] == 8);
	/* Beyond 2^32 - 1 bytes a receiver advertises the largest u32. */
	cfg.send_queue_bytes_limit = (uint64_t)1 << 40;
	l2s_delivery_free(&d);
	l2s_delivery_init(&d, &cfg);
	l2s_delivery_window(&d, &w, &wb);
	CHECK(wb == UINT32_MAX);
	l2s_delivery_free(&d);
}

static void test_rto_and_window(void)
{
	struct l2s_config cfg;
	struct l2s_delivery d;
	uint64_t seqs[300], seq, t = 1000;
	size_t n;
	uint64_t expect_rto[] = { 200, 400, 800, 1600, 3200, 5000, 5000 };

	default_cfg(&cfg);
	dinit(&d, &cfg);
	CHECK(l2s_delivery_next_due(&d, 0) == NULL);
	for (int i = 0; i < 300; i++)
		CHECK(l2s_delivery_enqueue(&d, (const uint8_t *)"x", 1, &seq) == L2S_OK);
	/* The window: 256 seqs past the oldest unacked. */
	send_all_due(&d, t, seqs, &n);
	CHECK(n == L2S_DELIVERY_WINDOW && seqs[0] == 1 && seqs[255] == 256);
	CHECK(d.in_flight == 256);
	CHECK(l2s_delivery_next_deadline(&d) == t + 200);
	CHECK(l2s_delivery_next_due(&d, t + 199) == NULL);
	/* SACK of 2..65 frees nothing and does not open the window (1 is still
	 * unacked), but takes them out of flight. */
	CHECK(l2s_delivery_on_ack(&d, 1, UINT64_MAX, NULL, NULL) == 0 && d.queued == 300);
	CHECK(d.in_flight == 256 - 64);
	CHECK(l2s_delivery_next_due(&d, t) == NULL);
	CHECK(l2s_delivery_on_ack(&d, 66, 0, NULL, NULL) == 65); /* oldest is now 66 */
	send_all_due(&d, t, seqs, &n);
	CHECK(n == 44 && seqs[0] == 257 && seqs[43] == 300);
	CHECK(l2s_delivery_on_ack(&d, 300, 0, NULL, NULL) == 300 - 66);
	CHECK(d.queued == 1 && d.queue.head->seq == 300);

	/* The timeout of message 300 doubles per re-send, capped at 5 s. */
	for (size_t k = 0; k < sizeof(expect_rto) / sizeof(expect_rto[0]); k++) {
		uint64_t due = l2s_delivery_next_deadline(&d);

		CHECK(due == t + expect_rto[k]);
		CHECK(l2s_delivery_next_due(&d, due - 1) == NULL);
		t = due;
		send_all_due(&d, t, seqs, &n);
		CHECK(n == 1 && seqs[0] == 300);
	}
	CHECK(d.retransmits == 7);
	/* resend_all: due at once, timeout back at the start. */
	l2s_delivery_resend_all(&d);
	CHECK(l2s_delivery_next_deadline(&d) == UINT64_MAX);
	send_all_due(&d, t, seqs, &n);
	CHECK(n == 1 && l2s_delivery_next_deadline(&d) == t + 200);
	l2s_delivery_free(&d);
}

/* 64 KiB messages: the byte window, not the 256-seq one, bounds the flight. */
static void test_byte_window(void)
{
	const uint32_t per_window = L2S_DELIVERY_WINDOW_BYTES / L2S_MAX_PAYLOAD;
	struct l2s_config cfg;
	struct l2s_delivery d;
	uint64_t seqs[64], seq, t = 1000;
	size_t n;

	default_cfg(&cfg);
	dinit(&d, &cfg);
	for (int i = 0; i < 20; i++)
		CHECK(l2s_delivery_enqueue(&d, scratch, L2S_MAX_PAYLOAD, &seq) == L2S_OK);
	send_all_due(&d, t, seqs, &n);
	CHECK(n == per_window && seqs[0] == 1 && d.in_flight_bytes == (uint64_t)per_window * L2S_MAX_PAYLOAD);
	/* A retransmission is not new flight: the window stays full. */
	send_all_due(&d, t + 200, seqs, &n);
	CHECK(n == per_window && seqs[0] == 1 && d.retransmits == per_window);
	CHECK(d.in_flight_bytes == (uint64_t)per_window * L2S_MAX_PAYLOAD);
	/* Each acknowledged message lets one more go. */
	CHECK(l2s_delivery_on_ack(&d, 2, 0, NULL, NULL) == 1);
	send_all_due(&d, t + 200, seqs, &n);
	CHECK(n == 1 && seqs[0] == per_window + 1);
	/* A small message fits where a large one does not. */
	CHECK(l2s_delivery_on_ack(&d, 3, 0, NULL, NULL) == 1);
	CHECK(l2s_delivery_enqueue(&d, scratch, 10, &seq) == L2S_OK);
	send_all_due(&d, t + 200, seqs, &n);
	CHECK(n == 1 && seqs[0] == per_window + 2);
	/* resend_all empties the flight: the first window goes again. */
	l2s_delivery_resend_all(&d);
	CHECK(d.in_flight_bytes == 0);
	send_all_due(&d, t + 300, seqs, &n);
	CHECK(n == per_window && seqs[0] == 3);
	/* Everything acknowledged: the counter is back at zero. */
	CHECK(l2s_delivery_on_ack(&d, d.next_seq, 0, NULL, NULL) == 19);
	CHECK(d.in_flight_bytes == 0 && d.in_flight == 0);
	l2s_delivery_free(&d);
}

/* Timed-out messages beyond SACK reach wait for the gap to close. */
static void test_parking(void)
{
	struct l2s_config cfg;
	struct l2s_delivery d;
	uint64_t seqs[300], seq;
	size_t n, parked = 0;

	default_cfg(&cfg);
	dinit(&d, &cfg);
	for (int i = 0; i < 100; i++)
		CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_OK);
	send_all_due(&d, 0, seqs, &n);
	CHECK(n == 100);
	/* At 200 all time out; 1..65 (oldest + 64) are re-sent, the rest parked. */
	send_all_due(&d, 200, seqs, &n);
	CHECK(n == 65 && seqs[0] == 1 && seqs[64] == 65);
	for (struct l2s_dmsg *m = d.queue.head; m; m = m->next)
		parked += m->parked;
	CHECK(parked == 35 && d.queue.tail->parked);
	CHECK(l2s_delivery_next_deadline(&d) == 600); /* both: 200 + the doubled 400 */
	CHECK(d.retransmits == 65);
	/* An ACK moving the oldest to 2 brings 66 within reach: due at once. */
	CHECK(l2s_delivery_on_ack(&d, 2, 0, NULL, NULL) == 1);
	CHECK(l2s_delivery_next_deadline(&d) == 0);
	send_all_due(&d, 201, seqs, &n);
	CHECK(n == 1 && seqs[0] == 66);
	/* Received-but-unreported 67..100 are covered by the cumulative ACK. */
	CHECK(l2s_delivery_on_ack(&d, 101, 0, NULL, NULL) == 99);
	CHECK(d.queued == 0 && d.in_flight == 0 && d.retransmits == 66);
	l2s_delivery_free(&d);
}

static void test_rto_clamp(void)
{
	struct l2s_config cfg;
	struct l2s_delivery d;
	uint64_t seqs[4], seq;
	size_t n;

	default_cfg(&cfg);
	cfg.retransmit_timeout_ms = 0; /* taken as 1 ms: timers move forward */
	dinit(&d, &cfg);
	CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_OK);
	send_all_due(&d, 10, seqs, &n);
	CHECK(n == 1 && l2s_delivery_next_deadline(&d) == 11);
	l2s_delivery_free(&d);

	cfg.retransmit_timeout_ms = UINT64_MAX;
	dinit(&d, &cfg);
	CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_OK);
	send_all_due(&d, 10, seqs, &n);
	CHECK(l2s_delivery_next_deadline(&d) == 10 + ((uint64_t)1 << 31));
	send_all_due(&d, UINT64_MAX - 5, seqs, &n); /* deadline saturates */
	CHECK(n == 1 && l2s_delivery_next_deadline(&d) == UINT64_MAX);
	l2s_delivery_free(&d);
}

static void test_resend_all_order(void)
{
	struct l2s_config cfg;
	struct l2s_delivery d;
	uint64_t seqs[32], seq;
	size_t n;

	default_cfg(&cfg);
	dinit(&d, &cfg);
	for (int i = 0; i < 10; i++)
		CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_OK);
	send_all_due(&d, 0, seqs, &n); /* 1..10 sent at 0 */
	CHECK(n == 10);
	send_all_due(&d, 200, seqs, &n); /* all re-sent at 200 */
	CHECK(n == 10 && seqs[0] == 1 && seqs[9] == 10);
	CHECK(l2s_delivery_on_ack(&d, 3, 1 << 1, NULL, NULL) == 2); /* 1, 2; 5 SACKed stays */
	for (int i = 0; i < 3; i++)
		CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_OK); /* 11..13 unsent */
	l2s_delivery_resend_all(&d);
	CHECK(d.in_flight == 0);
	send_all_due(&d, 300, seqs, &n);
	CHECK(n == 11); /* the SACKed 5 too: the peer may have lost it */
	CHECK(seqs[0] == 3 && seqs[1] == 4 && seqs[2] == 5 && seqs[10] == 13);
	CHECK(l2s_delivery_next_due(&d, 499) == NULL);
	CHECK(l2s_delivery_next_due(&d, 500) != NULL);
	l2s_delivery_free(&d);
}

static void test_ack_rules(void)
{
	struct l2s_config cfg;
	struct l2s_delivery d;
	uint64_t seqs[32], seq;
	size_t n;

	default_cfg(&cfg);
	dinit(&d, &cfg);
	CHECK(l2s_delivery_on_ack(&d, 1, UINT64_MAX, NULL, NULL) == 0); /* nothing sent yet */
	CHECK(l2s_delivery_on_ack(&d, 2, 0, NULL, NULL) == L2S_ERR_DECODE);
	for (int i = 0; i < 10; i++)
		CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_OK);
	send_all_due(&d, 0, seqs, &n);
	CHECK(l2s_delivery_on_ack(&d, 0, 0, NULL, NULL) == L2S_ERR_DECODE);
	CHECK(l2s_delivery_on_ack(&d, 12, 0, NULL, NULL) == L2S_ERR_DECODE);
	CHECK(d.queued == 10);
	/* next_expected 3, SACK bits 1 and 3: seqs 5 and 7 leave the flight but
	 * stay queued; bits past 10 ignored. */
	acked_n = 0;
	CHECK(l2s_delivery_on_ack(&d, 3, (1u << 1) | (1u << 3) | ((uint64_t)1 << 40), log_acked, NULL) == 2);
	CHECK(acked_n == 2 && acked_log[0] == 1 && acked_log[1] == 2);
	CHECK(d.queued == 8 && d.in_flight == 6);
	/* Stale and repeated ACKs free nothing. */
	CHECK(l2s_delivery_on_ack(&d, 1, (1u << 0) | (1u << 3) | (1u << 5), log_acked, NULL) == 0);
	CHECK(l2s_delivery_on_ack(&d, 3, (1u << 1) | (1u << 3), log_acked, NULL) == 0);
	CHECK(acked_n == 2 && d.queued == 8 && d.in_flight == 6);
	CHECK(l2s_delivery_on_ack(&d, 11, 0, log_acked, NULL) == 8);
	CHECK(acked_n == 10 && acked_log[2] == 3 && acked_log[9] == 10 && d.queued == 0 && d.in_flight == 0);
	CHECK(l2s_delivery_next_deadline(&d) == UINT64_MAX);
	l2s_delivery_free(&d);
}

static void test_receive_rules(void)
{
	struct l2s_config cfg;
	struct l2s_delivery r;
	uint64_t ne, sack;
	uint8_t b = 0;

	default_cfg(&cfg);
	cfg.reorder_window = 100;
	dinit(&r, &cfg);
	dlog_n = 0;
	CHECK(!l2s_delivery_ack_pending(&r));
	CHECK(l2s_delivery_on_data(&r, 0, &b, 1, log_deliver, NULL) == L2S_ERR_DECODE);
	CHECK(l2s_delivery_on_data(&r, L2S_DELIVERY_MAX_SEQ, &b, 1, log_deliver, NULL) == L2S_ERR_DECODE);
	CHECK(l2s_delivery_on_data(&r, 1, scratch, L2S_MAX_PAYLOAD + 1, log_deliver, NULL) == L2S_ERR_LENGTH);
	CHECK(l2s_delivery_on_data(&r, 3, &b, 1, log_deliver, NULL) == 0);
	CHECK(l2s_delivery_on_data(&r, 3, &b, 1, log_deliver, NULL) == 0); /* buffered twice */
	CHECK(l2s_delivery_on_data(&r, 65, &b, 1, log_deliver, NULL) == 0); /* last SACK bit */
	CHECK(l2s_delivery_on_data(&r, 101, &b, 1, log_deliver, NULL) == 0); /* window edge: held */
	CHECK(l2s_delivery_on_data(&r, 102, &b, 1, log_deliver, NULL) == 0); /* beyond: dropped */
	CHECK(r.buffered == 3 && r.rx_duplicates == 1 && r.rx_dropped == 1);
	CHECK(l2s_delivery_ack_pending(&r));
	l2s_delivery_build_ack(&r, &ne, &sack);
	CHECK(ne == 1 && sack == ((1u << 1) | ((uint64_t)1 << 63))); /* 3 and 65; 101 too far */
	CHECK(!l2s_delivery_ack_pending(&r));
	CHECK(l2s_delivery_on_data(&r, 2, &b, 1, log_deliver, NULL) == 0);
	CHECK(l2s_delivery_on_data(&r, 1, &b, 1, log_deliver, NULL) == 3);
	CHECK(dlog_n == 3 && dlog[0] == 1 && dlog[1] == 2 && dlog[2] == 3);
	CHECK(l2s_delivery_on_data(&r, 2, &b, 1, log_deliver, NULL) == 0); /* already delivered */
	CHECK(l2s_delivery_ack_pending(&r));  /* answered all the same */
	CHECK(r.rx_duplicates == 2);
	l2s_delivery_build_ack(&r, &ne, &sack);
	CHECK(ne == 4 && sack == (uint64_t)1 << 60);
	l2s_delivery_free(&r);
	CHECK(r.buffered == 0 && r.reorder.head == NULL && r.next_expected == 1);
}

/* A state with both queues non-empty, exported. */
static uint8_t *sample_blob(const struct l2s_config *cfg, size_t *len)
{
	struct l2s_delivery d;
	uint8_t buf[40];
	uint64_t seq, seqs[16];
	size_t n;
	uint8_t *blob;

	dinit(&d, cfg);
	for (int i = 0; i < 6; i++) {
		memset(buf, 'a' + i, sizeof(buf));
		CHECK(l2s_delivery_enqueue(&d, buf, (size_t)i * 5, &seq) == L2S_OK);
	}
	send_all_due(&d, 0, seqs, &n);
	CHECK(l2s_delivery_on_ack(&d, 2, 1u << 1, NULL, NULL) == 1); /* leaves 2 .. 6, 3 SACKed */
	memset(buf, 'z', sizeof(buf));
	CHECK(l2s_delivery_on_data(&d, 4, buf, 7, log_deliver, NULL) == 0);
	CHECK(l2s_delivery_on_data(&d, 9, buf, 0, log_deliver, NULL) == 0);
	*len = l2s_delivery_export_size(&d);
	blob = malloc(*len);
	CHECK(l2s_delivery_export(&d, 0, blob, *len, &n) == L2S_OK && n == *len);
	l2s_delivery_free(&d);
	return blob;
}

static void test_export_import(void)
{
	struct l2s_config cfg;
	struct l2s_delivery d;
	size_t len, n, out_len = 0;
	uint8_t *blob, *again;
	uint64_t seqs[16], seq, ne, sack;

	default_cfg(&cfg);
	blob = sample_blob(&cfg, &len);
	/* 57 fixed + queue (2:5 3:10 4:15 5:20 6:25 bytes) + buffer (4:7 9:0). */
	CHECK(len == 57 + 5 * 12 + 75 + 2 * 12 + 7);
	dinit(&d, &cfg);
	CHECK(l2s_delivery_export(&d, 0, blob, 56, &out_len) == L2S_ERR_LENGTH && out_len == 57);
	CHECK(l2s_delivery_import(&d, blob, len) == L2S_OK);
	CHECK(d.next_seq == 7 && d.queued == 5 && d.queued_bytes == 75);
	CHECK(d.next_expected == 1 && d.buffered == 2 && d.buffered_bytes == 7);
	CHECK(l2s_delivery_ack_pending(&d));
	/* Exporting again gives the same bytes. */
	again = malloc(len);
	CHECK(l2s_delivery_export(&d, 0, again, len, &n) == L2S_OK && n == len);
	CHECK(memcmp(again, blob, len) == 0);
	free(again);
	/* Continue: everything queued is due at once, seqs go on from 7. */
	send_all_due(&d, 5, seqs, &n);
	CHECK(n == 5 && seqs[0] == 2 && seqs[1] == 3 && seqs[2] == 4 && seqs[4] == 6);
	CHECK(d.queue.head->len == 5 && d.queue.head->data[0] == 'b');
	CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_OK && seq == 7);
	l2s_delivery_build_ack(&d, &ne, &sack);
	CHECK(ne == 1 && sack == ((1u << 2) | (1u << 7)));
	dlog_n = 0;
	CHECK(l2s_delivery_on_data(&d, 1, NULL, 0, log_deliver, NULL) == 1);
	CHECK(l2s_delivery_on_data(&d, 3, NULL, 0, log_deliver, NULL) == 0);
	CHECK(l2s_delivery_on_data(&d, 2, NULL, 0, log_deliver, NULL) == 3); /* 2, 3, then held 4 */
	CHECK(dlog_n == 4 && dlog[3] == 4 && d.next_expected == 5);
	/* Importing into a used state is refused. */
	CHECK(l2s_delivery_import(&d, blob, len) == L2S_ERR_STATE);
	l2s_delivery_free(&d);
	free(blob);
}

/* A checkpoint is exported with a seq reserve; its import owes the peer a
 * SYNC over the gap: not while older messages are queued (the peer must not
 * skip them), at once when the ACK frees the last of them, then re-sent
 * with a doubling timeout until an ACK reaches the reserved next_seq. */
static void test_reserve_and_sync(void)
{
	struct l2s_config cfg;
	struct l2s_delivery d;
	uint8_t blob[128];
	uint64_t seqs[16], seq;
	size_t len, n;

	default_cfg(&cfg);
	dinit(&d, &cfg);
	for (int i = 0; i < 3; i++)
		CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_OK);
	send_all_due(&d, 0, seqs, &n);
	CHECK(l2s_delivery_on_ack(&d, 2, 0, NULL, NULL) == 1);
	CHECK(l2s_delivery_export(&d, 1000, blob, sizeof(blob), &len) == L2S_OK);
	CHECK(l2s_get_u64(blob + 1 + 2 * L2S_STREAM_ID_BYTES) == 1004);
	l2s_delivery_free(&d);

	dinit(&d, &cfg);
	CHECK(l2s_delivery_import(&d, blob, len) == L2S_OK);
	CHECK(d.next_seq == 1004 && d.sync_base == 1004);
	CHECK(!l2s_delivery_sync_due(&d, 0)); /* 2 and 3 are still queued */
	CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_OK && seq == 1004);
	send_all_due(&d, 10, seqs, &n);
	CHECK(n == 2 && seqs[0] == 2 && seqs[1] == 3); /* 1004 waits behind them */
	l2s_delivery_sync_sent(&d, 10);                /* a SYNC(2): arms nothing */
	CHECK(!l2s_delivery_sync_due(&d, 10) && l2s_delivery_next_deadline(&d) == 210);
	CHECK(l2s_delivery_on_ack(&d, 3, 0, NULL, NULL) == 1);
	CHECK(!l2s_delivery_sync_due(&d, 20));
	CHECK(l2s_delivery_on_ack(&d, 4, 0, NULL, NULL) == 1); /* the last one below the gap */
	CHECK(l2s_delivery_sync_due(&d, 20) && l2s_delivery_send_base(&d) == 1004);
	send_all_due(&d, 20, seqs, &n);
	CHECK(n == 1 && seqs[0] == 1004);
	l2s_delivery_sync_sent(&d, 20);
	CHECK(!l2s_delivery_sync_due(&d, 219) && l2s_delivery_sync_due(&d, 220));
	CHECK(l2s_delivery_next_deadline(&d) == 220);
	l2s_delivery_sync_sent(&d, 220); /* lost: re-sent after twice the timeout */
	CHECK(!l2s_delivery_sync_due(&d, 619) && l2s_delivery_sync_due(&d, 620));
	CHECK(l2s_delivery_on_ack(&d, 4, 0, NULL, NULL) == 0 && l2s_delivery_sync_due(&d, 620));
	CHECK(l2s_delivery_on_ack(&d, 1004, 0, NULL, NULL) == 0); /* the peer stepped over */
	CHECK(d.sync_base == 0 && !l2s_delivery_sync_due(&d, 10000));
	CHECK(l2s_delivery_next_deadline(&d) == 220); /* 1004's own timer only */
	/* Re-established: a SYNC for where the stream stands, until acknowledged. */
	l2s_delivery_want_sync(&d);
	CHECK(d.sync_base == 1004 && l2s_delivery_sync_due(&d, 0));
	CHECK(l2s_delivery_on_ack(&d, 1005, 0, NULL, NULL) == 1 && d.sync_base == 0);
	/* The reserve stops at the largest seq. */
	d.next_seq = L2S_DELIVERY_MAX_SEQ - 5;
	CHECK(l2s_delivery_export(&d, L2S_DELIVERY_SEQ_RESERVE, blob, sizeof(blob), &len) == L2S_OK);
	CHECK(l2s_get_u64(blob + 1 + 2 * L2S_STREAM_ID_BYTES) == L2S_DELIVERY_MAX_SEQ);
	l2s_delivery_free(&d);
}

/* The receiving end of a SYNC: held messages below send_base were SACKed
 * and freed by the sender, so they are delivered (never dropped), in order,
 * stepping over the gap; every SYNC is answered with an ACK. */
static void test_sync_receiver(void)
{
	struct l2s_config cfg;
	struct l2s_delivery r;
	uint64_t ne, sack;

	default_cfg(&cfg);
	dinit(&r, &cfg);
	dlog_n = 0;
	CHECK(l2s_delivery_on_data(&r, 5, NULL, 0, log_deliver, NULL) == 0);
	CHECK(l2s_delivery_on_data(&r, 7, NULL, 0, log_deliver, NULL) == 0);
	l2s_delivery_build_ack(&r, &ne, &sack);
	CHECK(l2s_delivery_sync(&r, STREAM_A, 6, log_deliver, NULL) == 1);
	CHECK(dlog_n == 1 && dlog[0] == 5 && r.next_expected == 6 && r.buffered == 1);
	CHECK(l2s_delivery_ack_pending(&r));
	l2s_delivery_build_ack(&r, &ne, &sack);
	CHECK(ne == 6 && sack == 1);
	CHECK(l2s_delivery_sync(&r, STREAM_A, 6, log_deliver, NULL) == 0 && l2s_delivery_ack_pending(&r)); /* re-sent */
	l2s_delivery_build_ack(&r, &ne, &sack);
	CHECK(l2s_delivery_sync(&r, STREAM_A, 2, log_deliver, NULL) == 0 && l2s_delivery_ack_pending(&r)); /* stale */
	CHECK(l2s_delivery_sync(&r, STREAM_A, 9, log_deliver, NULL) == 1);
	CHECK(dlog_n == 2 && dlog[1] == 7 && r.next_expected == 9 && r.buffered == 0);
	CHECK(l2s_delivery_on_data(&r, 9, NULL, 0, log_deliver, NULL) == 1 && dlog[2] == 9);
	l2s_delivery_free(&r);
}

/* Streams: after want_sync the receiver takes no DATA and sends no ACK until
 * a SYNC names the stream; the same stream continues, another one starts
 * from nothing; a SYNC with a zero stream id is ignored. */
static void test_sync_streams(void)
{
	struct l2s_config cfg;
	struct l2s_delivery r;
	uint64_t ne, sack;

	default_cfg(&cfg);
	dinit(&r, &cfg);
	dlog_n = 0;
	CHECK(l2s_delivery_sync(&r, STREAM_A, 1, log_deliver, NULL) == 0);
	CHECK(l2s_delivery_on_data(&r, 1, NULL, 0, log_deliver, NULL) == 1);
	CHECK(l2s_delivery_on_data(&r, 2, NULL, 0, log_deliver, NULL) == 1 && r.next_expected == 3);
	l2s_delivery_build_ack(&r, &ne, &sack);
	/* Re-established: DATA waits for the SYNC, and nothing is acknowledged. */
	l2s_delivery_want_sync(&r);
	CHECK(l2s_delivery_on_data(&r, 3, NULL, 0, log_deliver, NULL) == 0 && !l2s_delivery_ack_pending(&r));
	CHECK(dlog_n == 2 && r.buffered == 0);
	/* A zero stream id names nothing. */
	{
		static const uint8_t zero[L2S_STREAM_ID_BYTES];

		CHECK(l2s_delivery_sync(&r, zero, 3, log_deliver, NULL) == 0 && r.rx_unsure);
	}
	/* The same stream: what was delivered stays delivered. */
	CHECK(l2s_delivery_sync(&r, STREAM_A, 2, log_deliver, NULL) == 0 && !r.rx_unsure && r.next_expected == 3);
	CHECK(l2s_delivery_on_data(&r, 2, NULL, 0, log_deliver, NULL) == 0 && r.rx_duplicates == 1);
	CHECK(l2s_delivery_on_data(&r, 3, NULL, 0, log_deliver, NULL) == 1 && dlog_n == 3);
	/* Another stream (the peer lost its state): counted from its SYNC on. */
	CHECK(l2s_delivery_on_data(&r, 5, NULL, 0, log_deliver, NULL) == 0 && r.buffered == 1);
	l2s_delivery_want_sync(&r);
	CHECK(l2s_delivery_sync(&r, STREAM_B, 1, log_deliver, NULL) == 0);
	CHECK(r.next_expected == 1 && r.buffered == 0 && memcmp(r.rx_stream, STREAM_B, sizeof(STREAM_B)) == 0);
	CHECK(l2s_delivery_on_data(&r, 1, NULL, 0, log_deliver, NULL) == 1 && dlog_n == 4 && dlog[3] == 1);
	l2s_delivery_free(&r);
}

/* A session that replaces another continues its streams: seqs, queue and
 * receive state move over, its own queued messages follow with new seqs,
 * and the old one is left empty. */
static void test_take_over(void)
{
	struct l2s_config cfg;
	struct l2s_delivery old, d;
	uint64_t seq, seqs[16];
	size_t n;

	default_cfg(&cfg);
	dinit(&old, &cfg);
	dinit(&d, &cfg);
	l2s_delivery_begin_stream(&old, STREAM_A);
	l2s_delivery_begin_stream(&old, STREAM_B); /* named once */
	CHECK(memcmp(old.tx_stream, STREAM_A, sizeof(STREAM_A)) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(l2s_delivery_enqueue(&old, (const uint8_t *)"abc", 3, &seq) == L2S_OK);
	send_all_due(&old, 0, seqs, &n);
	CHECK(l2s_delivery_on_ack(&old, 2, 0, NULL, NULL) == 1);
	CHECK(l2s_delivery_on_data(&old, 1, NULL, 0, log_deliver, NULL) == 1);
	CHECK(l2s_delivery_enqueue(&d, (const uint8_t *)"new", 3, &seq) == L2S_OK && seq == 1);
	l2s_delivery_take_over(&d, &old);
	CHECK(memcmp(d.tx_stream, STREAM_A, sizeof(STREAM_A)) == 0 && d.next_expected == 2);
	CHECK(d.queued == 3 && d.queued_bytes == 9 && d.next_seq == 5);
	CHECK(d.queue.head->seq == 2 && d.queue.tail->seq == 4 && memcmp(d.queue.tail->data, "new", 3) == 0);
	CHECK(old.queued == 0 && !old.queue.head && old.next_seq == 1);
	/* Everything is due again, in order. */
	l2s_delivery_resend_all(&d);
	send_all_due(&d, 10, seqs, &n);
	CHECK(n == 3 && seqs[0] == 2 && seqs[1] == 3 && seqs[2] == 4);
	l2s_delivery_free(&d);
	l2s_delivery_free(&old);
}

/* Sets a big-endian field of a copy of blob, imports it and expects err. */
static int import_patched(const struct l2s_config *cfg, const uint8_t *blob, size_t len, size_t off, int width,
			  uint64_t v)
{
	struct l2s_delivery d;
	uint8_t *b = malloc(len);
	int err;

	memcpy(b, blob, len);
	if (width == 1)
		b[off] = (uint8_t)v;
	else if (width == 4)
		l2s_put_u32(b + off, (uint32_t)v);
	else
		l2s_put_u64(b + off, v);
	dinit(&d, cfg);
	err = l2s_delivery_import(&d, b, len);
	/* Whatever happened, d is consistent and empty on error. */
	if (err != L2S_OK && (d.queue.head || d.reorder.head || d.queued || d.buffered))
		err = 1000;
	l2s_delivery_free(&d);
	free(b);
	return err;
}

static void test_import_malformed(void)
{
	struct l2s_config cfg;
	struct l2s_delivery d;
	size_t len;
	uint8_t *blob, *longer;
	int bad = 0;
	/* Offsets in the sample (after the version and the two 16-byte stream
	 * ids): queue records at 53 (seq 2, len 5), 70 (3), 92 (4), 119 (5),
	 * 151 (6); n_buffered at 188; buffer records at 192 (4), 211 (9). */
	const size_t S = 2 * L2S_STREAM_ID_BYTES;
	const size_t q0 = 53, q1 = 70, nbuf = 188, b0 = 192, b1 = 211;

	default_cfg(&cfg);
	blob = sample_blob(&cfg, &len);
	CHECK(l2s_get_u64(blob + q0) == 2 && l2s_get_u64(blob + q1) == 3);
	CHECK(l2s_get_u32(blob + nbuf) == 2 && l2s_get_u64(blob + b0) == 4 && l2s_get_u64(blob + b1) == 9);
	CHECK(import_patched(&cfg, blob, len, 0, 1, 2) == L2S_OK);

	/* Every truncation, and one byte too many. */
	for (size_t cut = 0; cut < len; cut++) {
		dinit(&d, &cfg);
		if (l2s_delivery_import(&d, blob, cut) != L2S_ERR_DECODE || d.queued || d.buffered)
			bad++;
		l2s_delivery_free(&d);
	}
	CHECK(bad == 0);
	longer = calloc(len + 1, 1);
	memcpy(longer, blob, len);
	dinit(&d, &cfg);
	CHECK(l2s_delivery_import(&d, longer, len + 1) == L2S_ERR_DECODE);
	CHECK(l2s_delivery_import(&d, blob, len) == L2S_OK); /* d still usable */
	l2s_delivery_free(&d);
	free(longer);

	CHECK(import_patched(&cfg, blob, len, 0, 1, 1) == L2S_ERR_DECODE);        /* version 1 */
	CHECK(import_patched(&cfg, blob, len, 0, 1, 3) == L2S_ERR_DECODE);        /* version 3 */
	CHECK(import_patched(&cfg, blob, len, S + 1, 8, 0) == L2S_ERR_DECODE);        /* next_seq 0 */
	CHECK(import_patched(&cfg, blob, len, S + 1, 8, 6) == L2S_ERR_DECODE);        /* queued seq 6 >= next_seq */
	CHECK(import_patched(&cfg, blob, len, S + 1, 8, L2S_DELIVERY_MAX_SEQ + 1) == L2S_ERR_DECODE);
	CHECK(import_patched(&cfg, blob, len, S + 9, 8, 0) == L2S_ERR_DECODE);        /* next_expected 0 */
	CHECK(import_patched(&cfg, blob, len, S + 9, 8, 4) == L2S_ERR_DECODE);        /* buffered 4 not above */
	CHECK(import_patched(&cfg, blob, len, S + 9, 8, 3) == L2S_OK);
	CHECK(import_patched(&cfg, blob, len, S + 17, 4, 6) == L2S_ERR_DECODE);       /* n_queued */
	CHECK(import_patched(&cfg, blob, len, S + 17, 4, 4) == L2S_ERR_DECODE);
	CHECK(import_patched(&cfg, blob, len, S + 17, 4, UINT32_MAX) == L2S_ERR_DECODE);
	CHECK(import_patched(&cfg, blob, len, q0, 8, 0) == L2S_ERR_DECODE);       /* seq 0 */
	CHECK(import_patched(&cfg, blob, len, q0, 8, 3) == L2S_ERR_DECODE);       /* not ascending */
	CHECK(import_patched(&cfg, blob, len, q1, 8, 2) == L2S_ERR_DECODE);
	CHECK(import_patched(&cfg, blob, len, q0 + 8, 4, 6) == L2S_ERR_DECODE);   /* len shifts records */
	CHECK(import_patched(&cfg, blob, len, q0 + 8, 4, L2S_MAX_PAYLOAD + 1) == L2S_ERR_DECODE);
	CHECK(import_patched(&cfg, blob, len, q0 + 8, 4, UINT32_MAX) == L2S_ERR_DECODE);
	CHECK(import_patched(&cfg, blob, len, nbuf, 4, 3) == L2S_ERR_DECODE);
	CHECK(import_patched(&cfg, blob, len, nbuf, 4, 1) == L2S_ERR_DECODE);     /* trailing record */
	CHECK(import_patched(&cfg, blob, len, b0, 8, 1) == L2S_ERR_DECODE);       /* = next_expected */
	CHECK(import_patched(&cfg, blob, len, b1, 8, 4) == L2S_ERR_DECODE);       /* not ascending */
	CHECK(import_patched(&cfg, blob, len, b1, 8, L2S_DELIVERY_MAX_SEQ) == L2S_ERR_DECODE);
	CHECK(import_patched(&cfg, blob, len, b1, 8, L2S_DELIVERY_MAX_SEQ - 1) == L2S_OK);
	/* Random corruption never crashes and never half-imports. */
	rs = 99;
	for (int i = 0; i < 20000; i++) {
		size_t off = rnd() % len;
		int err = import_patched(&cfg, blob, len, off, 1, rnd() & 0xff);

		if (err != L2S_OK && err != L2S_ERR_DECODE)
			bad++;
	}
	CHECK(bad == 0);
	free(blob);
}

/* An import above the queue limits keeps everything and refuses new messages. */
static void test_import_over_limits(void)
{
	struct l2s_config cfg, tiny;
	struct l2s_delivery d;
	uint8_t *blob;
	size_t len;
	uint64_t seq;

	default_cfg(&cfg);
	blob = sample_blob(&cfg, &len);
	tiny = cfg;
	tiny.send_queue_limit = 2;
	tiny.send_queue_bytes_limit = 10;
	dinit(&d, &tiny);
	CHECK(l2s_delivery_import(&d, blob, len) == L2S_OK);
	CHECK(d.queued == 5);
	CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_ERR_QUEUE_FULL);
	CHECK(l2s_delivery_on_ack(&d, 6, 0, NULL, NULL) == 4);
	CHECK(d.queued == 1 && d.queued_bytes == 25);
	CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_ERR_QUEUE_FULL); /* bytes */
	CHECK(l2s_delivery_on_ack(&d, 7, 0, NULL, NULL) == 1);
	CHECK(l2s_delivery_enqueue(&d, NULL, 0, &seq) == L2S_OK && seq == 7);
	l2s_delivery_free(&d);
	free(blob);
}

int main(void)
{
	test_queue_limits();
	test_rto_and_window();
	test_peer_window();
	test_byte_window();
	test_parking();
	test_rto_clamp();
	test_resend_all_order();
	test_ack_rules();
	test_receive_rules();
	test_export_import();
	test_sync_streams();
	test_take_over();
	test_reserve_and_sync();
	test_sync_receiver();
	test_import_malformed();
	test_import_over_limits();
	test_simulations();
	printf("sizeof(struct l2s_delivery) = %zu, sizeof(struct l2s_dmsg) = %zu\n", sizeof(struct l2s_delivery),
	       sizeof(struct l2s_dmsg));
	return tu_finish("delivery");
}
