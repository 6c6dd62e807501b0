"""An impostor responder for the "invalid signature received" scenario.

It answers a HANDSHAKE_INIT exactly as docs/PROTOCOL.md §4.2 says, from the
spec's text and l2sess.crypto's primitives only, with one difference: sig_R
is made with a key that is not the responder's identity. It knows the
responder's prekey secret (a leaked prekey), so everything else in its
response is valid (mac1, ct2, the AEAD around the signature): the initiator
can only refuse it at the signature check.
"""
import struct

from l2sess import crypto

PREFIX = "l2sess/1 2026-11 "
INIT_BYTES, RESP_BYTES = 2504, 1244
ZERO_NONCE = bytes(12)


def kdf(suffix, *parts, length=32):
    return crypto.blake3_derive_key(PREFIX + suffix, b"".join(parts), length)


def h(*parts):
    return crypto.blake3(b"".join(parts))


def mac(key, data):
    return crypto.blake3(data, key=key, length=16)


def forged_response(init, responder_pk, prekey_seed, signer_sk, sender_index=0x51A7E001):
    """A HANDSHAKE_RESP to `init` whose sig_R is signed by `signer_sk`.

    responder_pk: the identity the initiator expects (its DID's key);
    prekey_seed: the responder's X-Wing prekey secret (32-byte seed).
    Returns (resp, initiator_pk)."""
    assert len(init) == INIT_BYTES and init[1] == 0x01, "not a HANDSHAKE_INIT"
    receiver_index = struct.unpack(">I", init[4:8])[0]
    e_pk, ct1 = init[16:1232], init[1232:2352]
    sealed_identity = init[2352:2472]
    assert mac(kdf("mac1", responder_pk), init[:2472]) == init[2472:2488], "mac1 is not for this responder"

    prekey_pk, _ = crypto.xwing_keygen(prekey_seed)
    ss1 = crypto.xwing_decaps(prekey_seed, ct1)
    h_init = h(kdf("transcript", responder_pk, prekey_pk, bytes(32)), init[:2352])
    identity = crypto.aead_decrypt(kdf("init key", ss1, h_init), ZERO_NONCE, sealed_identity, h_init)
    initiator_pk = identity[:32]

    ct2, ss2 = crypto.xwing_encaps(e_pk)
    prefix = bytes([1, 2, 0, 0]) + struct.pack(">II", sender_index, receiver_index) + ct2
    h_resp = h(h_init, sealed_identity, prefix)
    ck = kdf("chaining key", ss1, ss2, h_resp)
    sig = crypto.ed25519_sign(signer_sk, PREFIX.encode() + b"responder" + h_resp)
    sealed_sig = crypto.aead_encrypt(kdf("resp key", ck), ZERO_NONCE, sig, h_resp)
    body = prefix + sealed_sig
    resp = body + mac(kdf("mac1", initiator_pk), body) + bytes(16)
    assert len(resp) == RESP_BYTES
    return resp, initiator_pk
