"""Delivery across disturbances (PROTOCOL.md §5 "Delivery"): exactly once, in order.

Real engine and crypto, two Contexts over a seeded MockNetwork, time on a
ManualClock moved from deadline to deadline (l2sess.testing.mock.run/run_until):

* 10,000 messages (and 1,000 the other way) while three key rotations run,
  over a link with 5 % loss, reordering, jitter and duplicates: every payload
  arrives once, in order;
* a 10-minute partition with 1,000 queued messages: degraded -> suspended ->
  (retries) -> established again, read from the audit events, then all 1,000
  arrive once, in order;
* a full send queue refuses with QueueFull (count and byte limits) and loses
  nothing it accepted;
* a peer that resumes from a ticket without delivery state (it had closed the
  session) continues the stream where it stands (SYNC).
"""
import random
from pathlib import Path

import pytest

from l2sess import (
    Context,
    Identity,
    InvalidState,
    MessageDelivered,
    MessageReceived,
    QueueFull,
    SessionConfig,
    SessionError,
    State,
    StateChanged,
    establish,
)
from l2sess.testing.mock import ManualClock, MockNetwork, MockResolver, run, run_until

EST, DEG, SUS = State.ESTABLISHED, State.DEGRADED, State.SUSPENDED
HS_INIT, FAILED, ROT = State.HANDSHAKE_INITIATED, State.FAILED, State.ROTATING


class Pair:
    """alice and bob on one MockNetwork; alice establishes a session with bob."""

    def __init__(self, seed, config=None, **link):
        self.clock = ManualClock(1_000.0)
        self.net = MockNetwork(self.clock, seed=seed, **link)
        self.resolver = MockResolver()
        self.seed, self.config = seed, config
        self.ctx = {}
        for name in ("alice", "bob"):
            self.start(name, Identity.from_seed(f"test_delivery {name}".encode().ljust(32, b".")))
        self.a = establish(self.ctx["bob"].identity.did, config or SessionConfig(), self.ctx["alice"])
        assert self.until(lambda: self.a.state == EST and self.ctx["bob"].sessions
                          and self.ctx["bob"].sessions[0].state == EST, 10)
        self.b = self.ctx["bob"].sessions[0]

    def start(self, name, ident):
        """Starts a node: a transport at its address, a Context."""
        t = self.net.transport(name, "quic")
        self.resolver.register(ident, [t])
        self.ctx[name] = Context(ident, [t], self.resolver, self.clock,
                                 deterministic_seed=f"{name} {self.seed}".encode().ljust(32, b"."),
                                 accept_config=self.config)

    def run(self, seconds):
        run(list(self.ctx.values()), seconds, self.clock)

    def until(self, predicate, timeout):
        return run_until(list(self.ctx.values()), predicate, timeout, self.clock)


def received(session):
    return [e.data for e in session.events if isinstance(e, MessageReceived)]


def received_seqs(session):
    return [e.seq for e in session.events if isinstance(e, MessageReceived)]


def acked(session):
    return [e.seq for e in session.events if isinstance(e, MessageDelivered)]


def transitions(session):
    return [(e.from_state, e.to_state, e.reason) for e in session.events if isinstance(e, StateChanged)]


def documented(session):
    """Every transition of the session is a row (from, to, reason) of the table in
    docs/STATE_MACHINE.md."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "STATE_MACHINE.md").read_text(encoding="utf-8")
    rows = set()
    for line in doc.split("## Transitions", 1)[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and line.lstrip().startswith("| `"):
            rows.add((cells[0], cells[1], cells[3]))
    got = {(f.value, t.value, r) for f, t, r in transitions(session)}
    assert got <= rows, f"not in docs/STATE_MACHINE.md: {sorted(got - rows)}"
    return True


def payloads(tag, n, seed):
    """n distinct payloads of 0..300 random bytes after an index."""
    rng = random.Random(seed)
    return [b"%s %05d|" % (tag, i) + rng.randbytes(rng.randrange(0, 300)) for i in range(n)]


def test_10000_messages_through_three_rotations_over_a_lossy_reordering_link():
    p = Pair(seed=5, latency=0.020, jitter=0.010, loss=0.05, reorder=0.10, duplicate=0.01)
    a_out = payloads(b"a->b", 10_000, 1)
    b_out = payloads(b"b->a", 1_000, 2)
    # who rotates once that many of alice's messages are in: alice, bob, alice
    rotations = [(2_500, p.a), (5_000, p.b), (7_500, p.a)]
    i = j = 0
    while i < len(a_out) or rotations:
        for _ in range(100):
            if i == len(a_out):
                break
            try:
                assert p.a.send(a_out[i]) == i + 1
            except QueueFull:
                break
            i += 1
        for _ in range(10):
            if j < len(b_out):
                assert p.b.send(b_out[j]) == j + 1
                j += 1
        if rotations and i >= rotations[0][0]:
            try:
                rotations[0][1].rotate()
                rotations.pop(0)
            except InvalidState:
                pass  # the session is busy with another exchange: next round
        p.run(0.025)
    assert p.until(lambda: len(received(p.b)) == len(a_out) and len(received(p.a)) == len(b_out)
                   and p.a.info()["queued"] == 0 and p.b.info()["queued"] == 0, 120)
    p.run(15)  # key_grace and anything else still pending

    assert received(p.b) == a_out
    assert received(p.a) == b_out
    assert received_seqs(p.b) == list(range(1, len(a_out) + 1))
    assert sorted(acked(p.a)) == list(range(1, len(a_out) + 1))
    assert sorted(acked(p.b)) == list(range(1, len(b_out) + 1))
    # three rotations, each complete; nothing else happened to either session
    rot = [(ROT, EST, "rotation_complete")]
    # (each asked for by the test: rotate(), not the schedule)
    asked = (EST, ROT, "rotation_requested")
    assert transitions(p.a)[2:] == [asked] + rot + [asked] + rot
    assert transitions(p.b)[2:] == [asked] + rot
    assert p.a.info()["rotations"] == p.b.info()["rotations"] == 3  # both ends count each one
    assert p.a.state == EST and p.b.state == EST
    assert documented(p.a) and documented(p.b)
    # the link really was bad
    st = p.net.stats
    assert st["lost"] > 1_000 and st["reordered"] > 1_000 and st["duplicated"] > 100, st


def test_ten_minute_partition_with_1000_queued_messages():
    p = Pair(seed=7, latency=0.020, jitter=0.005)
    p.run(1.0)
    out = payloads(b"queued", 1_000, 3)
    p.net.partition(True)
    t_p = p.clock.now()
    assert [p.a.send(m) for m in out] == list(range(1, 1_001))
    p.run(600)
    assert received(p.b) == [] and p.a.info()["queued"] == 1_000
    p.net.partition(False)
    assert p.until(lambda: len(received(p.b)) == 1_000 and p.a.info()["queued"] == 0, 300)
    p.run(5)

    assert received(p.b) == out
    assert received_seqs(p.b) == list(range(1, 1_001))
    assert sorted(acked(p.a)) == list(range(1, 1_001))
    for s in (p.a, p.b):
        tr = transitions(s)[2:]  # after establishment
        # degraded -> suspended -> retries -> established
        assert tr[:3] == [(EST, DEG, "connectivity_lost"), (DEG, SUS, "timeout"), (SUS, HS_INIT, "retry")], tr
        middle, last = tr[3:-1], tr[-1]
        assert last[1] == EST, tr
        for k, step in enumerate(middle):
            assert step in ((HS_INIT, FAILED, "timeout"), (FAILED, HS_INIT, "retry_with_backoff")), tr
            assert step[0] == (HS_INIT if k % 2 == 0 else FAILED), tr
        assert s.state == EST and documented(s)
    # alice's times: degraded at its first heartbeat timeout (>30 s without
    # connectivity), suspended 60 s later, the first retry 60 s after that
    times = [e.time for e in p.a.events if isinstance(e, StateChanged)][2:5]
    assert 30 < times[0] - t_p <= 62
    assert times[1] - times[0] == pytest.approx(60, abs=1e-6)
    assert times[2] - times[1] == pytest.approx(60, abs=1e-6)


def test_full_queue_refuses_and_loses_nothing_accepted():
    cfg = SessionConfig(send_queue_limit=100)
    p = Pair(seed=9, config=cfg, latency=0.020, loss=0.05)
    first = payloads(b"first", 150, 4)
    accepted = []
    for m in first:  # all at one instant: nothing can be acknowledged meanwhile
        try:
            accepted.append((p.a.send(m), m))
        except QueueFull as exc:
            assert isinstance(exc, SessionError)
            assert "send queue full" in str(exc) and "nothing accepted before was dropped" in str(exc)
            refused = exc
            break
    assert [seq for seq, _ in accepted] == list(range(1, 101))
    assert refused is not None and p.a.info()["queued"] == 100
    for m in first[100:]:  # still full: every further message is refused too
        with pytest.raises(QueueFull):
            p.a.send(m)
    assert p.a.state == EST and p.a.info()["next_send_seq"] == 101
    assert p.until(lambda: len(received(p.b)) == 100 and p.a.info()["queued"] == 0, 60)
    assert received(p.b) == [m for _, m in accepted]
    # room again once acknowledged; the refused ones were not sent, seq goes on from 101
    later = first[100:]
    assert [p.a.send(m) for m in later] == list(range(101, 151))
    assert p.until(lambda: len(received(p.b)) == 150, 60)
    assert received(p.b) == first
    assert received_seqs(p.b) == list(range(1, 151))


def test_full_queue_by_bytes():
    cfg = SessionConfig(send_queue_bytes_limit=10_000)
    p = Pair(seed=11, config=cfg, latency=0.020)
    big = [bytes([i]) * 3_000 for i in range(5)]
    assert [p.a.send(m) for m in big[:3]] == [1, 2, 3]  # 9,000 bytes queued
    with pytest.raises(QueueFull):
        p.a.send(big[3])  # 12,000 > 10,000
    assert p.a.send(b"x" * 1_000) == 4  # exactly 10,000: still accepted
    with pytest.raises(QueueFull):
        p.a.send(b"y")
    assert p.until(lambda: len(received(p.b)) == 4, 10)
    assert received(p.b) == big[:3] + [b"x" * 1_000]


def test_stream_continues_when_the_peer_resumes_a_session_it_had_closed():
    """bob closes the session but his CLOSE is lost: alice keeps sending, her session
    degrades and resumes with the ticket bob gave her. bob's node, which kept nothing
    of the session, opens the ticket and learns where alice's stream stands from her
    SYNC (PROTOCOL.md §5): the messages sent after the close arrive, once, in order."""
    p = Pair(seed=13, latency=0.020)
    before = payloads(b"before", 50, 5)
    for m in before:
        p.a.send(m)
    assert p.until(lambda: len(received(p.b)) == 50 and p.a.info()["queued"] == 0, 10)
    p.net.partition(True)
    p.b.close()
    p.run(0.1)
    p.net.partition(False)
    assert not p.ctx["bob"].sessions and p.a.state == EST
    after = payloads(b"after", 50, 6)
    assert [p.a.send(m) for m in after] == list(range(51, 101))
    assert p.until(lambda: p.ctx["bob"].sessions and p.ctx["bob"].sessions[0].state == EST
                   and p.a.state == EST and p.a.info()["queued"] == 0, 300)
    b = p.ctx["bob"].sessions[0]
    assert b is not p.b and b.session_id == p.a.session_id
    assert received(b) == after
    assert received_seqs(b) == list(range(51, 101))
    assert b.send(b"and back") == 1
    assert p.until(lambda: received(p.a) == [b"and back"], 5)
