// SPDX-License-Identifier: Apache-2.0
/* Key rotation inside a session (PROTOCOL.md §6): ROTATE_INIT and
 * ROTATE_RESP frames, started and re-sent by the schedule. */
#include "engine/exchange.h"

/* ---- rotation ------------------------------------------------------------------ */

int l2s_start_rotation(struct l2s_node *node, struct l2s_session *s, int reason, uint64_t now)
{
	struct l2s_rotation *st;
	int ret;

	if (s->state != L2S_ESTABLISHED || s->pending)
		return L2S_ERR_STATE;
	ret = l2s_rotation_new(&st);
	if (ret != L2S_OK)
		return ret;
	l2s_session_transition(node, s, L2S_ROTATING, reason, now);
	s->pending_state = st;
	s->pending = PENDING_ROTATION;
	s->pending_index = l2s_node_new_index(node, s->slot, INDEX_PENDING);
	ret = l2s_rotation_start(st, ++s->rotation_id, s->pending_index, &node->rng);
	if (ret == L2S_OK)
		ret = l2s_send_frame(node, s, st->frame, sizeof(st->frame));
	l2s_exchange_arm_pending(s, PENDING_ROTATION, now);
	l2s_schedule(node, s);
	return ret;
}

int l2s_resend_rotation(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_rotation *st = s->pending_state;

	s->pending_resend = now + l2s_exchange_resend_interval(s);
	return l2s_send_frame(node, s, st->frame, sizeof(st->frame));
}

int l2s_on_rotate_init(struct l2s_node *node, struct l2s_session *s, const uint8_t *frame, size_t len,
		       const struct l2s_frame *f, uint64_t now)
{
	struct l2s_session_keys cur, next;
	uint8_t resp[L2S_ROTATE_RESP_FRAME_BYTES];
	uint32_t index;
	int ret;

	if (s->rot_resp && f->u.rotate.rotation_id == s->rot_answered) /* a re-sent request */
		return l2s_send_frame(node, s, s->rot_resp, L2S_ROTATE_RESP_FRAME_BYTES);
	if (f->u.rotate.rotation_id <= s->rot_answered)
		return L2S_ERR_REPLAY; /* answered and confirmed already */
	if (s->pending == PENDING_ROTATION) {
		if (s->initiator)
			return L2S_OK; /* both started: the original initiator's wins */
		l2s_session_clear_pending(node, s);
	}
	if (s->state != L2S_ESTABLISHED && s->state != L2S_ROTATING)
		return L2S_ERR_STATE;
	l2s_exchange_current_keys(s, &cur);
	index = l2s_node_new_index(node, s->slot, KP_NEXT);
	ret = l2s_rotation_respond(resp, &next, &cur, frame, len, index, &node->rng);
	if (ret == L2S_OK) {
		l2s_session_install_keys(node, s, &next, index, f->u.rotate.new_index, 0, now);
		s->next_establishes = 0;
		free(s->rot_resp);
		s->rot_resp = malloc(sizeof(resp));
		if (s->rot_resp)
			memcpy(s->rot_resp, resp, sizeof(resp));
		s->rot_answered = f->u.rotate.rotation_id;
		ret = l2s_send_frame(node, s, resp, sizeof(resp));
	} else {
		l2s_node_drop_index(node, index);
	}
	l2s_session_keys_wipe(&cur);
	l2s_session_keys_wipe(&next);
	return ret;
}

int l2s_on_rotate_resp(struct l2s_node *node, struct l2s_session *s, const uint8_t *frame, size_t len,
		       const struct l2s_frame *f, uint64_t now)
{
	struct l2s_rotation *st = s->pending_state;
	struct l2s_session_keys cur, next;
	uint32_t peer_index, index;
	int ret;

	if (s->pending != PENDING_ROTATION || f->u.rotate.rotation_id != st->rotation_id)
		return L2S_ERR_REPLAY;
	l2s_exchange_current_keys(s, &cur);
	ret = l2s_rotation_finish(&next, &peer_index, st, &cur, frame, len);
	if (ret == L2S_OK) {
		index = s->pending_index;
		s->pending_index = 0;
		l2s_session_clear_pending(node, s);
		l2s_session_install_keys(node, s, &next, index, peer_index, 1, now);
		l2s_exchange_confirm_keys(node, s);
		s->rotations++;
		l2s_session_transition(node, s, L2S_ESTABLISHED, L2S_REASON_ROTATION_COMPLETE, now);
		l2s_delivery_resend_all(&s->dl);
	}
	l2s_session_keys_wipe(&cur);
	l2s_session_keys_wipe(&next);
	return ret;
}
