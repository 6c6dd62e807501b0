"""The crypto layer of the C core, for Python.

ML-KEM-768 (FIPS 203), the X-Wing hybrid KEM, BLAKE3, Ed25519, X25519 and
ChaCha20-Poly1305 (IETF). Bytes in, bytes out. Bad input raises TypeError or
a ValueError subclass (CryptoError, InvalidKey, AuthenticationFailed) with a
message that names the argument; nothing returns partial or garbage output.
"""
from l2sess._core import (
    BLAKE3_BACKEND,
    MLKEM_PROVIDER,
    AuthenticationFailed,
    CryptoError,
    InvalidKey,
    aead_decrypt,
    aead_encrypt,
    blake3,
    blake3_derive_key,
    ed25519_keypair,
    ed25519_sign,
    ed25519_verify,
    mlkem768_decaps,
    mlkem768_encaps,
    mlkem768_keygen,
    x25519,
    x25519_keypair,
    x25519_public_key,
    xwing_decaps,
    xwing_encaps,
    xwing_keygen,
)

MLKEM768_EK_BYTES = 1184
MLKEM768_DK_BYTES = 2400
MLKEM768_CT_BYTES = 1088
XWING_PK_BYTES = 1216
XWING_CT_BYTES = 1120
AEAD_TAG_BYTES = 16

__all__ = [
    "AEAD_TAG_BYTES", "AuthenticationFailed", "BLAKE3_BACKEND", "CryptoError", "InvalidKey",
    "MLKEM768_CT_BYTES", "MLKEM768_DK_BYTES", "MLKEM768_EK_BYTES", "MLKEM_PROVIDER",
    "XWING_CT_BYTES", "XWING_PK_BYTES", "aead_decrypt", "aead_encrypt", "blake3",
    "blake3_derive_key", "ed25519_keypair", "ed25519_sign", "ed25519_verify", "mlkem768_decaps",
    "mlkem768_encaps", "mlkem768_keygen", "x25519", "x25519_keypair", "x25519_public_key",
    "xwing_decaps", "xwing_encaps", "xwing_keygen",
]
