"""node.toml: the type, range and default of every key, and the loader.

A mistake in node.toml must stop the node before it starts, with one line
that names the key. It must never be read as something else (the string
"false" taken as true) nor replaced by a default behind the operator's
back. So every key has an entry in one schema below: its kind (the TOML
type it must have), its range, its default and a line of documentation.
The loader, docs/NODE.md and tests/python/test_config.py all follow it.

    cfg = load_config("node.toml")   # raises ConfigError, a ValueError
    cfg["node"]["listen"], cfg["session"], cfg["loop"], cfg["peers"]

The [session] keys are SessionConfig (struct l2s_config) and the [loop]
keys l2s_loop_params (csrc/include/l2s_loop.h); the rules between keys that the C code
checks or silently corrects (l2s_config_check, params_fill) are checked
here too, so that an invalid combination is refused with both keys named.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import ipaddress
import json
import os
import re
import tomllib
from typing import Any, Iterable, Iterator

from l2sess.did import public_key_from_did
from l2sess.session import MAX_DURATION, SessionConfig

__all__ = ["ConfigError", "Key", "NODE", "SESSION", "LOOP", "PEER", "TABLES", "load_config", "parse_address",
           "blame"]


class ConfigError(ValueError):
    """node.toml cannot be used as it is.

    key says where, as the operator would look for it: "[session] ttl",
    "[[peers]] #2 address", "[sesion]"; None for the file as a whole (a
    syntax error). str() is the one line the command prints."""

    def __init__(self, key: str | None, message: str):
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


@dataclasses.dataclass(frozen=True)
class Key:
    """One key of node.toml.

    kind is the TOML type it must have and how it is read:
      "boolean"     true or false
      "integer"     a TOML integer in [lo, hi] (not a boolean, not a float)
      "seconds"     a TOML integer or float, in seconds, in [lo, hi]
      "path"        a non-empty string; relative to node.toml's directory
      "address"     "host:port", host a numeric IPv4 or a bracketed IPv6
                    address, port in [lo, hi]
      "transports"  a non-empty array of distinct names from TRANSPORTS
      "did"         a string, a did:key of an Ed25519 key
    default None means the key is off (or, for control, derived).
    unit is what the number counts, for the documentation."""

    kind: str
    default: Any
    doc: str
    lo: float | None = None
    hi: float | None = None
    unit: str = ""


TRANSPORTS = ("quic", "utcp")
U32 = (1 << 32) - 1
U64 = (1 << 64) - 1
MS_PER_DAY = 24 * 3600 * 1000
# sun_path of struct sockaddr_un is 108 bytes with its terminating NUL.
MAX_SOCKET_PATH = 107
# L2S_LOOP_MAX_PEERS (csrc/include/l2s_loop.h).
MAX_PEERS = 4096

NODE = {
    "listen": Key("address", "127.0.0.1:0", "UDP (QUIC and discovery) and TCP (μTCP) address; port 0: any free port",
                  0, 65535),
    "identity": Key("path", "identity.key", "identity file; created (mode 0600) on the first run"),
    "state_dir": Key("path", "state", "saved sessions, the lock and the DID they belong to; created on the "
                      "first run, one node each"),
    "control": Key("path", None, "control socket (mode 0600); default: state_dir/control.sock"),
    "audit_log": Key("path", None, "every transition and transport move, JSON lines; off when not set"),
    "inbox": Key("path", None, "every delivered message (PROTOCOL.md §12); off when not set"),
    "inbox_max_bytes": Key("integer", 64 << 20, "the inbox rotates before it passes this; 0: never", 0, U64,
                           "bytes"),
    "inbox_keep": Key("integer", 3, "rotated inbox files kept (inbox.1 the newest)", 1, 1000, "files"),
    "inbox_sync": Key("boolean", True, "a message is on the disk (fdatasync) before it is acknowledged"),
    "delivery_log": Key("path", None, "every acknowledged seq, JSON lines; off when not set"),
    "log_max_bytes": Key("integer", 16 << 20, "the audit and delivery logs rotate before they pass this; "
                         "0: never", 0, U64, "bytes"),
    "log_keep": Key("integer", 3, "rotated files kept of each log (audit_log.1 the newest)", 1, 1000, "files"),
    "metrics": Key("address", None, "serves GET /metrics (Prometheus) there; off when not set", 1, 65535),
    "accept_any": Key("boolean", False, "accept sessions from DIDs that are not in [[peers]]"),
    "transports": Key("transports", list(TRANSPORTS), "the transports to use; leave one out for a UDP-less site"),
    "checkpoint_interval": Key("seconds", 0.2, "time between saves of the live sessions", 0.01, 3600, "s"),
}

SESSION = {
    "ttl": Key("seconds", 86400, "session lifetime; a heartbeat extends it, keys rotate before it ends",
               0.001, MAX_DURATION, "s"),
    "heartbeat_interval": Key("seconds", 30, "time between heartbeats", 0.001, MAX_DURATION, "s"),
    "heartbeat_tolerance": Key("integer", 3, "unanswered heartbeats in a row before established → degraded",
                               1, 255),
    "handshake_timeout": Key("seconds", 5, "a handshake or rotation without an answer fails after this",
                             0.001, MAX_DURATION, "s"),
    "rotation_window": Key("seconds", 3600, "keys rotate this long before ttl ends; below ttl", 0, MAX_DURATION,
                           "s"),
    "quarantine": Key("seconds", 60, "a peer whose signature failed is refused this long", 0, MAX_DURATION, "s"),
    "heartbeat_reply_timeout": Key("seconds", 2, "a heartbeat is unanswered after this; below heartbeat_interval",
                                   0.001, MAX_DURATION, "s"),
    "connectivity_timeout": Key("seconds", 30, "no connectivity for this long: established → degraded",
                                0.001, MAX_DURATION, "s"),
    "degraded_timeout": Key("seconds", 60, "this long in degraded: → suspended", 0.001, MAX_DURATION, "s"),
    "suspended_retry": Key("seconds", 60, "a suspended session is retried after this", 0.001, MAX_DURATION, "s"),
    "backoff_base": Key("seconds", 1, "first retry delay after a failure, doubled per attempt",
                        0.001, MAX_DURATION, "s"),
    "backoff_max": Key("seconds", 60, "largest retry delay; at least backoff_base", 0, MAX_DURATION, "s"),
    "max_retries": Key("integer", 0, "retries after failures before giving up; 0: for ever", 0, U32),
    "key_grace": Key("seconds", 10, "old receive keys stay valid this long after a rotation", 0, MAX_DURATION,
                     "s"),
    "rotate_after_messages": Key("integer", 1 << 32, "messages under one key pair before a rotation", 1, U64,
                                 "messages"),
    "rotate_after_bytes": Key("integer", 1 << 40, "bytes under one key pair before a rotation", 1, U64, "bytes"),
    "retransmit_timeout": Key("seconds", 0.2, "first retransmission of an unacknowledged message (doubled, "
                              "at most 5 s)", 0.001, MAX_DURATION, "s"),
    "send_queue_limit": Key("integer", 4096, "unacknowledged messages queued per session", 1, U32, "messages"),
    "send_queue_bytes_limit": Key("integer", 16 << 20, "unacknowledged bytes queued per session", 1, U64,
                                  "bytes"),
    "reorder_window": Key("integer", 1024, "messages held out of order per session; every ACK tells the peer, "
                          "which sends at most this many (and at most 256) past the oldest unacknowledged one",
                          1, U32, "messages"),
    "ticket_lifetime": Key("seconds", 86400, "lifetime of the resumption tickets this node issues",
                           0.001, MAX_DURATION, "s"),
    "resume_dh": Key("boolean", False, "a fresh X25519 share in every resumption (PROTOCOL.md §8)"),
}

LOOP = {
    "happy_eyeballs_ms": Key("integer", 250, "μTCP starts this long after QUIC", 1, 60_000, "ms"),
    "path_timeout_ms": Key("integer", 3000, "a connection that received nothing for this long after it "
                           "sent data has failed", 1, 3_600_000, "ms"),
    "quic_retry_ms": Key("integer", 30_000, "on μTCP, QUIC is tried again this often", 1, MS_PER_DAY, "ms"),
    "reconnect_base_ms": Key("integer", 100, "first delay before a new connection attempt", 1, 3_600_000, "ms"),
    "reconnect_max_ms": Key("integer", 10_000, "largest delay between connection attempts; at least "
                            "reconnect_base_ms", 1, MS_PER_DAY, "ms"),
    "event_queue_limit": Key("integer", 8192, "events queued for the node; above half, no new messages are "
                             "taken", 2, 1 << 20, "events"),
    "quic_idle_timeout_ms": Key("integer", 60_000, "QUIC max_idle_timeout", 1000, MS_PER_DAY, "ms"),
    "quic_keepalive_ms": Key("integer", 20_000, "QUIC keep-alive (NAT bindings); below quic_idle_timeout_ms",
                             1, 25_000, "ms"),
    "max_sessions": Key("integer", 65536, "sessions at once", 1, 1 << 20, "sessions"),
    "handshake_rate_per_s": Key("integer", 20, "handshakes per second per source address", 1, U32, "per s"),
    "memory_budget": Key("integer", 32 << 20, "bytes the node may hold for its peers (both transports' buffers "
                         "and connections, held outputs, queued events); past it what no session authenticated "
                         "on is shed or refused", 1 << 20, U64, "bytes"),
    "handshake_work_per_s": Key("integer", 100, "handshake and resumption requests per second (answered or not) "
                                "from which the node is under load and asks for cookies", 1, U32, "per s"),
    "quic_max_connections": Key("integer", 256, "QUIC connections at once, both directions", 1, 65535,
                                "connections"),
    "tcp_max_connections": Key("integer", 1024, "μTCP connections at once, both directions (half of them at "
                               "most not yet authenticated)", 2, 65535, "connections"),
}

PEER = {
    "did": Key("did", None, "the peer's did:key (required)"),
    "address": Key("address", None, "where to reach it; required when connect = true", 1, 65535),
    "connect": Key("boolean", True, "keep a session to it (false: accept its sessions, resume to it)"),
}

TABLES = {"node": NODE, "session": SESSION, "loop": LOOP}

# Rules between two keys of a table: (key, "<" or ">=", other key). The
# [session] ones are l2s_config_check's; reconnect_max_ms >= reconnect_base_ms
# is what params_fill (csrc/loop/loop.c) would otherwise correct silently, and a
# keep-alive no shorter than the idle timeout lets connections time out.
SESSION_RULES = (("rotation_window", "<", "ttl"), ("heartbeat_reply_timeout", "<", "heartbeat_interval"),
                 ("backoff_max", ">=", "backoff_base"))
LOOP_RULES = (("reconnect_max_ms", ">=", "reconnect_base_ms"), ("quic_keepalive_ms", "<", "quic_idle_timeout_ms"))


# ---- reading one value ------------------------------------------------------------------

def _what(value: Any) -> str:
    """A value as the operator wrote it, named by its TOML type."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the float {value!r}"
    if isinstance(value, str):
        return f"the string {_quote(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"the date/time {value}"


def _quote(text: str) -> str:
    """text in double quotes, escaped as TOML (and JSON) would: one line, always."""
    return json.dumps(text, ensure_ascii=False)


def _name(key: str) -> str:
    """A key as it is written in TOML: bare when it can be, quoted otherwise."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _quote(key)


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _in_range(where: str, key: Key, value: float) -> None:
    # `not lo <= v <= hi` also refuses nan, which TOML allows.
    assert key.lo is not None and key.hi is not None  # every number key has a range
    if not key.lo <= value <= key.hi:
        unit = f" {key.unit}" if key.unit else ""
        raise ConfigError(where, f"must be between {_number(key.lo)} and {_number(key.hi)}{unit}, "
                                 f"got {_number(value)}")


def parse_address(text: str, lowest_port: int = 0) -> tuple[str, int]:
    """"192.0.2.7:4433" or "[2001:db8::7]:4433" as (host, port).

    The host must be numeric: the C loop binds and connects to what
    inet_pton reads, and a name would have to be resolved (once? again on
    every reconnect?) by someone. Raises ValueError saying what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{_quote(text)} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host, bracketed = host[1:-1], True
    else:
        bracketed = False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is None or (ip.version == 6) != bracketed or getattr(ip, "scope_id", None):
        raise ValueError(f"{_quote(text)}: the host must be a numeric IPv4 address or an IPv6 address in "
                         f"brackets ([::1]:4433)")
    if not (port.isascii() and port.isdigit()):
        raise ValueError(f"{_quote(text)}: the port must be a number")
    if not lowest_port <= int(port) <= 65535:
        raise ValueError(f"{_quote(text)}: the port must be between {lowest_port} and 65535")
    return host, int(port)


def _check(where: str, key: Key, value: Any) -> Any:
    """value, if it is of key's kind and in its range; else ConfigError on where."""
    kind = key.kind
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ConfigError(where, f"must be true or false (a TOML boolean, no quotes), not {_what(value)}")
        return value
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(where, f"must be an integer, not {_what(value)}")
        _in_range(where, key, value)
        return value
    if kind == "seconds":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(where, f"must be a number of seconds, not {_what(value)}")
        _in_range(where, key, value)
        return value
    if not kind == "transports" and not isinstance(value, str):
        raise ConfigError(where, f"must be a string, not {_what(value)}")
    if kind == "path":
        if not value or "\0" in value:
            raise ConfigError(where, "must be a file name (not empty, no NUL)")
        return value
    if kind == "address":
        try:
            parse_address(value, int(key.lo or 0))
        except ValueError as exc:
            raise ConfigError(where, str(exc)) from None
        return value
    if kind == "did":
        try:
            public_key_from_did(value)
        except ValueError as exc:
            raise ConfigError(where, f"{_quote(value)} is not a did:key of an Ed25519 key: {exc}") from None
        return value
    if kind == "transports":
        if not isinstance(value, list) or not value:
            raise ConfigError(where, f"must be a non-empty array of {_names(TRANSPORTS)}, not {_what(value)}")
        for item in value:
            if not isinstance(item, str) or item not in TRANSPORTS:
                raise ConfigError(where, f"{_what(item)} is not a transport; the transports are "
                                         f"{_names(TRANSPORTS)}")
        if len(set(value)) != len(value):
            raise ConfigError(where, "names a transport twice")
        return list(value)
    raise AssertionError(f"no kind {kind!r}")


def _names(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _unknown(where: str, name: str, known: Iterable[str]) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ConfigError(where, f"unknown key{hint}")


def _table(prefix: str, schema: dict[str, Key], raw: dict[str, Any]) -> dict[str, Any]:
    """Every key of schema: raw's value, checked, or the default."""
    for name in raw:
        if name not in schema:
            raise _unknown(f"{prefix} {_name(name)}", name, schema)
    return {name: _check(f"{prefix} {name}", key, raw[name]) if name in raw else key.default
            for name, key in schema.items()}


def _rules(prefix: str, schema: dict[str, Key], values: dict[str, Any], given: Iterable[str],
           rules: Iterable[tuple[str, str, str]], scale: float = 1) -> None:
    """Refuses a pair of values that breaks one of rules, naming both keys.
    scale turns the values into the units the C code compares (ms)."""
    def shown(name: str) -> str:
        unit = f" {schema[name].unit}" if schema[name].unit else ""
        return f"{_number(values[name])}{unit}" + ("" if name in given else " (the default)")

    def holds(op: str, x: float, y: float) -> bool:
        return x < y if op == "<" else x >= y

    for a, op, b in rules:
        if not holds(op, round(values[a] * scale), round(values[b] * scale)):
            relation = "must be below" if op == "<" else "must not be below"
            # Only the rounding to the engine's unit broke the rule: say so.
            rounding = " (in whole milliseconds)" if holds(op, values[a], values[b]) else ""
            raise ConfigError(f"{prefix} {a}", f"{shown(a)} {relation} {b} = {shown(b)}{rounding}")


# ---- the file ---------------------------------------------------------------------------

def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ConfigError(None, f"cannot read it: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(None, f"line {line}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts the place at the end: "Invalid value (at line 3, column 9)".
        msg = str(exc)
        m = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", msg, re.S)
        if m:
            raise ConfigError(None, f"line {m[2]}, column {m[3]}: TOML syntax error: {m[1]}") from None
        m = re.fullmatch(r"(.*) \(at end of document\)", msg, re.S)
        if m:
            line = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            raise ConfigError(None, f"line {line} (the end of the file): TOML syntax error: {m[1]}") from None
        raise ConfigError(None, f"TOML syntax error: {msg}") from None


def load_config(path: str) -> dict[str, Any]:
    """node.toml, every key checked against the schema, defaults filled in.

    Returns {"node": {key: value}, "session": SessionConfig, "loop": {key: ms or
    count}, "peers": [{"did", "address", "connect"}], "transports": [names]};
    paths are absolute, taken from node.toml's directory. Raises ConfigError
    for the first mistake found."""
    raw = _read(path)
    for name, value in raw.items():
        if name == "peers":
            continue
        if name not in TABLES:
            if isinstance(value, dict):
                close = difflib.get_close_matches(name, [*TABLES, "peers"], n=1)
                hint = f" (did you mean [{close[0]}]?)" if close else ""
                raise ConfigError(f"[{_name(name)}]", f"unknown table{hint}")
            homes = [t for t, schema in TABLES.items() if name in schema]
            hint = f" (it belongs in [{homes[0]}])" if homes else ""
            raise ConfigError(_name(name), f"unknown key at the top level{hint}; node.toml has [node], "
                                           f"[session], [loop] and [[peers]]")
        if not isinstance(value, dict):
            raise ConfigError(name, f"must be a table [{name}], not {_what(value)}")
    given = {t: raw.get(t, {}) for t in TABLES}

    node = _table("[node]", NODE, given["node"])
    base = os.path.dirname(os.path.abspath(path))
    for name, key in NODE.items():
        if key.kind == "path" and node[name] is not None:
            node[name] = os.path.join(base, node[name])
    if node["control"] is None:
        node["control"] = os.path.join(node["state_dir"], "control.sock")
    if len(os.fsencode(node["control"])) > MAX_SOCKET_PATH:
        raise ConfigError("[node] control", f"{node['control']} is longer than {MAX_SOCKET_PATH} bytes, "
                                            f"too long for a Unix socket; set a shorter control path")

    session_values = _table("[session]", SESSION, given["session"])
    # The engine compares whole milliseconds (SessionConfig rounds to them).
    _rules("[session]", SESSION, session_values, given["session"], SESSION_RULES, scale=1000)
    try:
        session = SessionConfig(**session_values)
    except (TypeError, ValueError) as exc:  # a rule the schema missed: still one line
        raise ConfigError("[session]", str(exc)) from None

    loop = _table("[loop]", LOOP, given["loop"])
    _rules("[loop]", LOOP, loop, given["loop"], LOOP_RULES)

    return {"node": node, "session": session, "loop": loop, "peers": _peers(raw.get("peers", [])),
            "transports": node["transports"]}


def _peers(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, dict):
        raise ConfigError("[peers]", "must be an array of tables: [[peers]], with two brackets")
    if not isinstance(raw, list):
        raise ConfigError("peers", f"must be an array of tables [[peers]], not {_what(raw)}")
    if len(raw) > MAX_PEERS:
        raise ConfigError("[[peers]]", f"at most {MAX_PEERS} peers, got {len(raw)}")
    peers: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw, 1):
        prefix = f"[[peers]] #{i}"
        if not isinstance(entry, dict):
            raise ConfigError(prefix, f"must be a table, not {_what(entry)}")
        if "did" not in entry:
            raise ConfigError(f"{prefix} did", "missing; every peer needs its did")
        p = _table(prefix, PEER, entry)
        if p["connect"] and p["address"] is None:
            default = "" if "connect" in entry else " (the default)"
            raise ConfigError(f"{prefix} address", f"missing; connect = true{default} needs the peer's address")
        if p["did"] in seen:
            raise ConfigError(f"{prefix} did", f"the same peer as [[peers]] #{seen[p['did']]}")
        seen[p["did"]] = i
        peers.append(p)
    return peers


# ---- files named by the config, at start --------------------------------------------------

@contextlib.contextmanager
def blame(key: str, path: str) -> Iterator[None]:
    """Turns an OSError or ValueError of the block (a file the config names is
    missing, unreadable, malformed, or a port is taken) into a ConfigError on
    key, so that it too is one line and not a traceback."""
    try:
        yield
    except ConfigError:
        raise
    except OSError as exc:
        reason = f"{exc.filename or path}: {exc.strerror}" if exc.strerror else str(exc)
        raise ConfigError(key, reason) from None
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None
