// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness for the discovery codecs (DISCOVERY_PROBE and
 * DISCOVERY_ANSWER, §11): each decoder rejects the input, or accepts it and
 * re-encodes it to the same bytes. Both run on every input. */
#include <stdlib.h>

#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (rt_check(rt_disc_probe, data, size) == RT_FAILED)
		abort();
	if (rt_check(rt_disc_answer, data, size) == RT_FAILED)
		abort();
	return 0;
}
