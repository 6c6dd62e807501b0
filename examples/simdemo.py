"""`make simdemo`: two gateways complete a real post-quantum session through the
C engine, step by step: hybrid X25519 + ML-KEM-768 handshake, messages both
ways, a key rotation, a network partition (degraded -> suspended -> recovered
with nothing lost), and a restart resumed from the exported session.

Both nodes run in this process over the simulated network (l2sess.testing.mock), on a
ManualClock, so a 23-hour key lifetime or a 2-minute partition take no time;
the cryptography, the wire bytes and the state machine are the real ones.
"""
import time

from l2sess import SessionConfig, State, StoredSession, crypto, establish, resume
from l2sess.identity import Identity
from l2sess.testing.mock import ManualClock, MockNetwork, MockResolver, MockTransport, run, run_until
from l2sess.session import ENGINE_EPOCH_MS, Context, StateChanged

T0 = 1_800_000_000.0  # the simulated wall clock (Unix seconds) the demo starts at


def step(n, text):
    print(f"\n[{n}] {text}")


def show(label, value):
    print(f"      {label:<34} {value}")


def transitions(session, since=0):
    return [e for e in session.events[since:] if isinstance(e, StateChanged)]


def show_transitions(session, since=0):
    for e in transitions(session, since):
        to = e.to_state.value if e.to_state else "[*]"
        show(f"t={e.time - T0:9.3f} s", f"{e.from_state.value} -> {to} ({e.reason})")


class Demo:
    def __init__(self):
        self.clock = ManualClock(T0)
        self.net = MockNetwork(self.clock, seed=7, latency=0.002, record=True)
        self.resolver = MockResolver()
        self.ids = {n: Identity.from_seed(n.encode().ljust(32, b"-")) for n in ("gateway-a", "gateway-b")}
        self.ctx = {n: self.start(n) for n in self.ids}

    def start(self, name):
        transport = MockTransport(self.net, name, "quic")
        self.resolver.register(self.ids[name], [transport])
        return Context(self.ids[name], [transport], self.resolver, self.clock)

    def restart(self, name):
        for t in self.ctx[name].transports:
            t.close()
        self.ctx[name] = self.start(name)
        return self.ctx[name]

    def run(self, seconds):
        run(list(self.ctx.values()), seconds)

    def until(self, predicate, timeout):
        return run_until(list(self.ctx.values()), predicate, timeout)

    def wire(self, since):
        """(type, size) of the datagrams sent since trace index `since`."""
        names = {1: "HANDSHAKE_INIT", 2: "HANDSHAKE_RESP", 3: "COOKIE_REPLY", 4: "TRANSPORT",
                 5: "RESUME_INIT", 6: "RESUME_RESP"}
        return [(t[2], names.get(t[4][1], "?"), len(t[4])) for t in self.net.trace[since:]]


def drain(session):
    out = []
    while (m := session.recv()) is not None:
        out.append(m)
    return out


def main():
    print("l2sess demo: two gateways, one post-quantum session")
    print(f"  ML-KEM-768 provider: {crypto.MLKEM_PROVIDER}   BLAKE3 back end: {crypto.BLAKE3_BACKEND}")
    d = Demo()
    a_did, b_did = (d.ids[n].did for n in ("gateway-a", "gateway-b"))
    cfg = SessionConfig()

    step(1, "Two gateways; each DID is its Ed25519 key, each publishes a signed X-Wing prekey bundle")
    show("gateway-a", a_did)
    show("gateway-b", b_did)
    show("prekey bundle", f"{len(d.ids['gateway-b'].prekey_bundle())} B (ML-KEM-768 + X25519, signed, expiry)")

    step(2, "gateway-a establishes: hybrid X25519 + ML-KEM-768 handshake, mutual signatures, 1 RTT")
    mark = len(d.net.trace)
    t_cpu = time.perf_counter()
    a = establish(b_did, cfg, d.ctx["gateway-a"])
    assert d.until(lambda: a.state == State.ESTABLISHED, 1)
    cpu_ms = (time.perf_counter() - t_cpu) * 1000
    (b,) = d.ctx["gateway-b"].accepted()
    d.run(0.01)
    for src, kind, size in d.wire(mark)[:3]:
        show(f"{src} sent", f"{kind} {size} B")
    show_transitions(a)
    show("responder state", b.state.value)
    show("same session id", f"{a.session_id == b.session_id} ({a.session_id.hex()[:16]}…)")
    engine_now_ms = round(d.clock.now() * 1000) + ENGINE_EPOCH_MS
    show("TTL", f"{(a.info()['expires_ms'] - engine_now_ms) / 3_600_000:.1f} h")
    show("handshake, both sides", f"{cpu_ms:.2f} ms of real time in this process")

    step(3, "Messages both ways: ChaCha20-Poly1305 frames, sequence numbers, acknowledgements")
    for i in range(3):
        a.send(b"telemetry %d from gateway-a" % i)
    b.send(b"config update from gateway-b")
    d.run(0.1)
    for m in drain(b):
        show("gateway-b received", m.decode())
    for m in drain(a):
        show("gateway-a received", m.decode())

    step(4, "Key rotation: new ephemeral X-Wing keys inside the session, switched once confirmed")
    since = len(a.events)
    a.send(b"sent during the rotation")
    a.rotate()
    d.run(0.1)
    show_transitions(a, since)
    show("rotations (a, b)", f"{a.info()['rotations']}, {b.info()['rotations']}")
    show("gateway-b received", ", ".join(m.decode() for m in drain(b)))

    step(5, "A network partition: heartbeats go unanswered; messages queue; nothing is lost")
    since = len(a.events)
    d.net.partition(True)
    for i in range(100):
        a.send(b"queued %d" % i)
    d.run(100)
    show_transitions(a, since)
    show("queued at gateway-a", a.info()["queued"])
    since = len(a.events)
    d.net.partition(False)
    assert d.until(lambda: a.state == State.ESTABLISHED, 120)
    d.run(1)
    show_transitions(a, since)
    got = drain(b)
    show("delivered after recovery", f"{len(got)} of 100, in order: {got == [b'queued %d' % i for i in range(100)]}")

    step(6, "gateway-a restarts: its exported session resumes in one round trip, no new handshake")
    blob = a.export().to_bytes()
    show("StoredSession", f"{len(blob)} B, sealed with the node's storage key")
    ctx = d.restart("gateway-a")
    mark = len(d.net.trace)
    t0, t_cpu = d.clock.now(), time.perf_counter()
    a2 = resume(b_did, StoredSession.from_bytes(blob), ctx)
    assert d.until(lambda: a2.state == State.ESTABLISHED, 1)
    cpu_ms = (time.perf_counter() - t_cpu) * 1000
    for src, kind, size in d.wire(mark)[:2]:
        show(f"{src} sent", f"{kind} {size} B")
    show("established after", f"{(d.clock.now() - t0) * 1000:.1f} ms simulated (2 ms links), "
         f"{cpu_ms:.2f} ms of real time")
    show("same session id", a2.session_id == b.session_id)
    a2.send(b"after the restart")
    d.run(0.1)
    show("gateway-b received", ", ".join(m.decode() for m in drain(b)))

    print("\ndemo complete: PQ session established, rotated, partitioned, recovered and resumed; "
          "no message lost")


if __name__ == "__main__":
    main()
