// SPDX-License-Identifier: Apache-2.0
/* RFC 7748 / 8032 / 8439 and BLAKE3 official vectors against the C core. */
#include <string.h>

#include "l2s.h"
#include "testutil.h"

#define F(r, n) (kv_get((r), (n))->bytes)
#define FLEN(r, n) (kv_get((r), (n))->len)

static void test_x25519(const char *dir)
{
	struct kv_record r = { 0 };
	FILE *f = kv_open(dir, "x25519.kv");
	uint8_t out[32];
	int n = 0, cases = 0;

	while (kv_next(f, &r)) {
		CHECK(l2s_x25519(out, F(&r, "scalar"), F(&r, "u")) == L2S_OK);
		CHECK_MEM(out, F(&r, "output"), 32);
		n++;
		cases++;
	}
	fclose(f);
	kv_expect("x25519.kv", cases, KV_CASES_X25519);
	f = kv_open(dir, "x25519_iterated.kv");
	cases = 0;
	while (kv_next(f, &r)) {
		uint8_t k[32], u[32];
		uint64_t iters = kv_u64(&r, "iterations");

		cases++; /* counted whether or not it runs below */
		/* The million-iteration case takes ~35 s natively and far longer
		 * under qemu or the sanitizers: only the native run (make ctest
		 * sets L2S_FULL_VECTORS) does it; 1 and 1000 check the rest. */
		if (iters > 1000 && !getenv("L2S_FULL_VECTORS"))
			continue;
		memcpy(k, F(&r, "initial_k"), 32);
		memcpy(u, F(&r, "initial_u"), 32);
		for (uint64_t i = 0; i < iters; i++) {
			CHECK(l2s_x25519(out, k, u) == L2S_OK);
			memcpy(u, k, 32);
			memcpy(k, out, 32);
		}
		CHECK_MEM(k, F(&r, "result"), 32);
		n++;
	}
	fclose(f);
	kv_expect("x25519_iterated.kv", cases, KV_CASES_X25519_ITERATED);
	f = kv_open(dir, "x25519_dh.kv");
	cases = 0;
	while (kv_next(f, &r)) {
		uint8_t pk[32];

		CHECK(l2s_x25519_base(pk, F(&r, "alice_private")) == L2S_OK);
		CHECK_MEM(pk, F(&r, "alice_public"), 32);
		CHECK(l2s_x25519_base(pk, F(&r, "bob_private")) == L2S_OK);
		CHECK_MEM(pk, F(&r, "bob_public"), 32);
		CHECK(l2s_x25519(out, F(&r, "alice_private"), F(&r, "bob_public")) == L2S_OK);
		CHECK_MEM(out, F(&r, "shared_secret"), 32);
		CHECK(l2s_x25519(out, F(&r, "bob_private"), F(&r, "alice_public")) == L2S_OK);
		CHECK_MEM(out, F(&r, "shared_secret"), 32);
		n++;
		cases++;
	}
	fclose(f);
	kv_expect("x25519_dh.kv", cases, KV_CASES_X25519_DH);
	/* A small-order peer key (u = 0) must be refused, not yield zeros. */
	{
		uint8_t zero[32] = { 0 }, sk[32];

		memset(sk, 0x42, sizeof(sk));
		CHECK(l2s_x25519(out, sk, zero) == L2S_ERR_INVALID_KEY);
	}
	kv_clear(&r);
	printf("x25519: %d vectors\n", n);
}

static void test_ed25519(const char *dir)
{
	struct kv_record r = { 0 };
	FILE *f = kv_open(dir, "ed25519.kv");
	int n = 0;

	while (kv_next(f, &r)) {
		uint8_t pk[32], sk[64], sig[64];
		const uint8_t *msg = F(&r, "message");
		size_t len = FLEN(&r, "message");

		CHECK(l2s_ed25519_seed_keypair(pk, sk, F(&r, "secret_key")) == L2S_OK);
		CHECK_MEM(pk, F(&r, "public_key"), 32);
		CHECK(l2s_ed25519_sign(sig, msg, len, sk) == L2S_OK);
		CHECK_MEM(sig, F(&r, "signature"), 64);
		CHECK(l2s_ed25519_verify(sig, msg, len, pk) == L2S_OK);
		sig[n % 64] ^= 1;
		CHECK(l2s_ed25519_verify(sig, msg, len, pk) == L2S_ERR_AUTH);
		n++;
	}
	fclose(f);
	kv_clear(&r);
	printf("ed25519: %d vectors\n", n);
	kv_expect("ed25519.kv", n, KV_CASES_ED25519);
}

static void test_aead(const char *dir)
{
	struct kv_record r = { 0 };
	FILE *f = kv_open(dir, "aead.kv");
	int n = 0;

	while (kv_next(f, &r)) {
		size_t len = FLEN(&r, "plaintext"), alen = FLEN(&r, "aad");
		uint8_t *ct = malloc(len + 16), *pt = malloc(len + 1);
		const uint8_t *key = F(&r, "key"), *nonce = F(&r, "nonce"), *aad = F(&r, "aad");

		CHECK(l2s_aead_encrypt(ct, F(&r, "plaintext"), len, aad, alen, nonce, key) == L2S_OK);
		CHECK_MEM(ct, F(&r, "ciphertext"), len);
		CHECK_MEM(ct + len, F(&r, "tag"), 16);
		CHECK(l2s_aead_decrypt(pt, ct, len + 16, aad, alen, nonce, key) == L2S_OK);
		CHECK_MEM(pt, F(&r, "plaintext"), len);
		ct[len + 15] ^= 0x80;
		CHECK(l2s_aead_decrypt(pt, ct, len + 16, aad, alen, nonce, key) == L2S_ERR_AUTH);
		CHECK(l2s_aead_decrypt(pt, ct, 15, aad, alen, nonce, key) == L2S_ERR_LENGTH);
		free(ct);
		free(pt);
		n++;
	}
	fclose(f);
	kv_clear(&r);
	printf("chacha20-poly1305: %d vectors\n", n);
	kv_expect("aead.kv", n, KV_CASES_AEAD);
}

static void test_blake3(const char *dir)
{
	struct kv_record r = { 0 };
	FILE *f = kv_open(dir, "blake3.kv");
	uint8_t input[102400], out[131];
	int n = 0;

	for (size_t i = 0; i < sizeof(input); i++)
		input[i] = (uint8_t)(i % 251);
	while (kv_next(f, &r)) {
		size_t len = (size_t)kv_u64(&r, "input_len");
		size_t xlen = FLEN(&r, "hash");

		CHECK(len <= sizeof(input) && xlen <= sizeof(out));
		/* Every prefix length of the extended output. */
		for (size_t o = 1; o <= xlen; o += (o < 40 ? 1 : 13)) {
			l2s_blake3(out, o, input, len);
			CHECK_MEM(out, F(&r, "hash"), o);
		}
		l2s_blake3_keyed(out, xlen, F(&r, "key"), input, len);
		CHECK_MEM(out, F(&r, "keyed_hash"), xlen);
		l2s_blake3_derive_key(out, xlen, (const char *)F(&r, "context"), FLEN(&r, "context"), input, len);
		CHECK_MEM(out, F(&r, "derive_key"), xlen);
		n++;
	}
	fclose(f);
	kv_clear(&r);
	printf("blake3 (%s): %d vectors\n", l2s_blake3_backend(), n);
	kv_expect("blake3.kv", n, KV_CASES_BLAKE3);
}

int main(int argc, char **argv)
{
	if (argc != 2 || l2s_init() != L2S_OK)
		return 2;
	test_x25519(argv[1]);
	test_ed25519(argv[1]);
	test_aead(argv[1]);
	test_blake3(argv[1]);
	return tu_finish("test_classic");
}
