// SPDX-License-Identifier: Apache-2.0
/* The receive side: dispatch by message type, TRANSPORT decryption with key
 * selection by receiver index, and the frames inside. Handshake, cookie and
 * resumption messages go to establish.c and resumption.c. */
#include <stdlib.h>
#include <string.h>

#include "engine/node.h"
#include "wire/wire.h"

struct rx_ctx {
	struct l2s_node *node;
	struct l2s_session *s;
	uint64_t now;
};

static void seq_event(const struct rx_ctx *c, int type, uint64_t seq, const uint8_t *data, size_t len)
{
	struct l2s_event ev;

	l2s_session_event(&ev, type, c->s, c->now);
	ev.seq = seq;
	if (type == L2S_EV_MESSAGE)
		memcpy(ev.stream, c->s->dl.rx_stream, sizeof(ev.stream));
	l2s_node_event(c->node, &ev, data, len);
}

static void deliver_message(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
	seq_event(arg, L2S_EV_MESSAGE, seq, data, len);
}

static void message_acked(void *arg, uint64_t seq)
{
	seq_event(arg, L2S_EV_DELIVERED, seq, NULL, 0);
}

static int on_frame(struct l2s_node *node, struct l2s_session *s, int kp, const uint8_t *raw, size_t raw_len,
		    const struct l2s_frame *f, uint64_t now)
{
	struct rx_ctx c = { node, s, now };
	int ret;

	if (f->type == L2S_FRAME_DATA || f->type == L2S_FRAME_ACK)
		s->last_data_rx = now; /* the stream moves (schedule.c, heartbeat_missed) */
	switch (f->type) {
	case L2S_FRAME_DATA:
		return l2s_delivery_on_data(&s->dl, f->u.data.seq, f->u.data.payload, f->u.data.len, deliver_message,
					    &c);
	case L2S_FRAME_ACK:
		if (kp == KP_CUR)
			l2s_delivery_announced(&s->dl); /* an ACK under the keys our SYNC went under */
		ret = l2s_delivery_on_ack(&s->dl, f->u.ack.next_expected, f->u.ack.sack, message_acked, &c);
		if (ret >= 0)
			l2s_delivery_set_peer_window(&s->dl, f->u.ack.window, f->u.ack.window_bytes);
		return ret;
	case L2S_FRAME_HEARTBEAT:
		return l2s_heartbeat_on_request(node, s, f->u.heartbeat.counter);
	case L2S_FRAME_HEARTBEAT_REPLY:
		return l2s_heartbeat_on_reply(s, f->u.heartbeat.counter, now);
	case L2S_FRAME_SYNC:
		/* Waiting for the stream of the new keys, an old SYNC (perhaps
		 * of a stream the peer has since lost) says nothing. */
		if (kp == KP_PREV && s->dl.rx_unsure)
			return L2S_ERR_STATE;
		l2s_delivery_sync(&s->dl, f->u.sync.stream, f->u.sync.send_base, deliver_message, &c);
		return L2S_OK;
	case L2S_FRAME_CONFIRM:
		return L2S_OK; /* its work (key confirmation) is done by arriving */
	case L2S_FRAME_ROTATE_INIT:
		return l2s_on_rotate_init(node, s, raw, raw_len, f, now);
	case L2S_FRAME_ROTATE_RESP:
		return l2s_on_rotate_resp(node, s, raw, raw_len, f, now);
	case L2S_FRAME_TICKET:
		return l2s_on_ticket(node, s, f, now);
	case L2S_FRAME_CLOSE:
		return l2s_on_close(node, s, now);
	case L2S_FRAME_ERROR:
		return L2S_OK; /* informational; the state machine does not act on it */
	}
	return L2S_ERR_DECODE;
}

/* A frame of the stream (DATA, ACK, SYNC): its answer (our SYNC, DATA and
 * ACK) waits for the end of a receive batch, so that the application sees
 * every message of the batch, and may refuse one, before an ACK covers it.
 * Anything else (key confirmation, rotation, close) is answered at once. */
static int stream_frame(const struct l2s_frame *f)
{
	return f->type == L2S_FRAME_DATA || f->type == L2S_FRAME_ACK || f->type == L2S_FRAME_SYNC;
}

static int on_transport(struct l2s_node *node, const uint8_t *msg, size_t len, uint64_t now)
{
	struct l2s_transport t;
	struct l2s_session *s;
	uint8_t key[4];
	uint32_t v, handle;
	size_t flen;
	int kp, ret;
	struct l2s_frame f;

	ret = l2s_decode_transport(msg, len, &t);
	if (ret != L2S_OK)
		return ret;
	l2s_u32_key(key, t.receiver_index);
	if (l2s_map_get(&node->by_index, key, sizeof(key), &v) != L2S_OK)
		return L2S_ERR_NOT_FOUND;
	s = node->slots[v >> 2];
	kp = (int)(v & 3);
	if (!s || kp == INDEX_PENDING || !s->kp_valid[kp])
		return L2S_ERR_NOT_FOUND;
	ret = l2s_keypair_open(&s->kp[kp], msg, len, node->rx_scratch, L2S_FRAME_MAX_BYTES, &flen);
	if (ret != L2S_OK)
		return ret;
	ret = l2s_decode_frame(node->rx_scratch, flen, &f);
	if (ret != L2S_OK)
		return ret;
	l2s_session_activity(node, s, now);
	if (kp == KP_NEXT)
		l2s_keys_confirmed(node, s, now);
	handle = s->handle; /* a CLOSE frame frees s */
	ret = on_frame(node, s, kp == KP_NEXT ? KP_CUR : kp, node->rx_scratch, flen, &f, now);
	if (ret > 0)
		ret = L2S_OK; /* a count of messages delivered or acknowledged */
	if (l2s_node_session(node, handle) == s) {
		if (!(stream_frame(&f) && l2s_node_defer_flush(node, s)))
			l2s_send_flush(node, s, now);
		l2s_schedule(node, s);
	}
	return ret;
}

int l2s_receive(struct l2s_node *node, uint32_t path, const uint8_t *addr, size_t addr_len, const uint8_t *msg,
		size_t len, uint64_t now, int *type_out)
{
	int type, ret = l2s_wire_peek(msg, len, &type);

	*type_out = ret == L2S_OK ? type : 0;
	if (ret != L2S_OK)
		return ret;
	switch (type) {
	case L2S_MSG_TRANSPORT:
		return on_transport(node, msg, len, now);
	case L2S_MSG_HANDSHAKE_INIT:
		return l2s_on_handshake_init(node, path, addr, addr_len, msg, len, now);
	case L2S_MSG_HANDSHAKE_RESP:
		return l2s_on_handshake_resp(node, path, msg, len, now);
	case L2S_MSG_COOKIE_REPLY:
		return l2s_on_cookie_reply(node, msg, len, now);
	case L2S_MSG_RESUME_INIT:
		return l2s_on_resume_init(node, path, addr, addr_len, msg, len, now);
	case L2S_MSG_RESUME_RESP:
		return l2s_on_resume_resp(node, path, msg, len, now);
	}
	return L2S_ERR_DECODE;
}
