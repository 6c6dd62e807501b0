/* SPDX-License-Identifier: Apache-2.0 */
/* checkpoint.h - which sessions a checkpoint saves. A session is saved
 * when what its resumption needs changed since its last save (its id, keys,
 * state, sequence numbers, queue, the peer's stream), and at least every
 * CHECKPOINT_REFRESH_MS (its ticket and expiry move on too): an idle
 * session then costs no disk writes. Each save is two fsyncs; saving 1,000
 * sessions every checkpoint_interval kept a node in disk waits. */
#ifndef L2SESSD_CHECKPOINT_H
#define L2SESSD_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "l2s_loop.h"

#define CHECKPOINT_REFRESH_MS 60000

struct checkpoint_mark {
	uint8_t pk[32];
	uint8_t print[32]; /* of what a resumption needs, at the last save */
	uint64_t saved_ms;
	int used;
};

struct checkpoint_marks {
	struct checkpoint_mark *slots; /* open addressing by pk */
	size_t cap, count;
};

/* 1 when p's session should be saved now (force: whatever changed). */
int checkpoint_due(const struct checkpoint_marks *m, const struct l2s_loop_peer_info *p, uint64_t now_ms);
/* p's session was saved at now_ms. */
void checkpoint_saved(struct checkpoint_marks *m, const struct l2s_loop_peer_info *p, uint64_t now_ms);
void checkpoint_marks_free(struct checkpoint_marks *m);

#endif
