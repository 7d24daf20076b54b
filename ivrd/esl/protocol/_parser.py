"""Framing: bytes in, messages out, with no I/O.

A frame is header lines, a blank line, then exactly `Content-Length` bytes of body when that
header is present. `Parser` reads what FreeSWITCH sends; `CommandParser` reads what a client
sends (the first line is the command), for the fake FreeSWITCH and for tests.

Both keep one growing buffer and an offset into it, remember how far they already searched
for the blank line (so a frame that trickles in byte by byte is scanned once), and refuse to
hold more than `max_frame_size` bytes for one frame.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from ivrd.esl.protocol._errors import RemoteProtocolError
from ivrd.esl.protocol._events import CONTENT_TYPES, Event, EventFormat
from ivrd.esl.protocol._headers import Headers, parse_header_lines
from ivrd.esl.protocol._messages import (
    MESSAGE_TYPES,
    CommandReply,
    EventMessage,
    Message,
    RawMessage,
)

Data = bytes | bytearray | memoryview
"""What `feed` takes: read when fed, so the caller may reuse its buffer."""

DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024
DEFAULT_MAX_HEAD_SIZE = 1024 * 1024

_BLANK_LINES = re.compile(rb"\n*")
_COMPACT_PAST = 65536
"""Bytes handed out at the front of the buffer before it is worth moving what follows."""


class Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"
    CLOSED = "CLOSED"

    def __repr__(self) -> str:
        return self.value


NEED_DATA = Sentinel.NEED_DATA
CLOSED = Sentinel.CLOSED


HeadT = TypeVar("HeadT")


class _FrameBuffer(Generic[HeadT]):
    """The shared framing state machine: yields (parsed head, body bytes) pairs.

    `parse_head` turns a header block into whatever the caller wants plus the raw
    Content-Length value (None when absent), so each head is split into lines only once.
    """

    def __init__(
        self,
        parse_head: Callable[[str], tuple[HeadT, str | None]],
        max_frame_size: int,
        max_head_size: int,
        who: str,
    ) -> None:
        if max_frame_size < 1 or max_head_size < 1:
            raise ValueError("frame and head size limits must be positive")
        self._parse_head = parse_head
        # What was read and not yet handed out. Bytes as they came while frames arrive whole
        # (the usual case: no copy into a buffer, and a body is one slice); a bytearray that
        # grows only while a frame arrives in pieces.
        self._buf: bytes | bytearray = b""
        self._pos = 0
        self._searched = 0
        self._head: HeadT | None = None
        self._body_start = 0
        self._body_end = 0
        self._eof = False
        self._error: RemoteProtocolError | None = None
        self.max_frame_size = max_frame_size
        self.max_head_size = min(max_head_size, max_frame_size)
        self._who = who

    def feed(self, data: Data) -> None:
        if self._eof:
            raise RuntimeError("data fed after end of file")
        # A failed stream is never read again: holding on to more of it would only grow.
        if self._error is None:
            buf = self._buf
            if self._pos == len(buf):
                self._buf = bytes(data)  # (no copy of bytes; a caller's bytearray may change)
                self._pos = self._searched = 0
            elif isinstance(buf, bytes):
                # A frame arrives in pieces: from here on they are joined in a bytearray.
                pos = self._pos
                self._buf = bytearray(buf[pos:]) + data
                self._pos = 0
                self._searched = max(0, self._searched - pos)
                if self._head is not None:  # its body's place moves with it
                    self._body_start -= pos
                    self._body_end -= pos
            else:
                buf += data

    def feed_eof(self) -> None:
        self._eof = True

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def fail(self, exc: RemoteProtocolError) -> RemoteProtocolError:
        """Remember a failure: after one, the stream cannot be trusted and every call raises."""
        self._error = exc
        return exc

    def next_frame(self) -> tuple[HeadT, bytes] | Sentinel:
        if self._error is not None:
            raise self._error
        buf = self._buf
        head = self._head
        if head is None:
            pos = self._pos
            size = len(buf)
            # Blank lines between frames are not frames (librevox skips them too).
            if pos < size and buf[pos] == 10:
                skipped = _BLANK_LINES.match(buf, pos)
                assert skipped is not None  # `\n*` matches anywhere
                pos = self._pos = skipped.end()
            if pos == size:
                # All handed out (the last frame of a read was), or blank lines only: nothing
                # to search, and nothing to keep.
                if size:
                    self._free()
                return self._at_end()
            searched = self._searched
            end = buf.find(b"\n\n", pos if pos > searched else searched)
            if end < 0:
                # A head of exactly max_head_size bytes may sit here with the first of its two
                # closing newlines: only one byte more proves it too long, however it was chunked.
                if size - pos > self.max_head_size + 1:
                    raise self.fail(
                        RemoteProtocolError(
                            f"{self._who} sent {size - pos} bytes of headers without a blank "
                            f"line (limit {self.max_head_size})"
                        )
                    )
                self._searched = max(pos, size - 1)
                self._compact()
                return self._at_end()
            if end - pos > self.max_head_size:
                raise self.fail(
                    RemoteProtocolError(
                        f"{self._who} sent a header block of {end - pos} bytes "
                        f"(limit {self.max_head_size})"
                    )
                )
            try:
                head, raw_length = self._parse_head(buf[pos:end].decode("utf-8", "replace"))
            except RemoteProtocolError as exc:
                raise self.fail(exc) from None
            if raw_length is None:
                self._taken(end + 2)
                return head, b""
            if not (raw_length.isascii() and raw_length.isdigit()) or len(raw_length) > 12:
                raise self.fail(
                    RemoteProtocolError(f"{self._who} sent a bad Content-Length: {raw_length!r}")
                )
            length = int(raw_length)
            if end + 2 + length - pos > self.max_frame_size:
                raise self.fail(
                    RemoteProtocolError(
                        f"{self._who} announced a {length}-byte body "
                        f"(frame limit {self.max_frame_size} bytes)"
                    )
                )
            self._head = head
            self._body_start = end + 2
            self._body_end = end + 2 + length
        body_end = self._body_end
        if len(buf) < body_end:
            return self._at_end()
        body = bytes(buf[self._body_start : body_end])  # (a slice of bytes is bytes)
        self._head = None
        self._taken(body_end)
        return head, body

    def _taken(self, end: int) -> None:
        """A frame up to `end` was handed out."""
        if end == len(self._buf):
            self._free()
        else:
            self._pos = self._searched = end
            if end > _COMPACT_PAST:
                self._compact()

    def _free(self) -> None:
        # Everything read: free it now (nothing to move), or each of a thousand idle
        # connections would keep up to 64 KiB of frames it has already handed out.
        self._buf = b""
        self._pos = self._searched = 0

    def _compact(self) -> None:
        # Now and then rather than on every frame: deleting the front of a large buffer per
        # frame would make a burst of small frames quadratic. Only between frames.
        pos = self._pos
        if pos > _COMPACT_PAST and pos * 2 > len(self._buf):
            self._buf = self._buf[pos:]
            self._pos = 0
            self._searched = max(0, self._searched - pos)

    def _at_end(self) -> Sentinel:
        if not self._eof:
            return NEED_DATA
        if self._buf[self._pos :].strip(b"\n"):
            raise self.fail(
                RemoteProtocolError(
                    f"{self._who} closed the connection in the middle of a frame "
                    f"({len(self._buf) - self._pos} bytes pending)"
                )
            )
        return CLOSED


# A frame head longer than this is the `connect` reply's channel data (7 KB for a SIP call).
_HEAD_KEPT_AS_TEXT = 1024


_EVENT_HEAD_START = "Content-Length: "
_EVENT_HEAD_END = "\nContent-Type: text/event-plain"

MessageMaker = Callable[[Headers, bytes], Message]
"""Makes a frame's message from its head's headers and its body: a message class, or one
that reads the body as an event."""
_Head = tuple[Headers, MessageMaker]


def _event_maker(event_format: EventFormat) -> MessageMaker:
    def make(headers: Headers, body: bytes) -> Message:
        return EventMessage(headers, body, Event.from_bytes(body, event_format))

    return make


_EVENT_MAKERS = {content_type: _event_maker(fmt) for content_type, fmt in CONTENT_TYPES.items()}
_PLAIN_EVENT = _EVENT_MAKERS["text/event-plain"]

_SMALL_HEADS: dict[str, tuple[_Head, str | None]] = {}
"""Heads without a body seen before (`+OK` replies, the same few every call), read once."""
_SMALL_HEADS_KEPT = 64
_SMALL_HEAD_SIZE = 200  # at most: a longer head (the connect reply's 7 KB) is not even hashed


def _parse_message_head(head: str) -> tuple[_Head, str | None]:
    """The head's headers and what makes its message, with its raw Content-Length."""
    if len(head) <= _SMALL_HEAD_SIZE:
        known = _SMALL_HEADS.get(head)
        if known is not None:
            return known
    if head.startswith(_EVENT_HEAD_START) and head.endswith(_EVENT_HEAD_END):
        # How mod_event_socket frames every plain event: the two lines, read without a split.
        value = head[len(_EVENT_HEAD_START) : -len(_EVENT_HEAD_END)]
        if "\n" not in value and ":" not in value:
            # Its lines are known good, and seldom read: kept as the text.
            return (Headers.from_text(head, "frame"), _PLAIN_EVENT), value
    if len(head) <= _HEAD_KEPT_AS_TEXT:
        headers = Headers(parse_header_lines(head, "frame"))  # a malformed line raises now
    else:
        # Kept as its text, a fraction of what the pairs and their dict take (and a server
        # holds one per call it is setting up), and read only as looked up: the same values.
        # Like an event's, its lines are checked when all of them are read (splitting the
        # 7 KB of a SIP call's channel data costs a third of what reading a call's events
        # does); the framing (Content-Length) is looked up, as in any head.
        headers = Headers.from_text(head, "frame")
    length = headers.raw("Content-Length")
    parsed = _with_maker(headers, head), length
    if length is None and len(head) <= _SMALL_HEAD_SIZE:
        # The same message every time this head comes (no body): made once and shared, as
        # a message and its Headers are read-only.
        headers, make = parsed[0]
        shared = make(headers, b"")
        parsed = (headers, lambda _headers, _body: shared), None
        if len(_SMALL_HEADS) >= _SMALL_HEADS_KEPT:
            _SMALL_HEADS.clear()
        _SMALL_HEADS[head] = parsed
    return parsed


def _with_maker(headers: Headers, head: str) -> _Head:
    content_type = headers.get("Content-Type") or ""
    event_maker = _EVENT_MAKERS.get(content_type)
    if event_maker is not None:
        return headers, event_maker
    if content_type == "command/reply" and "Event-Name" in headers:
        # The reply to `connect` is the channel data, percent-encoded like an event.
        if len(head) > _HEAD_KEPT_AS_TEXT:
            headers = Headers.from_text(head, "frame", encoded=True)
        else:
            headers = Headers(headers.raw_pairs(), encoded=True)
        return headers, CommandReply
    return headers, MESSAGE_TYPES.get(content_type, RawMessage)


def _parse_command_head(head: str) -> tuple[tuple[str, Headers], str | None]:
    line, _, rest = head.partition("\n")
    where = line.split(" ", 1)[0] or "command"
    # mod_event_socket ends a line at CR as well as LF and reads the head as C strings (a NUL
    # ends it, and every header after it is lost, Content-Length included). A client that
    # sends either would be read differently by FreeSWITCH than here: refuse it.
    if "\r" in head or "\0" in head:
        shown = head if len(head) <= 60 else head[:57] + "..."
        raise RemoteProtocolError(f"{where}: CR or NUL in a command: {shown!r}")
    # FreeSWITCH skips every space after the colon, not just one.
    pairs = [(name, value.lstrip(" ")) for name, value in parse_header_lines(rest, where)]
    headers = Headers(pairs)
    return (line, headers), headers.raw("Content-Length")


class Parser:
    """Reads what FreeSWITCH sends: feed bytes, then take messages until NEED_DATA.

    >>> parser = Parser()
    >>> parser.feed(b"Content-Type: auth/request\\n\\n")
    >>> parser.next_message()
    AuthRequest(...)
    """

    def __init__(
        self,
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
    ) -> None:
        self._frames: _FrameBuffer[_Head] = _FrameBuffer(
            _parse_message_head, max_frame_size, max_head_size, "FreeSWITCH"
        )

    def feed(self, data: Data) -> None:
        self._frames.feed(data)

    def feed_eof(self) -> None:
        self._frames.feed_eof()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a message."""
        return self._frames.buffered

    def next_message(self) -> Message | Sentinel:
        """The next complete message, NEED_DATA, or CLOSED after end of file.

        Raises RemoteProtocolError for malformed framing or a frame over the limits; the
        parser stays failed after that (the connection cannot be trusted any more).
        """
        frame = self._frames.next_frame()
        if isinstance(frame, Sentinel):
            return frame
        (headers, make), body = frame
        return make(headers, body)

    def __iter__(self) -> Iterator[Message]:
        """The messages available now (stops at NEED_DATA or CLOSED)."""
        while True:
            message = self.next_message()
            if isinstance(message, Sentinel):
                return
            yield message


@dataclass(frozen=True, slots=True, eq=True)
class Command:
    """One command as a client wrote it: `line` (`sendmsg <uuid>`), headers, body."""

    line: str
    headers: Headers
    body: bytes = b""

    @property
    def name(self) -> str:
        """The command word (`api`, `sendmsg`, ...), lower-cased."""
        return self.line.split(" ", 1)[0].lower()

    @property
    def argument(self) -> str:
        """What follows the command word on its line."""
        parts = self.line.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


class CommandParser:
    """Reads what a client sends, as FreeSWITCH's mod_event_socket does."""

    def __init__(
        self,
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
    ) -> None:
        self._frames = _FrameBuffer(
            _parse_command_head, max_frame_size, max_head_size, "the client"
        )

    def feed(self, data: Data) -> None:
        self._frames.feed(data)

    def feed_eof(self) -> None:
        self._frames.feed_eof()

    def next_command(self) -> Command | Sentinel:
        frame = self._frames.next_frame()
        if isinstance(frame, Sentinel):
            return frame
        (line, headers), body = frame
        return Command(line, headers, body)

    def __iter__(self) -> Iterator[Command]:
        while True:
            command = self.next_command()
            if isinstance(command, Sentinel):
                return
            yield command
