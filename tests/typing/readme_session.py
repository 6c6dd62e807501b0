"""The README's example, verbatim (test_mypy.py checks that it still is)."""
from l2sess import Context, Identity, SessionConfig, State, establish, tick
from l2sess.testing.mock import ManualClock, MockNetwork, MockResolver, MockTransport, run_until

clock = ManualClock()                          # the injectable TimeSource (seconds)
net = MockNetwork(clock, seed=1, latency=0.01, loss=0.01)
alice, bob = Identity.generate(), Identity.generate()
ta, tb = MockTransport(net, "alice", kind="quic"), MockTransport(net, "bob", kind="quic")
resolver = MockResolver()
resolver.register(alice, [ta]); resolver.register(bob, [tb])
a, b = Context(alice, ta, resolver, clock), Context(bob, tb, resolver, clock)

s = establish(bob.did, SessionConfig(), a)     # handshake_initiated
run_until([a, b], lambda: s.state == State.ESTABLISHED, timeout=1)
s.send(b"hello")                               # -> seq; QueueFull when the queue is full
run_until([a, b], lambda: b.sessions[0].pending(), timeout=1)
print(b.sessions[0].recv())                    # b"hello", in order, exactly once
