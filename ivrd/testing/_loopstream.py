"""The TCP connection of an outbound call on asyncio: a lean anyio ByteStream over a protocol.

The fake dials its server once per call and a load test makes thousands of calls, so the socket
sits on the fake's hot path. anyio's asyncio stream re-arms the socket in the selector before
every read that waits and disarms it after (two epoll_ctl calls), adds a checkpoint to every
send, and `connect_tcp` starts a task group to race addresses. This stream keeps the socket
armed, queues what arrives, and writes at once; `write_now` (and `call_soon`) let the Outbox
write from a plain callback, without waking a task. On trio the fake uses anyio's stream.

What the fake relies on is kept as anyio's asyncio stream has it: `send` returns once the kernel
took every byte (a write buffer limit of 0, so a peer that stops reading blocks the sender, and
`write_now` refuses, and the Outbox then counts frames piling up); after the peer's EOF
`receive` raises EndOfStream and the fake may still write; `aclose` aborts the transport;
errors are anyio's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import cast

import anyio
import anyio.abc
import anyio.lowlevel


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.received: deque[bytes] = deque()
        self.at_eof = False
        self.lost = False
        self.exception: Exception | None = None
        self.paused = False
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are no subclasses of asyncio.Transport, but behave as one)
        cast(asyncio.Transport, transport).set_write_buffer_limits(0)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.exception = exc
        self._wake_reader()
        self._wake_writer()

    def data_received(self, data: bytes) -> None:
        self.received.append(bytes(data))
        self._wake_reader()

    def eof_received(self) -> bool:
        self.at_eof = True
        self._wake_reader()
        return True  # half-closed: the fake may still send its last frames

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake_writer()

    async def readable(self) -> None:
        waiter = self._readable = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._readable = None

    async def writable(self) -> None:
        waiter = self._writable = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._writable = None

    def _wake_reader(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)

    def _wake_writer(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)


class LoopStream(anyio.abc.ByteStream):
    """An anyio ByteStream on an asyncio transport (see the module docstring)."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closed = False
        self.call_soon = asyncio.get_running_loop().call_soon

    def write_now(self, data: bytes) -> bool:
        """Write `data` if the transport takes it at once (what `send` would do without
        waiting); False, and nothing written, if `send` would have to wait or fail."""
        protocol = self._protocol
        if self._closed or protocol.paused or protocol.exception is not None:
            return False
        if self._transport.is_closing():
            return False
        self._transport.write(data)
        return True

    async def receive(self, max_bytes: int = 65536) -> bytes:
        protocol = self._protocol
        if not (protocol.received or self._closed or protocol.at_eof or protocol.lost):
            await protocol.readable()
        if self._closed:
            raise anyio.ClosedResourceError
        if not protocol.received:
            if protocol.exception is not None:
                raise anyio.BrokenResourceError from protocol.exception
            raise anyio.EndOfStream
        chunk = protocol.received.popleft()
        if len(chunk) > max_bytes:
            chunk, rest = chunk[:max_bytes], chunk[max_bytes:]
            protocol.received.appendleft(rest)
        return chunk

    async def send(self, item: bytes) -> None:
        protocol = self._protocol
        if self._closed:
            raise anyio.ClosedResourceError
        if protocol.exception is not None:
            raise anyio.BrokenResourceError from protocol.exception
        try:
            self._transport.write(item)
        except RuntimeError as exc:
            if self._transport.is_closing():
                raise anyio.BrokenResourceError from exc
            raise
        if protocol.paused:
            await protocol.writable()
            if self._closed:
                raise anyio.ClosedResourceError
            if protocol.exception is not None:
                raise anyio.BrokenResourceError from protocol.exception

    async def send_eof(self) -> None:
        with contextlib.suppress(OSError):
            self._transport.write_eof()

    async def aclose(self) -> None:
        self._closed = True
        self._transport.abort()
        self._protocol._wake_reader()
        self._protocol._wake_writer()
        await anyio.lowlevel.checkpoint()


async def connect_tcp(host: str, port: int) -> anyio.abc.ByteStream:
    """anyio.connect_tcp, with a LoopStream when the fake runs on asyncio."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # trio
        return await anyio.connect_tcp(host, port)
    transport, protocol = await loop.create_connection(_Protocol, host, port)
    return LoopStream(transport, protocol)
