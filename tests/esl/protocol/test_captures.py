"""The parser against real FreeSWITCH: every capture, however it is chunked, and what it shows."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import pytest

from ivrd.esl.protocol import (
    CLOSED,
    ApiResponse,
    AuthRequest,
    CommandParser,
    CommandReply,
    DisconnectNotice,
    EventMessage,
    Headers,
    Message,
    Parser,
)

if TYPE_CHECKING:
    from conftest import Capture

DISCONNECT_BODY = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def parse(chunks: Iterable[bytes]) -> list[Message]:
    parser = Parser()
    messages = []
    for chunk in chunks:
        parser.feed(chunk)
        messages.extend(parser)
    parser.feed_eof()
    messages.extend(parser)
    assert parser.next_message() is CLOSED
    assert parser.buffered == 0
    return messages


def random_chunks(data: bytes, seed: int) -> Iterable[bytes]:
    rng = random.Random(seed)
    pos = 0
    while pos < len(data):
        size = rng.choice((1, 2, 3, 5, 8, 13, 60, 500, 1500, 4096, 65536))
        yield data[pos : pos + size]
        pos += size


def frame_sizes(data: bytes) -> list[int]:
    """Each message's size on the wire, from how far the parser got after returning it."""
    parser = Parser()
    parser.feed(data)
    parser.feed_eof()
    ends = [len(data) - parser.buffered for _ in parser]
    return [end - start for start, end in itertools.pairwise([0, *ends])]


def reply(text: str) -> CommandReply:
    return CommandReply(Headers([("Content-Type", "command/reply"), ("Reply-Text", text)]), b"")


def events(messages: list[Message]) -> list[EventMessage]:
    return [message for message in messages if isinstance(message, EventMessage)]


def test_capture_parses_the_same_whole_byte_by_byte_and_in_random_chunks(
    capture: Capture,
) -> None:
    whole = parse([capture.raw])

    assert len(whole) == len(capture.frames)
    assert parse(capture.raw[i : i + 1] for i in range(len(capture.raw))) == whole
    for seed in range(3):
        assert parse(random_chunks(capture.raw, seed)) == whole


def test_capture_frames_match_their_annotations(capture: Capture) -> None:
    messages = parse([capture.raw])

    assert b"".join(frame.data for frame in capture.frames) == capture.raw
    assert frame_sizes(capture.raw) == [frame.size for frame in capture.frames]
    for message, frame in zip(messages, capture.frames, strict=True):
        where = f"{capture.name} frame #{frame.number}"
        assert parse([frame.data]) == [message], where
        assert message.content_type == frame.content_type, where
        assert len(message.body) == frame.body_size, where
        assert frame.head_size == frame.size - frame.body_size, where
        if isinstance(message, EventMessage):
            event = message.event
            assert event.format == frame.content_type.removeprefix("text/event-"), where
            assert event.name == frame.event_name, where
            assert event.get("Application") == frame.application, where
        else:
            assert frame.event_name is None, where


def test_capture_sent_blocks_are_one_command_each(capture: Capture) -> None:
    for _, data in capture.sent:
        parser = CommandParser()
        parser.feed(data)
        parser.feed_eof()
        commands = list(parser)
        assert len(commands) == 1, data
        assert parser.next_command() is CLOSED


# What the captures show (esl-captures/README.md), one fact per test.


def test_connect_reply_is_the_channel_data_percent_decoded(
    load_capture: Callable[[str], Capture],
) -> None:
    connect_reply = parse([load_capture("outbound_session").raw])[0]

    assert isinstance(connect_reply, CommandReply)
    assert connect_reply.is_channel_data
    assert connect_reply.ok
    assert connect_reply.reply_text == "+OK"
    headers = connect_reply.headers
    assert headers.pairs()[0] == ("Event-Name", "CHANNEL_DATA")
    assert headers.pairs()[-4:] == [
        ("Content-Type", "command/reply"),
        ("Reply-Text", "+OK\n"),
        ("Socket-Mode", "async"),
        ("Control", "full"),
    ]
    assert headers.raw("Reply-Text") == "%2BOK%0A"
    assert headers["variable_DP_MATCH"] == "ARRAY::ivr1|:1"
    assert headers.raw("variable_DP_MATCH") == "ARRAY%3A%3Aivr1%7C%3A1"
    assert headers["Unique-ID"] == "062ecf69-4a2f-4a84-963c-403fc6b83e31"
    assert headers["Event-Date-GMT"] == "Thu, 26 Nov 2026 06:11:48 GMT"
    assert headers["variable_current_application_data"] == "127.0.0.1:8084 async full"
    assert len(headers.pairs()) == 104


def test_other_replies_are_not_decoded(load_capture: Callable[[str], Capture]) -> None:
    messages = parse([load_capture("outbound_session").raw])

    assert messages[1:4] == [reply("+OK Events Enabled"), reply("+OK will linger"), reply("+OK")]
    assert not messages[1].headers.encoded


def test_background_job_plain_carries_its_own_body(
    load_capture: Callable[[str], Capture],
) -> None:
    (job,) = [
        m.event
        for m in events(parse([load_capture("inbound_errors").raw]))
        if m.event.name == "BACKGROUND_JOB"
    ]

    assert job.body == "-ERR DESTINATION_OUT_OF_ORDER\n"
    assert job["Job-UUID"] == "eab273f0-1b8b-4b86-971b-81106486d2d7"
    assert job["Job-Command"] == "originate"
    assert job["Job-Command-Arg"] == (
        "{origination_uuid=10c9aac5-c210-4fef-b1b6-5730661769d2}loopback/ivr1/default &park()"
    )
    assert job["Content-Length"] == "30"
    assert job.headers.pairs()[-1] == ("Content-Length", "30")


def test_json_event_body_is_under_body_key(load_capture: Callable[[str], Capture]) -> None:
    messages = parse([load_capture("inbound_session_json").raw])
    (job,) = [m.event for m in events(messages) if m.event.name == "BACKGROUND_JOB"]

    assert job.format == "json"
    assert job.body == "+OK b041a855-383e-4419-8e1a-4c8bd8321a12\n"
    assert "_body" not in job.headers
    assert job["Content-Length"] == "41"
    assert job["FreeSWITCH-IPv6"] == "fd00::2"  # json values are not percent-encoded
    assert job["Job-Command-Arg"] == (
        "{origination_uuid=b041a855-383e-4419-8e1a-4c8bd8321a12}loopback/ivr1/default &park()"
    )
    # Command replies stay plain in json mode.
    assert messages[1:3] == [reply("+OK accepted"), reply("+OK event listener enabled json")]


def test_an_event_arrives_between_sendmsg_and_its_reply(
    load_capture: Callable[[str], Capture],
) -> None:
    capture = load_capture("outbound_hangup_midplayback_nolinger")
    messages = parse([capture.raw])
    received_before, playback = capture.sent[-1]

    assert b"execute-app-name: playback\n" in playback
    assert isinstance(messages[received_before], EventMessage)
    assert messages[received_before].event.name == "CHANNEL_PARK"
    assert messages[received_before + 1] == reply("+OK")


def test_getvar_reply_comes_after_an_event_too(load_capture: Callable[[str], Capture]) -> None:
    capture = load_capture("outbound_errors")
    messages = parse([capture.raw])

    sent = {data: received for received, data in capture.sent}
    assert messages[sent[b"bogus_command_xyz\n\n"]] == reply("-ERR command not found")
    assert messages[sent[b"api uptime\n\n"]] == ApiResponse(
        Headers([("Content-Type", "api/response"), ("Content-Length", "4")]), b"290\n"
    )
    getvar = sent[b"getvar loopback_leg\n\n"]
    assert isinstance(messages[getvar], EventMessage)
    assert messages[getvar + 1] == reply("B")
    assert messages[getvar + 2] == reply(
        "-ERR invalid session id [00000000-0000-0000-0000-000000000000]"
    )


def test_application_uuid_is_the_event_uuid_that_was_sent(
    load_capture: Callable[[str], Capture],
) -> None:
    capture = load_capture("outbound_session")
    sent = []
    for _, data in capture.sent:
        parser = CommandParser()
        parser.feed(data)
        (command,) = parser
        if command.headers.get("call-command") == "execute":
            sent.append((command.headers["execute-app-name"], command.headers["Event-UUID"]))
    executions = [
        (m.event.name, m.event["Application"], m.event["Application-UUID"])
        for m in events(parse([capture.raw]))
        if m.event.name in ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE")
        and m.event["Application"] != "socket"
    ]

    assert sent == [
        ("answer", "29e42506-168d-4b8e-89bb-577a71e48b08"),
        ("playback", "5b6fe20a-b11f-455d-ad99-84aee48baac8"),
    ]
    assert executions == [
        (name, app, uuid)
        for app, uuid in sent
        for name in ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE")
    ]


def test_playback_completes_with_file_played(load_capture: Callable[[str], Capture]) -> None:
    (complete,) = [
        m.event
        for m in events(parse([load_capture("outbound_session").raw]))
        if m.event.name == "CHANNEL_EXECUTE_COMPLETE" and m.event["Application"] == "playback"
    ]

    assert complete["Application-Response"] == "FILE PLAYED"
    assert complete["Application-Data"] == "tone_stream://%(500,0,440)"


def test_hangup_mid_playback_comes_before_the_playback_completes(
    load_capture: Callable[[str], Capture],
) -> None:
    names = [
        (m.event.name, m.event.get("Application"), m.event.get("Application-Response"))
        for m in events(parse([load_capture("outbound_hangup_midplayback").raw]))
    ]

    hangup = names.index(("CHANNEL_HANGUP", None, None))
    assert names[hangup + 1] == ("CHANNEL_EXECUTE_COMPLETE", "playback", "PLAYBACK ERROR")
    assert names[-1] == ("CHANNEL_HANGUP_COMPLETE", None, None)


@pytest.mark.parametrize(
    ("name", "uuid"),
    [
        ("outbound_session", "062ecf69-4a2f-4a84-963c-403fc6b83e31"),
        ("outbound_hangup_midplayback", "a7fcc1b5-876a-40c7-b88f-51c658110bbc"),
    ],
)
def test_linger_then_exit_gives_two_disconnect_notices(
    load_capture: Callable[[str], Capture], name: str, uuid: str
) -> None:
    messages = parse([load_capture(name).raw])
    linger, bye, disconnect = messages[-3:]

    assert linger == DisconnectNotice(
        Headers(
            [
                ("Content-Type", "text/disconnect-notice"),
                ("Controlled-Session-UUID", uuid),
                ("Content-Disposition", "linger"),
                ("Channel-Name", "loopback/ivr1-b"),
                ("Linger-Time", "-1"),
                ("Content-Length", "0"),
            ]
        ),
        b"",
    )
    assert isinstance(linger, DisconnectNotice)
    assert (linger.lingering, linger.linger_time) == (True, -1)
    assert bye == reply("+OK bye")
    assert disconnect == DisconnectNotice(
        Headers(
            [
                ("Content-Type", "text/disconnect-notice"),
                ("Controlled-Session-UUID", uuid),
                ("Content-Disposition", "disconnect"),
                ("Content-Length", "67"),
            ]
        ),
        DISCONNECT_BODY,
    )
    assert isinstance(disconnect, DisconnectNotice)
    assert (disconnect.disposition, disconnect.lingering) == ("disconnect", False)


def test_linger_5_says_so_and_needs_no_exit(load_capture: Callable[[str], Capture]) -> None:
    messages = parse([load_capture("outbound_hangup_midplayback_linger5").raw])

    linger, disconnect = messages[-2:]
    assert isinstance(linger, DisconnectNotice)
    assert (linger.disposition, linger.linger_time) == ("linger", 5)
    assert isinstance(disconnect, DisconnectNotice)
    assert disconnect.disposition == "disconnect"
    assert messages[2] == reply("+OK will linger 5 seconds")


def test_without_linger_the_notice_follows_hangup_complete(
    load_capture: Callable[[str], Capture],
) -> None:
    messages = parse([load_capture("outbound_hangup_midplayback_nolinger").raw])

    last_event, notice = messages[-2:]
    assert isinstance(last_event, EventMessage)
    assert last_event.event.name == "CHANNEL_HANGUP_COMPLETE"
    assert isinstance(notice, DisconnectNotice)
    assert notice.disposition == "disconnect"
    assert notice.body == DISCONNECT_BODY


def test_api_response_carries_its_output_in_the_body(
    load_capture: Callable[[str], Capture],
) -> None:
    messages = parse([load_capture("inbound_session").raw])

    assert messages[0] == AuthRequest(Headers([("Content-Type", "auth/request")]), b"")
    (response,) = [m for m in messages if isinstance(m, ApiResponse)]
    assert response == ApiResponse(
        Headers([("Content-Type", "api/response"), ("Content-Length", "41")]),
        b"+OK 41c034dc-454b-4e03-9a36-2733c4bd1242\n",
    )
    assert response.ok
    assert response.text == "+OK 41c034dc-454b-4e03-9a36-2733c4bd1242\n"


@pytest.mark.parametrize(
    ("name", "digits"), [("outbound_pagd_recv_dtmf", "1234"), ("outbound_pagd_send_dtmf", "5678")]
)
def test_play_and_get_digits_completion_carries_the_digits(
    load_capture: Callable[[str], Capture], name: str, digits: str
) -> None:
    capture = load_capture(name)
    parser = CommandParser()
    parser.feed(b"".join(data for _, data in capture.sent))
    (pagd,) = [c for c in parser if c.headers.get("execute-app-name") == "play_and_get_digits"]
    received = [m.event for m in events(parse([capture.raw]))]
    (complete,) = [
        event
        for event in received
        if event.name == "CHANNEL_EXECUTE_COMPLETE"
        and event["Application"] == "play_and_get_digits"
    ]

    assert [event["DTMF-Digit"] for event in received if event.name == "DTMF"] == [*digits, "#"]
    assert complete["Application-UUID"] == pagd.headers["Event-UUID"]
    assert complete["variable_pagd_digits"] == digits
    assert complete["variable_read_result"] == "success"
    assert complete["variable_read_terminator_used"] == "#"
    assert complete["Application-Data"] == (
        "1 5 1 8000 # tone_stream://%(3000,0,440) tone_stream://%(300,0,300) pagd_digits \\d+ 3000"
    )


def test_unknown_application_still_answers_ok_then_hangs_up(
    load_capture: Callable[[str], Capture],
) -> None:
    capture = load_capture("outbound_errors")
    messages = parse([capture.raw])
    received_before, no_such_app = capture.sent[-2]

    assert b"execute-app-name: no_such_app\n" in no_such_app
    assert messages[received_before] == reply("+OK")
    hangup = [m.event for m in events(messages) if m.event.name == "CHANNEL_HANGUP"]
    assert [event["Hangup-Cause"] for event in hangup] == ["DESTINATION_OUT_OF_ORDER"]
    assert not [m for m in events(messages) if m.event.get("Application") == "no_such_app"]
