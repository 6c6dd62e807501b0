"""The C daemon (firmware/l2sessd) as a drop-in for `python -m l2sess.node`:
one gateway switching between the two with its sessions, the C client
l2sessctl, SIGHUP, the metrics endpoint (issue 11)."""
import json
import os
import signal
import stat
import subprocess
import time
import urllib.request

import pytest

from l2sess_testbed.daemon import daemon_programs
from l2sess_testbed.procnode import NodeProcess, established, free_port

from test_nodes import exchange, numbered, payloads, saved, wait_payloads


@pytest.fixture(scope="module")
def programs():
    return daemon_programs()


def wait_audit(node, pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = [e for e in node.audit() if pred(e)]
        if hits:
            return hits
        time.sleep(0.05)
    raise TimeoutError(f"{node.name}: no such audit record within {timeout} s")


@pytest.mark.parametrize("first", ["python", "l2sessd"])
def test_a_gateway_switches_between_the_python_node_and_the_daemon_and_its_session_resumes(pair_factory,
                                                                                         programs, first):
    """A runs one implementation, stops (SIGTERM), and starts again as the
    other on the same node.toml, identity and state folder: its session
    resumes (no full handshake), and no message is lost or delivered twice,
    in either direction and across both switches."""
    pair = pair_factory().start()
    python, daemon = pair.a.program, [programs[0]]
    pair.a.program = python if first == "python" else daemon
    pair.a.terminate()
    pair.a.start()
    pair.a.wait_peer(pair.b.did, established)
    exchange(pair, b"one", 200)
    for turn, program in enumerate([daemon, python] if first == "python" else [python, daemon]):
        saved(pair.a)
        pending = numbered(b"pend%d-" % turn, 50)
        assert pair.a.terminate() == 0
        pair.b.send_many(pair.a.did, pending)  # queued by B while A switches
        pair.a.program = program
        pair.a.start()
        pair.a.wait_peer(pair.b.did, established, 30)
        assert pair.a.status()["stats"]["handshakes"] == 0, "a full handshake, not a resumption"
        assert pair.a.status()["stats"]["resumptions"] >= 1
        assert wait_payloads(pair.a, b"pend%d-" % turn, 50) == pending
        exchange(pair, b"turn%d-" % turn, 200)
    time.sleep(0.5)  # a duplicate would come late
    inbox = [m[3] for m in pair.a.inbox()]
    assert len(inbox) == len(set(inbox)), "a message was delivered twice"
    assert any(e.get("event") == "import" for e in pair.a.audit())


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


@pytest.mark.parametrize("impl", ["mixed"])
def test_l2sessctl_speaks_to_both_nodes(pair_factory, programs):
    pair = pair_factory().start()
    ctl = programs[1]
    pair.a.wait_peer(pair.b.did, established)
    pair.b.wait_peer(pair.a.did, established)
    for node, other in ((pair.a, pair.b), (pair.b, pair.a)):
        st = run([ctl, "status", "--config", node.config_path])
        assert st.returncode == 0, st.stderr
        status = json.loads(st.stdout)
        assert status["did"] == node.did and status["peers"][0]["did"] == other.did
        peers = run([ctl, "peers", "--socket", node.control_path])
        assert peers.returncode == 0 and other.did in peers.stdout and "established" in peers.stdout, peers
        metrics = run([ctl, "metrics", "--config", node.config_path])
        assert "# TYPE l2sess_rx_messages_total counter" in metrics.stdout
        assert f'l2sess_peer_state{{did="{other.did}",state="established"}} 1' in metrics.stdout
        sent = run([ctl, "send", "--config", node.config_path, "--to", other.did, "--hex", "6869"])
        assert sent.returncode == 0 and int(sent.stdout) > 0, sent
        assert wait_payloads(other, b"hi", 1) == [b"hi"]
        rotations = node.peer(other.did)["session"]["rotations"]
        assert run([ctl, "rotate", "--config", node.config_path, "--to", other.did]).returncode == 0
        node.wait_peer(other.did, lambda p: established(p) and p["session"]["rotations"] > rotations)
    # A refusal is the node's words and exit code 1; an operator's mistake one line and 2.
    bad = run([ctl, "send", "--config", pair.a.config_path, "--to", "did:key:z6Mkbad", "--data", "x", "--wait", "0"])
    assert bad.returncode == 1 and bad.stderr.startswith("l2sessctl: InvalidDID"), bad
    usage = run([ctl, "send", "--config", pair.a.config_path])
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1 and "usage" in usage.stderr
    pair.a.terminate()
    gone = run([ctl, "status", "--config", pair.a.config_path])
    assert gone.returncode == 3 and gone.stderr.count("\n") == 1 and "no node is running for" in gone.stderr


def test_daemon_keygen_did_status_metrics_over_http(tmp_path, programs):
    daemon = programs[0]
    ident = tmp_path / "id.key"
    out = run([daemon, "keygen", "--identity", str(ident)]).stdout.strip()
    assert out.startswith("did:key:z6Mk") and stat.S_IMODE(os.stat(ident).st_mode) == 0o600
    assert run([daemon, "did", "--identity", str(ident)]).stdout.strip() == out
    again = run([daemon, "keygen", "--identity", str(ident)])
    assert again.returncode == 2 and "exists" in again.stderr
    # The Python node reads the identity file the daemon made, as the same DID.
    py = run(["python3", "-m", "l2sess.node", "did", "--identity", str(ident)], env={**os.environ})
    assert py.stdout.strip() == out
    port = free_port()
    node = NodeProcess(str(tmp_path), "solo", program=[daemon], settings={"metrics": f"127.0.0.1:{port}"})
    node.start()
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert "# TYPE l2sess_sessions gauge" in body and "l2sess_handshakes_total 0" in body
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=10)
        status = node.status()
        assert status["build"]["program"] == "l2sessd" and "utcp" in status["build"]["transports"]
        assert node.terminate() == 0
        events = [e["event"] for e in node.audit()]
        assert events[0] == "start" and events[-1] == "stop"
    finally:
        if node.alive():
            node.kill()


@pytest.mark.parametrize("impl", ["python", "l2sessd"])
def test_sighup_reopens_the_logs_and_reloads_the_peers(pair_factory, tmp_path):
    """logrotate moves the audit log away and sends SIGHUP: the next records
    go to a new file. A peer added to node.toml is taken on SIGHUP and
    connected to; one removed is closed."""
    pair = pair_factory().start()
    pair.a.wait_peer(pair.b.did, established)
    os.rename(pair.a.audit_path, pair.a.audit_path + ".1")
    # A third node, C, that A should now keep a session with.
    c = NodeProcess(str(tmp_path), "c", program=pair.a.program, session=pair.a.session, loop=pair.a.loop)
    c.add_peer(pair.a.did, pair.a.address, connect=False)
    c.start()
    try:
        pair.a.add_peer(c.did, c.address, connect=True)
        pair.a.write_config()
        pair.a.proc.send_signal(signal.SIGHUP)
        pair.a.wait_peer(c.did, established, 30)
        assert wait_audit(pair.a, lambda e: e.get("event") == "reload" and e["peers"] == 2)
        assert os.path.exists(pair.a.audit_path), "the audit log was not reopened"
        # B removed from A's peers: A closes its session to B.
        pair.a.peers = [p for p in pair.a.peers if p["did"] != pair.b.did]
        pair.a.write_config()
        pair.a.proc.send_signal(signal.SIGHUP)
        pair.b.wait_peer(pair.a.did, lambda p: p["session"] is None or p["session"]["state"] != "established", 30)
        # A broken node.toml on SIGHUP: the node keeps running on the old one, and says so.
        with open(pair.a.config_path, "a") as f:
            f.write("[sesion]\n")
        pair.a.proc.send_signal(signal.SIGHUP)
        assert wait_audit(pair.a, lambda e: e.get("event") == "reload_failed" and "[sesion]" in e["error"])
        assert pair.a.alive() and established(pair.a.peer(c.did))
    finally:
        c.terminate()
