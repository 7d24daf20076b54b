"""The write side of one fake socket: an ordered queue of frames and the task that sends them.

Replies and events are queued in the order FreeSWITCH produces them and written by one task,
several frames per `send` when they pile up. While an `api` command runs, FreeSWITCH's listener
thread is busy and the events for that socket wait in its queue: `hold()` reproduces that, so
events fired meanwhile are sent after the `api/response`.

A client that stops reading cannot make the fake grow without bound: past `max_pending` frames
the socket is dropped, as FreeSWITCH drops a listener that falls too far behind.

Fault injection (`ivrd.testing.faults`) uses two more switches, never set otherwise: `mute()`
(nothing more goes out) and `cut_next()` (the next reply or event goes out cut short, then the
socket closes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.abc

from ivrd.testing._loopstream import LoopStream
from ivrd.testing._signal import Signal

MAX_PENDING = 100_000


@dataclass(frozen=True)
class _Cut:
    keep: Callable[[bytes], int]
    """How many bytes of the frame go out."""
    done: Callable[[int, int], None]
    """Called with (bytes sent, frame size) once the frame was cut."""
    events: bool


class Outbox:
    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        *,
        max_pending: int = MAX_PENDING,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self._stream = stream
        self._chunks: list[bytes] = []
        self._held: list[bytes] | None = None
        self._wake = Signal()
        self._closing = False
        self.closed = anyio.Event()
        self.broken = False
        self.bytes_sent = 0
        self._max_pending = max_pending
        self._on_overflow = on_overflow
        self._muted = False
        self._cut: _Cut | None = None
        # On asyncio (LoopStream) frames are written by a callback at the end of the loop's
        # current turn, several at once, instead of by waking the writer task: a call sends
        # twenty-odd frames, and each wake-up of a task costs more than the write. The task
        # still writes when the socket is full, and closes it.
        self._direct = stream if isinstance(stream, LoopStream) else None
        self._flush_pending = False

    @property
    def closing(self) -> bool:
        return self._closing

    def send(self, data: bytes) -> None:
        """Queue a reply or notice: it goes out after everything queued before it."""
        if self._closing or self._muted:
            return
        if self._cut is not None and not self._cut.events:
            self._cut_short(data, self._cut)
            return
        self._chunks.append(data)
        if len(self._chunks) > self._max_pending:
            self._overflow()
            return
        self._kick()

    def _kick(self) -> None:
        direct = self._direct
        if direct is None:
            self._wake.notify()
        elif not self._flush_pending:
            self._flush_pending = True
            direct.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        chunks = self._chunks
        if not chunks or self.broken or self._direct is None:
            return
        data = b"".join(chunks) if len(chunks) > 1 else chunks[0]
        if self._direct.write_now(data):
            chunks.clear()
            self.bytes_sent += len(data)
        else:
            self._wake.notify()  # the writer task waits until the socket takes it

    def send_event(self, data: bytes) -> None:
        """Queue an event frame; held back while an `api` command is being answered."""
        if self._muted:
            return
        if self._cut is not None and self._cut.events and not self._closing:
            self._cut_short(data, self._cut)
            return
        if self._held is not None and not self._closing:
            self._held.append(data)
            if len(self._held) > self._max_pending:
                self._overflow()
            return
        self.send(data)

    def hold(self) -> None:
        if self._held is None:
            self._held = []

    def release(self) -> None:
        held, self._held = self._held, None
        if held and not self._closing:
            self._chunks.extend(held)
            self._kick()

    def close(self) -> None:
        """Send what is queued, then close the socket."""
        self.release()
        self._closing = True
        self._wake.notify()

    def mute(self) -> None:
        """A fault: from now on nothing goes out (frames queued before still do)."""
        self._muted = True
        self._held = None

    def cut_next(
        self, keep: Callable[[bytes], int], done: Callable[[int, int], None], *, events: bool
    ) -> None:
        """A fault: the next reply (or, with `events`, event) frame goes out only up to
        `keep(frame)` bytes, then the socket closes; `done(sent, size)` is called then."""
        self._cut = _Cut(keep, done, events)

    def _cut_short(self, data: bytes, cut: _Cut) -> None:
        self._cut = None
        sent = data[: cut.keep(data)]
        if cut.events and self._held is not None:
            self._held.append(sent)  # after the events held before it, as it would have been
        else:
            self._held = None  # what would have followed the reply is never sent
            self._chunks.append(sent)
        self.close()
        cut.done(len(sent), len(data))

    def _overflow(self) -> None:
        self._chunks.clear()
        self._held = None
        self._closing = True
        self.broken = True
        if self._on_overflow is not None:
            self._on_overflow()
        self._wake.notify()

    async def run(self) -> None:
        """The writer task: runs until the socket is closed by either side."""
        try:
            while True:
                if self._chunks and not self.broken:
                    data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
                    self._chunks.clear()
                    try:
                        await self._stream.send(data)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                        self.broken = True
                        return
                    self.bytes_sent += len(data)
                elif self._closing:
                    return
                else:
                    await self._wake.wait()
        finally:
            self._closing = True
            self._on_overflow = None  # (it points back at the listener: no cycle left behind)
            with anyio.CancelScope(shield=True):
                await self._stream.aclose()
            self.closed.set()
