/* SPDX-License-Identifier: Apache-2.0 */
/* jsonlog.h - an append-only JSON-lines file (the audit and delivery
 * logs), written per record, that rotates before it passes max_bytes
 * (0: never), keeping `keep` older files (path.1 the newest). A record the
 * disk refuses (full, read-only) is counted, not fatal: the daemon goes on,
 * and status and metrics show the count and the last error. Each record
 * gets "time" (UTC, RFC 3339 with milliseconds) first. */
#ifndef L2SESSD_JSONLOG_H
#define L2SESSD_JSONLOG_H

#include <stdint.h>

#include "sbuf.h"

struct jsonlog {
	char *path;        /* NULL: off */
	uint64_t max_bytes;
	unsigned keep;
	int fd;            /* -1: opened again at the next record */
	uint64_t size;
	uint64_t failures;
	int last_errno;    /* 0: none */
};

/* Opens path (NULL: a log that is off). 0 or -1 (errno). */
int jsonlog_open(struct jsonlog *log, const char *path, uint64_t max_bytes, unsigned keep);
/* Appends {"time": ..., <fields>}: fields is the JSON object's members
 * without braces ("\"event\": \"start\", ..."). */
void jsonlog_write(struct jsonlog *log, const char *fields);
/* Closes the file; the next record opens it anew (SIGHUP, after logrotate). */
void jsonlog_reopen(struct jsonlog *log);
void jsonlog_close(struct jsonlog *log);
/* "2026-12-03T09:45:38.123Z" */
void utc_now(char out[32]);

#endif
