/* SPDX-License-Identifier: Apache-2.0 */
/* toml.h - a strict reader of the part of TOML 1.0 that node.toml uses.
 *
 * Debian packages no TOML library for C and OpenWrt's feeds none that the
 * daemon could count on, so l2sessd reads node.toml itself: tables
 * ([t], [t.sub], [[t]]), bare, quoted and dotted keys, basic and literal
 * one-line strings, integers (decimal, 0x, 0o, 0b, underscores), floats
 * (inf and nan too), booleans, local dates and times (kept as text, only to
 * be named in a refusal), arrays and inline tables. Multi-line strings are
 * refused with a message saying so. Every other rule of TOML is kept:
 * a key or table defined twice, a value of the wrong form, text that is not
 * UTF-8 are errors with their line and column.
 *
 * Input is (pointer, length); nothing is read past it. The document and
 * its values are bounded (TOML_MAX_BYTES, TOML_MAX_VALUES, TOML_MAX_DEPTH).
 */
#ifndef L2SESSD_TOML_H
#define L2SESSD_TOML_H

#include <stddef.h>
#include <stdint.h>

#define TOML_MAX_BYTES (1u << 20) /* 4,096 peers take about half of it */
#define TOML_MAX_VALUES 50000     /* values and tables, with 4,096 peers about 16,500 */
#define TOML_MAX_DEPTH 32

enum toml_type {
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,
	TOML_ARRAY,
	TOML_TABLE,
};

struct toml_value {
	enum toml_type type;
	char *text;      /* STRING: its bytes (NUL-terminated, may hold NUL); DATETIME: as
			  * written; INTEGER: its value in decimal (sign and digits) */
	size_t len;      /* of text */
	int negative;    /* INTEGER */
	uint64_t magnitude; /* INTEGER: |value|, valid when !overflow */
	int overflow;    /* INTEGER: |value| >= 2^64 */
	double number;   /* FLOAT */
	int boolean;     /* BOOL */
	/* ARRAY: items; TABLE: members (keys[i] names items[i]) */
	struct toml_value *items;
	char **keys;
	size_t count, cap;
	/* TABLE: how it came to be (TOML's rules on redefinition) */
	int header;      /* defined by its own [header] */
	int implicit;    /* made on the way to a deeper [a.b] header */
	int closed;      /* an inline table or a static array: nothing may add to it */
	int array_of_tables; /* ARRAY made by [[header]] */
	int line;
};

struct toml_error {
	int line, column; /* 1-based; column 0: the whole line */
	int at_end;       /* the error is at the end of the file */
	char message[160];
};

/* Parses text[0 .. len) into root (a TABLE). 0 on success; -1 with err
 * filled in (root is then freed). */
int toml_parse(const char *text, size_t len, struct toml_value *root, struct toml_error *err);
void toml_free(struct toml_value *v);
/* The member named key of a TABLE, or NULL. */
const struct toml_value *toml_get(const struct toml_value *table, const char *key);

#endif
