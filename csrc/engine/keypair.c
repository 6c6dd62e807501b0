// SPDX-License-Identifier: Apache-2.0
/* TRANSPORT sealing and opening under one key pair (PROTOCOL.md §5):
 * header (16 bytes, also the AEAD associated data) || AEAD(frame). */
#include <string.h>

#include "engine/keypair.h"

#define HDR L2S_TRANSPORT_HEADER_BYTES

void l2s_keypair_init(struct l2s_keypair *kp, const uint8_t send_key[L2S_AEAD_KEY_BYTES],
		      const uint8_t recv_key[L2S_AEAD_KEY_BYTES], uint32_t local_index, uint32_t remote_index,
		      uint64_t now_ms, int can_send)
{
	memset(kp, 0, sizeof(*kp));
	memcpy(kp->send_key, send_key, L2S_AEAD_KEY_BYTES);
	memcpy(kp->recv_key, recv_key, L2S_AEAD_KEY_BYTES);
	l2s_replay_init(&kp->replay);
	kp->local_index = local_index;
	kp->remote_index = remote_index;
	kp->created_ms = now_ms;
	kp->can_send = can_send ? 1 : 0;
}

/* Nonce = 4 zero bytes || counter little-endian. */
static void make_nonce(uint8_t nonce[L2S_AEAD_NONCE_BYTES], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

static void write_header(uint8_t hdr[HDR], uint32_t receiver_index, uint64_t counter)
{
	hdr[0] = L2S_WIRE_VERSION;
	hdr[1] = L2S_MSG_TRANSPORT;
	hdr[2] = 0;
	hdr[3] = 0;
	l2s_put_u32(hdr + 4, receiver_index);
	l2s_put_u64(hdr + 8, counter);
}

int l2s_keypair_seal(struct l2s_keypair *kp, const uint8_t *frame, size_t frame_len, uint8_t *out, size_t cap,
		     size_t *out_len)
{
	uint8_t nonce[L2S_AEAD_NONCE_BYTES];
	uint64_t counter = kp->send_counter;
	int err;

	if (frame_len == 0 || frame_len > L2S_KEYPAIR_MAX_FRAME || cap < frame_len + L2S_KEYPAIR_OVERHEAD)
		return L2S_ERR_LENGTH;
	if (!kp->can_send || counter >= L2S_KEYPAIR_MAX_COUNTER)
		return L2S_ERR_STATE;
	/* Burn the counter before anything can fail after it: a nonce is
	 * never used twice, even on a path we believe cannot fail. */
	kp->send_counter = counter + 1;
	write_header(out, kp->remote_index, counter);
	make_nonce(nonce, counter);
	err = l2s_aead_encrypt(out + HDR, frame, frame_len, out, HDR, nonce, kp->send_key);
	if (err != L2S_OK)
		return err;
	kp->frames_sent++;
	kp->bytes_sent += frame_len;
	*out_len = frame_len + L2S_KEYPAIR_OVERHEAD;
	return L2S_OK;
}

static int check_header(const struct l2s_keypair *kp, const uint8_t *msg, size_t len)
{
	if (len < L2S_TRANSPORT_MIN_BYTES || len > L2S_MAX_MESSAGE)
		return L2S_ERR_DECODE;
	if (msg[0] != L2S_WIRE_VERSION || msg[1] != L2S_MSG_TRANSPORT || msg[2] != 0 || msg[3] != 0)
		return L2S_ERR_DECODE;
	if (l2s_get_u32(msg + 4) != kp->local_index)
		return L2S_ERR_NOT_FOUND;
	if (l2s_get_u64(msg + 8) >= L2S_KEYPAIR_MAX_COUNTER)
		return L2S_ERR_DECODE;
	return L2S_OK;
}

int l2s_keypair_open(struct l2s_keypair *kp, const uint8_t *msg, size_t len, uint8_t *frame, size_t cap,
		     size_t *frame_len)
{
	uint8_t nonce[L2S_AEAD_NONCE_BYTES];
	uint64_t counter;
	int err;

	err = check_header(kp, msg, len);
	if (err != L2S_OK)
		return err;
	counter = l2s_get_u64(msg + 8);
	/* The window check is cheap and comes first; the window itself only
	 * moves once the tag has verified. */
	err = l2s_replay_check(&kp->replay, counter);
	if (err != L2S_OK)
		return err;
	if (cap < len - L2S_KEYPAIR_OVERHEAD)
		return L2S_ERR_LENGTH;
	make_nonce(nonce, counter);
	err = l2s_aead_decrypt(frame, msg + HDR, len - HDR, msg, HDR, nonce, kp->recv_key);
	if (err != L2S_OK)
		return err;
	l2s_replay_accept(&kp->replay, counter);
	*frame_len = len - L2S_KEYPAIR_OVERHEAD;
	return L2S_OK;
}

uint32_t l2s_keypair_msg_index(const uint8_t *msg)
{
	return l2s_get_u32(msg + 4);
}

void l2s_keypair_wipe(struct l2s_keypair *kp)
{
	l2s_wipe(kp, sizeof(*kp));
}
