"""What each message class tells about itself."""

from __future__ import annotations

import pytest

from ivrd.esl.protocol import (
    ApiResponse,
    AuthRequest,
    CommandReply,
    DisconnectNotice,
    Headers,
    LogData,
    RawMessage,
)


def reply(text: str) -> CommandReply:
    return CommandReply(Headers([("Content-Type", "command/reply"), ("Reply-Text", text)]), b"")


@pytest.mark.parametrize(
    ("text", "reply_text", "ok"),
    [
        ("+OK", "+OK", True),
        ("+OK Job-UUID: 1234", "+OK Job-UUID: 1234", True),
        ("-ERR command not found", "-ERR command not found", False),
        ("-ERR no reply\n", "-ERR no reply", False),
        ("B", "B", False),
    ],
)
def test_command_reply_text_and_ok(text: str, reply_text: str, ok: bool) -> None:
    message = reply(text)

    assert (message.reply_text, message.ok, message.is_channel_data) == (reply_text, ok, False)
    assert message.content_type == "command/reply"


def test_a_reply_without_reply_text() -> None:
    message = CommandReply(Headers([("Content-Type", "command/reply")]), b"")

    assert (message.reply_text, message.ok) == ("", False)


def test_channel_data_reply() -> None:
    message = CommandReply(
        Headers([("Event-Name", "CHANNEL_DATA"), ("Reply-Text", "%2BOK%0A")], encoded=True), b""
    )

    assert (message.reply_text, message.ok, message.is_channel_data) == ("+OK", True, True)


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        (b"+OK 41c034dc\n", True),
        (b"290\n", True),
        (b"", True),
        (b"-ERR no reply\n", False),
        (b"-USAGE: uuid_kill <uuid>\n", False),
    ],
)
def test_api_response_ok(body: bytes, ok: bool) -> None:
    assert ApiResponse(Headers([("Content-Type", "api/response")]), body).ok is ok


@pytest.mark.parametrize(
    ("pairs", "disposition", "lingering", "linger_time"),
    [
        ([("Content-Disposition", "linger"), ("Linger-Time", "-1")], "linger", True, -1),
        ([("Content-Disposition", "linger"), ("Linger-Time", "5")], "linger", True, 5),
        ([("Content-Disposition", "linger"), ("Linger-Time", "soon")], "linger", True, None),
        ([("Content-Disposition", "disconnect")], "disconnect", False, None),
        ([], "", False, None),
    ],
)
def test_disconnect_notice(
    pairs: list[tuple[str, str]], disposition: str, lingering: bool, linger_time: int | None
) -> None:
    notice = DisconnectNotice(Headers(pairs), b"")

    assert (notice.disposition, notice.lingering, notice.linger_time) == (
        disposition,
        lingering,
        linger_time,
    )


@pytest.mark.parametrize(("value", "level"), [("7", 7), ("0", 0), ("x", None), (None, None)])
def test_log_level(value: str | None, level: int | None) -> None:
    pairs = [] if value is None else [("Log-Level", value)]

    assert LogData(Headers(pairs), b"line\n").level == level


def test_text_replaces_undecodable_bytes() -> None:
    assert RawMessage(Headers([]), b"caf\xc3\xa9 \xff").text == "café \ufffd"


def test_equality_is_by_class_headers_and_body() -> None:
    headers = Headers([("Content-Type", "auth/request")])

    assert AuthRequest(headers, b"") == AuthRequest(
        Headers([("Content-Type", "auth/request")]), b""
    )
    assert AuthRequest(headers, b"") != RawMessage(headers, b"")
    assert AuthRequest(headers, b"") != AuthRequest(headers, b"x")
    assert AuthRequest(headers, b"") != "Content-Type: auth/request"
    with pytest.raises(TypeError, match="unhashable"):
        hash(AuthRequest(headers, b""))
    assert RawMessage(Headers([]), b"").content_type == ""
