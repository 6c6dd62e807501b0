// SPDX-License-Identifier: Apache-2.0
/* sbuf.c - the daemon's text buffer (sbuf.h). */
#include "sbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(struct sbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void sbuf_free(struct sbuf *b)
{
	free(b->data);
	sbuf_init(b, b->max);
}

void sbuf_reset(struct sbuf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data)
		b->data[0] = 0;
}

static int reserve(struct sbuf *b, size_t extra)
{
	size_t cap;
	char *d;

	if (b->failed)
		return -1;
	if (extra > b->max || b->len + extra + 1 > b->max) {
		b->failed = 1;
		return -1;
	}
	if (b->len + extra + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	d = realloc(b->data, cap);
	if (!d) {
		b->failed = 1;
		return -1;
	}
	b->data = d;
	b->cap = cap;
	return 0;
}

void sbuf_put(struct sbuf *b, const void *data, size_t len)
{
	if (reserve(b, len))
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_put(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sbuf_json_string(struct sbuf *b, const char *s, size_t len)
{
	size_t i, start = 0;
	unsigned char c;

	sbuf_put(b, "\"", 1);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sbuf_put(b, s + start, i - start);
		start = i + 1;
		if (c == '"' || c == '\\')
			sbuf_printf(b, "\\%c", c);
		else if (c == '\n')
			sbuf_puts(b, "\\n");
		else if (c == '\t')
			sbuf_puts(b, "\\t");
		else if (c == '\r')
			sbuf_puts(b, "\\r");
		else if (c == '\b')
			sbuf_puts(b, "\\b");
		else if (c == '\f')
			sbuf_puts(b, "\\f");
		else
			sbuf_printf(b, "\\u%04x", c);
	}
	sbuf_put(b, s + start, len - start);
	sbuf_put(b, "\"", 1);
}

void sbuf_hex(struct sbuf *b, const uint8_t *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (reserve(b, 2 * len))
		return;
	for (i = 0; i < len; i++) {
		b->data[b->len++] = digits[data[i] >> 4];
		b->data[b->len++] = digits[data[i] & 15];
	}
	b->data[b->len] = 0;
}

void sbuf_utf8(struct sbuf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	sbuf_put(b, u, n);
}

/* Python's repr: the shortest round-tripping digits; fixed notation for
 * decimal exponents -4 .. 15, else d.ddde+XX; a fixed number gets ".0". */
void sbuf_repr_double(struct sbuf *b, double v)
{
	char digits[40], out[64];
	int prec, exp, n, i, pos = 0;
	char *e;

	if (isnan(v)) {
		sbuf_puts(b, "nan");
		return;
	}
	if (isinf(v)) {
		sbuf_puts(b, v < 0 ? "-inf" : "inf");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(digits, sizeof(digits), "%.*e", prec - 1, v);
		if (strtod(digits, NULL) == v)
			break;
	}
	e = strchr(digits, 'e');
	exp = atoi(e + 1);
	*e = 0;
	/* digits: "-d.ddd" -> the bare significant digits */
	if (digits[0] == '-')
		out[pos++] = '-';
	{
		char sig[24];
		int k = 0;

		for (i = digits[0] == '-'; digits[i]; i++)
			if (digits[i] != '.')
				sig[k++] = digits[i];
		sig[k] = 0;
		n = k;
		if (exp < -4 || exp >= 16) {
			out[pos++] = sig[0];
			if (n > 1) {
				out[pos++] = '.';
				memcpy(out + pos, sig + 1, (size_t)n - 1);
				pos += n - 1;
			}
			pos += snprintf(out + pos, sizeof(out) - (size_t)pos, "e%c%02d", exp < 0 ? '-' : '+',
					exp < 0 ? -exp : exp);
		} else if (exp < 0) {
			out[pos++] = '0';
			out[pos++] = '.';
			for (i = 0; i < -exp - 1; i++)
				out[pos++] = '0';
			memcpy(out + pos, sig, (size_t)n);
			pos += n;
		} else {
			for (i = 0; i <= exp; i++)
				out[pos++] = i < n ? sig[i] : '0';
			out[pos++] = '.';
			if (n > exp + 1) {
				memcpy(out + pos, sig + exp + 1, (size_t)(n - exp - 1));
				pos += n - exp - 1;
			} else {
				out[pos++] = '0';
			}
		}
	}
	sbuf_put(b, out, (size_t)pos);
}
