// SPDX-License-Identifier: Apache-2.0
/* A session's keys: the three key pairs (previous, current, next) with their
 * receiver indices, the secrets that come with them (rs, rc, the ticket),
 * and the secrets of the exchange in flight. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "engine/node.h"
#include "handshake/handshake.h"
#include "handshake/resume.h"
#include "handshake/rotation.h"

void l2s_session_drop_keys(struct l2s_node *node, struct l2s_session *s, int which)
{
	if (!s->kp_valid[which])
		return;
	l2s_node_drop_index(node, s->kp[which].local_index);
	l2s_keypair_wipe(&s->kp[which]);
	s->kp_valid[which] = 0;
}

/* The index keeps naming the same keys; only its slot in the session moves. */
static void move_keys(struct l2s_node *node, struct l2s_session *s, int from, int to)
{
	uint8_t key[4];

	s->kp[to] = s->kp[from];
	s->kp_valid[to] = 1;
	s->kp_valid[from] = 0;
	l2s_wipe(&s->kp[from], sizeof(s->kp[from]));
	l2s_u32_key(key, s->kp[to].local_index);
	l2s_map_put(&node->by_index, key, sizeof(key), index_value(s->slot, to));
}

/* A ticket holds the rs it was sealed with: once rs changes, a resumption
 * with it fails the peer's binder check (dropped unanswered, and the session
 * would wait out handshake_timeout_ms). Without it, resumption names the
 * session by id until the peer's TICKET for the new rs arrives. */
static void drop_ticket(struct l2s_session *s)
{
	l2s_wipe(s->ticket, s->ticket_len);
	free(s->ticket);
	s->ticket = NULL;
	s->ticket_len = 0;
	s->ticket_not_after = 0;
}

/* The secrets that come with next keys replace the confirmed ones only when
 * the keys are confirmed. Until then the peer may not have them (our answer
 * was lost) and resumes or rotates with the old ones, which must still work. */
static void commit_secrets(struct l2s_session *s)
{
	if (!s->have_rs_next)
		return;
	if (s->ticket && sodium_memcmp(s->rs, s->rs_next, sizeof(s->rs)) != 0)
		drop_ticket(s);
	memcpy(s->rs, s->rs_next, sizeof(s->rs));
	memcpy(s->rc, s->rc_next, sizeof(s->rc));
	s->have_rs = 1;
	l2s_wipe(s->rs_next, sizeof(s->rs_next));
	l2s_wipe(s->rc_next, sizeof(s->rc_next));
	s->have_rs_next = 0;
}

/* New keys from a handshake, resumption or rotation. can_send: the peer has
 * confirmed them (we are the side that finished the exchange). Otherwise they
 * wait as "next" until the peer's first frame under them arrives. */
void l2s_session_install_keys(struct l2s_node *node, struct l2s_session *s, const struct l2s_session_keys *k,
			      uint32_t local_index, uint32_t remote_index, int can_send, uint64_t now)
{
	uint8_t key[4];

	l2s_session_drop_keys(node, s, KP_NEXT);
	l2s_keypair_init(&s->kp[KP_NEXT], k->send, k->recv, local_index, remote_index, now, can_send);
	s->kp_valid[KP_NEXT] = 1;
	l2s_u32_key(key, local_index);
	l2s_map_put(&node->by_index, key, sizeof(key), index_value(s->slot, KP_NEXT));
	memcpy(s->rs_next, k->rs, sizeof(s->rs_next));
	memcpy(s->rc_next, k->rc, sizeof(s->rc_next));
	s->have_rs_next = 1;
	if (can_send)
		l2s_session_promote_next(node, s, now);
}

/* next -> current -> previous; previous receive keys live for key_grace. */
void l2s_session_promote_next(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	if (!s->kp_valid[KP_NEXT])
		return;
	l2s_session_drop_keys(node, s, KP_PREV);
	if (s->kp_valid[KP_CUR]) {
		move_keys(node, s, KP_CUR, KP_PREV);
		s->kp[KP_PREV].can_send = 0;
		s->grace_end = now + s->cfg.key_grace_ms;
	}
	move_keys(node, s, KP_NEXT, KP_CUR);
	s->kp[KP_CUR].can_send = 1;
	s->key_established = now;
	s->next_establishes = 0;
	commit_secrets(s);
}

static void pending_free(struct l2s_session *s)
{
	switch (s->pending) {
	case PENDING_HANDSHAKE:
		l2s_hs_initiator_free(s->pending_state);
		break;
	case PENDING_RESUME:
		l2s_resume_initiator_wipe(s->pending_state);
		free(s->pending_state);
		break;
	case PENDING_ROTATION:
		l2s_rotation_free(s->pending_state);
		break;
	default:
		free(s->pending_state);
		break;
	}
}

void l2s_session_clear_pending(struct l2s_node *node, struct l2s_session *s)
{
	if (s->pending_index)
		l2s_node_drop_index(node, s->pending_index);
	if (s->pending_state) {
		pending_free(s);
		s->pending_state = NULL;
	}
	if (s->pending == PENDING_ACCEPT || s->pending == PENDING_RESUMED)
		node->half_open--;
	s->pending = PENDING_NONE;
	s->pending_index = 0;
	s->pending_deadline = 0;
	s->pending_resend = 0;
}
