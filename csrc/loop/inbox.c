// SPDX-License-Identifier: Apache-2.0
/* The inbox file: lines whole or not at all, rotation by size, and the
 * sync that makes an acknowledgement mean "on the disk" (see inbox.h). */
#define _POSIX_C_SOURCE 200809L /* open flags, strdup, fdatasync */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop/inbox.h"

static int reopen(struct l2s_inbox *ib)
{
	struct stat st;

	ib->fd = open(ib->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (ib->fd < 0)
		return errno;
	ib->regular = fstat(ib->fd, &st) == 0 && S_ISREG(st.st_mode);
	ib->size = ib->regular ? (uint64_t)st.st_size : 0;
	return 0;
}

int l2s_inbox_open(struct l2s_inbox *ib, const char *path, uint64_t max_bytes, uint32_t keep, int sync)
{
	memset(ib, 0, sizeof(*ib));
	ib->fd = -1;
	if (!path)
		return 0;
	if (!(ib->path = strdup(path)))
		return ENOMEM;
	ib->max_bytes = max_bytes;
	ib->keep = keep ? keep : 1;
	ib->sync = sync;
	return reopen(ib);
}

void l2s_inbox_close(struct l2s_inbox *ib)
{
	if (ib->fd >= 0)
		close(ib->fd);
	ib->fd = -1;
	free(ib->path);
	ib->path = NULL;
}

static int rotated_name(char *out, size_t cap, const char *path, uint32_t i)
{
	int n = snprintf(out, cap, "%s.%u", path, i);

	return n > 0 && (size_t)n < cap ? 0 : ENAMETOOLONG;
}

/* path.<keep-1> → path.<keep> … path → path.1, then a new path. The oldest
 * goes: its messages were delivered long ago, and a restart needs only the
 * newest lines of each stream (PROTOCOL.md §12). */
static int rotate(struct l2s_inbox *ib)
{
	char from[PATH_MAX], to[PATH_MAX];
	int err;

	if ((err = l2s_inbox_sync(ib)))
		return err;
	for (uint32_t i = ib->keep; i > 1; i--) {
		if ((err = rotated_name(from, sizeof(from), ib->path, i - 1)) ||
		    (err = rotated_name(to, sizeof(to), ib->path, i)))
			return err;
		if (rename(from, to) != 0 && errno != ENOENT)
			return errno;
	}
	if ((err = rotated_name(to, sizeof(to), ib->path, 1)))
		return err;
	if (rename(ib->path, to) != 0)
		return errno;
	close(ib->fd);
	ib->fd = -1;
	ib->rotations++;
	return reopen(ib);
}

/* A line begun is cut off again, so that the next one starts where it would
 * have. If that fails too, the torn line stays: a restart reads it as junk
 * (a line that does not parse is skipped). The file is opened again for the
 * next line: the disk may have been mounted anew by then. */
static void fail(struct l2s_inbox *ib)
{
	if (ib->regular && ftruncate(ib->fd, (off_t)ib->size) != 0)
		ib->size = 0; /* unknown: found again on reopening */
	close(ib->fd);
	ib->fd = -1;
}

/* The inbox is a blocking fd: the loop waits for each line, which is the point. */
static int write_all(struct l2s_inbox *ib, const char *p, size_t n)
{
	size_t total = n;

	while (n) {
		ssize_t w = write(ib->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : EIO;

			fail(ib);
			return err;
		}
		p += w;
		n -= (size_t)w;
	}
	ib->size += total;
	ib->unsynced = 1;
	return 0;
}

static char *hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		*out++ = digits[in[i] >> 4];
		*out++ = digits[in[i] & 15];
	}
	return out;
}

int l2s_inbox_write(struct l2s_inbox *ib, const uint8_t stream[L2S_STREAM_ID_BYTES], uint64_t seq,
		    const uint8_t peer_pk[L2S_ED25519_PK_BYTES], const uint8_t *payload, size_t len)
{
	size_t cap = 2 * L2S_STREAM_ID_BYTES + 1 + 20 + 1 + 2 * L2S_ED25519_PK_BYTES + 1 + 2 * len + 1;
	char *line, *p;
	int err;

	if (!ib->path)
		return 0;
	if (ib->fd < 0 && (err = reopen(ib)))
		return err;
	if (ib->regular && ib->max_bytes && ib->size && ib->size + cap > ib->max_bytes && (err = rotate(ib)))
		return err;
	if (!(line = malloc(cap)))
		return ENOMEM;
	p = hex(line, stream, L2S_STREAM_ID_BYTES);
	p += snprintf(p, 23, " %llu ", (unsigned long long)seq);
	p = hex(p, peer_pk, L2S_ED25519_PK_BYTES);
	*p++ = ' ';
	p = hex(p, payload, len);
	*p++ = '\n';
	err = write_all(ib, line, (size_t)(p - line));
	l2s_wipe(line, cap);
	free(line);
	return err;
}

int l2s_inbox_sync(struct l2s_inbox *ib)
{
	int err;

	if (!ib->sync || !ib->unsynced || ib->fd < 0 || !ib->regular)
		return 0;
	ib->unsynced = 0;
	if (fdatasync(ib->fd) == 0)
		return 0;
	err = errno;
	fail(ib);
	return err;
}
