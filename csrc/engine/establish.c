// SPDX-License-Identifier: Apache-2.0
/* The full handshake (PROTOCOL.md §4): the initiator's start and its
 * answers (HANDSHAKE_RESP, COOKIE_REPLY), the responder's HANDSHAKE_INIT
 * with cookies under load, and l2s_node_establish. */
#include "engine/exchange.h"

/* ---- full handshake: initiator --------------------------------------------- */

int l2s_start_handshake(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_hs_initiator *st;
	struct l2s_hs_prepared fresh, *prep;
	struct l2s_bundle b;
	uint64_t counter;
	int ret;

	if (!s->peer_bundle || l2s_decode_bundle(s->peer_bundle, L2S_PREKEY_BUNDLE_BYTES, &b) != L2S_OK)
		return L2S_ERR_STATE;
	if (s->pending == PENDING_HANDSHAKE) {
		/* A re-send is a new handshake (new ephemeral, new counter): the
		 * responder refuses a repeated counter. */
		l2s_node_drop_index(node, s->pending_index);
		st = s->pending_state;
	} else {
		l2s_session_clear_pending(node, s);
		ret = l2s_hs_initiator_new(&st);
		if (ret != L2S_OK)
			return ret;
		s->pending_state = st;
		s->pending = PENDING_HANDSHAKE;
	}
	s->pending_index = l2s_node_new_index(node, s->slot, INDEX_PENDING);
	counter = ++node->hs_counter;
	/* made while the transport connected (prepare.c), else now */
	prep = l2s_node_take_prepared(node, s->peer_pk, b.prekey_pk, now);
	ret = prep ? L2S_OK : l2s_hs_prepare(prep = &fresh, b.prekey_pk, &node->rng);
	if (ret == L2S_OK)
		ret = l2s_hs_create_init_prepared(st, &node->id, s->peer_pk, b.prekey_pk, l2s_node_binding(node, s->path),
						  counter, s->pending_index, s->have_cookie ? s->cookie : NULL, prep);
	else
		l2s_wipe(st, sizeof(*st));
	if (ret == L2S_OK)
		ret = l2s_node_output(node, s, st->msg, L2S_HS_INIT_BYTES);
	l2s_exchange_arm_pending(s, PENDING_HANDSHAKE, now);
	l2s_schedule(node, s);
	return ret;
}

int l2s_on_handshake_resp(struct l2s_node *node, uint32_t path, const uint8_t *msg, size_t len, uint64_t now)
{
	struct l2s_session_keys keys;
	struct l2s_hs_resp r;
	struct l2s_session *s;
	uint32_t peer_index, index;
	int ret;

	if (l2s_decode_hs_resp(msg, len, &r) != L2S_OK)
		return L2S_ERR_DECODE;
	s = l2s_exchange_pending_session(node, r.receiver_index, PENDING_HANDSHAKE);
	if (!s)
		return L2S_ERR_NOT_FOUND;
	/* mac1 is keyed to our public identity: anyone can forge it, so its
	 * failure means junk, not a misbehaving peer. (The decoder refused a
	 * non-zero mac2, so no byte of the response is unchecked.) */
	if (l2s_mac1_verify(node->id.mac1_key, msg, len) != L2S_OK)
		return L2S_ERR_AUTH;
	ret = l2s_hs_consume_resp_checked(&keys, &peer_index, s->pending_state, &r, msg);
	if (ret != L2S_OK)
		return l2s_exchange_initiator_auth_failed(node, s, now);
	index = s->pending_index;
	s->pending_index = 0; /* the index now names the new keys */
	l2s_session_clear_pending(node, s);
	s->path = path;
	/* A new session id: the old one names nothing any more (a ticket or
	 * resumption naming it must not land on these keys). */
	if (l2s_exchange_session_by(node, &node->by_sid, s->session_id, sizeof(s->session_id)) == s)
		l2s_map_del(&node->by_sid, s->session_id, sizeof(s->session_id));
	memcpy(s->session_id, keys.session_id, sizeof(s->session_id));
	s->initiator = 1; /* also for a session that began as the responder and fell back */
	l2s_session_install_keys(node, s, &keys, index, peer_index, 1, now);
	l2s_session_keys_wipe(&keys);
	l2s_exchange_confirm_keys(node, s);
	if (l2s_exchange_has_priority(node, s->peer_pk))
		l2s_exchange_drop_half_open(node, s->peer_pk, now); /* a crossing: ours wins */
	l2s_session_established(node, s, L2S_REASON_RECEIVE_VALID_RESPONSE, now);
	l2s_schedule(node, s);
	return L2S_OK;
}

int l2s_on_cookie_reply(struct l2s_node *node, const uint8_t *msg, size_t len, uint64_t now)
{
	struct l2s_cookie_reply c;
	struct l2s_hs_initiator *st;
	struct l2s_session *s;

	if (l2s_decode_cookie_reply(msg, len, &c) != L2S_OK)
		return L2S_ERR_DECODE;
	s = l2s_exchange_pending_session(node, c.receiver_index, PENDING_HANDSHAKE);
	if (!s)
		return L2S_ERR_NOT_FOUND;
	st = s->pending_state;
	if (l2s_hs_initiator_open_cookie(st, s->cookie, &c) != L2S_OK)
		return L2S_ERR_AUTH;
	s->have_cookie = 1;
	/* The responder kept no state: the same request, now with mac2. */
	l2s_node_output(node, s, st->msg, L2S_HS_INIT_BYTES);
	s->pending_resend = now + l2s_exchange_resend_interval(s);
	l2s_schedule(node, s);
	return L2S_OK;
}

/* ---- full handshake: responder ---------------------------------------------- */

static int under_load(struct l2s_node *node, const uint8_t *addr, size_t addr_len, uint64_t now)
{
	return l2s_exchange_loaded(node, now) || !l2s_ratelimit_allow(&node->x->ratelimit, addr, addr_len, now);
}

/* Under load a request must prove its address with a cookie (mac2); without
 * one it gets a COOKIE_REPLY and costs no state and no ML-KEM work. A non-zero
 * mac2 is always checked, so no byte of a request goes unverified; a stale or
 * damaged one is answered with a fresh cookie, load or not. */
static int check_cookie(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
			const uint8_t *msg, size_t len, int *proven, uint64_t now)
{
	const uint8_t *mac2 = msg + L2S_HS_INIT_MAC2_OFF;
	int has_mac2 = !l2s_all_zero(mac2, L2S_MAC_BYTES);
	uint8_t reply[L2S_COOKIE_REPLY_BYTES];

	*proven = has_mac2 && l2s_cookie_check_mac2(&node->x->cookies, addr, addr_len, msg, len) == L2S_OK;
	if (*proven) {
		/* A proven address under load still has its share: it cannot
		 * make us decapsulate at line rate with fresh identities. */
		return l2s_exchange_fair_share(node, addr, addr_len, now) ? L2S_OK : L2S_ERR_BUSY;
	}
	if (!has_mac2 && !under_load(node, addr, addr_len, now))
		return L2S_OK;
	if (l2s_cookie_reply_create(reply, &node->id, &node->x->cookies, msg, len, addr, addr_len, &node->rng) ==
	    L2S_OK)
		l2s_node_output_path(node, path, reply, sizeof(reply));
	return L2S_ERR_BUSY;
}

static int accept_handshake(struct l2s_node *node, struct l2s_hs_responder *rst, uint32_t path, uint64_t now)
{
	struct l2s_session_keys keys;
	uint8_t resp[L2S_HS_RESP_BYTES];
	struct l2s_session *s;
	uint32_t index, peer_index = rst->peer_index; /* create_resp wipes rst */
	int ret;

	l2s_exchange_drop_half_open(node, rst->peer_pk, now);
	s = l2s_session_alloc(node, &node->accept_cfg, now);
	if (!s)
		return L2S_ERR_NOMEM;
	memcpy(s->peer_pk, rst->peer_pk, sizeof(s->peer_pk));
	memcpy(s->peer_prekey_id, rst->prekey_id, sizeof(s->peer_prekey_id));
	s->path = path;
	s->initiator = 0;
	index = l2s_node_new_index(node, s->slot, KP_NEXT);
	ret = index ? l2s_hs_create_resp(resp, &keys, rst, &node->id, index, &node->rng) : L2S_ERR_NOMEM;
	if (ret != L2S_OK) {
		l2s_session_destroy(node, s);
		return ret;
	}
	memcpy(s->session_id, keys.session_id, sizeof(s->session_id));
	l2s_session_install_keys(node, s, &keys, index, peer_index, 0, now);
	l2s_session_keys_wipe(&keys);
	s->next_establishes = 1;
	l2s_session_transition(node, s, L2S_HANDSHAKE_RECEIVED, L2S_REASON_RECEIVE_HANDSHAKE, now);
	l2s_exchange_arm_pending(s, PENDING_ACCEPT, now);
	s->pending_resend = 0; /* the initiator re-sends, we answer each */
	node->half_open++;
	l2s_map_put(&node->by_half, s->peer_pk, sizeof(s->peer_pk), s->slot);
	l2s_exchange_accepted_event(node, s, now);
	l2s_node_output(node, s, resp, sizeof(resp));
	l2s_schedule(node, s);
	return L2S_OK;
}

int l2s_on_handshake_init(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
			  const uint8_t *msg, size_t len, uint64_t now)
{
	const struct l2s_prekey *prekeys[2] = { &node->prekey,
						node->has_previous_prekey ? &node->previous_prekey : NULL };
	struct l2s_hs_responder rst;
	struct l2s_hs_init m;
	int proven, ret;

	if (l2s_decode_hs_init(msg, len, &m) != L2S_OK)
		return L2S_ERR_DECODE;
	/* Untargeted junk is dropped for the price of one BLAKE3. */
	if (l2s_mac1_verify(node->id.mac1_key, msg, len) != L2S_OK)
		return L2S_ERR_AUTH;
	l2s_load_count(&node->x->load, now);
	if (l2s_quarantine_until(&node->x->quarantine, L2S_QUARANTINE_ADDRESS, addr, addr_len, now))
		return L2S_ERR_QUARANTINED;
	ret = check_cookie(node, path, addr, addr_len, msg, len, &proven, now);
	if (ret != L2S_OK)
		return ret;
	ret = l2s_hs_consume_init_checked(&rst, &node->id, prekeys, 2, l2s_node_binding(node, path), &m, msg);
	if (ret == L2S_ERR_AUTH && proven) {
		/* The claimed identity is unproven, the address is not. */
		l2s_quarantine_add(&node->x->quarantine, L2S_QUARANTINE_ADDRESS, addr, addr_len,
				   now + node->accept_cfg.quarantine_ms);
	}
	if (ret == L2S_OK && l2s_exchange_peer_quarantined(node, rst.peer_pk, now))
		ret = L2S_ERR_QUARANTINED;
	if (ret == L2S_OK && l2s_exchange_crossing_ours_wins(node, rst.peer_pk))
		ret = L2S_ERR_STATE;
	if (ret == L2S_OK)
		ret = l2s_counter_table_check(&node->x->counters, rst.peer_pk, rst.counter);
	if (ret == L2S_OK)
		ret = l2s_counter_table_accept(&node->x->counters, rst.peer_pk, rst.counter, now);
	if (ret == L2S_OK)
		ret = accept_handshake(node, &rst, path, now);
	l2s_hs_responder_wipe(&rst);
	return ret;
}

/* ---- establish ------------------------------------------------------------------- */

int l2s_node_establish(struct l2s_node *node, const uint8_t peer_pk[L2S_ED25519_PK_BYTES], const uint8_t *bundle,
		       size_t bundle_len, uint64_t now_s, const struct l2s_config *cfg, uint32_t path,
		       uint64_t now_ms, uint32_t *handle)
{
	struct l2s_bundle b;
	struct l2s_session *s;
	int ret = l2s_config_check(cfg);

	if (ret == L2S_OK)
		ret = l2s_node_open_bundle(node, &b, bundle, bundle_len, peer_pk, now_s);
	if (ret != L2S_OK)
		return ret;
	if (l2s_exchange_peer_quarantined(node, peer_pk, now_ms))
		return L2S_ERR_QUARANTINED;
	s = l2s_session_alloc(node, cfg, now_ms);
	if (!s)
		return L2S_ERR_NOMEM;
	s->peer_bundle = malloc(L2S_PREKEY_BUNDLE_BYTES);
	if (!s->peer_bundle) {
		l2s_session_destroy(node, s);
		return L2S_ERR_NOMEM;
	}
	memcpy(s->peer_bundle, bundle, L2S_PREKEY_BUNDLE_BYTES);
	memcpy(s->peer_pk, peer_pk, sizeof(s->peer_pk));
	l2s_prekey_id(s->peer_prekey_id, b.prekey_pk);
	s->initiator = 1;
	s->path = path;
	l2s_session_transition(node, s, L2S_HANDSHAKE_INITIATED, L2S_REASON_INITIATE_HANDSHAKE, now_ms);
	ret = l2s_start_handshake(node, s, now_ms);
	if (ret != L2S_OK) {
		l2s_session_destroy(node, s); /* the caller gets no half-made session */
		return ret;
	}
	*handle = s->handle;
	return L2S_OK;
}

int l2s_session_set_bundle(struct l2s_node *node, uint32_t handle, const uint8_t *bundle, size_t bundle_len,
			   uint64_t now_s)
{
	struct l2s_session *s = l2s_node_session(node, handle);
	struct l2s_bundle b;
	int ret;

	if (!s)
		return L2S_ERR_NOT_FOUND;
	ret = l2s_bundle_open(&b, bundle, bundle_len, s->peer_pk, now_s);
	if (ret != L2S_OK)
		return ret;
	if (!s->peer_bundle && !(s->peer_bundle = malloc(L2S_PREKEY_BUNDLE_BYTES)))
		return L2S_ERR_NOMEM;
	memcpy(s->peer_bundle, bundle, L2S_PREKEY_BUNDLE_BYTES);
	l2s_prekey_id(s->peer_prekey_id, b.prekey_pk);
	return L2S_OK;
}
