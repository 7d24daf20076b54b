"""One event-socket connection: a reader task feeding the Parser, replies handed out in order.

FreeSWITCH answers commands strictly in the order it received them, with events interleaved
anywhere (an event can arrive between a `sendmsg` and its `+OK`). So a command reply carries
no id: the n-th reply belongs to the n-th command. The connection keeps a FIFO of waiters,
appended under the write lock in the same step as the send, so queue order is wire order.

A waiter whose caller gave up (cancelled, timed out) stays in the queue, marked abandoned:
its reply, when it comes, is consumed and dropped. Removing it instead would hand that late
reply to the next caller, who would then take a `+OK` meant for someone else.

Everything that is not a reply (events, disconnect notices, log lines) goes to the owner's
`on_message` callback, called in the reader task; it must not block. The owner (outbound
session, inbound client) decides how to deliver events without stalling the reader.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import anyio
import anyio.abc

from ivrd.esl._transport import closed_error
from ivrd.esl.errors import ConnectionClosed
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


class ReplyWaiter:
    """A place in the reply queue; `Connection.wait_reply` turns it into the reply."""

    __slots__ = ("abandoned", "done", "error", "message")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.message: Reply | None = None
        self.error: ConnectionClosed | None = None
        self.abandoned = False


class Connection:
    """An established event socket, either direction. Run `run()` in a task group."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        peer: str,
        on_message: Callable[[Message], None],
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        write_timeout: float = 10.0,
    ) -> None:
        self.peer = peer
        self.log_extra: dict[str, Any] = {}
        self.write_timeout = write_timeout
        self._stream = stream
        self._parser = Parser(max_frame_size=max_frame_size)
        self._on_message = on_message
        self._replies: deque[ReplyWaiter] = deque()
        # Uncontended (the usual case) it costs no trip through the event loop.
        self._write_lock = anyio.Lock(fast_acquire=True)
        self._closed: ConnectionClosed | None = None
        self._finished = anyio.Event()

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def closed_error(self) -> ConnectionClosed:
        """A fresh exception saying why the connection is closed (one per raise)."""
        return ConnectionClosed(str(self._closed or closed_error(self.peer)))

    async def run(self) -> None:
        """Read and dispatch until the peer closes or the connection fails.

        Never raises for a transport or protocol failure: it closes the connection, which
        fails every pending reply with ConnectionClosed. Cancellation propagates.
        """
        reason: ConnectionClosed | None = None
        try:
            reason = await self._read_loop()
        finally:
            self._close(reason or closed_error(self.peer))
            self._finished.set()
            with anyio.CancelScope(shield=True):
                await anyio.aclose_forcefully(self._stream)

    async def _read_loop(self) -> ConnectionClosed:
        parser = self._parser
        receive = self._stream.receive
        dispatch = self._dispatch
        while True:
            try:
                parser.feed(await receive(_RECEIVE_SIZE))
            except anyio.EndOfStream:
                parser.feed_eof()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                return self._closed or closed_error(self.peer, exc)
            try:
                while True:
                    message = parser.next_message()
                    if message is NEED_DATA:
                        break
                    if message is CLOSED:
                        return self._closed or closed_error(self.peer)
                    dispatch(message)  # type: ignore[arg-type]
            except RemoteProtocolError as exc:
                error = exc
                break
        logger.error(
            "FreeSWITCH at %s broke the event-socket protocol: %s; closing the connection",
            self.peer,
            error,
            extra=self.log_extra,
        )
        return ConnectionClosed(f"FreeSWITCH at {self.peer} broke the protocol: {error}")

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
            waiter.message = message
            waiter.done.set()

    def expect_reply(self) -> ReplyWaiter:
        """Queue a waiter without sending: for the greeting FreeSWITCH sends unasked."""
        if self._closed is not None:
            raise self.closed_error()
        waiter = ReplyWaiter()
        self._replies.append(waiter)
        return waiter

    async def send_command(self, data: bytes) -> ReplyWaiter:
        """Send one command and take its place in the reply queue, atomically."""
        async with self._write_lock:
            waiter = self.expect_reply()
            await self._send(data)
        return waiter

    async def request(self, data: bytes) -> Reply:
        """Send a command and wait for its reply (wrap in a time limit; see `timeouts`)."""
        return await self.wait_reply(await self.send_command(data))

    async def wait_reply(self, waiter: ReplyWaiter) -> Reply:
        try:
            await waiter.done.wait()
        finally:
            if not waiter.done.is_set():
                waiter.abandoned = True  # keeps its place: its late reply is dropped
        if waiter.error is not None:
            raise ConnectionClosed(str(waiter.error))
        assert waiter.message is not None
        return waiter.message

    def no_answer(self, what: str) -> str:
        """How a time limit on a reply reads: "no answer from FreeSWITCH at X to `api`"."""
        return f"no answer from FreeSWITCH at {self.peer} to `{what}`"

    async def _send(self, data: bytes) -> None:
        # Shielded: a command cut off half-way would desynchronise the stream for good, so a
        # send finishes or fails the whole connection; the write timeout bounds the wait.
        failure: BaseException | None = None
        deadline = anyio.current_time() + self.write_timeout
        with anyio.CancelScope(shield=True, deadline=deadline) as scope:
            try:
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
        else:
            return
        self._close(reason)
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(self._stream)
        raise self.closed_error()

    async def send_eof(self) -> None:
        """Half-close: no more commands from us; FreeSWITCH may still send what it has."""
        async with self._write_lock:
            if self._closed is None:
                with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    await self._stream.send_eof()

    async def wait_closed(self) -> None:
        """Until the reader has stopped (the peer closed, or the connection failed)."""
        await self._finished.wait()

    def _close(self, reason: ConnectionClosed) -> None:
        if self._closed is not None:
            return
        self._closed = reason
        replies, self._replies = self._replies, deque()
        for waiter in replies:
            waiter.error = reason
            waiter.done.set()

    async def aclose(self, reason: str | None = None) -> None:
        """Close from our side; pending and later calls raise ConnectionClosed."""
        reason = reason or f"the connection to FreeSWITCH at {self.peer} was closed"
        self._close(ConnectionClosed(reason))
        await anyio.aclose_forcefully(self._stream)
