/* SPDX-License-Identifier: Apache-2.0 */
/* Set-associative tables with a secret set-selection key, shared by the
 * handshake counter table, the resumption nonce cache and the rate limiter:
 * memory is fixed at creation, and since the key is the node's secret nobody
 * can aim entries at one set to evict others. */
#ifndef L2S_SETTABLE_H
#define L2S_SETTABLE_H

#include <stddef.h>
#include <stdint.h>

#define L2S_SETTABLE_TAG_BYTES 16

/* Zeroed room for at least capacity entries of entry_size bytes in sets of
 * `ways` (a power of two number of sets, at most max_sets); NULL when out of
 * memory. *n_sets gets the number of sets. */
void *l2s_settable_alloc(size_t capacity, size_t ways, size_t entry_size, size_t max_sets, size_t *n_sets);
/* The set of id under key (BLAKE3 keyed hash), and its 16-byte tag when tag
 * is not NULL. */
size_t l2s_settable_set(const uint8_t key[32], const uint8_t *id, size_t len, size_t n_sets,
			uint8_t tag[L2S_SETTABLE_TAG_BYTES]);

#endif /* L2S_SETTABLE_H */
