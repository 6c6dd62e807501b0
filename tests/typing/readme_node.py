"""The README's example, verbatim (test_mypy.py checks that it still is)."""
from l2sess import Identity
from l2sess.node import Node

with Node(Identity.generate(), ("127.0.0.1", 0), accept_any=True) as b, \
     Node(Identity.generate(), ("127.0.0.1", 0)) as a:
    a.connect(b.did, b.address)                       # QUIC, μTCP as fallback
    a.wait_for(lambda e: e.to_state == "established", 5)
    a.send(b.did, b"hello")
    print(b.wait_for(lambda e: e.kind == "message", 5).data)
    seqs = a.send_many(b.did, [b"m1", b"m2"])   # one lock and wake-up; stops where the queue is full
    events = b.next_events(256, timeout=1.0)     # what waits, in one call
