/* SPDX-License-Identifier: Apache-2.0 */
/* mac1, mac2 and cookies (PROTOCOL.md §4.3, §4.4).
 *
 * mac1 = MAC(KDF("mac1", receiver identity), message prefix) lets a node
 * drop untargeted junk with one BLAKE3 call. Under load (or past an
 * address's token bucket, ratelimit.h) the responder accepts a
 * HANDSHAKE_INIT only with a valid mac2 = MAC(cookie, prefix), where
 * cookie = BLAKE3-keyed(cookie_secret, source address); otherwise it answers
 * a COOKIE_REPLY and keeps no state. The cookie secret is random, replaced
 * every 120 s; the previous one is still accepted.
 */
#ifndef L2S_COOKIE_H
#define L2S_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#include "handshake/identity.h"
#include "l2s.h"
#include "crypto/rng.h"
#include "wire/wire.h"

#define L2S_COOKIE_SECRET_LIFETIME_MS 120000u

/* Writes MAC(key, msg[0..off)) at msg + off. */
void l2s_mac_put(uint8_t *msg, size_t off, const uint8_t key[L2S_BLAKE3_KEY_BYTES]);
/* L2S_OK when msg[off..off+16) == MAC(key, msg[0..off)), else L2S_ERR_AUTH.
 * Constant time. The caller guarantees off + 16 <= the message length. */
int l2s_mac_check(const uint8_t *msg, size_t off, const uint8_t key[L2S_BLAKE3_KEY_BYTES]);

/* Where mac1 sits in a HANDSHAKE_INIT/RESP or RESUME_INIT/RESP, from the
 * header and the length alone; L2S_ERR_DECODE for other messages. */
int l2s_mac1_offset(const uint8_t *msg, size_t len, size_t *off);
/* The first check on every received handshake-family message: key is our
 * identity's mac1_key. L2S_ERR_DECODE or L2S_ERR_AUTH; one BLAKE3 call. */
int l2s_mac1_verify(const uint8_t key[L2S_BLAKE3_KEY_BYTES], const uint8_t *msg, size_t len);

struct l2s_cookie_secrets {
	uint8_t current[32];
	uint8_t previous[32];
	uint64_t changed_ms;  /* when current was made */
	int have_previous;
};

void l2s_cookie_secrets_init(struct l2s_cookie_secrets *s, struct l2s_rng *rng, uint64_t now_ms);
/* Replaces the secret when 120 s have passed (call from the node's tick);
 * after 240 s without a call both old secrets are gone. Draws 32 rng bytes
 * per replacement. */
void l2s_cookie_secrets_update(struct l2s_cookie_secrets *s, struct l2s_rng *rng, uint64_t now_ms);
/* When l2s_cookie_secrets_update() next has work to do. */
uint64_t l2s_cookie_secrets_deadline(const struct l2s_cookie_secrets *s);
void l2s_cookie_secrets_wipe(struct l2s_cookie_secrets *s);

/* cookie = BLAKE3-keyed(secret, addr). L2S_ERR_LENGTH when addr_len is 0 or
 * above L2S_MAX_ADDR_BYTES. */
int l2s_cookie_compute(uint8_t cookie[L2S_COOKIE_BYTES], const uint8_t secret[32], const uint8_t *addr,
		       size_t addr_len);
/* Checks mac2 of a HANDSHAKE_INIT from addr against the current and the
 * previous secret: L2S_OK, L2S_ERR_AUTH (absent or wrong), L2S_ERR_DECODE,
 * L2S_ERR_LENGTH (addr). */
int l2s_cookie_check_mac2(const struct l2s_cookie_secrets *s, const uint8_t *addr, size_t addr_len,
			  const uint8_t *msg, size_t len);

/* Answers the HANDSHAKE_INIT request (whose mac1 the caller has verified)
 * from addr with a COOKIE_REPLY (68 bytes): receiver_index = its
 * sender_index, cookie sealed under self->cookie_key with AD = its mac1.
 * rng draws: 12 bytes (nonce). */
int l2s_cookie_reply_create(uint8_t out[L2S_COOKIE_REPLY_BYTES], const struct l2s_identity *self,
			    const struct l2s_cookie_secrets *s, const uint8_t *request, size_t request_len,
			    const uint8_t *addr, size_t addr_len, struct l2s_rng *rng);
/* Initiator side: opens a COOKIE_REPLY from r_pk to the request with
 * sender_index and mac1. L2S_ERR_DECODE, L2S_ERR_NOT_FOUND (another
 * receiver_index), L2S_ERR_AUTH (tag). */
int l2s_cookie_reply_consume(uint8_t cookie[L2S_COOKIE_BYTES], const uint8_t r_pk[L2S_ED25519_PK_BYTES],
			     uint32_t sender_index, const uint8_t mac1[L2S_MAC_BYTES], const uint8_t *msg,
			     size_t len);
/* The same for a caller that has decoded the reply (m). */
int l2s_cookie_reply_open(uint8_t cookie[L2S_COOKIE_BYTES], const uint8_t r_pk[L2S_ED25519_PK_BYTES],
			  uint32_t sender_index, const uint8_t mac1[L2S_MAC_BYTES], const struct l2s_cookie_reply *m);

#endif /* L2S_COOKIE_H */
