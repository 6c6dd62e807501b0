// SPDX-License-Identifier: Apache-2.0
/* The liboqs ML-KEM-768 provider, compiled only when the build finds liboqs
 * (pkg-config liboqs). Input checks stay in kem.c. */
#include <oqs/oqs.h>
#include <string.h>

#include "crypto/kem.h"
#include "crypto/mlkem/mlkem.h"

static int liboqs_keygen(uint8_t ek[L2S_MLKEM768_EK_BYTES], uint8_t dk[L2S_MLKEM768_DK_BYTES],
			 const uint8_t d[L2S_MLKEM_SEED_BYTES], const uint8_t z[L2S_MLKEM_SEED_BYTES])
{
	uint8_t seed[2 * L2S_MLKEM_SEED_BYTES];
	OQS_STATUS st;

	memcpy(seed, d, L2S_MLKEM_SEED_BYTES);
	memcpy(seed + L2S_MLKEM_SEED_BYTES, z, L2S_MLKEM_SEED_BYTES);
	st = OQS_KEM_ml_kem_768_keypair_derand(ek, dk, seed);
	l2s_wipe(seed, sizeof(seed));
	return st == OQS_SUCCESS ? L2S_OK : L2S_ERR_INTERNAL;
}

static int liboqs_encaps(uint8_t ct[L2S_MLKEM768_CT_BYTES], uint8_t ss[L2S_MLKEM_SS_BYTES],
			 const uint8_t ek[L2S_MLKEM768_EK_BYTES], const uint8_t m[L2S_MLKEM_SEED_BYTES])
{
#ifdef OQS_KEM_ml_kem_768_length_encaps_seed
	return OQS_KEM_ml_kem_768_encaps_derand(ct, ss, ek, m) == OQS_SUCCESS ? L2S_OK : L2S_ERR_INTERNAL;
#else
	/* liboqs before 0.13 has no deterministic encapsulation; FIPS 203
	 * Encaps_internal is fully determined by (ek, m), so our own gives the
	 * identical result. */
	return l2s_fips203_encaps(ct, ss, ek, m);
#endif
}

static int liboqs_decaps(uint8_t ss[L2S_MLKEM_SS_BYTES], const uint8_t ct[L2S_MLKEM768_CT_BYTES],
			 const uint8_t dk[L2S_MLKEM768_DK_BYTES])
{
	return OQS_KEM_ml_kem_768_decaps(ss, ct, dk) == OQS_SUCCESS ? L2S_OK : L2S_ERR_INTERNAL;
}

const struct l2s_mlkem_provider l2s_mlkem_liboqs_provider = {
	.name = "liboqs",
	.keygen = liboqs_keygen,
	.encaps = liboqs_encaps,
	.decaps = liboqs_decaps,
};
