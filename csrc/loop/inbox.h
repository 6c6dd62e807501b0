/* SPDX-License-Identifier: Apache-2.0 */
/* The inbox (PROTOCOL.md §12): one line per delivered message, appended to
 * a file the loop writes before the message is acknowledged. The file
 * rotates at a size (path.1 the newest rotated file, path.<keep> the
 * oldest), and with sync its lines reach the disk before the round's
 * acknowledgements leave. Every function returns 0 or the errno that made
 * the inbox refuse (a full, read-only or failing disk): the caller then
 * refuses the message, which its sender keeps. */
#ifndef L2S_INBOX_H
#define L2S_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "l2s.h"

struct l2s_inbox {
	char *path;          /* NULL: no inbox */
	int fd;              /* -1: to be opened again (after a failure) */
	int regular;         /* a file (not a device or pipe): it rotates, syncs, is cut back */
	uint64_t size;       /* of the current file */
	uint64_t max_bytes;  /* rotate before a line would pass this; 0: never */
	uint32_t keep;       /* rotated files kept */
	int sync;            /* fdatasync before acknowledgements leave */
	int unsynced;        /* lines written since the last sync */
	uint64_t rotations;
};

/* Opens (creating 0600) path; path NULL: no inbox (every call succeeds). */
int l2s_inbox_open(struct l2s_inbox *ib, const char *path, uint64_t max_bytes, uint32_t keep, int sync);
void l2s_inbox_close(struct l2s_inbox *ib);
/* <stream hex> <seq> <peer_pk hex> <payload hex>\n, whole or not at all. */
int l2s_inbox_write(struct l2s_inbox *ib, const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t seq,
		    const uint8_t peer_pk[L2S_ED25519_PK_BYTES], const uint8_t *payload, size_t len);
/* The lines written so far onto the disk (with sync; else nothing to do). */
int l2s_inbox_sync(struct l2s_inbox *ib);

#endif
