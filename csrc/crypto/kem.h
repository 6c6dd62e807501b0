/* SPDX-License-Identifier: Apache-2.0 */
/* The ML-KEM-768 provider interface: the project's own code, and liboqs when
 * the build links it (cmake/liboqs.cmake); l2s_init() picks one. */
#ifndef L2S_KEM_H
#define L2S_KEM_H

#include "l2s.h"

struct l2s_mlkem_provider {
	/* What l2s_mlkem_provider() says: the code that runs, SIMD path included. */
	const char *name;
	/* 1 when encaps and decaps make the FIPS 203 §7.2 / §7.3 input checks
	 * themselves (returning L2S_ERR_INVALID_KEY), so kem.c need not repeat them. */
	int checks_keys;
	int (*keygen)(uint8_t ek[L2S_MLKEM768_EK_BYTES], uint8_t dk[L2S_MLKEM768_DK_BYTES],
		      const uint8_t d[L2S_MLKEM_SEED_BYTES], const uint8_t z[L2S_MLKEM_SEED_BYTES]);
	/* Unless checks_keys: ek has passed the FIPS 203 §7.2 check. */
	int (*encaps)(uint8_t ct[L2S_MLKEM768_CT_BYTES], uint8_t ss[L2S_MLKEM_SS_BYTES],
		      const uint8_t ek[L2S_MLKEM768_EK_BYTES], const uint8_t m[L2S_MLKEM_SEED_BYTES]);
	/* Unless checks_keys: dk has passed the FIPS 203 §7.3 check. */
	int (*decaps)(uint8_t ss[L2S_MLKEM_SS_BYTES], const uint8_t ct[L2S_MLKEM768_CT_BYTES],
		      const uint8_t dk[L2S_MLKEM768_DK_BYTES]);
};

extern const struct l2s_mlkem_provider l2s_mlkem_fips203_provider;

/* Called by l2s_init(): selects the provider the ML-KEM API uses. */
int l2s_kem_start(void);

#ifdef L2S_HAVE_LIBOQS
/* Initialises liboqs; returns its provider, or NULL when it should not be
 * used here (auto, and liboqs's SIMD code cannot run on this CPU). */
const struct l2s_mlkem_provider *l2s_mlkem_liboqs_start(void);
#endif

#endif /* L2S_KEM_H */
