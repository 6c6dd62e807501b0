/* SPDX-License-Identifier: Apache-2.0
 *
 * test_ct.c - constant-time check in the ctgrind style. Secret inputs are
 * marked undefined for valgrind's memcheck; memcheck then reports every
 * conditional branch and every memory address that depends on them. Run as
 * the ctest test_ct_valgrind (valgrind --error-exitcode=99 ...); run plainly
 * (test_ct) the client requests do nothing and this is a smoke test.
 *
 * Values that are public by construction (public keys, ciphertexts, return
 * codes that only report a failed public check) are declassified before
 * anything branches on them; each place says why. The library itself
 * declassifies the ML-KEM matrix seed rho and the encapsulation key it
 * generates (see csrc/crypto/ct.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HAVE_MEMCHECK 1
#endif
#endif
#ifndef HAVE_MEMCHECK
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#define RUNNING_ON_VALGRIND 0
#endif

#include "l2s.h"
#include "crypto/mlkem/mlkem.h"
#include "testutil.h"

#define SECRET(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#define PUBLIC(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))

#define EK_BYTES L2S_MLKEM768_EK_BYTES
#define DK_BYTES L2S_MLKEM768_DK_BYTES
#define CT_BYTES L2S_MLKEM768_CT_BYTES

/* The secret parts of dk: dk_pke (s) at the start and z at the end. The
 * middle (ek and H(ek)) is public. */
#define DK_PKE_BYTES (3 * 384)
#define DK_Z_OFFSET (DK_BYTES - 32)

static void secret_dk(uint8_t dk[DK_BYTES])
{
	SECRET(dk, DK_PKE_BYTES);
	SECRET(dk + DK_Z_OFFSET, 32);
	/* ek and H(ek) inside dk are public; decapsulation's §7.3 check
	 * branches on them. */
	PUBLIC(dk + DK_PKE_BYTES, DK_Z_OFFSET - DK_PKE_BYTES);
}

/* ML-KEM-768 through the internal functions and through l2s.h. */
static void ct_mlkem(int public_api)
{
	uint8_t d[32], z[32], m[32], ek[EK_BYTES], dk[DK_BYTES], ct[CT_BYTES];
	uint8_t ss[32], ss2[32], ss3[32];

	l2s_random(d, sizeof(d));
	l2s_random(z, sizeof(z));
	l2s_random(m, sizeof(m));
	SECRET(d, sizeof(d));
	SECRET(z, sizeof(z));
	SECRET(m, sizeof(m));

	if (public_api)
		CHECK(l2s_mlkem768_keygen_derand(ek, dk, d, z) == L2S_OK);
	else
		CHECK(l2s_fips203_keygen(ek, dk, d, z) == L2S_OK);
	/* ek is the public key output. */
	PUBLIC(ek, sizeof(ek));
	secret_dk(dk);

	if (public_api)
		CHECK(l2s_mlkem768_encaps_derand(ct, ss, ek, m) == L2S_OK);
	else
		CHECK(l2s_fips203_encaps(ct, ss, ek, m) == L2S_OK);
	/* The ciphertext is sent in the clear. */
	PUBLIC(ct, sizeof(ct));

	if (public_api)
		CHECK(l2s_mlkem768_decaps(ss2, ct, dk) == L2S_OK);
	else
		CHECK(l2s_fips203_decaps(ss2, ct, dk) == L2S_OK);

	/* Implicit rejection: a modified ciphertext takes the other branch of
	 * the selection, which must look the same to the checker. */
	ct[CT_BYTES / 2] ^= 0x10;
	if (public_api)
		CHECK(l2s_mlkem768_decaps(ss3, ct, dk) == L2S_OK);
	else
		CHECK(l2s_fips203_decaps(ss3, ct, dk) == L2S_OK);

	/* Only for this test's own verdict. */
	PUBLIC(ss, sizeof(ss));
	PUBLIC(ss2, sizeof(ss2));
	PUBLIC(ss3, sizeof(ss3));
	CHECK(memcmp(ss, ss2, sizeof(ss)) == 0);
	CHECK(memcmp(ss, ss3, sizeof(ss)) != 0);
}

/* Decapsulation with an externally made key: the ACVP vectors' dk. */
static void ct_mlkem_vectors(const char *dir)
{
	FILE *f = kv_open(dir, "mlkem_decaps.kv");
	struct kv_record r = { 0 };
	int n = 0;

	while (kv_next(f, &r)) {
		const struct kv_field *dkf = kv_get(&r, "dk"), *c = kv_get(&r, "c"), *k = kv_get(&r, "k");
		uint8_t dk[DK_BYTES], ss[32];

		if (dkf->len != DK_BYTES || c->len != CT_BYTES || k->len != 32) {
			CHECK(0);
			continue;
		}
		memcpy(dk, dkf->bytes, DK_BYTES);
		secret_dk(dk);
		CHECK(l2s_fips203_decaps(ss, c->bytes, dk) == L2S_OK);
		PUBLIC(ss, sizeof(ss)); /* verdict only */
		CHECK(memcmp(ss, k->bytes, 32) == 0);
		n++;
	}
	kv_clear(&r);
	fclose(f);
	kv_expect("mlkem_decaps.kv", n, KV_CASES_MLKEM_DECAPS);
}

static void ct_x25519(void)
{
	uint8_t sk_a[32], sk_b[32], pk_a[32], pk_b[32], ss_a[32], ss_b[32];

	l2s_random(sk_a, sizeof(sk_a));
	l2s_random(sk_b, sizeof(sk_b));
	SECRET(sk_a, sizeof(sk_a));
	SECRET(sk_b, sizeof(sk_b));

	CHECK(l2s_x25519_base(pk_a, sk_a) == L2S_OK);
	CHECK(l2s_x25519_base(pk_b, sk_b) == L2S_OK);
	/* Public keys. */
	PUBLIC(pk_a, sizeof(pk_a));
	PUBLIC(pk_b, sizeof(pk_b));

	/* The return code only says whether the (public) peer key has small
	 * order; l2s_x25519 declassifies it itself before branching. */
	CHECK(l2s_x25519(ss_a, sk_a, pk_b) == L2S_OK);
	CHECK(l2s_x25519(ss_b, sk_b, pk_a) == L2S_OK);

	PUBLIC(ss_a, sizeof(ss_a)); /* verdict only */
	PUBLIC(ss_b, sizeof(ss_b));
	CHECK(memcmp(ss_a, ss_b, sizeof(ss_a)) == 0);
}

static void ct_xwing(void)
{
	uint8_t seed[L2S_XWING_SK_BYTES], eseed[L2S_XWING_ESEED_BYTES];
	uint8_t pk[L2S_XWING_PK_BYTES], ct[L2S_XWING_CT_BYTES];
	uint8_t ss[L2S_XWING_SS_BYTES], ss2[L2S_XWING_SS_BYTES], ss3[L2S_XWING_SS_BYTES];

	l2s_random(seed, sizeof(seed));
	l2s_random(eseed, sizeof(eseed));
	SECRET(seed, sizeof(seed));
	SECRET(eseed, sizeof(eseed));

	CHECK(l2s_xwing_keygen_derand(pk, seed) == L2S_OK);
	/* The public key output. */
	PUBLIC(pk, sizeof(pk));

	CHECK(l2s_xwing_encaps_derand(ct, ss, pk, eseed) == L2S_OK);
	/* The ciphertext is sent in the clear. */
	PUBLIC(ct, sizeof(ct));

	CHECK(l2s_xwing_decaps(ss2, ct, seed) == L2S_OK);
	/* A modified ML-KEM part: implicit rejection inside X-Wing. */
	ct[100] ^= 0x01;
	CHECK(l2s_xwing_decaps(ss3, ct, seed) == L2S_OK);

	PUBLIC(ss, sizeof(ss)); /* verdict only */
	PUBLIC(ss2, sizeof(ss2));
	PUBLIC(ss3, sizeof(ss3));
	CHECK(memcmp(ss, ss2, sizeof(ss)) == 0);
	CHECK(memcmp(ss, ss3, sizeof(ss)) != 0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTOR_DIR\n", argv[0]);
		return 2;
	}
	CHECK(l2s_init() == L2S_OK);
#ifdef HAVE_MEMCHECK
	printf("test_ct: %s\n", RUNNING_ON_VALGRIND ? "under valgrind, checking constant time"
						    : "not under valgrind: smoke test only");
#else
	printf("test_ct: built without valgrind headers: smoke test only\n");
#endif
	printf("ML-KEM provider: %s\n", l2s_mlkem_provider());
	for (int i = 0; i < 2; i++) {
		ct_mlkem(0);
		ct_mlkem(1);
		ct_x25519();
		ct_xwing();
	}
	ct_mlkem_vectors(argv[1]);
	return tu_finish("test_ct");
}
