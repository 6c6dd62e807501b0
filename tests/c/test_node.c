// SPDX-License-Identifier: Apache-2.0
/* Two nodes over a simulated link: handshake, data both ways, rotation,
 * heartbeats, partition -> degraded -> suspended -> recovery, export and
 * resumption after a restart. Time is a variable, nothing sleeps; the
 * harness is tests/c/nodesim.h. */
#include <string.h>

#include "l2s.h"
#include "node.h"
#include "nodesim.h"
#include "testutil.h"

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
	 * tells b where the stream stands, so new messages are delivered.
	 * (Regression: no SYNC frame could be encoded, and b waited for ever
	 * for seq 1 .. 700.) */
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
	return tu_finish("test_node");
}
