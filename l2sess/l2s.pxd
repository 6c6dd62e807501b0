# Declarations of csrc/include/l2s.h for Cython.
from libc.stdint cimport uint8_t

cdef extern from "l2s.h" nogil:
    enum:
        L2S_OK
        L2S_ERR_LENGTH
        L2S_ERR_INVALID_KEY
        L2S_ERR_AUTH
        L2S_ERR_INIT
        L2S_ERR_INTERNAL
        L2S_X25519_BYTES
        L2S_ED25519_PK_BYTES
        L2S_ED25519_SEED_BYTES
        L2S_ED25519_SK_BYTES
        L2S_ED25519_SIG_BYTES
        L2S_AEAD_KEY_BYTES
        L2S_AEAD_NONCE_BYTES
        L2S_AEAD_TAG_BYTES
        L2S_BLAKE3_KEY_BYTES
        L2S_MLKEM768_EK_BYTES
        L2S_MLKEM768_DK_BYTES
        L2S_MLKEM768_CT_BYTES
        L2S_MLKEM_SS_BYTES
        L2S_MLKEM_SEED_BYTES
        L2S_XWING_PK_BYTES
        L2S_XWING_SK_BYTES
        L2S_XWING_CT_BYTES
        L2S_XWING_SS_BYTES
        L2S_XWING_ESEED_BYTES

    const char *l2s_strerror(int err)
    int l2s_init()
    void l2s_random(uint8_t *out, size_t len)
    void l2s_wipe(void *p, size_t len)

    int l2s_x25519_keypair(uint8_t *pk, uint8_t *sk)
    int l2s_x25519_base(uint8_t *pk, const uint8_t *sk)
    int l2s_x25519(uint8_t *out, const uint8_t *sk, const uint8_t *pk)

    int l2s_ed25519_keypair(uint8_t *pk, uint8_t *sk)
    int l2s_ed25519_seed_keypair(uint8_t *pk, uint8_t *sk, const uint8_t *seed)
    int l2s_ed25519_sign(uint8_t *sig, const uint8_t *msg, size_t msg_len, const uint8_t *sk)
    int l2s_ed25519_verify(const uint8_t *sig, const uint8_t *msg, size_t msg_len, const uint8_t *pk)

    int l2s_aead_encrypt(uint8_t *out, const uint8_t *pt, size_t pt_len, const uint8_t *ad, size_t ad_len,
                         const uint8_t *nonce, const uint8_t *key)
    int l2s_aead_decrypt(uint8_t *out, const uint8_t *ct, size_t ct_len, const uint8_t *ad, size_t ad_len,
                         const uint8_t *nonce, const uint8_t *key)

    void l2s_blake3(uint8_t *out, size_t out_len, const uint8_t *inp, size_t in_len)
    void l2s_blake3_keyed(uint8_t *out, size_t out_len, const uint8_t *key, const uint8_t *inp, size_t in_len)
    void l2s_blake3_derive_key(uint8_t *out, size_t out_len, const char *context, size_t context_len,
                               const uint8_t *material, size_t material_len)
    const char *l2s_blake3_backend()

    const char *l2s_mlkem_provider()
    int l2s_mlkem768_keygen_derand(uint8_t *ek, uint8_t *dk, const uint8_t *d, const uint8_t *z)
    int l2s_mlkem768_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *ek, const uint8_t *m)
    int l2s_mlkem768_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *dk)

    int l2s_xwing_keygen_derand(uint8_t *pk, const uint8_t *sk)
    int l2s_xwing_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t *eseed)
    int l2s_xwing_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *sk)
