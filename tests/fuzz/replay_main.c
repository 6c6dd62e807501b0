// SPDX-License-Identifier: Apache-2.0
/* A plain main() for a fuzz harness, without libFuzzer: replays every file
 * under the given directories (or the given files) through
 * LLVMFuzzerTestOneInput, plus a few cheap variants of each (one byte short,
 * one byte long, a flipped bit in the header and in the last byte), so the
 * ctest build catches harness bit-rot. The harness aborts on a failure;
 * finding no input at all is a failure too.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs one input from an exactly-sized heap copy, so ASan sees overreads. */
static void run(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		abort();
	if (size)
		memcpy(copy, data, size);
	LLVMFuzzerTestOneInput(copy, size);
	free(copy);
}

static void run_variants(uint8_t *b, size_t size)
{
	static const size_t flip_at[] = { 0, 1, 2, 3, 4, 8 };

	run(b, size);
	if (size)
		run(b, size - 1);
	b[size] = 0;
	run(b, size + 1);
	for (size_t i = 0; i < sizeof(flip_at) / sizeof(flip_at[0]); i++) {
		if (flip_at[i] >= size)
			continue;
		b[flip_at[i]] ^= 0x01;
		run(b, size);
		b[flip_at[i]] ^= 0x01;
	}
	if (size) {
		b[size - 1] ^= 0x80;
		run(b, size);
		b[size - 1] ^= 0x80;
	}
}

/* Returns 1 when path was a readable regular file and was replayed. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long size;

	if (!f)
		return 0;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return 0;
	}
	b = malloc((size_t)size + 1); /* + 1: room for the one-byte-long variant */
	if (!b || fread(b, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	run_variants(b, (size_t)size);
	free(b);
	return 1;
}

static int replay_path(const char *path)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (stat(path, &st) != 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) && replay_file(path);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char sub[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		n += replay_path(sub);
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	int files = 0;

	for (int i = 1; i < argc; i++)
		files += replay_path(argv[i]);
	if (files == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	printf("replay: %d inputs and their variants passed\n", files);
	return 0;
}
