"""`make demo`: two gateway nodes on loopback, each a process of its own
(`python -m l2sess.node run`), complete a real post-quantum session and keep
it through what an edge network does to it:

  1. a full hybrid X25519 + ML-KEM-768 handshake over QUIC;
  2. messages both ways, each delivered exactly once;
  3. a key rotation forced by short intervals in node.toml;
  4. gateway A killed with SIGKILL mid-transfer and restarted: the session
     is resumed (no full handshake) and nothing acknowledged is lost;
  5. QUIC blocked: the session carries on over μTCP, then returns to QUIC.

A reaches B through the project's impairment relay (l2sess_testbed.relay), which is
how step 5 blocks UDP without touching the host's firewall. It ends with a
summary table. `make simdemo` runs the in-process, simulated-clock demo of
the engine alone (partitions, suspension) instead.
"""
from __future__ import annotations

import sys
import tempfile
import time

from l2sess_testbed.procnode import NodeProcess, established
from l2sess_testbed.relay import Relay

# Short intervals so that a rotation and a fallback happen within seconds.
SESSION = {"ttl": 40.0, "rotation_window": 32.0, "heartbeat_interval": 1.0, "heartbeat_reply_timeout": 0.5,
           "handshake_timeout": 2.0, "connectivity_timeout": 3.0, "degraded_timeout": 10.0,
           "suspended_retry": 2.0, "backoff_base": 0.2, "backoff_max": 2.0}
LOOP = {"path_timeout_ms": 1500, "quic_retry_ms": 3000, "reconnect_base_ms": 100, "reconnect_max_ms": 1000}


class Demo:
    def __init__(self, workdir: str):
        self.b = NodeProcess(workdir, "gateway-b", session=SESSION, loop=LOOP)
        self.relay = Relay(listen=("127.0.0.1", 0), target=("127.0.0.1", self.b.port), seed=1)
        self.relay.start()
        self.a = NodeProcess(workdir, "gateway-a", session=SESSION, loop=LOOP)
        self.a.add_peer(self.b.did, f"127.0.0.1:{self.relay.port}", connect=True)
        self.b.add_peer(self.a.did, self.a.address, connect=False)
        self.rows: list[tuple[str, str, str]] = []

    def row(self, step: str, ok: bool, detail: str) -> None:
        self.rows.append((step, "ok" if ok else "FAILED", detail))
        print(f"  {'ok ' if ok else 'FAILED'} {step}: {detail}", flush=True)

    def send_all(self, src: NodeProcess, dst_did: str, prefix: str, n: int, start: int = 0) -> list[int]:
        seqs = []
        for i in range(start, n):
            data = f"{prefix}-{i}".encode()
            deadline = time.monotonic() + 10
            while (seq := src.send(dst_did, data)) is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{src.name} could not queue {data!r}")
                time.sleep(0.02)
            seqs.append(seq)
        return seqs

    def payloads(self, node: NodeProcess, prefix: str) -> list[bytes]:
        return [m[3] for m in node.inbox() if m[3].startswith(prefix.encode())]

    def wait_payloads(self, node: NodeProcess, prefix: str, n: int, timeout: float = 20.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.payloads(node, prefix)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        return self.payloads(node, prefix)

    # ---- the steps ------------------------------------------------------------------

    def handshake(self) -> None:
        self.b.start()
        t0 = time.monotonic()
        self.a.start()
        peer = self.a.wait_peer(self.b.did, established, 20)
        ms = (time.monotonic() - t0) * 1000
        self.row("1 PQ handshake over QUIC", peer["transport"] == "quic",
                 f"established {ms:.0f} ms after launching A (Python start-up included), on {peer['transport']}, "
                 f"X-Wing (ML-KEM-768 + X25519), mutual Ed25519")

    def messages(self) -> None:
        n = 50
        self.send_all(self.a, self.b.did, "a2b", n)
        self.send_all(self.b, self.a.did, "b2a", n)
        ab = self.wait_payloads(self.b, "a2b", n)
        ba = self.wait_payloads(self.a, "b2a", n)
        ok = ab == [f"a2b-{i}".encode() for i in range(n)] and ba == [f"b2a-{i}".encode() for i in range(n)]
        self.row("2 messages both ways", ok, f"A->B {len(ab)}/{n}, B->A {len(ba)}/{n}, in order, exactly once")

    def rotation(self) -> None:
        # ttl 40 s with a 32 s window: rotation is due 8 s after the handshake.
        t0 = time.monotonic()
        peer = self.a.wait_peer(self.b.did, lambda p: p["session"] and p["session"]["rotations"] >= 1
                                and p["session"]["state"] == "established", 30)
        self.send_all(self.a, self.b.did, "rot", 10)
        got = self.wait_payloads(self.b, "rot", 10)
        self.row("3 key rotation (from config)", len(got) == 10,
                 f"rotations {peer['session']['rotations']} after {time.monotonic() - t0:.1f} s more, "
                 f"{len(got)}/10 messages under the new keys")

    def restart(self) -> None:
        n = 200
        self.send_all(self.b, self.a.did, "kill", n // 2)
        self.a.kill()  # mid-transfer: some of those are still in flight
        killed = time.monotonic()
        self.send_all(self.b, self.a.did, "kill", n, n // 2)  # B queues on while A is dead
        start_s = self.a.start()
        peer = self.a.wait_peer(self.b.did, established, 20)
        got = self.wait_payloads(self.a, "kill", n)
        want = {f"kill-{i}".encode() for i in range(n)}
        stats = self.a.status()["stats"]
        twice = len(got) - len(set(got))
        ok = set(got) == want and not twice and stats["handshakes"] == 0 and stats["resumptions"] >= 1
        self.row("4 SIGKILL + restart, resumed", ok,
                 f"resumed in {peer['resume_ms']} ms from the loop's start (process up in {start_s * 1000:.0f} ms, "
                 f"{time.monotonic() - killed:.1f} s after the kill); full handshakes {stats['handshakes']}, "
                 f"resumptions {stats['resumptions']}; {len(set(got) & want)}/{len(want)} messages, {twice} twice")

    def fallback(self) -> None:
        self.relay.set(block_udp=True)
        t0 = time.monotonic()
        self.send_all(self.a, self.b.did, "fb", 100)
        peer = self.a.wait_peer(self.b.did, lambda p: p["transport"] == "utcp" and established(p), 30)
        moved = time.monotonic() - t0
        got = self.wait_payloads(self.b, "fb", 100)
        self.row("5a QUIC blocked -> uTCP", len(got) == 100 and len(set(got)) == 100,
                 f"moved in {moved:.1f} s, {len(got)}/100 messages, fallbacks {peer['fallbacks']}")
        self.relay.set(block_udp=False)
        t0 = time.monotonic()
        peer = self.a.wait_peer(self.b.did, lambda p: p["transport"] == "quic" and established(p), 30)
        self.send_all(self.a, self.b.did, "back", 20)
        got = self.wait_payloads(self.b, "back", 20)
        self.row("5b QUIC back -> QUIC", len(got) == 20,
                 f"returned in {time.monotonic() - t0:.1f} s, returns {peer['returns']}, {len(got)}/20 messages")

    def run(self) -> int:
        try:
            for step in (self.handshake, self.messages, self.rotation, self.restart, self.fallback):
                try:
                    step()
                except (TimeoutError, RuntimeError, OSError) as exc:
                    self.row(step.__name__, False, str(exc)[:300])
                    break
        finally:
            for node in (self.a, self.b):
                if node.alive():
                    node.terminate()
            self.relay.stop()
        self.table()
        return 0 if self.rows and all(r[1] == "ok" for r in self.rows) and len(self.rows) == 6 else 1

    def table(self) -> None:
        w0 = max(len(r[0]) for r in self.rows)
        print("\n" + "=" * 100)
        print(f"{'step':<{w0}}  {'result':<6}  detail")
        print("-" * 100)
        for step, result, detail in self.rows:
            print(f"{step:<{w0}}  {result:<6}  {detail}")
        print("=" * 100)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="l2sess-demo-") as d:
        print(f"l2sess demo: two gateway processes on 127.0.0.1 (work dir {d})")
        return Demo(d).run()


if __name__ == "__main__":
    sys.exit(main())
