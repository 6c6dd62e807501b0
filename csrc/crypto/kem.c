// SPDX-License-Identifier: Apache-2.0
/* Public ML-KEM-768 entry points: the FIPS 203 input checks, randomness, and
 * a call into whichever provider the build selected. The checks always run on
 * the project's own code so every provider gets the same input validation. */
#include "crypto/kem.h"
#include "crypto/mlkem/mlkem.h"

#ifdef L2S_HAVE_LIBOQS
#define PROVIDER (&l2s_mlkem_liboqs_provider)
#else
#define PROVIDER (&l2s_mlkem_fips203_provider)
#endif

const struct l2s_mlkem_provider l2s_mlkem_fips203_provider = {
	.name = "l2sess-fips203",
	.keygen = l2s_fips203_keygen,
	.encaps = l2s_fips203_encaps,
	.decaps = l2s_fips203_decaps,
};

const char *l2s_mlkem_provider(void)
{
	return PROVIDER->name;
}

int l2s_mlkem768_check_ek(const uint8_t ek[L2S_MLKEM768_EK_BYTES])
{
	return l2s_fips203_check_ek(ek);
}

int l2s_mlkem768_check_dk(const uint8_t dk[L2S_MLKEM768_DK_BYTES])
{
	return l2s_fips203_check_dk(dk);
}

int l2s_mlkem768_keygen_derand(uint8_t ek[L2S_MLKEM768_EK_BYTES], uint8_t dk[L2S_MLKEM768_DK_BYTES],
			       const uint8_t d[L2S_MLKEM_SEED_BYTES], const uint8_t z[L2S_MLKEM_SEED_BYTES])
{
	return PROVIDER->keygen(ek, dk, d, z);
}

int l2s_mlkem768_keygen(uint8_t ek[L2S_MLKEM768_EK_BYTES], uint8_t dk[L2S_MLKEM768_DK_BYTES])
{
	uint8_t dz[2 * L2S_MLKEM_SEED_BYTES];
	int ret;

	l2s_random(dz, sizeof(dz));
	ret = l2s_mlkem768_keygen_derand(ek, dk, dz, dz + L2S_MLKEM_SEED_BYTES);
	l2s_wipe(dz, sizeof(dz));
	return ret;
}

int l2s_mlkem768_encaps_derand(uint8_t ct[L2S_MLKEM768_CT_BYTES], uint8_t ss[L2S_MLKEM_SS_BYTES],
			       const uint8_t ek[L2S_MLKEM768_EK_BYTES], const uint8_t m[L2S_MLKEM_SEED_BYTES])
{
	int ret = l2s_fips203_check_ek(ek);

	return ret ? ret : PROVIDER->encaps(ct, ss, ek, m);
}

int l2s_mlkem768_encaps(uint8_t ct[L2S_MLKEM768_CT_BYTES], uint8_t ss[L2S_MLKEM_SS_BYTES],
			const uint8_t ek[L2S_MLKEM768_EK_BYTES])
{
	uint8_t m[L2S_MLKEM_SEED_BYTES];
	int ret;

	l2s_random(m, sizeof(m));
	ret = l2s_mlkem768_encaps_derand(ct, ss, ek, m);
	l2s_wipe(m, sizeof(m));
	return ret;
}

int l2s_mlkem768_decaps(uint8_t ss[L2S_MLKEM_SS_BYTES], const uint8_t ct[L2S_MLKEM768_CT_BYTES],
			const uint8_t dk[L2S_MLKEM768_DK_BYTES])
{
	int ret = l2s_fips203_check_dk(dk);

	return ret ? ret : PROVIDER->decaps(ss, ct, dk);
}
