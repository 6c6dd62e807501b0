// SPDX-License-Identifier: Apache-2.0
/* Open-addressing hash map with linear probing and backward-shift deletion:
 * bounded memory fixed at creation, O(1) expected per operation. */
#include <stdlib.h>
#include <string.h>

#include "l2s.h"
#include "map.h"

static uint32_t slot_of(const struct l2s_map *m, const uint8_t key[L2S_MAP_KEY_BYTES])
{
	uint8_t h[4];

	l2s_blake3_keyed(h, sizeof(h), m->hash_key, key, L2S_MAP_KEY_BYTES);
	return (uint32_t)(h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24) & (m->cap - 1);
}

static void pad_key(uint8_t out[L2S_MAP_KEY_BYTES], const uint8_t *key, size_t len)
{
	memset(out, 0, L2S_MAP_KEY_BYTES);
	memcpy(out, key, len < L2S_MAP_KEY_BYTES ? len : L2S_MAP_KEY_BYTES);
}

int l2s_map_init(struct l2s_map *m, uint32_t max_entries, const uint8_t hash_key[32])
{
	uint32_t cap = 16;

	while (cap < 2 * (uint64_t)max_entries && cap < (1u << 30))
		cap <<= 1;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots)
		return L2S_ERR_NOMEM;
	m->cap = cap;
	m->count = 0;
	m->limit = cap / 2;
	memcpy(m->hash_key, hash_key, 32);
	return L2S_OK;
}

void l2s_map_free(struct l2s_map *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static int find(const struct l2s_map *m, const uint8_t key[L2S_MAP_KEY_BYTES], uint32_t *pos)
{
	uint32_t i = slot_of(m, key);

	while (m->slots[i].used) {
		if (memcmp(m->slots[i].key, key, L2S_MAP_KEY_BYTES) == 0) {
			*pos = i;
			return 1;
		}
		i = (i + 1) & (m->cap - 1);
	}
	*pos = i;
	return 0;
}

int l2s_map_put(struct l2s_map *m, const uint8_t *key, size_t key_len, uint32_t value)
{
	uint8_t k[L2S_MAP_KEY_BYTES];
	uint32_t pos;

	pad_key(k, key, key_len);
	if (!find(m, k, &pos)) {
		if (m->count >= m->limit)
			return L2S_ERR_NOMEM;
		m->slots[pos].used = 1;
		memcpy(m->slots[pos].key, k, sizeof(k));
		m->count++;
	}
	m->slots[pos].value = value;
	return L2S_OK;
}

int l2s_map_get(const struct l2s_map *m, const uint8_t *key, size_t key_len, uint32_t *value)
{
	uint8_t k[L2S_MAP_KEY_BYTES];
	uint32_t pos;

	pad_key(k, key, key_len);
	if (!find(m, k, &pos))
		return L2S_ERR_NOT_FOUND;
	*value = m->slots[pos].value;
	return L2S_OK;
}

int l2s_map_del(struct l2s_map *m, const uint8_t *key, size_t key_len)
{
	uint8_t k[L2S_MAP_KEY_BYTES];
	uint32_t hole, i;

	pad_key(k, key, key_len);
	if (!find(m, k, &hole))
		return L2S_ERR_NOT_FOUND;
	/* Backward shift: move later entries of the probe run into the hole so
	 * lookups never need tombstones. */
	i = hole;
	for (;;) {
		uint32_t home;

		i = (i + 1) & (m->cap - 1);
		if (!m->slots[i].used)
			break;
		home = slot_of(m, m->slots[i].key);
		if (((i - home) & (m->cap - 1)) >= ((i - hole) & (m->cap - 1))) {
			m->slots[hole] = m->slots[i];
			hole = i;
		}
	}
	memset(&m->slots[hole], 0, sizeof(m->slots[hole]));
	m->count--;
	return L2S_OK;
}
