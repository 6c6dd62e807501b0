// SPDX-License-Identifier: Apache-2.0
/* json.c - a strict reader of one flat JSON object (json.h), RFC 8259. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "sbuf.h"

struct reader {
	const char *s;
	size_t len, pos;
};

static int peek(const struct reader *r)
{
	return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1;
}

static void skip_ws(struct reader *r)
{
	while (peek(r) == ' ' || peek(r) == '\t' || peek(r) == '\n' || peek(r) == '\r')
		r->pos++;
}

static int expect(struct reader *r, int c)
{
	skip_ws(r);
	if (peek(r) != c)
		return -1;
	r->pos++;
	return 0;
}

static int hex4(struct reader *r, unsigned *out)
{
	unsigned v = 0;
	int i, d;

	for (i = 0; i < 4; i++, r->pos++) {
		d = hex_digit(peek(r));
		if (d < 0)
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

static int escape(struct reader *r, struct sbuf *b)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	int c = peek(r);
	const char *hit = c > 0 ? strchr(from, c) : NULL;
	unsigned cp, low;

	r->pos++;
	if (hit) {
		sbuf_put(b, &to[hit - from], 1);
		return 0;
	}
	if (c != 'u' || hex4(r, &cp))
		return -1;
	if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
		if (peek(r) != '\\' || (r->pos++, peek(r) != 'u') || (r->pos++, hex4(r, &low)) || low < 0xdc00 ||
		    low > 0xdfff)
			return -1;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		return -1;
	}
	if (cp == 0)
		return -1; /* no NUL: the strings are used as C strings */
	sbuf_utf8(b, cp);
	return 0;
}

/* A string into *out (malloc'd, NUL-terminated) or, out NULL, skipped. */
static int string(struct reader *r, char **out, size_t *out_len)
{
	struct sbuf b;
	int c;

	sbuf_init(&b, r->len + 1);
	if (expect(r, '"'))
		return -1;
	sbuf_put(&b, "", 0);
	for (;;) {
		c = peek(r);
		if (c < 0x20) /* the end, or a control character */
			goto bad;
		if (c == '"') {
			r->pos++;
			break;
		}
		if (c == '\\') {
			r->pos++;
			if (escape(r, &b))
				goto bad;
			continue;
		}
		if (out)
			sbuf_put(&b, r->s + r->pos, 1);
		r->pos++;
	}
	if (b.failed)
		goto bad;
	if (out) {
		*out = b.data;
		*out_len = b.len;
	} else {
		sbuf_free(&b);
	}
	return 0;
bad:
	sbuf_free(&b);
	return -1;
}

static int digit(int c)
{
	return c >= '0' && c <= '9';
}

static int number(struct reader *r, struct json_member *m)
{
	size_t start = r->pos;
	int whole = 1, overflow = 0;
	uint64_t v = 0;

	if (peek(r) == '-') {
		r->pos++;
		whole = 0;
	}
	if (!digit(peek(r)))
		return -1;
	if (peek(r) == '0' && digit(r->pos + 1 < r->len ? r->s[r->pos + 1] : 0))
		return -1;
	while (digit(peek(r))) {
		unsigned d = (unsigned)(peek(r) - '0');

		if (v > (UINT64_MAX - d) / 10)
			overflow = 1;
		v = v * 10 + d;
		r->pos++;
	}
	if (peek(r) == '.') {
		whole = 0;
		r->pos++;
		if (!digit(peek(r)))
			return -1;
		while (digit(peek(r)))
			r->pos++;
	}
	if (peek(r) == 'e' || peek(r) == 'E') {
		whole = 0;
		r->pos++;
		if (peek(r) == '+' || peek(r) == '-')
			r->pos++;
		if (!digit(peek(r)))
			return -1;
		while (digit(peek(r)))
			r->pos++;
	}
	if (m) {
		m->type = whole && !overflow ? JSON_INTEGER : JSON_NUMBER;
		m->integer = v;
	}
	return r->pos > start ? 0 : -1;
}

static int word(struct reader *r, const char *w)
{
	size_t n = strlen(w);

	if (r->len - r->pos < n || memcmp(r->s + r->pos, w, n) != 0)
		return -1;
	r->pos += n;
	return 0;
}

static int value(struct reader *r, struct json_member *m, int depth);

static int array(struct reader *r, struct json_member *m, int depth)
{
	struct json_member item;
	int ret;

	r->pos++;
	if (m) {
		m->type = JSON_ARRAY;
		m->strings_only = 1;
	}
	skip_ws(r);
	if (peek(r) == ']') {
		r->pos++;
		return 0;
	}
	for (;;) {
		memset(&item, 0, sizeof(item));
		skip_ws(r);
		if (m && m->strings_only && peek(r) == '"') {
			if (m->nitems == JSON_MAX_ITEMS)
				return -1;
			if (!m->items) {
				m->items = calloc(JSON_MAX_ITEMS, sizeof(*m->items));
				m->item_lens = calloc(JSON_MAX_ITEMS, sizeof(*m->item_lens));
				if (!m->items || !m->item_lens)
					return -1;
			}
			ret = string(r, &m->items[m->nitems], &m->item_lens[m->nitems]);
			if (ret)
				return -1;
			m->nitems++;
		} else {
			if (m)
				m->strings_only = 0;
			if (value(r, NULL, depth + 1))
				return -1;
		}
		skip_ws(r);
		if (peek(r) == ']') {
			r->pos++;
			return 0;
		}
		if (peek(r) != ',')
			return -1;
		r->pos++;
	}
}

static int object(struct reader *r, struct json_object *o, int depth)
{
	struct json_member *m;
	size_t i;
	char *key;
	size_t klen;

	if (expect(r, '{'))
		return -1;
	skip_ws(r);
	if (peek(r) == '}') {
		r->pos++;
		return 0;
	}
	for (;;) {
		skip_ws(r);
		if (string(r, o ? &key : NULL, &klen))
			return -1;
		if (o) {
			for (i = 0; i < o->count && strcmp(o->members[i].key, key) != 0; i++)
				;
			if (o->count == JSON_MAX_MEMBERS || i < o->count) { /* full, or a key twice */
				free(key);
				return -1;
			}
			m = &o->members[o->count++];
			memset(m, 0, sizeof(*m));
			m->key = key;
		} else {
			m = NULL;
		}
		if (expect(r, ':'))
			return -1;
		if (value(r, m, depth + 1))
			return -1;
		skip_ws(r);
		if (peek(r) == '}') {
			r->pos++;
			return 0;
		}
		if (peek(r) != ',')
			return -1;
		r->pos++;
	}
}

static int value(struct reader *r, struct json_member *m, int depth)
{
	int c;

	if (depth > JSON_MAX_DEPTH)
		return -1;
	skip_ws(r);
	c = peek(r);
	if (c == '"') {
		if (m)
			m->type = JSON_STRING;
		return string(r, m ? &m->text : NULL, m ? &m->len : NULL);
	}
	if (c == '{') {
		if (m)
			m->type = JSON_OBJECT;
		return object(r, NULL, depth);
	}
	if (c == '[')
		return array(r, m, depth);
	if (c == 't' || c == 'f') {
		if (m) {
			m->type = JSON_BOOL;
			m->boolean = c == 't';
		}
		return word(r, c == 't' ? "true" : "false");
	}
	if (c == 'n') {
		if (m)
			m->type = JSON_NULL;
		return word(r, "null");
	}
	return number(r, m);
}

int json_parse_object(const char *text, size_t len, struct json_object *out)
{
	struct reader r = { .s = text, .len = len };

	out->count = 0;
	if (object(&r, out, 0))
		goto bad;
	skip_ws(&r);
	if (r.pos != len)
		goto bad;
	return 0;
bad:
	json_object_free(out);
	return -1;
}

void json_object_free(struct json_object *o)
{
	size_t i, j;

	for (i = 0; i < o->count; i++) {
		struct json_member *m = &o->members[i];

		free(m->key);
		free(m->text);
		for (j = 0; j < m->nitems; j++)
			free(m->items[j]);
		free(m->items);
		free(m->item_lens);
	}
	o->count = 0;
}

const struct json_member *json_get(const struct json_object *o, const char *key, enum json_type type)
{
	size_t i;

	for (i = 0; i < o->count; i++)
		if (strcmp(o->members[i].key, key) == 0)
			return o->members[i].type == type ? &o->members[i] : NULL;
	return NULL;
}
