// SPDX-License-Identifier: Apache-2.0
/* store.c - the state folder and its files (store.h). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"

int store_private(const char *path, unsigned mode)
{
	struct stat st;

	if (stat(path, &st))
		return -1;
	if (st.st_uid == geteuid() && (st.st_mode & 077))
		return chmod(path, (st.st_mode & 0777 & ~077u) | (mode & 0700));
	return 0;
}

int store_open_private_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600), e;

	if (fd >= 0 && store_private(path, 0600)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sync_folder_of(const char *path)
{
	char folder[4096];
	char *slash;
	int fd, ret;

	snprintf(folder, sizeof(folder), "%s", path);
	slash = strrchr(folder, '/');
	if (!slash)
		snprintf(folder, sizeof(folder), ".");
	else if (slash == folder)
		slash[1] = 0;
	else
		*slash = 0;
	fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int store_write_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4200];
	int fd, e;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) || fsync(fd)) {
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	close(fd);
	if (rename(tmp, path)) {
		e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return sync_folder_of(path);
}

int store_rotate(const char *path, unsigned keep)
{
	char from[4200], to[4200];
	unsigned i;

	for (i = keep - 1; i > 0; i--) {
		snprintf(from, sizeof(from), "%s.%u", path, i);
		snprintf(to, sizeof(to), "%s.%u", path, i + 1);
		if (rename(from, to) && errno != ENOENT)
			return -1;
	}
	snprintf(to, sizeof(to), "%s.1", path);
	return rename(path, to);
}

/* The folders above path, as os.makedirs makes them. */
static int make_parents(const char *path)
{
	char partial[4200];
	size_t i;

	snprintf(partial, sizeof(partial), "%s", path);
	for (i = 1; partial[i]; i++) {
		if (partial[i] != '/')
			continue;
		partial[i] = 0;
		if (mkdir(partial, 0700) && errno != EEXIST)
			return -1;
		partial[i] = '/';
	}
	return 0;
}

static int make_folder(const char *path, char err[STORE_ERROR_BYTES])
{
	struct stat st;

	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, STORE_ERROR_BYTES, "%s: Not a directory", path);
			return -1;
		}
	} else if (make_parents(path) || (mkdir(path, 0700) && errno != EEXIST)) {
		snprintf(err, STORE_ERROR_BYTES, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (store_private(path, 0700)) {
		snprintf(err, STORE_ERROR_BYTES, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int store_open_state(const char *state_dir, char err[STORE_ERROR_BYTES])
{
	char peers[4200];

	snprintf(peers, sizeof(peers), "%s/peers", state_dir);
	if (make_folder(state_dir, err) || make_folder(peers, err))
		return -1;
	if (access(peers, W_OK | X_OK)) {
		snprintf(err, STORE_ERROR_BYTES, "%s: not writable", peers);
		return -1;
	}
	return 0;
}

static void peer_file(char *out, size_t cap, const char *state_dir, const uint8_t pk[32], const char *ext)
{
	int n = snprintf(out, cap, "%s/peers/", state_dir);
	size_t i;

	for (i = 0; i < 32 && n > 0 && (size_t)n + 3 < cap; i++)
		n += snprintf(out + n, cap - (size_t)n, "%02x", pk[i]);
	snprintf(out + n, cap - (size_t)n, ".%s", ext);
}

int store_save_session(const char *state_dir, const uint8_t pk[32], const uint8_t *blob, size_t len,
		       const char stream_hex[33])
{
	char path[4200], record[64];
	int n;

	/* The stream first: a crash between the two leaves a stream that names
	 * a newer blob than the old one, which only makes the watermark apply to
	 * a stream not being imported (harmless). */
	n = snprintf(record, sizeof(record), "{\"stream\": \"%s\"}", stream_hex);
	peer_file(path, sizeof(path), state_dir, pk, "json");
	if (store_write_atomic(path, record, (size_t)n))
		return -1;
	peer_file(path, sizeof(path), state_dir, pk, "session");
	return store_write_atomic(path, blob, len);
}

static int read_small(const char *path, uint8_t **data, size_t *len)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 || (size_t)st.st_size > STORE_MAX_BLOB) {
		close(fd);
		return -1;
	}
	*data = malloc((size_t)st.st_size);
	n = *data ? read(fd, *data, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(*data);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

int store_load_session(const char *state_dir, const uint8_t pk[32], uint8_t **blob, size_t *len,
		       char stream_hex[33])
{
	char path[4200];
	struct json_object o;
	const struct json_member *stream;
	uint8_t *record;
	size_t rlen;
	int ok;

	peer_file(path, sizeof(path), state_dir, pk, "json");
	if (read_small(path, &record, &rlen))
		return -1;
	ok = json_parse_object((const char *)record, rlen, &o) == 0;
	free(record);
	if (!ok)
		return -1;
	/* Before streams the inbox was keyed by session id. */
	stream = json_get(&o, "stream", JSON_STRING);
	if (!stream)
		stream = json_get(&o, "session_id", JSON_STRING);
	ok = stream && stream->len == 32;
	if (ok)
		memcpy(stream_hex, stream->text, 33);
	json_object_free(&o);
	peer_file(path, sizeof(path), state_dir, pk, "session");
	if (!ok || read_small(path, blob, len))
		return -1;
	return 0;
}
