/* SPDX-License-Identifier: Apache-2.0
 *
 * mlkem_sample.c - SampleNTT (FIPS 203 Algorithm 7) for the matrix and
 * SamplePolyCBD_2 over PRF_2 (Algorithm 8, §4.1) for the noise.
 */
#include <string.h>

#include "l2s.h"
#include "crypto/fips202.h"
#include "crypto/mlkem/mlkem.h"

/*
 * Three SHAKE128 blocks hold 336 candidates; 256 are needed and each is kept
 * with probability q / 4096, so they almost always suffice. More blocks are
 * squeezed one at a time. 168 is a multiple of 6: no candidate straddles.
 */
#define MATRIX_FIRST_BLOCKS 3

/* Appends the candidates < q found in buf to r[*ctr..MLKEM_N). rho is
 * public, so the data-dependent stores are fine; they are branch-free for
 * speed, writing each candidate and advancing only if it is kept. Six bytes
 * hold four 12-bit candidates (FIPS 203 Algorithm 7 takes them in order). */
static void rej_uniform(int16_t *r, unsigned int *ctr, const uint8_t *buf, size_t len)
{
	unsigned int n = *ctr;
	size_t pos = 0;

	while (n + 4 <= MLKEM_N && pos + 6 <= len) {
		const uint8_t *p = buf + pos;
		uint64_t v = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
			     (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40;

		pos += 6;
		for (unsigned int i = 0; i < 4; i++) {
			int16_t d = (int16_t)(v >> (12 * i) & 0xfff);

			r[n] = d;
			n += d < MLKEM_Q;
		}
	}
	/* Fewer than four slots left: no room to write speculatively. */
	while (n < MLKEM_N && pos + 3 <= len) {
		int16_t d1 = (int16_t)(buf[pos] | (buf[pos + 1] & 0x0f) << 8);
		int16_t d2 = (int16_t)(buf[pos + 1] >> 4 | buf[pos + 2] << 4);

		pos += 3;
		if (d1 < MLKEM_Q)
			r[n++] = d1;
		if (n < MLKEM_N && d2 < MLKEM_Q)
			r[n++] = d2;
	}
	*ctr = n;
}

/* SampleNTT(rho || x || y). */
static void sample_ntt(struct mlkem_poly *a, const uint8_t rho[MLKEM_SYM_BYTES], uint8_t x, uint8_t y)
{
	uint8_t buf[MATRIX_FIRST_BLOCKS * L2S_SHAKE128_RATE];
	uint8_t seed[MLKEM_SYM_BYTES + 2];
	struct l2s_keccak_state st;
	unsigned int ctr = 0;

	memcpy(seed, rho, MLKEM_SYM_BYTES);
	seed[MLKEM_SYM_BYTES] = x;
	seed[MLKEM_SYM_BYTES + 1] = y;
	l2s_shake128_init(&st);
	l2s_shake128_absorb(&st, seed, sizeof(seed));
	l2s_shake128_finalize(&st);

	l2s_shake128_squeeze(&st, buf, sizeof(buf));
	rej_uniform(a->c, &ctr, buf, sizeof(buf));
	while (ctr < MLKEM_N) {
		l2s_shake128_squeeze(&st, buf, L2S_SHAKE128_RATE);
		rej_uniform(a->c, &ctr, buf, L2S_SHAKE128_RATE);
	}
}

/* FIPS 203 sets A[i][j] = SampleNTT(rho || j || i); A^T swaps the bytes. */
void mlkem_matrix_row(struct mlkem_poly row[MLKEM_K], const uint8_t rho[MLKEM_SYM_BYTES], unsigned int i,
		      int transposed)
{
	for (unsigned int j = 0; j < MLKEM_K; j++) {
		if (transposed)
			sample_ntt(&row[j], rho, (uint8_t)i, (uint8_t)j);
		else
			sample_ntt(&row[j], rho, (uint8_t)j, (uint8_t)i);
	}
}

/*
 * CBD_2: coefficient i is (b[4i] + b[4i+1]) - (b[4i+2] + b[4i+3]) over the
 * bits of buf. Adding each bit pair of a 32-bit word at once gives eight
 * coefficients per word.
 */
static void cbd2(struct mlkem_poly *r, const uint8_t buf[128])
{
	for (unsigned int i = 0; i < MLKEM_N / 8; i++) {
		const uint8_t *p = buf + 4 * i;
		uint32_t t = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			     (uint32_t)p[3] << 24;
		uint32_t pairs = (t & 0x55555555) + ((t >> 1) & 0x55555555);

		for (unsigned int j = 0; j < 8; j++) {
			int16_t x = (int16_t)((pairs >> (4 * j)) & 3);
			int16_t y = (int16_t)((pairs >> (4 * j + 2)) & 3);

			r->c[8 * i + j] = (int16_t)(x - y);
		}
	}
}

void mlkem_sample_noise(struct mlkem_poly *r, const uint8_t seed[MLKEM_SYM_BYTES], uint8_t nonce)
{
	uint8_t in[MLKEM_SYM_BYTES + 1];
	uint8_t buf[64 * 2]; /* 64 eta bytes */

	memcpy(in, seed, MLKEM_SYM_BYTES);
	in[MLKEM_SYM_BYTES] = nonce;
	l2s_shake256(buf, sizeof(buf), in, sizeof(in));
	cbd2(r, buf);
	l2s_wipe(in, sizeof(in));
	l2s_wipe(buf, sizeof(buf));
}
