"""The shapes of a node's status (Node.status(), Node.peers()), for type checkers."""
from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["NodeStatus", "PeerStatus", "SessionStatus"]


class SessionStatus(TypedDict):
    """A peer's session as Node.peers() gives it."""

    state: str
    initiator: bool
    session_id: str  # hex
    rx_stream: str   # hex: the stream the peer sends on
    expires_ms: int
    key_established_ms: int
    missed_heartbeats: int
    retries: int
    rotations: int
    queued: int
    unacked: int
    next_send_seq: int
    next_recv_seq: int


class PeerStatus(TypedDict):
    """One peer as Node.peers() gives it."""

    did: str
    address: str | None  # host:port
    connect: bool
    session: SessionStatus | None
    transport: str | None  # "quic", "utcp" or None
    rtt_us: int
    established_ms: int
    resume_ms: int
    handshake_us: int
    resume_us: int
    fallbacks: int
    returns: int
    tx_messages: int
    rx_messages: int
    delivered: int


class NodeStatus(TypedDict):
    """Node.status(): stats are the loop's counters (ints, but inbox_error: str | None
    and rx_dropped: {error name: count})."""

    did: str
    address: str
    peers: list[PeerStatus]
    stats: dict[str, Any]
