/* SPDX-License-Identifier: Apache-2.0 */
/* Key rotation inside an established session (PROTOCOL.md §6).
 *
 * Side A sends a ROTATE_INIT frame with a fresh X-Wing key; B encapsulates
 * to it, derives the next keys and answers ROTATE_RESP; A decapsulates and
 * derives the same keys. Both frames travel inside TRANSPORT, under the
 * current keys, so only the peer can have written them; a frame changed
 * anyway yields different keys on the two sides and the CONFIRM fails.
 *
 *   ck' = KDF("rotation", rc || ss || H(ROTATE_INIT frame || ROTATE_RESP frame))
 *
 * where each frame is its full plaintext encoding (type byte included).
 * From ck' the next send/recv keys and rotation chain rc are derived as
 * §4.2 does from ck, with A (the sender of ROTATE_INIT) in the initiator
 * role; session_id and the resumption secret rs stay those of the session.
 */
#ifndef L2S_ROTATION_H
#define L2S_ROTATION_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/kdf.h"
#include "l2s.h"
#include "crypto/rng.h"
#include "wire/wire.h"
#include "crypto/xwing.h"

#define L2S_ROTATE_INIT_FRAME_BYTES (1 + 4 + 4 + L2S_XWING_PK_BYTES)
#define L2S_ROTATE_RESP_FRAME_BYTES (1 + 4 + 4 + L2S_XWING_CT_BYTES)

/* A's state while a rotation is outstanding; heap-allocated like the
 * handshake's (the ephemeral is ~2.5 KB and lives only until the answer). */
struct l2s_rotation {
	struct l2s_xwing_secret e;
	uint8_t frame[L2S_ROTATE_INIT_FRAME_BYTES]; /* ROTATE_INIT as sent */
	uint32_t rotation_id, new_index;
	int done;
};

int l2s_rotation_new(struct l2s_rotation **out);
void l2s_rotation_free(struct l2s_rotation *st);

/* A: a fresh ephemeral and the ROTATE_INIT frame in st->frame (send it as
 * a TRANSPORT frame). new_index: A's receiver index for the next keys.
 * rng draws: 32 bytes (ephemeral seed). */
int l2s_rotation_start(struct l2s_rotation *st, uint32_t rotation_id, uint32_t new_index, struct l2s_rng *rng);

/* B: answers the decrypted ROTATE_INIT frame. cur: the session's current
 * keys (rc, session_id, rs). Writes the ROTATE_RESP frame and B's next keys
 * (install as "next", receive only). rng draws: 64 bytes (encapsulation).
 * L2S_ERR_DECODE, L2S_ERR_INVALID_KEY (A's key fails the ML-KEM check). */
int l2s_rotation_respond(uint8_t out[L2S_ROTATE_RESP_FRAME_BYTES], struct l2s_session_keys *next,
			 const struct l2s_session_keys *cur, const uint8_t *init_frame, size_t init_len,
			 uint32_t new_index, struct l2s_rng *rng);

/* A: consumes the decrypted ROTATE_RESP frame and derives the same next
 * keys. *peer_index receives B's new_index. L2S_ERR_DECODE,
 * L2S_ERR_NOT_FOUND (another rotation_id), L2S_ERR_STATE (already done).
 * On L2S_OK the ephemeral is wiped. */
int l2s_rotation_finish(struct l2s_session_keys *next, uint32_t *peer_index, struct l2s_rotation *st,
			const struct l2s_session_keys *cur, const uint8_t *resp_frame, size_t resp_len);

#endif /* L2S_ROTATION_H */
