"""The asyncio stream of an outbound call behaves as anyio's stream does where the fake cares."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest

from ivrd.testing._loopstream import LoopStream, connect_tcp

pytestmark = pytest.mark.anyio
# uvloop too: its transports are no asyncio.Transport subclasses (ivrd's benchmarks use it).
asyncio_only = pytest.mark.parametrize(
    "anyio_backend",
    ["asyncio", pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop")],
    indirect=True,
)


@asynccontextmanager
async def connected() -> AsyncIterator[tuple[anyio.abc.ByteStream, anyio.abc.SocketStream]]:
    """(the fake's stream, the server's end of it)."""
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        accepted: list[anyio.abc.SocketStream] = []
        ready = anyio.Event()

        async def accept(stream: anyio.abc.SocketStream) -> None:
            accepted.append(stream)
            ready.set()
            await anyio.sleep_forever()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(listener.serve, accept)
                stream = await connect_tcp("127.0.0.1", port)
                await ready.wait()
                try:
                    yield stream, accepted[0]
                finally:
                    await stream.aclose()
                    await accepted[0].aclose()
                    tg.cancel_scope.cancel()


async def receive_exactly(stream: anyio.abc.ByteStream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += await stream.receive()
    return data


async def test_trio_keeps_anyio_stream(anyio_backend: str) -> None:
    async with connected() as (stream, _):
        assert isinstance(stream, LoopStream) == (anyio_backend == "asyncio")


@asyncio_only
async def test_both_ways_then_half_closed_then_closed() -> None:
    async with connected() as (stream, peer):
        assert isinstance(stream, LoopStream)
        await peer.send(b"connect\n\n")
        assert await stream.receive() == b"connect\n\n"
        await stream.send(b"reply")
        assert await receive_exactly(peer, 5) == b"reply"
        await peer.send(b"abcdef")
        assert await stream.receive(4) == b"abcd"  # the rest stays for the next read
        assert await stream.receive() == b"ef"
        await peer.send_eof()
        with pytest.raises(anyio.EndOfStream):
            await stream.receive()
        await stream.send(b"after eof")  # the fake still sends its last frames
        assert await receive_exactly(peer, 9) == b"after eof"
        await stream.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await stream.receive()
        with pytest.raises(anyio.ClosedResourceError):
            await stream.send(b"x")
        assert not stream.write_now(b"x")


@asyncio_only
async def test_a_peer_that_does_not_read_holds_the_sender_back() -> None:
    async with connected() as (stream, peer):
        assert isinstance(stream, LoopStream)
        big = b"x" * (32 << 20)  # more than the kernel buffers on loopback
        assert stream.write_now(big)
        assert not stream.write_now(b"y")  # full: nothing written, the caller must wait
        received = 0

        async def read_all() -> None:
            nonlocal received
            while received < len(big) + 1:
                received += len(await peer.receive())

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_all)
            await stream.send(b"z")  # returns once the kernel took every byte
        assert received == len(big) + 1
        assert stream.write_now(b"")


@asyncio_only
async def test_a_reset_connection_is_broken() -> None:
    async with connected() as (stream, peer):
        raw = peer.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await peer.aclose()
        with pytest.raises(anyio.BrokenResourceError):
            await stream.receive()
