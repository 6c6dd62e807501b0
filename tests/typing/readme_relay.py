"""The README's example, verbatim (test_mypy.py checks that it still is), after
the one name it leaves to the reader."""
node_port = 4433
from l2sess_testbed.relay import Relay
with Relay(target=("127.0.0.1", node_port), seed=1, loss=0.05) as relay:
    ...                              # point the peer at relay.port
    relay.set(block_udp=True)        # QUIC blocked: the node should fall back to TCP
    print(relay.stats()["udp"]["up"]["dropped"])
