/* SPDX-License-Identifier: Apache-2.0 */
/* Retry delay after a failed establishment (STATE_MACHINE.md, "Establishment
 * failure"): d = min(backoff_max, backoff_base * 2^attempt), drawn uniformly
 * from [ceil(d/2), d] so that peers that failed together do not retry in
 * lockstep. attempt counts from 0; any attempt is safe (no overflow). */
#ifndef L2S_BACKOFF_H
#define L2S_BACKOFF_H

#include <stdint.h>

#include "l2s.h"
#include "crypto/rng.h"

uint64_t l2s_backoff_delay(const struct l2s_config *cfg, uint32_t attempt, struct l2s_rng *rng);

#endif /* L2S_BACKOFF_H */
