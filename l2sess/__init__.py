"""l2sess: a post-quantum peer-to-peer session layer for edge gateways.

The sans-IO session API (l2sess.session): establish(), resume(), accept(),
tick(), Session, SessionConfig, State, Context, SessionManager, the events
and the typed errors (l2sess.errors); identities and DID documents
(l2sess.identity); did:key (l2sess.did); the gateway node on real sockets
(l2sess.node.Node, threaded) and its asyncio form (l2sess.aio); test
doubles (l2sess.testing.mock); the crypto layer (l2sess.crypto).
"""
__version__ = "0.1.0"

from l2sess.errors import (  # noqa: E402
    AuthenticationFailed,
    DecodeError,
    DIDNotFound,
    InvalidConfig,
    InvalidDID,
    InvalidState,
    KeyRotationFailed,
    LengthError,
    QueueFull,
    SessionError,
    Timeout,
    TransportFailed,
)
from l2sess.identity import DIDDocument, Identity  # noqa: E402
from l2sess.session import (  # noqa: E402
    Context,
    Event,
    HandshakeRequest,
    MessageDelivered,
    MessageReceived,
    Session,
    SessionAccepted,
    SessionClosed,
    SessionConfig,
    SessionManager,
    State,
    StateChanged,
    StoredSession,
    SystemClock,
    TransportChanged,
    Warning,
    accept,
    establish,
    resume,
    tick,
    transition_table,
)

# Warning is importable (l2sess.Warning) but left out of __all__ so that
# `from l2sess import *` does not shadow the builtin.
__all__ = [
    "AuthenticationFailed", "Context", "DIDDocument", "DIDNotFound", "DecodeError", "Event",
    "HandshakeRequest", "Identity", "InvalidConfig", "InvalidDID", "InvalidState", "KeyRotationFailed", "LengthError",
    "MessageDelivered", "MessageReceived", "QueueFull", "Session", "SessionAccepted", "SessionClosed",
    "SessionConfig", "SessionError", "SessionManager", "State", "StateChanged", "StoredSession", "SystemClock",
    "Timeout", "TransportChanged", "TransportFailed", "accept", "establish", "resume", "tick",
    "transition_table",
]
