"""The README's example, verbatim (test_mypy.py checks that it still is)."""
import asyncio

from l2sess import Identity, aio


async def main() -> None:
    async with aio.Node(Identity.generate(), ("127.0.0.1", 0), accept_any=True) as server:
        async def echo(session: aio.Session) -> None:
            while True:
                await session.send(await session.recv())

        serving = asyncio.create_task(server.serve(echo))      # a task per inbound session
        async with await aio.connect(Identity.generate(), server.did, server.address) as session:
            seq = await session.send(b"hello")                  # waits while the queue is full
            await session.delivered(seq, timeout=5)
            print(await session.recv(timeout=5))                # b"hello"; l2sess.Timeout after 5 s
            await session.rotate(timeout=5)
        serving.cancel()

asyncio.run(main())
