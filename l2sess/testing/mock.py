"""Test doubles for the sans-IO session API: ManualClock, MockResolver,
MockNetwork / MockTransport, and helpers that drive contexts through time.

Nothing here sleeps: time is a ManualClock that the test (or run()/
run_until()) moves. The network is seeded: the same seed, parameters and
sequence of calls give the same deliveries, losses, reorderings and
duplicates.

    clock = ManualClock()
    net = MockNetwork(clock, seed=1, latency=0.010, loss=0.01)
    quic = MockTransport(net, "alice", kind="quic")      # or net.transport("alice")
    ...
    run_until([ctx_a, ctx_b], lambda: s.state == State.ESTABLISHED, timeout=1.0)
"""
from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from l2sess.errors import DIDNotFound
from l2sess.identity import DIDDocument, Endpoints, Identity

if TYPE_CHECKING:
    from l2sess.session import Context, TimeSource

# interceptor(kind, source, destination, data) -> the bytes to send instead, or None to drop
Interceptor = Callable[[str, str, str, bytes], "bytes | bytearray | memoryview | None"]
# (time, kind, source, destination, data, outcome)
TraceEntry = tuple[float, str, str, str, bytes, str]


class _Clock(Protocol):
    def now(self) -> float: ...


class _SettableClock(_Clock, Protocol):
    def set(self, t: float) -> float: ...

__all__ = ["ManualClock", "MockNetwork", "MockResolver", "MockTransport", "run", "run_until", "settle"]


def _seconds(value: object, name: str, allow_zero: bool = True) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (not allow_zero and value == 0):
        raise ValueError(f"{name} must be a finite, {'non-negative' if allow_zero else 'positive'} "
                         f"number of seconds, got {value!r}")
    return float(value)


def _probability(value: object, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a probability, not {type(value).__name__}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return float(value)


class ManualClock:
    """The injectable TimeSource: now() returns seconds that only move when
    told to (advance() or set()); it never goes backwards.

    The session layer also reads it as Unix seconds for prekey-bundle
    expiry: with ManualClock(start) a bundle must expire after start
    (Identity.from_seed's default expiry is in 2096; Identity.generate(now=start)
    dates its bundle from start)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = _seconds(start, "start")

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Moves the clock forward by seconds (>= 0); returns the new time."""
        self._now += _seconds(seconds, "seconds")
        return self._now

    def set(self, t: float) -> float:
        """Sets the clock to t, which must not be earlier than now()."""
        t = _seconds(t, "t")
        if t < self._now:
            raise ValueError(f"a ManualClock does not go backwards ({t} < {self._now})")
        self._now = t
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now})"


class MockResolver:
    """DID -> DIDDocument from a table the test fills; an unknown DID raises DIDNotFound."""

    def __init__(self, documents: Iterable[DIDDocument] = ()) -> None:
        self._docs: dict[str, DIDDocument] = {}
        for doc in documents:
            self.register(doc)

    def register(self, document: DIDDocument | Identity, endpoints: Endpoints | None = None) -> DIDDocument:
        """Adds a DIDDocument, or the document of an Identity (with endpoints:
        {kind: address} or transports). Returns the document."""
        if isinstance(document, Identity):
            document = document.document(endpoints)
        elif endpoints is not None:
            raise TypeError("endpoints only go with an Identity")
        if not isinstance(document, DIDDocument):
            raise TypeError(f"register takes a DIDDocument or an Identity, not {type(document).__name__}")
        self._docs[document.id] = document
        return document

    def remove(self, did: str) -> None:
        self._docs.pop(did, None)

    def resolve(self, did: str) -> DIDDocument:
        if not isinstance(did, str):
            raise TypeError(f"did must be a str, not {type(did).__name__}")
        try:
            return self._docs[did]
        except KeyError:
            raise DIDNotFound(f"no DID document for {did}") from None

    def __contains__(self, did: object) -> bool:
        return did in self._docs


_LINK = ("latency", "jitter", "loss", "reorder", "duplicate", "reorder_delay")


class MockNetwork:
    """A simulated datagram network on a ManualClock.

    MockNetwork(clock, seed=0, latency=0.0, jitter=0.0, loss=0.0, reorder=0.0,
                duplicate=0.0, reorder_delay=None, record=False)

    A datagram sent at time t is delivered at t + latency ± jitter (never
    before t), lost with probability loss, held back by up to reorder_delay
    more seconds with probability reorder (so later datagrams overtake it;
    default reorder_delay: twice the latency, at least 5 ms), and delivered
    twice (the copy with its own delay) with probability duplicate. The
    randomness is one random.Random(seed), drawn the same number of times
    for every datagram. Endpoints are (kind, address): a "quic" transport
    reaches only "quic" endpoints. partition(True) drops all traffic (also
    what is in flight) and every transport reports itself down.
    record=True keeps a trace of every datagram: (time, kind, source,
    destination, data, outcome). interceptor, when set, is called as
    interceptor(kind, source, destination, data) for every datagram that
    would be sent and returns the bytes to send instead, or None to drop it
    (an attacker on the path, for security tests)."""

    def __init__(self, clock: TimeSource, seed: int | float | str | bytes | None = 0, latency: float = 0.0,
                 jitter: float = 0.0, loss: float = 0.0, reorder: float = 0.0, duplicate: float = 0.0,
                 reorder_delay: float | None = None, record: bool = False,
                 interceptor: Interceptor | None = None) -> None:
        if not hasattr(clock, "now"):
            raise TypeError("clock must have now()")
        self.clock = clock
        self.seed = seed
        self.random = random.Random(seed)
        self.link = _link_params(latency=latency, jitter=jitter, loss=loss, reorder=reorder, duplicate=duplicate,
                                 reorder_delay=reorder_delay)
        self.partitioned = False
        self.interceptor = interceptor
        self.record = bool(record)
        self.trace: list[TraceEntry] = []
        self.stats = {"sent": 0, "delivered": 0, "lost": 0, "duplicated": 0, "reordered": 0,
                      "dropped_partition": 0, "dropped_failed": 0, "dropped_unreachable": 0,
                      "intercepted": 0}
        self._endpoints: dict[tuple[str, str], MockTransport] = {}
        # (kind, address) -> heap of (deliver_at, order, source, data)
        self._queues: dict[tuple[str, str], list[tuple[float, int, str, bytes]]] = {}
        self._order = 0

    def transport(self, address: str, kind: str = "quic", **link: float | None) -> MockTransport:
        """A new MockTransport on this network (see MockTransport)."""
        return MockTransport(self, address, kind, **link)

    def partition(self, on: bool = True) -> None:
        """Drops all traffic while on (and what is in flight when it is delivered)."""
        self.partitioned = bool(on)

    def _trace(self, kind: str, source: str, dest: str, data: bytes | bytearray | memoryview,
               outcome: str) -> None:
        if self.record:
            self.trace.append((self.clock.now(), kind, source, dest, bytes(data), outcome))

    def _send(self, sender: MockTransport, dest: str, data: bytes | bytearray | memoryview) -> None:
        link = sender.link
        r = self.random
        lost, jitter, reordered, extra, duplicated, jitter2 = (r.random(), r.uniform(-1.0, 1.0), r.random(),
                                                              r.random(), r.random(), r.uniform(-1.0, 1.0))
        key = (sender.kind, dest)
        now = self.clock.now()
        self.stats["sent"] += 1
        if self.partitioned or sender.isolated:
            self.stats["dropped_partition"] += 1
            return self._trace(sender.kind, sender.address, dest, data, "partition")
        if sender.failed:
            self.stats["dropped_failed"] += 1
            return self._trace(sender.kind, sender.address, dest, data, "failed")
        if key not in self._endpoints:
            self.stats["dropped_unreachable"] += 1
            return self._trace(sender.kind, sender.address, dest, data, "unreachable")
        if self.interceptor is not None:
            changed = self.interceptor(sender.kind, sender.address, dest, bytes(data))
            if changed is None:
                self.stats["intercepted"] += 1
                return self._trace(sender.kind, sender.address, dest, data, "intercepted")
            if not isinstance(changed, (bytes, bytearray, memoryview)):
                raise TypeError("the interceptor must return bytes or None")
            data = bytes(changed)
        if lost < link["loss"]:
            self.stats["lost"] += 1
            return self._trace(sender.kind, sender.address, dest, data, "lost")
        delay = max(0.0, link["latency"] + jitter * link["jitter"])
        outcome = "sent"
        if reordered < link["reorder"]:
            delay += extra * link["reorder_delay"]
            self.stats["reordered"] += 1
            outcome = "reordered"
        self._enqueue(key, now + delay, sender.address, data)
        if duplicated < link["duplicate"]:
            self.stats["duplicated"] += 1
            self._enqueue(key, now + max(0.0, link["latency"] + jitter2 * link["jitter"]), sender.address, data)
            outcome += "+duplicate"
        self._trace(sender.kind, sender.address, dest, data, outcome)

    def _enqueue(self, key: tuple[str, str], at: float, source: str, data: bytes | bytearray | memoryview) -> None:
        self._order += 1
        heapq.heappush(self._queues.setdefault(key, []), (at, self._order, source, bytes(data)))

    def _deliver(self, receiver: MockTransport, now: float) -> list[tuple[str, bytes]]:
        q = self._queues.get((receiver.kind, receiver.address))
        out = []
        while q and q[0][0] <= now:
            _, _, source, data = heapq.heappop(q)
            if self.partitioned or receiver.isolated:
                self.stats["dropped_partition"] += 1
            elif receiver.failed:
                self.stats["dropped_failed"] += 1
            else:
                self.stats["delivered"] += 1
                out.append((source, data))
        return out

    def _next(self, receiver: MockTransport) -> float | None:
        q = self._queues.get((receiver.kind, receiver.address))
        return q[0][0] if q else None


def _link_params(**kw: float | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in ("latency", "jitter"):
        out[name] = _seconds(kw[name], name)
    for name in ("loss", "reorder", "duplicate"):
        out[name] = _probability(kw[name], name)
    rd = kw.get("reorder_delay")
    out["reorder_delay"] = max(2 * out["latency"], 0.005) if rd is None else _seconds(rd, "reorder_delay")
    return out


class MockTransport:
    """One endpoint of a MockNetwork: MockTransport(network, address, kind="quic",
    *, latency=None, jitter=None, loss=None, reorder=None, duplicate=None,
    reorder_delay=None). The link parameters given here replace the
    network's for datagrams this endpoint sends.

    kind: "quic" (primary) or "utcp" (fallback), or any other name.
    fail()/restore(): the transport stops working (sends and deliveries
    dropped, is_up() false) and comes back. partition(on): this endpoint
    alone is cut off. close(): frees the address (a restarted node makes a
    new transport at the same address)."""

    def __init__(self, network: MockNetwork, address: str, kind: str = "quic", *, latency: float | None = None,
                 jitter: float | None = None, loss: float | None = None, reorder: float | None = None,
                 duplicate: float | None = None, reorder_delay: float | None = None) -> None:
        if not isinstance(network, MockNetwork):
            raise TypeError(f"network must be a MockNetwork, not {type(network).__name__}")
        if not isinstance(address, str) or not address:
            raise TypeError("address must be a non-empty str")
        if not isinstance(kind, str) or not kind:
            raise TypeError("kind must be a non-empty str")
        if (kind, address) in network._endpoints:
            raise ValueError(f"{kind} address {address!r} is in use")
        self.network = network
        self.address = address
        self.kind = kind
        given = dict(latency=latency, jitter=jitter, loss=loss, reorder=reorder, duplicate=duplicate,
                     reorder_delay=reorder_delay)
        merged: dict[str, float | None] = {k: (network.link[k] if v is None else v) for k, v in given.items()}
        if reorder_delay is None and latency is not None:
            merged["reorder_delay"] = None
        self.link = _link_params(**merged)
        self.failed = False
        self.isolated = False
        self.closed = False
        network._endpoints[(kind, address)] = self

    def send(self, dest: str, data: bytes | bytearray | memoryview) -> None:
        """Sends one datagram to dest (an address of this transport's kind)."""
        if self.closed:
            raise ValueError("the transport is closed")
        if not isinstance(dest, str):
            raise TypeError(f"dest must be an address (str), not {type(dest).__name__}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        self.network._send(self, dest, data)

    def receive(self, now: float | None = None) -> list[tuple[str, bytes]]:
        """Every datagram delivered up to now (default: the clock's now), in
        delivery order: [(source address, data)]."""
        if self.closed:
            return []
        return self.network._deliver(self, self.network.clock.now() if now is None else now)

    def next_delivery(self) -> float | None:
        """When the next datagram for this endpoint arrives (seconds), or None."""
        return None if self.closed else self.network._next(self)

    def is_up(self) -> bool:
        return not (self.failed or self.isolated or self.closed or self.network.partitioned)

    def fail(self) -> None:
        self.failed = True

    def restore(self) -> None:
        self.failed = False

    def partition(self, on: bool = True) -> None:
        self.isolated = bool(on)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.network._endpoints.get((self.kind, self.address)) is self:
                del self.network._endpoints[(self.kind, self.address)]

    def __repr__(self) -> str:
        return f"<MockTransport {self.kind} {self.address}{' down' if not self.is_up() else ''}>"


# ---- driving contexts through time --------------------------------------------------------------

def _contexts(contexts: Iterable[Context]) -> list[Context]:
    contexts = list(contexts)
    if not contexts:
        raise ValueError("no contexts")
    return contexts


def settle(contexts: Iterable[Context], max_rounds: int = 10_000) -> int:
    """Ticks every context at the current time until no datagram is due and no
    node has a timer due now. Returns the number of rounds."""
    from l2sess.session import tick

    contexts = _contexts(contexts)
    for rounds in range(1, max_rounds + 1):
        for ctx in contexts:
            tick(None, ctx)
        now = contexts[0].time.now()
        if all((d := ctx.next_deadline()) is None or d > now for ctx in contexts):
            return rounds
    raise RuntimeError(f"the contexts did not settle in {max_rounds} rounds")


def run(contexts: Iterable[Context], duration: float, clock: _SettableClock | None = None) -> float:
    """Moves the ManualClock (default: the first context's clock) forward by
    duration, stopping at every deadline of every context (engine timers,
    deliveries) to tick them all. Returns the new time."""
    contexts = _contexts(contexts)
    clock = clock or _settable(contexts[0].time)
    end = clock.now() + _seconds(duration, "duration")
    run_until(contexts, lambda: False, duration, clock)
    if clock.now() < end:
        clock.set(end)
    settle(contexts)
    return clock.now()


def _settable(clock: TimeSource) -> _SettableClock:
    if not hasattr(clock, "set"):
        raise TypeError(f"the contexts' clock ({type(clock).__name__}) cannot be set: give a ManualClock")
    return clock  # type: ignore[return-value]  # it has set()


def run_until(contexts: Iterable[Context], predicate: Callable[[], object], timeout: float,
              clock: _SettableClock | None = None) -> bool:
    """Like run(), but stops as soon as predicate() is true (checked after
    every step). Returns True when it became true within timeout seconds."""
    contexts = _contexts(contexts)
    clock = clock or _settable(contexts[0].time)
    end = clock.now() + _seconds(timeout, "timeout")
    settle(contexts)
    while True:
        if predicate():
            return True
        now = clock.now()
        times = [d for ctx in contexts if (d := ctx.next_deadline()) is not None]
        nxt = min(times) if times else None
        if nxt is None or nxt > end:
            if now < end:
                clock.set(end)
                settle(contexts)
            return bool(predicate())
        clock.set(max(nxt, now + 0.001) if nxt <= now else nxt)
        settle(contexts)
