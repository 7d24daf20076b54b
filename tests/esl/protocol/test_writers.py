"""FreeSWITCH's side of the wire: byte for byte as in the captures, and back through the parser."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ivrd.esl.protocol import (
    ApiResponse,
    AuthRequest,
    CommandReply,
    DisconnectNotice,
    EventMessage,
    Headers,
    LocalProtocolError,
    LogData,
    Message,
    Parser,
    RudeRejection,
    writers,
)

if TYPE_CHECKING:
    from conftest import Capture


def parse_one(data: bytes) -> Message:
    parser = Parser()
    parser.feed(data)
    parser.feed_eof()
    (message,) = parser
    return message


def rewrite(message: Message) -> bytes:
    """The frame our writers make for a message parsed from a capture."""
    headers = message.headers
    if isinstance(message, AuthRequest):
        return writers.auth_request()
    if isinstance(message, CommandReply) and message.is_channel_data:
        assert headers.pairs()[-3:] == [
            ("Reply-Text", "+OK\n"),
            ("Socket-Mode", "async"),
            ("Control", "full"),
        ]
        return writers.channel_data_reply(headers.pairs()[:-4])
    if isinstance(message, CommandReply):
        return writers.command_reply(message.reply_text, headers.pairs()[2:])
    if isinstance(message, ApiResponse):
        return writers.api_response(message.text)
    if isinstance(message, DisconnectNotice):
        return writers.disconnect_notice(
            headers.get("Controlled-Session-UUID"),
            linger=message.lingering,
            channel_name=headers.get("Channel-Name"),
            linger_time=message.linger_time or -1,
        )
    assert isinstance(message, EventMessage)
    event = message.event
    pairs = event.headers.pairs()
    if event.body is not None:  # the writer adds the event's own Content-Length
        assert pairs[-1] == ("Content-Length", str(len(event.body.encode())))
        pairs = pairs[:-1]
    write = {"plain": writers.event_plain, "json": writers.event_json}[event.format]
    return write(pairs, event.body)


def test_writers_reproduce_every_captured_frame(capture: Capture) -> None:
    for frame in capture.frames:
        assert rewrite(parse_one(frame.data)) == frame.data, f"{capture.name} #{frame.number}"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (writers.auth_request(), b"Content-Type: auth/request\n\n"),
        (
            writers.command_reply("+OK Job-UUID: j1", [("Job-UUID", "j1")]),
            b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: j1\nJob-UUID: j1\n\n",
        ),
        (
            writers.channel_data_reply(
                [("Event-Name", "CHANNEL_DATA"), ("A", "x y")], mode="static"
            ),
            b"Event-Name: CHANNEL_DATA\nA: x%20y\nContent-Type: command/reply\n"
            b"Reply-Text: %2BOK%0A\nSocket-Mode: static\nControl: full\n\n",
        ),
        (
            writers.api_response("+OK é\n"),
            b"Content-Type: api/response\nContent-Length: 7\n\n+OK \xc3\xa9\n",
        ),
        (
            writers.disconnect_notice("u1", linger=True, linger_time=5),
            b"Content-Type: text/disconnect-notice\nControlled-Session-UUID: u1\n"
            b"Content-Disposition: linger\nLinger-Time: 5\nContent-Length: 0\n\n",
        ),
        (
            writers.rude_rejection(),
            b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n",
        ),
        (
            writers.log_data("hi\n", level=3, pairs=[("Log-File", "x.c")]),
            b"Content-Type: log/data\nContent-Length: 3\nLog-Level: 3\nLog-File: x.c\n\nhi\n",
        ),
        (
            writers.event_plain([("Event-Name", "X"), ("Empty", "")], "body"),
            b"Content-Length: 52\nContent-Type: text/event-plain\n\n"
            b"Event-Name: X\nEmpty: _undef_\nContent-Length: 4\n\nbody",
        ),
        (
            writers.event_json([("A", "ARRAY::x|:y"), ("A", "é")]),
            b'Content-Length: 24\nContent-Type: text/event-json\n\n{"A":["x","y"],"A":"\xc3\xa9"}',
        ),
        (
            writers.event_xml([("Event-Name", "X")], "a\rb"),
            b"Content-Length: 132\nContent-Type: text/event-xml\n\n<event>\n  <headers>\n"
            b"    <Event-Name>X</Event-Name>\n  </headers>\n"
            b"  <Content-Length>3</Content-Length>\n  <body>a&#13;b</body>\n</event>",
        ),
    ],
)
def test_exact_bytes(written: bytes, expected: bytes) -> None:
    assert written == expected


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda: writers.command_reply("+OK\n"), "header 'Reply-Text' must not contain CR or LF"),
        (lambda: writers.command_reply("+OK", [("a:b", "c")]), "bad header name 'a:b'"),
        (lambda: writers.event_plain([("", "c")]), "bad header name ''"),
        (lambda: writers.event_plain([("a\nb", "c")]), "bad header name 'a\\nb'"),
        (
            lambda: writers.disconnect_notice("u\n", linger=False),
            "header 'Controlled-Session-UUID' must not contain CR or LF",
        ),
        (lambda: writers.event_xml([("1st", "c")]), "header name '1st' cannot be an XML element"),
        (lambda: writers.event_xml([("a b", "c")]), "header name 'a b' cannot be an XML element"),
        (lambda: writers.event_xml([("é", "c")]), "header name 'é' cannot be an XML element"),
        (
            lambda: writers.event_xml([("A", "c")], "bell\x07"),
            "an XML event body cannot carry control characters",
        ),
    ],
)
def test_refusals(write: Callable[[], bytes], message: str) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        write()
    assert str(caught.value) == message


# Round trips: whatever a writer writes, the parser reads back as it was given.

VALUE = st.text(max_size=30) | st.sampled_from(["%", "%zz", "+", "a+b", "\n", "\r\n", "_undef_x"])
NAME = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.-]{0,15}\Z").filter(
    lambda name: (
        name.lower().replace("_", "-") not in ("content-length", "content-type") and name != "_body"
    )
)
PAIRS = st.lists(st.tuples(NAME, VALUE), max_size=8).filter(
    # FreeSWITCH writes an empty value as `_undef_`, so `_undef_` itself cannot come back.
    lambda pairs: all(value != "_undef_" for _, value in pairs)
)
BODY = st.none() | st.text(max_size=60)


def event_of(data: bytes) -> tuple[list[tuple[str, str]], str | None]:
    message = parse_one(data)
    assert isinstance(message, EventMessage)
    return message.event.headers.pairs(), message.event.body


@settings(max_examples=200)
@given(pairs=PAIRS, body=BODY)
def test_plain_event_round_trip(pairs: list[tuple[str, str]], body: str | None) -> None:
    length = [("Content-Length", str(len(body.encode())))] if body else []

    assert event_of(writers.event_plain(pairs, body)) == (pairs + length, body or None)


@settings(max_examples=200)
@given(pairs=PAIRS, body=BODY)
def test_json_event_round_trip(pairs: list[tuple[str, str]], body: str | None) -> None:
    length = [("Content-Length", str(len(body.encode())))] if body else []

    assert event_of(writers.event_json(pairs, body)) == (pairs + length, body or None)


XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"))


@settings(max_examples=200)
@given(pairs=PAIRS, body=st.none() | XML_TEXT)
def test_xml_event_round_trip(pairs: list[tuple[str, str]], body: str | None) -> None:
    assume(body is None or ("\ufffe" not in body and "\uffff" not in body))

    # The body's Content-Length sits beside <headers>, not among them.
    assert event_of(writers.event_xml(pairs, body)) == (pairs, body or None)


LINE = st.text(max_size=30).filter(lambda text: "\n" not in text and "\r" not in text)


EXTRA_NAME = NAME.filter(lambda name: name.lower().replace("_", "-") != "event-name")


@settings(max_examples=200)
@given(text=LINE, extra=st.lists(st.tuples(EXTRA_NAME, LINE), max_size=3))
def test_command_reply_round_trip(text: str, extra: list[tuple[str, str]]) -> None:
    assert parse_one(writers.command_reply(text, extra)) == CommandReply(
        Headers([("Content-Type", "command/reply"), ("Reply-Text", text), *extra]), b""
    )


@settings(max_examples=200)
@given(pairs=PAIRS)
def test_channel_data_round_trip(pairs: list[tuple[str, str]]) -> None:
    channel_data = [("Event-Name", "CHANNEL_DATA"), *pairs]

    message = parse_one(writers.channel_data_reply(channel_data))
    assert isinstance(message, CommandReply)
    assert message.is_channel_data
    assert message.reply_text == "+OK"
    assert message.headers.pairs() == [
        *channel_data,
        ("Content-Type", "command/reply"),
        ("Reply-Text", "+OK\n"),
        ("Socket-Mode", "async"),
        ("Control", "full"),
    ]


@settings(max_examples=200)
@given(text=st.text(max_size=80))
def test_api_response_and_other_bodies_round_trip(text: str) -> None:
    body = text.encode()

    assert parse_one(writers.api_response(text)) == ApiResponse(
        Headers([("Content-Type", "api/response"), ("Content-Length", str(len(body)))]), body
    )
    assert parse_one(writers.rude_rejection(text)) == RudeRejection(
        Headers([("Content-Type", "text/rude-rejection"), ("Content-Length", str(len(body)))]),
        body,
    )
    log = parse_one(writers.log_data(text, level=4))
    assert isinstance(log, LogData)
    assert (log.body, log.level) == (body, 4)


@settings(max_examples=100)
@given(
    uuid=LINE,
    linger=st.booleans(),
    channel_name=st.none() | LINE,
    linger_time=st.integers(-1, 3600),
)
def test_disconnect_notice_round_trip(
    uuid: str, linger: bool, channel_name: str | None, linger_time: int
) -> None:
    notice = parse_one(
        writers.disconnect_notice(
            uuid, linger=linger, channel_name=channel_name, linger_time=linger_time
        )
    )

    assert isinstance(notice, DisconnectNotice)
    assert notice.headers["Controlled-Session-UUID"] == uuid
    assert notice.lingering is linger
    if linger:
        assert notice.linger_time == linger_time
        assert notice.headers.get("Channel-Name") == channel_name
        assert notice.body == b""
    else:
        assert notice.disposition == "disconnect"
        assert notice.body.startswith(b"Disconnected, goodbye.\n")
