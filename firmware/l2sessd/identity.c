// SPDX-License-Identifier: Apache-2.0
/* identity.c - the identity file (identity.h). */
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hex.h"
#include "json.h"
#include "store.h"

#define IDENTITY_MAX_BYTES 4096

static const char kdf_ed25519[] = "l2sess/1 2026-11 identity ed25519";
static const char kdf_prekey[] = "l2sess/1 2026-11 identity prekey";
static const char kdf_storage[] = "l2sess/1 2026-11 identity storage";

static int derive(struct identity *id)
{
	uint8_t ed_seed[32];
	int ret;

	l2s_blake3_derive_key(ed_seed, 32, kdf_ed25519, sizeof(kdf_ed25519) - 1, id->seed, 32);
	ret = l2s_ed25519_seed_keypair(id->public_key, id->secret_key, ed_seed);
	l2s_wipe(ed_seed, sizeof(ed_seed));
	if (!id->own_prekey)
		l2s_blake3_derive_key(id->prekey_seed, 32, kdf_prekey, sizeof(kdf_prekey) - 1, id->seed, 32);
	l2s_blake3_derive_key(id->storage_key, 32, kdf_storage, sizeof(kdf_storage) - 1, id->seed, 32);
	did_from_public_key(id->did, id->public_key);
	return ret;
}

static int parse(const char *data, size_t len, struct identity *id)
{
	struct json_object o;
	const struct json_member *format, *seed, *not_after, *prekey, *previous, *previous_not_after;
	int ret = -1;

	if (json_parse_object(data, len, &o))
		return -1;
	format = json_get(&o, "format", JSON_STRING);
	seed = json_get(&o, "seed", JSON_STRING);
	not_after = json_get(&o, "prekey_not_after", JSON_INTEGER);
	prekey = json_get(&o, "prekey_seed", JSON_STRING);
	previous = json_get(&o, "previous_prekey_seed", JSON_STRING);
	previous_not_after = json_get(&o, "previous_prekey_not_after", JSON_INTEGER);
	if (format && strcmp(format->text, IDENTITY_FORMAT) == 0 && seed && not_after && not_after->integer &&
	    !hex_decode(seed->text, seed->len, id->seed, 32) &&
	    (!prekey || !hex_decode(prekey->text, prekey->len, id->prekey_seed, 32)) &&
	    (!previous || (previous_not_after && previous_not_after->integer &&
			   !hex_decode(previous->text, previous->len, id->previous_prekey_seed, 32)))) {
		id->prekey_not_after = not_after->integer;
		id->own_prekey = prekey != NULL;
		id->has_previous = previous != NULL;
		id->previous_not_after = previous ? previous_not_after->integer : 0;
		ret = 0;
	}
	json_object_free(&o);
	return ret;
}

int identity_load(const char *path, struct identity *id, int *missing, char err[IDENTITY_ERROR_BYTES])
{
	char data[IDENTITY_MAX_BYTES];
	struct stat st;
	ssize_t n;
	int fd, ret;

	*missing = 0;
	memset(id, 0, sizeof(*id));
	if (stat(path, &st)) {
		*missing = errno == ENOENT;
		snprintf(err, IDENTITY_ERROR_BYTES, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, IDENTITY_ERROR_BYTES, "%s: not a file", path);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, IDENTITY_ERROR_BYTES, "%s: identity file mode %o, must be 0600", path,
			 (unsigned)(st.st_mode & 0777));
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, IDENTITY_ERROR_BYTES, "%s: identity file owned by uid %u, not by uid %u that the node "
			 "runs as", path, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, IDENTITY_ERROR_BYTES, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, data, sizeof(data));
	close(fd);
	ret = n > 0 && (size_t)n < sizeof(data) ? parse(data, (size_t)n, id) : -1;
	l2s_wipe(data, sizeof(data));
	if (ret || derive(id)) {
		identity_wipe(id);
		snprintf(err, IDENTITY_ERROR_BYTES, "%s: not an " IDENTITY_FORMAT " file", path);
		return -1;
	}
	return 0;
}

static void hex32(char out[65], const uint8_t in[32])
{
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* The file's line, as l2sess/node/store.py's identity_record writes it. */
static int record_of(const struct identity *id, char *out, size_t cap)
{
	char hex[65];
	int n;

	hex32(hex, id->seed);
	n = snprintf(out, cap, "{\"format\": \"%s\", \"seed\": \"%s\", \"prekey_not_after\": %llu", IDENTITY_FORMAT,
		     hex, (unsigned long long)id->prekey_not_after);
	if (id->own_prekey) {
		hex32(hex, id->prekey_seed);
		n += snprintf(out + n, cap - (size_t)n, ", \"prekey_seed\": \"%s\"", hex);
	}
	if (id->has_previous) {
		hex32(hex, id->previous_prekey_seed);
		n += snprintf(out + n, cap - (size_t)n, ", \"previous_prekey_seed\": \"%s\", "
			      "\"previous_prekey_not_after\": %llu", hex, (unsigned long long)id->previous_not_after);
	}
	n += snprintf(out + n, cap - (size_t)n, "}\n");
	l2s_wipe(hex, sizeof(hex));
	return n;
}

int identity_save(const char *path, const struct identity *id)
{
	char record[512];
	int n = record_of(id, record, sizeof(record)), ret;

	ret = store_write_atomic(path, record, (size_t)n);
	l2s_wipe(record, sizeof(record));
	return ret;
}

void identity_renew_prekey(struct identity *id, uint64_t now_s)
{
	memcpy(id->previous_prekey_seed, id->prekey_seed, sizeof(id->prekey_seed));
	id->previous_not_after = id->prekey_not_after;
	id->has_previous = 1;
	l2s_random(id->prekey_seed, sizeof(id->prekey_seed));
	id->own_prekey = 1;
	id->prekey_not_after = now_s + PREKEY_LIFETIME;
}

int identity_create(const char *path, struct identity *id, char err[IDENTITY_ERROR_BYTES])
{
	char record[512];
	int fd, len, ok;

	memset(id, 0, sizeof(*id));
	l2s_random(id->seed, sizeof(id->seed));
	id->prekey_not_after = (uint64_t)time(NULL) + PREKEY_LIFETIME;
	len = record_of(id, record, sizeof(record));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, IDENTITY_ERROR_BYTES, "%s: %s", path, strerror(errno));
		l2s_wipe(record, sizeof(record));
		return -1;
	}
	ok = write(fd, record, (size_t)len) == len && fsync(fd) == 0;
	if (!ok)
		snprintf(err, IDENTITY_ERROR_BYTES, "%s: %s", path, strerror(errno));
	close(fd);
	l2s_wipe(record, sizeof(record));
	if (!ok) {
		unlink(path);
		return -1;
	}
	return derive(id) ? -1 : 0;
}

void identity_wipe(struct identity *id)
{
	l2s_wipe(id, sizeof(*id));
}
