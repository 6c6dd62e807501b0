// SPDX-License-Identifier: Apache-2.0
/* Library start-up: libsodium, then the ML-KEM provider. A file of its own,
 * above kem.c, so that start-up calling the provider makes no loop with the
 * provider's own use of random.c. */
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
