/* SPDX-License-Identifier: Apache-2.0
 *
 * mlkem_poly.c - coefficient-wise polynomial operations. No reduction: the
 * callers' bounds leave room (see mlkem.h), and the final encoders reduce.
 */
#include "crypto/mlkem/mlkem.h"

void mlkem_poly_add(struct mlkem_poly *r, const struct mlkem_poly *a)
{
	for (unsigned int i = 0; i < MLKEM_N; i++)
		r->c[i] = (int16_t)(r->c[i] + a->c[i]);
}

void mlkem_poly_sub(struct mlkem_poly *r, const struct mlkem_poly *a, const struct mlkem_poly *b)
{
	for (unsigned int i = 0; i < MLKEM_N; i++)
		r->c[i] = (int16_t)(a->c[i] - b->c[i]);
}

void mlkem_poly_tomont(struct mlkem_poly *r)
{
	const int16_t r2 = 1353; /* R^2 mod q: fqmul by it multiplies by R */

	for (unsigned int i = 0; i < MLKEM_N; i++)
		r->c[i] = mlkem_fqmul(r->c[i], r2);
}
