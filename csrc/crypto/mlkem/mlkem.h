/* SPDX-License-Identifier: Apache-2.0
 *
 * mlkem.h - internals of the project's ML-KEM-768 (FIPS 203, August 2024).
 *
 * Polynomials hold int16 coefficients that are only congruent mod q; each
 * function says what range it accepts and returns, and reductions happen
 * only where a bound would otherwise be exceeded (lazy reduction). The NTT
 * domain is FIPS 203's: 128 degree-1 residues in bit-reversed order.
 *
 * Constant time: nothing here branches on or indexes memory by secret data.
 * The one data-dependent loop is matrix sampling, whose input rho is public.
 */
#ifndef L2S_MLKEM_H
#define L2S_MLKEM_H

#include <stddef.h>
#include <stdint.h>

#define MLKEM_N 256
#define MLKEM_Q 3329
#define MLKEM_K 3
#define MLKEM_DU 10
#define MLKEM_DV 4
/* eta1 = eta2 = 2 for ML-KEM-768: both noise samplers are CBD_2. */

#define MLKEM_SYM_BYTES 32
#define MLKEM_POLY_BYTES 384 /* ByteEncode12 of one polynomial */
#define MLKEM_POLYVEC_BYTES (MLKEM_K * MLKEM_POLY_BYTES)
#define MLKEM_POLY_DU_BYTES (32 * MLKEM_DU)
#define MLKEM_POLY_DV_BYTES (32 * MLKEM_DV)
#define MLKEM_EK_BYTES (MLKEM_POLYVEC_BYTES + MLKEM_SYM_BYTES)
#define MLKEM_DK_BYTES (2 * MLKEM_POLYVEC_BYTES + 3 * MLKEM_SYM_BYTES)
#define MLKEM_CT_BYTES (MLKEM_K * MLKEM_POLY_DU_BYTES + MLKEM_POLY_DV_BYTES)

/* Offsets of the parts of dk = dk_pke || ek || H(ek) || z. */
#define MLKEM_DK_EK_OFFSET MLKEM_POLYVEC_BYTES
#define MLKEM_DK_H_OFFSET (MLKEM_DK_EK_OFFSET + MLKEM_EK_BYTES)
#define MLKEM_DK_Z_OFFSET (MLKEM_DK_H_OFFSET + MLKEM_SYM_BYTES)

struct mlkem_poly {
	int16_t c[MLKEM_N];
};

/* For a multiplicand used by several products: a[2i+1] * gamma_i, the one
 * product in a base multiplication that needs its own reduction. */
struct mlkem_mulcache {
	int16_t c[MLKEM_N / 2];
};

/* ---- arithmetic mod q (R = 2^16) ---------------------------------------- */

#define MLKEM_QINV 62209u /* q^-1 mod 2^16 */
#define MLKEM_QINV_S (-3327) /* the same as an int16 */

/* a * R^-1 mod q, in (-q, q) for |a| < q * 2^15. Relies on two's complement
 * conversions and arithmetic right shifts, as every supported compiler does. */
static inline int16_t mlkem_montgomery_reduce(int32_t a)
{
	int16_t t = (int16_t)((uint32_t)a * MLKEM_QINV);

	return (int16_t)((a - (int32_t)t * MLKEM_Q) >> 16);
}

/* a * b * R^-1 mod q, in (-q, q) for |a * b| < q * 2^15. The same value as
 * mlkem_montgomery_reduce(a * b), computed in 16-bit halves: the low halves
 * of a*b and t*q are equal, so the high halves subtract exactly. Written as
 * separate low and high products so that compilers map them onto 16-bit
 * vector multiplies (pmullw/pmulhw, mul/sqdmulh) with no widening. */
static inline int16_t mlkem_fqmul(int16_t a, int16_t b)
{
	int16_t lo = (int16_t)(a * b);
	int16_t hi = (int16_t)(((int32_t)a * b) >> 16);
	int16_t t = (int16_t)(lo * MLKEM_QINV_S);

	return (int16_t)(hi - (int16_t)(((int32_t)t * MLKEM_Q) >> 16));
}

/* The representative in [-(q-1)/2, (q-1)/2], for |a| < 2^16. */
static inline int16_t mlkem_barrett_reduce(int32_t a)
{
	int32_t t = (20159 * a + (1 << 25)) >> 26; /* 20159 = round(2^26 / q) */

	return (int16_t)(a - t * MLKEM_Q);
}

/* The same for int16 a, in 16-bit steps that vectorize: the multiply-high
 * then the shift by 10 compose to the shift by 26 above. */
static inline int16_t mlkem_barrett_reduce16(int16_t a)
{
	int16_t t = (int16_t)(((int32_t)a * 20159) >> 16);

	t = (int16_t)((t + (1 << 9)) >> 10);
	return (int16_t)(a - t * MLKEM_Q);
}

/* The representative in [0, q), for any int16. */
static inline int16_t mlkem_canonical(int16_t a)
{
	a = mlkem_barrett_reduce(a);
	return (int16_t)(a + ((a >> 15) & MLKEM_Q));
}

/* ---- mlkem_poly.c: coefficient-wise operations -------------------------- */
void mlkem_poly_add(struct mlkem_poly *r, const struct mlkem_poly *a);
void mlkem_poly_sub(struct mlkem_poly *r, const struct mlkem_poly *a, const struct mlkem_poly *b);
/* Multiplies by R: undoes the R^-1 a base multiplication leaves. */
void mlkem_poly_tomont(struct mlkem_poly *r);

/* ---- mlkem_ntt.c -------------------------------------------------------- */
/* In: |c| < q. Out: NTT domain, |c| <= (q-1)/2. */
void mlkem_ntt(struct mlkem_poly *p);
/* In: |c| < q, carrying a factor R^-1 (as base multiplication leaves it).
 * Out: the plain inverse NTT, |c| < q. */
void mlkem_invntt(struct mlkem_poly *p);
/* In: |c| <= (q-1)/2 (NTT output). */
void mlkem_mulcache_compute(struct mlkem_mulcache *mc, const struct mlkem_poly *b);
/* r = R^-1 * sum_j a[j] o b[j] (FIPS 203 MultiplyNTTs, summed), |r| < q.
 * Needs |a| < 2^12 and b an NTT output with its cache. */
void mlkem_polyvec_basemul_acc(struct mlkem_poly *r, const struct mlkem_poly a[MLKEM_K],
			       const struct mlkem_poly b[MLKEM_K], const struct mlkem_mulcache bc[MLKEM_K]);

/* ---- mlkem_sample.c ----------------------------------------------------- */
/* Row i of A (transposed = 0) or of A^T (transposed = 1), sampled in the
 * NTT domain from public rho; coefficients in [0, q). */
void mlkem_matrix_row(struct mlkem_poly row[MLKEM_K], const uint8_t rho[MLKEM_SYM_BYTES], unsigned int i,
		      int transposed);
/* SamplePolyCBD_2(PRF_2(seed, nonce)); coefficients in [-2, 2]. */
void mlkem_sample_noise(struct mlkem_poly *r, const uint8_t seed[MLKEM_SYM_BYTES], uint8_t nonce);

/* ---- mlkem_encode.c: byte encodings and compression --------------------- */
/* ByteEncode12 of the canonical coefficients; accepts any int16. */
void mlkem_poly_encode12(uint8_t out[MLKEM_POLY_BYTES], const struct mlkem_poly *a);
/* ByteDecode12 without the final mod q: coefficients in [0, 4096). */
void mlkem_poly_decode12(struct mlkem_poly *r, const uint8_t in[MLKEM_POLY_BYTES]);
/* Nonzero when some 12-bit coefficient in in[0..len) is >= q (public data). */
int mlkem_decode12_out_of_range(const uint8_t *in, size_t len);
/* ByteEncode_d(Compress_d(a)) for any int16 a, and the inverse. */
void mlkem_poly_compress_du(uint8_t out[MLKEM_POLY_DU_BYTES], const struct mlkem_poly *a);
void mlkem_poly_decompress_du(struct mlkem_poly *r, const uint8_t in[MLKEM_POLY_DU_BYTES]);
void mlkem_poly_compress_dv(uint8_t out[MLKEM_POLY_DV_BYTES], const struct mlkem_poly *a);
void mlkem_poly_decompress_dv(struct mlkem_poly *r, const uint8_t in[MLKEM_POLY_DV_BYTES]);
/* Decompress_1(ByteDecode_1(m)) and ByteEncode_1(Compress_1(a)). */
void mlkem_poly_from_msg(struct mlkem_poly *r, const uint8_t m[MLKEM_SYM_BYTES]);
void mlkem_poly_to_msg(uint8_t m[MLKEM_SYM_BYTES], const struct mlkem_poly *a);

/* ---- mlkem_kpke.c: K-PKE (FIPS 203 §5) ---------------------------------- */
void mlkem_kpke_keygen(uint8_t ek[MLKEM_EK_BYTES], uint8_t dk_pke[MLKEM_POLYVEC_BYTES],
		       const uint8_t d[MLKEM_SYM_BYTES]);
void mlkem_kpke_encrypt(uint8_t ct[MLKEM_CT_BYTES], const uint8_t ek[MLKEM_EK_BYTES],
			const uint8_t m[MLKEM_SYM_BYTES], const uint8_t r[MLKEM_SYM_BYTES]);
void mlkem_kpke_decrypt(uint8_t m[MLKEM_SYM_BYTES], const uint8_t dk_pke[MLKEM_POLYVEC_BYTES],
			const uint8_t ct[MLKEM_CT_BYTES]);

/* ---- mlkem_kem.c: ML-KEM-768 internal functions (FIPS 203 §6, §7) ------- */
int l2s_fips203_keygen(uint8_t ek[1184], uint8_t dk[2400], const uint8_t d[32], const uint8_t z[32]);
int l2s_fips203_encaps(uint8_t ct[1088], uint8_t ss[32], const uint8_t ek[1184], const uint8_t m[32]);
int l2s_fips203_decaps(uint8_t ss[32], const uint8_t ct[1088], const uint8_t dk[2400]);
int l2s_fips203_check_ek(const uint8_t ek[1184]);
int l2s_fips203_check_dk(const uint8_t dk[2400]);

#endif /* L2S_MLKEM_H */
