"""`make demo`: two identities, a hybrid post-quantum key agreement and a
signed, encrypted exchange, all through the C core, printed step by step.

This is the foundation demo: one process plays both gateways. The session
engine turns it into a two-node session over the network later.
"""
import struct
import time

from l2sess import crypto
from l2sess.did import did_from_public_key, public_key_from_did

BUNDLE_LIFETIME_S = 7 * 24 * 3600


def step(n, text):
    print(f"\n[{n}] {text}")


def show(label, value):
    if isinstance(value, bytes):
        value = f"{len(value)} B  {value[:12].hex()}…"
    print(f"      {label:<28} {value}")


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t0) * 1e6


class Gateway:
    def __init__(self, name):
        self.name = name
        self.id_pk, self.id_sk = crypto.ed25519_keypair()
        self.did = did_from_public_key(self.id_pk)

    def publish_prekey_bundle(self, now):
        """An X-Wing (ML-KEM-768 + X25519) prekey with an expiry, signed by the identity key."""
        self.prekey_pk, self.prekey_sk = crypto.xwing_keygen()
        body = b"l2sess-demo-bundle" + self.prekey_pk + struct.pack(">Q", now + BUNDLE_LIFETIME_S)
        return body, crypto.ed25519_sign(self.id_sk, body)


def derive_keys(ss, transcript_hash):
    material = ss + transcript_hash
    return (crypto.blake3_derive_key("l2sess demo 2026 initiator to responder", material),
            crypto.blake3_derive_key("l2sess demo 2026 responder to initiator", material))


def nonce(counter):
    return struct.pack("<IQ", 0, counter)


def main():
    now = int(time.time())
    print("l2sess foundation demo")
    print(f"  ML-KEM-768 provider: {crypto.MLKEM_PROVIDER}   BLAKE3 back end: {crypto.BLAKE3_BACKEND}")

    step(1, "Two gateways generate Ed25519 identities; a DID is the key itself (did:key)")
    alice, bob = Gateway("alice"), Gateway("bob")
    show("alice DID", alice.did)
    show("bob DID", bob.did)

    step(2, "Bob publishes a prekey bundle: an X-Wing public key, signed, with an expiry")
    bundle, bundle_sig = bob.publish_prekey_bundle(now)
    show("X-Wing public key", bob.prekey_pk)
    show("bundle signature", bundle_sig)

    step(3, "Alice resolves Bob's DID to his identity key and verifies the bundle")
    crypto.ed25519_verify(public_key_from_did(bob.did), bundle, bundle_sig)
    expiry = struct.unpack(">Q", bundle[-8:])[0]
    assert expiry > now, "bundle expired"
    show("signature", "valid")
    show("expires in", f"{(expiry - now) // 3600} h")

    step(4, "Alice encapsulates to the prekey: ML-KEM-768 + X25519 combined by X-Wing")
    (ct, ss_alice), us = timed(crypto.xwing_encaps, bob.prekey_pk)
    transcript = crypto.blake3(bundle + bundle_sig + alice.id_pk + ct)
    request_sig = crypto.ed25519_sign(alice.id_sk, transcript)
    show("ciphertext", ct)
    show("encapsulation time", f"{us:.0f} µs")
    show("request signature", request_sig)

    step(5, "Bob verifies Alice's signature over the transcript and decapsulates")
    transcript_bob = crypto.blake3(bundle + bundle_sig + public_key_from_did(alice.did) + ct)
    crypto.ed25519_verify(public_key_from_did(alice.did), transcript_bob, request_sig)
    ss_bob, us = timed(crypto.xwing_decaps, bob.prekey_sk, ct)
    assert ss_bob == ss_alice, "shared secrets differ"
    show("signature", "valid")
    show("decapsulation time", f"{us:.0f} µs")
    show("shared secret agrees", ss_bob == ss_alice)

    step(6, "Both derive one key per direction with BLAKE3 derive_key")
    a_send, a_recv = derive_keys(ss_alice, transcript)
    b_recv, b_send = derive_keys(ss_bob, transcript_bob)
    assert (a_send, a_recv) == (b_recv, b_send)
    show("alice→bob key", a_send)
    show("bob→alice key", b_send)

    step(7, "An encrypted, signed exchange (ChaCha20-Poly1305, counter nonces)")
    msg = b"hello bob, this is alice's gateway"
    sealed = crypto.aead_encrypt(a_send, nonce(0), msg + crypto.ed25519_sign(alice.id_sk, msg), alice.did.encode())
    opened = crypto.aead_decrypt(b_recv, nonce(0), sealed, alice.did.encode())
    text, sig = opened[:-64], opened[-64:]
    crypto.ed25519_verify(public_key_from_did(alice.did), text, sig)
    show("bob received", text.decode())
    reply = b"hello alice, session keys confirmed"
    sealed_reply = crypto.aead_encrypt(b_send, nonce(0), reply, bob.did.encode())
    show("alice received", crypto.aead_decrypt(a_recv, nonce(0), sealed_reply, bob.did.encode()).decode())

    step(8, "Tampering is caught: one flipped bit in the ciphertext")
    forged = bytearray(sealed)
    forged[5] ^= 1
    try:
        crypto.aead_decrypt(b_recv, nonce(0), bytes(forged), alice.did.encode())
        raise SystemExit("tampered message was accepted")
    except crypto.AuthenticationFailed as exc:
        show("rejected", exc)

    print("\ndemo complete: hybrid PQ key agreement, mutual signatures, encrypted exchange")


if __name__ == "__main__":
    main()
