"""The public API as the tests use it, for mypy --strict: every call here must
type-check and its result must have the type assert_type names (not Any).
Type-checked only, never run."""
from __future__ import annotations

import asyncio
from typing import assert_type

import l2sess
from l2sess import (
    AuthenticationFailed,
    Context,
    DecodeError,
    DIDDocument,
    Event,
    HandshakeRequest,
    Identity,
    InvalidDID,
    MessageReceived,
    QueueFull,
    Session,
    SessionConfig,
    SessionError,
    SessionManager,
    State,
    StateChanged,
    StoredSession,
    Timeout,
    accept,
    aio,
    crypto,
    establish,
    resume,
    tick,
)
from l2sess.did import did_from_public_key, public_key_from_did
from l2sess.node import Node, NodeEvent, NodeStatus, PeerStatus
from l2sess.testing.mock import ManualClock, MockNetwork, MockResolver, MockTransport, run, run_until, settle


def sans_io() -> None:
    clock = ManualClock(1000.0)
    net = MockNetwork(clock, seed=1, latency=0.01)
    alice, bob = Identity.generate(now=clock.now()), Identity.from_seed(b"\0" * 32)
    ta, tb = MockTransport(net, "alice"), net.transport("bob", kind="quic")
    resolver = MockResolver()
    doc = resolver.register(alice, [ta])
    assert_type(doc, DIDDocument)
    resolver.register(bob.document({"quic": "bob"}))
    a = Context(alice, [ta], resolver, clock, auto_accept=True)
    b = Context(bob, tb, resolver, clock, accept_config=SessionConfig(handshake_timeout=10), auto_accept=False)
    s = establish(bob.did, SessionConfig(), a)
    assert_type(s, Session)
    assert_type(run_until([a, b], lambda: s.state == State.ESTABLISHED, timeout=1), bool)
    requests = b.pending_requests()
    assert_type(requests, list[HandshakeRequest])
    if requests:
        assert_type(accept(requests[0], None, b), Session)
    assert_type(tick(None, a), list[Session])
    assert_type(settle([a, b]), int)
    assert_type(run([a, b], 1.0), float)
    assert_type(s.send(b"hello"), int)
    assert_type(s.recv(), bytes | None)
    assert_type(s.state, State)
    assert_type(s.failure_reason, str | None)
    assert_type(s.error, SessionError | None)
    assert_type(s.session_id, bytes | None)
    assert_type(s.transport, tuple[str, str] | None)
    assert_type(a.next_deadline(), float | None)
    for ev in s.events:
        assert_type(ev, Event)
        if isinstance(ev, StateChanged):
            assert_type(ev.to_state, State | None)
        elif isinstance(ev, MessageReceived):
            assert_type(ev.data, bytes)
    stored = s.export()
    assert_type(stored, StoredSession)
    assert_type(resume(bob.did, stored.to_bytes(), a), Session)
    manager = SessionManager(a)
    assert_type(manager.get(bob.did), Session | None)
    s.rotate()
    s.close()
    assert_type(SessionConfig.from_c(SessionConfig().to_c()), SessionConfig)
    assert_type(l2sess.transition_table(), list[tuple[State, State | None]])
    assert_type(DIDDocument.from_json(doc.to_json()), DIDDocument)


def errors() -> None:
    try:
        public_key_from_did("did:key:nope")
    except InvalidDID as exc:
        assert isinstance(exc, DecodeError) and isinstance(exc, ValueError)
    assert_type(did_from_public_key(b"\0" * 32), str)
    try:
        Identity.generate()
    except (Timeout, QueueFull, AuthenticationFailed) as exc:
        assert_type(exc.code, int | None)
    except TimeoutError:
        pass


def threaded_node() -> None:
    with Node(Identity.generate(), ("127.0.0.1", 0), accept_any=True, path_timeout_ms=3000) as b, \
            Node(Identity.generate(), "127.0.0.1:0", SessionConfig()) as a:
        a.connect(b.did, b.address)
        ev = a.wait_for(lambda e: e.to_state == "established", 5)
        assert_type(ev, NodeEvent)
        assert_type(a.send(b.did, b"hello"), int)
        assert_type(a.send_many(b.did, [b"m1", b"m2"]), list[int])
        assert_type(b.next_event(1.0), NodeEvent | None)
        assert_type(b.next_events(256, timeout=1.0), list[NodeEvent])
        assert_type(a.export(b.did), bytes)
        status = a.status()
        assert_type(status, NodeStatus)
        for peer in a.peers():
            assert_type(peer, PeerStatus)
            if peer["session"] is not None:
                assert_type(peer["session"]["state"], str)
        assert_type(a.metrics(), str)
    assert_type(crypto.blake3(b"x"), bytes)


async def asyncio_node() -> None:
    identity = Identity.generate()
    async with aio.Node(identity, ("127.0.0.1", 0), accept_any=True, no_quic=True, buffer=64) as server:
        peer = server.add_peer(Identity.generate().did)
        assert_type(peer, aio.Session)
        session = await aio.connect(Identity.generate(), server.did, server.address, timeout=10.0,
                                    config=SessionConfig(), happy_eyeballs_ms=100)
        async with session:
            assert_type(session.state, State | None)
            assert_type(await session.send(b"x", timeout=1.0), int)
            assert_type(session.send_nowait(b"y"), int)
            assert_type(await session.send_many([b"a", b"b"]), list[int])
            await session.delivered(1, timeout=1.0)
            assert_type(await session.recv(timeout=1.0), bytes)
            assert_type(await session.next_event(), NodeEvent)
            async for ev in session.events():
                assert_type(ev, NodeEvent)
                break
            await session.rotate(timeout=5.0)
        inbound = await server.accept(timeout=1.0)
        assert_type(inbound, aio.Session)
        async for ev in server.events():
            assert_type(ev, NodeEvent)
            break
        assert_type(await server.wait_for(lambda e: e.kind == "accepted", 1.0), NodeEvent)
        outbound = await server.connect(Identity.generate().did, "127.0.0.1:9", timeout=None)
        outbound.close()

        async def handler(s: aio.Session) -> None:
            await s.send(await s.recv())

        task = asyncio.get_running_loop().create_task(server.serve(handler))
        task.cancel()
