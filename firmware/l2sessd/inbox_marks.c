// SPDX-License-Identifier: Apache-2.0
/* inbox_marks.c - the inbox's watermarks (inbox_marks.h). */
#include "inbox_marks.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

static int lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* "<stream> <seq> <pk> <payload>" (PROTOCOL.md §12), without its newline. */
int inbox_line_parse(char *s, size_t len, struct inbox_line *out)
{
	char *sp1, *sp2, *sp3, *payload;
	uint64_t seq = 0;
	const char *d;

	sp1 = memchr(s, ' ', len);
	if (!sp1 || sp1 - s != 32 || !lower_hex(s, 32))
		return -1;
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - s));
	if (!sp2 || sp2 == sp1 + 1)
		return -1;
	for (d = sp1 + 1; d < sp2; d++) {
		if (*d < '0' || *d > '9' || seq > (UINT64_MAX - (uint64_t)(*d - '0')) / 10)
			return -1;
		seq = seq * 10 + (uint64_t)(*d - '0');
	}
	if (seq == 0)
		return -1;
	sp3 = memchr(sp2 + 1, ' ', len - (size_t)(sp2 + 1 - s));
	if (!sp3 || sp3 - sp2 - 1 != 64 || !lower_hex(sp2 + 1, 64))
		return -1;
	payload = sp3 + 1;
	len -= (size_t)(payload - s);
	if (memchr(payload, ' ', len) || len % 2 || !lower_hex(payload, len))
		return -1;
	*sp1 = *sp3 = 0;
	out->sid = s;
	out->pk = sp2 + 1;
	out->seq = seq;
	return 0;
}

static void problem(struct inbox_marks *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct inbox_marks *m, const char *fmt, ...)
{
	char **grown, text[4400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	grown = realloc(m->problems, (m->nproblems + 1) * sizeof(*grown));
	if (!grown)
		return;
	m->problems = grown;
	m->problems[m->nproblems] = strdup(text);
	if (m->problems[m->nproblems])
		m->nproblems++;
}

static uint32_t hash(const char *sid)
{
	uint32_t h = 2166136261u;

	while (*sid)
		h = (h ^ (uint8_t)*sid++) * 16777619u;
	return h;
}

static void insert(struct inbox_marks *m, size_t i)
{
	size_t j;

	for (j = hash(m->streams[i].sid) & (m->index_cap - 1); m->index[j]; j = (j + 1) & (m->index_cap - 1))
		;
	m->index[j] = (uint32_t)i + 1;
}

static int reindex(struct inbox_marks *m)
{
	size_t cap = m->index_cap ? m->index_cap * 2 : 64, i;
	uint32_t *index = calloc(cap, sizeof(*index));

	if (!index)
		return -1;
	free(m->index);
	m->index = index;
	m->index_cap = cap;
	for (i = 0; i < m->count; i++)
		insert(m, i);
	return 0;
}

/* The stream sid, added (owned by pk) when it is new. */
static struct inbox_stream *stream(struct inbox_marks *m, const char *sid, const char *pk)
{
	struct inbox_stream *s, *grown;
	size_t j;

	for (j = m->index_cap ? hash(sid) & (m->index_cap - 1) : 0; m->index_cap && m->index[j];
	     j = (j + 1) & (m->index_cap - 1))
		if (strcmp(m->streams[m->index[j] - 1].sid, sid) == 0)
			return &m->streams[m->index[j] - 1];
	if (m->count == m->cap) {
		grown = realloc(m->streams, (m->cap ? m->cap * 2 : 8) * sizeof(*grown));
		if (!grown)
			return NULL;
		m->streams = grown;
		m->cap = m->cap ? m->cap * 2 : 8;
	}
	s = &m->streams[m->count++];
	memset(s, 0, sizeof(*s));
	memcpy(s->sid, sid, 33);
	memcpy(s->owner, pk, 64);
	if (m->count * 2 > m->index_cap) {
		if (reindex(m)) {
			m->count--;
			return NULL;
		}
	} else {
		insert(m, m->count - 1);
	}
	return s;
}

static int add_run(struct inbox_stream *s, uint64_t first, uint64_t last)
{
	struct inbox_run *grown;

	if (s->nruns == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 2;
		grown = realloc(s->runs, s->cap * sizeof(*grown));
		if (!grown)
			return -1;
		s->runs = grown;
	}
	s->runs[s->nruns].first = first;
	s->runs[s->nruns++].last = last;
	return 0;
}

/* seq follows last: last < seq <= last + 1 + step (no overflow). */
static int follows(uint64_t seq, uint64_t last, uint64_t step)
{
	return seq > last && seq - last - 1 <= step;
}

static int take(struct inbox_marks *m, const char *file, size_t number, const struct inbox_line *l, uint64_t junk,
		uint64_t *breaks)
{
	struct inbox_stream *s = stream(m, l->sid, l->pk);
	struct inbox_run run;
	size_t i, hit;

	if (!s)
		return -1;
	if (s->nruns && follows(l->seq, s->runs[s->nruns - 1].last, INBOX_STEP_OVER + junk - s->junk_at)) {
		s->runs[s->nruns - 1].last = l->seq;
	} else {
		for (i = s->nruns, hit = SIZE_MAX; i > 0; i--)
			if (follows(l->seq, s->runs[i - 1].last, INBOX_STEP_OVER)) {
				hit = i - 1;
				break;
			}
		if (hit != SIZE_MAX) { /* a run goes on after a bad line */
			run = s->runs[hit];
			memmove(&s->runs[hit], &s->runs[hit + 1], (s->nruns - hit - 1) * sizeof(run));
			s->runs[s->nruns - 1].first = run.first;
			s->runs[s->nruns - 1].last = l->seq;
		} else {
			if (s->nruns && ++*breaks <= INBOX_MAX_PROBLEMS)
				problem(m, "%s:%zu: stream %s seq %llu does not follow seq %llu", file, number, s->sid,
					(unsigned long long)l->seq, (unsigned long long)s->runs[s->nruns - 1].last);
			if (add_run(s, l->seq, l->seq))
				return -1;
		}
	}
	s->junk_at = junk;
	return 0;
}

static int read_file(struct inbox_marks *m, const char *file, uint64_t *junk, uint64_t *breaks)
{
	FILE *f = fopen(file, "re");
	char *line = NULL;
	size_t cap = 0, number = 0;
	ssize_t n;
	struct inbox_line l;
	int ret = 0;

	if (!f)
		return errno == ENOENT ? 0 : -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		number++;
		if (line[n - 1] != '\n')
			break; /* a torn last line: a crash mid-write */
		if (inbox_line_parse(line, (size_t)n - 1, &l)) {
			++*junk;
			continue;
		}
		if (take(m, file, number, &l, *junk, breaks)) {
			ret = -1;
			errno = ENOMEM;
			break;
		}
	}
	if (ferror(f))
		ret = -1;
	free(line);
	fclose(f);
	return ret;
}

static int by_number(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? 1 : x > y ? -1 : 0; /* the highest (oldest) first */
}

/* The numbers N of path.N, oldest (highest) first. */
static int rotated(const char *path, unsigned long **out, size_t *n)
{
	char folder[4200];
	const char *name, *slash = strrchr(path, '/');
	size_t nlen, cap = 0;
	unsigned long *grown;
	struct dirent *e;
	DIR *d;

	*out = NULL;
	*n = 0;
	snprintf(folder, sizeof(folder), "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
	name = slash ? slash + 1 : path;
	nlen = strlen(name);
	d = opendir(folder);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d))) {
		const char *rest = e->d_name + nlen + 1, *c;
		char *end;

		if (strncmp(e->d_name, name, nlen) || e->d_name[nlen] != '.' || !*rest)
			continue;
		for (c = rest; *c >= '0' && *c <= '9'; c++)
			;
		if (*c)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			grown = realloc(*out, cap * sizeof(*grown));
			if (!grown)
				break;
			*out = grown;
		}
		(*out)[(*n)++] = strtoul(rest, &end, 10);
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), by_number);
	return 0;
}

int inbox_marks_read(const char *path, struct inbox_marks *m)
{
	char file[4200];
	unsigned long *numbers;
	uint64_t junk = 0, breaks = 0;
	size_t n, i, j;
	struct inbox_stream *s;
	const struct inbox_run *best;

	memset(m, 0, sizeof(*m));
	if (rotated(path, &numbers, &n))
		return -1;
	for (i = 0; i <= n; i++) {
		if (i < n)
			snprintf(file, sizeof(file), "%s.%lu", path, numbers[i]);
		else
			snprintf(file, sizeof(file), "%s", path);
		if (read_file(m, file, &junk, &breaks)) {
			free(numbers);
			return -1;
		}
	}
	free(numbers);
	if (breaks > INBOX_MAX_PROBLEMS)
		problem(m, "%llu more inbox line(s) out of sequence", (unsigned long long)(breaks - INBOX_MAX_PROBLEMS));
	if (junk)
		problem(m, "%llu inbox line(s) do not parse", (unsigned long long)junk);
	for (j = 0; j < m->count; j++) {
		s = &m->streams[j];
		best = &s->runs[s->nruns - 1];
		for (i = s->nruns - 1; i > 0; i--) /* the longest; of equals the later */
			if (s->runs[i - 1].last - s->runs[i - 1].first > best->last - best->first)
				best = &s->runs[i - 1];
		s->mark = best->last;
		if (s->nruns > 1)
			problem(m, "stream %s: delivered up to seq %llu (the run from seq %llu)", s->sid,
				(unsigned long long)best->last, (unsigned long long)best->first);
	}
	return 0;
}

void inbox_marks_free(struct inbox_marks *m)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		free(m->streams[i].runs);
	for (i = 0; i < m->nproblems; i++)
		free(m->problems[i]);
	free(m->streams);
	free(m->index);
	free(m->problems);
	memset(m, 0, sizeof(*m));
}
