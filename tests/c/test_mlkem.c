/* SPDX-License-Identifier: Apache-2.0
 *
 * test_mlkem.c - the project's FIPS 202 and FIPS 203 (ML-KEM-768) code:
 * NIST ACVP vectors through both the public l2s.h API and the internal
 * l2s_fips203_* functions, SHA-3/SHAKE known answers, the incremental SHAKE
 * API, the §7.2/§7.3 input checks (made once per call), random round trips,
 * and which provider runs (L2S_EXPECT_MLKEM_PROVIDER, set by make
 * liboqs-test, is the start of the name it must have).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l2s.h"
#include "crypto/fips202.h"
#include "crypto/mlkem/mlkem.h"
#include "testutil.h"

#define EK_BYTES L2S_MLKEM768_EK_BYTES
#define DK_BYTES L2S_MLKEM768_DK_BYTES
#define CT_BYTES L2S_MLKEM768_CT_BYTES
#define SS_BYTES L2S_MLKEM_SS_BYTES

static void unhex(uint8_t *out, const char *hex)
{
	for (size_t i = 0; hex[2 * i]; i++)
		out[i] = (uint8_t)(tu_hexval(hex[2 * i]) << 4 | tu_hexval(hex[2 * i + 1]));
}

/* A failed CHECK inside a vector loop marks the case failed. */
#define CASE_CHECK(cond)            \
	do {                        \
		int _ok = (cond);   \
		CHECK(_ok);         \
		pass &= _ok;        \
	} while (0)

static const uint8_t *field(const struct kv_record *r, const char *name, size_t len)
{
	const struct kv_field *f = kv_get(r, name);

	if (f->len != len) {
		fprintf(stderr, "field %s has %zu bytes, want %zu\n", name, f->len, len);
		exit(2);
	}
	return f->bytes;
}

static void report(const char *file, int passed, int total, int want)
{
	printf("%s: %d/%d passed\n", file, passed, total);
	kv_expect(file, total, want);
}

static void test_keygen_vectors(const char *dir)
{
	FILE *f = kv_open(dir, "mlkem_keygen.kv");
	struct kv_record r = { 0 };
	int total = 0, passed = 0;

	while (kv_next(f, &r)) {
		const uint8_t *d = field(&r, "d", 32), *z = field(&r, "z", 32);
		const uint8_t *ek = field(&r, "ek", EK_BYTES), *dk = field(&r, "dk", DK_BYTES);
		uint8_t ek1[EK_BYTES], dk1[DK_BYTES], ek2[EK_BYTES], dk2[DK_BYTES];
		int pass = 1;

		CASE_CHECK(l2s_fips203_keygen(ek1, dk1, d, z) == L2S_OK);
		CASE_CHECK(memcmp(ek1, ek, EK_BYTES) == 0);
		CASE_CHECK(memcmp(dk1, dk, DK_BYTES) == 0);
		CASE_CHECK(l2s_mlkem768_keygen_derand(ek2, dk2, d, z) == L2S_OK);
		CASE_CHECK(memcmp(ek2, ek, EK_BYTES) == 0);
		CASE_CHECK(memcmp(dk2, dk, DK_BYTES) == 0);
		CASE_CHECK(l2s_fips203_check_ek(ek) == L2S_OK);
		CASE_CHECK(l2s_fips203_check_dk(dk) == L2S_OK);
		total++;
		passed += pass;
	}
	kv_clear(&r);
	fclose(f);
	report("mlkem_keygen.kv", passed, total, KV_CASES_MLKEM_KEYGEN);
}

static void test_encaps_vectors(const char *dir)
{
	FILE *f = kv_open(dir, "mlkem_encaps.kv");
	struct kv_record r = { 0 };
	int total = 0, passed = 0;

	while (kv_next(f, &r)) {
		const uint8_t *ek = field(&r, "ek", EK_BYTES), *dk = field(&r, "dk", DK_BYTES);
		const uint8_t *m = field(&r, "m", 32), *c = field(&r, "c", CT_BYTES);
		const uint8_t *k = field(&r, "k", SS_BYTES);
		uint8_t ct[CT_BYTES], ss[SS_BYTES], ss2[SS_BYTES];
		int pass = 1;

		CASE_CHECK(l2s_fips203_encaps(ct, ss, ek, m) == L2S_OK);
		CASE_CHECK(memcmp(ct, c, CT_BYTES) == 0);
		CASE_CHECK(memcmp(ss, k, SS_BYTES) == 0);
		CASE_CHECK(l2s_fips203_decaps(ss2, c, dk) == L2S_OK);
		CASE_CHECK(memcmp(ss2, k, SS_BYTES) == 0);

		memset(ct, 0, sizeof(ct));
		memset(ss, 0, sizeof(ss));
		memset(ss2, 0, sizeof(ss2));
		CASE_CHECK(l2s_mlkem768_encaps_derand(ct, ss, ek, m) == L2S_OK);
		CASE_CHECK(memcmp(ct, c, CT_BYTES) == 0);
		CASE_CHECK(memcmp(ss, k, SS_BYTES) == 0);
		CASE_CHECK(l2s_mlkem768_decaps(ss2, c, dk) == L2S_OK);
		CASE_CHECK(memcmp(ss2, k, SS_BYTES) == 0);
		total++;
		passed += pass;
	}
	kv_clear(&r);
	fclose(f);
	report("mlkem_encaps.kv", passed, total, KV_CASES_MLKEM_ENCAPS);
}

static void test_decaps_vectors(const char *dir)
{
	FILE *f = kv_open(dir, "mlkem_decaps.kv");
	struct kv_record r = { 0 };
	int total = 0, passed = 0, modified = 0;

	while (kv_next(f, &r)) {
		const uint8_t *dk = field(&r, "dk", DK_BYTES), *c = field(&r, "c", CT_BYTES);
		const uint8_t *k = field(&r, "k", SS_BYTES);
		uint8_t ss[SS_BYTES], ss2[SS_BYTES];
		int pass = 1;

		modified += field(&r, "modified", 1)[0];
		CASE_CHECK(l2s_fips203_check_dk(dk) == L2S_OK);
		CASE_CHECK(l2s_fips203_decaps(ss, c, dk) == L2S_OK);
		CASE_CHECK(memcmp(ss, k, SS_BYTES) == 0);
		CASE_CHECK(l2s_mlkem768_decaps(ss2, c, dk) == L2S_OK);
		CASE_CHECK(memcmp(ss2, k, SS_BYTES) == 0);
		total++;
		passed += pass;
	}
	kv_clear(&r);
	fclose(f);
	report("mlkem_decaps.kv", passed, total, KV_CASES_MLKEM_DECAPS);
	/* The file must exercise implicit rejection: half its cases do. */
	CHECK(modified == 5);
}

/* ---- FIPS 202 ----------------------------------------------------------- */

struct sha3_kat {
	const char *name;
	const char *sha3_256, *sha3_512, *shake128, *shake256; /* SHAKE: first 32 bytes */
};

/* The 200-byte input is 200 bytes of 0xa3, as in NIST's SHA-3 examples. */
static const struct sha3_kat kats[] = {
	{ "empty",
	  "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
	  "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a6"
	  "15b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26",
	  "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26",
	  "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f" },
	{ "abc",
	  "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
	  "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e"
	  "10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
	  "5881092dd818bf5cf8a3ddb793fbcba74097d5c526a6d35f97b83351940f2cc8",
	  "483366601360a8771c6863080cc4114d8db44530f8f1e1ee4f94ea37e78b5739" },
	{ "200 x 0xa3",
	  "79f38adec5c20307a98ef76e8324afbfd46cfd81b22e3973c65fa1bd9de31787",
	  "e76dfad22084a8b1467fcf2ffa58361bec7628edf5f3fdc0e4805dc48caeeca8"
	  "1b7c13c30adf52a3659584739a2df46be589c51ca1a4a8416df6545a1ce8ba00",
	  "131ab8d2b594946b9c81333f9bb6e0ce75c3b93104fa3469d3917457385da037",
	  "cd8a920ed141aa0407a22d59288652e9d9f1a7ee0c1e7c1ca699424da84a904d" },
};

static void test_sha3_kats(void)
{
	uint8_t a3[200], out[64], want[64];
	int passed = 0;

	memset(a3, 0xa3, sizeof(a3));
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		const uint8_t *in = i == 0 ? (const uint8_t *)"" : i == 1 ? (const uint8_t *)"abc" : a3;
		size_t len = i == 0 ? 0 : i == 1 ? 3 : sizeof(a3);
		int pass = 1;

		l2s_sha3_256(out, in, len);
		unhex(want, kats[i].sha3_256);
		CASE_CHECK(memcmp(out, want, 32) == 0);
		l2s_sha3_512(out, in, len);
		unhex(want, kats[i].sha3_512);
		CASE_CHECK(memcmp(out, want, 64) == 0);
		l2s_shake128(out, 32, in, len);
		unhex(want, kats[i].shake128);
		CASE_CHECK(memcmp(out, want, 32) == 0);
		l2s_shake256(out, 32, in, len);
		unhex(want, kats[i].shake256);
		CASE_CHECK(memcmp(out, want, 32) == 0);
		if (!pass)
			fprintf(stderr, "SHA-3 known answer failed: %s\n", kats[i].name);
		passed += pass;
	}
	printf("sha3/shake known answers: %d/%zu passed\n", passed, sizeof(kats) / sizeof(kats[0]));
}

struct shake_api {
	void (*oneshot)(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len);
	void (*init)(struct l2s_keccak_state *st);
	void (*absorb)(struct l2s_keccak_state *st, const uint8_t *in, size_t len);
	void (*finalize)(struct l2s_keccak_state *st);
	void (*squeeze)(struct l2s_keccak_state *st, uint8_t *out, size_t len);
};

static const struct shake_api shakes[] = {
	{ l2s_shake128, l2s_shake128_init, l2s_shake128_absorb, l2s_shake128_finalize, l2s_shake128_squeeze },
	{ l2s_shake256, l2s_shake256_init, l2s_shake256_absorb, l2s_shake256_finalize, l2s_shake256_squeeze },
};

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Absorbing and squeezing in odd chunks must match the one-shot functions,
 * across block boundaries of both rates. */
static void test_shake_incremental(void)
{
	static const size_t chunks[] = { 1, 2, 3, 5, 7, 13, 31, 64, 135, 136, 137, 167, 168, 169, 300 };
	uint8_t in[1000], want[1000], got[1000];
	int passed = 0, total = 0;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 131 + 7);
	for (size_t w = 0; w < sizeof(shakes) / sizeof(shakes[0]); w++) {
		const struct shake_api *api = &shakes[w];

		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			size_t step = chunks[c], in_len = sizeof(in) - 3 * step;
			struct l2s_keccak_state st;
			int pass = 1;

			api->oneshot(want, sizeof(want), in, in_len);
			api->init(&st);
			for (size_t pos = 0; pos < in_len; pos += step)
				api->absorb(&st, in + pos, min_size(step, in_len - pos));
			api->finalize(&st);
			/* Squeeze in different chunks than absorbed. */
			for (size_t pos = 0; pos < sizeof(got); pos += step + 1)
				api->squeeze(&st, got + pos, min_size(step + 1, sizeof(got) - pos));
			CASE_CHECK(memcmp(got, want, sizeof(got)) == 0);
			total++;
			passed += pass;
		}
	}
	printf("shake incremental vs one-shot: %d/%d passed\n", passed, total);
}

/* ---- input checks ------------------------------------------------------- */

/* Sets 12-bit coefficient i of an encoded polynomial vector to v. */
static void set_coeff(uint8_t *enc, unsigned int i, unsigned int v)
{
	uint8_t *p = enc + 3 * (i / 2);

	if (i % 2 == 0) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)((p[1] & 0xf0) | (v >> 8));
	} else {
		p[1] = (uint8_t)((p[1] & 0x0f) | (v << 4));
		p[2] = (uint8_t)(v >> 4);
	}
}

static void test_key_checks(void)
{
	/* Coefficient indices 0..767 over the three polynomials: first, middle, last. */
	static const unsigned int positions[] = { 0, 1, 255, 256, 383, 384, 511, 512, 766, 767 };
	static const unsigned int bad_values[] = { 3329, 4095 };
	uint8_t d[32], z[32], ek[EK_BYTES], dk[DK_BYTES], bad[EK_BYTES], ct[CT_BYTES], ss[SS_BYTES];
	int passed = 0, total = 0;

	memset(d, 1, sizeof(d));
	memset(z, 2, sizeof(z));
	memset(ct, 0, sizeof(ct));
	CHECK(l2s_fips203_keygen(ek, dk, d, z) == L2S_OK);

	for (size_t p = 0; p < sizeof(positions) / sizeof(positions[0]); p++) {
		for (size_t v = 0; v < 2; v++) {
			int pass = 1;

			memcpy(bad, ek, sizeof(bad));
			set_coeff(bad, positions[p], bad_values[v]);
			CASE_CHECK(l2s_fips203_check_ek(bad) == L2S_ERR_INVALID_KEY);
			CASE_CHECK(l2s_mlkem768_check_ek(bad) == L2S_ERR_INVALID_KEY);
			CASE_CHECK(l2s_mlkem768_encaps(ct, ss, bad) == L2S_ERR_INVALID_KEY);
			/* q - 1 is the largest valid coefficient. */
			set_coeff(bad, positions[p], 3328);
			CASE_CHECK(l2s_fips203_check_ek(bad) == L2S_OK);
			CASE_CHECK(l2s_mlkem768_check_ek(bad) == L2S_OK);
			total++;
			passed += pass;
		}
	}
	/* rho is not checked: any value is valid. */
	memcpy(bad, ek, sizeof(bad));
	memset(bad + EK_BYTES - 32, 0xff, 32);
	CHECK(l2s_fips203_check_ek(bad) == L2S_OK);

	/* dk: flipping a bit of ek inside dk, or of H(ek), breaks the hash
	 * check; flipping a bit of s or z does not (they are not covered). */
	{
		static const size_t flip_bad[] = { 1152, 1152 + 600, 2335, 2336, 2367 };
		static const size_t flip_ok[] = { 0, 1151, 2368, 2399 };
		uint8_t dk2[DK_BYTES];

		for (size_t i = 0; i < sizeof(flip_bad) / sizeof(flip_bad[0]); i++) {
			int pass = 1;

			memcpy(dk2, dk, sizeof(dk2));
			dk2[flip_bad[i]] ^= 0x01;
			CASE_CHECK(l2s_fips203_check_dk(dk2) == L2S_ERR_INVALID_KEY);
			CASE_CHECK(l2s_mlkem768_check_dk(dk2) == L2S_ERR_INVALID_KEY);
			CASE_CHECK(l2s_mlkem768_decaps(ss, ct, dk2) == L2S_ERR_INVALID_KEY);
			total++;
			passed += pass;
		}
		for (size_t i = 0; i < sizeof(flip_ok) / sizeof(flip_ok[0]); i++) {
			int pass = 1;

			memcpy(dk2, dk, sizeof(dk2));
			dk2[flip_ok[i]] ^= 0x01;
			CASE_CHECK(l2s_fips203_check_dk(dk2) == L2S_OK);
			CASE_CHECK(l2s_mlkem768_check_dk(dk2) == L2S_OK);
			total++;
			passed += pass;
		}
	}
	printf("ek/dk input checks: %d/%d passed\n", passed, total);
}

/* ---- arithmetic and compression, exhaustively --------------------------- */

static int mod_q(int x)
{
	return ((x % 3329) + 3329) % 3329;
}

/* Reference Compress_d with a plain division (test code: timing is moot). */
static unsigned int ref_compress(int x, unsigned int d)
{
	return (unsigned int)(((mod_q(x) << d) + 1664) / 3329) & ((1u << d) - 1);
}

static unsigned int get_bits(const uint8_t *p, unsigned int i, unsigned int d)
{
	unsigned int v = 0;

	for (unsigned int b = 0; b < d; b++)
		v |= (unsigned int)((p[(i * d + b) / 8] >> ((i * d + b) % 8)) & 1) << b;
	return v;
}

static void test_arithmetic(void)
{
	struct mlkem_poly a;
	uint8_t du[320], dv[128], msg[32];
	int bad = 0;

	for (int x = -32768; x <= 32767; x++) {
		int16_t r = mlkem_barrett_reduce16((int16_t)x);

		bad |= r != mlkem_barrett_reduce(x) || mod_q(r) != mod_q(x) || r < -1664 || r > 1664;
		bad |= mlkem_canonical((int16_t)x) != mod_q(x);
	}
	CHECK(!bad);
	/* fqmul(a, b) = a b R^-1 mod q (R^-1 = 169 mod q), in (-q, q). */
	for (int x = -32768; x <= 32767; x += 7) {
		for (int y = -1664; y <= 1664; y += 97) {
			int16_t r = mlkem_fqmul((int16_t)x, (int16_t)y);

			bad |= mod_q(r) != mod_q((int)(((int64_t)x * y % 3329) * 169 % 3329));
			bad |= r <= -3329 || r >= 3329;
			bad |= r != mlkem_montgomery_reduce((int32_t)x * y);
		}
	}
	CHECK(!bad);
	/* Compress_10, Compress_4 and Compress_1 for every residue, each given
	 * in three representatives (x, x - q, x + q) as lazy reduction may. */
	for (int base = 0; base < 3329; base += 256) {
		for (int shift = -3329; shift <= 3329; shift += 3329) {
			for (unsigned int i = 0; i < 256; i++)
				a.c[i] = (int16_t)((base + (int)i) % 3329 + shift);
			mlkem_poly_compress_du(du, &a);
			mlkem_poly_compress_dv(dv, &a);
			mlkem_poly_to_msg(msg, &a);
			for (unsigned int i = 0; i < 256; i++) {
				bad |= get_bits(du, i, 10) != ref_compress(a.c[i], 10);
				bad |= get_bits(dv, i, 4) != ref_compress(a.c[i], 4);
				bad |= get_bits(msg, i, 1) != ref_compress(a.c[i], 1);
			}
		}
	}
	CHECK(!bad);
	/* Decompress_d(y) = round(q y / 2^d) for every y. */
	for (unsigned int round = 0; round < 4; round++) {
		memset(du, 0, sizeof(du));
		for (unsigned int i = 0; i < 256; i++)
			for (unsigned int b = 0; b < 10; b++)
				du[(i * 10 + b) / 8] |=
					(uint8_t)((((256 * round + i) >> b) & 1) << ((i * 10 + b) % 8));
		mlkem_poly_decompress_du(&a, du);
		for (unsigned int i = 0; i < 256; i++)
			bad |= a.c[i] != (int)((3329 * (256 * round + i) + 512) / 1024);
	}
	for (unsigned int y = 0; y < 256; y++) {
		memset(dv, (int)y, sizeof(dv));
		mlkem_poly_decompress_dv(&a, dv);
		bad |= a.c[0] != (int)((3329 * (y & 15) + 8) / 16);
		bad |= a.c[1] != (int)((3329 * (y >> 4) + 8) / 16);
	}
	CHECK(!bad);
	printf("arithmetic and compression, exhaustive: %s\n", bad ? "FAILED" : "passed");
}

/* ---- round trips -------------------------------------------------------- */

static void test_round_trips(void)
{
	int passed = 0, total = 64;

	for (int i = 0; i < total; i++) {
		uint8_t ek[EK_BYTES], dk[DK_BYTES], ct[CT_BYTES], ss[SS_BYTES], ss2[SS_BYTES];
		uint8_t d[32], z[32], m[32], ss3[SS_BYTES];
		int pass = 1;

		if (i % 2 == 0) {
			CASE_CHECK(l2s_mlkem768_keygen(ek, dk) == L2S_OK);
			CASE_CHECK(l2s_mlkem768_encaps(ct, ss, ek) == L2S_OK);
		} else {
			l2s_random(d, sizeof(d));
			l2s_random(z, sizeof(z));
			l2s_random(m, sizeof(m));
			CASE_CHECK(l2s_fips203_keygen(ek, dk, d, z) == L2S_OK);
			CASE_CHECK(l2s_fips203_check_ek(ek) == L2S_OK);
			CASE_CHECK(l2s_fips203_encaps(ct, ss, ek, m) == L2S_OK);
		}
		CASE_CHECK(l2s_fips203_check_dk(dk) == L2S_OK);
		CASE_CHECK(l2s_fips203_decaps(ss2, ct, dk) == L2S_OK);
		CASE_CHECK(memcmp(ss, ss2, SS_BYTES) == 0);
		CASE_CHECK(l2s_mlkem768_decaps(ss2, ct, dk) == L2S_OK);
		CASE_CHECK(memcmp(ss, ss2, SS_BYTES) == 0);

		/* A modified ciphertext gives J(z || c'), not an error. */
		ct[i * 17 % CT_BYTES] ^= (uint8_t)(1u << (i % 8));
		CASE_CHECK(l2s_fips203_decaps(ss2, ct, dk) == L2S_OK);
		CASE_CHECK(memcmp(ss, ss2, SS_BYTES) != 0);
		{
			uint8_t zc[32 + CT_BYTES];

			memcpy(zc, dk + DK_BYTES - 32, 32);
			memcpy(zc + 32, ct, CT_BYTES);
			l2s_shake256(ss3, sizeof(ss3), zc, sizeof(zc));
			CASE_CHECK(memcmp(ss2, ss3, SS_BYTES) == 0);
		}
		passed += pass;
	}
	printf("round trips: %d/%d passed\n", passed, total);
	CHECK(strcmp(l2s_mlkem_provider(), "") != 0);
}

/* The own §7.2 / §7.3 checks, counted (linked with --wrap). */
static int own_checks;
int __real_l2s_fips203_check_ek(const uint8_t ek[EK_BYTES]);
int __real_l2s_fips203_check_dk(const uint8_t dk[DK_BYTES]);
int __wrap_l2s_fips203_check_ek(const uint8_t ek[EK_BYTES]);
int __wrap_l2s_fips203_check_dk(const uint8_t dk[DK_BYTES]);

int __wrap_l2s_fips203_check_ek(const uint8_t ek[EK_BYTES])
{
	own_checks++;
	return __real_l2s_fips203_check_ek(ek);
}

int __wrap_l2s_fips203_check_dk(const uint8_t dk[DK_BYTES])
{
	own_checks++;
	return __real_l2s_fips203_check_dk(dk);
}

/* A provider that checks keys itself (liboqs) must not pay for the own
 * check as well (decapsulation was 27 % slower with both); the own code
 * checks once. */
static void test_checks_once(void)
{
	uint8_t d[32] = { 1 }, z[32] = { 2 }, m[32] = { 3 }, ek[EK_BYTES], dk[DK_BYTES], ct[CT_BYTES];
	uint8_t ss[SS_BYTES], ss2[SS_BYTES];
	int own = strncmp(l2s_mlkem_provider(), "liboqs", 6) != 0;

	CHECK(l2s_mlkem768_keygen_derand(ek, dk, d, z) == L2S_OK);
	own_checks = 0;
	CHECK(l2s_mlkem768_encaps_derand(ct, ss, ek, m) == L2S_OK);
	CHECK(own_checks == own);
	own_checks = 0;
	CHECK(l2s_mlkem768_decaps(ss2, ct, dk) == L2S_OK);
	CHECK(own_checks == own);
	CHECK(memcmp(ss, ss2, SS_BYTES) == 0);
}

static void test_expected_provider(void)
{
	const char *want = getenv("L2S_EXPECT_MLKEM_PROVIDER");

	printf("provider behind l2s.h: %s\n", l2s_mlkem_provider());
	if (want && *want) {
		printf("expected: %s...\n", want);
		CHECK(strncmp(l2s_mlkem_provider(), want, strlen(want)) == 0);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTOR_DIR\n", argv[0]);
		return 2;
	}
	CHECK(l2s_init() == L2S_OK);
	test_sha3_kats();
	test_shake_incremental();
	test_keygen_vectors(argv[1]);
	test_encaps_vectors(argv[1]);
	test_decaps_vectors(argv[1]);
	test_key_checks();
	test_arithmetic();
	test_round_trips();
	test_checks_once();
	test_expected_provider();
	return tu_finish("test_mlkem");
}
