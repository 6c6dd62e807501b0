// SPDX-License-Identifier: Apache-2.0
/* X-Wing hybrid KEM, draft-connolly-cfrg-xwing-kem-10: ML-KEM-768 + X25519
 * with a SHA3-256 combiner. The secret key is the 32-byte seed; the ML-KEM
 * and X25519 keys are expanded from it with SHAKE256 (l2s_xwing_expand), and
 * callers that decapsulate more than once keep the expanded form (xwing.h). */
#include <sodium.h>
#include <string.h>

#include "crypto/fips202.h"
#include "l2s.h"
#include "crypto/xwing.h"

#define XWING_LABEL "\\.//^\\"
#define XWING_LABEL_BYTES 6

/* GenerateKeyPairDerand steps 1-3: SHAKE256(seed, 96 bytes) = d || z || sk_x. */
int l2s_xwing_expand(struct l2s_xwing_secret *x, const uint8_t seed[L2S_XWING_SK_BYTES])
{
	uint8_t expanded[96], ek[L2S_MLKEM768_EK_BYTES];
	int ret;

	l2s_shake256(expanded, sizeof(expanded), seed, L2S_XWING_SK_BYTES);
	/* ek is also stored inside dk_m; l2s_xwing_public() reads it there. */
	ret = l2s_mlkem768_keygen_derand(ek, x->dk_m, expanded, expanded + 32);
	memcpy(x->sk_x, expanded + 64, L2S_X25519_BYTES);
	l2s_wipe(expanded, sizeof(expanded));
	if (ret == L2S_OK)
		ret = l2s_x25519_base(x->pk_x, x->sk_x);
	if (ret != L2S_OK)
		l2s_xwing_secret_wipe(x);
	return ret;
}

void l2s_xwing_public(uint8_t pk[L2S_XWING_PK_BYTES], const struct l2s_xwing_secret *x)
{
	memcpy(pk, x->dk_m + L2S_MLKEM768_DK_EK_OFF, L2S_MLKEM768_EK_BYTES);
	memcpy(pk + L2S_MLKEM768_EK_BYTES, x->pk_x, L2S_X25519_BYTES);
}

void l2s_xwing_secret_wipe(struct l2s_xwing_secret *x)
{
	l2s_wipe(x, sizeof(*x));
}

/* X25519 exactly as the draft uses it: no all-zero rejection, since the
 * combiner binds ct_x and pk_x and ML-KEM carries the security if the X25519
 * half is degenerate. Pre-zeroing makes a refused small-order point yield the
 * all-zero value the plain function would, without a secret-dependent branch. */
static void x25519_raw(uint8_t out[L2S_X25519_BYTES], const uint8_t sk[L2S_X25519_BYTES],
		       const uint8_t pk[L2S_X25519_BYTES])
{
	int refused;

	memset(out, 0, L2S_X25519_BYTES);
	refused = crypto_scalarmult_curve25519(out, sk, pk);
	(void)refused;
}

static void combine(uint8_t ss[L2S_XWING_SS_BYTES], const uint8_t ss_m[L2S_MLKEM_SS_BYTES],
		    const uint8_t ss_x[L2S_X25519_BYTES], const uint8_t ct_x[L2S_X25519_BYTES],
		    const uint8_t pk_x[L2S_X25519_BYTES])
{
	uint8_t in[4 * 32 + XWING_LABEL_BYTES];

	memcpy(in, ss_m, 32);
	memcpy(in + 32, ss_x, 32);
	memcpy(in + 64, ct_x, 32);
	memcpy(in + 96, pk_x, 32);
	memcpy(in + 128, XWING_LABEL, XWING_LABEL_BYTES);
	l2s_sha3_256(ss, in, sizeof(in));
	l2s_wipe(in, sizeof(in));
}

int l2s_xwing_keygen_derand(uint8_t pk[L2S_XWING_PK_BYTES], const uint8_t sk[L2S_XWING_SK_BYTES])
{
	struct l2s_xwing_secret x;
	int ret = l2s_xwing_expand(&x, sk);

	if (ret == L2S_OK)
		l2s_xwing_public(pk, &x);
	l2s_xwing_secret_wipe(&x);
	return ret;
}

int l2s_xwing_keygen(uint8_t pk[L2S_XWING_PK_BYTES], uint8_t sk[L2S_XWING_SK_BYTES])
{
	l2s_random(sk, L2S_XWING_SK_BYTES);
	return l2s_xwing_keygen_derand(pk, sk);
}

int l2s_xwing_encaps_derand(uint8_t ct[L2S_XWING_CT_BYTES], uint8_t ss[L2S_XWING_SS_BYTES],
			    const uint8_t pk[L2S_XWING_PK_BYTES], const uint8_t eseed[L2S_XWING_ESEED_BYTES])
{
	const uint8_t *pk_x = pk + L2S_MLKEM768_EK_BYTES;
	const uint8_t *ek_x = eseed + 32;
	uint8_t ss_m[L2S_MLKEM_SS_BYTES], ss_x[L2S_X25519_BYTES];
	uint8_t *ct_x = ct + L2S_MLKEM768_CT_BYTES;
	int ret;

	/* Includes the mandatory FIPS 203 §7.2 check of pk_M. */
	ret = l2s_mlkem768_encaps_derand(ct, ss_m, pk, eseed);
	if (ret == L2S_OK)
		ret = l2s_x25519_base(ct_x, ek_x);
	if (ret == L2S_OK) {
		x25519_raw(ss_x, ek_x, pk_x);
		combine(ss, ss_m, ss_x, ct_x, pk_x);
	}
	l2s_wipe(ss_m, sizeof(ss_m));
	l2s_wipe(ss_x, sizeof(ss_x));
	return ret;
}

int l2s_xwing_encaps(uint8_t ct[L2S_XWING_CT_BYTES], uint8_t ss[L2S_XWING_SS_BYTES],
		     const uint8_t pk[L2S_XWING_PK_BYTES])
{
	uint8_t eseed[L2S_XWING_ESEED_BYTES];
	int ret;

	l2s_random(eseed, sizeof(eseed));
	ret = l2s_xwing_encaps_derand(ct, ss, pk, eseed);
	l2s_wipe(eseed, sizeof(eseed));
	return ret;
}

int l2s_xwing_decaps_expanded(uint8_t ss[L2S_XWING_SS_BYTES], const uint8_t ct[L2S_XWING_CT_BYTES],
			      const struct l2s_xwing_secret *x)
{
	const uint8_t *ct_x = ct + L2S_MLKEM768_CT_BYTES;
	uint8_t ss_m[L2S_MLKEM_SS_BYTES], ss_x[L2S_X25519_BYTES];
	int ret = l2s_mlkem768_decaps(ss_m, ct, x->dk_m);

	if (ret == L2S_OK) {
		x25519_raw(ss_x, x->sk_x, ct_x);
		combine(ss, ss_m, ss_x, ct_x, x->pk_x);
	}
	l2s_wipe(ss_m, sizeof(ss_m));
	l2s_wipe(ss_x, sizeof(ss_x));
	return ret;
}

int l2s_xwing_decaps(uint8_t ss[L2S_XWING_SS_BYTES], const uint8_t ct[L2S_XWING_CT_BYTES],
		     const uint8_t sk[L2S_XWING_SK_BYTES])
{
	struct l2s_xwing_secret x;
	int ret = l2s_xwing_expand(&x, sk);

	if (ret == L2S_OK)
		ret = l2s_xwing_decaps_expanded(ss, ct, &x);
	l2s_xwing_secret_wipe(&x);
	return ret;
}
