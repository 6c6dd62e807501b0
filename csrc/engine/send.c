// SPDX-License-Identifier: Apache-2.0
/* The send side of an established session: frames sealed under the current
 * key pair, the delivery queue's (re)transmissions, acks, heartbeats. */
#include <string.h>

#include "engine/node.h"
#include "wire/wire.h"

/* Seals one frame under the current keys and queues it for the transport. */
int l2s_send_frame(struct l2s_node *node, struct l2s_session *s, const uint8_t *frame, size_t len)
{
	static const size_t cap = L2S_MAX_MESSAGE;
	uint8_t *msg = node->scratch;
	size_t out_len;
	int ret;

	if (!s->kp_valid[KP_CUR] || !s->kp[KP_CUR].can_send)
		return L2S_ERR_STATE;
	ret = l2s_keypair_seal(&s->kp[KP_CUR], frame, len, msg, cap, &out_len);
	if (ret == L2S_OK)
		ret = l2s_node_output(node, s, msg, out_len);
	return ret;
}

int l2s_send_simple(struct l2s_node *node, struct l2s_session *s, int type, uint64_t value)
{
	struct l2s_frame f = { .type = type };
	uint8_t buf[32];
	size_t len;

	switch (type) {
	case L2S_FRAME_HEARTBEAT:
	case L2S_FRAME_HEARTBEAT_REPLY:
		f.u.heartbeat.counter = value;
		break;
	case L2S_FRAME_SYNC:
		f.u.sync.send_base = value;
		f.u.sync.stream = s->dl.tx_stream;
		break;
	case L2S_FRAME_CLOSE:
		f.u.close.reason = (uint8_t)value;
		break;
	default:
		break;
	}
	if (l2s_encode_frame(buf, sizeof(buf), &f, &len) != L2S_OK)
		return L2S_ERR_INTERNAL;
	return l2s_send_frame(node, s, buf, len);
}


static void send_ack(struct l2s_node *node, struct l2s_session *s)
{
	struct l2s_frame f = { .type = L2S_FRAME_ACK };
	uint8_t buf[32];
	size_t len;

	l2s_delivery_build_ack(&s->dl, &f.u.ack.next_expected, &f.u.ack.sack);
	l2s_delivery_window(&s->dl, &f.u.ack.window, &f.u.ack.window_bytes);
	if (l2s_encode_frame(buf, sizeof(buf), &f, &len) == L2S_OK && l2s_send_frame(node, s, buf, len) == L2S_OK)
		s->dl.ack_pending = 0;
}

static int can_send_data(const struct l2s_session *s)
{
	/* Messages queue while degraded or suspended; data flows during a
	 * rotation on the current keys. */
	return (s->state == L2S_ESTABLISHED || s->state == L2S_ROTATING) && s->kp_valid[KP_CUR] &&
	       s->kp[KP_CUR].can_send;
}

static int send_data(struct l2s_node *node, struct l2s_session *s, struct l2s_dmsg *m, uint64_t now)
{
	uint8_t *frame = node->frame_scratch;
	struct l2s_frame f = { .type = L2S_FRAME_DATA };
	size_t len;
	int ret;

	f.u.data.seq = m->seq;
	f.u.data.payload = m->data;
	f.u.data.len = m->len;
	ret = l2s_encode_frame(frame, L2S_FRAME_MAX_BYTES, &f, &len);
	if (ret == L2S_OK)
		ret = l2s_send_frame(node, s, frame, len);
	if (ret == L2S_OK)
		l2s_delivery_mark_sent(&s->dl, m, now);
	return ret;
}

/* Sends whatever the session owes the peer now: a pending SYNC, the data due
 * for (re)transmission, and an ack. */
void l2s_send_flush(struct l2s_node *node, struct l2s_session *s, uint64_t now)
{
	struct l2s_dmsg *m;

	if (!can_send_data(s))
		return;
	if ((s->need_sync || l2s_delivery_sync_due(&s->dl, now)) &&
	    l2s_send_simple(node, s, L2S_FRAME_SYNC, l2s_delivery_send_base(&s->dl)) == L2S_OK) {
		s->need_sync = 0;
		l2s_delivery_sync_sent(&s->dl, now);
	}
	while ((m = l2s_delivery_next_due(&s->dl, now)) != NULL)
		if (send_data(node, s, m, now) != L2S_OK)
			break;
	if (s->dl.ack_pending)
		send_ack(node, s);
}
