// SPDX-License-Identifier: Apache-2.0
/* Codecs for the frames inside a TRANSPORT message (docs/PROTOCOL.md §5),
 * with wire.c's rules: the whole length checked before a field is read,
 * every field validated, nothing written by a failed call. */
#include <string.h>

#include "wire/wire_internal.h"

/* §5 frames: type byte, then the body. */
enum {
	DATA_HEAD = 1 + 8,
	ACK_BYTES = 1 + 8 + 8 + 4 + 4,
	HEARTBEAT_BYTES = 1 + 8,
	ROTATE_HEAD = 1 + 4 + 4,
	ROTATE_INIT_BYTES = ROTATE_HEAD + L2S_XWING_PK_BYTES,
	ROTATE_RESP_BYTES = ROTATE_HEAD + L2S_XWING_CT_BYTES,
	CONFIRM_BYTES = 1,
	TICKET_HEAD = 1 + 4 + 2,
	CLOSE_BYTES = 1 + 1,
	ERROR_HEAD = 1 + 1 + 1,
	SYNC_BYTES = 1 + 8 + L2S_STREAM_ID_BYTES,
};
_Static_assert(L2S_FRAME_MAX_BYTES == DATA_HEAD + L2S_MAX_PAYLOAD, "frame layout");
_Static_assert(L2S_TRANSPORT_HEADER_BYTES + L2S_FRAME_MAX_BYTES + L2S_AEAD_TAG_BYTES == L2S_MAX_MESSAGE,
	       "the largest frame fits the largest message");

/* ---- frames (§5) --------------------------------------------------------- *
 * One decoder and one encoder per frame type. A frame decoder gets the whole
 * plaintext (type byte included) and fills f; l2s_decode_frame publishes f
 * only on success. A frame encoder has already been given enough room.
 */

static int decode_data(const uint8_t *p, size_t len, struct l2s_frame *f)
{
	if (len < DATA_HEAD || len > DATA_HEAD + L2S_MAX_PAYLOAD)
		return L2S_ERR_DECODE;
	f->u.data.seq = l2s_get_u64(p + 1);
	/* seq numbers application messages from 1 (§5 Delivery). */
	if (f->u.data.seq == 0)
		return L2S_ERR_DECODE;
	f->u.data.payload = p + DATA_HEAD;
	f->u.data.len = len - DATA_HEAD;
	return L2S_OK;
}

static int decode_ack(const uint8_t *p, size_t len, struct l2s_frame *f)
{
	if (len != ACK_BYTES)
		return L2S_ERR_DECODE;
	f->u.ack.next_expected = l2s_get_u64(p + 1);
	f->u.ack.sack = l2s_get_u64(p + 9);
	f->u.ack.window = l2s_get_u32(p + 17);
	f->u.ack.window_bytes = l2s_get_u32(p + 21);
	/* seq starts at 1, so the receiver always expects at least 1. */
	return f->u.ack.next_expected ? L2S_OK : L2S_ERR_DECODE;
}

static int decode_heartbeat(const uint8_t *p, size_t len, struct l2s_frame *f)
{
	if (len != HEARTBEAT_BYTES)
		return L2S_ERR_DECODE;
	f->u.heartbeat.counter = l2s_get_u64(p + 1);
	return L2S_OK;
}

/* ROTATE_INIT carries an X-Wing public key, ROTATE_RESP a ciphertext. */
static int decode_rotate(const uint8_t *p, size_t len, size_t key_bytes, struct l2s_frame *f)
{
	if (len != ROTATE_HEAD + key_bytes)
		return L2S_ERR_DECODE;
	f->u.rotate.rotation_id = l2s_get_u32(p + 1);
	f->u.rotate.new_index = l2s_get_u32(p + 5);
	f->u.rotate.key = p + ROTATE_HEAD;
	return L2S_OK;
}

/* SYNC: the sender's lowest unacknowledged seq, which is at least 1, and the
 * id of the stream it numbers, never all zero (§5). */
static int decode_sync(const uint8_t *p, size_t len, struct l2s_frame *f)
{
	if (len != SYNC_BYTES)
		return L2S_ERR_DECODE;
	f->u.sync.send_base = l2s_get_u64(p + 1);
	f->u.sync.stream = p + 9;
	return f->u.sync.send_base && !l2s_all_zero(p + 9, L2S_STREAM_ID_BYTES) ? L2S_OK : L2S_ERR_DECODE;
}

static int decode_confirm(size_t len)
{
	return len == CONFIRM_BYTES ? L2S_OK : L2S_ERR_DECODE;
}

static int decode_ticket_frame(const uint8_t *p, size_t len, struct l2s_frame *f)
{
	size_t tlen;

	if (len < TICKET_HEAD + 1 || len > TICKET_HEAD + L2S_MAX_TICKET)
		return L2S_ERR_DECODE;
	tlen = l2s_get_u16(p + 5);
	if (tlen != len - TICKET_HEAD)
		return L2S_ERR_DECODE;
	f->u.ticket.lifetime_s = l2s_get_u32(p + 1);
	if (f->u.ticket.lifetime_s == 0)
		return L2S_ERR_DECODE;
	f->u.ticket.ticket = p + TICKET_HEAD;
	f->u.ticket.len = tlen;
	return L2S_OK;
}

static int decode_close(const uint8_t *p, size_t len, struct l2s_frame *f)
{
	if (len != CLOSE_BYTES)
		return L2S_ERR_DECODE;
	f->u.close.reason = p[1];
	return L2S_OK;
}

static int decode_error(const uint8_t *p, size_t len, struct l2s_frame *f)
{
	if (len < ERROR_HEAD || len != ERROR_HEAD + (size_t)p[2])
		return L2S_ERR_DECODE;
	if (!wire_utf8_valid(p + ERROR_HEAD, p[2]))
		return L2S_ERR_DECODE;
	f->u.error.code = p[1];
	f->u.error.text = p + ERROR_HEAD;
	f->u.error.len = p[2];
	return L2S_OK;
}

static int decode_frame_body(const uint8_t *p, size_t len, struct l2s_frame *f)
{
	switch (p[0]) {
	case L2S_FRAME_DATA:
		return decode_data(p, len, f);
	case L2S_FRAME_ACK:
		return decode_ack(p, len, f);
	case L2S_FRAME_HEARTBEAT:
	case L2S_FRAME_HEARTBEAT_REPLY:
		return decode_heartbeat(p, len, f);
	case L2S_FRAME_ROTATE_INIT:
		return decode_rotate(p, len, L2S_XWING_PK_BYTES, f);
	case L2S_FRAME_ROTATE_RESP:
		return decode_rotate(p, len, L2S_XWING_CT_BYTES, f);
	case L2S_FRAME_CONFIRM:
		return decode_confirm(len);
	case L2S_FRAME_TICKET:
		return decode_ticket_frame(p, len, f);
	case L2S_FRAME_CLOSE:
		return decode_close(p, len, f);
	case L2S_FRAME_ERROR:
		return decode_error(p, len, f);
	case L2S_FRAME_SYNC:
		return decode_sync(p, len, f);
	default:
		return L2S_ERR_DECODE;
	}
}

int l2s_decode_frame(const uint8_t *p, size_t len, struct l2s_frame *out)
{
	struct l2s_frame f;

	if (!p || !out || len < 1)
		return L2S_ERR_DECODE;
	memset(&f, 0, sizeof(f));
	f.type = p[0];
	if (decode_frame_body(p, len, &f) != L2S_OK)
		return L2S_ERR_DECODE;
	*out = f;
	return L2S_OK;
}

/* The encoded size of a frame whose fields are in range, or 0 when one is
 * not: the same rules the decoders apply. */
static size_t frame_size(const struct l2s_frame *f)
{
	switch (f->type) {
	case L2S_FRAME_DATA:
		if (f->u.data.seq == 0 || f->u.data.len > L2S_MAX_PAYLOAD || (f->u.data.len && !f->u.data.payload))
			return 0;
		return DATA_HEAD + f->u.data.len;
	case L2S_FRAME_ACK:
		return f->u.ack.next_expected ? ACK_BYTES : 0;
	case L2S_FRAME_HEARTBEAT:
	case L2S_FRAME_HEARTBEAT_REPLY:
		return HEARTBEAT_BYTES;
	case L2S_FRAME_ROTATE_INIT:
		return f->u.rotate.key ? ROTATE_INIT_BYTES : 0;
	case L2S_FRAME_ROTATE_RESP:
		return f->u.rotate.key ? ROTATE_RESP_BYTES : 0;
	case L2S_FRAME_CONFIRM:
		return CONFIRM_BYTES;
	case L2S_FRAME_TICKET:
		if (f->u.ticket.lifetime_s == 0 || f->u.ticket.len < 1 || f->u.ticket.len > L2S_MAX_TICKET ||
		    !f->u.ticket.ticket)
			return 0;
		return TICKET_HEAD + f->u.ticket.len;
	case L2S_FRAME_CLOSE:
		return CLOSE_BYTES;
	case L2S_FRAME_ERROR:
		if (f->u.error.len > L2S_MAX_ERROR_TEXT || (f->u.error.len && !f->u.error.text) ||
		    (f->u.error.len && !wire_utf8_valid(f->u.error.text, f->u.error.len)))
			return 0;
		return ERROR_HEAD + f->u.error.len;
	case L2S_FRAME_SYNC:
		return f->u.sync.send_base && f->u.sync.stream && !l2s_all_zero(f->u.sync.stream, L2S_STREAM_ID_BYTES)
			       ? SYNC_BYTES
			       : 0;
	default:
		return 0;
	}
}

/* Writes the body of a frame frame_size() accepted; out has room for it. */
static void put_frame_body(uint8_t *out, const struct l2s_frame *f)
{
	switch (f->type) {
	case L2S_FRAME_DATA:
		l2s_put_u64(out + 1, f->u.data.seq);
		if (f->u.data.len)
			wire_put_bytes(out + DATA_HEAD, f->u.data.payload, f->u.data.len);
		break;
	case L2S_FRAME_ACK:
		l2s_put_u64(out + 1, f->u.ack.next_expected);
		l2s_put_u64(out + 9, f->u.ack.sack);
		l2s_put_u32(out + 17, f->u.ack.window);
		l2s_put_u32(out + 21, f->u.ack.window_bytes);
		break;
	case L2S_FRAME_HEARTBEAT:
	case L2S_FRAME_HEARTBEAT_REPLY:
		l2s_put_u64(out + 1, f->u.heartbeat.counter);
		break;
	case L2S_FRAME_ROTATE_INIT:
	case L2S_FRAME_ROTATE_RESP:
		l2s_put_u32(out + 1, f->u.rotate.rotation_id);
		l2s_put_u32(out + 5, f->u.rotate.new_index);
		wire_put_bytes(out + ROTATE_HEAD, f->u.rotate.key,
			  f->type == L2S_FRAME_ROTATE_INIT ? L2S_XWING_PK_BYTES : L2S_XWING_CT_BYTES);
		break;
	case L2S_FRAME_TICKET:
		l2s_put_u32(out + 1, f->u.ticket.lifetime_s);
		l2s_put_u16(out + 5, (uint16_t)f->u.ticket.len);
		wire_put_bytes(out + TICKET_HEAD, f->u.ticket.ticket, f->u.ticket.len);
		break;
	case L2S_FRAME_CLOSE:
		out[1] = f->u.close.reason;
		break;
	case L2S_FRAME_SYNC:
		l2s_put_u64(out + 1, f->u.sync.send_base);
		memcpy(out + 9, f->u.sync.stream, L2S_STREAM_ID_BYTES);
		break;
	case L2S_FRAME_ERROR:
		out[1] = f->u.error.code;
		out[2] = (uint8_t)f->u.error.len;
		if (f->u.error.len)
			wire_put_bytes(out + ERROR_HEAD, f->u.error.text, f->u.error.len);
		break;
	default: /* CONFIRM: the type byte is the whole frame */
		break;
	}
}

int l2s_encode_frame(uint8_t *out, size_t cap, const struct l2s_frame *in, size_t *len)
{
	size_t n;

	if (!out || !in || !len)
		return L2S_ERR_LENGTH;
	n = frame_size(in);
	if (n == 0 || cap < n)
		return L2S_ERR_LENGTH;
	out[0] = (uint8_t)in->type;
	put_frame_body(out, in);
	*len = n;
	return L2S_OK;
}
