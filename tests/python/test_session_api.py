"""The session API (SPEC-018 §5) end to end: real crypto over MockTransport,
time moved only by a ManualClock (nothing sleeps).

Two contexts establish a session, exchange messages both ways, fill a send
queue, export and resume after a restart, fall back to another transport,
ride out a partition; SessionConfig validation; typed errors for bad input;
deterministic mode's byte-identical handshakes.
"""
import dataclasses
import logging
import sys
import threading

import pytest

import l2sess
from l2sess import _core, crypto
from l2sess.errors import FAILURE_ERRORS
from l2sess.testing.mock import ManualClock, MockNetwork, MockResolver, MockTransport, run, run_until
from l2sess.session import (
    ENGINE_EPOCH_MS,
    AuthenticationFailed,
    Context,
    DecodeError,
    DIDNotFound,
    HandshakeRequest,
    InvalidConfig,
    InvalidState,
    KeyRotationFailed,
    LengthError,
    MessageDelivered,
    MessageReceived,
    QueueFull,
    Session,
    SessionAccepted,
    SessionClosed,
    SessionConfig,
    SessionError,
    SessionManager,
    State,
    StateChanged,
    StoredSession,
    Timeout,
    TransportChanged,
    TransportFailed,
    Warning,
    accept,
    establish,
    resume,
    tick,
    transition_table,
)
from l2sess.identity import DIDDocument, Identity

T0 = 1_800_000_000.0  # a Unix time in 2027: the clock also dates prekey bundles


class World:
    """Two nodes, alice and bob, on one MockNetwork, with QUIC (and optionally
    µTCP) transports, a resolver that knows both, and a shared ManualClock."""

    def __init__(self, seed=1, kinds=("quic",), deterministic=False, **link):
        self.clock = ManualClock(T0)
        self.net = MockNetwork(self.clock, seed=seed, record=True, **link)
        self.resolver = MockResolver()
        self.ids = {name: Identity.from_seed(name.encode().ljust(32, b".")) for name in ("alice", "bob")}
        self.kinds = kinds
        self.deterministic = deterministic
        self.transports = {}
        self.ctx = {}
        for name in self.ids:
            self.start(name)

    def start(self, name, **kw):
        """(Re)starts a node: new transports at the same addresses, a new Context."""
        for t in self.transports.get(name, ()):
            t.close()
        ts = [MockTransport(self.net, name, kind) for kind in self.kinds]
        self.transports[name] = ts
        self.resolver.register(self.ids[name], ts)
        seed = (name.encode() * 32)[:32] if self.deterministic else None
        self.ctx[name] = Context(self.ids[name], ts, self.resolver, self.clock, deterministic_seed=seed, **kw)
        return self.ctx[name]

    @property
    def a(self):
        return self.ctx["alice"]

    @property
    def b(self):
        return self.ctx["bob"]

    def did(self, name):
        return self.ids[name].did

    def contexts(self):
        return list(self.ctx.values())

    def run(self, seconds):
        return run(self.contexts(), seconds)

    def until(self, predicate, timeout):
        return run_until(self.contexts(), predicate, timeout)

    def connect(self, config=None):
        """alice establishes a session with bob; returns (alice's, bob's) sessions, both established."""
        s = establish(self.did("bob"), config or SessionConfig(), self.a)
        assert self.until(lambda: s.state == State.ESTABLISHED and self.b.sessions
                          and self.b.sessions[-1].state == State.ESTABLISHED, 5)
        return s, self.b.sessions[-1]


def states(session):
    return [(e.from_state, e.to_state, e.reason) for e in session.events if isinstance(e, StateChanged)]


def drain(session):
    out = []
    while (m := session.recv()) is not None:
        out.append(m)
    return out


# ---- establishment ----------------------------------------------------------------------------

def test_two_contexts_establish_a_session():
    w = World(latency=0.010)
    s = establish(w.did("bob"), SessionConfig(), w.a)
    # Scenario-001.1: the request is sent, the state is handshake_initiated
    assert isinstance(s, Session) and s.state == State.HANDSHAKE_INITIATED
    assert w.net.stats["sent"] == 1
    assert w.until(lambda: s.state == State.ESTABLISHED, 1)
    assert w.clock.now() - T0 == pytest.approx(0.020)  # one round trip
    w.run(0.1)
    (r,) = w.b.sessions
    assert w.b.accepted() == [r] and r.inbound and not s.inbound
    assert r.state == State.ESTABLISHED
    # the initiator's transitions are exactly idle -> handshake_initiated -> established
    assert states(s) == [
        (State.IDLE, State.HANDSHAKE_INITIATED, "initiate_handshake"),
        (State.HANDSHAKE_INITIATED, State.ESTABLISHED, "receive_valid_response"),
    ]
    assert states(r) == [
        (State.IDLE, State.HANDSHAKE_RECEIVED, "receive_handshake"),
        (State.HANDSHAKE_RECEIVED, State.ESTABLISHED, "send_response_ack"),
    ]
    assert [type(e) for e in r.events][:2] == [StateChanged, SessionAccepted]
    # the audit event: time, peer DID, from, to, reason
    first = s.events[0]
    assert first.time == T0 and first.peer_did == w.did("bob")
    assert r.events[0].peer_did == w.did("alice")
    # shared keys: the same session id on both sides; TTL is 24 hours
    assert s.session_id == r.session_id and s.session_id != bytes(16)
    assert s.peer_did == w.did("bob") and r.peer_did == w.did("alice")
    info = s.info()
    assert info["expires"] - info["key_established"] == pytest.approx(24 * 3600)
    assert s.failure_reason is None and s.error is None
    assert s.transport == ("quic", "bob") and r.transport == ("quic", "alice")


def test_context_capabilities():
    w = World()
    assert w.a.has("transport", "crypto", "resolver", "time")
    assert w.a.has(".net_connect", ".crypto_pqxdh", ".did_resolve", ".time")
    assert w.a.transport == tuple(w.transports["alice"])
    assert isinstance(w.a.crypto, _core.Node) and w.a.time is w.clock
    with pytest.raises(ValueError):
        w.a.has("teleport")
    bare = Context(Identity.from_seed(b"x" * 32), MockTransport(w.net, "x"), None, w.clock)
    assert not bare.has("resolver") and bare.has("transport", "time")
    with pytest.raises(InvalidState, match="resolver"):
        establish(w.did("bob"), SessionConfig(), bare)


def test_establishment_timeout_fails_and_schedules_a_retry():
    w = World()
    w.transports["bob"][0].fail()  # bob never answers
    s = establish(w.did("bob"), SessionConfig(), w.a)
    assert not w.until(lambda: s.state == State.FAILED, 4.999)
    assert w.until(lambda: s.state == State.FAILED, 0.002)
    assert s.failure_reason == "timeout"
    assert isinstance(s.error, Timeout) and isinstance(s.error, SessionError)
    assert states(s)[-1] == (State.HANDSHAKE_INITIATED, State.FAILED, "timeout")
    info = s.info()
    # exponential backoff with jitter: the first delay is drawn from [1/2, 1] x backoff_base
    assert 0.5 <= info["next_retry"] - w.clock.now() <= 1.0
    w.transports["bob"][0].restore()
    assert w.until(lambda: s.state == State.ESTABLISHED, 2)
    assert states(s)[-2:] == [(State.FAILED, State.HANDSHAKE_INITIATED, "retry_with_backoff"),
                              (State.HANDSHAKE_INITIATED, State.ESTABLISHED, "receive_valid_response")]
    assert s.failure_reason is None


def _resp_tamperer(target):
    """An interceptor that breaks the responder's signature in HANDSHAKE_RESP
    and recomputes mac1, so the response reaches the signature check."""
    mac1_key = crypto.blake3_derive_key("l2sess/1 2026-11 mac1", target)

    def intercept(kind, src, dst, data):
        if data[1] == 0x02 and len(data) == 1244:
            forged = bytearray(data)
            forged[1140] ^= 1  # inside sealed_sig
            forged[1212:1228] = crypto.blake3(bytes(forged[:1212]), key=mac1_key, length=16)
            return bytes(forged)
        return data

    return intercept


def test_authentication_failure_quarantines_the_peer():
    w = World()
    w.net.interceptor = _resp_tamperer(w.ids["alice"].public_key)
    s = establish(w.did("bob"), SessionConfig(), w.a)
    w.run(0.01)
    assert s.state == State.FAILED and s.failure_reason == "authentication_failed"
    assert isinstance(s.error, AuthenticationFailed)
    info = s.info()
    assert info["quarantined_until"] - w.clock.now() == pytest.approx(60, abs=0.01)
    assert info["next_retry"] >= info["quarantined_until"]  # no retry before the quarantine ends
    # no new handshake to the peer while it is quarantined
    with pytest.raises(AuthenticationFailed, match="quarantined"):
        establish(w.did("bob"), SessionConfig(), w.a)
    w.net.interceptor = None
    assert w.until(lambda: s.state == State.ESTABLISHED, 120)
    assert w.clock.now() - T0 >= 60


# ---- data ---------------------------------------------------------------------------------------

def test_messages_both_ways_in_order_over_a_bad_network():
    w = World(seed=7, latency=0.020, jitter=0.010, loss=0.05, reorder=0.2, duplicate=0.05)
    s, r = w.connect()
    sent_a = [b"a%04d" % i + bytes(i % 50) for i in range(300)]
    sent_b = [b"b%04d" % i for i in range(200)]
    seqs = [s.send(m) for m in sent_a]
    assert seqs == list(range(1, 301))
    assert [r.send(m) for m in sent_b] == list(range(1, 201))
    assert w.until(lambda: r.pending() == 300 and s.pending() == 200, 60)
    w.run(5)
    assert drain(r) == sent_a and drain(s) == sent_b  # in order, exactly once
    got = [e.seq for e in r.events if isinstance(e, MessageReceived)]
    assert got == list(range(1, 301))
    delivered = {e.seq for e in s.events if isinstance(e, MessageDelivered)}
    assert delivered == set(range(1, 301))
    assert w.net.stats["lost"] > 0 and w.net.stats["duplicated"] > 0 and w.net.stats["reordered"] > 0
    assert s.info()["unacked"] == 0


def test_largest_message_and_empty_message():
    w = World()
    s, r = w.connect()
    big = bytes(range(256)) * 256
    assert len(big) == 65536
    s.send(big)
    s.send(b"")
    w.run(1)
    assert drain(r) == [big, b""]
    with pytest.raises(LengthError, match="65536"):
        s.send(big + b"!")
    with pytest.raises(TypeError):
        s.send("text")
    with pytest.raises(TypeError):
        s.send(None)


def test_full_queue_raises_queue_full_and_loses_nothing():
    w = World()
    s, r = w.connect(SessionConfig(send_queue_limit=8))
    w.net.partition(True)
    seqs = [s.send(b"m%d" % i) for i in range(8)]
    with pytest.raises(QueueFull, match="8 messages") as exc:
        s.send(b"one too many")
    assert isinstance(exc.value, SessionError) and exc.value.code == _core.ERR_CODES["QUEUE_FULL"]
    assert "nothing accepted before was dropped" in str(exc.value)
    assert s.info()["queued"] == 8
    w.run(5)
    w.net.partition(False)
    w.run(30)
    assert drain(r) == [b"m%d" % i for i in range(8)]
    assert seqs == list(range(1, 9))
    assert s.send(b"room again") == 9  # acknowledged messages left the queue


def test_queue_bytes_limit():
    w = World()
    s, r = w.connect(SessionConfig(send_queue_bytes_limit=1000))
    w.net.partition(True)
    s.send(bytes(600))
    with pytest.raises(QueueFull, match="1000 bytes"):
        s.send(bytes(401))
    s.send(bytes(400))
    w.net.partition(False)
    w.run(30)
    assert [len(m) for m in drain(r)] == [600, 400]


# ---- export and resume ---------------------------------------------------------------------------

@pytest.mark.parametrize("resume_dh", [False, True], ids=["symmetric", "with-x25519-share"])
def test_export_restart_resume_within_100ms(resume_dh):
    w = World(latency=0.0)
    s, r = w.connect(SessionConfig(resume_dh=resume_dh))
    for i in range(5):
        s.send(b"before %d" % i)
    w.run(1)
    assert len(drain(r)) == 5
    # messages that are still unacknowledged when alice stops
    w.net.partition(True)
    for i in range(3):
        s.send(b"in flight %d" % i)
    stored = s.export()
    assert isinstance(stored, StoredSession)
    blob = stored.to_bytes()
    assert StoredSession.from_bytes(blob) == stored and blob[:4] == b"L2SS"
    w.net.partition(False)
    # alice restarts: new Context, same identity (its storage key opens the blob)
    ctx = w.start("alice")
    t0 = w.clock.now()
    s2 = resume(w.did("bob"), StoredSession.from_bytes(blob), ctx, SessionConfig(resume_dh=resume_dh))
    assert s2.state == State.HANDSHAKE_INITIATED
    # the RESUME_INIT (type 5): its flags byte (offset 9) says whether an X25519 share rides along
    inits = [t[4] for t in w.net.trace if t[4][:2] == b"\x01\x05"]
    assert inits and all(m[9] == int(resume_dh) for m in inits)
    assert w.until(lambda: s2.state == State.ESTABLISHED, 0.1)
    assert w.clock.now() - t0 <= 0.1
    assert states(s2) == [(State.IDLE, State.HANDSHAKE_INITIATED, "initiate_resumption"),
                          (State.HANDSHAKE_INITIATED, State.ESTABLISHED, "receive_valid_response")]
    # the same session: id kept, unacknowledged messages re-sent, sequence numbers continue
    # past the checkpoint's reserve (a stale checkpoint never reuses a seq)
    assert s2.session_id == r.session_id
    assert s2.send(b"after") == 9 + _core.DELIVERY_SEQ_RESERVE
    w.run(1)
    assert drain(r) == [b"in flight %d" % i for i in range(3)] + [b"after"]
    r.send(b"reply")
    w.run(1)
    assert drain(s2) == [b"reply"]


def test_resume_refusals():
    w = World()
    s, r = w.connect()
    stored = s.export()
    # another node's storage key cannot open it
    mallory = Identity.from_seed(b"m" * 32)
    m_ctx = Context(mallory, MockTransport(w.net, "mallory"), w.resolver, w.clock)
    with pytest.raises(AuthenticationFailed):
        resume(w.did("bob"), stored, m_ctx)
    # a stored session with bob is not a session with someone else; nothing is sent
    w.resolver.register(mallory, [MockTransport(w.net, "mallory2")])
    sent = w.net.stats["sent"]
    with pytest.raises(AuthenticationFailed, match="not did:key"):
        resume(mallory.did, stored, w.a)
    assert w.net.stats["sent"] == sent
    assert s in w.a.sessions and len(w.a.sessions) == 1
    # malformed
    with pytest.raises(DecodeError):
        StoredSession(b"XXXX" + bytes(100))
    with pytest.raises(DecodeError):
        resume(w.did("bob"), StoredSession(b"L2SS\x01" + bytes(10)), w.a)
    tampered = bytearray(stored.to_bytes())
    tampered[40] ^= 1
    with pytest.raises(AuthenticationFailed):
        resume(w.did("bob"), bytes(tampered), w.a)
    with pytest.raises(TypeError):
        resume(w.did("bob"), 42, w.a)
    # expired: past the session's TTL
    w.clock.advance(25 * 3600)
    with pytest.raises(AuthenticationFailed, match="expired"):
        resume(w.did("bob"), stored, w.a)


def test_export_needs_keys():
    w = World()
    w.transports["bob"][0].fail()
    s = establish(w.did("bob"), SessionConfig(), w.a)
    with pytest.raises(InvalidState):
        s.export()
    with pytest.raises(InvalidState):
        s.rotate()


# ---- maintenance, degradation, fallback ----------------------------------------------------------------

def test_rotation_keeps_messages_flowing():
    w = World(latency=0.005)
    s, r = w.connect()
    s.rotate()
    assert s.state == State.ROTATING
    with pytest.raises(InvalidState):
        s.rotate()  # one rotation at a time
    for i in range(20):
        s.send(b"%d" % i)
    assert w.until(lambda: s.state == State.ESTABLISHED, 1)
    w.run(1)
    assert drain(r) == [b"%d" % i for i in range(20)]
    assert s.info()["rotations"] == 1 and r.info()["rotations"] == 1
    assert states(s)[-2:] == [(State.ESTABLISHED, State.ROTATING, "rotation_requested"),
                              (State.ROTATING, State.ESTABLISHED, "rotation_complete")]
    assert states(r)[-1] == (State.HANDSHAKE_RECEIVED, State.ESTABLISHED, "send_response_ack")


def test_single_missed_heartbeat_is_a_logged_warning(caplog):
    w = World()
    s, r = w.connect()
    answered = {"drop": True}

    def drop_one_reply(kind, src, dst, data):
        # bob's first heartbeat reply (a TRANSPORT message) after 30 s of quiet is lost
        if src == "bob" and data[1] == 0x04 and w.clock.now() - T0 >= 30 and answered["drop"]:
            answered["drop"] = False
            return None
        return data

    w.net.interceptor = drop_one_reply
    with caplog.at_level(logging.WARNING, logger="l2sess"):
        w.run(65)
    warnings = [e for e in s.events if isinstance(e, Warning)]
    assert [e.reason for e in warnings] == ["missed_heartbeats"]
    assert any("missed_heartbeats" in rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING)
    assert s.state == State.ESTABLISHED  # the next heartbeat succeeded
    assert s.info()["missed_heartbeats"] == 0
    assert s.info()["expires"] > T0 + 24 * 3600  # TTL extended


def test_partition_degrades_suspends_and_recovers():
    w = World(latency=0.005)
    s, r = w.connect()
    w.run(1)
    w.net.partition(True)
    for i in range(3):
        s.send(b"queued %d" % i)
    w.run(30)
    assert s.state == State.ESTABLISHED
    w.run(1.1)
    assert s.state == State.DEGRADED  # connectivity lost for more than 30 s
    assert states(s)[-1] == (State.ESTABLISHED, State.DEGRADED, "connectivity_lost")
    w.run(60)
    assert s.state == State.SUSPENDED
    assert s.info()["queued"] == 3  # queued messages are held
    w.net.partition(False)
    assert w.until(lambda: s.state == State.ESTABLISHED and r.pending() == 3, 61)
    assert drain(r) == [b"queued %d" % i for i in range(3)]
    assert (State.SUSPENDED, State.HANDSHAKE_INITIATED, "retry") in states(s)


def test_transport_fallback_is_transparent():
    w = World(kinds=("quic", "utcp"), latency=0.005)
    s, r = w.connect()
    assert s.transport == ("quic", "bob")
    n = len(s.events)
    for i in range(5):
        s.send(b"before %d" % i)
    w.transports["alice"][0].fail()  # QUIC fails
    for i in range(5):
        s.send(b"during %d" % i)
    w.run(5)
    new = [e for e in s.events[n:] if not isinstance(e, MessageDelivered)]
    assert new == [TransportChanged(new[0].time, "utcp", "bob")]  # one event, nothing else
    assert s.transport == ("utcp", "bob") and s.state == State.ESTABLISHED
    assert drain(r) == [b"before %d" % i for i in range(5)] + [b"during %d" % i for i in range(5)]
    # the primary is tried again later
    w.transports["alice"][0].restore()
    w.run(w.a.primary_retry + 1)
    assert s.transport == ("quic", "bob")
    assert [e.transport for e in s.events if isinstance(e, TransportChanged)] == ["utcp", "quic"]
    assert all(e.to_state == State.ESTABLISHED for e in s.events[n:] if isinstance(e, StateChanged))
    s.send(b"back")
    w.run(1)
    assert drain(r) == [b"back"]


def test_responder_falls_back_too():
    w = World(kinds=("quic", "utcp"), latency=0.01)
    s, r = w.connect()
    w.transports["bob"][0].fail()  # bob's QUIC fails: bob's session moves, alice's follows
    r.send(b"from bob")
    s.send(b"from alice")
    w.run(5)
    assert r.transport == ("utcp", "alice") and s.transport == ("utcp", "bob")
    assert [e.transport for e in r.events if isinstance(e, TransportChanged)] == ["utcp"]
    assert drain(s) == [b"from bob"] and drain(r) == [b"from alice"]
    assert s.state == r.state == State.ESTABLISHED
    w.transports["bob"][0].restore()
    w.run(w.b.primary_retry + 1)
    assert r.transport == ("quic", "alice") and s.transport == ("quic", "bob")


def test_establish_over_the_fallback_when_the_primary_is_down():
    w = World(kinds=("quic", "utcp"), latency=0.01)
    w.transports["alice"][0].fail()
    s = establish(w.did("bob"), SessionConfig(), w.a)  # no tick in between
    assert s.transport == ("utcp", "bob")
    w.run(1)
    assert s.state == State.ESTABLISHED and w.b.sessions[0].transport == ("utcp", "alice")


def test_no_common_transport():
    w = World()
    carol = Identity.from_seed(b"c" * 32)
    w.resolver.register(carol, {"utcp": "carol"})
    with pytest.raises(TransportFailed, match="no endpoint"):
        establish(carol.did, SessionConfig(), w.a)


def test_close_ends_both_sides():
    w = World()
    s, r = w.connect()
    s.close()
    assert s.closed and s.state == State.ESTABLISHED  # the state it ended in
    assert states(s)[-1] == (State.ESTABLISHED, None, "closed")
    w.run(0.1)
    assert r.closed and any(isinstance(e, SessionClosed) for e in r.events)
    assert states(r)[-1] == (State.ESTABLISHED, None, "closed")
    assert w.a.sessions == [] and w.b.sessions == [] and w.b.accepted() == []
    with pytest.raises(InvalidState, match="closed"):
        s.send(b"x")
    with pytest.raises(InvalidState):
        s.export()
    with pytest.raises(InvalidState):
        s.info()
    s.close()  # closing twice does nothing


# ---- accept() -------------------------------------------------------------------------------------

def test_manual_accept_with_its_own_config():
    w = World()
    w.start("bob", auto_accept=False)
    s = establish(w.did("bob"), SessionConfig(), w.a)
    w.run(0)
    (req,) = w.b.pending_requests()
    assert isinstance(req, HandshakeRequest) and req.source == "alice" and req.data[:2] == b"\x01\x01"
    assert w.b.sessions == []
    cfg = SessionConfig(heartbeat_interval=10, heartbeat_reply_timeout=1)
    r = accept(req, cfg, w.b)
    assert r.state == State.HANDSHAKE_RECEIVED and r.config is cfg and r.inbound
    assert w.b.accepted() == [r]
    assert w.until(lambda: s.state == State.ESTABLISHED and r.state == State.ESTABLISHED, 1)
    # a replayed request is refused
    with pytest.raises(AuthenticationFailed):
        accept(req, cfg, w.b)
    with pytest.raises(DecodeError):
        accept(HandshakeRequest(b"\x01\x01\x00\x00" + bytes(10), "alice"), cfg, w.b)
    with pytest.raises(TypeError):
        accept(b"not a request", cfg, w.b)
    with pytest.raises(AuthenticationFailed):  # mac1 is wrong: junk
        accept(HandshakeRequest(b"\x01\x01\x00\x00" + bytes(2500), "alice"), cfg, w.b)


def test_tick_checks_its_sessions():
    w = World()
    s, r = w.connect()
    assert tick([s], w.a) == []
    with pytest.raises(ValueError):
        tick([r], w.a)
    with pytest.raises(TypeError):
        tick([s], "not a context")


def test_session_manager():
    w = World()
    mb = SessionManager(w.b)
    ma = SessionManager(w.a)
    s = ma.establish(w.did("bob"))
    assert ma.establish(w.did("bob")) is s  # one live session per peer
    run_until([w.a, w.b], lambda: s.state == State.ESTABLISHED, 1)
    ma.tick()
    mb.tick()
    assert mb.get(w.did("alice")) is not None and ma.get(w.did("bob")) is s
    assert ma.all() == [s] and len(mb) == 1
    ma.close_all()
    w.run(0.1)
    assert len(ma) == 0 and len(mb) == 0 and ma.get(w.did("bob")) is None


# ---- configuration ---------------------------------------------------------------------------------

def test_session_config_defaults_match_the_spec_and_the_engine():
    c = SessionConfig()
    assert (c.ttl, c.heartbeat_interval, c.heartbeat_tolerance, c.handshake_timeout, c.rotation_window) == \
        (24 * 3600, 30, 3, 5, 3600)
    assert (c.quarantine, c.heartbeat_reply_timeout, c.connectivity_timeout, c.degraded_timeout,
            c.suspended_retry, c.backoff_base, c.backoff_max, c.max_retries, c.key_grace,
            c.retransmit_timeout, c.send_queue_limit, c.reorder_window) == \
        (60, 2, 30, 60, 60, 1, 60, 0, 10, 0.2, 4096, 1024)
    assert c.to_c() == _core.config_default()
    assert SessionConfig.from_c(c.to_c()) == c
    d = dataclasses.replace(c, ttl=600, rotation_window=60)
    assert d.to_c()["ttl_ms"] == 600_000


@pytest.mark.parametrize("kwargs, match", [
    ({"rotation_window": 24 * 3600}, "rotation_window .* shorter than ttl"),
    ({"ttl": 10, "rotation_window": 10}, "rotation_window"),
    ({"heartbeat_interval": 0}, "heartbeat_interval must be at least 1 ms"),
    ({"heartbeat_interval": 2}, "heartbeat_reply_timeout .* shorter than heartbeat_interval"),
    ({"heartbeat_tolerance": 0}, "heartbeat_tolerance must be between 1 and 255"),
    ({"heartbeat_tolerance": 256}, "heartbeat_tolerance"),
    ({"handshake_timeout": 0.0001}, "handshake_timeout must be at least 1 ms"),
    ({"handshake_timeout": -1}, "handshake_timeout must be between 0"),
    ({"ttl": float("nan")}, "ttl"),
    ({"ttl": float("inf")}, "ttl"),
    ({"backoff_max": 0.5}, "backoff_max .* backoff_base"),
    ({"send_queue_limit": 0}, "send_queue_limit"),
    ({"send_queue_limit": 1 << 32}, "send_queue_limit"),
    ({"reorder_window": 0}, "reorder_window"),
    ({"rotate_after_messages": 0}, "rotate_after_messages"),
    ({"ticket_lifetime": 0}, "ticket_lifetime"),
    ({"retransmit_timeout": 0}, "retransmit_timeout"),
])
def test_session_config_validation(kwargs, match):
    with pytest.raises(InvalidConfig, match=match) as exc:
        SessionConfig(**kwargs)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("kwargs", [{"ttl": "1h"}, {"ttl": True}, {"heartbeat_tolerance": 3.0},
                                    {"max_retries": None}])
def test_session_config_types(kwargs):
    with pytest.raises(TypeError):
        SessionConfig(**kwargs)


def test_session_config_zero_is_allowed_where_the_engine_allows_it():
    SessionConfig(quarantine=0, key_grace=0, rotation_window=0, max_retries=5)


def test_engine_config_check_is_the_authority():
    with pytest.raises(InvalidConfig):
        _core.config_check({"ttl_ms": 0})
    with pytest.raises(ValueError, match="unknown config field"):
        _core.config_check({"ttl": 1})
    with pytest.raises(TypeError):
        _core.config_check({"ttl_ms": 1.5})
    with pytest.raises(ValueError):
        _core.config_check({"ttl_ms": -1})
    with pytest.raises(ValueError):
        _core.config_check({"send_queue_limit": 1 << 32})
    _core.config_check(None)


# ---- bad input: typed errors ----------------------------------------------------------------------

def test_bad_peer_dids():
    w = World()
    with pytest.raises(DecodeError):
        establish("did:web:example.com", SessionConfig(), w.a)
    with pytest.raises(DecodeError):
        establish("did:key:z" + "1" * 40, SessionConfig(), w.a)
    with pytest.raises(TypeError):
        establish(b"did:key:z6Mk", SessionConfig(), w.a)
    with pytest.raises(DIDNotFound) as exc:
        establish(Identity.from_seed(b"u" * 32).did, SessionConfig(), w.a)
    assert isinstance(exc.value, LookupError) and isinstance(exc.value, SessionError)
    with pytest.raises(TypeError):
        establish(w.did("bob"), {"ttl": 1}, w.a)
    with pytest.raises(TypeError):
        establish(w.did("bob"), SessionConfig(), None)


def test_invalid_or_expired_prekey_bundle_is_an_authentication_failure():
    w = World()
    # expired: bob's bundle expires before the clock's time
    bob = Identity.from_seed(b"b2".ljust(32, b"."), prekey_not_after=int(T0) - 1)
    w.resolver.register(bob, {"quic": "bob"})
    with pytest.raises(AuthenticationFailed, match="expired"):
        establish(bob.did, SessionConfig(), w.a)
    # a document whose bundle is signed by someone else cannot even be built
    eve = Identity.from_seed(b"e" * 32)
    with pytest.raises(AuthenticationFailed):
        DIDDocument(w.did("bob"), w.ids["bob"].public_key, eve.prekey_bundle(), {"quic": "bob"})

    # a resolver that returns a forged document is caught at establish()
    class LyingResolver:
        def resolve(self, did):
            doc = w.resolver.resolve(did)
            forged = bytearray(doc.prekey_bundle)
            forged[100] ^= 1
            object.__setattr__(doc, "prekey_bundle", bytes(forged))  # skips validation
            return doc

    ctx = Context(Identity.from_seed(b"z" * 32), MockTransport(w.net, "z"), LyingResolver(), w.clock)
    with pytest.raises(AuthenticationFailed, match="prekey bundle"):
        establish(w.did("bob"), SessionConfig(), ctx)


def test_node_arguments_are_checked_before_c():
    ident = Identity.from_seed(b"n" * 32)
    args = (ident.secret_key, ident.prekey_seed, ident.prekey_not_after, ident.storage_key, 1)
    node = _core.Node(*args)
    with pytest.raises(ValueError, match="identity_sk must be 64 bytes"):
        _core.Node(ident.secret_key[:32], *args[1:])
    with pytest.raises(ValueError, match="rng_seed must be 32 bytes"):
        _core.Node(*args, rng_seed=b"short")
    with pytest.raises(AuthenticationFailed):
        _core.Node(ident.secret_key[:32] + bytes(32), *args[1:])  # pk half does not match
    with pytest.raises(TypeError):
        _core.Node(*args[:4], "now")
    with pytest.raises(ValueError):
        _core.Node(*args[:4], -1)
    with pytest.raises(ValueError, match="handle must be non-zero"):
        node.session_info(0)
    with pytest.raises(InvalidState):
        node.session_info(12345)
    with pytest.raises(InvalidState):
        node.session_send(12345, b"x", 1)
    with pytest.raises(ValueError, match="peer_pk must be 32 bytes"):
        node.establish(b"x", bytes(1321), 0, None, 1, 1)
    with pytest.raises(ValueError, match="bundle must be 1321 bytes"):
        node.establish(bytes(32), bytes(10), 0, None, 1, 1)
    with pytest.raises(DecodeError):
        node.establish(bytes(32), bytes(1321), 0, None, 1, 1)
    with pytest.raises(LengthError, match="addr must be at most 32 bytes"):
        node.receive(1, bytes(33), b"x", 1)
    assert node.receive(1, b"a", b"junk", 1) == _core.ERR_CODES["DECODE"]
    assert node.receive(1, b"a", bytes(70000), 1) == _core.ERR_CODES["DECODE"]
    with pytest.raises(TypeError):
        node.receive(1, b"a", "text", 1)
    with pytest.raises(ValueError):
        node.tick(-5)
    with pytest.raises(DecodeError):
        node.resume(b"garbage", None, 1, 1)
    with pytest.raises(LengthError):
        node.session_send(12345, bytes(65537), 1)
    assert node.next_deadline() is None or isinstance(node.next_deadline(), int)
    assert node.drain_outputs() == [] and node.drain_events() == []
    with pytest.raises(DecodeError):
        _core.prekey_bundle_verify(bytes(5), bytes(32), 0)
    with pytest.raises(AuthenticationFailed):
        _core.prekey_bundle_verify(ident.prekey_bundle(), bytes(32), 0)
    _core.prekey_bundle_verify(ident.prekey_bundle(), ident.public_key, 0)


def test_error_code_mapping():
    codes = _core.ERR_CODES
    assert isinstance(_core.error_for(codes["LENGTH"], "x"), LengthError)
    assert isinstance(_core.error_for(codes["DECODE"], "x"), DecodeError)
    assert isinstance(_core.error_for(codes["CONFIG"], "x"), InvalidConfig)
    for name in ("AUTH", "INVALID_KEY", "EXPIRED", "REPLAY", "QUARANTINED"):
        assert isinstance(_core.error_for(codes[name], "x"), AuthenticationFailed)
    for name in ("STATE", "NOT_FOUND"):
        assert isinstance(_core.error_for(codes[name], "x"), InvalidState)
    assert isinstance(_core.error_for(codes["QUEUE_FULL"], "x"), QueueFull)
    e = _core.error_for(codes["BUSY"], "accept")
    assert type(e) is SessionError and e.code == codes["BUSY"] and "under load" in str(e)
    assert FAILURE_ERRORS["rotation_timeout"] is KeyRotationFailed
    assert all(issubclass(c, SessionError) for c in (Timeout, AuthenticationFailed, TransportFailed,
                                                      KeyRotationFailed, InvalidState, QueueFull))


# ---- deterministic mode --------------------------------------------------------------------------------

def _handshake_trace(seed_a=None):
    w = World(deterministic=True)
    if seed_a is not None:
        w.ctx["alice"] = Context(w.ids["alice"], w.transports["alice"], w.resolver, w.clock,
                                 deterministic_seed=seed_a)
    s = establish(w.did("bob"), SessionConfig(), w.a)
    assert w.until(lambda: s.state == State.ESTABLISHED, 1)
    s.send(b"hello")
    w.run(1)
    return [(t, kind, src, dst, data) for t, kind, src, dst, data, _ in w.net.trace]


def test_deterministic_mode_reproduces_handshakes_byte_for_byte():
    one, two = _handshake_trace(), _handshake_trace()
    assert one == two
    assert one[0][4][1] == 0x01 and len(one[0][4]) == 2504  # HANDSHAKE_INIT
    assert one[1][4][1] == 0x02 and len(one[1][4]) == 1244  # HANDSHAKE_RESP
    other = _handshake_trace(seed_a=b"\x99" * 32)
    assert other[0][4] != one[0][4]
    # without a seed the node draws from the system RNG
    w = World()
    s1 = establish(w.did("bob"), SessionConfig(), w.a)
    w2 = World()
    s2 = establish(w2.did("bob"), SessionConfig(), w2.a)
    assert w.net.trace[0][4] != w2.net.trace[0][4]
    assert s1.state == s2.state == State.HANDSHAKE_INITIATED


# ---- the bindings ------------------------------------------------------------------------------------

def test_transition_table_and_names():
    table = _core.transition_table()
    assert ("idle", "handshake_initiated") in table and ("failed", "[*]") in table
    assert len(table) == 16 and len(set(table)) == 16
    assert _core.STATE_NAMES[-1] == "[*]" and _core.state_name(99) == "unknown"
    assert [s.value for s in State] == list(_core.STATE_NAMES[:-1])
    assert _core.reason_name(_core.REASON_NAMES.index("authentication_failed")) == "authentication_failed"
    assert (State.SUSPENDED, None) in transition_table()
    assert _core.strerror(_core.ERR_CODES["QUEUE_FULL"]) == "send queue full"


def test_nodes_in_threads_release_the_gil():
    """Handshakes on separate nodes in four threads: all complete, and the
    threads take turns while the engine works, so its calls release the GIL.

    The interpreter's switch interval is set far above the test's length:
    then nothing takes the GIL from a thread running Python, and another
    thread gets it only when a C call releases it. Were the engine's calls
    to keep the GIL, each thread would run to its end before the next one
    started, and the log of their steps would change thread exactly 3 times."""
    nthreads, rounds = 4, 5
    # made here, so that the threads run only the handshakes
    worlds = [[World(seed=10 * i + k) for k in range(rounds)] for i in range(nthreads)]
    results, log = [], []

    def work(i):
        for w in worlds[i]:
            s = establish(w.did("bob"), SessionConfig(), w.a)
            log.append(i)
            results.append(w.until(lambda: s.state == State.ESTABLISHED, 1))
            log.append(i)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(nthreads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert results == [True] * nthreads * rounds
    changes = sum(x != y for x, y in zip(log, log[1:]))
    assert changes > nthreads - 1, f"the threads ran one after another: {log}"


def test_engine_epoch_offset():
    w = World()
    assert w.a._now_ms() == int(T0 * 1000) + ENGINE_EPOCH_MS
    clock = ManualClock(0.0)
    ctx = Context(Identity.from_seed(b"0" * 32), MockTransport(MockNetwork(clock), "zero"), None, clock)
    assert ctx._now_ms() == 1  # the engine never sees time 0


# ---- identities, documents, mocks -------------------------------------------------------------------------

def test_identity_and_did_document():
    a = Identity.from_seed(b"s" * 32)
    assert a == Identity.from_seed(b"s" * 32) and a.did.startswith("did:key:z6Mk")
    assert a.prekey_bundle() == Identity.from_seed(b"s" * 32).prekey_bundle()
    assert len(a.prekey_bundle()) == 1321 and a.prekey_not_after == l2sess.identity.DEFAULT_PREKEY_NOT_AFTER
    g = Identity.generate(now=T0)
    assert g.prekey_not_after == int(T0) + 30 * 24 * 3600 and g != a
    doc = a.document({"quic": "q.example", "utcp": "t.example"})
    assert doc.prekey_not_after == a.prekey_not_after
    back = DIDDocument.from_json(doc.to_json())
    assert back == doc and back.endpoints == {"quic": "q.example", "utcp": "t.example"}
    doc.validate(now=T0)
    with pytest.raises(AuthenticationFailed, match="expired"):
        doc.validate(now=a.prekey_not_after)
    with pytest.raises(ValueError):
        Identity.from_seed(b"short")
    with pytest.raises(TypeError):
        Identity.from_seed("x" * 32)
    with pytest.raises(DecodeError):
        DIDDocument.from_json("{not json")
    with pytest.raises(DecodeError):
        DIDDocument.from_json('{"id": "did:key:zX"}')
    d = doc.to_dict()
    d["verificationMethod"][0]["publicKeyMultibase"] = Identity.from_seed(b"o" * 32).did[8:]
    with pytest.raises(AuthenticationFailed):
        DIDDocument.from_dict(d)
    d = doc.to_dict()
    d["l2sessPrekeyBundle"] = "!!!"
    with pytest.raises(DecodeError):
        DIDDocument.from_dict(d)
    with pytest.raises(DecodeError):
        DIDDocument(doc.id, doc.public_key, doc.prekey_bundle, {"quic": ""})
    assert "seed" not in repr(a) and a.seed not in repr(a).encode()


def test_manual_clock():
    c = ManualClock()
    assert c.now() == 0.0
    assert c.advance(1.5) == 1.5
    assert c.set(10) == 10.0
    with pytest.raises(ValueError):
        c.set(9)
    with pytest.raises(ValueError):
        c.advance(-1)
    with pytest.raises(TypeError):
        c.advance("1")


def test_mock_resolver():
    r = MockResolver()
    a = Identity.from_seed(b"r" * 32)
    doc = r.register(a, {"quic": "r"})
    assert r.resolve(a.did) is doc and a.did in r
    with pytest.raises(DIDNotFound):
        r.resolve(Identity.from_seed(b"q" * 32).did)
    with pytest.raises(TypeError):
        r.resolve(None)
    r.remove(a.did)
    with pytest.raises(DIDNotFound):
        r.resolve(a.did)


def test_mock_network_is_seeded_and_reproducible():
    def trace(seed):
        clock = ManualClock()
        net = MockNetwork(clock, seed=seed, latency=0.01, jitter=0.005, loss=0.2, reorder=0.3, duplicate=0.2)
        x, y = MockTransport(net, "x"), MockTransport(net, "y")
        got = []
        for i in range(200):
            x.send("y", b"%d" % i)
            clock.advance(0.001)
            got += [(clock.now(), d) for _, d in y.receive()]
        clock.advance(1)
        got += [(clock.now(), d) for _, d in y.receive()]
        return got, dict(net.stats)

    one, two, three = trace(5), trace(5), trace(6)
    assert one == two and one != three
    got, stats = one
    assert stats["lost"] > 0 and stats["duplicated"] > 0 and stats["reordered"] > 0
    assert len(got) == stats["delivered"] == 200 - stats["lost"] + stats["duplicated"]
    order = [int(d) for _, d in got]
    assert order != sorted(order)  # some overtaking


def test_mock_transport_kinds_failure_and_partition():
    clock = ManualClock()
    net = MockNetwork(clock, latency=0.5)
    q, u, q2 = MockTransport(net, "a", "quic"), MockTransport(net, "a", "utcp"), net.transport("b", "quic")
    with pytest.raises(ValueError, match="in use"):
        MockTransport(net, "a", "quic")
    u.send("b", b"x")  # no utcp endpoint "b"
    assert net.stats["dropped_unreachable"] == 1
    q.send("b", b"late")
    assert q2.next_delivery() == 0.5 and q2.receive() == []
    clock.advance(0.5)
    assert q2.receive() == [("a", b"late")]
    q.fail()
    assert not q.is_up() and u.is_up()
    q.send("b", b"lost")
    q.restore()
    net.partition(True)
    assert not q.is_up() and not u.is_up() and not q2.is_up()
    q.send("b", b"cut")
    net.partition(False)
    clock.advance(1)
    assert q2.receive() == []
    assert net.stats["dropped_failed"] == 1 and net.stats["dropped_partition"] == 1
    fast = MockTransport(net, "c", "quic", latency=0.0)
    fast.send("b", b"now")
    assert q2.receive() == [("c", b"now")]
    with pytest.raises(ValueError):
        MockNetwork(clock, loss=1.5)
    with pytest.raises(TypeError):
        q.send(b"b", b"x")


def test_resume_falls_back_to_full_handshake_when_peer_lost_its_state():
    """Bob restarts with nothing stored (new ticket keys, no sessions): alice's
    resumption goes unanswered, fails on its timeout, and the retry is a full
    handshake with bob's prekeys from the resolver; the stream goes on."""
    w = World(latency=0.001)
    s, r = w.connect()
    s.send(b"one")
    w.run(1)
    assert drain(r) == [b"one"]
    blob = s.export().to_bytes()
    ctx_a, ctx_b = w.start("alice"), w.start("bob")
    s2 = resume(w.did("bob"), StoredSession.from_bytes(blob), ctx_a)
    s2.send(b"two")
    assert w.until(lambda: s2.state == State.FAILED, 10)
    assert s2.failure_reason == "timeout"
    assert w.until(lambda: s2.state == State.ESTABLISHED, 10)
    assert [e.reason for e in s2.events if isinstance(e, StateChanged)][-2:] == ["retry_with_backoff",
                                                                                "receive_valid_response"]
    w.run(1)
    (r2,) = ctx_b.accepted()
    assert drain(r2) == [b"two"]
    r2.send(b"three")
    w.run(1)
    assert drain(s2) == [b"three"]
