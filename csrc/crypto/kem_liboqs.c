// SPDX-License-Identifier: Apache-2.0
/* The liboqs ML-KEM-768 provider, compiled only when the build links liboqs
 * (cmake/liboqs.cmake). liboqs 0.14 and later (mlkem-native) check ek and dk
 * themselves (FIPS 203 §7.2, §7.3), so kem.c does not check them twice. */
#include <oqs/oqs.h>
#include <string.h>

#include "crypto/ct.h"
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
	/* As the own keygen does: ek is the public key, and so are its copy
	 * and hash inside dk, which the §7.3 check branches on. */
	l2s_declassify(ek, L2S_MLKEM768_EK_BYTES);
	l2s_declassify(dk + MLKEM_DK_EK_OFFSET, MLKEM_EK_BYTES + MLKEM_SYM_BYTES);
	return st == OQS_SUCCESS ? L2S_OK : L2S_ERR_INTERNAL;
}

/* The deterministic functions fail only on a key that fails its check. */
static int liboqs_encaps(uint8_t ct[L2S_MLKEM768_CT_BYTES], uint8_t ss[L2S_MLKEM_SS_BYTES],
			 const uint8_t ek[L2S_MLKEM768_EK_BYTES], const uint8_t m[L2S_MLKEM_SEED_BYTES])
{
	return OQS_KEM_ml_kem_768_encaps_derand(ct, ss, ek, m) == OQS_SUCCESS ? L2S_OK : L2S_ERR_INVALID_KEY;
}

static int liboqs_decaps(uint8_t ss[L2S_MLKEM_SS_BYTES], const uint8_t ct[L2S_MLKEM768_CT_BYTES],
			 const uint8_t dk[L2S_MLKEM768_DK_BYTES])
{
	return OQS_KEM_ml_kem_768_decaps(ss, ct, dk) == OQS_SUCCESS ? L2S_OK : L2S_ERR_INVALID_KEY;
}

/* The same calls under two names: liboqs picks its code path itself, on
 * the test below, and the name says which one runs. */
#define LIBOQS_PROVIDER(path)                                   \
	{                                                       \
		.name = "liboqs " OQS_VERSION_TEXT " (" path ")", \
		.checks_keys = 1,                               \
		.keygen = liboqs_keygen,                        \
		.encaps = liboqs_encaps,                        \
		.decaps = liboqs_decaps,                        \
	}

static const struct l2s_mlkem_provider liboqs_simd = LIBOQS_PROVIDER("x86-64 AVX2");
static const struct l2s_mlkem_provider liboqs_portable = LIBOQS_PROVIDER("portable C");

/* Whether liboqs runs its x86-64 AVX2 code: built in, and the CPU has what
 * liboqs itself tests for before using it. Only that path is faster than
 * the own code (2-3x); liboqs's portable C is slower (about 1.5x). */
static int simd_runs(void)
{
#if defined(OQS_ENABLE_KEM_ml_kem_768_x86_64)
	return OQS_CPU_has_extension(OQS_CPU_EXT_AVX2) && OQS_CPU_has_extension(OQS_CPU_EXT_BMI2) &&
	       OQS_CPU_has_extension(OQS_CPU_EXT_POPCNT);
#else
	return 0;
#endif
}

const struct l2s_mlkem_provider *l2s_mlkem_liboqs_start(void)
{
	int simd;

	OQS_init();
	simd = simd_runs();
#ifdef L2S_LIBOQS_FORCED
	return simd ? &liboqs_simd : &liboqs_portable;
#else
	return simd ? &liboqs_simd : NULL;
#endif
}
