// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness for the inbox's line reader (firmware/l2sessd/
 * inbox_marks.c): a line parses into a stream, a seq in 1 .. 2^64 - 1 and
 * a peer key of the right lengths, or is damage. */
#include <stdlib.h>
#include <string.h>

#include "inbox_marks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size ? size : 1);
	struct inbox_line l;

	if (!line)
		abort();
	memcpy(line, data, size);
	if (inbox_line_parse(line, size, &l) == 0 && (strlen(l.sid) != 32 || strlen(l.pk) != 64 || l.seq == 0))
		abort();
	free(line);
	return 0;
}
