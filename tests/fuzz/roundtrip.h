/* SPDX-License-Identifier: Apache-2.0
 *
 * roundtrip.h - the property every wire decoder must have, shared by the
 * fuzz harnesses (tests/fuzz/fuzz_*.c), their replay driver and
 * tests/c/test_wire.c:
 *
 *   - a rejected input returns exactly L2S_ERR_DECODE and leaves the output
 *     struct untouched;
 *   - an accepted input encodes back to exactly the same bytes, into a buffer
 *     of exactly that size (ASan sees any write past it), and one byte less
 *     of room is refused with L2S_ERR_LENGTH.
 *
 * One rt_<codec> function per decoder: decode, then encode what was decoded.
 */
#ifndef L2S_FUZZ_ROUNDTRIP_H
#define L2S_FUZZ_ROUNDTRIP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/discovery.h"
#include "wire/wire.h"

/* A decoder broke its contract (wrote its output on failure, or returned
 * something other than L2S_OK or L2S_ERR_DECODE). */
#define RT_BUG (-1000)
#define RT_CANARY 0xa5

/* The libFuzzer entry point each harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int (*rt_fn)(const uint8_t *msg, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* Checks a decoder's result and, on failure, that the struct kept the canary. */
static inline int rt_decoded(int rc, const void *m, size_t n)
{
	const uint8_t *b = m;

	if (rc == L2S_OK)
		return L2S_OK;
	if (rc != L2S_ERR_DECODE)
		return RT_BUG;
	for (size_t i = 0; i < n; i++)
		if (b[i] != RT_CANARY)
			return RT_BUG;
	return L2S_ERR_DECODE;
}

/* Each wrapper: canary the struct, decode, check, encode. */
#define RT_DEFINE(name, type, decode, encode)                                                 \
	static inline int rt_##name(const uint8_t *msg, size_t len, uint8_t *out, size_t cap, \
				    size_t *out_len)                                          \
	{                                                                                     \
		type m;                                                                       \
		int rc;                                                                       \
                                                                                              \
		memset(&m, RT_CANARY, sizeof(m));                                             \
		rc = rt_decoded(decode(msg, len, &m), &m, sizeof(m));                         \
		return rc ? rc : encode(out, cap, &m, out_len);                               \
	}

RT_DEFINE(hs_init, struct l2s_hs_init, l2s_decode_hs_init, l2s_encode_hs_init)
RT_DEFINE(hs_resp, struct l2s_hs_resp, l2s_decode_hs_resp, l2s_encode_hs_resp)
RT_DEFINE(cookie_reply, struct l2s_cookie_reply, l2s_decode_cookie_reply, l2s_encode_cookie_reply)
RT_DEFINE(frame, struct l2s_frame, l2s_decode_frame, l2s_encode_frame)
RT_DEFINE(resume_init, struct l2s_resume_init, l2s_decode_resume_init, l2s_encode_resume_init)
RT_DEFINE(resume_resp, struct l2s_resume_resp, l2s_decode_resume_resp, l2s_encode_resume_resp)
RT_DEFINE(bundle, struct l2s_bundle, l2s_decode_bundle, l2s_encode_bundle)
RT_DEFINE(ticket, struct l2s_ticket, l2s_decode_ticket, l2s_encode_ticket)
RT_DEFINE(disc_probe, struct l2s_disc_probe, l2s_decode_disc_probe, l2s_encode_disc_probe)
RT_DEFINE(disc_answer, struct l2s_disc_answer, l2s_decode_disc_answer, l2s_encode_disc_answer)

/* TRANSPORT has a header encoder only: the sealed frame follows it as is. */
static inline int rt_transport(const uint8_t *msg, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	struct l2s_transport m;
	int rc;

	memset(&m, RT_CANARY, sizeof(m));
	rc = rt_decoded(l2s_decode_transport(msg, len, &m), &m, sizeof(m));
	if (rc)
		return rc;
	if (m.sealed != msg + L2S_TRANSPORT_HEADER_BYTES || m.sealed_len != len - L2S_TRANSPORT_HEADER_BYTES)
		return RT_BUG;
	if (cap < len)
		return L2S_ERR_LENGTH;
	rc = l2s_encode_transport_header(out, m.receiver_index, m.counter);
	if (rc)
		return rc;
	memcpy(out + L2S_TRANSPORT_HEADER_BYTES, m.sealed, m.sealed_len);
	*out_len = len;
	return L2S_OK;
}

/* The peek "encoding": a fresh header for the type it returned, then the
 * rest of the message unchanged. */
static inline int rt_peek(const uint8_t *msg, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	int type = -1;
	int rc = l2s_wire_peek(msg, len, &type);

	if (rc != L2S_OK)
		return rc == L2S_ERR_DECODE && type == -1 ? rc : RT_BUG;
	if (cap < len)
		return L2S_ERR_LENGTH;
	out[0] = L2S_WIRE_VERSION;
	out[1] = (uint8_t)type;
	out[2] = 0;
	out[3] = 0;
	memcpy(out + L2S_HEADER_BYTES, msg + L2S_HEADER_BYTES, len - L2S_HEADER_BYTES);
	*out_len = len;
	return L2S_OK;
}

/* Result of rt_check: rejected cleanly, accepted and re-encoded exactly, or
 * a contract violation (the harness aborts on it). */
enum rt_result { RT_REJECTED, RT_ACCEPTED, RT_FAILED };

static inline enum rt_result rt_check(rt_fn fn, const uint8_t *msg, size_t len)
{
	uint8_t *out = malloc(len ? len : 1);
	size_t out_len = 0;
	enum rt_result res;
	int rc;

	if (!out)
		abort();
	rc = fn(msg, len, out, len, &out_len);
	if (rc == L2S_ERR_DECODE)
		res = RT_REJECTED;
	else if (rc != L2S_OK || out_len != len || memcmp(out, msg, len) != 0)
		res = RT_FAILED;
	else
		res = RT_ACCEPTED;
	free(out);
	if (res != RT_ACCEPTED || len == 0)
		return res;
	/* One byte less room must be refused; exactly len - 1 bytes are
	 * allocated so that a write past cap is an ASan report. */
	out = malloc(len - 1 ? len - 1 : 1);
	if (!out)
		abort();
	if (fn(msg, len, out, len - 1, &out_len) != L2S_ERR_LENGTH)
		res = RT_FAILED;
	free(out);
	return res;
}

#endif /* L2S_FUZZ_ROUNDTRIP_H */
