"""Interoperability of l2sess.crypto with independent implementations.

Each primitive is run in both directions against another library on random
inputs drawn by hypothesis: ML-KEM-768, X25519, Ed25519 and ChaCha20-Poly1305
against pyca/cryptography (OpenSSL), X-Wing against a small reference built
here from pyca's ML-KEM-768 and X25519 plus hashlib, and BLAKE3 (all three
modes, many input and output lengths) against the PyPI `blake3` package.
"""
import hashlib

import blake3 as pyblake3
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519 as pyed
from cryptography.hazmat.primitives.asymmetric import mlkem as pymlkem
from cryptography.hazmat.primitives.asymmetric import x25519 as pyx
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import example, given, settings
from hypothesis import strategies as st

from l2sess import crypto

B32 = st.binary(min_size=32, max_size=32)
B64 = st.binary(min_size=64, max_size=64)
KEM = settings(max_examples=25, deadline=None)
FAST = settings(max_examples=100, deadline=None)


def pyca_mlkem_from_seed(d, z):
    return pymlkem.MLKEM768PrivateKey.from_seed_bytes(d + z)


def pyca_ek(private_key):
    return private_key.public_key().public_bytes_raw()


# ---- ML-KEM-768 vs pyca/cryptography -------------------------------------------


@KEM
@given(d=B32, z=B32)
def test_mlkem_same_seed_same_ek_and_dk_layout(d, z):
    ek, dk = crypto.mlkem768_keygen(d, z)
    assert ek == pyca_ek(pyca_mlkem_from_seed(d, z))
    # FIPS 203: dk = dk_pke (1152) || ek (1184) || H(ek) (32) || z (32)
    assert len(dk) == crypto.MLKEM768_DK_BYTES
    assert dk[1152:2336] == ek
    assert dk[2336:2368] == hashlib.sha3_256(ek).digest()
    assert dk[2368:] == z


@KEM
@given(m=B32)
def test_mlkem_their_keygen_our_encaps_their_decaps(m):
    theirs = pymlkem.MLKEM768PrivateKey.generate()
    ct, ss = crypto.mlkem768_encaps(pyca_ek(theirs), m)
    assert len(ct) == crypto.MLKEM768_CT_BYTES and len(ss) == 32
    assert theirs.decapsulate(ct) == ss


def test_mlkem_their_keygen_our_random_encaps_their_decaps():
    theirs = pymlkem.MLKEM768PrivateKey.generate()
    ek = pyca_ek(theirs)
    results = [crypto.mlkem768_encaps(ek) for _ in range(5)]
    for ct, ss in results:
        assert theirs.decapsulate(ct) == ss
    assert len({ct for ct, _ in results}) == 5, "random encapsulation repeated a ciphertext"


@KEM
@given(d=B32, z=B32)
def test_mlkem_our_keygen_their_encaps_our_decaps(d, z):
    ek, dk = crypto.mlkem768_keygen(d, z)
    ss, ct = pymlkem.MLKEM768PublicKey.from_public_bytes(ek).encapsulate()
    assert crypto.mlkem768_decaps(dk, ct) == ss


def test_mlkem_our_random_keygen_their_encaps_our_decaps():
    ek, dk = crypto.mlkem768_keygen()
    ss, ct = pymlkem.MLKEM768PublicKey.from_public_bytes(ek).encapsulate()
    assert crypto.mlkem768_decaps(dk, ct) == ss
    assert crypto.mlkem768_keygen()[0] != ek


@KEM
@given(d=B32, z=B32, m=B32,
       flips=st.lists(st.tuples(st.integers(0, crypto.MLKEM768_CT_BYTES - 1), st.integers(0, 7)),
                      min_size=1, max_size=4, unique_by=lambda f: f[0]))
@example(d=bytes(32), z=bytes(32), m=bytes(32), flips=[(0, 0)])
@example(d=bytes(32), z=bytes(32), m=bytes(32), flips=[(crypto.MLKEM768_CT_BYTES - 1, 7)])
def test_mlkem_implicit_rejection_matches_pyca(d, z, m, flips):
    ek, dk = crypto.mlkem768_keygen(d, z)
    ct, ss = crypto.mlkem768_encaps(ek, m)
    bad = bytearray(ct)
    for pos, bit in flips:
        bad[pos] ^= 1 << bit
    bad = bytes(bad)
    ours = crypto.mlkem768_decaps(dk, bad)
    assert len(ours) == 32
    assert ours != ss
    # FIPS 203 implicit rejection: J(z || c'), the same value pyca computes.
    assert ours == pyca_mlkem_from_seed(d, z).decapsulate(bad)
    assert ours == hashlib.shake_256(z + bad).digest(32)


# ---- X-Wing vs a reference built from pyca + hashlib -----------------------------

XWING_LABEL = bytes.fromhex("5c2e2f2f5e5c")  # the ASCII string \.//^\


def ref_xwing_expand(seed):
    e = hashlib.shake_256(seed).digest(96)
    return pymlkem.MLKEM768PrivateKey.from_seed_bytes(e[:64]), pyx.X25519PrivateKey.from_private_bytes(e[64:])


def ref_combiner(ss_m, ss_x, ct_x, pk_x):
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL).digest()


def ref_xwing_pk(seed):
    m, x = ref_xwing_expand(seed)
    return pyca_ek(m) + x.public_key().public_bytes_raw()


def ref_xwing_decaps(seed, ct):
    m, x = ref_xwing_expand(seed)
    ss_x = x.exchange(pyx.X25519PublicKey.from_public_bytes(ct[1088:]))
    return ref_combiner(m.decapsulate(ct[:1088]), ss_x, ct[1088:], x.public_key().public_bytes_raw())


def ref_xwing_encaps(pk):
    ss_m, ct_m = pymlkem.MLKEM768PublicKey.from_public_bytes(pk[:1184]).encapsulate()
    eph = pyx.X25519PrivateKey.generate()
    ct_x = eph.public_key().public_bytes_raw()
    ss_x = eph.exchange(pyx.X25519PublicKey.from_public_bytes(pk[1184:]))
    return ct_m + ct_x, ref_combiner(ss_m, ss_x, ct_x, pk[1184:])


@KEM
@given(seed=B32, eseed=B64)
def test_xwing_round_trip_against_reference(seed, eseed):
    pk, sk = crypto.xwing_keygen(seed)
    assert sk == seed
    assert pk == ref_xwing_pk(seed)
    ct, ss = crypto.xwing_encaps(pk, eseed)
    assert ct[1088:] == pyx.X25519PrivateKey.from_private_bytes(eseed[32:]).public_key().public_bytes_raw()
    assert crypto.xwing_decaps(sk, ct) == ss
    assert ref_xwing_decaps(seed, ct) == ss


@KEM
@given(seed=B32)
def test_xwing_reference_encaps_our_decaps(seed):
    pk, sk = crypto.xwing_keygen(seed)
    ct, ss = ref_xwing_encaps(pk)
    assert crypto.xwing_decaps(sk, ct) == ss


def test_xwing_random_keygen_and_encaps():
    pk, sk = crypto.xwing_keygen()
    assert len(pk) == crypto.XWING_PK_BYTES and len(sk) == 32
    assert pk == ref_xwing_pk(sk)
    ct, ss = crypto.xwing_encaps(pk)
    assert len(ct) == crypto.XWING_CT_BYTES
    assert ref_xwing_decaps(sk, ct) == ss
    assert crypto.xwing_encaps(pk)[0] != ct


@KEM
@given(seed=B32, eseed=B64, pos=st.integers(0, crypto.XWING_CT_BYTES - 1), bit=st.integers(0, 7))
def test_xwing_modified_ciphertext_matches_reference(seed, eseed, pos, bit):
    pk, sk = crypto.xwing_keygen(seed)
    ct, ss = crypto.xwing_encaps(pk, eseed)
    bad = bytearray(ct)
    bad[pos] ^= 1 << bit
    bad = bytes(bad)
    try:
        expected = ref_xwing_decaps(seed, bad)
    except ValueError:  # pyca refuses an all-zero X25519 result; practically unreachable
        with pytest.raises(crypto.CryptoError):
            crypto.xwing_decaps(sk, bad)
        return
    got = crypto.xwing_decaps(sk, bad)
    assert got == expected
    assert got != ss


# ---- X25519 ------------------------------------------------------------------


@FAST
@given(sk=B32)
def test_x25519_public_key_matches_pyca(sk):
    assert crypto.x25519_public_key(sk) == \
        pyx.X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes_raw()


@FAST
@given(our_sk=B32)
def test_x25519_both_directions(our_sk):
    our_pk = crypto.x25519_public_key(our_sk)
    theirs = pyx.X25519PrivateKey.generate()
    their_pk = theirs.public_key().public_bytes_raw()
    shared = crypto.x25519(our_sk, their_pk)
    assert shared == theirs.exchange(pyx.X25519PublicKey.from_public_bytes(our_pk))


def test_x25519_random_keypair_with_pyca():
    pk, sk = crypto.x25519_keypair()
    assert crypto.x25519_public_key(sk) == pk
    theirs = pyx.X25519PrivateKey.generate()
    assert crypto.x25519(sk, theirs.public_key().public_bytes_raw()) == \
        theirs.exchange(pyx.X25519PublicKey.from_public_bytes(pk))


# ---- Ed25519 -----------------------------------------------------------------

MESSAGES = st.binary(max_size=3000)


@FAST
@given(seed=B32)
def test_ed25519_same_seed_same_public_key(seed):
    pk, sk = crypto.ed25519_keypair(seed)
    assert pk == pyed.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    assert sk == seed + pk


@FAST
@given(seed=B32, msg=MESSAGES)
def test_ed25519_their_sign_our_verify(seed, msg):
    theirs = pyed.Ed25519PrivateKey.from_private_bytes(seed)
    sig = theirs.sign(msg)
    pk = theirs.public_key().public_bytes_raw()
    assert crypto.ed25519_verify(pk, msg, sig) is None
    # Ed25519 is deterministic: the same seed gives the same signature.
    assert crypto.ed25519_sign(seed, msg) == sig


@FAST
@given(seed=B32, msg=MESSAGES)
def test_ed25519_our_sign_their_verify(seed, msg):
    pk, sk = crypto.ed25519_keypair(seed)
    sig = crypto.ed25519_sign(sk, msg)
    pyed.Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)  # raises InvalidSignature


def test_ed25519_random_keypair_with_pyca():
    pk, sk = crypto.ed25519_keypair()
    sig = crypto.ed25519_sign(sk, b"random key")
    pyed.Ed25519PublicKey.from_public_bytes(pk).verify(sig, b"random key")
    assert crypto.ed25519_keypair()[0] != pk


# ---- ChaCha20-Poly1305 -------------------------------------------------------


@FAST
@given(key=B32, nonce=st.binary(min_size=12, max_size=12), pt=st.binary(max_size=5000),
       ad=st.binary(max_size=300))
def test_aead_both_directions(key, nonce, pt, ad):
    theirs = ChaCha20Poly1305(key)
    sealed = crypto.aead_encrypt(key, nonce, pt, ad)
    assert len(sealed) == len(pt) + crypto.AEAD_TAG_BYTES
    assert theirs.encrypt(nonce, pt, ad) == sealed
    assert theirs.decrypt(nonce, sealed, ad) == pt
    assert crypto.aead_decrypt(key, nonce, theirs.encrypt(nonce, pt, ad), ad) == pt


@FAST
@given(key=B32, nonce=st.binary(min_size=12, max_size=12), pt=st.binary(max_size=2000))
def test_aead_default_ad_is_empty(key, nonce, pt):
    theirs = ChaCha20Poly1305(key)
    assert crypto.aead_encrypt(key, nonce, pt) == theirs.encrypt(nonce, pt, None)
    assert crypto.aead_decrypt(key, nonce, theirs.encrypt(nonce, pt, b"")) == pt


# ---- BLAKE3 vs the PyPI blake3 package -----------------------------------------

# Chunk (1024) and block (64) boundaries, and a few lengths around them.
BOUNDARIES = sorted({0, 1, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 2047, 2048, 2049, 3072, 3073,
                     4095, 4096, 4097, 8191, 8192, 8193, 16384, 16385, 31744, 32768, 65535, 65536,
                     65537, 70000})
OUT_LENGTHS = [0, 1, 31, 32, 33, 63, 64, 65, 131, 1000, 1024, 1025]
CONTEXT = "l2sess 2025 interop test: BLAKE3 derive_key"
LENGTH = st.one_of(st.sampled_from(BOUNDARIES), st.integers(0, 70000))


def data_of(n, salt=0):
    """n bytes that differ from position to position and from length to length."""
    return hashlib.shake_128(n.to_bytes(4, "little") + bytes([salt])).digest(n) if n else b""


def pypi_blake3(data, mode, key, length):
    if mode == "hash":
        return pyblake3.blake3(data).digest(length=length)
    if mode == "keyed":
        return pyblake3.blake3(data, key=key).digest(length=length)
    return pyblake3.blake3(data, derive_key_context=key).digest(length=length)


def our_blake3(data, mode, key, length):
    if mode == "hash":
        return crypto.blake3(data, length=length)
    if mode == "keyed":
        return crypto.blake3(data, key=key, length=length)
    return crypto.blake3_derive_key(key, data, length=length)


@pytest.mark.parametrize("n", BOUNDARIES, ids=lambda n: f"len{n}")
def test_blake3_boundary_lengths(n):
    data = data_of(n)
    key = hashlib.sha256(b"key").digest()
    for mode, k in (("hash", None), ("keyed", key), ("derive", CONTEXT)):
        for out in OUT_LENGTHS:
            assert our_blake3(data, mode, k, out) == pypi_blake3(data, mode, k, out), (mode, out)


@settings(max_examples=60, deadline=None)
@given(n=LENGTH, salt=st.integers(0, 255), key=B32, context=st.text(max_size=60),
       out=st.one_of(st.sampled_from(OUT_LENGTHS), st.integers(0, 2000)))
def test_blake3_random(n, salt, key, context, out):
    data = data_of(n, salt)
    assert crypto.blake3(data, length=out) == pyblake3.blake3(data).digest(length=out)
    assert crypto.blake3(data, key=key, length=out) == pyblake3.blake3(data, key=key).digest(length=out)
    assert crypto.blake3_derive_key(context, data, length=out) == \
        pyblake3.blake3(data, derive_key_context=context).digest(length=out)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=3000))
def test_blake3_default_length_and_buffer_types(data):
    expected = pyblake3.blake3(data).digest()
    assert crypto.blake3(data) == expected
    assert crypto.blake3(bytearray(data)) == expected
    assert crypto.blake3(memoryview(data)) == expected
