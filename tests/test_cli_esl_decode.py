"""`ivrd esl decode`: raw event-socket bytes to JSON lines, and the library function under it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivrd.cli import main
from ivrd.esl.decode import DecodeError, decode_stream
from ivrd.esl.protocol import writers

RECV_LINE = re.compile(rb"^### \[t=[^\]]*\] <<< RECV frame #\d+: ", re.MULTILINE)


def run(*args: str, input: bytes | None = None) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(main, ["esl", "decode", *args], input=input)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, lines, result.stderr


def test_a_capture_is_one_json_line_per_frame(captures_dir: Path) -> None:
    name = captures_dir / "outbound_session.raw"
    frames = len(RECV_LINE.findall(name.with_suffix(".txt").read_bytes()))

    code, lines, errors = run(str(name))

    assert (code, errors) == (0, "")
    assert len(lines) == frames == 21
    connect = lines[0]
    assert connect["offset"] == 0
    assert connect["type"] == "command/reply"
    assert connect["headers"][0] == ["Event-Name", "CHANNEL_DATA"]  # type: ignore[index]
    assert connect["headers"][-4:] == [  # type: ignore[index]
        ["Content-Type", "command/reply"],
        ["Reply-Text", "+OK\n"],
        ["Socket-Mode", "async"],
        ["Control", "full"],
    ]
    assert ["variable_DP_MATCH", "ARRAY::ivr1|:1"] in connect["headers"]  # type: ignore[operator]
    assert connect["body"] == ""
    assert lines[1] == {
        "offset": 3488,
        "type": "command/reply",
        "headers": [["Content-Type", "command/reply"], ["Reply-Text", "+OK Events Enabled"]],
        "body": "",
    }
    park = lines[5]
    assert park["offset"] == 3488 + 60 + 57 + 45 + 45
    assert park["headers"] == [["Content-Length", "2454"], ["Content-Type", "text/event-plain"]]
    assert "body" not in park
    event = park["event"]
    assert isinstance(event, dict)
    assert (event["name"], event["subclass"], event["format"], event["body"]) == (
        "CHANNEL_PARK",
        None,
        "plain",
        None,
    )
    assert event["headers"][0] == ["Event-Name", "CHANNEL_PARK"]
    assert ["Event-Date-Local", "2026-11-26 06:11:48"] in event["headers"]


def test_stdin_and_frames_only(captures_dir: Path) -> None:
    data = (captures_dir / "inbound_session_json.raw").read_bytes()

    code, lines, errors = run("--frames", "-", input=data)

    assert (code, errors) == (0, "")
    assert len(lines) == 60
    assert lines[0] == {
        "offset": 0,
        "type": "auth/request",
        "headers": [["Content-Type", "auth/request"]],
        "body": "",
    }
    json_events = [line for line in lines if line["type"] == "text/event-json"]
    assert json_events
    assert all("event" not in line for line in json_events)
    assert all(json.loads(str(line["body"]))["Event-Name"] for line in json_events)


def test_garbage_stops_with_the_byte_and_the_reason_after_the_good_messages() -> None:
    data = writers.auth_request() + writers.command_reply("+OK accepted") + b"garbage\n\nmore"

    code, lines, errors = run("-", input=data)

    assert code == 1
    assert [line["type"] for line in lines] == ["auth/request", "command/reply"]
    assert errors == "<stdin>: byte 82: frame: header line without a name and colon: 'garbage'\n"


def test_a_file_that_ends_in_the_middle_of_a_frame(tmp_path: Path) -> None:
    path = tmp_path / "cut.raw"
    path.write_bytes(writers.auth_request() + writers.api_response("+OK\n")[:-2])

    code, lines, errors = run(str(path))

    assert (code, len(lines)) == (1, 1)
    assert errors == (
        f"{path}: byte 28: FreeSWITCH closed the connection in the middle of a frame "
        "(48 bytes pending)\n"
    )


def test_an_event_that_does_not_decode_is_an_error_unless_frames_only() -> None:
    bad_event = b"Content-Length: 5\nContent-Type: text/event-json\n\n[1,2]"
    data = writers.auth_request() + bad_event

    code, lines, errors = run("-", input=data)
    assert (code, len(lines)) == (1, 1)
    assert errors == "<stdin>: byte 28: text/event-json: expected an object, got list\n"

    code, lines, errors = run("--frames", "-", input=data)
    assert (code, errors) == (0, "")
    assert lines[1] == {
        "offset": 28,
        "type": "text/event-json",
        "headers": [["Content-Length", "5"], ["Content-Type", "text/event-json"]],
        "body": "[1,2]",
    }


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["esl", "decode", str(tmp_path / "nope.raw")])

    assert result.exit_code == 2
    assert (
        f"Invalid value for 'FILE': File '{tmp_path / 'nope.raw'}' does not exist." in result.stderr
    )


def test_every_capture_decodes_whole(captures_dir: Path, capture_name: str) -> None:
    raw = (captures_dir / f"{capture_name}.raw").read_bytes()
    frames = len(RECV_LINE.findall((captures_dir / f"{capture_name}.txt").read_bytes()))

    messages = list(decode_stream([raw]))

    assert len(messages) == frames
    json.dumps(messages)  # JSON all the way down
    events = [message["event"] for message in messages if "event" in message]
    assert events
    assert all(isinstance(event, dict) and event["name"] for event in events)


def test_decode_stream_is_the_same_however_the_bytes_arrive(captures_dir: Path) -> None:
    data = (captures_dir / "outbound_errors.raw").read_bytes()

    whole = list(decode_stream([data]))
    assert list(decode_stream(data[i : i + 997] for i in range(0, len(data), 997))) == whole
    assert [message["type"] for message in whole][:6] == [
        "command/reply",
        "command/reply",
        "command/reply",
        "command/reply",
        "command/reply",
        "api/response",
    ]


def test_decode_error_carries_offset_and_reason() -> None:
    with pytest.raises(DecodeError) as caught:
        list(decode_stream([writers.auth_request(), b"Content-Length: 99\n\n"], max_frame_size=50))

    assert (caught.value.offset, caught.value.reason) == (
        28,
        "FreeSWITCH announced a 99-byte body (frame limit 50 bytes)",
    )
    assert (
        str(caught.value) == "byte 28: FreeSWITCH announced a 99-byte body (frame limit 50 bytes)"
    )


def test_a_frame_without_content_type_has_a_null_type() -> None:
    code, lines, errors = run("-", input=b"X-Thing: 1\n\n")

    assert (code, errors) == (0, "")
    assert lines == [{"offset": 0, "type": None, "headers": [["X-Thing", "1"]], "body": ""}]
