"""The gateway daemon's size and memory (issue 11; a benchmark, not a test).

For each built target: the stripped size of l2sessd; natively, the daemon's
resident memory (VmRSS, and its peak VmHWM) idle, with 1 session and with N
sessions (default 1,000) from N gateways of their own identity
(bench/sessions_client.c), over μTCP and over QUIC; the Python node's
(python -m l2sess.node) beside it, measured the same way in the same run.

    python bench/bench_daemon.py [--sessions N] [--quick] [--json]

--quick: 20 sessions, μTCP only (the smoke test under `make test`)."""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from l2sess.did import public_key_from_did  # noqa: E402
from l2sess_testbed.daemon import daemon_programs  # noqa: E402
from l2sess_testbed.procnode import NodeProcess  # noqa: E402

TARGETS = {"x86-64 (glibc)": "native", "aarch64 (glibc)": "aarch64-linux-gnu",
           "armhf (glibc)": "arm-linux-gnueabihf", "aarch64 (musl, static)": "aarch64-linux-musl",
           "mipsel (musl, static)": "mipsel-linux-musl"}


def stripped_size(binary: Path) -> int | None:
    strip = shutil.which("llvm-strip") or shutil.which("llvm-strip-14")
    if not binary.exists() or strip is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "l2sessd"
        subprocess.run([strip, "-o", str(out), str(binary)], check=True)
        return out.stat().st_size


def memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of pid, KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def sessions_client() -> str:
    build = ROOT / "build" / "native"
    subprocess.run(["cmake", "--build", str(build), "--target", "sessions_client"], check=True,
                   stdout=subprocess.DEVNULL)
    return str(build / "sessions_client")


def measure(program: list[str] | None, n: int, transport: str, client: str) -> dict:
    """The node's memory idle, then holding 1 and n sessions."""
    raise_fd_limit()
    with tempfile.TemporaryDirectory() as work:
        node = NodeProcess(work, "node", program=program, accept_any=True,
                           transports=[transport],
                           loop={"handshake_rate_per_s": 1_000_000, "handshake_work_per_s": 1_000_000,
                                 "memory_budget": 1 << 30, "event_queue_limit": 1 << 16,
                                 "quic_max_connections": 2 * n + 16, "tcp_max_connections": 2 * n + 16})
        node.start(wait=60)
        try:
            time.sleep(0.5)
            row = {"idle": memory(node.proc.pid)[0]}
            pk = public_key_from_did(node.did).hex()
            for count in (1, n):
                proc = subprocess.Popen([client, str(count), node.address, pk, transport], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
                line = proc.stdout.readline().split()
                if not line or line[0] != "ESTABLISHED":
                    proc.kill()
                    raise RuntimeError(f"{count} sessions over {transport}: {line}")
                time.sleep(1.0)  # a heartbeat or two, the queues settled
                rss, hwm = memory(node.proc.pid)
                row[count] = rss
                row[f"{count}_peak"] = hwm
                row[f"{count}_setup_s"] = float(line[2])
                proc.stdin.close()
                proc.wait(timeout=60)
                time.sleep(0.5)
        finally:
            node.terminate()
        return row


def raise_fd_limit() -> None:
    """As many fds as this process may have, for the node and the client."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = 20 if args.quick else args.sessions
    transports = ["utcp"] if args.quick else ["utcp", "quic"]
    daemon, _ = daemon_programs()
    client = sessions_client()
    result = {"sizes": {}, "memory": []}
    for name, folder in TARGETS.items():
        size = stripped_size(ROOT / "build" / folder / "firmware" / "l2sessd")
        if size is not None:
            result["sizes"][name] = size
    for label, program in (("l2sessd", [daemon]), ("python -m l2sess.node", None)):
        for t in transports:
            row = measure(program, n, t, client)
            result["memory"].append({"node": label, "transport": t, "sessions": n, **row})
    if args.json:
        print(json.dumps(result))
        return 0
    print("| target | l2sessd stripped |")
    print("|---|---|")
    for name, size in result["sizes"].items():
        print(f"| {name} | {size / 1024:,.0f} KiB |")
    print()
    print(f"| node | transport | RSS idle | RSS 1 session | RSS {n} sessions | per session | peak | "
          f"{n} sessions set up in |")
    print("|---|---|---|---|---|---|---|---|")
    for r in result["memory"]:
        per = (r[n] - r[1]) / max(1, n - 1)
        print(f"| {r['node']} | {r['transport']} | {r['idle'] / 1024:.1f} MiB | {r[1] / 1024:.1f} MiB | "
              f"{r[n] / 1024:.1f} MiB | {per:.1f} KiB | {r[f'{n}_peak'] / 1024:.1f} MiB | {r[f'{n}_setup_s']:.1f} s |")
    daemon_rows = {r["transport"]: r for r in result["memory"] if r["node"] == "l2sessd"}
    python_rows = {r["transport"]: r for r in result["memory"] if r["node"] != "l2sessd"}
    for t in transports:
        print(f"\n{t}: l2sessd holds {n} sessions in {daemon_rows[t][n] / python_rows[t][n]:.2f}x the Python "
              f"node's memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
