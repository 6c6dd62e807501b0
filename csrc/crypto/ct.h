/* SPDX-License-Identifier: Apache-2.0 */
/* Constant-time helpers. l2s_declassify() marks a value derived from secrets
 * as public on purpose (e.g. "this peer key has small order"), so that the
 * valgrind constant-time test (tests/c/test_ct.c) accepts a branch on it.
 * Memcheck's client request is a few no-op instructions outside valgrind. */
#ifndef L2S_CT_H
#define L2S_CT_H

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define l2s_declassify(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#endif
#endif
#ifndef l2s_declassify
#define l2s_declassify(p, n) ((void)(p), (void)(n))
#endif

#endif /* L2S_CT_H */
