/* SPDX-License-Identifier: Apache-2.0 */
/* A keyed hash for table lookups: SipHash-2-4 (libsodium's crypto_shorthash),
 * a few nanoseconds for a short key, and keyed, so that a peer who does not
 * know the key cannot aim collisions at a table (hash flooding). */
#ifndef L2S_SHORTHASH_H
#define L2S_SHORTHASH_H

#include <stddef.h>
#include <stdint.h>

#define L2S_SHORTHASH_KEY_BYTES 16

uint64_t l2s_shorthash(const uint8_t key[L2S_SHORTHASH_KEY_BYTES], const uint8_t *in, size_t len);

#endif /* L2S_SHORTHASH_H */
