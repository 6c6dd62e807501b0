// SPDX-License-Identifier: Apache-2.0
/* ChaCha20-Poly1305, IETF variant (RFC 8439: 96-bit nonce), through libsodium. */
#include <sodium.h>

#include "l2s.h"

int l2s_aead_encrypt(uint8_t *out, const uint8_t *pt, size_t pt_len, const uint8_t *ad, size_t ad_len,
		     const uint8_t nonce[L2S_AEAD_NONCE_BYTES], const uint8_t key[L2S_AEAD_KEY_BYTES])
{
	if (pt_len > crypto_aead_chacha20poly1305_ietf_MESSAGEBYTES_MAX)
		return L2S_ERR_LENGTH;
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, pt_len, ad, ad_len, NULL, nonce, key);
	return L2S_OK;
}

int l2s_aead_decrypt(uint8_t *out, const uint8_t *ct, size_t ct_len, const uint8_t *ad, size_t ad_len,
		     const uint8_t nonce[L2S_AEAD_NONCE_BYTES], const uint8_t key[L2S_AEAD_KEY_BYTES])
{
	if (ct_len < L2S_AEAD_TAG_BYTES)
		return L2S_ERR_LENGTH;
	/* libsodium checks the tag before it decrypts anything into out. */
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ct_len, ad, ad_len, nonce, key) != 0) {
		l2s_wipe(out, ct_len - L2S_AEAD_TAG_BYTES);
		return L2S_ERR_AUTH;
	}
	return L2S_OK;
}
