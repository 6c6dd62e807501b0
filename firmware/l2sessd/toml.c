// SPDX-License-Identifier: Apache-2.0
/* toml.c - node.toml's TOML, read strictly (toml.h). A recursive descent
 * over (text, len) that keeps its place for the error message. */
#include "toml.h"

#include "hex.h"
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *s;
	size_t len, pos;
	int line;
	size_t line_start;
	size_t values;
	struct toml_error *err;
};

static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err->message[0])
		return -1; /* the first error is the one reported */
	p->err->line = p->line;
	p->err->column = (int)(p->pos - p->line_start) + 1;
	p->err->at_end = p->pos >= p->len;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static int peek(const struct parser *p, size_t ahead)
{
	return p->pos + ahead < p->len ? (unsigned char)p->s[p->pos + ahead] : -1;
}

static int at(const struct parser *p, const char *word)
{
	size_t n = strlen(word);

	return p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0;
}

static void skip_blank(struct parser *p)
{
	while (peek(p, 0) == ' ' || peek(p, 0) == '\t')
		p->pos++;
}

/* TOML allows no control character but tab outside a newline. */
static int control_char(int c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int skip_comment(struct parser *p)
{
	if (peek(p, 0) != '#')
		return 0;
	while (p->pos < p->len && p->s[p->pos] != '\n') {
		if (control_char(peek(p, 0)) && !(peek(p, 0) == '\r' && peek(p, 1) == '\n'))
			return fail(p, "a control character in a comment");
		p->pos++;
	}
	return 0;
}

/* A newline (LF or CRLF) if there is one: 1, else 0. */
static int newline(struct parser *p)
{
	size_t n = peek(p, 0) == '\n' ? 1 : (peek(p, 0) == '\r' && peek(p, 1) == '\n') ? 2 : 0;

	if (!n)
		return 0;
	p->pos += n;
	p->line++;
	p->line_start = p->pos;
	return 1;
}

/* Blanks, comments and newlines (inside an array). */
static int skip_space(struct parser *p)
{
	for (;;) {
		skip_blank(p);
		if (skip_comment(p))
			return -1;
		if (!newline(p))
			return 0;
	}
}

/* ---- the document tree ---- */

void toml_free(struct toml_value *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->count; i++) {
		toml_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->text);
	memset(v, 0, sizeof(*v));
}

const struct toml_value *toml_get(const struct toml_value *table, const char *key)
{
	size_t i;

	if (!table || table->type != TOML_TABLE)
		return NULL;
	for (i = 0; i < table->count; i++)
		if (strcmp(table->keys[i], key) == 0)
			return &table->items[i];
	return NULL;
}

/* Member key of table (found or not: *slot NULL). Keys may hold NUL bytes
 * in TOML; a key with one cannot be any of node.toml's, so it is refused
 * where it is read (parse_key) and strcmp is enough here. */
static struct toml_value *find(struct toml_value *table, const char *key)
{
	return (struct toml_value *)toml_get(table, key);
}

/* A new item at the end of an array or table (zeroed): NULL when the
 * document has too many values. */
static struct toml_value *append(struct parser *p, struct toml_value *to, char *key)
{
	if (++p->values > TOML_MAX_VALUES) {
		fail(p, "more than %u values", TOML_MAX_VALUES);
		return NULL;
	}
	if (to->count == to->cap) {
		size_t cap = to->cap ? to->cap * 2 : 4;
		struct toml_value *items = realloc(to->items, cap * sizeof(*items));
		char **keys;

		if (!items) {
			fail(p, "out of memory");
			return NULL;
		}
		to->items = items;
		if (to->type == TOML_TABLE) {
			keys = realloc(to->keys, cap * sizeof(*keys));
			if (!keys) {
				fail(p, "out of memory");
				return NULL;
			}
			to->keys = keys;
		}
		to->cap = cap;
	}
	memset(&to->items[to->count], 0, sizeof(to->items[0]));
	to->items[to->count].line = p->line;
	if (to->type == TOML_TABLE)
		to->keys[to->count] = key;
	return &to->items[to->count++];
}

/* ---- strings ---- */

/* Appends to b: 0, or -1 when the buffer failed (out of memory). */
static int put(struct sbuf *b, const void *data, size_t n)
{
	sbuf_put(b, data, n);
	return b->failed ? -1 : 0;
}

static int escape(struct parser *p, struct sbuf *b)
{
	static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
	int c = peek(p, 0), digits, d;
	const char *hit = c > 0 ? strchr(from, c) : NULL;
	uint32_t cp = 0;

	if (hit) {
		p->pos++;
		return put(b, &to[hit - from], 1);
	}
	if (c != 'u' && c != 'U')
		return fail(p, "an invalid escape in a string");
	digits = c == 'u' ? 4 : 8;
	p->pos++;
	for (; digits; digits--, p->pos++) {
		d = hex_digit(peek(p, 0));
		if (d < 0)
			return fail(p, "an invalid \\u escape in a string");
		cp = cp << 4 | (uint32_t)d;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return fail(p, "an escape that is not a Unicode scalar value");
	sbuf_utf8(b, cp);
	return b->failed ? -1 : 0;
}

/* A one-line basic ("...") or literal ('...') string; p at its quote. */
static int parse_string(struct parser *p, char **out, size_t *out_len)
{
	int quote = peek(p, 0), c;
	struct sbuf b;

	if (peek(p, 1) == quote && peek(p, 2) == quote)
		return fail(p, "multi-line strings are not in l2sessd's TOML (write the value on one line)");
	p->pos++;
	sbuf_init(&b, TOML_MAX_BYTES + 1);
	if (put(&b, "", 0))
		return fail(p, "out of memory");
	for (;;) {
		c = peek(p, 0);
		if (c == quote) {
			p->pos++;
			*out = b.data;
			*out_len = b.len;
			return 0;
		}
		if (c < 0 || c == '\n' || (control_char(c) && c != '\r')) {
			sbuf_free(&b);
			return fail(p, c < 0 || c == '\n' ? "an unterminated string" :
				    "a control character in a string");
		}
		if (c == '\r') {
			sbuf_free(&b);
			return fail(p, "an unterminated string");
		}
		if (c == '\\' && quote == '"') {
			p->pos++;
			if (escape(p, &b)) {
				sbuf_free(&b);
				return -1;
			}
			continue;
		}
		if (put(&b, p->s + p->pos, 1)) {
			sbuf_free(&b);
			return fail(p, "out of memory");
		}
		p->pos++;
	}
}

/* ---- keys ---- */

static int bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

struct key {
	char *part[TOML_MAX_DEPTH];
	size_t n;
};

static void key_free(struct key *k)
{
	while (k->n)
		free(k->part[--k->n]);
}

static int parse_key_parts(struct parser *p, struct key *k);

/* a, "a", 'a', a.b.c ...; on failure nothing is left allocated. */
static int parse_key(struct parser *p, struct key *k)
{
	if (parse_key_parts(p, k) == 0)
		return 0;
	key_free(k);
	return -1;
}

static int parse_key_parts(struct parser *p, struct key *k)
{
	char *part;
	size_t len, start;

	k->n = 0;
	for (;;) {
		skip_blank(p);
		if (k->n == TOML_MAX_DEPTH)
			return fail(p, "a key with more than %d parts", TOML_MAX_DEPTH);
		if (peek(p, 0) == '"' || peek(p, 0) == '\'') {
			if (parse_string(p, &part, &len))
				return -1;
			if (strlen(part) != len) {
				free(part);
				return fail(p, "a key with a NUL character");
			}
		} else {
			start = p->pos;
			while (bare_key_char(peek(p, 0)))
				p->pos++;
			if (p->pos == start)
				return fail(p, peek(p, 0) < 0 || peek(p, 0) == '\n' ? "a key is missing" :
					    "invalid character in a key");
			part = strndup(p->s + start, p->pos - start);
			if (!part)
				return fail(p, "out of memory");
		}
		k->part[k->n++] = part;
		skip_blank(p);
		if (peek(p, 0) != '.')
			return 0;
		p->pos++;
	}
}

/* ---- values ---- */

static int parse_value(struct parser *p, struct toml_value *v, int depth);

static int end_of_token(int c)
{
	return c < 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}' ||
	       c == '#';
}

/* Digits of base with single underscores between them; value into *mag
 * (overflow flagged). */
static int digits(struct parser *p, int base, uint64_t *mag, int *overflow, struct sbuf *dec)
{
	int d, any = 0, under = 0;

	*mag = 0;
	*overflow = 0;
	for (;;) {
		int c = peek(p, 0);

		if (c == '_') {
			if (!any || under)
				return fail(p, "an underscore not between two digits");
			under = 1;
			p->pos++;
			continue;
		}
		d = hex_digit(c);
		if (d < 0 || d >= base)
			break;
		if (*mag > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			*overflow = 1;
		*mag = *mag * (uint64_t)base + (uint64_t)d;
		if (dec && put(dec, p->s + p->pos, 1))
			return fail(p, "out of memory");
		any = 1;
		under = 0;
		p->pos++;
	}
	if (!any || under)
		return fail(p, under ? "an underscore not between two digits" : "a number without digits");
	return 0;
}

static int set_text(struct parser *p, struct toml_value *v, const char *text, size_t len)
{
	v->text = strndup(text, len);
	v->len = len;
	return v->text ? 0 : fail(p, "out of memory");
}

static int parse_prefixed_integer(struct parser *p, struct toml_value *v)
{
	int base = peek(p, 1) == 'x' ? 16 : peek(p, 1) == 'o' ? 8 : 2;
	char dec[24];

	p->pos += 2;
	if (digits(p, base, &v->magnitude, &v->overflow, NULL))
		return -1;
	if (!end_of_token(peek(p, 0)))
		return fail(p, "invalid character in a number");
	v->type = TOML_INTEGER;
	if (v->overflow)
		return set_text(p, v, "18446744073709551616", 20); /* only "at least 2^64" is known */
	snprintf(dec, sizeof(dec), "%llu", (unsigned long long)v->magnitude);
	return set_text(p, v, dec, strlen(dec));
}

/* Decimal integers and floats; p at the sign or first digit. */
static int parse_decimal(struct parser *p, struct toml_value *v)
{
	struct sbuf b;
	size_t int_start;
	int is_float = 0, ok;
	char *end;

	sbuf_init(&b, TOML_MAX_BYTES + 1);
	if (put(&b, "", 0))
		return fail(p, "out of memory");
	if (peek(p, 0) == '+' || peek(p, 0) == '-') {
		v->negative = peek(p, 0) == '-';
		if (v->negative && put(&b, "-", 1))
			goto nomem;
		p->pos++;
	}
	int_start = b.len;
	if (digits(p, 10, &v->magnitude, &v->overflow, &b))
		goto bad;
	if (b.len - int_start > 1 && b.data[int_start] == '0') {
		fail(p, "a number with a leading zero");
		goto bad;
	}
	if (peek(p, 0) == '.') {
		is_float = 1;
		p->pos++;
		if (put(&b, ".", 1))
			goto nomem;
		if (digits(p, 10, &(uint64_t){ 0 }, &(int){ 0 }, &b))
			goto bad;
	}
	if (peek(p, 0) == 'e' || peek(p, 0) == 'E') {
		is_float = 1;
		p->pos++;
		if (put(&b, "e", 1))
			goto nomem;
		if (peek(p, 0) == '+' || peek(p, 0) == '-') {
			if (put(&b, p->s + p->pos, 1))
				goto nomem;
			p->pos++;
		}
		if (digits(p, 10, &(uint64_t){ 0 }, &(int){ 0 }, &b))
			goto bad;
	}
	if (!end_of_token(peek(p, 0))) {
		fail(p, "invalid character in a number");
		goto bad;
	}
	if (is_float) {
		v->type = TOML_FLOAT;
		v->number = strtod(b.data, &end);
		ok = *end == 0;
		sbuf_free(&b);
		return ok ? 0 : fail(p, "an invalid float");
	}
	v->type = TOML_INTEGER;
	if (v->negative && v->magnitude == 0 && !v->overflow)
		v->negative = 0, memmove(b.data, b.data + 1, b.len--); /* -0 is 0 */
	v->text = b.data;
	v->len = b.len;
	return 0;
nomem:
	fail(p, "out of memory");
bad:
	sbuf_free(&b);
	return -1;
}

static int parse_special_float(struct parser *p, struct toml_value *v)
{
	int sign = peek(p, 0) == '-' ? -1 : 1;

	if (peek(p, 0) == '+' || peek(p, 0) == '-')
		p->pos++;
	v->type = TOML_FLOAT;
	v->number = at(p, "inf") ? sign * __builtin_inf() : __builtin_nan("");
	if (sign < 0 && !at(p, "inf"))
		v->number = -v->number;
	p->pos += 3;
	if (!end_of_token(peek(p, 0)))
		return fail(p, "invalid character after %s", v->number != v->number ? "nan" : "inf");
	return 0;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* 1979-05-27, 07:32:00, 1979-05-27T07:32:00.5-07:00 ...: kept as written. */
static int looks_like_datetime(const struct parser *p)
{
	return (is_digit(peek(p, 0)) && is_digit(peek(p, 1)) && is_digit(peek(p, 2)) && is_digit(peek(p, 3)) &&
		peek(p, 4) == '-') ||
	       (is_digit(peek(p, 0)) && is_digit(peek(p, 1)) && peek(p, 2) == ':');
}

static int parse_datetime(struct parser *p, struct toml_value *v)
{
	size_t start = p->pos;
	int c;

	for (;;) {
		c = peek(p, 0);
		if (is_digit(c) || c == '-' || c == ':' || c == '.' || c == '+' || c == 'T' || c == 't' ||
		    c == 'Z' || c == 'z')
			p->pos++;
		else if (c == ' ' && is_digit(peek(p, 1)) && is_digit(peek(p, 2)) && peek(p, 3) == ':')
			p->pos++; /* "1979-05-27 07:32:00" */
		else
			break;
	}
	if (!end_of_token(peek(p, 0)))
		return fail(p, "an invalid date or time");
	v->type = TOML_DATETIME;
	return set_text(p, v, p->s + start, p->pos - start);
}

static int parse_array(struct parser *p, struct toml_value *v, int depth)
{
	struct toml_value *item;

	v->type = TOML_ARRAY;
	v->closed = 1;
	p->pos++;
	for (;;) {
		if (skip_space(p))
			return -1;
		if (peek(p, 0) == ']') {
			p->pos++;
			return 0;
		}
		item = append(p, v, NULL);
		if (!item || parse_value(p, item, depth + 1) || skip_space(p))
			return -1;
		if (peek(p, 0) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p, 0) != ']')
			return fail(p, "an array's values must be separated by commas and end with ]");
	}
}

static int assign(struct parser *p, struct toml_value *table, struct key *k, int depth);

static int parse_inline_table(struct parser *p, struct toml_value *v, int depth)
{
	struct key k;

	v->type = TOML_TABLE;
	p->pos++;
	skip_blank(p);
	if (peek(p, 0) == '}') {
		p->pos++;
		v->closed = 1;
		return 0;
	}
	for (;;) {
		if (parse_key(p, &k))
			return -1;
		if (assign(p, v, &k, depth + 1))
			return -1;
		skip_blank(p);
		if (peek(p, 0) == '}') {
			p->pos++;
			v->closed = 1;
			return 0;
		}
		if (peek(p, 0) != ',')
			return fail(p, "an inline table's pairs must be separated by commas and end with }");
		p->pos++;
	}
}

static int parse_value(struct parser *p, struct toml_value *v, int depth)
{
	int c = peek(p, 0), c1 = peek(p, 1);

	v->line = p->line;
	if (depth > TOML_MAX_DEPTH)
		return fail(p, "values nested more than %d deep", TOML_MAX_DEPTH);
	if (c == '"' || c == '\'') {
		v->type = TOML_STRING;
		return parse_string(p, &v->text, &v->len);
	}
	if (at(p, "true") || at(p, "false")) {
		v->type = TOML_BOOL;
		v->boolean = c == 't';
		p->pos += v->boolean ? 4 : 5;
		return end_of_token(peek(p, 0)) ? 0 : fail(p, "invalid value");
	}
	if (c == '[')
		return parse_array(p, v, depth);
	if (c == '{')
		return parse_inline_table(p, v, depth);
	if (at(p, "inf") || at(p, "nan") || ((c == '+' || c == '-') && (c1 == 'i' || c1 == 'n')))
		return parse_special_float(p, v);
	if (looks_like_datetime(p))
		return parse_datetime(p, v);
	if (c == '0' && (c1 == 'x' || c1 == 'o' || c1 == 'b'))
		return parse_prefixed_integer(p, v);
	if (is_digit(c) || c == '+' || c == '-')
		return parse_decimal(p, v);
	return fail(p, c < 0 || c == '\n' || c == '\r' ? "a value is missing" : "invalid value");
}

/* ---- tables and assignments ---- */

/* The table key leads to, made on the way (a dotted key or a header).
 * Into an array of tables, its last table. */
static struct toml_value *descend(struct parser *p, struct toml_value *t, const char *name, int header)
{
	struct toml_value *next = find(t, name);
	char *copy;

	if (!next) {
		copy = strdup(name);
		if (!copy) {
			fail(p, "out of memory");
			return NULL;
		}
		next = append(p, t, copy);
		if (!next) {
			free(copy);
			return NULL;
		}
		next->type = TOML_TABLE;
		next->implicit = header;
		return next;
	}
	if (next->type == TOML_ARRAY && next->array_of_tables)
		return &next->items[next->count - 1];
	if (next->type != TOML_TABLE || next->closed) {
		fail(p, "key \"%s\" is already defined as a value, not a table", name);
		return NULL;
	}
	if (!header && next->header) {
		fail(p, "table \"%s\" is defined by its [header]; a dotted key cannot add to it", name);
		return NULL;
	}
	return next;
}

/* key = value, into table (the current table, or an inline table). */
static int assign(struct parser *p, struct toml_value *table, struct key *k, int depth)
{
	struct toml_value *t = table, *v;
	size_t i;
	int ret;

	for (i = 0; i + 1 < k->n && t; i++)
		t = descend(p, t, k->part[i], 0);
	if (!t)
		goto out;
	if (find(t, k->part[k->n - 1])) {
		fail(p, "key \"%s\" is defined twice", k->part[k->n - 1]);
		goto out;
	}
	skip_blank(p);
	if (peek(p, 0) != '=') {
		fail(p, "expected = after a key");
		goto out;
	}
	p->pos++;
	skip_blank(p);
	v = append(p, t, k->part[k->n - 1]);
	if (!v)
		goto out;
	k->n--; /* the key is the table's now */
	ret = parse_value(p, v, depth);
	key_free(k);
	return ret;
out:
	key_free(k);
	return -1;
}

/* [a.b] or [[a.b]]: the table the lines below fill. */
static int header(struct parser *p, struct toml_value *root, struct toml_value **current)
{
	int array = peek(p, 1) == '[';
	struct toml_value *t = root, *last, *item;
	struct key k;
	char *name;
	size_t i;

	p->pos += array ? 2 : 1;
	if (parse_key(p, &k))
		return -1;
	if (!(array ? at(p, "]]") : at(p, "]"))) {
		key_free(&k);
		return fail(p, array ? "expected ]] after an array-of-tables header" : "expected ] after a header");
	}
	p->pos += array ? 2 : 1;
	for (i = 0; i + 1 < k.n && t; i++)
		t = descend(p, t, k.part[i], 1);
	if (!t) {
		key_free(&k);
		return -1;
	}
	name = k.part[k.n - 1];
	last = find(t, name);
	if (array) {
		if (!last) {
			last = append(p, t, name);
			if (!last)
				goto out;
			k.n--;
			last->type = TOML_ARRAY;
			last->array_of_tables = 1;
		} else if (last->type != TOML_ARRAY || !last->array_of_tables) {
			fail(p, "[[%s]]: \"%s\" is already defined, not as an array of tables", name, name);
			goto out;
		}
		item = append(p, last, NULL);
		if (!item)
			goto out;
		item->type = TOML_TABLE;
		item->header = 1;
		*current = item;
		key_free(&k);
		return 0;
	}
	if (!last) {
		last = append(p, t, name);
		if (!last)
			goto out;
		k.n--;
		last->type = TOML_TABLE;
	} else if (last->type != TOML_TABLE || !last->implicit) {
		fail(p, "[%s] is defined twice", name);
		goto out;
	}
	last->implicit = 0;
	last->header = 1;
	*current = last;
	key_free(&k);
	return 0;
out:
	key_free(&k);
	return -1;
}

static int line_end(struct parser *p)
{
	skip_blank(p);
	if (skip_comment(p))
		return -1;
	if (p->pos >= p->len || newline(p))
		return 0;
	return fail(p, "expected the end of the line");
}

/* The first byte of text that is not UTF-8 (or len). */
static size_t utf8_valid_upto(const unsigned char *s, size_t len)
{
	size_t i = 0, n, j;
	uint32_t cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3 : (s[i] & 0xf8) == 0xf0 ? 4 : 0;
		if (!n || i + n > len)
			return i;
		cp = s[i] & (0x7f >> n);
		for (j = 1; j < n; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n;
	}
	return len;
}

static int check_utf8(struct parser *p)
{
	size_t bad = utf8_valid_upto((const unsigned char *)p->s, p->len), i;

	if (bad == p->len)
		return 0;
	for (i = 0; i < bad; i++)
		if (p->s[i] == '\n')
			p->line++;
	p->err->line = p->line;
	p->err->column = 0;
	snprintf(p->err->message, sizeof(p->err->message), "not UTF-8 text");
	return -1;
}

int toml_parse(const char *text, size_t len, struct toml_value *root, struct toml_error *err)
{
	struct parser p = { .s = text, .len = len, .line = 1, .err = err };
	struct toml_value *current = root;
	struct key k;

	memset(root, 0, sizeof(*root));
	memset(err, 0, sizeof(*err));
	root->type = TOML_TABLE;
	root->header = 1;
	if (len > TOML_MAX_BYTES) {
		snprintf(err->message, sizeof(err->message), "longer than %u bytes", TOML_MAX_BYTES);
		return -1;
	}
	if (check_utf8(&p))
		return -1;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		p.pos = p.line_start = 3; /* a byte order mark */
	while (p.pos < p.len) {
		skip_blank(&p);
		if (skip_comment(&p))
			goto bad;
		if (newline(&p) || p.pos >= p.len)
			continue;
		if (peek(&p, 0) == '[') {
			if (header(&p, root, &current))
				goto bad;
		} else if (parse_key(&p, &k) || assign(&p, current, &k, 0)) {
			goto bad;
		}
		if (line_end(&p))
			goto bad;
	}
	return 0;
bad:
	toml_free(root);
	return -1;
}
