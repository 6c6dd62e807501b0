/* SPDX-License-Identifier: Apache-2.0
 *
 * sim.c - deterministic simulation of the real engine under random faults
 * (the approach of FoundationDB's simulator and TigerBeetle's VOPR).
 *
 * One seed fixes everything: 2 to 4 nodes of the sans-IO engine (l2s.h,
 * real crypto, deterministic RNGs), their session configs, a simulated
 * clock and a fault schedule: loss, duplication, reordering, delay and
 * jitter, one- and two-way partitions, transport failure and fallback,
 * crashes restored from the last or an older checkpoint (StoredSession),
 * forced and colliding rotations, both sides establishing at once, cookies
 * under load and new prekeys. A driver plays the part of the event loop
 * (race.c, carry.c): it keeps a session with each peer, moves it between two
 * transports and checkpoints it.
 *
 * Checked all the time (safety): every message the application gets was
 * sent, in order, at most once (after the inbox's restart filter, as the
 * loop applies it); no (key, nonce) is used twice; every state event is a
 * transition of the table and starts where the session was; queues stay
 * within their bounds. Checked once the faults stop (liveness): within
 * recovery_bound() of simulated time every pair is established again on
 * both sides with the same session, and every accepted message that no
 * crash took back is delivered.
 *
 * Usage: sim [-v] SEED          one seed, its event trace with -v
 *        sim -n COUNT [-s FIRST] [-x SEED,SEED...]
 *                                COUNT seeds from FIRST, skipping the listed
 *                                ones; the failures are listed with their
 *                                one-line reproduction.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l2s.h"
#include "engine/node.h" /* white-box, for check_nonce only: which key pair sealed a frame */

#define MAX_NODES 4
#define MAX_HANDLES 8   /* live sessions a node may hold for one peer */
#define MAX_CKPT 4      /* checkpoints kept per peer */
#define MAX_IDS 4096    /* messages per direction in one run */
#define NONCE_SLOTS (1u << 16)
#define TRACE_LINES 4096
#define STORED_CAP (1u << 20)
#define MAX_MARKS 16    /* inbox watermarks kept per peer */

/* ---- deterministic randomness ------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static uint64_t rnd_range(uint64_t lo, uint64_t hi)
{
	return lo + rnd_below(hi - lo + 1);
}

/* 1 with probability per_mille / 1000. */
static int chance(uint32_t per_mille)
{
	return rnd_below(1000) < per_mille;
}

/* ---- the run's record ---------------------------------------------------------- */

static uint64_t now; /* simulated milliseconds */
static int verbose, failed;
static char trace_buf[TRACE_LINES][160];
static unsigned trace_n;
static char failure[256];

static void trace(const char *fmt, ...)
{
	char *line = trace_buf[trace_n++ % TRACE_LINES];
	va_list ap;
	int n = snprintf(line, 160, "%9" PRIu64 " ", now);

	va_start(ap, fmt);
	vsnprintf(line + n, (size_t)(160 - n), fmt, ap);
	va_end(ap);
	if (verbose)
		printf("%s\n", line);
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (failed)
		return;
	failed = 1;
	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
	trace("FAIL %s", failure);
}

/* ---- the world ------------------------------------------------------------------- */

struct ckpt {
	uint8_t *blob;
	size_t len;
	uint32_t next_id; /* the application's next message id at the checkpoint */
	int used;         /* restored once already: a checkpoint is restored at most once */
};

/* What node i knows about peer j. */
struct peer {
	uint32_t handles[MAX_HANDLES];
	uint8_t state[MAX_HANDLES];        /* the last state the events told */
	uint8_t was_established[MAX_HANDLES];
	int nhandles;
	int transport;                     /* 0 or 1: the path the driver uses */
	uint64_t reconnect_at;             /* 0: none pending */
	struct ckpt ckpt[MAX_CKPT];
	int nckpt;
	uint32_t imported;                 /* restored session awaiting its first state, for bundles */
	/* sending to j */
	uint32_t next_id;
	uint8_t forgiven[MAX_IDS];         /* lost with a crash of this node before a checkpoint held it */
	/* receiving from j */
	uint32_t last_id;                  /* highest id delivered, in order */
	uint8_t got[MAX_IDS];
	struct mark {
		uint8_t stream[L2S_STREAM_ID_BYTES];
		uint64_t seq;
	} marks[MAX_MARKS];                /* the inbox's watermark per stream of j's */
	int nmarks;
	struct mark filter[MAX_MARKS];     /* the marks at the last restart: what the inbox had */
	int nfilter;
};

struct node {
	struct l2s_node *n;
	int up;
	uint32_t incarnation;
	uint8_t pk[32], sk[64];
	uint8_t prekey_seed[32];
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_config cfg;
	uint64_t restart_at, next_ckpt;
	struct peer peer[MAX_NODES];
	int batching;
};

/* One direction of a pair's link. */
struct link {
	uint64_t partitioned_until;
};

/* A transport of a pair (both directions). */
struct transport {
	uint64_t down_until; /* failed: everything on it is lost */
	int reported_down;
};

struct packet {
	uint64_t at, order;
	int from, to, t;
	size_t len;
	uint8_t *data;
};

struct params {
	int nodes;
	int both_connect;           /* every pair has both sides connecting */
	uint32_t loss, dup, reorder; /* per mille */
	uint64_t delay, jitter;     /* ms */
	uint64_t fault_end;         /* faults stop here */
	uint64_t send_every;        /* mean ms between application messages */
	uint32_t partition_rate, crash_rate, rotate_rate, transport_rate, path_move_rate; /* per mille per second */
	uint32_t twin_crash_rate;   /* both sides of a pair crash and restart together: their
	                             * restored sessions resume, and fall back, at one instant */
	uint32_t lost_ckpt;         /* per mille of restores whose checkpoint is gone */
	uint32_t bad_ckpt;          /* per mille of restores whose checkpoint is corrupted */
	int storm;                  /* restarts within 10-300 ms: storms of restarts */
	uint32_t old_ckpt;          /* per mille of restores from an older checkpoint */
	uint32_t new_prekey;        /* per mille of restarts with a new prekey */
	uint32_t load_limit;        /* half-open handshakes before cookies (small: cookies on) */
	int batch;                  /* deliver in receive batches */
	int reliable;               /* the nodes run with reliable_paths: a link loses,
	                             * duplicates or reorders nothing while it is up */
	uint64_t ckpt_every;
};

static struct params P;
static struct node nodes[MAX_NODES];
static struct link links[MAX_NODES][MAX_NODES];
static struct transport transports[MAX_NODES][MAX_NODES][2];
static struct packet **heap;
static size_t heap_n, heap_cap;
static uint64_t packet_order;
static uint8_t stored_buf[STORED_CAP];

/* Nonces used: a key pair is named by its sender, the receiver_index its
 * messages carry and the sender's own index for it (the receiver may pick a
 * dropped index again for new keys: random 32-bit indices do recur, seed
 * 754244), and seals with strictly increasing counters; a counter not above
 * the last one under the same key pair is a nonce used twice. */
struct nonce_slot {
	uint64_t key;
	uint32_t own;
	uint64_t last;
	uint8_t used;
};
static struct nonce_slot *nonces;
static size_t nonce_keys;

/* ---- packet heap ------------------------------------------------------------------- */

static int before(const struct packet *a, const struct packet *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void heap_push(struct packet *p)
{
	size_t i;

	if (heap_n == heap_cap) {
		heap_cap = heap_cap ? 2 * heap_cap : 1024;
		heap = realloc(heap, heap_cap * sizeof(*heap));
		if (!heap)
			abort();
	}
	i = heap_n++;
	heap[i] = p;
	while (i && before(heap[i], heap[(i - 1) / 2])) {
		struct packet *t = heap[i];

		heap[i] = heap[(i - 1) / 2];
		heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct packet *heap_pop(void)
{
	struct packet *top = heap[0];
	size_t i = 0;

	heap[0] = heap[--heap_n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < heap_n && before(heap[l], heap[m]))
			m = l;
		if (r < heap_n && before(heap[r], heap[m]))
			m = r;
		if (m == i)
			break;
		struct packet *t = heap[i];

		heap[i] = heap[m];
		heap[m] = t;
		i = m;
	}
	return top;
}

static void packet_free(struct packet *p)
{
	free(p->data);
	free(p);
}

/* ---- paths -------------------------------------------------------------------------- */

/* Node i's name for its path to peer j over transport t. */
static uint32_t path_id(int j, int t)
{
	return 1 + (uint32_t)j * 2 + (uint32_t)t;
}

static int path_peer(uint32_t path)
{
	return (int)((path - 1) / 2);
}

static int path_transport(uint32_t path)
{
	return (int)((path - 1) % 2);
}

static void addr_of(int i, uint8_t addr[8])
{
	memcpy(addr, "simnode", 7);
	addr[7] = (uint8_t)('0' + i);
}

/* ---- faults on the wire ----------------------------------------------------------- */

static int faulty(void)
{
	return now < P.fault_end;
}

static uint64_t last_arrival[MAX_NODES][MAX_NODES][2];

/* A stream delivers in order: jitter never lets a message overtake. */
static uint64_t arrival(int from, int to, int t, uint64_t at)
{
	if (P.reliable && at < last_arrival[from][to][t])
		at = last_arrival[from][to][t];
	last_arrival[from][to][t] = at;
	return at;
}

static uint64_t link_delay(void)
{
	uint64_t d = P.delay;

	if (faulty()) {
		d += rnd_below(P.jitter + 1);
		if (chance(P.reorder))
			d += rnd_below(4 * P.jitter + 50);
	}
	return d;
}

/* The sender's own index of the key pair that sealed a frame to idx, 0 if
 * it is gone already. */
static uint32_t sealing_pair(int from, uint32_t idx)
{
	const struct l2s_node *n = nodes[from].n;

	for (uint32_t i = 0; n && i < n->max_sessions; i++) {
		const struct l2s_session *s = n->slots[i];

		for (int k = 0; s && k < KP_COUNT; k++)
			if (s->kp_valid[k] && s->kp[k].remote_index == idx)
				return s->kp[k].local_index;
	}
	return 0;
}

static void check_nonce(int from, const uint8_t *msg, size_t len)
{
	uint64_t key, counter = 0;
	uint32_t idx, h, own;

	if (len < 32 || msg[1] != 4) /* TRANSPORT */
		return;
	/* receiver_index and counter, big-endian (PROTOCOL.md §2, §5) */
	idx = (uint32_t)msg[4] << 24 | (uint32_t)msg[5] << 16 | (uint32_t)msg[6] << 8 | (uint32_t)msg[7];
	for (int b = 0; b < 8; b++)
		counter = counter << 8 | msg[8 + b];
	key = (uint64_t)from << 32 | idx;
	own = sealing_pair(from, idx);
	for (h = (uint32_t)(((key ^ (uint64_t)own << 29) * 0x9e3779b97f4a7c15ULL) >> 40) & (NONCE_SLOTS - 1);;
	     h = (h + 1) & (NONCE_SLOTS - 1)) {
		struct nonce_slot *s = &nonces[h];

		if (!s->used) {
			if (nonce_keys >= NONCE_SLOTS / 2) {
				fail("more than %u key pairs in one run", NONCE_SLOTS / 2);
				return;
			}
			nonce_keys++;
			s->used = 1;
			s->key = key;
			s->own = own;
			s->last = counter;
			return;
		}
		if (s->key == key && s->own == own) {
			if (counter <= s->last)
				fail("nonce reuse: node %d index %08x counter %" PRIu64 " after %" PRIu64, from, idx, counter,
				     s->last);
			s->last = counter;
			return;
		}
	}
}

static void nonce_table_reset(void)
{
	memset(nonces, 0, NONCE_SLOTS * sizeof(*nonces));
	nonce_keys = 0;
}

static void wire_send(int from, int to, int t, const uint8_t *data, size_t len)
{
	int copies = 1;

	check_nonce(from, data, len);
	if (faulty()) {
		if (chance(P.loss))
			return;
		if (chance(P.dup))
			copies = 2;
	}
	if (links[from][to].partitioned_until > now || transports[from < to ? from : to][from < to ? to : from][t].down_until > now)
		return;
	while (copies--) {
		struct packet *p = calloc(1, sizeof(*p));

		if (!p || !(p->data = malloc(len)))
			abort();
		memcpy(p->data, data, len);
		p->len = len;
		p->from = from;
		p->to = to;
		p->t = t;
		p->at = arrival(from, to, t, now + link_delay());
		p->order = packet_order++;
		heap_push(p);
	}
}

/* ---- application accounting -------------------------------------------------------- */

static int handle_slot(const struct peer *pe, uint32_t h)
{
	for (int k = 0; k < pe->nhandles; k++)
		if (pe->handles[k] == h)
			return k;
	return -1;
}

static void handle_add(struct node *nd, int j, uint32_t h, int state)
{
	struct peer *pe = &nd->peer[j];

	if (handle_slot(pe, h) >= 0)
		return;
	if (pe->nhandles == MAX_HANDLES) {
		fail("node %d holds more than %d sessions for peer %d", (int)(nd - nodes), MAX_HANDLES, j);
		return;
	}
	pe->handles[pe->nhandles] = h;
	pe->state[pe->nhandles] = (uint8_t)state;
	pe->was_established[pe->nhandles] = 0;
	pe->nhandles++;
}

static void handle_del(struct peer *pe, int k)
{
	pe->nhandles--;
	pe->handles[k] = pe->handles[pe->nhandles];
	pe->state[k] = pe->state[pe->nhandles];
	pe->was_established[k] = pe->was_established[pe->nhandles];
}

/* The session the application sends on: an established one, else one that
 * was established once (it queues), newest first. 0 when none. */
static uint32_t send_handle(const struct peer *pe)
{
	uint32_t best = 0;

	for (int k = 0; k < pe->nhandles; k++)
		if (pe->state[k] == L2S_ESTABLISHED)
			return pe->handles[k];
	for (int k = 0; k < pe->nhandles; k++)
		if (pe->was_established[k])
			best = pe->handles[k];
	return best;
}

static int peer_of_pk(const uint8_t pk[32])
{
	for (int j = 0; j < P.nodes; j++)
		if (memcmp(nodes[j].pk, pk, 32) == 0)
			return j;
	return -1;
}

static void app_send(int i, int j)
{
	struct peer *pe = &nodes[i].peer[j];
	uint32_t h = send_handle(pe);
	uint8_t msg[64];
	size_t len;
	uint64_t seq;
	int ret;

	if (!h || pe->next_id >= MAX_IDS)
		return;
	len = 12 + rnd_below(sizeof(msg) - 12);
	memset(msg, 0xa5, len);
	msg[0] = (uint8_t)i;
	msg[1] = (uint8_t)j;
	memcpy(msg + 4, &pe->next_id, 4);
	ret = l2s_session_send(nodes[i].n, h, msg, len, now, &seq);
	if (ret == L2S_OK) {
		trace("app %d->%d id %u seq %" PRIu64 " on %u", i, j, pe->next_id, seq, h);
		pe->next_id++;
	} else if (ret != L2S_ERR_QUEUE_FULL) {
		fail("node %d: send to %d on %u: %s", i, j, h, l2s_strerror(ret));
	}
}

/* The inbox line of a delivered message raises its stream's watermark. */
static void inbox_mark(struct peer *pe, const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t seq)
{
	int k;

	for (k = 0; k < pe->nmarks; k++)
		if (memcmp(pe->marks[k].stream, stream, L2S_STREAM_ID_BYTES) == 0)
			break;
	if (k == pe->nmarks) {
		if (pe->nmarks == MAX_MARKS) {
			memmove(pe->marks, pe->marks + 1, (MAX_MARKS - 1) * sizeof(pe->marks[0]));
			k = --pe->nmarks;
		}
		pe->nmarks++;
		memcpy(pe->marks[k].stream, stream, L2S_STREAM_ID_BYTES);
		pe->marks[k].seq = 0;
	}
	if (seq > pe->marks[k].seq)
		pe->marks[k].seq = seq;
}

/* The application's side of the engine's contract (PROTOCOL.md §10): after
 * a restart the engine may deliver again what a restored receiver had
 * delivered; the durable inbox's watermark per stream filters it. */
static int inbox_had(const struct peer *pe, const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t seq)
{
	for (int k = 0; k < pe->nfilter; k++)
		if (memcmp(pe->filter[k].stream, stream, L2S_STREAM_ID_BYTES) == 0)
			return seq <= pe->filter[k].seq;
	return 0;
}

static void on_message(int i, const struct l2s_event *ev)
{
	int j = peer_of_pk(ev->peer_pk);
	struct peer *pe;
	uint32_t id;

	if (j < 0 || ev->len < 12 || ev->data[0] != j || ev->data[1] != i) {
		fail("node %d: a message nobody sent (len %zu)", i, ev->len);
		return;
	}
	pe = &nodes[i].peer[j];
	if (inbox_had(pe, ev->stream, ev->seq)) {
		trace("app %d<-%d seq %" PRIu64 " filtered (inbox had it)", i, j, ev->seq);
		return;
	}
	inbox_mark(pe, ev->stream, ev->seq);
	memcpy(&id, ev->data + 4, 4);
	trace("app %d<-%d id %u seq %" PRIu64 " on %u", i, j, id, ev->seq, ev->session);
	if (id >= nodes[j].peer[i].next_id || id >= MAX_IDS) {
		fail("node %d: message id %u from %d was never sent", i, id, j);
		return;
	}
	if (pe->got[id] || (pe->last_id && id <= pe->last_id && id != 0) || (id == 0 && pe->got[0])) {
		fail("node %d: message id %u from %d again or out of order (last %u)", i, id, j, pe->last_id);
		return;
	}
	pe->got[id] = 1;
	pe->last_id = id;
}

/* ---- events ------------------------------------------------------------------------- */

static void on_state(int i, const struct l2s_event *ev)
{
	int j = peer_of_pk(ev->peer_pk);
	struct peer *pe;
	int k;

	if (j < 0) {
		fail("node %d: a session with a stranger", i);
		return;
	}
	pe = &nodes[i].peer[j];
	k = handle_slot(pe, ev->session);
	trace("node %d peer %d session %u: %s -> %s (%s)", i, j, ev->session, l2s_state_name(ev->from),
	      ev->to == L2S_STATE_END ? "[*]" : l2s_state_name(ev->to), l2s_reason_name(ev->reason));
	if ((k >= 0 && pe->state[k] != ev->from) || (k < 0 && ev->from != L2S_IDLE)) {
		fail("node %d session %u: event from %s but it was %s", i, ev->session, l2s_state_name(ev->from),
		     l2s_state_name(pe->state[k]));
		return;
	}
	if (ev->to == L2S_STATE_END) {
		int allowed = ev->reason == L2S_REASON_CLEANUP || ev->reason == L2S_REASON_CLOSED ||
			      ev->reason == L2S_REASON_REPLACED;

		if (!allowed || (ev->reason == L2S_REASON_CLEANUP &&
				 l2s_transition_allowed(ev->from, L2S_STATE_END) != L2S_OK)) {
			fail("node %d session %u: %s -> [*] (%s) is not allowed", i, ev->session,
			     l2s_state_name(ev->from), l2s_reason_name(ev->reason));
			return;
		}
		if (k >= 0)
			handle_del(pe, k);
		return;
	}
	if (l2s_transition_allowed(ev->from, ev->to) != L2S_OK) {
		fail("node %d session %u: %s -> %s is not in the table", i, ev->session, l2s_state_name(ev->from),
		     l2s_state_name(ev->to));
		return;
	}
	if (k < 0) {
		handle_add(&nodes[i], j, ev->session, ev->to);
		k = handle_slot(pe, ev->session);
		if (k < 0)
			return;
	}
	pe->state[k] = (uint8_t)ev->to;
	if (ev->to == L2S_ESTABLISHED)
		pe->was_established[k] = 1;
	/* A timed-out attempt may have used a stale prekey bundle (the peer
	 * restarted with a new prekey): fetch the current one for the retry,
	 * as a loop does in-band (PROTOCOL.md §11.3). */
	if (ev->to == L2S_FAILED && ev->reason == L2S_REASON_TIMEOUT && nodes[j].up)
		l2s_session_set_bundle(nodes[i].n, ev->session, nodes[j].bundle, L2S_PREKEY_BUNDLE_BYTES, 1800000000u);
}

static void drain_events(int i)
{
	struct l2s_event ev;

	while (l2s_node_next_event(nodes[i].n, &ev)) {
		switch (ev.type) {
		case L2S_EV_STATE:
			on_state(i, &ev);
			break;
		case L2S_EV_ACCEPTED: {
			int j = peer_of_pk(ev.peer_pk);

			if (j < 0)
				fail("node %d: accepted a stranger", i);
			else {
				trace("node %d accepted session %u from %d", i, ev.session, j);
				handle_add(&nodes[i], j, ev.session, L2S_IDLE);
				/* Either side may have to fall back to a full
				 * handshake: it knows its peers' bundles. */
				l2s_session_set_bundle(nodes[i].n, ev.session, nodes[j].bundle, L2S_PREKEY_BUNDLE_BYTES,
						       1800000000u);
			}
			break;
		}
		case L2S_EV_MESSAGE:
			on_message(i, &ev);
			break;
		case L2S_EV_CLOSED:
			fail("node %d: session %u closed by its peer (nobody closes here)", i, ev.session);
			break;
		default:
			break;
		}
	}
}

static void drain_outputs(int i)
{
	struct l2s_output o;

	while (l2s_node_next_output(nodes[i].n, &o)) {
		int j = path_peer(o.path);

		if (o.path == 0 || j < 0 || j >= P.nodes || j == i) {
			fail("node %d: output on path %u that names no peer", i, o.path);
			continue;
		}
		wire_send(i, j, path_transport(o.path), o.data, o.len);
	}
	drain_events(i);
}

/* ---- the driver (what the loop does) ------------------------------------------------ */

static int connects(int i, int j)
{
	return i < j || P.both_connect;
}

static void node_start(int i)
{
	struct node *nd = &nodes[i];
	struct l2s_node_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	memcpy(p.identity_sk, nd->sk, 64);
	memcpy(p.prekey_seed, nd->prekey_seed, 32);
	p.prekey_not_after_s = 4000000000u;
	memset(p.storage_key, 0x40 + i, 32);
	p.deterministic = 1;
	for (int b = 0; b < 32; b++)
		p.rng_seed[b] = (uint8_t)rnd();
	p.max_sessions = 64;
	p.handshake_load_limit = P.load_limit;
	p.reliable_paths = P.reliable;
	/* The node's counter only grows across restarts: the wall clock's
	 * microseconds, as node.py does. */
	p.handshake_counter = (1800000000ull * 1000 + now) * 1000 + nd->incarnation;
	ret = l2s_node_new(&nd->n, &p, now);
	if (ret != L2S_OK) {
		fail("node %d: new: %s", i, l2s_strerror(ret));
		return;
	}
	l2s_node_set_accept_config(nd->n, &nd->cfg);
	l2s_node_prekey_bundle(nd->n, nd->bundle);
	nd->up = 1;
	nd->next_ckpt = now + P.ckpt_every;
}

static void establish(int i, int j)
{
	struct node *nd = &nodes[i];
	uint32_t h;
	int ret = l2s_node_establish(nd->n, nodes[j].pk, nodes[j].bundle, L2S_PREKEY_BUNDLE_BYTES, 1800000000u,
				     &nd->cfg, path_id(j, nd->peer[j].transport), now, &h);

	trace("node %d establishes with %d: %s", i, j, l2s_strerror(ret));
	if (ret == L2S_OK)
		handle_add(nd, j, h, L2S_IDLE); /* its first state event follows */
	else if (ret != L2S_ERR_QUARANTINED)
		fail("node %d: establish with %d: %s", i, j, l2s_strerror(ret));
}

/* The loop keeps a session with each peer it connects to (race.c, carry.c). */
static void keep_sessions(int i)
{
	struct node *nd = &nodes[i];

	for (int j = 0; j < P.nodes; j++) {
		struct peer *pe = &nd->peer[j];

		if (j == i || !connects(i, j) || pe->nhandles)
			continue;
		if (!pe->reconnect_at) {
			pe->reconnect_at = now + rnd_range(500, 2000);
			continue;
		}
		if (now >= pe->reconnect_at) {
			pe->reconnect_at = 0;
			establish(i, j);
		}
	}
}

static void checkpoint(int i)
{
	struct node *nd = &nodes[i];

	for (int j = 0; j < P.nodes; j++) {
		struct peer *pe = &nd->peer[j];
		uint32_t h = send_handle(pe);
		size_t len;
		struct ckpt *c;

		if (j == i || !h || l2s_session_export(nd->n, h, stored_buf, sizeof(stored_buf), &len) != L2S_OK)
			continue;
		if (pe->nckpt == MAX_CKPT) {
			free(pe->ckpt[0].blob);
			memmove(pe->ckpt, pe->ckpt + 1, (MAX_CKPT - 1) * sizeof(pe->ckpt[0]));
			pe->nckpt--;
		}
		c = &pe->ckpt[pe->nckpt++];
		c->blob = malloc(len);
		if (!c->blob)
			abort();
		memcpy(c->blob, stored_buf, len);
		c->len = len;
		c->next_id = pe->next_id;
		c->used = 0;
	}
	nd->next_ckpt = now + P.ckpt_every;
}

static void crash(int i)
{
	struct node *nd = &nodes[i];

	trace("node %d crashes", i);
	l2s_node_free(nd->n);
	nd->n = NULL;
	nd->up = 0;
	nd->restart_at = now + (P.storm ? rnd_range(10, 300) : rnd_range(10, 5000));
	for (int j = 0; j < P.nodes; j++) {
		struct peer *pe = &nd->peer[j];

		pe->nhandles = 0;
		pe->reconnect_at = 0;
	}
}

/* Which checkpoint to restore for peer j: the last, or sometimes an older
 * one; never one restored before. -1 when none. */
static int pick_ckpt(struct peer *pe)
{
	int k = pe->nckpt - 1;

	while (k >= 0 && pe->ckpt[k].used)
		k--;
	if (k > 0 && chance(P.old_ckpt))
		k -= (int)rnd_below((uint64_t)k + 1);
	while (k >= 0 && pe->ckpt[k].used)
		k--;
	return k;
}

static void restart(int i)
{
	struct node *nd = &nodes[i];

	nd->incarnation++;
	if (chance(P.new_prekey)) {
		/* A new prekey: the bundle the peers hold is stale until they
		 * fetch the new one (the loop does so in-band). */
		for (int b = 0; b < 32; b++)
			nd->prekey_seed[b] = (uint8_t)rnd();
		trace("node %d restarts with a new prekey", i);
	}
	node_start(i);
	if (!nd->up)
		return;
	trace("node %d restarts", i);
	for (int j = 0; j < P.nodes; j++) {
		struct peer *pe = &nd->peer[j];
		int k = j == i ? -1 : pick_ckpt(pe);
		uint32_t h;
		int ret;

		if (j == i)
			continue;
		memcpy(pe->filter, pe->marks, sizeof(pe->marks));
		pe->nfilter = pe->nmarks;
		/* What was sent after the restored checkpoint is lost with the
		 * crash, unless it was delivered already. */
		for (uint32_t id = k >= 0 ? pe->ckpt[k].next_id : 0; id < pe->next_id; id++)
			pe->forgiven[id] = 1;
		/* Each restore steps next_seq L2S_DELIVERY_SEQ_RESERVE past its
		 * checkpoint, and a start without one begins a new stream: no
		 * checkpoint taken before may be restored later, or seqs would
		 * be used twice (PROTOCOL.md §10). */
		for (int m = 0; m < pe->nckpt; m++)
			pe->ckpt[m].used = 1;
		if (k >= 0 && chance(P.lost_ckpt)) {
			trace("node %d lost its checkpoint for %d", i, j);
			k = -1;
		}
		if (k >= 0 && chance(P.bad_ckpt))
			pe->ckpt[k].blob[rnd_below(pe->ckpt[k].len)] ^= (uint8_t)(1 + rnd_below(255));
		ret = k < 0 ? L2S_ERR_NOT_FOUND
			    : l2s_node_resume(nd->n, pe->ckpt[k].blob, pe->ckpt[k].len, &nd->cfg,
					      path_id(j, pe->transport), now, &h);
		trace("node %d resumes with %d from checkpoint %d of %d: %s", i, j, k, pe->nckpt, l2s_strerror(ret));
		if (ret != L2S_OK) {
			/* nothing stored, or refused (corrupted): everything this
			 * node sent is forgiven */
			for (uint32_t id = 0; id < pe->next_id; id++)
				pe->forgiven[id] = 1;
			continue;
		}
		handle_add(nd, j, h, L2S_IDLE);
		pe->was_established[pe->nhandles - 1] = 1; /* its restored queue is the application's */
		l2s_session_set_bundle(nd->n, h, nodes[j].bundle, L2S_PREKEY_BUNDLE_BYTES, 1800000000u);
	}
	drain_outputs(i);
	checkpoint(i); /* restore a checkpoint at most once: export again at once */
}

/* The application's next id to j never goes back: ids after a restored
 * checkpoint were forgiven and new ones follow them. */

/* ---- faults -------------------------------------------------------------------------- */

/* Per-second rates checked once per simulated second. */
static void random_faults(void)
{
	int a = (int)rnd_below((uint64_t)P.nodes), b = (int)rnd_below((uint64_t)P.nodes);

	if (a == b)
		b = (a + 1) % P.nodes;
	if (chance(P.partition_rate)) {
		uint64_t len = rnd_range(100, chance(200) ? 120000 : 10000);

		links[a][b].partitioned_until = now + len;
		if (chance(500))
			links[b][a].partitioned_until = now + len;
		trace("partition %d->%d%s for %" PRIu64 " ms", a, b,
		      links[b][a].partitioned_until == now + len ? " and back" : "", len);
	}
	if (chance(P.transport_rate)) {
		int lo = a < b ? a : b, hi = a < b ? b : a, t = (int)rnd_below(2);
		uint64_t len = rnd_range(500, 60000);

		transports[lo][hi][t].down_until = now + len;
		trace("transport %d of %d-%d fails for %" PRIu64 " ms", t, lo, hi, len);
	}
	if (chance(P.crash_rate) && nodes[a].up)
		crash(a);
	if (chance(P.twin_crash_rate) && nodes[a].up && nodes[b].up) {
		trace("nodes %d and %d crash together", a, b);
		crash(a);
		crash(b);
		nodes[b].restart_at = nodes[a].restart_at;
	}
	if (chance(P.rotate_rate) && nodes[a].up) {
		uint32_t h = send_handle(&nodes[a].peer[b]);

		if (h) {
			int ret = l2s_session_rotate(nodes[a].n, h, now);

			trace("node %d rotates session %u: %s", a, h, l2s_strerror(ret));
			/* Colliding rotations: the peer starts one at the same instant. */
			if (chance(300) && nodes[b].up && (h = send_handle(&nodes[b].peer[a])))
				l2s_session_rotate(nodes[b].n, h, now);
		}
	}
	if (chance(P.path_move_rate) && nodes[a].up) {
		struct peer *pe = &nodes[a].peer[b];
		uint32_t h = send_handle(pe);

		if (h) {
			pe->transport ^= 1;
			trace("node %d moves session %u to transport %d", a, h, pe->transport);
			l2s_session_set_path(nodes[a].n, h, path_id(b, pe->transport), now);
		}
	}
}

/* The transports' own view: a failed one is reported down a little later and
 * the driver falls back to the other (l2s_loop.h: fallback), then returns. */
static void transport_watch(void)
{
	for (int i = 0; i < P.nodes; i++) {
		for (int j = 0; j < P.nodes; j++) {
			struct transport *tr;
			struct peer *pe;

			if (i == j || !nodes[i].up)
				continue;
			pe = &nodes[i].peer[j];
			tr = &transports[i < j ? i : j][i < j ? j : i][pe->transport];
			if (tr->down_until > now) {
				uint32_t h = send_handle(pe);

				l2s_node_path_status(nodes[i].n, path_id(j, pe->transport), 0, now);
				pe->transport ^= 1;
				trace("node %d falls back to transport %d for %d", i, pe->transport, j);
				if (h)
					l2s_session_set_path(nodes[i].n, h, path_id(j, pe->transport), now);
				l2s_node_path_status(nodes[i].n, path_id(j, pe->transport), 1, now);
			}
		}
	}
}

/* ---- one run ---------------------------------------------------------------------------- */

static void random_config(struct l2s_config *c)
{
	l2s_config_default(c);
	do {
		c->heartbeat_interval_ms = rnd_range(500, 30000);
		c->heartbeat_tolerance = (uint32_t)rnd_range(1, 5);
		c->heartbeat_reply_timeout_ms = rnd_range(50, c->heartbeat_interval_ms - 1);
		/* At least twice the round trip once the faults stop (PROTOCOL.md
		 * §4: re-sent attempts replace earlier ones). */
		c->handshake_timeout_ms = rnd_range(250, 5000);
		c->connectivity_timeout_ms = rnd_range(1000, 30000);
		c->degraded_timeout_ms = rnd_range(1000, 60000);
		c->suspended_retry_ms = rnd_range(1000, 60000);
		c->backoff_base_ms = rnd_range(50, 2000);
		c->backoff_max_ms = rnd_range(c->backoff_base_ms, 60000);
		c->quarantine_ms = rnd_range(100, 60000);
		c->key_grace_ms = rnd_range(100, 10000);
		c->retransmit_timeout_ms = rnd_range(20, 1000);
		c->ttl_ms = rnd_range(3600000, 86400000);
		c->rotation_window_ms = rnd_range(60000, c->ttl_ms - 60000);
		if (chance(300))
			c->rotation_window_ms = c->ttl_ms - rnd_range(20000, 120000); /* rotations by the timer */
		c->rotate_after_messages = chance(200) ? rnd_range(50, 500) : c->rotate_after_messages;
		c->send_queue_limit = (uint32_t)rnd_range(16, 4096);
		c->reorder_window = (uint32_t)rnd_range(8, 1024);
		c->resume_dh = (uint32_t)chance(300);
	} while (l2s_config_check(c) != L2S_OK);
}

static void random_params(void)
{
	memset(&P, 0, sizeof(P));
	P.nodes = chance(700) ? 2 : (int)rnd_range(3, MAX_NODES);
	P.both_connect = chance(300);
	P.loss = (uint32_t)rnd_below(301);
	P.dup = (uint32_t)(chance(500) ? rnd_below(100) : 0);
	P.reorder = (uint32_t)(chance(500) ? rnd_below(300) : 0);
	P.delay = rnd_range(1, 50);
	P.jitter = chance(500) ? rnd_below(200) : 0;
	P.fault_end = rnd_range(10000, 600000);
	P.send_every = rnd_range(20, 2000);
	P.partition_rate = (uint32_t)rnd_below(60);
	P.crash_rate = (uint32_t)(chance(600) ? rnd_below(30) : 0);
	P.rotate_rate = (uint32_t)rnd_below(60);
	P.transport_rate = (uint32_t)rnd_below(40);
	P.path_move_rate = (uint32_t)rnd_below(40);
	P.old_ckpt = (uint32_t)rnd_below(400);
	P.new_prekey = (uint32_t)(chance(200) ? rnd_below(500) : 0);
	P.load_limit = chance(200) ? 1 : 0;
	P.batch = (int)chance(500);
	P.reliable = (int)chance(500);
	if (P.reliable) {
		/* Streams (QUIC, μTCP): what is lost goes with a partition, a
		 * failed transport or a crash; nothing else. */
		P.loss = P.dup = P.reorder = 0;
	}
	P.ckpt_every = rnd_range(100, 10000);
	P.twin_crash_rate = (uint32_t)(chance(300) ? rnd_below(20) : 0);
	P.lost_ckpt = (uint32_t)(chance(200) ? rnd_below(300) : 0);
	P.bad_ckpt = (uint32_t)(chance(200) ? rnd_below(300) : 0);
	P.storm = (int)chance(100);
	if (P.storm) {
		P.crash_rate = (uint32_t)rnd_range(20, 100);
		P.twin_crash_rate = (uint32_t)rnd_range(10, 50);
	}
}

/* Faults stopped at fault_end: by then plus this every pair must be
 * established again. The slowest path back is a side that has to notice a
 * dead peer (heartbeat_tolerance + 1 intervals and a reply timeout), pass
 * degraded (degraded_timeout) and suspended (suspended_retry), then retry
 * with backoff (backoff_max) through a resumption that fails and a full
 * handshake (two handshake timeouts), with margin for the partner's own
 * cycle. */
static uint64_t recovery_bound(const struct l2s_config *c)
{
	return (c->heartbeat_tolerance + 2) * c->heartbeat_interval_ms + c->heartbeat_reply_timeout_ms +
	       c->degraded_timeout_ms + c->suspended_retry_ms + 2 * c->backoff_max_ms + 4 * c->handshake_timeout_ms +
	       c->key_grace_ms + 10000;
}

/* 1 when i and j each have an established session, the same one; with
 * quiet, also nothing queued or unacknowledged. */
static int pair_same_session(int i, int j, int quiet)
{
	struct l2s_session_info a, b;
	uint32_t ha = 0, hb = 0;

	for (int k = 0; k < nodes[i].peer[j].nhandles; k++)
		if (nodes[i].peer[j].state[k] == L2S_ESTABLISHED)
			ha = nodes[i].peer[j].handles[k];
	for (int k = 0; k < nodes[j].peer[i].nhandles; k++)
		if (nodes[j].peer[i].state[k] == L2S_ESTABLISHED)
			hb = nodes[j].peer[i].handles[k];
	if (!ha || !hb || l2s_session_info(nodes[i].n, ha, &a) != L2S_OK ||
	    l2s_session_info(nodes[j].n, hb, &b) != L2S_OK)
		return 0;
	return memcmp(a.session_id, b.session_id, sizeof(a.session_id)) == 0 &&
	       (!quiet || (a.unacked == 0 && b.unacked == 0 && a.queued == 0 && b.queued == 0));
}

static int pair_settled(int i, int j)
{
	return pair_same_session(i, j, 1);
}

/* 1 when every pair is up and on the same established session. */
static int all_reestablished(void)
{
	for (int i = 0; i < P.nodes; i++)
		for (int j = i + 1; j < P.nodes; j++)
			if (!nodes[i].up || !nodes[j].up || !pair_same_session(i, j, 0))
				return 0;
	return 1;
}

/* The slowest recovery seen, as a share of its bound (per mille). */
static uint64_t worst_recovery_ms, worst_recovery_bound_ms, worst_recovery_seed;

static int all_delivered(int i, int j, uint32_t *missing)
{
	const struct peer *s = &nodes[i].peer[j], *r = &nodes[j].peer[i];

	for (uint32_t id = 0; id < s->next_id; id++)
		if (!r->got[id] && !s->forgiven[id]) {
			*missing = id;
			return 0;
		}
	return 1;
}

static void check_bounds(int i)
{
	for (int j = 0; j < P.nodes; j++) {
		const struct peer *pe = &nodes[i].peer[j];

		for (int k = 0; k < pe->nhandles; k++) {
			struct l2s_session_info si;

			if (l2s_session_info(nodes[i].n, pe->handles[k], &si) != L2S_OK) {
				fail("node %d: session %u vanished without an event", i, pe->handles[k]);
				return;
			}
			/* A replacing session takes the old one's queue over
			 * (accepted messages are never dropped): two queues' worth. */
			if (si.queued + si.unacked > 2 * (uint64_t)nodes[i].cfg.send_queue_limit) {
				fail("node %d session %u: %" PRIu64 " queued, over twice its limit %u", i, pe->handles[k],
				     si.queued + si.unacked, nodes[i].cfg.send_queue_limit);
				return;
			}
		}
	}
}

/* What every node holds, for the trace of a failed run. */
static void trace_sessions(void)
{
	for (int i = 0; i < P.nodes; i++) {
		if (!nodes[i].up) {
			trace("node %d is down", i);
			continue;
		}
		trace("node %d next deadline %" PRIu64, i, l2s_node_next_deadline(nodes[i].n));
		for (int j = 0; j < P.nodes; j++)
			for (int k = 0; k < nodes[i].peer[j].nhandles; k++) {
				struct l2s_session_info si;
				uint32_t h = nodes[i].peer[j].handles[k];

				if (l2s_session_info(nodes[i].n, h, &si) != L2S_OK)
					continue;
				trace("node %d peer %d session %u: %s (events said %s), path %u, queued %" PRIu64
				      " unacked %" PRIu64 ", next send %" PRIu64 " recv %" PRIu64 ", retry at %" PRIu64
				      ", id %02x%02x%02x%02x",
				      i, j, h, l2s_state_name(si.state), l2s_state_name(nodes[i].peer[j].state[k]), si.path,
				      si.queued, si.unacked, si.next_send_seq, si.next_recv_seq, si.next_retry_ms,
				      si.session_id[0], si.session_id[1], si.session_id[2], si.session_id[3]);
			}
	}
}

static void world_free(void)
{
	for (int i = 0; i < MAX_NODES; i++) {
		if (nodes[i].n)
			l2s_node_free(nodes[i].n);
		for (int j = 0; j < MAX_NODES; j++)
			for (int k = 0; k < nodes[i].peer[j].nckpt; k++)
				free(nodes[i].peer[j].ckpt[k].blob);
	}
	while (heap_n)
		packet_free(heap_pop());
	memset(nodes, 0, sizeof(nodes));
	memset(links, 0, sizeof(links));
	memset(transports, 0, sizeof(transports));
	memset(last_arrival, 0, sizeof(last_arrival));
}

static void deliver_due(void)
{
	while (heap_n && heap[0]->at <= now) {
		struct packet *p = heap_pop();
		struct node *to = &nodes[p->to];

		if (to->up && transports[p->from < p->to ? p->from : p->to][p->from < p->to ? p->to : p->from][p->t]
					  .down_until <= now) {
			uint8_t addr[8];
			int ret;

			addr_of(p->from, addr);
			if (P.batch && !to->batching) {
				l2s_node_receive_begin(to->n);
				to->batching = 1;
			}
			ret = l2s_node_receive(to->n, path_id(p->from, p->t), addr, sizeof(addr), p->data, p->len, now);
			if (verbose && ret != L2S_OK)
				trace("node %d drops type %d from %d: %s", p->to, p->len > 1 ? p->data[1] : -1, p->from,
				      l2s_strerror(ret));
		}
		packet_free(p);
	}
	for (int i = 0; i < P.nodes; i++)
		if (nodes[i].batching) {
			nodes[i].batching = 0;
			if (nodes[i].up)
				l2s_node_receive_end(nodes[i].n, now);
		}
}

static uint64_t next_event_time(uint64_t next_second)
{
	uint64_t t = next_second;

	if (heap_n && heap[0]->at < t)
		t = heap[0]->at;
	for (int i = 0; i < P.nodes; i++) {
		uint64_t d;

		if (!nodes[i].up) {
			if (nodes[i].restart_at < t)
				t = nodes[i].restart_at;
			continue;
		}
		d = l2s_node_next_deadline(nodes[i].n);
		if (d < t)
			t = d;
		if (nodes[i].next_ckpt < t)
			t = nodes[i].next_ckpt;
	}
	return t <= now ? now + 1 : t;
}

/* Runs one seed; 0 when every invariant held. */
static int run(uint64_t seed)
{
	uint64_t bound, deadline, next_second, next_send, settled_at = 0, reestablished_at = 0;
	int errors, healed = 0;

	rng_state = seed * 0x2545f4914f6cdd1dULL + 1;
	failed = 0;
	trace_n = 0;
	now = 1000;
	packet_order = 0;
	nonce_table_reset();
	random_params();
	for (int i = 0; i < P.nodes; i++) {
		uint8_t seedb[32];

		memset(seedb, 0x10 + i, sizeof(seedb));
		seedb[0] = (uint8_t)rnd();
		l2s_ed25519_seed_keypair(nodes[i].pk, nodes[i].sk, seedb);
		for (int b = 0; b < 32; b++)
			nodes[i].prekey_seed[b] = (uint8_t)rnd();
		random_config(&nodes[i].cfg);
	}
	for (int i = 0; i < P.nodes; i++)
		node_start(i);
	bound = 0;
	for (int i = 0; i < P.nodes; i++)
		if (recovery_bound(&nodes[i].cfg) > bound)
			bound = recovery_bound(&nodes[i].cfg);
	trace("seed %" PRIu64 ": %d nodes%s%s, loss %u dup %u reorder %u permille, delay %" PRIu64 "+%" PRIu64
	      " ms, faults until %" PRIu64 ", recovery bound %" PRIu64 " ms",
	      seed, P.nodes, P.both_connect ? " (both connect)" : "", P.reliable ? ", reliable paths" : "", P.loss, P.dup, P.reorder, P.delay, P.jitter,
	      P.fault_end, bound);
	deadline = P.fault_end + bound;
	next_second = now + 1000;
	next_send = now + rnd_below(P.send_every * 2);

	while (!failed && now < deadline) {
		if (now >= P.fault_end && !healed) {
			/* The faults stop: partitions heal, transports come back. */
			healed = 1;
			memset(links, 0, sizeof(links));
			memset(transports, 0, sizeof(transports));
			trace("faults stop");
		}
		deliver_due();
		for (int i = 0; i < P.nodes; i++) {
			if (!nodes[i].up) {
				if (now >= nodes[i].restart_at)
					restart(i);
				continue;
			}
			if (l2s_node_next_deadline(nodes[i].n) <= now)
				l2s_node_tick(nodes[i].n, now);
			drain_outputs(i);
			keep_sessions(i);
			drain_outputs(i);
			if (now >= nodes[i].next_ckpt)
				checkpoint(i);
		}
		if (now >= next_send) {
			/* Messages flow during the faults and for a while after. */
			if (now < P.fault_end + bound / 2) {
				int a = (int)rnd_below((uint64_t)P.nodes), b = (int)rnd_below((uint64_t)P.nodes);

				if (a != b && nodes[a].up) {
					app_send(a, b);
					drain_outputs(a);
				}
			}
			next_send = now + 1 + rnd_below(P.send_every * 2);
		}
		if (now >= next_second) {
			next_second += 1000;
			if (now >= P.fault_end && !reestablished_at && all_reestablished()) {
				reestablished_at = now;
				if ((reestablished_at - P.fault_end) * worst_recovery_bound_ms >=
				    worst_recovery_ms * bound) {
					worst_recovery_ms = reestablished_at - P.fault_end;
					worst_recovery_bound_ms = bound;
					worst_recovery_seed = seed;
				}
			}
			if (faulty())
				random_faults();
			transport_watch();
			for (int i = 0; i < P.nodes; i++)
				if (nodes[i].up) {
					drain_outputs(i);
					check_bounds(i);
				}
		}
		if (now >= P.fault_end + bound / 2 && !settled_at) {
			int ok = 1;

			for (int i = 0; i < P.nodes && ok; i++)
				for (int j = i + 1; j < P.nodes && ok; j++) {
					uint32_t missing;

					ok = nodes[i].up && nodes[j].up && pair_settled(i, j) &&
					     all_delivered(i, j, &missing) && all_delivered(j, i, &missing);
				}
			if (ok) {
				settled_at = now;
				break;
			}
		}
		{
			uint64_t t = next_event_time(next_second);

			if (next_send < t)
				t = next_send;
			now = t;
		}
	}
	if (!failed && !settled_at) {
		for (int i = 0; i < P.nodes && !failed; i++)
			for (int j = i + 1; j < P.nodes && !failed; j++) {
				uint32_t missing;

				if (!nodes[i].up || !nodes[j].up || !pair_settled(i, j))
					fail("liveness: nodes %d and %d not settled %" PRIu64 " ms after the faults stopped", i,
					     j, bound);
				else if (!all_delivered(i, j, &missing) || !all_delivered(j, i, &missing))
					fail("liveness: message id %u between %d and %d never delivered", missing, i, j);
			}
	}
	errors = failed;
	if (failed)
		trace_sessions();
	world_free();
	return errors;
}

static void dump_trace(void)
{
	unsigned first = trace_n > TRACE_LINES ? trace_n - TRACE_LINES : 0;

	for (unsigned k = first; k < trace_n; k++)
		fprintf(stderr, "%s\n", trace_buf[k % TRACE_LINES]);
}

/* 1 when seed is in the comma-separated list. */
static int listed(const char *list, uint64_t seed)
{
	while (list && *list) {
		char *end;

		if (strtoull(list, &end, 10) == seed && end != list)
			return 1;
		list = *end == ',' ? end + 1 : NULL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t first = 1, count = 0, nfail = 0, skipped = 0;
	const char *skip = NULL;
	int one = 0;

	nonces = calloc(NONCE_SLOTS, sizeof(*nonces));
	if (!nonces)
		return 2;
	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-v"))
			verbose = 1;
		else if (!strcmp(argv[a], "-n") && a + 1 < argc)
			count = strtoull(argv[++a], NULL, 10);
		else if (!strcmp(argv[a], "-s") && a + 1 < argc)
			first = strtoull(argv[++a], NULL, 10);
		else if (!strcmp(argv[a], "-x") && a + 1 < argc)
			skip = argv[++a];
		else if (argv[a][0] >= '0' && argv[a][0] <= '9') {
			first = strtoull(argv[a], NULL, 10);
			one = 1;
		} else {
			fprintf(stderr, "usage: sim [-v] SEED | sim -n COUNT [-s FIRST] [-x SEED,SEED...]\n");
			return 2;
		}
	}
	if (one || !count) {
		int r = run(first);

		if (r) {
			if (!verbose)
				dump_trace();
			printf("seed %" PRIu64 " FAILED: %s\n  reproduce: make sim SEED=%" PRIu64 "\n", first, failure, first);
			return 1;
		}
		printf("seed %" PRIu64 ": ok\n", first);
		return 0;
	}
	for (uint64_t s = first; s < first + count; s++) {
		if (listed(skip, s)) {
			skipped++;
			continue;
		}
		if (run(s)) {
			nfail++;
			printf("seed %" PRIu64 " FAILED: %s  (make sim SEED=%" PRIu64 ")\n", s, failure, s);
			fflush(stdout);
		}
	}
	printf("sim: %" PRIu64 " seeds from %" PRIu64 ", %" PRIu64 " skipped, %" PRIu64 " failed\n", count, first,
	       skipped, nfail);
	if (worst_recovery_bound_ms)
		printf("sim: slowest re-establishment after the faults: %" PRIu64 " ms of a %" PRIu64
		       " ms bound (seed %" PRIu64 ")\n",
		       worst_recovery_ms, worst_recovery_bound_ms, worst_recovery_seed);
	return nfail ? 1 : 0;
}
