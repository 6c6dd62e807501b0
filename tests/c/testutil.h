/* SPDX-License-Identifier: Apache-2.0
 *
 * Tiny test support for the C unit tests: CHECK macros and a reader for the
 * `.kv` vector files written by tests/c/gen_vectors.py (records of
 * `name = hex` lines separated by blank lines).
 */
#ifndef L2S_TESTUTIL_H
#define L2S_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tu_failures;
static int tu_checks;
static int tu_skipped;

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		tu_checks++;                                                                 \
		if (!(cond)) {                                                               \
			tu_failures++;                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                            \
	} while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

/* A case this build cannot run (it lacks what the case is about): said,
 * and counted in the summary, never passed over in silence. */
static inline void tu_skip(const char *suite, const char *what, const char *why)
{
	tu_skipped++;
	printf("%s: %s skipped: %s\n", suite, what, why);
}

/* Prints the plain summary line and returns the process exit code. */
static inline int tu_finish(const char *suite)
{
	printf("%s: %d passed, %d failed", suite, tu_checks - tu_failures, tu_failures);
	if (tu_skipped)
		printf(", %d skipped", tu_skipped);
	printf("\n");
	return tu_failures ? 1 : 0;
}

#define KV_MAX_FIELDS 16
#define KV_NAME_MAX 32

struct kv_field {
	char name[KV_NAME_MAX];
	uint8_t *bytes;
	size_t len;
};

struct kv_record {
	struct kv_field field[KV_MAX_FIELDS];
	int count;
};

static inline int tu_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline void kv_clear(struct kv_record *r)
{
	for (int i = 0; i < r->count; i++)
		free(r->field[i].bytes);
	r->count = 0;
}

/* Reads the next record; returns 1 when one was read, 0 at end of file.
 * A malformed file aborts the test: the vectors are ours. */
static inline int kv_next(FILE *f, struct kv_record *r)
{
	static char line[1 << 20];

	kv_clear(r);
	while (fgets(line, sizeof(line), f)) {
		char *eq, *hex;
		size_t hlen;
		struct kv_field *fld;

		if (line[0] == '\n' || line[0] == '\0') {
			if (r->count)
				return 1;
			continue;
		}
		eq = strstr(line, " = ");
		if (!eq || r->count == KV_MAX_FIELDS) {
			fprintf(stderr, "malformed vector line: %.40s\n", line);
			exit(2);
		}
		fld = &r->field[r->count++];
		*eq = '\0';
		if (strlen(line) >= KV_NAME_MAX) {
			fprintf(stderr, "vector field name too long: %.40s\n", line);
			exit(2);
		}
		memcpy(fld->name, line, strlen(line) + 1);
		hex = eq + 3;
		hlen = strcspn(hex, "\n");
		fld->len = hlen / 2;
		fld->bytes = malloc(fld->len ? fld->len : 1);
		for (size_t i = 0; i < fld->len; i++)
			fld->bytes[i] = (uint8_t)(tu_hexval(hex[2 * i]) << 4 | tu_hexval(hex[2 * i + 1]));
	}
	return r->count > 0;
}

static inline const struct kv_field *kv_get(const struct kv_record *r, const char *name)
{
	for (int i = 0; i < r->count; i++)
		if (strcmp(r->field[i].name, name) == 0)
			return &r->field[i];
	fprintf(stderr, "vector record has no field %s\n", name);
	exit(2);
}

/* Big-endian integer field (the generator writes integers as 16 hex digits). */
static inline uint64_t kv_u64(const struct kv_record *r, const char *name)
{
	const struct kv_field *f = kv_get(r, name);
	uint64_t v = 0;

	for (size_t i = 0; i < f->len; i++)
		v = v << 8 | f->bytes[i];
	return v;
}

/* The number of cases each .kv file holds (gen_vectors.py writes one record
 * per case of tests/vectors/, whose README.md lists them). The tests assert
 * these exactly, so that a truncated or emptied vector file fails instead of
 * passing on fewer cases. */
#define KV_CASES_MLKEM_KEYGEN 25    /* ACVP keyGen, ML-KEM-768 */
#define KV_CASES_MLKEM_ENCAPS 25    /* ACVP encapDecap, encapsulation */
#define KV_CASES_MLKEM_DECAPS 10    /* ACVP encapDecap, decapsulation (5 modified) */
#define KV_CASES_XWING 13           /* 3 of the X-Wing draft + 10 of concrete-hybrid-kems */
#define KV_CASES_BLAKE3 35          /* the official BLAKE3 test_vectors.json */
#define KV_CASES_AEAD 2             /* RFC 8439 */
#define KV_CASES_X25519 2           /* RFC 7748 §5.2 */
#define KV_CASES_X25519_ITERATED 3  /* RFC 7748 §5.2: 1, 1,000 and 1,000,000 iterations */
#define KV_CASES_X25519_DH 1        /* RFC 7748 §6.1 */
#define KV_CASES_ED25519 5          /* RFC 8032 §7.1 */

/* Checks that file held exactly want cases. */
static inline void kv_expect(const char *file, int got, int want)
{
	CHECK(got == want);
	if (got != want)
		fprintf(stderr, "%s: %d cases, want %d\n", file, got, want);
}

static inline FILE *kv_open(const char *dir, const char *file)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	return f;
}

#endif /* L2S_TESTUTIL_H */
