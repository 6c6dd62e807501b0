"""l2sess.Node: a gateway node on real sockets, driven by the C event loop.

The engine and transports run in C (csrc/include/l2s_loop.h) on a thread of their own
with the GIL released; this class is the small control API around them:
start/stop, connect(did, address), send, events, status. Peers are named by
DID. `python -m l2sess.node` is the command-line node (l2sess.node.cli).
"""
from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import NamedTuple, TypedDict, Unpack, cast

from l2sess import _core
from l2sess.did import did_from_public_key, public_key_from_did
from l2sess.errors import InvalidState, Timeout
from l2sess.identity import Identity
from l2sess.node.metrics import format_metrics
from l2sess.node.status import NodeStatus, PeerStatus, SessionStatus
from l2sess.session import SessionConfig

__all__ = ["Address", "LoopSettings", "Node", "NodeEvent", "NodeStatus", "PeerStatus", "SessionStatus",
           "parse_address"]

# A peer's or a listener's address: "host:port", "[v6]:port" or (host, port); numeric hosts only.
Address = str | tuple[str, int]


class LoopSettings(TypedDict, total=False):
    """The event loop's tunables (struct l2s_loop_params), each optional; 0 or
    absent: the C default. Times in ms."""

    happy_eyeballs_ms: int
    path_timeout_ms: int
    quic_retry_ms: int
    reconnect_base_ms: int
    reconnect_max_ms: int
    event_queue_limit: int
    quic_idle_timeout_ms: int
    quic_keepalive_ms: int
    max_sessions: int
    handshake_rate_per_s: int
    handshake_work_per_s: int
    memory_budget: int
    quic_max_connections: int
    tcp_max_connections: int


# Control events kept for inspection (Node.recent), newest last; messages and
# deliveries are not kept (their payloads would hold memory for nothing).
RECENT_EVENTS = 1000


class NodeEvent(NamedTuple):
    """One event of the node: kind is 'state', 'accepted', 'message',
    'delivered', 'warning', 'transport', 'closed', 'peer_error', 'inbox' (the
    inbox failed for the peer's messages, error the errno; or, error 0, works
    again) or 'refused' (a DID this node does not serve authenticated; it was
    turned away). session is this node's handle for the session, session_id
    (hex) the name both sides and status use, None until keys exist.

    Immutable. A named tuple, not a frozen dataclass: one is made per
    message and per delivery, and a frozen dataclass takes five times as
    long to make (1.4 µs), which showed in a session's message rate."""

    kind: str
    did: str
    session: int
    time_ms: int
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    seq: int = 0
    transport: str | None = None
    error: int = 0
    data: bytes | None = None
    session_id: str | None = None

    def audit(self) -> dict[str, object]:
        """The event as an audit-log record: no payload, no secrets."""
        d: dict[str, object] = {"event": self.kind, "did": self.did}
        if self.session_id is not None:
            d["session_id"] = self.session_id
        for name in ("from_state", "to_state", "reason", "transport"):
            value = getattr(self, name)
            if value is not None:
                d[name] = value
        if self.kind in ("message", "delivered"):
            d["seq"] = self.seq
        if self.kind == "peer_error":
            d["error"] = _core.strerror(self.error)
        if self.kind == "inbox":
            d["inbox"] = f"refusing messages: {os.strerror(self.error)}" if self.error else "writing again"
        return d


def parse_address(text: Address) -> tuple[str, int]:
    """'127.0.0.1:4433' or '[::1]:4433' (or a (host, port) tuple) as (host, port)."""
    if isinstance(text, tuple):
        return text
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"address {text!r} is not host:port")
    return host.strip("[]"), int(port)


class Node:
    """A node: one identity, a listening QUIC (UDP) and μTCP (TCP) port, its peers
    and their sessions.

    Node(identity, listen=("127.0.0.1", 0), config=None, *, accept_any=False,
         no_quic=False, no_utcp=False, inbox=None, inbox_max_bytes=0, inbox_keep=1,
         inbox_sync=True, **loop_settings)

    config is the SessionConfig of every session; inbox, a path: every
    delivered message is appended there (PROTOCOL.md §12) before it is
    acknowledged, and with inbox_sync it is on the disk (fdatasync) first;
    the inbox rotates before it passes inbox_max_bytes (0: never), keeping
    inbox_keep older files (inbox.1 the newest); loop_settings are l2s_loop_params tunables in ms
    (happy_eyeballs_ms, path_timeout_ms, quic_retry_ms, ...)."""

    def __init__(self, identity: Identity, listen: Address | None = ("127.0.0.1", 0),
                 config: SessionConfig | None = None, *, accept_any: bool = False, no_quic: bool = False,
                 no_utcp: bool = False, inbox: str | None = None, inbox_max_bytes: int = 0, inbox_keep: int = 1,
                 inbox_sync: bool = True, **loop_settings: Unpack[LoopSettings]) -> None:
        if not isinstance(identity, Identity):
            raise TypeError(f"identity must be an Identity, not {type(identity).__name__}")
        self.identity = identity
        self.config = config if config is not None else SessionConfig()
        if inbox is not None:  # an OSError naming the file, before the loop opens it as it would
            os.close(os.open(inbox, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600))
        # The handshake counter only has to grow across restarts (the peer
        # refuses a replayed one): microseconds of the wall clock do, as
        # WireGuard's TAI64N timestamp does, without a file to keep.
        counter = time.time_ns() // 1000
        self._loop = _core.Loop(identity.secret_key, identity.prekey_seed, identity.prekey_not_after,
                                identity.storage_key, parse_address(listen) if listen else None,
                                self.config.to_c(), handshake_counter=counter, no_quic=no_quic,
                                no_utcp=no_utcp, accept_any=accept_any, inbox=inbox,
                                inbox_max_bytes=inbox_max_bytes, inbox_keep=inbox_keep, inbox_sync=inbox_sync,
                                previous_prekey_seed=identity.previous_prekey[0] if identity.previous_prekey
                                else None, **loop_settings)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.recent: collections.deque[NodeEvent] = collections.deque(maxlen=RECENT_EVENTS)
        self._dids: dict[bytes, str] = {}

    # ---- life cycle -------------------------------------------------------------

    def start(self) -> "Node":
        """Runs the loop on a background thread."""
        if self._thread is not None:
            raise InvalidState("the node is already started")
        self._thread = threading.Thread(target=self._run, name=f"l2sess-loop-{self.did[-8:]}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._loop.run()
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def halt(self) -> None:
        """Stops the loop thread but keeps the loop (export still works); stop() frees it."""
        if self._thread is not None:
            self._loop.stop()
            self._thread.join()
            self._thread = None

    def stop(self) -> None:
        """Stops the loop and closes every connection politely; sessions are not
        closed, so they can be resumed (export them first to keep them)."""
        self.halt()
        self._loop.close()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> "Node":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- what it is ---------------------------------------------------------------

    @property
    def did(self) -> str:
        return self.identity.did

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): QUIC and discovery on UDP, μTCP on TCP."""
        address = self._loop.address()
        if address is None:  # bound, so never: an AF_INET or AF_INET6 address
            raise InvalidState("the node has no address")
        return address

    @property
    def bundle(self) -> bytes:
        """This node's signed prekey bundle."""
        return self._loop.bundle()

    def renew_prekey(self, identity: Identity) -> None:
        """Takes identity's prekey (Identity.renewed() of this node's) as the
        current one; the one it replaces stays accepted as the previous."""
        if identity.public_key != self.identity.public_key:
            raise ValueError("renew_prekey: that is another identity")
        self._loop.renew_prekey(identity.prekey_seed, identity.prekey_not_after)
        self.identity = identity

    # ---- peers and sessions ---------------------------------------------------------

    def add_peer(self, did: str, address: Address | None = None, connect: bool = False,
                 bundle: bytes | None = None) -> None:
        """Knows a peer: its sessions are accepted; with connect=True this node keeps
        a session to it. bundle, a cached prekey bundle, saves in-band discovery;
        with connect=True the handshake's own work (~0.2 ms: the bundle's check,
        the ephemeral key and encapsulation) is then done in this thread, without
        the GIL, while the loop connects."""
        pk = public_key_from_did(did)
        addr = parse_address(address) if address else None
        if bundle is None:
            self._loop.add_peer(pk, addr, connect)
            return
        # Known before connecting, so the first attempt uses it.
        self._loop.add_peer(pk, addr, False)
        self._loop.set_peer_bundle(pk, bundle)
        if connect:
            # The handshake's own work is done here while the loop connects.
            self._loop.connect_prepared(pk)

    def connect(self, did: str, address: Address, bundle: bytes | None = None) -> None:
        """Keeps a session to did at address (host:port): QUIC first, μTCP as fallback."""
        self.add_peer(did, address, True, bundle)

    def send(self, did: str, data: bytes) -> int:
        """Queues data for the peer; returns its seq (a 'delivered' event follows).
        Raises QueueFull (nothing dropped) or InvalidState (no session yet)."""
        return self._loop.send(public_key_from_did(did), data)

    def send_many(self, did: str, messages: Sequence[bytes]) -> list[int]:
        """Queues messages for the peer in order, with one lock and one wake-up of the
        loop for all of them (cheaper than send() each for small messages). Returns the
        seqs of the messages accepted, a prefix of `messages`: it stops at the first
        that the full send queue refuses (no QueueFull is raised; send the rest again
        after 'delivered' events made room; [] when nothing fitted). Raises LengthError
        (nothing queued) for a message above the payload limit, InvalidState when
        there is no session yet."""
        return self._loop.send_many(public_key_from_did(did), messages)

    def rotate(self, did: str) -> None:
        """Starts a key rotation of the session with did now."""
        self._loop.rotate(public_key_from_did(did))

    def close_peer(self, did: str) -> None:
        self._loop.close_peer(public_key_from_did(did))

    def export(self, did: str) -> bytes:
        """The session with did as a sealed StoredSession."""
        return self._loop.export(public_key_from_did(did))

    def import_session(self, stored: bytes, delivered_upto: int = 0) -> None:
        """Resumes a StoredSession once its peer (added first) is reachable."""
        self._loop.import_session(stored, delivered_upto)

    def set_delivered(self, did: str, stream: str, upto: int) -> None:
        """Messages of the peer's stream (hex) with seq <= upto were delivered
        before a restart (the inbox holds them): not delivered again."""
        self._loop.set_delivered(public_key_from_did(did), bytes.fromhex(stream), upto)

    # ---- events ---------------------------------------------------------------------

    def next_event(self, timeout: float | None = None) -> NodeEvent | None:
        """The next event, waiting up to timeout seconds (None: for ever)."""
        t = self._loop.next_event()
        if t is None:
            if not self._loop.wait_event(self._wait_ms(timeout)):
                return None
            t = self._loop.next_event()
            if t is None:
                return None
        return self._event(t)

    def next_events(self, max_events: int = 256, timeout: float | None = None) -> list[NodeEvent]:
        """Up to max_events events, oldest first: those waiting now, or when none does the
        first that comes within timeout seconds (None: for ever) and those with it.
        [] on timeout. Cheaper per event than next_event() for a busy session."""
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, got {max_events}")
        ts = self._loop.next_events(max_events)
        if not ts and self._loop.wait_event(self._wait_ms(timeout)):
            ts = self._loop.next_events(max_events)
        return [self._event(t) for t in ts]

    @staticmethod
    def _wait_ms(timeout: float | None) -> int:
        return -1 if timeout is None else max(0, int(timeout * 1000))

    def _event(self, t: _core._LoopEvent) -> NodeEvent:
        kind, pk, session, time_ms, fr, to, reason, seq, transport, error, data, session_id = t
        did = self._dids.get(pk)
        if did is None:
            did = self._dids.setdefault(pk, did_from_public_key(pk))
        ev = NodeEvent(kind, did, session, time_ms, fr, to, reason, seq, transport, error, data, session_id)
        if kind not in ("message", "delivered"):
            self.recent.append(ev)
        return ev

    def events(self, timeout: float | None = None) -> Iterator[NodeEvent]:
        """Yields events as they come; ends after timeout seconds without one."""
        while (ev := self.next_event(timeout)) is not None:
            yield ev

    def wait_for(self, pred: Callable[[NodeEvent], bool], timeout: float) -> NodeEvent:
        """The first event for which pred(event) is true. Raises l2sess.Timeout (also a
        TimeoutError) when none came within timeout seconds; the events that did not
        match are consumed (and the control ones kept in `recent`)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(f"no matching event within {timeout} s")
            ev = self.next_event(left)
            if ev is not None and pred(ev):
                return ev

    # ---- status ---------------------------------------------------------------------

    def peers(self) -> list[PeerStatus]:
        """Every peer (configured, or inbound) and its session."""
        out: list[PeerStatus] = []
        for raw in self._loop.peers():
            p = dict(raw)
            p["did"] = did_from_public_key(p.pop("pk"))
            if p["address"] is not None:
                p["address"] = f"{p['address'][0]}:{p['address'][1]}"
            out.append(cast(PeerStatus, p))
        return out

    def status(self) -> NodeStatus:
        """A JSON-ready snapshot: identity, address, peers and their sessions, counters."""
        host, port = self.address
        return {"did": self.did, "address": f"{host}:{port}", "peers": self.peers(), "stats": self._loop.stats()}

    def metrics(self) -> str:
        """The counters in Prometheus text exposition format."""
        return format_metrics(self.status())
