// SPDX-License-Identifier: Apache-2.0
/* jsonlog.c - the daemon's JSON-lines logs (jsonlog.h). */
#include "jsonlog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

void utc_now(char out[32])
{
	struct timespec ts;
	struct tm tm;
	size_t len;

	/* One reading for the seconds and the milliseconds, so the time never
	 * goes back by the second the two readings could straddle. */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + len, 32 - len, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

static int open_file(struct jsonlog *log)
{
	struct stat st;

	log->fd = store_open_private_append(log->path);
	if (log->fd < 0)
		return -1;
	log->size = fstat(log->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

int jsonlog_open(struct jsonlog *log, const char *path, uint64_t max_bytes, unsigned keep)
{
	memset(log, 0, sizeof(*log));
	log->fd = -1;
	log->max_bytes = max_bytes;
	log->keep = keep ? keep : 1;
	if (!path)
		return 0;
	log->path = strdup(path);
	if (!log->path)
		return -1;
	return open_file(log);
}

static void drop_file(struct jsonlog *log)
{
	if (log->fd >= 0)
		close(log->fd);
	log->fd = -1;
}

static int write_line(struct jsonlog *log, const char *line, size_t len)
{
	ssize_t n;

	if (log->fd < 0 && open_file(log))
		return -1;
	if (log->max_bytes && log->size && log->size + len > log->max_bytes) {
		drop_file(log);
		if (store_rotate(log->path, log->keep) || open_file(log))
			return -1;
	}
	/* One write of the whole line (O_APPEND): a reader sees it whole or not. */
	n = write(log->fd, line, len);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = ENOSPC;
		return -1;
	}
	log->size += len;
	return 0;
}

void jsonlog_write(struct jsonlog *log, const char *fields)
{
	struct sbuf line;
	char now[32];

	if (!log->path)
		return;
	sbuf_init(&line, 1 << 20);
	utc_now(now);
	sbuf_printf(&line, "{\"time\": \"%s\"%s%s}\n", now, *fields ? ", " : "", fields);
	if (line.failed || write_line(log, line.data, line.len)) {
		log->failures++;
		log->last_errno = line.failed ? ENOMEM : errno;
		drop_file(log);
	}
	sbuf_free(&line);
}

void jsonlog_reopen(struct jsonlog *log)
{
	drop_file(log);
}

void jsonlog_close(struct jsonlog *log)
{
	drop_file(log);
	free(log->path);
	log->path = NULL;
}
