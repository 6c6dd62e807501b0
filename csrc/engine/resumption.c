// SPDX-License-Identifier: Apache-2.0
/* Resumption from a ticket (PROTOCOL.md §8): RESUME_INIT and RESUME_RESP
 * in both roles, and the tickets the responder issues. */
#include "engine/exchange.h"

/* ---- resumption ------------------------------------------------------------- */

static int usable_ticket(const struct l2s_session *s, uint64_t now)
{
	(void)now;
	return s->ticket && s->ticket_len;
}

int l2s_start_resume(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_resume_initiator *st;
	int ret;

	if (!s->have_rs)
		return L2S_ERR_STATE;
	if (s->pending == PENDING_RESUME) {
		l2s_node_drop_index(node, s->pending_index);
		st = s->pending_state;
		l2s_resume_initiator_wipe(st);
	} else {
		l2s_session_clear_pending(node, s);
		st = calloc(1, sizeof(*st));
		if (!st)
			return L2S_ERR_NOMEM;
		s->pending_state = st;
		s->pending = PENDING_RESUME;
	}
	s->pending_index = l2s_node_new_index(node, s->slot, INDEX_PENDING);
	/* Bound to the connection it goes out on, as a handshake is (§8). */
	ret = l2s_resume_create_init(st, s->peer_pk, l2s_node_binding(node, s->path), s->session_id, s->rs,
				     usable_ticket(s, now) ? s->ticket : NULL,
				     usable_ticket(s, now) ? s->ticket_len : 0, s->cfg.resume_dh != 0, s->pending_index,
				     &node->rng);
	if (ret == L2S_OK)
		ret = l2s_node_output(node, s, st->msg, st->msg_len);
	l2s_exchange_arm_pending(s, PENDING_RESUME, now);
	l2s_schedule(node, s);
	return ret;
}

int l2s_on_resume_resp(struct l2s_node *node, uint32_t path, const uint8_t *msg, size_t len, uint64_t now)
{
	struct l2s_session_keys keys;
	struct l2s_resume_resp r;
	struct l2s_session *s;
	uint32_t peer_index, index;
	int ret, reason;

	if (l2s_decode_resume_resp(msg, len, &r) != L2S_OK)
		return L2S_ERR_DECODE;
	s = l2s_exchange_pending_session(node, r.receiver_index, PENDING_RESUME);
	if (!s)
		return L2S_ERR_NOT_FOUND;
	if (l2s_mac1_verify(node->id.mac1_key, msg, len) != L2S_OK)
		return L2S_ERR_AUTH;
	ret = l2s_resume_consume_resp_checked(&keys, &peer_index, s->pending_state, &r, msg);
	if (ret != L2S_OK) {
		if (s->state == L2S_HANDSHAKE_INITIATED)
			return l2s_exchange_initiator_auth_failed(node, s, now);
		return ret; /* from degraded or established: dropped, retried later */
	}
	index = s->pending_index;
	s->pending_index = 0;
	l2s_session_clear_pending(node, s);
	s->path = path;
	s->initiator = 1;
	l2s_session_install_keys(node, s, &keys, index, peer_index, 1, now);
	l2s_session_keys_wipe(&keys);
	l2s_exchange_confirm_keys(node, s);
	reason = s->state == L2S_DEGRADED ? L2S_REASON_CONNECTIVITY_RESTORED : L2S_REASON_RECEIVE_VALID_RESPONSE;
	l2s_session_established(node, s, reason, now);
	l2s_schedule(node, s);
	return L2S_OK;
}

static int lookup_session_rs(void *arg, const uint8_t session_id[L2S_SESSION_ID_BYTES], int candidate,
			     uint8_t rs[32], uint8_t peer_pk[32])
{
	struct l2s_node *node = arg;
	struct l2s_session *s = l2s_exchange_session_by(node, &node->by_sid, session_id, L2S_SESSION_ID_BYTES);

	if (!s || !(candidate == 0 ? s->have_rs : s->have_rs_next))
		return L2S_ERR_NOT_FOUND;
	memcpy(rs, candidate == 0 ? s->rs : s->rs_next, 32);
	memcpy(peer_pk, s->peer_pk, 32);
	return L2S_OK;
}

/* The session a RESUME_INIT resumes: ours by session id, or a new one from a
 * ticket (we kept no state for it; *created is set). NULL when we should not
 * answer. */
static struct l2s_session *resumed_session(struct l2s_node *node, const struct l2s_resume_responder *rst,
					   uint32_t path, uint64_t now, int *created)
{
	struct l2s_session *s = l2s_exchange_session_by(node, &node->by_sid, rst->session_id, L2S_SESSION_ID_BYTES);

	*created = 0;
	if (s) {
		if (s->pending == PENDING_RESUME && s->initiator)
			return NULL; /* both resumed at once: ours wins */
		l2s_session_clear_pending(node, s);
		if (s->state == L2S_ROTATING)
			l2s_session_transition(node, s, L2S_FAILED, L2S_REASON_ROTATION_TIMEOUT, now);
		return s;
	}
	l2s_exchange_drop_half_open(node, rst->peer_pk, now);
	s = l2s_session_alloc(node, &node->accept_cfg, now);
	if (!s)
		return NULL;
	memcpy(s->peer_pk, rst->peer_pk, sizeof(s->peer_pk));
	memcpy(s->session_id, rst->session_id, sizeof(s->session_id));
	s->path = path;
	*created = 1;
	l2s_map_put(&node->by_half, s->peer_pk, sizeof(s->peer_pk), s->slot);
	l2s_session_transition(node, s, L2S_HANDSHAKE_RECEIVED, L2S_REASON_RECEIVE_HANDSHAKE, now);
	l2s_exchange_accepted_event(node, s, now);
	return s;
}

/* A resumption of a session we hold whose binder fails: the peer is there but
 * holds another rs (one of us restored an older checkpoint), so resuming
 * cannot work; our next attempt is a full handshake. (Anyone can make such a
 * request: it only chooses the stronger exchange, and only for a retry.) */
static void secrets_differ(struct l2s_node *node, const struct l2s_resume_init *m)
{
	struct l2s_session *s;

	if (m->mode != L2S_RESUME_MODE_KDF)
		return;
	s = l2s_exchange_session_by(node, &node->by_sid, m->session_id, L2S_SESSION_ID_BYTES);
	if (s && s->state != L2S_ESTABLISHED && s->state != L2S_ROTATING)
		s->resume_failed = 1;
}

int l2s_on_resume_init(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len,
		       const uint8_t *msg, size_t len, uint64_t now)
{
	struct l2s_resume_ctx ctx = {
		.self = &node->id,
		.tickets = &node->x->tickets,
		.nonces = &node->x->nonces,
		.lookup = lookup_session_rs,
		.lookup_arg = node,
		.binding = l2s_node_binding(node, path), /* the connection it arrived on */
	};
	struct l2s_resume_responder rst;
	struct l2s_resume_init m;
	struct l2s_session_keys keys;
	uint8_t resp[L2S_RESUME_RESP_BYTES];
	struct l2s_session *s;
	uint32_t index = 0, peer_index = 0;
	int ret, created = 0;

	if (l2s_decode_resume_init(msg, len, &m) != L2S_OK)
		return L2S_ERR_DECODE;
	if (l2s_mac1_verify(node->id.mac1_key, msg, len) != L2S_OK)
		return L2S_ERR_AUTH;
	l2s_load_count(&node->x->load, now);
	if (!l2s_ratelimit_allow(&node->x->ratelimit, addr, addr_len, now) || !l2s_exchange_fair_share(node, addr, addr_len, now))
		return L2S_ERR_BUSY;
	ret = l2s_resume_consume_init_checked(&rst, &ctx, &m, msg, len, now);
	if (ret == L2S_ERR_AUTH)
		secrets_differ(node, &m);
	if (ret == L2S_OK && l2s_exchange_peer_quarantined(node, rst.peer_pk, now))
		ret = L2S_ERR_QUARANTINED;
	s = ret == L2S_OK ? resumed_session(node, &rst, path, now, &created) : NULL;
	if (ret == L2S_OK && !s)
		ret = L2S_ERR_BUSY;
	if (ret == L2S_OK) {
		/* A request under the secret of our unconfirmed answer proves the
		 * initiator took that answer: its keys are confirmed. */
		if (!created && rst.mode == L2S_RESUME_MODE_KDF && rst.candidate == 1)
			l2s_keys_confirmed(node, s, now); /* as its first frame would: it owes a SYNC */
		s->path = path;
		peer_index = rst.peer_index; /* create_resp wipes rst */
		index = l2s_node_new_index(node, s->slot, KP_NEXT);
		ret = l2s_resume_create_resp(resp, &keys, &rst, index, &node->rng);
	}
	if (ret == L2S_OK) {
		s->initiator = 0;
		l2s_session_install_keys(node, s, &keys, index, peer_index, 0, now);
		l2s_session_keys_wipe(&keys);
		s->next_establishes = 1;
		l2s_exchange_arm_pending(s, PENDING_RESUMED, now);
		s->pending_resend = 0;
		node->half_open++;
		l2s_node_output(node, s, resp, sizeof(resp));
		l2s_schedule(node, s);
	} else {
		/* The response could not be made (e.g. the initiator's X25519
		 * share has small order). The index named nothing yet; a session
		 * made for the ticket has no exchange and no timer, so it ends
		 * here rather than hold a slot for ever. */
		if (index)
			l2s_node_drop_index(node, index);
		if (s && created) {
			l2s_session_transition(node, s, L2S_FAILED, L2S_REASON_AUTHENTICATION_FAILED, now);
			l2s_session_transition(node, s, L2S_STATE_END, L2S_REASON_CLEANUP, now);
			l2s_session_destroy(node, s);
		}
	}
	l2s_resume_responder_wipe(&rst);
	return ret;
}

/* ---- tickets ------------------------------------------------------------------ */

int l2s_on_ticket(struct l2s_node *node, struct l2s_session *s, const struct l2s_frame *f, uint64_t now)
{
	uint8_t *t = malloc(f->u.ticket.len);

	(void)node;
	if (!t)
		return L2S_ERR_NOMEM;
	memcpy(t, f->u.ticket.ticket, f->u.ticket.len);
	free(s->ticket);
	s->ticket = t;
	s->ticket_len = (uint16_t)f->u.ticket.len;
	s->ticket_not_after = now + (uint64_t)f->u.ticket.lifetime_s * 1000;
	return L2S_OK;
}
