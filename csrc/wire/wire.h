/* SPDX-License-Identifier: Apache-2.0 */
/* Codecs for every message of docs/PROTOCOL.md.
 *
 * Decoders take (pointer, length), check the whole length and every field
 * before use, never read past the end, and return L2S_OK or L2S_ERR_DECODE.
 * A decoded struct points into the caller's buffer (no copies), so it is valid
 * as long as that buffer is. Encoders take the same structs, write into
 * (out, cap) and return the number of bytes written through *len; they fail
 * with L2S_ERR_LENGTH when cap is too small or a field is out of range.
 * MAC fields are written as given (callers compute MACs over the encoded
 * prefix and store them at the L2S_*_MAC*_OFF offsets).
 * On encode, a NULL MAC field (mac1, mac2, binder, confirm), a NULL optional
 * X25519 key and a NULL bundle signature write zeros; any other NULL pointer
 * field is out of range (L2S_ERR_LENGTH). A failed encode writes nothing.
 */
#ifndef L2S_WIRE_H
#define L2S_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "l2s.h"

#define L2S_WIRE_VERSION 1
#define L2S_HEADER_BYTES 4
#define L2S_MAC_BYTES 16
#define L2S_INDEX_BYTES 4
#define L2S_PREKEY_ID_BYTES 8
#define L2S_NONCE_BYTES 32
#define L2S_MAX_TICKET 256
#define L2S_TICKET_BYTES 120
#define L2S_MAX_ERROR_TEXT 255

#define L2S_DISC_PROBE_MIN_BYTES 256  /* padding makes 3x worth an answer */
#define L2S_DISC_PROBE_MAX_BYTES 1200 /* one unfragmented datagram */
#define L2S_DISC_ANSWER_MIN_BYTES 141 /* IPv4, no transports, token */
#define L2S_DISC_ANSWER_MAX_BYTES 1466 /* IPv6, 8 transports, bundle */

/* Checks version and reserved bytes and returns the type through *type.
 * Also refuses an unknown type and a length outside the type's §2 size. */
int l2s_wire_peek(const uint8_t *msg, size_t len, int *type);

/* ---- HANDSHAKE_INIT (PROTOCOL.md §4.1) ---- */
#define L2S_HS_INIT_BYTES 2504
#define L2S_HS_INIT_SEALED_OFF 2352 /* h_init covers bytes [0, this) */
#define L2S_HS_INIT_SEALED_BYTES 120
#define L2S_HS_INIT_MAC1_OFF 2472
#define L2S_HS_INIT_MAC2_OFF 2488
struct l2s_hs_init {
	uint32_t sender_index;
	const uint8_t *prekey_id;       /* 8 */
	const uint8_t *e_pk;            /* L2S_XWING_PK_BYTES */
	const uint8_t *ct1;             /* L2S_XWING_CT_BYTES */
	const uint8_t *sealed_identity; /* 120 */
	const uint8_t *mac1, *mac2;     /* 16 each; NULL on encode writes zeros */
};
int l2s_decode_hs_init(const uint8_t *msg, size_t len, struct l2s_hs_init *out);
int l2s_encode_hs_init(uint8_t *out, size_t cap, const struct l2s_hs_init *in, size_t *len);

/* ---- HANDSHAKE_RESP (§4.2) ---- */
#define L2S_HS_RESP_BYTES 1244
#define L2S_HS_RESP_SEALED_OFF 1132
#define L2S_HS_RESP_SEALED_BYTES 80
#define L2S_HS_RESP_MAC1_OFF 1212
#define L2S_HS_RESP_MAC2_OFF 1228
struct l2s_hs_resp {
	uint32_t sender_index, receiver_index;
	const uint8_t *ct2;        /* L2S_XWING_CT_BYTES */
	const uint8_t *sealed_sig; /* 80 */
	const uint8_t *mac1, *mac2; /* mac2 is reserved: anything but zeros is refused */
};
int l2s_decode_hs_resp(const uint8_t *msg, size_t len, struct l2s_hs_resp *out);
int l2s_encode_hs_resp(uint8_t *out, size_t cap, const struct l2s_hs_resp *in, size_t *len);

/* ---- COOKIE_REPLY (§4.4) ---- */
#define L2S_COOKIE_REPLY_BYTES 68
#define L2S_COOKIE_BYTES 32
struct l2s_cookie_reply {
	uint32_t receiver_index;
	const uint8_t *nonce;         /* 12 */
	const uint8_t *sealed_cookie; /* 48 = cookie + tag */
};
int l2s_decode_cookie_reply(const uint8_t *msg, size_t len, struct l2s_cookie_reply *out);
int l2s_encode_cookie_reply(uint8_t *out, size_t cap, const struct l2s_cookie_reply *in, size_t *len);

/* ---- TRANSPORT (§5) ---- */
#define L2S_TRANSPORT_HEADER_BYTES 16 /* also the AEAD associated data */
#define L2S_TRANSPORT_MIN_BYTES (L2S_TRANSPORT_HEADER_BYTES + 1 + L2S_AEAD_TAG_BYTES)
struct l2s_transport {
	uint32_t receiver_index;
	uint64_t counter;
	const uint8_t *sealed; /* ciphertext || tag */
	size_t sealed_len;     /* >= 1 + 16 */
};
int l2s_decode_transport(const uint8_t *msg, size_t len, struct l2s_transport *out);
/* Writes the 16-byte header only; the caller seals the frame after it. */
int l2s_encode_transport_header(uint8_t out[L2S_TRANSPORT_HEADER_BYTES], uint32_t receiver_index,
				uint64_t counter);

/* ---- frames inside TRANSPORT (§5) ---- */
enum l2s_frame_type {
	L2S_FRAME_DATA = 0x01,
	L2S_FRAME_ACK = 0x02,
	L2S_FRAME_HEARTBEAT = 0x03,
	L2S_FRAME_HEARTBEAT_REPLY = 0x04,
	L2S_FRAME_ROTATE_INIT = 0x05,
	L2S_FRAME_ROTATE_RESP = 0x06,
	L2S_FRAME_CONFIRM = 0x07,
	L2S_FRAME_TICKET = 0x08,
	L2S_FRAME_CLOSE = 0x09,
	L2S_FRAME_ERROR = 0x0A,
	L2S_FRAME_SYNC = 0x0B,
};
#define L2S_FRAME_MAX_BYTES (1 + 8 + L2S_MAX_PAYLOAD)

struct l2s_frame {
	int type;
	union {
		struct {
			uint64_t seq; /* >= 1: seq counts from 1 (§5) */
			const uint8_t *payload;
			size_t len; /* <= L2S_MAX_PAYLOAD */
		} data;
		struct {
			uint64_t next_expected, sack; /* next_expected >= 1 */
			uint32_t window, window_bytes; /* what the receiver holds out of order */
		} ack;
		struct {
			uint64_t counter;
		} heartbeat; /* HEARTBEAT and HEARTBEAT_REPLY */
		struct {
			uint32_t rotation_id, new_index;
			const uint8_t *key; /* ROTATE_INIT: X-Wing pk; ROTATE_RESP: X-Wing ct */
		} rotate;
		struct {
			uint32_t lifetime_s;
			const uint8_t *ticket;
			size_t len; /* 1 .. L2S_MAX_TICKET */
		} ticket;
		struct {
			uint8_t reason;
		} close;
		struct {
			uint64_t send_base;
			const uint8_t *stream; /* L2S_STREAM_ID_BYTES, not all zero */
		} sync;
		struct {
			uint8_t code;
			const uint8_t *text;
			size_t len; /* <= L2S_MAX_ERROR_TEXT; text is strict UTF-8 */
		} error;
	} u;
};
int l2s_decode_frame(const uint8_t *p, size_t len, struct l2s_frame *out);
int l2s_encode_frame(uint8_t *out, size_t cap, const struct l2s_frame *in, size_t *len);

/* ---- RESUME_INIT / RESUME_RESP (§8) ---- */
#define L2S_RESUME_MODE_TICKET 1
#define L2S_RESUME_MODE_KDF 2
#define L2S_RESUME_FLAG_X25519 0x01
#define L2S_RESUME_INIT_MIN_BYTES 124
#define L2S_RESUME_RESP_BYTES 124
#define L2S_RESUME_RESP_CONFIRM_OFF 76
#define L2S_RESUME_RESP_MAC1_OFF 92
struct l2s_resume_init {
	uint32_t sender_index;
	uint8_t mode, flags;
	const uint8_t *session_id; /* 16 */
	const uint8_t *nonce;      /* 32 */
	const uint8_t *x25519_pk;  /* 32; NULL on encode writes zeros */
	const uint8_t *ticket;
	size_t ticket_len;         /* 0 in KDF mode; 1..256 in ticket mode */
	const uint8_t *binder, *mac1;
	size_t binder_off;         /* decode: offset of binder (= 92 + ticket_len) */
};
int l2s_decode_resume_init(const uint8_t *msg, size_t len, struct l2s_resume_init *out);
int l2s_encode_resume_init(uint8_t *out, size_t cap, const struct l2s_resume_init *in, size_t *len);

struct l2s_resume_resp {
	uint32_t sender_index, receiver_index;
	const uint8_t *nonce;     /* 32 */
	const uint8_t *x25519_pk; /* 32; zeros when absent */
	const uint8_t *confirm, *mac1; /* the 16 reserved bytes after mac1 must be zeros */
};
int l2s_decode_resume_resp(const uint8_t *msg, size_t len, struct l2s_resume_resp *out);
int l2s_encode_resume_resp(uint8_t *out, size_t cap, const struct l2s_resume_resp *in, size_t *len);

/* ---- PREKEY_BUNDLE (§3) and the ticket's outer form (§8) ---- */
#define L2S_BUNDLE_SIGNED_BYTES 1257
struct l2s_bundle {
	const uint8_t *identity_pk; /* 32 */
	const uint8_t *prekey_pk;   /* L2S_XWING_PK_BYTES */
	uint64_t not_after_s;
	const uint8_t *signature;   /* 64 */
};
int l2s_decode_bundle(const uint8_t *p, size_t len, struct l2s_bundle *out);
int l2s_encode_bundle(uint8_t *out, size_t cap, const struct l2s_bundle *in, size_t *len);

struct l2s_ticket {
	uint32_t stek_id;
	const uint8_t *nonce;  /* 12 */
	const uint8_t *sealed; /* 88 + 16 */
};
int l2s_decode_ticket(const uint8_t *p, size_t len, struct l2s_ticket *out);
int l2s_encode_ticket(uint8_t *out, size_t cap, const struct l2s_ticket *in, size_t *len);

/* Big-endian helpers shared by the codecs and the engine. */
static inline void l2s_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void l2s_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static inline void l2s_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline uint16_t l2s_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t l2s_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t l2s_get_u64(const uint8_t *p)
{
	return (uint64_t)l2s_get_u32(p) << 32 | l2s_get_u32(p + 4);
}

#endif /* L2S_WIRE_H */
