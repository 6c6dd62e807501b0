// SPDX-License-Identifier: Apache-2.0
/* Benchmark of the C session engine (make bench; CMake target bench_engine,
 * Release build). Real nodes, real crypto, the system RNG, one process.
 *
 *   (a) full handshake, CPU time of both sides (establish -> both
 *       established, pumped in memory), median over >= 200 runs, against
 *       the crypto floor: the public-key operations the handshake performs,
 *       counted during a handshake (link-time wrappers) and each timed the
 *       same way; goal ratio <= 1.3;
 *   (b) resumption (both sides, ticket mode), median, and its ratio to (a);
 *       goal <= 10 %; in the default configuration (no X25519 share) and
 *       with resume_dh = 1 (a fresh X25519 share each way, PROTOCOL.md §8);
 *   (c) l2s_node_tick() with 1k / 10k / 100k idle established sessions and
 *       nothing due; goal <= 1 ms at 100k. A node keeps one session per
 *       peer (a newer confirmed one replaces the older), so the sessions are
 *       with as many peer identities: node D (responder) completes full
 *       handshakes with N initiator identities, node C (initiator) with N
 *       responder identities, each with its own prekey and signed bundle.
 *       The peers are not whole nodes (each would hold megabytes of
 *       tables): they are driven with the same handshake functions the nodes
 *       use (handshake.h), real crypto, and D's sessions are confirmed by a
 *       real CONFIRM frame under the new keys;
 *   (d) heap bytes per established session on C and on D, from a counting
 *       allocator (this file replaces malloc and friends); goal <= 2 KiB.
 *
 *   bench_engine [--quick] [--runs N] [--sessions N]
 *
 * Prints a table with figures, goals, ratios and met / not met. Unmet goals
 * do not make it fail; an engine that cannot establish a session does.
 * --quick (the ctest bench_engine_quick) is --runs 5 --sessions 1000: every
 * part above runs, on fewer runs and sessions, in a few seconds; its figures
 * are no measurement, its exit code is the check.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handshake/bundle.h"
#include "handshake/handshake.h"
#include "engine/keypair.h"
#include "l2s.h"
#include "engine/node.h"
#include "handshake/prekey.h"
#include "crypto/rng.h"
#include "crypto/xwing.h"

/* ---- counting allocator --------------------------------------------------- */

/* glibc's own entry points; everything in the process (libsodium, libc)
 * allocates through the functions below. Live bytes are usable sizes. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static size_t heap_live, heap_blocks;

static void *counted(void *p)
{
	if (p) {
		heap_live += malloc_usable_size(p);
		heap_blocks++;
	}
	return p;
}

void *malloc(size_t n)
{
	return counted(__libc_malloc(n));
}

void *calloc(size_t n, size_t m)
{
	return counted(__libc_calloc(n, m));
}

void free(void *p)
{
	if (!p)
		return;
	heap_live -= malloc_usable_size(p);
	heap_blocks--;
	__libc_free(p);
}

void *realloc(void *p, size_t n)
{
	size_t old = p ? malloc_usable_size(p) : 0;
	void *q = __libc_realloc(p, n);

	if (q) {
		heap_live = heap_live - old + malloc_usable_size(q);
		heap_blocks += p ? 0 : 1;
	} else if (p && n == 0) {
		heap_live -= old; /* realloc(p, 0) freed p */
		heap_blocks--;
	}
	return q;
}

void *memalign(size_t align, size_t n)
{
	return counted(__libc_memalign(align, n));
}

void *aligned_alloc(size_t align, size_t n)
{
	return counted(__libc_memalign(align, n));
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p = counted(__libc_memalign(align, n));

	if (!p)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}

void *valloc(size_t n)
{
	return counted(__libc_memalign(4096, n));
}

/* ---- what the handshake calls (CMakeLists.txt: -Wl,--wrap=...) ---------- */

enum { C_SIGN, C_VERIFY, C_EXPAND, C_ENCAPS, C_DECAPS, C_CHECK_EK, C_X25519_BASE, C_X25519, C_COUNT };
static unsigned long calls[C_COUNT];

int __real_l2s_ed25519_sign(uint8_t *sig, const uint8_t *m, size_t n, const uint8_t *sk);
int __real_l2s_ed25519_verify(const uint8_t *sig, const uint8_t *m, size_t n, const uint8_t *pk);
int __real_l2s_xwing_expand(struct l2s_xwing_secret *x, const uint8_t *seed);
int __real_l2s_xwing_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t *eseed);
int __real_l2s_xwing_decaps_expanded(uint8_t *ss, const uint8_t *ct, const struct l2s_xwing_secret *x);
int __real_l2s_mlkem768_check_ek(const uint8_t *ek);
int __real_l2s_x25519_base(uint8_t *pk, const uint8_t *sk);
int __real_l2s_x25519(uint8_t *out, const uint8_t *sk, const uint8_t *pk);
int __wrap_l2s_ed25519_sign(uint8_t *sig, const uint8_t *m, size_t n, const uint8_t *sk);
int __wrap_l2s_ed25519_verify(const uint8_t *sig, const uint8_t *m, size_t n, const uint8_t *pk);
int __wrap_l2s_xwing_expand(struct l2s_xwing_secret *x, const uint8_t *seed);
int __wrap_l2s_xwing_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t *eseed);
int __wrap_l2s_xwing_decaps_expanded(uint8_t *ss, const uint8_t *ct, const struct l2s_xwing_secret *x);
int __wrap_l2s_mlkem768_check_ek(const uint8_t *ek);
int __wrap_l2s_x25519_base(uint8_t *pk, const uint8_t *sk);
int __wrap_l2s_x25519(uint8_t *out, const uint8_t *sk, const uint8_t *pk);

int __wrap_l2s_ed25519_sign(uint8_t *sig, const uint8_t *m, size_t n, const uint8_t *sk)
{
	calls[C_SIGN]++;
	return __real_l2s_ed25519_sign(sig, m, n, sk);
}

int __wrap_l2s_ed25519_verify(const uint8_t *sig, const uint8_t *m, size_t n, const uint8_t *pk)
{
	calls[C_VERIFY]++;
	return __real_l2s_ed25519_verify(sig, m, n, pk);
}

int __wrap_l2s_xwing_expand(struct l2s_xwing_secret *x, const uint8_t *seed)
{
	calls[C_EXPAND]++;
	return __real_l2s_xwing_expand(x, seed);
}

int __wrap_l2s_xwing_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t *eseed)
{
	calls[C_ENCAPS]++;
	return __real_l2s_xwing_encaps_derand(ct, ss, pk, eseed);
}

int __wrap_l2s_xwing_decaps_expanded(uint8_t *ss, const uint8_t *ct, const struct l2s_xwing_secret *x)
{
	calls[C_DECAPS]++;
	return __real_l2s_xwing_decaps_expanded(ss, ct, x);
}

int __wrap_l2s_mlkem768_check_ek(const uint8_t *ek)
{
	calls[C_CHECK_EK]++;
	return __real_l2s_mlkem768_check_ek(ek);
}

int __wrap_l2s_x25519_base(uint8_t *pk, const uint8_t *sk)
{
	calls[C_X25519_BASE]++;
	return __real_l2s_x25519_base(pk, sk);
}

int __wrap_l2s_x25519(uint8_t *out, const uint8_t *sk, const uint8_t *pk)
{
	calls[C_X25519]++;
	return __real_l2s_x25519(out, sk, pk);
}

/* ---- nodes in memory ------------------------------------------------------- */

struct peer {
	struct l2s_node *node;
	uint8_t pk[32];
	char addr[16];
	uint32_t accepted;  /* last session accepted */
	unsigned long events;
};

static uint64_t now_ms = 1000;

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* noreturn: a caller's "if (call() != L2S_OK) die(...)" leaves the call's
 * outputs set on every path that goes on (clang checks that). */
static _Noreturn void die(const char *what)
{
	fprintf(stderr, "bench_engine: %s\n", what);
	exit(2);
}

static void make_peer(struct peer *p, uint8_t tag, uint32_t max_sessions, uint32_t rate)
{
	struct l2s_node_params params;
	uint8_t sk[64];

	memset(&params, 0, sizeof(params));
	memset(p, 0, sizeof(*p));
	if (l2s_ed25519_keypair(p->pk, sk) != L2S_OK)
		die("no key pair");
	memcpy(params.identity_sk, sk, sizeof(sk));
	l2s_random(params.prekey_seed, sizeof(params.prekey_seed));
	l2s_random(params.storage_key, sizeof(params.storage_key));
	params.prekey_not_after_s = 4000000000u;
	params.max_sessions = max_sessions;
	params.handshake_rate_per_s = rate;
	params.handshake_work_per_s = rate;
	if (l2s_node_new(&p->node, &params, now_ms) != L2S_OK)
		die("l2s_node_new failed");
	snprintf(p->addr, sizeof(p->addr), "node-%02x", tag);
	l2s_wipe(sk, sizeof(sk));
}

static void drain_events(struct peer *p)
{
	struct l2s_event ev;

	while (l2s_node_next_event(p->node, &ev)) {
		p->events++;
		if (ev.type == L2S_EV_ACCEPTED)
			p->accepted = ev.session;
	}
}

static int move(struct peer *from, struct peer *to)
{
	struct l2s_output o;
	int n = 0;

	while (l2s_node_next_output(from->node, &o)) {
		l2s_node_receive(to->node, 1, (const uint8_t *)from->addr, strlen(from->addr), o.data, o.len, now_ms);
		n++;
	}
	return n;
}

static void pump(struct peer *a, struct peer *b)
{
	int moved;

	do {
		moved = move(a, b);
		moved += move(b, a);
		drain_events(a);
		drain_events(b);
	} while (moved);
}

static int state(const struct peer *p, uint32_t h)
{
	struct l2s_session_info info;

	return l2s_session_info(p->node, h, &info) == L2S_OK ? info.state : -1;
}

/* A full handshake a -> b, pumped to the end; a's handle (b's: b->accepted). */
static uint32_t handshake(struct peer *a, struct peer *b, const uint8_t *bundle, const struct l2s_config *cfg)
{
	uint32_t h = 0;

	if (l2s_node_establish(a->node, b->pk, bundle, L2S_PREKEY_BUNDLE_BYTES, 1800000000u, cfg, 1, now_ms, &h) !=
	    L2S_OK)
		die("l2s_node_establish failed");
	pump(a, b);
	return h;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *met(int ok)
{
	return ok ? "met" : "NOT MET";
}

/* ---- (a) crypto floor ------------------------------------------------------ */

struct prim {
	const char *name;
	const char *side;
	int counter; /* which wrapped function does it */
	int count;   /* times per handshake */
	double us;   /* median */
};

static struct l2s_xwing_secret fl_e, fl_pre;
static uint8_t fl_seed[32], fl_eseed[64], fl_pk_e[L2S_XWING_PK_BYTES], fl_pk_pre[L2S_XWING_PK_BYTES];
static uint8_t fl_ct[L2S_XWING_CT_BYTES], fl_ct_pre[L2S_XWING_CT_BYTES], fl_ct_e[L2S_XWING_CT_BYTES];
static uint8_t fl_ss[32], fl_sk[64], fl_pk[32], fl_sig[64], fl_x_sk[32], fl_x_pk[32], fl_x_out[32];
static uint8_t fl_bundle_msg[30 + L2S_BUNDLE_SIGNED_BYTES], fl_sig_bundle[64], fl_bundle_pk[32];
static uint8_t fl_msg98[98], fl_msg58[58];

static void op_expand(void)
{
	if (l2s_xwing_expand(&fl_e, fl_seed) != L2S_OK)
		die("expand");
}

static void op_encaps_pre(void)
{
	if (l2s_xwing_encaps_derand(fl_ct, fl_ss, fl_pk_pre, fl_eseed) != L2S_OK)
		die("encaps");
}

static void op_encaps_e(void)
{
	if (l2s_xwing_encaps_derand(fl_ct, fl_ss, fl_pk_e, fl_eseed) != L2S_OK)
		die("encaps");
}

static void op_decaps_e(void)
{
	if (l2s_xwing_decaps_expanded(fl_ss, fl_ct_e, &fl_e) != L2S_OK)
		die("decaps");
}

static void op_decaps_pre(void)
{
	if (l2s_xwing_decaps_expanded(fl_ss, fl_ct_pre, &fl_pre) != L2S_OK)
		die("decaps");
}

static void op_check_ek(void)
{
	if (l2s_mlkem768_check_ek(fl_pk_e) != L2S_OK)
		die("check_ek");
}

static void op_sign98(void)
{
	l2s_ed25519_sign(fl_sig, fl_msg98, sizeof(fl_msg98), fl_sk);
}

static void op_sign58(void)
{
	l2s_ed25519_sign(fl_sig, fl_msg58, sizeof(fl_msg58), fl_sk);
}

static void op_verify_bundle(void)
{
	if (l2s_ed25519_verify(fl_sig_bundle, fl_bundle_msg, sizeof(fl_bundle_msg), fl_bundle_pk) != L2S_OK)
		die("verify bundle");
}

static void op_verify98(void)
{
	static uint8_t sig[64];
	static int made;

	if (!made++)
		l2s_ed25519_sign(sig, fl_msg98, sizeof(fl_msg98), fl_sk);
	if (l2s_ed25519_verify(sig, fl_msg98, sizeof(fl_msg98), fl_pk) != L2S_OK)
		die("verify");
}

static void op_verify58(void)
{
	static uint8_t sig[64];
	static int made;

	if (!made++)
		l2s_ed25519_sign(sig, fl_msg58, sizeof(fl_msg58), fl_sk);
	if (l2s_ed25519_verify(sig, fl_msg58, sizeof(fl_msg58), fl_pk) != L2S_OK)
		die("verify");
}

static void op_x_base(void)
{
	if (l2s_x25519_base(fl_x_pk, fl_x_sk) != L2S_OK)
		die("x25519 base");
}

static void op_x_dh(void)
{
	if (l2s_x25519(fl_x_out, fl_x_sk, fl_x_pk) != L2S_OK)
		die("x25519");
}

/* One resumption of a's session ha (b's hb) on the other path, pumped to
 * the end; returns its CPU time. The call counts go to out when asked. */
static double resume_once(struct peer *a, struct peer *b, uint32_t ha, uint32_t hb, unsigned long *out)
{
	struct l2s_session *sa = l2s_node_session(a->node, ha), *sb;
	double t;

	if (out)
		memset(calls, 0, sizeof(calls));
	t = cpu_now();
	if (l2s_session_set_path(a->node, ha, sa->path == 1 ? 2 : 1, now_ms) != L2S_OK)
		die("set_path failed");
	pump(a, b);
	t = cpu_now() - t;
	if (out)
		memcpy(out, calls, sizeof(calls));
	sb = l2s_node_session(b->node, hb);
	if (sa->pending != PENDING_NONE || !sb || sb->pending != PENDING_NONE || sa->state != L2S_ESTABLISHED ||
	    sb->state != L2S_ESTABLISHED || memcmp(sa->session_id, sb->session_id, 16) != 0)
		die("the resumption did not complete");
	return t;
}

/* ---- peers driven with the handshake functions, for (c) and (d) ------------ */

struct virt {
	struct l2s_hs_initiator *st;
	struct l2s_rng rng;
	uint8_t d_prekey_pk[L2S_XWING_PK_BYTES];
	uint8_t d_pk[32];
};

static void drop_all(struct peer *p)
{
	struct l2s_output o;

	while (l2s_node_next_output(p->node, &o))
		;
	drain_events(p);
}

/* The first queued message of p (the rest dropped); its length, or 0. */
static size_t take_output(struct peer *p, uint8_t *out, size_t cap)
{
	struct l2s_output o;
	size_t len = 0;

	while (l2s_node_next_output(p->node, &o))
		if (!len && o.len <= cap) {
			memcpy(out, o.data, o.len);
			len = o.len;
		}
	drain_events(p);
	return len;
}

static void virt_init(struct virt *v, struct peer *d)
{
	uint8_t seed[32], bundle[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_bundle bd;

	l2s_random(seed, sizeof(seed));
	l2s_rng_init_seeded(&v->rng, seed);
	if (l2s_hs_initiator_new(&v->st) != L2S_OK)
		die("no memory");
	l2s_node_prekey_bundle(d->node, bundle);
	if (l2s_bundle_open(&bd, bundle, sizeof(bundle), d->pk, 1800000000u) != L2S_OK)
		die("bundle");
	memcpy(v->d_prekey_pk, bd.prekey_pk, sizeof(v->d_prekey_pk));
	memcpy(v->d_pk, d->pk, 32);
}

static void virt_free(struct virt *v)
{
	l2s_hs_initiator_free(v->st);
}

/* What a real peer does with the messages p sent it under new keys kp
 * (PROTOCOL.md §5): it opens each and answers a SYNC with an ACK up to the
 * SYNC's send_base (this peer has received no DATA). Otherwise p would owe
 * the SYNC and keep a re-send timer. The other frames (CONFIRM, TICKET)
 * need no answer. Returns the number of SYNCs answered. */
static int answer_sync(struct peer *p, struct l2s_keypair *kp, const char *addr)
{
	static uint8_t frame[L2S_KEYPAIR_MAX_FRAME], ack[64];
	struct l2s_output o;
	struct l2s_frame f, a = { .type = L2S_FRAME_ACK };
	uint64_t send_base = 0;
	size_t flen, len;
	int syncs = 0;

	while (l2s_node_next_output(p->node, &o)) {
		if (l2s_keypair_open(kp, o.data, o.len, frame, sizeof(frame), &flen) != L2S_OK ||
		    l2s_decode_frame(frame, flen, &f) != L2S_OK)
			die("a message under the new keys did not open");
		if (f.type == L2S_FRAME_SYNC) {
			send_base = f.u.sync.send_base > send_base ? f.u.sync.send_base : send_base;
			syncs++;
		}
	}
	drain_events(p);
	if (syncs) {
		a.u.ack.next_expected = send_base;
		if (l2s_encode_frame(frame, sizeof(frame), &a, &flen) != L2S_OK ||
		    l2s_keypair_seal(kp, frame, flen, ack, sizeof(ack), &len) != L2S_OK ||
		    l2s_node_receive(p->node, 1, (const uint8_t *)addr, strlen(addr), ack, len, now_ms) != L2S_OK)
			die("the ACK of the SYNC was refused");
		drop_all(p); /* nothing answers an ACK */
	}
	return syncs;
}

static void identity_for(struct l2s_identity *id, uint32_t i, uint8_t role)
{
	uint8_t seed[32] = { 0 }, pk[32], sk[64];

	seed[0] = role;
	seed[1] = (uint8_t)(i >> 24);
	seed[2] = (uint8_t)(i >> 16);
	seed[3] = (uint8_t)(i >> 8);
	seed[4] = (uint8_t)i;
	if (l2s_ed25519_seed_keypair(pk, sk, seed) != L2S_OK || l2s_identity_init(id, sk) != L2S_OK)
		die("identity");
	l2s_wipe(sk, sizeof(sk));
}

/* Initiator identity i runs a full handshake with D and confirms it. */
static void virt_initiator(struct virt *v, struct peer *d, uint32_t i)
{
	static uint8_t resp[L2S_HS_RESP_BYTES], msg[256];
	struct l2s_frame f = { .type = L2S_FRAME_CONFIRM };
	struct l2s_session_keys keys;
	struct l2s_identity id;
	struct l2s_keypair kp;
	uint8_t frame[4];
	uint32_t r_index;
	size_t flen, len;

	identity_for(&id, i, 0x49);
	if (l2s_hs_create_init(v->st, &id, v->d_pk, v->d_prekey_pk, NULL, 1, i + 1, NULL, &v->rng) != L2S_OK ||
	    l2s_node_receive(d->node, 1, (const uint8_t *)"initiators", 10, v->st->msg, L2S_HS_INIT_BYTES, now_ms) !=
		    L2S_OK)
		die("a request was refused");
	if (take_output(d, resp, sizeof(resp)) != sizeof(resp) ||
	    l2s_hs_consume_resp(&keys, &r_index, v->st, &id, resp, sizeof(resp)) != L2S_OK)
		die("no valid response");
	l2s_keypair_init(&kp, keys.send, keys.recv, i + 1, r_index, now_ms, 1);
	if (l2s_encode_frame(frame, sizeof(frame), &f, &flen) != L2S_OK ||
	    l2s_keypair_seal(&kp, frame, flen, msg, sizeof(msg), &len) != L2S_OK ||
	    l2s_node_receive(d->node, 1, (const uint8_t *)"initiators", 10, msg, len, now_ms) != L2S_OK)
		die("the key confirmation was refused");
	if (answer_sync(d, &kp, "initiators") != 1) /* D's SYNC and TICKET to the initiator */
		die("D sent no SYNC");
	if (state(d, d->accepted) != L2S_ESTABLISHED)
		die("D did not establish");
	l2s_session_keys_wipe(&keys);
	l2s_keypair_wipe(&kp);
	l2s_identity_wipe(&id);
}

/* C runs a full handshake with responder identity i (its own prekey and
 * signed bundle) and is established. */
static void virt_responder(struct virt *v, struct peer *c, const struct l2s_config *cfg, uint32_t i)
{
	static uint8_t init[L2S_HS_INIT_BYTES], resp[L2S_HS_RESP_BYTES];
	static struct l2s_prekey pre;
	const struct l2s_prekey *prekeys[1] = { &pre };
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES], seed[32] = { 0x50 };
	struct l2s_session_keys keys;
	struct l2s_hs_responder rst;
	struct l2s_identity id;
	struct l2s_keypair kp;
	uint32_t h;

	identity_for(&id, i, 0x52);
	memcpy(seed + 1, &i, sizeof(i));
	if (l2s_prekey_init(&pre, seed) != L2S_OK ||
	    l2s_bundle_make(bundle, &id, pre.pk, 4000000000u) != L2S_OK)
		die("responder keys");
	if (l2s_node_establish(c->node, id.pk, bundle, sizeof(bundle), 1800000000u, cfg, 1, now_ms, &h) != L2S_OK ||
	    take_output(c, init, sizeof(init)) != sizeof(init))
		die("l2s_node_establish failed");
	if (l2s_hs_consume_init(&rst, &id, prekeys, 1, NULL, init, sizeof(init)) != L2S_OK ||
	    l2s_hs_create_resp(resp, &keys, &rst, &id, i + 1, &v->rng) != L2S_OK)
		die("the responder refused C's request");
	if (l2s_node_receive(c->node, 1, (const uint8_t *)"responders", 10, resp, sizeof(resp), now_ms) != L2S_OK)
		die("C refused the response");
	l2s_keypair_init(&kp, keys.send, keys.recv, i + 1, l2s_get_u32(init + 4), now_ms, 1);
	if (answer_sync(c, &kp, "responders") != 1) /* C's CONFIRM and SYNC */
		die("C sent no SYNC");
	if (state(c, h) != L2S_ESTABLISHED)
		die("C did not establish");
	/* As a responder node would, it sends C a TICKET (120 bytes, opaque
	 * to C, which keeps it) under the new keys. */
	{
		static uint8_t msg[256];
		uint8_t ticket[L2S_TICKET_BYTES], frame[16 + L2S_TICKET_BYTES];
		struct l2s_frame f = { .type = L2S_FRAME_TICKET };
		size_t flen, len;

		l2s_rng_bytes(&v->rng, ticket, sizeof(ticket));
		f.u.ticket.lifetime_s = 86400;
		f.u.ticket.ticket = ticket;
		f.u.ticket.len = sizeof(ticket);
		if (l2s_encode_frame(frame, sizeof(frame), &f, &flen) != L2S_OK ||
		    l2s_keypair_seal(&kp, frame, flen, msg, sizeof(msg), &len) != L2S_OK ||
		    l2s_node_receive(c->node, 1, (const uint8_t *)"responders", 10, msg, len, now_ms) != L2S_OK ||
		    !l2s_node_session(c->node, h)->ticket)
			die("C did not take the ticket");
		drop_all(c);
	}
	l2s_keypair_wipe(&kp);
	l2s_session_keys_wipe(&keys);
	l2s_identity_wipe(&id);
}

/* ---- main ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	int runs = 300;
	uint32_t max_n = 100000;
	struct l2s_config cfg;
	struct peer a, b, c, d, r1, r2;
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES], bundle_r[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_bundle bd;
	double *v, hs_us, resume_us, resume_dh_us, floor_us = 0, resume_floor_us = 0;
	unsigned long hs_calls[C_COUNT] = { 0 }, rs_calls[C_COUNT] = { 0 }, rsdh_calls[C_COUNT] = { 0 };
	struct l2s_config cfg_dh;
	uint32_t h;

	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--quick") == 0) {
			runs = 5;
			max_n = 1000; /* the first mark of (c): below it (c) and (d) would not run */
		} else if (strcmp(argv[k], "--runs") == 0 && k + 1 < argc) {
			runs = atoi(argv[k + 1]) > 0 ? atoi(argv[k + 1]) : runs;
			k++;
		} else if (strcmp(argv[k], "--sessions") == 0 && k + 1 < argc) {
			max_n = (uint32_t)strtoul(argv[k + 1], NULL, 10);
			k++;
		} else {
			fprintf(stderr, "usage: bench_engine [--quick] [--runs N] [--sessions N]\n");
			return 2;
		}
	}
	if (l2s_init() != L2S_OK)
		die("l2s_init failed");
	l2s_config_default(&cfg);
	v = malloc((size_t)runs * sizeof(*v));
	if (!v)
		die("no memory");
	printf("bench_engine: ML-KEM provider %s, BLAKE3 %s, %d runs per median, CPU time of this thread\n",
	       l2s_mlkem_provider(), l2s_blake3_backend(), runs);

	/* (a) and (b), interleaved so that every series sees the same machine:
	 * each run times one full handshake (a fresh session, closed after),
	 * each operation of the crypto floor once, one resumption of a session
	 * kept for that, and the X25519 operations a resumption needs. */
	make_peer(&a, 0xa1, 64, 0);
	make_peer(&b, 0xb1, 64, 0);
	l2s_node_prekey_bundle(b.node, bundle);
	{
		struct prim p[] = {
			{ "Ed25519 verify: prekey bundle (1287 B)", "I", C_VERIFY, 1, 0 },
			{ "X-Wing keygen, ephemeral (expand)", "I", C_EXPAND, 1, 0 },
			{ "X-Wing encaps to the prekey (+ ek check)", "I", C_ENCAPS, 1, 0 },
			{ "Ed25519 sign: sig_I (98 B)", "I", C_SIGN, 1, 0 },
			{ "X-Wing decaps, expanded ephemeral", "I", C_DECAPS, 1, 0 },
			{ "Ed25519 verify: sig_R (58 B)", "I", C_VERIFY, 1, 0 },
			{ "ML-KEM-768 ek check of e_pk", "R", C_CHECK_EK, 1, 0 },
			{ "X-Wing decaps, expanded prekey", "R", C_DECAPS, 1, 0 },
			{ "Ed25519 verify: sig_I (98 B)", "R", C_VERIFY, 1, 0 },
			{ "X-Wing encaps to e_pk (+ ek check)", "R", C_ENCAPS, 1, 0 },
			{ "Ed25519 sign: sig_R (58 B)", "R", C_SIGN, 1, 0 },
			{ "X25519 base (resumption: each side)", "I+R", C_X25519_BASE, 2, 0 },
			{ "X25519 (resumption: each side)", "I+R", C_X25519, 2, 0 },
		};
		void (*ops[])(void) = { op_verify_bundle, op_expand,   op_encaps_pre, op_sign98,   op_decaps_e,
					op_verify58,      op_check_ek, op_decaps_pre, op_verify98, op_encaps_e,
					op_sign58,        op_x_base,   op_x_dh };
		enum { NP = sizeof(p) / sizeof(p[0]), NHS = NP - 2 };
		double *pv[NP], *rv = malloc((size_t)runs * sizeof(*rv)), *rdv = malloc((size_t)runs * sizeof(*rdv));
		double resume_floor = 0;
		unsigned long expect[C_COUNT] = { 0 };
		int counted_ok = 1;
		uint32_t hr, hr_b, hd, hd_b;

		for (int k = 0; k < NP; k++)
			if (!(pv[k] = malloc((size_t)runs * sizeof(double))))
				die("no memory");
		if (!rv || !rdv)
			die("no memory");
		/* Inputs for the floor operations: b's real prekey, a fresh
		 * ephemeral, b's real bundle, messages of the signed sizes. */
		l2s_random(fl_seed, sizeof(fl_seed));
		l2s_random(fl_eseed, sizeof(fl_eseed));
		l2s_random(fl_msg98, sizeof(fl_msg98));
		l2s_random(fl_msg58, sizeof(fl_msg58));
		l2s_random(fl_x_sk, sizeof(fl_x_sk));
		l2s_x25519_base(fl_x_pk, fl_x_sk);
		l2s_ed25519_keypair(fl_pk, fl_sk);
		op_expand();
		l2s_xwing_public(fl_pk_e, &fl_e);
		fl_pre = b.node->prekey.secret;
		memcpy(fl_pk_pre, b.node->prekey.pk, sizeof(fl_pk_pre));
		if (l2s_bundle_open(&bd, bundle, sizeof(bundle), b.pk, 1800000000u) != L2S_OK)
			die("bundle");
		memcpy(fl_bundle_msg, L2S_BUNDLE_SIG_PREFIX, 30);
		memcpy(fl_bundle_msg + 30, bundle, L2S_BUNDLE_SIGNED_BYTES);
		memcpy(fl_sig_bundle, bd.signature, 64);
		memcpy(fl_bundle_pk, b.pk, 32);
		l2s_xwing_encaps_derand(fl_ct_pre, fl_ss, fl_pk_pre, fl_eseed);
		l2s_xwing_encaps_derand(fl_ct_e, fl_ss, fl_pk_e, fl_eseed);

		/* The sessions resumed each run: default config, and resume_dh. */
		cfg_dh = cfg;
		cfg_dh.resume_dh = 1;
		/* With their own peers: a newer handshake with b replaces a's
		 * session with b. */
		make_peer(&r1, 0xa2, 64, 0);
		make_peer(&r2, 0xa3, 64, 0);
		l2s_node_prekey_bundle(r1.node, bundle_r);
		hr = handshake(&a, &r1, bundle_r, &cfg);
		hr_b = r1.accepted;
		l2s_node_prekey_bundle(r2.node, bundle_r);
		hd = handshake(&a, &r2, bundle_r, &cfg_dh);
		hd_b = r2.accepted;
		if (!l2s_node_session(a.node, hr)->ticket || !l2s_node_session(a.node, hd)->ticket)
			die("no ticket after the handshake");
		for (int i = 0; i < 20 + runs; i++) {
			double t;

			/* b's token bucket refills: no cookies */
			now_ms += 200;
			if (i == 20)
				memset(calls, 0, sizeof(calls));
			t = cpu_now();
			h = handshake(&a, &b, bundle, &cfg);
			t = cpu_now() - t;
			if (i == 20)
				memcpy(hs_calls, calls, sizeof(calls));
			if (state(&a, h) != L2S_ESTABLISHED || state(&b, b.accepted) != L2S_ESTABLISHED)
				die("the handshake did not establish both sides");
			if (i >= 20)
				v[i - 20] = t;
			l2s_session_close(a.node, h, now_ms); /* b gets the CLOSE */
			pump(&a, &b);
			if (a.node->live != 2 || b.node->live != 0)
				die("sessions left after close");

			for (int k = 0; k < NP; k++) {
				t = cpu_now();
				ops[k]();
				t = cpu_now() - t;
				if (i >= 20)
					pv[k][i - 20] = t;
			}

			t = resume_once(&a, &r1, hr, hr_b, i == 20 ? rs_calls : NULL);
			if (i >= 20)
				rv[i - 20] = t;
			t = resume_once(&a, &r2, hd, hd_b, i == 20 ? rsdh_calls : NULL);
			if (i >= 20)
				rdv[i - 20] = t;
		}
		hs_us = median(v, runs) * 1e6;
		resume_us = median(rv, runs) * 1e6;
		resume_dh_us = median(rdv, runs) * 1e6;
		for (int k = 0; k < NP; k++) {
			p[k].us = median(pv[k], runs) * 1e6;
			if (k < NHS) {
				floor_us += p[k].us * p[k].count;
				expect[p[k].counter] += (unsigned long)p[k].count;
			} else {
				resume_floor += p[k].us * p[k].count;
			}
			free(pv[k]);
		}
		free(rv);
		free(rdv);
		for (int k = 0; k < C_X25519_BASE; k++)
			counted_ok &= hs_calls[k] == expect[k];
		/* X-Wing's X25519: one base point multiplication in each key
		 * generation and encapsulation, the DH inside (not wrapped). */
		counted_ok &= hs_calls[C_X25519_BASE] == hs_calls[C_EXPAND] + hs_calls[C_ENCAPS] && hs_calls[C_X25519] == 0;
		printf("\n(a) full handshake, both sides: the public-key operations the code performs per handshake, "
		       "counted with link-time wrappers (%s the list below):\n",
		       counted_ok ? "matches" : "DOES NOT MATCH");
		printf("    Ed25519 sign %lu, verify %lu; X-Wing expand %lu, encaps %lu, decaps %lu; ML-KEM ek check "
		       "%lu; l2s_x25519 base %lu, dh %lu\n",
		       hs_calls[C_SIGN], hs_calls[C_VERIFY], hs_calls[C_EXPAND], hs_calls[C_ENCAPS], hs_calls[C_DECAPS],
		       hs_calls[C_CHECK_EK], hs_calls[C_X25519_BASE], hs_calls[C_X25519]);
		printf("    (the X25519 calls are X-Wing's own, inside its key generation and encapsulations; I = "
		       "initiator, R = responder)\n");
		printf("    %-44s %4s %10s\n", "operation", "side", "median us");
		for (int k = 0; k < NHS; k++)
			printf("    %-44s %4s %10.1f\n", p[k].name, p[k].side, p[k].us);
		printf("    %-44s %4s %10.1f\n", "crypto floor (sum)", "", floor_us);
		printf("    not in the floor: BLAKE3 (transcripts, KDFs, MACs), ChaCha20-Poly1305 (sealed identity and "
		       "signature, ticket, first frames), the engine's own work\n");
		printf("\n(b) resumption, both sides, ticket mode, counted per run: default config (resume_dh = 0): "
		       "l2s_x25519 base %lu, dh %lu, Ed25519 %lu, X-Wing %lu; with resume_dh = 1: x25519 base %lu, dh %lu\n",
		       rs_calls[C_X25519_BASE], rs_calls[C_X25519], rs_calls[C_SIGN] + rs_calls[C_VERIFY],
		       rs_calls[C_EXPAND] + rs_calls[C_ENCAPS] + rs_calls[C_DECAPS], rsdh_calls[C_X25519_BASE],
		       rsdh_calls[C_X25519]);
		for (int k = NHS; k < NP; k++)
			printf("    %-44s %4s %10.1f  x%d\n", p[k].name, p[k].side, p[k].us, p[k].count);
		printf("    %-44s %4s %10.1f  (%.1f%% of the full handshake)\n", "X25519 floor with resume_dh (sum)", "",
		       resume_floor, 100 * resume_floor / hs_us);
		resume_floor_us = resume_floor;
	}
	l2s_node_free(a.node);
	l2s_node_free(b.node);
	l2s_node_free(r1.node);
	l2s_node_free(r2.node);

	/* (c), (d). The clock stays put while the sessions are made, so no
	 * heartbeat falls due; D's token bucket is configured wide (10^6/s)
	 * so that all requests come from one address without cookies. */
	{
		static const uint32_t marks[] = { 1000, 10000, 100000, 1000000 };
		const uint32_t cap = max_n + 16;
		size_t heap0, fixed_c, heap_small, mem_c = 0, mem_d = 0, blocks_c = 0, blocks_d = 0;
		double tick_us[4][2], tick_max_us[4][2], mem_sess[4][2], blocks_sess[4][2], made_s[2] = { 0, 0 };
		uint32_t done = 0, nmarks = 0;
		uint64_t t0;
		struct peer tmp;
		struct virt v;

		/* Fixed cost of a node at this capacity and at 16, for the
		 * per-slot preallocation. */
		heap0 = heap_live;
		make_peer(&tmp, 0xee, 16, 0);
		heap_small = heap_live - heap0;
		l2s_node_free(tmp.node);
		heap0 = heap_live;
		make_peer(&c, 0xc1, cap, 0);
		fixed_c = heap_live - heap0;
		make_peer(&d, 0xd1, cap, 1000000);
		virt_init(&v, &d);
		t0 = now_ms;
		for (uint32_t m = 0; m < sizeof(marks) / sizeof(marks[0]) && marks[m] <= max_n; m++) {
			uint64_t due_c, due_d;
			size_t h0, b0;
			double t;

			/* D: full handshakes from new initiator identities. */
			h0 = heap_live;
			b0 = heap_blocks;
			t = cpu_now();
			for (uint32_t i = done; i < marks[m]; i++)
				virt_initiator(&v, &d, i);
			made_s[1] += cpu_now() - t;
			mem_d += heap_live - h0;
			blocks_d += heap_blocks - b0;
			/* C: full handshakes to new responder identities. */
			h0 = heap_live;
			b0 = heap_blocks;
			t = cpu_now();
			for (uint32_t i = done; i < marks[m]; i++)
				virt_responder(&v, &c, &cfg, i);
			made_s[0] += cpu_now() - t;
			mem_c += heap_live - h0;
			blocks_c += heap_blocks - b0;
			done = marks[m];
			if (c.node->live != done || d.node->live != done)
				die("session count");
			mem_sess[nmarks][0] = (double)mem_c / done;
			mem_sess[nmarks][1] = (double)mem_d / done;
			blocks_sess[nmarks][0] = (double)blocks_c / done;
			blocks_sess[nmarks][1] = (double)blocks_d / done;
			/* Anything due at this instant (nothing should be) runs now. */
			l2s_node_tick(c.node, now_ms);
			l2s_node_tick(d.node, now_ms);
			drop_all(&c);
			drop_all(&d);
			due_c = l2s_node_next_deadline(c.node);
			due_d = l2s_node_next_deadline(d.node);
			if (due_c <= now_ms + 2000 || due_d <= now_ms + 2000)
				die("a timer is due within the measurement");
			/* 2000 ticks per node, the clock 1 ms further each time,
			 * timed in batches of 20 (a thread-CPU clock read costs
			 * about as much as an idle tick). */
			for (int side = 0; side < 2; side++) {
				struct l2s_node *n = side ? d.node : c.node;
				double tv[100];

				for (int k = 0; k < 100; k++) {
					double tt = cpu_now();

					for (int j = 0; j < 20; j++)
						l2s_node_tick(n, now_ms + 1 + (uint64_t)(20 * k + j));
					tv[k] = (cpu_now() - tt) / 20;
				}
				tick_max_us[nmarks][side] = 0;
				for (int k = 0; k < 100; k++)
					if (tv[k] * 1e6 > tick_max_us[nmarks][side])
						tick_max_us[nmarks][side] = tv[k] * 1e6;
				tick_us[nmarks][side] = median(tv, 100) * 1e6;
				if (n->outputs.count || n->events.count)
					die("an idle tick produced output");
			}
			now_ms += 2001;
			nmarks++;
		}
		if (now_ms - t0 >= cfg.heartbeat_interval_ms)
			die("the clock moved past the first heartbeat");
		virt_free(&v);
		l2s_node_free(c.node);
		l2s_node_free(d.node);

		printf("\n(c) sessions made with real full handshakes: %u on D (%.0f us each, D and its peer), %u on C "
		       "(%.0f us each, C and its peer, the peer's prekey and bundle included)\n",
		       done, done ? made_s[1] * 1e6 / done : 0, done, done ? made_s[0] * 1e6 / done : 0);
		printf("\n(d) heap per established session (usable bytes of live blocks, counting allocator; glibc adds "
		       "an 8-byte header per block):\n");
		printf("    sizeof(struct l2s_session) = %zu B; fixed node cost %zu B (max_sessions %u), %zu B (16): "
		       "%.1f B per slot preallocated\n",
		       sizeof(struct l2s_session), fixed_c, cap, heap_small,
		       (double)(fixed_c - heap_small) / (cap - 16));
		for (uint32_t m = 0; m < nmarks; m++)
			printf("    at %6u sessions: C (initiator) %.0f B in %.2f blocks, D (responder) %.0f B in %.2f "
			       "blocks per session\n",
			       marks[m], mem_sess[m][0], blocks_sess[m][0], mem_sess[m][1], blocks_sess[m][1]);
		if (done) {
			double per_c = mem_sess[nmarks - 1][0], per_d = mem_sess[nmarks - 1][1];

			/* The table. */
			printf("\n%-60s %14s %14s %10s %8s\n", "measure", "value", "goal", "ratio", "");
			printf("%-60s %11.1f us %14s\n", "(a) full handshake, both sides (median)", hs_us, "");
			printf("%-60s %11.1f us %14s\n", "    crypto floor (sum of the 11 operations above)", floor_us,
			       "");
			printf("%-60s %14s %14s %9.2fx %8s\n", "    handshake / crypto floor", "", "<= 1.30x",
			       hs_us / floor_us, met(hs_us / floor_us <= 1.3));
			printf("%-60s %11.1f us %14s\n", "(b) resumption, both sides (median), default config", resume_us,
			       "");
			printf("%-60s %14s %14s %9.1f%% %8s\n", "    resumption / full handshake", "", "<= 10 %",
			       100 * resume_us / hs_us, met(resume_us <= 0.10 * hs_us));
			printf("%-60s %11.1f us %14s\n", "    resumption with resume_dh = 1 (median)", resume_dh_us, "");
			printf("%-60s %14s %14s %9.1f%% %8s\n", "    resumption with resume_dh = 1 / full handshake", "",
			       "<= 10 %", 100 * resume_dh_us / hs_us, met(resume_dh_us <= 0.10 * hs_us));
			printf("%-60s %11.1f us %14s %9.1f%%\n", "    its X25519 floor (2 base + 2 dh) / full handshake",
			       resume_floor_us, "", 100 * resume_floor_us / hs_us);
			for (uint32_t m = 0; m < nmarks; m++) {
				char name[80], goal[16] = "";
				double worst = tick_us[m][0] > tick_us[m][1] ? tick_us[m][0] : tick_us[m][1];

				snprintf(name, sizeof(name), "(c) tick, %u idle sessions (median, worst batch %.2f us)",
					 marks[m],
					 tick_max_us[m][0] > tick_max_us[m][1] ? tick_max_us[m][0] : tick_max_us[m][1]);
				if (marks[m] == 100000)
					snprintf(goal, sizeof(goal), "<= 1000 us");
				printf("%-60s %11.3f us %14s %10s %8s\n", name, worst, goal, "",
				       marks[m] == 100000 ? met(worst <= 1000) : "");
			}
			printf("%-60s %12.0f B %14s %10s %8s\n", "(d) heap per established session, initiator (C)",
			       per_c, "<= 2048 B", "", met(per_c <= 2048));
			printf("%-60s %12.0f B %14s %10s %8s\n", "    heap per established session, responder (D)",
			       per_d, "<= 2048 B", "", met(per_d <= 2048));
			printf("%-60s %12.1f B %14s\n", "    preallocated per session slot (max_sessions)",
			       (double)(fixed_c - heap_small) / (cap - 16), "");
		}
	}
	free(v);
	return 0;
}
