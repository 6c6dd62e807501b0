/* SPDX-License-Identifier: Apache-2.0 */
/* base64.h - the control socket's encoding of messages. */
#ifndef L2SESSD_BASE64_H
#define L2SESSD_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

/* text (padded base64) into out (at least len / 4 * 3 bytes): the decoded
 * length, or -1 when text is not base64. */
long base64_decode(const char *text, size_t len, uint8_t *out);
void base64_encode(struct sbuf *b, const uint8_t *data, size_t len);

#endif
