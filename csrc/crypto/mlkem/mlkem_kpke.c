/* SPDX-License-Identifier: Apache-2.0
 *
 * mlkem_kpke.c - K-PKE, the CPA-secure encryption under ML-KEM (FIPS 203
 * Algorithms 13 to 15).
 *
 * The matrix is never stored whole: each row is sampled, multiplied into
 * the vector (whose base-multiplication cache is computed once) and dropped.
 */
#include <string.h>

#include "l2s.h"
#include "crypto/ct.h"
#include "crypto/fips202.h"
#include "crypto/mlkem/mlkem.h"

/* Noise nonces follow FIPS 203: the first K polynomials take 0..K-1, the
 * next K take K..2K-1, the last (encryption's e2) takes 2K. */

/* v = NTT(v) for a vector of noise, with the cache products will need. */
static void sample_vec_ntt(struct mlkem_poly v[MLKEM_K], struct mlkem_mulcache vc[MLKEM_K],
			   const uint8_t seed[MLKEM_SYM_BYTES])
{
	for (unsigned int i = 0; i < MLKEM_K; i++) {
		mlkem_sample_noise(&v[i], seed, (uint8_t)i);
		mlkem_ntt(&v[i]);
		mlkem_mulcache_compute(&vc[i], &v[i]);
	}
}

void mlkem_kpke_keygen(uint8_t ek[MLKEM_EK_BYTES], uint8_t dk_pke[MLKEM_POLYVEC_BYTES],
		       const uint8_t d[MLKEM_SYM_BYTES])
{
	uint8_t in[MLKEM_SYM_BYTES + 1], rho_sigma[2 * MLKEM_SYM_BYTES];
	const uint8_t *rho = rho_sigma, *sigma = rho_sigma + MLKEM_SYM_BYTES;
	struct mlkem_poly s[MLKEM_K], a[MLKEM_K], t, e;
	struct mlkem_mulcache sc[MLKEM_K];

	/* (rho, sigma) = G(d || k): the k byte separates parameter sets. */
	memcpy(in, d, MLKEM_SYM_BYTES);
	in[MLKEM_SYM_BYTES] = MLKEM_K;
	l2s_sha3_512(rho_sigma, in, sizeof(in));
	/* rho is public (it ends ek) but derives from the secret d; matrix
	 * sampling's rejection loop depends on it, legitimately. */
	l2s_declassify(rho_sigma, MLKEM_SYM_BYTES);

	sample_vec_ntt(s, sc, sigma);
	for (unsigned int i = 0; i < MLKEM_K; i++) {
		/* t_i = sum_j A[i][j] o s_j + NTT(e_i) */
		mlkem_matrix_row(a, rho, i, 0);
		mlkem_polyvec_basemul_acc(&t, a, s, sc);
		mlkem_poly_tomont(&t);
		mlkem_sample_noise(&e, sigma, (uint8_t)(MLKEM_K + i));
		mlkem_ntt(&e);
		mlkem_poly_add(&t, &e);
		mlkem_poly_encode12(ek + i * MLKEM_POLY_BYTES, &t);
		mlkem_poly_encode12(dk_pke + i * MLKEM_POLY_BYTES, &s[i]);
	}
	memcpy(ek + MLKEM_POLYVEC_BYTES, rho, MLKEM_SYM_BYTES);

	l2s_wipe(in, sizeof(in));
	l2s_wipe(rho_sigma, sizeof(rho_sigma));
	l2s_wipe(s, sizeof(s));
	l2s_wipe(sc, sizeof(sc));
	l2s_wipe(&e, sizeof(e));
}

void mlkem_kpke_encrypt(uint8_t ct[MLKEM_CT_BYTES], const uint8_t ek[MLKEM_EK_BYTES],
			const uint8_t m[MLKEM_SYM_BYTES], const uint8_t r[MLKEM_SYM_BYTES])
{
	const uint8_t *rho = ek + MLKEM_POLYVEC_BYTES;
	struct mlkem_poly y[MLKEM_K], a[MLKEM_K], u, e;
	struct mlkem_mulcache yc[MLKEM_K];

	sample_vec_ntt(y, yc, r);

	/* u_i = NTT^-1(sum_j A^T[i][j] o y_j) + e1_i */
	for (unsigned int i = 0; i < MLKEM_K; i++) {
		mlkem_matrix_row(a, rho, i, 1);
		mlkem_polyvec_basemul_acc(&u, a, y, yc);
		mlkem_invntt(&u);
		mlkem_sample_noise(&e, r, (uint8_t)(MLKEM_K + i));
		mlkem_poly_add(&u, &e);
		mlkem_poly_compress_du(ct + i * MLKEM_POLY_DU_BYTES, &u);
	}

	/* v = NTT^-1(t o y) + e2 + Decompress_1(m); a now holds t. */
	for (unsigned int j = 0; j < MLKEM_K; j++)
		mlkem_poly_decode12(&a[j], ek + j * MLKEM_POLY_BYTES);
	mlkem_polyvec_basemul_acc(&u, a, y, yc);
	mlkem_invntt(&u);
	mlkem_sample_noise(&e, r, 2 * MLKEM_K);
	mlkem_poly_add(&u, &e);
	mlkem_poly_from_msg(&e, m);
	mlkem_poly_add(&u, &e);
	mlkem_poly_compress_dv(ct + MLKEM_K * MLKEM_POLY_DU_BYTES, &u);

	l2s_wipe(y, sizeof(y));
	l2s_wipe(yc, sizeof(yc));
	l2s_wipe(&u, sizeof(u));
	l2s_wipe(&e, sizeof(e));
}

void mlkem_kpke_decrypt(uint8_t m[MLKEM_SYM_BYTES], const uint8_t dk_pke[MLKEM_POLYVEC_BYTES],
			const uint8_t ct[MLKEM_CT_BYTES])
{
	struct mlkem_poly u[MLKEM_K], s[MLKEM_K], w, v;
	struct mlkem_mulcache uc[MLKEM_K];

	for (unsigned int i = 0; i < MLKEM_K; i++) {
		mlkem_poly_decompress_du(&u[i], ct + i * MLKEM_POLY_DU_BYTES);
		mlkem_ntt(&u[i]);
		mlkem_mulcache_compute(&uc[i], &u[i]);
		mlkem_poly_decode12(&s[i], dk_pke + i * MLKEM_POLY_BYTES);
	}
	/* w = v - NTT^-1(s o NTT(u)) */
	mlkem_polyvec_basemul_acc(&w, s, u, uc);
	mlkem_invntt(&w);
	mlkem_poly_decompress_dv(&v, ct + MLKEM_K * MLKEM_POLY_DU_BYTES);
	mlkem_poly_sub(&w, &v, &w);
	mlkem_poly_to_msg(m, &w);

	l2s_wipe(s, sizeof(s));
	l2s_wipe(&w, sizeof(w));
}
