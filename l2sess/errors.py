"""The typed errors of the session layer (SPEC-018 §5.1 `SessionError`).

`SessionError` and its variants carry the spec's names: `Timeout`,
`AuthenticationFailed`, `TransportFailed`, `KeyRotationFailed`,
`InvalidState`; `QueueFull` is the engine's bounded send queue refusing a
message (nothing already accepted is dropped). Bad input is a `ValueError`:
`LengthError` (a buffer of the wrong length), `DecodeError` (a malformed
message, bundle or StoredSession) and `InvalidConfig` (a SessionConfig that
l2s_config_check refuses).

Every error raised for a C result has `.code`, the negative `enum l2s_err`
value (None when the error did not come from C).
"""


class SessionError(Exception):
    """Base of the session errors (SPEC-018 §5.1)."""

    def __init__(self, message="", code=None):
        super().__init__(message)
        self.code = code


class Timeout(SessionError):
    """No response within the handshake timeout (failure reason "timeout")."""


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


class LengthError(ValueError):
    """A buffer has the wrong length."""

    def __init__(self, message="", code=None):
        super().__init__(message)
        self.code = code


class DecodeError(ValueError):
    """Malformed input: a message, prekey bundle, DID document or StoredSession."""

    def __init__(self, message="", code=None):
        super().__init__(message)
        self.code = code


class InvalidConfig(ValueError):
    """A SessionConfig the engine refuses (l2s_config_check)."""

    def __init__(self, message="", code=None):
        super().__init__(message)
        self.code = code


# failure_reason (the engine's reason name) -> the error it stands for
FAILURE_ERRORS = {
    "timeout": Timeout,
    "authentication_failed": AuthenticationFailed,
    "rotation_timeout": KeyRotationFailed,
    "transport_failed": TransportFailed,
}

__all__ = [
    "AuthenticationFailed", "DIDNotFound", "DecodeError", "FAILURE_ERRORS", "InvalidConfig",
    "InvalidState", "KeyRotationFailed", "LengthError", "QueueFull", "SessionError", "Timeout",
    "TransportFailed",
]
