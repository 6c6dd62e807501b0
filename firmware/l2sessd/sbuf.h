/* SPDX-License-Identifier: Apache-2.0 */
/* sbuf.h - a growing text buffer with a ceiling: what the daemon writes
 * (JSON, metrics, messages) is built here. A write past the ceiling or a
 * failed allocation marks the buffer failed; the text is then not used. */
#ifndef L2SESSD_SBUF_H
#define L2SESSD_SBUF_H

#include <stddef.h>
#include <stdint.h>

struct sbuf {
	char *data; /* NUL-terminated while !failed */
	size_t len, cap, max;
	int failed;
};

void sbuf_init(struct sbuf *b, size_t max);
void sbuf_free(struct sbuf *b);
void sbuf_reset(struct sbuf *b);
void sbuf_put(struct sbuf *b, const void *data, size_t len);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quotes included; control characters escaped, other
 * bytes as they are (the daemon's text is UTF-8). */
void sbuf_json_string(struct sbuf *b, const char *s, size_t len);
void sbuf_hex(struct sbuf *b, const uint8_t *data, size_t len);
/* A Unicode scalar value as UTF-8. */
void sbuf_utf8(struct sbuf *b, uint32_t cp);
/* A double as Python's repr() writes it (3.0, 0.1, 1e+16, nan, inf): the
 * shortest digits that read back the same. */
void sbuf_repr_double(struct sbuf *b, double v);

#endif
