// SPDX-License-Identifier: Apache-2.0
/* The system CSPRNG and secret wiping (libsodium). */
#include <sodium.h>

#include "l2s.h"

void l2s_random(uint8_t *out, size_t len)
{
	randombytes_buf(out, len);
}

void l2s_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}
