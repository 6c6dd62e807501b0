// SPDX-License-Identifier: Apache-2.0
/* Discovery (PROTOCOL.md §11): probe/answer round trip, the 3x rule,
 * address tokens, signature checks, rate limit and decoder bounds. */
#include <string.h>

#include "handshake/bundle.h"
#include "transport/discovery.h"
#include "testutil.h"

#define NOW_MS 1000000ull
#define NOW_S 1800000000ull

static struct l2s_identity id, other;
static uint8_t bundle[L2S_PREKEY_BUNDLE_BYTES];
static struct l2s_cookie_secrets secrets;
static struct l2s_ratelimit rl;
static struct l2s_rng rng;
static const struct l2s_disc_transport offered[] = { { L2S_DISC_T_UDP, 4433 }, { L2S_DISC_T_QUIC, 4434 },
						     { L2S_DISC_T_UTCP, 4435 } };
static struct l2s_disc_responder resp;
static const struct l2s_disc_addr from4 = { L2S_DISC_AF_INET, 50000, { 192, 0, 2, 7 } };
static const struct l2s_disc_addr from6 = { L2S_DISC_AF_INET6, 443, { 0x20, 0x01, 0x0d, 0xb8, 9 } };

/* Field by field: the struct has padding. */
static int same_addr(const struct l2s_disc_addr *a, const struct l2s_disc_addr *b)
{
	return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

static void make_identity(struct l2s_identity *i)
{
	uint8_t pk[L2S_ED25519_PK_BYTES], sk[L2S_ED25519_SK_BYTES];

	l2s_ed25519_keypair(pk, sk);
	CHECK(l2s_identity_init(i, sk) == L2S_OK);
}

static void setup(void)
{
	uint8_t xpk[L2S_XWING_PK_BYTES], xsk[L2S_XWING_SK_BYTES];
	uint8_t seed[32] = { 7 };

	l2s_rng_init_seeded(&rng, seed);
	make_identity(&id);
	make_identity(&other);
	CHECK(l2s_xwing_keygen(xpk, xsk) == L2S_OK);
	CHECK(l2s_bundle_make(bundle, &id, xpk, NOW_S + 3600) == L2S_OK);
	l2s_cookie_secrets_init(&secrets, &rng, NOW_MS);
	CHECK(l2s_ratelimit_init(&rl, 64, 1000, 1000, &rng) == L2S_OK);
	resp = (struct l2s_disc_responder){ &id, bundle, offered, 3, &secrets, &rl };
}

/* Probe, answer, verify; returns the verify result. */
static int exchange(const struct l2s_disc_addr *from, const uint8_t *token, size_t pad, struct l2s_disc_result *res,
		    size_t *probe_len, size_t *ans_len)
{
	uint8_t probe[L2S_DISC_PROBE_MAX_BYTES], ans[L2S_DISC_ANSWER_MAX_BYTES], nonce[32];
	int ret;

	CHECK(l2s_discovery_probe_make(probe, sizeof(probe), probe_len, pad, nonce, &rng, token) == L2S_OK);
	ret = l2s_discovery_answer(ans, sizeof(ans), ans_len, &resp, from, probe, *probe_len, NOW_MS);
	if (ret != L2S_OK)
		return ret;
	return l2s_discovery_verify(ans, *ans_len, nonce, id.pk, NOW_S, res);
}

static void test_round_trip(void)
{
	struct l2s_disc_result res, res2;
	size_t pl, al;

	CHECK(exchange(&from4, NULL, 0, &res, &pl, &al) == L2S_OK);
	CHECK(pl == L2S_DISC_PROBE_MIN_BYTES);
	CHECK(res.has_token && !res.has_bundle);
	CHECK(same_addr(&res.observed, &from4));
	CHECK(res.n_transports == 3 && res.transports[1].kind == L2S_DISC_T_QUIC && res.transports[1].port == 4434);
	/* The token proves the address: the bundle comes back and verifies. */
	CHECK(exchange(&from4, res.token, 0, &res2, &pl, &al) == L2S_OK);
	CHECK(res2.has_bundle && !res2.has_token);
	CHECK(al > 3 * pl);
	CHECK(memcmp(res2.bundle.identity_pk, id.pk, 32) == 0);
	CHECK(l2s_prekey_bundle_verify(bundle, sizeof(bundle), id.pk, NOW_S) == L2S_OK);
	/* IPv6 as well. */
	CHECK(exchange(&from6, NULL, 300, &res, &pl, &al) == L2S_OK);
	CHECK(pl == 300 && same_addr(&res.observed, &from6));
	CHECK(exchange(&from6, res.token, 0, &res2, &pl, &al) == L2S_OK && res2.has_bundle);
}

static void test_amplification(void)
{
	struct l2s_disc_result res;
	size_t pl, al;

	for (size_t pad = L2S_DISC_PROBE_MIN_BYTES; pad <= L2S_DISC_PROBE_MAX_BYTES; pad++) {
		CHECK(exchange(&from6, NULL, pad, &res, &pl, &al) == L2S_OK);
		CHECK(pl == pad && al <= 3 * pl && res.has_token);
	}
	/* Too large a probe is not a probe. */
	uint8_t probe[L2S_DISC_PROBE_MAX_BYTES + 1], nonce[32];
	CHECK(l2s_discovery_probe_make(probe, sizeof(probe), &pl, sizeof(probe), nonce, &rng, NULL) ==
	      L2S_ERR_LENGTH);
}

static void test_tokens(void)
{
	struct l2s_disc_result res, res2;
	uint8_t bad[32];
	size_t pl, al;

	CHECK(exchange(&from4, NULL, 0, &res, &pl, &al) == L2S_OK);
	/* Another address's token, or a flipped one: no bundle, a fresh token. */
	CHECK(exchange(&from6, res.token, 0, &res2, &pl, &al) == L2S_OK);
	CHECK(!res2.has_bundle && res2.has_token && al <= 3 * pl);
	memcpy(bad, res.token, 32);
	bad[5] ^= 1;
	CHECK(exchange(&from4, bad, 0, &res2, &pl, &al) == L2S_OK && !res2.has_bundle);
	/* One rotation: still valid (previous secret). */
	l2s_cookie_secrets_update(&secrets, &rng, NOW_MS + L2S_COOKIE_SECRET_LIFETIME_MS);
	CHECK(exchange(&from4, res.token, 0, &res2, &pl, &al) == L2S_OK && res2.has_bundle);
	/* Two rotations: expired, so a fresh token instead. */
	l2s_cookie_secrets_update(&secrets, &rng, NOW_MS + 2 * L2S_COOKIE_SECRET_LIFETIME_MS);
	CHECK(exchange(&from4, res.token, 0, &res2, &pl, &al) == L2S_OK);
	CHECK(!res2.has_bundle && res2.has_token && memcmp(res2.token, res.token, 32) != 0);
	CHECK(exchange(&from4, res2.token, 0, &res, &pl, &al) == L2S_OK && res.has_bundle);
	/* A responder without a bundle answers a valid token with a token. */
	resp.bundle = NULL;
	CHECK(exchange(&from4, res2.token, 0, &res, &pl, &al) == L2S_OK && !res.has_bundle && res.has_token);
	CHECK(al <= 3 * pl);
	resp.bundle = bundle;
}

/* Every bit flip of an answer fails verification; so do another nonce and
 * another expected identity. */
static void check_forgery(const uint8_t *token)
{
	uint8_t probe[L2S_DISC_PROBE_MAX_BYTES], ans[L2S_DISC_ANSWER_MAX_BYTES], nonce[32];
	struct l2s_disc_result res;
	size_t pl, al;

	CHECK(l2s_discovery_probe_make(probe, sizeof(probe), &pl, 0, nonce, &rng, token) == L2S_OK);
	CHECK(l2s_discovery_answer(ans, sizeof(ans), &al, &resp, &from4, probe, pl, NOW_MS) == L2S_OK);
	CHECK(l2s_discovery_verify(ans, al, nonce, id.pk, NOW_S, &res) == L2S_OK);
	CHECK(l2s_discovery_verify(ans, al, nonce, other.pk, NOW_S, &res) == L2S_ERR_AUTH);
	nonce[0] ^= 1;
	CHECK(l2s_discovery_verify(ans, al, nonce, id.pk, NOW_S, &res) == L2S_ERR_AUTH);
	nonce[0] ^= 1;
	for (size_t i = 0; i < al; i++) {
		int fails = 1;

		for (int bit = 0; bit < 8 && fails; bit++) {
			ans[i] ^= (uint8_t)(1u << bit);
			fails = l2s_discovery_verify(ans, al, nonce, id.pk, NOW_S, &res) != L2S_OK;
			ans[i] ^= (uint8_t)(1u << bit);
		}
		CHECK(fails);
	}
	/* The same answer re-signed by another identity claiming to be id. */
	memcpy(ans + 5, other.pk, 32);
	CHECK(l2s_discovery_verify(ans, al, nonce, id.pk, NOW_S, &res) == L2S_ERR_AUTH);
}

static void test_forgery(void)
{
	struct l2s_disc_result res;
	size_t pl, al;

	check_forgery(NULL);
	CHECK(exchange(&from4, NULL, 0, &res, &pl, &al) == L2S_OK);
	check_forgery(res.token);
}

static void test_expired_bundle(void)
{
	uint8_t probe[L2S_DISC_PROBE_MAX_BYTES], ans[L2S_DISC_ANSWER_MAX_BYTES], nonce[32];
	struct l2s_disc_result res;
	size_t pl, al;

	CHECK(exchange(&from4, NULL, 0, &res, &pl, &al) == L2S_OK);
	CHECK(l2s_discovery_probe_make(probe, sizeof(probe), &pl, 0, nonce, &rng, res.token) == L2S_OK);
	CHECK(l2s_discovery_answer(ans, sizeof(ans), &al, &resp, &from4, probe, pl, NOW_MS) == L2S_OK);
	CHECK(l2s_discovery_verify(ans, al, nonce, id.pk, NOW_S + 3600, &res) == L2S_ERR_EXPIRED);
}

static void test_rate_limit(void)
{
	uint8_t probe[L2S_DISC_PROBE_MAX_BYTES], ans[L2S_DISC_ANSWER_MAX_BYTES], nonce[32];
	struct l2s_ratelimit small;
	const struct l2s_disc_addr src = { L2S_DISC_AF_INET, 9, { 198, 51, 100, 1 } };
	size_t pl, al;
	int ok = 0, busy = 0;

	CHECK(l2s_ratelimit_init(&small, 16, 1, 5, &rng) == L2S_OK);
	resp.rl = &small;
	CHECK(l2s_discovery_probe_make(probe, sizeof(probe), &pl, 0, nonce, &rng, NULL) == L2S_OK);
	for (int i = 0; i < 20; i++) {
		int ret = l2s_discovery_answer(ans, sizeof(ans), &al, &resp, &src, probe, pl, NOW_MS);

		ok += ret == L2S_OK;
		busy += ret == L2S_ERR_BUSY;
	}
	CHECK(ok == 5 && busy == 15);
	/* Another source has its own bucket; time refills ours. */
	CHECK(l2s_discovery_answer(ans, sizeof(ans), &al, &resp, &from4, probe, pl, NOW_MS) == L2S_OK);
	CHECK(l2s_discovery_answer(ans, sizeof(ans), &al, &resp, &src, probe, pl, NOW_MS + 1000) == L2S_OK);
	resp.rl = &rl;
	l2s_ratelimit_free(&small);
}

/* In-band (§11.3): the connection proved the address, so a token-less probe
 * gets the bundle at once, past the 3x rule; a bad probe and the rate
 * limit still refuse, and the answer still verifies against the DID only. */
static void test_inband(void)
{
	uint8_t probe[L2S_DISC_PROBE_MAX_BYTES], ans[L2S_DISC_ANSWER_MAX_BYTES], nonce[32];
	const struct l2s_disc_addr src = { L2S_DISC_AF_INET, 7, { 203, 0, 113, 5 } };
	struct l2s_disc_result res;
	struct l2s_ratelimit small;
	size_t pl, al;
	int ok = 0, busy = 0;

	CHECK(l2s_discovery_probe_make(probe, sizeof(probe), &pl, 0, nonce, &rng, NULL) == L2S_OK);
	CHECK(l2s_discovery_answer_inband(ans, sizeof(ans), &al, &resp, &src, probe, pl, NOW_MS) == L2S_OK);
	CHECK(al > L2S_DISC_AMPLIFICATION * pl);
	CHECK(l2s_discovery_verify(ans, al, nonce, id.pk, NOW_S, &res) == L2S_OK);
	CHECK(res.has_bundle && !res.has_token && same_addr(&res.observed, &src));
	CHECK(l2s_discovery_verify(ans, al, nonce, other.pk, NOW_S, &res) == L2S_ERR_AUTH);
	/* The plain answer to the same probe is still a token. */
	CHECK(l2s_discovery_answer(ans, sizeof(ans), &al, &resp, &src, probe, pl, NOW_MS) == L2S_OK);
	CHECK(l2s_discovery_verify(ans, al, nonce, id.pk, NOW_S, &res) == L2S_OK && res.has_token);
	probe[pl - 1] = 1; /* non-zero padding */
	CHECK(l2s_discovery_answer_inband(ans, sizeof(ans), &al, &resp, &src, probe, pl, NOW_MS) ==
	      L2S_ERR_DECODE);
	probe[pl - 1] = 0;
	CHECK(l2s_ratelimit_init(&small, 16, 1, 3, &rng) == L2S_OK);
	resp.rl = &small;
	for (int i = 0; i < 10; i++) {
		int ret = l2s_discovery_answer_inband(ans, sizeof(ans), &al, &resp, &src, probe, pl, NOW_MS);

		ok += ret == L2S_OK;
		busy += ret == L2S_ERR_BUSY;
	}
	CHECK(ok == 3 && busy == 7);
	resp.rl = &rl;
	l2s_ratelimit_free(&small);
}

/* Every truncation and extension of a valid message is refused. */
static void check_bounds(const uint8_t *msg, size_t len, int is_probe)
{
	static uint8_t buf[L2S_DISC_ANSWER_MAX_BYTES + 64];
	struct l2s_disc_probe p;
	struct l2s_disc_answer a;
	int type = 0;

	/* The §2 peek knows both types (and the session node drops them). */
	CHECK(l2s_wire_peek(msg, len, &type) == L2S_OK);
	CHECK(type == (is_probe ? L2S_MSG_DISCOVERY_PROBE : L2S_MSG_DISCOVERY_ANSWER));
	memset(buf, 0, sizeof(buf));
	memcpy(buf, msg, len);
	for (size_t n = 0; n < sizeof(buf); n++) {
		int rc = is_probe ? l2s_decode_disc_probe(buf, n, &p) : l2s_decode_disc_answer(buf, n, &a);

		/* Zero padding may legitimately extend a probe. */
		if (is_probe && n >= len && n <= L2S_DISC_PROBE_MAX_BYTES)
			CHECK(rc == L2S_OK);
		else
			CHECK(rc == (n == len ? L2S_OK : L2S_ERR_DECODE));
	}
	/* A non-zero extension byte is refused for a probe too. */
	if (is_probe && len < L2S_DISC_PROBE_MAX_BYTES) {
		buf[len] = 1;
		CHECK(l2s_decode_disc_probe(buf, len + 1, &p) == L2S_ERR_DECODE);
	}
}

static void test_decoder_bounds(void)
{
	uint8_t probe[L2S_DISC_PROBE_MAX_BYTES], ans[L2S_DISC_ANSWER_MAX_BYTES], nonce[32];
	struct l2s_disc_result res;
	size_t pl, al;

	CHECK(l2s_discovery_probe_make(probe, sizeof(probe), &pl, 0, nonce, &rng, NULL) == L2S_OK);
	check_bounds(probe, pl, 1);
	CHECK(l2s_discovery_answer(ans, sizeof(ans), &al, &resp, &from6, probe, pl, NOW_MS) == L2S_OK);
	CHECK(l2s_discovery_verify(ans, al, nonce, id.pk, NOW_S, &res) == L2S_OK);
	check_bounds(ans, al, 0);
	for (size_t n = 0; n < al; n++)
		CHECK(l2s_discovery_verify(ans, n, nonce, id.pk, NOW_S, &res) == L2S_ERR_DECODE);
	CHECK(l2s_discovery_probe_make(probe, sizeof(probe), &pl, 0, nonce, &rng, res.token) == L2S_OK);
	check_bounds(probe, pl, 1);
	CHECK(l2s_discovery_answer(ans, sizeof(ans), &al, &resp, &from6, probe, pl, NOW_MS) == L2S_OK);
	check_bounds(ans, al, 0);
	/* A probe that is not one: no answer. */
	probe[4] = 0x80;
	CHECK(l2s_discovery_answer(ans, sizeof(ans), &al, &resp, &from6, probe, pl, NOW_MS) == L2S_ERR_DECODE);
	/* A short output buffer is refused, not overrun. */
	probe[4] = 0x01;
	CHECK(l2s_discovery_answer(ans, 100, &al, &resp, &from6, probe, pl, NOW_MS) == L2S_ERR_LENGTH);
}

int main(void)
{
	if (l2s_init() != L2S_OK)
		return 1;
	setup();
	test_round_trip();
	test_amplification();
	test_tokens();
	test_forgery();
	test_expired_bundle();
	test_rate_limit();
	test_inband();
	test_decoder_bounds();
	l2s_ratelimit_free(&rl);
	return tu_finish("test_discovery");
}
