// SPDX-License-Identifier: Apache-2.0
/* X-Wing (draft-connolly-cfrg-xwing-kem-10) vectors and failure cases. */
#include <string.h>

#include "l2s.h"
#include "testutil.h"

#define F(r, n) (kv_get((r), (n))->bytes)

int main(int argc, char **argv)
{
	struct kv_record r = { 0 };
	uint8_t pk[L2S_XWING_PK_BYTES], ct[L2S_XWING_CT_BYTES], ss[32], ss2[32], sk[32];
	FILE *f;
	int n = 0;

	if (argc != 2 || l2s_init() != L2S_OK)
		return 2;
	f = kv_open(argv[1], "xwing.kv");
	while (kv_next(f, &r)) {
		CHECK_MEM(F(&r, "sk"), F(&r, "seed"), 32);
		CHECK(l2s_xwing_keygen_derand(pk, F(&r, "seed")) == L2S_OK);
		CHECK_MEM(pk, F(&r, "pk"), sizeof(pk));
		CHECK(l2s_xwing_encaps_derand(ct, ss, F(&r, "pk"), F(&r, "eseed")) == L2S_OK);
		CHECK_MEM(ct, F(&r, "ct"), sizeof(ct));
		CHECK_MEM(ss, F(&r, "ss"), 32);
		CHECK(l2s_xwing_decaps(ss2, F(&r, "ct"), F(&r, "sk")) == L2S_OK);
		CHECK_MEM(ss2, F(&r, "ss"), 32);
		n++;
	}
	fclose(f);
	kv_clear(&r);
	printf("xwing.kv: %d vectors\n", n);
	kv_expect("xwing.kv", n, KV_CASES_XWING);

	/* Random round trip; a flipped bit in either half changes the secret. */
	CHECK(l2s_xwing_keygen(pk, sk) == L2S_OK);
	CHECK(l2s_xwing_encaps(ct, ss, pk) == L2S_OK);
	CHECK(l2s_xwing_decaps(ss2, ct, sk) == L2S_OK);
	CHECK_MEM(ss, ss2, 32);
	ct[10] ^= 1;
	CHECK(l2s_xwing_decaps(ss2, ct, sk) == L2S_OK);
	CHECK(memcmp(ss, ss2, 32) != 0);
	ct[10] ^= 1;
	ct[L2S_XWING_CT_BYTES - 1] ^= 1;
	CHECK(l2s_xwing_decaps(ss2, ct, sk) == L2S_OK);
	CHECK(memcmp(ss, ss2, 32) != 0);
	/* An ML-KEM half with a coefficient >= q fails the §7.2 check. */
	pk[0] = 0xff;
	pk[1] |= 0x0f;
	CHECK(l2s_xwing_encaps(ct, ss, pk) == L2S_ERR_INVALID_KEY);
	return tu_finish("test_xwing");
}
