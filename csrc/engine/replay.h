/* SPDX-License-Identifier: Apache-2.0 */
/* Anti-replay sliding window of one receive key pair (PROTOCOL.md §7).
 *
 * The window is the highest accepted counter and the 1024 counters ending at
 * it: [highest - 1023, highest]. A counter above the highest is new; one in
 * the window is accepted once; one below the window is refused. Counter 0 is
 * valid. UINT64_MAX is never valid (senders stop at 2^60), which lets the
 * state keep "highest + 1" with 0 meaning "nothing accepted yet".
 *
 * check() is called before decrypting and changes nothing; accept() is called
 * only after the AEAD tag verified, so forged frames never move the window.
 */
#ifndef L2S_REPLAY_H
#define L2S_REPLAY_H

#include <stdint.h>

#include "l2s.h"

#define L2S_REPLAY_WINDOW 1024
#define L2S_REPLAY_WORDS (L2S_REPLAY_WINDOW / 64)

struct l2s_replay {
	uint64_t next; /* highest accepted counter + 1; 0 before the first */
	/* Ring bitmap: counter c lives at bit c % L2S_REPLAY_WINDOW. */
	uint64_t bits[L2S_REPLAY_WORDS];
};

void l2s_replay_init(struct l2s_replay *r);
/* L2S_OK when counter may be accepted, else L2S_ERR_REPLAY. */
int l2s_replay_check(const struct l2s_replay *r, uint64_t counter);
/* Records counter as received; a counter check() refuses is ignored. */
void l2s_replay_accept(struct l2s_replay *r, uint64_t counter);

#endif /* L2S_REPLAY_H */
