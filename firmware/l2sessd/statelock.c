// SPDX-License-Identifier: Apache-2.0
/* statelock.c - the state directory's lock and recorded DID (statelock.h). */
#include "statelock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int statelock_take(const char *state_dir, char err[STORE_ERROR_BYTES])
{
	char path[4200], pid[32] = "?";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/lock", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, STORE_ERROR_BYTES, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0) {
			pid[n] = 0;
			pid[strcspn(pid, "\n")] = 0;
		}
		close(fd);
		snprintf(err, STORE_ERROR_BYTES, "another node (pid %s) is running on state_dir %s; stop it first, "
			 "or give this one a state_dir of its own", pid, state_dir);
		return -2;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n) {
		snprintf(err, STORE_ERROR_BYTES, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int statelock_recorded_did(const char *state_dir, char *did, size_t cap, char err[STORE_ERROR_BYTES])
{
	char path[4200];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/did", state_dir);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, STORE_ERROR_BYTES, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(did, 1, cap - 1, f);
	fclose(f);
	did[n] = 0;
	did[strcspn(did, "\r\n")] = 0;
	return did[0] != 0;
}

int statelock_record_did(const char *state_dir, const char *did)
{
	char path[4200], line[256];
	int n = snprintf(line, sizeof(line), "%s\n", did);

	snprintf(path, sizeof(path), "%s/did", state_dir);
	return store_write_atomic(path, line, (size_t)n);
}
