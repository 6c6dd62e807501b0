// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness for l2s_decode_resume_resp (RESUME_RESP, §8):
 * any input is rejected, or accepted and re-encoded to the same bytes. */
#include <stdlib.h>

#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (rt_check(rt_resume_resp, data, size) == RT_FAILED)
		abort();
	return 0;
}
