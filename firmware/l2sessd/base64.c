// SPDX-License-Identifier: Apache-2.0
/* base64.c - RFC 4648 base64 with padding, as the control socket carries
 * messages (base64.h). */
#include "base64.h"

#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long base64_decode(const char *text, size_t len, uint8_t *out)
{
	uint32_t acc = 0;
	size_t i, pad = 0, n = 0;
	int bits = 0;
	const char *hit;

	if (len % 4)
		return -1;
	for (i = 0; i < len; i++) {
		if (text[i] == '=') {
			if (i < len - 2 || ++pad > 2)
				return -1;
			continue;
		}
		if (pad || !text[i] || !(hit = strchr(b64, text[i])))
			return -1;
		acc = acc << 6 | (uint32_t)(hit - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)n;
}

void base64_encode(struct sbuf *b, const uint8_t *data, size_t len)
{
	size_t i;
	uint32_t v;
	char q[4];

	for (i = 0; i < len; i += 3) {
		v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0) |
		    (i + 2 < len ? data[i + 2] : 0);
		q[0] = b64[v >> 18];
		q[1] = b64[v >> 12 & 63];
		q[2] = i + 1 < len ? b64[v >> 6 & 63] : '=';
		q[3] = i + 2 < len ? b64[v & 63] : '=';
		sbuf_put(b, q, 4);
	}
}
