/* SPDX-License-Identifier: Apache-2.0 */
/* The helpers wire.c (messages) and frame.c (frames) share. */
#ifndef L2S_WIRE_INTERNAL_H
#define L2S_WIRE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/ct.h"
#include "wire/wire.h"

/* Copies n bytes (memmove: a field may be copied onto itself), or zeros
 * for a NULL src. */
void wire_put_bytes(uint8_t *out, const uint8_t *src, size_t n);
/* Strict UTF-8 (RFC 3629). */
int wire_utf8_valid(const uint8_t *s, size_t n);

#endif /* L2S_WIRE_INTERNAL_H */
