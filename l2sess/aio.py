"""l2sess.aio: the gateway node for asyncio programs.

The C event loop is driven by the asyncio event loop itself, with no thread
of its own and none per call: the loop's epoll fd is an asyncio reader and
its next timer an asyncio timer; either runs one round of the C loop
(`run_once(0)`, which never waits) and then hands the round's events to the
sessions and tasks awaiting them. So the I/O stays at the edge, in C, and
this module only moves events to awaiting tasks.

    async with await l2sess.aio.connect(identity, peer_did, "127.0.0.1:4433") as session:
        seq = await session.send(b"hello")        # waits while the send queue is full
        await session.delivered(seq)              # the peer acknowledged it
        reply = await session.recv(timeout=5)     # l2sess.Timeout after 5 s

A server:

    async with l2sess.aio.Node(identity, ("0.0.0.0", 4433), accept_any=True) as node:
        async for session in node.sessions():     # each inbound session, once established
            ...

Backpressure. `Session.send` waits while the engine's bounded send queue is
full (until the peer's acknowledgements make room, or its timeout passes:
l2sess.Timeout); `Session.send_nowait` raises l2sess.QueueFull instead.
Received events wait in each session's queue (and in each `Node.events()`
iterator's) for their reader; while one of these holds `buffer` events, the
node takes no more events from the C loop, whose own bounded queue then
stops it reading the transports, so a slow reader slows its peers instead
of growing memory. That holds every session of the node: read each
session's events (recv() or events()) while the node runs.

Timeouts are seconds (None: no limit) and raise l2sess.Timeout. A task
cancelled while it waits leaves the node as it was. Everything here belongs
to the event loop the node was started on: call it from that loop's thread.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import TypeVar, Unpack

from l2sess.did import public_key_from_did
from l2sess.errors import FAILURE_ERRORS, InvalidState, QueueFull, SessionError, Timeout
from l2sess.identity import Identity
from l2sess.node.node import Address, LoopSettings, NodeEvent, NodeStatus, PeerStatus
from l2sess.node.node import Node as _SyncNode
from l2sess.session import SessionConfig, State

__all__ = ["DEFAULT_BUFFER", "DEFAULT_CONNECT_TIMEOUT", "Node", "Session", "connect"]

# Events one reader's queue holds before the node stops taking events from C.
DEFAULT_BUFFER = 1024
# connect() gives up after this long: the handshake is retried with backoff
# meanwhile, so a peer that is not there would otherwise be awaited for ever.
DEFAULT_CONNECT_TIMEOUT = 30.0
# Events taken from the C loop per call (one lock each).
_BATCH = 256

_T = TypeVar("_T")


def _state(name: str | None) -> State | None:
    """The State of a loop event's to_state; None when the session left the machine."""
    try:
        return State(name) if name is not None else None
    except ValueError:  # "[*]": closed or cleaned up
        return None


class Session:
    """One peer's session on an asyncio `Node`: made by `Node.connect`, offered by
    `Node.accept` / `Node.sessions`, or returned by `l2sess.aio.connect` (which
    owns its node: closing the session closes it). Peers are named by DID."""

    def __init__(self, node: Node, did: str, *, inbound: bool) -> None:
        self.node = node
        self.did = did
        self.inbound = inbound
        self.state: State | None = None
        self.transport: str | None = None
        self._pk = public_key_from_did(did)
        self._queue: collections.deque[NodeEvent] = collections.deque()
        self._handle = 0
        self._delivered_upto = 0
        self._rotations = 0
        self._failures = 0
        self._failure: str | None = None
        self._closed = False
        self._closed_by_peer = False
        self._offered = False
        self._owns_node = False
        self._send_lock = asyncio.Lock()

    # ---- what it is ---------------------------------------------------------------

    @property
    def peer_did(self) -> str:
        """The peer's DID (the same as `did`)."""
        return self.did

    @property
    def closed(self) -> bool:
        """True once closed here, by the peer, or with its node."""
        return self._closed or self.node.closed

    @property
    def failure_reason(self) -> str | None:
        """Why the session last failed ("timeout", "authentication_failed", ...)
        while it is failed, else None. The node keeps reconnecting a peer it
        connected to, so failed is not final here."""
        return self._failure if self.state == State.FAILED else None

    def info(self) -> PeerStatus | None:
        """The node's view of this peer (as `l2sess.Node.peers()` gives it), or None."""
        for p in self.node.peers():
            if p["did"] == self.did:
                return p
        return None

    # ---- data -----------------------------------------------------------------------

    def send_nowait(self, data: bytes) -> int:
        """Queues data for the peer and returns its seq. Raises QueueFull when the
        send queue is full (or another task is waiting in send()), InvalidState when
        there is no session (yet, or any more), LengthError above the payload limit."""
        self._require_open("send")
        if self._send_lock.locked():
            raise QueueFull(f"send to {self.did}: other sends are waiting for room")
        return self.node._loop.send(self._pk, data)

    async def send(self, data: bytes, *, timeout: float | None = None) -> int:
        """Queues data for the peer and returns its seq (a 'delivered' event and
        delivered(seq) follow). While the send queue is full it waits for room,
        in the order the sends were called; l2sess.Timeout after timeout seconds
        (the message was then not queued). InvalidState when there is no session."""
        async with self._send_lock:
            def attempt() -> int | None:
                self._require_open("send")
                try:
                    return self.node._loop.send(self._pk, data)
                except QueueFull:
                    return None

            return await self.node._until(attempt, timeout, f"send to {self.did}: no room")

    async def send_many(self, messages: Sequence[bytes], *, timeout: float | None = None) -> list[int]:
        """Queues every message in order (one lock and one wake-up of the loop per
        batch the queue takes) and returns their seqs; waits for room as send() does.
        On l2sess.Timeout, a prefix of the messages may have been queued."""
        seqs: list[int] = []
        async with self._send_lock:
            def attempt() -> bool | None:
                self._require_open("send")
                seqs.extend(self.node._loop.send_many(self._pk, messages[len(seqs):]))
                return True if len(seqs) == len(messages) else None

            await self.node._until(attempt, timeout, f"send to {self.did}: no room")
        return seqs

    async def delivered(self, seq: int, *, timeout: float | None = None) -> None:
        """Returns once the peer has acknowledged message seq of the current session
        (acknowledgements are cumulative). l2sess.Timeout after timeout seconds."""
        def done() -> bool | None:
            if self._delivered_upto >= seq:
                return True
            self._require_open("delivered")
            return None

        await self.node._until(done, timeout, f"delivery of {seq} to {self.did}")

    async def next_event(self, *, timeout: float | None = None) -> NodeEvent:
        """The next event of this peer (a NodeEvent: state, message, delivered, ...).
        InvalidState once the session is closed and its events are read."""
        return await self.node._until(lambda: self._take(None), timeout, f"an event from {self.did}")

    async def recv(self, *, timeout: float | None = None) -> bytes:
        """The next message from the peer, in order, exactly once. The events before
        it in the session's queue are dropped (recv() and events() read one queue).
        InvalidState once the session is closed and its messages are read."""
        ev = await self.node._until(lambda: self._take("message"), timeout, f"a message from {self.did}")
        return ev.data if ev.data is not None else b""

    async def events(self) -> AsyncIterator[NodeEvent]:
        """This peer's events as they come; ends when the session is closed."""
        while True:
            try:
                ev = await self.next_event()
            except InvalidState:
                return
            yield ev

    def pending(self) -> int:
        """How many events wait in the session's queue."""
        return len(self._queue)

    # ---- control ----------------------------------------------------------------------

    async def wait_established(self, *, timeout: float | None = None) -> None:
        """Returns once the session is established (at once when it is)."""
        def done() -> bool | None:
            if self.state == State.ESTABLISHED:
                return True
            self._require_open("wait_established")
            return None

        await self.node._until(done, timeout, f"session with {self.did} established")

    async def rotate(self, *, timeout: float | None = None) -> None:
        """Rotates the session's keys now and returns once it is established on the
        new ones. InvalidState unless established with no exchange in flight;
        KeyRotationFailed (or the error of another failure) when the session failed
        meanwhile; l2sess.Timeout after timeout seconds."""
        rotations, failures = self._rotations, self._failures
        self._require_open("rotate")
        self.node._loop.rotate(self._pk)

        def done() -> bool | None:
            if self._rotations > rotations:
                return True
            if self._failures > failures:
                reason = self._failure or "failed"
                raise FAILURE_ERRORS.get(reason, SessionError)(f"rotation with {self.did}: {reason}")
            self._require_open("rotate")
            return None

        await self.node._until(done, timeout, f"rotation with {self.did}")

    def close(self) -> None:
        """Closes the session (CLOSE to the peer) and stops connecting to the peer;
        a session from l2sess.aio.connect() closes its node too. Closing twice does
        nothing."""
        if not self._closed and not self.node.closed:
            with contextlib.suppress(InvalidState):  # no session in the loop: nothing to close
                self.node._loop.close_peer(self._pk)
        self._end()
        if self._owns_node:
            self.node.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else (self.state.value if self.state else "none")
        return f"<aio.Session {self.did} {state}>"

    # ---- from the node ------------------------------------------------------------------

    def _require_open(self, what: str) -> None:
        if self.node.closed:
            raise InvalidState(f"{what}: the node is closed")
        if self._closed:
            by = " by the peer" if self._closed_by_peer else ""
            raise InvalidState(f"{what}: the session with {self.did} is closed{by}")

    def _take(self, kind: str | None) -> NodeEvent | None:
        """The next queued event (of kind, dropping others before it), or None;
        InvalidState when there is none and none will come."""
        q = self._queue
        while q:
            full = len(q) >= self.node.buffer
            ev = q.popleft()
            if full:
                self.node._room()
            if kind is None or ev.kind == kind:
                return ev
        self._require_open("receive")
        return None

    def _end(self) -> None:
        if not self._closed:
            self._closed = True
            self.node._forget(self)
            self.node._wake()

    def _on_event(self, ev: NodeEvent) -> None:
        if ev.kind in ("state", "accepted", "message", "delivered") and ev.session and ev.session != self._handle:
            # A new session with the peer: its seqs are its own.
            self._handle = ev.session
            self._delivered_upto = 0
        if ev.transport is not None:
            self.transport = ev.transport
        if ev.kind == "state":
            self.state = _state(ev.to_state)
            if ev.from_state == "rotating" and self.state == State.ESTABLISHED:
                self._rotations += 1
            if self.state == State.FAILED:
                self._failures += 1
                self._failure = ev.reason
        elif ev.kind == "delivered":
            self._delivered_upto = max(self._delivered_upto, ev.seq)
        self._queue.append(ev)
        if ev.kind == "closed":
            self._closed_by_peer = True
            self._closed = True
            self.node._forget(self)


class Node:
    """A node (one identity, a QUIC and μTCP port, its peers and their sessions)
    driven by the running asyncio event loop.

    Takes the arguments of `l2sess.Node` (identity, listen, config, accept_any,
    no_quic, no_utcp, inbox..., loop settings) and buffer, the events a reader's
    queue holds before the node stops taking more (see the module's
    backpressure note). `await node.start()` or `async with node` attaches it to
    the running loop; close() detaches it and closes its sockets and fd."""

    def __init__(self, identity: Identity, listen: Address | None = ("127.0.0.1", 0),
                 config: SessionConfig | None = None, *, accept_any: bool = False, no_quic: bool = False,
                 no_utcp: bool = False, inbox: str | None = None, inbox_max_bytes: int = 0, inbox_keep: int = 1,
                 inbox_sync: bool = True, buffer: int = DEFAULT_BUFFER, **loop_settings: Unpack[LoopSettings]) -> None:
        if not isinstance(buffer, int) or buffer < 1:
            raise ValueError(f"buffer must be a positive int, got {buffer!r}")
        # The threaded node's constructor, status and event decoding; never started.
        self._node = _SyncNode(identity, listen, config, accept_any=accept_any, no_quic=no_quic,
                               no_utcp=no_utcp, inbox=inbox, inbox_max_bytes=inbox_max_bytes,
                               inbox_keep=inbox_keep, inbox_sync=inbox_sync, **loop_settings)
        self._loop = self._node._loop
        self.buffer = buffer
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._error: BaseException | None = None
        self._sessions: dict[str, Session] = {}
        self._offers: collections.deque[Session] = collections.deque()
        self._subscribers: list[collections.deque[NodeEvent]] = []
        self._waiters: set[asyncio.Future[None]] = set()
        self._room_scheduled = False

    # ---- life cycle -----------------------------------------------------------------

    async def start(self) -> Node:
        """Attaches the node to the running event loop (its fd as a reader, its timer)."""
        if self._closed:
            raise InvalidState("the node is closed")
        if self._aloop is not None:
            raise InvalidState("the node is already started")
        self._aloop = asyncio.get_running_loop()
        self._fd = self._loop.poll_fd()
        self._aloop.add_reader(self._fd, self._round)
        self._round()
        return self

    def close(self) -> None:
        """Detaches the node from the event loop, sends what is queued (a CLOSE),
        closes every connection politely (sessions not closed stay resumable) and
        the loop's fd. Every task waiting on the node gets InvalidState. Closing
        twice does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._aloop is not None:
            self._aloop.remove_reader(self._fd)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            with contextlib.suppress(SessionError, OSError):
                self._loop.run_once(0)  # what close_peer() queued leaves before the sockets close
        self._node.stop()
        for s in list(self._sessions.values()):
            s._closed = True
        self._sessions.clear()
        self._wake()

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> Node:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()

    # ---- what it is -------------------------------------------------------------------

    @property
    def identity(self) -> Identity:
        return self._node.identity

    @property
    def did(self) -> str:
        return self._node.did

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): QUIC and discovery on UDP, μTCP on TCP."""
        return self._node.address

    @property
    def bundle(self) -> bytes:
        """This node's signed prekey bundle."""
        return self._node.bundle

    def peers(self) -> list[PeerStatus]:
        """Every peer as a dict (as `l2sess.Node.peers()`)."""
        return self._node.peers()

    def status(self) -> NodeStatus:
        """A JSON-ready snapshot (as `l2sess.Node.status()`)."""
        return self._node.status()

    def metrics(self) -> str:
        """The counters in Prometheus text exposition format."""
        return self._node.metrics()

    # ---- peers and sessions ---------------------------------------------------------------

    def add_peer(self, did: str, address: Address | None = None, *, bundle: bytes | None = None) -> Session:
        """Knows a peer without connecting to it: its sessions are accepted (without
        accept_any), and its Session collects their events from now on."""
        self._require_open()
        self._node.add_peer(did, address, False, bundle)
        return self._session(did, inbound=True)

    async def connect(self, did: str, address: Address, *, bundle: bytes | None = None,
                      timeout: float | None = DEFAULT_CONNECT_TIMEOUT) -> Session:
        """Keeps a session to did at address (QUIC first, μTCP as fallback) and returns
        it once established. On l2sess.Timeout the node keeps trying (close() the
        session from `session(did)` to stop)."""
        self._require_open()
        self._node.add_peer(did, address, True, bundle)
        s = self._session(did, inbound=False)
        await s.wait_established(timeout=timeout)
        return s

    def session(self, did: str) -> Session | None:
        """The open Session with did, or None."""
        return self._sessions.get(did)

    async def accept(self, *, timeout: float | None = None) -> Session:
        """The next session a peer opened to this node, once established, each once."""
        def offered() -> Session | None:
            while self._offers:
                s = self._offers.popleft()
                if not s.closed:
                    return s
            self._require_open()
            return None

        return await self._until(offered, timeout, "an inbound session")

    async def sessions(self) -> AsyncIterator[Session]:
        """Every session peers open to this node, as accept() returns them; ends
        when the node is closed."""
        while True:
            try:
                s = await self.accept()
            except InvalidState:
                return
            yield s

    async def serve(self, handler: Callable[[Session], Awaitable[None]]) -> None:
        """Runs handler(session) in a task of its own for every inbound session (the
        session is closed when the handler returns) until the node is closed or this
        call is cancelled, which cancels the handlers too."""
        tasks: set[asyncio.Task[None]] = set()

        async def run(s: Session) -> None:
            async with s:
                await handler(s)

        try:
            async for s in self.sessions():
                t = asyncio.get_running_loop().create_task(run(s))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
        finally:
            for t in list(tasks):
                t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    # ---- node events -------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[NodeEvent]:
        """Every event of the node (all peers) from the first iteration on; ends when
        the node is closed. Sessions get their peers' events too, independently."""
        q: collections.deque[NodeEvent] = collections.deque()
        self._subscribers.append(q)
        try:
            while True:
                def take() -> NodeEvent | None:
                    if q:
                        if len(q) >= self.buffer:
                            self._room()
                        return q.popleft()
                    self._require_open()
                    return None

                try:
                    ev = await self._until(take, None, "an event")
                except InvalidState:
                    return
                yield ev
        finally:
            self._subscribers.remove(q)
            self._room()

    async def wait_for(self, pred: Callable[[NodeEvent], bool], timeout: float | None) -> NodeEvent:
        """The first event from now on for which pred(event) is true; l2sess.Timeout
        after timeout seconds."""
        async def first() -> NodeEvent:
            async for ev in self.events():
                if pred(ev):
                    return ev
            raise InvalidState("the node is closed")

        try:
            async with asyncio.timeout(timeout):
                return await first()
        except TimeoutError as exc:
            if isinstance(exc, SessionError):
                raise
            raise Timeout(f"no matching event within {timeout} s") from None

    # ---- driving the C loop ----------------------------------------------------------------

    def _round(self) -> None:
        """One round of the C loop (it does not wait), then its events, then the timer."""
        if self._closed or self._aloop is None:
            return
        try:
            self._loop.run_once(0)
            self._drain()
            ms = self._loop.poll_timeout()  # also registers the sockets the round opened
        except BaseException as exc:  # epoll failed: nothing more will come
            self._error = exc
            self.close()
            raise
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._aloop.call_later(ms / 1000, self._round) if ms >= 0 else None

    def _paused(self) -> bool:
        return any(len(s._queue) >= self.buffer for s in self._sessions.values()) or \
            any(len(q) >= self.buffer for q in self._subscribers)

    def _drain(self) -> None:
        """Takes the C loop's events while every reader has room, and wakes the waiters."""
        took = False
        while not self._paused():
            batch = self._loop.next_events(_BATCH)
            for t in batch:
                self._dispatch(self._node._event(t))
            took = took or bool(batch)
            if len(batch) < _BATCH:
                break
        if took:
            self._wake()

    def _room(self) -> None:
        """A reader made room: take what waits in C at the next turn of the event loop."""
        if not self._room_scheduled and self._aloop is not None and not self._closed:
            self._room_scheduled = True

            def again() -> None:
                self._room_scheduled = False
                if not self._closed:
                    self._drain()

            self._aloop.call_soon(again)

    def _dispatch(self, ev: NodeEvent) -> None:
        for q in self._subscribers:
            q.append(ev)
        s = self._sessions.get(ev.did)
        if s is None and ev.kind == "accepted":
            s = self._session(ev.did, inbound=True)
        if s is None:
            return
        s._on_event(ev)
        if s.inbound and not s._offered and s.state == State.ESTABLISHED:
            s._offered = True
            self._offers.append(s)

    def _session(self, did: str, *, inbound: bool) -> Session:
        s = self._sessions.get(did)
        if s is None:
            s = Session(self, did, inbound=inbound)
            self._sessions[did] = s
            for p in self._node.peers():  # it may be established already
                if p["did"] == did and p["session"] is not None:
                    s.state = _state(p["session"]["state"])
                    s.transport = p["transport"]
        return s

    def _forget(self, s: Session) -> None:
        if self._sessions.get(s.did) is s:
            del self._sessions[s.did]
            self._room()

    def _require_open(self) -> None:
        if self._closed:
            raise InvalidState("the node is closed" + (f" ({self._error})" if self._error else ""))

    # ---- waiting -------------------------------------------------------------------------------

    def _wake(self) -> None:
        for f in self._waiters:
            if not f.done():
                f.set_result(None)
        self._waiters.clear()

    async def _until(self, ready: Callable[[], _T | None], timeout: float | None, what: str) -> _T:
        """ready()'s first result that is not None, checked now and after each batch of
        events; l2sess.Timeout after timeout seconds. Each waiter has a future of its
        own, so that cancelling one task cancels no other."""
        if self._aloop is None and not self._closed:
            raise InvalidState("the node is not started: await node.start() or use `async with`")
        try:
            async with asyncio.timeout(timeout):
                while (value := ready()) is None:
                    assert self._aloop is not None
                    f: asyncio.Future[None] = self._aloop.create_future()
                    self._waiters.add(f)
                    try:
                        await f
                    finally:
                        self._waiters.discard(f)
                return value
        except TimeoutError as exc:
            if isinstance(exc, SessionError):
                raise
            raise Timeout(f"{what}: not within {timeout} s") from None


async def connect(identity: Identity, peer_did: str, address: Address, *, config: SessionConfig | None = None,
                  listen: Address | None = ("127.0.0.1", 0), bundle: bytes | None = None,
                  timeout: float | None = DEFAULT_CONNECT_TIMEOUT, no_quic: bool = False, no_utcp: bool = False,
                  **loop_settings: Unpack[LoopSettings]) -> Session:
    """A session with peer_did at address on a node of its own (listening on listen,
    with config, no_quic, no_utcp and loop_settings as `Node`), once established.
    Closing the session closes the node. l2sess.Timeout when it is not established
    within timeout seconds (the node is then closed)."""
    node = Node(identity, listen, config, no_quic=no_quic, no_utcp=no_utcp, **loop_settings)
    await node.start()
    try:
        s = await node.connect(peer_did, address, bundle=bundle, timeout=timeout)
    except BaseException:
        node.close()
        raise
    s._owns_node = True
    return s
