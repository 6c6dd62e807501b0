/* SPDX-License-Identifier: Apache-2.0
 *
 * The inbox file (csrc/loop/inbox.c, PROTOCOL.md §12): the line format, rotation
 * by size keeping the newest files, a line written whole or not at all when
 * the disk refuses part of it, the errno of a full disk, and no inbox at all.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop/inbox.h"
#include "testutil.h"

static char dir[] = "/tmp/l2s-test-inbox-XXXXXX";
static uint8_t stream[L2S_STREAM_ID_BYTES], pk[L2S_ED25519_PK_BYTES];

static void file_name(char *out, size_t cap, const char *suffix)
{
	snprintf(out, cap, "%s/inbox%s", dir, suffix);
}

/* The seqs of a file's lines, each checked against the format; -1 if a line is not whole or wrong. */
static int read_seqs(const char *path, unsigned long long *seqs, int cap)
{
	char line[512], want[512];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long seq = 0;

		if (n == cap || sscanf(line, "%*32s %llu", &seq) != 1)
			n = cap + 1;
		snprintf(want, sizeof(want), "%s %llu %s 6d7367%02llx\n",
			 "01010101010101010101010101010101", seq,
			 "0202020202020202020202020202020202020202020202020202020202020202", seq & 0xff);
		if (n > cap || strcmp(line, want) != 0) {
			fclose(f);
			return -1;
		}
		seqs[n++] = seq;
	}
	fclose(f);
	return n;
}

static int put(struct l2s_inbox *ib, uint64_t seq)
{
	uint8_t msg[4] = { 'm', 's', 'g', (uint8_t)seq };

	return l2s_inbox_write(ib, stream, seq, pk, msg, sizeof(msg));
}

static off_t size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* 10 lines of about 110 bytes into files of at most 300: two lines a file,
 * the newest three files kept, seqs consecutive from the oldest kept. */
static void test_rotation(void)
{
	static const char *oldest_first[] = { ".2", ".1", "" };
	struct l2s_inbox ib;
	char path[128], name[128];
	unsigned long long seqs[8], next = 0;
	int ok = 1;

	file_name(path, sizeof(path), "");
	CHECK(l2s_inbox_open(&ib, path, 300, 2, 1) == 0);
	for (uint64_t s = 1; s <= 10; s++)
		ok &= put(&ib, s) == 0 && l2s_inbox_sync(&ib) == 0;
	CHECK(ok);
	CHECK(ib.rotations == 4);
	l2s_inbox_close(&ib);
	file_name(name, sizeof(name), ".3");
	CHECK(size_of(name) == -1);
	for (int f = 0; f < 3; f++) {
		int n;

		file_name(name, sizeof(name), oldest_first[f]);
		n = read_seqs(name, seqs, 8);
		CHECK(n == 2 && size_of(name) <= 300);
		for (int i = 0; i < n; i++) {
			CHECK(next == 0 || seqs[i] == next + 1);
			next = seqs[i];
		}
	}
	CHECK(next == 10);
	for (int f = 0; f < 3; f++) {
		file_name(name, sizeof(name), oldest_first[f]);
		unlink(name);
	}
}

/* A disk that takes half a line (a file size limit): the write fails with
 * its errno and the half line is cut off again; the next line, once the
 * disk takes it, starts where it should. */
static void test_whole_lines(void)
{
	struct l2s_inbox ib;
	struct rlimit old, lim;
	char path[128];
	unsigned long long seqs[8];
	off_t one;

	file_name(path, sizeof(path), "");
	CHECK(l2s_inbox_open(&ib, path, 0, 1, 0) == 0);
	CHECK(put(&ib, 1) == 0);
	one = size_of(path);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)(one + one / 2);
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	CHECK(put(&ib, 2) == EFBIG);
	CHECK(size_of(path) == one);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(put(&ib, 2) == 0 && put(&ib, 3) == 0);
	l2s_inbox_close(&ib);
	CHECK(read_seqs(path, seqs, 8) == 3 && seqs[0] == 1 && seqs[1] == 2 && seqs[2] == 3);
	unlink(path);
}

/* A full disk says ENOSPC, and a device has nothing to sync. */
static void test_full_disk(void)
{
	struct l2s_inbox ib;

	CHECK(l2s_inbox_open(&ib, "/dev/full", 1000, 1, 1) == 0);
	CHECK(put(&ib, 1) == ENOSPC);
	CHECK(put(&ib, 1) == ENOSPC); /* opened again, still full */
	CHECK(l2s_inbox_sync(&ib) == 0);
	l2s_inbox_close(&ib);
}

/* No inbox: every write succeeds; a path that cannot be opened says why. */
static void test_none_and_unopenable(void)
{
	struct l2s_inbox ib;
	char path[128];

	CHECK(l2s_inbox_open(&ib, NULL, 0, 0, 1) == 0);
	CHECK(put(&ib, 1) == 0 && l2s_inbox_sync(&ib) == 0);
	l2s_inbox_close(&ib);
	file_name(path, sizeof(path), "/missing/inbox");
	CHECK(l2s_inbox_open(&ib, path, 0, 1, 0) == ENOENT);
	CHECK(put(&ib, 1) == ENOENT);
	l2s_inbox_close(&ib);
}

int main(void)
{
	memset(stream, 1, sizeof(stream));
	memset(pk, 2, sizeof(pk));
	if (!mkdtemp(dir))
		return 1;
	test_rotation();
	test_whole_lines();
	test_full_disk();
	test_none_and_unopenable();
	rmdir(dir);
	return tu_finish("test_inbox");
}
