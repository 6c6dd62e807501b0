"""What the operator's commands print: status and peers (text for people,
JSON with a documented schema for programs) and inbox messages.

The node's control socket reports times on the loop's clock (CLOCK_MONOTONIC
in ms, + 1); the client runs on the same host, so it turns them into
wall-clock RFC 3339 times with its own reading of both clocks.
"""
from __future__ import annotations

import base64
import calendar
import json
import os
import time
from collections.abc import Iterator
from typing import IO, Any

from l2sess.did import did_from_public_key
from l2sess.node.log import rfc3339
from l2sess.node.store import parse_inbox_line, rotated_files


class Clock:
    """Loop time (ms) to wall-clock time, on this host."""

    def __init__(self) -> None:
        self.loop_now_ms = time.monotonic_ns() // 1_000_000 + 1
        self.unix_now = time.time()

    def wall(self, loop_ms: int) -> str | None:
        return rfc3339(self.unix_now - (self.loop_now_ms - loop_ms) / 1000) if loop_ms else None


def peer_document(p: dict[str, Any], clock: Clock) -> dict[str, Any]:
    s = p.get("session") or {}
    return {
        "did": p["did"],
        "address": p.get("address"),
        "connect": p.get("connect"),
        "state": s.get("state"),
        "session_id": s.get("session_id"),
        "initiator": s.get("initiator"),
        "transport": p.get("transport"),
        "established_at": clock.wall(p.get("established_ms", 0)) if s else None,
        "keys_since": clock.wall(s.get("key_established_ms", 0)),
        "expires_at": clock.wall(s.get("expires_ms", 0)),
        "rtt_ms": p.get("rtt_us", 0) / 1000,
        "last_resume_ms": p.get("resume_ms", 0),
        "rotations": s.get("rotations", 0),
        "retries": s.get("retries", 0),
        "missed_heartbeats": s.get("missed_heartbeats", 0),
        "queued": s.get("queued", 0),
        "unacked": s.get("unacked", 0),
        "tx_messages": p.get("tx_messages", 0),
        "rx_messages": p.get("rx_messages", 0),
        "delivered": p.get("delivered", 0),
        "fallbacks": p.get("fallbacks", 0),
        "returns": p.get("returns", 0),
    }


def status_document(st: dict[str, Any]) -> dict[str, Any]:
    """`l2sess status --json`: the schema docs/NODE.md documents."""
    clock = Clock()
    warnings = [w for w in [(st.get("prekey") or {}).get("warning")] if w]
    for key, error in (st.get("files") or {}).items():
        if error:
            warnings.append(f"{key.replace('_error', '').replace('_', ' ')}: {error}")
    if st["stats"].get("inbox_error"):
        warnings.append(f"inbox: {st['stats']['inbox_error']}")
    return {
        "did": st["did"],
        "address": st["address"],
        "time": rfc3339(clock.unix_now),
        "build": st.get("build"),
        "prekey": st.get("prekey"),
        "warnings": warnings,
        "peers": [peer_document(p, clock) for p in st["peers"]],
        "stats": st["stats"],
    }


def _ago(when: str | None, now: float) -> str:
    if when is None:
        return "-"
    t = calendar.timegm(time.strptime(when[:19], "%Y-%m-%dT%H:%M:%S"))
    secs = max(0, int(now - t))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit} ago"
    return f"{secs}s ago"


def peers_text(peers: list[dict[str, Any]]) -> str:
    if not peers:
        return "no peers"
    now = time.time()
    rows = [("PEER", "STATE", "TRANSPORT", "SINCE", "RTT", "QUEUED", "SESSION")]
    for p in peers:
        rows.append((p["did"], p["state"] or "no session", p["transport"] or "-", _ago(p["established_at"], now),
                     f"{p['rtt_ms']:.1f}ms" if p["rtt_ms"] else "-", str(p["queued"]),
                     p["session_id"] or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def status_text(doc: dict[str, Any]) -> str:
    st = doc["stats"]
    build = doc.get("build") or {}
    lines = [f"node       {doc['did']}",
             f"listening  {doc['address']} ({', '.join(build.get('transports', []))})",
             f"version    {build.get('program', '?')} {build.get('version', '?')}"]
    prekey = doc.get("prekey")
    if prekey:
        lines.append(f"prekey     valid until {prekey['not_after']}")
    lines.append(f"sessions   {st.get('sessions', 0)} of {st.get('peers', 0)} peer(s); "
                 f"{st.get('rx_messages', 0)} received, {st.get('tx_messages', 0)} sent; "
                 f"{st.get('refused', 0)} refused stranger(s)")
    for w in doc["warnings"]:
        lines.append(f"WARNING    {w}")
    lines.append("")
    lines.append(peers_text(doc["peers"]))
    return "\n".join(lines)


# ---- the inbox ------------------------------------------------------------------------

def _parse(line: bytes) -> dict[str, Any] | None:
    parts = parse_inbox_line(line)
    if parts is None:
        return None
    stream, seq, pk, payload = parts
    return {"stream": stream, "seq": seq, "pk": bytes.fromhex(pk.decode()), "data": bytes.fromhex(payload.decode())}


def inbox_messages(path: str, follow: bool = False, poll_s: float = 0.2) -> Iterator[dict[str, Any]]:
    """The inbox's messages (PROTOCOL.md §12) from the oldest rotated file on;
    with follow, then those appended later, across rotations, until
    interrupted. A torn last line waits for its end."""
    for name in rotated_files(path):
        if name == os.path.abspath(path):
            continue
        with open(name, "rb") as old:
            for line in old:
                if line.endswith(b"\n") and (m := _parse(line)):
                    yield m
    f: IO[bytes] | None = None
    pending = b""
    while True:
        if f is None:
            try:
                f = open(path, "rb")
            except FileNotFoundError:
                if not follow:
                    return
                time.sleep(poll_s)
                continue
        chunk = f.readline()
        if chunk:
            pending += chunk
            if pending.endswith(b"\n"):
                if m := _parse(pending):
                    yield m
                pending = b""
            continue
        if not follow:
            return
        try:  # rotated: the file at path is a new one; the old one is read to its end first
            rotated = os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            rotated = False
        if rotated:
            f.close()
            f, pending = None, b""
        else:
            time.sleep(poll_s)


def message_line(m: dict[str, Any], as_json: bool) -> str:
    """One message: `DID seq text` (text when it is printable UTF-8, else
    `hex:...`), or a JSON object with the payload in base64 and as text."""
    did = did_from_public_key(m["pk"])
    try:
        text: str | None = m["data"].decode("utf-8")
        if text is not None and not text.isprintable():
            text = None
    except UnicodeDecodeError:
        text = None
    if as_json:
        return json.dumps({"did": did, "stream": m["stream"], "seq": m["seq"],
                           "data": base64.b64encode(m["data"]).decode(), "text": text})
    return f"{did} {m['seq']} {text if text is not None else 'hex:' + m['data'].hex()}"
