"""Interop of the C QUIC transport (csrc/transport/quic/) with an independent QUIC
stack, aioquic, on 127.0.0.1.

* aioquic client -> our listener (tests/c/quic_echo.c serve): handshake with
  ALPN "l2sess/1" and no certificate check, length-prefixed messages echoed
  back intact, an oversized length refused with application error 1, a
  foreign ALPN refused by TLS.
* our client (quic_echo connect) -> an aioquic server that echoes.

quic_echo comes from the CMake build (build/native, or $L2S_QUIC_ECHO); it is
built here (build/pytest-quic) when missing, and the tests skip when the build has no QUIC
(ngtcp2 or GnuTLS missing). Every wait is bounded.
"""
import asyncio
import datetime
import os
import shutil
import socket
import ssl
import struct
import subprocess
from pathlib import Path

import pytest

aioquic = pytest.importorskip("aioquic")
from aioquic.asyncio import QuicConnectionProtocol, connect, serve  # noqa: E402
from aioquic.quic.configuration import QuicConfiguration  # noqa: E402
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ALPN = "l2sess/1"
MAX_MESSAGE = 65577  # L2S_MAX_MESSAGE
APP_FRAMING = 0x1    # L2S_QUIC_APP_FRAMING


def _build_echo():
    # A build directory of its own: build/native belongs to `make ctest`.
    build = ROOT / "build" / "pytest-quic"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", *gen, "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                    "-DL2S_FUZZ_REPLAY=OFF"], check=True, stdout=subprocess.DEVNULL, timeout=300)
    rc = subprocess.run(["cmake", "--build", str(build), "--target", "quic_echo"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600).returncode
    return build / "quic_echo" if rc == 0 else None


@pytest.fixture(scope="module")
def quic_echo():
    path = os.environ.get("L2S_QUIC_ECHO")
    if path:
        return Path(path)
    path = ROOT / "build" / "native" / "quic_echo"
    if not path.exists():
        if not shutil.which("cmake"):
            pytest.skip("cmake not found")
        path = _build_echo()
    if not path or not path.exists():
        pytest.skip("the build has no QUIC transport (ngtcp2/GnuTLS not found)")
    return path


@pytest.fixture
def echo_server(quic_echo):
    """Our endpoint as an echo server on an ephemeral port; killed at the end."""
    proc = subprocess.Popen([str(quic_echo), "serve", "0", "60"], stdout=subprocess.PIPE, text=True)
    try:
        line = _readline(proc, timeout=10)
        assert line.startswith("READY "), line
        yield int(line.split()[1]), proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _readline(proc, timeout):
    """One line of the child's stdout, waiting at most timeout seconds."""
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise TimeoutError("no output from quic_echo")
    return proc.stdout.readline().strip()


class Client(QuicConnectionProtocol):
    """Records the events aioquic reports, for the assertions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.terminated = None
        self.alpn = None

    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            self.alpn = event.alpn_protocol
        elif isinstance(event, ConnectionTerminated):
            self.terminated = event
        super().quic_event_received(event)


def client_config(alpn=ALPN):
    return QuicConfiguration(is_client=True, alpn_protocols=[alpn], verify_mode=ssl.CERT_NONE)


def frame(msg):
    return struct.pack(">I", len(msg)) + msg


async def read_message(reader):
    (n,) = struct.unpack(">I", await reader.readexactly(4))
    return await reader.readexactly(n)


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_aioquic_client_echo(echo_server):
    port, _ = echo_server
    messages = [b"", b"x", os.urandom(1000), os.urandom(65536), os.urandom(MAX_MESSAGE)]
    messages += [os.urandom(n) for n in (3, 17, 4096, 20000)]

    async def main():
        async with connect("127.0.0.1", port, configuration=client_config(), create_protocol=Client) as client:
            assert client.alpn == ALPN
            reader, writer = await client.create_stream()
            for m in messages:  # all at once: the stream splits them arbitrarily
                writer.write(frame(m))
            back = [await read_message(reader) for _ in messages]
            assert back == messages
            # one byte at a time: our side reassembles partial reads
            for b in frame(b"slowly"):
                writer.write(bytes([b]))
                await asyncio.sleep(0)
            assert await read_message(reader) == b"slowly"

    run(main())


def test_aioquic_oversized_length_is_refused(echo_server):
    port, proc = echo_server

    async def main():
        async with connect("127.0.0.1", port, configuration=client_config(), create_protocol=Client) as client:
            reader, writer = await client.create_stream()
            writer.write(frame(b"ok"))
            assert await read_message(reader) == b"ok"
            writer.write(struct.pack(">I", MAX_MESSAGE + 1) + b"\0" * 64)
            await asyncio.wait_for(client.wait_closed(), 10)
            return client.terminated

    terminated = run(main())
    assert terminated is not None and terminated.error_code == APP_FRAMING
    # the server stays up for the next client
    run(_one_echo(port))


async def _one_echo(port):
    async with connect("127.0.0.1", port, configuration=client_config(), create_protocol=Client) as client:
        reader, writer = await client.create_stream()
        writer.write(frame(b"again"))
        assert await read_message(reader) == b"again"


def test_aioquic_foreign_alpn_is_refused(echo_server):
    port, _ = echo_server

    async def main():
        async with connect("127.0.0.1", port, configuration=client_config("h3"), create_protocol=Client):
            pass

    with pytest.raises(ConnectionError):
        run(main(), timeout=15)
    run(_one_echo(port))


@pytest.mark.parametrize("offered", ["ed25519", "ecdsa_secp256r1_sha256"])
def test_certificate_follows_the_clients_signature_algorithms(echo_server, monkeypatch, offered):
    """Our listener presents an Ed25519 certificate to a client that offers
    Ed25519 signatures (cheapest to sign and verify) and a P-256 one to a client
    that offers only ECDSA: a peer without Ed25519 still connects."""
    import aioquic.tls as tls
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    port, _ = echo_server
    algorithm = {"ed25519": tls.SignatureAlgorithm.ED25519,
                 "ecdsa_secp256r1_sha256": tls.SignatureAlgorithm.ECDSA_SECP256R1_SHA256}[offered]
    init = tls.Context.__init__

    def only_one(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._signature_algorithms = [algorithm]

    monkeypatch.setattr(tls.Context, "__init__", only_one)

    async def main():
        async with connect("127.0.0.1", port, configuration=client_config(), create_protocol=Client) as client:
            reader, writer = await client.create_stream()
            writer.write(frame(b"which key?"))
            assert await read_message(reader) == b"which key?"
            return client._quic.tls._peer_certificate.public_key()

    key = run(main())
    if offered == "ed25519":
        assert isinstance(key, ed25519.Ed25519PublicKey)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"


def _self_signed():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aioquic-echo")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert, key


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_our_client_against_aioquic_server(quic_echo):
    cert, key = _self_signed()
    config = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
    config.certificate, config.private_key = cert, key

    def echo(reader, writer):
        async def loop():
            try:
                while True:
                    writer.write(frame(await read_message(reader)))
            except asyncio.IncompleteReadError:
                pass
        asyncio.ensure_future(loop())

    async def main():
        port = _free_udp_port()
        server = await serve("127.0.0.1", port, configuration=config, stream_handler=echo)
        try:
            proc = await asyncio.create_subprocess_exec(str(quic_echo), "connect", str(port), "60", "20",
                                                        stdout=asyncio.subprocess.PIPE)
            try:
                out, _ = await asyncio.wait_for(proc.communicate(), 25)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            return proc.returncode, out.decode()
        finally:
            server.close()

    rc, out = run(main(), timeout=40)
    assert rc == 0, out
    assert "OK 60" in out
    assert any(line.startswith("BINDING ") and len(line) == 8 + 64 for line in out.splitlines())
