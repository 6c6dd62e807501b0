/* SPDX-License-Identifier: Apache-2.0 */
/* Fixed-capacity hash maps with open addressing and tombstone-free deletion
 * (backward shift), growing by doubling up to a fixed limit, for the node's lookups: receiver index -> session,
 * peer key -> session, session id -> session. Keys are hashed with
 * SipHash under a per-map random key (its first 16 bytes) so that peers
 * cannot aim collisions. */
#ifndef L2S_MAP_H
#define L2S_MAP_H

#include <stddef.h>
#include <stdint.h>

#define L2S_MAP_KEY_BYTES 32

struct l2s_map_slot {
	uint8_t used;
	uint8_t key[L2S_MAP_KEY_BYTES];
	uint32_t value;
};

struct l2s_map {
	struct l2s_map_slot *slots;
	uint32_t cap;   /* a power of two, at least twice count; grows on demand */
	uint32_t count;
	uint32_t limit; /* the most entries it will hold */
	uint8_t hash_key[32];
};

int l2s_map_init(struct l2s_map *m, uint32_t max_entries, const uint8_t hash_key[32]);
void l2s_map_free(struct l2s_map *m);
/* Keys shorter than 32 bytes are zero-padded. */
int l2s_map_put(struct l2s_map *m, const uint8_t *key, size_t key_len, uint32_t value);
int l2s_map_get(const struct l2s_map *m, const uint8_t *key, size_t key_len, uint32_t *value);
int l2s_map_del(struct l2s_map *m, const uint8_t *key, size_t key_len);

static inline void l2s_u32_key(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

#endif /* L2S_MAP_H */
