// SPDX-License-Identifier: Apache-2.0
/* See quarantine.h. A newer entry may evict an older one in the same slot:
 * the table bounds memory, and the hash key keeps peers from aiming. */
#include <string.h>

#include "l2s.h"
#include "engine/quarantine.h"

static size_t locate(const struct l2s_quarantine *q, int kind, const uint8_t *id, size_t len, uint8_t tag[16])
{
	uint8_t in[1 + 64], h[20];

	in[0] = (uint8_t)kind;
	if (len > 64)
		len = 64;
	memcpy(in + 1, id, len);
	l2s_blake3_keyed(h, sizeof(h), q->key, in, 1 + len);
	memcpy(tag, h + 4, 16);
	return ((size_t)h[0] | (size_t)h[1] << 8) % L2S_QUARANTINE_SLOTS;
}

void l2s_quarantine_add(struct l2s_quarantine *q, int kind, const uint8_t *id, size_t len, uint64_t until_ms)
{
	uint8_t tag[16];
	size_t i = locate(q, kind, id, len, tag);

	memcpy(q->slot[i].tag, tag, sizeof(tag));
	q->slot[i].until_ms = until_ms;
}

uint64_t l2s_quarantine_until(const struct l2s_quarantine *q, int kind, const uint8_t *id, size_t len,
			      uint64_t now_ms)
{
	uint8_t tag[16];
	size_t i = locate(q, kind, id, len, tag);

	if (memcmp(q->slot[i].tag, tag, sizeof(tag)) != 0 || q->slot[i].until_ms <= now_ms)
		return 0;
	return q->slot[i].until_ms;
}
