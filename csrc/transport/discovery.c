// SPDX-License-Identifier: Apache-2.0
/* Discovery probe, answer and verification (PROTOCOL.md §11). Stateless on
 * the responder: the address token is recomputed, not stored. */
#include <sodium.h>
#include <string.h>

#include "handshake/bundle.h"
#include "transport/discovery.h"

#define TOKEN_DOMAIN "l2sess/1 2026-11 discovery token"

void l2s_disc_token_compute(uint8_t token[L2S_DISC_TOKEN_BYTES], const uint8_t secret[32],
			    const struct l2s_disc_addr *a)
{
	uint8_t in[sizeof(TOKEN_DOMAIN) - 1 + 19];
	size_t n;

	/* Domain-separated from handshake cookies, which may share the secret. */
	memcpy(in, TOKEN_DOMAIN, sizeof(TOKEN_DOMAIN) - 1);
	n = l2s_disc_addr_bytes(in + sizeof(TOKEN_DOMAIN) - 1, a);
	l2s_blake3_keyed(token, L2S_DISC_TOKEN_BYTES, secret, in, sizeof(TOKEN_DOMAIN) - 1 + n);
}

static int token_matches(const uint8_t secret[32], const struct l2s_disc_addr *a, const uint8_t *token)
{
	uint8_t want[L2S_DISC_TOKEN_BYTES];
	int ok;

	l2s_disc_token_compute(want, secret, a);
	ok = sodium_memcmp(want, token, sizeof(want)) == 0;
	l2s_wipe(want, sizeof(want));
	return ok;
}

int l2s_disc_token_check(const struct l2s_cookie_secrets *s, const struct l2s_disc_addr *a,
			 const uint8_t token[L2S_DISC_TOKEN_BYTES])
{
	if (token_matches(s->current, a, token))
		return L2S_OK;
	if (s->have_previous && token_matches(s->previous, a, token))
		return L2S_OK;
	return L2S_ERR_AUTH;
}

int l2s_discovery_probe_make(uint8_t *out, size_t cap, size_t *len, size_t pad_to,
			     uint8_t nonce_out[L2S_DISC_NONCE_BYTES], struct l2s_rng *rng,
			     const uint8_t token[L2S_DISC_TOKEN_BYTES])
{
	struct l2s_disc_probe p = { .nonce = nonce_out, .token = token };

	if (pad_to > L2S_DISC_PROBE_MAX_BYTES)
		return L2S_ERR_LENGTH;
	p.len = pad_to < L2S_DISC_PROBE_MIN_BYTES ? L2S_DISC_PROBE_MIN_BYTES : pad_to;
	if (!out || cap < p.len)
		return L2S_ERR_LENGTH;
	l2s_rng_bytes(rng, nonce_out, L2S_DISC_NONCE_BYTES);
	return l2s_encode_disc_probe(out, cap, &p, len);
}

/* The signed message: prefix || probe nonce || answer[0, sig_off). */
static int signed_input(uint8_t *buf, size_t cap, size_t *n, const uint8_t *nonce, const uint8_t *ans,
			size_t sig_off)
{
	size_t pre = sizeof(L2S_DISC_SIG_PREFIX) - 1;

	if (cap < pre + L2S_DISC_NONCE_BYTES + sig_off)
		return L2S_ERR_LENGTH;
	memcpy(buf, L2S_DISC_SIG_PREFIX, pre);
	memcpy(buf + pre, nonce, L2S_DISC_NONCE_BYTES);
	memcpy(buf + pre + L2S_DISC_NONCE_BYTES, ans, sig_off);
	*n = pre + L2S_DISC_NONCE_BYTES + sig_off;
	return L2S_OK;
}

#define SIGNED_MAX (sizeof(L2S_DISC_SIG_PREFIX) - 1 + L2S_DISC_NONCE_BYTES + L2S_DISC_ANSWER_MAX_BYTES)

static int sign_answer(uint8_t *ans, size_t len, const uint8_t *nonce, const struct l2s_identity *self)
{
	uint8_t buf[SIGNED_MAX];
	size_t sig_off = len - L2S_ED25519_SIG_BYTES, n;
	int ret = signed_input(buf, sizeof(buf), &n, nonce, ans, sig_off);

	if (ret == L2S_OK)
		ret = l2s_ed25519_sign(ans + sig_off, buf, n, self->sk);
	return ret;
}

/* by_transport: the probe came over a connection, which proves the address. */
static int answer(uint8_t *out, size_t cap, size_t *len, const struct l2s_disc_responder *r,
		  const struct l2s_disc_addr *from, const uint8_t *probe, size_t probe_len, uint64_t now_ms,
		  int by_transport)
{
	uint8_t addr[19], token[L2S_DISC_TOKEN_BYTES];
	struct l2s_disc_answer a = { 0 };
	struct l2s_disc_probe p;
	size_t addr_len, n;
	int proven, ret;

	if (!r || !r->self || !r->secrets || !r->rl || !from || !len)
		return L2S_ERR_LENGTH;
	if (r->n_transports > L2S_DISC_MAX_TRANSPORTS || (r->n_transports && !r->transports))
		return L2S_ERR_LENGTH;
	if (l2s_decode_disc_probe(probe, probe_len, &p) != L2S_OK)
		return L2S_ERR_DECODE;
	addr_len = l2s_disc_addr_bytes(addr, from);
	if (!addr_len)
		return L2S_ERR_LENGTH;
	/* The bucket before any hashing or signing: that is the cost to bound. */
	if (!l2s_ratelimit_allow(r->rl, addr, addr_len, now_ms))
		return L2S_ERR_BUSY;
	proven = r->bundle &&
		 (by_transport || (p.token && l2s_disc_token_check(r->secrets, from, p.token) == L2S_OK));
	a.identity_pk = r->self->pk;
	a.observed = *from;
	a.n_transports = r->n_transports;
	if (r->n_transports)
		memcpy(a.transports, r->transports, r->n_transports * sizeof(a.transports[0]));
	if (proven) {
		a.bundle = r->bundle;
	} else {
		l2s_disc_token_compute(token, r->secrets->current, from);
		a.token = token;
	}
	ret = l2s_encode_disc_answer(out, cap, &a, &n);
	if (ret != L2S_OK)
		return ret;
	/* Anti-amplification: an unproven address gets at most 3x its probe. */
	if (!proven && n > L2S_DISC_AMPLIFICATION * probe_len) {
		l2s_wipe(out, n);
		return L2S_ERR_LENGTH;
	}
	ret = sign_answer(out, n, p.nonce, r->self);
	if (ret != L2S_OK)
		return ret;
	*len = n;
	return L2S_OK;
}

int l2s_discovery_answer(uint8_t *out, size_t cap, size_t *len, const struct l2s_disc_responder *r,
			 const struct l2s_disc_addr *from, const uint8_t *probe, size_t probe_len,
			 uint64_t now_ms)
{
	return answer(out, cap, len, r, from, probe, probe_len, now_ms, 0);
}

int l2s_discovery_answer_inband(uint8_t *out, size_t cap, size_t *len, const struct l2s_disc_responder *r,
				const struct l2s_disc_addr *from, const uint8_t *probe, size_t probe_len,
				uint64_t now_ms)
{
	return answer(out, cap, len, r, from, probe, probe_len, now_ms, 1);
}

int l2s_discovery_verify(const uint8_t *answer, size_t len, const uint8_t nonce[L2S_DISC_NONCE_BYTES],
			 const uint8_t expected_pk[L2S_ED25519_PK_BYTES], uint64_t now_s,
			 struct l2s_disc_result *res)
{
	uint8_t buf[SIGNED_MAX];
	struct l2s_disc_answer a;
	struct l2s_disc_result out = { 0 };
	size_t n;
	int ret;

	if (!nonce || !expected_pk || !res || l2s_decode_disc_answer(answer, len, &a) != L2S_OK)
		return L2S_ERR_DECODE;
	/* Public keys: no need for constant time. */
	if (memcmp(a.identity_pk, expected_pk, L2S_ED25519_PK_BYTES) != 0)
		return L2S_ERR_AUTH;
	if (signed_input(buf, sizeof(buf), &n, nonce, answer, a.sig_off) != L2S_OK)
		return L2S_ERR_DECODE;
	if (l2s_ed25519_verify(a.signature, buf, n, expected_pk) != L2S_OK)
		return L2S_ERR_AUTH;
	if (a.bundle) {
		ret = l2s_bundle_open(&out.bundle, a.bundle, L2S_PREKEY_BUNDLE_BYTES, expected_pk, now_s);
		if (ret != L2S_OK)
			return ret == L2S_ERR_EXPIRED ? ret : L2S_ERR_AUTH;
		out.has_bundle = 1;
	} else {
		memcpy(out.token, a.token, L2S_DISC_TOKEN_BYTES);
		out.has_token = 1;
	}
	out.observed = a.observed;
	out.n_transports = a.n_transports;
	memcpy(out.transports, a.transports, sizeof(out.transports));
	*res = out;
	return L2S_OK;
}
