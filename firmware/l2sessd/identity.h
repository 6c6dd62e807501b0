/* SPDX-License-Identifier: Apache-2.0 */
/* identity.h - the node's identity file (l2sess/node/store.py, the same
 * format): {"format": "l2sess-identity/1", "seed": hex, "prekey_not_after":
 * Unix seconds}, mode 0600. Everything else derives from the seed with
 * BLAKE3 derive_key (l2sess/identity.py): the Ed25519 key, the X-Wing
 * prekey seed and the key that seals saved sessions. A renewed prekey is
 * random instead ("prekey_seed": hex), and the one it replaced is kept
 * ("previous_prekey_seed", "previous_prekey_not_after") until it expires. */
#ifndef L2SESSD_IDENTITY_H
#define L2SESSD_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "did.h"
#include "l2s.h"

struct identity {
	uint8_t seed[32];
	uint64_t prekey_not_after;
	uint8_t public_key[L2S_ED25519_PK_BYTES];
	uint8_t secret_key[L2S_ED25519_SK_BYTES];
	uint8_t prekey_seed[L2S_XWING_SK_BYTES];
	int own_prekey;      /* prekey_seed is a renewed one, not derived */
	int has_previous;
	uint8_t previous_prekey_seed[L2S_XWING_SK_BYTES];
	uint64_t previous_not_after;
	uint8_t storage_key[32];
	char did[DID_MAX_CHARS + 1];
};

#define IDENTITY_FORMAT "l2sess-identity/1"
#define IDENTITY_ERROR_BYTES 4200
#define PREKEY_LIFETIME (365u * 24 * 3600)

/* Reads path into id; refuses a file others may read or that is not ours.
 * 0; or -1 with err the line to print (it names path); *missing set when
 * the file does not exist. */
int identity_load(const char *path, struct identity *id, int *missing, char err[IDENTITY_ERROR_BYTES]);
/* A new identity file (O_EXCL, 0600). 0 or -1 with err. */
int identity_create(const char *path, struct identity *id, char err[IDENTITY_ERROR_BYTES]);
/* Replaces the file with id (after a renewal), atomically. 0 or -1 (errno). */
int identity_save(const char *path, const struct identity *id);
/* A new random prekey whose bundle expires PREKEY_LIFETIME after now_s;
 * the current one becomes the previous. */
void identity_renew_prekey(struct identity *id, uint64_t now_s);
void identity_wipe(struct identity *id);

#endif
