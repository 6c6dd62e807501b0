// SPDX-License-Identifier: Apache-2.0
/* Rotation crypto (PROTOCOL.md §6): a KEM exchange chained onto rc. */
#include <stdlib.h>
#include <string.h>

#include "handshake/rotation.h"

int l2s_rotation_new(struct l2s_rotation **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? L2S_OK : L2S_ERR_NOMEM;
}

void l2s_rotation_free(struct l2s_rotation *st)
{
	if (!st)
		return;
	l2s_wipe(st, sizeof(*st));
	free(st);
}

/* Next keys from rc, ss and both frames; session_id and rs carry over. */
static void next_keys(struct l2s_session_keys *next, const struct l2s_session_keys *cur, int role,
		      const uint8_t ss[L2S_XWING_SS_BYTES], const uint8_t *init_frame, const uint8_t *resp_frame)
{
	uint8_t th[L2S_HASH_BYTES], ck[L2S_KEY_BYTES];
	struct l2s_part p[] = {
		{ init_frame, L2S_ROTATE_INIT_FRAME_BYTES },
		{ resp_frame, L2S_ROTATE_RESP_FRAME_BYTES },
	};
	struct l2s_session_keys k;

	l2s_hash_parts(th, p, 2);
	l2s_kdf_rotation(ck, cur->rc, ss, th);
	l2s_session_keys_derive(&k, ck, role);
	memcpy(k.session_id, cur->session_id, L2S_SESSION_ID_BYTES);
	memcpy(k.rs, cur->rs, L2S_KEY_BYTES);
	*next = k;
	l2s_session_keys_wipe(&k);
	l2s_wipe(ck, sizeof(ck));
}

static int encode_rotate(uint8_t *out, size_t cap, int type, uint32_t rotation_id, uint32_t new_index,
			 const uint8_t *key)
{
	struct l2s_frame f = { .type = type };
	size_t len;

	f.u.rotate.rotation_id = rotation_id;
	f.u.rotate.new_index = new_index;
	f.u.rotate.key = key;
	if (l2s_encode_frame(out, cap, &f, &len) != L2S_OK || len != cap)
		return L2S_ERR_INTERNAL;
	return L2S_OK;
}

/* Decodes a frame of the given type and exact length. */
static int decode_rotate(struct l2s_frame *f, const uint8_t *p, size_t len, int type, size_t want)
{
	if (len != want || l2s_decode_frame(p, len, f) != L2S_OK || f->type != type)
		return L2S_ERR_DECODE;
	return L2S_OK;
}

int l2s_rotation_start(struct l2s_rotation *st, uint32_t rotation_id, uint32_t new_index, struct l2s_rng *rng)
{
	uint8_t seed[L2S_XWING_SK_BYTES], e_pk[L2S_XWING_PK_BYTES];
	int ret;

	l2s_wipe(st, sizeof(*st));
	l2s_rng_bytes(rng, seed, sizeof(seed));
	ret = l2s_xwing_expand(&st->e, seed);
	l2s_wipe(seed, sizeof(seed));
	if (ret == L2S_OK) {
		l2s_xwing_public(e_pk, &st->e);
		ret = encode_rotate(st->frame, sizeof(st->frame), L2S_FRAME_ROTATE_INIT, rotation_id, new_index,
				    e_pk);
	}
	if (ret != L2S_OK) {
		l2s_wipe(st, sizeof(*st));
		return ret;
	}
	st->rotation_id = rotation_id;
	st->new_index = new_index;
	return L2S_OK;
}

int l2s_rotation_respond(uint8_t out[L2S_ROTATE_RESP_FRAME_BYTES], struct l2s_session_keys *next,
			 const struct l2s_session_keys *cur, const uint8_t *init_frame, size_t init_len,
			 uint32_t new_index, struct l2s_rng *rng)
{
	uint8_t eseed[L2S_XWING_ESEED_BYTES], ct[L2S_XWING_CT_BYTES], ss[L2S_XWING_SS_BYTES];
	struct l2s_frame f;
	int ret = decode_rotate(&f, init_frame, init_len, L2S_FRAME_ROTATE_INIT, L2S_ROTATE_INIT_FRAME_BYTES);

	if (ret != L2S_OK)
		return ret;
	l2s_rng_bytes(rng, eseed, sizeof(eseed));
	ret = l2s_xwing_encaps_derand(ct, ss, f.u.rotate.key, eseed);
	l2s_wipe(eseed, sizeof(eseed));
	if (ret == L2S_OK)
		ret = encode_rotate(out, L2S_ROTATE_RESP_FRAME_BYTES, L2S_FRAME_ROTATE_RESP, f.u.rotate.rotation_id,
				    new_index, ct);
	if (ret == L2S_OK)
		next_keys(next, cur, L2S_ROLE_RESPONDER, ss, init_frame, out);
	l2s_wipe(ss, sizeof(ss));
	return ret;
}

int l2s_rotation_finish(struct l2s_session_keys *next, uint32_t *peer_index, struct l2s_rotation *st,
			const struct l2s_session_keys *cur, const uint8_t *resp_frame, size_t resp_len)
{
	uint8_t ss[L2S_XWING_SS_BYTES];
	struct l2s_frame f;
	int ret;

	if (st->done)
		return L2S_ERR_STATE;
	ret = decode_rotate(&f, resp_frame, resp_len, L2S_FRAME_ROTATE_RESP, L2S_ROTATE_RESP_FRAME_BYTES);
	if (ret != L2S_OK)
		return ret;
	if (f.u.rotate.rotation_id != st->rotation_id)
		return L2S_ERR_NOT_FOUND;
	ret = l2s_xwing_decaps_expanded(ss, f.u.rotate.key, &st->e);
	if (ret == L2S_OK) {
		next_keys(next, cur, L2S_ROLE_INITIATOR, ss, st->frame, resp_frame);
		*peer_index = f.u.rotate.new_index;
		l2s_xwing_secret_wipe(&st->e);
		st->done = 1;
	}
	l2s_wipe(ss, sizeof(ss));
	return ret;
}
