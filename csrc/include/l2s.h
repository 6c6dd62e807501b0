/* SPDX-License-Identifier: Apache-2.0
 *
 * l2s.h - the one public header of the l2sess C core.
 *
 * Conventions:
 *   - every function that can fail returns an int: L2S_OK (0) or a negative
 *     enum l2s_err value; outputs are written only on success unless noted;
 *   - buffers are (pointer, length) where the length is not fixed by the type;
 *   - no function keeps hidden global state except libsodium's one-time init.
 */
#ifndef L2S_H
#define L2S_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum l2s_err {
	L2S_OK = 0,
	L2S_ERR_LENGTH = -1,      /* a buffer has the wrong length */
	L2S_ERR_INVALID_KEY = -2, /* key fails its validity check */
	L2S_ERR_AUTH = -3,        /* AEAD tag or signature did not verify */
	L2S_ERR_INIT = -4,        /* the crypto library could not start */
	L2S_ERR_INTERNAL = -5,    /* should not happen; a bug */
};

/* A stable, human-readable name for an enum l2s_err value. */
const char *l2s_strerror(int err);

/* Must be called once before any other function; safe to call again. */
int l2s_init(void);

/* ---- randomness and wiping (libsodium) ---------------------------------- */
void l2s_random(uint8_t *out, size_t len);
/* Zeroes memory in a way the compiler may not elide. */
void l2s_wipe(void *p, size_t len);

/* ---- X25519 (RFC 7748, libsodium) --------------------------------------- */
#define L2S_X25519_BYTES 32
int l2s_x25519_keypair(uint8_t pk[L2S_X25519_BYTES], uint8_t sk[L2S_X25519_BYTES]);
int l2s_x25519_base(uint8_t pk[L2S_X25519_BYTES], const uint8_t sk[L2S_X25519_BYTES]);
/* L2S_ERR_INVALID_KEY when the result is all zero (a small-order peer key). */
int l2s_x25519(uint8_t out[L2S_X25519_BYTES], const uint8_t sk[L2S_X25519_BYTES],
	       const uint8_t pk[L2S_X25519_BYTES]);

/* ---- Ed25519 (RFC 8032, libsodium) -------------------------------------- */
#define L2S_ED25519_PK_BYTES 32
#define L2S_ED25519_SEED_BYTES 32
#define L2S_ED25519_SK_BYTES 64 /* seed || public key */
#define L2S_ED25519_SIG_BYTES 64
int l2s_ed25519_keypair(uint8_t pk[L2S_ED25519_PK_BYTES], uint8_t sk[L2S_ED25519_SK_BYTES]);
int l2s_ed25519_seed_keypair(uint8_t pk[L2S_ED25519_PK_BYTES], uint8_t sk[L2S_ED25519_SK_BYTES],
			     const uint8_t seed[L2S_ED25519_SEED_BYTES]);
int l2s_ed25519_sign(uint8_t sig[L2S_ED25519_SIG_BYTES], const uint8_t *msg, size_t msg_len,
		     const uint8_t sk[L2S_ED25519_SK_BYTES]);
/* L2S_OK or L2S_ERR_AUTH. */
int l2s_ed25519_verify(const uint8_t sig[L2S_ED25519_SIG_BYTES], const uint8_t *msg, size_t msg_len,
		       const uint8_t pk[L2S_ED25519_PK_BYTES]);

/* ---- ChaCha20-Poly1305 IETF (RFC 8439, libsodium) ----------------------- */
#define L2S_AEAD_KEY_BYTES 32
#define L2S_AEAD_NONCE_BYTES 12
#define L2S_AEAD_TAG_BYTES 16
/* out receives pt_len + L2S_AEAD_TAG_BYTES bytes (ciphertext || tag). */
int l2s_aead_encrypt(uint8_t *out, const uint8_t *pt, size_t pt_len, const uint8_t *ad, size_t ad_len,
		     const uint8_t nonce[L2S_AEAD_NONCE_BYTES], const uint8_t key[L2S_AEAD_KEY_BYTES]);
/* out receives ct_len - L2S_AEAD_TAG_BYTES bytes; L2S_ERR_AUTH on a bad tag,
 * in which case out is zeroed. */
int l2s_aead_decrypt(uint8_t *out, const uint8_t *ct, size_t ct_len, const uint8_t *ad, size_t ad_len,
		     const uint8_t nonce[L2S_AEAD_NONCE_BYTES], const uint8_t key[L2S_AEAD_KEY_BYTES]);

/* ---- BLAKE3 (official C sources, runtime SIMD dispatch) ----------------- */
#define L2S_BLAKE3_KEY_BYTES 32
#define L2S_BLAKE3_OUT_BYTES 32
/* Any output length (extendable output). */
void l2s_blake3(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len);
void l2s_blake3_keyed(uint8_t *out, size_t out_len, const uint8_t key[L2S_BLAKE3_KEY_BYTES],
		      const uint8_t *in, size_t in_len);
void l2s_blake3_derive_key(uint8_t *out, size_t out_len, const char *context, size_t context_len,
			   const uint8_t *material, size_t material_len);
/* Name of the SIMD back end BLAKE3 picks on this CPU ("avx512", "neon", ...). */
const char *l2s_blake3_backend(void);

/* ---- ML-KEM-768 (FIPS 203) behind a provider interface ------------------ */
#define L2S_MLKEM768_EK_BYTES 1184
#define L2S_MLKEM768_DK_BYTES 2400
#define L2S_MLKEM768_CT_BYTES 1088
#define L2S_MLKEM_SS_BYTES 32
#define L2S_MLKEM_SEED_BYTES 32 /* each of d, z and m */

/* "l2sess-fips203" (the project's own code) or "liboqs". */
const char *l2s_mlkem_provider(void);
int l2s_mlkem768_keygen(uint8_t ek[L2S_MLKEM768_EK_BYTES], uint8_t dk[L2S_MLKEM768_DK_BYTES]);
/* FIPS 203 ML-KEM.KeyGen_internal(d, z). */
int l2s_mlkem768_keygen_derand(uint8_t ek[L2S_MLKEM768_EK_BYTES], uint8_t dk[L2S_MLKEM768_DK_BYTES],
			       const uint8_t d[L2S_MLKEM_SEED_BYTES], const uint8_t z[L2S_MLKEM_SEED_BYTES]);
/* L2S_ERR_INVALID_KEY when ek fails the FIPS 203 §7.2 modulus check. */
int l2s_mlkem768_encaps(uint8_t ct[L2S_MLKEM768_CT_BYTES], uint8_t ss[L2S_MLKEM_SS_BYTES],
			const uint8_t ek[L2S_MLKEM768_EK_BYTES]);
/* FIPS 203 ML-KEM.Encaps_internal(ek, m), after the §7.2 check. */
int l2s_mlkem768_encaps_derand(uint8_t ct[L2S_MLKEM768_CT_BYTES], uint8_t ss[L2S_MLKEM_SS_BYTES],
			       const uint8_t ek[L2S_MLKEM768_EK_BYTES], const uint8_t m[L2S_MLKEM_SEED_BYTES]);
/* L2S_ERR_INVALID_KEY when dk fails the FIPS 203 §7.3 hash check. A modified
 * ciphertext is not an error: implicit rejection returns a pseudorandom ss. */
int l2s_mlkem768_decaps(uint8_t ss[L2S_MLKEM_SS_BYTES], const uint8_t ct[L2S_MLKEM768_CT_BYTES],
			const uint8_t dk[L2S_MLKEM768_DK_BYTES]);
/* The input checks alone, L2S_OK or L2S_ERR_INVALID_KEY. */
int l2s_mlkem768_check_ek(const uint8_t ek[L2S_MLKEM768_EK_BYTES]);
int l2s_mlkem768_check_dk(const uint8_t dk[L2S_MLKEM768_DK_BYTES]);

/* ---- X-Wing hybrid KEM (draft-connolly-cfrg-xwing-kem-10) --------------- */
#define L2S_XWING_PK_BYTES 1216 /* ML-KEM-768 ek || X25519 pk */
#define L2S_XWING_SK_BYTES 32   /* the seed */
#define L2S_XWING_CT_BYTES 1120 /* ML-KEM-768 ct || X25519 ephemeral pk */
#define L2S_XWING_SS_BYTES 32
#define L2S_XWING_ESEED_BYTES 64
int l2s_xwing_keygen(uint8_t pk[L2S_XWING_PK_BYTES], uint8_t sk[L2S_XWING_SK_BYTES]);
int l2s_xwing_keygen_derand(uint8_t pk[L2S_XWING_PK_BYTES], const uint8_t sk[L2S_XWING_SK_BYTES]);
int l2s_xwing_encaps(uint8_t ct[L2S_XWING_CT_BYTES], uint8_t ss[L2S_XWING_SS_BYTES],
		     const uint8_t pk[L2S_XWING_PK_BYTES]);
int l2s_xwing_encaps_derand(uint8_t ct[L2S_XWING_CT_BYTES], uint8_t ss[L2S_XWING_SS_BYTES],
			    const uint8_t pk[L2S_XWING_PK_BYTES], const uint8_t eseed[L2S_XWING_ESEED_BYTES]);
int l2s_xwing_decaps(uint8_t ss[L2S_XWING_SS_BYTES], const uint8_t ct[L2S_XWING_CT_BYTES],
		     const uint8_t sk[L2S_XWING_SK_BYTES]);

#ifdef __cplusplus
}
#endif
#endif /* L2S_H */
