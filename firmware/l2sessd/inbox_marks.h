/* SPDX-License-Identifier: Apache-2.0 */
/* inbox_marks.h - what the inbox (PROTOCOL.md §12) says was delivered
 * before a restart: the highest seq per stream of a peer, read from the
 * inbox and its rotated files, as l2sess/node/store.py's inbox_watermarks
 * reads them (the same runs, the same problems, in the same words).
 *
 * A stream's lines follow each other seq by seq, or jump ahead by at most
 * INBOX_STEP_OVER (a sender restored from a checkpoint steps over the seqs
 * it may have used); a seq that goes back or jumps further is damage. The
 * stream's lines form runs, and the longest run (the later of equals)
 * gives the watermark: one inflated seq cannot make the node skip new
 * messages, and a damaged line does not stop the node. */
#ifndef L2SESSD_INBOX_MARKS_H
#define L2SESSD_INBOX_MARKS_H

#include <stddef.h>
#include <stdint.h>

#define INBOX_STEP_OVER (UINT64_C(1) << 20)
#define INBOX_MAX_PROBLEMS 20

struct inbox_run {
	uint64_t first, last;
};

struct inbox_stream {
	char sid[33];     /* hex */
	char owner[65];   /* the peer's public key, hex */
	uint64_t mark;    /* delivered up to this seq */
	struct inbox_run *runs;
	size_t nruns, cap;
	uint64_t junk_at; /* unparsed lines when its last line came */
};

struct inbox_marks {
	struct inbox_stream *streams; /* in the order they first appear */
	size_t count, cap;
	uint32_t *index;              /* hash of sid -> streams[i - 1] (0: empty) */
	size_t index_cap;
	char **problems;
	size_t nproblems;
};

struct inbox_line {
	const char *sid, *pk; /* hex, NUL-terminated inside the line */
	uint64_t seq;
};

/* One inbox line s[0 .. len) without its newline: "<stream> <seq> <pk>
 * <payload>" (PROTOCOL.md §12). 0 with out (s is cut at its spaces), or
 * -1 when it does not parse (damage). */
int inbox_line_parse(char *s, size_t len, struct inbox_line *out);

/* Reads path's rotated files and path (those that exist). 0, or -1 (errno)
 * when a file that exists cannot be read. */
int inbox_marks_read(const char *path, struct inbox_marks *m);
void inbox_marks_free(struct inbox_marks *m);

#endif
