// SPDX-License-Identifier: Apache-2.0
/* StoredSession (PROTOCOL.md §10): a session exported, and resumed from
 * its export. */
#include "engine/exchange.h"

/* ---- StoredSession ------------------------------------------------------------ */

int l2s_session_export(const struct l2s_node *node, uint32_t handle, uint8_t *out, size_t cap, size_t *len)
{
	const struct l2s_session *s = l2s_node_session(node, handle);
	struct l2s_stored_session st = { 0 };
	uint8_t *dl;
	size_t dl_len, need;
	int ret;

	if (!s)
		return L2S_ERR_NOT_FOUND;
	if (!s->have_rs)
		return L2S_ERR_STATE;
	dl = malloc(l2s_delivery_export_size(&s->dl));
	if (!dl)
		return L2S_ERR_NOMEM;
	ret = l2s_delivery_export(&s->dl, L2S_DELIVERY_SEQ_RESERVE, dl, l2s_delivery_export_size(&s->dl), &dl_len);
	st.role = s->initiator ? L2S_ROLE_INITIATOR : L2S_ROLE_RESPONDER;
	memcpy(st.peer_pk, s->peer_pk, sizeof(st.peer_pk));
	memcpy(st.session_id, s->session_id, sizeof(st.session_id));
	memcpy(st.rs, s->rs, sizeof(st.rs));
	memcpy(st.rc, s->rc, sizeof(st.rc));
	memcpy(st.peer_prekey_id, s->peer_prekey_id, sizeof(st.peer_prekey_id));
	st.handshake_counter = node->hs_counter;
	st.created_ms = s->key_established;
	st.expires_ms = s->expires;
	if (s->ticket) {
		st.ticket_len = s->ticket_len;
		memcpy(st.ticket, s->ticket, s->ticket_len);
		st.ticket_not_after_ms = s->ticket_not_after;
	}
	st.delivery = dl;
	st.delivery_len = dl_len;
	need = l2s_store_sealed_len(st.ticket_len, dl_len);
	*len = need;
	if (ret == L2S_OK && cap < need)
		ret = L2S_ERR_LENGTH;
	if (ret == L2S_OK)
		ret = l2s_store_seal(out, cap, len, &st, node->storage_key, (struct l2s_rng *)&node->rng);
	l2s_stored_session_wipe(&st);
	free(dl);
	return ret;
}

int l2s_node_resume(struct l2s_node *node, const uint8_t *stored, size_t stored_len, const struct l2s_config *cfg,
		    uint32_t path, uint64_t now_ms, uint32_t *handle)
{
	struct l2s_stored_session st = { 0 };
	struct l2s_session *s;
	uint8_t *dl = malloc(stored_len ? stored_len : 1);
	int ret = l2s_config_check(cfg);

	if (!dl)
		return L2S_ERR_NOMEM;
	if (ret == L2S_OK)
		ret = l2s_store_open(&st, dl, stored_len, stored, stored_len, node->storage_key, now_ms);
	if (ret == L2S_OK && l2s_exchange_peer_quarantined(node, st.peer_pk, now_ms))
		ret = L2S_ERR_QUARANTINED;
	s = ret == L2S_OK ? l2s_session_alloc(node, cfg, now_ms) : NULL;
	if (ret == L2S_OK && !s)
		ret = L2S_ERR_NOMEM;
	if (ret == L2S_OK)
		ret = l2s_delivery_import(&s->dl, st.delivery, st.delivery_len);
	if (ret == L2S_OK) {
		memcpy(s->peer_pk, st.peer_pk, sizeof(s->peer_pk));
		memcpy(s->session_id, st.session_id, sizeof(s->session_id));
		memcpy(s->rs, st.rs, sizeof(s->rs));
		memcpy(s->rc, st.rc, sizeof(s->rc));
		memcpy(s->peer_prekey_id, st.peer_prekey_id, sizeof(s->peer_prekey_id));
		s->have_rs = 1;
		/* The role decides a collision of resumptions (§6): restored as
		 * saved, so that two sides restored together do not both insist. */
		s->initiator = st.role == L2S_ROLE_INITIATOR;
		s->path = path;
		if (st.handshake_counter > node->hs_counter)
			node->hs_counter = st.handshake_counter;
		if (st.ticket_len && (s->ticket = malloc(st.ticket_len))) {
			memcpy(s->ticket, st.ticket, st.ticket_len);
			s->ticket_len = (uint16_t)st.ticket_len;
			s->ticket_not_after = st.ticket_not_after_ms;
		}
		l2s_map_put(&node->by_sid, s->session_id, sizeof(s->session_id), s->slot);
		/* The peer's session here: a full handshake the peer starts
		 * replaces it and continues its streams (its queue included). */
		if (!l2s_exchange_session_by(node, &node->by_peer, s->peer_pk, sizeof(s->peer_pk)))
			l2s_map_put(&node->by_peer, s->peer_pk, sizeof(s->peer_pk), s->slot);
		l2s_session_transition(node, s, L2S_HANDSHAKE_INITIATED, L2S_REASON_INITIATE_RESUMPTION, now_ms);
		ret = l2s_start_resume(node, s, now_ms);
	}
	if (ret == L2S_OK)
		*handle = s->handle;
	else if (s)
		l2s_session_destroy(node, s);
	l2s_stored_session_wipe(&st);
	free(dl);
	return ret;
}
