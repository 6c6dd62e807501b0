// SPDX-License-Identifier: Apache-2.0
/* Public ML-KEM-768 entry points: the FIPS 203 input checks, randomness, and
 * a call into the provider l2s_init() selected. The checks run on the
 * project's own code unless the provider makes the same checks itself, so
 * every provider gets the same input validation, once. */
#include "crypto/kem.h"
#include "crypto/mlkem/mlkem.h"

const struct l2s_mlkem_provider l2s_mlkem_fips203_provider = {
	.name = "l2sess-fips203",
	.checks_keys = 0,
	.keygen = l2s_fips203_keygen,
	.encaps = l2s_fips203_encaps,
	.decaps = l2s_fips203_decaps,
};

/* The own code until l2s_init() has run; then the same provider for the
 * life of the process (every call of l2s_init() picks the same one). */
static const struct l2s_mlkem_provider *provider = &l2s_mlkem_fips203_provider;

int l2s_kem_start(void)
{
#ifdef L2S_HAVE_LIBOQS
	const struct l2s_mlkem_provider *p = l2s_mlkem_liboqs_start();

	if (p)
		provider = p;
#endif
	return L2S_OK;
}

const char *l2s_mlkem_provider(void)
{
	return provider->name;
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
	return provider->keygen(ek, dk, d, z);
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
	int ret = provider->checks_keys ? L2S_OK : l2s_fips203_check_ek(ek);

	return ret ? ret : provider->encaps(ct, ss, ek, m);
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
	int ret = provider->checks_keys ? L2S_OK : l2s_fips203_check_dk(dk);

	return ret ? ret : provider->decaps(ss, ct, dk);
}
