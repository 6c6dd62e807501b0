// SPDX-License-Identifier: Apache-2.0
/* did.c - did:key for Ed25519 keys (did.h). Base58 is long division over
 * the 34 bytes: small enough to do digit by digit. */
#include "did.h"

#include <stdio.h>
#include <string.h>

static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
static const char prefix[] = "did:key:z";
#define PREFIX_LEN (sizeof(prefix) - 1)
#define RAW_LEN 34

/* base58 of in[0 .. n) into out (NUL-terminated); returns its length. */
static size_t base58_encode(char *out, const uint8_t *in, size_t n)
{
	uint8_t digits[64] = { 0 }; /* little-endian base-58 digits */
	size_t ndigits = 0, zeros = 0, i, j, len = 0;

	while (zeros < n && in[zeros] == 0)
		zeros++;
	for (i = zeros; i < n; i++) {
		unsigned carry = in[i];

		for (j = 0; j < ndigits; j++) {
			carry += (unsigned)digits[j] << 8;
			digits[j] = (uint8_t)(carry % 58);
			carry /= 58;
		}
		while (carry) {
			digits[ndigits++] = (uint8_t)(carry % 58);
			carry /= 58;
		}
	}
	for (i = 0; i < zeros; i++)
		out[len++] = '1';
	for (i = ndigits; i > 0; i--)
		out[len++] = alphabet[digits[i - 1]];
	out[len] = 0;
	return len;
}

void did_from_public_key(char out[DID_MAX_CHARS + 1], const uint8_t pk[32])
{
	uint8_t raw[RAW_LEN] = { 0xed, 0x01 };

	memcpy(raw + 2, pk, 32);
	memcpy(out, prefix, PREFIX_LEN);
	base58_encode(out + PREFIX_LEN, raw, RAW_LEN);
}

int did_to_public_key(const char *did, size_t len, uint8_t pk[32], char why[DID_WHY_BYTES])
{
	uint8_t bytes[64] = { 0 }; /* big-endian value, grown from the right */
	size_t nbytes = 0, i, j, zeros = 0;
	char canonical[DID_MAX_CHARS + 1];
	const char *hit;

	if (len > PREFIX_LEN + 48) {
		snprintf(why, DID_WHY_BYTES, "DID too long (%zu characters)", len);
		return -1;
	}
	if (len < PREFIX_LEN || memcmp(did, prefix, PREFIX_LEN) != 0) {
		snprintf(why, DID_WHY_BYTES, "%s", "not a did:key DID with a base58btc ('z') multibase key");
		return -1;
	}
	for (i = PREFIX_LEN; i < len && did[i] == '1'; i++)
		zeros++;
	for (i = PREFIX_LEN; i < len; i++) {
		unsigned carry;

		hit = did[i] ? strchr(alphabet, did[i]) : NULL;
		if (!hit) {
			snprintf(why, DID_WHY_BYTES, "invalid base58 character '%c'", did[i]);
			return -1;
		}
		carry = (unsigned)(hit - alphabet);
		for (j = 0; j < nbytes; j++) {
			carry += (unsigned)bytes[sizeof(bytes) - 1 - j] * 58;
			bytes[sizeof(bytes) - 1 - j] = (uint8_t)carry;
			carry >>= 8;
		}
		while (carry) {
			bytes[sizeof(bytes) - 1 - nbytes++] = (uint8_t)carry;
			carry >>= 8;
		}
	}
	if (zeros + nbytes < 2 || zeros || bytes[sizeof(bytes) - nbytes] != 0xed ||
	    (nbytes > 1 && bytes[sizeof(bytes) - nbytes + 1] != 0x01)) {
		snprintf(why, DID_WHY_BYTES, "%s", "the key is not an Ed25519 public key (multicodec 0xed01)");
		return -1;
	}
	if (nbytes != RAW_LEN) {
		snprintf(why, DID_WHY_BYTES, "an Ed25519 key is 32 bytes, this one is %zu", nbytes - 2);
		return -1;
	}
	memcpy(pk, bytes + sizeof(bytes) - 32, 32);
	did_from_public_key(canonical, pk);
	if (strlen(canonical) != len || memcmp(canonical, did, len) != 0) {
		snprintf(why, DID_WHY_BYTES, "%s", "non-canonical base58 encoding");
		return -1;
	}
	return 0;
}
