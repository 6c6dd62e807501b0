"""The node's counters in Prometheus text exposition format (version 0.0.4)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from l2sess.node.status import NodeStatus

_STATES = ("idle", "handshake_initiated", "handshake_received", "established", "degraded", "rotating",
           "suspended", "failed")


def format_metrics(status: NodeStatus) -> str:
    """Prometheus text format (version 0.0.4) of a Node.status() snapshot."""
    lines: list[str] = []

    def metric(name: str, kind: str, helptext: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP l2sess_{name} {helptext}")
        lines.append(f"# TYPE l2sess_{name} {kind}")
        for labels, value in samples:
            lines.append(f"l2sess_{name}{labels} {value}")

    stats = status["stats"]
    counters = {k: v for k, v in stats.items() if isinstance(v, int)}
    gauges = {"sessions", "peers", "quic_connections", "tcp_connections", "events_queued", "events_peak",
              "inbox_refusing", "tcp_untrusted", "tcp_held_bytes", "memory_budget", "memory_used", "memory_peak",
              "quic_own_sockets", "prekey_not_after_seconds"}
    for key in sorted(counters):
        if key in gauges:
            metric(key, "gauge", f"loop {key.replace('_', ' ')}", [("", counters[key])])
        else:
            metric(f"{key}_total", "counter", f"loop {key.replace('_', ' ')}", [("", counters[key])])
    metric("rx_dropped_total", "counter", "received messages dropped, by reason",
           [(f'{{reason="{r}"}}', n) for r, n in sorted(stats["rx_dropped"].items())])
    peers = status["peers"]
    metric("peer_state", "gauge", "1 for the state each peer's session is in",
           [(f'{{did="{p["did"]}",state="{s}"}}', int(p["session"] is not None and p["session"]["state"] == s))
            for p in peers for s in _STATES])
    metric("peer_transport_quic", "gauge", "1 when the peer's session runs on QUIC, 0 on uTCP or none",
           [(f'{{did="{p["did"]}"}}', int(p["transport"] == "quic")) for p in peers])
    metric("peer_rtt_seconds", "gauge", "QUIC smoothed round-trip time",
           [(f'{{did="{p["did"]}"}}', p["rtt_us"] / 1e6) for p in peers])
    metric("peer_resume_seconds", "gauge", "the last resumption, from start to established",
           [(f'{{did="{p["did"]}"}}', p["resume_ms"] / 1e3) for p in peers])
    for key in ("fallbacks", "returns", "tx_messages", "rx_messages", "delivered"):
        metric(f"peer_{key}_total", "counter", f"per peer: {key.replace('_', ' ')}",
               [(f'{{did="{p["did"]}"}}', cast(Mapping[str, int], p)[key]) for p in peers])
    return "\n".join(lines) + "\n"
