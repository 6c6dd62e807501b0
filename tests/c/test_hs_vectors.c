// SPDX-License-Identifier: Apache-2.0
/* Deterministic handshake vectors: two nodes in deterministic mode (fixed
 * seeds, fixed time) run one full handshake, and the responder's prekey
 * bundle, HANDSHAKE_INIT, HANDSHAKE_RESP and the initiator's first TRANSPORT
 * (the CONFIRM frame) must equal tests/vectors/handshake/<message>.hex
 * byte for byte. That directory's README.md gives the seeds and explains
 * when and how to regenerate:
 *
 *   test_hs_vectors [--write] [--dir DIR] [ignored positional arguments]
 *
 * --write rewrites the files from this run instead of checking them; --dir
 * reads or writes DIR instead of the source tree's tests/vectors/handshake.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "handshake/cookie.h"
#include "crypto/kdf.h"
#include "l2s.h"
#include "nodesim.h"
#include "handshake/prekey.h"
#include "testutil.h"
#include "wire/wire.h"

#ifndef L2S_SOURCE_DIR
#define L2S_SOURCE_DIR "."
#endif

#define VEC_NOW_MS 1000u             /* the nodes' clock, fixed */
#define VEC_NOW_S 1800000000u        /* "now" for the bundle check */
#define VEC_NOT_AFTER_S 4000000000u  /* bundle expiry */

struct vec {
	const char *file;
	uint8_t data[L2S_MAX_MESSAGE];
	size_t len;
};

/* The node of role r ('I' initiator, 'R' responder): every secret is the
 * byte r (or r + 1 ...) repeated, see the README. */
static void make_node(struct ns_peer *p, uint8_t r)
{
	struct l2s_node_params params;
	uint8_t seed[32];

	memset(&params, 0, sizeof(params));
	memset(p, 0, sizeof(*p));
	memset(seed, r, sizeof(seed));
	CHECK(l2s_ed25519_seed_keypair(p->pk, p->sk, seed) == L2S_OK);
	memcpy(params.identity_sk, p->sk, sizeof(params.identity_sk));
	memset(params.prekey_seed, r + 1, sizeof(params.prekey_seed));
	params.prekey_not_after_s = VEC_NOT_AFTER_S;
	memset(params.storage_key, r + 2, sizeof(params.storage_key));
	params.deterministic = 1;
	memset(params.rng_seed, r + 3, sizeof(params.rng_seed));
	params.max_sessions = 16;
	CHECK(l2s_node_new(&p->node, &params, VEC_NOW_MS) == L2S_OK);
	p->tag = r;
	p->addr_len = (size_t)snprintf((char *)p->addr, sizeof(p->addr), "node-%c", r);
	p->next_expected_seq = 1;
}

static int take_first(struct ns_peer *p, int type, struct vec *v)
{
	struct ns_box box = { 0 };
	const struct ns_msg *m;

	ns_collect(p, &box);
	m = ns_box_find(&box, type, 0);
	v->len = 0;
	if (m) {
		memcpy(v->data, m->data, m->len);
		v->len = m->len;
	}
	/* Whatever else was queued goes on to the peer later: nothing here. */
	ns_box_free(&box);
	return m != NULL;
}

/* One deterministic handshake; fills bundle, init, resp and confirm. */
static void run_handshake(struct vec *bundle, struct vec *init, struct vec *resp, struct vec *confirm)
{
	struct ns_peer i, r;
	struct l2s_config cfg;
	uint32_t h;

	ns_now = VEC_NOW_MS;
	make_node(&i, 'I');
	make_node(&r, 'R');
	l2s_config_default(&cfg);
	CHECK(l2s_node_prekey_bundle(r.node, bundle->data) == L2S_OK);
	bundle->len = L2S_PREKEY_BUNDLE_BYTES;
	CHECK(l2s_node_establish(i.node, r.pk, bundle->data, bundle->len, VEC_NOW_S, &cfg, 1, VEC_NOW_MS, &h) ==
	      L2S_OK);
	CHECK(take_first(&i, L2S_MSG_HANDSHAKE_INIT, init) && init->len == L2S_HS_INIT_BYTES);
	CHECK(ns_deliver(&r, &i, init->data, init->len) == L2S_OK);
	CHECK(take_first(&r, L2S_MSG_HANDSHAKE_RESP, resp) && resp->len == L2S_HS_RESP_BYTES);
	CHECK(ns_deliver(&i, &r, resp->data, resp->len) == L2S_OK);
	CHECK(ns_state(&i, h) == L2S_ESTABLISHED);
	/* The initiator's first TRANSPORT is the CONFIRM (PROTOCOL.md §4.2). */
	CHECK(take_first(&i, L2S_MSG_TRANSPORT, confirm));
	CHECK(confirm->len == L2S_TRANSPORT_MIN_BYTES); /* a one-byte frame */
	CHECK(ns_deliver(&r, &i, confirm->data, confirm->len) == L2S_OK);
	CHECK(ns_state_of(&r) == L2S_ESTABLISHED);
	ns_free_peer(&i);
	ns_free_peer(&r);
}

static int write_hex(const char *dir, const struct vec *v)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, v->file);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		return 0;
	}
	for (size_t k = 0; k < v->len; k++)
		fprintf(f, "%02x%s", v->data[k], (k % 32 == 31 || k + 1 == v->len) ? "\n" : "");
	if (fclose(f) != 0) {
		perror(path);
		return 0;
	}
	printf("test_hs_vectors: wrote %s (%zu bytes)\n", path, v->len);
	return 1;
}

/* Reads a hex file (whitespace ignored); -1 when missing or malformed. */
static long read_hex(const char *dir, const char *file, uint8_t *out, size_t cap)
{
	char path[4096];
	FILE *f;
	int c, hi = -1;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "test_hs_vectors: cannot open %s\n", path);
		return -1;
	}
	while ((c = fgetc(f)) != EOF) {
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		v = tu_hexval(c);
		if (v < 0 || (hi < 0 && n == cap)) {
			fclose(f);
			fprintf(stderr, "test_hs_vectors: %s is not hex or too long\n", path);
			return -1;
		}
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	fclose(f);
	return hi < 0 ? (long)n : -1;
}

static void check_vec(const char *dir, const struct vec *v)
{
	static uint8_t want[L2S_MAX_MESSAGE];
	long n = read_hex(dir, v->file, want, sizeof(want));

	CHECK(n == (long)v->len);
	if (n != (long)v->len) {
		fprintf(stderr, "test_hs_vectors: %s: %ld bytes on file, %zu produced\n", v->file, n, v->len);
		return;
	}
	for (size_t k = 0; k < v->len; k++) {
		if (want[k] != v->data[k]) {
			fprintf(stderr, "test_hs_vectors: %s differs first at byte %zu (file %02x, now %02x)\n",
				v->file, k, want[k], v->data[k]);
			break;
		}
	}
	CHECK_MEM(want, v->data, v->len);
}

/* What the messages say about each other (PROTOCOL.md §3, §4, §5), so that
 * a regenerated set is at least self-consistent. */
static void check_structure(const struct vec *bundle, const struct vec *init, const struct vec *resp,
			    const struct vec *confirm)
{
	uint8_t id[L2S_PREKEY_ID_BYTES], key[32], pk_i[32], sk[64], seed[32];

	/* prekey_id names the bundle's prekey. */
	l2s_prekey_id(id, bundle->data + 33);
	CHECK_MEM(init->data + 8, id, sizeof(id));
	/* mac1 of INIT keyed to R's identity (bundle bytes 1..33), of RESP to I's. */
	l2s_kdf_mac1_key(key, bundle->data + 1);
	CHECK(l2s_mac1_verify(key, init->data, init->len) == L2S_OK);
	memset(seed, 'I', sizeof(seed));
	CHECK(l2s_ed25519_seed_keypair(pk_i, sk, seed) == L2S_OK);
	l2s_kdf_mac1_key(key, pk_i);
	CHECK(l2s_mac1_verify(key, resp->data, resp->len) == L2S_OK);
	/* No cookie: mac2 zero in both. */
	CHECK(sodium_is_zero(init->data + L2S_HS_INIT_MAC2_OFF, L2S_MAC_BYTES));
	CHECK(sodium_is_zero(resp->data + L2S_HS_RESP_MAC2_OFF, L2S_MAC_BYTES));
	/* RESP answers INIT's index; CONFIRM goes to RESP's index, counter 0. */
	CHECK_MEM(resp->data + 8, init->data + 4, 4);
	CHECK_MEM(confirm->data + 4, resp->data + 4, 4);
	CHECK(sodium_is_zero(confirm->data + 8, 8));
}

int main(int argc, char **argv)
{
	static const char *const files[4] = { "bundle.hex", "init.hex", "resp.hex", "confirm.hex" };
	static struct vec run1[4], run2[4];
	const char *dir = L2S_SOURCE_DIR "/tests/vectors/handshake";
	int write = 0;

	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--write") == 0)
			write = 1;
		else if (strcmp(argv[k], "--dir") == 0 && k + 1 < argc)
			dir = argv[++k];
	}
	if (l2s_init() != L2S_OK)
		return 2;
	for (int k = 0; k < 4; k++)
		run1[k].file = files[k];
	run_handshake(&run1[0], &run1[1], &run1[2], &run1[3]);
	/* The same run again gives the same bytes (nothing outside the seeds
	 * leaks in: no clock, no system randomness). */
	run_handshake(&run2[0], &run2[1], &run2[2], &run2[3]);
	for (int k = 0; k < 4; k++) {
		CHECK(run1[k].len == run2[k].len);
		CHECK_MEM(run1[k].data, run2[k].data, run1[k].len);
	}
	check_structure(&run1[0], &run1[1], &run1[2], &run1[3]);
	for (int k = 0; k < 4; k++) {
		if (write)
			CHECK(write_hex(dir, &run1[k]));
		else
			check_vec(dir, &run1[k]);
	}
	return tu_finish("test_hs_vectors");
}
