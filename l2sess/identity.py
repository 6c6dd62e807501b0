"""A node's identity and its DID document.

`Identity` holds what a node needs to exist (PROTOCOL.md §3): an Ed25519
identity key (its DID is did:key of the public key), the seed of its X-Wing
prekey, the expiry of the prekey bundle (Unix seconds) and the storage key
that seals StoredSession blobs. All of it comes from one 32-byte seed
(`Identity.from_seed`), so persisting an identity means persisting the seed and
the prekey expiry; `Identity.generate()` draws a fresh seed. A renewed prekey
(`Identity.renewed`) is random instead, and the identity then also carries
the previous prekey, which a node still accepts until that one expires.

Derivation from the seed (BLAKE3 derive_key, local to a node, never on the wire):
    Ed25519 seed  = KDF("l2sess/1 2026-11 identity ed25519", seed)
    prekey seed   = KDF("l2sess/1 2026-11 identity prekey", seed)
    storage key   = KDF("l2sess/1 2026-11 identity storage", seed)

`DIDDocument` is what a resolver returns for a DID: the DID, its Ed25519
verification key, the signed prekey bundle and the node's transport endpoints
({kind: address}, e.g. {"quic": "...", "utcp": "..."}). It round-trips
through JSON (W3C DID-core shaped) and is validated on construction: the DID
must be did:key of the verification key, and the bundle must be well formed
and signed by that key (its expiry is checked only by `validate(now)` and by
establish()).
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import os
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from l2sess import _core, crypto
from l2sess.did import InvalidDID, did_from_public_key, public_key_from_did
from l2sess.errors import AuthenticationFailed, DecodeError

_KDF_ED25519 = "l2sess/1 2026-11 identity ed25519"
_KDF_PREKEY = "l2sess/1 2026-11 identity prekey"
_KDF_STORAGE = "l2sess/1 2026-11 identity storage"

SEED_BYTES = 32
PREKEY_BUNDLE_BYTES = _core.PREKEY_BUNDLE_BYTES
# from_seed's default prekey expiry: fixed (2096-10-02), so that the same seed
# always gives the same bundle; pass prekey_not_after to choose another.
DEFAULT_PREKEY_NOT_AFTER = 4_000_000_000
DEFAULT_PREKEY_LIFETIME = 30 * 24 * 3600
_U64_MAX = (1 << 64) - 1

# A DID document larger than this is refused before parsing.
MAX_DOCUMENT_BYTES = 64 * 1024
MAX_ENDPOINTS = 16
MAX_ENDPOINT_CHARS = 256


class Endpoint(Protocol):
    """What names a transport endpoint in a DID document: a transport's kind and
    address (the transports of l2sess.session are endpoints)."""

    @property
    def kind(self) -> str: ...

    @property
    def address(self) -> str: ...


# {kind: address}, or endpoints (transports), primary first.
Endpoints = dict[str, str] | Endpoint | Iterable[Endpoint]


def _seed_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    if len(value) != SEED_BYTES:
        raise ValueError(f"{what} must be {SEED_BYTES} bytes, got {len(value)}")
    return bytes(value)


def _check_not_after(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"prekey_not_after must be int (Unix seconds), not {type(value).__name__}")
    if not 0 < value <= _U64_MAX:
        raise ValueError(f"prekey_not_after must be between 1 and 2**64-1, got {value}")
    return value


class Identity:
    """A node's long-term identity: Ed25519 key, prekey seed, storage key, prekey expiry.

    Build one with Identity.generate() or Identity.from_seed(seed). prekey_seed
    (32 bytes) replaces the prekey derived from seed (a renewed one);
    previous_prekey is (seed, not_after) of the prekey before it."""

    __slots__ = ("_seed", "_pk", "_sk", "_prekey_seed", "_storage_key", "_not_after", "_bundle", "_previous")

    def __init__(self, seed: bytes | bytearray | memoryview, prekey_not_after: int = DEFAULT_PREKEY_NOT_AFTER,
                 *, prekey_seed: bytes | None = None, previous_prekey: tuple[bytes, int] | None = None) -> None:
        seed = _seed_bytes(seed, "seed")
        self._seed = seed
        self._not_after = _check_not_after(prekey_not_after)
        self._pk, self._sk = crypto.ed25519_keypair(crypto.blake3_derive_key(_KDF_ED25519, seed))
        self._prekey_seed = crypto.blake3_derive_key(_KDF_PREKEY, seed) if prekey_seed is None \
            else _seed_bytes(prekey_seed, "prekey_seed")
        self._storage_key = crypto.blake3_derive_key(_KDF_STORAGE, seed)
        self._previous = None if previous_prekey is None else \
            (_seed_bytes(previous_prekey[0], "previous prekey seed"), _check_not_after(previous_prekey[1]))
        self._bundle: bytes | None = None

    @classmethod
    def from_seed(cls, seed: bytes | bytearray | memoryview,
                  prekey_not_after: int = DEFAULT_PREKEY_NOT_AFTER) -> Identity:
        """The identity derived from a 32-byte seed (deterministic)."""
        return cls(seed, prekey_not_after)

    @classmethod
    def generate(cls, prekey_lifetime: float = DEFAULT_PREKEY_LIFETIME, now: float | None = None) -> Identity:
        """A fresh identity from a random seed; its prekey bundle expires
        prekey_lifetime seconds after now (default: the wall clock)."""
        if not isinstance(prekey_lifetime, (int, float)) or isinstance(prekey_lifetime, bool):
            raise TypeError("prekey_lifetime must be a number of seconds")
        if not math.isfinite(prekey_lifetime) or prekey_lifetime <= 0:
            raise ValueError(f"prekey_lifetime must be positive, got {prekey_lifetime}")
        start = time.time() if now is None else now
        return cls(os.urandom(SEED_BYTES), int(start + prekey_lifetime))

    def renewed(self, prekey_lifetime: float = DEFAULT_PREKEY_LIFETIME, now: float | None = None) -> Identity:
        """The same identity with a new random prekey whose bundle expires
        prekey_lifetime seconds after now; the current prekey becomes the
        previous one (the one before it is dropped)."""
        start = time.time() if now is None else now
        return Identity(self._seed, int(start + prekey_lifetime), prekey_seed=os.urandom(SEED_BYTES),
                        previous_prekey=(self._prekey_seed, self._not_after))

    def without_previous_prekey(self) -> Identity:
        """The same identity, its previous prekey dropped (it expired)."""
        return Identity(self._seed, self._not_after, prekey_seed=self._prekey_seed)

    # ---- what it is -----------------------------------------------------------

    @property
    def seed(self) -> bytes:
        """The 32-byte seed everything else derives from (secret: persist it safely)."""
        return self._seed

    @property
    def public_key(self) -> bytes:
        """The Ed25519 identity public key (32 bytes)."""
        return self._pk

    @property
    def secret_key(self) -> bytes:
        """The Ed25519 secret key, 64 bytes (seed || public key)."""
        return self._sk

    @property
    def prekey_seed(self) -> bytes:
        """The 32-byte X-Wing prekey seed."""
        return self._prekey_seed

    @property
    def storage_key(self) -> bytes:
        """The 32-byte key that seals this node's StoredSession blobs."""
        return self._storage_key

    @property
    def prekey_not_after(self) -> int:
        """The prekey bundle's expiry, Unix seconds."""
        return self._not_after

    @property
    def previous_prekey(self) -> tuple[bytes, int] | None:
        """(seed, bundle expiry) of the prekey before the last renewal, or None."""
        return self._previous

    @property
    def did(self) -> str:
        """did:key of the identity public key."""
        return did_from_public_key(self._pk)

    def prekey_bundle(self) -> bytes:
        """The signed prekey bundle (PROTOCOL.md §3, 1321 bytes), made by the C core."""
        if self._bundle is None:
            node = _core.Node(self._sk, self._prekey_seed, self._not_after, self._storage_key, 1,
                              max_sessions=1)
            self._bundle = node.prekey_bundle()
        return self._bundle

    def document(self, endpoints: Endpoints | None = None) -> DIDDocument:
        """This identity's DIDDocument. endpoints: {kind: address}, or transports
        (objects with .kind and .address), primary first."""
        return DIDDocument(self.did, self._pk, self.prekey_bundle(), _endpoints_from(endpoints))

    def __repr__(self) -> str:
        return f"Identity({self.did!r}, prekey_not_after={self._not_after})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return (self._seed, self._not_after, self._prekey_seed, self._previous) == \
            (other._seed, other._not_after, other._prekey_seed, other._previous)

    def __hash__(self) -> int:
        return hash((self._pk, self._not_after))


def _endpoints_from(endpoints: Endpoints | None) -> dict[str, str]:
    if endpoints is None:
        return {}
    if isinstance(endpoints, dict):
        return dict(endpoints)
    items: Iterable[Any] = [endpoints] if hasattr(endpoints, "kind") and hasattr(endpoints, "address") \
        else endpoints  # each checked below
    out: dict[str, str] = {}
    for t in items:
        if not (hasattr(t, "kind") and hasattr(t, "address")):
            raise TypeError("endpoints must be a {kind: address} dict or transports with .kind and .address")
        out.setdefault(t.kind, t.address)
    return out


# ---- DID documents ---------------------------------------------------------------

_CONTEXTS = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/ed25519-2020/v1"]
_VM_TYPE = "Ed25519VerificationKey2020"
_SERVICE_TYPE = "L2SessTransport"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise DecodeError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise DecodeError(f"{what} is not valid base64: {exc}") from None


@dataclass
class DIDDocument:
    """A DID document: id (did:key), public_key (Ed25519, 32 bytes), prekey_bundle
    (the signed bundle, 1321 bytes) and endpoints ({transport kind: address}).

    Validated on construction (DecodeError for a malformed field, AuthenticationFailed
    when the DID, key and bundle do not belong together)."""

    id: str
    public_key: bytes
    prekey_bundle: bytes
    endpoints: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, now: float | None = None) -> None:
        """Checks the document; with now (Unix seconds) also the bundle's expiry."""
        if not isinstance(self.id, str):
            raise DecodeError(f"id must be a str, not {type(self.id).__name__}")
        for name in ("public_key", "prekey_bundle"):
            value = getattr(self, name)
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise DecodeError(f"{name} must be bytes, not {type(value).__name__}")
            object.__setattr__(self, name, bytes(value))
        if len(self.public_key) != 32:
            raise DecodeError(f"public_key must be 32 bytes, got {len(self.public_key)}")
        if len(self.prekey_bundle) != PREKEY_BUNDLE_BYTES:
            raise DecodeError(f"prekey_bundle must be {PREKEY_BUNDLE_BYTES} bytes, got {len(self.prekey_bundle)}")
        try:
            did_key = public_key_from_did(self.id)
        except InvalidDID as exc:
            raise DecodeError(f"id: {exc}") from None
        if did_key != self.public_key:
            raise AuthenticationFailed("the DID is not did:key of the document's verification key")
        if not isinstance(self.endpoints, dict):
            raise DecodeError("endpoints must be a dict {kind: address}")
        if len(self.endpoints) > MAX_ENDPOINTS:
            raise DecodeError(f"at most {MAX_ENDPOINTS} endpoints")
        for kind, address in self.endpoints.items():
            for what, v in (("endpoint kind", kind), ("endpoint address", address)):
                if not isinstance(v, str) or not v or len(v) > MAX_ENDPOINT_CHARS:
                    raise DecodeError(f"{what} must be a non-empty str of at most {MAX_ENDPOINT_CHARS} characters")
        if now is None:
            now_s = 0
        else:
            if not isinstance(now, (int, float)) or isinstance(now, bool) or not math.isfinite(now) or now < 0:
                raise ValueError(f"now must be a non-negative number of seconds, got {now!r}")
            now_s = int(now)
        _core.prekey_bundle_verify(self.prekey_bundle, self.public_key, now_s)

    @property
    def prekey_not_after(self) -> int:
        """The bundle's expiry, Unix seconds."""
        not_after: int = struct.unpack(">Q", self.prekey_bundle[1249:1257])[0]
        return not_after

    # ---- JSON ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The document as W3C DID-core shaped JSON data."""
        multibase = self.id[len("did:key:"):]
        vm_id = f"{self.id}#{multibase}"
        return {
            "@context": list(_CONTEXTS),
            "id": self.id,
            "verificationMethod": [{
                "id": vm_id, "type": _VM_TYPE, "controller": self.id, "publicKeyMultibase": multibase,
            }],
            "authentication": [vm_id],
            "l2sessPrekeyBundle": _b64(self.prekey_bundle),
            "service": [
                {"id": f"{self.id}#{kind}", "type": _SERVICE_TYPE, "transport": kind, "serviceEndpoint": address}
                for kind, address in self.endpoints.items()
            ],
        }

    @classmethod
    def from_dict(cls, d: object) -> DIDDocument:
        """The document of to_dict()'s JSON data, validated (DecodeError, AuthenticationFailed)."""
        if not isinstance(d, dict):
            raise DecodeError("a DID document must be a JSON object")
        did = d.get("id")
        if not isinstance(did, str):
            raise DecodeError("id must be a str")
        vms = d.get("verificationMethod")
        if not isinstance(vms, list) or len(vms) != 1 or not isinstance(vms[0], dict):
            raise DecodeError("verificationMethod must hold exactly one method")
        vm = vms[0]
        if vm.get("type") != _VM_TYPE:
            raise DecodeError(f"verificationMethod type must be {_VM_TYPE}")
        if vm.get("controller") != did:
            raise DecodeError("verificationMethod controller must be the document's id")
        mb = vm.get("publicKeyMultibase")
        if not isinstance(mb, str):
            raise DecodeError("publicKeyMultibase must be a str")
        try:
            pk = public_key_from_did("did:key:" + mb)
        except InvalidDID as exc:
            raise DecodeError(f"publicKeyMultibase: {exc}") from None
        bundle = _unb64(d.get("l2sessPrekeyBundle"), "l2sessPrekeyBundle")
        services = d.get("service", [])
        if not isinstance(services, list):
            raise DecodeError("service must be a list")
        endpoints: dict[str, str] = {}
        for svc in services:
            if not isinstance(svc, dict) or svc.get("type") != _SERVICE_TYPE:
                continue  # services of other kinds are not ours to read
            kind, address = svc.get("transport"), svc.get("serviceEndpoint")
            if not isinstance(kind, str) or not isinstance(address, str):
                raise DecodeError("an L2SessTransport service needs str transport and serviceEndpoint")
            if kind in endpoints:
                raise DecodeError(f"two endpoints for transport {kind!r}")
            endpoints[kind] = address
        return cls(did, pk, bundle, endpoints)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str | bytes | bytearray) -> DIDDocument:
        """The document of to_json()'s text, validated (DecodeError, AuthenticationFailed)."""
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", errors="strict")
        if not isinstance(text, str):
            raise TypeError(f"text must be str or bytes, not {type(text).__name__}")
        if len(text) > MAX_DOCUMENT_BYTES:
            raise DecodeError(f"DID document larger than {MAX_DOCUMENT_BYTES} bytes")
        try:
            d = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise DecodeError(f"DID document is not valid JSON: {exc}") from None
        return cls.from_dict(d)


__all__ = ["DIDDocument", "Endpoint", "Endpoints", "Identity", "DEFAULT_PREKEY_NOT_AFTER"]
