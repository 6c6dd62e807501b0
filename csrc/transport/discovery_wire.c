// SPDX-License-Identifier: Apache-2.0
/* Codecs for DISCOVERY_PROBE and DISCOVERY_ANSWER (PROTOCOL.md §11).
 *
 * Same contract as wire.c: decoders check every length before reading and
 * fill a local copy handed out only on success; encoders validate
 * everything before writing a byte; decode and encode are exact inverses
 * (hence zero padding and zero unknown flag bits are required). No crypto.
 */
#include <string.h>

#include "crypto/ct.h"
#include "transport/discovery.h"

enum {
	PROBE_FLAGS = 4,
	PROBE_NONCE = 5,
	PROBE_TOKEN = PROBE_NONCE + L2S_DISC_NONCE_BYTES,
	ANS_FLAGS = 4,
	ANS_PK = 5,
	ANS_FAMILY = ANS_PK + L2S_ED25519_PK_BYTES,
	ANS_PORT = ANS_FAMILY + 1,
	ANS_IP = ANS_PORT + 2,
	TRANSPORT_BYTES = 3,
};
_Static_assert(L2S_DISC_ANSWER_MIN_BYTES == ANS_IP + 4 + 1 + L2S_DISC_TOKEN_BYTES + L2S_ED25519_SIG_BYTES,
	       "answer layout");
_Static_assert(L2S_DISC_ANSWER_MAX_BYTES == ANS_IP + 16 + 1 + TRANSPORT_BYTES * L2S_DISC_MAX_TRANSPORTS +
						    L2S_PREKEY_BUNDLE_BYTES + L2S_ED25519_SIG_BYTES,
	       "answer layout");

static int header_ok(const uint8_t *msg, size_t len, unsigned int type)
{
	return msg && len >= L2S_HEADER_BYTES && msg[0] == L2S_WIRE_VERSION && msg[1] == type && msg[2] == 0 &&
	       msg[3] == 0;
}

static void put_header(uint8_t *out, unsigned int type)
{
	out[0] = L2S_WIRE_VERSION;
	out[1] = (uint8_t)type;
	out[2] = 0;
	out[3] = 0;
}

/* ---- DISCOVERY_PROBE ---- */

int l2s_decode_disc_probe(const uint8_t *msg, size_t len, struct l2s_disc_probe *out)
{
	struct l2s_disc_probe m;
	size_t end;

	if (!out || len < L2S_DISC_PROBE_MIN_BYTES || len > L2S_DISC_PROBE_MAX_BYTES ||
	    !header_ok(msg, len, L2S_MSG_DISCOVERY_PROBE))
		return L2S_ERR_DECODE;
	if (msg[PROBE_FLAGS] & ~L2S_DISC_PROBE_FLAG_TOKEN)
		return L2S_ERR_DECODE;
	m.nonce = msg + PROBE_NONCE;
	m.token = NULL;
	end = PROBE_TOKEN;
	if (msg[PROBE_FLAGS] & L2S_DISC_PROBE_FLAG_TOKEN) {
		m.token = msg + PROBE_TOKEN;
		end += L2S_DISC_TOKEN_BYTES;
	}
	/* Padding is zeros, so the encoding is canonical. */
	if (!l2s_all_zero(msg + end, len - end))
		return L2S_ERR_DECODE;
	m.len = len;
	*out = m;
	return L2S_OK;
}

int l2s_encode_disc_probe(uint8_t *out, size_t cap, const struct l2s_disc_probe *in, size_t *len)
{
	size_t end;

	if (!out || !in || !len || !in->nonce)
		return L2S_ERR_LENGTH;
	if (in->len < L2S_DISC_PROBE_MIN_BYTES || in->len > L2S_DISC_PROBE_MAX_BYTES || cap < in->len)
		return L2S_ERR_LENGTH;
	put_header(out, L2S_MSG_DISCOVERY_PROBE);
	out[PROBE_FLAGS] = in->token ? L2S_DISC_PROBE_FLAG_TOKEN : 0;
	memcpy(out + PROBE_NONCE, in->nonce, L2S_DISC_NONCE_BYTES);
	end = PROBE_TOKEN;
	if (in->token) {
		memcpy(out + PROBE_TOKEN, in->token, L2S_DISC_TOKEN_BYTES);
		end += L2S_DISC_TOKEN_BYTES;
	}
	memset(out + end, 0, in->len - end);
	*len = in->len;
	return L2S_OK;
}

/* ---- DISCOVERY_ANSWER ---- */

static size_t ip_len(uint8_t family)
{
	if (family == L2S_DISC_AF_INET)
		return 4;
	if (family == L2S_DISC_AF_INET6)
		return 16;
	return 0;
}

size_t l2s_disc_addr_bytes(uint8_t out[19], const struct l2s_disc_addr *a)
{
	size_t n = ip_len(a->family);

	out[0] = a->family;
	l2s_put_u16(out + 1, a->port);
	memcpy(out + 3, a->ip, n);
	return n ? 3 + n : 0;
}

int l2s_decode_disc_answer(const uint8_t *msg, size_t len, struct l2s_disc_answer *out)
{
	struct l2s_disc_answer m;
	size_t off, iplen, body;
	uint8_t flags;

	if (!out || len > L2S_DISC_ANSWER_MAX_BYTES || len < L2S_DISC_ANSWER_MIN_BYTES ||
	    !header_ok(msg, len, L2S_MSG_DISCOVERY_ANSWER))
		return L2S_ERR_DECODE;
	memset(&m, 0, sizeof(m));
	flags = msg[ANS_FLAGS];
	if (flags != L2S_DISC_ANSWER_FLAG_BUNDLE && flags != L2S_DISC_ANSWER_FLAG_TOKEN)
		return L2S_ERR_DECODE;
	m.identity_pk = msg + ANS_PK;
	m.observed.family = msg[ANS_FAMILY];
	iplen = ip_len(m.observed.family);
	if (!iplen)
		return L2S_ERR_DECODE;
	m.observed.port = l2s_get_u16(msg + ANS_PORT);
	memcpy(m.observed.ip, msg + ANS_IP, iplen); /* len >= ANS_IP + 16 + 1 */
	off = ANS_IP + iplen;
	m.n_transports = msg[off++];
	if (m.n_transports > L2S_DISC_MAX_TRANSPORTS)
		return L2S_ERR_DECODE;
	body = flags == L2S_DISC_ANSWER_FLAG_BUNDLE ? L2S_PREKEY_BUNDLE_BYTES : L2S_DISC_TOKEN_BYTES;
	/* Now the exact length is known: check it before reading the rest. */
	if (len != off + TRANSPORT_BYTES * m.n_transports + body + L2S_ED25519_SIG_BYTES)
		return L2S_ERR_DECODE;
	for (size_t i = 0; i < m.n_transports; i++, off += TRANSPORT_BYTES) {
		m.transports[i].kind = msg[off];
		m.transports[i].port = l2s_get_u16(msg + off + 1);
		if (!m.transports[i].kind || !m.transports[i].port)
			return L2S_ERR_DECODE;
	}
	if (flags == L2S_DISC_ANSWER_FLAG_BUNDLE)
		m.bundle = msg + off;
	else
		m.token = msg + off;
	m.sig_off = off + body;
	m.signature = msg + m.sig_off;
	*out = m;
	return L2S_OK;
}

static int answer_fields_ok(const struct l2s_disc_answer *in)
{
	if (!in->identity_pk || !ip_len(in->observed.family) || in->n_transports > L2S_DISC_MAX_TRANSPORTS)
		return 0;
	if (!in->token == !in->bundle) /* exactly one */
		return 0;
	for (size_t i = 0; i < in->n_transports; i++)
		if (!in->transports[i].kind || !in->transports[i].port)
			return 0;
	return 1;
}

int l2s_encode_disc_answer(uint8_t *out, size_t cap, const struct l2s_disc_answer *in, size_t *len)
{
	size_t off, iplen, body, total;

	if (!out || !in || !len || !answer_fields_ok(in))
		return L2S_ERR_LENGTH;
	iplen = ip_len(in->observed.family);
	body = in->bundle ? L2S_PREKEY_BUNDLE_BYTES : L2S_DISC_TOKEN_BYTES;
	total = ANS_IP + iplen + 1 + TRANSPORT_BYTES * in->n_transports + body + L2S_ED25519_SIG_BYTES;
	if (cap < total)
		return L2S_ERR_LENGTH;
	put_header(out, L2S_MSG_DISCOVERY_ANSWER);
	out[ANS_FLAGS] = in->bundle ? L2S_DISC_ANSWER_FLAG_BUNDLE : L2S_DISC_ANSWER_FLAG_TOKEN;
	memcpy(out + ANS_PK, in->identity_pk, L2S_ED25519_PK_BYTES);
	out[ANS_FAMILY] = in->observed.family;
	l2s_put_u16(out + ANS_PORT, in->observed.port);
	memcpy(out + ANS_IP, in->observed.ip, iplen);
	off = ANS_IP + iplen;
	out[off++] = (uint8_t)in->n_transports;
	for (size_t i = 0; i < in->n_transports; i++, off += TRANSPORT_BYTES) {
		out[off] = in->transports[i].kind;
		l2s_put_u16(out + off + 1, in->transports[i].port);
	}
	memcpy(out + off, in->bundle ? in->bundle : in->token, body);
	off += body;
	if (in->signature)
		memcpy(out + off, in->signature, L2S_ED25519_SIG_BYTES);
	else
		memset(out + off, 0, L2S_ED25519_SIG_BYTES);
	*len = total;
	return L2S_OK;
}
