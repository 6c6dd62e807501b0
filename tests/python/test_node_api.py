"""l2sess.Node in one process: two nodes on 127.0.0.1 through the C loop."""
import contextlib
import json
import os
import threading
import time

import pytest

from l2sess import Identity, InvalidState, LengthError, QueueFull, SessionConfig
from l2sess.node import Node, format_metrics, parse_address
from l2sess.node.store import inbox_watermarks, read_inbox


def established(ev):
    return ev.kind == "state" and ev.to_state == "established"


@contextlib.contextmanager
def connected(config=None, **b_options):
    """A with an established session to B (B's bundle given); both stopped after."""
    b = Node(Identity.generate(), ("127.0.0.1", 0), accept_any=True, **b_options).start()
    a = Node(Identity.generate(), ("127.0.0.1", 0), config).start()
    try:
        a.connect(b.did, b.address, bundle=b.bundle)
        a.wait_for(established, 10)
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def pair():
    b = Node(Identity.generate(), ("127.0.0.1", 0), accept_any=True).start()
    a = Node(Identity.generate(), ("127.0.0.1", 0)).start()
    yield a, b
    a.stop()
    b.stop()


def test_connect_send_receive_both_ways(pair):
    a, b = pair
    a.connect(b.did, b.address)  # no bundle: fetched in-band and verified
    ev = a.wait_for(established, 10)
    assert ev.did == b.did and ev.transport == "quic"
    seqs = [a.send(b.did, b"m%d" % i) for i in range(100)]
    assert seqs == list(range(seqs[0], seqs[0] + 100))
    got = [b.wait_for(lambda e: e.kind == "message", 10) for _ in range(100)]
    assert [e.data for e in got] == [b"m%d" % i for i in range(100)]
    assert [e.seq for e in got] == seqs
    b.send(a.did, b"back")
    assert [e.data for e in a.events(timeout=2) if e.kind == "message"] == [b"back"]
    st = a.status()
    (peer,) = st["peers"]
    assert peer["did"] == b.did and peer["session"]["state"] == "established"
    assert st["stats"]["handshakes"] == 1


def test_connect_with_a_bundle_prepares_the_handshake_in_the_callers_thread():
    """Node.connect with a cached bundle does the handshake's own work (the
    bundle's check, the INIT's ephemeral key and encapsulation) in its thread
    while the loop connects; the loop then does not, and the INIT uses it
    unless the loop needed the INIT first. Without a bundle nothing is."""
    with connected() as (a, b):
        st = a.status()["stats"]
        assert st["handshakes"] == 1 and st["prepared_by_loop"] == 0
        assert st["prepared_by_caller"] == st["handshakes_prepared"] <= 1
    b = Node(Identity.generate(), ("127.0.0.1", 0), accept_any=True).start()
    a = Node(Identity.generate(), ("127.0.0.1", 0)).start()
    try:
        a.connect(b.did, b.address)  # discovery first: nothing to prepare with
        a.wait_for(established, 10)
        st = a.status()["stats"]
        assert st["handshakes"] == 1 and st["disc_probes"] >= 1
        assert st["handshakes_prepared"] == st["prepared_by_caller"] == st["prepared_by_loop"] == 0
    finally:
        a.stop()
        b.stop()


def test_send_before_a_session_is_invalid_state(pair):
    a, b = pair
    with pytest.raises(InvalidState):
        a.send(b.did, b"too early")


def wait_until(predicate, timeout):
    """Polls predicate() until it is true (True) or timeout seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def test_unknown_peer_is_refused_without_accept_any():
    """a starts a handshake to b and sends to it; b, which knows no peers, takes
    the handshake and says nothing to a: a stays in handshake_initiated with
    its messages queued; b has no session and no peer, and one event, the
    refusal, naming a (counted in refused)."""
    b = Node(Identity.generate(), ("127.0.0.1", 0)).start()  # no accept_any, no peers
    # a keeps trying for longer than the test takes, however slow the machine
    a = Node(Identity.generate(), ("127.0.0.1", 0), SessionConfig(handshake_timeout=300)).start()
    try:
        a.connect(b.did, b.address, bundle=b.bundle)
        a.wait_for(lambda e: e.kind == "state" and e.to_state == "handshake_initiated", 10)
        # a's messages wait in its session for the handshake to complete
        seqs = [a.send(b.did, b"for b %d" % i) for i in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        # b takes a's HANDSHAKE_INIT and, in the same round, refuses it
        assert wait_until(lambda: b.status()["stats"]["rx_messages"] >= 1, 20)
        first = b.wait_for(lambda e: True, 20)
        assert (first.kind, first.did, first.session_id) == ("refused", a.did, None)
        with pytest.raises(TimeoutError):
            b.wait_for(lambda e: e.kind != "refused", 1.0)  # not even a state event
        st = b.status()
        assert st["peers"] == [] and st["stats"]["sessions"] == 0 and st["stats"]["handshakes"] == 0
        assert st["stats"]["refused"] >= 1
        # a never got an answer: not established, nothing delivered, all five still queued
        assert [e for e in a.events(timeout=0.2) if e.kind != "state" or e.to_state == "established"] == []
        (peer,) = a.peers()
        assert peer["session"]["state"] == "handshake_initiated"
        assert peer["session"]["queued"] == 5 and peer["session"]["unacked"] == 0
        assert peer["delivered"] == 0 and a.status()["stats"]["handshakes"] == 0
    finally:
        a.stop()
        b.stop()


def test_wrong_did_at_an_address_is_a_peer_error(pair):
    a, b = pair
    impostor = Identity.generate()
    a.connect(impostor.did, b.address)  # b answers with its own DID: refused
    ev = a.wait_for(lambda e: e.kind == "peer_error", 10)
    assert ev.did == impostor.did
    assert not any(p["session"] for p in a.peers())


def test_queue_full_is_typed_and_loses_nothing():
    cfg = SessionConfig(send_queue_limit=8)
    with connected(cfg) as (a, b):
        sent = []
        with pytest.raises(QueueFull):
            for i in range(10_000):
                sent.append(a.send(b.did, b"x%d" % i))
        got = [b.wait_for(lambda e: e.kind == "message", 10).data for _ in sent]
        assert got == [b"x%d" % i for i in range(len(sent))]


def test_inbox_is_written_before_ack_and_watermarks_read_back(tmp_path):
    inbox = str(tmp_path / "inbox.log")
    with connected(inbox=inbox) as (a, b):
        last = [a.send(b.did, bytes([i]) * 10) for i in range(20)][-1]
        a.wait_for(lambda e: e.kind == "delivered" and e.seq == last, 10)
    lines = read_inbox(inbox)
    assert [x[3] for x in lines] == [bytes([i]) * 10 for i in range(20)]
    assert all(x[2] == a.identity.public_key for x in lines)
    (sid,) = {x[0] for x in lines}
    assert inbox_watermarks(inbox) == ({sid: last}, [])


def test_the_inbox_rotates_and_keeps_the_newest_files(tmp_path):
    """300 messages of about 230 inbox bytes into files of at most 4 KiB, 2
    rotated files kept: at most 3 files of at most 4 KiB each, and what they
    hold is the newest messages, consecutive up to the last."""
    inbox = str(tmp_path / "inbox.log")
    with connected(inbox=inbox, inbox_max_bytes=4096, inbox_keep=2) as (a, b):
        last = [a.send(b.did, b"%06d" % i * 10) for i in range(300)][-1]
        a.wait_for(lambda e: e.kind == "delivered" and e.seq == last, 30)
        assert b.status()["stats"]["inbox_rotations"] >= 10
    files = sorted(os.listdir(tmp_path))
    assert files == ["inbox.log", "inbox.log.1", "inbox.log.2"]
    assert all(os.path.getsize(tmp_path / f) <= 4096 for f in files)
    seqs = [x[1] for x in read_inbox(inbox)]
    assert seqs == list(range(last - len(seqs) + 1, last + 1)) and len(seqs) >= 30
    assert [x[3] for x in read_inbox(inbox)][-1] == b"%06d" % 299 * 10


def test_the_logs_rotate_and_keep_the_newest_files(tmp_path):
    from l2sess.node.log import JsonLog

    log = JsonLog(str(tmp_path / "audit.jsonl"), max_bytes=1000, keep=3)
    for i in range(200):
        log.write({"event": "x", "i": i})
    log.close()
    assert sorted(os.listdir(tmp_path)) == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    records = []
    for name in ("audit.jsonl.3", "audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"):
        assert os.path.getsize(tmp_path / name) <= 1000
        records += [json.loads(line)["i"] for line in open(tmp_path / name)]
    assert records == list(range(200 - len(records), 200)) and log.failures == 0


def test_export_import_resumes_without_handshake():
    ident = Identity.generate()
    b = Node(Identity.generate(), ("127.0.0.1", 0), accept_any=True).start()
    a = Node(ident, ("127.0.0.1", 0)).start()
    try:
        a.connect(b.did, b.address, bundle=b.bundle)
        a.wait_for(established, 10)
        first = a.status()["peers"][0]
        assert first["handshake_us"] > 0 and first["resume_us"] == 0
        blob = a.export(b.did)
        a.stop()
        a = Node(ident, ("127.0.0.1", 0)).start()
        a.add_peer(b.did, b.address)
        a.import_session(blob)
        a.wait_for(established, 10)
        st = a.status()
        assert st["stats"]["handshakes"] == 0 and st["stats"]["resumptions"] == 1
        assert 0 < st["peers"][0]["resume_ms"] < 1000
        # the L2 exchange alone is part of the whole (QUIC's connect is not in it)
        assert 0 < st["peers"][0]["resume_us"] <= st["peers"][0]["resume_ms"] * 1000
        assert st["peers"][0]["handshake_us"] == 0  # this Node made no full handshake
        a.send(b.did, b"resumed")
        assert b.wait_for(lambda e: e.kind == "message", 10).data == b"resumed"
    finally:
        a.stop()
        b.stop()


def test_metrics_are_prometheus_text(pair):
    a, b = pair
    a.connect(b.did, b.address, bundle=b.bundle)
    a.wait_for(established, 10)
    text = a.metrics()
    assert "# TYPE l2sess_handshakes_total counter" in text
    assert f'l2sess_peer_state{{did="{b.did}",state="established"}} 1' in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.split(" ")) == 2
    assert format_metrics(a.status()).count("\n") == text.count("\n")


def test_events_wait_releases_the_gil(pair):
    """A Python thread keeps counting while next_event() waits in the C loop.

    The counter notes the time of every 1,000th increment. Were the GIL held
    in the wait, the counter could only run just before the wait began or
    just after it ended, never in the middle half of it."""
    a, b = pair
    stamps = []
    stop = threading.Event()

    def count():
        n = 0
        while not stop.is_set():
            n += 1
            if n % 1000 == 0:
                stamps.append(time.monotonic())

    t = threading.Thread(target=count)
    t.start()
    try:
        time.sleep(0.05)  # the counter is running
        t0 = time.monotonic()
        assert a.next_event(timeout=1.0) is None  # nothing comes: a 1 s wait in C
        t1 = time.monotonic()
    finally:
        stop.set()
        t.join()
    assert t1 - t0 >= 0.9
    q = (t1 - t0) / 4
    during = [s for s in stamps if t0 + q < s < t1 - q]
    # Some 100,000s of increments are expected; 10,000 leaves room for a busy machine.
    assert len(during) >= 10, f"{len(during)} thousand increments in the middle of a {t1 - t0:.2f} s wait"


def test_bad_arguments_are_typed(pair):
    a, b = pair
    with pytest.raises(ValueError):
        a.connect("did:key:nonsense", b.address)
    with pytest.raises(ValueError):
        a.connect(b.did, "localhost:notaport")
    with pytest.raises(ValueError):
        parse_address("no-port")
    with pytest.raises(TypeError):
        a.send(b.did, "text, not bytes")
    with pytest.raises(ValueError):
        Node(Identity.generate(), ("999.1.1.1", 0))


def test_send_many_keeps_order_and_stops_at_a_full_queue():
    cfg = SessionConfig(send_queue_limit=8)
    with connected(cfg) as (a, b):
        msgs = [b"s%d" % i for i in range(40)]
        # One call holds the loop's lock throughout: no acknowledgement can
        # free the queue in between, so exactly the limit is taken.
        seqs = a.send_many(b.did, msgs)
        assert len(seqs) == 8 and seqs == list(range(seqs[0], seqs[0] + 8))
        rest = msgs[len(seqs):]
        while rest:
            more = a.send_many(b.did, rest)  # [] while the queue is full
            assert not more or more[0] == seqs[-1] + 1
            seqs += more
            rest = rest[len(more):]
            if not more:
                a.next_events(64, timeout=0.05)
        got = [b.wait_for(lambda e: e.kind == "message", 10) for _ in msgs]
        assert [e.data for e in got] == msgs
        assert [e.seq for e in got] == seqs


def test_send_many_refusals(pair):
    a, b = pair
    with pytest.raises(InvalidState):
        a.send_many(b.did, [b"too early"])
    a.connect(b.did, b.address, bundle=b.bundle)
    a.wait_for(established, 10)
    assert a.send_many(b.did, []) == []
    with pytest.raises(LengthError):
        a.send_many(b.did, [b"fits", bytes(65537)])  # checked before anything is queued
    with pytest.raises(TypeError):
        a.send_many(b.did, [b"ok", "not bytes"])
    (seq,) = a.send_many(b.did, [bytearray(b"after")])
    ev = b.wait_for(lambda e: e.kind == "message", 10)
    assert (ev.data, ev.seq) == (b"after", seq) and seq == 1


def test_next_events_takes_a_batch_in_order(pair):
    a, b = pair
    a.connect(b.did, b.address, bundle=b.bundle)
    a.wait_for(established, 10)
    b.wait_for(established, 10)
    while b.next_events(1000, timeout=0.2):
        pass  # whatever came with the handshake
    seqs = a.send_many(b.did, [b"e%d" % i for i in range(50)])
    assert len(seqs) == 50
    delivered = 0
    while delivered < 50:  # b's node acknowledged all: its 50 events wait
        delivered += sum(ev.kind == "delivered" for ev in a.next_events(16, timeout=10))
    first = b.next_events(10, timeout=0)
    assert [(e.kind, e.seq) for e in first] == [("message", s) for s in seqs[:10]]
    rest = []
    while len(rest) < 40:
        rest += b.next_events(1000, timeout=10)
    assert [e.data for e in rest] == [b"e%d" % i for i in range(10, 50)]
    with pytest.raises(ValueError):
        b.next_events(0)


def test_a_stream_no_checkpoint_knows_is_not_delivered_twice(tmp_path):
    """B has no checkpoint at all, yet its inbox holds A's 10 messages (A sent
    them from a queue it later restores): after both restart, A re-sends them
    and B, told of every stream its inbox holds, acknowledges them without
    delivering or writing them again (PROTOCOL.md §12)."""
    inbox = str(tmp_path / "inbox.log")
    ia, ib = Identity.generate(), Identity.generate()
    # A notices in about 2 s that B lost the session (B's restart left it no
    # checkpoint) and re-establishes; the default would take 90 s.
    quick = SessionConfig(heartbeat_interval=1, heartbeat_reply_timeout=0.5, heartbeat_tolerance=2,
                          handshake_timeout=1)
    b = Node(ib, ("127.0.0.1", 0), accept_any=True, inbox=inbox).start()
    port = b.address[1]
    a = Node(ia, ("127.0.0.1", 0), quick).start()
    try:
        a.connect(b.did, b.address, bundle=b.bundle)
        a.wait_for(established, 10)
        b.stop()
        seqs = [a.send(b.did, b"m%d" % i) for i in range(10)]  # queued: B is down
        blob = a.export(b.did)                                   # A's checkpoint holds all 10
        b = Node(ib, ("127.0.0.1", port), accept_any=True, inbox=inbox).start()
        assert wait_until(lambda: len(read_inbox(inbox)) == 10, 30)
        a.wait_for(lambda e: e.kind == "delivered" and e.seq == seqs[-1], 10)
    finally:
        a.stop()
        b.stop()
    owners: dict[str, str] = {}
    marks, problems = inbox_watermarks(inbox, owners)
    (stream,) = marks
    assert marks[stream] == seqs[-1] and owners[stream] == ia.public_key.hex() and problems == []

    b = Node(ib, ("127.0.0.1", port), accept_any=True, inbox=inbox).start()
    b.add_peer(a.did)
    b.set_delivered(a.did, stream, marks[stream])
    a = Node(ia, ("127.0.0.1", 0), quick).start()
    try:
        a.add_peer(b.did, ("127.0.0.1", port))
        a.import_session(blob)
        acked = set()
        deadline = time.monotonic() + 30
        while acked != set(seqs) and time.monotonic() < deadline:
            acked |= {e.seq for e in a.events(timeout=0.2) if e.kind == "delivered"}
        assert acked == set(seqs)  # re-sent, and acknowledged by B
        after = a.send(b.did, b"after")
        got = b.wait_for(lambda e: e.kind == "message", 10)
        assert (got.data, got.seq) == (b"after", after)
    finally:
        a.stop()
        b.stop()
    lines = read_inbox(inbox)
    assert [x[1] for x in lines] == seqs + [after]  # each once


def test_log_times_never_go_back():
    """RFC 3339 times with ms, made from one reading of the clock: a time
    just before a second's end is that second's, never the next one's
    seconds with the old milliseconds (which went back by a second)."""
    from l2sess.node.log import rfc3339
    t0 = 1_800_000_000
    times = [rfc3339(t0 + k / 1000 + 0.0004) for k in range(3000)]
    assert times == sorted(times) and len(set(times)) == 3000
    assert rfc3339(t0 + 0.9996) == "2027-01-15T08:00:00.999Z"
    assert rfc3339(t0 + 1.0) == "2027-01-15T08:00:01.000Z"
