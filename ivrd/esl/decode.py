"""Raw event-socket bytes (a capture, a TCP stream's payload) to one JSON-ready dict per message.

The library side of `ivrd esl decode`. Each message becomes::

    {"offset": 3488, "type": "text/event-plain",
     "headers": [["Content-Length", "2454"], ["Content-Type", "text/event-plain"]],
     "event": {"name": "CHANNEL_PARK", "subclass": null, "format": "plain",
               "headers": [["Event-Name", "CHANNEL_PARK"], ...], "body": null}}

Headers are `[name, value]` pairs in wire order, so repeated ones stay; values are decoded
(percent-decoding where FreeSWITCH encodes: event-plain values and the `connect` reply).
Messages other than events carry their `body` as text instead of an `event`; so do events
when `frames` is set (framing only, nothing inside an event decoded). `type` is the frame's
Content-Type, null when it has none; `offset` is where the frame starts in the stream.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from ivrd.esl.protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    EventMessage,
    Message,
    Parser,
    RemoteProtocolError,
    Sentinel,
)


class DecodeError(Exception):
    """The bytes stop being valid event-socket framing (or a valid event) at `offset`."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"byte {offset}: {reason}")
        self.offset = offset
        self.reason = reason


def decode_stream(
    chunks: Iterable[bytes],
    *,
    frames: bool = False,
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
) -> Iterator[dict[str, object]]:
    """Every message in the stream, as it completes; DecodeError where the bytes go wrong.

    Messages before the error have been yielded by then. A stream that ends in the middle of
    a frame is an error too.
    """
    parser = Parser(max_frame_size=max_frame_size)
    unread = _Unread()
    for chunk in chunks:
        parser.feed(chunk)
        unread.add(chunk)
        yield from _complete_messages(parser, unread, frames)
    parser.feed_eof()
    yield from _complete_messages(parser, unread, frames)


class _Unread:
    """The chunks the parser has not framed yet, by offset: where a frame starts is past the
    blank lines the parser skips before it (FreeSWITCH sends none), however they arrived."""

    def __init__(self) -> None:
        self.received = 0
        self._chunks: deque[tuple[int, bytes]] = deque()

    def add(self, chunk: bytes) -> None:
        self._chunks.append((self.received, chunk))
        self.received += len(chunk)

    def frame_start(self, at: int) -> int:
        """`at`, moved past the newlines there; the chunks before it are let go."""
        chunks = self._chunks
        while chunks and chunks[0][0] + len(chunks[0][1]) <= at:
            chunks.popleft()
        for offset, chunk in chunks:
            rest = chunk[at - offset :]
            at += len(rest) - len(rest.lstrip(b"\n"))
            if at < offset + len(chunk):
                break
        return at


def _complete_messages(
    parser: Parser, unread: _Unread, frames: bool
) -> Iterator[dict[str, object]]:
    received = unread.received
    while True:
        start = unread.frame_start(received - parser.buffered)
        try:
            message = parser.next_message()
        except RemoteProtocolError as exc:
            # The parser has moved past what it read fine: the bad frame starts here.
            raise DecodeError(received - parser.buffered, str(exc)) from None
        if isinstance(message, Sentinel):
            return
        try:
            described = describe(message, offset=start, frames=frames)
        except RemoteProtocolError as exc:  # an event whose body does not decode
            raise DecodeError(start, str(exc)) from None
        yield described


def describe(message: Message, *, offset: int, frames: bool = False) -> dict[str, object]:
    """One message as a JSON-ready dict (see the module docstring)."""
    described: dict[str, object] = {
        "offset": offset,
        "type": message.content_type or None,
        "headers": _pairs(message.headers.pairs()),
    }
    if isinstance(message, EventMessage) and not frames:
        event = message.event
        described["event"] = {
            "name": event.name,
            "subclass": event.subclass,
            "format": event.format,
            "headers": _pairs(event.headers.pairs()),
            "body": event.body,
        }
    else:
        described["body"] = message.text
    return described


def _pairs(pairs: list[tuple[str, str]]) -> list[list[str]]:
    return [[name, value] for name, value in pairs]
