"""`l2sess run`: the node, its state, its logs and its control socket.

The runner opens every file and port node.toml names before anything runs,
each under blame(key), so a mistake is one line naming the key. It holds
the state directory's lock for as long as it runs (one node per state
directory), keeps the audit and delivery logs, saves sessions so that a
restart resumes them, answers the control socket and /metrics, and tells
the operator on stderr what it does (l2sess.node.log.Log).
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import http.server
import json
import os
import socket
import socketserver
import threading
import time
from typing import Any, cast

from l2sess import __version__
from l2sess.did import public_key_from_did
from l2sess.errors import SessionError
from l2sess.node.config import ConfigError, blame, load_config, parse_address
from l2sess.node.log import JsonLog, Log, rfc3339
from l2sess.node.metrics import format_metrics
from l2sess.node.node import Node, NodeEvent
from l2sess.node.status import NodeStatus
from l2sess.node.store import PREKEY_LIFETIME, StateDir, inbox_watermarks, load_or_create_identity, \
    open_private_append, save_identity

# States in which a session has keys worth saving.
LIVE_STATES = {"established", "degraded", "rotating", "suspended"}
# A saved session is saved again when what its resumption needs changed
# (not its expiry, which every heartbeat moves), or after this long.
CHECKPOINT_REFRESH_S = 60.0
# The same stranger, or the same unreachable peer, is told on stderr at most this often.
REPEAT_S = 60.0
# The prekey is renewed when less than this is left of its bundle's life,
# checked at start and every RENEW_CHECK_S; status warns from PREKEY_WARN_S
# on (renewal keeps failing: the identity file cannot be written).
RENEW_BEFORE_S = 30 * 24 * 3600
RENEW_CHECK_S = 3600.0
PREKEY_WARN_S = 14 * 24 * 3600


class AlreadyRunning(Exception):
    """Another node holds this state directory or answers on this control socket."""


class StateLock:
    """An exclusive flock on state_dir/lock, held while the node runs; the
    file holds the holder's pid. l2sessd takes the same lock, so neither
    node runs twice on one state directory, nor both on it."""

    def __init__(self, state_dir: str):
        self.path = os.path.join(state_dir, "lock")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(f"[node] state_dir: another node (pid {holder}) is running on state_dir "
                                 f"{state_dir}; stop it first, or give this one a state_dir of its own") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        os.close(self.fd)


def check_identity(identity_path: str, state: StateDir) -> tuple[Any, bool]:
    """The node's identity, created on the first run only.

    The state directory records the DID it belongs to (state_dir/did). An
    identity file that is missing where the state directory already has a
    DID is a mistake (a typo in the path, a lost file), not a first run:
    refused, rather than quietly becoming a new node that no peer knows."""
    recorded_path = os.path.join(state.path, "did")
    try:
        with open(recorded_path) as f:
            recorded = f.read().strip() or None
    except FileNotFoundError:
        recorded = None
    if recorded is not None and not os.path.exists(identity_path):
        raise ConfigError("[node] identity", f"{identity_path}: no such file, but state_dir {state.path} belongs to "
                                             f"{recorded}; restore that identity file or correct the path")
    identity, created = load_or_create_identity(identity_path)
    if recorded is not None and recorded != identity.did:
        raise ConfigError("[node] identity", f"{identity_path} is {identity.did}, but state_dir {state.path} "
                                             f"belongs to {recorded}; each identity needs its own state_dir")
    if recorded is None:
        with open(recorded_path + ".tmp", "w") as f:
            f.write(identity.did + "\n")
        os.replace(recorded_path + ".tmp", recorded_path)
    return identity, created


class Runner:
    """One running node: identity, state, logs, the C loop (l2sess.Node)."""

    def __init__(self, cfg: dict[str, Any], log: Log | None = None):
        self.cfg = cfg
        self.log = log or Log()
        n = cfg["node"]
        with blame("[node] state_dir", n["state_dir"]):
            self.state = StateDir(n["state_dir"])
            self.lock = StateLock(n["state_dir"])
        with blame("[node] identity", n["identity"]):
            self.identity, self.identity_created = check_identity(n["identity"], self.state)
        with blame("[node] audit_log", n["audit_log"]):
            self.audit = JsonLog(n["audit_log"], n["log_max_bytes"], n["log_keep"])
        with blame("[node] delivery_log", n["delivery_log"]):
            self.deliveries = JsonLog(n["delivery_log"], n["log_max_bytes"], n["log_keep"])
        if n["inbox"] is not None:
            with blame("[node] inbox", n["inbox"]):  # the loop opens it as it would
                open_private_append(n["inbox"]).close()
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
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
        self.started = time.time()
        self.audit.write({"event": "start", "did": self.identity.did, "identity_created": self.identity_created,
                          "address": "%s:%d" % self.node.address})
        self.checkpoint_failures = 0
        self.checkpoint_error: str | None = None
        self._last_told: dict[tuple[str, str], float] = {}
        self._renewing = threading.Lock()
        self._saved: dict[str, tuple[tuple[Any, ...], float]] = {}  # did: (what was saved, when)

    # ---- the prekey -------------------------------------------------------------------

    def renew_prekey(self, why: str) -> dict[str, Any]:
        """A new prekey: written to the identity file first (a crash leaves
        the old or the new one there), then given to the loop. The current
        one stays accepted as the previous; the one before it goes."""
        with self._renewing:
            fresh = self.identity.renewed(PREKEY_LIFETIME)
            path = self.cfg["node"]["identity"]
            try:
                save_identity(path, fresh)
            except OSError as exc:
                self.audit.write({"event": "prekey_renew_failed", "error": exc.strerror})
                self.log.error("prekey not renewed: the identity file cannot be written", identity=path,
                               error=exc.strerror)
                raise
            self.node.renew_prekey(fresh)
            self.identity = fresh
            status = prekey_status(fresh.prekey_not_after)
            self.audit.write({"event": "prekey_renewed", "reason": why, "not_after": status["not_after"]})
            self.log.info("prekey renewed", reason=why, not_after=status["not_after"])
            return status

    def renew_if_due(self) -> None:
        """Renews the prekey when its bundle nears its end; drops a previous
        prekey whose bundle has ended from the identity file."""
        now = time.time()
        try:
            if self.identity.prekey_not_after - now < RENEW_BEFORE_S:
                self.renew_prekey("expiring")
            previous = self.identity.previous_prekey
            if previous is not None and previous[1] <= now:
                with self._renewing:
                    self.identity = self.identity.without_previous_prekey()
                    save_identity(self.cfg["node"]["identity"], self.identity)
        except OSError:
            pass  # said and counted above; tried again at the next check

    # ---- peers ---------------------------------------------------------------------

    def add_peers(self) -> None:
        owners: dict[str, str] = {}
        marks, problems = inbox_watermarks(self.cfg["node"]["inbox"], owners) if self.cfg["node"]["inbox"] \
            else ({}, [])
        for problem in problems:
            self.audit.write({"event": "inbox_damaged", "problem": problem})
            self.log.warning("inbox damaged", problem=problem)
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
                    self.log.warning("saved session not resumed; a full handshake follows", did=p["did"],
                                     error=str(exc))
            if p["connect"]:
                self.node.add_peer(p["did"], p["address"], True)

    def reload(self) -> None:
        """SIGHUP: the logs are reopened (logrotate) and [[peers]] reloaded;
        a broken node.toml is refused and the running peers stay."""
        self.audit.reopen()
        self.deliveries.reopen()
        try:
            fresh = load_config(self.cfg["path"])
        except ConfigError as exc:
            self.audit.write({"event": "reload_failed", "error": str(exc)})
            self.log.error("node.toml not reloaded", error=str(exc))
            return
        kept = {p["did"] for p in fresh["peers"]}
        for p in self.cfg["peers"]:
            if p["did"] not in kept:
                self.node.close_peer(p["did"])
        for p in fresh["peers"]:
            self.node.add_peer(p["did"], p["address"], p["connect"])
        self.cfg["peers"] = fresh["peers"]
        self.audit.write({"event": "reload", "peers": len(fresh["peers"])})
        self.log.info("reloaded [[peers]]; other keys take effect at the next start", peers=len(fresh["peers"]))

    # ---- status ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The node's status, with what the disk refused this run (its files'
        write failures and the last error of each; 0 and None when fine),
        the prekey bundle's expiry and the build."""
        st = cast(dict[str, Any], self.node.status())
        st["stats"].update({"audit_log_failures": self.audit.failures,
                            "delivery_log_failures": self.deliveries.failures,
                            "checkpoint_failures": self.checkpoint_failures})
        st["files"] = {"audit_log_error": self.audit.last_error, "delivery_log_error": self.deliveries.last_error,
                       "checkpoint_error": self.checkpoint_error}
        st["prekey"] = prekey_status(self.identity.prekey_not_after)
        st["stats"]["prekey_not_after_seconds"] = self.identity.prekey_not_after
        # The Python extension is always built with QUIC (setup.py).
        st["build"] = {"program": "l2sess", "version": __version__, "transports": ["quic", "utcp"]}
        return st

    # ---- checkpoints ----------------------------------------------------------------

    def checkpoint(self, every: bool = False) -> None:
        """Saves the live sessions whose resumption state changed since their
        last save, or that were last saved CHECKPOINT_REFRESH_S ago (every:
        all of them, as at the end). A session that only carries traffic
        costs no fsync (l2sessd's checkpoint.c decides the same way)."""
        now = time.monotonic()
        for p in self.node.peers():
            s = p["session"]
            if s is None or s["state"] not in LIVE_STATES:
                continue
            mark = (s["session_id"], s["rx_stream"], s["state"], s["rotations"], s["key_established_ms"],
                    s["next_send_seq"], s["next_recv_seq"], s["unacked"], s["queued"])
            last = self._saved.get(p["did"])
            if not every and last is not None and last[0] == mark and now - last[1] < CHECKPOINT_REFRESH_S:
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
                    self.log.error("session not saved", did=p["did"], error=exc.strerror)
                self.checkpoint_error = exc.strerror
                continue
            self.checkpoint_error = None
            self._saved[p["did"]] = (mark, now)

    # ---- events ---------------------------------------------------------------------

    def on_event(self, ev: NodeEvent) -> None:
        if ev.kind == "delivered":
            self.deliveries.write({"did": ev.did, "seq": ev.seq})
        elif ev.kind != "message":
            self.audit.write(ev.audit())
        self.tell(ev)
        if ev.kind == "state" and ev.to_state == "established":
            self.checkpoint()  # new keys: an older blob could not resume

    def tell(self, ev: NodeEvent) -> None:
        """The operator's view of an event, on stderr: what changes a
        session's fate at info or warning, the rest at debug."""
        log = self.log
        if ev.kind == "state":
            if ev.to_state == "established" and ev.from_state == "rotating":
                log.info("session keys rotated", did=ev.did, session_id=ev.session_id)
            elif ev.to_state == "established":
                log.info("session established", did=ev.did, session_id=ev.session_id, transport=ev.transport,
                         reason=ev.reason)
            elif ev.to_state in ("failed", "suspended", "degraded"):
                log.warning(f"session {ev.to_state}", did=ev.did, session_id=ev.session_id, reason=ev.reason)
            else:
                log.debug("session state", did=ev.did, session_id=ev.session_id, from_state=ev.from_state,
                          to_state=ev.to_state, reason=ev.reason)
        elif ev.kind == "refused" and self._first_in_a_while("refused", ev.did):
            log.warning("refused a DID that is not among [[peers]] (accept_any is off)", did=ev.did)
        elif ev.kind == "peer_error" and self._first_in_a_while("peer_error", ev.did):
            log.warning("cannot reach peer; retrying", did=ev.did, error=ev.audit().get("error"))
        elif ev.kind == "inbox":
            (log.error if ev.error else log.info)(f"inbox {ev.audit()['inbox']}", did=ev.did)
        elif ev.kind == "transport":
            log.info("session moved", did=ev.did, session_id=ev.session_id, transport=ev.transport)
        elif ev.kind == "closed":
            log.info("session closed by the peer", did=ev.did, session_id=ev.session_id, reason=ev.reason)
        elif log.enabled("debug") and ev.kind not in ("refused", "peer_error"):
            log.debug(ev.kind, did=ev.did, session_id=ev.session_id, seq=ev.seq or None, reason=ev.reason)

    def _first_in_a_while(self, what: str, did: str) -> bool:
        now = time.monotonic()
        last = self._last_told.get((what, did))
        if last is not None and now - last < REPEAT_S:
            return False
        if len(self._last_told) > 4096:  # strangers are many; keep the memory bounded
            self._last_told.clear()
        self._last_told[(what, did)] = now
        return True

    # ---- the run ----------------------------------------------------------------------

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
            self.renew_if_due()
            self.node.start()
            self.announce()
            next_renew_check = time.monotonic() + RENEW_CHECK_S
            cleanup.callback(self.log.info, "stopped; sessions saved", state_dir=n["state_dir"])
            # No more traffic first: the last checkpoint is the final state.
            cleanup.callback(self.checkpoint, True)
            cleanup.callback(self.node.halt)
            interval = n["checkpoint_interval"]
            next_checkpoint = time.monotonic() + interval
            while not self.stop_requested.is_set():
                ev = self.node.next_event(timeout=min(interval, 0.1))
                if ev is not None:
                    self.on_event(ev)
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reload()
                if time.monotonic() >= next_checkpoint:
                    self.checkpoint()
                    next_checkpoint = time.monotonic() + interval
                if time.monotonic() >= next_renew_check:
                    self.renew_if_due()
                    next_renew_check = time.monotonic() + RENEW_CHECK_S
        return 0

    def announce(self) -> None:
        n = self.cfg["node"]
        host, port = self.node.address
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        transports = " and ".join({"quic": "QUIC (UDP)", "utcp": "μTCP (TCP)"}[t] for t in self.cfg["transports"])
        self.log.info(f"l2sess {__version__} listening on {where}, {transports}", did=self.identity.did)
        if self.identity_created:
            self.log.info("created a new identity", identity=n["identity"], did=self.identity.did)
        self.log.info("control socket ready", control=n["control"], metrics=n["metrics"],
                      peers=len(self.cfg["peers"]), accept_any=n["accept_any"])
        warning = prekey_status(self.identity.prekey_not_after)["warning"]
        if warning:
            self.log.warning(warning)

    def finish(self) -> None:
        """Stops the node (closing its connections), closes the logs, lets go of the lock."""
        self.node.stop()
        self.audit.write({"event": "stop", "did": self.identity.did})
        self.audit.close()
        self.deliveries.close()
        self.lock.release()


def prekey_status(not_after: int, now: float | None = None) -> dict[str, Any]:
    """The prekey bundle's expiry, and a warning when it is near or past."""
    left = not_after - (time.time() if now is None else now)
    warning = None
    if left <= 0:
        warning = ("the prekey bundle has expired: peers without a session cannot start one "
                   "(renew it: `l2sess renew` or `l2sessctl renew`)")
    elif left < PREKEY_WARN_S:
        warning = f"the prekey bundle expires in {int(left // 86400)} day(s) (renew it: `l2sess renew` or " \
                  "`l2sessctl renew`)"
    return {"not_after": rfc3339(not_after), "expires_in_s": int(left), "warning": warning}


# ---- the control socket and /metrics -----------------------------------------------

def socket_in_use(path: str) -> bool:
    """A node answers on the Unix socket at path (a stale file answers nothing)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
        except OSError:
            return False
    return True


class ControlServer:
    """JSON lines on a Unix socket (0600): {"cmd": "status"|"send"|"rotate"|"metrics", ...}."""

    def __init__(self, path: str, runner: Runner):
        self.path = path
        if socket_in_use(path):
            raise AlreadyRunning(f"[node] control: another node answers on {path}; stop it first, "
                                 f"or give this one a [node] control of its own")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a stale socket: its node is gone
        runner_ref = runner

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    reply = control_command(runner_ref, line)
                    self.wfile.write((json.dumps(reply) + "\n").encode())

        old = os.umask(0o177)
        try:
            self.server = socketserver.ThreadingUnixStreamServer(path, Handler)
        finally:
            os.umask(old)
        self.server.daemon_threads = True
        self.inode = os.stat(path).st_ino
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino == self.inode:  # ours, not a successor's
                os.unlink(self.path)


def control_command(runner: Runner, line: bytes) -> dict[str, Any]:
    try:
        req = json.loads(line)
        cmd = req.get("cmd")
        if cmd == "status":
            return {"ok": True, "status": runner.status()}
        if cmd == "metrics":
            return {"ok": True, "metrics": format_metrics(cast(NodeStatus, runner.status()))}
        if cmd == "send":
            return {"ok": True, "seq": runner.node.send(req["did"], base64.b64decode(req["data"]))}
        if cmd == "send_many":
            return send_many(runner.node, req["did"], req["data"])
        if cmd == "rotate":
            runner.node.rotate(req["did"])
            return {"ok": True}
        if cmd == "renew":
            return {"ok": True, "prekey": runner.renew_prekey("requested")}
        return {"ok": False, "error": f"unknown command {cmd!r}"}
    except (SessionError, ValueError, KeyError, TypeError) as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    except OSError as exc:
        return {"ok": False, "error": f"{exc.filename}: {exc.strerror}"}


def send_many(node: Node, did: str, items: list[str]) -> dict[str, Any]:
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
            def do_GET(self) -> None:
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                body = format_metrics(cast(NodeStatus, runner.status())).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
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

