// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness for the session engine: node A, with one session
 * established to node B by a real handshake, receives the messages, frames,
 * ticks and API calls the input describes (tests/fuzz/node_fixture.h gives
 * the record format). It must never crash, leak, leave the transition table
 * or emit a malformed message. Seeds: tests/fuzz/make_node_corpus.c. */
#include "node_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nf_run(data, size);
	return 0;
}
