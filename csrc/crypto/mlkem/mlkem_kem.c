/* SPDX-License-Identifier: Apache-2.0
 *
 * mlkem_kem.c - ML-KEM-768 (FIPS 203 Algorithms 16 to 18) and the input
 * checks of §7.2 and §7.3: the "fips203" provider behind l2s.h's ML-KEM API.
 */
#include <string.h>

#include "l2s.h"
#include "crypto/ct.h"
#include "crypto/fips202.h"
#include "crypto/mlkem/mlkem.h"

_Static_assert(MLKEM_EK_BYTES == 1184 && MLKEM_DK_BYTES == 2400 && MLKEM_CT_BYTES == 1088,
	       "ML-KEM-768 sizes");

/* Reading through a volatile hides a mask's origin from the optimizer, so
 * it cannot turn the masked selection below back into a branch. */
static uint8_t value_barrier(uint8_t x)
{
	volatile uint8_t v = x;

	return v;
}

/* 1 when a and b differ, else 0, in time independent of the contents. */
static uint8_t ct_differ(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= (uint8_t)(a[i] ^ b[i]);
	return (uint8_t)((0u - (uint32_t)acc) >> 31);
}

/* dst = src when take is 1, unchanged when 0, without branching. */
static void ct_select(uint8_t *dst, const uint8_t *src, size_t len, uint8_t take)
{
	uint8_t mask = value_barrier((uint8_t)(0u - take));

	for (size_t i = 0; i < len; i++)
		dst[i] ^= (uint8_t)(mask & (dst[i] ^ src[i]));
}

int l2s_fips203_keygen(uint8_t ek[1184], uint8_t dk[2400], const uint8_t d[32], const uint8_t z[32])
{
	mlkem_kpke_keygen(ek, dk, d);
	/* ek is the public key: from here on it (and so its copy and hash in
	 * dk, which the §7.3 check branches on) may be treated as public. */
	l2s_declassify(ek, MLKEM_EK_BYTES);
	memcpy(dk + MLKEM_DK_EK_OFFSET, ek, MLKEM_EK_BYTES);
	l2s_sha3_256(dk + MLKEM_DK_H_OFFSET, ek, MLKEM_EK_BYTES);
	memcpy(dk + MLKEM_DK_Z_OFFSET, z, MLKEM_SYM_BYTES);
	return L2S_OK;
}

int l2s_fips203_encaps(uint8_t ct[1088], uint8_t ss[32], const uint8_t ek[1184], const uint8_t m[32])
{
	uint8_t m_h[2 * MLKEM_SYM_BYTES], k_r[2 * MLKEM_SYM_BYTES];

	/* (K, r) = G(m || H(ek)) */
	memcpy(m_h, m, MLKEM_SYM_BYTES);
	l2s_sha3_256(m_h + MLKEM_SYM_BYTES, ek, MLKEM_EK_BYTES);
	l2s_sha3_512(k_r, m_h, sizeof(m_h));

	mlkem_kpke_encrypt(ct, ek, m, k_r + MLKEM_SYM_BYTES);
	memcpy(ss, k_r, MLKEM_SYM_BYTES);

	l2s_wipe(m_h, sizeof(m_h));
	l2s_wipe(k_r, sizeof(k_r));
	return L2S_OK;
}

/* Decapsulation with implicit rejection: a ciphertext that does not
 * re-encrypt to itself yields J(z || c), and nothing reveals which case. */
int l2s_fips203_decaps(uint8_t ss[32], const uint8_t ct[1088], const uint8_t dk[2400])
{
	const uint8_t *ek = dk + MLKEM_DK_EK_OFFSET;
	const uint8_t *h = dk + MLKEM_DK_H_OFFSET;
	const uint8_t *z = dk + MLKEM_DK_Z_OFFSET;
	uint8_t m_h[2 * MLKEM_SYM_BYTES], k_r[2 * MLKEM_SYM_BYTES], k_bar[MLKEM_SYM_BYTES];
	uint8_t ct2[MLKEM_CT_BYTES];
	struct l2s_keccak_state st;

	mlkem_kpke_decrypt(m_h, dk, ct);
	memcpy(m_h + MLKEM_SYM_BYTES, h, MLKEM_SYM_BYTES);
	l2s_sha3_512(k_r, m_h, sizeof(m_h));

	/* K_bar = J(z || c) = SHAKE256(z || c, 32) */
	l2s_shake256_init(&st);
	l2s_shake256_absorb(&st, z, MLKEM_SYM_BYTES);
	l2s_shake256_absorb(&st, ct, MLKEM_CT_BYTES);
	l2s_shake256_finalize(&st);
	l2s_shake256_squeeze(&st, k_bar, sizeof(k_bar));

	mlkem_kpke_encrypt(ct2, ek, m_h, k_r + MLKEM_SYM_BYTES);
	memcpy(ss, k_r, MLKEM_SYM_BYTES);
	ct_select(ss, k_bar, MLKEM_SYM_BYTES, ct_differ(ct, ct2, MLKEM_CT_BYTES));

	l2s_wipe(m_h, sizeof(m_h));
	l2s_wipe(k_r, sizeof(k_r));
	l2s_wipe(k_bar, sizeof(k_bar));
	l2s_wipe(ct2, sizeof(ct2));
	l2s_keccak_wipe(&st);
	return L2S_OK;
}

/* §7.2: ek_pke must re-encode to itself, i.e. every coefficient is < q. */
int l2s_fips203_check_ek(const uint8_t ek[1184])
{
	if (mlkem_decode12_out_of_range(ek, MLKEM_POLYVEC_BYTES))
		return L2S_ERR_INVALID_KEY;
	return L2S_OK;
}

/* §7.3: the stored H(ek) must match the stored ek. Both are public, but the
 * comparison is constant time anyway; it costs nothing here. */
int l2s_fips203_check_dk(const uint8_t dk[2400])
{
	uint8_t h[MLKEM_SYM_BYTES];

	l2s_sha3_256(h, dk + MLKEM_DK_EK_OFFSET, MLKEM_EK_BYTES);
	if (ct_differ(h, dk + MLKEM_DK_H_OFFSET, MLKEM_SYM_BYTES))
		return L2S_ERR_INVALID_KEY;
	return L2S_OK;
}
