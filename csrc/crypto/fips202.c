/* SPDX-License-Identifier: Apache-2.0
 *
 * fips202.c - Keccak-f[1600] and the FIPS 202 sponges built on it.
 *
 * The permutation keeps the 25 lanes in local variables and runs two rounds
 * per loop turn, A -> E then E -> A, so no lane is ever copied; the compiler
 * does the register allocation. Lanes are named aXY for x = X, y = Y; the
 * state array holds lane (x, y) at index x + 5y. Each round computes theta,
 * then rho and pi together (output row y' takes lane (x' + 3y', x') rotated),
 * then chi and iota. The round code was generated from the FIPS 202 rotation
 * and round-constant definitions and checked against the NIST examples.
 */
#include <string.h>

#include "l2s.h"
#include "crypto/fips202.h"

#define SHAKE_DOMAIN 0x1f /* '1111' then the first pad bit */
#define SHA3_DOMAIN 0x06  /* '01' then the first pad bit */

static const uint64_t keccak_rc[24] = {
	UINT64_C(0x0000000000000001), UINT64_C(0x0000000000008082),
	UINT64_C(0x800000000000808a), UINT64_C(0x8000000080008000),
	UINT64_C(0x000000000000808b), UINT64_C(0x0000000080000001),
	UINT64_C(0x8000000080008081), UINT64_C(0x8000000000008009),
	UINT64_C(0x000000000000008a), UINT64_C(0x0000000000000088),
	UINT64_C(0x0000000080008009), UINT64_C(0x000000008000000a),
	UINT64_C(0x000000008000808b), UINT64_C(0x800000000000008b),
	UINT64_C(0x8000000000008089), UINT64_C(0x8000000000008003),
	UINT64_C(0x8000000000008002), UINT64_C(0x8000000000000080),
	UINT64_C(0x000000000000800a), UINT64_C(0x800000008000000a),
	UINT64_C(0x8000000080008081), UINT64_C(0x8000000000008080),
	UINT64_C(0x0000000080000001), UINT64_C(0x8000000080008008),
};

#define ROL64(x, n) (((x) << (n)) | ((x) >> (64 - (n))))

/*
 * One round from lanes A to lanes E, on lanes stored complemented at the
 * positions of COMPLEMENT_LANES. Chi's b ^ (~c & d) then mostly becomes
 * b ^ (c & d) or b ^ (c | d) and a round needs 5 NOTs instead of 25 (the
 * "lane complementing" transform from the Keccak team's implementation
 * notes; the expressions below were derived by exhaustive search over the
 * AND/OR/NOT forms that keep the complemented set the same after a round).
 */
#define KECCAK_ROUND(A, E, rc)                                       \
	do {                                                         \
		uint64_t c0 = A##00 ^ A##01 ^ A##02 ^ A##03 ^ A##04; \
		uint64_t c1 = A##10 ^ A##11 ^ A##12 ^ A##13 ^ A##14; \
		uint64_t c2 = A##20 ^ A##21 ^ A##22 ^ A##23 ^ A##24; \
		uint64_t c3 = A##30 ^ A##31 ^ A##32 ^ A##33 ^ A##34; \
		uint64_t c4 = A##40 ^ A##41 ^ A##42 ^ A##43 ^ A##44; \
		uint64_t d0 = c4 ^ ROL64(c1, 1);                     \
		uint64_t d1 = c0 ^ ROL64(c2, 1);                     \
		uint64_t d2 = c1 ^ ROL64(c3, 1);                     \
		uint64_t d3 = c2 ^ ROL64(c4, 1);                     \
		uint64_t d4 = c3 ^ ROL64(c0, 1);                     \
		uint64_t b0, b1, b2, b3, b4;                         \
		b0 = A##00 ^ d0;                                     \
		b1 = ROL64(A##11 ^ d1, 44);                          \
		b2 = ROL64(A##22 ^ d2, 43);                          \
		b3 = ROL64(A##33 ^ d3, 21);                          \
		b4 = ROL64(A##44 ^ d4, 14);                          \
		E##00 = b0 ^ (b1 | b2) ^ (rc);                       \
		E##10 = b1 ^ (~b2 | b3);                             \
		E##20 = b2 ^ (b3 & b4);                              \
		E##30 = b3 ^ (b4 | b0);                              \
		E##40 = b4 ^ (b0 & b1);                              \
		b0 = ROL64(A##30 ^ d3, 28);                          \
		b1 = ROL64(A##41 ^ d4, 20);                          \
		b2 = ROL64(A##02 ^ d0, 3);                           \
		b3 = ROL64(A##13 ^ d1, 45);                          \
		b4 = ROL64(A##24 ^ d2, 61);                          \
		E##01 = b0 ^ (b1 | b2);                              \
		E##11 = b1 ^ (b2 & b3);                              \
		E##21 = b2 ^ (b3 | ~b4);                             \
		E##31 = b3 ^ (b4 | b0);                              \
		E##41 = b4 ^ (b0 & b1);                              \
		b0 = ROL64(A##10 ^ d1, 1);                           \
		b1 = ROL64(A##21 ^ d2, 6);                           \
		b2 = ROL64(A##32 ^ d3, 25);                          \
		b3 = ROL64(A##43 ^ d4, 8);                           \
		b4 = ROL64(A##04 ^ d0, 18);                          \
		E##02 = b0 ^ (b1 | b2);                              \
		E##12 = b1 ^ (b2 & b3);                              \
		E##22 = b2 ^ (~b3 & b4);                             \
		E##32 = ~b3 ^ (b4 | b0);                             \
		E##42 = b4 ^ (b0 & b1);                              \
		b0 = ROL64(A##40 ^ d4, 27);                          \
		b1 = ROL64(A##01 ^ d0, 36);                          \
		b2 = ROL64(A##12 ^ d1, 10);                          \
		b3 = ROL64(A##23 ^ d2, 15);                          \
		b4 = ROL64(A##34 ^ d3, 56);                          \
		E##03 = b0 ^ (b1 & b2);                              \
		E##13 = b1 ^ (b2 | b3);                              \
		E##23 = b2 ^ (~b3 | b4);                             \
		E##33 = ~b3 ^ (b4 & b0);                             \
		E##43 = b4 ^ (b0 | b1);                              \
		b0 = ROL64(A##20 ^ d2, 62);                          \
		b1 = ROL64(A##31 ^ d3, 55);                          \
		b2 = ROL64(A##42 ^ d4, 39);                          \
		b3 = ROL64(A##03 ^ d0, 41);                          \
		b4 = ROL64(A##14 ^ d1, 2);                           \
		E##04 = b0 ^ (~b1 & b2);                             \
		E##14 = ~b1 ^ (b2 | b3);                             \
		E##24 = b2 ^ (b3 & b4);                              \
		E##34 = b3 ^ (b4 | b0);                              \
		E##44 = b4 ^ (b0 & b1);                              \
	} while (0)

#define LOAD_ROW(y)                                                                \
	uint64_t a0##y = s[5 * y + 0], a1##y = s[5 * y + 1], a2##y = s[5 * y + 2], \
		 a3##y = s[5 * y + 3], a4##y = s[5 * y + 4];                       \
	uint64_t e0##y, e1##y, e2##y, e3##y, e4##y

#define STORE_ROW(y)                  \
	do {                          \
		s[5 * y + 0] = a0##y; \
		s[5 * y + 1] = a1##y; \
		s[5 * y + 2] = a2##y; \
		s[5 * y + 3] = a3##y; \
		s[5 * y + 4] = a4##y; \
	} while (0)

/* Lanes (1,0), (2,0), (3,1), (2,2), (2,3) and (0,4): complemented on entry
 * and on exit, so the state outside looks normal. */
#define COMPLEMENT_LANES(A)     \
	do {                    \
		A##10 = ~A##10; \
		A##20 = ~A##20; \
		A##31 = ~A##31; \
		A##22 = ~A##22; \
		A##23 = ~A##23; \
		A##04 = ~A##04; \
	} while (0)

void l2s_keccak_f1600(uint64_t s[25])
{
	LOAD_ROW(0);
	LOAD_ROW(1);
	LOAD_ROW(2);
	LOAD_ROW(3);
	LOAD_ROW(4);

	COMPLEMENT_LANES(a);
	for (int i = 0; i < 24; i += 2) {
		KECCAK_ROUND(a, e, keccak_rc[i]);
		KECCAK_ROUND(e, a, keccak_rc[i + 1]);
	}
	COMPLEMENT_LANES(a);

	STORE_ROW(0);
	STORE_ROW(1);
	STORE_ROW(2);
	STORE_ROW(3);
	STORE_ROW(4);
}

/* Little-endian lane loads and stores, written so compilers emit one plain
 * 64-bit access on little-endian machines and stay correct on others. */
static inline uint64_t load64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void store64(uint8_t *p, uint64_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	p[4] = (uint8_t)(v >> 32);
	p[5] = (uint8_t)(v >> 40);
	p[6] = (uint8_t)(v >> 48);
	p[7] = (uint8_t)(v >> 56);
}

/* XORs len bytes into the state from byte offset pos: whole lanes where
 * aligned, single bytes at the ragged ends. */
static void xor_bytes(uint64_t s[25], unsigned int pos, const uint8_t *in, size_t len)
{
	for (; len && pos % 8; len--, pos++)
		s[pos / 8] ^= (uint64_t)*in++ << (8 * (pos % 8));
	for (; len >= 8; len -= 8, pos += 8, in += 8)
		s[pos / 8] ^= load64(in);
	for (; len; len--, pos++)
		s[pos / 8] ^= (uint64_t)*in++ << (8 * (pos % 8));
}

static void extract_bytes(uint8_t *out, const uint64_t s[25], unsigned int pos, size_t len)
{
	for (; len && pos % 8; len--, pos++)
		*out++ = (uint8_t)(s[pos / 8] >> (8 * (pos % 8)));
	for (; len >= 8; len -= 8, pos += 8, out += 8)
		store64(out, s[pos / 8]);
	for (; len; len--, pos++)
		*out++ = (uint8_t)(s[pos / 8] >> (8 * (pos % 8)));
}

static void keccak_init(struct l2s_keccak_state *st)
{
	memset(st, 0, sizeof(*st));
}

static void keccak_absorb(struct l2s_keccak_state *st, unsigned int rate, const uint8_t *in, size_t len)
{
	unsigned int pos = st->pos;

	while (len) {
		size_t n;

		/* Whole blocks go in lane by lane. */
		if (pos == 0 && len >= rate) {
			for (unsigned int i = 0; i < rate / 8; i++)
				st->s[i] ^= load64(in + 8 * i);
			l2s_keccak_f1600(st->s);
			in += rate;
			len -= rate;
			continue;
		}
		n = rate - pos < len ? rate - pos : len;
		xor_bytes(st->s, pos, in, n);
		pos += (unsigned int)n;
		in += n;
		len -= n;
		if (pos == rate) {
			l2s_keccak_f1600(st->s);
			pos = 0;
		}
	}
	st->pos = pos;
}

/* Pads (pad10*1 after the domain bits) and leaves the state ready to
 * squeeze; the permutation runs lazily on the first squeeze. */
static void keccak_finalize(struct l2s_keccak_state *st, unsigned int rate, uint8_t domain)
{
	st->s[st->pos / 8] ^= (uint64_t)domain << (8 * (st->pos % 8));
	st->s[(rate - 1) / 8] ^= (uint64_t)0x80 << (8 * ((rate - 1) % 8));
	st->pos = rate;
}

static void keccak_squeeze(struct l2s_keccak_state *st, unsigned int rate, uint8_t *out, size_t len)
{
	unsigned int pos = st->pos;

	while (len) {
		size_t n;

		if (pos == rate) {
			l2s_keccak_f1600(st->s);
			pos = 0;
		}
		if (pos == 0 && len >= rate) {
			for (unsigned int i = 0; i < rate / 8; i++)
				store64(out + 8 * i, st->s[i]);
			out += rate;
			len -= rate;
			pos = rate;
			continue;
		}
		n = rate - pos < len ? rate - pos : len;
		extract_bytes(out, st->s, pos, n);
		pos += (unsigned int)n;
		out += n;
		len -= n;
	}
	st->pos = pos;
}

void l2s_keccak_wipe(struct l2s_keccak_state *st)
{
	l2s_wipe(st, sizeof(*st));
}

static void keccak_oneshot(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len,
			   unsigned int rate, uint8_t domain)
{
	struct l2s_keccak_state st;

	keccak_init(&st);
	keccak_absorb(&st, rate, in, in_len);
	keccak_finalize(&st, rate, domain);
	keccak_squeeze(&st, rate, out, out_len);
	/* The inputs are often secret (G, J, PRF in ML-KEM). */
	l2s_keccak_wipe(&st);
}

void l2s_sha3_256(uint8_t out[32], const uint8_t *in, size_t len)
{
	keccak_oneshot(out, 32, in, len, L2S_SHA3_256_RATE, SHA3_DOMAIN);
}

void l2s_sha3_512(uint8_t out[64], const uint8_t *in, size_t len)
{
	keccak_oneshot(out, 64, in, len, L2S_SHA3_512_RATE, SHA3_DOMAIN);
}

void l2s_shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	keccak_oneshot(out, out_len, in, in_len, L2S_SHAKE128_RATE, SHAKE_DOMAIN);
}

void l2s_shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len)
{
	keccak_oneshot(out, out_len, in, in_len, L2S_SHAKE256_RATE, SHAKE_DOMAIN);
}

void l2s_shake128_init(struct l2s_keccak_state *st)
{
	keccak_init(st);
}

void l2s_shake128_absorb(struct l2s_keccak_state *st, const uint8_t *in, size_t len)
{
	keccak_absorb(st, L2S_SHAKE128_RATE, in, len);
}

void l2s_shake128_finalize(struct l2s_keccak_state *st)
{
	keccak_finalize(st, L2S_SHAKE128_RATE, SHAKE_DOMAIN);
}

void l2s_shake128_squeeze(struct l2s_keccak_state *st, uint8_t *out, size_t len)
{
	keccak_squeeze(st, L2S_SHAKE128_RATE, out, len);
}

void l2s_shake256_init(struct l2s_keccak_state *st)
{
	keccak_init(st);
}

void l2s_shake256_absorb(struct l2s_keccak_state *st, const uint8_t *in, size_t len)
{
	keccak_absorb(st, L2S_SHAKE256_RATE, in, len);
}

void l2s_shake256_finalize(struct l2s_keccak_state *st)
{
	keccak_finalize(st, L2S_SHAKE256_RATE, SHAKE_DOMAIN);
}

void l2s_shake256_squeeze(struct l2s_keccak_state *st, uint8_t *out, size_t len)
{
	keccak_squeeze(st, L2S_SHAKE256_RATE, out, len);
}
