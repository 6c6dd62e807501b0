"""Step definitions of the SPEC-018 §2 scenarios (the .feature files here).

Every step drives the real engine (C core, real crypto) through the Python
session API over l2sess.testing.mock's MockNetwork, with time on a ManualClock.
The Then steps assert the readings fixed in docs/STATE_MACHINE.md (times,
reasons, transitions) and what can be seen on the wire (message types and
sizes of PROTOCOL.md). World state shared between steps is in world.notes.
"""
import logging
import time

import pytest
from pytest_bdd import given, parsers, then, when

from l2sess import (
    AuthenticationFailed,
    Identity,
    MessageDelivered,
    SessionConfig,
    State,
    Timeout,
    TransportChanged,
    Warning as SessionWarning,
    crypto,
    establish,
    resume,
    transition_table,
)
from l2sess._core import DELIVERY_SEQ_RESERVE
from l2sess.did import public_key_from_did

from impostor import forged_response, kdf, mac
from world import (
    AFTER,
    CONFIRM_BYTES,
    DATA_OVERHEAD,
    EPS,
    HANDSHAKE_INIT,
    HANDSHAKE_INIT_BYTES,
    HANDSHAKE_RESP,
    HANDSHAKE_RESP_BYTES,
    HEARTBEAT_BYTES,
    RESUME_INIT,
    RESUME_RESP,
    ROTATE_INIT_BYTES,
    ROTATE_RESP_BYTES,
    TRANSPORT,
    World,
    documented_transitions,
    last_transition,
    received,
    seed_of,
    transitions,
)

DAY = 24 * 3600
EST, HS_INIT, HS_RECV = State.ESTABLISHED, State.HANDSHAKE_INITIATED, State.HANDSHAKE_RECEIVED
DEG, SUS, ROT, FAILED = State.DEGRADED, State.SUSPENDED, State.ROTATING, State.FAILED


def approx(t):
    return pytest.approx(t, abs=EPS)


def sessions(world):
    return world.notes["session"], world.notes["peer_session"]


def delivered_seqs(session):
    return [e.seq for e in session.events if isinstance(e, MessageDelivered)]


class _AuditLog(logging.Handler):
    """Collects (from, to, reason) of the "l2sess" audit records of transitions."""

    FORMAT = "session %s: %s -> %s (%s)"

    def __init__(self):
        super().__init__(logging.INFO)
        self.seen = []

    def emit(self, record):
        if record.msg == self.FORMAT:
            self.seen.append(tuple(str(x) for x in record.args[1:]))


@pytest.fixture(autouse=True)
def every_transition_is_documented():
    """After each scenario: every transition any session went through (the audit log
    of the l2sess logger) is a row of docs/STATE_MACHINE.md, reason included."""
    handler = _AuditLog()
    logger = logging.getLogger("l2sess")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    rows = documented_transitions()
    assert handler.seen, "no transition was logged"
    # Closing and replacement end the machine from any state (STATE_MACHINE.md, "Closing").
    odd = {t for t in handler.seen if t not in rows and not (t[1] == "[*]" and t[2] in ("closed", "replaced"))}
    assert not odd, f"transitions missing from docs/STATE_MACHINE.md: {sorted(odd)}"


# ==== Background ==========================================================================

@given(parsers.parse('two nodes "{a}" and "{b}" on a MockTransport network with {ms:d} ms latency and a '
                     'ManualClock'), target_fixture="world")
def two_nodes(a, b, ms):
    world = World(seed=18, latency=ms / 1000)
    world.add(a)
    world.add(b)
    return world


@given(parsers.parse('an established session from "{a}" to "{b}"'))
def established_session(world, a, b):
    s, p = world.establish(world[a], world[b])
    assert s.state == EST and p.state == EST
    world.notes.update(session=s, peer_session=p, a=world[a], b=world[b], t_bg=world.now,
                       session_id=s.session_id)


# ==== states, shared by several scenarios =================================================

@then(parsers.parse('state transitions to "{state}"'))
def state_transitions_to(world, state):
    """The session is in `state`, and its latest audit event is the transition into it,
    a transition of the engine's table."""
    s = world.notes["session"]
    assert s.state == State(state)
    frm, to, reason, t = last_transition(s)
    assert to == State(state)
    assert (frm, to) in transition_table()


@then(parsers.parse('state becomes "{state}"'))
def state_becomes(world, state):
    """The session is in `state`; the transitions since the scenario's disturbance
    are exactly the ones (reason, time) docs/STATE_MACHINE.md gives for it."""
    s = world.notes["session"]
    assert s.state == State(state)
    expected = world.notes["expected_transitions"]
    got = transitions(s, since=world.notes["t_disturbed"])
    assert [(f, t, r) for f, t, r, _ in got] == [(f, t, r) for f, t, r, _ in expected], got
    for (_, _, _, t_got), (_, _, r, t_want) in zip(got, expected):
        assert t_got == approx(t_want), f"{r}: at {t_got}, docs/STATE_MACHINE.md says {t_want}"


# ==== 2.1 Session Establishment ==========================================================

@given("a discovered peer with valid DID")
def discovered_peer(world):
    bob = world["bob"]
    doc = world.resolver.resolve(bob.did)
    assert doc.id == bob.did and public_key_from_did(bob.did) == bob.identity.public_key
    doc.validate(now=world.now)  # the bundle is signed by the DID's key and not expired
    assert doc.endpoints == bob.address


@when("session establishment is initiated")
def establishment_initiated(world):
    alice, bob = world["alice"], world["bob"]
    world.notes["t0"] = world.now
    world.notes["session"] = establish(bob.did, SessionConfig(), alice.ctx)


@then("PQxdh handshake request is sent")
def pqxdh_request_sent(world):
    """One HANDSHAKE_INIT (2504 bytes) left alice for bob's QUIC endpoint: encapsulated
    to bob's X-Wing prekey (prekey_id), its e_pk a valid ML-KEM/X-Wing key, mac1 keyed
    to bob's identity, alice's identity not in clear."""
    alice, bob = world["alice"], world["bob"]
    t0 = world.notes["t0"]
    sent = world.wire(since=t0, source=alice)
    assert len(sent) == 1, sent
    d = sent[0]
    assert (d.type, d.size, d.kind, d.dest, d.time) == (HANDSHAKE_INIT, HANDSHAKE_INIT_BYTES, "quic",
                                                        bob.address["quic"], approx(t0))
    bundle = world.resolver.resolve(bob.did).prekey_bundle
    assert d.data[8:16] == crypto.blake3(bundle[33:1249])[:8]
    crypto.xwing_encaps(d.data[16:1232])  # raises InvalidKey unless e_pk is a valid X-Wing key
    assert mac(kdf("mac1", bob.identity.public_key), d.data[:2472]) == d.data[2472:2488]
    assert alice.identity.public_key not in d.data


@when("valid handshake response received")
def valid_response_received(world):
    s = world.notes["session"]
    alice, bob = world["alice"], world["bob"]
    assert world.run_until(lambda: s.state != HS_INIT, 1.0)
    resp = world.wire(since=world.notes["t0"], source=bob)
    assert (resp[0].type, resp[0].size, resp[0].dest, resp[0].delivered) == (
        HANDSHAKE_RESP, HANDSHAKE_RESP_BYTES, alice.address["quic"], True)


@then("shared session keys are derived")
def shared_keys_derived(world):
    """Both ends hold the same session id and keys: messages decrypt both ways, and bob
    reached established by alice's key confirmation."""
    alice, bob = world["alice"], world["bob"]
    s = world.notes["session"]
    assert world.run_until(lambda: bob.ctx.accepted() and bob.ctx.accepted()[0].state == EST, 1.0)
    p = bob.session_with(alice)
    world.notes["peer_session"] = p
    assert last_transition(p)[:3] == (HS_RECV, EST, "send_response_ack")
    assert s.session_id == p.session_id != bytes(16)
    s.send(b"ping from alice")
    world.run(0.1)
    assert p.recv() == b"ping from alice"
    p.send(b"pong from bob")
    world.run(0.1)
    assert s.recv() == b"pong from bob"
    for d in world.wire(since=world.notes["t0"]):
        assert b"ping from alice" not in d.data and b"pong from bob" not in d.data


@then("TTL is set to 24 hours")
def ttl_24_hours(world):
    for sess in sessions(world):
        t_est = [t for _, to, _, t in transitions(sess) if to == EST][0]
        assert sess.config.ttl == DAY
        assert sess.info()["expires"] == approx(t_est + DAY)


@given("previous session exists with unchanged prekeys")
def previous_session(world):
    """alice and bob had a session (3 messages exchanged); alice exported it and
    restarted; bob's DID document still carries the prekey bundle of that session."""
    alice, bob = world["alice"], world["bob"]
    bundle = world.resolver.resolve(bob.did).prekey_bundle
    s, p = world.establish(alice, bob)
    before = [b"before the restart %d" % i for i in range(3)]
    for m in before:
        s.send(m)
    world.run(0.5)
    assert received(p) == before
    world.notes.update(stored=s.export(), session_id=s.session_id, next_seq=s.info()["next_send_seq"],
                       peer_session=p, before=before)
    alice.restart()
    assert not alice.ctx.sessions
    assert world.resolver.resolve(bob.did).prekey_bundle == bundle


@when("resumption is initiated")
def resumption_initiated(world):
    alice, bob = world["alice"], world["bob"]
    t0 = world.now
    w0 = time.perf_counter()
    s = resume(bob.did, world.notes["stored"], alice.ctx)
    world.run_until(lambda: s.state == EST, 1.0)
    world.notes.update(session=s, t0=t0, wall=time.perf_counter() - w0)


@then("existing key material is reused")
def key_material_reused(world):
    """Same session id; only RESUME_INIT/RESUME_RESP and TRANSPORT on the wire (no full
    handshake); the RESUME_INIT names the old session; sequence numbers continue past
    the StoredSession's reserve (PROTOCOL.md §10: a stale checkpoint never reuses one)."""
    alice, bob = world["alice"], world["bob"]
    s, p = sessions(world)
    t0 = world.notes["t0"]
    assert s.session_id == world.notes["session_id"] == p.session_id
    wire = world.wire(since=t0)
    assert {d.type for d in wire} <= {RESUME_INIT, RESUME_RESP, TRANSPORT}, [d.type for d in wire]
    inits = [d for d in wire if d.type == RESUME_INIT]
    resps = [d for d in wire if d.type == RESUME_RESP]
    assert len(inits) == 1 and inits[0].dest == bob.address["quic"] and inits[0].data[10:26] == s.session_id
    assert len(resps) == 1 and resps[0].dest == alice.address["quic"] and resps[0].size == 124
    assert s.send(b"after the resumption") == world.notes["next_seq"] + DELIVERY_SEQ_RESERVE
    world.run(0.1)
    assert received(p) == world.notes["before"] + [b"after the resumption"]


@then(parsers.parse('state becomes "{state}" within 100ms'))
def established_within_100ms(world, state):
    """ManualClock time from resume() to established (latency 0) and the wall-clock
    time of all the work (C engine and Python driver) are both at most 100 ms."""
    s = world.notes["session"]
    frm, to, reason, t = [x for x in transitions(s) if x[1] == State(state)][0]
    assert (frm, to, reason) == (HS_INIT, State(state), "receive_valid_response")
    assert t - world.notes["t0"] <= 0.100
    assert world.notes["wall"] <= 0.100, f"resumption took {world.notes['wall'] * 1000:.1f} ms of wall clock"


@when("no response within 5 seconds")
def no_response(world):
    """bob is offline; alice's handshake (re-sent every second) gets no answer."""
    alice, bob = world["alice"], world["bob"]
    bob.go_offline()
    t0 = world.now
    s = establish(bob.did, SessionConfig(), alice.ctx)
    world.notes.update(session=s, t0=t0)
    world.run_to(t0 + s.config.handshake_timeout - 0.001)
    assert s.state == HS_INIT
    inits = world.wire(since=t0, source=alice)
    assert len(inits) >= 2 and {(d.type, d.outcome) for d in inits} == {(HANDSHAKE_INIT, "unreachable")}
    world.run_to(t0 + s.config.handshake_timeout)


@then(parsers.parse('failure reason is "{reason}"'))
def failure_reason_is(world, reason):
    s = world.notes["session"]
    assert s.failure_reason == reason
    frm, to, why, t = last_transition(s)
    assert (frm, to, why) == (HS_INIT, FAILED, reason)
    assert isinstance(s.error, {"timeout": Timeout, "authentication_failed": AuthenticationFailed}[reason])
    if reason == "timeout":
        assert t == approx(world.notes["t0"] + s.config.handshake_timeout)
    world.notes["t_fail"] = t


@then("retry is scheduled with exponential backoff")
def retry_with_backoff(world):
    """Eight consecutive retries: the n-th waits a delay in [1/2, 1] of
    min(backoff_max, backoff_base * 2^n) after the failure, sends a new
    HANDSHAKE_INIT and times out again after handshake_timeout."""
    alice = world["alice"]
    s = world.notes["session"]
    cfg = s.config
    t_fail = world.notes["t_fail"]
    nr = s.info()["next_retry"]
    assert t_fail + cfg.backoff_base / 2 - EPS <= nr <= t_fail + cfg.backoff_base + EPS
    n_retries = 8

    def retries():
        return [t for f, to, r, t in transitions(s, since=t_fail) if (f, to, r) == (FAILED, HS_INIT,
                                                                                   "retry_with_backoff")]

    assert world.run_until(lambda: len(retries()) >= n_retries and s.state == FAILED, 600)
    fails = [t for _, to, _, t in transitions(s, since=t_fail) if to == FAILED]
    for n, t_retry in enumerate(retries()[:n_retries]):
        cap = min(cfg.backoff_max, cfg.backoff_base * 2 ** n)
        delay = t_retry - fails[n]
        assert cap / 2 - EPS <= delay <= cap + EPS, f"retry {n}: {delay} s, not in [{cap / 2}, {cap}]"
        assert fails[n + 1] == approx(t_retry + cfg.handshake_timeout)
        first = world.wire(since=t_retry, until=t_retry, source=alice, type=HANDSHAKE_INIT)
        assert len(first) == 1
    assert all(r == "timeout" for f, to, r, _ in transitions(s, since=t_fail) if to == FAILED)
    inits = [d.data for d in world.wire(since=t_fail, source=alice, type=HANDSHAKE_INIT)]
    assert len(set(inits)) == len(inits)  # every attempt is a new handshake (new ephemeral key)


@when("invalid signature received")
def invalid_signature_received(world):
    """bob is offline; an impostor at bob's address, who holds bob's prekey secret but not
    bob's identity key, answers alice's handshake: a response valid in every byte except
    that sig_R is made with the impostor's own identity key."""
    alice, bob = world["alice"], world["bob"]
    bob.go_offline()
    impostor = world.net.transport(bob.address["quic"], "quic")
    mallory = Identity.from_seed(seed_of("identity", "mallory"))
    t0 = world.now
    s = establish(bob.did, SessionConfig(), alice.ctx)
    world.notes.update(session=s, t0=t0, impostor=impostor)
    inits = [data for _, data in impostor.receive()]
    assert len(inits) == 1 and inits[0][1] == HANDSHAKE_INIT
    resp, initiator_pk = forged_response(inits[0], bob.identity.public_key, bob.identity.prekey_seed,
                                         mallory.secret_key)
    assert initiator_pk == alice.identity.public_key
    impostor.send(alice.address["quic"], resp)
    world.settle()


@then("peer is quarantined for 60 seconds")
def quarantined_60_seconds(world):
    """No handshake to bob until 60 s after the failure (establish() is refused, the
    failed session's retry waits), then both are allowed; the same responder code
    signing with bob's real identity key is then accepted, so the first response
    was refused for its signature alone."""
    alice, bob = world["alice"], world["bob"]
    s = world.notes["session"]
    t_fail = world.notes["t_fail"]
    q = s.config.quarantine
    assert q == 60
    info = s.info()
    assert info["quarantined_until"] == approx(t_fail + q)
    assert info["next_retry"] == approx(t_fail + q)  # the backoff (<= 1 s) waits for the quarantine
    world.run_to(t_fail + q - 0.001)
    with pytest.raises(AuthenticationFailed, match="quarantined"):
        establish(bob.did, SessionConfig(), alice.ctx)
    assert s.state == FAILED
    assert world.wire(since=t_fail + AFTER, source=alice) == []
    world.clock.set(t_fail + q)
    s2 = establish(bob.did, SessionConfig(), alice.ctx)
    assert s2.state == HS_INIT
    world.settle()
    assert transitions(s)[-1][:3] == (FAILED, HS_INIT, "retry_with_backoff")
    impostor = world.notes["impostor"]
    inits = [data for _, data in impostor.receive()]
    assert len(inits) == 2  # the new session's and the retry's
    for init in inits:
        resp, _ = forged_response(init, bob.identity.public_key, bob.identity.prekey_seed, bob.identity.secret_key)
        impostor.send(alice.address["quic"], resp)
    world.settle()
    assert s.state == EST and s2.state == EST


# ==== 2.2 Session Maintenance ============================================================

def heartbeat_sides(world):
    """(sender, peer): the end whose last received frame is older heartbeats first."""
    a, b = world.notes["a"], world.notes["b"]
    return (a, b) if world.last_arrival(a) <= world.last_arrival(b) else (b, a)


def session_of(world, node):
    s, p = sessions(world)
    return s if node is world.notes["a"] else p


@when("30 seconds pass without activity")
def thirty_seconds_idle(world):
    sender, peer = heartbeat_sides(world)
    t_act = world.last_arrival(sender)
    quiet = world.net.trace[-1][0]
    world.run_to(t_act + 30 - 0.001)
    assert world.wire(since=quiet + AFTER) == []  # nothing at all on the wire for 30 s
    world.notes.update(sender=sender, peer=peer, t_act=t_act, quiet=quiet,
                       expires_before=session_of(world, sender).info()["expires"])
    world.run_to(t_act + 30)


@then("heartbeat is sent")
def heartbeat_is_sent(world):
    sender = world.notes["sender"]
    first = world.wire(since=world.notes["quiet"] + AFTER)[0]
    assert first.source in sender.address.values()
    assert (first.type, first.size, first.time) == (TRANSPORT, HEARTBEAT_BYTES, approx(world.notes["t_act"] + 30))
    world.notes["hb"] = first


@then("peer responds within 2 seconds")
def peer_responds(world):
    sender, peer = world.notes["sender"], world.notes["peer"]
    hb = world.notes["hb"]
    sess = session_of(world, sender)
    world.run_to(hb.time + sess.config.heartbeat_reply_timeout + 0.001)
    reply = world.wire(since=hb.time, source=peer, dest=sender)[0]
    assert (reply.type, reply.size, reply.delivered) == (TRANSPORT, HEARTBEAT_BYTES, True)
    arrival = reply.time + world.latency
    assert arrival - hb.time <= 2.0
    assert sess.info()["missed_heartbeats"] == 0
    assert not [e for e in sess.events if isinstance(e, SessionWarning)]
    world.notes["reply_arrival"] = arrival


@then("TTL is extended")
def ttl_extended(world):
    sess = session_of(world, world.notes["sender"])
    expires = sess.info()["expires"]
    assert expires == approx(world.notes["reply_arrival"] + sess.config.ttl)
    assert expires > world.notes["expires_before"]


@given("peer misses 1 heartbeat")
def peer_misses_one(world):
    """The sender's heartbeat is lost on the way (dropped on the path, silently: the
    transports still report connectivity); its reply deadline passes."""
    sender, peer = heartbeat_sides(world)
    sess = session_of(world, sender)
    t_hb = world.last_arrival(sender) + 30
    world.run_to(t_hb - 0.001)
    world.net.interceptor = lambda kind, src, dst, data: None if src in sender.address.values() else data
    world.run_to(t_hb)
    world.net.interceptor = None
    lost = world.wire(since=t_hb, source=sender)
    assert [(d.size, d.outcome, d.time) for d in lost] == [(HEARTBEAT_BYTES, "intercepted", approx(t_hb))]
    assert all(t.is_up() for n in (sender, peer) for t in n.transports.values())
    world.run_to(t_hb + sess.config.heartbeat_reply_timeout)
    assert sess.info()["missed_heartbeats"] == 1
    world.notes.update(sender=sender, peer=peer, t_hb=t_hb)


@when("next heartbeat succeeds")
def next_heartbeat_succeeds(world):
    """The next heartbeat goes out heartbeat_interval after the lost one and is answered."""
    sender, peer = world.notes["sender"], world.notes["peer"]
    sess = session_of(world, sender)
    t_hb2 = world.notes["t_hb"] + sess.config.heartbeat_interval
    world.run_to(t_hb2 + sess.config.heartbeat_reply_timeout + 0.001)
    hb2 = world.wire(since=t_hb2, until=t_hb2, source=sender)
    assert [(d.size, d.delivered) for d in hb2] == [(HEARTBEAT_BYTES, True)]
    reply = world.wire(since=t_hb2, source=peer, dest=sender)[0]
    assert reply.size == HEARTBEAT_BYTES and reply.time + world.latency - t_hb2 <= 2.0
    assert sess.info()["missed_heartbeats"] == 0
    assert sess.info()["expires"] == approx(reply.time + world.latency + sess.config.ttl)


@then(parsers.parse('session remains "{state}"'))
def session_remains(world, state):
    for sess in sessions(world):
        assert sess.state == State(state)
        assert transitions(sess, since=world.notes["t_bg"]) == []


@then("warning is logged")
def warning_is_logged(world, caplog):
    """One Warning event (missed_heartbeats, at the reply deadline) on the sender's
    session, and the same as a WARNING record of the l2sess logger naming the peer."""
    sender, peer = world.notes["sender"], world.notes["peer"]
    sess = session_of(world, sender)
    warnings = [e for e in sess.events if isinstance(e, SessionWarning)]
    assert [(w.reason, w.time) for w in warnings] == [("missed_heartbeats", approx(world.notes["t_hb"] + 2.0))]
    records = [r for r in caplog.records if r.name == "l2sess" and r.levelno == logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "missed_heartbeats" in records[0].getMessage() and peer.did in records[0].getMessage()


HELD = [b"held %d" % i for i in range(5)]


@given("peer misses 3 heartbeats")
def peer_misses_three(world):
    """A network partition (both transports report no connectivity) starts right after
    the last activity; alice queues 5 messages into it."""
    s, _ = sessions(world)
    world.net.partition(True)
    t_p = world.now
    world.notes.update(t_disturbed=t_p, seqs=[s.send(m) for m in HELD])


@when("third timeout occurs")
def third_timeout(world):
    """alice's heartbeats go unanswered at 30 s intervals; the clock runs to the third
    one's reply deadline (92 s after the last activity)."""
    alice = world.notes["a"]
    s, _ = sessions(world)
    t_p = world.notes["t_disturbed"]
    hbs = lambda: world.wire(since=t_p, source=alice, size=HEARTBEAT_BYTES)  # noqa: E731
    assert world.run_until(lambda: len(hbs()) >= 3, 200)
    h = [d.time for d in hbs()[:3]]
    assert h[0] == approx(world.last_arrival(alice) + 30) and h[1] == approx(h[0] + 30) and h[2] == approx(h[1] + 30)
    world.run_to(h[2] + s.config.heartbeat_reply_timeout)
    world.notes["expected_transitions"] = [(EST, DEG, "connectivity_lost", h[0] + 2.0),
                                           (DEG, SUS, "timeout", h[2] + 2.0)]


@then("queued messages are held")
def queued_messages_held(world):
    s, p = sessions(world)
    assert s.info()["queued"] == len(HELD)
    assert s.info()["next_send_seq"] == world.notes["seqs"][-1] + 1
    assert not any(m in received(p) for m in HELD)
    assert not [e for e in s.events if isinstance(e, MessageDelivered) and e.seq in world.notes["seqs"]]


@then("recovery is attempted after 60s")
def recovery_after_60s(world):
    """Nothing is tried for suspended_retry (60 s); then suspended -> handshake_initiated
    (retry) and a resumption request leaves alice. Once the partition ends the session
    is established again and the held messages arrive, once each, in order."""
    alice = world.notes["a"]
    s, p = sessions(world)
    t_s = transitions(s)[-1][3]
    wait = s.config.suspended_retry
    assert wait == 60
    world.run_to(t_s + wait - 0.001)
    assert s.state == SUS
    assert not world.wire(since=t_s + AFTER, source=alice, type=RESUME_INIT)
    assert not world.wire(since=t_s + AFTER, source=alice, type=HANDSHAKE_INIT)
    world.run_to(t_s + wait)
    assert transitions(s, since=t_s + AFTER)[0] == (SUS, HS_INIT, "retry", approx(t_s + wait))
    attempt = world.wire(since=t_s + AFTER, source=alice, type=RESUME_INIT)
    assert attempt and attempt[0].time == approx(t_s + wait)
    world.net.partition(False)
    assert world.run_until(lambda: s.state == EST and p.state == EST and received(p) == HELD
                           and s.info()["queued"] == 0, 300)
    assert sorted(delivered_seqs(s))[-len(HELD):] == world.notes["seqs"]


def traffic(world, tag, n=20):
    """n messages each way, named by tag; returns (alice's, bob's)."""
    s, p = sessions(world)
    a_msgs = [b"%s a->b %d" % (tag, i) for i in range(n)]
    b_msgs = [b"%s b->a %d" % (tag, i) for i in range(n)]
    for x, y in zip(a_msgs, b_msgs):
        s.send(x)
        p.send(y)
    world.notes.setdefault("sent_a", []).extend(a_msgs)
    world.notes.setdefault("sent_b", []).extend(b_msgs)


@given("session age reaches 24 hours")
def session_age_24h(world):
    """The day goes by with traffic every 15 minutes (heartbeats in between) up to 1 ms
    before the rotation point, key age ttl - rotation_window (23 h)."""
    s, p = sessions(world)
    cfg = s.config
    t_rot = s.info()["key_established"] + cfg.ttl - cfg.rotation_window
    assert t_rot == approx(s.info()["key_established"] + 23 * 3600)
    k = 0
    while world.now + 900 < t_rot - 1:
        traffic(world, b"day %d" % k, 2)
        k += 1
        world.run(900)
    world.run_to(t_rot - 0.020)
    assert s.state == EST and p.state == EST
    assert s.info()["rotations"] == 0 and transitions(s, since=world.notes["t_bg"]) == []
    world.notes.update(t_rot=t_rot, a_index=world.wire(source=world.notes["a"], type=TRANSPORT)[-1].receiver_index,
                       b_index=world.wire(source=world.notes["b"], type=TRANSPORT)[-1].receiver_index)


@when("rotation window triggers")
def rotation_window_triggers(world):
    """Messages are in flight both ways as the window opens, while the rotation runs and
    after it."""
    s, p = sessions(world)
    t_rot = world.notes["t_rot"]
    traffic(world, b"in flight")
    world.run_to(t_rot)
    world.notes["state_at_t_rot"] = s.state
    traffic(world, b"rotating")
    assert world.run_until(lambda: s.state == EST, 2.0)
    traffic(world, b"after")
    world.run(1.0)


@then("new ephemeral keys are generated")
def new_ephemeral_keys(world):
    """The session's key pair changed in both directions: new receiver indices whose
    frame counters start again at 0; the rotation count went 0 -> 1."""
    alice, bob = world.notes["a"], world.notes["b"]
    s, p = sessions(world)
    t_rot = world.notes["t_rot"]
    t_done = [t for f, to, r, t in transitions(s, since=t_rot) if r == "rotation_complete"][0]
    assert s.info()["rotations"] == 1
    assert s.info()["key_established"] == approx(t_done)
    for node, old in ((alice, world.notes["a_index"]), (bob, world.notes["b_index"])):
        after = [d for d in world.wire(since=t_done, source=node, type=TRANSPORT)]
        new = [d for d in after if d.receiver_index != old]
        assert new, f"{node.name} still sends under the old keys"
        assert new[0].counter == 0
        assert after[-1].receiver_index == new[0].receiver_index  # and stays on them


@then("re-handshake is initiated")
def rehandshake_initiated(world):
    """established -> rotating at exactly 23 h of key age; ROTATE_INIT (a fresh X-Wing
    key) out, ROTATE_RESP (an X-Wing ciphertext) back, CONFIRM under the new keys;
    rotating -> established. bob's session never leaves established."""
    alice, bob = world.notes["a"], world.notes["b"]
    s, p = sessions(world)
    t_rot = world.notes["t_rot"]
    assert world.notes["state_at_t_rot"] == ROT
    tr = transitions(s, since=world.notes["t_bg"])
    assert [(f, to, r) for f, to, r, _ in tr] == [(EST, ROT, "time_to_rotate"), (ROT, EST, "rotation_complete")]
    assert tr[0][3] == approx(t_rot)
    init = world.wire(since=t_rot, source=alice, size=ROTATE_INIT_BYTES)
    resp = world.wire(since=t_rot, source=bob, size=ROTATE_RESP_BYTES)
    assert len(init) == 1 and init[0].time == approx(t_rot) and init[0].receiver_index == world.notes["a_index"]
    assert len(resp) == 1 and resp[0].time == approx(t_rot + world.latency)
    confirm = world.wire(since=resp[0].time + world.latency, source=alice, size=CONFIRM_BYTES)
    assert confirm and confirm[0].receiver_index != world.notes["a_index"] and confirm[0].counter == 0
    assert tr[1][3] == approx(resp[0].time + world.latency)
    assert transitions(p, since=world.notes["t_bg"]) == []


@then("no messages are lost")
def no_messages_lost(world):
    s, p = sessions(world)
    assert received(p) == world.notes["sent_a"]
    assert received(s) == world.notes["sent_b"]
    assert sorted(delivered_seqs(s)) == list(range(1, len(world.notes["sent_a"]) + 1))
    assert sorted(delivered_seqs(p)) == list(range(1, len(world.notes["sent_b"]) + 1))
    assert s.info()["queued"] == 0 and p.info()["queued"] == 0


# ==== 2.3 Degradation and Recovery =======================================================

QUEUED = [b"queued %d" % i for i in range(3)]


def partition_until_degraded(world):
    """A partition starting now; runs until alice is degraded. The doc's time for it: the
    first heartbeat timeout after connectivity has been gone for more than 30 s."""
    alice = world.notes["a"]
    s, _ = sessions(world)
    world.net.partition(True)
    t_p = world.now
    world.run_to(t_p + s.config.connectivity_timeout)
    assert s.state == EST  # gone for 30 s, not more
    assert world.run_until(lambda: s.state != EST, 60)
    hbs = [d.time for d in world.wire(since=t_p, source=alice, size=HEARTBEAT_BYTES)]
    t_deg = next(h + 2.0 for h in hbs if h + 2.0 > t_p + s.config.connectivity_timeout)
    world.notes.update(t_disturbed=t_p, expected_transitions=[(EST, DEG, "connectivity_lost", t_deg)])


@when("connectivity lost for >30s")
def connectivity_lost(world):
    partition_until_degraded(world)


@then("messages are queued")
def messages_are_queued(world):
    """Messages sent while degraded get their sequence numbers and wait in the queue:
    nothing is transmitted, nothing delivered."""
    alice = world.notes["a"]
    s, p = sessions(world)
    first = s.info()["next_send_seq"]
    t_send = world.now
    assert [s.send(m) for m in QUEUED] == list(range(first, first + len(QUEUED)))
    world.run(5.0)
    assert s.state == DEG
    assert s.info()["queued"] == len(QUEUED)
    assert not world.wire(since=t_send, source=alice, size=DATA_OVERHEAD + len(QUEUED[0]))
    assert received(p) == []


@then("session is preserved")
def session_is_preserved(world):
    """Same session objects, open, same session id, keys kept (exportable); the only
    transition on alice's side is established -> degraded."""
    alice = world.notes["a"]
    s, p = sessions(world)
    assert alice.session_with(world.notes["b"]) is s and not s.closed and not p.closed
    assert s.session_id == p.session_id == world.notes["session_id"]
    assert [(f, to) for f, to, _, _ in transitions(s, since=world.notes["t_disturbed"])] == [(EST, DEG)]
    assert len(s.export()) > 0


@given(parsers.parse('session is "{state}"'))
def session_is(world, state):
    """A partition has made the session degraded, and 3 messages wait in its queue."""
    assert state == "degraded"
    s, _ = sessions(world)
    partition_until_degraded(world)
    assert s.state == DEG
    world.notes["seqs"] = [s.send(m) for m in QUEUED]
    world.run(1.0)
    assert s.state == DEG and s.info()["queued"] == len(QUEUED)


@when("connectivity restored")
def connectivity_restored(world):
    world.net.partition(False)
    world.notes["t_restored"] = world.now
    world.settle()


@then("re-establishment is attempted")
def reestablishment_attempted(world):
    """A resumption request leaves alice within a second (at once, or at the next re-send
    of an attempt already under way) and the session is established again."""
    alice, bob = world.notes["a"], world.notes["b"]
    s, _ = sessions(world)
    t_r = world.notes["t_restored"]
    assert world.run_until(lambda: s.state == EST, 5.0)
    inits = [d for d in world.wire(since=t_r, source=alice, type=RESUME_INIT) if d.delivered]
    assert inits and inits[0].time - t_r <= 1.0 and inits[0].data[10:26] == s.session_id
    assert world.wire(since=t_r, source=bob, type=RESUME_RESP)
    assert transitions(s, since=t_r) == [(DEG, EST, "connectivity_restored", pytest.approx(inits[0].time +
                                                                                           2 * world.latency))]


@then("queued messages are flushed")
def queued_messages_flushed(world):
    s, p = sessions(world)
    world.run(1.0)
    assert received(p) == QUEUED
    assert delivered_seqs(s) == world.notes["seqs"]
    assert s.info()["queued"] == 0


@given("session over QUIC")
def session_over_quic(world):
    alice, bob = world.notes["a"], world.notes["b"]
    s, p = sessions(world)
    assert s.transport == ("quic", bob.address["quic"]) and p.transport == ("quic", alice.address["quic"])
    assert {d.kind for d in world.wire()} == {"quic"}
    traffic(world, b"over QUIC", 10)
    world.run(0.2)


@when("QUIC fails")
def quic_fails(world):
    """alice's QUIC transport fails with messages in flight both ways; more are sent
    while the session moves."""
    alice = world.notes["a"]
    traffic(world, b"in flight", 5)
    world.run(0.010)
    world.notes["t_fail"] = world.now
    alice.transports["quic"].fail()
    world.settle()
    traffic(world, b"moving", 5)


@then("re-establishment over μTCP is attempted")
def reestablishment_over_utcp(world):
    alice, bob = world.notes["a"], world.notes["b"]
    t_f = world.notes["t_fail"]
    world.run(1.0)
    inits = world.wire(since=t_f, source=alice, type=RESUME_INIT)
    resps = world.wire(since=t_f, source=bob, type=RESUME_RESP)
    assert inits and (inits[0].kind, inits[0].dest, inits[0].time) == ("utcp", bob.address["utcp"], approx(t_f))
    assert resps and (resps[0].kind, resps[0].dest) == ("utcp", alice.address["utcp"])
    assert not world.wire(since=resps[0].time + 2 * world.latency, kind="quic")


@then("this is transparent to upper layers")
def fallback_is_transparent(world):
    """Same session objects, no state change at all, one TransportChanged on alice's
    session, same session id, and the message streams both ways continue: every
    message sent before, during and after the move arrives once, in order."""
    alice, bob = world.notes["a"], world.notes["b"]
    s, p = sessions(world)
    t_f = world.notes["t_fail"]
    traffic(world, b"after", 5)
    world.run(2.0)
    assert alice.session_with(bob) is s and bob.session_with(alice) is p
    assert s.state == EST and p.state == EST
    assert transitions(s, since=world.notes["t_bg"]) == [] and transitions(p, since=world.notes["t_bg"]) == []
    moved = [e for e in s.events if isinstance(e, TransportChanged)]
    assert [(e.time, e.transport, e.address) for e in moved] == [(approx(t_f), "utcp", bob.address["utcp"])]
    assert s.transport == ("utcp", bob.address["utcp"]) and p.transport == ("utcp", alice.address["utcp"])
    assert s.session_id == p.session_id == world.notes["session_id"]
    assert received(p) == world.notes["sent_a"] and received(s) == world.notes["sent_b"]
    assert s.info()["queued"] == 0 and p.info()["queued"] == 0
