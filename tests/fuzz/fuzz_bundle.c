// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness for l2s_decode_bundle (PREKEY_BUNDLE, §3):
 * any input is rejected, or accepted and re-encoded to the same bytes. */
#include <stdlib.h>

#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (rt_check(rt_bundle, data, size) == RT_FAILED)
		abort();
	return 0;
}
