// SPDX-License-Identifier: Apache-2.0
/* The key schedule (docs/PROTOCOL.md §4.2, §6, §8, §9): thin, named
 * wrappers over BLAKE3 derive_key so that each context string appears once. */
#include <blake3.h>
#include <string.h>

#include "crypto/kdf.h"

#define PREFIX_LEN (sizeof(L2S_CONTEXT_PREFIX) - 1)
#define MAX_SUFFIX 32

static void absorb(blake3_hasher *h, const struct l2s_part *parts, size_t count)
{
	for (size_t i = 0; i < count; i++)
		blake3_hasher_update(h, parts[i].p, parts[i].n);
}

static void finish(blake3_hasher *h, uint8_t *out, size_t out_len)
{
	blake3_hasher_finalize(h, out, out_len);
	/* The hasher state holds key material or secret input. */
	l2s_wipe(h, sizeof(*h));
}

void l2s_kdf(uint8_t *out, size_t out_len, const char *suffix, const struct l2s_part *parts, size_t count)
{
	char ctx[PREFIX_LEN + MAX_SUFFIX];
	size_t slen = strlen(suffix);
	blake3_hasher h;

	/* Suffixes are the compile-time constants below; a longer one is a bug. */
	if (slen > MAX_SUFFIX)
		slen = MAX_SUFFIX;
	memcpy(ctx, L2S_CONTEXT_PREFIX, PREFIX_LEN);
	memcpy(ctx + PREFIX_LEN, suffix, slen);
	blake3_hasher_init_derive_key_raw(&h, ctx, PREFIX_LEN + slen);
	absorb(&h, parts, count);
	finish(&h, out, out_len);
}

void l2s_hash_parts(uint8_t out[L2S_HASH_BYTES], const struct l2s_part *parts, size_t count)
{
	blake3_hasher h;

	blake3_hasher_init(&h);
	absorb(&h, parts, count);
	finish(&h, out, L2S_HASH_BYTES);
}

void l2s_mac(uint8_t out[L2S_MAC_TAG_BYTES], const uint8_t key[L2S_KEY_BYTES], const uint8_t *x, size_t len)
{
	l2s_blake3_keyed(out, L2S_MAC_TAG_BYTES, key, x, len);
}

/* KDF of one 32-byte value: most derivations have this shape. */
static void kdf1(uint8_t *out, size_t out_len, const char *suffix, const uint8_t in[32])
{
	struct l2s_part p[] = { { in, 32 } };

	l2s_kdf(out, out_len, suffix, p, 1);
}

void l2s_kdf_transcript(uint8_t h0[L2S_HASH_BYTES], const uint8_t r_pk[L2S_ED25519_PK_BYTES],
			const uint8_t prekey_pk[L2S_XWING_PK_BYTES], const uint8_t binding[L2S_BINDING_BYTES])
{
	struct l2s_part p[] = {
		{ r_pk, L2S_ED25519_PK_BYTES },
		{ prekey_pk, L2S_XWING_PK_BYTES },
		{ binding, L2S_BINDING_BYTES },
	};

	l2s_kdf(h0, L2S_HASH_BYTES, "transcript", p, 3);
}

void l2s_kdf_init_key(uint8_t k[L2S_KEY_BYTES], const uint8_t ss1[L2S_XWING_SS_BYTES],
		      const uint8_t h_init[L2S_HASH_BYTES])
{
	struct l2s_part p[] = { { ss1, L2S_XWING_SS_BYTES }, { h_init, L2S_HASH_BYTES } };

	l2s_kdf(k, L2S_KEY_BYTES, "init key", p, 2);
}

void l2s_kdf_chaining_key(uint8_t ck[L2S_KEY_BYTES], const uint8_t ss1[L2S_XWING_SS_BYTES],
			  const uint8_t ss2[L2S_XWING_SS_BYTES], const uint8_t h_resp[L2S_HASH_BYTES])
{
	struct l2s_part p[] = {
		{ ss1, L2S_XWING_SS_BYTES },
		{ ss2, L2S_XWING_SS_BYTES },
		{ h_resp, L2S_HASH_BYTES },
	};

	l2s_kdf(ck, L2S_KEY_BYTES, "chaining key", p, 3);
}

void l2s_kdf_resp_key(uint8_t k[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES])
{
	kdf1(k, L2S_KEY_BYTES, "resp key", ck);
}

void l2s_kdf_initiator_to_responder(uint8_t k[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES])
{
	kdf1(k, L2S_KEY_BYTES, "initiator to responder", ck);
}

void l2s_kdf_responder_to_initiator(uint8_t k[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES])
{
	kdf1(k, L2S_KEY_BYTES, "responder to initiator", ck);
}

void l2s_kdf_session_id(uint8_t id[L2S_SESSION_ID_BYTES], const uint8_t ck[L2S_KEY_BYTES])
{
	kdf1(id, L2S_SESSION_ID_BYTES, "session id", ck);
}

void l2s_kdf_resumption(uint8_t rs[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES])
{
	kdf1(rs, L2S_KEY_BYTES, "resumption", ck);
}

void l2s_kdf_rotation_chain(uint8_t rc[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES])
{
	kdf1(rc, L2S_KEY_BYTES, "rotation chain", ck);
}

void l2s_session_keys_derive(struct l2s_session_keys *keys, const uint8_t ck[L2S_KEY_BYTES], int role)
{
	uint8_t *i2r = role == L2S_ROLE_INITIATOR ? keys->send : keys->recv;
	uint8_t *r2i = role == L2S_ROLE_INITIATOR ? keys->recv : keys->send;

	l2s_kdf_initiator_to_responder(i2r, ck);
	l2s_kdf_responder_to_initiator(r2i, ck);
	l2s_kdf_session_id(keys->session_id, ck);
	l2s_kdf_resumption(keys->rs, ck);
	l2s_kdf_rotation_chain(keys->rc, ck);
}

void l2s_session_keys_wipe(struct l2s_session_keys *keys)
{
	l2s_wipe(keys, sizeof(*keys));
}

void l2s_kdf_rotation(uint8_t ck[L2S_KEY_BYTES], const uint8_t rc[L2S_KEY_BYTES],
		      const uint8_t ss[L2S_XWING_SS_BYTES], const uint8_t th[L2S_HASH_BYTES])
{
	struct l2s_part p[] = {
		{ rc, L2S_KEY_BYTES },
		{ ss, L2S_XWING_SS_BYTES },
		{ th, L2S_HASH_BYTES },
	};

	l2s_kdf(ck, L2S_KEY_BYTES, "rotation", p, 3);
}

void l2s_kdf_mac1_key(uint8_t k[L2S_KEY_BYTES], const uint8_t pk[L2S_ED25519_PK_BYTES])
{
	kdf1(k, L2S_KEY_BYTES, "mac1", pk);
}

void l2s_kdf_cookie_key(uint8_t k[L2S_KEY_BYTES], const uint8_t r_pk[L2S_ED25519_PK_BYTES])
{
	kdf1(k, L2S_KEY_BYTES, "cookie key", r_pk);
}

void l2s_kdf_resume_binder(uint8_t k[L2S_KEY_BYTES], const uint8_t rs[L2S_KEY_BYTES],
			   const uint8_t binding[L2S_BINDING_BYTES])
{
	struct l2s_part p[] = { { rs, L2S_KEY_BYTES }, { binding, L2S_BINDING_BYTES } };

	l2s_kdf(k, L2S_KEY_BYTES, "resume binder", p, 2);
}

void l2s_kdf_resume_confirm(uint8_t k[L2S_KEY_BYTES], const uint8_t ck[L2S_KEY_BYTES])
{
	kdf1(k, L2S_KEY_BYTES, "resume confirm", ck);
}

void l2s_kdf_resumption_keys(uint8_t ck[L2S_KEY_BYTES], const uint8_t rs[L2S_KEY_BYTES],
			     const uint8_t *dh, const uint8_t th[L2S_HASH_BYTES])
{
	struct l2s_part p[] = {
		{ rs, L2S_KEY_BYTES },
		{ dh, dh ? L2S_X25519_BYTES : 0 },
		{ th, L2S_HASH_BYTES },
	};

	l2s_kdf(ck, L2S_KEY_BYTES, "resumption keys", p, 3);
}

void l2s_kdf_ticket_key(uint8_t k[L2S_KEY_BYTES], const uint8_t seed[L2S_KEY_BYTES])
{
	kdf1(k, L2S_KEY_BYTES, "ticket key", seed);
}

void l2s_kdf_stored_session(uint8_t k[L2S_KEY_BYTES], const uint8_t storage_key[L2S_KEY_BYTES])
{
	kdf1(k, L2S_KEY_BYTES, "stored session", storage_key);
}
