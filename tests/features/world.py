"""The test world of the scenarios: named nodes (each an Identity, a QUIC and a
μTCP MockTransport and a Context) on one seeded MockNetwork, a MockResolver
that has their DID documents, one ManualClock, and a reading of the
network's trace (every datagram with its send time and fate).

Nothing here sleeps: time moves only through l2sess.testing.mock.run/run_until,
which stop at every engine deadline and every delivery.
"""
import hashlib
from dataclasses import dataclass
from pathlib import Path

from l2sess import Context, Identity, MessageReceived, SessionConfig, State, StateChanged, establish
from l2sess.testing.mock import ManualClock, MockNetwork, MockResolver, run, run_until, settle

# Message types (PROTOCOL.md §2) and sizes of TRANSPORT messages by frame
# (§5: 16-byte header, the frame, a 16-byte tag).
HANDSHAKE_INIT, HANDSHAKE_RESP, COOKIE_REPLY, TRANSPORT, RESUME_INIT, RESUME_RESP = 1, 2, 3, 4, 5, 6
HANDSHAKE_INIT_BYTES, HANDSHAKE_RESP_BYTES = 2504, 1244
TRANSPORT_OVERHEAD = 16 + 16
CONFIRM_BYTES = TRANSPORT_OVERHEAD + 1
HEARTBEAT_BYTES = TRANSPORT_OVERHEAD + 1 + 8        # HEARTBEAT and HEARTBEAT_REPLY
ROTATE_INIT_BYTES = TRANSPORT_OVERHEAD + 1 + 4 + 4 + 1216
ROTATE_RESP_BYTES = TRANSPORT_OVERHEAD + 1 + 4 + 4 + 1120
DATA_OVERHEAD = TRANSPORT_OVERHEAD + 1 + 8            # + payload

START = 1_000.0  # the ManualClock's start (seconds)
EPS = 1e-6       # times are whole milliseconds; compare floats with this
AFTER = 0.0005   # since=t + AFTER: strictly after t


STATE_MACHINE_DOC = Path(__file__).resolve().parents[2] / "docs" / "STATE_MACHINE.md"


def documented_transitions():
    """{(from, to, reason)} of the table in docs/STATE_MACHINE.md ("[*]" for the end).
    Closing is any state -> [*] with reason "closed" (the doc's "Closing")."""
    text = STATE_MACHINE_DOC.read_text(encoding="utf-8").split("## Transitions", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in text.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and line.lstrip().startswith("| `"):
            rows.add((cells[0], cells[1], cells[3]))
    assert len(rows) >= 16, rows
    return rows


def seed_of(*words):
    return hashlib.blake2s("/".join(words).encode()).digest()


@dataclass(frozen=True)
class Datagram:
    """One entry of the MockNetwork trace."""

    time: float
    kind: str
    source: str
    dest: str
    data: bytes
    outcome: str

    @property
    def type(self):
        return self.data[1]

    @property
    def size(self):
        return len(self.data)

    @property
    def receiver_index(self):
        """TRANSPORT: the key pair the receiver is told to use (bytes 4..8)."""
        assert self.type == TRANSPORT
        return int.from_bytes(self.data[4:8], "big")

    @property
    def counter(self):
        """TRANSPORT: the frame counter, the AEAD nonce (bytes 8..16)."""
        assert self.type == TRANSPORT
        return int.from_bytes(self.data[8:16], "big")

    @property
    def delivered(self):
        return self.outcome.startswith(("sent", "reordered"))


class Node:
    """One node: identity, transports (QUIC primary, μTCP fallback), context."""

    def __init__(self, world, name, kinds=("quic", "utcp")):
        self.world = world
        self.name = name
        self.identity = Identity.from_seed(seed_of("identity", name))
        self.transports = {k: world.net.transport(f"{name}/{k}", k) for k in kinds}
        self.address = {k: t.address for k, t in self.transports.items()}
        world.resolver.register(self.identity, list(self.transports.values()))
        self.ctx = self._context()

    def _context(self, handshake_counter=0):
        return Context(self.identity, list(self.transports.values()), self.world.resolver, self.world.clock,
                       deterministic_seed=seed_of("rng", self.name, str(handshake_counter)),
                       handshake_counter=handshake_counter)

    @property
    def did(self):
        return self.identity.did

    def restart(self):
        """The node's process restarts: its engine state is gone (nothing is sent),
        the identity and the handshake counter are kept, the transports are new."""
        counter = self.ctx.handshake_counter
        self.world.contexts.remove(self.ctx)
        for kind, t in list(self.transports.items()):
            t.close()
            self.transports[kind] = self.world.net.transport(t.address, kind)
        self.ctx = self._context(counter)
        self.world.contexts.append(self.ctx)

    def go_offline(self):
        """The node stops: its transports close, its address is unreachable."""
        self.world.contexts.remove(self.ctx)
        for t in self.transports.values():
            t.close()

    def session_with(self, other):
        """The live session of this node with `other` (the newest one)."""
        found = [s for s in self.ctx.sessions if s.peer_did == other.did]
        assert found, f"{self.name} has no session with {other.name}"
        return found[-1]


class World:
    """Nodes on one MockNetwork with one ManualClock."""

    def __init__(self, seed=1, latency=0.0, **link):
        self.clock = ManualClock(START)
        self.net = MockNetwork(self.clock, seed=seed, latency=latency, record=True, **link)
        self.latency = latency
        self.resolver = MockResolver()
        self.nodes = {}
        self.contexts = []
        self.notes = {}  # what one step leaves for a later one

    def add(self, name):
        node = Node(self, name)
        self.nodes[name] = node
        self.contexts.append(node.ctx)
        return node

    def __getitem__(self, name):
        return self.nodes[name]

    @property
    def now(self):
        return self.clock.now()

    # ---- time ----

    def settle(self):
        settle(self.contexts)

    def run(self, seconds):
        return run(self.contexts, seconds, self.clock)

    def run_to(self, t):
        """Runs until the clock reads t (every deadline on the way is handled)."""
        assert t >= self.now - EPS, (t, self.now)
        if t > self.now:
            run(self.contexts, t - self.now, self.clock)
        else:
            self.settle()

    def run_until(self, predicate, timeout):
        return run_until(self.contexts, predicate, timeout, self.clock)

    # ---- the wire ----

    def wire(self, since=None, until=None, source=None, dest=None, type=None, size=None, kind=None):
        """The trace, filtered: source/dest are Nodes (any of their transports)."""
        out = []
        for t, k, src, dst, data, outcome in self.net.trace:
            d = Datagram(t, k, src, dst, data, outcome)
            if since is not None and t < since - EPS:
                continue
            if until is not None and t > until + EPS:
                continue
            if source is not None and src not in source.address.values():
                continue
            if dest is not None and dst not in dest.address.values():
                continue
            if type is not None and d.type != type:
                continue
            if size is not None and d.size != size:
                continue
            if kind is not None and k != kind:
                continue
            out.append(d)
        return out

    def last_arrival(self, node):
        """When the last datagram delivered to node arrived (fixed latency, no jitter)."""
        got = [d for d in self.wire(dest=node) if d.delivered]
        assert got, f"nothing was delivered to {node.name}"
        return got[-1].time + self.latency

    # ---- driving a session ----

    def establish(self, a, b, config=None):
        """a establishes a session with b; returns (a's session, b's session) once
        both are established and the network is quiet."""
        s = establish(b.did, config or SessionConfig(), a.ctx)
        assert self.run_until(lambda: s.state == State.ESTABLISHED and self._accepted(b, a) is not None
                              and self._accepted(b, a).state == State.ESTABLISHED, 2.0), s.events
        self.run(0.5)
        return s, b.session_with(a)

    @staticmethod
    def _accepted(b, a):
        found = [s for s in b.ctx.accepted() if s.peer_did == a.did]
        return found[-1] if found else None


def transitions(session, since=None):
    """The session's StateChanged events (since a time), as (from, to, reason, time)."""
    return [(e.from_state, e.to_state, e.reason, e.time) for e in session.events
            if isinstance(e, StateChanged) and (since is None or e.time >= since - EPS)]


def last_transition(session):
    got = transitions(session)
    assert got, f"no transition recorded for {session!r}"
    return got[-1]


def received(session):
    """Every payload the session received so far, in order (MessageReceived events)."""
    return [e.data for e in session.events if isinstance(e, MessageReceived)]
