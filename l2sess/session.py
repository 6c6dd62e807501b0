"""The sans-IO session API over the C engine: establish, resume, accept, tick.

Layering (as in aioquic): the engine (`l2sess._core.Node`) takes bytes and a
time and returns bytes and events; this module is the thin edge that moves
them between the engine, the transports, the resolver and the application.
Nothing here sleeps or reads a clock of its own: time is `ctx.time.now()`.

    ctx = Context(identity, [quic, utcp], resolver, clock)
    session = establish(peer_did, SessionConfig(), ctx)   # sends the handshake
    tick([session], ctx)          # call in the event loop (or SessionManager.tick())
    session.state                 # State.ESTABLISHED once the peer answered
    seq = session.send(b"hello")  # QueueFull / InvalidState on failure
    data = session.recv()         # next in-order message, or None

The audit event of every transition is a `StateChanged` in `session.events`
(and a log record on the "l2sess" logger); a `Warning` event is also logged
at WARNING.

Times: `ctx.time.now()` is seconds (float). The same clock gives the expiry
of prekey bundles (Unix seconds), so a real node uses the wall clock
(`SystemClock`) and a simulation a `l2sess.testing.mock.ManualClock`. The engine gets
whole milliseconds, offset by 1 ms (`ENGINE_EPOCH_MS`) because it reserves
the value 0 for "not set".

Transports (duck-typed; `l2sess.testing.mock.MockTransport` is one) have:
    kind: str                 e.g. "quic" (primary) or "utcp" (fallback)
    address: str              this endpoint's address
    send(dest, data)          one datagram / framed message to dest
    receive(now) -> [(source, data)]   everything delivered up to now
    is_up() -> bool           connectivity as the transport sees it
    next_delivery() -> float | None    (optional) when receive() will next have data
"""
from __future__ import annotations

import collections
import enum
import logging
import math
import time as _time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from l2sess import _core, crypto
from l2sess.did import InvalidDID, did_from_public_key, public_key_from_did
from l2sess.errors import (
    FAILURE_ERRORS,
    AuthenticationFailed,
    DecodeError,
    DIDNotFound,
    InvalidConfig,
    InvalidState,
    KeyRotationFailed,
    LengthError,
    QueueFull,
    SessionError,
    Timeout,
    TransportFailed,
)
from l2sess.identity import DIDDocument, Identity

log = logging.getLogger("l2sess")

ENGINE_EPOCH_MS = 1
MAX_MESSAGE_BYTES = _core.MAX_PAYLOAD

_MSG_HANDSHAKE_INIT = b"\x01\x01"  # version 1, type HANDSHAKE_INIT (PROTOCOL.md §2)


# ---- what a Context is given -------------------------------------------------------------

@runtime_checkable
class Transport(Protocol):
    """A transport as a Context uses it (l2sess.testing.mock.MockTransport is one).
    next_delivery() -> float | None, when receive() will next have data, is optional."""

    @property
    def kind(self) -> str:
        """e.g. "quic" (primary) or "utcp" (fallback)."""

    @property
    def address(self) -> str:
        """This endpoint's address."""

    def send(self, dest: str, data: bytes) -> None:
        """One datagram or framed message to dest."""

    def receive(self, now: float) -> Iterable[tuple[str, bytes]]:
        """Everything delivered up to now, as (source, data)."""

    def is_up(self) -> bool:
        """Connectivity as the transport sees it."""


class Resolver(Protocol):
    """Finds the DIDDocument of a DID (DIDNotFound when it knows none)."""

    def resolve(self, did: str) -> DIDDocument: ...


class TimeSource(Protocol):
    """A clock: now() in seconds (SystemClock: Unix time; a simulation's ManualClock)."""

    def now(self) -> float: ...


# ---- states ------------------------------------------------------------------------

class State(enum.StrEnum):
    """The state of a session. idle: created, nothing sent; handshake_initiated /
    handshake_received: the handshake is under way (as its initiator / responder);
    established: keys agreed, messages flow; degraded: heartbeats are being missed;
    rotating: a key rotation is under way (messages still flow); suspended: the
    peer is unreachable, retried with backoff; failed: given up (see
    Session.failure_reason). docs/STATE_MACHINE.md has the transitions."""

    IDLE = "idle"
    HANDSHAKE_INITIATED = "handshake_initiated"
    HANDSHAKE_RECEIVED = "handshake_received"
    ESTABLISHED = "established"
    DEGRADED = "degraded"
    ROTATING = "rotating"
    SUSPENDED = "suspended"
    FAILED = "failed"


def _state(name: str | None) -> State | None:
    """State for an engine state name; None for the end ("[*]")."""
    return None if name is None or name == _core.END else State(name)


def transition_table() -> list[tuple[State, State | None]]:
    """The engine's transition table as [(State, State | None)]; None is the end ([*])."""
    return [(State(f), _state(t)) for f, t in _core.transition_table()]


def check_transition(from_state: State | str | None, to_state: State | str | None) -> None:
    """Raises InvalidState unless the engine's transition table (docs/STATE_MACHINE.md) has from_state -> to_state; the C engine decides
    (l2s_transition_allowed). States: State values or their names; None or
    "[*]" is the end."""
    def name(state: object) -> str:
        if state is None:
            return _core.END
        if isinstance(state, State):
            return state.value
        if isinstance(state, str):
            return state
        raise TypeError(f"a state is a State, its name or None, not {type(state).__name__}")

    _core.check_transition(name(from_state), name(to_state))


# ---- SessionConfig --------------------------------------------------------------------

# Python field (seconds) -> C field (ms)
_DURATIONS = {
    "ttl": "ttl_ms",
    "heartbeat_interval": "heartbeat_interval_ms",
    "handshake_timeout": "handshake_timeout_ms",
    "rotation_window": "rotation_window_ms",
    "quarantine": "quarantine_ms",
    "heartbeat_reply_timeout": "heartbeat_reply_timeout_ms",
    "connectivity_timeout": "connectivity_timeout_ms",
    "degraded_timeout": "degraded_timeout_ms",
    "suspended_retry": "suspended_retry_ms",
    "backoff_base": "backoff_base_ms",
    "backoff_max": "backoff_max_ms",
    "key_grace": "key_grace_ms",
    "retransmit_timeout": "retransmit_timeout_ms",
    "ticket_lifetime": "ticket_lifetime_ms",
}
# Python field -> (C field, smallest, largest)
_COUNTS = {
    "heartbeat_tolerance": ("heartbeat_tolerance", 1, 255),  # u8 in the spec
    "max_retries": ("max_retries", 0, (1 << 32) - 1),
    "rotate_after_messages": ("rotate_after_messages", 1, (1 << 64) - 1),
    "rotate_after_bytes": ("rotate_after_bytes", 1, (1 << 64) - 1),
    "send_queue_limit": ("send_queue_limit", 1, (1 << 32) - 1),
    "send_queue_bytes_limit": ("send_queue_bytes_limit", 1, (1 << 64) - 1),
    "reorder_window": ("reorder_window", 1, (1 << 32) - 1),
}
# Durations that may be zero (l2s_config_check allows it).
_MAY_BE_ZERO = {"rotation_window", "quarantine", "key_grace", "backoff_max"}
# 100 years: far beyond any use, and far from overflowing the engine's u64 ms.
MAX_DURATION = 100 * 365.25 * 24 * 3600


@dataclass(frozen=True)
class SessionConfig:
    """A session's settings, durations in seconds.

    First the session's lifetime and liveness: ttl (24 h), how long a session
    lives before it must be re-established; heartbeat_interval (30 s) between
    heartbeats on an idle session, of which heartbeat_tolerance (3) may be
    missed before the session is degraded; handshake_timeout (5 s) for the
    peer's answer; rotation_window (1 h), how long before the end of the
    ttl the keys are rotated. Then the engine's own settings
    (docs/STATE_MACHINE.md says what each does).
    Validated on construction with the engine's rules (l2s_config_check);
    a refused value raises InvalidConfig, a ValueError, that names it."""

    ttl: float = 24 * 3600
    heartbeat_interval: float = 30
    heartbeat_tolerance: int = 3
    handshake_timeout: float = 5
    rotation_window: float = 3600
    quarantine: float = 60
    heartbeat_reply_timeout: float = 2
    connectivity_timeout: float = 30
    degraded_timeout: float = 60
    suspended_retry: float = 60
    backoff_base: float = 1
    backoff_max: float = 60
    max_retries: int = 0  # 0: retry for ever
    key_grace: float = 10
    rotate_after_messages: int = 1 << 32
    rotate_after_bytes: int = 1 << 40
    retransmit_timeout: float = 0.2
    send_queue_limit: int = 4096
    send_queue_bytes_limit: int = 16 << 20
    reorder_window: int = 1024
    ticket_lifetime: float = 24 * 3600
    resume_dh: bool = False  # a fresh X25519 share in resumption (PROTOCOL.md §8)

    def __post_init__(self) -> None:
        self.to_c()

    def to_c(self) -> dict[str, int]:
        """The config as struct l2s_config fields ({C name: int}, durations in ms).
        Raises InvalidConfig (ValueError) or TypeError when a value is refused."""
        c: dict[str, int] = {}
        for name, cname in _DURATIONS.items():
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise TypeError(f"SessionConfig.{name} must be a number of seconds, not {type(v).__name__}")
            if not math.isfinite(v) or v < 0 or v > MAX_DURATION:
                raise InvalidConfig(f"SessionConfig.{name} must be between 0 and {MAX_DURATION:.0f} seconds, "
                                    f"got {v!r}")
            ms = int(round(v * 1000))
            if ms == 0 and name not in _MAY_BE_ZERO:
                raise InvalidConfig(f"SessionConfig.{name} must be at least 1 ms, got {v!r} s")
            c[cname] = ms
        for name, (cname, lo, hi) in _COUNTS.items():
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"SessionConfig.{name} must be int, not {type(v).__name__}")
            if not lo <= v <= hi:
                raise InvalidConfig(f"SessionConfig.{name} must be between {lo} and {hi}, got {v}")
            c[cname] = v
        if not isinstance(self.resume_dh, bool):
            raise TypeError(f"SessionConfig.resume_dh must be bool, not {type(self.resume_dh).__name__}")
        c["resume_dh"] = int(self.resume_dh)
        if c["rotation_window_ms"] >= c["ttl_ms"]:
            raise InvalidConfig(f"SessionConfig.rotation_window ({self.rotation_window} s) must be shorter "
                                f"than ttl ({self.ttl} s)")
        if c["backoff_max_ms"] < c["backoff_base_ms"]:
            raise InvalidConfig(f"SessionConfig.backoff_max ({self.backoff_max} s) must not be below "
                                f"backoff_base ({self.backoff_base} s)")
        if c["heartbeat_reply_timeout_ms"] >= c["heartbeat_interval_ms"]:
            raise InvalidConfig(f"SessionConfig.heartbeat_reply_timeout ({self.heartbeat_reply_timeout} s) must "
                                f"be shorter than heartbeat_interval ({self.heartbeat_interval} s)")
        try:
            _core.config_check(c)  # the engine has the last word
        except InvalidConfig as exc:
            raise InvalidConfig(f"SessionConfig refused by the engine: {exc}", exc.code) from None
        return c

    @classmethod
    def from_c(cls, c: Mapping[str, int]) -> SessionConfig:
        """The SessionConfig of a struct l2s_config dict (as returned by to_c())."""
        kwargs: dict[str, Any] = {name: c[cname] / 1000 for name, cname in _DURATIONS.items() if cname in c}
        kwargs.update({name: c[cname] for name, (cname, _, _) in _COUNTS.items() if cname in c})
        if "resume_dh" in c:
            kwargs["resume_dh"] = bool(c["resume_dh"])
        return cls(**kwargs)


# ---- events ---------------------------------------------------------------------------

class Event:
    """Base of the events in Session.events."""

    __slots__ = ()


@dataclass(frozen=True)
class StateChanged(Event):
    """The audit event of a transition: time (seconds), peer DID, from, to, reason.
    to_state is None when the session left the machine ("[*]": cleanup or closed)."""

    time: float
    peer_did: str
    from_state: State
    to_state: State | None
    reason: str


@dataclass(frozen=True)
class MessageReceived(Event):
    """An application message from the peer, in order, exactly once."""

    seq: int
    data: bytes
    time: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class MessageDelivered(Event):
    """The peer acknowledged our message seq."""

    seq: int
    time: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class Warning(Event):  # noqa: A001 - the spec's word ("warning is logged")
    """Something the application may want to know that changes no state, e.g. a
    single missed heartbeat (reason "missed_heartbeats"). Also logged at WARNING."""

    reason: str
    time: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class SessionAccepted(Event):
    """The session was created by the node for an inbound handshake or resumption."""

    time: float
    peer_did: str


@dataclass(frozen=True)
class TransportChanged(Event):
    """The session moved to another transport (fallback, or back to the primary)."""

    time: float
    transport: str
    address: str


@dataclass(frozen=True)
class SessionClosed(Event):
    """The peer closed the session."""

    time: float
    reason: str


# ---- StoredSession, HandshakeRequest, clocks -------------------------------------------------

class StoredSession:
    """A session's resumption state (PROTOCOL.md §10): opaque bytes sealed with the
    node's storage key. Persist to_bytes(); restore with StoredSession.from_bytes()."""

    __slots__ = ("_data",)
    MAGIC = b"L2SS"

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a StoredSession is bytes, not {type(data).__name__}")
        data = bytes(data)
        if len(data) < 5 or data[:4] != self.MAGIC:
            raise DecodeError("not a StoredSession (wrong magic)")
        self._data = data

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> StoredSession:
        return cls(data)

    def to_bytes(self) -> bytes:
        return self._data

    def __bytes__(self) -> bytes:
        return self._data

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoredSession) and other._data == self._data

    def __hash__(self) -> int:
        return hash(self._data)

    def __repr__(self) -> str:
        return f"StoredSession({len(self._data)} bytes)"


@dataclass(frozen=True)
class HandshakeRequest:
    """A handshake request received from a transport, for accept().

    data: the message; source: the sender's address; transport: the transport
    it came on (None: the context's primary); time: when it arrived."""

    data: bytes
    source: str
    transport: Transport | str | None = None
    time: float = 0.0


class SystemClock:
    """The wall clock as a TimeSource: now() is Unix time in seconds."""

    def now(self) -> float:
        return _time.time()


# ---- Session ----------------------------------------------------------------------------

class Session:
    """One session with a peer, owned by a Context. Created by establish(),
    resume() and accept(), or by the node for an inbound request (see
    Context.accepted()); never constructed directly."""

    def __init__(self, ctx: Context, handle: int, config: SessionConfig, peer_pk: bytes, inbound: bool) -> None:
        self._ctx = ctx
        self.handle = handle
        self.config = config
        self.inbound = inbound
        self.peer_did = did_from_public_key(peer_pk)
        self.events: list[Event] = []
        self._inbox: collections.deque[bytes] = collections.deque()
        self._closed = False
        self._last_state = State.IDLE
        self._failure: str | None = None
        self._session_id: bytes | None = None

    # ---- state ----

    def _info(self) -> dict[str, Any] | None:
        """The engine's session info, or None when the session is gone."""
        if self._closed:
            return None
        try:
            return self._ctx.crypto.session_info(self.handle)
        except InvalidState:
            self._ctx._forget(self)
            return None

    @property
    def state(self) -> State:
        """The current State (for a closed session: the state it ended in)."""
        info = self._info()
        return self._last_state if info is None else State(info["state"])

    @property
    def closed(self) -> bool:
        """True once the session has left the machine (closed, cleaned up or closed by the peer)."""
        self._info()
        return self._closed

    @property
    def failure_reason(self) -> str | None:
        """Why the session is `failed` ("timeout", "authentication_failed",
        "rotation_timeout", ...), or None when it is not."""
        info = self._info()
        if info is None:
            return self._failure if self._last_state == State.FAILED else None
        if info["state"] != State.FAILED:
            return None
        reason: str = info["failure_reason"]
        return reason

    @property
    def error(self) -> SessionError | None:
        """The SessionError that stands for failure_reason (Timeout,
        AuthenticationFailed, KeyRotationFailed, TransportFailed), or None."""
        reason = self.failure_reason
        if reason is None:
            return None
        return FAILURE_ERRORS.get(reason, SessionError)(f"session with {self.peer_did} failed: {reason}")

    @property
    def session_id(self) -> bytes | None:
        """The 16-byte session id (zeros until the handshake has derived it)."""
        info = self._info()
        if info is not None:
            self._session_id = info["session_id"]
        return self._session_id

    @property
    def transport(self) -> tuple[str, str] | None:
        """(kind, address) of the transport path the session uses now, or None when closed."""
        info = self._info()
        if info is None:
            return None
        ti, address = self._ctx._path_info(info["path"])
        return self._ctx.transports[ti].kind, address

    def info(self) -> dict[str, Any]:
        """The engine's session info (struct l2s_session_info) as a dict, plus
        peer_did; times (expires, key_established, quarantined_until,
        next_retry) are in the context's seconds, None when unset."""
        info = self._info()
        if info is None:
            raise InvalidState(f"session with {self.peer_did} is closed")
        out = dict(info)
        out["peer_did"] = self.peer_did
        for key in ("expires", "key_established", "quarantined_until", "next_retry"):
            ms = out[key + "_ms"]
            out[key] = None if ms == 0 else self._ctx._seconds(ms)
        return out

    # ---- data ----

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Queues an application message (bytes, at most 65536) and returns its
        sequence number. Messages queue in any state and are delivered exactly
        once, in order, once the session is (re-)established. Raises QueueFull
        when the send queue is at its limit (the message is not accepted;
        nothing accepted before is dropped), InvalidState when the session is closed."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        if len(data) > MAX_MESSAGE_BYTES:
            raise LengthError(f"a message is at most {MAX_MESSAGE_BYTES} bytes, got {len(data)}")
        self._require_open("send")
        ctx = self._ctx
        try:
            seq = ctx.crypto.session_send(self.handle, data, ctx._now_ms())
        except QueueFull as exc:
            raise QueueFull(
                f"send queue full for {self.peer_did}: at most {self.config.send_queue_limit} messages and "
                f"{self.config.send_queue_bytes_limit} bytes unacknowledged; this message was not accepted and "
                f"nothing accepted before was dropped", exc.code) from None
        except InvalidState:
            self._info()
            self._require_open("send")
            raise
        finally:
            ctx._pump()
        return seq

    def recv(self) -> bytes | None:
        """The next message received in order (bytes), or None when there is none."""
        return self._inbox.popleft() if self._inbox else None

    def pending(self) -> int:
        """How many received messages recv() has not returned yet."""
        return len(self._inbox)

    # ---- control ----

    def export(self) -> StoredSession:
        """The StoredSession to resume this session from later (InvalidState
        before the handshake has given the session keys)."""
        self._require_open("export")
        return StoredSession(self._ctx.crypto.session_export(self.handle))

    def rotate(self) -> None:
        """Starts a key rotation now (InvalidState unless established with no exchange in flight)."""
        self._require_open("rotate")
        try:
            self._ctx.crypto.session_rotate(self.handle, self._ctx._now_ms())
        finally:
            self._ctx._pump()

    def close(self) -> None:
        """Sends CLOSE and ends the session (its audit event goes to [*], reason
        "closed"). Closing a closed session does nothing."""
        if self.closed:
            return
        try:
            self._ctx.crypto.session_close(self.handle, self._ctx._now_ms())
        finally:
            self._ctx._pump()
        self._ctx._forget(self)

    def _require_open(self, what: str) -> None:
        if self.closed:
            raise InvalidState(f"{what}: the session with {self.peer_did} is closed")

    # ---- events from the context ----

    def _on_event(self, ev: _core.NodeEvent, ctx: Context) -> None:
        t = ctx._seconds(ev.time_ms)
        kind = ev.type
        if kind == "state":
            e = StateChanged(t, self.peer_did, _state(ev.from_state) or State.IDLE, _state(ev.to_state), ev.reason or "")
            self.events.append(e)
            log.info("session %s: %s -> %s (%s)", self.peer_did, ev.from_state, ev.to_state, ev.reason)
            if e.to_state is None:
                self._last_state = e.from_state
                ctx._forget(self)
            else:
                self._last_state = e.to_state
                if e.to_state == State.FAILED:
                    self._failure = ev.reason
        elif kind == "message":
            data = ev.data or b""
            self.events.append(MessageReceived(ev.seq or 0, data, t))
            self._inbox.append(data)
        elif kind == "delivered":
            self.events.append(MessageDelivered(ev.seq or 0, t))
        elif kind == "warning":
            self.events.append(Warning(ev.reason or "", t))
            log.warning("session %s: warning: %s", self.peer_did, ev.reason)
        elif kind == "accepted":
            self.inbound = True
            self.events.append(SessionAccepted(t, self.peer_did))
        elif kind == "transport":
            ti, address = ctx._path_info(ev.path or 0)
            self.events.append(TransportChanged(t, ctx.transports[ti].kind, address))
            log.info("session %s: transport -> %s %s", self.peer_did, ctx.transports[ti].kind, address)
        elif kind == "closed":
            self.events.append(SessionClosed(t, ev.reason or ""))

    def __repr__(self) -> str:
        state = self._last_state if self._closed else self.state
        return f"<Session {self.peer_did} {state}{' closed' if self._closed else ''}>"


# ---- Context ------------------------------------------------------------------------------

_CAPABILITY_NAMES = {
    "transport": "transport", "net_connect": "transport",
    "crypto": "crypto", "crypto_pqxdh": "crypto",
    "resolver": "resolver", "did_resolve": "resolver",
    "time": "time",
}


class Context:
    """The capabilities a session needs: transport, crypto, resolver, time.

    Context(identity, transport, resolver, clock, deterministic_seed=None,
            accept_config=None, *, auto_accept=True, primary_retry=30.0,
            max_sessions=0, handshake_load_limit=0, handshake_rate_per_s=0,
            handshake_counter=0)

    transport: one transport or a sequence, primary first (a fallback is
    used when the primary fails, and the primary is tried again every
    primary_retry seconds). crypto: the C Node of `identity` (its keys and
    prekeys), created here. resolver: has resolve(did) -> DIDDocument.
    time: the clock (`now()` in seconds). deterministic_seed (tests only):
    32 bytes that make all of the node's randomness reproducible.
    accept_config: the SessionConfig of sessions created for inbound
    requests (default SessionConfig()). auto_accept=False holds inbound
    full-handshake requests for accept() (see pending_requests()).
    handshake_counter: the node's last handshake counter, persisted from
    a previous run (Context.handshake_counter).

    The context maps (transport, remote address) pairs to the engine's path
    ids, and keeps the sessions it knows (`sessions`, `accepted()`). It is
    not thread-safe: drive one context from one thread.
    """

    def __init__(self, identity: Identity, transport: Transport | Sequence[Transport], resolver: Resolver | None,
                 clock: TimeSource, deterministic_seed: bytes | None = None,
                 accept_config: SessionConfig | None = None, *, auto_accept: bool = True,
                 primary_retry: float = 30.0, max_sessions: int = 0, handshake_load_limit: int = 0,
                 handshake_rate_per_s: int = 0, handshake_counter: int = 0) -> None:
        if not isinstance(identity, Identity):
            raise TypeError(f"identity must be an Identity, not {type(identity).__name__}")
        transports: tuple[Transport, ...] = tuple(transport) if isinstance(transport, (list, tuple)) \
            else (transport,)  # type: ignore[assignment]  # one transport
        if not transports:
            raise ValueError("a Context needs at least one transport")
        for t in transports:
            for attr in ("kind", "address", "send", "receive", "is_up"):
                if not hasattr(t, attr):
                    raise TypeError(f"transport {t!r} has no {attr!r}")
        if resolver is not None and not hasattr(resolver, "resolve"):
            raise TypeError("resolver must have resolve(did)")
        if not hasattr(clock, "now"):
            raise TypeError("clock must have now() (a TimeSource)")
        if accept_config is None:
            accept_config = SessionConfig()
        if not isinstance(accept_config, SessionConfig):
            raise TypeError(f"accept_config must be a SessionConfig, not {type(accept_config).__name__}")
        if not isinstance(primary_retry, (int, float)) or isinstance(primary_retry, bool) or \
                not math.isfinite(primary_retry) or primary_retry <= 0:
            raise ValueError(f"primary_retry must be a positive number of seconds, got {primary_retry!r}")
        self.identity = identity
        self.transports = transports
        self.resolver = resolver
        self.time = clock
        self.accept_config = accept_config
        self.auto_accept = bool(auto_accept)
        self.primary_retry = float(primary_retry)
        self.crypto = _core.Node(identity.secret_key, identity.prekey_seed, identity.prekey_not_after,
                                 identity.storage_key, self._now_ms(), rng_seed=deterministic_seed,
                                 max_sessions=max_sessions, handshake_load_limit=handshake_load_limit,
                                 handshake_rate_per_s=handshake_rate_per_s, handshake_counter=handshake_counter)
        self.crypto.set_accept_config(accept_config.to_c())
        self._paths: dict[tuple[int, str], int] = {}  # (transport index, remote address) -> path id
        # path id -> (transport index, remote address); 0 is unused
        self._path_list: list[tuple[int, str] | None] = [None]
        self._sessions: dict[int, Session] = {}  # handle -> live Session
        self._accepted: list[Session] = []       # live inbound sessions, in order
        self._requests: collections.deque[HandshakeRequest] = collections.deque()
        self._up = [bool(t.is_up()) for t in transports]
        self._endpoints: dict[str, dict[str, str]] = {}  # peer DID -> {kind: address}
        self._primary_retry_at: float | None = None
        self.stats: collections.Counter[str] = collections.Counter()

    # ---- capabilities ----

    @property
    def transport(self) -> tuple[Transport, ...]:
        """The transports, primary first."""
        return self.transports

    def has(self, *capabilities: str) -> bool:
        """True when the context carries every named capability: "transport"
        (or the spec's "net_connect"), "crypto" ("crypto_pqxdh"), "resolver"
        ("did_resolve"), "time"."""
        for cap in capabilities:
            name = _CAPABILITY_NAMES.get(str(cap).lstrip("."))
            if name is None:
                raise ValueError(f"unknown capability {cap!r}")
            value = getattr(self, name)
            if value is None or (name == "transport" and not value):
                return False
        return True

    @property
    def sessions(self) -> list[Session]:
        """Every live session of this context (established, accepted, resumed), in creation order."""
        return list(self._sessions.values())

    def accepted(self) -> list[Session]:
        """The live sessions the node created for inbound requests, in order."""
        return [s for s in self._accepted if not s._closed]

    def pending_requests(self) -> list[HandshakeRequest]:
        """With auto_accept=False: the inbound handshake requests held for
        accept() since the last call (then forgotten)."""
        out = list(self._requests)
        self._requests.clear()
        return out

    @property
    def handshake_counter(self) -> int:
        """The node's last handshake counter: persist it with the identity."""
        return self.crypto.handshake_counter()

    def tick(self) -> list[Session]:
        """tick(None, self): one step of the event loop for every session."""
        return tick(None, self)

    def next_deadline(self) -> float | None:
        """The earliest time (seconds) at which tick() has work: an engine timer,
        a datagram a transport will deliver, or the next try of the primary.
        None when nothing is pending."""
        times: list[float] = []
        d = self.crypto.next_deadline()
        if d is not None:
            times.append(self._seconds(d))
        for t in self.transports:
            nd = getattr(t, "next_delivery", None)
            if nd is not None:
                x = nd()
                if x is not None:
                    times.append(x)
        if self._primary_retry_at is not None:
            times.append(self._primary_retry_at)
        return min(times) if times else None

    # ---- time ----

    def _now(self) -> float:
        now = self.time.now()
        if not isinstance(now, (int, float)) or isinstance(now, bool) or not math.isfinite(now) or now < 0:
            raise ValueError(f"the clock must give a non-negative number of seconds, got {now!r}")
        return float(now)

    def _now_ms(self) -> int:
        return int(round(self._now() * 1000)) + ENGINE_EPOCH_MS

    @staticmethod
    def _seconds(ms: int) -> float:
        return (ms - ENGINE_EPOCH_MS) / 1000

    # ---- paths ----

    def _path(self, ti: int, address: str) -> int:
        key = (ti, address)
        path = self._paths.get(key)
        if path is None:
            path = len(self._path_list)
            self._paths[key] = path
            self._path_list.append(key)
        return path

    def _path_info(self, path: int) -> tuple[int, str]:
        key = self._path_list[path] if 0 < path < len(self._path_list) else None
        if key is None:
            raise InvalidState(f"unknown path {path}")
        return key

    def _addr_bytes(self, ti: int, address: str) -> bytes:
        raw = f"{self.transports[ti].kind}:{address}".encode("utf-8", "surrogatepass")
        return raw if len(raw) <= _core.MAX_ADDR_BYTES else crypto.blake3(raw, length=_core.MAX_ADDR_BYTES)

    def _transport_index(self, transport: Transport | str | None) -> int:
        if transport is None:
            return 0
        for i, t in enumerate(self.transports):
            if t is transport or (isinstance(transport, str) and t.kind == transport):
                return i
        raise ValueError(f"{transport!r} is not a transport of this context")

    def _route(self, peer_did: str, endpoints: Mapping[str, str]) -> tuple[int, str]:
        """(transport index, peer address) to reach the peer: the first transport
        that is up and whose kind the peer lists, else the first whose kind it lists."""
        matching = [(i, endpoints[t.kind]) for i, t in enumerate(self.transports) if t.kind in endpoints]
        if not matching:
            kinds = ", ".join(t.kind for t in self.transports)
            raise TransportFailed(f"{peer_did} lists no endpoint for any transport of this context ({kinds})")
        for i, address in matching:
            if self._up[i]:
                return i, address
        return matching[0]

    def _resolve(self, peer_did: str) -> DIDDocument:
        """The peer's DID document through the resolver, checked against the DID."""
        if self.resolver is None:
            raise DIDNotFound(f"no resolver to resolve {peer_did}")
        doc = self.resolver.resolve(peer_did)
        if not isinstance(doc, DIDDocument):
            raise TypeError(f"the resolver returned {type(doc).__name__}, not a DIDDocument")
        if doc.id != peer_did:
            raise AuthenticationFailed(f"the resolver returned the document of {doc.id} for {peer_did}")
        self._endpoints[peer_did] = dict(doc.endpoints)
        return doc

    def _peer_endpoints(self, session: Session) -> dict[str, str]:
        endpoints = self._endpoints.get(session.peer_did)
        if endpoints is None:
            try:
                endpoints = dict(self._resolve(session.peer_did).endpoints)
            except (SessionError, ValueError, TypeError) as exc:
                log.debug("no endpoints for %s: %s", session.peer_did, exc)
                endpoints = {}
        return endpoints

    # ---- sessions ----

    def _adopt(self, handle: int, config: SessionConfig, peer_pk: bytes, inbound: bool) -> Session:
        s = Session(self, handle, config, peer_pk, inbound)
        old = self._sessions.get(handle)
        if old is not None:
            self._forget(old)
        self._sessions[handle] = s
        return s

    def _forget(self, session: Session) -> None:
        session._closed = True
        if self._sessions.get(session.handle) is session:
            del self._sessions[session.handle]

    # ---- moving bytes and events ----

    def _pump(self) -> None:
        """Pushes the engine's outputs to the transports and dispatches its events."""
        self._flush()
        self._dispatch()

    def _flush(self, drop_session: int | None = None) -> None:
        self._send(self.crypto.drain_outputs(), drop_session)

    def _send(self, outputs: Iterable[tuple[int, int, bytes]], drop_session: int | None = None) -> None:
        for session, path, data in outputs:
            if drop_session is not None and session == drop_session:
                continue
            ti, address = self._path_info(path)
            try:
                self.transports[ti].send(address, data)
                self.stats["tx"] += 1
            except Exception as exc:  # a transport error is a lost datagram, not a crash
                self.stats["tx_error"] += 1
                log.debug("send to %s over %s failed: %s", address, self.transports[ti].kind, exc)

    def _dispatch(self, drop_session: int | None = None) -> None:
        for ev in self.crypto.drain_events():
            if drop_session is not None and ev.session == drop_session:
                continue
            s = self._sessions.get(ev.session)
            if s is None:
                s = self._adopt(ev.session, self.accept_config, ev.peer_pk, True)
            if ev.type == "accepted":
                self._accepted.append(s)
            s._on_event(ev, self)

    def _receive(self, ti: int, source: str, data: bytes, now_ms: int) -> int:
        self.stats["rx"] += 1
        if not self.auto_accept and bytes(data[:2]) == _MSG_HANDSHAKE_INIT:
            self._requests.append(HandshakeRequest(bytes(data), source, self.transports[ti], self._seconds(now_ms)))
            return 0
        path = self._path(ti, source)
        ret = self.crypto.receive(path, self._addr_bytes(ti, source), data, now_ms)
        if ret:
            self.stats["rx_dropped"] += 1
            self.stats["rx_dropped_" + _core.strerror(ret)] += 1
        return ret

    # ---- transports: connectivity and fallback ----

    def _sessions_on(self, ti: int) -> list[Session]:
        out = []
        for s in list(self._sessions.values()):
            info = s._info()
            if info is not None and self._path_info(info["path"])[0] == ti:
                out.append(s)
        return out

    def _move(self, session: Session, ti: int, now_ms: int) -> bool:
        """Moves session to transport ti if the peer has an endpoint there."""
        address = self._peer_endpoints(session).get(self.transports[ti].kind)
        if address is None:
            return False
        self.crypto.session_set_path(session.handle, self._path(ti, address), now_ms)
        return True

    def _check_transports(self, now: float, now_ms: int) -> None:
        # Every transport's status first, so that a fallback never picks one
        # that went down at the same moment (a partition).
        changed = []
        for ti, t in enumerate(self.transports):
            up = bool(t.is_up())
            if up != self._up[ti]:
                self._up[ti] = up
                changed.append(ti)
                log.info("transport %s %s is %s", t.kind, t.address, "up" if up else "down")
        for ti in changed:
            for path, key in enumerate(self._path_list):
                if key is not None and key[0] == ti:
                    self.crypto.path_status(path, self._up[ti], now_ms)
        for ti in changed:
            if not self._up[ti]:
                self._fall_back(ti, now, now_ms)
        if self._primary_retry_at is not None and now >= self._primary_retry_at:
            self._retry_primary(now, now_ms)

    def _fall_back(self, failed: int, now: float, now_ms: int) -> None:
        moved = False
        for s in self._sessions_on(failed):
            for tj in range(len(self.transports)):
                if tj != failed and self._up[tj] and self._move(s, tj, now_ms):
                    moved = True
                    break
        if moved and self._primary_retry_at is None:
            self._primary_retry_at = now + self.primary_retry

    def _retry_primary(self, now: float, now_ms: int) -> None:
        """Moves sessions back to the best transport that is up again."""
        waiting = False
        for ti in range(1, len(self.transports)):
            for s in self._sessions_on(ti):
                for better in range(ti):
                    if self._up[better] and self._move(s, better, now_ms):
                        break
                else:
                    waiting = waiting or any(
                        self.transports[b].kind in self._peer_endpoints(s) for b in range(ti))
        self._primary_retry_at = now + self.primary_retry if waiting else None

    def __repr__(self) -> str:
        return f"<Context {self.identity.did} {len(self._sessions)} sessions>"


# ---- the spec's functions ---------------------------------------------------------------------

def _config(config: SessionConfig | None) -> SessionConfig:
    if config is None:
        return SessionConfig()
    if not isinstance(config, SessionConfig):
        raise TypeError(f"config must be a SessionConfig, not {type(config).__name__}")
    return config


def _context(ctx: Context) -> Context:
    if not isinstance(ctx, Context):
        raise TypeError(f"ctx must be a Context, not {type(ctx).__name__}")
    return ctx


def _peer_key(peer_did: str) -> bytes:
    if not isinstance(peer_did, str):
        raise TypeError(f"peer_did must be a str, not {type(peer_did).__name__}")
    try:
        return public_key_from_did(peer_did)
    except InvalidDID as exc:
        raise InvalidDID(f"peer_did: {exc}") from None


def establish(peer_did: str, config: SessionConfig | None, ctx: Context) -> Session:
    """Establishes a new session with peer_did (a full handshake).

    Resolves the DID through ctx.resolver, verifies the prekey bundle of its
    document against the DID's key and ctx.time (an invalid or expired
    bundle raises AuthenticationFailed), starts the handshake and sends the
    request over the first transport that reaches the peer. Returns the
    Session in handshake_initiated; tick() completes it. Raises DIDNotFound,
    DecodeError (a malformed DID), TransportFailed (no common transport)."""
    ctx = _context(ctx)
    config = _config(config)
    peer_pk = _peer_key(peer_did)
    if not ctx.has("transport", "crypto", "resolver", "time"):
        raise InvalidState("establish needs a context with transport, crypto, resolver and time")
    doc = ctx._resolve(peer_did)
    now = ctx._now()
    now_ms = ctx._now_ms()
    ctx._check_transports(now, now_ms)  # route by the transports' status now
    try:
        _core.prekey_bundle_verify(doc.prekey_bundle, peer_pk, int(now))
    except (DecodeError, LengthError) as exc:
        raise AuthenticationFailed(f"prekey bundle of {peer_did}: {exc}", getattr(exc, "code", None)) from None
    except AuthenticationFailed as exc:
        raise AuthenticationFailed(f"prekey bundle of {peer_did}: {exc}", exc.code) from None
    ti, address = ctx._route(peer_did, doc.endpoints)
    path = ctx._path(ti, address)
    ctx._pump()
    try:
        handle = ctx.crypto.establish(peer_pk, doc.prekey_bundle, int(now), config.to_c(), path, now_ms)
    except SessionError:
        ctx._pump()
        raise
    return _started(ctx, handle, config, peer_pk, ti, path, now_ms)


def _started(ctx: Context, handle: int, config: SessionConfig, peer_pk: bytes, ti: int, path: int,
             now_ms: int) -> Session:
    """The Session of an outbound handle the node just created; its first
    message goes out (or waits, when the transport is down)."""
    session = ctx._adopt(handle, config, peer_pk, False)
    if not ctx._up[ti]:
        ctx.crypto.path_status(path, False, now_ms)
    ctx._pump()
    return session


def resume(peer_did: str, stored: StoredSession | bytes | bytearray | memoryview, ctx: Context,
           config: SessionConfig | None = None) -> Session:
    """Resumes a session from a StoredSession: one round trip,
    the existing key material (ticket or resumption secret) reused, the
    sequence numbers and unacknowledged messages kept. The peer's endpoints
    come from ctx.resolver. Raises AuthenticationFailed for a StoredSession
    sealed by another storage key, expired, or naming another peer; DecodeError
    for one that is malformed."""
    ctx = _context(ctx)
    config = _config(config)
    peer_pk = _peer_key(peer_did)
    if isinstance(stored, (bytes, bytearray, memoryview)):
        stored = StoredSession(stored)
    if not isinstance(stored, StoredSession):
        raise TypeError(f"stored must be a StoredSession, not {type(stored).__name__}")
    doc = ctx._resolve(peer_did)
    now_ms = ctx._now_ms()
    ctx._check_transports(ctx._now(), now_ms)
    ti, address = ctx._route(peer_did, doc.endpoints)
    path = ctx._path(ti, address)
    ctx._pump()
    try:
        handle = ctx.crypto.resume(stored.to_bytes(), config.to_c(), path, now_ms)
    except SessionError:
        ctx._pump()
        raise
    info = ctx.crypto.session_info(handle)
    if info["peer_pk"] != peer_pk:
        # Not a word of it goes out: the request and the events are dropped.
        ctx.crypto.session_close(handle, now_ms)
        ctx._flush(drop_session=handle)
        ctx._dispatch(drop_session=handle)
        raise AuthenticationFailed(f"the stored session is with {did_from_public_key(info['peer_pk'])}, "
                                   f"not {peer_did}")
    try:
        # If the peer lost its state (it cannot resume), the retry falls back
        # to a full handshake with its current prekeys.
        ctx.crypto.session_set_bundle(handle, doc.prekey_bundle, int(ctx._now()))
    except SessionError:
        pass  # an expired or foreign bundle: resumption alone it is
    return _started(ctx, handle, config, peer_pk, ti, path, now_ms)


def accept(request: HandshakeRequest, config: SessionConfig | None, ctx: Context) -> Session:
    """Accepts an inbound handshake request with config and
    returns the session the node created for it (in handshake_received; the
    initiator's confirmation, processed by tick(), makes it established).

    request: a HandshakeRequest, e.g. from ctx.pending_requests() of a context
    made with auto_accept=False. Raises AuthenticationFailed when the request
    does not authenticate (or is replayed, or its sender is quarantined),
    DecodeError when it is malformed, SessionError when the node is under load
    (it answered with a cookie and kept nothing)."""
    ctx = _context(ctx)
    config = _config(config)
    if not isinstance(request, HandshakeRequest):
        raise TypeError(f"request must be a HandshakeRequest, not {type(request).__name__}")
    if not isinstance(request.data, (bytes, bytearray, memoryview)):
        raise TypeError("request.data must be bytes")
    if not isinstance(request.source, str):
        raise TypeError("request.source must be the sender's address (str)")
    ti = ctx._transport_index(request.transport)
    path = ctx._path(ti, request.source)
    now_ms = ctx._now_ms()
    ctx._pump()
    ctx.crypto.set_accept_config(config.to_c())
    try:
        ret = ctx.crypto.receive(path, ctx._addr_bytes(ti, request.source), request.data, now_ms)
        outputs = ctx.crypto.drain_outputs()
        events = ctx.crypto.drain_events()
    finally:
        ctx.crypto.set_accept_config(ctx.accept_config.to_c())
    handle = next((e.session for e in events if e.type == "accepted"), None)
    if handle is None and ret == 0:
        handle = next((s for s, _, _ in outputs if s), None)
    # Outputs and events go the usual way; the new session gets config.
    ctx._send(outputs)
    for ev in events:
        s = ctx._sessions.get(ev.session)
        if s is None:
            s = ctx._adopt(ev.session, config if ev.session == handle else ctx.accept_config, ev.peer_pk, True)
        if ev.type == "accepted":
            ctx._accepted.append(s)
        s._on_event(ev, ctx)
    if ret != 0:
        raise _core.error_for(ret, "accept")
    session = ctx._sessions.get(handle) if handle is not None else None
    if session is None:
        raise InvalidState("accept: the request created no session")
    return session


def tick(sessions: Iterable[Session] | None, ctx: Context) -> list[Session]:
    """One step of the caller's event loop: takes everything the transports
    have delivered up to ctx.time.now() into the node, notices transports
    going down or up (path status, fallback, primary retry), runs the node's
    timers, pushes its outputs to the transports and dispatches its events to
    the sessions. Sessions the node created for inbound requests join
    ctx.sessions and ctx.accepted(); the ones created in this step are returned.

    sessions: the sessions the caller drives (None: all); they must belong to
    ctx. The node runs all its sessions' timers either way."""
    ctx = _context(ctx)
    if sessions is not None:
        for s in sessions:
            if not isinstance(s, Session) or s._ctx is not ctx:
                raise ValueError(f"{s!r} is not a session of this context")
    before = len(ctx._accepted)
    now = ctx._now()
    now_ms = ctx._now_ms()
    ctx._check_transports(now, now_ms)
    ctx._pump()
    for ti, t in enumerate(ctx.transports):
        for source, data in t.receive(now):
            ctx._receive(ti, source, data, now_ms)
    ctx.crypto.tick(now_ms)
    ctx._pump()
    return ctx._accepted[before:]


# ---- many sessions ---------------------------------------------------------------------------

class SessionManager:
    """Many sessions of one Context, by peer DID.

    establish() and resume() return the live session with that peer when
    there is one, else start a new one; get() finds one (inbound ones too)."""

    def __init__(self, ctx: Context, config: SessionConfig | None = None) -> None:
        self.ctx = _context(ctx)
        self.config = _config(config)

    def establish(self, peer_did: str, config: SessionConfig | None = None) -> Session:
        existing = self.get(peer_did)
        if existing is not None and existing.state != State.FAILED:
            return existing
        return establish(peer_did, config or self.config, self.ctx)

    def resume(self, peer_did: str, stored: StoredSession | bytes, config: SessionConfig | None = None) -> Session:
        existing = self.get(peer_did)
        if existing is not None and existing.state != State.FAILED:
            return existing
        return resume(peer_did, stored, self.ctx, config or self.config)

    def get(self, peer_did: str) -> Session | None:
        """The most recent live session with peer_did, or None."""
        for s in reversed(self.ctx.sessions):
            if s.peer_did == peer_did:
                return s
        return None

    def all(self) -> list[Session]:
        """Every live session of the context."""
        return self.ctx.sessions

    def tick(self) -> list[Session]:
        """tick() for every session of the context."""
        return tick(self.all(), self.ctx)

    def close_all(self) -> None:
        for s in self.all():
            s.close()

    def __len__(self) -> int:
        return len(self.ctx.sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(self.all())


__all__ = [
    "AuthenticationFailed", "Context", "DecodeError", "DIDNotFound", "Event", "HandshakeRequest",
    "InvalidConfig", "InvalidState", "KeyRotationFailed", "LengthError", "MessageDelivered",
    "MessageReceived", "QueueFull", "Session", "SessionAccepted", "SessionClosed", "SessionConfig",
    "SessionError", "SessionManager", "State", "StateChanged", "StoredSession", "SystemClock", "Timeout",
    "TransportChanged", "TransportFailed", "accept", "establish", "resume", "tick", "transition_table",
]
