/* SPDX-License-Identifier: Apache-2.0 */
/* store.h - what the daemon keeps on disk, in l2sess/node/store.py's
 * layout, so that a gateway can switch between the Python node and
 * l2sessd with its sessions:
 *
 *   state_dir/peers/<pk hex>.session   sealed StoredSession (PROTOCOL.md §10)
 *   state_dir/peers/<pk hex>.json      {"stream": hex}: the peer's stream that
 *                                      blob received (the inbox watermark's key)
 *
 * Every file is written atomically (temporary file, fsync, rename, fsync
 * of the folder) and made for the daemon's user alone. */
#ifndef L2SESSD_STORE_H
#define L2SESSD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "l2s.h"

#define STORE_ERROR_BYTES 4400
#define STORE_MAX_BLOB (1u << 20)

/* Takes group and other access from a file or folder of ours. 0 or -1 (errno). */
int store_private(const char *path, unsigned mode);
/* A file opened for appending, created 0600: the fd, or -1 (errno). */
int store_open_private_append(const char *path);
/* Replaces path with data: a crash leaves the old or the new file. 0 or -1 (errno). */
int store_write_atomic(const char *path, const void *data, size_t len);
/* path.(keep-1) -> path.keep ... path -> path.1 (the oldest goes). 0 or -1 (errno). */
int store_rotate(const char *path, unsigned keep);

/* Makes state_dir and state_dir/peers (0700) and checks they are writable.
 * 0, or -1 with err the line to print. */
int store_open_state(const char *state_dir, char err[STORE_ERROR_BYTES]);
/* Saves a peer's session. 0 or -1 (errno). */
int store_save_session(const char *state_dir, const uint8_t pk[32], const uint8_t *blob, size_t len,
		       const char stream_hex[33]);
/* The saved session of pk: 0 with *blob (malloc'd) and stream; -1 when
 * there is none (or it cannot be read). */
int store_load_session(const char *state_dir, const uint8_t pk[32], uint8_t **blob, size_t *len,
		       char stream_hex[33]);

#endif
