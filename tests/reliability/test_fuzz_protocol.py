"""Hypothesis: what tests/esl/protocol/test_fuzz.py leaves out of the protocol's fuzzing.

That module holds the parsers to "any bytes, only RemoteProtocolError, however chunked". Here:

- `ivrd esl decode`'s path (`decode_stream`, and the command itself): any bytes give JSON
  lines and at most one DecodeError naming a byte offset, the same however the bytes arrive;
  the command exits 0 or 1 with a one-line message, never a traceback;
- the fake FreeSWITCH's inbound socket (its `CommandParser` and command dispatch, which
  `ivrd test`, `ivrd simulate` and the benchmarks stand on): any stream of commands, framed
  or not, gets well-formed replies and a clean close, and the fake goes on serving the next
  client. Over real loopback sockets, on both backends.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import cast

import anyio
import anyio.abc
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ivrd.cli import main
from ivrd.esl.decode import DecodeError, decode_stream
from ivrd.esl.protocol import CommandReply, Parser, RemoteProtocolError, writers
from ivrd.testing import FakeFreeSWITCH

CAPTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "esl-captures"
WAIT = 10.0


def capture_frames() -> list[bytes]:
    """A few frames of each kind FreeSWITCH sent in the captures, byte for byte."""
    frames: dict[str, bytes] = {}
    for path in sorted(CAPTURES.glob("outbound_*.raw")):
        data = path.read_bytes()
        parser = Parser()
        parser.feed(data)
        start = 0
        for message in parser:
            end = len(data) - parser.buffered
            frames.setdefault(f"{message.content_type} {len(frames) % 4}", data[start:end])
            start = end
    return list(frames.values())


PIECES = [
    *capture_frames(),
    writers.event_plain([("Event-Name", "DTMF"), ("DTMF-Digit", "%23")]),
    writers.event_json([("Event-Name", "X")], "body"),
    b"Content-Length: 5\n",
    b"Content-Type: text/event-plain\n",
    b"Content-Type: text/event-json\n",
    b"Content-Length: 99999999999\n",
    b"\n\n",
    b"%zz",
    b"\xff\xfe",
    b'{"Event-Name": ',
]
STREAM = st.lists(st.sampled_from(PIECES) | st.binary(max_size=12), max_size=10).map(b"".join)


def decoded(chunks: list[bytes]) -> tuple[list[dict[str, object]], tuple[int, str] | None]:
    messages: list[dict[str, object]] = []
    try:
        messages.extend(decode_stream(chunks))
    except DecodeError as error:
        return messages, (error.offset, error.reason)
    return messages, None


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


@given(data=STREAM, cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_esl_decode_takes_any_bytes_the_same_way_however_chunked(
    data: bytes, cuts: list[int]
) -> None:
    whole = decoded([data])
    assert decoded(chunked(data, cuts)) == whole
    messages, error = whole
    json.dumps(messages)
    offsets = [cast(int, message["offset"]) for message in messages]
    assert offsets == sorted(offsets)
    if error is not None:
        assert 0 <= error[0] <= len(data)


@settings(max_examples=60)  # each example runs the command
@given(data=STREAM)
def test_the_esl_decode_command_exits_0_or_1_with_one_line(data: bytes) -> None:
    result = CliRunner().invoke(main, ["esl", "decode", "-"], input=data)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code in (0, 1)
    for line in result.stdout.splitlines():
        json.loads(line)
    if result.exit_code == 1:
        assert result.stderr.startswith("<stdin>: byte ")
        assert result.stderr.count("\n") == 1


COMMANDS = [
    b"auth ClueCon\n\n",
    b"auth nope\n\n",
    b"userauth a@b:c\n\n",
    b"api status\n\n",
    b"api \n\n",
    b"bgapi version\nJob-UUID: j-1\n\n",
    b"event plain ALL\n\n",
    b"event json CUSTOM x::y\n\n",
    b"event xml\n\n",
    b"nixevent ALL\n\n",
    b"noevents\n\n",
    b"filter Unique-ID u\n\n",
    b"filter delete all\n\n",
    b"myevents\n\n",
    b"myevents u json\n\n",
    b"divert_events on\n\n",
    b"log 7\n\n",
    b"nolog\n\n",
    b"linger 5\n\n",
    b"nolinger\n\n",
    b"getvar x\n\n",
    b"connect\n\n",
    b"resume\n\n",
    b"sendmsg u\ncall-command: execute\nexecute-app-name: playback\n\n",
    b"sendevent CUSTOM\nEvent-Subclass: a::b\nContent-Length: 3\n\nabc",
    b"Content-Length: 4\n\n",
    b"\n",
    b":",
    b"api ",
]
COMMAND_STREAM = st.lists(
    st.sampled_from(COMMANDS) | st.binary(max_size=8).filter(lambda b: b"originate" not in b),
    max_size=8,
).map(b"".join)


async def session(port: int, data: bytes) -> bytes:
    """Send `data` then `exit`; everything the fake sent until it closed."""
    received = b""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(data + b"\n\nexit\n\n")
        with anyio.fail_after(WAIT):
            while True:
                try:
                    received += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return received


def replies(received: bytes) -> list[str]:
    parser = Parser()
    parser.feed(received)
    parser.feed_eof()
    return [m.reply_text for m in parser if isinstance(m, CommandReply)]


@pytest.mark.anyio
@settings(max_examples=40)  # each example is a real connection
@given(data=COMMAND_STREAM)
async def test_the_fakes_inbound_socket_takes_any_commands(data: bytes) -> None:
    fake = FakeFreeSWITCH()
    async with anyio.create_task_group() as tasks:
        port = await tasks.start(fake.serve_inbound)
        try:
            replies(await session(port, data))
        except RemoteProtocolError as error:
            raise AssertionError(f"the fake sent bytes our parser refuses: {error}") from None
        # ... and it still serves the next client as FreeSWITCH would.
        answered = replies(await session(port, b"auth ClueCon\n\napi status\n\n"))
        assert answered[:1] == ["+OK accepted"]
        tasks.cancel_scope.cancel()
