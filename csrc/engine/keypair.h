/* SPDX-License-Identifier: Apache-2.0 */
/* One direction pair of session keys and the TRANSPORT message it seals and
 * opens (PROTOCOL.md §5). A session holds up to three: previous (receive
 * only, until key_grace ends), current, and next (receive only until the
 * peer confirms it). The struct is fixed-size and holds no pointers.
 */
#ifndef L2S_KEYPAIR_H
#define L2S_KEYPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "l2s.h"
#include "engine/replay.h"
#include "wire/wire.h"

/* A key pair sends counters 0 .. 2^60 - 1 and never more. */
#define L2S_KEYPAIR_MAX_COUNTER ((uint64_t)1 << 60)
#define L2S_KEYPAIR_OVERHEAD (L2S_TRANSPORT_HEADER_BYTES + L2S_AEAD_TAG_BYTES)
#define L2S_KEYPAIR_MAX_FRAME (L2S_MAX_MESSAGE - L2S_KEYPAIR_OVERHEAD)

struct l2s_keypair {
	uint8_t send_key[L2S_AEAD_KEY_BYTES];
	uint8_t recv_key[L2S_AEAD_KEY_BYTES];
	uint64_t send_counter;  /* the counter of the next frame sealed */
	struct l2s_replay replay;
	uint32_t local_index;   /* the receiver_index the peer puts on frames to us */
	uint32_t remote_index;  /* the receiver_index we put on frames to the peer */
	uint64_t created_ms;
	uint64_t frames_sent;   /* for rotate_after_messages */
	uint64_t bytes_sent;    /* frame bytes, for rotate_after_bytes */
	uint8_t can_send;       /* 0 while the pair is receive only */
};

void l2s_keypair_init(struct l2s_keypair *kp, const uint8_t send_key[L2S_AEAD_KEY_BYTES],
		      const uint8_t recv_key[L2S_AEAD_KEY_BYTES], uint32_t local_index, uint32_t remote_index,
		      uint64_t now_ms, int can_send);

/* Seals frame (1 .. L2S_KEYPAIR_MAX_FRAME bytes) into a whole TRANSPORT
 * message of frame_len + L2S_KEYPAIR_OVERHEAD bytes at out, and uses up one
 * counter. frame may equal out + L2S_TRANSPORT_HEADER_BYTES (in place); no other overlap.
 * L2S_ERR_LENGTH: bad frame_len or cap too small. L2S_ERR_STATE: the pair is
 * receive only, or its counters are exhausted (rotate). */
int l2s_keypair_seal(struct l2s_keypair *kp, const uint8_t *frame, size_t frame_len, uint8_t *out, size_t cap,
		     size_t *out_len);

/* Opens a whole TRANSPORT message into frame (len - L2S_KEYPAIR_OVERHEAD
 * bytes). Checks, in order: length, header (version, type, reserved:
 * L2S_ERR_DECODE), receiver_index == local_index (L2S_ERR_NOT_FOUND),
 * counter below 2^60 (L2S_ERR_DECODE), the replay window (L2S_ERR_REPLAY),
 * cap (L2S_ERR_LENGTH), the AEAD tag (L2S_ERR_AUTH, frame zeroed). Only a
 * frame that authenticated moves the replay window. */
int l2s_keypair_open(struct l2s_keypair *kp, const uint8_t *msg, size_t len, uint8_t *frame, size_t cap,
		     size_t *frame_len);

/* The receiver_index of a TRANSPORT message (len >= 8), to pick a key pair. */
uint32_t l2s_keypair_msg_index(const uint8_t *msg);

void l2s_keypair_wipe(struct l2s_keypair *kp);

#endif /* L2S_KEYPAIR_H */
