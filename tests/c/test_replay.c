// SPDX-License-Identifier: Apache-2.0
/* The anti-replay window against a brute-force model: a counter is fresh when
 * nothing was accepted yet, when it is above the highest accepted, or when it
 * lies in [highest - 1023, highest] and was not accepted before. */
#include <string.h>

#include "engine/replay.h"
#include "testutil.h"

struct model {
	int have;
	uint64_t highest;
	uint64_t seen[L2S_REPLAY_WINDOW + 1]; /* accepted counters inside the window */
	size_t n;
};

static int model_fresh(const struct model *m, uint64_t c)
{
	if (c == UINT64_MAX)
		return 0;
	if (!m->have || c > m->highest)
		return 1;
	if (m->highest - c >= L2S_REPLAY_WINDOW)
		return 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->seen[i] == c)
			return 0;
	return 1;
}

static void model_accept(struct model *m, uint64_t c)
{
	size_t j = 0;

	if (!model_fresh(m, c))
		return;
	if (!m->have || c > m->highest)
		m->highest = c;
	m->have = 1;
	m->seen[m->n++] = c;
	for (size_t i = 0; i < m->n; i++) /* forget what fell out of the window */
		if (m->highest - m->seen[i] < L2S_REPLAY_WINDOW)
			m->seen[j++] = m->seen[i];
	m->n = j;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static int fresh(const struct l2s_replay *r, uint64_t c)
{
	return l2s_replay_check(r, c) == L2S_OK;
}

static void test_edges(void)
{
	struct l2s_replay r;

	l2s_replay_init(&r);
	CHECK(fresh(&r, 0));
	CHECK(fresh(&r, UINT64_MAX - 1));
	CHECK(!fresh(&r, UINT64_MAX));
	l2s_replay_accept(&r, 0);
	CHECK(!fresh(&r, 0));
	CHECK(fresh(&r, 1));

	l2s_replay_accept(&r, 1023); /* window [0, 1023]: 0 still inside */
	CHECK(!fresh(&r, 0));
	CHECK(fresh(&r, 1));
	CHECK(fresh(&r, 1022));
	CHECK(!fresh(&r, 1023));
	l2s_replay_accept(&r, 1024); /* window [1, 1024] */
	CHECK(!fresh(&r, 0));
	CHECK(fresh(&r, 1));
	l2s_replay_accept(&r, 1);
	CHECK(!fresh(&r, 1));
	l2s_replay_accept(&r, 1025); /* window [2, 1025]: 1 fell out */
	CHECK(!fresh(&r, 1));
	CHECK(fresh(&r, 2));
	CHECK(!fresh(&r, 1023)); /* slot 1023 survived the moves */

	/* A jump larger than the window forgets every old slot. */
	l2s_replay_accept(&r, 5000);
	CHECK(fresh(&r, 5000 - 1023));
	CHECK(!fresh(&r, 5000 - 1024));
	CHECK(!fresh(&r, 1025));
	for (uint64_t c = 5000 - 1023; c < 5000; c++)
		CHECK(fresh(&r, c));
	/* Exactly one window ahead: the old highest's slot is reused. */
	l2s_replay_accept(&r, 5000 + 1024);
	CHECK(fresh(&r, 5001));
	CHECK(!fresh(&r, 5000));
	CHECK(!fresh(&r, 5000 + 1024));

	/* Near the end of the counter space. */
	l2s_replay_accept(&r, UINT64_MAX - 1);
	CHECK(!fresh(&r, UINT64_MAX - 1));
	CHECK(!fresh(&r, UINT64_MAX));
	CHECK(fresh(&r, UINT64_MAX - 1024));
	CHECK(!fresh(&r, UINT64_MAX - 1025));
	l2s_replay_accept(&r, UINT64_MAX); /* ignored */
	CHECK(r.next == UINT64_MAX);
}

/* Mixed random sequences compared step by step with the model. */
static void test_random(int rounds)
{
	static struct model m;
	struct l2s_replay r;
	int mismatches = 0;

	for (int round = 0; round < rounds; round++) {
		memset(&m, 0, sizeof(m));
		l2s_replay_init(&r);
		for (int step = 0; step < 5000; step++) {
			uint64_t base = m.have ? m.highest : 0, c;

			switch (rnd() % 6) {
			case 0:
				c = base + rnd() % 4;
				break;
			case 1:
				c = base - rnd() % 1100;
				break;
			case 2:
				c = base + rnd() % 3000;
				break;
			case 3:
				c = base + 1020 + rnd() % 10;
				break;
			case 4:
				c = base - 1020 - rnd() % 10;
				break;
			default:
				c = rnd() % (base / 2 + 2) * 2 - rnd() % 2;
				break;
			}
			if (round == 1) /* same shapes near the top of the space */
				c |= (uint64_t)1 << 62;
			if (fresh(&r, c) != model_fresh(&m, c))
				mismatches++;
			if (rnd() % 4 != 0) { /* accept; refused ones must be ignored */
				l2s_replay_accept(&r, c);
				model_accept(&m, c);
			}
		}
		/* Final sweep over the whole window and around it. */
		for (uint64_t d = 0; d < 1100 && m.have; d++)
			if (fresh(&r, m.highest - d) != model_fresh(&m, m.highest - d))
				mismatches++;
	}
	CHECK(mismatches == 0);
}

int main(void)
{
	test_edges();
	test_random(12);
	return tu_finish("replay");
}
