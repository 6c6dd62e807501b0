/* SPDX-License-Identifier: Apache-2.0
 *
 * mlkem_encode.c - ByteEncode/ByteDecode (FIPS 203 Algorithms 5, 6) and
 * Compress/Decompress (§4.2.1).
 *
 * Compress_d(x) = round(2^d x / q) mod 2^d = floor((2^d x + (q-1)/2) / q)
 * (q is odd, so there are no ties). The division is a multiplication by a
 * rounded-up reciprocal and a shift, exact over the whole input range (each
 * constant is checked for every x in [0, q) by test_mlkem): dividing
 * secret values by q with the CPU's divider would leak timing (KyberSlash).
 */
#include "l2s.h"
#include "crypto/mlkem/mlkem.h"

static inline uint16_t compress1(int16_t x)
{
	uint32_t n = ((uint32_t)mlkem_canonical(x) << 1) + (MLKEM_Q - 1) / 2;

	return (uint16_t)((n * 315) >> 20 & 1);
}

static inline uint16_t compress4(int16_t x)
{
	uint32_t n = ((uint32_t)mlkem_canonical(x) << 4) + (MLKEM_Q - 1) / 2;

	return (uint16_t)((n * 20159) >> 26 & 0xf);
}

/* n < 2^22 and the constant < 2^22: a 32x32->64 multiply, which vector
 * units have, rather than a full 64-bit one. */
static inline uint16_t compress10(int16_t x)
{
	uint32_t n = ((uint32_t)mlkem_canonical(x) << 10) + (MLKEM_Q - 1) / 2;

	return (uint16_t)(((uint64_t)n * 2580335u) >> 33 & 0x3ff);
}

/* Decompress_d(y) = round(q y / 2^d). */
static inline int16_t decompress(uint32_t y, unsigned int d)
{
	return (int16_t)((y * MLKEM_Q + (1u << (d - 1))) >> d);
}

void mlkem_poly_encode12(uint8_t out[MLKEM_POLY_BYTES], const struct mlkem_poly *a)
{
	for (unsigned int i = 0; i < MLKEM_N / 2; i++) {
		uint16_t t0 = (uint16_t)mlkem_canonical(a->c[2 * i]);
		uint16_t t1 = (uint16_t)mlkem_canonical(a->c[2 * i + 1]);

		out[3 * i] = (uint8_t)t0;
		out[3 * i + 1] = (uint8_t)(t0 >> 8 | t1 << 4);
		out[3 * i + 2] = (uint8_t)(t1 >> 4);
	}
}

void mlkem_poly_decode12(struct mlkem_poly *r, const uint8_t in[MLKEM_POLY_BYTES])
{
	for (unsigned int i = 0; i < MLKEM_N / 2; i++) {
		const uint8_t *p = in + 3 * i;

		r->c[2 * i] = (int16_t)(p[0] | (p[1] & 0x0f) << 8);
		r->c[2 * i + 1] = (int16_t)(p[1] >> 4 | p[2] << 4);
	}
}

int mlkem_decode12_out_of_range(const uint8_t *in, size_t len)
{
	int bad = 0;

	for (size_t i = 0; i + 3 <= len; i += 3) {
		int d1 = in[i] | (in[i + 1] & 0x0f) << 8;
		int d2 = in[i + 1] >> 4 | in[i + 2] << 4;

		bad |= (d1 >= MLKEM_Q) | (d2 >= MLKEM_Q);
	}
	return bad;
}

/* du = 10: four coefficients in five bytes. Compressing first, into a
 * separate array, keeps that loop free of the packing so it vectorizes. */
void mlkem_poly_compress_du(uint8_t out[MLKEM_POLY_DU_BYTES], const struct mlkem_poly *a)
{
	uint16_t t[MLKEM_N];

	for (unsigned int i = 0; i < MLKEM_N; i++)
		t[i] = compress10(a->c[i]);
	for (unsigned int i = 0; i < MLKEM_N / 4; i++) {
		const uint16_t *c = t + 4 * i;
		uint8_t *p = out + 5 * i;

		p[0] = (uint8_t)c[0];
		p[1] = (uint8_t)(c[0] >> 8 | c[1] << 2);
		p[2] = (uint8_t)(c[1] >> 6 | c[2] << 4);
		p[3] = (uint8_t)(c[2] >> 4 | c[3] << 6);
		p[4] = (uint8_t)(c[3] >> 2);
	}
	/* Decapsulation re-encrypts: then these derive from the secret key. */
	l2s_wipe(t, sizeof(t));
}

void mlkem_poly_decompress_du(struct mlkem_poly *r, const uint8_t in[MLKEM_POLY_DU_BYTES])
{
	for (unsigned int i = 0; i < MLKEM_N / 4; i++) {
		const uint8_t *p = in + 5 * i;
		int16_t *c = r->c + 4 * i;

		c[0] = decompress((p[0] | (uint32_t)p[1] << 8) & 0x3ff, MLKEM_DU);
		c[1] = decompress((p[1] >> 2 | (uint32_t)p[2] << 6) & 0x3ff, MLKEM_DU);
		c[2] = decompress((p[2] >> 4 | (uint32_t)p[3] << 4) & 0x3ff, MLKEM_DU);
		c[3] = decompress((p[3] >> 6 | (uint32_t)p[4] << 2) & 0x3ff, MLKEM_DU);
	}
}

/* dv = 4: two coefficients per byte, the first in the low nibble. */
void mlkem_poly_compress_dv(uint8_t out[MLKEM_POLY_DV_BYTES], const struct mlkem_poly *a)
{
	for (unsigned int i = 0; i < MLKEM_N / 2; i++)
		out[i] = (uint8_t)(compress4(a->c[2 * i]) | compress4(a->c[2 * i + 1]) << 4);
}

void mlkem_poly_decompress_dv(struct mlkem_poly *r, const uint8_t in[MLKEM_POLY_DV_BYTES])
{
	for (unsigned int i = 0; i < MLKEM_N / 2; i++) {
		r->c[2 * i] = decompress(in[i] & 0xfu, MLKEM_DV);
		r->c[2 * i + 1] = decompress((uint32_t)in[i] >> 4, MLKEM_DV);
	}
}

/* Bit i of m becomes 0 or round(q/2), through a mask: m is secret. */
void mlkem_poly_from_msg(struct mlkem_poly *r, const uint8_t m[MLKEM_SYM_BYTES])
{
	for (unsigned int i = 0; i < MLKEM_N; i++) {
		int16_t bit = (int16_t)((m[i / 8] >> (i % 8)) & 1);

		r->c[i] = (int16_t)(-bit & (MLKEM_Q + 1) / 2);
	}
}

void mlkem_poly_to_msg(uint8_t m[MLKEM_SYM_BYTES], const struct mlkem_poly *a)
{
	for (unsigned int i = 0; i < MLKEM_SYM_BYTES; i++) {
		uint8_t byte = 0;

		for (unsigned int j = 0; j < 8; j++)
			byte |= (uint8_t)(compress1(a->c[8 * i + j]) << j);
		m[i] = byte;
	}
}
