"""The typed errors of the session layer.

`SessionError` is the base of what a session operation can fail with:
`Timeout` (no answer in time; also a built-in `TimeoutError`),
`AuthenticationFailed`, `TransportFailed`, `KeyRotationFailed`,
`InvalidState` (not allowed in the session's state, or no session),
`QueueFull` (the engine's bounded send queue refused a message; nothing
already accepted is dropped) and `DIDNotFound` (also a `LookupError`).

Bad input is a `TypeError` or a `ValueError`: `LengthError` (a buffer of
the wrong length), `DecodeError` (a malformed message, bundle, DID document
or StoredSession), `InvalidConfig` (a SessionConfig the engine refuses) and
`InvalidDID`, a `DecodeError` (a string that is not a did:key DID of an
Ed25519 key).

Every error raised for a C result has `.code`, the negative `enum l2s_err`
value (None when the error did not come from C).
"""
from __future__ import annotations


class SessionError(Exception):
    """Base of the session errors."""

    code: int | None

    def __init__(self, message: str = "", code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class Timeout(SessionError, TimeoutError):
    """No answer in time: a handshake within its timeout (failure reason
    "timeout"), or an event a caller waited for (`Node.wait_for`, the
    `l2sess.aio` calls given a timeout). Also a built-in `TimeoutError`, so
    `except TimeoutError` catches it."""


class AuthenticationFailed(SessionError):
    """A signature, MAC, prekey bundle or stored session did not verify, or
    was expired, replayed or from a quarantined peer."""


class TransportFailed(SessionError):
    """No transport can reach the peer (none is up, or none matches its endpoints)."""


class KeyRotationFailed(SessionError):
    """The peer did not answer a key rotation in time (failure reason "rotation_timeout")."""


class InvalidState(SessionError):
    """The operation is not allowed in the session's state (or the session is closed)."""


class QueueFull(SessionError):
    """The session's bounded send queue is full; the message was not accepted and
    nothing accepted before was dropped."""


class DIDNotFound(SessionError, LookupError):
    """The resolver knows no DID document for this DID."""


class _BadInput(ValueError):
    code: int | None

    def __init__(self, message: str = "", code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class LengthError(_BadInput):
    """A buffer has the wrong length."""


class DecodeError(_BadInput):
    """Malformed input: a message, prekey bundle, DID document or StoredSession."""


class InvalidConfig(_BadInput):
    """A SessionConfig the engine refuses (l2s_config_check)."""


class InvalidDID(DecodeError):
    """The string is not a did:key DID for an Ed25519 public key (the message says
    which part is wrong); a DecodeError, as any malformed input. Raised by `l2sess.did.public_key_from_did` and by the
    node calls that take a peer's DID (`l2sess.Node`, `l2sess.aio`)."""


# failure_reason (the engine's reason name) -> the error it stands for
FAILURE_ERRORS: dict[str, type[SessionError]] = {
    "timeout": Timeout,
    "authentication_failed": AuthenticationFailed,
    "rotation_timeout": KeyRotationFailed,
    "transport_failed": TransportFailed,
}

__all__ = [
    "AuthenticationFailed", "DIDNotFound", "DecodeError", "FAILURE_ERRORS", "InvalidConfig", "InvalidDID",
    "InvalidState", "KeyRotationFailed", "LengthError", "QueueFull", "SessionError", "Timeout",
    "TransportFailed",
]
