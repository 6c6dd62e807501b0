"""Hardware in the loop under emulation (issue 11): the daemon built for a
gateway (aarch64, armhf, musl targets; testbed/l2sess_testbed/hil.py) runs under
qemu-user and holds a session with an x86-64 Python node through the
impairment relay: a PQ handshake, 1,000 messages each way exactly once and
in order, a forced rotation, SIGKILL and restart with resumption (not a
full handshake), and the move to μTCP when UDP is blocked (a build without
QUIC, the static musl ones, runs on μTCP from the start).

`make test` runs the aarch64 and armhf targets; `make hil` every target
(HIL_TARGETS=all) and writes each one's figures to build/hil/<target>.json.
qemu runs the crypto 20-50x slower than the host: the timers below are
wider than the other process tests', the work is the same."""
import json
import os
import time

import pytest

from l2sess_testbed.hil import hil_daemon, hil_targets
from l2sess_testbed.procnode import established

from test_nodes import exchange, numbered, saved, wait_payloads

# Generous for an emulated CPU on a loaded 2-core machine.
HIL_SESSION = {"heartbeat_interval": 2.0, "heartbeat_reply_timeout": 1.0, "handshake_timeout": 5.0,
               "connectivity_timeout": 4.0, "degraded_timeout": 8.0, "suspended_retry": 2.0,
               "backoff_base": 0.2, "backoff_max": 2.0, "retransmit_timeout": 0.2}
HIL_LOOP = {"path_timeout_ms": 3000, "quic_retry_ms": 3000, "reconnect_base_ms": 100, "reconnect_max_ms": 1000,
            "happy_eyeballs_ms": 300}
WAIT = 60.0


def on(transport):
    return lambda p: established(p) and p["transport"] == transport


@pytest.mark.parametrize("target", hil_targets())
def test_daemon_under_qemu_holds_a_session_with_the_python_node(pair_factory, target):
    program = hil_daemon(target)
    pair = pair_factory(relay=True, session=HIL_SESSION, loop=HIL_LOOP)
    gw, py = pair.a, pair.b  # the gateway connects out through the relay to the Python node
    gw.program = program
    figures = {"target": target}
    t0 = time.monotonic()
    pair.start()

    # A full PQ handshake (X25519 + ML-KEM-768), over QUIC when the target's
    # build has it (the static musl builds have μTCP and discovery only).
    has_quic = "quic" in gw.status()["build"]["transports"]
    figures["transports"] = "quic+utcp" if has_quic else "utcp"
    gw.wait_peer(py.did, on("quic" if has_quic else "utcp"), WAIT)
    py.wait_peer(gw.did, established, WAIT)
    assert gw.status()["stats"]["handshakes"] == 1
    figures["handshake_s"] = round(time.monotonic() - t0, 2)

    # 1,000 messages each way, each once, in order.
    t = time.monotonic()
    exchange(pair, b"hil", 1000)
    figures["exchange_1000_each_way_s"] = round(time.monotonic() - t, 2)

    # A forced rotation.
    rotations = gw.peer(py.did)["session"]["rotations"]
    assert gw.rotate(py.did)
    gw.wait_peer(py.did, lambda p: established(p) and p["session"]["rotations"] > rotations, WAIT)
    exchange(pair, b"rotated", 50)

    # SIGKILL and restart: the session resumes, no full handshake.
    saved(gw)
    gw.kill()
    t = time.monotonic()
    gw.start(wait=WAIT)
    gw.wait_peer(py.did, established, WAIT)
    stats = gw.status()["stats"]
    assert stats["handshakes"] == 0 and stats["resumptions"] >= 1, stats
    figures["restart_to_established_s"] = round(time.monotonic() - t, 2)
    exchange(pair, b"resumed", 100)

    # UDP blocked: the session moves to μTCP (or, μTCP only, stays on it) and goes on.
    pair.relay.set(block_udp=True)
    msgs = numbered(b"tcp", 200)
    gw.send_many(py.did, msgs)
    peer = gw.wait_peer(py.did, on("utcp"), WAIT)
    assert peer["fallbacks"] >= 1 if has_quic else peer["fallbacks"] == 0
    assert wait_payloads(py, b"tcp", 200, timeout=WAIT) == msgs
    exchange(pair, b"overtcp", 100)

    figures["total_s"] = round(time.monotonic() - t0, 2)
    out = os.path.join(os.path.dirname(__file__), "..", "..", "build", "hil")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{target}.json"), "w") as f:
        json.dump(figures, f)
