# cython: language_level=3, boundscheck=False, wraparound=False
"""Low-level bindings to the l2sess C core. Use l2sess.crypto, not this.

Every function checks the type and length of its arguments before any C code
sees them; C errors become typed Python exceptions. The GIL is released
around the post-quantum operations and bulk hashing/encryption.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t

from l2sess.l2s cimport *


class CryptoError(ValueError):
    """Base of the crypto layer's errors: a ValueError with a clear message."""


class InvalidKey(CryptoError):
    """A key failed its validity check (FIPS 203 §7.2/§7.3, small-order X25519 point)."""


class AuthenticationFailed(CryptoError):
    """An AEAD tag or an Ed25519 signature did not verify."""


if l2s_init() != L2S_OK:
    raise ImportError("l2sess: the crypto library (libsodium) failed to initialise")

MLKEM_PROVIDER = l2s_mlkem_provider().decode()
BLAKE3_BACKEND = l2s_blake3_backend().decode()

# Python-side ceiling for one BLAKE3 output: extendable output is unbounded,
# but a request for more than this is a bug, not a use.
cdef Py_ssize_t BLAKE3_MAX_OUTPUT = 1 << 30


cdef bytes _arg(object value, str name, Py_ssize_t length=-1):
    """value as bytes, after a type check and (when length >= 0) a length check."""
    if isinstance(value, bytes):
        b = <bytes>value
    elif isinstance(value, (bytearray, memoryview)):
        b = bytes(value)
    else:
        raise TypeError(f"{name} must be bytes, not {type(value).__name__}")
    if length >= 0 and len(b) != length:
        raise ValueError(f"{name} must be {length} bytes, got {len(b)}")
    return b


cdef bytes _random_arg(object value, str name, Py_ssize_t length):
    if value is None:
        out = PyBytes_FromStringAndSize(NULL, length)
        l2s_random(<uint8_t *>PyBytes_AS_STRING(out), length)
        return out
    return _arg(value, name, length)


cdef inline const uint8_t *_p(bytes b):
    return <const uint8_t *>PyBytes_AS_STRING(b)


cdef inline uint8_t *_w(bytes b):
    # Only for bytes objects this module has just created and not shared yet.
    return <uint8_t *>PyBytes_AS_STRING(b)


cdef inline bytes _new(Py_ssize_t n):
    return PyBytes_FromStringAndSize(NULL, n)


cdef int _check(int ret, str what) except -1:
    if ret == L2S_OK:
        return 0
    msg = f"{what}: {l2s_strerror(ret).decode()}"
    if ret == L2S_ERR_INVALID_KEY:
        raise InvalidKey(msg)
    if ret == L2S_ERR_AUTH:
        raise AuthenticationFailed(msg)
    raise CryptoError(msg)


# ---- ML-KEM-768 --------------------------------------------------------------

def mlkem768_keygen(d=None, z=None):
    """(ek, dk). With d and z (32 bytes each): FIPS 203 KeyGen_internal(d, z)."""
    if (d is None) != (z is None):
        raise ValueError("give both d and z, or neither")
    cdef bytes bd = _random_arg(d, "d", L2S_MLKEM_SEED_BYTES)
    cdef bytes bz = _random_arg(z, "z", L2S_MLKEM_SEED_BYTES)
    cdef bytes ek = _new(L2S_MLKEM768_EK_BYTES), dk = _new(L2S_MLKEM768_DK_BYTES)
    cdef uint8_t *pek = _w(ek)
    cdef uint8_t *pdk = _w(dk)
    cdef const uint8_t *pd = _p(bd)
    cdef const uint8_t *pz = _p(bz)
    cdef int ret
    with nogil:
        ret = l2s_mlkem768_keygen_derand(pek, pdk, pd, pz)
    _check(ret, "ML-KEM-768 keygen")
    return ek, dk


def mlkem768_encaps(ek, m=None):
    """(ct, ss). With m (32 bytes): FIPS 203 Encaps_internal(ek, m)."""
    cdef bytes bek = _arg(ek, "ek", L2S_MLKEM768_EK_BYTES)
    cdef bytes bm = _random_arg(m, "m", L2S_MLKEM_SEED_BYTES)
    cdef bytes ct = _new(L2S_MLKEM768_CT_BYTES), ss = _new(L2S_MLKEM_SS_BYTES)
    cdef uint8_t *pct = _w(ct)
    cdef uint8_t *pss = _w(ss)
    cdef const uint8_t *pek = _p(bek)
    cdef const uint8_t *pm = _p(bm)
    cdef int ret
    with nogil:
        ret = l2s_mlkem768_encaps_derand(pct, pss, pek, pm)
    _check(ret, "ML-KEM-768 encaps (encapsulation key check, FIPS 203 §7.2)")
    return ct, ss


def mlkem768_decaps(dk, ct):
    """ss. A modified ciphertext yields the implicit-rejection secret, not an error."""
    cdef bytes bdk = _arg(dk, "dk", L2S_MLKEM768_DK_BYTES)
    cdef bytes bct = _arg(ct, "ct", L2S_MLKEM768_CT_BYTES)
    cdef bytes ss = _new(L2S_MLKEM_SS_BYTES)
    cdef uint8_t *pss = _w(ss)
    cdef const uint8_t *pct = _p(bct)
    cdef const uint8_t *pdk = _p(bdk)
    cdef int ret
    with nogil:
        ret = l2s_mlkem768_decaps(pss, pct, pdk)
    _check(ret, "ML-KEM-768 decaps (decapsulation key check, FIPS 203 §7.3)")
    return ss


# ---- X-Wing ------------------------------------------------------------------

def xwing_keygen(seed=None):
    """(pk, sk); sk is the 32-byte seed."""
    cdef bytes sk = _random_arg(seed, "seed", L2S_XWING_SK_BYTES)
    cdef bytes pk = _new(L2S_XWING_PK_BYTES)
    cdef uint8_t *ppk = _w(pk)
    cdef const uint8_t *psk = _p(sk)
    cdef int ret
    with nogil:
        ret = l2s_xwing_keygen_derand(ppk, psk)
    _check(ret, "X-Wing keygen")
    return pk, sk


def xwing_encaps(pk, eseed=None):
    """(ct, ss). With eseed (64 bytes): EncapsulateDerand."""
    cdef bytes bpk = _arg(pk, "pk", L2S_XWING_PK_BYTES)
    cdef bytes be = _random_arg(eseed, "eseed", L2S_XWING_ESEED_BYTES)
    cdef bytes ct = _new(L2S_XWING_CT_BYTES), ss = _new(L2S_XWING_SS_BYTES)
    cdef uint8_t *pct = _w(ct)
    cdef uint8_t *pss = _w(ss)
    cdef const uint8_t *ppk = _p(bpk)
    cdef const uint8_t *pe = _p(be)
    cdef int ret
    with nogil:
        ret = l2s_xwing_encaps_derand(pct, pss, ppk, pe)
    _check(ret, "X-Wing encaps")
    return ct, ss


def xwing_decaps(sk, ct):
    cdef bytes bsk = _arg(sk, "sk", L2S_XWING_SK_BYTES)
    cdef bytes bct = _arg(ct, "ct", L2S_XWING_CT_BYTES)
    cdef bytes ss = _new(L2S_XWING_SS_BYTES)
    cdef uint8_t *pss = _w(ss)
    cdef const uint8_t *pct = _p(bct)
    cdef const uint8_t *psk = _p(bsk)
    cdef int ret
    with nogil:
        ret = l2s_xwing_decaps(pss, pct, psk)
    _check(ret, "X-Wing decaps")
    return ss


# ---- BLAKE3 ------------------------------------------------------------------

cdef Py_ssize_t _out_length(object length) except -1:
    if not isinstance(length, int) or isinstance(length, bool):
        raise TypeError(f"length must be int, not {type(length).__name__}")
    if length < 0 or length > BLAKE3_MAX_OUTPUT:
        raise ValueError(f"length must be between 0 and {BLAKE3_MAX_OUTPUT}, got {length}")
    return length


def blake3(data, key=None, length=32):
    """BLAKE3 hash, or keyed hash when key (32 bytes) is given; any output length."""
    cdef bytes bd = _arg(data, "data")
    cdef Py_ssize_t n = _out_length(length)
    cdef bytes out = _new(n)
    cdef bytes bk
    cdef const uint8_t *kp
    cdef uint8_t *po = _w(out)
    cdef const uint8_t *pin = _p(bd)
    cdef size_t inlen = len(bd)
    if key is None:
        with nogil:
            l2s_blake3(po, n, pin, inlen)
    else:
        bk = _arg(key, "key", L2S_BLAKE3_KEY_BYTES)
        kp = _p(bk)
        with nogil:
            l2s_blake3_keyed(po, n, kp, pin, inlen)
    return out


def blake3_derive_key(context, material, length=32):
    """BLAKE3 derive_key mode. context is a str: a hard-coded, unique purpose string."""
    if not isinstance(context, str):
        raise TypeError(f"context must be str, not {type(context).__name__}")
    cdef bytes ctx = context.encode("utf-8")
    cdef bytes bm = _arg(material, "material")
    cdef Py_ssize_t n = _out_length(length)
    cdef bytes out = _new(n)
    cdef uint8_t *po = _w(out)
    cdef const char *pc = PyBytes_AS_STRING(ctx)
    cdef size_t clen = len(ctx)
    cdef const uint8_t *pm = _p(bm)
    cdef size_t mlen = len(bm)
    with nogil:
        l2s_blake3_derive_key(po, n, pc, clen, pm, mlen)
    return out


# ---- Ed25519 -----------------------------------------------------------------

def ed25519_keypair(seed=None):
    """(pk, sk); sk is 64 bytes (seed || pk). With seed (32 bytes): deterministic."""
    cdef bytes bs = _random_arg(seed, "seed", L2S_ED25519_SEED_BYTES)
    cdef bytes pk = _new(L2S_ED25519_PK_BYTES), sk = _new(L2S_ED25519_SK_BYTES)
    _check(l2s_ed25519_seed_keypair(_w(pk), _w(sk), _p(bs)), "Ed25519 keypair")
    return pk, sk


def ed25519_sign(sk, msg):
    """64-byte detached signature. sk: the 64-byte secret key or its 32-byte seed."""
    cdef bytes bsk = _arg(sk, "sk")
    cdef bytes bm = _arg(msg, "msg")
    cdef bytes sig = _new(L2S_ED25519_SIG_BYTES)
    cdef bytes pk
    if len(bsk) == L2S_ED25519_SEED_BYTES:
        pk, bsk = ed25519_keypair(bsk)
    elif len(bsk) != L2S_ED25519_SK_BYTES:
        raise ValueError(f"sk must be {L2S_ED25519_SK_BYTES} (or a {L2S_ED25519_SEED_BYTES}-byte seed) "
                         f"bytes, got {len(bsk)}")
    _check(l2s_ed25519_sign(_w(sig), _p(bm), len(bm), _p(bsk)), "Ed25519 sign")
    return sig


def ed25519_verify(pk, msg, sig):
    """None on success; raises AuthenticationFailed when the signature is invalid."""
    cdef bytes bpk = _arg(pk, "pk", L2S_ED25519_PK_BYTES)
    cdef bytes bm = _arg(msg, "msg")
    cdef bytes bsig = _arg(sig, "sig", L2S_ED25519_SIG_BYTES)
    _check(l2s_ed25519_verify(_p(bsig), _p(bm), len(bm), _p(bpk)), "Ed25519 verify")


# ---- ChaCha20-Poly1305 (IETF) ------------------------------------------------

def aead_encrypt(key, nonce, plaintext, ad=b""):
    """ciphertext || 16-byte tag."""
    cdef bytes bk = _arg(key, "key", L2S_AEAD_KEY_BYTES)
    cdef bytes bn = _arg(nonce, "nonce", L2S_AEAD_NONCE_BYTES)
    cdef bytes bp = _arg(plaintext, "plaintext")
    cdef bytes ba = _arg(ad, "ad")
    cdef bytes out = _new(len(bp) + L2S_AEAD_TAG_BYTES)
    cdef uint8_t *po = _w(out)
    cdef const uint8_t *pp = _p(bp)
    cdef const uint8_t *pa = _p(ba)
    cdef const uint8_t *pn = _p(bn)
    cdef const uint8_t *pk = _p(bk)
    cdef size_t plen = len(bp), alen = len(ba)
    cdef int ret
    with nogil:
        ret = l2s_aead_encrypt(po, pp, plen, pa, alen, pn, pk)
    _check(ret, "ChaCha20-Poly1305 encrypt")
    return out


def aead_decrypt(key, nonce, ciphertext, ad=b""):
    """plaintext; raises AuthenticationFailed on a bad tag (nothing is returned)."""
    cdef bytes bk = _arg(key, "key", L2S_AEAD_KEY_BYTES)
    cdef bytes bn = _arg(nonce, "nonce", L2S_AEAD_NONCE_BYTES)
    cdef bytes bc = _arg(ciphertext, "ciphertext")
    cdef bytes ba = _arg(ad, "ad")
    if len(bc) < L2S_AEAD_TAG_BYTES:
        raise ValueError(f"ciphertext must be at least {L2S_AEAD_TAG_BYTES} bytes (the tag), got {len(bc)}")
    cdef bytes out = _new(len(bc) - L2S_AEAD_TAG_BYTES)
    cdef uint8_t *po = _w(out)
    cdef const uint8_t *pc = _p(bc)
    cdef const uint8_t *pa = _p(ba)
    cdef const uint8_t *pn = _p(bn)
    cdef const uint8_t *pk = _p(bk)
    cdef size_t clen = len(bc), alen = len(ba)
    cdef int ret
    with nogil:
        ret = l2s_aead_decrypt(po, pc, clen, pa, alen, pn, pk)
    _check(ret, "ChaCha20-Poly1305 decrypt")
    return out


# ---- X25519 ------------------------------------------------------------------

def x25519_keypair():
    """(pk, sk), 32 bytes each."""
    cdef bytes pk = _new(L2S_X25519_BYTES), sk = _new(L2S_X25519_BYTES)
    _check(l2s_x25519_keypair(_w(pk), _w(sk)), "X25519 keypair")
    return pk, sk


def x25519_public_key(sk):
    cdef bytes bsk = _arg(sk, "sk", L2S_X25519_BYTES)
    cdef bytes pk = _new(L2S_X25519_BYTES)
    _check(l2s_x25519_base(_w(pk), _p(bsk)), "X25519 public key")
    return pk


def x25519(sk, pk):
    """The shared secret; raises InvalidKey for a small-order pk (all-zero result)."""
    cdef bytes bsk = _arg(sk, "sk", L2S_X25519_BYTES)
    cdef bytes bpk = _arg(pk, "pk", L2S_X25519_BYTES)
    cdef bytes out = _new(L2S_X25519_BYTES)
    _check(l2s_x25519(_w(out), _p(bsk), _p(bpk)), "X25519")
    return out
