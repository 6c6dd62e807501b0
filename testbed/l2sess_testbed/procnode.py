"""NodeProcess: one `python -m l2sess.node run` (or `l2sessd run`) in a process of its own.

The two-process demo and the process-level tests drive real nodes through
it: it writes the node's node.toml in a directory of its own, starts,
SIGTERMs, SIGKILLs and restarts the process, and talks to it through its
control socket, audit log and inbox (the node's own interfaces, nothing
private)."""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time

from l2sess.node.config import load_config
from l2sess.node.store import load_or_create_identity, read_inbox

__all__ = ["NodeProcess", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP right now (the node binds both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((host, port))
                except OSError:
                    continue
        return port
    raise OSError("no port free for both UDP and TCP")


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


class NodeProcess:
    """A node in its own process, in directory `workdir`."""

    def __init__(self, workdir: str, name: str, port: int | None = None, session: dict | None = None,
                 loop: dict | None = None, transports=("quic", "utcp"), accept_any: bool = False,
                 program: list[str] | None = None, settings: dict | None = None):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.port = port or free_port()
        self.identity_path = os.path.join(self.dir, "identity.key")
        self.did = load_or_create_identity(self.identity_path)[0].did
        self.session = dict(session or {})
        self.loop = dict(loop or {})
        self.transports = list(transports)
        self.accept_any = accept_any
        # The node's command before "run --config node.toml": the Python node,
        # or the C daemon (firmware/l2sessd), perhaps under qemu-user.
        self.program = list(program) if program else [sys.executable, "-m", "l2sess.node"]
        self.settings = dict(settings or {})  # more [node] keys
        self.peers: list[dict] = []
        self.proc: subprocess.Popen | None = None
        self.config_path = os.path.join(self.dir, "node.toml")
        self.audit_path = os.path.join(self.dir, "audit.jsonl")
        self.inbox_path = os.path.join(self.dir, "inbox.log")
        self.delivery_path = os.path.join(self.dir, "delivered.jsonl")
        self.control_path = os.path.join(self.dir, "control.sock")
        self.stderr_path = os.path.join(self.dir, "stderr.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add_peer(self, did: str, address: str | None, connect: bool) -> None:
        self.peers.append({"did": did, "address": address, "connect": connect})

    def write_config(self) -> None:
        lines = ["[node]", f'listen = "{self.address}"', 'identity = "identity.key"', 'state_dir = "state"',
                 'audit_log = "audit.jsonl"', 'inbox = "inbox.log"', 'delivery_log = "delivered.jsonl"',
                 'control = "control.sock"', f"transports = {_toml_value(self.transports)}",
                 f"accept_any = {_toml_value(self.accept_any)}", "checkpoint_interval = 0.1"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in self.settings.items()] + ["", "[session]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in self.session.items()]
        lines += ["", "[loop]"] + [f"{k} = {_toml_value(v)}" for k, v in self.loop.items()]
        for p in self.peers:
            lines += ["", "[[peers]]", f'did = "{p["did"]}"', f"connect = {_toml_value(p['connect'])}"]
            if p["address"]:
                lines.append(f'address = "{p["address"]}"')
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        load_config(self.config_path)  # a mistake here is the caller's: raised here, not in the process

    # ---- the process ------------------------------------------------------------------

    def start(self, wait: float = 15.0) -> float:
        """Starts the node; returns when its control socket answers (seconds taken)."""
        self.write_config()
        t0 = time.monotonic()
        err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([*self.program, "run", "--config", self.config_path],
                                     stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        err.close()
        while time.monotonic() - t0 < wait:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited with {self.proc.returncode}: {self.stderr()}")
            try:
                self.request({"cmd": "status"})
                return time.monotonic() - t0
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(f"node {self.name} did not answer within {wait} s: {self.stderr()}")

    def stderr(self) -> str:
        try:
            with open(self.stderr_path) as f:
                return f.read()[-4000:]
        except FileNotFoundError:
            return ""

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM: the node saves its sessions and exits."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        self.proc = None
        return rc

    def kill(self) -> None:
        """SIGKILL: no goodbye, no final save."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- its interfaces ----------------------------------------------------------------

    def request(self, req: dict, timeout: float = 10.0) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.control_path)
            s.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise OSError("control socket closed")
                buf += chunk
        return json.loads(buf)

    def status(self) -> dict:
        return self.request({"cmd": "status"})["status"]

    def peer(self, did: str) -> dict | None:
        for p in self.status()["peers"]:
            if p["did"] == did:
                return p
        return None

    def send(self, did: str, data: bytes) -> int | None:
        """The message's seq, or None when refused (no session yet, queue full)."""
        reply = self.request({"cmd": "send", "did": did, "data": base64.b64encode(data).decode()})
        return reply["seq"] if reply["ok"] else None

    def send_many(self, did: str, items: list[bytes], timeout: float = 30.0) -> list[int]:
        """Queues every item in order, waiting while the queue is full; their seqs."""
        seqs: list[int] = []
        deadline = time.monotonic() + timeout
        while len(seqs) < len(items):
            batch = [base64.b64encode(x).decode() for x in items[len(seqs):len(seqs) + 500]]
            reply = self.request({"cmd": "send_many", "did": did, "data": batch})
            seqs += reply["seqs"]
            if reply.get("refused"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name}: {reply['refused']}")
                time.sleep(0.02)
        return seqs

    def rotate(self, did: str) -> bool:
        return self.request({"cmd": "rotate", "did": did})["ok"]

    def wait_peer(self, did: str, pred, timeout: float = 20.0) -> dict:
        """Polls the peer's status until pred(peer) holds."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.peer(did)
            except OSError:
                last = None
            if last is not None and pred(last):
                return last
            time.sleep(0.02)
        raise TimeoutError(f"{self.name}: peer condition not met within {timeout} s; last: {last}")

    def audit(self) -> list[dict]:
        try:
            with open(self.audit_path) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def inbox(self) -> list[tuple[str, int, bytes, bytes]]:
        try:
            return read_inbox(self.inbox_path)
        except FileNotFoundError:
            return []

    def delivered(self) -> list[dict]:
        try:
            with open(self.delivery_path) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []


def established(peer: dict) -> bool:
    return peer["session"] is not None and peer["session"]["state"] == "established"
