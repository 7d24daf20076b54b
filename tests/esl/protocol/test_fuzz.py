"""Arbitrary bytes: the parsers raise nothing but RemoteProtocolError, however the bytes arrive.

Random bytes alone rarely get past the first header line, so the inputs are built from pieces
of real frames (heads, Content-Length values, bodies, blank lines) mixed with random bytes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ivrd.esl.protocol import (
    CommandParser,
    Event,
    EventFormat,
    EventMessage,
    Message,
    Parser,
    RemoteProtocolError,
    commands,
    writers,
)

PIECES = [
    b"\n",
    b"\n\n",
    b"\r\n",
    b": ",
    b"Content-Type: ",
    b"Content-Length: ",
    b"Content-Length: 0\n",
    b"Content-Length: 5\n",
    b"Content-Length: 12\n\n",
    b"Content-Length: -1\n",
    b"Content-Length: 99999999999999\n",
    "Content-Length: ²\n".encode(),
    "Content-Length: ٣\n".encode(),
    b"command/reply",
    b"api/response",
    b"auth/request",
    b"text/event-plain",
    b"text/event-json",
    b"text/event-xml",
    b"text/disconnect-notice",
    b"Event-Name: CHANNEL_DATA\n",
    b"Reply-Text: %2BOK%0A\n",
    b"Linger-Time: x\n",
    b"Log-Level: 7\n",
    b"%",
    b"%zz%C3%28",
    b"\xff\xfe",
    b"\x00",
    b"_undef_",
    b'{"Event-Name":"X","_body":',
    b'["a",{"b":',
    b"[" * 50,
    b"[" * 1100,
    b"<event><headers><A>%20</A></headers><body>",
    b"<!DOCTYPE",
    b"</event>",
    writers.auth_request(),
    writers.command_reply("+OK"),
    writers.api_response("+OK\n\n"),
    writers.event_plain([("Event-Name", "BACKGROUND_JOB")], "-ERR x\n"),
    writers.event_json([("Event-Name", "DTMF"), ("DTMF-Digit", "#")], "b"),
    writers.event_xml([("Event-Name", "X")], "body"),
    writers.disconnect_notice("u", linger=True),
    commands.execute("playback", "a\nb", event_uuid="e"),
    commands.api("status"),
]
STREAM = st.lists(st.sampled_from(PIECES) | st.binary(max_size=12), max_size=24).map(b"".join)


@dataclass
class Outcome:
    """What a parser made of a stream: the messages, then how it ended."""

    messages: list[object]
    ending: str


def read_all(parser: Parser | CommandParser, chunks: list[bytes]) -> Outcome:
    messages: list[object] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            messages.extend(parser)
        parser.feed_eof()
        messages.extend(parser)
    except RemoteProtocolError:
        # Which check fired may depend on how much had arrived; that one did, must not.
        return Outcome(messages, "error")
    return Outcome(messages, "closed")


def decode_all(outcome: Outcome) -> list[object]:
    """Every message's headers and event, decoded: RemoteProtocolError is the only failure."""
    decoded: list[object] = []
    for message in outcome.messages:
        if isinstance(message, EventMessage):
            try:
                event = message.event
                decoded.append((event.name, event.subclass, event.headers.pairs(), event.body))
            except RemoteProtocolError as exc:
                decoded.append(str(exc))
        if not isinstance(message, Message):
            continue
        try:  # a long frame head is kept as text too, its lines checked when all are read
            decoded.append(message.headers.pairs())
        except RemoteProtocolError as exc:
            decoded.append(str(exc))
    return decoded


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


LIMITS = st.fixed_dictionaries(
    {"max_head_size": st.integers(1, 200), "max_frame_size": st.integers(1, 400)}
) | st.just({})


@settings(max_examples=400)
@given(data=STREAM, cuts=st.lists(st.integers(0, 10_000), max_size=8), limits=LIMITS)
@example(data=b"[" * 1100 + b"\n\n", cuts=[5], limits={})  # a long head, checked when read
def test_parser_takes_any_bytes_the_same_way_however_chunked(
    data: bytes, cuts: list[int], limits: dict[str, int]
) -> None:
    whole = read_all(Parser(**limits), [data])
    pieces = read_all(Parser(**limits), chunked(data, cuts))
    bytewise = read_all(Parser(**limits), [data[i : i + 1] for i in range(len(data))])

    assert pieces == whole
    assert bytewise == whole
    decode_all(whole)


@settings(max_examples=300)
@given(data=STREAM, cuts=st.lists(st.integers(0, 10_000), max_size=8), pick=st.data())
def test_limits_near_a_head_size_do_not_depend_on_chunking(
    data: bytes, cuts: list[int], pick: st.DataObject
) -> None:
    # The limits that matter are the ones a frame in the stream just meets or just misses.
    sizes = [end - start for start, end in itertools.pairwise([0, *_blank_lines(data)])]
    size = pick.draw(st.sampled_from(sizes or [1]))
    limit = max(1, size + pick.draw(st.integers(-2, 2)))
    limits = pick.draw(st.sampled_from([{"max_head_size": limit}, {"max_frame_size": limit}]))

    whole = read_all(Parser(**limits), [data])
    assert read_all(Parser(**limits), chunked(data, cuts)) == whole
    assert read_all(Parser(**limits), [data[i : i + 1] for i in range(len(data))]) == whole


def _blank_lines(data: bytes) -> list[int]:
    found, at = [], data.find(b"\n\n")
    while at >= 0:
        found.append(at)
        at = data.find(b"\n\n", at + 1)
    return found


@settings(max_examples=300)
@given(data=STREAM, cuts=st.lists(st.integers(0, 10_000), max_size=8), limits=LIMITS)
def test_command_parser_takes_any_bytes_the_same_way_however_chunked(
    data: bytes, cuts: list[int], limits: dict[str, int]
) -> None:
    whole = read_all(CommandParser(**limits), [data])

    assert read_all(CommandParser(**limits), chunked(data, cuts)) == whole
    assert read_all(CommandParser(**limits), [data[i : i + 1] for i in range(len(data))]) == whole


@settings(max_examples=300)
@given(data=st.binary(max_size=200), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_parser_takes_random_bytes(data: bytes, cuts: list[int]) -> None:
    assert read_all(Parser(), chunked(data, cuts)) == read_all(Parser(), [data])


@pytest.mark.parametrize("format", ["plain", "json", "xml"])
@settings(max_examples=300)
@given(source=st.sampled_from(PIECES) | STREAM | st.binary(max_size=100))
@example(source=b"[" * 100_000)
@example(source="Event-Name: X\nContent-Length: ²\n\nab".encode())
def test_event_bodies_decode_or_raise_remote_protocol_error(
    format: EventFormat, source: bytes
) -> None:
    event = Event.from_bytes(source, format)
    try:
        pairs = event.headers.pairs()
    except RemoteProtocolError:
        return
    assert all(isinstance(name, str) and isinstance(value, str) for name, value in pairs)
    assert isinstance(event.name, str)
    try:  # an event ending at its headers checks its Content-Length only now
        body = event.body
    except RemoteProtocolError:
        return
    assert body is None or isinstance(body, str)
