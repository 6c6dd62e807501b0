// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness for l2sessd's JSON reader (firmware/l2sessd/json.c,
 * the control socket's requests): refused, or read into whole members. */
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object o;
	size_t i, j;

	if (json_parse_object((const char *)data, size, &o))
		return 0;
	for (i = 0; i < o.count; i++) {
		const struct json_member *m = &o.members[i];

		if (!m->key || (m->type == JSON_STRING && strlen(m->text) != m->len))
			abort();
		for (j = 0; j < m->nitems; j++)
			if (strlen(m->items[j]) != m->item_lens[j])
				abort();
	}
	json_object_free(&o);
	return 0;
}
