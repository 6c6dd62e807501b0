/* SPDX-License-Identifier: Apache-2.0
 *
 * fips202.h - SHA3-256, SHA3-512, SHAKE128 and SHAKE256 (FIPS 202) on a
 * portable Keccak-f[1600], with an incremental sponge for the two SHAKEs.
 *
 * Incremental use: init, absorb any number of times, finalize, then squeeze
 * any number of times. Squeezing whole blocks while aligned on a block
 * boundary goes straight from the state to the output, no buffering.
 */
#ifndef L2S_FIPS202_H
#define L2S_FIPS202_H

#include <stddef.h>
#include <stdint.h>

#define L2S_SHAKE128_RATE 168
#define L2S_SHAKE256_RATE 136
#define L2S_SHA3_256_RATE 136
#define L2S_SHA3_512_RATE 72

/* A sponge in progress. While absorbing, pos is where the next input byte
 * goes (0..rate-1); after finalize, it is the next byte to squeeze, and
 * rate means the block is used up (the next squeeze permutes first). */
struct l2s_keccak_state {
	uint64_t s[25];
	unsigned int pos;
};

void l2s_keccak_f1600(uint64_t s[25]);

void l2s_sha3_256(uint8_t out[32], const uint8_t *in, size_t len);
void l2s_sha3_512(uint8_t out[64], const uint8_t *in, size_t len);
void l2s_shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len);
void l2s_shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len);

void l2s_shake128_init(struct l2s_keccak_state *st);
void l2s_shake128_absorb(struct l2s_keccak_state *st, const uint8_t *in, size_t len);
void l2s_shake128_finalize(struct l2s_keccak_state *st);
void l2s_shake128_squeeze(struct l2s_keccak_state *st, uint8_t *out, size_t len);

void l2s_shake256_init(struct l2s_keccak_state *st);
void l2s_shake256_absorb(struct l2s_keccak_state *st, const uint8_t *in, size_t len);
void l2s_shake256_finalize(struct l2s_keccak_state *st);
void l2s_shake256_squeeze(struct l2s_keccak_state *st, uint8_t *out, size_t len);

/* Zeroes a sponge that has seen secrets. */
void l2s_keccak_wipe(struct l2s_keccak_state *st);

#endif /* L2S_FIPS202_H */
