"""A seeded network impairment relay for testing l2sess nodes on loopback.

A node listens for QUIC on UDP port P and for its μTCP fallback on TCP port P.
The relay listens on one port L for both protocols and forwards to host:P, so
a peer pointed at L reaches the node through an impaired path:

- UDP is NAT-like: each client source address gets its own upstream socket,
  so the target sees one distinct source per client; replies go back to that
  client from the listening socket. Mappings expire when idle and are bounded.
- TCP is a byte pipe (no framing knowledge), half-close aware and bounded.

Impairments (see Impairments) change at runtime. UDP gets loss, reorder,
duplicate, delay and jitter and can be blocked; TCP, being reliable, only gets
delay and block/blackhole (bytes stall, nothing is closed or lost).

Determinism: each direction (up = client to target, down = target to client)
has its own random.Random derived from the seed, and every datagram received in
that direction draws exactly four numbers from it, whatever the settings. So
whether the n-th datagram of a direction is lost or duplicated, and its delay,
depend only on the seed, n and the settings in force, not on timing or on the
other direction. (Whether a reorder draw can hold it also depends on its
flow's one hold slot being free, and a hold ends on the next datagram or on a
timer, whichever comes first.)

In-process:

    relay = Relay(target=("127.0.0.1", port), seed=1, loss=0.05)
    relay.start()
    ...connect to ("127.0.0.1", relay.port)...
    relay.set(block_udp=True)
    print(relay.stats())
    relay.stop()

CLI (a thin wrapper; see main()):

    python -m l2sess_testbed.relay --listen 127.0.0.1:0 --target 127.0.0.1:4433 \
        --seed 1 --loss 0.05 --reorder 0.1 --control /tmp/relay.sock

The control socket takes JSON lines such as {"set": {"block_udp": true}},
{"stats": true} or {"get": true} and answers each with one JSON line.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import dataclasses
import errno
import json
import os
import random
import signal
import socket
import sys
import threading
import time
from typing import Any, Callable

__all__ = ["Impairments", "Relay", "main"]

UDP_MAX = 65535
UDP_READ_BATCH = 64  # datagrams drained per readiness callback, for fairness
SOCKET_BUFFER = 1 << 20  # requested SO_RCVBUF/SO_SNDBUF for the UDP sockets
TCP_CHUNK = 64 * 1024
TCP_QUEUE_CHUNKS = 16  # per direction, so at most 1 MiB in flight per pipe half
CALL_TIMEOUT = 5.0  # how long a caller thread waits for the relay's loop


# ---- impairment settings ------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Impairments:
    """What the relay does to traffic; immutable, replaced as a whole by set().

    loss, reorder and duplicate are probabilities per datagram and direction.
    A reordered datagram is held until the next datagram of the same flow and
    direction has gone (then it follows it), or for reorder_ms if none comes.
    delay_ms +- jitter_ms (uniform) applies to every datagram; TCP chunks get
    delay_ms alone, since jitter would have to reorder a byte stream.
    """

    loss: float = 0.0
    reorder: float = 0.0
    duplicate: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    reorder_ms: float = 20.0
    block_udp: bool = False
    block_tcp: bool = False
    blackhole: bool = False

    def __post_init__(self) -> None:
        for name in ("loss", "reorder", "duplicate"):
            _check_number(self, name, upper=1.0)
        for name in ("delay_ms", "jitter_ms", "reorder_ms"):
            _check_number(self, name, upper=1e7)
        for name in ("block_udp", "block_tcp", "blackhole"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, not {type(getattr(self, name)).__name__}")

    @property
    def udp_blocked(self) -> bool:
        return self.block_udp or self.blackhole

    @property
    def tcp_blocked(self) -> bool:
        return self.block_tcp or self.blackhole

    def replace(self, **changes: Any) -> "Impairments":
        """A copy with changes applied; unknown names are an error, not ignored."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown impairment(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_number(obj: Impairments, name: str, upper: float) -> None:
    value = getattr(obj, name)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not 0.0 <= value <= upper:  # also rejects NaN
        raise ValueError(f"{name} must be between 0 and {upper}, got {value!r}")
    object.__setattr__(obj, name, float(value))


IMPAIRMENT_NAMES = tuple(f.name for f in dataclasses.fields(Impairments))


# ---- UDP state ----------------------------------------------------------------

class _Direction:
    """One direction of UDP traffic: its random stream and counters."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        # a str seed is hashed deterministically (unlike hash() of a tuple);
        # its prefix names the relay's old module so that a seed still gives
        # the impairments it gave before the move to l2sess_testbed
        self.rng = random.Random(f"l2sess.testing.relay/{seed}/{name}")
        self.received = 0
        self.forwarded = 0
        self.bytes_forwarded = 0
        self.duplicated = 0
        self.reordered = 0
        self.reorder_timeouts = 0
        self.delayed = 0
        self.dropped: dict[str, int] = {}

    def drop(self, cause: str, count: int = 1) -> None:
        self.dropped[cause] = self.dropped.get(cause, 0) + count

    def stats(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "forwarded": self.forwarded,
            "bytes_forwarded": self.bytes_forwarded,
            "duplicated": self.duplicated,
            "reordered": self.reordered,
            "reorder_timeouts": self.reorder_timeouts,
            "delayed": self.delayed,
            "dropped": dict(self.dropped),
            "dropped_total": sum(self.dropped.values()),
        }


@dataclasses.dataclass
class _Held:
    """A datagram (and its duplicate, if any) held back to be reordered."""

    datagrams: list[bytes]
    delay: float  # what it would have been delayed by, had it not been held
    timer: asyncio.TimerHandle


@dataclasses.dataclass
class _Mapping:
    """One client's NAT mapping: its upstream socket and reorder slots."""

    client: tuple
    sock: socket.socket
    last_seen: float
    held: dict[str, _Held] = dataclasses.field(default_factory=dict)
    closed: bool = False


# ---- the relay ----------------------------------------------------------------

class Relay:
    """A UDP+TCP impairment relay running its own asyncio loop in a thread.

    All state is owned by the loop thread; start(), stop(), set() and stats()
    may be called from any other thread and hand their work to the loop, so
    set() has taken effect when it returns.
    """

    def __init__(
        self,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        target: tuple[str, int] | None = None,
        seed: int = 0,
        *,
        udp_idle_timeout: float = 120.0,
        max_mappings: int = 1024,
        max_tcp: int = 256,
        max_pending: int = 4096,
        tcp_connect_timeout: float = 10.0,
        control: str | None = None,
        **impairments: Any,
    ) -> None:
        if target is None:
            raise ValueError("target=(host, port) of the node is required")
        if udp_idle_timeout <= 0 or max_mappings < 1 or max_tcp < 1 or max_pending < 1:
            raise ValueError("udp_idle_timeout, max_mappings, max_tcp and max_pending must be positive")
        self.listen = (listen[0], int(listen[1]))
        self.target = (target[0], int(target[1]))
        self.seed = seed
        self.udp_idle_timeout = float(udp_idle_timeout)
        self.max_mappings = max_mappings
        self.max_tcp = max_tcp
        self.max_pending = max_pending
        self.tcp_connect_timeout = tcp_connect_timeout
        self.control_path = control
        self._imp = Impairments().replace(**impairments)
        self._port = 0
        self._reset_state()

    def _reset_state(self) -> None:
        self._up = _Direction("up", self.seed)
        self._down = _Direction("down", self.seed)
        self._mappings: dict[tuple, _Mapping] = {}
        self._map_counts = {"created": 0, "expired": 0, "refused": 0, "target_unreachable": 0}
        self._pending = 0  # datagrams in the delay line (held ones excluded)
        self._tcp_conns: set[asyncio.Task] = set()
        self._tcp_counts = {"accepted": 0, "refused": 0, "connect_failed": 0, "held": 0,
                            "closed": 0, "bytes_up": 0, "bytes_down": 0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._udp: socket.socket | None = None
        self._target_addr: tuple | None = None
        self._target_family = socket.AF_INET

    # ---- public API (any thread) ----

    @property
    def port(self) -> int:
        """The port listened on, for UDP and TCP alike (known after start())."""
        return self._port

    @property
    def impairments(self) -> Impairments:
        return self._imp

    def start(self) -> "Relay":
        """Bind, start the loop thread and return once traffic is accepted."""
        if self._thread is not None:
            raise RuntimeError("relay already started")
        ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="l2sess-relay", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=CALL_TIMEOUT)
        except BaseException:
            self._thread.join(CALL_TIMEOUT)
            self._thread = None
            raise
        return self

    def stop(self) -> None:
        """Close every socket and join the loop thread; idempotent."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(self._stopping.set)
        thread.join(CALL_TIMEOUT)
        self._thread = None

    def set(self, **changes: Any) -> Impairments:
        """Change impairments (validated first) and return the new settings."""
        new = self._imp.replace(**changes)
        if self._loop is None or self._thread is None:
            self._imp = new
            return new
        return self._call(self._apply, new)

    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters, JSON-serialisable."""
        if self._loop is None or self._thread is None:
            return self._stats()
        return self._call(self._stats)

    def __enter__(self) -> "Relay":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn on the loop thread and wait for its result."""
        if threading.get_ident() == getattr(self._thread, "ident", None):
            return fn(*args)
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller
                fut.set_exception(exc)

        assert self._loop is not None
        self._loop.call_soon_threadsafe(run)
        return fut.result(timeout=CALL_TIMEOUT)

    # ---- loop thread: lifecycle ----

    def _run(self, ready: concurrent.futures.Future) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready))
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self, ready: concurrent.futures.Future) -> None:
        self._stopping = asyncio.Event()
        self._tcp_gate = asyncio.Event()
        self._apply(self._imp)
        servers = []
        try:
            await self._resolve_target()
            tcp_sock = self._bind()
            servers.append(await asyncio.start_server(self._on_tcp, sock=tcp_sock))
            if self.control_path:
                servers.append(await self._start_control())
            sweeper = asyncio.ensure_future(self._sweep_mappings())
            ready.set_result(None)
            await self._stopping.wait()
            sweeper.cancel()
        finally:
            await self._shutdown(servers)

    async def _resolve_target(self) -> None:
        infos = await asyncio.get_running_loop().getaddrinfo(*self.target, type=socket.SOCK_DGRAM)
        self._target_family, _, _, _, self._target_addr = infos[0]

    def _bind(self) -> socket.socket:
        """Bind UDP and TCP to the same port; retry if an ephemeral pick clashes."""
        infos = socket.getaddrinfo(*self.listen, type=socket.SOCK_DGRAM)
        family, _, _, _, addr = infos[0]
        attempts = 20 if self.listen[1] == 0 else 1
        for attempt in range(attempts):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            try:
                udp.bind(addr)
                port = udp.getsockname()[1]
                tcp = socket.socket(family, socket.SOCK_STREAM)
                try:
                    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    tcp.bind((addr[0], port) + tuple(addr[2:]))
                    tcp.listen(128)
                except OSError as exc:
                    tcp.close()
                    if exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                        raise
                    udp.close()
                    continue
            except BaseException:
                udp.close()
                raise
            _tune_udp(udp)
            self._udp, self._port = udp, port
            asyncio.get_running_loop().add_reader(udp.fileno(), self._on_client_readable)
            tcp.setblocking(False)
            return tcp
        raise OSError(errno.EADDRINUSE, "no port free for both UDP and TCP")

    async def _shutdown(self, servers: list[asyncio.base_events.Server]) -> None:
        loop = asyncio.get_running_loop()
        for server in servers:
            server.close()
        for mapping in list(self._mappings.values()):
            self._close_mapping(mapping)
        if self._udp is not None:
            loop.remove_reader(self._udp.fileno())
            self._udp.close()
        for task in list(self._tcp_conns):
            task.cancel()
        if self._tcp_conns:
            await asyncio.wait(self._tcp_conns, timeout=1.0)
        for server in servers:
            await server.wait_closed()
        if self.control_path:
            _unlink_quietly(self.control_path)

    # ---- loop thread: settings and stats ----

    def _apply(self, new: Impairments) -> Impairments:
        """Install new settings; opening the TCP gate resumes stalled pipes."""
        self._imp = new
        if new.tcp_blocked:
            self._tcp_gate.clear()
        else:
            self._tcp_gate.set()
        return new

    def _stats(self) -> dict[str, Any]:
        return {
            "port": self._port,
            "impairments": self._imp.as_dict(),
            "udp": {
                "up": self._up.stats(),
                "down": self._down.stats(),
                "mappings": len(self._mappings),
                "mappings_created": self._map_counts["created"],
                "mappings_expired": self._map_counts["expired"],
                "mappings_refused": self._map_counts["refused"],
                "target_unreachable": self._map_counts["target_unreachable"],
                "pending": self._pending,
                "held": sum(len(m.held) for m in self._mappings.values()),
            },
            "tcp": dict(self._tcp_counts, active=len(self._tcp_conns)),
        }

    # ---- loop thread: UDP ----

    def _on_client_readable(self) -> None:
        assert self._udp is not None
        for _ in range(UDP_READ_BATCH):
            try:
                data, client = self._udp.recvfrom(UDP_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            mapping = self._mappings.get(client) or self._open_mapping(client)
            if mapping is None:
                self._up.received += 1
                self._up.drop("no_mapping")
                continue
            self._on_datagram(mapping, self._up, data)

    def _open_mapping(self, client: tuple) -> _Mapping | None:
        """A new upstream socket for client, or None when the table is full."""
        if len(self._mappings) >= self.max_mappings:
            self._map_counts["refused"] += 1
            return None
        sock = socket.socket(self._target_family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            _tune_udp(sock)
            sock.connect(self._target_addr)  # the kernel then filters replies to the target's
        except OSError:
            sock.close()
            self._map_counts["refused"] += 1
            return None
        mapping = _Mapping(client, sock, time.monotonic())
        self._mappings[client] = mapping
        self._map_counts["created"] += 1
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_target_readable, mapping)
        return mapping

    def _close_mapping(self, mapping: _Mapping) -> None:
        if mapping.closed:
            return
        mapping.closed = True
        for name, held in mapping.held.items():
            held.timer.cancel()
            (self._up if name == "up" else self._down).drop("mapping_closed", len(held.datagrams))
        mapping.held.clear()
        if self._loop is not None:
            self._loop.remove_reader(mapping.sock.fileno())
        mapping.sock.close()
        self._mappings.pop(mapping.client, None)

    def _on_target_readable(self, mapping: _Mapping) -> None:
        for _ in range(UDP_READ_BATCH):
            if mapping.closed:
                return
            try:
                data = mapping.sock.recv(UDP_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ECONNREFUSED from an earlier ICMP: nothing to forward
                self._map_counts["target_unreachable"] += 1
                continue
            self._on_datagram(mapping, self._down, data)

    async def _sweep_mappings(self) -> None:
        """Expire idle mappings, like a NAT would."""
        period = min(1.0, self.udp_idle_timeout / 4)
        while True:
            await asyncio.sleep(period)
            cutoff = time.monotonic() - self.udp_idle_timeout
            for mapping in [m for m in self._mappings.values() if m.last_seen < cutoff]:
                self._close_mapping(mapping)
                self._map_counts["expired"] += 1

    def _on_datagram(self, mapping: _Mapping, direction: _Direction, data: bytes) -> None:
        """Decide one datagram's fate: drop, hold for reordering, or send (later)."""
        imp = self._imp
        mapping.last_seen = time.monotonic()
        direction.received += 1
        rng = direction.rng
        # always four draws, so the n-th datagram's fate depends only on n
        r_loss, r_dup, r_reorder, r_jitter = rng.random(), rng.random(), rng.random(), rng.random()
        if imp.udp_blocked:
            direction.drop("blocked")
            return
        if r_loss < imp.loss:
            direction.drop("loss")
            return
        batch = [data]
        if r_dup < imp.duplicate:
            batch.append(data)
            direction.duplicated += 1
        delay = _delay(imp, r_jitter)
        if r_reorder < imp.reorder and direction.name not in mapping.held:
            self._hold(mapping, direction, batch, delay, imp.reorder_ms / 1000.0)
            return
        held = mapping.held.pop(direction.name, None)
        if held is not None:
            held.timer.cancel()
            batch.extend(held.datagrams)
            direction.reordered += 1
        self._emit(mapping, direction, batch, delay)

    def _hold(self, mapping: _Mapping, direction: _Direction, batch: list[bytes],
              delay: float, timeout: float) -> None:
        """Hold batch until the flow's next datagram (or timeout); one slot per flow direction."""
        assert self._loop is not None
        timer = self._loop.call_later(timeout, self._release_held, mapping, direction)
        mapping.held[direction.name] = _Held(batch, delay, timer)

    def _release_held(self, mapping: _Mapping, direction: _Direction) -> None:
        """Nothing overtook it in time: let it go, still through the delay line."""
        held = mapping.held.pop(direction.name, None)
        if held is None:
            return
        direction.reorder_timeouts += 1
        self._emit(mapping, direction, held.datagrams, held.delay)

    def _emit(self, mapping: _Mapping, direction: _Direction, batch: list[bytes], delay: float) -> None:
        """Send batch now, or after delay through the bounded delay line (in order)."""
        if delay <= 0:
            self._send(mapping, direction, batch)
            return
        if self._pending + len(batch) > self.max_pending:
            direction.drop("queue_full", len(batch))
            return
        assert self._loop is not None
        self._pending += len(batch)
        direction.delayed += len(batch)
        self._loop.call_later(delay, self._release_delayed, mapping, direction, batch)

    def _release_delayed(self, mapping: _Mapping, direction: _Direction, batch: list[bytes]) -> None:
        self._pending -= len(batch)
        self._send(mapping, direction, batch)

    def _send(self, mapping: _Mapping, direction: _Direction, batch: list[bytes]) -> None:
        if mapping.closed:
            direction.drop("mapping_closed", len(batch))
            return
        if self._imp.udp_blocked:  # blocked while it was delayed or held
            direction.drop("blocked", len(batch))
            return
        for data in batch:
            try:
                if direction is self._up:
                    mapping.sock.send(data)
                else:
                    assert self._udp is not None
                    self._udp.sendto(data, mapping.client)
            except (BlockingIOError, InterruptedError):
                direction.drop("send_buffer_full")
                continue
            except OSError:
                direction.drop("send_error")
                continue
            direction.forwarded += 1
            direction.bytes_forwarded += len(data)

    # ---- loop thread: TCP ----

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tcp_conns) >= self.max_tcp:
            self._tcp_counts["refused"] += 1
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tcp_conns.add(task)
        self._tcp_counts["accepted"] += 1
        try:
            await self._serve_tcp(reader, writer)
        finally:
            self._tcp_conns.discard(task)
            self._tcp_counts["closed"] += 1
            writer.close()  # graceful: whatever is still buffered gets flushed first

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._tcp_gate.is_set():  # blackholed: hold the new connection, like a dead path
            self._tcp_counts["held"] += 1
            await self._tcp_gate.wait()
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), self.tcp_connect_timeout)
        except (OSError, asyncio.TimeoutError):
            self._tcp_counts["connect_failed"] += 1
            return
        try:
            await _run_both(self._pipe(reader, up_writer, "bytes_up"),
                            self._pipe(up_reader, writer, "bytes_down"))
        finally:
            up_writer.close()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, counter: str) -> None:
        """Copy src to dst through a bounded delay line; EOF becomes a half-close."""
        queue: asyncio.Queue = asyncio.Queue(TCP_QUEUE_CHUNKS)

        async def read() -> None:
            while True:
                chunk = await src.read(TCP_CHUNK)
                await queue.put((time.monotonic() + self._imp.delay_ms / 1000.0, chunk))
                if not chunk:
                    return

        async def write() -> None:
            while True:
                due, chunk = await queue.get()
                await _sleep_until(due)
                await self._tcp_gate.wait()  # blackholed: stall, keep the bytes
                if not chunk:
                    if dst.can_write_eof():
                        dst.write_eof()
                    return
                dst.write(chunk)
                self._tcp_counts[counter] += len(chunk)
                await dst.drain()

        await _run_both(read(), write())

    # ---- loop thread: control socket ----

    async def _start_control(self) -> asyncio.base_events.Server:
        assert self.control_path is not None
        _unlink_quietly(self.control_path)
        return await asyncio.start_unix_server(self._on_control, path=self.control_path)

    async def _on_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                if line.strip():
                    writer.write(json.dumps(self.control(line)).encode() + b"\n")
                    await writer.drain()
        except (ConnectionError, ValueError):  # ValueError: line over the reader's limit
            pass
        finally:
            writer.close()

    def control(self, line: bytes | str) -> dict[str, Any]:
        """Answer one control message: {"set": {...}}, {"get": true}, {"stats": true}.

        Keys combine ("set" is applied first); the answer always has "ok".
        """
        try:
            msg = json.loads(line)
            if not isinstance(msg, dict) or not msg:
                raise ValueError("a control message is a non-empty JSON object")
            unknown = set(msg) - {"set", "get", "stats"}
            if unknown:
                raise ValueError(f"unknown control key(s): {', '.join(sorted(unknown))}")
            reply: dict[str, Any] = {"ok": True}
            if "set" in msg:
                if not isinstance(msg["set"], dict):
                    raise ValueError('"set" takes an object of impairments')
                reply["impairments"] = self.set(**msg["set"]).as_dict()
            if msg.get("get"):
                reply["impairments"] = self._imp.as_dict()
            if msg.get("stats"):
                reply["stats"] = self.stats()
            return reply
        except (ValueError, TypeError) as exc:
            return {"ok": False, "error": str(exc)}


# ---- helpers ------------------------------------------------------------------

def _delay(imp: Impairments, r: float) -> float:
    """Delay in seconds: delay_ms plus uniform jitter in [-jitter_ms, +jitter_ms]."""
    ms = imp.delay_ms + (2.0 * r - 1.0) * imp.jitter_ms
    return max(ms, 0.0) / 1000.0


def _tune_udp(sock: socket.socket) -> None:
    """Bigger buffers so bursts queue in the kernel instead of being dropped there."""
    sock.setblocking(False)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        except OSError:
            pass


async def _sleep_until(deadline: float) -> None:
    wait = deadline - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)


async def _run_both(a: Any, b: Any) -> None:
    """Run two coroutines to completion; if one fails, cancel the other and re-raise.

    Socket errors (resets, unreachable) end the pipe quietly: the peer went away.
    """
    tasks = [asyncio.ensure_future(a), asyncio.ensure_future(b)]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, OSError):
                raise exc
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ---- CLI ----------------------------------------------------------------------

def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m l2sess_testbed.relay", description=__doc__.split("\n")[0])
    p.add_argument("--listen", type=_host_port, default=("127.0.0.1", 0), help="HOST:PORT (UDP and TCP)")
    p.add_argument("--target", type=_host_port, required=True, help="HOST:PORT of the node")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--control", help="Unix socket path for JSON-line control")
    for name in ("loss", "reorder", "duplicate", "delay_ms", "jitter_ms", "reorder_ms"):
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=float)
    for name in ("block_udp", "block_tcp", "blackhole"):
        p.add_argument("--" + name.replace("_", "-"), dest=name, action="store_true", default=None)
    p.add_argument("--udp-idle-timeout", type=float, default=120.0)
    p.add_argument("--max-mappings", type=int, default=1024)
    p.add_argument("--max-tcp", type=int, default=256)
    p.add_argument("--max-pending", type=int, default=4096)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a Relay until SIGTERM/SIGINT; print 'listening HOST:PORT' once ready."""
    args = _parser().parse_args(argv)
    impairments = {n: getattr(args, n) for n in IMPAIRMENT_NAMES if getattr(args, n) is not None}
    try:
        relay = Relay(args.listen, args.target, args.seed, control=args.control,
                      udp_idle_timeout=args.udp_idle_timeout, max_mappings=args.max_mappings,
                      max_tcp=args.max_tcp, max_pending=args.max_pending, **impairments)
    except (ValueError, TypeError) as exc:
        print(f"relay: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        relay.start()
    except OSError as exc:
        print(f"relay: cannot listen on {args.listen[0]}:{args.listen[1]}: {exc}", file=sys.stderr)
        return 1
    print(f"listening {args.listen[0]}:{relay.port}", flush=True)
    while not stop.wait(0.5):
        pass
    relay.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
