// SPDX-License-Identifier: Apache-2.0
/* See settable.h. */
#include <stdlib.h>
#include <string.h>

#include "l2s.h"
#include "lib/settable.h"

void *l2s_settable_alloc(size_t capacity, size_t ways, size_t entry_size, size_t max_sets, size_t *n_sets)
{
	size_t sets = 1;

	while (sets * ways < capacity && sets < max_sets)
		sets <<= 1;
	*n_sets = sets;
	return calloc(sets * ways, entry_size);
}

size_t l2s_settable_set(const uint8_t key[32], const uint8_t *id, size_t len, size_t n_sets,
			uint8_t tag[L2S_SETTABLE_TAG_BYTES])
{
	uint8_t h[8 + L2S_SETTABLE_TAG_BYTES];
	uint64_t v = 0;

	/* BLAKE3 output is extendable: the first 8 bytes pick the set, the
	 * next 16 are the tag. */
	l2s_blake3_keyed(h, tag ? sizeof(h) : 8, key, id, len);
	for (int i = 0; i < 8; i++)
		v = v << 8 | h[i];
	if (tag)
		memcpy(tag, h + 8, L2S_SETTABLE_TAG_BYTES);
	return (size_t)(v & (n_sets - 1));
}
