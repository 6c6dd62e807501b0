/* SPDX-License-Identifier: Apache-2.0
 *
 * mlkem_ntt.c - the number-theoretic transform of FIPS 203 (Algorithms 9
 * to 12) with Montgomery arithmetic and lazy reduction.
 *
 * Bounds, for inputs |c| < q: each forward layer adds at most q, so seven
 * layers stay below 8q < 2^15 and only the last layer reduces. Inverse
 * layers double the sums instead, so the sums are reduced once in the
 * middle (layer len = 16); the 1/128 scaling rides on the last layer.
 */
#include "mlkem.h"

/* zetas[k] = 17^BitRev7(k) * R mod q, centered; zetas[0] is unused. */
static const int16_t zetas[128] = {
	-1044, -758, -359, -1517, 1493, 1422, 287, 202,
	-171, 622, 1577, 182, 962, -1202, -1474, 1468,
	573, -1325, 264, 383, -829, 1458, -1602, -130,
	-681, 1017, 732, 608, -1542, 411, -205, -1571,
	1223, 652, -552, 1015, -1293, 1491, -282, -1544,
	516, -8, -320, -666, -1618, -1162, 126, 1469,
	-853, -90, -271, 830, 107, -1421, -247, -951,
	-398, 961, -1508, -725, 448, -1065, 677, -1275,
	-1103, 430, 555, 843, -1251, 871, 1550, 105,
	422, 587, 177, -235, -291, -460, 1574, 1653,
	-246, 778, 1159, -147, -777, 1483, -602, 1119,
	-1590, 644, -872, 349, 418, 329, -156, -75,
	817, 1097, 603, 610, 1322, -1285, -1465, 384,
	-1215, -136, 1218, -1335, -874, 220, -1187, -1659,
	-1185, -1530, -1278, 794, -1510, -854, -870, 478,
	-108, -308, 996, 991, 958, -1460, 1522, 1628,
};

/* For the last inverse layer: f = R^2 / 128 mod q undoes the 2^7 from the
 * seven layers and the R^-1 from base multiplication, and f * zetas[1] / R
 * folds the layer's twiddle into the same multiplication. */
#define INVNTT_F 1441
#define INVNTT_F_ZETA1 1397

static void ntt_layer(int16_t *r, unsigned int len, unsigned int k)
{
	for (unsigned int start = 0; start < MLKEM_N; start += 2 * len) {
		const int16_t zeta = zetas[k++];

		for (unsigned int j = start; j < start + len; j++) {
			int16_t t = mlkem_fqmul(zeta, r[j + len]);

			r[j + len] = (int16_t)(r[j] - t);
			r[j] = (int16_t)(r[j] + t);
		}
	}
}

void mlkem_ntt(struct mlkem_poly *p)
{
	int16_t *r = p->c;
	unsigned int k = 1;

	for (unsigned int len = 128; len > 2; len >>= 1) {
		ntt_layer(r, len, k);
		k += MLKEM_N / (2 * len);
	}
	/* len = 2, reducing as it goes: the outputs go to base multiplication. */
	for (unsigned int start = 0; start < MLKEM_N; start += 4) {
		const int16_t zeta = zetas[k++];

		for (unsigned int j = start; j < start + 2; j++) {
			int16_t t = mlkem_fqmul(zeta, r[j + 2]);

			r[j + 2] = mlkem_barrett_reduce(r[j] - t);
			r[j] = mlkem_barrett_reduce(r[j] + t);
		}
	}
}

/* Gentleman-Sande layer. zetas[k] = -zeta^-1 of the matching forward
 * butterfly, hence (b - a) rather than (a - b). */
static inline void invntt_layer(int16_t *r, unsigned int len, unsigned int k, int reduce)
{
	for (unsigned int start = 0; start < MLKEM_N; start += 2 * len) {
		const int16_t zeta = zetas[k--];

		for (unsigned int j = start; j < start + len; j++) {
			int16_t a = r[j], b = r[j + len];

			r[j] = reduce ? mlkem_barrett_reduce(a + b) : (int16_t)(a + b);
			r[j + len] = mlkem_montgomery_reduce((int32_t)zeta * (b - a));
		}
	}
}

void mlkem_invntt(struct mlkem_poly *p)
{
	int16_t *r = p->c;

	/* Sums grow 2q, 4q, 8q, then are reduced before they reach 16q. */
	invntt_layer(r, 2, 127, 0);
	invntt_layer(r, 4, 63, 0);
	invntt_layer(r, 8, 31, 0);
	invntt_layer(r, 16, 15, 1);
	invntt_layer(r, 32, 7, 0);
	invntt_layer(r, 64, 3, 0);
	/* len = 128: inputs below 4q, sums and differences below 8q. */
	for (unsigned int j = 0; j < MLKEM_N / 2; j++) {
		int16_t a = r[j], b = r[j + 128];

		r[j] = mlkem_montgomery_reduce((int32_t)INVNTT_F * (a + b));
		r[j + 128] = mlkem_montgomery_reduce((int32_t)INVNTT_F_ZETA1 * (b - a));
	}
}

/* gamma_i = 17^(2 BitRev7(i) + 1) = +-zetas[64 + i/2] (times R): the pairs of
 * one last-layer butterfly take zeta and -zeta. */
void mlkem_mulcache_compute(struct mlkem_mulcache *mc, const struct mlkem_poly *b)
{
	for (unsigned int i = 0; i < MLKEM_N / 4; i++) {
		const int16_t zeta = zetas[64 + i];

		mc->c[2 * i] = mlkem_fqmul(b->c[4 * i + 1], zeta);
		mc->c[2 * i + 1] = mlkem_fqmul(b->c[4 * i + 3], (int16_t)-zeta);
	}
}

/*
 * (a0 + a1 X)(b0 + b1 X) mod (X^2 - gamma) = (a0 b0 + a1 b1 gamma) +
 * (a0 b1 + a1 b0) X, summed over the vector in 32 bits and reduced once.
 * With |a| < 2^12, |b| <= (q-1)/2 and |b1 gamma| < q the sum stays below
 * 3 * 2^12 * 2q < q * 2^15, the Montgomery bound.
 */
void mlkem_polyvec_basemul_acc(struct mlkem_poly *r, const struct mlkem_poly a[MLKEM_K],
			       const struct mlkem_poly b[MLKEM_K], const struct mlkem_mulcache bc[MLKEM_K])
{
	for (unsigned int i = 0; i < MLKEM_N / 2; i++) {
		int32_t c0 = 0, c1 = 0;

		for (unsigned int j = 0; j < MLKEM_K; j++) {
			int32_t a0 = a[j].c[2 * i], a1 = a[j].c[2 * i + 1];

			c0 += a0 * b[j].c[2 * i] + a1 * bc[j].c[i];
			c1 += a0 * b[j].c[2 * i + 1] + a1 * b[j].c[2 * i];
		}
		r->c[2 * i] = mlkem_montgomery_reduce(c0);
		r->c[2 * i + 1] = mlkem_montgomery_reduce(c1);
	}
}
