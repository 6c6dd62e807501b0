"""python -m l2sess.node: the command-line gateway node.

    keygen --identity FILE            make an identity file (0600), print its DID
    did --identity FILE               print the DID of an identity file
    run --config node.toml            run a node until SIGTERM/SIGINT
    status --config node.toml         the running node's status as JSON
    send --config node.toml --to DID (--data TEXT | --hex HEX) [--wait S]
    rotate --config node.toml --to DID
    metrics --config node.toml        Prometheus text

`run` creates the identity file on first run, resumes the sessions saved in
its state directory, writes the audit log (JSON lines), the inbox
(PROTOCOL.md §12) and, when asked, a delivery log; it answers the other
commands on a Unix control socket (0600) and serves /metrics over HTTP when
`metrics` is set. SIGTERM closes the connections cleanly and saves every
session (atomic writes); sessions are also saved every checkpoint_interval so
that a SIGKILL loses as little as possible. See docs/NODE.md.

node.toml is checked against l2sess/node/config.py before any command acts: a
mistake in it, or in a file or port it names, is one line on stderr naming
the key ("l2sess.node: node.toml: [session] ttl: ...") and exit code 2.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import http.server
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time

from l2sess.node.config import ConfigError, blame, load_config, parse_address
from l2sess.did import public_key_from_did
from l2sess.errors import SessionError
from l2sess.node.metrics import format_metrics
from l2sess.node.node import Node, NodeEvent
from l2sess.node.store import StateDir, create_identity, inbox_watermarks, load_identity, load_or_create_identity, \
    open_private_append, rotate, utc_now

# States in which a session has keys worth saving.
LIVE_STATES = {"established", "degraded", "rotating", "suspended"}


# ---- the running node -------------------------------------------------------------------

class JsonLog:
    """An append-only JSON-lines file, flushed per record, that rotates before
    it passes max_bytes (0: never), keeping `keep` older files (path.1 the
    newest). A record the disk refuses (full, read-only) is counted, not
    raised: the node goes on, and status and metrics show the count and the
    last error."""

    def __init__(self, path: str | None, max_bytes: int = 0, keep: int = 1):
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._lock = threading.Lock()
        self.failures = 0
        self.last_error: str | None = None
        self._f = self._open() if path else None

    def _open(self):
        f = open_private_append(self.path)
        self._size = os.fstat(f.fileno()).st_size
        return f

    def write(self, record: dict) -> None:
        if self.path is None:
            return
        line = json.dumps({"time": utc_now(), **record}) + "\n"
        with self._lock:
            try:
                if self._f is None:
                    self._f = self._open()
                size = len(line.encode())
                if self.max_bytes and self._size and self._size + size > self.max_bytes:
                    self._drop_file()
                    rotate(self.path, self.keep)
                    self._f = self._open()
                self._f.write(line)
                self._f.flush()
                self._size += size
            except OSError as exc:
                self.failures += 1
                self.last_error = exc.strerror or str(exc)
                self._drop_file()

    def _drop_file(self) -> None:
        # What a failed write left in the file object's buffer goes with it;
        # the next record opens the file anew.
        f, self._f = self._f, None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            self._drop_file()


class Runner:
    """`run`: the node, its state, its logs and its control socket.

    Every file and port the config names is opened here, before anything
    runs, each under blame(key): a missing directory, a file the node may
    not read or write, a port in use is one line naming the key."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        n = cfg["node"]
        with blame("[node] identity", n["identity"]):
            self.identity, created = load_or_create_identity(n["identity"])
        with blame("[node] state_dir", n["state_dir"]):
            self.state = StateDir(n["state_dir"])
        with blame("[node] audit_log", n["audit_log"]):
            self.audit = JsonLog(n["audit_log"], n["log_max_bytes"], n["log_keep"])
        with blame("[node] delivery_log", n["delivery_log"]):
            self.deliveries = JsonLog(n["delivery_log"], n["log_max_bytes"], n["log_keep"])
        if n["inbox"] is not None:
            with blame("[node] inbox", n["inbox"]):  # the loop opens it as it would
                open_private_append(n["inbox"]).close()
        self.stop_requested = threading.Event()
        try:
            self.node = Node(self.identity, parse_address(n["listen"]), cfg["session"], accept_any=n["accept_any"],
                             no_quic="quic" not in cfg["transports"], no_utcp="utcp" not in cfg["transports"],
                             inbox=n["inbox"], inbox_max_bytes=n["inbox_max_bytes"], inbox_keep=n["inbox_keep"],
                             inbox_sync=n["inbox_sync"], **cfg["loop"])
        except OSError:
            raise ConfigError("[node] listen", f"cannot bind {n['listen']} (is the port in use, or the address "
                                               f"not one of this host's?)") from None
        except ValueError as exc:  # a rule the schema missed: still one line
            raise ConfigError(None, f"the engine refused the configuration: {exc}") from None
        self.audit.write({"event": "start", "did": self.identity.did, "identity_created": created,
                          "address": "%s:%d" % self.node.address})
        self.session_ids: dict[str, str] = {}
        self.checkpoint_failures = 0
        self.checkpoint_error: str | None = None

    def add_peers(self) -> None:
        owners: dict[str, str] = {}
        marks, problems = inbox_watermarks(self.cfg["node"]["inbox"], owners) if self.cfg["node"]["inbox"] \
            else ({}, [])
        for problem in problems:
            self.audit.write({"event": "inbox_damaged", "problem": problem})
        for p in self.cfg["peers"]:
            pk = public_key_from_did(p["did"])
            self.node.add_peer(p["did"], p["address"], False)
            # Every stream of the peer's the inbox holds, not only the one the
            # checkpoint received: a stream started after it may come again.
            for stream, owner in owners.items():
                if owner == pk.hex():
                    self.node.set_delivered(p["did"], stream, marks[stream])
            saved = self.state.load_session(pk)
            if saved is not None:
                blob, stream = saved
                try:
                    self.node.import_session(blob, marks.get(stream, 0))
                    self.audit.write({"event": "import", "did": p["did"], "stream": stream,
                                      "delivered_upto": marks.get(stream, 0)})
                except (SessionError, ValueError) as exc:
                    self.audit.write({"event": "import_failed", "did": p["did"], "error": str(exc)})
            if p["connect"]:
                self.node.add_peer(p["did"], p["address"], True)

    def status(self) -> dict:
        """The node's status, with what the disk refused this run (its files'
        write failures and the last error of each; 0 and None when fine)."""
        st = self.node.status()
        st["stats"].update({"audit_log_failures": self.audit.failures,
                            "delivery_log_failures": self.deliveries.failures,
                            "checkpoint_failures": self.checkpoint_failures})
        st["files"] = {"audit_log_error": self.audit.last_error, "delivery_log_error": self.deliveries.last_error,
                       "checkpoint_error": self.checkpoint_error}
        return st

    def checkpoint(self) -> None:
        """Saves every live session (and what a restart needs to resume it)."""
        for p in self.node.peers():
            s = p["session"]
            if s is None or s["state"] not in LIVE_STATES:
                continue
            pk = public_key_from_did(p["did"])
            try:
                blob = self.node.export(p["did"])
            except SessionError:
                continue
            # The inbox's watermark is kept by the peer's stream (PROTOCOL.md §12).
            try:
                self.state.save_session(pk, blob, s["rx_stream"])
            except OSError as exc:  # a full or read-only disk: the last save stays
                self.checkpoint_failures += 1
                if self.checkpoint_error != exc.strerror:
                    self.audit.write({"event": "checkpoint_failed", "did": p["did"], "error": exc.strerror})
                self.checkpoint_error = exc.strerror
                continue
            self.checkpoint_error = None

    def on_event(self, ev: NodeEvent) -> None:
        if ev.kind == "delivered":
            self.deliveries.write({"did": ev.did, "seq": ev.seq})
        elif ev.kind != "message":
            self.audit.write(ev.audit())
        if ev.kind == "state" and ev.to_state == "established":
            self.checkpoint()  # new keys: an older blob could not resume

    def serve(self) -> int:
        n = self.cfg["node"]
        with contextlib.ExitStack() as cleanup:  # undone in reverse, whatever fails
            cleanup.callback(self.finish)
            with blame("[node] control", n["control"]):
                cleanup.callback(ControlServer(n["control"], self).close)
            if n["metrics"] is not None:
                with blame("[node] metrics", n["metrics"]):
                    cleanup.callback(MetricsServer(n["metrics"], self).close)
            self.add_peers()
            self.node.start()
            # No more traffic first: the last checkpoint is the final state.
            cleanup.callback(self.checkpoint)
            cleanup.callback(self.node.halt)
            interval = n["checkpoint_interval"]
            next_checkpoint = time.monotonic() + interval
            while not self.stop_requested.is_set():
                ev = self.node.next_event(timeout=min(interval, 0.1))
                if ev is not None:
                    self.on_event(ev)
                if time.monotonic() >= next_checkpoint:
                    self.checkpoint()
                    next_checkpoint = time.monotonic() + interval
        return 0

    def finish(self) -> None:
        """Stops the node (closing its connections) and closes the logs."""
        self.node.stop()
        self.audit.write({"event": "stop", "did": self.identity.did})
        self.audit.close()
        self.deliveries.close()


class ControlServer:
    """JSON lines on a Unix socket (0600): {"cmd": "status"|"send"|"rotate"|"metrics", ...}."""

    def __init__(self, path: str, runner: Runner):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        runner_ref = runner

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                for line in self.rfile:
                    reply = control_command(runner_ref, line)
                    self.wfile.write((json.dumps(reply) + "\n").encode())

        old = os.umask(0o177)
        try:
            self.server = socketserver.ThreadingUnixStreamServer(path, Handler)
        finally:
            os.umask(old)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def control_command(runner: Runner, line: bytes) -> dict:
    try:
        req = json.loads(line)
        cmd = req.get("cmd")
        if cmd == "status":
            return {"ok": True, "status": runner.status()}
        if cmd == "metrics":
            return {"ok": True, "metrics": format_metrics(runner.status())}
        if cmd == "send":
            return {"ok": True, "seq": runner.node.send(req["did"], base64.b64decode(req["data"]))}
        if cmd == "send_many":
            return send_many(runner.node, req["did"], req["data"])
        if cmd == "rotate":
            runner.node.rotate(req["did"])
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {cmd!r}"}
    except (SessionError, ValueError, KeyError, TypeError) as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def send_many(node: Node, did: str, items: list[str]) -> dict:
    """Queues base64 messages in order until one is refused; says how many went."""
    seqs = []
    for item in items:
        try:
            seqs.append(node.send(did, base64.b64decode(item)))
        except SessionError as exc:
            return {"ok": True, "seqs": seqs, "refused": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "seqs": seqs}


class MetricsServer:
    """GET /metrics: the node's counters in Prometheus text format."""

    def __init__(self, listen: str, runner: Runner):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                body = format_metrics(runner.status()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        host, port = parse_address(listen)

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self.server = Server((host, port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- the client commands ---------------------------------------------------------------

def control_request(cfg: dict, request: dict, timeout: float = 10.0) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        path = cfg["node"]["control"]
        try:
            s.connect(path)
        except OSError as exc:
            raise ConfigError("[node] control", f"{path}: {exc.strerror or exc} (is the node running?)") from None
        s.sendall((json.dumps(request) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    reply = json.loads(buf)
    if not reply.get("ok"):
        raise SystemExit(f"l2sess.node: {reply.get('error')}")
    return reply


def cmd_keygen(args) -> int:
    ident = create_identity(args.identity)
    print(ident.did)
    return 0


def cmd_did(args) -> int:
    try:
        ident = load_identity(args.identity)
    except ValueError as exc:
        return fail(str(exc))
    print(ident.did)
    return 0


def cmd_run(args) -> int:
    os.umask(0o077)  # whatever the node makes is its user's alone (logs, state, sockets)
    runner = Runner(load_config(args.config))

    def stop(signum, frame):
        runner.stop_requested.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return runner.serve()


def cmd_status(args) -> int:
    print(json.dumps(control_request(load_config(args.config), {"cmd": "status"})["status"], indent=2))
    return 0


def cmd_metrics(args) -> int:
    sys.stdout.write(control_request(load_config(args.config), {"cmd": "metrics"})["metrics"])
    return 0


def cmd_rotate(args) -> int:
    control_request(load_config(args.config), {"cmd": "rotate", "did": args.to})
    return 0


def cmd_send(args) -> int:
    try:
        data = bytes.fromhex(args.hex) if args.hex is not None else args.data.encode()
    except ValueError:
        return fail(f"--hex {args.hex!r} is not hex")
    cfg = load_config(args.config)
    deadline = time.monotonic() + args.wait
    while True:  # until the session exists (a node just started is still connecting)
        try:
            reply = control_request(cfg, {"cmd": "send", "did": args.to, "data": base64.b64encode(data).decode()})
            break
        except SystemExit:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
    print(reply["seq"])
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m l2sess.node", description="l2sess gateway node")
    sub = ap.add_subparsers(dest="command", required=True)
    for name, func, helptext in (("keygen", cmd_keygen, "make an identity file"),
                                 ("did", cmd_did, "print an identity file's DID")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--identity", required=True)
        p.set_defaults(func=func)
    for name, func, helptext in (("run", cmd_run, "run the node"), ("status", cmd_status, "status as JSON"),
                                 ("metrics", cmd_metrics, "Prometheus metrics"),
                                 ("rotate", cmd_rotate, "rotate a session's keys now"),
                                 ("send", cmd_send, "send one message")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--config", required=True)
        if name in ("send", "rotate"):
            p.add_argument("--to", required=True, help="the peer's DID")
        if name == "send":
            g = p.add_mutually_exclusive_group(required=True)
            g.add_argument("--data", help="the message as text")
            g.add_argument("--hex", help="the message as hex")
            p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for a session")
        p.set_defaults(func=func)
    return ap


def fail(message: str) -> int:
    """An operator's mistake: one line on stderr, exit code 2 (as argparse does)."""
    one_line = message.replace("\r", "\\r").replace("\n", "\\n")  # a path may hold anything
    print(f"l2sess.node: {one_line}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        return fail(f"{args.config}: {exc}")
    except OSError as exc:  # keygen and did: the identity file
        return fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
