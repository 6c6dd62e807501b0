"""Tests of l2sess_testbed.relay over real sockets on 127.0.0.1.

Each test puts a small UDP or TCP server behind a Relay and checks what comes
through. UDP senders are paced against the relay's own "received" counter so
the kernel never drops on the way in; every loss a test sees is then the
relay's doing, and the seeded fate of each datagram can be checked exactly.
"""
import asyncio
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from l2sess_testbed.relay import Impairments, Relay

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


# ---- servers behind the relay ---------------------------------------------------

class UdpServer:
    """Records every datagram it gets (payload, source); echoes if asked to."""

    def __init__(self, echo=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(0.05)
        self.echo = echo
        self.received = []
        self.sources = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def addr(self):
        return self.sock.getsockname()

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            self.received.append(data)
            self.sources.add(src)
            if self.echo:
                self.sock.sendto(data, src)

    def indices(self):
        return [int.from_bytes(d[:4], "big") for d in self.received]

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


class TcpEchoServer:
    """Echoes each connection's bytes and half-closes after the client does."""

    def __init__(self):
        self.sock = socket.create_server((HOST, 0))
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def addr(self):
        return self.sock.getsockname()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)

    def close(self):
        self.sock.close()


@pytest.fixture
def sink():
    server = UdpServer()
    yield server
    server.close()


@pytest.fixture
def echo():
    server = UdpServer(echo=True)
    yield server
    server.close()


@pytest.fixture
def tcp_echo():
    server = TcpEchoServer()
    yield server
    server.close()


@pytest.fixture
def client():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.settimeout(1.0)
    yield sock
    sock.close()


# ---- helpers --------------------------------------------------------------------

def wait_for(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def send_paced(sock, relay, count, batch=250, size=32):
    """Send datagrams 0..count-1 (index in the first 4 bytes), never outrunning the relay."""
    base = relay.stats()["udp"]["up"]["received"]
    pad = bytes(size - 4)
    for start in range(0, count, batch):
        end = min(start + batch, count)
        for i in range(start, end):
            sock.sendto(i.to_bytes(4, "big") + pad, (HOST, relay.port))
        wait_for(lambda: relay.stats()["udp"]["up"]["received"] - base >= end, what="relay to read")


def settle_udp(relay, server, direction="up"):
    """Wait until the server has everything the relay forwarded (held/delayed ones too)."""
    def done():
        s = relay.stats()["udp"]
        return s["pending"] == 0 and s["held"] == 0 and len(server.received) >= s[direction]["forwarded"]
    wait_for(done, what="forwarded datagrams to arrive")


def run_relay(target, **kwargs):
    return Relay(listen=(HOST, 0), target=target, **kwargs).start()


def through_relay(sink_server, client, count, **impairments):
    """count numbered datagrams through a fresh relay to the sink: (indices in
    arrival order, the relay's upstream stats)."""
    relay = run_relay(sink_server.addr, **impairments)
    try:
        send_paced(client, relay, count)
        settle_udp(relay, sink_server)
        stats = relay.stats()["udp"]["up"]
    finally:
        relay.stop()
    return sink_server.indices(), stats


def dropped_indices(sink_server, seed, count=10_000, loss=0.2):
    sink_server.received.clear()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        got, stats = through_relay(sink_server, client, count, seed=seed, loss=loss)
    assert len(got) == len(set(got)) == stats["forwarded"], "the kernel dropped or the relay duplicated"
    assert stats["dropped"] == ({"loss": count - len(got)} if len(got) < count else {})
    return set(range(count)) - set(got)


# ---- UDP ------------------------------------------------------------------------

def test_loss_rate_is_right_and_reproducible_for_a_seed(sink):
    first = dropped_indices(sink, seed=7)
    assert 1800 <= len(first) <= 2200
    assert dropped_indices(sink, seed=7) == first
    other = dropped_indices(sink, seed=8)
    assert 1800 <= len(other) <= 2200 and other != first


def test_no_impairment_forwards_everything_both_ways(echo, client):
    relay = run_relay(echo.addr, seed=1)
    try:
        send_paced(client, relay, 500)
        settle_udp(relay, echo)
        replies = [client.recvfrom(100) for _ in range(500)]
    finally:
        relay.stop()
    assert sorted(int.from_bytes(d[:4], "big") for d, _ in replies) == list(range(500))
    assert {src for _, src in replies} == {(HOST, relay.port)}
    stats = relay.stats()["udp"]
    assert stats["up"]["forwarded"] == stats["down"]["forwarded"] == 500
    assert stats["up"]["bytes_forwarded"] == 500 * 32


def test_reorder_reorders_without_losing(sink, client):
    got, stats = through_relay(sink, client, 2000, seed=3, reorder=0.2)
    assert sorted(got) == list(range(2000))
    inversions = sum(1 for a, b in zip(got, got[1:]) if a > b)
    assert inversions > 100
    assert stats["reordered"] + stats["reorder_timeouts"] > 100
    assert inversions >= stats["reordered"] > 0


def test_a_held_datagram_goes_after_reorder_ms_if_nothing_overtakes_it(sink, client):
    relay = run_relay(sink.addr, seed=3, reorder=1.0, reorder_ms=100)
    try:
        client.sendto(b"lonely", (HOST, relay.port))
        time.sleep(0.05)
        assert sink.received == [] and relay.stats()["udp"]["held"] == 1
        wait_for(lambda: sink.received == [b"lonely"], timeout=1.0, what="the held datagram")
        assert relay.stats()["udp"]["up"]["reorder_timeouts"] == 1
    finally:
        relay.stop()


def test_reorder_with_delay_loses_nothing(sink, client):
    got, _ = through_relay(sink, client, 500, seed=6, reorder=0.3, delay_ms=20, jitter_ms=5, reorder_ms=5)
    assert sorted(got) == list(range(500)) and got != sorted(got)


def test_duplicate_duplicates(sink, client):
    got, stats = through_relay(sink, client, 2000, seed=4, duplicate=0.25)
    assert set(got) == set(range(2000))
    extra = len(got) - 2000
    assert extra == stats["duplicated"]
    assert 400 <= extra <= 600


def test_delay_and_jitter_delay(echo, client):
    relay = run_relay(echo.addr, seed=5, delay_ms=40, jitter_ms=10)
    try:
        t0 = time.monotonic()
        client.sendto(b"ping", (HOST, relay.port))
        assert client.recvfrom(100)[0] == b"ping"
        rtt = time.monotonic() - t0
        stats = relay.stats()["udp"]
    finally:
        relay.stop()
    assert 0.060 <= rtt < 1.0  # two legs of 30..50 ms each
    assert stats["up"]["delayed"] == stats["down"]["delayed"] == 1


def test_delay_line_is_bounded(sink, client):
    relay = run_relay(sink.addr, seed=5, delay_ms=600, max_pending=100)
    try:
        send_paced(client, relay, 250)
        stats = relay.stats()["udp"]
        assert stats["pending"] == 100
        assert stats["up"]["dropped"] == {"queue_full": 150}
        settle_udp(relay, sink)
    finally:
        relay.stop()
    assert sorted(sink.indices()) == list(range(100))


def test_block_udp_drops_everything_and_unblock_restores(echo, client):
    relay = run_relay(echo.addr, seed=1)
    try:
        client.sendto(b"before", (HOST, relay.port))
        assert client.recvfrom(100)[0] == b"before"
        relay.set(block_udp=True)
        send_paced(client, relay, 50)
        client.settimeout(0.3)
        with pytest.raises(socket.timeout):
            client.recvfrom(100)
        assert relay.stats()["udp"]["up"]["dropped"] == {"blocked": 50}
        relay.set(block_udp=False)
        client.settimeout(1.0)
        client.sendto(b"after", (HOST, relay.port))
        assert client.recvfrom(100)[0] == b"after"
    finally:
        relay.stop()
    assert len(echo.received) == 2


def test_blackhole_blocks_udp_too(echo, client):
    relay = run_relay(echo.addr, seed=1, blackhole=True)
    try:
        send_paced(client, relay, 10)
        assert relay.stats()["udp"]["up"]["dropped"] == {"blocked": 10}
    finally:
        relay.stop()
    assert echo.received == []


def test_nat_gives_each_client_its_own_upstream_port(echo):
    relay = run_relay(echo.addr, seed=1)
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
    try:
        for n, sock in enumerate(clients):
            sock.settimeout(1.0)
            sock.sendto(b"c%d" % n, (HOST, relay.port))
            data, src = sock.recvfrom(100)
            assert data == b"c%d" % n and src == (HOST, relay.port)
        assert relay.stats()["udp"]["mappings"] == 3
        client_ports = {sock.getsockname()[1] for sock in clients}
    finally:
        relay.stop()
        for sock in clients:
            sock.close()
    ports = {port for _, port in echo.sources}
    assert len(ports) == 3 and relay.port not in ports and not ports & client_ports


def test_mappings_are_bounded_and_expire_when_idle(echo):
    relay = run_relay(echo.addr, seed=1, max_mappings=2, udp_idle_timeout=0.2)
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
    try:
        for sock in clients:
            sock.settimeout(0.3)
            sock.sendto(b"x", (HOST, relay.port))
        for sock in clients[:2]:
            assert sock.recvfrom(100)[0] == b"x"
        with pytest.raises(socket.timeout):
            clients[2].recvfrom(100)
        stats = relay.stats()["udp"]
        assert stats["mappings_refused"] == 1 and stats["up"]["dropped"] == {"no_mapping": 1}
        wait_for(lambda: relay.stats()["udp"]["mappings"] == 0, timeout=2.0, what="idle expiry")
        clients[2].sendto(b"y", (HOST, relay.port))
        assert clients[2].recvfrom(100)[0] == b"y"
        assert relay.stats()["udp"]["mappings_expired"] == 2
    finally:
        relay.stop()
        for sock in clients:
            sock.close()


# ---- TCP ------------------------------------------------------------------------

def tcp_connect(relay):
    sock = socket.create_connection((HOST, relay.port), timeout=5.0)
    return sock


def recv_exactly(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def test_tcp_pipe_carries_1mib_intact_both_ways_and_half_closes(tcp_echo):
    payload = random.Random(1).randbytes(1 << 20)
    relay = run_relay(tcp_echo.addr, seed=1)
    try:
        with tcp_connect(relay) as sock:
            def send():
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)  # the echo server answers EOF with EOF
            sender = threading.Thread(target=send)
            sender.start()
            echoed = recv_exactly(sock, len(payload) + 1)  # +1: must stop at EOF
            sender.join()
        wait_for(lambda: relay.stats()["tcp"]["active"] == 0, what="the pipe to close")
        tcp = relay.stats()["tcp"]
    finally:
        relay.stop()
    assert echoed == payload
    assert tcp["bytes_up"] == tcp["bytes_down"] == len(payload)
    assert tcp["accepted"] == tcp["closed"] == 1


def test_block_tcp_stalls_then_unblock_resumes_without_loss(tcp_echo):
    payload = random.Random(2).randbytes(256 * 1024)
    relay = run_relay(tcp_echo.addr, seed=1)
    try:
        with tcp_connect(relay) as sock:
            sock.sendall(b"warm")
            assert recv_exactly(sock, 4) == b"warm"
            relay.set(block_tcp=True)
            sender = threading.Thread(target=sock.sendall, args=(payload,))
            sender.start()
            sock.settimeout(0.4)
            with pytest.raises(socket.timeout):
                sock.recv(1)
            stalled = relay.stats()["tcp"]
            assert stalled["bytes_down"] == 4 and stalled["active"] == 1
            relay.set(block_tcp=False)
            sock.settimeout(5.0)
            echoed = recv_exactly(sock, len(payload))
            sender.join()
    finally:
        relay.stop()
    assert echoed == payload


def test_tcp_gets_delay_but_keeps_order(tcp_echo):
    payload = random.Random(3).randbytes(200_000)
    relay = run_relay(tcp_echo.addr, seed=1, delay_ms=60, jitter_ms=50, loss=1.0)  # loss is UDP-only
    try:
        with tcp_connect(relay) as sock:
            t0 = time.monotonic()
            sock.sendall(b"ping")
            assert recv_exactly(sock, 4) == b"ping"
            assert time.monotonic() - t0 >= 0.110  # 60 ms each way, jitter not applied
            sender = threading.Thread(target=sock.sendall, args=(payload,))
            sender.start()
            assert recv_exactly(sock, len(payload)) == payload
            sender.join()
    finally:
        relay.stop()


def test_block_tcp_holds_new_connections_until_unblocked(tcp_echo):
    relay = run_relay(tcp_echo.addr, seed=1, block_tcp=True)
    try:
        with tcp_connect(relay) as sock:
            sock.sendall(b"held")
            sock.settimeout(0.3)
            with pytest.raises(socket.timeout):
                sock.recv(1)
            assert tcp_echo.accepted == 0 and relay.stats()["tcp"]["held"] == 1
            relay.set(block_tcp=False)
            sock.settimeout(5.0)
            assert recv_exactly(sock, 4) == b"held"
    finally:
        relay.stop()


def test_tcp_connections_are_bounded(tcp_echo):
    relay = run_relay(tcp_echo.addr, seed=1, max_tcp=1)
    try:
        with tcp_connect(relay) as first:
            first.sendall(b"a")
            assert recv_exactly(first, 1) == b"a"
            with tcp_connect(relay) as second:
                second.settimeout(2.0)
                try:
                    assert second.recv(1) == b""
                except ConnectionResetError:
                    pass
            assert relay.stats()["tcp"]["refused"] == 1
    finally:
        relay.stop()


def test_stop_is_prompt_with_stalled_pipes_and_delayed_datagrams(tcp_echo, sink, client):
    relay = run_relay(tcp_echo.addr, seed=1)
    with tcp_connect(relay) as sock:
        sock.sendall(b"x")
        assert recv_exactly(sock, 1) == b"x"
        relay.set(blackhole=True)
        sock.sendall(bytes(100_000))
        t0 = time.monotonic()
        relay.stop()
        assert time.monotonic() - t0 < 2.0
    assert not any(t.name == "l2sess-relay" for t in threading.enumerate())
    delayed = run_relay(sink.addr, seed=1, delay_ms=5000)
    client.sendto(b"late", (HOST, delayed.port))
    wait_for(lambda: delayed.stats()["udp"]["pending"] == 1, what="the datagram to be delayed")
    t0 = time.monotonic()
    delayed.stop()
    assert time.monotonic() - t0 < 2.0


# ---- settings -------------------------------------------------------------------

def test_settings_are_validated():
    with pytest.raises(ValueError):
        Relay(target=(HOST, 9), loss=1.5)
    with pytest.raises(ValueError):
        Relay(target=(HOST, 9), bogus=1)
    with pytest.raises(ValueError):
        Relay()
    with pytest.raises(TypeError):
        Impairments(block_udp="yes")
    relay = Relay(target=(HOST, 9))
    assert relay.set(loss=0.1, delay_ms=5).loss == 0.1
    with pytest.raises(ValueError):
        relay.set(delay_ms=-1)
    assert relay.impairments.delay_ms == 5.0


# ---- CLI and control socket ------------------------------------------------------

def test_cli_reports_a_busy_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind((HOST, 0))
        proc = subprocess.run(
            [sys.executable, "-m", "l2sess_testbed.relay", "--listen", f"{HOST}:{busy.getsockname()[1]}",
             "--target", f"{HOST}:9"],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=10)
    assert proc.returncode == 1 and "cannot listen" in proc.stderr


def control(path, message):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5.0)
        sock.connect(str(path))
        sock.sendall(json.dumps(message).encode() + b"\n")
        return json.loads(sock.makefile("rb").readline())


def test_cli_control_socket_and_sigterm(echo, client, tmp_path):
    ctl = tmp_path / "ctl.sock"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "l2sess_testbed.relay", "--listen", f"{HOST}:0",
         "--target", f"{HOST}:{echo.addr[1]}", "--seed", "1", "--loss", "0",
         "--reorder", "0", "--control", str(ctl)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening "), (line, proc.stderr.read() if proc.poll() is not None else "")
        port = int(line.rsplit(":", 1)[1])
        client.sendto(b"one", (HOST, port))
        assert client.recvfrom(100)[0] == b"one"

        reply = control(ctl, {"set": {"block_udp": True}})
        assert reply["ok"] and reply["impairments"]["block_udp"] is True
        client.sendto(b"two", (HOST, port))
        client.settimeout(0.3)
        with pytest.raises(socket.timeout):
            client.recvfrom(100)
        stats = control(ctl, {"stats": True})["stats"]
        assert stats["port"] == port
        assert stats["udp"]["up"]["dropped"] == {"blocked": 1}
        assert stats["udp"]["up"]["forwarded"] == 1

        assert control(ctl, {"set": {"loss": 2}})["ok"] is False
        assert control(ctl, {"frobnicate": 1})["ok"] is False
        assert control(ctl, {"get": True})["impairments"]["block_udp"] is True

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert not ctl.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


# ---- real QUIC through the relay --------------------------------------------------

def _quic_server_config():
    import datetime

    from aioquic.quic.configuration import QuicConfiguration
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    config = QuicConfiguration(is_client=False, alpn_protocols=["relay-test"])
    config.certificate, config.private_key = cert, key
    return config


def test_quic_survives_loss_reorder_and_duplication():
    """aioquic both ends: the relay's NAT and impairments are what QUIC expects of a path."""
    pytest.importorskip("aioquic")
    pytest.importorskip("cryptography")
    from aioquic.asyncio import connect, serve
    from aioquic.quic.configuration import QuicConfiguration

    payload = random.Random(4).randbytes(64 * 1024)

    def echo(reader, writer):
        async def copy():
            writer.write(await reader.read())
            writer.write_eof()
        asyncio.ensure_future(copy())

    async def main():
        server = await serve(HOST, 0, configuration=_quic_server_config(), stream_handler=echo)
        server_port = server._transport.get_extra_info("sockname")[1]
        relay = run_relay((HOST, server_port), seed=9, loss=0.05, reorder=0.1, duplicate=0.05,
                          delay_ms=2, jitter_ms=1)
        try:
            client_config = QuicConfiguration(is_client=True, alpn_protocols=["relay-test"],
                                              verify_mode=ssl.CERT_NONE)
            async with connect(HOST, relay.port, configuration=client_config) as client:
                reader, writer = await client.create_stream()
                writer.write(payload)
                writer.write_eof()
                return await reader.read(), relay.stats()["udp"]
        finally:
            relay.stop()
            server.close()

    echoed, stats = asyncio.run(asyncio.wait_for(main(), 15))
    assert echoed == payload
    assert stats["mappings"] == 1
    impaired = sum(stats[d]["dropped"].get("loss", 0) + stats[d]["reordered"] + stats[d]["duplicated"]
                   for d in ("up", "down"))
    assert impaired > 0 and stats["up"]["received"] > 40 and stats["down"]["received"] > 40
