// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness for l2s_decode_hs_resp (HANDSHAKE_RESP, §4.2):
 * any input is rejected, or accepted and re-encoded to the same bytes. */
#include <stdlib.h>

#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (rt_check(rt_hs_resp, data, size) == RT_FAILED)
		abort();
	return 0;
}
