// SPDX-License-Identifier: Apache-2.0
/* Library start-up, the system CSPRNG and secret wiping (libsodium). */
#include <sodium.h>

#include "l2s.h"
#include "crypto/kem.h"

int l2s_init(void)
{
	/* sodium_init() returns 1 when already initialised: not an error. */
	if (sodium_init() < 0)
		return L2S_ERR_INIT;
	/* liboqs's start-up (OQS_init) and the ML-KEM provider for this CPU. */
	return l2s_kem_start();
}

void l2s_random(uint8_t *out, size_t len)
{
	randombytes_buf(out, len);
}

void l2s_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}
