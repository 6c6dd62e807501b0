/* SPDX-License-Identifier: Apache-2.0
 *
 * Shared setup for the handshake-family tests: deterministic peers (identity,
 * prekey, bundle and a seeded rng, all from one tag byte) and a complete
 * handshake between two of them.
 */
#ifndef L2S_HSFIXTURE_H
#define L2S_HSFIXTURE_H

#include <stdint.h>
#include <string.h>

#include "handshake/bundle.h"
#include "handshake/handshake.h"
#include "handshake/identity.h"
#include "handshake/prekey.h"
#include "crypto/rng.h"
#include "testutil.h"

#define FIX_NOW_S 1800000000ull          /* the tests' Unix time */
#define FIX_NOT_AFTER_S (FIX_NOW_S + 86400)

struct fix_peer {
	struct l2s_identity id;
	struct l2s_prekey prekey;
	uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
	struct l2s_rng rng;
};

static inline void fix_fill(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

/* Everything of a peer from one byte: identity seed tag.., prekey seed
 * tag^0x80.., rng seed tag^0x40.. (each 32 consecutive byte values). */
static inline void fix_peer_init(struct fix_peer *p, uint8_t tag)
{
	uint8_t seed[32], pk[32], sk[64];

	memset(p, 0, sizeof(*p));
	fix_fill(seed, 32, tag);
	if (l2s_ed25519_seed_keypair(pk, sk, seed) != L2S_OK || l2s_identity_init(&p->id, sk) != L2S_OK)
		abort();
	fix_fill(seed, 32, tag ^ 0x80);
	if (l2s_prekey_init(&p->prekey, seed) != L2S_OK)
		abort();
	if (l2s_bundle_make(p->bundle, &p->id, p->prekey.pk, FIX_NOT_AFTER_S) != L2S_OK)
		abort();
	fix_fill(seed, 32, tag ^ 0x40);
	l2s_rng_init_seeded(&p->rng, seed);
}

/* A complete handshake i -> r; returns the first error or L2S_OK. */
static inline int fix_handshake(struct fix_peer *i, struct fix_peer *r, uint64_t counter,
				struct l2s_session_keys *ki, struct l2s_session_keys *kr)
{
	const struct l2s_prekey *keys[] = { &r->prekey };
	struct l2s_hs_initiator *ist;
	struct l2s_hs_responder rst;
	uint8_t resp[L2S_HS_RESP_BYTES];
	uint32_t r_index = 0;
	int ret;

	if (l2s_hs_initiator_new(&ist) != L2S_OK)
		return L2S_ERR_NOMEM;
	ret = l2s_hs_create_init(ist, &i->id, r->id.pk, r->prekey.pk, NULL, counter, 0x1111, NULL, &i->rng);
	if (ret == L2S_OK)
		ret = l2s_hs_consume_init(&rst, &r->id, keys, 1, NULL, ist->msg, sizeof(ist->msg));
	if (ret == L2S_OK)
		ret = l2s_hs_create_resp(resp, kr, &rst, &r->id, 0x2222, &r->rng);
	if (ret == L2S_OK)
		ret = l2s_hs_consume_resp(ki, &r_index, ist, &i->id, resp, sizeof(resp));
	l2s_hs_initiator_free(ist);
	return ret;
}

/* The two sides' keys mirror each other. */
static inline int fix_keys_match(const struct l2s_session_keys *a, const struct l2s_session_keys *b)
{
	return memcmp(a->send, b->recv, 32) == 0 && memcmp(a->recv, b->send, 32) == 0 &&
	       memcmp(a->session_id, b->session_id, 16) == 0 && memcmp(a->rs, b->rs, 32) == 0 &&
	       memcmp(a->rc, b->rc, 32) == 0 && memcmp(a->send, a->recv, 32) != 0;
}

static inline void fix_hex(const char *label, const uint8_t *p, size_t n)
{
	printf("%s = ", label);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

#endif /* L2S_HSFIXTURE_H */
