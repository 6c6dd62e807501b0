"""Loopback network benchmark: l2sess sessions against aioquic's TLS 1.3 over QUIC.

Over 127.0.0.1 it measures, for l2sess (l2sess.node.Node) and for aioquic:

* "full handshake incl. connect", p50/p99: a fresh client connects to a
  running server; the clock runs from the connect call until the client
  sees the handshake complete (ours: Node.connect() to the 'state' event to
  'established' taken in Python: the transport connection (QUIC's own TLS
  1.3 handshake, or μTCP's), the PQ handshake, and the event's hand-over
  to Python; aioquic: connect() returning, i.e. HandshakeCompleted with
  the server certificate verified);
* "full handshake (L2 exchange)", p50/p99, ours only: the loop's own
  handshake_us for the same runs: HANDSHAKE_INIT handed to the connected
  transport to the valid HANDSHAKE_RESP taken by the engine (CLOCK_MONOTONIC,
  µs), i.e. one round trip plus both sides' ML-KEM/X25519/Ed25519 work;
  no transport connect, no Python;
* "resumption incl. connect", p50/p99 (ours: a new Node with the same
  identity imports the exported session, import_session() to 'established'
  in Python: a new transport connection, the resumption exchange, the
  hand-over to Python; aioquic: TLS 1.3 PSK resumption with the session
  ticket of the previous connection, for reference only);
* "resumption (L2 exchange)", p50/p99, ours only: the loop's own resume_us
  for the same runs: RESUME_INIT handed to the connected transport to the
  valid RESUME_RESP taken by the engine (µs): one round trip and the
  resumption's key schedule; no transport connect, no Python;
* one session's (one stream's) throughput with 1 KiB and 64 KiB messages:
  the sender writes as fast as the stack's backpressure allows for a fixed
  time, and the clock stops when the receiver has confirmed every message
  (ours: 'delivered' for every seq; aioquic: the receiver's final count).

Fairness. In both cases the server is a child process and the measuring
client is this process: the two ends never share an interpreter, a GIL or
an event loop, as with two gateways (an l2sess Node runs its C loop on a
thread of its own, so two Nodes in one process would already run in
parallel; a single-process aioquic pair would serialize both ends in one
asyncio loop and look slower than it is). Both deliver length-prefixed
messages to Python code at the receiver, which drains them. Our full
handshake includes setting up its transport connection (on QUIC, QUIC's own
TLS 1.3 handshake) and verifying the cached bundle; aioquic's includes
verifying the certificate. The latency series run in interleaved rounds,
alternating which stack goes first, so that a change in background load
hits both alike; each throughput run of one stack is next to the other's.
Our server's per-address rate limit on handshakes and resumptions is
lifted: every client here shares 127.0.0.1 (see _serve_l2sess).

The goals (full handshake p50 <= 2 ms, on the "incl. connect" row;
resumption p50 <= 0.5 ms, on the "(L2 exchange)" row: the session layer's
own exchange, which is what a resumption adds once a connection exists;
session throughput >= 5x aioquic's, in messages/s) are reported, never
enforced: the exit status is 0 either way. When l2sess.node is missing, our rows say so.

    python bench/bench_net.py [--quick] [--part both|aioquic|ours]
                              [--transport auto|quic|utcp] [--json PATH]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import math
import os
import platform
import select
import ssl
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Protocol

ALPN = "l2sess-bench"
HOST = "127.0.0.1"

HANDSHAKE_P50_GOAL_MS = 2.0
RESUMPTION_P50_GOAL_MS = 0.5
THROUGHPUT_RATIO_GOAL = 5.0  # ours / aioquic, messages per second, at least

MESSAGE_SIZES = (1024, 65536)
FRAME = struct.Struct(">I")      # the u32 length prefix on the aioquic stream
END_OF_STREAM = 0xFFFFFFFF       # a length that ends a throughput run
REPORT = struct.Struct(">QQ")    # receiver -> sender: messages, bytes received so far
REPORT_EVERY = 256 * 1024        # the receiver reports after this many bytes
SEND_WINDOW = 4 * 1024 * 1024    # aioquic: at most this much unconfirmed (see _aioquic_stream)
WAIT_S = 10.0                    # bound on any single wait for the other end
SEND_BATCH = 64                  # ours: messages per Node.send_many call
EVENT_BATCH = 1024               # ours: events taken per Node.next_events call


@dataclass(frozen=True)
class Settings:
    handshakes: int       # measured full handshakes per stack
    resumptions: int      # measured resumptions per stack
    warmup: int           # discarded runs before each latency series
    seconds: float        # sending time of each throughput run
    rounds: int           # latency series are taken in this many interleaved rounds

    @staticmethod
    def of(quick: bool) -> Settings:
        # --quick is a smoke run (the pytest smoke test uses it): enough
        # runs for the table to be filled, not for the figures to be stable.
        return Settings(20, 20, 2, 0.4, 2) if quick else Settings(200, 200, 10, 3.0, 5)


# ---- figures ------------------------------------------------------------------

def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): an observed value, never interpolated."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Latency:
    samples_ms: list[float] = field(default_factory=list)
    failures: int = 0
    note: str = ""

    def p(self, q: float) -> float | None:
        return percentile(self.samples_ms, q) if self.samples_ms else None

    def as_json(self) -> dict[str, Any]:
        return {"runs": len(self.samples_ms), "failures": self.failures, "p50_ms": self.p(50),
                "p99_ms": self.p(99), "min_ms": min(self.samples_ms, default=None),
                "max_ms": max(self.samples_ms, default=None), "note": self.note}


@dataclass
class Throughput:
    size: int
    messages: int
    seconds: float

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.messages * self.size / self.seconds / 1e6

    def as_json(self) -> dict[str, Any]:
        return {"message_bytes": self.size, "messages": self.messages, "seconds": self.seconds,
                "msgs_per_s": self.msgs_per_s, "mb_per_s": self.mb_per_s}


@dataclass
class StackResult:
    """One stack's figures, or why there are none (skipped)."""
    name: str
    handshake: Latency | None = None
    resumption: Latency | None = None
    handshake_l2: Latency | None = None   # ours: the L2 exchange alone, same runs
    resumption_l2: Latency | None = None
    throughput: dict[int, Throughput] = field(default_factory=dict)
    skipped: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"skipped": self.skipped or None, "info": self.info,
                "handshake": self.handshake.as_json() if self.handshake else None,
                "resumption": self.resumption.as_json() if self.resumption else None,
                "handshake_l2": self.handshake_l2.as_json() if self.handshake_l2 else None,
                "resumption_l2": self.resumption_l2.as_json() if self.resumption_l2 else None,
                "throughput": {str(k): v.as_json() for k, v in self.throughput.items()}}


def ms_since(t0_ns: int) -> float:
    return (time.perf_counter_ns() - t0_ns) / 1e6


# ---- the server child process -----------------------------------------------------

class ServerProcess:
    """This script run as `--serve KIND` in a child process.

    The child prints one line `READY <json>` (its address and whatever the
    client needs to trust it) and serves until its stdin closes, so it also
    goes away when this process dies."""

    def __init__(self, kind: str, extra: list[str] | None = None) -> None:
        self.kind = kind
        self.extra = extra or []
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", self.kind, *self.extra],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("READY "):
            self.__exit__(None, None, None)
            status = self.proc.returncode
            why = line or (f"it exited with status {status} (its stderr is above)" if status else "no READY in 30 s")
            raise RuntimeError(f"the {self.kind} server did not start: {why}")
        self.info = json.loads(line[len("READY "):])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()


def _announce(info: dict[str, Any]) -> None:
    print("READY " + json.dumps(info), flush=True)


def _stdin_closed() -> threading.Event:
    """An event set when the parent closes our stdin (or dies)."""
    done = threading.Event()

    def watch() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    return done


# ---- aioquic ------------------------------------------------------------------------

def _self_signed() -> tuple[Any, Any]:
    """A P-256 key and a self-signed certificate for "localhost", made now, never on disk.

    P-256 ECDSA is what a TLS 1.3 deployment would most likely use; its
    signatures are cheap, so the certificate does not slow aioquic down."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            # its own trust anchor: the client gets it as cadata
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


async def _serve_aioquic() -> None:
    from aioquic.asyncio import serve
    from aioquic.quic.configuration import QuicConfiguration
    from cryptography.hazmat.primitives.serialization import Encoding

    key, cert = _self_signed()
    config = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
    config.certificate, config.private_key = cert, key
    tickets: dict[bytes, Any] = {}  # single use: the fetcher pops

    def on_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asyncio.ensure_future(_aioquic_receiver(reader, writer))

    server = await serve(HOST, 0, configuration=config, stream_handler=on_stream,
                         session_ticket_fetcher=tickets.pop,
                         session_ticket_handler=lambda t: tickets.__setitem__(t.ticket, t))
    port = server._transport.get_extra_info("sockname")[1]  # aioquic exposes no public accessor
    _announce({"port": port, "cert_pem": cert.public_bytes(Encoding.PEM).decode()})
    done = _stdin_closed()
    while not done.is_set():
        await asyncio.sleep(0.1)
    server.close()


async def _aioquic_receiver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads length-prefixed messages one by one, as an application would, and
    reports (messages, bytes) every REPORT_EVERY bytes and at the end."""
    messages = received = since_report = 0
    try:
        while True:
            (n,) = FRAME.unpack(await reader.readexactly(FRAME.size))
            if n == END_OF_STREAM:
                writer.write(REPORT.pack(messages, received))
                return
            await reader.readexactly(n)
            messages += 1
            received += n
            since_report += n
            if since_report >= REPORT_EVERY:
                writer.write(REPORT.pack(messages, received))
                since_report = 0
    except asyncio.IncompleteReadError:
        return  # the client went away mid-run


def _aioquic_client_config(cert_pem: str, ticket: Any = None) -> Any:
    from aioquic.quic.configuration import QuicConfiguration

    # The client verifies the server certificate, as a real client must
    # (ours verifies the peer's signed bundle against its DID).
    config = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], verify_mode=ssl.CERT_REQUIRED,
                               cadata=cert_pem.encode(), server_name="localhost")
    config.session_ticket = ticket
    return config


class _Connections:
    """Opens timed aioquic connections and lets them close in the background.

    A closing QUIC connection drains for three probe timeouts (about 100 ms
    here), several times the handshake itself: waiting for it would make the
    series slow for no information. The draining connections cost this loop
    only a timer each; `finish` waits for them all."""

    def __init__(self, port: int, cert_pem: str) -> None:
        self.port, self.cert_pem = port, cert_pem
        self.closing: list[asyncio.Task[None]] = []

    async def open(self, ticket: Any = None) -> tuple[float, Any, bool]:
        """One connection: (ms from connect() to handshake complete, the new
        session ticket, whether the handshake was a resumption)."""
        ready: asyncio.Future[tuple[float, Any, bool]] = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(self._connection(ticket, ready))
        self.closing.append(task)
        try:
            return await asyncio.wait_for(asyncio.shield(ready), WAIT_S)
        except BaseException:
            task.cancel()
            raise

    async def _connection(self, ticket: Any, ready: asyncio.Future[tuple[float, Any, bool]]) -> None:
        from aioquic.asyncio import QuicConnectionProtocol, connect
        from aioquic.quic.events import HandshakeCompleted

        got_ticket = asyncio.Event()
        new_ticket: list[Any] = []
        resumed: list[bool] = []

        class Client(QuicConnectionProtocol):
            def quic_event_received(self, event: Any) -> None:
                if isinstance(event, HandshakeCompleted):
                    resumed.append(event.session_resumed)
                super().quic_event_received(event)

        def on_ticket(t: Any) -> None:
            new_ticket.append(t)
            got_ticket.set()

        config = _aioquic_client_config(self.cert_pem, ticket)
        try:
            t0 = time.perf_counter_ns()
            async with connect(HOST, self.port, configuration=config, create_protocol=Client,
                               session_ticket_handler=on_ticket):
                elapsed = ms_since(t0)
                # The server sends its ticket right after the handshake: wait
                # for it (untimed) so that the next connection can resume.
                await got_ticket.wait()
                ready.set_result((elapsed, new_ticket[-1], bool(resumed and resumed[0])))
        except Exception as e:  # noqa: BLE001 - handed to the waiting caller
            if not ready.done():
                ready.set_exception(e)

    async def finish(self) -> None:
        await asyncio.wait_for(asyncio.gather(*self.closing, return_exceptions=True), WAIT_S)
        self.closing.clear()


async def _aioquic_stream(port: int, cert_pem: str, size: int, seconds: float) -> Throughput:
    """One stream, messages of `size` bytes for `seconds`, then until the receiver has them all.

    aioquic's stream writer buffers without limit (it has no backpressure to
    the application), so the sender keeps at most SEND_WINDOW bytes beyond the
    receiver's last report: memory stays bounded and the clock does not stop
    with megabytes still queued. The window is 4x QUIC's default stream flow
    control window (1 MiB), so QUIC's own flow control is what limits."""
    from aioquic.asyncio import connect

    message = FRAME.pack(size) + os.urandom(size)
    async with connect(HOST, port, configuration=_aioquic_client_config(cert_pem)) as client:
        reader, writer = await client.create_stream()
        confirmed = [0, 0]  # messages, bytes
        progress = asyncio.Event()

        async def read_reports() -> None:
            while True:
                confirmed[:] = REPORT.unpack(await reader.readexactly(REPORT.size))
                progress.set()

        reports = asyncio.ensure_future(read_reports())
        sent = 0
        t0 = time.perf_counter_ns()
        deadline = t0 + int(seconds * 1e9)
        try:
            while time.perf_counter_ns() < deadline:
                if (sent - confirmed[0]) * size < SEND_WINDOW:
                    writer.write(message)
                    sent += 1
                else:
                    # A full window is at least REPORT_EVERY unreported
                    # bytes: a report is bound to come.
                    progress.clear()
                    await asyncio.wait_for(progress.wait(), WAIT_S)
            writer.write(FRAME.pack(END_OF_STREAM))
            while confirmed[0] < sent:
                progress.clear()
                await asyncio.wait_for(progress.wait(), WAIT_S)
            elapsed = (time.perf_counter_ns() - t0) / 1e9
        finally:
            reports.cancel()
    return Throughput(size, sent, elapsed)


class AioquicStack:
    """aioquic's side: a server child process, and timed clients here."""

    name = "aioquic"

    def __init__(self, server: ServerProcess) -> None:
        self.port, self.pem = server.info["port"], server.info["cert_pem"]
        self.ticket: Any = None  # the resumption chain's latest ticket
        self.result = StackResult(self.name, Latency(note="connect() to HandshakeCompleted, certificate "
                                                          "verified, fresh connection each"),
                                  Latency(note="TLS 1.3 PSK (psk_dhe_ke) with the previous connection's ticket"),
                                  info={"version": _version("aioquic"),
                                        "tls": "TLS 1.3, P-256 ECDSA self-signed certificate, verified; "
                                               "QUIC defaults (1200-byte datagrams, 1 MiB flow control windows)"})

    def full_handshakes(self, n: int, into: Latency) -> None:
        async def series() -> None:
            conns = _Connections(self.port, self.pem)
            for _ in range(n):
                ms, _, _ = await conns.open()
                into.samples_ms.append(ms)
            await conns.finish()

        asyncio.run(series())

    def resumptions(self, n: int, into: Latency) -> None:
        async def series() -> None:
            conns = _Connections(self.port, self.pem)
            if self.ticket is None:
                _, self.ticket, _ = await conns.open()
            for _ in range(n):
                ms, self.ticket, resumed = await conns.open(self.ticket)
                if resumed:
                    into.samples_ms.append(ms)
                else:
                    into.failures += 1  # a full handshake after all: not a resumption figure
            await conns.finish()

        asyncio.run(series())

    def stream(self, size: int, seconds: float) -> Throughput:
        return asyncio.run(_aioquic_stream(self.port, self.pem, size, seconds))


# ---- l2sess --------------------------------------------------------------------------

def node_available() -> str:
    """"" when l2sess.node works here, else why not (the skip message).

    Importing is not enough: the module can be there before the binding it
    needs is built, so a listener-less Node is made and closed."""
    try:
        from l2sess.identity import Identity
        from l2sess.node import Node

        Node(Identity.generate(), listen=None).stop()
    except Exception as e:  # noqa: BLE001 - any failure means "not usable yet"
        return f"l2sess.node is not usable here ({type(e).__name__}: {e}): our rows are skipped"
    return ""


def _node_kwargs(transport: str) -> dict[str, Any]:
    return {"no_quic": transport == "utcp", "no_utcp": transport == "quic"}


def _serve_l2sess(transport: str) -> None:
    from l2sess.identity import Identity
    from l2sess.node import Node

    # Every client of this bench comes from 127.0.0.1: to the server's
    # per-address bucket (PROTOCOL.md §4.3: 20 handshakes or resumptions a
    # second, 40 at once) that is one address opening hundreds a second. A
    # HANDSHAKE_INIT past it costs a COOKIE_REPLY round trip; a RESUME_INIT
    # (no cookie) is dropped and re-sent 1 s later. Real clients have
    # addresses of their own: the bucket is lifted here, and so is the
    # node-wide meter (100 requests a second before cookies are asked for).
    node = Node(Identity.generate(), listen=(HOST, 0), accept_any=True, handshake_rate_per_s=1_000_000,
                handshake_work_per_s=1_000_000,
                **_node_kwargs(transport))
    node.start()
    try:
        _announce({"did": node.did, "address": list(node.address), "bundle": node.bundle.hex()})
        done = _stdin_closed()
        # Drain every event: above half of the event queue the loop stops
        # reading its sockets. Draining in Python is the receiving
        # application's cost, as aioquic's receiver parses its messages.
        while not done.is_set():
            node.next_events(EVENT_BATCH, timeout=0.1)
    finally:
        node.stop()


@dataclass(frozen=True)
class Peer:
    did: str
    address: tuple[str, int]
    bundle: bytes


def _is_established(ev: Any) -> bool:
    return ev.kind == "state" and ev.to_state == "established"


def _established_or_error(ev: Any) -> bool:
    return _is_established(ev) or ev.kind in ("peer_error", "closed")


class _Client:
    """A connecting Node, started and stopped around a block."""

    def __init__(self, identity: Any, transport: str) -> None:
        from l2sess.node import Node

        self.node = Node(identity, listen=(HOST, 0), accept_any=False, **_node_kwargs(transport))

    def __enter__(self) -> Any:
        self.node.start()
        return self.node

    def __exit__(self, *exc: object) -> None:
        self.node.stop()


def _wait_established(node: Any, t0_ns: int) -> tuple[float, Any]:
    ev = node.wait_for(_established_or_error, WAIT_S)
    ms = ms_since(t0_ns)
    if not _is_established(ev):
        raise RuntimeError(f"{ev.kind}: {ev.reason or ev.error}")
    return ms, ev


def _exchange_ms(node: Any, did: str, key: str) -> float | None:
    """The loop's own duration of the last L2 exchange (handshake_us or
    resume_us: INIT handed to the transport to its answer taken), in ms."""
    for p in node.status().get("peers", []):
        if p.get("did") == did and p.get(key):
            return p[key] / 1e3
    return None


def _l2sess_stream(peer: Peer, size: int, seconds: float, transport: str) -> Throughput:
    """One session, messages of `size` bytes sent as fast as the send queue
    takes them for `seconds`, then until 'delivered' has come for every one:
    delivered means the receiver's node acknowledged it, i.e. the receiver
    has it. The Node is fresh, so every 'delivered' of this session is for a
    message sent here: counting them is enough.

    The sender batches as an application with a stream of messages would:
    Node.send_many() SEND_BATCH at a time (it stops where the send queue is
    full: that is the backpressure) and Node.next_events() for the events,
    as aioquic's sender writes to its stream without waiting per message."""
    from l2sess.identity import Identity

    message = os.urandom(size)
    batch = [message] * SEND_BATCH
    with _Client(Identity.generate(), transport) as node:
        node.connect(peer.did, peer.address, bundle=peer.bundle)
        _wait_established(node, time.perf_counter_ns())
        delivered = 0

        def drain(timeout: float) -> None:
            nonlocal delivered
            for ev in node.next_events(EVENT_BATCH, timeout=timeout):
                delivered += ev.kind == "delivered"

        sent = 0
        t0 = time.perf_counter_ns()
        deadline = t0 + int(seconds * 1e9)
        while time.perf_counter_ns() < deadline:
            accepted = len(node.send_many(peer.did, batch))
            sent += accepted
            # Left alone, 'delivered' events would fill the event queue and
            # the loop would stop reading the socket the acks come on; a
            # full send queue waits for them to free it.
            drain(0.001 if accepted < SEND_BATCH else 0)
        give_up = time.perf_counter_ns() + int(WAIT_S * 1e9)
        while delivered < sent:
            if time.perf_counter_ns() > give_up:
                raise TimeoutError(f"{sent - delivered} of {sent} messages not delivered after {WAIT_S:g} s")
            drain(0.01)
        elapsed = (time.perf_counter_ns() - t0) / 1e9
    return Throughput(size, sent, elapsed)


class OursStack:
    """Our side: a listening Node in a child process (accept_any), and
    client Nodes here."""

    name = "l2sess"

    def __init__(self, server: ServerProcess, transport: str) -> None:
        self.peer = Peer(server.info["did"], (server.info["address"][0], int(server.info["address"][1])),
                         bytes.fromhex(server.info["bundle"]))
        self.transport = transport
        self.resume_identity: Any = None  # the resumption chain: its identity and latest export
        self.blob = b""
        self.transports: set[str] = set()
        self.result = StackResult(self.name, Latency(note="connect() to 'established' at the client; "
                                                          "fresh Node each, bundle cached"),
                                  Latency(note="import_session() to 'established', new Node with the same "
                                               "identity each run"),
                                  Latency(note="the loop's handshake_us: HANDSHAKE_INIT to the transport "
                                               "-> HANDSHAKE_RESP taken"),
                                  Latency(note="the loop's resume_us: RESUME_INIT to the transport "
                                               "-> RESUME_RESP taken"),
                                  info={"version": _version("l2sess"), "transport": transport})

    def _l2_series(self, into: Latency) -> Latency:
        """Where the L2 exchange figures of a run measured into `into` go:
        the result's series beside it, or nowhere (a warm-up's)."""
        if into is self.result.handshake and self.result.handshake_l2 is not None:
            return self.result.handshake_l2
        if into is self.result.resumption and self.result.resumption_l2 is not None:
            return self.result.resumption_l2
        return Latency()

    def _add_exchange(self, node: Any, key: str, into: Latency) -> None:
        ms = _exchange_ms(node, self.peer.did, key)
        if ms is None:
            self._l2_series(into).failures += 1  # established, but not through an exchange of that kind
        else:
            self._l2_series(into).samples_ms.append(ms)

    def full_handshakes(self, n: int, into: Latency) -> None:
        """A fresh client Node per run: nothing cached but the server's
        bundle, so every run is a full handshake (transport connection + PQ
        handshake, no discovery). Identities are made before the clock starts."""
        from l2sess.identity import Identity

        for _ in range(n):
            with _Client(Identity.generate(), self.transport) as node:
                t0 = time.perf_counter_ns()
                node.connect(self.peer.did, self.peer.address, bundle=self.peer.bundle)
                try:
                    ms, ev = _wait_established(node, t0)
                except (RuntimeError, TimeoutError):
                    into.failures += 1
                    continue
                into.samples_ms.append(ms)
                self._add_exchange(node, "handshake_us", into)
                if ev.transport:
                    self.transports.add(ev.transport)
        self.result.info["handshake transports"] = sorted(self.transports)

    def resumptions(self, n: int, into: Latency) -> None:
        """A chain: one full handshake, then each run exports the session,
        stops the Node, starts a new one with the same identity (as after a
        gateway restart) and imports the session; the clock runs from
        import_session() to 'established'. The loop's own resume_us (the
        L2 exchange alone) is kept beside the wall clock."""
        from l2sess.identity import Identity

        peer = self.peer
        if self.resume_identity is None:
            self.resume_identity = Identity.generate()
            with _Client(self.resume_identity, self.transport) as node:
                node.connect(peer.did, peer.address, bundle=peer.bundle)
                _wait_established(node, time.perf_counter_ns())
                self.blob = node.export(peer.did)
        for _ in range(n):
            with _Client(self.resume_identity, self.transport) as node:
                node.add_peer(peer.did, peer.address, connect=False, bundle=peer.bundle)
                t0 = time.perf_counter_ns()
                node.import_session(self.blob)
                try:
                    ms, _ = _wait_established(node, t0)
                except (RuntimeError, TimeoutError):
                    into.failures += 1
                    continue  # the blob stays the last good one
                self.blob = node.export(peer.did)
                into.samples_ms.append(ms)
                self._add_exchange(node, "resume_us", into)

    def stream(self, size: int, seconds: float) -> Throughput:
        return _l2sess_stream(self.peer, size, seconds, self.transport)


# ---- the run -------------------------------------------------------------------------

class Stack(Protocol):
    """What the runner needs of each side (AioquicStack, OursStack)."""
    name: str
    result: StackResult

    def full_handshakes(self, n: int, into: Latency) -> None: ...
    def resumptions(self, n: int, into: Latency) -> None: ...
    def stream(self, size: int, seconds: float) -> Throughput: ...


def _split(total: int, parts: int) -> list[int]:
    """total as `parts` near-equal counts."""
    return [total // parts + (i < total % parts) for i in range(parts)]


class Runner:
    """Runs the measurements of every stack in interleaved rounds.

    The machine's background load changes while the bench runs; taking each
    latency series in rounds that alternate between the stacks (and which
    goes first) spreads that over both alike, as bench_crypto.py does. A
    stack that fails is dropped, with the reason, and the others go on."""

    def __init__(self, stacks: list[Stack]) -> None:
        self.stacks = stacks

    def _each(self, action: Callable[[Stack], None], reverse: bool = False) -> None:
        for stack in (list(reversed(self.stacks)) if reverse else list(self.stacks)):
            try:
                action(stack)
            except Exception as e:  # noqa: BLE001 - reported in the table
                stack.result.skipped = f"failed: {type(e).__name__}: {e}"
                self.stacks.remove(stack)

    def latency(self, method: str, total: int, warmup: int, rounds: int, field_name: str) -> None:
        self._each(lambda st: getattr(st, method)(warmup, Latency()))  # discarded
        for r, n in enumerate(_split(total, rounds)):
            self._each(lambda st: getattr(st, method)(n, getattr(st.result, field_name)), reverse=r % 2 == 1)

    def throughput(self, sizes: tuple[int, ...], seconds: float) -> None:
        for size in sizes:
            self._each(lambda st: st.result.throughput.__setitem__(size, st.stream(size, seconds)))


def _failed(name: str, e: Exception) -> StackResult:
    return StackResult(name, skipped=f"failed: {type(e).__name__}: {e}")


def run(s: Settings, part: str, transport: str) -> tuple[StackResult, StackResult]:
    """(ours, aioquic) figures; a stack not run says why in .skipped.
    A server that does not start costs its stack only: the other still runs."""
    ours = StackResult("l2sess", skipped="not run (--part)")
    theirs = StackResult("aioquic", skipped="not run (--part)")
    with contextlib.ExitStack() as servers:
        stacks: list[Stack] = []
        if part in ("both", "aioquic"):
            try:
                aq = AioquicStack(servers.enter_context(ServerProcess("aioquic")))
            except Exception as e:  # noqa: BLE001 - reported in the table
                theirs = _failed("aioquic", e)
            else:
                stacks.append(aq)
                theirs = aq.result
        if part in ("both", "ours"):
            why = node_available()
            if why:
                ours = StackResult("l2sess", skipped=why)
            else:
                try:
                    mine = OursStack(servers.enter_context(ServerProcess("l2sess", ["--transport", transport])),
                                     transport)
                except Exception as e:  # noqa: BLE001 - reported in the table
                    ours = _failed("l2sess", e)
                else:
                    stacks.append(mine)
                    ours = mine.result
        runner = Runner(stacks)
        runner.latency("full_handshakes", s.handshakes, s.warmup, s.rounds, "handshake")
        runner.latency("resumptions", s.resumptions, s.warmup, s.rounds, "resumption")
        runner.throughput(MESSAGE_SIZES, s.seconds)
    return ours, theirs


# ---- the table ------------------------------------------------------------------------

@dataclass
class Row:
    metric: str
    ours: float | None
    theirs: float | None
    unit: str
    goal: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.theirs is None or self.theirs == 0:
            return None
        return self.ours / self.theirs


def _latency_rows(label: str, ours: Latency | None, theirs: Latency | None, goal_ms: float | None = None) -> list[Row]:
    rows = []
    for q in (50, 99):
        o = ours.p(q) if ours else None
        t = theirs.p(q) if theirs else None
        row = Row(f"{label} p{q}", o, t, "ms")
        if q == 50 and goal_ms is not None:
            row.goal = f"p50 <= {goal_ms:g} ms"
            row.met = None if o is None else o <= goal_ms
        rows.append(row)
    return rows


def build_rows(ours: StackResult, theirs: StackResult) -> list[Row]:
    rows = _latency_rows("full handshake incl. connect", ours.handshake, theirs.handshake, HANDSHAKE_P50_GOAL_MS)
    rows += _latency_rows("full handshake (L2 exchange)", ours.handshake_l2, None)
    rows += _latency_rows("resumption incl. connect", ours.resumption, theirs.resumption)
    rows += _latency_rows("resumption (L2 exchange)", ours.resumption_l2, None, RESUMPTION_P50_GOAL_MS)
    for size in MESSAGE_SIZES:
        label = f"{size // 1024} KiB"
        o, t = ours.throughput.get(size), theirs.throughput.get(size)
        msgs = Row(f"throughput {label}", o and o.msgs_per_s, t and t.msgs_per_s, "msg/s",
                   f"ours >= {THROUGHPUT_RATIO_GOAL:g}x")
        msgs.met = None if msgs.ratio is None else msgs.ratio >= THROUGHPUT_RATIO_GOAL
        rows.append(msgs)
        rows.append(Row(f"throughput {label}", o and o.mb_per_s, t and t.mb_per_s, "MB/s"))
    return rows


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.3f} ms"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


def render(rows: list[Row], ours: StackResult, theirs: StackResult, s: Settings, transport: str) -> str:
    lines = [f"l2sess loopback network benchmark ({HOST}; {s.handshakes} handshakes, {s.resumptions} "
             f"resumptions, {s.seconds:g} s per throughput run; transport {transport})", ""]
    header = f"{'metric':<34}  {'ours':>16}  {'aioquic':>16}  {'ours/aioquic':>12}  {'goal':<18}  result"
    lines += [header, "-" * len(header)]
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        result = "" if not r.goal else ("n/a" if r.met is None else "met" if r.met else "NOT met")
        lines.append(f"{r.metric:<34}  {_fmt(r.ours, r.unit):>16}  {_fmt(r.theirs, r.unit):>16}  "
                     f"{ratio:>12}  {r.goal:<18}  {result}".rstrip())
    lines.append("")
    lines.append("ours/aioquic: for latency lower is better, for throughput higher is better.")
    lines.append("aioquic resumption is TLS 1.3 PSK resumption, for reference; its goal is ours alone.")
    lines.append("incl. connect: API call to 'established' in Python, a new transport connection included;")
    lines.append("(L2 exchange): the loop's own INIT-to-RESP time on the connected transport (see the docstring).")
    for stack in (ours, theirs):
        if stack.skipped:
            lines.append(f"{stack.name}: {stack.skipped}")
        for lat_name, lat in (("handshake", stack.handshake), ("resumption", stack.resumption),
                              ("handshake (L2 exchange)", stack.handshake_l2),
                              ("resumption (L2 exchange)", stack.resumption_l2)):
            if lat is not None and lat.failures:
                lines.append(f"{stack.name} {lat_name}: {lat.failures} failed run(s) left out")
        for k, v in stack.info.items():
            lines.append(f"{stack.name} {k}: {v}")
    return "\n".join(lines)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "cryptography": _version("cryptography"),
            "load average (1/5/15 min) at end": " ".join(f"{x:.2f}" for x in os.getloadavg())}


# ---- main -------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: few iterations, short throughput runs")
    ap.add_argument("--part", choices=("both", "aioquic", "ours"), default="both")
    ap.add_argument("--transport", choices=("auto", "quic", "utcp"), default="auto",
                    help="our transport: auto races QUIC and μTCP (the default deployment)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    ap.add_argument("--serve", choices=("aioquic", "l2sess"), help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args(argv)

    if args.serve == "aioquic":
        asyncio.run(_serve_aioquic())
        return 0
    if args.serve == "l2sess":
        _serve_l2sess(args.transport)
        return 0

    started = time.perf_counter()
    s = Settings.of(args.quick)
    ours, theirs = run(s, args.part, args.transport)
    rows = build_rows(ours, theirs)
    info = machine()
    print(render(rows, ours, theirs, s, args.transport))
    print("\n".join(f"{k}: {v}" for k, v in info.items()))
    print(f"total run time: {time.perf_counter() - started:.1f} s")

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"settings": s.__dict__, "machine": info, "l2sess": ours.as_json(), "aioquic": theirs.as_json(),
                       "rows": [dict(r.__dict__, ratio=r.ratio) for r in rows]}, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
