"""Throughput of l2sess_testbed.relay on loopback: can it carry 10,000+ datagrams/s?

The relay runs as its own process (`python -m l2sess_testbed.relay`), so it has a
GIL of its own; the sender and the UDP sink/echo live in this process.

Two measurements per impairment profile:
- one-way: offer datagrams at fixed rates for --seconds each and count what the
  sink got, against what the relay itself says it dropped on purpose;
- echo: the same offered rates through relay -> echo -> relay (each echo is
  two datagrams through the relay); on the clean profile also a closed loop
  with --window datagrams in flight, for the relay's peak rate.

Reported, never enforced: the exit status is 0 either way.

    python bench/bench_relay.py [--seconds 1.0] [--size 200] [--rates 10000,20000,40000]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
PROFILES = {
    "clean": [],
    "impaired": ["--loss", "0.05", "--reorder", "0.1", "--duplicate", "0.02"],
}


class Sink:
    """Counts (and optionally echoes) datagrams on a thread of its own."""

    def __init__(self, echo):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(0.1)
        self.echo, self.count, self.running = echo, 0, True
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.running:
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            self.count += 1
            if self.echo:
                self.sock.sendto(data, src)

    def close(self):
        self.running = False


def start_relay(target_port, extra, ctl):
    proc = subprocess.Popen(
        [sys.executable, "-m", "l2sess_testbed.relay", "--listen", f"{HOST}:0", "--target", f"{HOST}:{target_port}",
         "--seed", "1", "--control", ctl, *extra],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline().rsplit(":", 1)[1])


def relay_stats(ctl):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(ctl)
        sock.sendall(b'{"stats": true}\n')
        return json.loads(sock.makefile("rb").readline())["stats"]


def offer(sock, port, payload, rate, seconds):
    """Sends payload to the relay at `rate` datagrams/s for `seconds`; how many went."""
    sent, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            sock.sendto(payload, (HOST, port))
            sent += 1
        time.sleep(0.0005)
    return sent


def one_way(port, sink, ctl, rate, seconds, size):
    """Offer `rate` datagrams/s for `seconds`; return (sent, received, relay-intended drops, kernel-lost)."""
    before_sink, before = sink.count, relay_stats(ctl)["udp"]["up"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = bytes(size)
    sent = offer(sock, port, payload, rate, seconds)
    time.sleep(0.3)  # held and delayed ones land
    sock.close()
    after = relay_stats(ctl)["udp"]["up"]
    received = sink.count - before_sink
    intended = sum(v for k, v in after["dropped"].items() if k in ("loss", "blocked")) - \
        sum(v for k, v in before["dropped"].items() if k in ("loss", "blocked"))
    duplicated = after["duplicated"] - before["duplicated"]
    lost = sent - intended + duplicated - received
    return sent, received, intended, lost


def echo_rate(port, seconds, size, window):
    """Sustained echoes/s with `window` datagrams in flight (lost ones are re-sent after 50 ms)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.settimeout(0.05)
    payload = bytes(size)
    for _ in range(window):
        sock.sendto(payload, (HOST, port))
    replies, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        try:
            sock.recv(65535)
            replies += 1
        except socket.timeout:
            pass  # some were dropped on purpose: top the window up
        sock.sendto(payload, (HOST, port))
    rate = replies / (time.perf_counter() - t0)
    sock.close()
    return rate


def echo_offered(port, ctl, rate, seconds, size):
    """Offer `rate` datagrams/s through relay -> echo -> relay; return (sent, echoed, relay-intended drops)."""
    before = relay_stats(ctl)["udp"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.settimeout(0.2)
    echoed = [0]

    def receive():
        while True:
            try:
                sock.recv(65535)
            except (socket.timeout, OSError):
                return
            echoed[0] += 1

    receiver = threading.Thread(target=receive)
    receiver.start()
    payload = bytes(size)
    sent = offer(sock, port, payload, rate, seconds)
    receiver.join()
    sock.close()
    after = relay_stats(ctl)["udp"]
    intended = sum(after[d]["dropped"].get(k, 0) - before[d]["dropped"].get(k, 0)
                   for d in ("up", "down") for k in ("loss", "blocked"))
    return sent, echoed[0], intended


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--rates", default="10000,20000,40000")
    args = p.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    ctl = f"/tmp/l2sess-bench-relay-{os.getpid()}.sock"
    for name, extra in PROFILES.items():
        sink, echo = Sink(echo=False), Sink(echo=True)
        for target, label in ((sink, "one-way"), (echo, "echo")):
            proc, port = start_relay(target.sock.getsockname()[1], extra, ctl)
            try:
                if label == "one-way":
                    for rate in rates:
                        sent, received, intended, lost = one_way(port, sink, ctl, rate, args.seconds, args.size)
                        print(f"{name:9s} one-way offered {rate:6d}/s: sent {sent:6d}, received {received:6d}, "
                              f"dropped by impairment {intended:5d}, lost otherwise {lost:5d} "
                              f"({100.0 * lost / max(sent, 1):.2f} %)")
                else:
                    for rate in rates:
                        sent, echoed, intended = echo_offered(port, ctl, rate, args.seconds, args.size)
                        print(f"{name:9s} echo    offered {rate:6d}/s: sent {sent:6d}, echoed {echoed:6d} "
                              f"({2 * echoed / args.seconds:.0f} datagrams/s through the relay), "
                              f"dropped by impairment {intended:5d}")
                    if not extra:
                        rate = echo_rate(port, args.seconds, args.size, args.window)
                        print(f"{name:9s} echo    closed loop, window {args.window}: {rate:8.0f} echoes/s "
                              f"= {2 * rate:8.0f} datagrams/s through the relay")
            finally:
                proc.terminate()
                proc.wait(5)
        sink.close()
        echo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
