// SPDX-License-Identifier: Apache-2.0
/* The timer heap against a brute-force model (one deadline per id, the
 * earliest (deadline, id) pops first), and the backoff delay. */
#include <string.h>

#include "lib/backoff.h"
#include "lib/timers.h"
#include "testutil.h"

#define N_IDS 1000

static uint64_t rs = 0x2545f4914f6cdd1du;

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static uint64_t model[N_IDS];

/* The earliest (deadline, id) in the model, or -1. */
static int model_min(void)
{
	int best = -1;

	for (int i = 0; i < N_IDS; i++)
		if (model[i] != L2S_TIMER_NONE && (best < 0 || model[i] < model[best]))
			best = i;
	return best;
}

static void test_random_model(void)
{
	struct l2s_timers t;
	uint64_t now = 1000;
	int next_bad = 0, pop_bad = 0, get_bad = 0, set_bad = 0, pops = 0;

	CHECK(l2s_timers_init(&t, 4) == L2S_OK); /* small: exercise growth */
	for (int i = 0; i < N_IDS; i++)
		model[i] = L2S_TIMER_NONE;
	for (int step = 0; step < 60000; step++) {
		uint32_t id = (uint32_t)(rnd() % N_IDS), got = 0;
		uint64_t r = rnd() % 100;

		if (r < 50) {
			uint64_t d = r < 5 ? now : now + rnd() % 500; /* ties at now */

			set_bad += l2s_timers_set(&t, id, d) != L2S_OK;
			model[id] = d;
		} else if (r < 65) {
			set_bad += l2s_timers_set(&t, id, L2S_TIMER_NONE) != L2S_OK;
			model[id] = L2S_TIMER_NONE;
		} else {
			int m;

			now += rnd() % 8;
			for (;;) {
				int popped = l2s_timers_pop_due(&t, now, &got);

				m = model_min();
				if (m < 0 || model[m] > now) {
					pop_bad += popped;
					break;
				}
				if (!popped || got != (uint32_t)m) {
					pop_bad++;
					break;
				}
				model[m] = L2S_TIMER_NONE;
				pops++;
			}
		}
		{
			int m = model_min();

			if (l2s_timers_next(&t) != (m < 0 ? L2S_TIMER_NONE : model[m]))
				next_bad++;
			if (l2s_timers_get(&t, id) != model[id])
				get_bad++;
		}
	}
	/* Drain: everything pops in (deadline, id) order. */
	{
		uint64_t last_d = 0;
		uint32_t last_id = 0, id;
		int order_bad = 0, n = 0, expect = 0;

		for (int i = 0; i < N_IDS; i++)
			expect += model[i] != L2S_TIMER_NONE;
		while (l2s_timers_pop_due(&t, UINT64_MAX - 1, &id)) {
			if (model[id] == L2S_TIMER_NONE || model[id] < last_d ||
			    (n && model[id] == last_d && id <= last_id))
				order_bad++;
			last_d = model[id];
			last_id = id;
			model[id] = L2S_TIMER_NONE;
			n++;
		}
		CHECK(order_bad == 0);
		CHECK(n == expect);
		CHECK(t.count == 0);
		CHECK(l2s_timers_next(&t) == L2S_TIMER_NONE);
	}
	CHECK(set_bad == 0);
	CHECK(next_bad == 0);
	CHECK(pop_bad == 0);
	CHECK(get_bad == 0);
	CHECK(pops > 10000);
	l2s_timers_free(&t);
}

static void test_edges(void)
{
	struct l2s_timers t;
	uint32_t id = 99;

	CHECK(l2s_timers_init(&t, 0) == L2S_OK);
	CHECK(l2s_timers_next(&t) == L2S_TIMER_NONE);
	CHECK(l2s_timers_pop_due(&t, UINT64_MAX, &id) == 0 && id == 99);
	CHECK(l2s_timers_set(&t, 5, L2S_TIMER_NONE) == L2S_OK); /* cancel unset */
	CHECK(l2s_timers_set(&t, L2S_TIMERS_MAX_ID, 1) == L2S_ERR_NOMEM);
	CHECK(l2s_timers_set(&t, L2S_TIMERS_MAX_ID - 1, 7) == L2S_OK);
	CHECK(l2s_timers_set(&t, 3, 7) == L2S_OK);
	CHECK(l2s_timers_set(&t, 3, 9) == L2S_OK); /* move later */
	CHECK(l2s_timers_next(&t) == 7);
	CHECK(l2s_timers_pop_due(&t, 6, &id) == 0);
	CHECK(l2s_timers_pop_due(&t, 7, &id) == 1 && id == L2S_TIMERS_MAX_ID - 1);
	CHECK(l2s_timers_set(&t, 3, 2) == L2S_OK); /* move earlier */
	CHECK(l2s_timers_get(&t, 3) == 2);
	CHECK(l2s_timers_pop_due(&t, 2, &id) == 1 && id == 3);
	CHECK(l2s_timers_pop_due(&t, UINT64_MAX, &id) == 0);
	/* Deadline 0 is a real deadline; UINT64_MAX - 1 as well. */
	CHECK(l2s_timers_set(&t, 1, UINT64_MAX - 1) == L2S_OK);
	CHECK(l2s_timers_set(&t, 2, 0) == L2S_OK);
	CHECK(l2s_timers_pop_due(&t, 0, &id) == 1 && id == 2);
	CHECK(l2s_timers_pop_due(&t, UINT64_MAX - 2, &id) == 0);
	CHECK(l2s_timers_pop_due(&t, UINT64_MAX - 1, &id) == 1 && id == 1);
	l2s_timers_free(&t);
	l2s_timers_free(&t); /* idempotent */
}

static void test_backoff(void)
{
	struct l2s_config cfg;
	struct l2s_rng rng;
	uint8_t seed[32] = { 7 };
	int out_of_range = 0;
	uint64_t sum = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.backoff_base_ms = 1000;
	cfg.backoff_max_ms = 60000;
	l2s_rng_init_seeded(&rng, seed);
	for (uint32_t a = 0; a < 300; a++) {
		uint64_t d = a < 6 ? 1000u << a : 60000, v = l2s_backoff_delay(&cfg, a, &rng);

		if (v < (d + 1) / 2 || v > d)
			out_of_range++;
	}
	CHECK(l2s_backoff_delay(&cfg, UINT32_MAX, &rng) >= 30000);
	for (int i = 0; i < 4000; i++)
		sum += l2s_backoff_delay(&cfg, 0, &rng);
	CHECK(sum / 4000 > 720 && sum / 4000 < 780); /* mean of U[500, 1000] */

	/* Extreme configurations: no overflow, no division by zero. */
	cfg.backoff_base_ms = UINT64_MAX;
	cfg.backoff_max_ms = UINT64_MAX;
	for (uint32_t a = 0; a < 70; a++) {
		uint64_t v = l2s_backoff_delay(&cfg, a, &rng);

		if (v < UINT64_MAX / 2 + 1)
			out_of_range++;
	}
	cfg.backoff_base_ms = 3;
	cfg.backoff_max_ms = UINT64_MAX;
	for (uint32_t a = 60; a < 70; a++) {
		/* 3 * 2^62 still fits in 64 bits; 3 * 2^63 is capped. */
		uint64_t v = l2s_backoff_delay(&cfg, a, &rng), d = a <= 62 ? (uint64_t)3 << a : UINT64_MAX;

		if (v < d - d / 2 || v > d)
			out_of_range++;
	}
	cfg.backoff_base_ms = 0;
	CHECK(l2s_backoff_delay(&cfg, 5, &rng) == 0);
	cfg.backoff_base_ms = 1;
	cfg.backoff_max_ms = 1;
	CHECK(l2s_backoff_delay(&cfg, 0, &rng) == 1);
	cfg.backoff_base_ms = 100;
	cfg.backoff_max_ms = 10; /* max below base: max wins */
	CHECK(l2s_backoff_delay(&cfg, 0, &rng) <= 10);
	CHECK(out_of_range == 0);
}

int main(void)
{
	CHECK(l2s_init() == L2S_OK);
	test_edges();
	test_random_model();
	test_backoff();
	return tu_finish("timers");
}
