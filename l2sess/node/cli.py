"""l2sess: the operator's command (also `python -m l2sess.node`).

    l2sess keygen [--identity FILE]      make an identity file (0600), print its DID
    l2sess did [--identity FILE]         print the DID of an identity file
    l2sess run                           run the node until SIGTERM/SIGINT (SIGHUP: reload)
    l2sess status [--json]               the running node and its sessions
    l2sess peers [--json]                one line per peer
    l2sess send DID [TEXT | --hex HEX | --file FILE]
    l2sess recv [--from DID] [--follow] [--json]   messages from the inbox
    l2sess rotate DID                    new session keys now
    l2sess renew                         a new prekey now (it is also renewed 30 days before it expires)
    l2sess metrics                       Prometheus text
    l2sess version

Every command but keygen, did and version reads node.toml: --config FILE,
else $L2SESS_CONFIG, else /etc/l2sess/node.toml. It is checked against
l2sess/node/config.py before the command acts. Exit codes (EXIT_* below):
0 done; 1 the node refused or a wait ran out; 2 an operator's mistake
(usage, node.toml, identity file, DID), one line on stderr naming it;
3 no node is running for this node.toml; 4 `run`: a node already runs on
this state directory or control socket. See l2sess(1) and docs/NODE.md.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import sys
import time
from typing import Any, Callable, NoReturn, cast

from l2sess import __version__, _core
from l2sess.did import InvalidDID, public_key_from_did
from l2sess.node.config import ConfigError, load_config
from l2sess.node.log import LEVELS, Log
from l2sess.node.store import create_identity, load_identity
from l2sess.node import view

PROG = "l2sess"
DEFAULT_CONFIG = "/etc/l2sess/node.toml"
DEFAULT_IDENTITY = "identity.key"

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3
EXIT_ALREADY_RUNNING = 4


class Failure(Exception):
    """Ends a command: one line on stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


# ---- talking to the running node ----------------------------------------------------

def control_request(cfg: dict[str, Any], request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """One request on the node's control socket; Failure when no node
    answers (EXIT_NOT_RUNNING) or the node refuses (EXIT_REFUSED)."""
    path = cfg["node"]["control"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(path)
        except OSError as exc:
            why = "no socket" if isinstance(exc, FileNotFoundError) else \
                "a stale socket: its node is gone" if isinstance(exc, ConnectionRefusedError) else exc.strerror
            raise Failure(f"no node is running for {cfg['path']} ({path}: {why}); start it with "
                          f"`{PROG} run --config {cfg['path']}` (or `systemctl start l2sessd`)",
                          EXIT_NOT_RUNNING) from None
        try:
            s.sendall((json.dumps(request) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except socket.timeout:
            raise Failure(f"the node on {path} did not answer within {timeout:g} s", EXIT_REFUSED) from None
    try:
        reply = json.loads(buf)
    except ValueError:
        raise Failure(f"the node on {path} answered nothing that parses", EXIT_REFUSED) from None
    if not reply.get("ok"):
        raise Failure(str(reply.get("error")), EXIT_REFUSED)
    return cast(dict[str, Any], reply)


def read_config(args: argparse.Namespace) -> dict[str, Any]:
    path = args.config or os.environ.get("L2SESS_CONFIG") or DEFAULT_CONFIG
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        raise Failure(f"{path}: {exc}") from None
    cfg["path"] = path
    return cfg


def peer_did(text: str, what: str = "DID") -> str:
    """A DID the operator typed, checked here: a mistake is said at once."""
    try:
        public_key_from_did(text)
    except InvalidDID as exc:
        raise Failure(f"{what} {text!r}: {exc}") from None
    return text


def known_peer(cfg: dict[str, Any], status: dict[str, Any], did: str) -> None:
    """Failure unless did is one of the running node's peers."""
    if not any(p["did"] == did for p in status["peers"]):
        raise Failure(f"{did} is not a peer of this node; add it under [[peers]] in {cfg['path']} "
                      f"and reload (`systemctl reload l2sessd` or SIGHUP)", EXIT_REFUSED)


# ---- the commands ----------------------------------------------------------------------

def cmd_keygen(args: argparse.Namespace) -> int:
    try:
        ident = create_identity(args.identity)
    except FileExistsError:
        raise Failure(f"{args.identity}: exists; an identity is never overwritten (move it away first)") from None
    print(ident.did)
    return EXIT_OK


def cmd_did(args: argparse.Namespace) -> int:
    path = args.identity
    if path is None:
        path = read_config(args)["node"]["identity"]
    try:
        ident = load_identity(path)
    except ValueError as exc:
        raise Failure(str(exc)) from None
    print(ident.did)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from l2sess.node.runner import AlreadyRunning, Runner  # the node's machinery: only for run

    os.umask(0o077)  # whatever the node makes is its user's alone (logs, state, sockets)
    cfg = read_config(args)
    log = Log(args.log_level, args.log_format == "json")
    try:
        runner = Runner(cfg, log)
    except AlreadyRunning as exc:
        raise Failure(f"{cfg['path']}: {exc}", EXIT_ALREADY_RUNNING) from None

    def stop(signum: int, frame: Any) -> None:
        runner.stop_requested.set()

    def reload(signum: int, frame: Any) -> None:
        runner.reload_requested.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    try:
        return runner.serve()
    except AlreadyRunning as exc:
        raise Failure(f"{cfg['path']}: {exc}", EXIT_ALREADY_RUNNING) from None


def cmd_status(args: argparse.Namespace) -> int:
    st = control_request(read_config(args), {"cmd": "status"})["status"]
    doc = view.status_document(st)
    print(json.dumps(doc, indent=2) if args.json else view.status_text(doc))
    return EXIT_OK


def cmd_peers(args: argparse.Namespace) -> int:
    st = control_request(read_config(args), {"cmd": "status"})["status"]
    peers = view.status_document(st)["peers"]
    print(json.dumps(peers, indent=2) if args.json else view.peers_text(peers))
    return EXIT_OK


def cmd_metrics(args: argparse.Namespace) -> int:
    sys.stdout.write(control_request(read_config(args), {"cmd": "metrics"})["metrics"])
    return EXIT_OK


def cmd_rotate(args: argparse.Namespace) -> int:
    did = peer_did(args.peer or args.to or "", "peer")
    cfg = read_config(args)
    known_peer(cfg, control_request(cfg, {"cmd": "status"})["status"], did)
    control_request(cfg, {"cmd": "rotate", "did": did})
    return EXIT_OK


def message_bytes(args: argparse.Namespace) -> bytes:
    given = [x for x in (args.text, args.data, args.hex, args.file) if x is not None]
    if len(given) != 1:
        raise Failure("send takes one message: TEXT, --hex HEX or --file FILE ('-': stdin)")
    if args.hex is not None:
        try:
            return bytes.fromhex(args.hex)
        except ValueError:
            raise Failure(f"--hex {args.hex!r} is not hex") from None
    if args.file is not None:
        if args.file == "-":
            return bytes(sys.stdin.buffer.read())
        try:
            with open(args.file, "rb") as f:
                return f.read()
        except OSError as exc:
            raise Failure(f"--file {args.file}: {exc.strerror}") from None
    text: str = args.text if args.text is not None else args.data
    return text.encode()


def cmd_send(args: argparse.Namespace) -> int:
    did = peer_did(args.peer or args.to or "", "peer")
    data = message_bytes(args)
    if len(data) > _core.MAX_PAYLOAD:
        raise Failure(f"the message is {len(data)} bytes; at most {_core.MAX_PAYLOAD} fit in one")
    cfg = read_config(args)
    known_peer(cfg, control_request(cfg, {"cmd": "status"})["status"], did)
    request = {"cmd": "send", "did": did, "data": base64.b64encode(data).decode()}
    deadline = time.monotonic() + args.wait
    while True:  # a peer whose session is still being set up takes no message yet
        try:
            reply = control_request(cfg, request)
            break
        except Failure as exc:
            if exc.code != EXIT_REFUSED or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
    print(reply["seq"])
    return EXIT_OK


def cmd_recv(args: argparse.Namespace) -> int:
    cfg = read_config(args)
    inbox = cfg["node"]["inbox"]
    if inbox is None:
        raise Failure(f"recv reads the inbox, and {cfg['path']} sets no [node] inbox")
    only = public_key_from_did(peer_did(args.sender, "--from")) if args.sender else None
    try:
        for message in view.inbox_messages(inbox, follow=args.follow):
            if only is None or message["pk"] == only:
                print(view.message_line(message, args.json), flush=True)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def cmd_renew(args: argparse.Namespace) -> int:
    prekey = control_request(read_config(args), {"cmd": "renew"})["prekey"]
    print(f"prekey renewed; its bundle is valid until {prekey['not_after']}")
    return EXIT_OK


def cmd_version(args: argparse.Namespace) -> int:
    print(f"{PROG} {__version__} (ML-KEM-768: {_core.MLKEM_PROVIDER}; transports: QUIC, μTCP)")
    return EXIT_OK


# ---- the parser ------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and exit 2), like any other."""

    def error(self, message: str) -> NoReturn:
        raise Failure(f"{message} (see `{self.prog} --help`)")


def build_parser() -> Parser:
    ap = Parser(prog=PROG, description="l2sess: a post-quantum session layer for edge gateways",
                epilog="exit codes: 0 done; 1 the node refused or a wait ran out; 2 a mistake in the command, "
                       "node.toml, identity file or DID; 3 no node is running; 4 a node already runs there")
    ap.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    config_help = f"node.toml (default: $L2SESS_CONFIG, else {DEFAULT_CONFIG})"
    ap.add_argument("-c", "--config", metavar="FILE", help=config_help)
    # Before or after the command; SUPPRESS keeps the command's parser from
    # overwriting a --config given before it.
    config = Parser(add_help=False)
    config.add_argument("-c", "--config", metavar="FILE", default=argparse.SUPPRESS, help=config_help)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    def command(name: str, func: Callable[[argparse.Namespace], int], helptext: str,
                uses_config: bool = True) -> Parser:
        p = sub.add_parser(name, help=helptext, description=helptext, parents=[config] if uses_config else [])
        p.set_defaults(func=func)
        return p

    p = command("keygen", cmd_keygen, "make a new identity file (mode 0600) and print its DID", False)
    p.add_argument("--identity", metavar="FILE", default=DEFAULT_IDENTITY,
                   help=f"where to write it (default: {DEFAULT_IDENTITY}); an existing file is never overwritten")
    p = command("did", cmd_did, "print the DID of an identity file (default: node.toml's [node] identity)")
    p.add_argument("--identity", metavar="FILE", help="the identity file")
    p = command("run", cmd_run, "run the node in the foreground until SIGTERM or SIGINT; SIGHUP reopens the "
                                "logs and reloads [[peers]]")
    p.add_argument("--log-level", choices=LEVELS, default="info", help="what goes to stderr (default: info)")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="stderr as text lines or JSON lines (default: text)")
    p = command("status", cmd_status, "the running node: identity, prekey, peers and sessions, counters")
    p.add_argument("--json", action="store_true", help="as JSON (the schema: docs/NODE.md, Status)")
    p = command("peers", cmd_peers, "the running node's peers, one line each")
    p.add_argument("--json", action="store_true", help="as JSON")
    p = command("send", cmd_send, "queue one message for a peer and print its sequence number")
    p.add_argument("peer", nargs="?", metavar="DID", help="the peer's DID")
    p.add_argument("text", nargs="?", metavar="TEXT", help="the message, as UTF-8 text")
    p.add_argument("--to", metavar="DID", help=argparse.SUPPRESS)  # the older spelling of DID
    p.add_argument("--data", help=argparse.SUPPRESS)  # the older spelling of TEXT
    p.add_argument("--hex", metavar="HEX", help="the message as hex")
    p.add_argument("--file", metavar="FILE", help="the message is FILE's bytes ('-': stdin)")
    p.add_argument("--wait", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for the peer's session to take messages (default: 10)")
    p = command("recv", cmd_recv, "print the messages in the inbox, oldest first")
    p.add_argument("--from", dest="sender", metavar="DID", help="only this peer's")
    p.add_argument("-f", "--follow", action="store_true", help="then wait for more, as they arrive")
    p.add_argument("--json", action="store_true", help="one JSON object per message")
    p = command("rotate", cmd_rotate, "give a peer's session new keys now")
    p.add_argument("peer", nargs="?", metavar="DID", help="the peer's DID")
    p.add_argument("--to", metavar="DID", help=argparse.SUPPRESS)
    command("renew", cmd_renew, "give the node a new prekey now; the previous one stays accepted until it "
                                "expires (the node renews by itself 30 days before expiry)")
    command("metrics", cmd_metrics, "the running node's counters in Prometheus text format")
    command("version", cmd_version, "the version and how it was built", False)
    return ap


def fail(message: str) -> None:
    one_line = message.replace("\r", "\\r").replace("\n", "\\n")  # a path may hold anything
    print(f"{PROG}: {one_line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe is found here, not at exit
        return code
    except Failure as exc:
        fail(str(exc))
        return exc.code
    except BrokenPipeError:  # `l2sess status --json | head`: the reader is done, so are we
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except ConfigError as exc:  # a file node.toml names, found wrong while the node starts
        fail(f"{args.config or os.environ.get('L2SESS_CONFIG') or DEFAULT_CONFIG}: {exc}")
        return EXIT_USAGE
    except OSError as exc:  # keygen and did: the identity file
        fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
