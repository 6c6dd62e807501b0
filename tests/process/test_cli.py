"""The operator's command, `l2sess` (here `python -m l2sess.node`), against
running nodes: one node per state directory, the identity guard, what `run`
says on stderr, status and peers for people and for programs, send's and
rotate's refusals, recv, and the audit log's words for what happened."""
import calendar
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from l2sess.identity import Identity
from l2sess.node import Node
from l2sess.node.store import load_identity, save_identity
from l2sess_testbed.procnode import NodeProcess, established

from test_daemon import wait_audit
from test_nodes import saved, wait_payloads

L2SESS = [sys.executable, "-m", "l2sess.node"]


def cli(*args, **kw):
    return subprocess.run([*L2SESS, *args], capture_output=True, text=True, timeout=60, **kw)


def one_line(result, code):
    """The command failed as an operator's command should: exit code, one line, no traceback."""
    assert result.returncode == code, result
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("l2sess: "), result.stderr
    return result.stderr


def unix_time(rfc3339):
    assert rfc3339.endswith("Z") and rfc3339[10] == "T", rfc3339
    return calendar.timegm(time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S")) + int(rfc3339[20:23]) / 1000


@pytest.mark.parametrize("impl", ["python", "l2sessd"])
def test_a_second_node_on_the_same_state_or_control_socket_is_refused(pair_factory, tmp_path):
    pair = pair_factory().start()
    pair.a.wait_peer(pair.b.did, established)
    program = pair.a.program
    # The same node.toml again: its state directory is taken.
    again = subprocess.run([*program, "run", "--config", pair.a.config_path], capture_output=True, text=True,
                           timeout=60)
    line = again.stderr.strip().splitlines()
    assert again.returncode == 4 and len(line) == 1, again
    assert "[node] state_dir: another node (pid " in line[0] and "is running on state_dir" in line[0], line
    # Another state directory, the same control socket: refused, the first keeps its socket.
    other = NodeProcess(str(tmp_path), "other", program=program)
    other.write_config()
    with open(other.config_path) as f:
        text = f.read().replace('control = "control.sock"', f'control = "{pair.a.control_path}"')
    with open(other.config_path, "w") as f:
        f.write(text)
    second = subprocess.run([*program, "run", "--config", other.config_path], capture_output=True, text=True,
                            timeout=60)
    assert second.returncode == 4 and f"[node] control: another node answers on {pair.a.control_path}" \
        in second.stderr, second
    assert pair.a.alive() and established(pair.a.peer(pair.b.did))
    assert pair.a.status()["did"] == pair.a.did


@pytest.mark.parametrize("impl", ["python", "l2sessd"])
def test_a_missing_identity_file_is_not_a_new_node_once_the_state_has_one(pair_factory):
    pair = pair_factory()
    a = pair.a
    a.start()
    assert a.terminate() == 0
    with open(os.path.join(a.dir, "state", "did")) as f:
        assert f.read().strip() == a.did
    # A typo in the path: refused, and no new identity made.
    with open(a.config_path) as f:
        text = f.read()
    with open(a.config_path, "w") as f:
        f.write(text.replace('identity = "identity.key"', 'identity = "identty.key"'))
    result = subprocess.run([*a.program, "run", "--config", a.config_path], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result
    assert "[node] identity: " in result.stderr and f"belongs to {a.did}" in result.stderr, result.stderr
    assert not os.path.exists(os.path.join(a.dir, "identty.key"))
    # Another identity on this state directory: refused too.
    other = os.path.join(a.dir, "identty.key")
    assert cli("keygen", "--identity", other).returncode == 0
    result = subprocess.run([*a.program, "run", "--config", a.config_path], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "each identity needs its own state_dir" in result.stderr, result


def test_run_says_on_stderr_what_it_does_in_text_or_json(pair_factory):
    pair = pair_factory()
    pair.start()
    pair.a.wait_peer(pair.b.did, established)
    # A stranger (not among B's peers) knocks: B refuses, says so, counts it.
    stranger = Node(Identity.generate(), ("127.0.0.1", 0)).start()
    try:
        stranger.connect(pair.b.did, pair.b.address, bundle=None)
        pair.b.wait_peer(pair.a.did, established)
        deadline = time.monotonic() + 30
        while pair.b.status()["stats"]["refused"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pair.b.status()["stats"]["refused"] >= 1
    finally:
        stranger.stop()
    assert wait_audit(pair.b, lambda e: e.get("event") == "refused" and e["did"] == stranger.did)
    pair.a.terminate()
    pair.b.terminate()
    a_log, b_log = pair.a.stderr(), pair.b.stderr()
    assert "Traceback" not in a_log + b_log
    assert f"listening on {pair.a.address}" in a_log and pair.a.did in a_log
    assert "INFO    session established" in a_log and pair.b.did in a_log
    assert "stopped; sessions saved" in a_log
    assert "WARNING refused a DID that is not among [[peers]]" in b_log and stranger.did in b_log
    # JSON lines when asked: every line an object with time, level and msg.
    node = NodeProcess(os.path.dirname(pair.a.dir), "json")
    node.write_config()
    proc = subprocess.Popen([*L2SESS, "run", "--log-format", "json", "--log-level", "debug",
                             "--config", node.config_path], stderr=subprocess.PIPE, text=True)
    first = json.loads(proc.stderr.readline())
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0
    records = [first] + [json.loads(ln) for ln in rest.splitlines()]
    assert all({"time", "level", "msg"} <= r.keys() for r in records)
    assert records[0]["level"] == "info" and "listening on" in records[0]["msg"]
    assert records[-1]["msg"] == "stopped; sessions saved"


def test_status_and_peers_for_people_and_for_programs(pair_factory):
    pair = pair_factory()
    pair.start()
    before = time.time()
    pair.a.wait_peer(pair.b.did, established)
    config = ["--config", pair.a.config_path]
    doc = json.loads(cli("status", "--json", *config).stdout)
    assert doc["did"] == pair.a.did and doc["build"]["program"] == "l2sess"
    (peer,) = doc["peers"]
    assert peer["did"] == pair.b.did and peer["state"] == "established"
    # Wall-clock times, RFC 3339: the session was set up while this test ran.
    assert before - 5 <= unix_time(peer["established_at"]) <= time.time() + 1
    assert unix_time(peer["expires_at"]) > time.time()
    assert unix_time(doc["prekey"]["not_after"]) > time.time() + 300 * 86400 and doc["prekey"]["warning"] is None
    # The session id: the same in status and the audit log.
    assert wait_audit(pair.a, lambda e: e.get("to_state") == "established"
                      and e.get("session_id") == peer["session_id"])
    text = cli("status", *config).stdout
    assert text.startswith(f"node       {pair.a.did}\n") and pair.b.did in text and "established" in text
    peers = cli("peers", *config).stdout.splitlines()
    assert peers[0].split()[:3] == ["PEER", "STATE", "TRANSPORT"]
    assert peers[1].split()[:2] == [pair.b.did, "established"]
    assert json.loads(cli("peers", "--json", *config).stdout)[0]["session_id"] == peer["session_id"]
    # L2SESS_CONFIG stands for --config; -c may come before the command.
    env = {**os.environ, "L2SESS_CONFIG": pair.a.config_path}
    assert json.loads(cli("status", "--json", env=env).stdout)["did"] == pair.a.did
    assert json.loads(cli("-c", pair.a.config_path, "status", "--json").stdout)["did"] == pair.a.did


def test_send_rotate_and_recv(pair_factory):
    pair = pair_factory()
    pair.start()
    pair.a.wait_peer(pair.b.did, established)
    a_cfg, b_cfg = ["--config", pair.a.config_path], ["--config", pair.b.config_path]
    # Refusals first: each one line, at once.
    stranger = Identity.generate().did
    err = one_line(cli("send", stranger, "hi", *a_cfg), 1)
    assert f"{stranger} is not a peer of this node" in err
    err = one_line(cli("send", pair.b.did[:40], "hi", *a_cfg), 2)
    assert "is 56 characters, this one is 40 (truncated?)" in err
    one_line(cli("send", pair.b.did, *a_cfg), 2)  # no message
    one_line(cli("rotate", stranger, *a_cfg), 1)
    # Then the real thing.
    seq = int(cli("send", pair.b.did, "hello, b", *a_cfg).stdout)
    assert int(cli("send", pair.b.did, "--hex", "00ff", *a_cfg).stdout) == seq + 1
    assert len(wait_payloads(pair.b, b"", 2)) == 2
    lines = cli("recv", *b_cfg).stdout.splitlines()
    assert lines == [f"{pair.a.did} {seq} hello, b", f"{pair.a.did} {seq + 1} hex:00ff"]
    records = [json.loads(ln) for ln in cli("recv", "--json", "--from", pair.a.did, *b_cfg).stdout.splitlines()]
    assert [(r["seq"], r["text"]) for r in records] == [(seq, "hello, b"), (seq + 1, None)]
    assert cli("recv", "--from", pair.b.did, *b_cfg).stdout == ""  # nobody else wrote to b
    # --follow: a message sent after recv started is printed when it comes.
    follow = subprocess.Popen([*L2SESS, "recv", "--follow", *b_cfg], stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout.readline().endswith("hello, b\n")
        follow.stdout.readline()
        cli("send", pair.b.did, "later", *a_cfg)
        assert follow.stdout.readline() == f"{pair.a.did} {seq + 2} later\n"
    finally:
        follow.terminate()
        follow.wait(30)
    # A manual rotation and a restart's resumption are named as such.
    assert cli("rotate", pair.b.did, *a_cfg).returncode == 0
    assert wait_audit(pair.a, lambda e: e.get("to_state") == "rotating" and e["reason"] == "rotation_requested")
    pair.a.terminate()
    pair.a.start()
    assert wait_audit(pair.a, lambda e: e.get("to_state") == "handshake_initiated"
                      and e["reason"] == "initiate_resumption")


def test_version_and_recv_without_an_inbox(tmp_path):
    out = cli("version")
    assert out.returncode == 0 and out.stdout.startswith("l2sess 0.1.0 (ML-KEM-768: ")
    assert cli("--version").stdout.strip() == "l2sess 0.1.0"
    (tmp_path / "node.toml").write_text('[node]\nlisten = "127.0.0.1:0"\n')
    err = one_line(cli("recv", "--config", str(tmp_path / "node.toml")), 2)
    assert "sets no [node] inbox" in err


def connect_with(node, bundle):
    """A fresh in-process gateway dials node with the given prekey bundle
    (a full handshake to that prekey): True when the session is established."""
    x = Node(Identity.generate(), ("127.0.0.1", 0)).start()
    try:
        x.connect(node.did, node.address, bundle=bundle)
        try:
            x.wait_for(lambda e: e.kind == "state" and e.to_state == "established", 30)
            return True
        except TimeoutError:
            return False
    finally:
        x.stop()


@pytest.mark.parametrize("impl", ["python", "l2sessd"])
def test_renew_gives_a_new_prekey_and_the_old_bundle_still_works(pair_factory):
    pair = pair_factory()
    a = pair.a
    a.accept_any = True  # strangers with either bundle may connect
    pair.start()
    a.wait_peer(pair.b.did, established)
    old = load_identity(a.identity_path)
    old_bundle = old.prekey_bundle()
    out = cli("renew", "--config", a.config_path)
    assert out.returncode == 0 and out.stdout.startswith("prekey renewed; its bundle is valid until "), out
    renewed = load_identity(a.identity_path)
    assert renewed.prekey_seed != old.prekey_seed
    assert renewed.previous_prekey == (old.prekey_seed, old.prekey_not_after)
    assert abs(renewed.prekey_not_after - (time.time() + 365 * 86400)) < 600
    doc = json.loads(cli("status", "--json", "--config", a.config_path).stdout)
    assert unix_time(doc["prekey"]["not_after"]) == renewed.prekey_not_after and doc["prekey"]["warning"] is None
    assert wait_audit(a, lambda e: e.get("event") == "prekey_renewed" and e["reason"] == "requested")
    metrics = cli("metrics", "--config", a.config_path).stdout
    assert f"l2sess_prekey_not_after_seconds {renewed.prekey_not_after}" in metrics
    # The session with B goes on; a new gateway connects with the new bundle
    # or the old one, each at the first try (no bundle fetched in-band).
    assert established(a.peer(pair.b.did))
    answers = a.status()["stats"]["disc_answers"]
    assert connect_with(a, renewed.prekey_bundle())
    assert connect_with(a, old_bundle)
    assert a.status()["stats"]["disc_answers"] == answers
    # Restarted, the node still takes both (the identity file holds both prekeys).
    assert a.terminate() == 0
    a.start()
    assert connect_with(a, old_bundle) and connect_with(a, renewed.prekey_bundle())
    assert a.status()["stats"]["disc_answers"] == 0
    # A second renewal: the first bundle is two prekeys old and no longer
    # answered, so a gateway that holds it learns the current one in-band
    # (a discovery probe on its connection) and connects with that.
    assert cli("renew", "--config", a.config_path).returncode == 0
    answers = a.status()["stats"]["disc_answers"]
    assert connect_with(a, old_bundle)
    assert a.status()["stats"]["disc_answers"] > answers


@pytest.mark.parametrize("impl", ["python", "l2sessd"])
def test_a_prekey_near_its_end_is_renewed_when_the_node_starts(pair_factory):
    pair = pair_factory()
    a = pair.a
    ident = load_identity(a.identity_path)
    soon = int(time.time()) + 2 * 86400
    save_identity(a.identity_path, Identity(ident.seed, soon))
    pair.start()
    assert wait_audit(a, lambda e: e.get("event") == "prekey_renewed" and e["reason"] == "expiring")
    renewed = load_identity(a.identity_path)
    assert renewed.previous_prekey == (ident.prekey_seed, soon)
    doc = json.loads(cli("status", "--json", "--config", a.config_path).stdout)
    assert unix_time(doc["prekey"]["not_after"]) == renewed.prekey_not_after > soon + 300 * 86400
    a.wait_peer(pair.b.did, established)  # B had fetched no bundle: it gets the new one in-band


def test_status_warns_before_the_prekey_expires():
    from l2sess.node.runner import prekey_status
    now = 1_800_000_000
    assert prekey_status(now + 20 * 86400, now)["warning"] is None
    assert prekey_status(now + 10 * 86400 + 5, now)["warning"].startswith("the prekey bundle expires in 10 day(s)")
    assert prekey_status(now - 1, now)["warning"].startswith("the prekey bundle has expired")
    assert prekey_status(now, now)["not_after"] == "2027-01-15T08:00:00.000Z"


@pytest.mark.parametrize("impl", ["python", "l2sessd"])
def test_an_idle_session_is_not_saved_again_until_it_changes(pair_factory):
    """Checkpoints write (and fsync) a session only when what a resumption
    needs has changed: an idle established session costs the disk nothing."""
    pair = pair_factory().start()
    a = pair.a
    a.wait_peer(pair.b.did, established)
    saved(a)
    path = os.path.join(a.dir, "state", "peers", load_identity(pair.b.identity_path).public_key.hex() + ".session")
    time.sleep(1.0)  # the save after established, and any after it, are done
    before = os.stat(path).st_mtime_ns
    time.sleep(2.0)  # twenty checkpoint intervals; heartbeats flow
    assert os.stat(path).st_mtime_ns == before, "an unchanged session was saved again"
    a.send(pair.b.did, b"a change")
    deadline = time.monotonic() + 30
    while os.stat(path).st_mtime_ns == before:
        assert time.monotonic() < deadline, "a changed session was not saved"
        time.sleep(0.05)


def test_a_closed_pipe_is_not_an_error():
    """`l2sess status | head -1`: the reader left before the writer wrote."""
    proc = subprocess.Popen([*L2SESS, "version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0 and err == b"", err
