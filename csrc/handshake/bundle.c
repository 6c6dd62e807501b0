// SPDX-License-Identifier: Apache-2.0
/* Prekey bundles: the identity key signs the X-Wing prekey and its expiry. */
#include <sodium.h>
#include <string.h>

#include "handshake/bundle.h"

#define PREFIX_LEN (sizeof(L2S_BUNDLE_SIG_PREFIX) - 1)

/* The signed message: the prefix, then bundle bytes 0..1257. */
static void signed_message(uint8_t msg[PREFIX_LEN + L2S_BUNDLE_SIGNED_BYTES], const uint8_t *bundle)
{
	memcpy(msg, L2S_BUNDLE_SIG_PREFIX, PREFIX_LEN);
	memcpy(msg + PREFIX_LEN, bundle, L2S_BUNDLE_SIGNED_BYTES);
}

int l2s_bundle_make(uint8_t out[L2S_PREKEY_BUNDLE_BYTES], const struct l2s_identity *id,
		    const uint8_t prekey_pk[L2S_XWING_PK_BYTES], uint64_t not_after_s)
{
	uint8_t msg[PREFIX_LEN + L2S_BUNDLE_SIGNED_BYTES], zero_sig[L2S_ED25519_SIG_BYTES] = { 0 };
	struct l2s_bundle b = {
		.identity_pk = id->pk,
		.prekey_pk = prekey_pk,
		.not_after_s = not_after_s,
		.signature = zero_sig,
	};
	size_t len;
	int ret = l2s_encode_bundle(out, L2S_PREKEY_BUNDLE_BYTES, &b, &len);

	if (ret != L2S_OK)
		return ret;
	if (len != L2S_PREKEY_BUNDLE_BYTES)
		return L2S_ERR_INTERNAL;
	signed_message(msg, out);
	return l2s_ed25519_sign(out + L2S_BUNDLE_SIGNED_BYTES, msg, sizeof(msg), id->sk);
}

int l2s_bundle_open(struct l2s_bundle *out, const uint8_t *bundle, size_t len,
		    const uint8_t identity_pk[L2S_ED25519_PK_BYTES], uint64_t now_s)
{
	uint8_t msg[PREFIX_LEN + L2S_BUNDLE_SIGNED_BYTES];
	struct l2s_bundle b;
	int ret = l2s_decode_bundle(bundle, len, &b);

	if (ret != L2S_OK)
		return L2S_ERR_DECODE;
	if (sodium_memcmp(b.identity_pk, identity_pk, L2S_ED25519_PK_BYTES) != 0)
		return L2S_ERR_AUTH;
	signed_message(msg, bundle);
	if (l2s_ed25519_verify(b.signature, msg, sizeof(msg), identity_pk) != L2S_OK)
		return L2S_ERR_AUTH;
	/* Expiry last: a forged bundle is an authentication failure even when
	 * it is also stale. */
	if (now_s >= b.not_after_s)
		return L2S_ERR_EXPIRED;
	*out = b;
	return L2S_OK;
}

int l2s_prekey_bundle_verify(const uint8_t *bundle, size_t len, const uint8_t identity_pk[L2S_ED25519_PK_BYTES],
			     uint64_t now_s)
{
	struct l2s_bundle b;

	if (!bundle || !identity_pk)
		return L2S_ERR_DECODE;
	return l2s_bundle_open(&b, bundle, len, identity_pk, now_s);
}
