/* SPDX-License-Identifier: Apache-2.0 */
/* How much handshake work the node is asked for: requests per second that
 * passed mac1 (so were meant for us), answered or not. A flood of requests
 * that fail after the decapsulation costs as much as one that succeeds, so
 * "under load" is measured here, not by the handshakes left half-open
 * (PROTOCOL.md §4.3). */
#ifndef L2S_LOAD_H
#define L2S_LOAD_H

#include <stdint.h>

struct l2s_load {
	uint64_t window_ms;    /* start of the current second */
	uint32_t this_window;  /* requests in it */
	uint32_t last_window;  /* requests in the second before */
	uint32_t limit;        /* requests per second from which the node is under load */
};

void l2s_load_init(struct l2s_load *ld, uint32_t limit_per_s, uint64_t now_ms);
/* One request. */
void l2s_load_count(struct l2s_load *ld, uint64_t now_ms);
/* 1 while this second or the one before reached the limit. */
int l2s_load_high(struct l2s_load *ld, uint64_t now_ms);

#endif
