/* SPDX-License-Identifier: Apache-2.0 */
/* json.h - reads the JSON objects the daemon is given: a control request
 * ({"cmd": "send", "did": ..., "data": ...}), an identity file, a session's
 * stream file. One flat object: its members' strings, integers, booleans
 * and arrays of strings are kept; nested objects and other arrays are
 * checked and skipped. Input is (pointer, length), bounded by the caller;
 * strings may not hold NUL. */
#ifndef L2SESSD_JSON_H
#define L2SESSD_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_MEMBERS 32
#define JSON_MAX_ITEMS 4096
#define JSON_MAX_DEPTH 16

enum json_type { JSON_NULL, JSON_BOOL, JSON_INTEGER, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_member {
	char *key;
	enum json_type type;
	char *text;       /* STRING */
	size_t len;
	int boolean;
	uint64_t integer; /* INTEGER: a non-negative integer below 2^64 */
	char **items;     /* ARRAY: its strings (when every item is one) */
	size_t *item_lens;
	size_t nitems;
	int strings_only; /* ARRAY */
};

struct json_object {
	struct json_member members[JSON_MAX_MEMBERS];
	size_t count;
};

/* 0, or -1 when text is not one JSON object (of at most the bounds above). */
int json_parse_object(const char *text, size_t len, struct json_object *out);
void json_object_free(struct json_object *o);
/* The member key of type, or NULL. */
const struct json_member *json_get(const struct json_object *o, const char *key, enum json_type type);

#endif
