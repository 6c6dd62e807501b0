/* SPDX-License-Identifier: Apache-2.0 */
/* hex.h - hexadecimal digits, read (either case). */
#ifndef L2SESSD_HEX_H
#define L2SESSD_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit, or -1. */
int hex_digit(int c);
/* hex[0 .. len) as n bytes into out: 0, or -1 unless len is 2n hex digits. */
int hex_decode(const char *hex, size_t len, uint8_t *out, size_t n);

#endif
