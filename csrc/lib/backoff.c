// SPDX-License-Identifier: Apache-2.0
/* Exponential backoff with jitter in [1/2, 1] of the capped delay. */
#include "lib/backoff.h"

/* min(max, base * 2^attempt) without forming the product when it would
 * exceed max (base * 2^a <= max  <=>  base <= max >> a for integers). */
static uint64_t capped_delay(uint64_t base, uint64_t max, uint32_t attempt)
{
	if (attempt >= 64 || base > (max >> attempt))
		return max;
	return base << attempt;
}

uint64_t l2s_backoff_delay(const struct l2s_config *cfg, uint32_t attempt, struct l2s_rng *rng)
{
	uint64_t d = capped_delay(cfg->backoff_base_ms, cfg->backoff_max_ms, attempt);
	uint64_t lo = d - d / 2; /* ceil(d / 2) */

	/* d - lo + 1 = floor(d / 2) + 1: never 0, never overflows. */
	return lo + l2s_rng_uniform(rng, d - lo + 1);
}
