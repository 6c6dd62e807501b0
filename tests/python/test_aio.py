"""l2sess.aio: two nodes on loopback driven by asyncio (no loop thread), on
QUIC and on μTCP. The timeouts are generous (a loaded machine) and no verdict
depends on how long anything took: a timeout is only expected where nothing
can ever come."""
import asyncio
import os
import threading
from collections.abc import Awaitable, Callable

import pytest

import l2sess
from l2sess import Identity, InvalidState, QueueFull, SessionConfig, State
from l2sess import aio

WAIT = 60.0  # for what must happen


def run(main: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(300):
            await main()

    asyncio.run(bounded())


@pytest.fixture(params=["quic", "utcp"])
def transport(request):
    return request.param


def settings(transport):
    return {"no_quic": transport == "utcp"}


def test_messages_both_ways(transport):
    async def main():
        threads = threading.active_count()
        async with aio.Node(Identity.generate(), accept_any=True, **settings(transport)) as server:
            client = await aio.connect(Identity.generate(), server.did, server.address, timeout=WAIT,
                                       **settings(transport))
            async with client:
                assert client.state == State.ESTABLISHED and client.transport == transport
                inbound = await server.accept(timeout=WAIT)
                assert inbound.did == client.node.did and inbound.inbound
                seqs = [await client.send(b"to server %d" % i) for i in range(50)]
                assert seqs == list(range(1, 51))
                back = [await inbound.send(b"to client %d" % i) for i in range(50)]
                await client.delivered(seqs[-1], timeout=WAIT)
                await inbound.delivered(back[-1], timeout=WAIT)
                assert [await inbound.recv(timeout=WAIT) for _ in range(50)] == [b"to server %d" % i
                                                                                 for i in range(50)]
                got = []
                async for ev in client.events():
                    if ev.kind == "message":
                        got.append(ev.data)
                        if len(got) == 50:
                            break
                assert got == [b"to client %d" % i for i in range(50)]
                # the C loop runs on this thread: no thread was started for it
                assert threading.active_count() == threads
            assert client.closed and client.node.closed

    run(main)


def test_server_serves_and_rotates(transport):
    async def main():
        async with aio.Node(Identity.generate(), accept_any=True, **settings(transport)) as server:
            async def echo(s: aio.Session) -> None:
                while True:
                    await s.send((await s.recv()).upper())

            serving = asyncio.get_running_loop().create_task(server.serve(echo))
            async with await aio.connect(Identity.generate(), server.did, server.address, timeout=WAIT,
                                         **settings(transport)) as s:
                await s.send(b"hello")
                assert await s.recv(timeout=WAIT) == b"HELLO"
                await s.rotate(timeout=WAIT)
                assert s.state == State.ESTABLISHED
                await s.send(b"after rotation")
                assert await s.recv(timeout=WAIT) == b"AFTER ROTATION"
            serving.cancel()
            with pytest.raises(asyncio.CancelledError):
                await serving

    run(main)


def test_timeouts_raise_l2sess_timeout():
    async def main():
        # b knows no peers and takes no strangers: a's handshake is never answered
        async with aio.Node(Identity.generate()) as b:
            with pytest.raises(l2sess.Timeout) as info:
                await aio.connect(Identity.generate(), b.did, b.address, timeout=0.5)
            assert isinstance(info.value, TimeoutError)
            with pytest.raises(l2sess.Timeout):
                await b.accept(timeout=0.2)
            with pytest.raises(l2sess.Timeout):
                await b.wait_for(lambda e: True, 0.2)
        async with aio.Node(Identity.generate(), accept_any=True) as server:
            async with await aio.connect(Identity.generate(), server.did, server.address, timeout=WAIT) as s:
                with pytest.raises(l2sess.Timeout):
                    await s.recv(timeout=0.2)  # the server sends nothing
                with pytest.raises(l2sess.Timeout):
                    await s.delivered(10**6, timeout=0.2)  # never sent
                await s.send(b"still fine")
                inbound = await server.accept(timeout=WAIT)
                assert await inbound.recv(timeout=WAIT) == b"still fine"

    run(main)


def test_cancelled_waits_leave_the_node_usable():
    async def main():
        async with aio.Node(Identity.generate(), accept_any=True) as server:
            async with await aio.connect(Identity.generate(), server.did, server.address, timeout=WAIT) as s:
                inbound = await server.accept(timeout=WAIT)
                loop = asyncio.get_running_loop()
                waiting = [loop.create_task(s.recv()), loop.create_task(inbound.recv()),
                           loop.create_task(server.accept()), loop.create_task(s.delivered(10**6))]
                await asyncio.sleep(0)
                survivor = loop.create_task(s.recv())  # waits beside them, not cancelled
                for t in waiting:
                    t.cancel()
                for t in waiting:
                    with pytest.raises(asyncio.CancelledError):
                        await t
                assert not server._waiters or all(not f.cancelled() for f in server._waiters)
                await inbound.send(b"after the cancellations")
                assert await asyncio.wait_for(survivor, WAIT) == b"after the cancellations"
                seq = await s.send(b"and back")
                await s.delivered(seq, timeout=WAIT)
                assert await inbound.recv(timeout=WAIT) == b"and back"

    run(main)


def test_backpressure_queue_full_or_wait():
    """Nothing runs the loop between two send_nowait() calls, so no
    acknowledgement can make room: the fifth of a four-message queue is
    refused, deterministically. send() waits for the room instead."""
    async def main():
        async with aio.Node(Identity.generate(), accept_any=True) as server:
            config = SessionConfig(send_queue_limit=4)
            async with await aio.connect(Identity.generate(), server.did, server.address, config=config,
                                         timeout=WAIT) as s:
                inbound = await server.accept(timeout=WAIT)
                assert [s.send_nowait(b"m%d" % i) for i in range(4)] == [1, 2, 3, 4]
                with pytest.raises(QueueFull):
                    s.send_nowait(b"m4")
                seqs = await s.send_many([b"m%d" % i for i in range(4, 20)], timeout=WAIT)
                assert seqs == list(range(5, 21))
                assert await s.send(b"m20", timeout=WAIT) == 21
                assert [await inbound.recv(timeout=WAIT) for _ in range(21)] == [b"m%d" % i for i in range(21)]

    run(main)


def test_a_slow_reader_loses_nothing():
    """The server's sessions hold at most 4 events before it stops taking more
    from the C loop: everything still arrives, in order."""
    async def main():
        async with aio.Node(Identity.generate(), accept_any=True, buffer=4) as server:
            async with await aio.connect(Identity.generate(), server.did, server.address, timeout=WAIT) as s:
                inbound = await server.accept(timeout=WAIT)
                seqs = await s.send_many([b"%d" % i for i in range(300)], timeout=WAIT)
                got = []
                for _ in range(300):
                    got.append(await inbound.recv(timeout=WAIT))
                    await asyncio.sleep(0)
                assert got == [b"%d" % i for i in range(300)]
                await s.delivered(seqs[-1], timeout=WAIT)

    run(main)


def test_close_detaches_and_closes_the_fd():
    async def main():
        loop = asyncio.get_running_loop()
        node = aio.Node(Identity.generate(), accept_any=True)
        await node.start()
        fd = node._fd
        assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]"
        waiter = loop.create_task(node.accept())
        await asyncio.sleep(0)
        node.close()
        with pytest.raises(InvalidState):
            await waiter  # woken by the close, not left hanging
        assert not loop.remove_reader(fd)  # no longer watched
        try:
            assert os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:[eventpoll]"
        except FileNotFoundError:
            pass  # closed, not reused
        node.close()  # twice: nothing
        with pytest.raises(InvalidState):
            await node.connect(Identity.generate().did, ("127.0.0.1", 9))
        with pytest.raises(InvalidState):
            await node.start()

    run(main)


def test_a_session_closed_by_the_peer_ends():
    async def main():
        async with aio.Node(Identity.generate(), accept_any=True) as server:
            s = await aio.connect(Identity.generate(), server.did, server.address, timeout=WAIT)
            inbound = await server.accept(timeout=WAIT)
            await s.send(b"last")
            s.close()
            kinds = [ev.kind async for ev in inbound.events()]  # ends at "closed"
            assert "message" in kinds and kinds[-1] == "closed"
            with pytest.raises(InvalidState):
                await inbound.recv(timeout=WAIT)
            with pytest.raises(InvalidState):
                s.send_nowait(b"too late")

    run(main)
