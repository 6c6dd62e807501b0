"""node.toml is strict: every operator mistake is one line and exit code 2.

Each negative case writes the mistake into a real node.toml (or makes the
file, folder or port it names wrong) and runs the real command,
`python -m l2sess.node run --config node.toml`, in a process of its own. It
must exit with 2 and print exactly one line on stderr that names the file
and the key, and never a traceback. The base config every case starts from
is itself accepted (test_the_base_config_is_accepted), so each refusal is
the mistake's doing. The positive cases load and run a config that sets
every key, and hold the schema to SessionConfig, the C loop's settings and
docs/NODE.md.
"""
import dataclasses
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from l2sess import Identity, SessionConfig, _core
from l2sess.node.config import LOOP, NODE, PEER, SESSION, TABLES, ConfigError, load_config
from l2sess_testbed.daemon import daemon_programs
from l2sess_testbed.procnode import free_port

PEER_DID = Identity.generate().did
OTHER_DID = Identity.generate().did
# Where the peer of the configs that run is: a port nobody listens on.
PEER_ADDRESS = f"127.0.0.1:{free_port()}"
BASE = f'''[node]
listen = "127.0.0.1:0"
control = "control.sock"

[session]
heartbeat_interval = 30

[loop]
happy_eyeballs_ms = 250

[[peers]]
did = "{PEER_DID}"
address = "{PEER_ADDRESS}"
connect = true
'''
NODE_DOC = Path(__file__).resolve().parents[2] / "docs" / "NODE.md"


# Each command runs against both nodes: the Python node and the C daemon
# (firmware/l2sessd, its client l2sessctl for the client commands), which
# read node.toml the same way and refuse a mistake in the same words.
IMPLEMENTATIONS = ["python", "l2sessd"]
_current = {"impl": "python"}


@pytest.fixture(params=IMPLEMENTATIONS)
def node(request):
    """Which node the test's commands run: "python" or "l2sessd"."""
    _current["impl"] = request.param
    yield request.param
    _current["impl"] = "python"


def program(command: str) -> tuple[list[str], str]:
    """The argv that runs command on the current node, and its name on stderr."""
    if _current["impl"] == "python":
        return [sys.executable, "-m", "l2sess.node", command], "l2sess"
    daemon, client = daemon_programs()
    if command in ("run", "keygen", "did", "check"):
        return [daemon, command], "l2sessd"
    return [client, command], "l2sessctl"


def run_node(config, **popen):
    """`run --config config` of the current node, in a process of its own."""
    return subprocess.Popen([*program("run")[0], "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def node_cmd(*args, timeout=60):
    return subprocess.run([*program(args[0])[0], *args[1:]], capture_output=True, text=True,
                          timeout=timeout)


def refused(config: Path, *fragments: str, command: str = "run") -> str:
    """Runs the command on config; asserts exit 2 and one line naming every fragment."""
    result = node_cmd(command, "--config", str(config))
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{program(command)[1]}: {config}: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def with_lines(text: str, table: str, *lines: str) -> str:
    """text with lines put first in table ("" for the top level, before [node]);
    a line that sets a key the table has replaces that key's line."""
    if not table:
        return "\n".join(lines) + "\n" + text
    head = "[[peers]]\n" if table == "[peers]" else f"[{table}]\n"
    start = text.index(head) + len(head)
    end = text.find("\n[", start) + 1 or len(text)
    section = text[start:end]
    for line in lines:
        key = line.split(" = ")[0]
        m = re.search(rf"^{re.escape(key)} = .*\n", section, re.M)
        if m:
            section = section[:m.start()] + line + "\n" + section[m.end():]
        else:
            section = line + "\n" + section
    return text[:start] + section + text[end:]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text)
    return path


def test_the_base_config_is_accepted(tmp_path):
    cfg = load_config(str(write(tmp_path, BASE)))
    assert cfg["node"]["listen"] == "127.0.0.1:0" and cfg["peers"][0]["did"] == PEER_DID


# ---- values of the wrong type, one case per kind and then some ---------------------------

WRONG_TYPE = [
    # (id, table, line, what the message must contain)
    ("bool-as-string", "node", 'accept_any = "false"', ["[node] accept_any", 'string "false"', "true or false"]),
    ("bool-as-integer", "session", "resume_dh = 1", ["[session] resume_dh", "integer 1"]),
    ("bool-in-peer", "[peers]", 'connect = "yes"', ["[[peers]] #1 connect", 'string "yes"']),
    ("integer-as-float", "session", "heartbeat_tolerance = 3.0", ["[session] heartbeat_tolerance", "float 3.0"]),
    ("integer-as-bool", "session", "heartbeat_tolerance = true", ["[session] heartbeat_tolerance", "boolean true"]),
    ("integer-as-string", "loop", 'max_sessions = "100"', ["[loop] max_sessions", "an integer"]),
    ("ms-as-float", "loop", "path_timeout_ms = 1500.0", ["[loop] path_timeout_ms", "an integer"]),
    ("seconds-as-string", "session", 'ttl = "1h"', ["[session] ttl", "number of seconds", 'string "1h"']),
    ("seconds-as-bool", "node", "checkpoint_interval = true", ["[node] checkpoint_interval", "boolean true"]),
    ("seconds-as-array", "session", "key_grace = [10]", ["[session] key_grace", "an array"]),
    ("seconds-as-date", "session", "ttl = 1979-05-27", ["[session] ttl", "date/time"]),
    ("path-as-integer", "node", "audit_log = 42", ["[node] audit_log", "a string", "integer 42"]),
    ("path-empty", "node", 'state_dir = ""', ["[node] state_dir", "not empty"]),
    ("address-as-integer", "node", "listen = 4433", ["[node] listen", "a string", "integer 4433"]),
    ("address-as-table", "node", "metrics = { port = 9101 }", ["[node] metrics", "a table"]),
    ("transports-as-string", "node", 'transports = "quic"', ["[node] transports", "array", 'string "quic"']),
    ("transports-empty", "node", "transports = []", ["[node] transports", "non-empty array"]),
    ("transports-unknown", "node", 'transports = ["quic", "tcp"]', ["[node] transports", '"tcp" is not a transport']),
    ("transports-twice", "node", 'transports = ["utcp", "utcp"]', ["[node] transports", "twice"]),
    ("transports-integer", "node", "transports = [1]", ["[node] transports", "integer 1 is not a transport"]),
]


@pytest.mark.parametrize("table,line,expected", [pytest.param(*c[1:], id=c[0]) for c in WRONG_TYPE])
def test_a_value_of_the_wrong_type_is_refused(node, tmp_path, table, line, expected):
    refused(write(tmp_path, with_lines(BASE, table, line)), *expected)


def test_a_did_of_the_wrong_type_is_refused(node, tmp_path):
    text = BASE.replace(f'did = "{PEER_DID}"', "did = 5")
    refused(write(tmp_path, text), "[[peers]] #1 did", "a string, not the integer 5")


def test_accept_any_false_as_a_string_is_not_read_as_true(node, tmp_path):
    # The mistake of issue 8: bool("false") is True.
    config = write(tmp_path, with_lines(BASE, "node", 'accept_any = "false"'))
    assert tomllib.loads(config.read_text())["node"]["accept_any"] == "false"
    line = refused(config, "[node] accept_any")
    assert line.endswith('not the string "false"')


# ---- keys and tables that do not exist ------------------------------------------------------

@pytest.mark.parametrize("table,line,expected", [
    pytest.param("node", 'listn = "127.0.0.1:1"', ["[node] listn", "unknown key", "did you mean listen?"], id="node"),
    pytest.param("session", "heartbeat_intervall = 30", ["[session] heartbeat_intervall", "unknown key",
                                                         "did you mean heartbeat_interval?"], id="session"),
    pytest.param("loop", "happy_eyeballs = 250", ["[loop] happy_eyeballs", "unknown key"], id="loop"),
    pytest.param("[peers]", 'adress = "127.0.0.1:1"', ["[[peers]] #1 adress", "unknown key"], id="peers"),
    pytest.param("node", "[node.tls]", ["[node] tls", "unknown key"], id="subtable"),
    pytest.param("", 'listen = "127.0.0.1:1"', ["listen: unknown key at the top level", "belongs in [node]"],
                 id="top-level-key-of-node"),
    pytest.param("", "frobnicate = 1", ["frobnicate: unknown key at the top level"], id="top-level"),
    pytest.param("", '"two\\nlines" = 1', ['"two\\nlines": unknown key'], id="top-level-quoted"),
    pytest.param("", "[sesion]", ["[sesion]: unknown table", "did you mean [session]?"], id="table"),
    pytest.param("", "[metrics]\nport = 9101", ["[metrics]: unknown table"], id="table-with-keys"),
])
def test_an_unknown_key_or_table_is_refused(node, tmp_path, table, line, expected):
    if table == "node" and line.startswith("["):  # a sub-table goes after [node]'s keys
        text = BASE.replace("[session]", f"{line}\n\n[session]")
    else:
        text = with_lines(BASE, table, line)
    refused(write(tmp_path, text), *expected)


@pytest.mark.parametrize("text,expected", [
    pytest.param("session = 3\n", ["session: must be a table [session]", "integer 3"], id="table-as-value"),
    pytest.param('[peers]\ndid = "x"\n', ["[peers]: must be an array of tables", "[[peers]]"], id="peers-table"),
    pytest.param('peers = "x"\n', ["peers: must be an array of tables"], id="peers-string"),
    pytest.param("peers = [1]\n", ["[[peers]] #1: must be a table", "integer 1"], id="peers-of-integers"),
])
def test_a_table_of_the_wrong_shape_is_refused(node, tmp_path, text, expected):
    refused(write(tmp_path, text), *expected)


# ---- TOML syntax -----------------------------------------------------------------------------

@pytest.mark.parametrize("line,expected", [
    pytest.param("listen = 127.0.0.1:0", "line 2, column ", id="unquoted-string"),
    pytest.param('listen = "127.0.0.1:0', "line 2, column ", id="unterminated-string"),
    pytest.param("accept_any = False", "line 2, column ", id="capitalised-bool"),
    pytest.param("control = 'b'", "line 2, column ", id="duplicate-key"),
    pytest.param("[node]", "line 2, column ", id="duplicate-table"),
])
def test_a_toml_syntax_error_is_refused_with_its_line(node, tmp_path, line, expected):
    text = with_lines(BASE, "node", line)
    if line == "control = 'b'":  # after the base's control, so the second one is on line 4
        text = BASE.replace('control = "control.sock"\n', "control = \"control.sock\"\ncontrol = 'b'\n")
        expected = "line 4, column "
    refused(write(tmp_path, text), expected, "TOML syntax error")


def test_a_config_that_is_not_utf8_is_refused_with_its_line(node, tmp_path):
    config = tmp_path / "node.toml"
    config.write_bytes(BASE.encode().replace(b'"control.sock"', b'"control\xff.sock"'))
    refused(config, "line 3: not UTF-8")


def test_a_missing_config_is_refused(node, tmp_path):
    config = tmp_path / "nowhere.toml"
    assert not config.exists()
    refused(config, "cannot read it: No such file or directory")


# ---- addresses ------------------------------------------------------------------------------

@pytest.mark.parametrize("key,value,expected", [
    pytest.param("listen", "127.0.0.1", "is not host:port", id="no-port"),
    pytest.param("listen", "127.0.0.1:", "the port must be a number", id="empty-port"),
    pytest.param("listen", ":4433", "is not host:port", id="no-host"),
    pytest.param("listen", "127.0.0.1:65536", "between 0 and 65535", id="port-too-large"),
    pytest.param("listen", "127.0.0.1:-1", "the port must be a number", id="negative-port"),
    pytest.param("listen", "127.0.0.1:http", "the port must be a number", id="named-port"),
    pytest.param("listen", "localhost:4433", "numeric IPv4 address or an IPv6 address in brackets", id="name"),
    pytest.param("listen", "::1:4433", "IPv6 address in brackets", id="ipv6-without-brackets"),
    pytest.param("listen", "[127.0.0.1]:4433", "IPv6 address in brackets", id="ipv4-in-brackets"),
    pytest.param("listen", "256.0.0.1:4433", "numeric IPv4", id="bad-ipv4"),
    pytest.param("metrics", "127.0.0.1:0", "between 1 and 65535", id="metrics-port-0"),
    pytest.param("metrics", "localhost:9101", "numeric IPv4", id="metrics-name"),
])
def test_a_bad_node_address_is_refused(node, tmp_path, key, value, expected):
    refused(write(tmp_path, with_lines(BASE, "node", f'{key} = "{value}"')), f"[node] {key}", expected)


@pytest.mark.parametrize("value,expected", [
    pytest.param("127.0.0.1:0", "between 1 and 65535", id="port-0"),
    pytest.param("127.0.0.1:99999", "between 1 and 65535", id="port-too-large"),
    pytest.param("peer.example:4433", "numeric IPv4", id="name"),
])
def test_a_bad_peer_address_is_refused(node, tmp_path, value, expected):
    text = BASE.replace(f'address = "{PEER_ADDRESS}"', f'address = "{value}"')
    refused(write(tmp_path, text), "[[peers]] #1 address", expected)


# ---- ranges -----------------------------------------------------------------------------------

@pytest.mark.parametrize("table,line,expected", [
    pytest.param("session", "heartbeat_tolerance = 0", "between 1 and 255, got 0", id="tolerance-0"),
    pytest.param("session", "heartbeat_tolerance = 256", "between 1 and 255, got 256", id="tolerance-256"),
    pytest.param("session", "ttl = 0", "between 0.001 and 3155760000 s, got 0", id="ttl-0"),
    pytest.param("session", "handshake_timeout = -5", "got -5", id="negative-seconds"),
    pytest.param("session", "ttl = nan", "got nan", id="nan"),
    pytest.param("session", "ttl = inf", "got inf", id="inf"),
    pytest.param("session", "key_grace = 1e12", "got 1000000000000", id="beyond-100-years"),
    pytest.param("session", "max_retries = -1", "between 0 and 4294967295", id="negative-count"),
    pytest.param("session", "rotate_after_bytes = 0", "between 1 and", id="zero-limit"),
    pytest.param("session", "send_queue_bytes_limit = 18446744073709551616", "got 18446744073709551616",
                 id="beyond-u64"),
    pytest.param("node", "checkpoint_interval = 0", "between 0.01 and 3600 s", id="checkpoint-0"),
    pytest.param("loop", "quic_keepalive_ms = 30000", "between 1 and 25000 ms", id="keepalive-above-c-limit"),
    pytest.param("loop", "quic_idle_timeout_ms = 500", "between 1000 and", id="idle-timeout-below-1s"),
    pytest.param("loop", "max_sessions = 2000000", "between 1 and 1048576", id="max-sessions"),
    pytest.param("loop", "event_queue_limit = 1", "between 2 and", id="event-queue"),
    pytest.param("loop", "happy_eyeballs_ms = 0", "between 1 and 60000 ms, got 0", id="zero-ms"),
])
def test_a_value_out_of_range_is_refused(node, tmp_path, table, line, expected):
    key = line.split(" = ")[0]
    refused(write(tmp_path, with_lines(BASE, table, line)), f"[{table}] {key}", expected)


# ---- rules between keys (l2s_config_check and the loop's) --------------------------------------

@pytest.mark.parametrize("table,lines,expected", [
    pytest.param("session", ["ttl = 600"], ["[session] rotation_window: 3600 s (the default) must be below ttl",
                                            "ttl = 600 s"], id="rotation-window-not-below-ttl"),
    pytest.param("session", ["ttl = 100", "rotation_window = 100"], ["[session] rotation_window", "below ttl"],
                 id="rotation-window-equal-ttl"),
    pytest.param("session", ["ttl = 1.0004", "rotation_window = 1.0001"],
                 ["[session] rotation_window", "below ttl", "whole milliseconds"], id="equal-in-ms"),
    pytest.param("session", ["heartbeat_reply_timeout = 30"],
                 ["[session] heartbeat_reply_timeout: 30 s must be below heartbeat_interval = 30 s"],
                 id="reply-timeout-not-below-interval"),
    pytest.param("session", ["backoff_base = 5", "backoff_max = 2"],
                 ["[session] backoff_max: 2 s must not be below backoff_base = 5 s"], id="backoff"),
    pytest.param("session", ["backoff_base = 120"], ["[session] backoff_max: 60 s (the default)",
                                                     "backoff_base = 120 s"], id="backoff-default"),
    pytest.param("loop", ["reconnect_base_ms = 5000", "reconnect_max_ms = 1000"],
                 ["[loop] reconnect_max_ms: 1000 ms must not be below reconnect_base_ms = 5000 ms"], id="reconnect"),
    pytest.param("loop", ["quic_idle_timeout_ms = 10000"],
                 ["[loop] quic_keepalive_ms: 20000 ms (the default) must be below quic_idle_timeout_ms = 10000 ms"],
                 id="keepalive-not-below-idle"),
])
def test_an_invalid_combination_is_refused_naming_both_keys(node, tmp_path, table, lines, expected):
    line = refused(write(tmp_path, with_lines(BASE, table, *lines)), *expected)
    assert line.endswith("whole milliseconds)") == ("1.0004" in lines[0])


# ---- [[peers]] --------------------------------------------------------------------------------

def test_a_peer_without_did_is_refused(node, tmp_path):
    text = BASE.replace(f'did = "{PEER_DID}"\n', "")
    refused(write(tmp_path, text), "[[peers]] #1 did: missing")


def test_a_peer_with_a_bad_did_is_refused(node, tmp_path):
    text = BASE.replace(PEER_DID, "did:key:z6Mkbad")
    refused(write(tmp_path, text), "[[peers]] #1 did", '"did:key:z6Mkbad" is not a did:key')


def test_a_peer_to_connect_to_needs_an_address(node, tmp_path):
    text = BASE.replace(f'address = "{PEER_ADDRESS}"\nconnect = true\n', "")
    refused(write(tmp_path, text), "[[peers]] #1 address: missing", "connect = true (the default)")


def test_a_peer_twice_is_refused(node, tmp_path):
    second = f'\n[[peers]]\ndid = "{OTHER_DID}"\nconnect = false\n\n[[peers]]\ndid = "{PEER_DID}"\nconnect = false\n'
    refused(write(tmp_path, BASE + second), "[[peers]] #3 did", "the same peer as [[peers]] #1")


# ---- the files and ports the config names, at start ---------------------------------------------

def test_an_identity_in_a_missing_folder_is_refused(node, tmp_path):
    assert not (tmp_path / "nowhere").exists()
    config = write(tmp_path, with_lines(BASE, "node", 'identity = "nowhere/identity.key"'))
    refused(config, "[node] identity", f"{tmp_path}/nowhere/identity.key: No such file or directory")


def test_a_missing_identity_file_is_made_on_the_first_run(node, tmp_path):
    # Not a mistake: the documented first run. The node runs, then stops cleanly.
    config = write(tmp_path, BASE)
    assert not (tmp_path / "identity.key").exists()
    proc = run_node(config)
    try:
        wait_for_control(tmp_path / "control.sock", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert stat.S_IMODE(os.stat(tmp_path / "identity.key").st_mode) == 0o600


def test_an_identity_file_others_may_read_is_refused(node, tmp_path):
    ident = tmp_path / "identity.key"
    node_cmd("keygen", "--identity", str(ident))
    os.chmod(ident, 0o644)
    refused(write(tmp_path, BASE), "[node] identity", f"{ident}: identity file mode 644, must be 0600")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another user")
def test_an_identity_file_of_another_user_is_refused(node, tmp_path):
    ident = tmp_path / "identity.key"
    node_cmd("keygen", "--identity", str(ident))
    os.chown(ident, 65534, 65534)
    refused(write(tmp_path, BASE), "[node] identity", f"{ident}: identity file owned by uid 65534, not by uid 0")


def test_what_the_node_writes_is_private_whatever_the_umask(node, tmp_path):
    # Under umask 022: a state folder and logs made now, and an audit log
    # left 0644 by an earlier run, all end up for the node's user alone.
    (tmp_path / "audit.log").write_text("")
    os.chmod(tmp_path / "audit.log", 0o644)
    config = write(tmp_path, with_lines(BASE, "node", 'state_dir = "state"', 'audit_log = "audit.log"',
                                        'delivery_log = "delivery.log"', 'inbox = "inbox.log"'))
    proc = run_node(config, preexec_fn=lambda: os.umask(0o022))
    try:
        wait_for_control(tmp_path / "control.sock", proc)
        modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode)
                 for name in ("state", "state/peers", "audit.log", "delivery.log", "inbox.log", "control.sock",
                              "identity.key")}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert modes == {"state": 0o700, "state/peers": 0o700, "audit.log": 0o600, "delivery.log": 0o600,
                     "inbox.log": 0o600, "control.sock": 0o600, "identity.key": 0o600}, modes


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 0000")
def test_an_unreadable_identity_file_is_refused(node, tmp_path):
    ident = tmp_path / "identity.key"
    node_cmd("keygen", "--identity", str(ident))
    os.chmod(ident, 0)
    refused(write(tmp_path, BASE), "[node] identity", "Permission denied")


@pytest.mark.parametrize("content", [b"", b"not json\n", b'{"format": "l2sess-identity/1"}\n',
                                     b'{"format": "l2sess-identity/1", "seed": "zz", "prekey_not_after": 1}\n',
                                     b'["a list"]\n', b"\xff\xfe"],
                         ids=["empty", "not-json", "no-seed", "bad-seed", "list", "binary"])
def test_a_malformed_identity_file_is_refused(node, tmp_path, content):
    ident = tmp_path / "identity.key"
    ident.write_bytes(content)
    os.chmod(ident, 0o600)
    refused(write(tmp_path, BASE), "[node] identity", f"{ident}: not an l2sess-identity/1 file")
    result = node_cmd("did", "--identity", str(ident))  # the same file, to `did`
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "not an l2sess-identity/1 file" in result.stderr


def test_an_identity_that_is_a_folder_is_refused(node, tmp_path):
    (tmp_path / "identity.key").mkdir()
    refused(write(tmp_path, BASE), "[node] identity", "not a file")


def test_a_state_dir_that_is_a_file_is_refused(node, tmp_path):
    (tmp_path / "state").write_text("a file, not a folder\n")
    refused(write(tmp_path, BASE), "[node] state_dir", "Not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_state_dir_is_refused(node, tmp_path):
    (tmp_path / "state" / "peers").mkdir(parents=True)
    os.chmod(tmp_path / "state" / "peers", 0o500)
    try:
        refused(write(tmp_path, BASE), "[node] state_dir", "not writable")
    finally:
        os.chmod(tmp_path / "state" / "peers", 0o700)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only filesystem needs root")
@pytest.mark.parametrize("key", ["state_dir", "inbox", "audit_log"])
def test_a_read_only_filesystem_at_start_is_refused(node, tmp_path, key):
    """The state folder or a log on a filesystem mounted read-only: one line
    naming the key, exit 2 (issue 9: a traceback)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    (disk / "state" / "peers").mkdir(parents=True, mode=0o700)
    subprocess.run(["mount", "--bind", str(disk), str(disk)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(disk)], check=True)
        path = "disk/state" if key == "state_dir" else f"disk/{key}"
        lines = [f'{key} = "{path}"'] + ([] if key == "state_dir" else ['state_dir = "state"'])
        refused(write(tmp_path, with_lines(BASE, "node", *lines)), f"[node] {key}", "Read-only file system")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.parametrize("key", ["audit_log", "delivery_log", "inbox"])
def test_a_log_in_a_missing_folder_is_refused(node, tmp_path, key):
    config = write(tmp_path, with_lines(BASE, "node", f'{key} = "nowhere/{key}"'))
    refused(config, f"[node] {key}", f"nowhere/{key}: No such file or directory")


def test_a_log_that_is_a_folder_is_refused(node, tmp_path):
    (tmp_path / "inbox.log").mkdir()
    refused(write(tmp_path, with_lines(BASE, "node", 'inbox = "inbox.log"')), "[node] inbox", "Is a directory")


def test_a_control_socket_in_a_missing_folder_is_refused(node, tmp_path):
    text = BASE.replace('control = "control.sock"', 'control = "nowhere/control.sock"')
    refused(write(tmp_path, text), "[node] control", "No such file or directory")


def test_a_control_socket_path_too_long_is_refused(node, tmp_path):
    text = BASE.replace('control = "control.sock"', f'control = "{"x" * 120}.sock"')
    refused(write(tmp_path, text), "[node] control", "longer than 107 bytes")


def test_a_listen_port_in_use_is_refused(node, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        text = BASE.replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{port}"')
        refused(write(tmp_path, text), "[node] listen", f"cannot bind 127.0.0.1:{port}")


def test_a_metrics_port_in_use_is_refused(node, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused(write(tmp_path, with_lines(BASE, "node", f'metrics = "127.0.0.1:{port}"')), "[node] metrics",
                "Address already in use")


def test_the_client_commands_use_the_same_loader(node, tmp_path):
    config = write(tmp_path, with_lines(BASE, "node", 'accept_any = "false"'))
    refused(config, "[node] accept_any", command="status")
    # A good config without a running node: exit 3, the control socket named, and how to start one.
    config = write(tmp_path, BASE)
    result = node_cmd("status", "--config", str(config))
    assert result.returncode == 3 and result.stderr.count("\n") == 1, result
    assert result.stderr.startswith(f"{program('status')[1]}: no node is running for {config} ("), result.stderr
    assert "no socket); start it with `" in result.stderr and f"run --config {config}`" in result.stderr


# ---- a config that sets every key ----------------------------------------------------------------

def full_config(listen_port: int, metrics_port: int) -> str:
    return f'''[node]
listen = "127.0.0.1:{listen_port}"
identity = "id/node.key"
state_dir = "var/state"
control = "var/ctl.sock"
audit_log = "audit.jsonl"
inbox = "inbox.log"
inbox_max_bytes = 1048576
inbox_keep = 2
inbox_sync = false
delivery_log = "delivered.jsonl"
log_max_bytes = 65536
log_keep = 5
metrics = "127.0.0.1:{metrics_port}"
accept_any = true
transports = ["utcp", "quic"]
checkpoint_interval = 0.5

[session]
ttl = 7200
heartbeat_interval = 10.5
heartbeat_tolerance = 4
handshake_timeout = 3
rotation_window = 600
quarantine = 0
heartbeat_reply_timeout = 1.5
connectivity_timeout = 20
degraded_timeout = 40
suspended_retry = 30
backoff_base = 0.5
backoff_max = 30
max_retries = 7
key_grace = 5
rotate_after_messages = 1000000
rotate_after_bytes = 1000000000
retransmit_timeout = 0.1
send_queue_limit = 512
send_queue_bytes_limit = 1048576
reorder_window = 256
ticket_lifetime = 3600
resume_dh = true

[loop]
happy_eyeballs_ms = 150
path_timeout_ms = 2000
quic_retry_ms = 20000
reconnect_base_ms = 200
reconnect_max_ms = 5000
event_queue_limit = 4096
quic_idle_timeout_ms = 30000
quic_keepalive_ms = 10000
max_sessions = 1024
handshake_rate_per_s = 50
handshake_work_per_s = 300
memory_budget = 8388608
quic_max_connections = 100
tcp_max_connections = 200

[[peers]]
did = "{PEER_DID}"
address = "{PEER_ADDRESS}"
connect = true

[[peers]]
did = "{OTHER_DID}"
connect = false
'''


def test_a_config_with_every_key_loads_with_its_values(tmp_path):
    text = full_config(4433, 9101)
    raw = tomllib.loads(text)
    for table, schema in TABLES.items():  # the test sets every key, to a value other than its default
        assert set(raw[table]) == set(schema), table
        assert all(raw[table][k] != schema[k].default for k in schema), table
    assert all(set(p) <= set(PEER) for p in raw["peers"])
    cfg = load_config(str(write(tmp_path, text)))
    n = cfg["node"]
    for key in ("identity", "state_dir", "control", "audit_log", "inbox", "delivery_log"):
        assert n[key] == str(tmp_path / raw["node"][key]), key
    assert n["listen"] == "127.0.0.1:4433" and n["metrics"] == "127.0.0.1:9101"
    assert n["accept_any"] is True and n["checkpoint_interval"] == 0.5
    assert (n["inbox_max_bytes"], n["inbox_keep"], n["inbox_sync"]) == (1 << 20, 2, False)
    assert (n["log_max_bytes"], n["log_keep"]) == (65536, 5)
    assert cfg["transports"] == ["utcp", "quic"]
    assert cfg["session"] == SessionConfig(**raw["session"])
    assert cfg["session"].resume_dh is True and cfg["session"].heartbeat_interval == 10.5
    assert cfg["loop"] == raw["loop"]
    assert cfg["peers"] == [{"did": PEER_DID, "address": PEER_ADDRESS, "connect": True},
                            {"did": OTHER_DID, "address": None, "connect": False}]


def test_an_empty_config_has_every_default(tmp_path):
    cfg = load_config(str(write(tmp_path, "")))
    assert cfg["node"] == {**{k: key.default for k, key in NODE.items()},
                           "identity": str(tmp_path / "identity.key"), "state_dir": str(tmp_path / "state"),
                           "control": str(tmp_path / "state" / "control.sock")}
    assert cfg["session"] == SessionConfig()
    assert cfg["loop"] == {k: key.default for k, key in LOOP.items()}
    assert cfg["peers"] == []


def wait_for_control(path: Path, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        if path.exists():
            return
        time.sleep(0.05)
    raise TimeoutError(f"no control socket at {path}")


def test_a_node_runs_with_every_key_set(node, tmp_path):
    # The C loop takes every value the schema lets through.
    (tmp_path / "id").mkdir()
    config = write(tmp_path, full_config(free_port(), free_port()))
    proc = run_node(config)
    try:
        wait_for_control(tmp_path / "var" / "ctl.sock", proc)
        as_json = ["--json"] if node == "python" else []  # l2sessctl's status is JSON only
        status = json.loads(node_cmd("status", *as_json, "--config", str(config)).stdout)
        assert {p["did"] for p in status["peers"]} == {PEER_DID, OTHER_DID}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    # Each says on stderr who and where it is: the daemon in one line, the
    # Python node in its log (info: a line per start, peer and stop).
    if node == "python":
        assert "Traceback" not in err and " ERROR " not in err, err
        assert any(status["did"] in ln and status["address"] in ln and "listening on" in ln
                   for ln in err.splitlines()), err
    else:
        assert err.count("\n") == 1 and status["did"] in err and status["address"] in err, err


def check_json(config: Path) -> dict:
    """What `l2sessd check` reads from config."""
    result = subprocess.run([daemon_programs()[0], "check", "--config", str(config)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def python_view(cfg: dict) -> dict:
    """load_config's result in `l2sessd check`'s shape."""
    return {"node": cfg["node"], "session": dataclasses.asdict(cfg["session"]), "loop": cfg["loop"],
            "peers": cfg["peers"]}


@pytest.mark.parametrize("text", [pytest.param(lambda: "", id="empty"), pytest.param(lambda: BASE, id="base"),
                                  pytest.param(lambda: full_config(4433, 9101), id="every-key")])
def test_the_daemon_reads_every_value_as_the_python_node_does(tmp_path, text):
    config = write(tmp_path, text())
    assert check_json(config) == python_view(load_config(str(config)))


# ---- the schema against SessionConfig, the C loop and docs/NODE.md -----------------------------

def test_the_session_schema_is_session_config():
    fields = {f.name: f.default for f in dataclasses.fields(SessionConfig)}
    assert {k: key.default for k, key in SESSION.items()} == fields


def test_the_loop_schema_is_the_loops_settings():
    assert set(LOOP) == set(_core.LOOP_SETTINGS)


def documented_defaults() -> dict[str, dict[str, str]]:
    """{table: {key: default cell}} from the tables of docs/NODE.md."""
    tables, current, column = {}, None, None
    for line in NODE_DOC.read_text().splitlines():
        m = re.fullmatch(r"### \[\[?(\w+)\]\]?", line)
        cells = [c.strip() for c in line.strip("|").split("|")]
        if m:
            current = tables.setdefault(m[1], {})
        elif current is not None and line.startswith("| key |"):
            column = cells.index("default")
        elif current is not None and line.startswith("| `"):
            current[cells[0].strip("`")] = cells[column]
    return tables


def test_docs_list_every_key_with_its_default():
    docs = documented_defaults()
    for table, schema in {**TABLES, "peers": PEER}.items():
        assert set(docs[table]) == set(schema), table
        for name, key in schema.items():
            cell = docs[table][name]
            if key.default is None:
                assert cell == "—", (table, name)
            else:
                assert tomllib.loads(f"v = {cell.strip('`')}")["v"] == key.default, (table, name)


def test_config_error_names_the_key():
    exc = ConfigError("[session] ttl", "must be a number of seconds")
    assert isinstance(exc, ValueError) and exc.key == "[session] ttl"
    assert str(exc) == "[session] ttl: must be a number of seconds"
