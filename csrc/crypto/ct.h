/* SPDX-License-Identifier: Apache-2.0 */
/* Constant-time helpers. l2s_declassify() marks a value derived from secrets
 * as public on purpose (e.g. "this peer key has small order"), so that the
 * valgrind constant-time test (tests/c/test_ct.c) accepts a branch on it.
 * Memcheck's client request is a few no-op instructions outside valgrind. */
#ifndef L2S_CT_H
#define L2S_CT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define l2s_declassify(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#endif
#endif
#ifndef l2s_declassify
#define l2s_declassify(p, n) ((void)(p), (void)(n))
#endif

/* 1 when all n bytes are zero; the time depends on n only. */
static inline int l2s_all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

#endif /* L2S_CT_H */
