/* SPDX-License-Identifier: Apache-2.0 */
/* X-Wing with the secret key expanded once.
 *
 * l2s_xwing_decaps() re-derives the ML-KEM and X25519 keys from the 32-byte
 * seed on every call (a SHAKE256 and an ML-KEM key generation). Prekeys are
 * used for many handshakes and a handshake ephemeral is used for one encaps
 * plus one decaps, so both keep the expanded form (~2.5 KB) instead. The
 * results are identical to the seed-based public functions in l2s.h.
 */
#ifndef L2S_XWING_H
#define L2S_XWING_H

#include <stdint.h>

#include "l2s.h"

/* The FIPS 203 decapsulation key embeds ek: dk = dk_pke || ek || H(ek) || z. */
#define L2S_MLKEM768_DK_EK_OFF 1152

struct l2s_xwing_secret {
	uint8_t dk_m[L2S_MLKEM768_DK_BYTES]; /* ML-KEM-768 decapsulation key */
	uint8_t sk_x[L2S_X25519_BYTES];      /* X25519 secret */
	uint8_t pk_x[L2S_X25519_BYTES];      /* X25519 public key */
};

/* GenerateKeyPairDerand: expands seed into secret (L2S_OK or an error from
 * ML-KEM key generation; secret is wiped on failure). */
int l2s_xwing_expand(struct l2s_xwing_secret *secret, const uint8_t seed[L2S_XWING_SK_BYTES]);
/* The X-Wing public key (ML-KEM ek || X25519 pk) of an expanded secret. */
void l2s_xwing_public(uint8_t pk[L2S_XWING_PK_BYTES], const struct l2s_xwing_secret *secret);
/* Same result as l2s_xwing_decaps() with the seed the secret came from. */
int l2s_xwing_decaps_expanded(uint8_t ss[L2S_XWING_SS_BYTES], const uint8_t ct[L2S_XWING_CT_BYTES],
			      const struct l2s_xwing_secret *secret);
void l2s_xwing_secret_wipe(struct l2s_xwing_secret *secret);

#endif /* L2S_XWING_H */
