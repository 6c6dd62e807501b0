// SPDX-License-Identifier: Apache-2.0
/* Two nodes over a simulated link: handshake, data both ways, rotation,
 * heartbeats, partition -> degraded -> suspended -> recovery, export and
 * resumption after a restart. Time is a variable, nothing sleeps; the
 * harness is tests/c/nodesim.h. */
#include <string.h>

#include "handshake/cookie.h"
#include "crypto/kdf.h"
#include "l2s.h"
#include "engine/node.h"
#include "nodesim.h"
#include "handshake/resume.h"
#include "testutil.h"

/* A re-sent HANDSHAKE_INIT replaces the responder's unconfirmed session. The
 * old session fails and leaves the machine, each step with its audit event
 * at the current time (engine fix: the failure was stamped with time 0 and
 * the session vanished without its failed -> [*] cleanup event). */
static void test_half_open_replaced(void)
{
	struct l2s_config cfg;
	struct ns_peer a, b;
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_session_info info;
	struct l2s_output o;
	struct l2s_event ev;
	uint32_t first = 0;
	int failed = 0, ended = 0;

	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x30);
	ns_make_peer(&b, 0x40);
	CHECK(l2s_node_prekey_bundle(b.node, bundle) == L2S_OK);
	CHECK(l2s_node_establish(a.node, b.pk, bundle, sizeof(bundle), 1800000000u, &cfg, 1, ns_now, &a.session) ==
	      L2S_OK);
	/* The request reaches b; b's response is lost. */
	while (l2s_node_next_output(a.node, &o))
		CHECK(l2s_node_receive(b.node, 1, (const uint8_t *)"addr-a", 6, o.data, o.len, ns_now) == L2S_OK);
	while (l2s_node_next_output(b.node, &o))
		;
	while (l2s_node_next_event(b.node, &ev))
		if (ev.type == L2S_EV_ACCEPTED)
			first = ev.session;
	CHECK(first != 0);
	/* a re-sends a new request after handshake_timeout / 5. */
	ns_now += cfg.handshake_timeout_ms / 5;
	l2s_node_tick(a.node, ns_now);
	while (l2s_node_next_output(a.node, &o))
		CHECK(l2s_node_receive(b.node, 1, (const uint8_t *)"addr-a", 6, o.data, o.len, ns_now) == L2S_OK);
	while (l2s_node_next_event(b.node, &ev)) {
		if (ev.type == L2S_EV_ACCEPTED)
			b.session = ev.session;
		if (ev.type != L2S_EV_STATE || ev.session != first)
			continue;
		if (ev.from == L2S_HANDSHAKE_RECEIVED && ev.to == L2S_FAILED && ev.time_ms == ns_now)
			failed++;
		if (ev.from == L2S_FAILED && ev.to == L2S_STATE_END && ev.reason == L2S_REASON_CLEANUP &&
		    ev.time_ms == ns_now)
			ended++;
	}
	CHECK(failed == 1 && ended == 1);
	CHECK(l2s_session_info(b.node, first, &info) == L2S_ERR_NOT_FOUND);
	CHECK(b.session != 0 && b.session != first);
	/* The new handshake completes. */
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state_of(&b) == L2S_ESTABLISHED);
	l2s_node_free(a.node);
	l2s_node_free(b.node);
}

/* A ticket resumption whose response cannot be made (the initiator's X25519
 * share has small order, re-MACed so that it passes mac1 and the binder)
 * leaves no session behind at the responder (engine fix: the session made
 * for the ticket stayed in handshake_received, with no timer, for ever). */
static void test_resume_bad_share_leaves_nothing(void)
{
	static const uint8_t small[32] = { 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
					   0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
					   0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 };
	struct l2s_resume_initiator ist;
	struct l2s_session *as;
	struct l2s_config cfg;
	struct ns_peer a, b;
	struct l2s_output o;
	struct l2s_event ev;
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES], k[32], unbound[32] = { 0 };
	uint32_t live, created = 0;
	int ended = 0;

	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x50);
	ns_make_peer(&b, 0x60);
	CHECK(l2s_node_prekey_bundle(b.node, bundle) == L2S_OK);
	CHECK(l2s_node_establish(a.node, b.pk, bundle, sizeof(bundle), 1800000000u, &cfg, 1, ns_now, &a.session) ==
	      L2S_OK);
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state_of(&b) == L2S_ESTABLISHED);
	as = l2s_node_session(a.node, a.session);
	CHECK(as != NULL && as->ticket != NULL);
	/* b forgets the session: only the ticket can resume it ns_now. */
	CHECK(l2s_session_close(b.node, b.session, ns_now) == L2S_OK);
	while (l2s_node_next_output(b.node, &o))
		;
	while (l2s_node_next_event(b.node, &ev))
		;
	live = b.node->live;
	CHECK(l2s_resume_create_init(&ist, b.pk, NULL, as->session_id, as->rs, as->ticket, as->ticket_len, 1, 7,
				     &a.node->rng) == L2S_OK);
	memcpy(ist.msg + 58, small, 32);
	l2s_kdf_resume_binder(k, as->rs, unbound);
	l2s_mac_put(ist.msg, 92 + as->ticket_len, k);
	l2s_mac_put(ist.msg, 108 + as->ticket_len, b.node->id.mac1_key);
	CHECK(l2s_node_receive(b.node, 1, (const uint8_t *)"addr-a", 6, ist.msg, ist.msg_len, ns_now) ==
	      L2S_ERR_INVALID_KEY);
	CHECK(b.node->live == live);
	CHECK(!l2s_node_next_output(b.node, &o));
	while (l2s_node_next_event(b.node, &ev)) {
		if (ev.type == L2S_EV_ACCEPTED)
			created = ev.session;
		if (ev.type == L2S_EV_STATE && ev.session == created && ev.to == L2S_STATE_END &&
		    ev.reason == L2S_REASON_CLEANUP && ev.time_ms == ns_now)
			ended++;
	}
	CHECK(created != 0 && ended == 1);
	l2s_resume_initiator_wipe(&ist);
	l2s_node_free(a.node);
	l2s_node_free(b.node);
}

/* Resumption on a bound path (QUIC: the TLS exporter, PROTOCOL.md §2.1, §8):
 * a restarts from its StoredSession and resumes on a connection whose two
 * ends hold the same binding; the session goes on under the same id. */
static void test_resume_on_bound_path(void)
{
	struct l2s_config cfg;
	struct ns_peer a, b;
	uint8_t bind[32], stored[4096], sid[16];
	uint32_t hb;
	size_t len;

	l2s_config_default(&cfg);
	memset(bind, 0xb7, sizeof(bind));
	ns_make_peer(&a, 0x70);
	ns_make_peer(&b, 0x71);
	CHECK(l2s_node_path_binding(a.node, 1, bind) == L2S_OK);
	CHECK(l2s_node_path_binding(b.node, 1, bind) == L2S_OK);
	CHECK(ns_connect(&a, &b, &cfg));
	hb = b.session;
	memcpy(sid, l2s_node_session(b.node, hb)->session_id, sizeof(sid));
	ns_send_n(&a, 3);
	ns_pump(&a, &b);
	CHECK(l2s_session_export(a.node, a.session, stored, sizeof(stored), &len) == L2S_OK);

	/* a restarts: same identity and storage key, a new connection whose
	 * binding both ends agree on. */
	ns_free_peer(&a);
	ns_make_peer(&a, 0x70);
	memset(bind, 0xb8, sizeof(bind));
	CHECK(l2s_node_path_binding(a.node, 1, bind) == L2S_OK);
	CHECK(l2s_node_path_binding(b.node, 1, bind) == L2S_OK);
	CHECK(l2s_node_resume(a.node, stored, len, &cfg, 1, ns_now, &a.session) == L2S_OK);
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state(&b, hb) == L2S_ESTABLISHED);
	CHECK(b.accepted == 1 && b.session == hb); /* resumed, not a new session */
	CHECK(memcmp(l2s_node_session(a.node, a.session)->session_id, sid, sizeof(sid)) == 0);
	ns_send_n(&a, 4);
	ns_pump(&a, &b);
	CHECK(b.received == 7 && b.out_of_order == 1); /* the StoredSession reserve's jump */
	ns_free_peer(&a);
	ns_free_peer(&b);
}

/* A restarts and resumes, then exports again the moment it is established,
 * before b's TICKET for the new resumption secret has arrived, restarts and
 * resumes from that export, five times over. Resumption replaces rs, so the
 * ticket a held was sealed for the old one: resuming with it, b finds the
 * binder wrong and drops the RESUME_INIT unanswered (the loop then waited
 * out handshake_timeout_ms and fell back to a full handshake). */
static void test_export_before_new_ticket(void)
{
	struct ns_opts fresh = { .system_rng = 1 }; /* a restart's nonces are new */
	struct l2s_config cfg;
	struct ns_peer a, b;
	uint8_t stored[4096];
	uint32_t hb;
	size_t len;

	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x72);
	ns_make_peer(&b, 0x73);
	CHECK(ns_connect(&a, &b, &cfg));
	hb = b.session;
	ns_pump(&a, &b); /* a has b's first ticket */
	CHECK(l2s_node_session(a.node, a.session)->ticket != NULL);
	CHECK(l2s_session_export(a.node, a.session, stored, sizeof(stored), &len) == L2S_OK);
	for (int i = 0; i < 5; i++) {
		ns_free_peer(&a);
		ns_make_peer_opts(&a, 0x72, &fresh);
		CHECK(l2s_node_resume(a.node, stored, len, &cfg, 1, ns_now, &a.session) == L2S_OK);
		ns_move(&a, &b); /* RESUME_INIT */
		ns_move(&b, &a); /* RESUME_RESP: a is established, b not yet */
		CHECK(ns_state_of(&a) == L2S_ESTABLISHED);
		CHECK(l2s_session_export(a.node, a.session, stored, sizeof(stored), &len) == L2S_OK);
		ns_pump(&a, &b);
		CHECK(ns_state(&b, hb) == L2S_ESTABLISHED && b.session == hb);
	}
	ns_free_peer(&a);
	ns_make_peer_opts(&a, 0x72, &fresh);
	CHECK(l2s_node_resume(a.node, stored, len, &cfg, 1, ns_now, &a.session) == L2S_OK);
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state(&b, hb) == L2S_ESTABLISHED && b.session == hb);
	ns_free_peer(&a);
	ns_free_peer(&b);
}

/* ---- restoring a stale checkpoint (PROTOCOL.md §5 "Sync", §10) ---------- */

#define SYNC_MSG_BYTES (16 + 1 + 8 + 16 + 16) /* TRANSPORT header, SYNC frame (base, stream), tag */

static uint8_t lose_from_tag;
static int syncs_to_lose;

/* Loses the next syncs_to_lose SYNC-sized messages from lose_from_tag (a
 * HEARTBEAT has that size too; none is due in these tests). */
static int lose_syncs(void *arg, const struct ns_peer *from, const struct ns_peer *to, uint8_t *msg, size_t len)
{
	(void)arg;
	(void)to;
	if (from->tag != lose_from_tag || len != SYNC_MSG_BYTES || msg[1] != L2S_MSG_TRANSPORT || !syncs_to_lose)
		return 1;
	syncs_to_lose--;
	return 0;
}

/* a checkpoints while its 100 messages are unacknowledged, sends 50 more
 * that b acknowledges, dies and restarts from the checkpoint: its new
 * messages get seqs above the reserve, and the SYNC that steps b over the
 * gap (re-sent if lost) lets b deliver them. Without the reserve they would
 * reuse seqs 101.. and b would drop them as duplicates. */
static void test_stale_checkpoint_sender(int lost)
{
	struct l2s_config cfg;
	struct l2s_session_info info;
	struct ns_peer a, b;
	const struct l2s_delivery *bd;
	uint8_t stored[8192];
	uint64_t dups;
	size_t len;

	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x72);
	ns_make_peer(&b, 0x73);
	CHECK(ns_connect(&a, &b, &cfg));
	ns_send_ids(&a, 0, 100);
	ns_move(&a, &b); /* delivered; b's ACKs not yet back */
	CHECK(l2s_session_export(a.node, a.session, stored, sizeof(stored), &len) == L2S_OK);
	ns_pump(&a, &b);
	ns_send_ids(&a, 100, 50);
	ns_pump(&a, &b);
	CHECK(l2s_session_info(a.node, a.session, &info) == L2S_OK && info.unacked == 0 && info.next_send_seq == 151);
	CHECK(ns_got_ids(&b, 0, 150));
	bd = &l2s_node_session(b.node, b.session)->dl;
	dups = bd->rx_duplicates;

	ns_free_peer(&a); /* SIGKILL */
	ns_make_peer(&a, 0x72);
	lose_from_tag = 0x72;
	syncs_to_lose = lost;
	ns_filter = lose_syncs;
	CHECK(l2s_node_resume(a.node, stored, len, &cfg, 1, ns_now, &a.session) == L2S_OK);
	ns_send_ids(&a, 150, 100); /* queued behind the checkpoint's 100 */
	ns_pump(&a, &b);
	ns_advance(&a, &b, 3000, 50);
	ns_filter = NULL;
	CHECK(syncs_to_lose == 0);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED);
	CHECK(ns_got_ids(&b, 0, 250));
	CHECK(b.id_seqs[149] == 150 && b.id_seqs[150] == 101 + L2S_DELIVERY_SEQ_RESERVE);
	CHECK(l2s_session_info(a.node, a.session, &info) == L2S_OK && info.unacked == 0 &&
	      info.next_send_seq == 201 + L2S_DELIVERY_SEQ_RESERVE);
	CHECK(l2s_node_session(a.node, a.session)->dl.sync_base == 0); /* the SYNC took effect */
	/* The restored a knows no window of b yet: one old message goes, and
	 * b's ACK of it covers the other 99 (before windows: all 100 again). */
	if (!lost)
		CHECK(bd->rx_duplicates == dups + 1 && bd->rx_dropped == 0);
	ns_free_peer(&a);
	ns_free_peer(&b);
}

/* b checkpoints after 100 messages, gets 50 more, dies and restarts from the
 * checkpoint. a's SYNC (re-sent if lost) moves b past what a had
 * acknowledged; delivery goes on in order both ways, and b's own messages
 * after the restart reach a. (That b's app saw 100..149 before the crash is
 * for its delivered_upto watermark; the engine must neither lose nor stall.) */
static void test_stale_checkpoint_receiver(int lost)
{
	struct l2s_config cfg;
	struct ns_peer a, b;
	uint8_t stored[8192];
	size_t len;

	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x74);
	ns_make_peer(&b, 0x75);
	CHECK(ns_connect(&a, &b, &cfg));
	ns_send_ids(&a, 0, 100);
	ns_pump(&a, &b);
	CHECK(l2s_session_export(b.node, b.session, stored, sizeof(stored), &len) == L2S_OK);
	ns_send_ids(&a, 100, 50);
	ns_pump(&a, &b);
	CHECK(ns_got_ids(&b, 0, 150));

	ns_free_peer(&b);
	ns_make_peer(&b, 0x75);
	lose_from_tag = 0x74;
	syncs_to_lose = lost;
	ns_filter = lose_syncs;
	CHECK(l2s_node_resume(b.node, stored, len, &cfg, 1, ns_now, &b.session) == L2S_OK);
	ns_pump(&a, &b);
	ns_send_ids(&a, 150, 100);
	ns_send_ids(&b, 1000, 10);
	ns_pump(&a, &b);
	ns_advance(&a, &b, 3000, 50);
	ns_filter = NULL;
	CHECK(syncs_to_lose == 0);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state_of(&b) == L2S_ESTABLISHED);
	CHECK(ns_got_ids(&b, 150, 100));
	CHECK(b.id_seqs[0] == 151);
	CHECK(ns_got_ids(&a, 1000, 10));
	ns_free_peer(&a);
	ns_free_peer(&b);
}

static uint64_t loss_state;

/* Loses about 15% of TRANSPORT messages either way (a deterministic PRNG). */
static int lossy(void *arg, const struct ns_peer *from, const struct ns_peer *to, uint8_t *msg, size_t len)
{
	(void)arg;
	(void)from;
	(void)to;
	if (len < 2 || msg[1] != L2S_MSG_TRANSPORT)
		return 1;
	loss_state ^= loss_state << 13;
	loss_state ^= loss_state >> 7;
	loss_state ^= loss_state << 17;
	return loss_state % 100 >= 15;
}

static uint64_t unacked(const struct ns_peer *p)
{
	struct l2s_session_info info;

	CHECK(l2s_session_info(p->node, p->session, &info) == L2S_OK);
	return info.unacked;
}

/* Advances until p has nothing unacknowledged (at most 60 s). */
static void advance_until_acked(struct ns_peer *p, struct ns_peer *q)
{
	for (int i = 0; i < 3000 && unacked(p); i++)
		ns_advance(p, q, 20, 20);
	CHECK(unacked(p) == 0);
}

/* What a restored receiver's app got: first .. first + n - 1 last, once
 * each and in order; before them only messages it had before the crash
 * (ids below first: what its checkpoint held out of order is delivered
 * again, for the app's delivered-up-to watermark to drop); seqs ascending. */
static int got_after_restore(const struct ns_peer *p, uint32_t first, int n)
{
	int old = p->nids - n;

	if (old < 0)
		return 0;
	for (int i = 0; i < p->nids; i++) {
		uint32_t want = i < old ? p->ids[i] : first + (uint32_t)(i - old);

		if (p->ids[i] != want || (i < old && want >= first) || (i && p->id_seqs[i] <= p->id_seqs[i - 1]))
			return 0;
	}
	return 1;
}

/* The stale-checkpoint restores over a lossy link, of the sender (a) or of
 * the receiver (b): the checkpoint is taken in the middle of traffic (some
 * messages unacknowledged, some held out of order), and still every message
 * sent after it reaches b once, in order, and b's own reach a. */
static void test_stale_checkpoint_lossy(uint64_t seed, int restore_b)
{
	struct l2s_config cfg;
	struct ns_peer a, b, *r;
	uint8_t stored[8192];
	size_t len;

	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x76);
	ns_make_peer(&b, 0x77);
	r = restore_b ? &b : &a;
	CHECK(ns_connect(&a, &b, &cfg));
	loss_state = seed;
	ns_filter = lossy;
	ns_send_ids(&a, 0, 100);
	ns_advance(&a, &b, 20 * (seed % 8), 20);
	CHECK(l2s_session_export(r->node, r->session, stored, sizeof(stored), &len) == L2S_OK);
	advance_until_acked(&a, &b);
	ns_send_ids(&a, 100, 50);
	advance_until_acked(&a, &b);
	CHECK(ns_got_ids(&b, 0, 150));

	ns_free_peer(r);
	ns_make_peer(r, restore_b ? 0x77 : 0x76);
	CHECK(l2s_node_resume(r->node, stored, len, &cfg, 1, ns_now, &r->session) == L2S_OK);
	ns_send_ids(&a, 150, 100);
	ns_send_ids(&b, 1000, 20);
	for (int i = 0; i < 3000 && (ns_state_of(r) != L2S_ESTABLISHED || unacked(&a) || unacked(&b)); i++)
		ns_advance(&a, &b, 20, 20);
	ns_filter = NULL;
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state_of(&b) == L2S_ESTABLISHED);
	CHECK(unacked(&a) == 0 && unacked(&b) == 0);
	CHECK(restore_b ? got_after_restore(&b, 150, 100) : ns_got_ids(&b, 0, 250));
	CHECK(ns_got_ids(&a, 1000, 20));
	ns_free_peer(&a);
	ns_free_peer(&b);
}

/* Path bindings: cleared ones free their slot, the others keep theirs, and
 * a caller that names each connection by a new path id (the loop) never
 * runs out as long as it clears the gone ones. */
static void test_path_bindings(struct l2s_node *node)
{
	uint8_t b[32];
	const uint8_t *got;
	int bad = 0;

	for (uint32_t p = 1; p <= 3; p++) {
		memset(b, (int)p, sizeof(b));
		CHECK(l2s_node_path_binding(node, 1000 + p, b) == L2S_OK);
	}
	CHECK(l2s_node_path_binding(node, 1001, NULL) == L2S_OK);
	CHECK(l2s_node_binding(node, 1001) == NULL);
	CHECK((got = l2s_node_binding(node, 1002)) && got[0] == 2 && got[31] == 2);
	CHECK((got = l2s_node_binding(node, 1003)) && got[0] == 3 && got[31] == 3);
	for (uint32_t p = 2000; p < 2000 + 100000; p++) {
		memset(b, (int)(p & 0xff), sizeof(b));
		bad += l2s_node_path_binding(node, p, b) != L2S_OK;
		if (p > 2000)
			bad += l2s_node_path_binding(node, p - 1, NULL) != L2S_OK;
	}
	CHECK(bad == 0);
	CHECK((got = l2s_node_binding(node, 1003)) && got[0] == 3);
	CHECK((got = l2s_node_binding(node, 2000 + 99999)) && got[0] == ((2000 + 99999) & 0xff));
	CHECK(l2s_node_binding(node, 2000 + 99998) == NULL);
	l2s_node_path_binding(node, 1002, NULL);
	l2s_node_path_binding(node, 1003, NULL);
	l2s_node_path_binding(node, 2000 + 99999, NULL);
	CHECK(node->nbindings == 0);
}

/* The deadlock of issue 8, without a network: b's answers to a are lost for
 * a while (a misses its heartbeat replies and degrades; b, with a long
 * heartbeat interval, notices nothing), and so are the answers to a's
 * resumptions, then one more RESUME_RESP. a began as the responder, so it
 * holds no ticket and resumes by key derivation. b must keep the resumption
 * secret a still holds until a confirms, so that a's next RESUME_INIT is
 * answered.
 * Then a perfect link for 10 simulated minutes: both established on the
 * same keys, data both ways. */
static int drop_b_to_a, drop_resume_resps;

static int lose_b_answers(void *arg, const struct ns_peer *from, const struct ns_peer *to, uint8_t *msg, size_t len)
{
	(void)arg;
	(void)to;
	if (from->tag != 0x31)
		return 1;
	if (len > 1 && msg[1] == L2S_MSG_RESUME_RESP && drop_resume_resps) {
		drop_resume_resps--;
		return 0;
	}
	return !drop_b_to_a;
}

static void test_lost_resume_answer_recovers(void)
{
	struct l2s_config cfg, bcfg;
	struct l2s_session_info ia, ib;
	struct ns_peer a, b;
	uint32_t bs;

	l2s_config_default(&cfg);
	bcfg = cfg;
	bcfg.heartbeat_interval_ms = 3600000;
	ns_make_peer(&a, 0x30);
	ns_make_peer(&b, 0x31);
	CHECK(ns_connect(&b, &a, &bcfg));
	bs = b.session;
	ns_filter = lose_b_answers;
	drop_b_to_a = 1;
	ns_advance(&a, &b, 4 * cfg.heartbeat_interval_ms, 100); /* three missed replies */
	CHECK(ns_state_of(&a) != L2S_ESTABLISHED);
	drop_b_to_a = 0;
	drop_resume_resps = 1;
	ns_advance(&a, &b, 600000, 100);
	ns_filter = NULL;
	CHECK(drop_resume_resps == 0); /* a resumption answer was lost */
	b.session = bs;
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state_of(&b) == L2S_ESTABLISHED);
	CHECK(l2s_session_info(a.node, a.session, &ia) == L2S_OK && l2s_session_info(b.node, b.session, &ib) == L2S_OK);
	CHECK(memcmp(ia.session_id, ib.session_id, sizeof(ia.session_id)) == 0);
	ns_send_ids(&a, 0, 20);
	ns_send_ids(&b, 100, 20);
	ns_pump(&a, &b);
	CHECK(ns_got_ids(&b, 0, 20) && ns_got_ids(&a, 100, 20));
	ns_free_peer(&a);
	ns_free_peer(&b);
}

static int resume_resps_lost;

static int lose_resume_resps(void *arg, const struct ns_peer *from, const struct ns_peer *to, uint8_t *msg,
			     size_t len)
{
	(void)arg;
	(void)from;
	(void)to;
	if (len > 1 && msg[1] == L2S_MSG_RESUME_RESP) {
		resume_resps_lost++;
		return 0;
	}
	return 1;
}

/* b restarts without state; a resumes from b's ticket and b's answers are
 * lost, so a re-sends. Each re-send replaces b's unconfirmed session for it
 * (engine fix: every re-send left one more in handshake_received until its
 * timeout). */
static void test_ticket_resends_replace(void)
{
	struct l2s_config cfg;
	struct l2s_session_info ia, ib;
	struct ns_peer a, b;

	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x62);
	ns_make_peer(&b, 0x63);
	CHECK(ns_connect(&a, &b, &cfg));
	CHECK(l2s_node_session(a.node, a.session)->ticket != NULL);
	ns_free_peer(&b);
	ns_make_peer(&b, 0x63);
	resume_resps_lost = 0;
	ns_filter = lose_resume_resps;
	CHECK(l2s_session_set_path(a.node, a.session, 2, ns_now) == L2S_OK);
	ns_pump(&a, &b);
	ns_advance(&a, &b, cfg.handshake_timeout_ms / 2, 20); /* re-sends at 1/8 and 3/8 */
	CHECK(resume_resps_lost == 3);
	CHECK(b.node->live == 1);
	ns_filter = NULL;
	ns_advance(&a, &b, cfg.handshake_timeout_ms / 2, 20); /* the re-send at 7/8 is answered */
	CHECK(b.node->live == 1);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state_of(&b) == L2S_ESTABLISHED);
	CHECK(l2s_session_info(a.node, a.session, &ia) == L2S_OK && l2s_session_info(b.node, b.session, &ib) == L2S_OK);
	CHECK(memcmp(ia.session_id, ib.session_id, sizeof(ia.session_id)) == 0);
	ns_free_peer(&a);
	ns_free_peer(&b);
}

/* The session node p keeps with its peer (by_peer), or NULL. */
static struct l2s_session *peer_session(const struct ns_peer *p, const struct ns_peer *peer)
{
	uint32_t slot;

	if (l2s_map_get(&p->node->by_peer, peer->pk, sizeof(peer->pk), &slot) != L2S_OK)
		return NULL;
	return p->node->slots[slot];
}

/* Both sides' queued messages cross on the wire: each side's batch is taken
 * before the other's is delivered. Until nothing moves. */
static void exchange_lockstep(struct ns_peer *a, struct ns_peer *b)
{
	struct ns_box ab = { .n = 0 }, ba = { .n = 0 };

	while (ns_collect(a, &ab) + ns_collect(b, &ba)) {
		ns_box_deliver(&ab, b, a);
		ns_box_deliver(&ba, a, b);
		ns_box_free(&ab);
		ns_box_free(&ba);
	}
}

/* Both sides on one session with the same keys, and it carries data and
 * heartbeats (a crossing left each side on the session the other began:
 * both "established", neither answering the other; model/README.md
 * finding 1). */
static void check_one_session(struct ns_peer *a, struct ns_peer *b)
{
	struct l2s_session *sa = peer_session(a, b), *sb = peer_session(b, a);

	CHECK(sa && sb && sa->state == L2S_ESTABLISHED && sb->state == L2S_ESTABLISHED);
	if (!sa || !sb)
		return;
	CHECK(memcmp(sa->session_id, sb->session_id, sizeof(sa->session_id)) == 0);
	a->session = sa->handle;
	b->session = sb->handle;
	ns_send_ids(a, 0, 10);
	ns_send_ids(b, 100, 10);
	ns_advance(a, b, 5 * sa->cfg.heartbeat_interval_ms, 500);
	CHECK(peer_session(a, b) == sa && peer_session(b, a) == sb);
	CHECK(sa->state == L2S_ESTABLISHED && sb->state == L2S_ESTABLISHED);
	CHECK(ns_got_ids(b, 0, 10) && ns_got_ids(a, 100, 10));
}

/* Both sides start a full handshake at the same instant and the requests
 * cross (PROTOCOL.md §4.3, crossing handshakes): the side with the larger
 * identity key ignores the other's, both end on its handshake. */
static void test_crossing_handshakes(uint8_t tag_a, uint8_t tag_b)
{
	struct l2s_config cfg;
	struct ns_peer a, b;
	uint32_t ha, hb;

	l2s_config_default(&cfg);
	ns_make_peer(&a, tag_a);
	ns_make_peer(&b, tag_b);
	CHECK(ns_start(&a, &b, &cfg, &ha) == L2S_OK);
	CHECK(ns_start(&b, &a, &cfg, &hb) == L2S_OK);
	exchange_lockstep(&a, &b);
	check_one_session(&a, &b);
	/* The winner is the larger key's own session. */
	if (memcmp(a.pk, b.pk, 32) > 0)
		CHECK(peer_session(&a, &b)->handle == ha);
	else
		CHECK(peer_session(&b, &a)->handle == hb);
	ns_free_peer(&a);
	ns_free_peer(&b);
}

/* The larger key (hi) answers the other's request first and starts its own
 * before that answer is confirmed: when its own completes it drops the
 * answer, so the other side's confirmation of it changes nothing. */
static void test_crossing_after_answer(uint8_t tag_a, uint8_t tag_b)
{
	struct l2s_config cfg;
	struct ns_peer a, b, *hi, *lo;
	struct ns_box lo_init = { .n = 0 };
	uint32_t h;

	l2s_config_default(&cfg);
	ns_make_peer(&a, tag_a);
	ns_make_peer(&b, tag_b);
	hi = memcmp(a.pk, b.pk, 32) > 0 ? &a : &b;
	lo = hi == &a ? &b : &a;
	CHECK(ns_start(lo, hi, &cfg, &h) == L2S_OK);
	CHECK(ns_collect(lo, &lo_init) == 1);
	ns_box_deliver(&lo_init, hi, lo); /* hi answers: half-open */
	ns_box_free(&lo_init);
	CHECK(hi->accepted == 1);
	CHECK(ns_start(hi, lo, &cfg, &h) == L2S_OK);
	exchange_lockstep(lo, hi);
	check_one_session(lo, hi);
	ns_free_peer(&a);
	ns_free_peer(&b);
}

/* Both sides stop cleanly (each exports) and start again from their exports
 * at the same instant: the session's initiator resumes, the other answers
 * (each side's StoredSession keeps its role), one round trip, no timeout
 * waited out (engine fix: a restore made every side the initiator, so both
 * ignored the other's RESUME_INIT until a timeout). */
static void test_both_restored(int initiator_first, int bound)
{
	uint8_t bind[32];
	static uint8_t sa[8192], sb[8192];
	struct l2s_config cfg;
	struct l2s_session_info ia, ib;
	struct ns_peer a, b;
	size_t la, lb;
	uint64_t t0;

	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x64);
	ns_make_peer(&b, 0x65);
	CHECK(ns_connect(&a, &b, &cfg));
	CHECK(l2s_session_export(a.node, a.session, sa, sizeof(sa), &la) == L2S_OK);
	CHECK(l2s_session_export(b.node, b.session, sb, sizeof(sb), &lb) == L2S_OK);
	ns_free_peer(&a);
	ns_free_peer(&b);
	ns_make_peer(&a, 0x64);
	ns_make_peer(&b, 0x65);
	t0 = ns_now;
	/* bound: as the loop does, restored before any connection (path 0),
	 * then the connection (a bound path 1) comes up */
	if (initiator_first) {
		CHECK(l2s_node_resume(a.node, sa, la, &cfg, !bound, ns_now, &a.session) == L2S_OK);
		CHECK(l2s_node_resume(b.node, sb, lb, &cfg, !bound, ns_now, &b.session) == L2S_OK);
	} else {
		CHECK(l2s_node_resume(b.node, sb, lb, &cfg, !bound, ns_now, &b.session) == L2S_OK);
		CHECK(l2s_node_resume(a.node, sa, la, &cfg, !bound, ns_now, &a.session) == L2S_OK);
	}
	if (bound) {
		ns_discard(&a);
		ns_discard(&b);
		memset(bind, 0xc3, sizeof(bind));
		CHECK(l2s_node_path_binding(a.node, 1, bind) == L2S_OK);
		CHECK(l2s_node_path_binding(b.node, 1, bind) == L2S_OK);
		CHECK(l2s_session_set_path(a.node, a.session, 1, ns_now) == L2S_OK);
		l2s_node_tick(a.node, ns_now);
	}
	exchange_lockstep(&a, &b);
	CHECK(ns_now == t0);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state_of(&b) == L2S_ESTABLISHED);
	CHECK(l2s_session_info(a.node, a.session, &ia) == L2S_OK && l2s_session_info(b.node, b.session, &ib) == L2S_OK);
	CHECK(memcmp(ia.session_id, ib.session_id, sizeof(ia.session_id)) == 0);
	CHECK(ia.initiator == 1 && ib.initiator == 0);
	ns_free_peer(&a);
	ns_free_peer(&b);
}

/* a resumes (a path move), takes b's answer and establishes; everything a
 * sends under the new keys is lost, then a moves and resumes again, under
 * the new secret, and that answer is lost too. b learns from the second
 * request that a took the first answer: it must treat that as a's first
 * frame would be, SYNC included, or a (which takes no DATA until b's SYNC)
 * never hears b again (engine fix, found by the simulator: seed 74494). */
static int drop_a_transport, drop_b_resume_resp;

static int lose_after_answer(void *arg, const struct ns_peer *from, const struct ns_peer *to, uint8_t *msg, size_t len)
{
	(void)arg;
	(void)to;
	if (len < 2)
		return 1;
	if (from->tag == 0x66 && drop_a_transport && msg[1] == L2S_MSG_TRANSPORT)
		return 0;
	if (from->tag == 0x67 && drop_b_resume_resp && msg[1] == L2S_MSG_RESUME_RESP)
		return 0;
	return 1;
}

static void test_resume_confirmed_by_next_request(void)
{
	struct l2s_config cfg;
	struct ns_box box = { .n = 0 };
	struct ns_peer a, b;

	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x66);
	ns_make_peer(&b, 0x67);
	CHECK(ns_connect(&a, &b, &cfg));
	/* the first resumption: b's answer reaches a, a's frames after it do not */
	CHECK(l2s_session_set_path(a.node, a.session, 2, ns_now) == L2S_OK);
	CHECK(ns_collect(&a, &box) >= 1 && ns_box_find(&box, L2S_MSG_RESUME_INIT, 0));
	ns_box_deliver(&box, &b, &a);
	ns_box_free(&box);
	ns_move(&b, &a);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && l2s_node_session(a.node, a.session)->dl.rx_unsure);
	drop_a_transport = 1;
	drop_b_resume_resp = 1;
	ns_filter = lose_after_answer;
	ns_move(&a, &b);
	/* the second: under the new secret; its answer is lost */
	CHECK(l2s_session_set_path(a.node, a.session, 3, ns_now) == L2S_OK);
	ns_pump(&a, &b);
	drop_a_transport = 0;
	ns_advance(&a, &b, 2 * cfg.handshake_timeout_ms, 50);
	ns_filter = NULL;
	drop_b_resume_resp = 0;
	ns_advance(&a, &b, 10000, 100);
	CHECK(!l2s_node_session(a.node, a.session)->dl.rx_unsure);
	ns_send_ids(&b, 200, 10);
	ns_send_ids(&a, 300, 10);
	ns_advance(&a, &b, 10000, 100);
	CHECK(ns_got_ids(&a, 200, 10) && ns_got_ids(&b, 300, 10));
	ns_free_peer(&a);
	ns_free_peer(&b);
}

/* One handshake from a fresh initiator to b with the given bundle: 1 when
 * it is established. */
static int handshake_with(struct ns_peer *b, const uint8_t *bundle, uint8_t tag)
{
	struct l2s_config cfg;
	struct ns_peer a;
	int ok;

	l2s_config_default(&cfg);
	ns_make_peer(&a, tag);
	CHECK(l2s_node_establish(a.node, b->pk, bundle, L2S_PREKEY_BUNDLE_BYTES, 1800000000u, &cfg, 1, ns_now,
				 &a.session) == L2S_OK);
	ns_pump(&a, b);
	ok = ns_state_of(&a) == L2S_ESTABLISHED;
	l2s_node_free(a.node);
	return ok;
}

/* A renewed prekey: the new bundle works at once, the one it replaced
 * still does (peers hold it), the one before that no longer; a node
 * restarted with its current and previous prekey accepts both. */
static void test_prekey_renewal(void)
{
	uint8_t first[L2S_PREKEY_BUNDLE_BYTES], second[L2S_PREKEY_BUNDLE_BYTES], third[L2S_PREKEY_BUNDLE_BYTES];
	uint8_t seed2[L2S_XWING_SK_BYTES], seed3[L2S_XWING_SK_BYTES];
	struct ns_opts opts = { 0 };
	struct ns_peer b;

	memset(seed2, 0x52, sizeof(seed2));
	memset(seed3, 0x53, sizeof(seed3));
	ns_make_peer(&b, 0x50);
	CHECK(l2s_node_prekey_bundle(b.node, first) == L2S_OK);
	CHECK(l2s_node_renew_prekey(b.node, seed2, 2000000000u) == L2S_OK);
	CHECK(l2s_node_prekey_bundle(b.node, second) == L2S_OK);
	CHECK(memcmp(first, second, sizeof(first)) != 0);
	CHECK(l2s_prekey_bundle_verify(second, sizeof(second), b.pk, 1800000000u) == L2S_OK);
	CHECK(handshake_with(&b, second, 0x51));
	CHECK(handshake_with(&b, first, 0x52));
	CHECK(l2s_node_renew_prekey(b.node, seed3, 2000000001u) == L2S_OK);
	CHECK(l2s_node_prekey_bundle(b.node, third) == L2S_OK);
	CHECK(handshake_with(&b, third, 0x53));
	CHECK(handshake_with(&b, second, 0x54));
	CHECK(!handshake_with(&b, first, 0x55));
	l2s_node_free(b.node);
	/* Restarted: the current prekey and the previous one, from params. */
	opts.prekey_seed = seed3;
	opts.prekey_not_after_s = 2000000001u;
	opts.previous_prekey_seed = seed2;
	ns_make_peer_opts(&b, 0x50, &opts);
	CHECK(l2s_node_prekey_bundle(b.node, first) == L2S_OK && memcmp(first, third, sizeof(first)) == 0);
	CHECK(handshake_with(&b, third, 0x56));
	CHECK(handshake_with(&b, second, 0x57));
	l2s_node_free(b.node);
}

/* Prepared handshakes: a bundle that fails verification prepares nothing;
 * a prepared one is used by the next establish to that peer with that
 * bundle, once, and the handshake completes; one older than 10 s, or for
 * another prekey, is not used. The same through a job (begin, make, put). */
static void test_prepared(void)
{
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES], other[L2S_PREKEY_BUNDLE_BYTES], forged[L2S_PREKEY_BUNDLE_BYTES];
	uint8_t seed[L2S_XWING_SK_BYTES];
	struct l2s_prepare_job job;
	struct l2s_config cfg;
	struct ns_peer a, b, c;

	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x60);
	ns_make_peer(&b, 0x61);
	ns_make_peer(&c, 0x62);
	CHECK(l2s_node_prekey_bundle(b.node, bundle) == L2S_OK);
	memcpy(forged, bundle, sizeof(forged));
	forged[L2S_PREKEY_BUNDLE_BYTES - 1] ^= 1;
	CHECK(l2s_node_prepare_handshake(a.node, b.pk, forged, sizeof(forged), 1800000000u, ns_now) == L2S_ERR_AUTH);
	CHECK(l2s_node_prepare_handshake(a.node, c.pk, bundle, sizeof(bundle), 1800000000u, ns_now) == L2S_ERR_AUTH);
	CHECK(l2s_node_prepare_handshake(a.node, b.pk, bundle, sizeof(bundle), 4000000000u, ns_now) ==
	      L2S_ERR_EXPIRED);
	CHECK(l2s_node_prepare_handshake(a.node, b.pk, bundle, sizeof(bundle), 1800000000u, ns_now) == L2S_OK);
	/* the forged bundle is still refused at establish: the prepared one
	 * vouches only for its own bytes */
	CHECK(l2s_node_establish(a.node, b.pk, forged, sizeof(forged), 1800000000u, &cfg, 1, ns_now, &a.session) ==
	      L2S_ERR_AUTH);
	CHECK(l2s_node_establish(a.node, b.pk, bundle, sizeof(bundle), 1800000000u, &cfg, 1, ns_now, &a.session) ==
	      L2S_OK);
	CHECK(l2s_node_handshakes_prepared(a.node) == 1);
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state_of(&b) == L2S_ESTABLISHED);
	l2s_node_free(a.node);

	/* too old, or for a prekey b has since replaced: made afresh */
	ns_make_peer(&a, 0x63);
	CHECK(l2s_node_prepare_handshake(a.node, b.pk, bundle, sizeof(bundle), 1800000000u, ns_now) == L2S_OK);
	CHECK(l2s_node_establish(a.node, b.pk, bundle, sizeof(bundle), 1800000000u, &cfg, 1, ns_now + 10001,
				 &a.session) == L2S_OK);
	CHECK(l2s_node_handshakes_prepared(a.node) == 0);
	l2s_node_free(a.node);
	memset(seed, 0x64, sizeof(seed));
	ns_make_peer(&a, 0x64);
	CHECK(l2s_node_prepare_handshake(a.node, b.pk, bundle, sizeof(bundle), 1800000000u, ns_now) == L2S_OK);
	CHECK(l2s_node_renew_prekey(b.node, seed, 2000000000u) == L2S_OK);
	CHECK(l2s_node_prekey_bundle(b.node, other) == L2S_OK);
	CHECK(l2s_node_establish(a.node, b.pk, other, sizeof(other), 1800000000u, &cfg, 1, ns_now, &a.session) ==
	      L2S_OK);
	CHECK(l2s_node_handshakes_prepared(a.node) == 0);
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED);
	l2s_node_free(a.node);

	/* the same in three steps (the loop's caller thread makes the middle
	 * one without the node): a forged bundle puts nothing in */
	ns_make_peer(&a, 0x65);
	l2s_node_prepare_begin(a.node, &job);
	CHECK(l2s_prepare_job_make(&job, b.pk, forged, sizeof(forged), 1800000000u) == L2S_ERR_AUTH && !job.made);
	l2s_node_prepare_put(a.node, &job, ns_now);
	CHECK(!l2s_node_has_prepared(a.node, b.pk, forged, ns_now) && !l2s_node_has_prepared(a.node, b.pk, other, ns_now));
	l2s_node_prepare_begin(a.node, &job);
	CHECK(l2s_prepare_job_make(&job, b.pk, other, sizeof(other), 1800000000u) == L2S_OK && job.made);
	l2s_node_prepare_put(a.node, &job, ns_now);
	CHECK(l2s_node_has_prepared(a.node, b.pk, other, ns_now));
	CHECK(!l2s_node_has_prepared(a.node, b.pk, bundle, ns_now));
	CHECK(!l2s_node_has_prepared(a.node, b.pk, other, ns_now + 10000));
	CHECK(l2s_node_establish(a.node, b.pk, other, sizeof(other), 1800000000u, &cfg, 1, ns_now, &a.session) ==
	      L2S_OK);
	CHECK(l2s_node_handshakes_prepared(a.node) == 1 && !l2s_node_has_prepared(a.node, b.pk, other, ns_now));
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state_of(&b) == L2S_ESTABLISHED);
	l2s_node_free(a.node);

	/* one no handshake takes is wiped when it is 10 s old: the node's
	 * deadline says when, and its tick does it */
	ns_make_peer(&a, 0x66);
	CHECK(l2s_node_next_deadline(a.node) > ns_now + 10000);
	CHECK(l2s_node_prepare_handshake(a.node, b.pk, bundle, sizeof(bundle), 1800000000u, ns_now) == L2S_OK);
	CHECK(l2s_node_next_deadline(a.node) == ns_now + 10000);
	CHECK(l2s_node_tick(a.node, ns_now + 9999) == L2S_OK && l2s_node_has_prepared(a.node, b.pk, bundle, ns_now));
	CHECK(l2s_node_tick(a.node, ns_now + 10000) == L2S_OK);
	CHECK(!l2s_node_has_prepared(a.node, b.pk, bundle, ns_now));
	CHECK(l2s_node_next_deadline(a.node) > ns_now + 10000);
	l2s_node_free(a.node);
	l2s_node_free(b.node);
	l2s_node_free(c.node);
}

int main(void)
{
	struct l2s_config cfg;
	struct ns_peer a, b;
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_session_info info;

	if (l2s_init() != L2S_OK)
		return 2;
	l2s_config_default(&cfg);
	ns_make_peer(&a, 0x10);
	ns_make_peer(&b, 0x20);

	/* Scenario-001.1: establishment. */
	CHECK(l2s_node_prekey_bundle(b.node, bundle) == L2S_OK);
	CHECK(l2s_node_establish(a.node, b.pk, bundle, sizeof(bundle), 1800000000u, &cfg, 1, ns_now, &a.session) ==
	      L2S_OK);
	CHECK(ns_state_of(&a) == L2S_HANDSHAKE_INITIATED);
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED);
	CHECK(ns_state_of(&b) == L2S_ESTABLISHED);
	CHECK(l2s_session_info(a.node, a.session, &info) == L2S_OK && info.expires_ms == ns_now + cfg.ttl_ms);
	test_path_bindings(a.node);
	test_prekey_renewal();
	test_prepared();

	/* Data both ways, in order, exactly once. */
	ns_send_n(&a, 500);
	ns_send_n(&b, 300);
	ns_pump(&a, &b);
	CHECK(b.received == 500 && a.received == 300);
	CHECK(a.out_of_order == 0 && b.out_of_order == 0);
	CHECK(a.delivered == 500 && b.delivered == 300);

	/* A forced rotation; data keeps flowing. */
	CHECK(l2s_session_rotate(a.node, a.session, ns_now) == L2S_OK);
	CHECK(ns_state_of(&a) == L2S_ROTATING);
	ns_send_n(&a, 50);
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED);
	ns_send_n(&a, 50);
	ns_send_n(&b, 50);
	ns_pump(&a, &b);
	CHECK(b.received == 600 && a.received == 350);
	CHECK(l2s_session_info(a.node, a.session, &info) == L2S_OK && info.rotations == 1);
	/* The side that answered the rotation counts it too (engine fix: it stayed 0). */
	CHECK(l2s_session_info(b.node, b.session, &info) == L2S_OK && info.rotations == 1);

	/* Heartbeat after 30 s idle; the TTL is extended. */
	ns_advance(&a, &b, 31000, 500);
	CHECK(l2s_session_info(a.node, a.session, &info) == L2S_OK && info.expires_ms > 1000 + cfg.ttl_ms);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && a.warnings == 0);

	/* Partition: transport down -> degraded after >30 s -> suspended 60 s later. */
	ns_link_up = 0;
	l2s_node_path_status(a.node, 1, 0, ns_now);
	l2s_node_path_status(b.node, 1, 0, ns_now);
	ns_send_n(&a, 100);
	ns_advance(&a, &b, 29000, 1000);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED);
	ns_advance(&a, &b, 3000, 1000);
	CHECK(ns_state_of(&a) == L2S_DEGRADED);
	ns_advance(&a, &b, 61000, 1000);
	CHECK(ns_state_of(&a) == L2S_SUSPENDED);
	/* Recovery: the link returns; the retry resumes the session. */
	ns_link_up = 1;
	l2s_node_path_status(a.node, 1, 1, ns_now);
	l2s_node_path_status(b.node, 1, 1, ns_now);
	ns_advance(&a, &b, 61000, 1000);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED);
	CHECK(b.received == 700 && b.out_of_order == 0);

	/* Every established session has sent its SYNC (PROTOCOL.md §5). */
	CHECK(!l2s_node_session(a.node, a.session)->need_sync);
	CHECK(!l2s_node_session(b.node, b.session)->need_sync);

	/* a resumes once more (the recovery may have been b's resumption or a
	 * full handshake), so that it holds a ticket from b. (The answer comes
	 * back on path 1, which becomes the session's path again.) */
	CHECK(l2s_session_set_path(a.node, a.session, 2, ns_now) == L2S_OK);
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && l2s_node_session(a.node, a.session)->ticket);

	/* b restarts without any state; a resumes with b's ticket. The new
	 * session at b starts its stream at seq 1, a's is at 701: a's SYNC
	 * tells b where the stream stands, so new messages are delivered. */
	l2s_node_free(b.node);
	ns_make_peer(&b, 0x20);
	CHECK(l2s_session_set_path(a.node, a.session, 3, ns_now) == L2S_OK);
	ns_pump(&a, &b);
	CHECK(ns_state_of(&a) == L2S_ESTABLISHED && ns_state_of(&b) == L2S_ESTABLISHED);
	ns_send_n(&a, 5);
	ns_pump(&a, &b);
	CHECK(b.received == 5 && b.out_of_order == 1 && b.next_expected_seq == 706);
	CHECK(l2s_session_info(b.node, b.session, &info) == L2S_OK && info.next_recv_seq == 706);
	CHECK(l2s_session_info(a.node, a.session, &info) == L2S_OK && info.unacked == 0);

	l2s_node_free(a.node);
	l2s_node_free(b.node);

	test_half_open_replaced();
	test_crossing_handshakes(0x50, 0x51);
	test_crossing_handshakes(0x51, 0x50);
	test_crossing_after_answer(0x50, 0x51);
	test_crossing_after_answer(0x51, 0x50);
	test_ticket_resends_replace();
	test_resume_confirmed_by_next_request();
	test_both_restored(1, 0);
	test_both_restored(0, 0);
	test_both_restored(1, 1);
	test_both_restored(0, 1);
	test_lost_resume_answer_recovers();
	test_resume_bad_share_leaves_nothing();
	test_resume_on_bound_path();
	test_export_before_new_ticket();
	for (int lost = 0; lost <= 2; lost++) {
		test_stale_checkpoint_sender(lost);
		test_stale_checkpoint_receiver(lost);
	}
	for (uint64_t seed = 1; seed <= 16; seed++) {
		test_stale_checkpoint_lossy(0x9e3779b97f4a7c15u * seed, 0);
		test_stale_checkpoint_lossy(0x9e3779b97f4a7c15u * seed, 1);
	}
	return tu_finish("test_node");
}
