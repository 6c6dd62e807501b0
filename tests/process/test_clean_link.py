"""A clean link never flaps (issue 8): two real nodes on 127.0.0.1 with the
default settings keep their session on QUIC, with no transport change, for
50 heartbeat intervals, whether one side or both keep the session up."""
import time

import pytest

from l2sess_testbed.procnode import NodeProcess, established


# The shipped defaults with time scaled to a 1 s heartbeat, in the shipped
# order: path timeout (3 s) < QUIC keep-alive (20 s) < heartbeat (30 s), so
# that an idle link sends heartbeats and keep-alives after a silence longer
# than the path timeout, as it does with the defaults.
CLEAN_SESSION = {"heartbeat_interval": 1.0, "heartbeat_reply_timeout": 0.8}
CLEAN_LOOP = {"path_timeout_ms": 500, "quic_keepalive_ms": 700, "quic_idle_timeout_ms": 10_000, "quic_retry_ms": 1000}
CLEAN_INTERVALS = 50


def wait_payload(node, data, timeout=30.0):
    deadline = time.monotonic() + timeout
    while data not in [m[3] for m in node.inbox()]:
        assert time.monotonic() < deadline, f"{node.name} did not receive {data!r}"
        time.sleep(0.05)


def on_quic(peer):
    return established(peer) and peer["transport"] == "quic"


def transport_changes(node, did):
    peer = node.peer(did)
    moves = [e for e in node.audit() if e.get("event") == "transport"]
    return peer["fallbacks"] + peer["returns"], len(moves)


@pytest.mark.parametrize("both_connect", [True, False], ids=["both-connect", "one-connects"])
def test_clean_link_never_changes_transport(tmp_path, both_connect):
    a = NodeProcess(str(tmp_path), "a", session=CLEAN_SESSION, loop=CLEAN_LOOP)
    b = NodeProcess(str(tmp_path), "b", session=CLEAN_SESSION, loop=CLEAN_LOOP)
    a.add_peer(b.did, b.address, connect=True)
    b.add_peer(a.did, a.address, connect=both_connect)
    try:
        b.start()
        a.start()
        # μTCP may win the race on a slow machine; QUIC is back within quic_retry_ms.
        a.wait_peer(b.did, on_quic, 30)
        b.wait_peer(a.did, on_quic, 30)
        a.send(b.did, b"hello")
        b.send(a.did, b"hello back")
        wait_payload(b, b"hello")
        wait_payload(a, b"hello back")
        before = {n.name: (transport_changes(n, p.did), n.peer(p.did)["session"]["session_id"], len(n.audit()))
                  for n, p in ((a, b), (b, a))}
        time.sleep(CLEAN_INTERVALS * CLEAN_SESSION["heartbeat_interval"])
        for n, p in ((a, b), (b, a)):
            changes, session, seen = before[n.name]
            later = [e for e in n.audit()[seen:] if e.get("event") in ("state", "transport", "peer_error")]
            assert later == [], f"{n.name}: {len(later)} changes on a clean link, the first: {later[:3]}"
            assert transport_changes(n, p.did) == changes, f"{n.name} changed transport on a clean link"
            peer = n.peer(p.did)
            assert established(peer) and peer["transport"] == "quic"
            assert peer["session"]["session_id"] == session
    finally:
        for n in (a, b):
            if n.alive():
                n.terminate()
