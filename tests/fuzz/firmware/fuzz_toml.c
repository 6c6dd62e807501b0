// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness for l2sessd's TOML reader (firmware/l2sessd/toml.c):
 * any input is refused with a message and a line, or read into a tree
 * whose every part is whole (keys, strings of their stated length). */
#include <stdlib.h>
#include <string.h>

#include "toml.h"

static void walk(const struct toml_value *v, int depth)
{
	size_t i;

	if (depth > TOML_MAX_DEPTH + 2)
		abort();
	if ((v->type == TOML_STRING || v->type == TOML_DATETIME || v->type == TOML_INTEGER) &&
	    (!v->text || v->text[v->len] != 0))
		abort();
	if (v->type == TOML_INTEGER && !v->overflow && v->len > 21)
		abort();
	for (i = 0; i < v->count; i++) {
		if (v->type == TOML_TABLE && !v->keys[i])
			abort();
		walk(&v->items[i], depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_value root;
	struct toml_error err;

	if (toml_parse((const char *)data, size, &root, &err)) {
		if (!err.message[0] || memchr(err.message, '\n', strlen(err.message)))
			abort(); /* a refusal says why, on one line */
		return 0;
	}
	if (root.type != TOML_TABLE)
		abort();
	walk(&root, 0);
	toml_free(&root);
	return 0;
}
