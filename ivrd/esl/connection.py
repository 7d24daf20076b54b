"""One event-socket connection: a reader task feeding the Parser, replies handed out in order.

FreeSWITCH answers commands strictly in the order it received them, with events interleaved
anywhere (an event can arrive between a `sendmsg` and its `+OK`). So a command reply carries
no id: the n-th reply belongs to the n-th command. The connection keeps a FIFO of waiters,
appended under the write lock in the same step as the send, so queue order is wire order.

A waiter whose caller gave up (cancelled, timed out) stays in the queue, marked abandoned:
its reply, when it comes, is consumed and dropped. Removing it instead would hand that late
reply to the next caller, who would then take a `+OK` meant for someone else.

Everything that is not a reply (events, disconnect notices, log lines) goes to the owner's
`on_message` callback, called where the bytes are read; it must not block. The owner (outbound
session, inbound client) decides how to deliver events without stalling the reader.

Two ways to read, the same parsing and dispatch: an anyio byte stream is read by `run()` in a
task of the owner's; a `ProtocolStream` (the outbound server's on asyncio, see
`_asyncio_stream`) delivers bytes itself once `start()` attached the connection, and `run()`
is not needed (`reads_itself`). Either way `on_closed` is called once, when reading ends.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

import anyio
import anyio.abc

from ivrd.esl._asyncio_stream import ProtocolStream
from ivrd.esl._transport import closed_error
from ivrd.esl._wakeup import Wakeup
from ivrd.esl.errors import ConnectionClosed, ESLTimeout
from ivrd.esl.latch import Latch
from ivrd.esl.protocol import (
    CLOSED,
    DEFAULT_MAX_FRAME_SIZE,
    NEED_DATA,
    ApiResponse,
    AuthRequest,
    CommandReply,
    Message,
    Parser,
    RemoteProtocolError,
    RudeRejection,
)

logger = logging.getLogger("ivrd.esl")

Reply = CommandReply | ApiResponse | AuthRequest | RudeRejection
# An auth/request greeting and a rude rejection answer "we connected", so they queue like replies.
_REPLY_TYPES = (CommandReply, ApiResponse, AuthRequest, RudeRejection)
_RECEIVE_SIZE = 65536


def _ignore(message: Message) -> None:
    pass


class ReplyWaiter:
    """A place in the reply queue; `Connection.wait_reply` turns it into the reply.

    Or, for a caller that waits for something else anyway (an application's completion),
    `notify` is called with the waiter when the reply (or the connection's end) comes, in the
    reader, so the caller is not woken just for the `+OK`.
    """

    __slots__ = ("_done", "abandoned", "error", "message", "notify")

    def __init__(self) -> None:
        self._done: Wakeup | None = None  # made only if somebody waits
        self.message: Reply | None = None
        self.error: ConnectionClosed | None = None
        self.abandoned = False
        self.notify: Callable[[ReplyWaiter], None] | None = None

    @property
    def resolved(self) -> bool:
        return self.message is not None or self.error is not None

    def resolve(self, message: Reply | None, error: ConnectionClosed | None = None) -> None:
        self.message, self.error = message, error
        if self._done is not None:
            self._done.set()
        notify = self.notify
        if notify is not None:
            self.notify = None
            notify(self)

    async def wait(self, deadline: float = math.inf) -> None:
        """Until resolved, or `deadline` (in `anyio.current_time()`'s clock) passed."""
        if not self.resolved:
            if self._done is None:
                self._done = Wakeup()
            self._done.move(deadline)
            await self._done.wait()


class Connection:
    """An established event socket, either direction. Run `run()` in a task group."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream | ProtocolStream,
        peer: str,
        on_message: Callable[[Message], None],
        *,
        on_closed: Callable[[], None] | None = None,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        write_timeout: float = 10.0,
    ) -> None:
        self.peer = peer
        self.log_extra: dict[str, Any] = {}
        self.write_timeout = write_timeout
        self._push = stream if isinstance(stream, ProtocolStream) else None
        self._stream = None if isinstance(stream, ProtocolStream) else stream
        self._parser = Parser(max_frame_size=max_frame_size)
        self._on_message = on_message
        self._on_closed = on_closed
        self._replies: deque[ReplyWaiter] = deque()
        # Uncontended (the usual case) it costs no trip through the event loop. A
        # ProtocolStream needs none: its writes are queued in order as they are made.
        self._write_lock = anyio.Lock(fast_acquire=True) if self._push is None else None
        self._closed: ConnectionClosed | None = None
        self._held: list[tuple[bytes, Callable[[ReplyWaiter], None]]] = []
        self._finished = Latch()
        self._reading = False
        self._crash: BaseException | None = None

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def closed_error(self) -> ConnectionClosed:
        """A fresh exception saying why the connection is closed (one per raise)."""
        return ConnectionClosed(str(self._closed or closed_error(self.peer)))

    @property
    def reads_itself(self) -> bool:
        """True when the stream delivers bytes itself: call `start()`, not `run()`."""
        return self._push is not None

    def start(self) -> None:
        """Begin dispatching what a `ProtocolStream` delivers (see `reads_itself`)."""
        assert self._push is not None, "start() is for a ProtocolStream; run() reads the others"
        if not self._reading and not self._finished.is_set():
            self._reading = True
            self._push.attach(self)

    async def run(self) -> None:
        """Read and dispatch until the peer closes or the connection fails.

        Never raises for a transport or protocol failure: it closes the connection, which
        fails every pending reply with ConnectionClosed. Cancellation propagates.
        """
        if self._push is not None:
            self.start()
            await self._finished.wait()
            if self._crash is not None:
                raise self._crash
            return
        assert self._stream is not None
        reason: ConnectionClosed | None = None
        try:
            reason = await self._read_loop(self._stream)
        finally:
            self._close(reason or closed_error(self.peer))
            self._finished.set()
            with anyio.CancelScope(shield=True):
                await anyio.aclose_forcefully(self._stream)
            self._notify_closed()

    async def _read_loop(self, stream: anyio.abc.ByteStream) -> ConnectionClosed:
        parser = self._parser
        receive = stream.receive
        while True:
            try:
                parser.feed(await receive(_RECEIVE_SIZE))
            except anyio.EndOfStream:
                parser.feed_eof()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                return self._closed or closed_error(self.peer, exc)
            reason = self._dispatch_parsed()
            if reason is not None:
                return reason

    def _dispatch_parsed(self) -> ConnectionClosed | None:
        """Dispatch every complete message parsed; why the connection is over, if it is."""
        parser = self._parser
        dispatch = self._dispatch
        try:
            while True:
                message = parser.next_message()
                if message is NEED_DATA:
                    return None
                if message is CLOSED:
                    return self._closed or closed_error(self.peer)
                dispatch(message)  # type: ignore[arg-type]
        except RemoteProtocolError as exc:
            logger.error(
                "FreeSWITCH at %s broke the event-socket protocol: %s; closing the connection",
                self.peer,
                exc,
                extra=self.log_extra,
            )
            return ConnectionClosed(f"FreeSWITCH at {self.peer} broke the protocol: {exc}")

    # -- a ProtocolStream's deliveries (StreamSink), in the event loop's callbacks --------------

    def received(self, data: bytes) -> None:
        if self._reading:
            self._parser.feed(data)
            self._dispatch_delivered()

    def ended(self, exc: BaseException | None) -> None:
        if not self._reading:
            return
        if exc is not None:
            self._stop_reading(self._closed or closed_error(self.peer, exc))
            return
        self._parser.feed_eof()
        self._dispatch_delivered()
        if self._reading:  # the parser found the end clean
            self._stop_reading(self._closed or closed_error(self.peer))

    def _dispatch_delivered(self) -> None:
        try:
            reason = self._dispatch_parsed()
        except Exception as exc:
            # A bug of ours while dispatching: it ends this call (as it would end the reader
            # task on the other path), never the event loop's callback.
            logger.exception("failed to handle a message from FreeSWITCH", extra=self.log_extra)
            self._crash = exc
            reason = ConnectionClosed(f"the connection to FreeSWITCH at {self.peer} failed: {exc}")
        if reason is not None:
            self._stop_reading(reason)

    def _stop_reading(self, reason: ConnectionClosed) -> None:
        assert self._push is not None
        if self._finished.is_set():
            return
        self._reading = False
        self._push.detach()
        self._close(reason)
        self._finished.set()
        self._push.abort()
        self._notify_closed()

    def _notify_closed(self) -> None:
        # Nothing is dispatched any more: let go of the owner's callbacks, so that owner and
        # connection (each holding the other) are freed as soon as the owner is, by refcount.
        self._on_message = _ignore
        callback, self._on_closed = self._on_closed, None
        if callback is not None:
            callback()

    def _dispatch(self, message: Message) -> None:
        if not isinstance(message, _REPLY_TYPES):
            self._on_message(message)
            return
        if not self._replies:
            logger.warning(
                "FreeSWITCH at %s sent a reply nobody asked for: %r",
                self.peer,
                message.headers.get("Reply-Text") or message.content_type,
                extra=self.log_extra,
            )
            return
        waiter = self._replies.popleft()
        if not waiter.abandoned:
            waiter.resolve(message)

    def expect_reply(self) -> ReplyWaiter:
        """Queue a waiter without sending: for the greeting FreeSWITCH sends unasked."""
        if self._closed is not None:
            raise self.closed_error()
        waiter = ReplyWaiter()
        self._replies.append(waiter)
        return waiter

    def send_with_next(self, data: bytes, notify: Callable[[ReplyWaiter], None]) -> None:
        """Hold a command nobody waits for; it goes out in the next command's write.

        Its reply takes its place in the queue then, and `notify` gets it, in the reader.
        For what matters only once something else is sent (settings for the applications to
        come): one system call and one segment fewer. Dropped if nothing follows (`drop_held`).
        """
        if self._closed is not None:
            raise self.closed_error()
        self._held.append((data, notify))

    def drop_held(self) -> None:
        """Forget the commands held for the next write (the call is over: no use for them)."""
        self._held.clear()

    def _with_held(self, data: bytes) -> bytes:
        """`data` after the held commands, whose places in the reply queue are taken now."""
        held = self._held
        if not held:
            return data
        parts = []
        for command, notify in held:
            self.expect_reply().notify = notify
            parts.append(command)
        held.clear()
        parts.append(data)
        return b"".join(parts)

    async def send_command(self, data: bytes) -> ReplyWaiter:
        """Send one command and take its place in the reply queue, atomically."""
        if self._push is not None:
            # transport.write queues in order and never blocks: no lock, no trip through the
            # loop; only a peer that stopped reading makes us wait (`_send`).
            data = self._with_held(data)
            waiter = self.expect_reply()
            await self._send(data)
            return waiter
        assert self._write_lock is not None
        async with self._write_lock:
            data = self._with_held(data)
            waiter = self.expect_reply()
            await self._send(data)
        return waiter

    async def send_commands(self, data: Sequence[bytes]) -> list[ReplyWaiter]:
        """Send several commands in one write, each with its place in the reply queue.

        For commands that need nothing from each other's answers: FreeSWITCH reads them one
        after another and answers each in order, and we make one system call, not one each.
        """
        if self._push is not None:
            held = self._with_held(b"")
            waiters = [self.expect_reply() for _ in data]
            await self._send(held + b"".join(data))
            return waiters
        assert self._write_lock is not None
        async with self._write_lock:
            held = self._with_held(b"")
            waiters = [self.expect_reply() for _ in data]
            await self._send(held + b"".join(data))
        return waiters

    async def request(self, data: bytes, deadline: float = math.inf) -> Reply | None:
        """Send a command and wait for its reply; None if `deadline` passed first."""
        return await self.wait_reply(await self.send_command(data), deadline)

    async def wait_reply(self, waiter: ReplyWaiter, deadline: float = math.inf) -> Reply | None:
        """The reply; None if `deadline` (in `anyio.current_time()`'s clock) passed first."""
        try:
            await waiter.wait(deadline)
        finally:
            if not waiter.resolved:
                waiter.abandoned = True  # keeps its place: its late reply is dropped
        if waiter.error is not None:
            raise ConnectionClosed(str(waiter.error))
        return waiter.message

    def no_answer(self, what: str, seconds: float) -> ESLTimeout:
        """A reply's time limit passed: "no answer from FreeSWITCH at X to `api` within 5 s"."""
        return ESLTimeout(
            f"no answer from FreeSWITCH at {self.peer} to `{what}` within {seconds:g} s"
        )

    async def _send(self, data: bytes) -> None:
        push = self._push
        if push is not None:
            try:
                if push.write(data):
                    return
            except ConnectionResetError as exc:
                await self._fail_send(self._closed or closed_error(self.peer, exc))
        # Shielded: a command cut off half-way would desynchronise the stream for good, so a
        # send finishes or fails the whole connection; the write timeout bounds the wait.
        failure: BaseException | None = None
        deadline = anyio.current_time() + self.write_timeout
        with anyio.CancelScope(shield=True, deadline=deadline) as scope:
            try:
                if push is not None:
                    await push.wait_writable()
                else:
                    assert self._stream is not None
                    await self._stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                failure = exc
        if scope.cancelled_caught:
            reason = ConnectionClosed(
                f"FreeSWITCH at {self.peer} did not read our command within "
                f"{self.write_timeout:g} s; dropping the connection"
            )
        elif failure is not None:
            reason = self._closed or closed_error(self.peer, failure)
        elif push is not None and push.lost:
            reason = self._closed or closed_error(self.peer)
        else:
            return
        await self._fail_send(reason)

    async def _fail_send(self, reason: ConnectionClosed) -> None:
        self._close(reason)
        with anyio.CancelScope(shield=True):
            await self._abort()
        raise self.closed_error()

    async def _abort(self) -> None:
        if self._push is not None:
            self._stop_reading(self._closed or closed_error(self.peer))
        else:
            assert self._stream is not None
            await anyio.aclose_forcefully(self._stream)

    async def send_eof(self) -> None:
        """Half-close: no more commands from us; FreeSWITCH may still send what it has."""
        if self._push is not None:
            if self._closed is None:
                # The peer may have gone already (ENOTCONN): as on the other path, no error.
                with suppress(OSError):
                    self._push.write_eof()
            return
        assert self._write_lock is not None
        async with self._write_lock:
            if self._closed is None:
                assert self._stream is not None
                with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    await self._stream.send_eof()

    async def wait_closed(self, deadline: float = math.inf) -> bool:
        """Until the reader has stopped (the peer closed, or the connection failed): True;
        False if `deadline` (in `anyio.current_time()`'s clock) passed first."""
        return await self._finished.wait(deadline)

    def _close(self, reason: ConnectionClosed) -> None:
        if self._closed is not None:
            return
        self._closed = reason
        replies, self._replies = self._replies, deque()
        for waiter in replies:
            waiter.resolve(None, reason)

    async def aclose(self, reason: str | None = None) -> None:
        """Close from our side; pending and later calls raise ConnectionClosed."""
        reason = reason or f"the connection to FreeSWITCH at {self.peer} was closed"
        self._close(ConnectionClosed(reason))
        await self._abort()
