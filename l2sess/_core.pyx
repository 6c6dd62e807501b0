# cython: language_level=3, boundscheck=False, wraparound=False
"""Low-level bindings to the l2sess C core. Use l2sess.crypto, not this.

Every function checks the type and length of its arguments before any C code
sees them; C errors become typed Python exceptions. The GIL is released
around the post-quantum operations and bulk hashing/encryption.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from posix.uio cimport iovec
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


# ==== the session engine: the sans-IO node ===================================
#
# A Node owns one struct l2s_node (one local identity, its prekeys and all its
# sessions). It never reads a clock or touches a socket: every call takes
# now_ms (any monotonic millisecond clock) and the caller drains outputs
# (session, path, bytes) and events after each call. Arguments are checked
# here (type, length, integer range) before C sees them; C error codes become
# the typed exceptions of l2sess.errors. The GIL is released around the calls
# that can do public-key work (establish, resume, receive, tick, and those
# that may start a rotation or resumption); a per-node lock keeps two threads
# from entering the same node at once.

import os
import threading
from collections import namedtuple

from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy, memset

from l2sess import errors as _errors

PREKEY_BUNDLE_BYTES = L2S_PREKEY_BUNDLE_BYTES
MAX_MESSAGE = L2S_MAX_MESSAGE
MAX_PAYLOAD = L2S_MAX_PAYLOAD
SESSION_ID_BYTES = L2S_SESSION_ID_BYTES
MAX_ADDR_BYTES = L2S_MAX_ADDR_BYTES
# A StoredSession stores its next send seq this far ahead (a checkpoint may be stale).
DELIVERY_SEQ_RESERVE = L2S_DELIVERY_SEQ_RESERVE

# Error codes (enum l2s_err), for code that inspects Node.receive's result.
ERR_CODES = {
    "OK": L2S_OK, "LENGTH": L2S_ERR_LENGTH, "INVALID_KEY": L2S_ERR_INVALID_KEY, "AUTH": L2S_ERR_AUTH,
    "INIT": L2S_ERR_INIT, "INTERNAL": L2S_ERR_INTERNAL, "DECODE": L2S_ERR_DECODE, "STATE": L2S_ERR_STATE,
    "QUEUE_FULL": L2S_ERR_QUEUE_FULL, "NOT_FOUND": L2S_ERR_NOT_FOUND, "QUARANTINED": L2S_ERR_QUARANTINED,
    "REPLAY": L2S_ERR_REPLAY, "EXPIRED": L2S_ERR_EXPIRED, "NOMEM": L2S_ERR_NOMEM, "BUSY": L2S_ERR_BUSY,
    "CONFIG": L2S_ERR_CONFIG,
}

STATE_NAMES = tuple(l2s_state_name(i).decode() for i in range(L2S_STATE_END + 1))
REASON_NAMES = tuple(l2s_reason_name(i).decode() for i in range(L2S_REASON_COUNT))
END = STATE_NAMES[L2S_STATE_END]  # "[*]"

EVENT_NAMES = {
    L2S_EV_STATE: "state",
    L2S_EV_ACCEPTED: "accepted",
    L2S_EV_MESSAGE: "message",
    L2S_EV_DELIVERED: "delivered",
    L2S_EV_WARNING: "warning",
    L2S_EV_TRANSPORT: "transport",
    L2S_EV_CLOSED: "closed",
}

NodeEvent = namedtuple("NodeEvent", "type session time_ms peer_pk from_state to_state reason seq path data")
NodeEvent.__doc__ = """One engine event (struct l2s_event), copied out of the node.

type: "state" (a transition, the audit event), "accepted" (a new inbound
session), "message" (an application message, in order, exactly once),
"delivered" (the peer acknowledged seq), "warning", "transport" (the session
moved to path), "closed" (the peer closed the session).
from_state / to_state: state names for "state", "warning" and "closed" ("[*]"
is the end), else None. reason: a reason name for "state", "warning" and
"closed", else None. seq: for "message" and "delivered", else None. path: for
"transport" and "accepted", else None. data: the payload of "message", else None.
"""


def strerror(int code):
    """The engine's name for an error code (l2s_strerror)."""
    return l2s_strerror(code).decode()


def state_name(int state):
    """The name of an enum l2s_state value ("[*]" for the end, "unknown" outside)."""
    return l2s_state_name(state).decode()


def reason_name(int reason):
    """The name of an enum l2s_reason value ("unknown" outside the enum)."""
    return l2s_reason_name(reason).decode()


def transition_table():
    """The transition table the engine enforces: [(from_name, to_name)], "[*]" for the end."""
    cdef const l2s_transition *t
    cdef size_t n = l2s_transition_table(&t)
    return [(STATE_NAMES[t[i].from_], STATE_NAMES[t[i].to]) for i in range(n)]


def check_transition(from_state, to_state):
    """Raises InvalidState unless the engine's table has from_state -> to_state
    (l2s_transition_allowed); the states are names, "[*]" for the end."""
    cdef int f, t
    for name in (from_state, to_state):
        if name not in STATE_NAMES:
            raise ValueError(f"unknown state {name!r}: one of {', '.join(STATE_NAMES)}")
    f = STATE_NAMES.index(from_state)
    t = STATE_NAMES.index(to_state)
    _ncheck(l2s_transition_allowed(f, t), f"transition {from_state} -> {to_state}")


def error_for(int code, str what):
    """The exception (not raised) that stands for an error code of the node API."""
    msg = f"{what}: {l2s_strerror(code).decode()}"
    if code == L2S_ERR_LENGTH:
        return _errors.LengthError(msg, code)
    if code == L2S_ERR_DECODE:
        return _errors.DecodeError(msg, code)
    if code == L2S_ERR_CONFIG:
        return _errors.InvalidConfig(msg, code)
    if code in (L2S_ERR_AUTH, L2S_ERR_INVALID_KEY, L2S_ERR_EXPIRED, L2S_ERR_REPLAY, L2S_ERR_QUARANTINED):
        return _errors.AuthenticationFailed(msg, code)
    if code in (L2S_ERR_STATE, L2S_ERR_NOT_FOUND):
        return _errors.InvalidState(msg, code)
    if code == L2S_ERR_QUEUE_FULL:
        return _errors.QueueFull(msg, code)
    return _errors.SessionError(msg, code)


cdef int _start_check(int ret, str what, str expired) except -1:
    """_ncheck for establish/resume: what expired is named (an expired bundle
    or stored session is an authentication failure: it can no longer prove who sent it)."""
    if ret == L2S_ERR_EXPIRED:
        raise _errors.AuthenticationFailed(f"{what}: {expired} expired", ret)
    return _ncheck(ret, what)


cdef int _ncheck(int ret, str what) except -1:
    if ret == L2S_OK:
        return 0
    raise error_for(ret, what)


cdef uint64_t _u64(object v, str name) except? 0xFFFFFFFFFFFFFFFF:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    if v < 0 or v > 0xFFFFFFFFFFFFFFFF:
        raise ValueError(f"{name} must be between 0 and 2**64-1, got {v}")
    return <uint64_t>v


cdef uint32_t _u32(object v, str name) except? 0xFFFFFFFF:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"{name} must be int, not {type(v).__name__}")
    if v < 0 or v > 0xFFFFFFFF:
        raise ValueError(f"{name} must be between 0 and 2**32-1, got {v}")
    return <uint32_t>v


cdef uint32_t _handle(object v) except? 0:
    cdef uint32_t h = _u32(v, "handle")
    if h == 0:
        raise ValueError("handle must be non-zero")
    return h


# ---- SessionConfig as the C struct --------------------------------------------

# The fields of struct l2s_config, in order; True marks the uint32_t ones.
CONFIG_FIELDS = (
    ("ttl_ms", False), ("heartbeat_interval_ms", False), ("heartbeat_tolerance", True),
    ("handshake_timeout_ms", False), ("rotation_window_ms", False), ("heartbeat_reply_timeout_ms", False),
    ("connectivity_timeout_ms", False), ("degraded_timeout_ms", False), ("suspended_retry_ms", False),
    ("quarantine_ms", False), ("backoff_base_ms", False), ("backoff_max_ms", False), ("max_retries", True),
    ("key_grace_ms", False), ("rotate_after_messages", False), ("rotate_after_bytes", False),
    ("retransmit_timeout_ms", False), ("send_queue_limit", True), ("send_queue_bytes_limit", False),
    ("reorder_window", True), ("ticket_lifetime_ms", False), ("resume_dh", True),
)
_CONFIG_NAMES = frozenset(n for n, _ in CONFIG_FIELDS)


cdef dict _config_dict(const l2s_config *c):
    return {
        "ttl_ms": c.ttl_ms, "heartbeat_interval_ms": c.heartbeat_interval_ms,
        "heartbeat_tolerance": c.heartbeat_tolerance, "handshake_timeout_ms": c.handshake_timeout_ms,
        "rotation_window_ms": c.rotation_window_ms, "heartbeat_reply_timeout_ms": c.heartbeat_reply_timeout_ms,
        "connectivity_timeout_ms": c.connectivity_timeout_ms, "degraded_timeout_ms": c.degraded_timeout_ms,
        "suspended_retry_ms": c.suspended_retry_ms, "quarantine_ms": c.quarantine_ms,
        "backoff_base_ms": c.backoff_base_ms, "backoff_max_ms": c.backoff_max_ms, "max_retries": c.max_retries,
        "key_grace_ms": c.key_grace_ms, "rotate_after_messages": c.rotate_after_messages,
        "rotate_after_bytes": c.rotate_after_bytes, "retransmit_timeout_ms": c.retransmit_timeout_ms,
        "send_queue_limit": c.send_queue_limit, "send_queue_bytes_limit": c.send_queue_bytes_limit,
        "reorder_window": c.reorder_window, "ticket_lifetime_ms": c.ticket_lifetime_ms,
        "resume_dh": c.resume_dh,
    }


cdef int _config_from(object cfg, l2s_config *c) except -1:
    """Fills c from a mapping of C field names (missing ones keep their defaults)."""
    l2s_config_default(c)
    if cfg is None:
        return 0
    if not hasattr(cfg, "keys"):
        raise TypeError(f"config must be a mapping of struct l2s_config fields, not {type(cfg).__name__}")
    unknown = sorted(set(cfg.keys()) - _CONFIG_NAMES)
    if unknown:
        raise ValueError(f"unknown config field(s): {', '.join(map(str, unknown))}")
    d = _config_dict(c)
    d.update(cfg)
    c.ttl_ms = _u64(d["ttl_ms"], "ttl_ms")
    c.heartbeat_interval_ms = _u64(d["heartbeat_interval_ms"], "heartbeat_interval_ms")
    c.heartbeat_tolerance = _u32(d["heartbeat_tolerance"], "heartbeat_tolerance")
    c.handshake_timeout_ms = _u64(d["handshake_timeout_ms"], "handshake_timeout_ms")
    c.rotation_window_ms = _u64(d["rotation_window_ms"], "rotation_window_ms")
    c.heartbeat_reply_timeout_ms = _u64(d["heartbeat_reply_timeout_ms"], "heartbeat_reply_timeout_ms")
    c.connectivity_timeout_ms = _u64(d["connectivity_timeout_ms"], "connectivity_timeout_ms")
    c.degraded_timeout_ms = _u64(d["degraded_timeout_ms"], "degraded_timeout_ms")
    c.suspended_retry_ms = _u64(d["suspended_retry_ms"], "suspended_retry_ms")
    c.quarantine_ms = _u64(d["quarantine_ms"], "quarantine_ms")
    c.backoff_base_ms = _u64(d["backoff_base_ms"], "backoff_base_ms")
    c.backoff_max_ms = _u64(d["backoff_max_ms"], "backoff_max_ms")
    c.max_retries = _u32(d["max_retries"], "max_retries")
    c.key_grace_ms = _u64(d["key_grace_ms"], "key_grace_ms")
    c.rotate_after_messages = _u64(d["rotate_after_messages"], "rotate_after_messages")
    c.rotate_after_bytes = _u64(d["rotate_after_bytes"], "rotate_after_bytes")
    c.retransmit_timeout_ms = _u64(d["retransmit_timeout_ms"], "retransmit_timeout_ms")
    c.send_queue_limit = _u32(d["send_queue_limit"], "send_queue_limit")
    c.send_queue_bytes_limit = _u64(d["send_queue_bytes_limit"], "send_queue_bytes_limit")
    c.reorder_window = _u32(d["reorder_window"], "reorder_window")
    c.ticket_lifetime_ms = _u64(d["ticket_lifetime_ms"], "ticket_lifetime_ms")
    c.resume_dh = _u32(d["resume_dh"], "resume_dh")
    return 0


def config_default():
    """The engine's default SessionConfig (l2s_config_default) as {C field name: int}."""
    cdef l2s_config c
    l2s_config_default(&c)
    return _config_dict(&c)


def config_check(cfg):
    """Raises InvalidConfig (a ValueError) when l2s_config_check refuses cfg (a mapping
    of C field names; missing fields take their defaults)."""
    cdef l2s_config c
    _config_from(cfg, &c)
    _ncheck(l2s_config_check(&c), "SessionConfig")


def prekey_bundle_verify(bundle, identity_pk, now_s):
    """Checks a prekey bundle's signature, identity and expiry (now_s: Unix seconds).

    Returns None when it is valid. Raises DecodeError (a ValueError) for a
    malformed bundle, AuthenticationFailed for a wrong identity or signature,
    or, for an authentic bundle, an expired one (its .code is the C code)."""
    cdef bytes bb = _arg(bundle, "bundle")
    cdef bytes bpk = _arg(identity_pk, "identity_pk", L2S_ED25519_PK_BYTES)
    cdef uint64_t t = _u64(now_s, "now_s")
    if len(bb) != L2S_PREKEY_BUNDLE_BYTES:
        raise _errors.DecodeError(f"a prekey bundle is {L2S_PREKEY_BUNDLE_BYTES} bytes, got {len(bb)}",
                                  L2S_ERR_DECODE)
    cdef int ret = l2s_prekey_bundle_verify(_p(bb), len(bb), _p(bpk), t)
    if ret == L2S_ERR_EXPIRED:
        raise _errors.AuthenticationFailed("prekey bundle expired", ret)
    _ncheck(ret, "prekey bundle")


cdef int _node_keys(l2s_node_params *p, object identity_sk, object prekey_seed, object prekey_not_after,
                    object storage_key, object handshake_counter) except -1:
    """Checks and copies a node's keys, prekey expiry and handshake counter into p."""
    cdef bytes sk = _arg(identity_sk, "identity_sk", L2S_ED25519_SK_BYTES)
    cdef bytes ps = _arg(prekey_seed, "prekey_seed", L2S_XWING_SK_BYTES)
    cdef bytes st = _arg(storage_key, "storage_key", 32)
    p.prekey_not_after_s = _u64(prekey_not_after, "prekey_not_after")
    p.handshake_counter = _u64(handshake_counter, "handshake_counter")
    memcpy(p.identity_sk, _p(sk), L2S_ED25519_SK_BYTES)
    memcpy(p.prekey_seed, _p(ps), L2S_XWING_SK_BYTES)
    memcpy(p.storage_key, _p(st), 32)
    return 0


cdef int _node_check(int ret, str what) except -1:
    if ret == L2S_ERR_INVALID_KEY:
        raise _errors.AuthenticationFailed("identity_sk: its second half is not the public key of its seed", ret)
    return _ncheck(ret, what)


cdef class Node:
    """One local identity, its prekeys and all its sessions (struct l2s_node).

    Node(identity_sk, prekey_seed, prekey_not_after, storage_key, now_ms, *,
         rng_seed=None, max_sessions=0, handshake_load_limit=0,
         handshake_rate_per_s=0, handshake_counter=0)

    identity_sk: the 64-byte Ed25519 secret key (seed || public key);
    prekey_seed: the 32-byte X-Wing prekey seed; prekey_not_after: the
    bundle's expiry in Unix seconds; storage_key: 32 bytes that seal
    StoredSession blobs; rng_seed (tests only): 32 bytes that make every
    random draw of the node deterministic. Zero limits take the engine's
    defaults. Sessions are named by non-zero int handles.
    """
    cdef l2s_node *_node
    cdef object _lock

    def __cinit__(self):
        self._node = NULL
        self._lock = threading.Lock()

    def __init__(self, identity_sk, prekey_seed, prekey_not_after, storage_key, now_ms, *, rng_seed=None,
                 max_sessions=0, handshake_load_limit=0, handshake_rate_per_s=0, handshake_counter=0):
        cdef l2s_node_params p
        cdef l2s_node *node = NULL
        cdef bytes rs = None if rng_seed is None else _arg(rng_seed, "rng_seed", 32)
        cdef uint64_t t = _u64(now_ms, "now_ms")
        cdef int ret
        if self._node != NULL:
            raise RuntimeError("Node is already initialised")
        memset(&p, 0, sizeof(p))
        p.max_sessions = _u32(max_sessions, "max_sessions")
        p.handshake_load_limit = _u32(handshake_load_limit, "handshake_load_limit")
        p.handshake_rate_per_s = _u32(handshake_rate_per_s, "handshake_rate_per_s")
        try:  # the secrets last, so that no other check can leave them behind
            _node_keys(&p, identity_sk, prekey_seed, prekey_not_after, storage_key, handshake_counter)
        except BaseException:
            l2s_wipe(&p, sizeof(p))
            raise
        if rs is not None:
            p.deterministic = 1
            memcpy(p.rng_seed, _p(rs), 32)
        with nogil:
            ret = l2s_node_new(&node, &p, t)
        l2s_wipe(&p, sizeof(p))
        _node_check(ret, "node")
        self._node = node

    def __dealloc__(self):
        if self._node != NULL:
            l2s_node_free(self._node)
            self._node = NULL

    cdef l2s_node *_n(self) except NULL:
        if self._node == NULL:
            raise RuntimeError("Node is not initialised")
        return self._node

    def prekey_bundle(self):
        """This node's signed prekey bundle (PROTOCOL.md §3), 1321 bytes."""
        cdef bytes out = _new(L2S_PREKEY_BUNDLE_BYTES)
        cdef int ret
        with self._lock:
            ret = l2s_node_prekey_bundle(self._n(), _w(out))
        _ncheck(ret, "prekey bundle")
        return out

    def handshake_counter(self):
        """The last handshake counter used: persist it and pass it back to a new Node."""
        with self._lock:
            return l2s_node_handshake_counter(self._n())

    def set_accept_config(self, config):
        """The config inbound sessions get (a mapping of C field names, seconds are not
        accepted here: *_ms fields). Raises InvalidConfig when it is refused."""
        cdef l2s_config c
        cdef int ret
        _config_from(config, &c)
        with self._lock:
            ret = l2s_node_set_accept_config(self._n(), &c)
        _ncheck(ret, "accept config")

    def establish(self, peer_pk, bundle, now_s, config, path, now_ms):
        """Starts a full handshake to peer_pk (32 bytes) whose prekey bundle is given
        (verified here against peer_pk and now_s, Unix seconds). Returns the handle."""
        cdef l2s_node *node = self._n()
        cdef bytes bpk = _arg(peer_pk, "peer_pk", L2S_ED25519_PK_BYTES)
        cdef bytes bb = _arg(bundle, "bundle", L2S_PREKEY_BUNDLE_BYTES)
        cdef uint64_t ts = _u64(now_s, "now_s")
        cdef uint32_t p = _u32(path, "path")
        cdef uint64_t t = _u64(now_ms, "now_ms")
        cdef l2s_config c
        cdef uint32_t handle = 0
        cdef int ret
        cdef const uint8_t *ppk = _p(bpk)
        cdef const uint8_t *pb = _p(bb)
        _config_from(config, &c)
        with self._lock:
            with nogil:
                # On failure the engine keeps no session and sets no handle.
                ret = l2s_node_establish(node, ppk, pb, L2S_PREKEY_BUNDLE_BYTES, ts, &c, p, t, &handle)
        _start_check(ret, "establish", "prekey bundle")
        return handle

    def resume(self, stored, config, path, now_ms):
        """Resumes from an exported StoredSession (bytes). Returns the handle."""
        cdef l2s_node *node = self._n()
        cdef bytes bs = _arg(stored, "stored")
        cdef uint32_t p = _u32(path, "path")
        cdef uint64_t t = _u64(now_ms, "now_ms")
        cdef l2s_config c
        cdef uint32_t handle = 0
        cdef int ret
        cdef const uint8_t *ps = _p(bs)
        cdef size_t n = len(bs)
        _config_from(config, &c)
        with self._lock:
            with nogil:
                ret = l2s_node_resume(node, ps, n, &c, p, t, &handle)
        _start_check(ret, "resume", "stored session")
        return handle

    def receive(self, path, addr, data, now_ms):
        """Feeds one received message from path; addr (at most 32 bytes) names its
        source. Returns 0 when the message was used, or the negative error code
        of why it was dropped (a normal event on a network: see strerror())."""
        cdef l2s_node *node = self._n()
        cdef uint32_t p = _u32(path, "path")
        cdef bytes ba = _arg(addr, "addr")
        cdef bytes bd = _arg(data, "data")
        cdef uint64_t t = _u64(now_ms, "now_ms")
        cdef int ret
        cdef const uint8_t *pa = _p(ba)
        cdef const uint8_t *pd = _p(bd)
        cdef size_t alen = len(ba), dlen = len(bd)
        if alen > L2S_MAX_ADDR_BYTES:
            raise _errors.LengthError(f"addr must be at most {L2S_MAX_ADDR_BYTES} bytes, got {alen}",
                                      L2S_ERR_LENGTH)
        if dlen > L2S_MAX_MESSAGE:
            return L2S_ERR_DECODE  # larger than any message: dropped unseen
        with self._lock:
            with nogil:
                ret = l2s_node_receive(node, p, pa, alen, pd, dlen, t)
        return ret

    def path_status(self, path, up, now_ms):
        """The transport's view of a path: up false when it has lost connectivity."""
        cdef l2s_node *node = self._n()
        cdef uint32_t p = _u32(path, "path")
        cdef uint64_t t = _u64(now_ms, "now_ms")
        cdef int u = 1 if up else 0
        cdef int ret
        with self._lock:
            ret = l2s_node_path_status(node, p, u, t)
        _ncheck(ret, "path status")

    def tick(self, now_ms):
        """Runs every timer due at now_ms."""
        cdef l2s_node *node = self._n()
        cdef uint64_t t = _u64(now_ms, "now_ms")
        cdef int ret
        with self._lock:
            with nogil:
                ret = l2s_node_tick(node, t)
        _ncheck(ret, "tick")

    def next_deadline(self):
        """The earliest pending deadline in ms, or None when there is none."""
        cdef uint64_t d
        with self._lock:
            d = l2s_node_next_deadline(self._n())
        return None if d == 0xFFFFFFFFFFFFFFFF else d

    def drain_outputs(self):
        """Every message the node wants sent: [(session, path, bytes)], in order
        (session 0: a message of no session, e.g. a cookie reply)."""
        cdef l2s_node *node = self._n()
        cdef l2s_output o
        out = []
        with self._lock:
            while l2s_node_next_output(node, &o):
                out.append((o.session, o.path, PyBytes_FromStringAndSize(<const char *>o.data, o.len)))
        return out

    def drain_events(self):
        """Every pending event, in order, as NodeEvent tuples."""
        cdef l2s_node *node = self._n()
        cdef l2s_event ev
        out = []
        with self._lock:
            while l2s_node_next_event(node, &ev):
                out.append(_event(&ev))
        return out

    def session_send(self, handle, data, now_ms):
        """Queues an application message (at most 65536 bytes); returns its seq.
        QueueFull when the send queue is at its limit (nothing accepted is dropped)."""
        cdef l2s_node *node = self._n()
        cdef uint32_t h = _handle(handle)
        cdef bytes bd = _arg(data, "data")
        cdef uint64_t t = _u64(now_ms, "now_ms")
        cdef uint64_t seq = 0
        cdef int ret
        cdef const uint8_t *pd = _p(bd)
        cdef size_t n = len(bd)
        if n > L2S_MAX_PAYLOAD:
            raise _errors.LengthError(f"a message is at most {L2S_MAX_PAYLOAD} bytes, got {n}", L2S_ERR_LENGTH)
        with self._lock:
            with nogil:
                ret = l2s_session_send(node, h, pd, n, t, &seq)
        _ncheck(ret, "send")
        return seq

    def session_info(self, handle):
        """struct l2s_session_info as a dict (state and failure_reason as names)."""
        cdef l2s_sinfo i
        cdef uint32_t h = _handle(handle)
        cdef int ret
        with self._lock:
            ret = l2s_session_info(self._n(), h, &i)
        _ncheck(ret, "session info")
        return {
            "state": state_name(i.state),
            "failure_reason": reason_name(i.failure_reason),
            "initiator": bool(i.initiator),
            "peer_pk": PyBytes_FromStringAndSize(<const char *>i.peer_pk, 32),
            "session_id": PyBytes_FromStringAndSize(<const char *>i.session_id, L2S_SESSION_ID_BYTES),
            "path": i.path,
            "expires_ms": i.expires_ms,
            "key_established_ms": i.key_established_ms,
            "quarantined_until_ms": i.quarantined_until_ms,
            "next_retry_ms": i.next_retry_ms,
            "missed_heartbeats": i.missed_heartbeats,
            "retries": i.retries,
            "rotations": i.rotations,
            "queued": i.queued,
            "unacked": i.unacked,
            "next_send_seq": i.next_send_seq,
            "next_recv_seq": i.next_recv_seq,
        }

    def session_rotate(self, handle, now_ms):
        """Starts a key rotation now (InvalidState unless established and idle)."""
        cdef l2s_node *node = self._n()
        cdef uint32_t h = _handle(handle)
        cdef uint64_t t = _u64(now_ms, "now_ms")
        cdef int ret
        with self._lock:
            with nogil:
                ret = l2s_session_rotate(node, h, t)
        _ncheck(ret, "rotate")

    def session_set_path(self, handle, path, now_ms):
        """Moves the session to another path (transport fallback) and resumes on it."""
        cdef l2s_node *node = self._n()
        cdef uint32_t h = _handle(handle)
        cdef uint32_t p = _u32(path, "path")
        cdef uint64_t t = _u64(now_ms, "now_ms")
        cdef int ret
        with self._lock:
            with nogil:
                ret = l2s_session_set_path(node, h, p, t)
        _ncheck(ret, "set path")

    def session_set_bundle(self, handle, bundle, now_s):
        """Gives a resumed session the peer's prekey bundle (verified against its
        identity and now_s): a retry after a refused resumption uses a full handshake."""
        cdef l2s_node *node = self._n()
        cdef uint32_t h = _handle(handle)
        cdef bytes bb = _arg(bundle, "bundle", L2S_PREKEY_BUNDLE_BYTES)
        cdef uint64_t ts = _u64(now_s, "now_s")
        cdef int ret
        with self._lock:
            ret = l2s_session_set_bundle(node, h, _p(bb), L2S_PREKEY_BUNDLE_BYTES, ts)
        _ncheck(ret, "set bundle")

    def session_export(self, handle):
        """The session's StoredSession: bytes sealed with the node's storage key
        (InvalidState before the session has keys)."""
        cdef l2s_node *node = self._n()
        cdef uint32_t h = _handle(handle)
        cdef size_t need = 0, got = 0
        cdef int ret
        cdef bytes out
        with self._lock:
            ret = l2s_session_export(node, h, NULL, 0, &need)
            if ret != L2S_ERR_LENGTH:
                _ncheck(ret, "export")
            out = _new(need)
            ret = l2s_session_export(node, h, _w(out), need, &got)
        _ncheck(ret, "export")
        return out if got == need else out[:got]

    def session_close(self, handle, now_ms):
        """Sends CLOSE and ends the session; its handle becomes invalid."""
        cdef l2s_node *node = self._n()
        cdef uint32_t h = _handle(handle)
        cdef uint64_t t = _u64(now_ms, "now_ms")
        cdef int ret
        with self._lock:
            ret = l2s_session_close(node, h, t)
        _ncheck(ret, "close")


cdef object _event(const l2s_event *ev):
    cdef int t = ev.type
    name = EVENT_NAMES.get(t, str(t))
    has_states = t in (L2S_EV_STATE, L2S_EV_WARNING, L2S_EV_CLOSED)
    return NodeEvent(
        name,
        ev.session,
        ev.time_ms,
        PyBytes_FromStringAndSize(<const char *>ev.peer_pk, 32),
        state_name(ev.from_) if has_states else None,
        state_name(ev.to) if has_states else None,
        reason_name(ev.reason) if has_states else None,
        ev.seq if t in (L2S_EV_MESSAGE, L2S_EV_DELIVERED) else None,
        ev.path if t in (L2S_EV_TRANSPORT, L2S_EV_ACCEPTED) else None,
        (PyBytes_FromStringAndSize(<const char *>ev.data, ev.len) if ev.len else b"")
        if t == L2S_EV_MESSAGE else None,
    )


# ---- the event loop (csrc/include/l2s_loop.h) ---------------------------------------------------

cdef extern from *:
    """
    #include <arpa/inet.h>
    #include <netinet/in.h>
    #include <string.h>
    /* (host, port) <-> struct sockaddr, numeric addresses only: resolving
     * names is the caller's business, not the binding's. */
    static int l2s_py_sockaddr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
    {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        memset(ss, 0, sizeof(*ss));
        if (port < 0 || port > 65535)
            return -1;
        if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons((unsigned short)port);
            *len = sizeof(*a4);
            return 0;
        }
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons((unsigned short)port);
            *len = sizeof(*a6);
            return 0;
        }
        return -1;
    }
    static int l2s_py_addr_str(const struct sockaddr_storage *ss, char *host, size_t cap, int *port)
    {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
        if (ss->ss_family == AF_INET && inet_ntop(AF_INET, &a4->sin_addr, host, cap)) {
            *port = ntohs(a4->sin_port);
            return 0;
        }
        if (ss->ss_family == AF_INET6 && inet_ntop(AF_INET6, &a6->sin6_addr, host, cap)) {
            *port = ntohs(a6->sin6_port);
            return 0;
        }
        return -1;
    }
    """
    int l2s_py_sockaddr(const char *host, int port, sockaddr_storage *ss, socklen_t *len)
    int l2s_py_addr_str(const sockaddr_storage *ss, char *host, size_t cap, int *port)


cdef int _sockaddr(object address, sockaddr_storage *ss, socklen_t *slen) except -1:
    if not isinstance(address, tuple) or len(address) != 2:
        raise TypeError(f"address must be a (host, port) tuple, not {address!r}")
    host, port = address
    if not isinstance(host, str) or not isinstance(port, int) or isinstance(port, bool):
        raise TypeError(f"address must be (str, int), not {address!r}")
    if l2s_py_sockaddr(host.encode(), port, ss, slen) != 0:
        raise ValueError(f"address {host!r}:{port} is not a numeric IPv4/IPv6 address with a port 0..65535")
    return 0


cdef object _address(const sockaddr_storage *ss):
    cdef char host[64]
    cdef int port = 0
    if l2s_py_addr_str(ss, host, sizeof(host), &port) != 0:
        return None
    return (host.decode(), port)


TRANSPORT_NAMES = {L2S_TRANSPORT_NONE: None, L2S_TRANSPORT_QUIC: "quic", L2S_TRANSPORT_UTCP: "utcp"}
EVENT_KINDS = {L2S_EV_STATE: "state", L2S_EV_ACCEPTED: "accepted", L2S_EV_MESSAGE: "message",
               L2S_EV_DELIVERED: "delivered", L2S_EV_WARNING: "warning", L2S_EV_TRANSPORT: "transport",
               L2S_EV_CLOSED: "closed", L2S_LOOP_EV_PEER_ERROR: "peer_error", L2S_LOOP_EV_INBOX: "inbox",
               L2S_LOOP_EV_REFUSED: "refused"}

# The loop's tunables that Loop() takes as keyword arguments (0: the C default).
LOOP_SETTINGS = ("happy_eyeballs_ms", "path_timeout_ms", "quic_retry_ms", "reconnect_base_ms",
                 "reconnect_max_ms", "event_queue_limit", "quic_idle_timeout_ms", "quic_keepalive_ms",
                 "max_sessions", "handshake_rate_per_s", "handshake_work_per_s", "memory_budget",
                 "quic_max_connections", "tcp_max_connections")


cdef dict _sinfo_dict(const l2s_sinfo *i):
    return {
        "state": STATE_NAMES[i.state] if 0 <= i.state < len(STATE_NAMES) else str(i.state),
        "initiator": bool(i.initiator),
        "session_id": (<bytes>i.session_id[:16]).hex(),
        "rx_stream": (<bytes>i.rx_stream[:16]).hex(),
        "expires_ms": i.expires_ms, "key_established_ms": i.key_established_ms,
        "missed_heartbeats": i.missed_heartbeats, "retries": i.retries, "rotations": i.rotations,
        "queued": i.queued, "unacked": i.unacked,
        "next_send_seq": i.next_send_seq, "next_recv_seq": i.next_recv_seq,
    }


cdef tuple _event_tuple(const l2s_loop_event *ev):
    """A loop event as Loop.next_event's tuple (its data copied)."""
    data = None
    if ev.type == L2S_EV_MESSAGE:
        data = PyBytes_FromStringAndSize(<const char *>ev.data, ev.len) if ev.len else b""
    fr = STATE_NAMES[ev.from_] if ev.type == L2S_EV_STATE and 0 <= ev.from_ < len(STATE_NAMES) else None
    to = None
    if ev.type == L2S_EV_STATE:
        to = STATE_NAMES[ev.to] if 0 <= ev.to < len(STATE_NAMES) else "end"
    reason = l2s_reason_name(ev.reason).decode() if ev.reason else None
    sid = <bytes>ev.session_id[:16]
    return (EVENT_KINDS.get(ev.type, str(ev.type)), <bytes>ev.peer_pk[:32], ev.session, ev.time_ms, fr, to,
            reason, ev.seq, TRANSPORT_NAMES.get(ev.transport), ev.error, data,
            sid.hex() if sid != bytes(16) else None)


cdef class Loop:
    """The C event loop (csrc/include/l2s_loop.h): one node, its QUIC and μTCP endpoints,
    discovery and timers, driven by epoll on the thread that calls run().

    Every other method may be called from any thread while run() is waiting
    or working: the loop has its own lock. run() and wait_event() release
    the GIL. Peers are named by their 32-byte Ed25519 public keys."""
    cdef l2s_loop *_loop
    cdef bint _running

    def __cinit__(self):
        self._loop = NULL
        self._running = False

    def __init__(self, identity_sk, prekey_seed, prekey_not_after, storage_key, listen, config, *,
                 handshake_counter=0, no_quic=False, no_utcp=False, accept_any=False, inbox=None,
                 inbox_max_bytes=0, inbox_keep=0, inbox_sync=False, previous_prekey_seed=None, **settings):
        cdef l2s_loop_params p
        cdef l2s_loop *loop = NULL
        cdef int ret
        unknown = sorted(set(settings) - set(LOOP_SETTINGS))
        if unknown:
            raise TypeError(f"unknown loop setting(s): {', '.join(unknown)}")
        l2s_loop_params_default(&p)
        _config_from(config, &p.cfg)
        if listen is not None:
            _sockaddr(listen, &p.listen, &p.listen_len)
        p.node.max_sessions = _u32(settings.get("max_sessions", 0), "max_sessions")
        p.node.handshake_rate_per_s = _u32(settings.get("handshake_rate_per_s", 0), "handshake_rate_per_s")
        p.node.handshake_work_per_s = _u32(settings.get("handshake_work_per_s", 0), "handshake_work_per_s")
        p.memory_budget = _u64(settings.get("memory_budget", 0), "memory_budget")
        p.no_quic = 1 if no_quic else 0
        p.no_utcp = 1 if no_utcp else 0
        p.accept_any = 1 if accept_any else 0
        cdef bytes inbox_path = os.fsencode(inbox) if inbox is not None else b""
        if inbox is not None:
            p.inbox = inbox_path
        p.inbox_max_bytes = _u64(inbox_max_bytes, "inbox_max_bytes")
        p.inbox_keep = _u32(inbox_keep, "inbox_keep")
        p.inbox_sync = 1 if inbox_sync else 0
        p.happy_eyeballs_ms = _u64(settings.get("happy_eyeballs_ms", 0), "happy_eyeballs_ms")
        p.path_timeout_ms = _u64(settings.get("path_timeout_ms", 0), "path_timeout_ms")
        p.quic_retry_ms = _u64(settings.get("quic_retry_ms", 0), "quic_retry_ms")
        p.reconnect_base_ms = _u64(settings.get("reconnect_base_ms", 0), "reconnect_base_ms")
        p.reconnect_max_ms = _u64(settings.get("reconnect_max_ms", 0), "reconnect_max_ms")
        p.event_queue_limit = _u32(settings.get("event_queue_limit", 0), "event_queue_limit")
        p.quic.idle_timeout_ms = _u64(settings.get("quic_idle_timeout_ms", 0), "quic_idle_timeout_ms")
        p.quic.keepalive_ms = _u64(settings.get("quic_keepalive_ms", 0), "quic_keepalive_ms")
        p.quic.max_connections = _u32(settings.get("quic_max_connections", 0), "quic_max_connections")
        p.tcp.max_connections = _u32(settings.get("tcp_max_connections", 0), "tcp_max_connections")
        try:
            _node_keys(&p.node, identity_sk, prekey_seed, prekey_not_after, storage_key, handshake_counter)
            if previous_prekey_seed is not None:
                previous = _arg(previous_prekey_seed, "previous_prekey_seed", L2S_XWING_SK_BYTES)
                memcpy(p.node.previous_prekey_seed, _p(previous), L2S_XWING_SK_BYTES)
                p.node.has_previous_prekey = 1
        except BaseException:
            l2s_wipe(&p, sizeof(p))
            raise
        with nogil:
            ret = l2s_loop_new(&loop, &p)
        l2s_wipe(&p, sizeof(p))
        if ret == L2S_ERR_IO:
            raise OSError(f"loop: cannot bind {listen!r} (the port may be in use)")
        _node_check(ret, "loop")
        self._loop = loop

    def __dealloc__(self):
        if self._loop != NULL and not self._running:
            l2s_loop_free(self._loop)
        self._loop = NULL

    cdef l2s_loop *_l(self) except NULL:
        if self._loop == NULL:
            raise RuntimeError("the loop is closed")
        return self._loop

    def close(self):
        """Closes every connection politely (sessions stay resumable) and frees the loop.
        The thread in run() must have returned."""
        if self._running:
            raise RuntimeError("stop the loop and join its thread before close()")
        if self._loop != NULL:
            with nogil:
                l2s_loop_free(self._loop)
            self._loop = NULL

    def run(self):
        """Runs the loop on this thread until stop(); the GIL is released meanwhile."""
        cdef l2s_loop *loop = self._l()
        cdef int ret
        self._running = True
        try:
            with nogil:
                ret = l2s_loop_run(loop)
        finally:
            self._running = False
        if ret == L2S_ERR_IO:
            raise OSError("loop: epoll failed")
        _ncheck(ret, "loop")

    def run_once(self, int timeout_ms=0):
        """One round: waits at most timeout_ms (0: not at all; the GIL is released
        meanwhile) for I/O or a timer, then does everything due."""
        cdef l2s_loop *loop = self._l()
        cdef int ret
        with nogil:
            ret = l2s_loop_run_once(loop, timeout_ms)
        if ret == L2S_ERR_IO:
            raise OSError("loop: epoll failed")
        _ncheck(ret, "loop")

    def poll_fd(self):
        """The loop's epoll fd, for a caller that drives the loop from its own poll
        (asyncio's add_reader): readable when a socket, a timer or another thread's
        call has work for the loop; then call run_once(0). Closed by close()."""
        return l2s_loop_poll_fd(self._l())

    def poll_timeout(self):
        """How long the caller's poll may wait before the next run_once(0) is due,
        in ms (-1: no timer). Call it after each round, right before waiting: it also
        registers the sockets the last round opened."""
        cdef l2s_loop *loop = self._l()
        cdef int ret
        with nogil:
            ret = l2s_loop_poll_timeout(loop)
        return ret

    def stop(self):
        if self._loop != NULL:
            l2s_loop_stop(self._loop)

    def address(self):
        """The bound (host, port): QUIC and discovery on UDP, μTCP on TCP."""
        cdef sockaddr_storage ss
        cdef socklen_t n = sizeof(ss)
        _ncheck(l2s_loop_local_addr(self._l(), &ss, &n), "local address")
        return _address(&ss)

    def bundle(self):
        cdef bytes out = _new(L2S_PREKEY_BUNDLE_BYTES)
        _ncheck(l2s_loop_bundle(self._l(), _w(out)), "prekey bundle")
        return out

    def renew_prekey(self, seed, not_after):
        """seed (32 bytes) becomes the prekey, its bundle expiring at
        not_after (Unix seconds); the current one stays accepted as the
        previous one."""
        cdef bytes bseed = _arg(seed, "seed", L2S_XWING_SK_BYTES)
        cdef uint64_t na = _u64(not_after, "not_after")
        _ncheck(l2s_loop_renew_prekey(self._l(), _p(bseed), na), "prekey renewal")

    def add_peer(self, pk, address, connect=False):
        cdef bytes bpk = _arg(pk, "pk", L2S_ED25519_PK_BYTES)
        cdef sockaddr_storage ss
        cdef socklen_t n = 0
        if address is not None:
            _sockaddr(address, &ss, &n)
        _ncheck(l2s_loop_add_peer(self._l(), _p(bpk), <sockaddr *>&ss if n else NULL, n, 1 if connect else 0),
                "add peer")

    def set_peer_bundle(self, pk, bundle):
        cdef bytes bpk = _arg(pk, "pk", L2S_ED25519_PK_BYTES)
        cdef bytes bb = _arg(bundle, "bundle")
        cdef int ret = l2s_loop_set_peer_bundle(self._l(), _p(bpk), _p(bb), len(bb))
        _start_check(ret, "peer bundle", "prekey bundle")

    def connect_prepared(self, pk):
        """add_peer(connect=True) for a peer added with its address, and the
        coming full handshake's work in this thread, without the GIL, while
        the loop connects (l2s_loop_connect_prepared)."""
        cdef bytes bpk = _arg(pk, "pk", L2S_ED25519_PK_BYTES)
        cdef const uint8_t *p = _p(bpk)
        cdef l2s_loop *loop = self._l()
        cdef int ret
        with nogil:
            ret = l2s_loop_connect_prepared(loop, p)
        _ncheck(ret, "connect")

    def import_session(self, stored, delivered_upto=0):
        cdef bytes bs = _arg(stored, "stored")
        cdef int ret = l2s_loop_import(self._l(), _p(bs), len(bs), _u64(delivered_upto, "delivered_upto"))
        _start_check(ret, "import", "stored session")

    def set_delivered(self, pk, stream, upto):
        """Messages of the peer's stream (16 bytes) with seq <= upto were
        delivered before a restart: acknowledged, not delivered again."""
        cdef bytes bpk = _arg(pk, "pk", L2S_ED25519_PK_BYTES)
        cdef bytes bst = _arg(stream, "stream", 16)
        _ncheck(l2s_loop_set_delivered(self._l(), _p(bpk), _p(bst), _u64(upto, "upto")), "set_delivered")

    def export(self, pk):
        """The session with pk as a sealed StoredSession (bytes)."""
        cdef bytes bpk = _arg(pk, "pk", L2S_ED25519_PK_BYTES)
        cdef size_t n = 0
        cdef int ret = l2s_loop_export(self._l(), _p(bpk), NULL, 0, &n)
        cdef bytes out
        while ret == L2S_ERR_LENGTH and n:
            out = _new(n)
            ret = l2s_loop_export(self._l(), _p(bpk), _w(out), n, &n)
            if ret == L2S_OK:
                return out[:n]
        _ncheck(ret, "export")
        return b""

    def send(self, pk, data):
        """Queues data for the peer's session; returns its seq. QueueFull when the bounded
        send queue is full (nothing was dropped), InvalidState without a session."""
        cdef bytes bpk = _arg(pk, "pk", L2S_ED25519_PK_BYTES)
        cdef bytes bd = _arg(data, "data")
        cdef uint64_t seq = 0
        cdef l2s_loop *loop = self._l()
        cdef const uint8_t *ppk = _p(bpk)
        cdef const uint8_t *pd = _p(bd)
        cdef size_t n = len(bd)
        cdef int ret
        if n > L2S_MAX_PAYLOAD:
            raise _errors.LengthError(f"a message is at most {L2S_MAX_PAYLOAD} bytes, got {n}", L2S_ERR_LENGTH)
        with nogil:
            ret = l2s_loop_send(loop, ppk, pd, n, &seq)
        _ncheck(ret, "send")
        return seq

    def send_many(self, pk, messages):
        """Queues messages (a sequence of bytes) in order under one lock and one wake-up of
        the loop; returns the seqs of those accepted, stopping at the first QueueFull (the
        rest was not queued: send it again once 'delivered' events made room). A too long
        message raises LengthError before anything is queued; InvalidState (no session) and
        other refusals of the first message raise."""
        cdef bytes bpk = _arg(pk, "pk", L2S_ED25519_PK_BYTES)
        cdef list held = [_arg(m, "message") for m in messages]  # keeps the buffers alive
        cdef size_t n = len(held), accepted = 0, i
        cdef l2s_loop *loop = self._l()
        cdef const uint8_t *ppk = _p(bpk)
        cdef iovec *v
        cdef uint64_t *seqs
        cdef bytes b
        cdef int ret
        for b in held:
            if len(b) > L2S_MAX_PAYLOAD:
                raise _errors.LengthError(f"a message is at most {L2S_MAX_PAYLOAD} bytes, got {len(b)}",
                                          L2S_ERR_LENGTH)
        if n == 0:
            return []
        v = <iovec *>PyMem_Malloc(n * sizeof(iovec))
        seqs = <uint64_t *>PyMem_Malloc(n * sizeof(uint64_t))
        try:
            if v == NULL or seqs == NULL:
                raise MemoryError()
            for i in range(n):
                b = <bytes>held[i]
                v[i].iov_base = <void *>_p(b)
                v[i].iov_len = len(b)
            with nogil:
                ret = l2s_loop_send_many(loop, ppk, v, n, seqs, &accepted)
            if accepted == 0 and ret != L2S_ERR_QUEUE_FULL:
                _ncheck(ret, "send")
            return [seqs[i] for i in range(accepted)]
        finally:
            PyMem_Free(v)
            PyMem_Free(seqs)

    def next_events(self, int max_events):
        """Up to max_events events (tuples as next_event's) that wait now, oldest first,
        taken under one lock."""
        cdef l2s_loop_event *evs
        cdef int n, i
        if max_events < 1:
            return []
        evs = <l2s_loop_event *>PyMem_Malloc(<size_t>max_events * sizeof(l2s_loop_event))
        if evs == NULL:
            raise MemoryError()
        try:
            n = l2s_loop_next_events(self._l(), evs, <size_t>max_events)
            return [_event_tuple(&evs[i]) for i in range(n)]
        finally:
            PyMem_Free(evs)

    def rotate(self, pk):
        cdef bytes bpk = _arg(pk, "pk", L2S_ED25519_PK_BYTES)
        _ncheck(l2s_loop_rotate(self._l(), _p(bpk)), "rotate")

    def close_peer(self, pk):
        cdef bytes bpk = _arg(pk, "pk", L2S_ED25519_PK_BYTES)
        _ncheck(l2s_loop_close_peer(self._l(), _p(bpk)), "close")

    def wait_event(self, int timeout_ms=-1):
        """Blocks (GIL released) until an event waits, timeout_ms passes or the loop stops."""
        cdef l2s_loop *loop = self._l()
        cdef int ret
        with nogil:
            ret = l2s_loop_wait_event(loop, timeout_ms)
        return ret == 1

    def next_event(self):
        """The next event as a tuple (kind, peer_pk, session, time_ms, from, to, reason, seq,
        transport, error, data), or None."""
        cdef l2s_loop_event ev
        if l2s_loop_next_event(self._l(), &ev) != 1:
            return None
        return _event_tuple(&ev)

    def peers(self):
        """Every peer (configured or inbound) as a dict."""
        cdef l2s_loop *loop = self._l()
        cdef l2s_lpeer info
        out = []
        for i in range(l2s_loop_peer_count(loop)):
            if l2s_loop_peer_info(loop, i, &info) != L2S_OK:
                continue
            out.append({
                "pk": <bytes>info.pk[:32],
                "address": _address(&info.addr) if info.addr_len else None,
                "connect": bool(info.connect),
                "session": _sinfo_dict(&info.session) if info.has_session else None,
                "transport": TRANSPORT_NAMES.get(info.transport),
                "rtt_us": info.rtt_us, "established_ms": info.established_ms, "resume_ms": info.resume_ms,
                "handshake_us": info.handshake_us, "resume_us": info.resume_us,
                "fallbacks": info.fallbacks, "returns": info.returns,
                "tx_messages": info.tx_messages, "rx_messages": info.rx_messages, "delivered": info.delivered,
            })
        return out

    def stats(self):
        """The loop's counters (flat dict of ints; rx_dropped by error name)."""
        cdef l2s_lstats s
        l2s_loop_stats(self._l(), &s)
        d = {
            "rounds": s.rounds, "rx_messages": s.rx_messages, "tx_messages": s.tx_messages,
            "tx_dropped": s.tx_dropped, "disc_probes": s.disc_probes, "disc_answers": s.disc_answers,
            "disc_dropped": s.disc_dropped, "handshakes": s.handshakes, "resumptions": s.resumptions,
            "fallbacks": s.fallbacks, "returns": s.returns, "handshakes_prepared": s.handshakes_prepared,
            "prepared_by_caller": s.prepared_by_caller, "prepared_by_loop": s.prepared_by_loop,
            "events_queued": s.events_queued,
            "events_peak": s.events_peak, "sessions": s.sessions, "peers": s.peers, "tx_held": s.tx_held,
            "quic_rx_datagrams": s.quic.rx_datagrams, "quic_tx_datagrams": s.quic.tx_datagrams,
            "quic_rx_dropped": s.quic.rx_dropped, "quic_rx_conn_errors": s.quic.rx_conn_errors,
            "quic_connections": s.quic.connections, "quic_framing_errors": s.quic.framing_errors,
            "quic_retries_sent": s.quic.retries_sent, "quic_version_negotiations": s.quic.version_negotiations,
            "quic_answers_withheld": s.quic.answers_withheld, "quic_own_sockets": s.quic.own_sockets,
            "quic_own_socket_failures": s.quic.own_socket_failures, "quic_tx_gso_sends": s.quic.tx_gso_sends,
            "quic_gso_failures": s.quic.gso_failures, "quic_rx_gro_datagrams": s.quic.rx_gro_datagrams,
            "tcp_accepted": s.tcp.accepted, "tcp_connections": s.tcp.connections,
            "tcp_framing_errors": s.tcp.framing_errors, "tcp_resets": s.tcp.resets,
            "tcp_untrusted": s.tcp.untrusted, "tcp_held_bytes": s.tcp.held_bytes,
            "memory_budget": s.budget_limit, "memory_used": s.budget_used, "memory_peak": s.budget_peak,
            "quic_refused_budget": s.quic.refused_budget, "quic_shed_budget": s.quic.shed_budget,
            "quic_budget_full": s.quic.budget_full, "shed_not_reading": s.tcp.shed_not_reading,
            "shed_unauthenticated": s.tcp.shed_unauthenticated, "shed_for_new": s.tcp.shed_for_new,
            "shed_budget": s.tcp.shed_budget,
            "inbox_failures": s.inbox_failures, "inbox_refusing": s.inbox_refusing,
            "inbox_error": os.strerror(s.inbox_errno) if s.inbox_errno else None,
            "inbox_rotations": s.inbox_rotations, "paths_unproven_closed": s.paths_unproven_closed, "refused": s.refused,
        }
        dropped = {}
        for i in range(1, 17):
            if s.rx_dropped[i]:
                dropped[l2s_strerror(-i).decode()] = s.rx_dropped[i]
        d["rx_dropped"] = dropped
        return d
