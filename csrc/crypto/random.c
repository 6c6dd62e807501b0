// SPDX-License-Identifier: Apache-2.0
/* Library start-up, the system CSPRNG and secret wiping, all from libsodium. */
#include <sodium.h>

#include "l2s.h"

int l2s_init(void)
{
	/* sodium_init() returns 1 when already initialised: not an error. */
	return sodium_init() < 0 ? L2S_ERR_INIT : L2S_OK;
}

void l2s_random(uint8_t *out, size_t len)
{
	randombytes_buf(out, len);
}

void l2s_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}
