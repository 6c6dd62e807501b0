/* SPDX-License-Identifier: Apache-2.0 */
/* The key schedule of docs/PROTOCOL.md: one function per derived value.
 *
 * Every derivation is BLAKE3 derive_key with the context string
 * "l2sess/1 2026-11 " + suffix (§9) over the concatenation of its inputs in
 * the order the protocol names them; MAC(k, x) is BLAKE3 keyed_hash
 * truncated to 16 bytes; H(x) is BLAKE3 with a 32-byte output. Inputs are
 * absorbed part by part, so no secret is ever copied into a scratch buffer.
 */
#ifndef L2S_KDF_H
#define L2S_KDF_H

#include <stddef.h>
#include <stdint.h>

#include "l2s.h"

#define L2S_CONTEXT_PREFIX "l2sess/1 2026-11 "
#define L2S_KEY_BYTES 32
#define L2S_HASH_BYTES 32
#define L2S_MAC_TAG_BYTES 16
#define L2S_BINDING_BYTES 32

enum l2s_role {
	L2S_ROLE_RESPONDER = 0,
	L2S_ROLE_INITIATOR = 1,
};

/* Everything a session needs from one chaining key (§4.2), seen from one
 * side: send/recv are already swapped for the responder. */
struct l2s_session_keys {
	uint8_t send[L2S_KEY_BYTES];
	uint8_t recv[L2S_KEY_BYTES];
	uint8_t session_id[L2S_SESSION_ID_BYTES];
	uint8_t rs[L2S_KEY_BYTES]; /* resumption secret */
	uint8_t rc[L2S_KEY_BYTES]; /* rotation chain */
};

/* A piece of input for the multi-part hash and KDF helpers. */
struct l2s_part {
	const void *p;
	size_t n;
};

/* KDF(prefix + suffix, parts[0] || parts[1] || ..., out_len). */
void l2s_kdf(uint8_t *out, size_t out_len, const char *suffix, const struct l2s_part *parts, size_t count);
/* H(parts[0] || parts[1] || ...), 32 bytes. */
void l2s_hash_parts(uint8_t out[L2S_HASH_BYTES], const struct l2s_part *parts, size_t count);
/* MAC(key, x): BLAKE3 keyed_hash truncated to 16 bytes. */
void l2s_mac(uint8_t out[L2S_MAC_TAG_BYTES], const uint8_t key[L2S_KEY_BYTES], const uint8_t *x, size_t len);

/* ---- the full handshake (§4) ---- */
void l2s_kdf_transcript(uint8_t h0[L2S_HASH_BYTES], const uint8_t r_pk[L2S_ED25519_PK_BYTES],
			const uint8_t prekey_pk[L2S_XWING_PK_BYTES], const uint8_t binding[L2S_BINDING_BYTES]);
void l2s_kdf_init_key(uint8_t k[L2S_KEY_BYTES], const uint8_t ss1[L2S_XWING_SS_BYTES],
		      const uint8_t h_init[L2S_HASH_BYTES]);
void l2s_kdf_chaining_key(uint8_t ck[L2S_KEY_BYTES], const uint8_t ss1[L2S_XWING_SS_BYTES],
			  const uint8_t ss2[L2S_XWING_SS_BYTES], const uint8_t h_resp[L2S_HASH_BYTES]);
void l2s_kdf_resp_key(uint8_t k[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES]);
void l2s_kdf_initiator_to_responder(uint8_t k[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES]);
void l2s_kdf_responder_to_initiator(uint8_t k[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES]);
void l2s_kdf_session_id(uint8_t id[L2S_SESSION_ID_BYTES], const uint8_t ck[L2S_KEY_BYTES]);
void l2s_kdf_resumption(uint8_t rs[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES]);
void l2s_kdf_rotation_chain(uint8_t rc[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES]);

/* Fills all of keys from ck for the given enum l2s_role. */
void l2s_session_keys_derive(struct l2s_session_keys *keys, const uint8_t ck[L2S_KEY_BYTES], int role);
void l2s_session_keys_wipe(struct l2s_session_keys *keys);

/* ---- rotation (§6) ---- */
/* ck' = KDF("rotation", rc || ss || th), th = H(ROTATE_INIT || ROTATE_RESP). */
void l2s_kdf_rotation(uint8_t ck[L2S_KEY_BYTES], const uint8_t rc[L2S_KEY_BYTES],
		      const uint8_t ss[L2S_XWING_SS_BYTES], const uint8_t th[L2S_HASH_BYTES]);

/* ---- DoS protection (§4.3, §4.4) ---- */
void l2s_kdf_mac1_key(uint8_t k[L2S_KEY_BYTES], const uint8_t pk[L2S_ED25519_PK_BYTES]);
void l2s_kdf_cookie_key(uint8_t k[L2S_KEY_BYTES], const uint8_t r_pk[L2S_ED25519_PK_BYTES]);

/* ---- resumption (§8) ---- */
/* The binder key KDF("resume binder", rs || binding): only a RESUME_INIT made
 * for this transport connection verifies. */
void l2s_kdf_resume_binder(uint8_t k[L2S_KEY_BYTES], const uint8_t rs[L2S_KEY_BYTES],
			   const uint8_t binding[L2S_BINDING_BYTES]);
void l2s_kdf_resume_confirm(uint8_t k[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES]);
/* ck' = KDF("resumption keys", rs || dh || th); dh is NULL without X25519. */
void l2s_kdf_resumption_keys(uint8_t ck[L2S_KEY_BYTES], const uint8_t rs[L2S_KEY_BYTES],
			     const uint8_t *dh, const uint8_t th[L2S_HASH_BYTES]);
/* A ticket-encryption key (stek) from a random per-key seed. */
void l2s_kdf_ticket_key(uint8_t k[L2S_KEY_BYTES], const uint8_t seed[L2S_KEY_BYTES]);

/* ---- StoredSession (§10) ---- */
void l2s_kdf_stored_session(uint8_t k[L2S_KEY_BYTES], const uint8_t storage_key[L2S_KEY_BYTES]);

#endif /* L2S_KDF_H */
