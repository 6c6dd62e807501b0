/* SPDX-License-Identifier: Apache-2.0 */
/* Discovery over raw UDP (PROTOCOL.md §11): a stateless, STUN-like probe and
 * its signed answer. Sans-IO: bytes in, bytes out, time passed in.
 *
 * A probe is padded to at least 256 bytes so that the 3x anti-amplification
 * rule leaves room for a useful answer. Until the prober proves its address
 * (an address token from an earlier answer), the answer is small (<= 3x the
 * probe) and carries a fresh token; with a valid token it carries the full
 * signed prekey bundle. Every answer is signed by the responder's identity
 * over (probe nonce || answer), so a prober accepts only the DID it asked.
 *
 * The codecs (l2s_*_disc_*) live in discovery_wire.c and, like wire.c, use
 * no crypto, so the fuzz harness links them alone.
 */
#ifndef L2S_DISCOVERY_H
#define L2S_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "handshake/cookie.h"
#include "handshake/identity.h"
#include "l2s.h"
#include "lib/ratelimit.h"
#include "crypto/rng.h"
#include "wire/wire.h"

#define L2S_DISC_NONCE_BYTES 32
#define L2S_DISC_TOKEN_BYTES 32
#define L2S_DISC_AMPLIFICATION 3
#define L2S_DISC_MAX_TRANSPORTS 8
#define L2S_DISC_PROBE_FLAG_TOKEN 0x01
#define L2S_DISC_ANSWER_FLAG_BUNDLE 0x01
#define L2S_DISC_ANSWER_FLAG_TOKEN 0x02
#define L2S_DISC_AF_INET 4
#define L2S_DISC_AF_INET6 6
#define L2S_DISC_SIG_PREFIX "l2sess/1 2026-11 discovery answer"

enum l2s_disc_transport_kind {
	L2S_DISC_T_UDP = 1,  /* l2sess over raw UDP (this port) */
	L2S_DISC_T_QUIC = 2,
	L2S_DISC_T_UTCP = 3,
};

struct l2s_disc_addr {
	uint8_t family; /* L2S_DISC_AF_INET or L2S_DISC_AF_INET6 */
	uint16_t port;
	uint8_t ip[16]; /* 4 bytes used for IPv4 */
};

struct l2s_disc_transport {
	uint8_t kind;  /* != 0 */
	uint16_t port; /* != 0 */
};

struct l2s_disc_probe {
	const uint8_t *nonce; /* 32 */
	const uint8_t *token; /* 32, or NULL */
	size_t len;           /* total, padding included: 256..1200 */
};
int l2s_decode_disc_probe(const uint8_t *msg, size_t len, struct l2s_disc_probe *out);
int l2s_encode_disc_probe(uint8_t *out, size_t cap, const struct l2s_disc_probe *in, size_t *len);

struct l2s_disc_answer {
	const uint8_t *identity_pk; /* 32 */
	struct l2s_disc_addr observed;
	struct l2s_disc_transport transports[L2S_DISC_MAX_TRANSPORTS];
	size_t n_transports;
	const uint8_t *token;     /* 32, or NULL: exactly one of token, bundle */
	const uint8_t *bundle;    /* L2S_PREKEY_BUNDLE_BYTES, or NULL */
	const uint8_t *signature; /* 64; NULL on encode writes zeros */
	size_t sig_off;           /* decode: the signed prefix is [0, sig_off) */
};
int l2s_decode_disc_answer(const uint8_t *msg, size_t len, struct l2s_disc_answer *out);
int l2s_encode_disc_answer(uint8_t *out, size_t cap, const struct l2s_disc_answer *in, size_t *len);

/* The address bytes tokens and rate limits are keyed on: family, port, IP. */
size_t l2s_disc_addr_bytes(uint8_t out[19], const struct l2s_disc_addr *a);

/* Writes a probe of max(pad_to, minimum) bytes with a fresh nonce (rng draws
 * 32 bytes, also copied to nonce_out for l2s_discovery_verify) and the
 * token when one is given. L2S_ERR_LENGTH when cap is short or pad_to is
 * above the maximum. */
int l2s_discovery_probe_make(uint8_t *out, size_t cap, size_t *len, size_t pad_to,
			     uint8_t nonce_out[L2S_DISC_NONCE_BYTES], struct l2s_rng *rng,
			     const uint8_t token[L2S_DISC_TOKEN_BYTES]);

/* What a responder offers. */
struct l2s_disc_responder {
	const struct l2s_identity *self;
	const uint8_t *bundle; /* our signed bundle (1321 B); NULL: never sent */
	const struct l2s_disc_transport *transports;
	size_t n_transports;
	const struct l2s_cookie_secrets *secrets; /* a sibling of the cookie secrets */
	struct l2s_ratelimit *rl;                 /* per-source answers */
};

/* Answers the probe from `from`. L2S_ERR_DECODE (malformed probe: drop),
 * L2S_ERR_BUSY (over the source's rate: drop), L2S_ERR_LENGTH (cap short,
 * or an unproven answer would exceed 3x the probe: drop). With a valid
 * token the answer holds the bundle, else a fresh token. */
int l2s_discovery_answer(uint8_t *out, size_t cap, size_t *len, const struct l2s_disc_responder *r,
			 const struct l2s_disc_addr *from, const uint8_t *probe, size_t probe_len,
			 uint64_t now_ms);

/* In-band (PROTOCOL.md §11.3): the probe came as a message on a QUIC or
 * μTCP connection, whose handshake already proved the prober's address, so
 * the answer carries the bundle (when r->bundle is set) without a token and
 * without the 3x rule. Same errors otherwise, the rate limit included. */
int l2s_discovery_answer_inband(uint8_t *out, size_t cap, size_t *len, const struct l2s_disc_responder *r,
				const struct l2s_disc_addr *from, const uint8_t *probe, size_t probe_len,
				uint64_t now_ms);

struct l2s_disc_result {
	struct l2s_disc_addr observed;
	struct l2s_disc_transport transports[L2S_DISC_MAX_TRANSPORTS];
	size_t n_transports;
	int has_token, has_bundle;
	uint8_t token[L2S_DISC_TOKEN_BYTES];
	struct l2s_bundle bundle; /* points into the answer */
};

/* Prober side: L2S_ERR_DECODE, L2S_ERR_AUTH (another identity, another
 * nonce, a bad signature, or a bundle that fails l2s_bundle_open),
 * L2S_ERR_EXPIRED (the bundle is past not_after at now_s). */
int l2s_discovery_verify(const uint8_t *answer, size_t len, const uint8_t nonce[L2S_DISC_NONCE_BYTES],
			 const uint8_t expected_pk[L2S_ED25519_PK_BYTES], uint64_t now_s,
			 struct l2s_disc_result *res);

/* token = BLAKE3-keyed(secret, domain || address bytes); valid while the
 * secret is current or previous (120-240 s). */
void l2s_disc_token_compute(uint8_t token[L2S_DISC_TOKEN_BYTES], const uint8_t secret[32],
			    const struct l2s_disc_addr *a);
int l2s_disc_token_check(const struct l2s_cookie_secrets *s, const struct l2s_disc_addr *a,
			 const uint8_t token[L2S_DISC_TOKEN_BYTES]);

#endif /* L2S_DISCOVERY_H */
