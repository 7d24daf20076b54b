"""The asyncio fast path of an event-socket connection: bytes go from the loop to the parser.

anyio's asyncio `SocketStream` is general-purpose, and an ESL connection pays for it on every
frame: each `receive()` arms the socket in epoll and disarms it again (two system calls) and
wakes a reader task; each `send()` passes two checkpoints, one of them a trip through the event
loop. A call exchanges some forty small frames, so that is most of the daemon's CPU per call.

On asyncio (uvloop included) the outbound server therefore accepts with `loop.create_server`
and gives each connection a `ProtocolStream`: an `asyncio.Protocol` whose `data_received` hands
each chunk to the owning `Connection` in the loop's own callback (parsed and dispatched there,
with no task in between), and whose `write` is `transport.write`, which only makes the caller
wait when the kernel's send buffer and the transport's are full. trio, and any other stream,
take anyio's ordinary path (`Connection.run` reading in a task).

Nothing here parses or decides; the `Connection` does both, the same way on either path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, cast

import anyio


class StreamSink(Protocol):
    """What a `ProtocolStream` feeds: the connection that owns it."""

    def received(self, data: bytes) -> None: ...

    def ended(self, exc: BaseException | None) -> None:
        """The peer closed (`None`: an orderly end of stream) or the connection broke."""


class ProtocolStream(asyncio.Protocol):
    """One accepted TCP connection, delivering to a `StreamSink` once one is attached.

    Bytes (and the end of the stream) that arrive before `attach` are kept and delivered by it,
    so the owner may attach whenever it is ready to dispatch.
    """

    def __init__(self, on_made: Callable[[ProtocolStream], None] | None = None) -> None:
        self._on_made = on_made
        self.transport: asyncio.Transport | None = None
        self._sink: StreamSink | None = None
        self._early: list[bytes] = []
        self._ended = False
        self._end_error: BaseException | None = None
        self._paused = False
        self._writable: anyio.Event | None = None
        self.lost = False

    # -- asyncio's side ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio's, but have the same methods.
        self.transport = cast(asyncio.Transport, transport)
        on_made, self._on_made = self._on_made, None
        if on_made is not None:
            on_made(self)

    def data_received(self, data: bytes) -> None:
        sink = self._sink
        if sink is not None:
            sink.received(data)
        elif not self._ended:
            self._early.append(data)

    def eof_received(self) -> bool:
        # False: asyncio closes the transport once what we still write is flushed.
        self._end(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._end(exc)
        self._wake_writers()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_writers()

    def _end(self, exc: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        self._end_error = exc
        if self._sink is not None:
            self._sink.ended(exc)

    def _wake_writers(self) -> None:
        if self._writable is not None:
            self._writable.set()
            self._writable = None

    # -- the connection's side ---------------------------------------------------------------

    def attach(self, sink: StreamSink) -> None:
        """Deliver everything from now on (and what came before) to `sink`."""
        self._sink = sink
        early, self._early = self._early, []
        for data in early:
            sink.received(data)
        if self._ended:
            sink.ended(self._end_error)

    def detach(self) -> None:
        """Deliver nothing more: the owner is done with the connection."""
        self._sink = None
        self._early.clear()

    @property
    def peer_address(self) -> tuple[str, int]:
        assert self.transport is not None
        address = self.transport.get_extra_info("peername")
        if isinstance(address, tuple):
            return str(address[0]), int(address[1])
        return str(address), 0

    def write(self, data: bytes) -> bool:
        """Queue `data` for sending, in order; False if the writer must wait (`wait_writable`)
        before it may call this again. Raises ConnectionResetError once the connection is gone.
        """
        transport = self.transport
        if transport is None or self.lost or transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        transport.write(data)
        return not self._paused

    async def wait_writable(self) -> None:
        """Until the peer has read enough of what we sent (or the connection is gone)."""
        while self._paused and not self.lost:
            if self._writable is None:
                self._writable = anyio.Event()
            await self._writable.wait()

    def write_eof(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing() and transport.can_write_eof():
            transport.write_eof()

    def abort(self) -> None:
        """Close now, dropping anything not yet sent."""
        if self.transport is not None:
            self.transport.abort()
