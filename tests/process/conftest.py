"""Process-level tests: real `python -m l2sess.node` processes on 127.0.0.1,
real sockets, the project's impairment relay between them.

A test that takes the `impl` fixture (parametrize it) runs its nodes as
"python" (both the Python node), "l2sessd" (both the C daemon of
firmware/l2sessd) or "mixed" (A the daemon, B the Python node)."""
import pytest

from l2sess_testbed.daemon import daemon_programs
from l2sess_testbed.procnode import NodeProcess
from l2sess_testbed.relay import Relay

# Short intervals so that degradation, suspension and fallback take seconds.
FAST_SESSION = {"heartbeat_interval": 0.5, "heartbeat_reply_timeout": 0.25, "handshake_timeout": 1.0,
                "connectivity_timeout": 1.0, "degraded_timeout": 2.0, "suspended_retry": 1.0,
                "backoff_base": 0.1, "backoff_max": 1.0, "retransmit_timeout": 0.05}
FAST_LOOP = {"path_timeout_ms": 1000, "quic_retry_ms": 1500, "reconnect_base_ms": 50, "reconnect_max_ms": 500,
             "happy_eyeballs_ms": 100}


class Pair:
    """Gateway A keeps a session to gateway B, through a relay when asked."""

    def __init__(self, tmp_path, relay=False, seed=1, transports=("quic", "utcp"), session=None, loop=None,
                 impl="python", **impair):
        session = {**FAST_SESSION, **(session or {})}
        loop = {**FAST_LOOP, **(loop or {})}
        daemon = [daemon_programs()[0]] if impl != "python" else None
        program_a, program_b = (daemon, daemon if impl == "l2sessd" else None)
        self.b = NodeProcess(str(tmp_path), "b", session=session, loop=loop, transports=transports,
                             program=program_b)
        self.relay = None
        target = self.b.address
        if relay:
            self.relay = Relay(listen=("127.0.0.1", 0), target=("127.0.0.1", self.b.port), seed=seed, **impair)
            self.relay.start()
            target = f"127.0.0.1:{self.relay.port}"
        self.a = NodeProcess(str(tmp_path), "a", session=session, loop=loop, transports=transports,
                             program=program_a)
        self.a.add_peer(self.b.did, target, connect=True)
        self.b.add_peer(self.a.did, self.a.address, connect=False)

    def start(self):
        self.b.start()
        self.a.start()
        return self

    def close(self):
        for node in (self.a, self.b):
            if node.alive():
                node.terminate()
        if self.relay is not None:
            self.relay.stop()


@pytest.fixture
def impl():
    """Which nodes a pair runs (see above); parametrize to choose."""
    return "python"


@pytest.fixture
def pair_factory(tmp_path, impl):
    made = []

    def make(**kw):
        p = Pair(tmp_path, impl=impl, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()
