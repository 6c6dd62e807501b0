// SPDX-License-Identifier: Apache-2.0
/* Codecs for the messages of docs/PROTOCOL.md (§2-§8).
 *
 * Every decoder checks the whole length against the message's size before it
 * reads a field, validates every field, and fills a local copy that it hands
 * out only on success. Every encoder validates every field and the capacity
 * before it writes a byte, so a failed call leaves the output untouched and
 * only bytes a decoder accepts are ever produced: decode and encode are exact
 * inverses. No state, no allocation, no crypto: this file and frame.c (the
 * frames inside TRANSPORT) link alone (the fuzz harnesses rely on that).
 */
#include <string.h>

#include "wire/wire_internal.h"

/* ---- layouts: the offsets of the PROTOCOL.md tables ---------------------- */

/* §4.1 HANDSHAKE_INIT */
enum {
	HS_INIT_SENDER = 4,
	HS_INIT_PREKEY_ID = 8,
	HS_INIT_E_PK = 16,
	HS_INIT_CT1 = 1232,
};
_Static_assert(HS_INIT_E_PK == HS_INIT_PREKEY_ID + L2S_PREKEY_ID_BYTES, "hs_init layout");
_Static_assert(HS_INIT_CT1 == HS_INIT_E_PK + L2S_XWING_PK_BYTES, "hs_init layout");
_Static_assert(L2S_HS_INIT_SEALED_OFF == HS_INIT_CT1 + L2S_XWING_CT_BYTES, "hs_init layout");
_Static_assert(L2S_HS_INIT_MAC1_OFF == L2S_HS_INIT_SEALED_OFF + L2S_HS_INIT_SEALED_BYTES, "hs_init layout");
_Static_assert(L2S_HS_INIT_BYTES == L2S_HS_INIT_MAC2_OFF + L2S_MAC_BYTES, "hs_init layout");

/* §4.2 HANDSHAKE_RESP */
enum {
	HS_RESP_SENDER = 4,
	HS_RESP_RECEIVER = 8,
	HS_RESP_CT2 = 12,
};
_Static_assert(L2S_HS_RESP_SEALED_OFF == HS_RESP_CT2 + L2S_XWING_CT_BYTES, "hs_resp layout");
_Static_assert(L2S_HS_RESP_MAC1_OFF == L2S_HS_RESP_SEALED_OFF + L2S_HS_RESP_SEALED_BYTES, "hs_resp layout");
_Static_assert(L2S_HS_RESP_BYTES == L2S_HS_RESP_MAC2_OFF + L2S_MAC_BYTES, "hs_resp layout");

/* §4.4 COOKIE_REPLY */
enum {
	COOKIE_RECEIVER = 4,
	COOKIE_NONCE = 8,
	COOKIE_SEALED = 20,
	COOKIE_SEALED_BYTES = L2S_COOKIE_BYTES + L2S_AEAD_TAG_BYTES,
};
_Static_assert(COOKIE_SEALED == COOKIE_NONCE + L2S_AEAD_NONCE_BYTES, "cookie layout");
_Static_assert(L2S_COOKIE_REPLY_BYTES == COOKIE_SEALED + COOKIE_SEALED_BYTES, "cookie layout");

/* §5 TRANSPORT */
enum {
	TRANSPORT_RECEIVER = 4,
	TRANSPORT_COUNTER = 8,
};
_Static_assert(L2S_TRANSPORT_HEADER_BYTES == TRANSPORT_COUNTER + 8, "transport layout");

/* §8 RESUME_INIT; binder and mac1 follow the ticket. */
enum {
	RESUME_INIT_SENDER = 4,
	RESUME_INIT_MODE = 8,
	RESUME_INIT_FLAGS = 9,
	RESUME_INIT_SESSION_ID = 10,
	RESUME_INIT_NONCE = 26,
	RESUME_INIT_X25519 = 58,
	RESUME_INIT_TICKET_LEN = 90,
	RESUME_INIT_TICKET = 92,
	RESUME_INIT_MAX_BYTES = L2S_RESUME_INIT_MIN_BYTES + L2S_MAX_TICKET,
};
_Static_assert(RESUME_INIT_NONCE == RESUME_INIT_SESSION_ID + L2S_SESSION_ID_BYTES, "resume_init layout");
_Static_assert(RESUME_INIT_X25519 == RESUME_INIT_NONCE + L2S_NONCE_BYTES, "resume_init layout");
_Static_assert(RESUME_INIT_TICKET_LEN == RESUME_INIT_X25519 + L2S_X25519_BYTES, "resume_init layout");
_Static_assert(L2S_RESUME_INIT_MIN_BYTES == RESUME_INIT_TICKET + 2 * L2S_MAC_BYTES, "resume_init layout");

/* §8 RESUME_RESP */
enum {
	RESUME_RESP_SENDER = 4,
	RESUME_RESP_RECEIVER = 8,
	RESUME_RESP_NONCE = 12,
	RESUME_RESP_X25519 = 44,
	RESUME_RESP_RESERVED = 108,
};
_Static_assert(RESUME_RESP_X25519 == RESUME_RESP_NONCE + L2S_NONCE_BYTES, "resume_resp layout");
_Static_assert(L2S_RESUME_RESP_CONFIRM_OFF == RESUME_RESP_X25519 + L2S_X25519_BYTES, "resume_resp layout");
_Static_assert(RESUME_RESP_RESERVED == L2S_RESUME_RESP_MAC1_OFF + L2S_MAC_BYTES, "resume_resp layout");
_Static_assert(L2S_RESUME_RESP_BYTES == RESUME_RESP_RESERVED + L2S_MAC_BYTES, "resume_resp layout");

/* §3 PREKEY_BUNDLE: a version byte only, no message header. */
enum {
	BUNDLE_IDENTITY = 1,
	BUNDLE_PREKEY = 33,
	BUNDLE_NOT_AFTER = 1249,
	BUNDLE_SIGNATURE = L2S_BUNDLE_SIGNED_BYTES,
};
_Static_assert(BUNDLE_PREKEY == BUNDLE_IDENTITY + L2S_ED25519_PK_BYTES, "bundle layout");
_Static_assert(BUNDLE_NOT_AFTER == BUNDLE_PREKEY + L2S_XWING_PK_BYTES, "bundle layout");
_Static_assert(BUNDLE_SIGNATURE == BUNDLE_NOT_AFTER + 8, "bundle layout");
_Static_assert(L2S_PREKEY_BUNDLE_BYTES == BUNDLE_SIGNATURE + L2S_ED25519_SIG_BYTES, "bundle layout");

/* §8 ticket: stek_id, nonce, AEAD(session_id, peer_pk, rs, not_after). */
enum {
	TICKET_NONCE = 4,
	TICKET_SEALED = 16,
	TICKET_SEALED_BYTES = L2S_SESSION_ID_BYTES + 32 + 32 + 8 + L2S_AEAD_TAG_BYTES,
};
_Static_assert(TICKET_SEALED == TICKET_NONCE + L2S_AEAD_NONCE_BYTES, "ticket layout");
_Static_assert(L2S_TICKET_BYTES == TICKET_SEALED + TICKET_SEALED_BYTES, "ticket layout");

/* ---- shared helpers ------------------------------------------------------ */

struct size_range {
	size_t min, max;
};

/* §2's size table, indexed by message type (0 is not a type). */
static const struct size_range msg_sizes[] = {
	[L2S_MSG_HANDSHAKE_INIT] = { L2S_HS_INIT_BYTES, L2S_HS_INIT_BYTES },
	[L2S_MSG_HANDSHAKE_RESP] = { L2S_HS_RESP_BYTES, L2S_HS_RESP_BYTES },
	[L2S_MSG_COOKIE_REPLY] = { L2S_COOKIE_REPLY_BYTES, L2S_COOKIE_REPLY_BYTES },
	[L2S_MSG_TRANSPORT] = { L2S_TRANSPORT_MIN_BYTES, L2S_MAX_MESSAGE },
	[L2S_MSG_RESUME_INIT] = { L2S_RESUME_INIT_MIN_BYTES, RESUME_INIT_MAX_BYTES },
	[L2S_MSG_RESUME_RESP] = { L2S_RESUME_RESP_BYTES, L2S_RESUME_RESP_BYTES },
	/* Raw-UDP discovery (§11): peek sorts them out, discovery_wire.c decodes. */
	[L2S_MSG_DISCOVERY_PROBE] = { L2S_DISC_PROBE_MIN_BYTES, L2S_DISC_PROBE_MAX_BYTES },
	[L2S_MSG_DISCOVERY_ANSWER] = { L2S_DISC_ANSWER_MIN_BYTES, L2S_DISC_ANSWER_MAX_BYTES },
};

static int known_msg_type(unsigned int type)
{
	return type >= L2S_MSG_HANDSHAKE_INIT && type <= L2S_MSG_DISCOVERY_ANSWER;
}

/* The §2 rule for every message: length in the type's range first, then
 * version, type and a zero reserved field. */
static int msg_ok(const uint8_t *msg, size_t len, unsigned int type)
{
	if (!msg || len < msg_sizes[type].min || len > msg_sizes[type].max)
		return 0;
	return msg[0] == L2S_WIRE_VERSION && msg[1] == type && msg[2] == 0 && msg[3] == 0;
}

static void put_header(uint8_t *out, unsigned int type)
{
	out[0] = L2S_WIRE_VERSION;
	out[1] = (uint8_t)type;
	out[2] = 0;
	out[3] = 0;
}

/* Copies n bytes, or writes zeros for a NULL source (MACs and optional keys
 * the caller fills in later). memmove: re-encoding a decoded struct into its
 * own buffer copies a field onto itself. */
void wire_put_bytes(uint8_t *out, const uint8_t *src, size_t n)
{
	if (src)
		memmove(out, src, n);
	else
		memset(out, 0, n);
}

/* NULL counts as zeros: that is what put_bytes writes for it. */
static int zero_or_null(const uint8_t *p, size_t n)
{
	return !p || l2s_all_zero(p, n);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, surrogates or values past
 * U+10FFFF, so the text decodes the same everywhere (Python included). */
int wire_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp, min;
		size_t more;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (n - i <= more)
			return 0;
		for (size_t j = 1; j <= more; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += more + 1;
	}
	return 1;
}

/* ---- header peek (§2) ---------------------------------------------------- */

int l2s_wire_peek(const uint8_t *msg, size_t len, int *type)
{
	if (!msg || !type || len < L2S_HEADER_BYTES || !known_msg_type(msg[1]))
		return L2S_ERR_DECODE;
	/* The whole §2 check, so a caller can dispatch on the type and drop
	 * junk before any decoder runs. */
	if (!msg_ok(msg, len, msg[1]))
		return L2S_ERR_DECODE;
	*type = msg[1];
	return L2S_OK;
}

/* ---- HANDSHAKE_INIT (§4.1) ----------------------------------------------- */

int l2s_decode_hs_init(const uint8_t *msg, size_t len, struct l2s_hs_init *out)
{
	struct l2s_hs_init m;

	if (!out || !msg_ok(msg, len, L2S_MSG_HANDSHAKE_INIT))
		return L2S_ERR_DECODE;
	m.sender_index = l2s_get_u32(msg + HS_INIT_SENDER);
	m.prekey_id = msg + HS_INIT_PREKEY_ID;
	m.e_pk = msg + HS_INIT_E_PK;
	m.ct1 = msg + HS_INIT_CT1;
	m.sealed_identity = msg + L2S_HS_INIT_SEALED_OFF;
	m.mac1 = msg + L2S_HS_INIT_MAC1_OFF;
	m.mac2 = msg + L2S_HS_INIT_MAC2_OFF; /* zeros or a cookie MAC: both valid */
	*out = m;
	return L2S_OK;
}

int l2s_encode_hs_init(uint8_t *out, size_t cap, const struct l2s_hs_init *in, size_t *len)
{
	if (!out || !in || !len || cap < L2S_HS_INIT_BYTES)
		return L2S_ERR_LENGTH;
	if (!in->prekey_id || !in->e_pk || !in->ct1 || !in->sealed_identity)
		return L2S_ERR_LENGTH;
	put_header(out, L2S_MSG_HANDSHAKE_INIT);
	l2s_put_u32(out + HS_INIT_SENDER, in->sender_index);
	wire_put_bytes(out + HS_INIT_PREKEY_ID, in->prekey_id, L2S_PREKEY_ID_BYTES);
	wire_put_bytes(out + HS_INIT_E_PK, in->e_pk, L2S_XWING_PK_BYTES);
	wire_put_bytes(out + HS_INIT_CT1, in->ct1, L2S_XWING_CT_BYTES);
	wire_put_bytes(out + L2S_HS_INIT_SEALED_OFF, in->sealed_identity, L2S_HS_INIT_SEALED_BYTES);
	wire_put_bytes(out + L2S_HS_INIT_MAC1_OFF, in->mac1, L2S_MAC_BYTES);
	wire_put_bytes(out + L2S_HS_INIT_MAC2_OFF, in->mac2, L2S_MAC_BYTES);
	*len = L2S_HS_INIT_BYTES;
	return L2S_OK;
}

/* ---- HANDSHAKE_RESP (§4.2) ----------------------------------------------- */

int l2s_decode_hs_resp(const uint8_t *msg, size_t len, struct l2s_hs_resp *out)
{
	struct l2s_hs_resp m;

	if (!out || !msg_ok(msg, len, L2S_MSG_HANDSHAKE_RESP))
		return L2S_ERR_DECODE;
	/* mac2 is reserved and covered by no MAC: only zeros keep the
	 * message free of bytes an attacker could flip unnoticed. */
	if (!l2s_all_zero(msg + L2S_HS_RESP_MAC2_OFF, L2S_MAC_BYTES))
		return L2S_ERR_DECODE;
	m.sender_index = l2s_get_u32(msg + HS_RESP_SENDER);
	m.receiver_index = l2s_get_u32(msg + HS_RESP_RECEIVER);
	m.ct2 = msg + HS_RESP_CT2;
	m.sealed_sig = msg + L2S_HS_RESP_SEALED_OFF;
	m.mac1 = msg + L2S_HS_RESP_MAC1_OFF;
	m.mac2 = msg + L2S_HS_RESP_MAC2_OFF;
	*out = m;
	return L2S_OK;
}

int l2s_encode_hs_resp(uint8_t *out, size_t cap, const struct l2s_hs_resp *in, size_t *len)
{
	if (!out || !in || !len || cap < L2S_HS_RESP_BYTES)
		return L2S_ERR_LENGTH;
	if (!in->ct2 || !in->sealed_sig || !zero_or_null(in->mac2, L2S_MAC_BYTES))
		return L2S_ERR_LENGTH;
	put_header(out, L2S_MSG_HANDSHAKE_RESP);
	l2s_put_u32(out + HS_RESP_SENDER, in->sender_index);
	l2s_put_u32(out + HS_RESP_RECEIVER, in->receiver_index);
	wire_put_bytes(out + HS_RESP_CT2, in->ct2, L2S_XWING_CT_BYTES);
	wire_put_bytes(out + L2S_HS_RESP_SEALED_OFF, in->sealed_sig, L2S_HS_RESP_SEALED_BYTES);
	wire_put_bytes(out + L2S_HS_RESP_MAC1_OFF, in->mac1, L2S_MAC_BYTES);
	wire_put_bytes(out + L2S_HS_RESP_MAC2_OFF, NULL, L2S_MAC_BYTES);
	*len = L2S_HS_RESP_BYTES;
	return L2S_OK;
}

/* ---- COOKIE_REPLY (§4.4) ------------------------------------------------- */

int l2s_decode_cookie_reply(const uint8_t *msg, size_t len, struct l2s_cookie_reply *out)
{
	struct l2s_cookie_reply m;

	if (!out || !msg_ok(msg, len, L2S_MSG_COOKIE_REPLY))
		return L2S_ERR_DECODE;
	m.receiver_index = l2s_get_u32(msg + COOKIE_RECEIVER);
	m.nonce = msg + COOKIE_NONCE;
	m.sealed_cookie = msg + COOKIE_SEALED;
	*out = m;
	return L2S_OK;
}

int l2s_encode_cookie_reply(uint8_t *out, size_t cap, const struct l2s_cookie_reply *in, size_t *len)
{
	if (!out || !in || !len || cap < L2S_COOKIE_REPLY_BYTES)
		return L2S_ERR_LENGTH;
	if (!in->nonce || !in->sealed_cookie)
		return L2S_ERR_LENGTH;
	put_header(out, L2S_MSG_COOKIE_REPLY);
	l2s_put_u32(out + COOKIE_RECEIVER, in->receiver_index);
	wire_put_bytes(out + COOKIE_NONCE, in->nonce, L2S_AEAD_NONCE_BYTES);
	wire_put_bytes(out + COOKIE_SEALED, in->sealed_cookie, COOKIE_SEALED_BYTES);
	*len = L2S_COOKIE_REPLY_BYTES;
	return L2S_OK;
}

/* ---- TRANSPORT (§5) ------------------------------------------------------ */

int l2s_decode_transport(const uint8_t *msg, size_t len, struct l2s_transport *out)
{
	struct l2s_transport m;

	/* At least a one-byte frame and its tag; the frame itself is checked
	 * after decryption. */
	if (!out || !msg_ok(msg, len, L2S_MSG_TRANSPORT))
		return L2S_ERR_DECODE;
	m.receiver_index = l2s_get_u32(msg + TRANSPORT_RECEIVER);
	m.counter = l2s_get_u64(msg + TRANSPORT_COUNTER);
	m.sealed = msg + L2S_TRANSPORT_HEADER_BYTES;
	m.sealed_len = len - L2S_TRANSPORT_HEADER_BYTES;
	*out = m;
	return L2S_OK;
}

int l2s_encode_transport_header(uint8_t out[L2S_TRANSPORT_HEADER_BYTES], uint32_t receiver_index,
				uint64_t counter)
{
	if (!out)
		return L2S_ERR_LENGTH;
	put_header(out, L2S_MSG_TRANSPORT);
	l2s_put_u32(out + TRANSPORT_RECEIVER, receiver_index);
	l2s_put_u64(out + TRANSPORT_COUNTER, counter);
	return L2S_OK;
}

/* ---- RESUME_INIT (§8) ---------------------------------------------------- */

/* Ticket mode carries 1..256 ticket bytes, key-derivation mode none. */
static int resume_mode_ok(unsigned int mode, size_t ticket_len)
{
	if (mode == L2S_RESUME_MODE_TICKET)
		return ticket_len >= 1 && ticket_len <= L2S_MAX_TICKET;
	if (mode == L2S_RESUME_MODE_KDF)
		return ticket_len == 0;
	return 0;
}

/* Only bit 0 is defined, and the key is present exactly when it is set. */
static int resume_flags_ok(unsigned int flags, int key_is_zero)
{
	if (flags & ~(unsigned int)L2S_RESUME_FLAG_X25519)
		return 0;
	if (flags & L2S_RESUME_FLAG_X25519)
		return !key_is_zero;
	return key_is_zero;
}

int l2s_decode_resume_init(const uint8_t *msg, size_t len, struct l2s_resume_init *out)
{
	struct l2s_resume_init m;

	if (!out || !msg_ok(msg, len, L2S_MSG_RESUME_INIT))
		return L2S_ERR_DECODE;
	m.ticket_len = l2s_get_u16(msg + RESUME_INIT_TICKET_LEN);
	if (m.ticket_len > L2S_MAX_TICKET || len != L2S_RESUME_INIT_MIN_BYTES + m.ticket_len)
		return L2S_ERR_DECODE;
	m.mode = msg[RESUME_INIT_MODE];
	m.flags = msg[RESUME_INIT_FLAGS];
	if (!resume_mode_ok(m.mode, m.ticket_len) ||
	    !resume_flags_ok(m.flags, l2s_all_zero(msg + RESUME_INIT_X25519, L2S_X25519_BYTES)))
		return L2S_ERR_DECODE;
	m.sender_index = l2s_get_u32(msg + RESUME_INIT_SENDER);
	m.session_id = msg + RESUME_INIT_SESSION_ID;
	m.nonce = msg + RESUME_INIT_NONCE;
	m.x25519_pk = msg + RESUME_INIT_X25519;
	m.ticket = msg + RESUME_INIT_TICKET;
	m.binder_off = RESUME_INIT_TICKET + m.ticket_len;
	m.binder = msg + m.binder_off;
	m.mac1 = m.binder + L2S_MAC_BYTES;
	*out = m;
	return L2S_OK;
}

/* in->binder_off is an output of the decoder and is ignored here. */
int l2s_encode_resume_init(uint8_t *out, size_t cap, const struct l2s_resume_init *in, size_t *len)
{
	size_t n, binder_off;

	if (!out || !in || !len || !in->session_id || !in->nonce)
		return L2S_ERR_LENGTH;
	if (!resume_mode_ok(in->mode, in->ticket_len) || (in->ticket_len && !in->ticket) ||
	    !resume_flags_ok(in->flags, zero_or_null(in->x25519_pk, L2S_X25519_BYTES)))
		return L2S_ERR_LENGTH;
	n = L2S_RESUME_INIT_MIN_BYTES + in->ticket_len;
	if (cap < n)
		return L2S_ERR_LENGTH;
	binder_off = RESUME_INIT_TICKET + in->ticket_len;
	put_header(out, L2S_MSG_RESUME_INIT);
	l2s_put_u32(out + RESUME_INIT_SENDER, in->sender_index);
	out[RESUME_INIT_MODE] = in->mode;
	out[RESUME_INIT_FLAGS] = in->flags;
	wire_put_bytes(out + RESUME_INIT_SESSION_ID, in->session_id, L2S_SESSION_ID_BYTES);
	wire_put_bytes(out + RESUME_INIT_NONCE, in->nonce, L2S_NONCE_BYTES);
	wire_put_bytes(out + RESUME_INIT_X25519, in->x25519_pk, L2S_X25519_BYTES);
	l2s_put_u16(out + RESUME_INIT_TICKET_LEN, (uint16_t)in->ticket_len);
	if (in->ticket_len)
		wire_put_bytes(out + RESUME_INIT_TICKET, in->ticket, in->ticket_len);
	wire_put_bytes(out + binder_off, in->binder, L2S_MAC_BYTES);
	wire_put_bytes(out + binder_off + L2S_MAC_BYTES, in->mac1, L2S_MAC_BYTES);
	*len = n;
	return L2S_OK;
}

/* ---- RESUME_RESP (§8) ---------------------------------------------------- */

int l2s_decode_resume_resp(const uint8_t *msg, size_t len, struct l2s_resume_resp *out)
{
	struct l2s_resume_resp m;

	if (!out || !msg_ok(msg, len, L2S_MSG_RESUME_RESP))
		return L2S_ERR_DECODE;
	/* Reserved and covered by no MAC, like HANDSHAKE_RESP's mac2. */
	if (!l2s_all_zero(msg + RESUME_RESP_RESERVED, L2S_MAC_BYTES))
		return L2S_ERR_DECODE;
	m.sender_index = l2s_get_u32(msg + RESUME_RESP_SENDER);
	m.receiver_index = l2s_get_u32(msg + RESUME_RESP_RECEIVER);
	m.nonce = msg + RESUME_RESP_NONCE;
	m.x25519_pk = msg + RESUME_RESP_X25519;
	m.confirm = msg + L2S_RESUME_RESP_CONFIRM_OFF;
	m.mac1 = msg + L2S_RESUME_RESP_MAC1_OFF;
	*out = m;
	return L2S_OK;
}

int l2s_encode_resume_resp(uint8_t *out, size_t cap, const struct l2s_resume_resp *in, size_t *len)
{
	if (!out || !in || !len || cap < L2S_RESUME_RESP_BYTES || !in->nonce)
		return L2S_ERR_LENGTH;
	put_header(out, L2S_MSG_RESUME_RESP);
	l2s_put_u32(out + RESUME_RESP_SENDER, in->sender_index);
	l2s_put_u32(out + RESUME_RESP_RECEIVER, in->receiver_index);
	wire_put_bytes(out + RESUME_RESP_NONCE, in->nonce, L2S_NONCE_BYTES);
	wire_put_bytes(out + RESUME_RESP_X25519, in->x25519_pk, L2S_X25519_BYTES);
	wire_put_bytes(out + L2S_RESUME_RESP_CONFIRM_OFF, in->confirm, L2S_MAC_BYTES);
	wire_put_bytes(out + L2S_RESUME_RESP_MAC1_OFF, in->mac1, L2S_MAC_BYTES);
	wire_put_bytes(out + RESUME_RESP_RESERVED, NULL, L2S_MAC_BYTES);
	*len = L2S_RESUME_RESP_BYTES;
	return L2S_OK;
}

/* ---- PREKEY_BUNDLE (§3) -------------------------------------------------- */

int l2s_decode_bundle(const uint8_t *p, size_t len, struct l2s_bundle *out)
{
	struct l2s_bundle b;

	if (!p || !out || len != L2S_PREKEY_BUNDLE_BYTES || p[0] != L2S_WIRE_VERSION)
		return L2S_ERR_DECODE;
	b.identity_pk = p + BUNDLE_IDENTITY;
	b.prekey_pk = p + BUNDLE_PREKEY;
	b.not_after_s = l2s_get_u64(p + BUNDLE_NOT_AFTER);
	b.signature = p + BUNDLE_SIGNATURE;
	*out = b;
	return L2S_OK;
}

/* A NULL signature writes zeros: the caller signs bytes [0, 1257) afterwards. */
int l2s_encode_bundle(uint8_t *out, size_t cap, const struct l2s_bundle *in, size_t *len)
{
	if (!out || !in || !len || cap < L2S_PREKEY_BUNDLE_BYTES || !in->identity_pk || !in->prekey_pk)
		return L2S_ERR_LENGTH;
	out[0] = L2S_WIRE_VERSION;
	wire_put_bytes(out + BUNDLE_IDENTITY, in->identity_pk, L2S_ED25519_PK_BYTES);
	wire_put_bytes(out + BUNDLE_PREKEY, in->prekey_pk, L2S_XWING_PK_BYTES);
	l2s_put_u64(out + BUNDLE_NOT_AFTER, in->not_after_s);
	wire_put_bytes(out + BUNDLE_SIGNATURE, in->signature, L2S_ED25519_SIG_BYTES);
	*len = L2S_PREKEY_BUNDLE_BYTES;
	return L2S_OK;
}

/* ---- ticket, R's own format (§8) ----------------------------------------- */

int l2s_decode_ticket(const uint8_t *p, size_t len, struct l2s_ticket *out)
{
	struct l2s_ticket t;

	if (!p || !out || len != L2S_TICKET_BYTES)
		return L2S_ERR_DECODE;
	t.stek_id = l2s_get_u32(p);
	t.nonce = p + TICKET_NONCE;
	t.sealed = p + TICKET_SEALED;
	*out = t;
	return L2S_OK;
}

int l2s_encode_ticket(uint8_t *out, size_t cap, const struct l2s_ticket *in, size_t *len)
{
	if (!out || !in || !len || cap < L2S_TICKET_BYTES || !in->nonce || !in->sealed)
		return L2S_ERR_LENGTH;
	l2s_put_u32(out, in->stek_id);
	wire_put_bytes(out + TICKET_NONCE, in->nonce, L2S_AEAD_NONCE_BYTES);
	wire_put_bytes(out + TICKET_SEALED, in->sealed, TICKET_SEALED_BYTES);
	*len = L2S_TICKET_BYTES;
	return L2S_OK;
}
