// SPDX-License-Identifier: Apache-2.0
/* The handshake work meter (load.h): two one-second windows. */
#include "handshake/load.h"

void l2s_load_init(struct l2s_load *ld, uint32_t limit_per_s, uint64_t now_ms)
{
	ld->window_ms = now_ms;
	ld->this_window = ld->last_window = 0;
	ld->limit = limit_per_s ? limit_per_s : 1;
}

static void roll(struct l2s_load *ld, uint64_t now_ms)
{
	if (now_ms < ld->window_ms + 1000)
		return;
	/* A quiet second in between leaves nothing to remember. */
	ld->last_window = now_ms < ld->window_ms + 2000 ? ld->this_window : 0;
	ld->this_window = 0;
	ld->window_ms = now_ms;
}

void l2s_load_count(struct l2s_load *ld, uint64_t now_ms)
{
	roll(ld, now_ms);
	if (ld->this_window < UINT32_MAX)
		ld->this_window++;
}

int l2s_load_high(struct l2s_load *ld, uint64_t now_ms)
{
	roll(ld, now_ms);
	return ld->this_window >= ld->limit || ld->last_window >= ld->limit;
}
