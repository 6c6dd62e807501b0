/* SPDX-License-Identifier: Apache-2.0 */
/* statelock.h - one node per state directory, and the identity it belongs
 * to, exactly as l2sess/node/runner.py keeps them, so that neither node
 * runs twice on a state directory nor both on it:
 *
 *   state_dir/lock   flock(LOCK_EX) held while a node runs; holds its pid
 *   state_dir/did    the DID of the identity whose sessions the folder keeps */
#ifndef L2SESSD_STATELOCK_H
#define L2SESSD_STATELOCK_H

#include "store.h"

/* The lock: its fd (kept open while the node runs), -1 with err when it
 * cannot be made, -2 with err when another node holds it. */
int statelock_take(const char *state_dir, char err[STORE_ERROR_BYTES]);

/* The DID state_dir records, into did (cap bytes): 1; 0 when none is
 * recorded yet (a first run); -1 with err when the file cannot be read. */
int statelock_recorded_did(const char *state_dir, char *did, size_t cap, char err[STORE_ERROR_BYTES]);
/* Records did as state_dir's. 0 or -1 (errno). */
int statelock_record_did(const char *state_dir, const char *did);

#endif /* L2SESSD_STATELOCK_H */
