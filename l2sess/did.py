"""did:key identifiers for Ed25519 identity keys.

A did:key DID is self-certifying: it is the public key itself, written as
`did:key:z` + base58btc(multicodec ed25519-pub (0xed 0x01) || 32-byte key).
Decoding validates every part and raises `l2sess.InvalidDID` (a
`ValueError`) with the reason.
"""
from __future__ import annotations

from functools import lru_cache

from l2sess.errors import InvalidDID

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_PREFIX = "did:key:z"
_ED25519_PUB = b"\xed\x01"
# A 34-byte payload is at most 47 base58 digits; anything longer is junk.
_MAX_DID_LEN = len(_PREFIX) + 48
_DID_LEN = 56  # did:key:z + 47 base58 digits, for every Ed25519 key


def b58encode(data: bytes) -> str:
    """base58btc (Bitcoin's alphabet) of data; leading zero bytes become '1's."""
    n = int.from_bytes(data, "big")
    out: list[str] = []
    while n:
        n, r = divmod(n, 58)
        out.append(_ALPHABET[r])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """The bytes of a base58btc string; InvalidDID for a character outside the alphabet."""
    n = 0
    for c in text:
        if c not in _INDEX:
            raise InvalidDID(f"invalid base58 character {c!r}")
        n = n * 58 + _INDEX[c]
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body


def did_from_public_key(pk: bytes) -> str:
    """did:key of a 32-byte Ed25519 public key (TypeError, ValueError for anything else)."""
    if not isinstance(pk, bytes):
        raise TypeError(f"pk must be bytes, not {type(pk).__name__}")
    if len(pk) != 32:
        raise ValueError(f"pk must be 32 bytes, got {len(pk)}")
    return _PREFIX + b58encode(_ED25519_PUB + pk)


def public_key_from_did(did: str) -> bytes:
    """The 32-byte Ed25519 public key of a did:key DID. Raises InvalidDID (a ValueError)
    saying what is wrong, TypeError when did is not a str."""
    if not isinstance(did, str):
        raise TypeError(f"did must be str, not {type(did).__name__}")
    return _decode(did)


# Every send names its peer by DID: decoding it each time (base58, and the
# canonical check's encoding) cost more than the send itself. Bounded; a
# DID that fails to decode raises and is not kept.
@lru_cache(maxsize=1024)
def _decode(did: str) -> bytes:
    if len(did) > _MAX_DID_LEN:
        raise InvalidDID(f"DID too long ({len(did)} characters)")
    if not did.startswith(_PREFIX):
        raise InvalidDID("not a did:key DID with a base58btc ('z') multibase key")
    raw = b58decode(did[len(_PREFIX):])
    # The length first: a truncated DID would otherwise be told its multicodec is wrong.
    if len(did) != _DID_LEN and (len(raw) != 34 or raw[:2] != _ED25519_PUB):
        raise InvalidDID(f"an Ed25519 did:key is {_DID_LEN} characters, this one is {len(did)}"
                         + (" (truncated?)" if len(did) < _DID_LEN else ""))
    if len(raw) != 34:
        raise InvalidDID(f"an Ed25519 key is 32 bytes, this one is {len(raw) - 2}")
    if raw[:2] != _ED25519_PUB:
        raise InvalidDID("the key is not an Ed25519 public key (multicodec 0xed01)")
    # Reject non-canonical spellings (e.g. extra leading '1's) so one key has one DID.
    if did_from_public_key(raw[2:]) != did:
        raise InvalidDID("non-canonical base58 encoding")
    return raw[2:]


__all__ = ["InvalidDID", "b58decode", "b58encode", "did_from_public_key", "public_key_from_did"]
