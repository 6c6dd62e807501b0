// SPDX-License-Identifier: Apache-2.0
/* Two nodes over a simulated link: handshake, data both ways, rotation,
 * heartbeats, partition -> degraded -> suspended -> recovery, export and
 * resumption after a restart. Time is a variable, nothing sleeps; the
 * harness is tests/c/nodesim.h. */
#include <string.h>

#include "cookie.h"
#include "kdf.h"
#include "l2s.h"
#include "node.h"
#include "nodesim.h"
#include "resume.h"
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
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES], k[32];
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
	CHECK(l2s_resume_create_init(&ist, b.pk, as->session_id, as->rs, as->ticket, as->ticket_len, 1, 7,
				     &a.node->rng) == L2S_OK);
	memcpy(ist.msg + 58, small, 32);
	l2s_kdf_resume_binder(k, as->rs);
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

	/* b restarts without any state; a resumes with b's ticket. The new
	 * session at b starts its stream at seq 1, a's is at 701: a's SYNC
	 * tells b where the stream stands, so new messages are delivered. */
	l2s_node_free(b.node);
	ns_make_peer(&b, 0x20);
	CHECK(l2s_session_set_path(a.node, a.session, 2, ns_now) == L2S_OK);
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
	test_resume_bad_share_leaves_nothing();
	return tu_finish("test_node");
}
