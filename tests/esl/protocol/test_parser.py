"""Framing: whole, byte by byte, with trailing data; limits; errors; the client-side parser."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pytest

from ivrd.esl.protocol import (
    CLOSED,
    NEED_DATA,
    ApiResponse,
    AuthRequest,
    Command,
    CommandParser,
    CommandReply,
    EventMessage,
    Headers,
    LogData,
    Message,
    Parser,
    RawMessage,
    RemoteProtocolError,
    RudeRejection,
)
from ivrd.esl.protocol._headers import parse_header_lines
from ivrd.esl.protocol._parser import _parse_message_head

AUTH = b"Content-Type: auth/request\n\n"
OK = b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
API = b"Content-Type: api/response\nContent-Length: 6\n\n+OK\n\n\n"
EVENT_BODY = b"Event-Name: HEARTBEAT\nUp-Time: 0%20years\n\n"
EVENT = b"Content-Length: 42\nContent-Type: text/event-plain\n\n" + EVENT_BODY
STREAM = AUTH + OK + API + EVENT


def parse_in(chunks: Iterable[bytes], **limits: int) -> list[Message]:
    parser = Parser(**limits)
    messages: list[Message] = []
    for chunk in chunks:
        parser.feed(chunk)
        messages.extend(parser)
    parser.feed_eof()
    messages.extend(parser)
    assert parser.next_message() is CLOSED
    return messages


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def error_of(chunks: Iterable[bytes], **limits: int) -> str:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_in(chunks, **limits)
    return str(caught.value)


EXPECTED = [
    AuthRequest(Headers([("Content-Type", "auth/request")]), b""),
    CommandReply(Headers([("Content-Type", "command/reply"), ("Reply-Text", "+OK accepted")]), b""),
    ApiResponse(Headers([("Content-Type", "api/response"), ("Content-Length", "6")]), b"+OK\n\n\n"),
    EventMessage(
        Headers([("Content-Length", "42"), ("Content-Type", "text/event-plain")]),
        EVENT_BODY,
        event=None,  # type: ignore[arg-type]  # not compared
    ),
]


@pytest.mark.parametrize(
    "chunks",
    [[STREAM], bytewise(STREAM), [STREAM[:30], STREAM[30:31], STREAM[31:]]],
    ids=["whole", "bytewise", "split"],
)
def test_stream_parses_the_same_however_it_is_chunked(chunks: list[bytes]) -> None:
    messages = parse_in(chunks)

    assert messages == EXPECTED
    event = messages[3]
    assert isinstance(event, EventMessage)
    assert event.event.name == "HEARTBEAT"
    assert event.event["Up-Time"] == "0 years"
    assert event.event.body is None


@pytest.mark.parametrize("cut", [len(AUTH + OK + API) - 5, len(AUTH + OK) + 46, len(STREAM) - 3])
def test_a_body_split_after_whole_frames_in_the_same_read(cut: int) -> None:
    # The first read holds whole frames and a frame cut inside its body (or head): what is
    # left of it moves to the front of the buffer, its body's place with it.
    parser = Parser()
    parser.feed(STREAM[:cut])
    first = list(parser)
    parser.feed(STREAM[cut:])

    assert first + list(parser) == EXPECTED
    assert parser.buffered == 0


def test_a_buffer_fed_is_read_as_it_was_when_fed() -> None:
    # A caller may reuse its buffer: what was fed must not change with it.
    parser = Parser()
    chunk = bytearray(OK)
    parser.feed(chunk)
    chunk[:] = b"x" * len(chunk)

    assert list(parser) == [EXPECTED[1]]

    chunk[:] = OK
    parser.feed(memoryview(chunk)[:10])  # views of it too, here a frame in two pieces
    chunk[:] = b"x" * len(chunk)
    parser.feed(memoryview(OK)[10:])

    assert list(parser) == [EXPECTED[1]]


def test_a_partial_frame_waits_for_the_rest() -> None:
    parser = Parser()
    parser.feed(AUTH + OK[:10])

    assert parser.next_message() == EXPECTED[0]
    assert parser.next_message() is NEED_DATA
    assert parser.buffered == 10
    parser.feed(OK[10:] + API[:-3])
    assert list(parser) == [EXPECTED[1]]
    assert parser.next_message() is NEED_DATA
    assert parser.buffered == len(API) - 3
    parser.feed(API[-3:])
    assert list(parser) == [EXPECTED[2]]
    assert parser.buffered == 0


def test_body_is_exactly_content_length_bytes_not_characters() -> None:
    body = "Grüße\n\n".encode()
    frame = b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body

    assert parse_in([frame + AUTH]) == [
        ApiResponse(Headers([("Content-Type", "api/response"), ("Content-Length", "9")]), body),
        EXPECTED[0],
    ]


@pytest.mark.parametrize(
    ("content_type", "cls"),
    [
        ("text/rude-rejection", RudeRejection),
        ("log/data", LogData),
        ("text/something-new", RawMessage),
    ],
)
def test_content_types_map_to_message_classes(content_type: str, cls: type[Message]) -> None:
    frame = f"Content-Type: {content_type}\nContent-Length: 2\n\nhi".encode()

    (message,) = parse_in([frame])
    assert type(message) is cls
    assert message.content_type == content_type
    assert message.body == b"hi"


def test_a_frame_without_content_type_is_a_raw_message() -> None:
    assert parse_in([b"X-Thing: 1\n\n"]) == [RawMessage(Headers([("X-Thing", "1")]), b"")]


def test_blank_lines_between_frames_are_skipped() -> None:
    stream = b"\n\n\n" + AUTH + b"\n" + OK + b"\n\n\n\n" + AUTH + b"\n"

    expected = [EXPECTED[0], EXPECTED[1], EXPECTED[0]]
    assert parse_in([stream]) == expected
    assert parse_in(bytewise(stream)) == expected
    assert parse_in([b"\n" * 10]) == []


def test_only_a_command_reply_with_event_name_is_channel_data() -> None:
    connect = b"Event-Name: CHANNEL_DATA\nCaller-Name: A%20B\nContent-Type: command/reply\n"
    connect += b"Reply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n"

    channel_data, plain = parse_in([connect, b"Content-Type: command/reply\nReply-Text: 50%25\n\n"])
    assert isinstance(channel_data, CommandReply)
    assert isinstance(plain, CommandReply)
    assert channel_data.is_channel_data
    assert channel_data.headers["Caller-Name"] == "A B"
    assert channel_data.reply_text == "+OK"
    assert not plain.is_channel_data
    assert plain.reply_text == "50%25"


def test_the_connect_reply_of_a_sip_call_reads_the_same_kept_as_text() -> None:
    """A large head (a SIP call's channel data, 7 KB) is kept as its text and read as looked
    up: the same values, decoded, every line there; like an event's, its lines are checked
    when all of them are read."""
    sip = "".join(f"variable_sip_h_X-Header-{i}: value%20{i}\n" for i in range(200))
    connect = (
        "Event-Name: CHANNEL_DATA\nCaller-Name: A%20B\nContent-Type: command/reply\n"
        f"Reply-Text: %2BOK%0A\n{sip}Socket-Mode: async\n\n"
    ).encode()
    (message,) = parse_in([connect])
    assert isinstance(message, CommandReply)
    assert message.is_channel_data
    headers = message.headers
    assert (headers["Caller-Name"], headers["variable_sip_h_X-Header-199"]) == ("A B", "value 199")
    assert headers.get("socket_mode") == "async"
    assert message.reply_text == "+OK"
    assert len(headers) == 205
    lines = connect.decode().split("\n")
    broken = "\n".join([*lines[:100], "garbage", *lines[100:]]).encode()
    (message,) = parse_in([broken])
    assert message.headers["Socket-Mode"] == "async"  # found as in the split lines
    with pytest.raises(RemoteProtocolError) as caught:
        len(message.headers)
    assert str(caught.value) == "frame: header line without a name and colon: 'garbage'"


def test_undecodable_bytes_in_a_head_are_replaced() -> None:
    (message,) = parse_in([b"Content-Type: command/reply\nReply-Text: -ERR \xff\xfe\n\n"])

    assert message == CommandReply(
        Headers([("Content-Type", "command/reply"), ("Reply-Text", "-ERR \ufffd\ufffd")]), b""
    )


# Errors and limits


def test_eof_in_the_middle_of_a_head() -> None:
    assert error_of([AUTH, OK[:20]]) == (
        "FreeSWITCH closed the connection in the middle of a frame (20 bytes pending)"
    )


def test_eof_in_the_middle_of_a_body() -> None:
    assert error_of([API[:-1]]) == (
        "FreeSWITCH closed the connection in the middle of a frame (51 bytes pending)"
    )


def test_data_after_eof_is_a_programming_error() -> None:
    parser = Parser()
    parser.feed_eof()

    with pytest.raises(RuntimeError, match="data fed after end of file"):
        parser.feed(AUTH)


@pytest.mark.parametrize(
    "value", ["abc", "-1", "1e3", "+5", "0x10", "", " 5", "5 ", "٣", "²", "1_000", "1234567890123"]
)
def test_bad_content_length(value: str) -> None:
    frame = f"Content-Type: api/response\nContent-Length: {value}\n\n".encode()

    assert error_of([frame]) == f"FreeSWITCH sent a bad Content-Length: {value!r}"


def test_header_line_without_a_colon() -> None:
    assert error_of([AUTH, b"Content-Type: command/reply\ngarbage\n\n"]) == (
        "frame: header line without a name and colon: 'garbage'"
    )


def test_a_failed_parser_stays_failed() -> None:
    parser = Parser()
    parser.feed(b"garbage\n\n" + AUTH)

    with pytest.raises(RemoteProtocolError) as first:
        parser.next_message()
    parser.feed(AUTH)
    for _ in range(2):
        with pytest.raises(RemoteProtocolError) as again:
            parser.next_message()
        assert again.value is first.value
    parser.feed_eof()
    with pytest.raises(RemoteProtocolError):
        list(parser)
    assert parser.buffered == len(b"garbage\n\n" + AUTH)  # nothing more was kept


def test_content_length_over_the_frame_limit() -> None:
    head = b"Content-Type: api/response\nContent-Length: 100\n\n"

    assert error_of([head], max_frame_size=len(head) + 99) == (
        "FreeSWITCH announced a 100-byte body (frame limit 147 bytes)"
    )
    # Exactly at the limit is fine, and the error comes before the body is read.
    assert parse_in([head + b"x" * 100], max_frame_size=len(head) + 100)[0].body == b"x" * 100
    assert error_of([b"Content-Type: api/response\nContent-Length: 99999999999\n\n"]) == (
        "FreeSWITCH announced a 99999999999-byte body (frame limit 16777216 bytes)"
    )


@pytest.mark.parametrize("chunking", ["whole", "bytewise"])
def test_head_limit_is_the_same_however_the_head_arrives(chunking: str) -> None:
    head = b"Content-Type: auth/request\nX: " + b"y" * 20  # 50 bytes before the blank line
    frame = head + b"\n\n"
    chunks = [frame] if chunking == "whole" else bytewise(frame)

    assert len(parse_in(chunks, max_head_size=len(head))) == 1
    with pytest.raises(RemoteProtocolError, match=r"^FreeSWITCH sent .* \(limit 49\)$"):
        parse_in(chunks, max_head_size=len(head) - 1)


def test_a_head_that_never_ends() -> None:
    parser = Parser(max_head_size=1000)
    for byte in bytewise(b"X-Endless: " + b"a" * 990):  # 1001 bytes: could still end at 1000
        parser.feed(byte)
        assert parser.next_message() is NEED_DATA
    parser.feed(b"a")

    with pytest.raises(RemoteProtocolError) as caught:
        parser.next_message()
    assert str(caught.value) == (
        "FreeSWITCH sent 1002 bytes of headers without a blank line (limit 1000)"
    )


def test_a_trickling_head_is_scanned_once() -> None:
    parser = Parser()
    frames = parser._frames
    data = b"X-Slow: " + b"z" * 200_000

    for fed, byte in enumerate(bytewise(data), start=1):
        parser.feed(byte)
        assert parser.next_message() is NEED_DATA
        # The next search starts where this one stopped (less the one byte that could be the
        # first of a blank line): each byte is looked at once, not once per feed.
        assert frames._searched == fed - 1
    parser.feed(b"\n\n")
    assert parser.next_message() == RawMessage(Headers([("X-Slow", "z" * 200_000)]), b"")


def test_a_head_without_a_body_is_read_once_and_its_message_shared() -> None:
    # Every `+OK accepted` of every call is the same message: made once, read-only.
    first, second = Parser(), Parser()
    first.feed(OK)
    second.feed(b"\n" + OK)
    reply = first.next_message()
    assert second.next_message() is reply
    assert reply == EXPECTED[1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.body = b"changed"  # type: ignore[misc,union-attr]


def test_the_buffer_is_compacted_between_frames() -> None:
    parser = Parser()
    for _ in range(5000):
        parser.feed(OK + b"\n" * 100)
        assert parser.next_message() == EXPECTED[1]
    assert len(parser._frames._buf) < 200_000
    for _ in range(100):
        parser.feed(b"\n" * 100_000)  # blank lines only: skipped, and not kept either
        assert parser.next_message() is NEED_DATA
    assert len(parser._frames._buf) < 200_000


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Parser(max_frame_size=0)
    with pytest.raises(ValueError, match="must be positive"):
        CommandParser(max_head_size=0)


# The client side: what FreeSWITCH reads


def parse_commands(data: bytes) -> list[Command]:
    parser = CommandParser()
    commands: list[Command] = []
    for byte in bytewise(data):
        parser.feed(byte)
        commands.extend(parser)
    parser.feed_eof()
    assert parser.next_command() is CLOSED
    return commands


def test_commands_with_headers_and_body() -> None:
    data = (
        b"auth ClueCon\n\n"
        b"\nsendmsg 1234\ncall-command: execute\nexecute-app-name: playback\n"
        b"content-type: text/plain\nContent-Length: 9\n\nline1\nl2\n"
        b"api status\n\n"
    )

    auth, sendmsg, api = parse_commands(data)
    assert auth == Command("auth ClueCon", Headers([]))
    assert (auth.name, auth.argument) == ("auth", "ClueCon")
    assert sendmsg == Command(
        "sendmsg 1234",
        Headers(
            [
                ("call-command", "execute"),
                ("execute-app-name", "playback"),
                ("content-type", "text/plain"),
                ("Content-Length", "9"),
            ]
        ),
        b"line1\nl2\n",
    )
    assert (sendmsg.name, sendmsg.argument) == ("sendmsg", "1234")
    assert api == Command("api status", Headers([]))
    assert Command("EXIT", Headers([])).name == "exit"
    assert Command("exit", Headers([])).argument == ""


def test_command_values_lose_every_leading_space_as_in_freeswitch() -> None:
    (command,) = parse_commands(b"sendmsg\nA:    x \nB:y\n\n")

    assert command.headers.pairs() == [("A", "x "), ("B", "y")]


@pytest.mark.parametrize("bad", [b"\r", b"\x00"])
def test_cr_or_nul_in_a_command_is_refused(bad: bytes) -> None:
    parser = CommandParser()
    parser.feed(b"sendmsg\ncall-command: execute\nexecute-app-arg: a" + bad + b"b\n\n")

    with pytest.raises(RemoteProtocolError) as caught:
        parser.next_command()
    assert str(caught.value).startswith("sendmsg: CR or NUL in a command: 'sendmsg\\ncall-comm")


def test_command_errors_name_the_client() -> None:
    parser = CommandParser(max_frame_size=100)
    parser.feed(b"sendmsg\nContent-Length: 500\n\n")

    with pytest.raises(RemoteProtocolError, match=r"^the client announced a 500-byte body"):
        parser.next_command()


@pytest.mark.parametrize(
    "head",
    [
        "Content-Length: 512\nContent-Type: text/event-plain",  # every plain event: read short
        "Content-Length:  5\nContent-Type: text/event-plain",  # the value keeps its space
        "Content-Length: 5\nX-Extra: 1\nContent-Type: text/event-plain",
        "Content-Length: 12\nContent-Type: text/event-json",
        "Content-Type: command/reply\nReply-Text: +OK",  # small heads without a body: kept
        "Content-Type: command/reply\nReply-Text: -ERR invalid command",
        "Content-Type: auth/request",
    ],
)
def test_each_head_reads_as_the_line_rules_say_the_first_time_and_after(head: str) -> None:
    expected = parse_header_lines(head, "frame")

    for _ in range(2):
        (headers, _), length = _parse_message_head(head)
        assert headers.raw_pairs() == expected
        assert length == dict(expected).get("Content-Length")
