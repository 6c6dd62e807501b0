/* SPDX-License-Identifier: Apache-2.0 */
/* The ML-KEM-768 provider interface: one implementation is compiled in. */
#ifndef L2S_KEM_H
#define L2S_KEM_H

#include "l2s.h"

struct l2s_mlkem_provider {
	const char *name;
	int (*keygen)(uint8_t ek[L2S_MLKEM768_EK_BYTES], uint8_t dk[L2S_MLKEM768_DK_BYTES],
		      const uint8_t d[L2S_MLKEM_SEED_BYTES], const uint8_t z[L2S_MLKEM_SEED_BYTES]);
	/* ek has passed the FIPS 203 §7.2 check. */
	int (*encaps)(uint8_t ct[L2S_MLKEM768_CT_BYTES], uint8_t ss[L2S_MLKEM_SS_BYTES],
		      const uint8_t ek[L2S_MLKEM768_EK_BYTES], const uint8_t m[L2S_MLKEM_SEED_BYTES]);
	/* dk has passed the FIPS 203 §7.3 check. */
	int (*decaps)(uint8_t ss[L2S_MLKEM_SS_BYTES], const uint8_t ct[L2S_MLKEM768_CT_BYTES],
		      const uint8_t dk[L2S_MLKEM768_DK_BYTES]);
};

extern const struct l2s_mlkem_provider l2s_mlkem_fips203_provider;
#ifdef L2S_HAVE_LIBOQS
extern const struct l2s_mlkem_provider l2s_mlkem_liboqs_provider;
#endif

#endif /* L2S_KEM_H */
