// SPDX-License-Identifier: Apache-2.0
/* Session tickets and the resumption nonce cache (PROTOCOL.md §8). */
#include <sodium.h>
#include <string.h>

#include "hsfixture.h"
#include "handshake/nonce_cache.h"
#include "handshake/ticket.h"

#define LIFE 86400000ull

static void contents(struct l2s_ticket_contents *c, uint8_t tag, uint64_t not_after)
{
	fix_fill(c->session_id, 16, tag);
	fix_fill(c->peer_pk, 32, tag + 16);
	fix_fill(c->rs, 32, tag + 48);
	c->not_after_ms = not_after;
}

static void test_round_trip(struct l2s_rng *rng)
{
	struct l2s_ticket_keys k;
	struct l2s_ticket_contents c, o;
	uint8_t t[L2S_TICKET_BYTES], t2[L2S_TICKET_BYTES], other_peer[32];

	l2s_ticket_keys_init(&k, LIFE, rng, 1000);
	contents(&c, 1, 1000 + LIFE);
	CHECK(l2s_ticket_seal(t, &k, &c, rng) == L2S_OK);
	CHECK(l2s_get_u32(t) == k.current.id);
	CHECK(l2s_ticket_open(&o, &k, t, sizeof(t), NULL, 2000) == L2S_OK);
	CHECK_MEM(&o, &c, sizeof(c));
	CHECK(l2s_ticket_open(&o, &k, t, sizeof(t), c.peer_pk, 2000) == L2S_OK);
	/* Fresh nonce each time: two seals of the same contents differ. */
	CHECK(l2s_ticket_seal(t2, &k, &c, rng) == L2S_OK);
	CHECK(memcmp(t, t2, sizeof(t)) != 0);

	/* Issued to another peer. */
	fix_fill(other_peer, 32, 0xee);
	memset(&o, 0x55, sizeof(o));
	CHECK(l2s_ticket_open(&o, &k, t, sizeof(t), other_peer, 2000) == L2S_ERR_AUTH);
	CHECK(o.not_after_ms == 0x5555555555555555ull); /* untouched on refusal */
	/* Expired: exactly at not_after and later. */
	CHECK(l2s_ticket_open(&o, &k, t, sizeof(t), NULL, 1000 + LIFE - 1) == L2S_OK);
	CHECK(l2s_ticket_open(&o, &k, t, sizeof(t), NULL, 1000 + LIFE) == L2S_ERR_EXPIRED);
	/* Wrong length. */
	CHECK(l2s_ticket_open(&o, &k, t, sizeof(t) - 1, NULL, 2000) == L2S_ERR_DECODE);
	CHECK(l2s_ticket_open(&o, &k, t, 0, NULL, 2000) == L2S_ERR_DECODE);
	l2s_ticket_keys_wipe(&k);
}

static void test_forged(struct l2s_rng *rng)
{
	struct l2s_ticket_keys k, other;
	struct l2s_ticket_contents c, o;
	uint8_t t[L2S_TICKET_BYTES], f[L2S_TICKET_BYTES];
	int bad = 0;

	l2s_ticket_keys_init(&k, LIFE, rng, 0);
	l2s_ticket_keys_init(&other, LIFE, rng, 0);
	contents(&c, 9, LIFE);
	CHECK(l2s_ticket_seal(t, &k, &c, rng) == L2S_OK);
	for (size_t i = 0; i < sizeof(t); i++) {
		for (int flip = 1; flip <= 0x80; flip <<= 7) {
			memcpy(f, t, sizeof(f));
			f[i] ^= (uint8_t)flip;
			if (l2s_ticket_open(&o, &k, f, sizeof(f), NULL, 1) != L2S_ERR_AUTH)
				bad++;
		}
	}
	CHECK(bad == 0);
	/* Another responder's ticket: unknown key id, and with the id forced
	 * to ours the tag fails. */
	CHECK(l2s_ticket_seal(f, &other, &c, rng) == L2S_OK);
	CHECK(l2s_ticket_open(&o, &k, f, sizeof(f), NULL, 1) == L2S_ERR_AUTH);
	other.current.id = k.current.id;
	CHECK(l2s_ticket_seal(f, &other, &c, rng) == L2S_OK);
	CHECK(l2s_ticket_open(&o, &k, f, sizeof(f), NULL, 1) == L2S_ERR_AUTH);
	/* All zeros. */
	memset(f, 0, sizeof(f));
	CHECK(l2s_ticket_open(&o, &k, f, sizeof(f), NULL, 1) == L2S_ERR_AUTH);
	l2s_ticket_keys_wipe(&k);
	l2s_ticket_keys_wipe(&other);
}

/* Keys are replaced every lifetime; the previous key still opens. */
static void test_key_ring(struct l2s_rng *rng)
{
	struct l2s_ticket_keys k;
	struct l2s_ticket_contents c, o;
	uint8_t t[L2S_TICKET_BYTES];
	uint32_t first_id;

	l2s_ticket_keys_init(&k, 1000, rng, 0);
	first_id = k.current.id;
	CHECK(!k.previous.valid);
	CHECK(l2s_ticket_keys_deadline(&k) == 1000);
	contents(&c, 3, 999 + 1000); /* sealed at 999, lives a lifetime */
	CHECK(l2s_ticket_seal(t, &k, &c, rng) == L2S_OK);
	l2s_ticket_keys_update(&k, rng, 999);
	CHECK(k.current.id == first_id);
	l2s_ticket_keys_update(&k, rng, 1000);
	CHECK(k.current.id == first_id + 1 && k.previous.valid && k.previous.id == first_id);
	CHECK(l2s_ticket_open(&o, &k, t, sizeof(t), NULL, 1500) == L2S_OK);
	l2s_ticket_keys_update(&k, rng, 2000);
	CHECK(k.previous.id == first_id + 1);
	CHECK(l2s_ticket_open(&o, &k, t, sizeof(t), NULL, 1998) == L2S_ERR_AUTH); /* key gone */
	/* Two lifetimes of silence drop the previous key as well. */
	l2s_ticket_keys_update(&k, rng, 5000);
	CHECK(!k.previous.valid && k.current.id == first_id + 3);
	l2s_ticket_keys_wipe(&k);
}

static void test_nonce_cache(struct l2s_rng *rng)
{
	struct l2s_nonce_cache c;
	uint8_t n1[32], n2[32];
	int replays = 0;

	fix_fill(n1, 32, 1);
	fix_fill(n2, 32, 2);
	CHECK(l2s_nonce_cache_init(&c, 1024, 5000, rng) == L2S_OK);
	CHECK(l2s_nonce_cache_insert(&c, n1, 100) == L2S_OK);
	CHECK(l2s_nonce_cache_insert(&c, n1, 101) == L2S_ERR_REPLAY);
	CHECK(l2s_nonce_cache_insert(&c, n2, 102) == L2S_OK);
	CHECK(l2s_nonce_cache_insert(&c, n1, 5099) == L2S_ERR_REPLAY);
	CHECK(l2s_nonce_cache_insert(&c, n1, 5100) == L2S_OK); /* expired, then new */
	CHECK(l2s_nonce_cache_insert(&c, n1, 5101) == L2S_ERR_REPLAY);
	CHECK(c.evictions == 0);
	l2s_nonce_cache_free(&c);

	/* Bounded: 8 entries, 1000 distinct nonces, no false replays; the
	 * most recent ones are still remembered. */
	CHECK(l2s_nonce_cache_init(&c, 8, 1000000, rng) == L2S_OK);
	CHECK(c.n_sets == 1);
	for (uint32_t i = 0; i < 1000; i++) {
		memset(n1, 0, 32);
		l2s_put_u32(n1, i);
		if (l2s_nonce_cache_insert(&c, n1, 10 + i) != L2S_OK)
			replays++;
	}
	CHECK(replays == 0);
	CHECK(c.evictions == 992);
	CHECK(l2s_nonce_cache_insert(&c, n1, 2000) == L2S_ERR_REPLAY);
	l2s_nonce_cache_free(&c);
}

int main(void)
{
	struct l2s_rng rng;
	uint8_t seed[32];

	if (l2s_init() != L2S_OK)
		return 2;
	fix_fill(seed, 32, 0x33);
	l2s_rng_init_seeded(&rng, seed);
	test_round_trip(&rng);
	test_forged(&rng);
	test_key_ring(&rng);
	test_nonce_cache(&rng);
	return tu_finish("test_ticket");
}
